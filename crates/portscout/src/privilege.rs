//! Dropping privileges once the sockets that need them are open.
//!
//! A SYN scan needs root or `CAP_NET_RAW` to open its raw and packet sockets, and nothing
//! after that: the sockets keep working. So the privileges go, before the first answer from
//! the network is parsed:
//!
//! - started through `sudo` (root, with `SUDO_UID` and `SUDO_GID` set): the process becomes
//!   that user (`setgroups`, `setgid`, `setuid`, which glibc applies to every thread), which
//!   clears every capability. Files written afterwards (a resume file) belong to that user.
//! - otherwise: every capability of the calling thread is cleared (effective, permitted,
//!   inheritable, ambient, and the bounding set, so that no `exec` can get them back).
//!   Capabilities belong to threads: threads started afterwards inherit the empty sets,
//!   threads that already run keep theirs, so call it before starting any.
//!
//! It changes the process, so the library calls it only when asked
//! ([`crate::scan::ScanConfigBuilder::drop_privileges`]).

use std::io;

/// What [`drop_privileges`] did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Became the user who ran `sudo`.
    ToUser {
        /// The user id.
        uid: u32,
        /// The group id.
        gid: u32,
    },
    /// Cleared every capability of the calling thread.
    Capabilities,
}

/// Drops every privilege (see the module documentation).
pub fn drop_privileges() -> io::Result<Dropped> {
    // SAFETY: these calls take no pointers (or a null list of length 0) and change only this
    // process's credentials; errors come back as -1 with errno.
    unsafe {
        if libc::geteuid() == 0 {
            if let Some((uid, gid)) = sudo_user() {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
                if libc::setuid(0) == 0 {
                    return Err(io::Error::other("could not give up root"));
                }
                return Ok(Dropped::ToUser { uid, gid });
            }
        }
        // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
        for cap in 0..=last_capability() {
            let _ = libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        let _ = libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        capset_empty()?;
    }
    Ok(Dropped::Capabilities)
}

/// The user behind `sudo` (`SUDO_UID`, `SUDO_GID`), if this is a sudo run for someone other
/// than root: the user [`drop_privileges`] becomes, and who should own files the run creates.
pub fn sudo_user() -> Option<(u32, u32)> {
    let uid = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    (uid != 0).then_some((uid, gid))
}

fn last_capability() -> libc::c_ulong {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `capset(2)` with every set empty (version 3: two 32-bit words per set).
fn capset_empty() -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Copy, Clone)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are the layouts capset(2) documents, alive for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The calling thread's effective and permitted capability sets, from `/proc`.
pub fn current_capabilities() -> io::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/thread-self/status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .ok_or_else(|| io::Error::other(format!("no {name} in /proc/thread-self/status")))
    };
    Ok((field("CapEff:")?, field("CapPrm:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a thread of its own (capabilities are per thread), so the test process keeps its.
    #[test]
    fn a_thread_that_drops_has_no_capability_left() {
        std::thread::spawn(|| {
            if std::env::var_os("SUDO_UID").is_some() {
                eprintln!("skipping: under sudo this would change the whole process's user");
                return;
            }
            drop_privileges().unwrap();
            assert_eq!(current_capabilities().unwrap(), (0, 0));
            // And its children start with none.
            std::thread::spawn(|| assert_eq!(current_capabilities().unwrap(), (0, 0)))
                .join()
                .unwrap();
            // Raw sockets are refused now, even to root.
            assert!(crate::probe::syn::sockets::raw_sockets_allowed().is_err());
        })
        .join()
        .unwrap();
    }
}
