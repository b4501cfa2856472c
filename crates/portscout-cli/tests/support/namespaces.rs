//! Network namespaces, veth pairs, listeners and nftables tables, each removed when dropped
//! (also when a test panics).

use super::*;

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

    /// Waits (at most 60 s, for a loaded machine) until IPv6 works on both ends: until each end has a link-local
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
        let deadline = Instant::now() + Duration::from_secs(60);
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
                    "IPv6 on {ifname} in {ns} not ready after 60 s:\n{text}"
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
