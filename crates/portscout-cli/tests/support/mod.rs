//! Network-namespace test fixtures for portscout's integration tests.
//!
//! Include with `mod support;` from a test in `crates/portscout-cli/tests/`.
//!
//! THE NETWORK RULE: everything here touches only loopback inside a namespace that the test
//! created, or addresses in 198.18.0.0/15 (IPv6: 2001:db8::/32) that exist only on veth pairs
//! between such namespaces. Every namespace, listener and nftables rule is removed when its RAII
//! value is dropped, also when a test panics.
//!
//! Namespace tests need root. [`require_root`] says whether they can run; outside CI they skip
//! with a message on stderr, under `CI` they fail instead of skipping.
//!
//! Every scanner started here runs with `PORTSCOUT_CONFIG` set empty: no config file of the
//! machine's user (`docs/config.md`) can change what a test sees. A test that starts the binary
//! some other way must do the same.
#![allow(dead_code)]

mod skip;
#[allow(unused_imports)]
pub use skip::{in_ci, skip as skip_or_fail};

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Path of the portscout binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_portscout");

/// How long one scanner run may take before it is killed and the test fails.
pub const SCAN_DEADLINE: Duration = Duration::from_secs(300);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Serialises `ip netns add`: the first calls in a process race on mounting /run/netns.
static NETNS_LOCK: Mutex<()> = Mutex::new(());

fn next_id() -> usize {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// Whether the program `name` runs here (`name --version` or, failing that, `name -V`
/// exits 0). When it does not, skips (outside CI) or fails (under CI), naming the Debian
/// `package` that provides it (`.ci/run` installs it).
pub fn require_tool(name: &str, package: &str) -> bool {
    let runs = |flag: &str| {
        Command::new(name)
            .arg(flag)
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("--version") || runs("-V") {
        return true;
    }
    skip_or_fail(&format!("needs `{name}` (apt-get install {package})"))
}

/// Whether namespace tests can run here: root and a working `ip netns`.
///
/// When they cannot, prints `skipping: ...` to stderr and returns false, except under CI,
/// where it panics so that the tests never pass by skipping silently.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return skip_or_fail("needs root to create network namespaces");
    }
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        let name = format!("pst-probe-{}", std::process::id());
        let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let _ = quiet(Command::new("ip").args(["netns", "del", &name]));
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("cannot run `ip`: {e} (install iproute2)"))?;
        let _ = quiet(Command::new("ip").args(["netns", "del", &name]));
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`ip netns add` is unusable here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    });
    match probe {
        Ok(()) => true,
        Err(why) => skip_or_fail(why),
    }
}

/// Whether nftables tests can run: [`require_root`] and an `nft` binary.
pub fn require_nft() -> bool {
    if !require_root() {
        return false;
    }
    match Command::new("nft").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => skip_or_fail("needs `nft` (apt-get install nftables)"),
    }
}

/// Run a command with output discarded; true when it exited 0.
fn quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Run a command that must succeed; panics with its stderr otherwise.
fn must(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// Run a command that must succeed, feeding `input` on stdin.
fn must_with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}\ninput:\n{input}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// Names of the network namespaces that `ip netns list` shows.
pub fn netns_list() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("run ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// A network namespace that exists for the lifetime of this value (`ip netns del` on drop).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Create `pst-<tag>-<pid>-<counter>` with `lo` up.
    pub fn new(tag: &str) -> Netns {
        let name = format!("pst-{tag}-{}-{}", std::process::id(), next_id());
        Netns::named(&name)
    }

    /// Create a namespace with exactly this name, first deleting a stale one of the same name
    /// left behind by a crashed earlier run.
    pub fn named(name: &str) -> Netns {
        assert!(
            name.starts_with("pst-"),
            "test namespaces are named pst-*: {name}"
        );
        {
            let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            if Path::new("/run/netns").join(name).exists() {
                eprintln!("removing stale namespace {name}");
                let _ = quiet(Command::new("ip").args(["netns", "del", name]));
            }
            must(Command::new("ip").args(["netns", "add", name]));
        }
        // From here on Drop cleans up, also if bringing lo up fails.
        let ns = Netns {
            name: name.to_owned(),
        };
        must(Command::new("ip").args(["-n", name, "link", "set", "lo", "up"]));
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command running `ip netns exec <name> <args...>`.
    pub fn exec<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        // No config file of this machine's user may change what a test's scanner does.
        cmd.env("PORTSCOUT_CONFIG", "");
        cmd
    }

    /// A command running `ip -n <name> <args...>` (iproute2 inside the namespace).
    pub fn ip<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.name]).args(args);
        cmd
    }

    /// Run `f` on a fresh thread that has first entered this namespace (`setns`). Sockets
    /// created there belong to the namespace even after the thread ends. A panic in `f` is
    /// propagated.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = Path::new("/run/netns").join(&self.name);
        std::thread::scope(|s| {
            let handle = s.spawn(move || {
                let file =
                    File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                // SAFETY: a valid open namespace fd; setns only affects the calling thread,
                // which is this fresh thread used for nothing else.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(
                    rc,
                    0,
                    "setns({}): {}",
                    path.display(),
                    io::Error::last_os_error()
                );
                drop(file);
                f()
            });
            match handle.join() {
                Ok(v) => v,
                Err(payload) => std::panic::resume_unwind(payload),
            }
        })
    }

    /// Bind TCP listeners on `ip` at each of `ports` inside this namespace; see [`Listeners`].
    pub fn listen(&self, ip: &str, ports: &[u16]) -> Listeners {
        let ip: IpAddr = ip
            .parse()
            .unwrap_or_else(|e| panic!("bad listen address {ip}: {e}"));
        assert_allowed_ip(ip, true);
        let sockets = self.run_in(|| {
            ports
                .iter()
                .map(|&p| {
                    TcpListener::bind(SocketAddr::new(ip, p))
                        .unwrap_or_else(|e| panic!("bind {ip}:{p} in {}: {e}", self.name))
                })
                .collect::<Vec<_>>()
        });
        Listeners::start(sockets)
    }

    /// Run the portscout binary in this namespace with `args`; see [`run_scan`].
    pub fn scan<S: AsRef<str>>(&self, args: &[S]) -> ScanRun {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
        let mut cmd = self.exec([BIN]);
        cmd.args(&args);
        run_scan(cmd, &args)
    }

    /// Like [`Netns::scan`], with `cwd` as the working directory (where a default
    /// `portscout.resume` goes).
    pub fn scan_in<S: AsRef<str>>(&self, cwd: &Path, args: &[S]) -> ScanRun {
        self.spawn_in(cwd, args).wait()
    }

    /// Start the portscout binary in this namespace with `args` and `cwd` as the working
    /// directory, without waiting for it; see [`RunningScan`].
    pub fn spawn_in<S: AsRef<str>>(&self, cwd: &Path, args: &[S]) -> RunningScan {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
        let mut cmd = self.exec([BIN]);
        cmd.args(&args).current_dir(cwd);
        spawn_scan(cmd, &args)
    }

    /// Like [`Netns::scan`], but with the descriptor limit (`ulimit -n`) set to `nofile`.
    pub fn scan_with_nofile<S: AsRef<str>>(&self, nofile: u32, args: &[S]) -> ScanRun {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
        let script = format!("ulimit -n {nofile} && exec \"$0\" \"$@\"");
        let mut cmd = self.exec(["sh", "-c", &script, BIN]);
        cmd.args(&args);
        run_scan(cmd, &args)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let ok = quiet(Command::new("ip").args(["netns", "del", &self.name]));
        if !ok && Path::new("/run/netns").join(&self.name).exists() {
            eprintln!("warning: could not delete namespace {}", self.name);
        }
    }
}

/// Panic unless `ip` is one the tests may use: loopback, unspecified (for binding),
/// 198.18.0.0/15 or 2001:db8::/32.
pub fn assert_allowed_ip(ip: IpAddr, allow_unspecified: bool) {
    let ok = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || (allow_unspecified && v4.is_unspecified())
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || (allow_unspecified && v6.is_unspecified())
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    };
    assert!(
        ok,
        "{ip} is outside the test ranges (loopback, 198.18.0.0/15, 2001:db8::/32)"
    );
}

/// TCP listeners inside a namespace, the ground truth of the tests. A background thread accepts
/// and immediately drops connections so that accept queues never fill. Dropping the value stops
/// the thread and closes the sockets.
pub struct Listeners {
    addrs: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listeners {
    fn start(sockets: Vec<TcpListener>) -> Listeners {
        let addrs = sockets
            .iter()
            .map(|s| s.local_addr().expect("local_addr"))
            .collect();
        for s in &sockets {
            s.set_nonblocking(true).expect("set_nonblocking");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || accept_loop(sockets, stop2));
        Listeners {
            addrs,
            stop,
            thread: Some(thread),
        }
    }

    /// The listening ports.
    pub fn ports(&self) -> BTreeSet<u16> {
        self.addrs.iter().map(|a| a.port()).collect()
    }

    /// The bound addresses.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }
}

fn accept_loop(sockets: Vec<TcpListener>, stop: Arc<AtomicBool>) {
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    while !stop.load(Ordering::SeqCst) {
        // SAFETY: fds is a valid array of fds.len() pollfd structs, whose descriptors stay open
        // while `sockets` lives.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if n <= 0 {
            continue;
        }
        for (pfd, sock) in fds.iter_mut().zip(&sockets) {
            if pfd.revents == 0 {
                continue;
            }
            pfd.revents = 0;
            // Drain the accept queue; connections are dropped (closed) at once.
            while let Ok((conn, _)) = sock.accept() {
                drop(conn);
            }
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A scanner namespace and a target namespace joined by a veth pair; the target holds every
/// address of `live` (the first on the veth itself), each with listeners on its ports.
/// Callers keep the parts in fields that drop listeners first and the namespaces last.
///
/// Addresses of either family: IPv4 ones get a /24, IPv6 ones a /64 (added with `nodad`, so
/// they are usable at once), so that the scanner's address (`scanner_cidr`, or each of
/// `scanner_cidrs`) reaches every target address of its family on the link. With IPv6
/// addresses, construction waits until IPv6 works on the link
/// ([`VethPair::wait_ipv6_ready`], about 1.5 s).
pub struct VethHosts {
    pub listeners: Vec<Listeners>,
    pub veth: VethPair,
    pub target: Netns,
    pub scanner: Netns,
}

/// `ip/24` for IPv4, `ip/64` for IPv6.
fn on_link_cidr(ip: &str) -> String {
    let parsed: IpAddr = ip
        .parse()
        .unwrap_or_else(|e| panic!("bad address {ip}: {e}"));
    format!("{ip}/{}", if parsed.is_ipv6() { 64 } else { 24 })
}

impl VethHosts {
    /// The scanner holds `scanner_cidr` (e.g. `198.18.0.1/24` or `2001:db8::1/64`).
    pub fn new(tag: &str, scanner_cidr: &str, live: &[(&str, &[u16])]) -> VethHosts {
        VethHosts::with_scanner_addrs(tag, &[scanner_cidr], live)
    }

    /// The scanner holds every address of `scanner_cidrs` (e.g. `198.18.0.1/24` and
    /// `2001:db8::1/64`, for targets of both families).
    pub fn with_scanner_addrs(
        tag: &str,
        scanner_cidrs: &[&str],
        live: &[(&str, &[u16])],
    ) -> VethHosts {
        let scanner = Netns::new(&format!("{tag}-s"));
        let target = Netns::new(&format!("{tag}-t"));
        let veth = VethPair::new(
            &scanner,
            &target,
            scanner_cidrs[0],
            &on_link_cidr(live[0].0),
        );
        for cidr in &scanner_cidrs[1..] {
            veth.add_scanner_addr(cidr);
        }
        for (ip, _) in &live[1..] {
            veth.add_target_addr(&on_link_cidr(ip));
        }
        let listeners = live
            .iter()
            .map(|(ip, ports)| target.listen(ip, ports))
            .collect();
        if scanner_cidrs.iter().any(|c| c.contains(':'))
            || live.iter().any(|(ip, _)| ip.contains(':'))
        {
            veth.wait_ipv6_ready();
        }
        VethHosts {
            listeners,
            veth,
            target,
            scanner,
        }
    }
}

/// The IPv6 scenario of issue 6, for the connect scan and the SYN scan alike: a scanner
/// namespace holding [`Ipv6Hosts::SCANNER`] (`2001:db8::1/64`) and a target namespace holding
/// every address of [`Ipv6Hosts::LIVE`] (each with its listeners) and [`Ipv6Hosts::OUTSIDE`],
/// all on one veth pair. The rest of [`Ipv6Hosts::BLOCK`] (`2001:db8::/120`) exists nowhere:
/// a scan of the block finds 251 addresses down (nothing answers their neighbour
/// solicitations) and the scanner's own address up.
///
/// nftables in the target ([`Ipv6Hosts::nft`]) drops every TCP packet to
/// [`Ipv6Hosts::FILTERED_PORTS`] of [`Ipv6Hosts::FILTERED_HOST`] (counter `filtered`) and
/// counts, before anything else sees them, the packets to each live address (counters `to_2`,
/// `to_10`, `to_11`, `to_fe`: `to_` and the address's last group, see [`Ipv6Hosts::counter_of`])
/// and to the outside one (`to_outside`).
///
/// IPv6 forwarding is off in both namespaces (the default of a new namespace, set explicitly),
/// so that `2001:db8::` is nobody's subnet-router anycast address but an absent one.
///
/// Fields drop in order: the nft table, then the listeners, veth and namespaces.
pub struct Ipv6Hosts {
    pub nft: NftTable,
    pub hosts: VethHosts,
}

impl Ipv6Hosts {
    /// The scanner's address (its /64 is on the veth).
    pub const SCANNER: &'static str = "2001:db8::1";
    /// The block the tests scan: 256 addresses, 4 of them live, and the scanner's own.
    pub const BLOCK: &'static str = "2001:db8::/120";
    /// The live target addresses (all in [`Ipv6Hosts::BLOCK`]) and their listeners, some in
    /// the ephemeral range; 2001:db8::10:8081 listens behind the drop rule (filtered).
    pub const LIVE: &'static [(&'static str, &'static [u16])] = &[
        ("2001:db8::2", &[22, 80, 443, 8080, 40001]),
        ("2001:db8::10", &[22, 25, 8081]),
        ("2001:db8::11", &[80, 8443, 40001]),
        ("2001:db8::fe", &[1, 443, 65535]),
    ];
    /// A target address in the /64 but outside [`Ipv6Hosts::BLOCK`], with listeners: a scan of
    /// the block must report nothing of it.
    pub const OUTSIDE: (&'static str, &'static [u16]) = ("2001:db8::1:2", &[22, 80, 443]);
    /// The address whose ports [`Ipv6Hosts::FILTERED_PORTS`] are dropped.
    pub const FILTERED_HOST: &'static str = "2001:db8::10";
    /// Every TCP packet to these ports of [`Ipv6Hosts::FILTERED_HOST`] is dropped.
    pub const FILTERED_PORTS: (u16, u16) = (8000, 8099);

    /// Builds the namespaces, veth, addresses, listeners and rules (`tag` names the
    /// namespaces).
    pub fn new(tag: &str) -> Ipv6Hosts {
        let mut live: Vec<(&str, &[u16])> = Ipv6Hosts::LIVE.to_vec();
        live.push(Ipv6Hosts::OUTSIDE);
        let scanner_cidr = format!("{}/64", Ipv6Hosts::SCANNER);
        let hosts = VethHosts::new(tag, &scanner_cidr, &live);
        for ns in [&hosts.scanner, &hosts.target] {
            must(&mut ns.exec(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0"]));
        }
        let mut body: Vec<String> = Vec::new();
        let mut counted: Vec<&str> = Ipv6Hosts::LIVE.iter().map(|(ip, _)| *ip).collect();
        counted.push(Ipv6Hosts::OUTSIDE.0);
        for ip in &counted {
            body.push(format!("counter {} {{ }}", Ipv6Hosts::counter_of(ip)));
        }
        body.push("counter filtered { }".into());
        body.push("chain pre { type filter hook prerouting priority -300; policy accept;".into());
        for ip in &counted {
            body.push(format!(
                "  ip6 daddr {ip} counter name \"{}\"",
                Ipv6Hosts::counter_of(ip)
            ));
        }
        body.push("}".into());
        let (lo, hi) = Ipv6Hosts::FILTERED_PORTS;
        body.push("chain input { type filter hook input priority 0; policy accept;".into());
        body.push(format!(
            "  ip6 daddr {} tcp dport {lo}-{hi} counter name \"filtered\" drop",
            Ipv6Hosts::FILTERED_HOST
        ));
        body.push("}".into());
        let body: Vec<&str> = body.iter().map(String::as_str).collect();
        let nft = nft_rules(&hosts.target, &body);
        Ipv6Hosts { nft, hosts }
    }

    /// The name of the target's counter of packets to `ip`: `to_` and the address's last
    /// group (`to_10` for 2001:db8::10), `to_outside` for [`Ipv6Hosts::OUTSIDE`].
    pub fn counter_of(ip: &str) -> String {
        if ip == Ipv6Hosts::OUTSIDE.0 {
            return "to_outside".into();
        }
        let ip: std::net::Ipv6Addr = ip.parse().expect("IPv6 address");
        format!("to_{:x}", ip.segments()[7])
    }

    /// Packets that reached `ip` in the target so far (`ip` live or outside).
    #[track_caller]
    pub fn packets_to(&self, ip: &str) -> u64 {
        self.nft.counter(&Ipv6Hosts::counter_of(ip))
    }

    /// The scanner namespace (where portscout runs).
    pub fn scanner(&self) -> &Netns {
        &self.hosts.scanner
    }

    /// The true state of `port` on the live address `ip` (`open`, `closed` or `filtered`),
    /// or `None` if `ip` is not live. The scanner's own address is live too: every port
    /// closed.
    pub fn truth(ip: IpAddr, port: u16) -> Option<&'static str> {
        let is = |s: &str| s.parse::<IpAddr>().ok() == Some(ip);
        if is(Ipv6Hosts::SCANNER) {
            return Some("closed");
        }
        let (_, listeners) = Ipv6Hosts::LIVE.iter().find(|(live, _)| is(live))?;
        let (lo, hi) = Ipv6Hosts::FILTERED_PORTS;
        Some(
            if is(Ipv6Hosts::FILTERED_HOST) && (lo..=hi).contains(&port) {
                "filtered"
            } else if listeners.contains(&port) {
                "open"
            } else {
                "closed"
            },
        )
    }
}

/// A veth pair between a scanner namespace and a target namespace, with test addresses.
pub struct VethPair {
    scanner_ns: String,
    target_ns: String,
    scanner_if: String,
    target_if: String,
}

impl VethPair {
    /// Create a veth pair with one end in each namespace, assign `scanner_cidr` (e.g.
    /// `198.18.7.1/24`) and `target_cidr` (e.g. `198.18.7.2/24`), and bring both links up.
    pub fn new(scanner: &Netns, target: &Netns, scanner_cidr: &str, target_cidr: &str) -> Self {
        let id = next_id();
        // ≤15 chars: "pv" + pid in hex (≤6) + "s"/"t" + id.
        let base = format!("pv{:x}", std::process::id());
        let scanner_if = format!("{base}s{id}");
        let target_if = format!("{base}t{id}");
        assert!(scanner_if.len() <= 15 && target_if.len() <= 15);
        // Created directly inside the namespaces: the root namespace never sees them.
        must(Command::new("ip").args([
            "link",
            "add",
            &scanner_if,
            "netns",
            scanner.name(),
            "type",
            "veth",
            "peer",
            "name",
            &target_if,
            "netns",
            target.name(),
        ]));
        let pair = VethPair {
            scanner_ns: scanner.name().to_owned(),
            target_ns: target.name().to_owned(),
            scanner_if,
            target_if,
        };
        pair.add_scanner_addr(scanner_cidr);
        pair.add_target_addr(target_cidr);
        must(&mut scanner.ip(["link", "set", &pair.scanner_if, "up"]));
        must(&mut target.ip(["link", "set", &pair.target_if, "up"]));
        pair
    }

    fn add_addr(ns: &str, ifname: &str, cidr: &str) {
        let ip: IpAddr = cidr
            .split('/')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or_else(|e| panic!("bad address {cidr}: {e}"));
        assert_allowed_ip(ip, false);
        let mut cmd = Command::new("ip");
        cmd.args(["-n", ns]);
        if ip.is_ipv6() {
            cmd.args(["-6", "addr", "add", cidr, "dev", ifname, "nodad"]);
        } else {
            cmd.args(["addr", "add", cidr, "dev", ifname]);
        }
        must(&mut cmd);
    }

    /// Add another address (IPv4, or IPv6 with `nodad`) to the scanner end.
    pub fn add_scanner_addr(&self, cidr: &str) {
        Self::add_addr(&self.scanner_ns, &self.scanner_if, cidr);
    }

    /// Add another address (IPv4, or IPv6 with `nodad`) to the target end.
    pub fn add_target_addr(&self, cidr: &str) {
        Self::add_addr(&self.target_ns, &self.target_if, cidr);
    }

    /// Add IPv6 addresses to both ends, e.g. `2001:db8:7::1/64` and `2001:db8:7::2/64` (see
    /// [`VethPair::wait_ipv6_ready`] before scanning them).
    pub fn add_ipv6(&self, scanner_cidr: &str, target_cidr: &str) {
        self.add_scanner_addr(scanner_cidr);
        self.add_target_addr(target_cidr);
    }

    /// Waits (at most 10 s) until IPv6 works on both ends: until each end has a link-local
    /// address and no address is still tentative (duplicate address detection done).
    ///
    /// For about a second after a veth comes up, the other end silently drops IPv6 multicast,
    /// neighbour solicitations included, while IPv4 (ARP) already works: a scan started at
    /// once finds every live IPv6 address silent for a second (its first window of probes
    /// counted lost). Link-local addresses leave the tentative state only after the link is
    /// ready, so that is what this waits for (DAD runs on them even when the test addresses
    /// are added with `nodad`).
    #[track_caller]
    pub fn wait_ipv6_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for (ns, ifname) in [
            (&self.scanner_ns, &self.scanner_if),
            (&self.target_ns, &self.target_if),
        ] {
            loop {
                let out = must(
                    Command::new("ip").args(["-n", ns, "-6", "-o", "addr", "show", "dev", ifname]),
                );
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    !text.contains("dadfailed"),
                    "IPv6 DAD failed on {ifname} in {ns}:\n{text}"
                );
                if text.contains("scope link") && !text.contains("tentative") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "IPv6 on {ifname} in {ns} not ready after 10 s:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Interface names (scanner end, target end).
    pub fn ifnames(&self) -> (&str, &str) {
        (&self.scanner_if, &self.target_if)
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting one end deletes both; fails harmlessly if the namespace is already gone.
        let _ = quiet(Command::new("ip").args([
            "-n",
            &self.scanner_ns,
            "link",
            "del",
            &self.scanner_if,
        ]));
    }
}

/// nftables rules in a namespace, deleted on drop (they would also die with the namespace).
pub struct NftRules {
    ns: String,
    chain: String,
}

/// In `target`, drop incoming TCP packets to destination ports `lo..=hi` (table `inet pstest`,
/// input hook), so the scanner sees those ports as filtered.
pub fn nft_drop_ports(target: &Netns, lo: u16, hi: u16) -> NftRules {
    assert!(lo <= hi);
    let chain = format!("in{}", next_id());
    let script = format!(
        "add table inet pstest\n\
         add chain inet pstest {chain} {{ type filter hook input priority 0; policy accept; }}\n\
         add rule inet pstest {chain} tcp dport {lo}-{hi} drop\n"
    );
    must_with_stdin(&mut target.exec(["nft", "-f", "-"]), &script);
    NftRules {
        ns: target.name().to_owned(),
        chain,
    }
}

impl Drop for NftRules {
    fn drop(&mut self) {
        let script = format!(
            "flush chain inet pstest {c}\ndelete chain inet pstest {c}\n",
            c = self.chain
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(script.as_bytes());
            }
            let _ = child.wait();
        }
    }
}

/// An nftables table of its own (`inet pst<pid>x<counter>`) in a namespace, deleted on drop
/// (it would also die with the namespace). Made by [`nft_rules`].
pub struct NftTable {
    ns: String,
    table: String,
}

/// In `ns`, create a table holding `body`: the lines that go between `table inet <name> {` and
/// `}` in `nft -f` syntax (named counters, chains with their hooks and rules), one statement per
/// line. Panics with nft's message when the script is rejected.
///
/// ```text
/// nft_rules(&target, &[
///     "counter syn_loss { }",
///     "chain input { type filter hook input priority 0; policy accept;",
///     "  tcp flags & (syn | ack) == syn numgen random mod 100 < 15 counter name \"syn_loss\" drop",
///     "}",
/// ])
/// ```
pub fn nft_rules(ns: &Netns, body: &[&str]) -> NftTable {
    let table = format!("pst{}x{}", std::process::id(), next_id());
    let script = format!("table inet {table} {{\n{}\n}}\n", body.join("\n"));
    must_with_stdin(&mut ns.exec(["nft", "-f", "-"]), &script);
    NftTable {
        ns: ns.name().to_owned(),
        table,
    }
}

impl NftTable {
    /// The table's name (family `inet`).
    pub fn name(&self) -> &str {
        &self.table
    }

    /// Packets counted so far by the named counter `name` of this table.
    #[track_caller]
    pub fn counter(&self, name: &str) -> u64 {
        let out = must(Command::new("ip").args([
            "netns",
            "exec",
            &self.ns,
            "nft",
            "-j",
            "list",
            "counter",
            "inet",
            &self.table,
            name,
        ]));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("nft -j list counter {name}: {e}"));
        v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|item| item["counter"]["packets"].as_u64())
            .unwrap_or_else(|| panic!("no packet count for counter {name} in {v}"))
    }
}

impl Drop for NftTable {
    fn drop(&mut self) {
        let _ = quiet(Command::new("ip").args([
            "netns",
            "exec",
            &self.ns,
            "nft",
            "delete",
            "table",
            "inet",
            &self.table,
        ]));
    }
}

/// One finished run of the scanner.
#[derive(Debug)]
pub struct ScanRun {
    /// The arguments given to portscout.
    pub args: Vec<String>,
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ScanRun {
    /// Panic (with stderr) unless the scanner exited 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "portscout {:?} exited {:?}\nstderr:\n{}\nstdout (first 2000 chars):\n{}",
            self.args,
            self.code,
            self.stderr,
            self.stdout.chars().take(2000).collect::<String>()
        );
        self
    }

    /// The ndjson port records as `(ip, port, state)`.
    pub fn records(&self) -> Vec<(IpAddr, u16, String)> {
        parse_ndjson(&self.stdout)
    }

    /// The ndjson port records with their reasons.
    pub fn port_records(&self) -> Vec<PortRecord> {
        parse_port_records(&self.stdout)
    }

    /// The ndjson host records (`"type":"host"`).
    pub fn host_records(&self) -> Vec<HostRecord> {
        parse_host_records(&self.stdout)
    }

    /// Ports of `ip` reported with `state`.
    pub fn ports(&self, ip: &str, state: &str) -> BTreeSet<u16> {
        let ip: IpAddr = ip.parse().expect("ip");
        ports_with_state(&self.records(), ip, state)
    }
}

/// Run a prepared scanner command, killing it after [`SCAN_DEADLINE`].
pub fn run_scan(cmd: Command, args: &[String]) -> ScanRun {
    spawn_scan(cmd, args).wait()
}

/// Start a prepared scanner command with its output captured; see [`RunningScan`].
///
/// Under `sudo cargo test` the scanner would become the invoking user once its sockets are
/// open (`portscout::privilege`) and could not write its resume file into the tests'
/// root-owned directories: it runs as the root the test runs as.
pub fn spawn_scan(mut cmd: Command, args: &[String]) -> RunningScan {
    let start = Instant::now();
    let mut child = cmd
        // No config file of this machine's user may change what the tests see.
        .env("PORTSCOUT_CONFIG", "")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    RunningScan {
        child: Some(child),
        args: args.to_vec(),
        start,
        out_t: Some(out_t),
        err_t: Some(err_t),
    }
}

/// A scanner process that is still running (to be signalled, e.g. paused with SIGINT). Killed
/// on drop if it has not been waited for, so that a failing test leaves no scanner behind.
pub struct RunningScan {
    child: Option<Child>,
    args: Vec<String>,
    start: Instant,
    out_t: Option<JoinHandle<String>>,
    err_t: Option<JoinHandle<String>>,
}

impl RunningScan {
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// The process id (`ip netns exec` execs the command, so this is portscout's).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("child").id()
    }

    /// Time since the process was started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Send signal `sig` (e.g. `libc::SIGINT`) to the process. `ip netns exec` execs the
    /// command, so this reaches portscout itself.
    #[track_caller]
    pub fn signal(&mut self, sig: libc::c_int) {
        assert!(
            self.is_running(),
            "portscout {:?} ended before it could be signalled",
            self.args
        );
        let pid = self.child.as_ref().expect("child").id();
        // SAFETY: sending a signal to our own child process, which has not been reaped (it is
        // still running), so the pid cannot have been reused.
        let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}): {}", io::Error::last_os_error());
    }

    /// Wait for the process to end (killing it after [`SCAN_DEADLINE`]) and collect its output.
    pub fn wait(mut self) -> ScanRun {
        let mut child = self.child.take().expect("not waited for yet");
        let status = loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if self.start.elapsed() > SCAN_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "portscout {:?} still running after {SCAN_DEADLINE:?}; killed",
                    self.args
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = self.start.elapsed();
        let join =
            |t: Option<JoinHandle<String>>| t.and_then(|t| t.join().ok()).unwrap_or_default();
        ScanRun {
            args: std::mem::take(&mut self.args),
            code: status.code(),
            stdout: join(self.out_t.take()),
            stderr: join(self.err_t.take()),
            elapsed,
        }
    }
}

impl Drop for RunningScan {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A directory under the system's temporary directory, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create `portscout-<tag>-<pid>-<counter>`.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "portscout-{tag}-{}-{}",
            std::process::id(),
            next_id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory, as a string (for a command line).
    pub fn file(&self, name: &str) -> String {
        self.path
            .join(name)
            .to_str()
            .expect("UTF-8 path")
            .to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Run the portscout binary in the test's own namespace with `args`: for commands that send
/// nothing (`portscout merge`, argument errors), never for a scan.
pub fn portscout_local<S: AsRef<str>>(args: &[S]) -> ScanRun {
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = Command::new(BIN);
    cmd.args(&args);
    run_scan(cmd, &args)
}

/// Parse ndjson scanner output into `(ip, port, state)`, skipping records with a `"type"` key
/// (summary and other meta records) and blank lines. Panics on a line that is not a JSON object
/// or a port record without ip/port/state.
pub fn parse_ndjson(stdout: &str) -> Vec<(IpAddr, u16, String)> {
    let mut recs = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("ndjson line {}: {e}: {line}", i + 1));
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("ndjson line {} is not an object: {line}", i + 1));
        if obj.contains_key("type") {
            continue;
        }
        let ip: IpAddr = obj
            .get("ip")
            .and_then(|x| x.as_str())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("ndjson line {}: no valid \"ip\": {line}", i + 1));
        let port = obj
            .get("port")
            .and_then(|x| x.as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("ndjson line {}: no valid \"port\": {line}", i + 1));
        let state = obj
            .get("state")
            .and_then(|x| x.as_str())
            .unwrap_or_else(|| panic!("ndjson line {}: no \"state\": {line}", i + 1))
            .to_owned();
        recs.push((ip, port, state));
    }
    recs
}

/// One ndjson port record, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRecord {
    pub ip: IpAddr,
    pub port: u16,
    pub state: String,
    pub reason: String,
}

/// Parse ndjson scanner output into port records (as [`parse_ndjson`], keeping the reason).
/// Panics on a port record without ip, port, state or reason.
pub fn parse_port_records(stdout: &str) -> Vec<PortRecord> {
    json_lines(stdout)
        .filter(|(_, _, obj)| !obj.contains_key("type"))
        .map(|(n, line, obj)| {
            let text = |key: &str| {
                obj.get(key)
                    .and_then(|x| x.as_str())
                    .unwrap_or_else(|| panic!("ndjson line {n}: no \"{key}\": {line}"))
                    .to_owned()
            };
            PortRecord {
                ip: text("ip")
                    .parse()
                    .unwrap_or_else(|e| panic!("ndjson line {n}: bad ip: {e}: {line}")),
                port: obj
                    .get("port")
                    .and_then(|x| x.as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or_else(|| panic!("ndjson line {n}: no valid \"port\": {line}")),
                state: text("state"),
                reason: text("reason"),
            }
        })
        .collect()
}

/// One ndjson host record: `{"type":"host","ip":…,"state":"down","reason":…,"skipped":N}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRecord {
    pub ip: IpAddr,
    pub state: String,
    pub reason: String,
    /// `skipped`: the number of the host's ports not reported; None when the key is missing.
    pub skipped: Option<u64>,
    /// The line as printed.
    pub line: String,
}

/// The host records (`"type":"host"`) of ndjson scanner output. Panics on a host record
/// without a valid `ip`, or without string `state` and `reason`.
pub fn parse_host_records(stdout: &str) -> Vec<HostRecord> {
    json_lines(stdout)
        .filter(|(_, _, obj)| obj.get("type").and_then(|t| t.as_str()) == Some("host"))
        .map(|(n, line, obj)| {
            let field = |key: &str| {
                obj.get(key)
                    .and_then(|x| x.as_str())
                    .unwrap_or_else(|| panic!("ndjson line {n}: host record without {key}: {line}"))
                    .to_owned()
            };
            HostRecord {
                ip: field("ip")
                    .parse()
                    .unwrap_or_else(|e| panic!("ndjson line {n}: bad ip: {e}: {line}")),
                state: field("state"),
                reason: field("reason"),
                skipped: obj.get("skipped").and_then(|x| x.as_u64()),
                line: line.to_owned(),
            }
        })
        .collect()
}

/// The non-blank lines of ndjson output as (line number, line, object); panics on a line that
/// is not a JSON object.
fn json_lines(
    stdout: &str,
) -> impl Iterator<Item = (usize, &str, serde_json::Map<String, serde_json::Value>)> {
    stdout
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, line)| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("ndjson line {n}: {e}: {line}"));
            match v {
                serde_json::Value::Object(obj) => (n, line, obj),
                _ => panic!("ndjson line {n} is not an object: {line}"),
            }
        })
}

/// A probe: address and port.
pub type Key = (IpAddr, u16);

/// The port records of ndjson output as (ip, port) → state; panics on a port reported twice.
pub fn port_map(what: &str, ndjson: &str) -> std::collections::BTreeMap<Key, String> {
    let mut map = std::collections::BTreeMap::new();
    let mut twice = Vec::new();
    for r in parse_port_records(ndjson) {
        if let Some(old) = map.insert((r.ip, r.port), r.state.clone()) {
            twice.push(format!(
                "{} {old} + {}",
                SocketAddr::new(r.ip, r.port),
                r.state
            ));
        }
    }
    assert!(
        twice.is_empty(),
        "{what}: {} port(s) reported more than once: {}",
        twice.len(),
        first_items(&twice, 10)
    );
    map
}

/// Up to `n` items, then how many more.
pub fn first_items<T: std::fmt::Display>(items: &[T], n: usize) -> String {
    let shown: Vec<String> = items.iter().take(n).map(T::to_string).collect();
    let mut s = shown.join(", ");
    if items.len() > n {
        s.push_str(&format!(", … and {} more", items.len() - n));
    }
    s
}

/// Panics unless `got == want`, naming the ports missing, extra and in another state.
#[track_caller]
pub fn assert_same_ports(
    what: &str,
    got: &std::collections::BTreeMap<Key, String>,
    want: &std::collections::BTreeMap<Key, String>,
) {
    if got == want {
        return;
    }
    let show = |k: &Key, s: &String| format!("{} {s}", SocketAddr::new(k.0, k.1));
    let missing: Vec<String> = want
        .iter()
        .filter(|(k, _)| !got.contains_key(k))
        .map(|(k, s)| show(k, s))
        .collect();
    let extra: Vec<String> = got
        .iter()
        .filter(|(k, _)| !want.contains_key(k))
        .map(|(k, s)| show(k, s))
        .collect();
    let wrong: Vec<String> = got
        .iter()
        .filter_map(|(k, s)| match want.get(k) {
            Some(w) if w != s => Some(format!("{} want {w} got {s}", SocketAddr::new(k.0, k.1))),
            _ => None,
        })
        .collect();
    panic!(
        "{what}: {} ports wanted, {} reported\n  missing ({}): {}\n  extra ({}): {}\n  wrong state ({}): {}",
        want.len(),
        got.len(),
        missing.len(),
        first_items(&missing, 20),
        extra.len(),
        first_items(&extra, 20),
        wrong.len(),
        first_items(&wrong, 20)
    );
}

/// Counts of the last `"type":"summary"` record of ndjson output: (open, closed, filtered,
/// hosts_down).
#[track_caller]
pub fn summary_counts(what: &str, ndjson: &str) -> [u64; 4] {
    let line = ndjson
        .lines()
        .rev()
        .find(|l| l.contains("\"type\":\"summary\""))
        .unwrap_or_else(|| panic!("{what}: no summary record"));
    let v: serde_json::Value = serde_json::from_str(line).expect("summary is JSON");
    ["open", "closed", "filtered", "hosts_down"].map(|k| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{what}: summary without {k}: {line}"))
    })
}

/// Ports of `ip` with `state` among `records`.
pub fn ports_with_state(
    records: &[(IpAddr, u16, String)],
    ip: IpAddr,
    state: &str,
) -> BTreeSet<u16> {
    records
        .iter()
        .filter(|(i, _, s)| *i == ip && s == state)
        .map(|(_, p, _)| *p)
        .collect()
}

/// Assert `actual == expected`, naming the missing and extra ports.
#[track_caller]
pub fn assert_port_set(what: &str, actual: &BTreeSet<u16>, expected: &BTreeSet<u16>) {
    if actual == expected {
        return;
    }
    let missing: Vec<u16> = expected.difference(actual).copied().collect();
    let extra: Vec<u16> = actual.difference(expected).copied().collect();
    panic!(
        "{what}: port set differs\n  missing ({}): {}\n  extra ({}): {}\n  expected {} ports, got {}",
        missing.len(),
        summarize(&missing),
        extra.len(),
        summarize(&extra),
        expected.len(),
        actual.len()
    );
}

/// Up to 50 ports, then a count of the rest.
fn summarize(ports: &[u16]) -> String {
    let shown: Vec<String> = ports.iter().take(50).map(u16::to_string).collect();
    let mut s = format!("[{}]", shown.join(", "));
    if ports.len() > 50 {
        s.push_str(&format!(" ... and {} more", ports.len() - 50));
    }
    s
}

/// Self-tests of the fixtures; they do not need the scanner.
mod self_tests {
    use super::*;
    use std::net::TcpStream;

    fn connect(addr: &str) -> io::Result<TcpStream> {
        let sa: SocketAddr = addr.parse().expect("addr");
        // 3 s: room for one SYN retransmit (1 s) if a loaded machine lets the backlog fill.
        TcpStream::connect_timeout(&sa, Duration::from_secs(3))
    }

    fn connect_for(addr: &str, ms: u64) -> io::Result<TcpStream> {
        let sa: SocketAddr = addr.parse().expect("addr");
        TcpStream::connect_timeout(&sa, Duration::from_millis(ms))
    }

    #[test]
    fn fixture_parse_ndjson_skips_meta_records() {
        let out = concat!(
            "{\"ip\":\"198.18.0.2\",\"port\":443,\"protocol\":\"tcp\",\"state\":\"open\",",
            "\"reason\":\"syn-ack\",\"rtt_ms\":0.21}\n",
            "\n",
            "{\"ip\":\"::1\",\"port\":22,\"protocol\":\"tcp\",\"state\":\"filtered\"}\n",
            "{\"type\":\"summary\",\"open\":1}\n",
        );
        let recs = parse_ndjson(out);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[0],
            ("198.18.0.2".parse().unwrap(), 443, "open".to_owned())
        );
        let v6 = ports_with_state(&recs, "::1".parse().unwrap(), "filtered");
        assert_eq!(v6, BTreeSet::from([22]));
    }

    #[test]
    fn fixture_parse_host_and_port_records() {
        let out = concat!(
            "{\"ip\":\"198.18.0.2\",\"port\":22,\"protocol\":\"tcp\",\"state\":\"closed\",",
            "\"reason\":\"reset\",\"rtt_ms\":0.1}\n",
            "{\"type\":\"host\",\"ip\":\"198.18.0.9\",\"state\":\"down\",",
            "\"reason\":\"host-unreach\",\"skipped\":20}\n",
            "{\"type\":\"summary\",\"open\":0}\n",
        );
        let ports = parse_port_records(out);
        assert_eq!(
            ports,
            vec![PortRecord {
                ip: "198.18.0.2".parse().unwrap(),
                port: 22,
                state: "closed".into(),
                reason: "reset".into(),
            }]
        );
        let hosts = parse_host_records(out);
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].ip, "198.18.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(
            (hosts[0].state.as_str(), hosts[0].reason.as_str()),
            ("down", "host-unreach")
        );
        assert_eq!(hosts[0].skipped, Some(20));
        // Host records are not port records.
        assert_eq!(parse_ndjson(out).len(), 1);
    }

    #[test]
    #[should_panic(expected = "outside the test ranges")]
    fn fixture_refuses_non_test_addresses() {
        assert_allowed_ip("10.0.0.1".parse().unwrap(), true);
    }

    #[test]
    fn fixture_allows_test_addresses() {
        for ip in [
            "127.0.0.1",
            "::1",
            "198.18.0.2",
            "198.19.255.1",
            "2001:db8:7::2",
        ] {
            assert_allowed_ip(ip.parse().unwrap(), false);
        }
    }

    #[test]
    fn fixture_netns_removed_on_drop() {
        if !require_root() {
            return;
        }
        let ns = Netns::new("selfdrop");
        let name = ns.name().to_owned();
        assert!(netns_list().contains(&name), "{name} not in ip netns list");
        let out = must(&mut ns.ip(["-br", "link", "show", "lo"]));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("UNKNOWN")
                || String::from_utf8_lossy(&out.stdout).contains("UP")
        );
        drop(ns);
        assert!(
            !netns_list().contains(&name),
            "{name} still exists after drop"
        );
    }

    #[test]
    fn fixture_stale_namespace_is_replaced() {
        if !require_root() {
            return;
        }
        let name = format!("pst-stale-{}-{}", std::process::id(), next_id());
        must(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns::named(&name);
        assert_eq!(ns.name(), name);
        drop(ns);
        assert!(!netns_list().contains(&name));
    }

    #[test]
    fn fixture_listener_accepts_in_namespace() {
        if !require_root() {
            return;
        }
        let ns = Netns::new("selflisten");
        let l4 = ns.listen("127.0.0.1", &[22, 40000, 65535]);
        let l6 = ns.listen("::1", &[8080]);
        assert_eq!(l4.ports(), BTreeSet::from([22, 40000, 65535]));
        ns.run_in(|| {
            // Many connections to one port: the accept thread keeps the queue drained.
            for _ in 0..300 {
                connect("127.0.0.1:40000").expect("connect to listener");
            }
            connect("127.0.0.1:22").expect("connect 22");
            connect("[::1]:8080").expect("connect ::1");
            let e = connect("127.0.0.1:23").expect_err("nothing listens on 23");
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        });
        drop(l4);
        drop(l6);
        ns.run_in(|| {
            let e = connect("127.0.0.1:22").expect_err("listener dropped");
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        });
    }

    #[test]
    fn fixture_veth_and_nft_drop() {
        if !require_nft() {
            return;
        }
        let scanner = Netns::new("selfscan");
        let target = Netns::new("selftgt");
        let veth = VethPair::new(&scanner, &target, "198.18.250.1/24", "198.18.250.2/24");
        veth.add_ipv6("2001:db8:250::1/64", "2001:db8:250::2/64");
        let _l = target.listen("0.0.0.0", &[80, 40500]);
        let _l6 = target.listen("2001:db8:250::2", &[443]);
        scanner.run_in(|| {
            connect("198.18.250.2:80").expect("connect over veth");
            connect("198.18.250.2:40500").expect("connect before nft");
            connect("[2001:db8:250::2]:443").expect("connect over veth v6");
            let e = connect("198.18.250.2:81").expect_err("closed port");
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        });
        let rules = nft_drop_ports(&target, 40000, 41000);
        scanner.run_in(|| {
            let e = connect("198.18.250.2:40500").expect_err("dropped port");
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
            connect("198.18.250.2:80").expect("port outside the drop range");
        });
        drop(rules);
        scanner.run_in(|| {
            connect("198.18.250.2:40500").expect("rules removed on drop");
        });
        // The root namespace never sees the veth.
        let root_links = must(Command::new("ip").args(["-br", "link"]));
        let (s_if, t_if) = veth.ifnames();
        let text = String::from_utf8_lossy(&root_links.stdout);
        assert!(!text.contains(s_if) && !text.contains(t_if));
    }

    #[test]
    fn fixture_nft_rules_count_and_go_away() {
        if !require_nft() {
            return;
        }
        let scanner = Netns::new("selfnfts");
        let target = Netns::new("selfnftt");
        let _veth = VethPair::new(&scanner, &target, "198.18.251.1/24", "198.18.251.2/24");
        let table = nft_rules(
            &target,
            &[
                "counter dropped { }",
                "chain input { type filter hook input priority 0; policy accept;",
                "  tcp dport 9 counter name \"dropped\" drop",
                "}",
            ],
        );
        assert_eq!(table.counter("dropped"), 0);
        scanner.run_in(|| {
            let e = connect_for("198.18.251.2:9", 300).expect_err("dropped port");
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        });
        assert!(table.counter("dropped") >= 1);
        let name = table.name().to_owned();
        drop(table);
        let out = must(&mut target.exec(["nft", "list", "tables"]));
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(&name),
            "table {name} still there after drop"
        );
        scanner.run_in(|| {
            let e = connect_for("198.18.251.2:9", 3000).expect_err("nothing listens on 9");
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        });
    }
}

/// The outputs of the shards of one scan (ndjson files, in shard order): panics if a port is
/// reported by two shards; returns each file's text.
#[track_caller]
pub fn disjoint_shard_outputs(files: &[String]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<Key, usize> = std::collections::BTreeMap::new();
    files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let text = std::fs::read_to_string(file).expect("shard output");
            for k in port_map(&format!("shard {}", i + 1), &text).keys() {
                if let Some(other) = seen.insert(*k, i + 1) {
                    panic!(
                        "{} in shards {other} and {}",
                        SocketAddr::new(k.0, k.1),
                        i + 1
                    );
                }
            }
            text
        })
        .collect()
}

/// `portscout merge FILES --format ndjson --show all`, checked to succeed and to list its
/// ports strictly ordered by (ip, port).
#[track_caller]
pub fn merge_ordered(files: &[String]) -> ScanRun {
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend_from_slice(&["--format", "ndjson", "--show", "all"]);
    let merged = portscout_local(&args);
    merged.assert_success();
    let keys: Vec<Key> = parse_port_records(&merged.stdout)
        .iter()
        .map(|r| (r.ip, r.port))
        .collect();
    let unordered: Vec<String> = keys
        .windows(2)
        .filter(|w| w[0] >= w[1])
        .map(|w| {
            format!(
                "{} before {}",
                SocketAddr::new(w[0].0, w[0].1),
                SocketAddr::new(w[1].0, w[1].1)
            )
        })
        .collect();
    assert!(
        unordered.is_empty(),
        "merge output not strictly ordered by (ip, port): {}",
        first_items(&unordered, 10)
    );
    merged
}
