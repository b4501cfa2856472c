//! Which process records a scan, and whether it is still alive.
//!
//! A scan being recorded is `running` in the file. Its process may have been killed since: a
//! `running` scan counts as running only while its writer (process id, that process's start
//! time, and the boot id of the machine) is alive on this machine; otherwise it is
//! incomplete. The start time and boot id make a reused process id, or a restarted machine,
//! read as "gone" rather than "alive". A history on another machine's disk, read here, shows
//! that machine's running scans as incomplete.

use std::path::Path;

/// The current process, as the history records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Writer {
    pub(crate) pid: u32,
    /// Start time of the process, in clock ticks since boot (`/proc/PID/stat`, field 22).
    pub(crate) start: i64,
    pub(crate) boot: String,
}

impl Writer {
    /// This process; `None` where `/proc` does not say.
    pub(crate) fn this_process() -> Option<Writer> {
        let pid = std::process::id();
        Some(Writer {
            pid,
            start: start_time(pid)?,
            boot: boot_id()?,
        })
    }
}

/// Whether process `pid`, started at `start`, on the machine booted as `boot`, is alive.
pub(crate) fn alive(pid: u32, start: i64, boot: &str) -> bool {
    boot_id().is_some_and(|b| b == boot) && start_time(pid) == Some(start)
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string())
}

fn start_time(pid: u32) -> Option<i64> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of `/proc/PID/stat`. The command name (field 2) is in parentheses and may hold
/// spaces and parentheses itself: the fields after it start after the last `)`.
fn parse_start_time(stat: &str) -> Option<i64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (the state).
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_after_the_command_name() {
        let stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 100 18446744073709551615";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_or_boot_is_not() {
        let me = Writer::this_process().expect("/proc");
        assert!(alive(me.pid, me.start, &me.boot));
        assert!(!alive(me.pid, me.start + 1, &me.boot));
        assert!(!alive(me.pid, me.start, "another-boot"));
    }
}
