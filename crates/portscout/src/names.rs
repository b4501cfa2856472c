//! Host names of the addresses scanned: PTR lookups (reverse DNS), beside the scan.
//!
//! As nmap does by default, [`crate::scan::Scan::drive`] looks up the name of every host that
//! is up ([`ReverseDns::Up`]; nmap's `-n` is [`ReverseDns::Never`], `-R`
//! [`ReverseDns::All`], which names hosts found down too). A lookup starts when the host's
//! first event comes out of the scan and runs on a small pool of threads of its own, so the
//! scan never waits for DNS; the name goes to the sinks ([`crate::output::Sink::host_name`])
//! when it comes.
//!
//! The resolver is the system's: `getnameinfo(3)` with `NI_NAMEREQD`, which reads the hosts
//! file and asks the servers of `/etc/resolv.conf` as `nsswitch.conf` says, exactly as the
//! forward lookups of target names do (`tokio::net::lookup_host`, `getaddrinfo`). A loopback
//! address (`127.0.0.0/8`, `::1`) is named from the hosts file only and never asked of a DNS
//! server (RFC 6303 serves `127.in-addr.arpa` locally; a server has no better answer).
//!
//! Bounds, so that DNS never holds a wide scan up:
//!
//! * at most [`NameOptions::concurrency`] lookups at once (threads, started as needed);
//! * each lookup gets [`NameOptions::timeout`]: a name that comes later is dropped (the thread
//!   that waits for it is not reused until the system resolver gives up, which its own
//!   `timeout`/`attempts` options in `resolv.conf` bound);
//! * when the scan's last result is out, names still missing are waited for at most
//!   [`NameOptions::timeout`] more, then the hosts are reported without them.
//!
//! A name is used only if it is a plausible host name ([`is_host_name`]): letters, digits,
//! `-`, `_` and `.`, at most 253 characters. Anything else a DNS server may hold (spaces,
//! commas, control characters, markup) is dropped, so no output format ever needs to escape a
//! name.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which hosts get a PTR lookup.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReverseDns {
    /// None (nmap's `-n`).
    Never,
    /// Every host that is up: that has a port result, so every host with `--no-host-check`
    /// (nmap's default).
    #[default]
    Up,
    /// Every host, also those found down (nmap's `-R`).
    All,
}

/// One lookup: an address's name, or `None`. Runs on a thread of the lookup pool and may
/// block.
pub type Lookup = fn(IpAddr) -> Option<String>;

/// The default [`NameOptions::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The default [`NameOptions::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The most lookups at once that [`crate::scan::ScanConfigBuilder::names`] accepts.
pub const MAX_CONCURRENCY: usize = 256;

/// The longest [`NameOptions::timeout`] accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// How host names are looked up during a scan.
#[derive(Copy, Clone, Debug)]
pub struct NameOptions {
    /// Which hosts.
    pub reverse_dns: ReverseDns,
    /// How long one lookup may take, and how long the scan's end waits for the names still
    /// missing.
    pub timeout: Duration,
    /// Lookups at once, at most.
    pub concurrency: usize,
    /// The lookup itself: [`system_lookup`] unless a test gives another.
    pub lookup: Lookup,
}

impl Default for NameOptions {
    fn default() -> NameOptions {
        NameOptions {
            reverse_dns: ReverseDns::Up,
            timeout: DEFAULT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
            lookup: system_lookup,
        }
    }
}

/// Whether `name` is used as a host name: 1 to 253 characters, each an ASCII letter, digit,
/// `-`, `_` or `.` (DNS allows any byte in a label; what else a PTR record holds is dropped).
pub fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The system's name for `ip`: from the hosts file for a loopback address, else
/// `getnameinfo(3)` with `NI_NAMEREQD` (hosts file, then DNS, as `nsswitch.conf` says).
/// `None` when there is none, or it is not a plausible host name ([`is_host_name`]).
pub fn system_lookup(ip: IpAddr) -> Option<String> {
    let name = if ip.is_loopback() {
        hosts_file_name(&std::fs::read_to_string("/etc/hosts").ok()?, ip)
    } else {
        getnameinfo(ip)
    }?;
    let name = name.trim_end_matches('.').to_string();
    is_host_name(&name).then_some(name)
}

/// The first name of the first line of a hosts file that gives `ip`.
fn hosts_file_name(text: &str, ip: IpAddr) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let addr: IpAddr = words.next()?.parse().ok()?;
        if addr == ip {
            words.next().map(str::to_string)
        } else {
            None
        }
    })
}

fn getnameinfo(ip: IpAddr) -> Option<String> {
    let addr = socket2::SockAddr::from(std::net::SocketAddr::new(ip, 0));
    let mut host = [0 as libc::c_char; libc::NI_MAXHOST as usize];
    // SAFETY: `addr` is a valid socket address of `addr.len()` bytes; `host` is a writable
    // buffer of the length given; no service buffer is asked for.
    let rc = unsafe {
        libc::getnameinfo(
            addr.as_ptr().cast(),
            addr.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    name.to_str().ok().map(str::to_string)
}

/// The lookups of one scan: asked as hosts show up, answered as they come.
pub(crate) struct PtrLookups {
    options: NameOptions,
    jobs: Option<mpsc::Sender<IpAddr>>,
    queue: Arc<Mutex<mpsc::Receiver<IpAddr>>>,
    answers_tx: mpsc::Sender<(IpAddr, Option<String>)>,
    answers: mpsc::Receiver<(IpAddr, Option<String>)>,
    asked: HashSet<IpAddr>,
    threads: usize,
    outstanding: usize,
}

impl PtrLookups {
    pub(crate) fn new(options: NameOptions) -> PtrLookups {
        let (jobs, queue) = mpsc::channel();
        let (answers_tx, answers) = mpsc::channel();
        PtrLookups {
            options,
            jobs: Some(jobs),
            queue: Arc::new(Mutex::new(queue)),
            answers_tx,
            answers,
            asked: HashSet::new(),
            threads: 0,
            outstanding: 0,
        }
    }

    /// Whether a host found up (`up`) or down gets a lookup.
    pub(crate) fn wants(&self, up: bool) -> bool {
        match self.options.reverse_dns {
            ReverseDns::Never => false,
            ReverseDns::Up => up,
            ReverseDns::All => true,
        }
    }

    /// Looks `ip` up, unless it was already.
    pub(crate) fn ask(&mut self, ip: IpAddr) {
        if !self.asked.insert(ip) {
            return;
        }
        if self.threads < self.options.concurrency.min(self.asked.len()) {
            self.spawn();
        }
        if self.threads == 0 {
            // No thread could be started: no names, the scan goes on.
            return;
        }
        if let Some(jobs) = &self.jobs {
            if jobs.send(ip).is_ok() {
                self.outstanding += 1;
            }
        }
    }

    fn spawn(&mut self) {
        let queue = Arc::clone(&self.queue);
        let answers = self.answers_tx.clone();
        let lookup = self.options.lookup;
        let timeout = self.options.timeout;
        let started = std::thread::Builder::new()
            .name("portscout-names".into())
            .spawn(move || loop {
                let next = queue.lock().map(|q| q.recv());
                let Ok(Ok(ip)) = next else { return };
                let t0 = Instant::now();
                let name = lookup(ip).filter(|_| t0.elapsed() <= timeout);
                if answers.send((ip, name)).is_err() {
                    return;
                }
            });
        if started.is_ok() {
            self.threads += 1;
        }
    }

    /// The names that came, without waiting.
    pub(crate) fn ready(&mut self) -> Vec<(IpAddr, String)> {
        let mut names = Vec::new();
        if self.outstanding == 0 {
            return names;
        }
        while let Ok((ip, name)) = self.answers.try_recv() {
            self.outstanding -= 1;
            names.extend(name.map(|n| (ip, n)));
        }
        names
    }

    /// The names still missing, waited for at most the lookup timeout; the pool is let go
    /// (a thread still inside the resolver ends when it returns).
    pub(crate) fn finish(mut self) -> Vec<(IpAddr, String)> {
        self.jobs = None;
        let deadline = Instant::now() + self.options.timeout;
        let mut names = Vec::new();
        while self.outstanding > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.answers.recv_timeout(left) {
                Ok((ip, name)) => {
                    self.outstanding -= 1;
                    names.extend(name.map(|n| (ip, n)));
                }
                Err(_) => break,
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn host_names_are_letters_digits_dashes_and_dots() {
        for good in [
            "localhost",
            "a.example",
            "xn--bcher-kva.example",
            "_srv.a-b.c",
        ] {
            assert!(is_host_name(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a,b",
            "a\nb",
            "<x>",
            "é.example",
            &"a".repeat(254),
        ] {
            assert!(!is_host_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn hosts_file_gives_the_first_name_of_the_first_line() {
        let hosts = "# c\n127.0.0.1 localhost runsc\n127.0.0.1 vm\n::1 ip6-localhost # x\n";
        assert_eq!(
            hosts_file_name(hosts, ip("127.0.0.1")).as_deref(),
            Some("localhost")
        );
        assert_eq!(
            hosts_file_name(hosts, ip("::1")).as_deref(),
            Some("ip6-localhost")
        );
        assert_eq!(hosts_file_name(hosts, ip("127.0.0.2")), None);
    }

    fn slow(ip: IpAddr) -> Option<String> {
        let n = match ip {
            IpAddr::V4(a) => a.octets()[3],
            IpAddr::V6(_) => 0,
        };
        // .1 answers at once, .2 too late for the timeout (2 s), .3 never within the test.
        // Both late ones wait longer than the bound the test allows a loaded machine.
        match n {
            1 => Some("one.example".into()),
            2 => {
                std::thread::sleep(Duration::from_secs(60));
                Some("two.example".into())
            }
            _ => {
                std::thread::sleep(Duration::from_secs(120));
                Some("late.example".into())
            }
        }
    }

    #[test]
    fn lookups_are_bounded_in_time_and_late_names_dropped() {
        let mut lookups = PtrLookups::new(NameOptions {
            // Long enough that a loaded machine still starts the lookup of .1 in time.
            timeout: Duration::from_secs(2),
            concurrency: 4,
            lookup: slow,
            ..NameOptions::default()
        });
        for a in ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.1"] {
            lookups.ask(ip(a));
        }
        assert_eq!(lookups.threads, 3);
        assert_eq!(lookups.outstanding, 3);
        let t0 = Instant::now();
        let mut names = lookups.finish();
        names.sort();
        // The end waits at most the timeout, neither the 60 s of the late lookup (its name is
        // dropped) nor the 120 s of the stuck one. The bound, the timeout and 30 s for a
        // loaded machine, tells which: it asserts no speed.
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(2 + 30), "{took:?}");
        assert_eq!(names, [(ip("198.18.0.1"), "one.example".to_string())]);
    }

    #[test]
    fn which_hosts_are_looked_up() {
        let with = |reverse_dns| {
            PtrLookups::new(NameOptions {
                reverse_dns,
                ..NameOptions::default()
            })
        };
        assert!(!with(ReverseDns::Never).wants(true));
        assert!(with(ReverseDns::Up).wants(true) && !with(ReverseDns::Up).wants(false));
        assert!(with(ReverseDns::All).wants(false));
    }
}
