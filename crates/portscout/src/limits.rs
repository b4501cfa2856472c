//! Descriptor limits: how many sockets a scan may hold open at once.
//!
//! A connect scan holds one descriptor per probe in flight, so the in-flight window is bounded
//! by `RLIMIT_NOFILE`. Like nmap, the binary raises the soft limit to the hard limit at start
//! ([`raise_nofile_limit`]); the scanner then sizes its window from what is left
//! ([`descriptor_budget`]) and still treats `EMFILE`/`ENFILE` as back-pressure, never as a port
//! state, in case other code takes descriptors during the scan.

use std::io;

/// Descriptors kept free for everything that is not a probe socket (standard streams, the
/// runtime's epoll and wake-up descriptors, an output file, a resolver, …).
pub const RESERVED_DESCRIPTORS: u64 = 24;

/// The current soft and hard `RLIMIT_NOFILE`.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
///
/// This changes the whole process, so the library never calls it on its own: the binary does.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = nofile_limit()?;
    if soft >= hard {
        return Ok(soft);
    }
    let lim = libc::rlimit {
        rlim_cur: hard as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(hard)
}

/// Number of descriptors this process has open now (from `/proc/self/fd`; 0 if unreadable).
pub fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// How many probe sockets can be open at once: the soft limit, less what is open and
/// [`RESERVED_DESCRIPTORS`]; at least 1.
pub fn descriptor_budget() -> u64 {
    let soft = nofile_limit().map(|(s, _)| s).unwrap_or(1024);
    soft.saturating_sub(open_descriptors())
        .saturating_sub(RESERVED_DESCRIPTORS)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_below_the_soft_limit() {
        let (soft, hard) = nofile_limit().unwrap();
        assert!(soft <= hard);
        let budget = descriptor_budget();
        assert!(budget >= 1);
        assert!(budget <= soft.saturating_sub(RESERVED_DESCRIPTORS).max(1));
    }
}
