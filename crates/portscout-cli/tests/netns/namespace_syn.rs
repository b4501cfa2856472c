//! The SYN scan (`--scan syn`, issue 6) against the connect scan, in namespaces, on IPv4 and
//! IPv6:
//!
//! 1. on loopback and across a veth pair with a dropped port range (S1 and S3 in small), both
//!    scan types report the same state and reason for every port, and the open ports are the
//!    listeners; two SYN shards add up to the SYN scan;
//! 2. addresses that answer no ARP/NDP are reported down alike;
//! 3. forged answers (a SYN-ACK or RST that does not carry the SYN cookie) change nothing, and
//!    the same forger with the right number does change the result (so the test can fail);
//! 4. without `CAP_NET_RAW` it exits 2 with the documented message and sends nothing;
//! 5. while it scans, no thread of it holds any capability.
//!
//! Needs root and nft; skips with a message otherwise, fails under CI.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{
    assert_port_set, nft_drop_ports, nft_rules, require_nft, require_root, Netns, ScanRun, TempDir,
    VethPair,
};

/// (ip, port) → "state/reason", for every port record of a run.
fn results(what: &str, run: &ScanRun) -> BTreeMap<(IpAddr, u16), String> {
    run.assert_success();
    let mut map = BTreeMap::new();
    for r in run.port_records() {
        let key = (r.ip, r.port);
        let value = format!("{}/{}", r.state, r.reason);
        assert!(
            map.insert(key, value).is_none(),
            "{what}: {}:{} reported twice",
            r.ip,
            r.port
        );
    }
    map
}

/// Fails with the differences when the two scan types disagree on any port.
#[track_caller]
fn assert_same(
    what: &str,
    connect: &BTreeMap<(IpAddr, u16), String>,
    syn: &BTreeMap<(IpAddr, u16), String>,
) {
    if connect == syn {
        return;
    }
    let mut diff = Vec::new();
    for key in connect.keys().chain(syn.keys()).collect::<BTreeSet<_>>() {
        let (c, s) = (connect.get(key), syn.get(key));
        if c != s {
            diff.push(format!("{}:{} connect {c:?} syn {s:?}", key.0, key.1));
        }
    }
    panic!(
        "{what}: the scan types disagree on {} port(s):\n  {}",
        diff.len(),
        diff.iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// Runs `args` as a connect scan and as a SYN scan (ndjson, every state) in `ns`.
fn both(ns: &Netns, what: &str, args: &[&str]) -> [BTreeMap<(IpAddr, u16), String>; 2] {
    ["connect", "syn"].map(|scan| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend_from_slice(&["--format", "ndjson", "--show", "all", "--scan", scan]);
        let run = ns.scan(&a);
        eprintln!("{what}, --scan {scan}: {:.2?}", run.elapsed);
        results(&format!("{what}, --scan {scan}"), &run)
    })
}

fn open_ports(map: &BTreeMap<(IpAddr, u16), String>, ip: &str) -> BTreeSet<u16> {
    let ip: IpAddr = ip.parse().unwrap();
    map.iter()
        .filter(|((i, _), v)| *i == ip && v.starts_with("open/"))
        .map(|((_, p), _)| *p)
        .collect()
}

fn ports_in(map: &BTreeMap<(IpAddr, u16), String>, ip: &str, value: &str) -> BTreeSet<u16> {
    let ip: IpAddr = ip.parse().unwrap();
    map.iter()
        .filter(|((i, _), v)| *i == ip && v.as_str() == value)
        .map(|((_, p), _)| *p)
        .collect()
}

/// Listeners inside and outside the ephemeral range and at both ends of the port space.
const PORTS: &[u16] = &[1, 22, 80, 443, 8080, 31337, 33000, 45678, 60000, 65535];

// ---------------------------------------------------------------------------------------------
// 1. Same results as the connect scan
// ---------------------------------------------------------------------------------------------

/// S1 in small: loopback of a namespace, every port, IPv4 and IPv6.
#[test]
fn loopback_syn_equals_connect() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("synlo");
    let l4 = ns.listen("127.0.0.1", PORTS);
    let l6 = ns.listen("::1", &[22, 443, 40000, 65534]);
    for (ip, listeners) in [("127.0.0.1", &l4), ("::1", &l6)] {
        let [connect, syn] = both(&ns, &format!("loopback {ip}"), &[ip, "-p", "1-65535"]);
        assert_eq!(syn.len(), 65535, "{ip}: every port has one record");
        assert_same(&format!("loopback {ip}"), &connect, &syn);
        assert_port_set(
            &format!("open ports of {ip}, --scan syn"),
            &open_ports(&syn, ip),
            &listeners.ports(),
        );
    }
}

/// S3 in small, on both families: a veth pair, listeners, nftables dropping 40000–41000 in the
/// target. Then two SYN shards, which together are the SYN scan.
#[test]
fn veth_dropped_range_syn_equals_connect() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("synvs");
    let target = Netns::new("synvt");
    let veth = VethPair::new(&scanner, &target, "198.18.21.1/24", "198.18.21.2/24");
    veth.add_ipv6("2001:db8:21::1/64", "2001:db8:21::2/64");
    // A dual-stack listener answers on both addresses.
    let listeners = target.listen("::", PORTS);
    let _drop = nft_drop_ports(&target, 40000, 41000);
    let dropped: BTreeSet<u16> = (40000..=41000).collect();
    let mut syn_v4 = BTreeMap::new();
    for ip in ["198.18.21.2", "2001:db8:21::2"] {
        let what = format!("veth {ip}");
        let [connect, syn] = both(&scanner, &what, &[ip, "-p", "1-65535"]);
        assert_same(&what, &connect, &syn);
        assert_port_set(
            &format!("{what}: open, --scan syn"),
            &open_ports(&syn, ip),
            &listeners.ports(),
        );
        assert_port_set(
            &format!("{what}: filtered, --scan syn"),
            &ports_in(&syn, ip, "filtered/no-response"),
            &dropped,
        );
        if ip.contains('.') {
            syn_v4 = syn;
        }
    }
    // Shards of a SYN scan: disjoint, and together the whole scan.
    let mut union = BTreeMap::new();
    for shard in ["1/2", "2/2"] {
        let run = scanner.scan(&[
            "198.18.21.2",
            "-p",
            "1-65535",
            "--scan",
            "syn",
            "--shard",
            shard,
            "--seed",
            "3",
            "--format",
            "ndjson",
            "--show",
            "all",
        ]);
        for (k, v) in results(&format!("shard {shard}"), &run) {
            assert!(union.insert(k, v).is_none(), "{k:?} in both shards");
        }
    }
    assert_same("SYN shards 1/2 + 2/2 vs the SYN scan", &syn_v4, &union);
}

// ---------------------------------------------------------------------------------------------
// 2. Hosts that answer nothing at all
// ---------------------------------------------------------------------------------------------

/// Addresses on the link that nobody holds: no ARP (IPv4) or NDP (IPv6) answer. Both scan
/// types report each of them down once, with the same reason, and the live host the same.
#[test]
fn absent_hosts_are_down_alike() {
    if !require_root() {
        return;
    }
    let scanner = Netns::new("synds");
    let target = Netns::new("syndt");
    let veth = VethPair::new(&scanner, &target, "198.18.22.1/24", "198.18.22.2/24");
    veth.add_ipv6("2001:db8:22::1/64", "2001:db8:22::2/64");
    let _l = target.listen("::", &[22, 80]);
    let args = [
        "198.18.22.2",
        "198.18.22.77",
        "2001:db8:22::2",
        "2001:db8:22::77",
        "-p",
        "1-200",
        "--format",
        "ndjson",
        "--show",
        "all",
    ];
    let mut seen = Vec::new();
    for scan in ["connect", "syn"] {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--scan", scan]);
        let run = scanner.scan(&a);
        let ports = results(scan, &run);
        let hosts = run.host_records();
        let mut reasons: Vec<String> = hosts
            .iter()
            .map(|h| format!("{} {} {}", h.ip, h.state, h.reason))
            .collect();
        reasons.sort();
        let down: Vec<String> = hosts.iter().map(|h| h.ip.to_string()).collect();
        assert!(
            down.len() == 2
                && down.contains(&"198.18.22.77".to_string())
                && down.contains(&"2001:db8:22::77".to_string()),
            "--scan {scan}: host records {reasons:?}"
        );
        eprintln!("--scan {scan}: {:.2?}, down: {reasons:?}", run.elapsed);
        seen.push((ports, reasons));
    }
    assert_same("live hosts", &seen[0].0, &seen[1].0);
    assert_eq!(
        seen[0].1, seen[1].1,
        "host records differ between connect and syn"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Forged answers
// ---------------------------------------------------------------------------------------------

/// One's-complement sum of 16-bit words (RFC 1071).
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for chunk in data.chunks(2) {
        let w = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        acc += u32::from(w);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// A SYN-ACK (`flags` 0x12) or RST-ACK (0x14) from `from` to `to` acknowledging `ack`, as a
/// whole IPv4 packet with correct checksums.
fn forged(from: SocketAddr, to: SocketAddr, flags: u8, ack: u32) -> Vec<u8> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (from.ip(), to.ip()) else {
        panic!("IPv4 only")
    };
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&from.port().to_be_bytes());
    tcp.extend_from_slice(&to.port().to_be_bytes());
    tcp.extend_from_slice(&0x0bad_f00du32.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.extend_from_slice(&[0x50, flags, 0x72, 0x10, 0, 0, 0, 0]);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    let c = fold(sum16(&tcp, sum16(&pseudo, 0)));
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = fold(sum16(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

/// In the target namespace, watches SYNs (a packet socket sees them before nftables drops
/// them) and answers each SYN to one of `ports` at once with a SYN-ACK and a RST that
/// acknowledge `seq + 1 + skew`: `skew` 0 is an honest answer, anything else a forgery.
struct Forger {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Forger {
    fn start(target: &Netns, ports: &'static [u16], skew: u32, flags: u8) -> Forger {
        let (sniff, send) = target.run_in(|| {
            let sniff = socket2::Socket::new(
                socket2::Domain::PACKET,
                socket2::Type::DGRAM,
                Some(socket2::Protocol::from(i32::from(
                    (libc::ETH_P_IP as u16).to_be(),
                ))),
            )
            .expect("packet socket in the target namespace");
            sniff
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let send = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(libc::IPPROTO_RAW)),
            )
            .expect("raw socket in the target namespace");
            (sniff, send)
        });
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop2, sent2) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                // SAFETY: recv into our buffer, of its length.
                let n =
                    unsafe { libc::recv(sniff.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 40 {
                    continue;
                }
                let p = &buf[..n as usize];
                let ihl = usize::from(p[0] & 0xf) * 4;
                if p[0] >> 4 != 4 || p[9] != 6 || p.len() < ihl + 20 {
                    continue;
                }
                let t = &p[ihl..];
                let dport = u16::from_be_bytes([t[2], t[3]]);
                if t[13] != 0x02 || !ports.contains(&dport) {
                    continue;
                }
                let from =
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19])), dport);
                let to = SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15])),
                    u16::from_be_bytes([t[0], t[1]]),
                );
                let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
                let packet = forged(from, to, flags, seq.wrapping_add(1).wrapping_add(skew));
                let dest = socket2::SockAddr::from(SocketAddr::new(to.ip(), 0));
                if send.send_to(&packet, &dest).is_ok() {
                    sent2.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Forger {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Ports the target drops (so only the forger answers them).
const FORGED: &[u16] = &[1000, 1001, 1002, 1003, 1004, 1005];

/// A forger that sees every SYN but not the key answers the dropped ports with SYN-ACKs and
/// RSTs one off the cookie: the ports stay filtered, as the connect scan (whose kernel checks
/// the acknowledgment) reports them. The same forger with the right number (it saw the SYN)
/// makes them open: the check is what keeps the forgeries out.
#[test]
fn forged_answers_change_nothing() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("synfs");
    let target = Netns::new("synft");
    let _veth = VethPair::new(&scanner, &target, "198.18.23.1/24", "198.18.23.2/24");
    let listeners = target.listen("0.0.0.0", &[22, 80]);
    let _drop = nft_drop_ports(&target, 1000, 1005);
    let args = [
        "198.18.23.2",
        "-p",
        "1-2000",
        "--scan",
        "syn",
        "--format",
        "ndjson",
        "--show",
        "all",
        "--max-rtt-timeout",
        "200",
    ];
    let dropped: BTreeSet<u16> = FORGED.iter().copied().collect();
    for (what, flags) in [("SYN-ACK", 0x12u8), ("RST", 0x14)] {
        let forger = Forger::start(&target, FORGED, 1, flags);
        let run = scanner.scan(&args);
        let sent = forger.sent();
        drop(forger);
        let map = results(&format!("forged {what}s"), &run);
        assert!(
            sent >= FORGED.len() as u64,
            "the forger sent only {sent} {what}s"
        );
        assert_port_set(
            &format!("open ports with forged {what}s"),
            &open_ports(&map, "198.18.23.2"),
            &listeners.ports(),
        );
        assert_port_set(
            &format!("filtered ports with {sent} forged {what}s"),
            &ports_in(&map, "198.18.23.2", "filtered/no-response"),
            &dropped,
        );
    }
    // Control: the right acknowledgment gets in.
    let honest = Forger::start(&target, FORGED, 0, 0x12);
    let run = scanner.scan(&args);
    drop(honest);
    let map = results("honest answers", &run);
    let mut want = listeners.ports();
    want.extend(FORGED);
    assert_port_set(
        "open ports when the 'forger' answers with the cookie",
        &open_ports(&map, "198.18.23.2"),
        &want,
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Privileges
// ---------------------------------------------------------------------------------------------

/// Without `CAP_NET_RAW` (root with it taken out of the bounding set, or an ordinary user):
/// exit 2, the documented message, and not one packet to the target.
#[test]
fn without_cap_net_raw_it_stops_before_sending() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("synps");
    let target = Netns::new("synpt");
    let _veth = VethPair::new(&scanner, &target, "198.18.24.1/24", "198.18.24.2/24");
    let table = nft_rules(
        &target,
        &[
            "counter probes { }",
            "chain input { type filter hook input priority 0; policy accept;",
            "  ip saddr 198.18.24.1 counter name \"probes\"",
            "}",
        ],
    );
    for (who, setpriv) in [
        (
            "root without CAP_NET_RAW",
            &["--bounding-set", "-net_raw"][..],
        ),
        (
            "user nobody",
            &["--reuid=65534", "--regid=65534", "--clear-groups"][..],
        ),
    ] {
        let mut cmd = scanner.exec(["setpriv"]);
        cmd.args(setpriv).args([
            "--",
            support::BIN,
            "198.18.24.2",
            "-p",
            "1-100",
            "--scan",
            "syn",
        ]);
        let out = cmd.output().expect("run setpriv");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{who}: stderr:\n{stderr}");
        assert_eq!(
            stderr, "error: --scan syn needs root or CAP_NET_RAW\n",
            "{who}: stderr"
        );
        assert!(out.stdout.is_empty(), "{who}: stdout {:?}", out.stdout);
        assert_eq!(
            table.counter("probes"),
            0,
            "{who}: packets reached the target"
        );
    }
    // Control: the counter counts.
    let run = scanner.scan(&["198.18.24.2", "-p", "1-100", "--scan", "syn"]);
    run.assert_success();
    assert!(table.counter("probes") >= 100, "the counter counts nothing");
}

/// Capability sets of every thread of `pid`: (thread, CapEff, CapPrm, CapBnd).
fn thread_caps(pid: u32) -> Vec<(String, u64, u64, u64)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(u64::MAX)
        };
        out.push((
            task.file_name().to_string_lossy().into_owned(),
            field("CapEff:"),
            field("CapPrm:"),
            field("CapBnd:"),
        ));
    }
    out
}

/// While a SYN scan runs (as root), none of its threads holds a capability: they were dropped
/// once the raw sockets were open, before any worker started.
#[test]
fn privileges_are_gone_while_it_scans() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("syncs");
    let target = Netns::new("synct");
    let _veth = VethPair::new(&scanner, &target, "198.18.25.1/24", "198.18.25.2/24");
    let _drop = nft_drop_ports(&target, 2001, 3000);
    let dir = TempDir::new("syncaps");
    // A third of the ports silent: the scan takes at least two timeouts of 300 ms.
    let mut running = scanner.spawn_in(
        dir.path(),
        &[
            "198.18.25.2",
            "-p",
            "1-3000",
            "--scan",
            "syn",
            "--min-rtt-timeout",
            "300",
        ],
    );
    // Looked at once its threads are under way (the workers start after the drop).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut caps = thread_caps(running.pid());
    while caps.len() < 2 && std::time::Instant::now() < deadline && running.is_running() {
        std::thread::sleep(Duration::from_millis(10));
        caps = thread_caps(running.pid());
    }
    assert!(
        running.is_running(),
        "the scan ended too soon to be looked at"
    );
    let run = running.wait();
    run.assert_success();
    assert!(caps.len() >= 2, "threads seen: {caps:?}");
    for (tid, eff, prm, bnd) in &caps {
        assert_eq!(
            (*eff, *prm, *bnd),
            (0, 0, 0),
            "thread {tid} still holds capabilities (CapEff, CapPrm, CapBnd) during the scan"
        );
    }
}
