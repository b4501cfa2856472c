//! Issue 15: scans against real firewalls. A host whose closed ports are rejected with an ICMP
//! error (firewalld's default, iptables' REJECT) is up, each rejected port `filtered` with the
//! message's reason, exactly; a host a router answers for with "unreachable" is down; this
//! host's own refusals are `local-denied`; a host that answers open everywhere is flagged.
//!
//! Needs root and nft; skips with a message otherwise, fails under CI. Two paths: a plain veth
//! pair, where the target's ICMP answer comes back while `connect(2)` still holds the socket
//! (the kernel then only queues it: the connect prober reads the socket's error queue), and a
//! delayed one, a user-space delay line of 20 ms between two TUN devices ([`DelayLine`]: this
//! kernel has no `sch_netem`), where the answer comes after `connect(2)` returned.

use crate::support::{nft_rules, require_nft, Netns, ScanRun, VethPair};
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A point-to-point link between two namespaces made of two TUN devices and this process in
/// between, which holds every packet for [`DelayLine::DELAY`] in each direction. Stops (and
/// the devices go, with their descriptors) on drop.
struct DelayLine {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DelayLine {
    const DELAY: Duration = Duration::from_millis(10);

    /// `tun-a` in `a` holding `a_v4`/`a_v6`, `tun-b` in `b` holding `b_v4`/`b_v6`, each the
    /// other's peer (IPv4 `/32 peer`, IPv6 `/64`).
    fn new(a: &Netns, b: &Netns, a_v4: &str, b_v4: &str, a_v6: &str, b_v6: &str) -> DelayLine {
        let ta = a.run_in(|| open_tun("pst-tun-a"));
        let tb = b.run_in(|| open_tun("pst-tun-b"));
        let setup = |ns: &Netns, dev: &str, v4: &str, peer4: &str, v6: &str| {
            for args in [
                vec!["addr", "add", v4, "peer", peer4, "dev", dev],
                vec!["-6", "addr", "add", v6, "dev", dev, "nodad"],
                vec!["link", "set", dev, "up"],
            ] {
                let status = ns.ip(&args).status().expect("ip");
                assert!(status.success(), "ip {args:?} in {}", ns.name());
            }
        };
        setup(a, "pst-tun-a", a_v4, b_v4, &format!("{a_v6}/64"));
        setup(b, "pst-tun-b", b_v4, a_v4, &format!("{b_v6}/64"));
        let stop = Arc::new(AtomicBool::new(false));
        let ta2 = ta.try_clone().expect("dup");
        let tb2 = tb.try_clone().expect("dup");
        let mut threads = Vec::new();
        threads.extend(relay(ta, tb2, Arc::clone(&stop)));
        threads.extend(relay(tb, ta2, Arc::clone(&stop)));
        DelayLine { stop, threads }
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Opens a TUN device (IPv4 and IPv6 packets, no header) named `name` in the calling thread's
/// namespace.
fn open_tun(name: &str) -> File {
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    const IFF_TUN: libc::c_short = 0x0001;
    const IFF_NO_PI: libc::c_short = 0x1000;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .expect("open /dev/net/tun");
    // struct ifreq: the name (16 bytes), then the flags.
    let mut ifreq = [0u8; 40];
    ifreq[..name.len()].copy_from_slice(name.as_bytes());
    ifreq[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
    // SAFETY: a valid descriptor and a buffer at least as large as `struct ifreq`.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, ifreq.as_mut_ptr()) };
    assert_eq!(
        rc,
        0,
        "TUNSETIFF {name}: {}",
        std::io::Error::last_os_error()
    );
    file
}

/// Copies every packet read from `from` to `to`, [`DelayLine::DELAY`] later: a reader thread
/// (polling, so that it sees `stop`) and a writer thread.
fn relay(mut from: File, mut to: File, stop: Arc<AtomicBool>) -> [JoinHandle<()>; 2] {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let stop_reader = Arc::clone(&stop);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while !stop_reader.load(Ordering::Relaxed) {
            let mut pfd = libc::pollfd {
                fd: from.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
                continue;
            }
            match from.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let due = Instant::now() + DelayLine::DELAY;
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                _ => {}
            }
        }
    });
    let writer = std::thread::spawn(move || {
        let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        while !stop.load(Ordering::Relaxed) {
            match queue.front() {
                Some((due, _)) if *due <= Instant::now() => {
                    let (_, packet) = queue.pop_front().expect("front");
                    let _ = to.write(&packet);
                    continue;
                }
                Some((due, _)) => {
                    let wait = due.saturating_duration_since(Instant::now());
                    if let Ok(p) = rx.recv_timeout(wait) {
                        queue.push_back(p);
                    }
                }
                None => match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(p) => queue.push_back(p),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                },
            }
        }
    });
    [reader, writer]
}

const V4: &str = "198.18.152.2";
const V6: &str = "2001:db8:152::2";
const OPEN: [u16; 2] = [22, 80];
const PORTS: &str = "1-200";

/// Turns off ICMP rate limiting in `ns`: every rejected probe gets its message, so each port's
/// reason is exact (with Linux's defaults most messages of a burst are not sent, and those
/// ports are `no-response`).
fn no_icmp_rate_limit(ns: &Netns) {
    let status = ns
        .exec([
            "sysctl",
            "-qw",
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv4.icmp_msgs_per_sec=1000000",
            "net.ipv4.icmp_msgs_burst=1000000",
            "net.ipv6.icmp.ratelimit=0",
        ])
        .status()
        .expect("sysctl");
    assert!(status.success(), "sysctl in {}", ns.name());
}

/// The smoothed round trip of the scan's timing line on stderr (`srtt 20.512 ms`).
/// `None` when nothing answered (`srtt -`).
fn srtt_of(stderr: &str) -> Option<Duration> {
    let ms = stderr
        .split("srtt ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|v| v.parse::<f64>().ok())?;
    Some(Duration::from_secs_f64(ms / 1e3))
}

fn scan(ns: &Netns, targets: &[&str], scan_type: &str, seed: u32, extra: &[&str]) -> ScanRun {
    let seed = seed.to_string();
    let mut args: Vec<&str> = targets.to_vec();
    args.extend([
        "-p", PORTS, "--format", "ndjson", "--show", "all", "--scan", scan_type, "--seed", &seed,
        // The timing line (`srtt_of`) is printed with -v only (issue 19).
        "-v",
    ]);
    args.extend(extra);
    let run = ns.scan(&args);
    run.assert_success();
    run
}

/// Every port of 1-200 on both addresses, with nftables in the target rejecting every TCP port
/// but 22 and 80 with each ICMP and ICMPv6 type nftables knows: 22 and 80 `open`, every other
/// port `filtered` with the message's nmap reason (the connect scan: `closed` for a port
/// unreachable, which the kernel reads as a refusal), and never a host record.
#[test]
fn rejected_ports_are_port_states_and_the_host_stays_up() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("fws");
    let target = Netns::new("fwt");
    let veth = VethPair::new(&scanner, &target, "198.18.152.1/24", "198.18.152.2/24");
    veth.add_ipv6("2001:db8:152::1/64", "2001:db8:152::2/64");
    veth.wait_ipv6_ready();
    rejected_ports(&scanner, &target, V4, V6, &[1, 2], Duration::ZERO);
}

/// The same over a path of 20 ms round trip (the delay line): the answers come after
/// `connect(2)` returned, as on a real network (issue 15 saw the host called down 12 times in
/// 12 there).
#[test]
fn rejected_ports_over_a_delayed_path_are_port_states_too() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("fwds");
    let target = Netns::new("fwdt");
    let (v4, v6) = ("198.18.158.2", "2001:db8:158::2");
    let _line = DelayLine::new(&scanner, &target, "198.18.158.1", v4, "2001:db8:158::1", v6);
    rejected_ports(&scanner, &target, v4, v6, &[3, 4], 2 * DelayLine::DELAY);
}

/// The issue's own set-up: firewalld's reject (3/10, ICMPv6 1/1) with Linux's default ICMP
/// rate limits, so that only the first few rejects get their message and the rest are silent.
/// The host is up (its first message proves it), 22 and 80 are open, every other port
/// `filtered`, with the message's reason or `no-response`.
#[test]
fn rate_limited_rejects_leave_the_host_up() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("fwrl");
    let target = Netns::new("fwrt");
    let veth = VethPair::new(&scanner, &target, "198.18.159.1/24", "198.18.159.2/24");
    veth.add_ipv6("2001:db8:159::1/64", "2001:db8:159::2/64");
    veth.wait_ipv6_ready();
    let (v4, v6) = ("198.18.159.2", "2001:db8:159::2");
    let _l4 = target.listen(v4, &OPEN);
    let _l6 = target.listen(v6, &OPEN);
    let _table = nft_rules(
        &target,
        &[
            "chain input { type filter hook input priority 0; policy accept;",
            "  tcp dport { 22, 80 } accept",
            "  meta nfproto ipv4 meta l4proto tcp reject with icmp type host-prohibited",
            "  meta nfproto ipv6 meta l4proto tcp reject with icmpv6 type admin-prohibited",
            "}",
        ],
    );
    for scan_type in ["connect", "syn"] {
        let run = scan(&scanner, &[v4, v6], scan_type, 5, &[]);
        assert!(
            run.host_records().is_empty(),
            "--scan {scan_type}: {:?}",
            run.host_records()
        );
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for r in run.port_records() {
            let ok = if OPEN.contains(&r.port) {
                (r.state.as_str(), r.reason.as_str()) == ("open", "syn-ack")
            } else {
                let want = if r.ip.is_ipv4() {
                    "host-prohibited"
                } else {
                    "admin-prohibited"
                };
                r.state == "filtered" && (r.reason == want || r.reason == "no-response")
            };
            assert!(ok, "--scan {scan_type}: {r:?}");
            *seen.entry((r.ip.to_string(), r.reason)).or_default() += 1;
        }
        for ip in [v4, v6] {
            let n: usize = seen
                .iter()
                .filter(|((i, _), _)| i == ip)
                .map(|(_, n)| n)
                .sum();
            assert_eq!(n, 200, "--scan {scan_type}: {ip}: {seen:?}");
        }
    }
}

/// See [`rejected_ports_are_port_states_and_the_host_stays_up`]: `target` holds `v4` and `v6`,
/// reachable from `scanner`, over a path whose round trip is at least `min_rtt` (checked on
/// the scan's smoothed round trip).
fn rejected_ports(
    scanner: &Netns,
    target: &Netns,
    v4: &str,
    v6: &str,
    seeds: &[u32],
    min_rtt: Duration,
) {
    no_icmp_rate_limit(target);
    let _l4 = target.listen(v4, &OPEN);
    let _l6 = target.listen(v6, &OPEN);

    // (nft's ICMP type, ICMPv6 type, reason of IPv4 ports, reason of IPv6 ports)
    let rules = [
        (
            "admin-prohibited",
            "admin-prohibited",
            "admin-prohibited",
            "admin-prohibited",
        ),
        (
            "host-prohibited",
            "addr-unreachable",
            "host-prohibited",
            "host-unreach",
        ),
        (
            "host-unreachable",
            "no-route",
            "host-unreach",
            "net-unreach",
        ),
        (
            "net-prohibited",
            "policy-fail",
            "net-prohibited",
            "admin-prohibited",
        ),
        (
            "net-unreachable",
            "reject-route",
            "net-unreach",
            "net-unreach",
        ),
        (
            "port-unreachable",
            "port-unreachable",
            "port-unreach",
            "port-unreach",
        ),
    ];
    let mut failures = Vec::new();
    for (icmp, icmpv6, want4, want6) in rules {
        let accept = "  tcp dport { 22, 80 } accept".to_string();
        let reject4 = format!("  meta nfproto ipv4 meta l4proto tcp reject with icmp type {icmp}");
        let reject6 =
            format!("  meta nfproto ipv6 meta l4proto tcp reject with icmpv6 type {icmpv6}");
        let _table = nft_rules(
            target,
            &[
                "chain input { type filter hook input priority 0; policy accept;",
                &accept,
                &reject4,
                &reject6,
                "}",
            ],
        );
        for scan_type in ["connect", "syn"] {
            // The threads engine (blocking connects) too, once per rule.
            let threads: &[&str] = &["--engine", "threads"];
            let runs = seeds
                .iter()
                .map(|&seed| (seed, &[][..]))
                .chain((scan_type == "connect").then_some((seeds[0], threads)));
            for (seed, extra) in runs {
                let run = scan(scanner, &[v4, v6], scan_type, seed, extra);
                let what = format!(
                    "--scan {scan_type} --seed {seed} {extra:?}, reject with {icmp}/{icmpv6}"
                );
                let srtt = srtt_of(&run.stderr);
                if srtt.is_none_or(|srtt| srtt < min_rtt) {
                    failures.push(format!("{what}: srtt {srtt:?}, the path has {min_rtt:?}"));
                }
                if let Some(h) = run.host_records().first() {
                    failures.push(format!("{what}: host record {}", h.line));
                }
                let got: BTreeMap<(String, u16), (String, String)> = run
                    .port_records()
                    .into_iter()
                    .map(|r| ((r.ip.to_string(), r.port), (r.state, r.reason)))
                    .collect();
                for (ip, want) in [(v4, want4), (v6, want6)] {
                    for port in 1..=200u16 {
                        let expected = if OPEN.contains(&port) {
                            ("open", "syn-ack")
                        } else if want == "port-unreach" && scan_type == "connect" {
                            ("closed", "conn-refused")
                        } else {
                            ("filtered", want)
                        };
                        match got.get(&(ip.to_string(), port)) {
                            Some((s, r)) if (s.as_str(), r.as_str()) == expected => {}
                            other => failures.push(format!(
                                "{what}: {ip} port {port}: want {expected:?}, got {other:?}"
                            )),
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A router that answers every packet for a network with "unreachable" from its own address
/// (`ip route add unreachable`: ICMP 3/1, ICMPv6 1/0): the host really is unreachable, and is
/// reported down, one record, no port record. With either scan type.
#[test]
fn a_router_saying_unreachable_for_every_port_makes_the_host_down() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("fwrs");
    let router = Netns::new("fwrr");
    let veth = VethPair::new(&scanner, &router, "198.18.153.1/24", "198.18.153.254/24");
    veth.add_ipv6("2001:db8:153::1/64", "2001:db8:153::fe/64");
    veth.wait_ipv6_ready();
    no_icmp_rate_limit(&router);
    let ok = |mut cmd: std::process::Command| {
        assert!(cmd.status().expect("ip").success(), "{cmd:?}");
    };
    ok(router.exec([
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
    ]));
    ok(router.ip(["route", "add", "unreachable", "198.18.155.0/24"]));
    ok(router.ip(["-6", "route", "add", "unreachable", "2001:db8:155::/64"]));
    ok(scanner.ip(["route", "add", "198.18.155.0/24", "via", "198.18.153.254"]));
    ok(scanner.ip([
        "-6",
        "route",
        "add",
        "2001:db8:155::/64",
        "via",
        "2001:db8:153::fe",
    ]));

    for scan_type in ["connect", "syn"] {
        let run = scan(
            &scanner,
            &["198.18.155.7", "2001:db8:155::7"],
            scan_type,
            3,
            &[],
        );
        let ports = run.port_records();
        assert!(
            ports.is_empty(),
            "--scan {scan_type}: port records of unreachable hosts: {:?}",
            &ports[..ports.len().min(5)]
        );
        let mut hosts: BTreeMap<String, String> = run
            .host_records()
            .into_iter()
            .map(|h| (h.ip.to_string(), format!("{} {}", h.state, h.reason)))
            .collect();
        // The router's IPv4 unreachables are rate-limited by a limit no test can lift in its
        // namespace: Linux sends the ICMP of an `unreachable` route through a token bucket per
        // source address (net.ipv4.route.error_burst: 5 messages, then error_cost: 1 per
        // second), a sysctl of the initial namespace only. The scan of the other type just
        // before has emptied that bucket, and a silent address gets 2 probes in about 2 s, so
        // the host may be judged on silence alone: down either way, which is what this test
        // is about; the reason is then `no-response`. (ICMPv6's limit is per namespace, and
        // lifted above.)
        if hosts.get("198.18.155.7").map(String::as_str) == Some("down no-response") {
            hosts.insert("198.18.155.7".into(), "down host-unreach".into());
        }
        let want: BTreeMap<String, String> = [
            ("198.18.155.7".to_string(), "down host-unreach".to_string()),
            (
                "2001:db8:155::7".to_string(),
                "down net-unreach".to_string(),
            ),
        ]
        .into();
        assert_eq!(hosts, want, "--scan {scan_type}:\n{}", run.stdout);
    }
}

/// A probe of this host's own broadcast address is refused by this host's kernel (the SYN
/// scan's `sendmmsg`: `EACCES`; a connect: `ENETUNREACH`, TCP does not broadcast): every port
/// `filtered` / `local-denied`, no host record (nothing was learnt about it), and one warning
/// on stderr.
#[test]
fn our_own_kernels_refusal_is_local_denied_with_one_warning() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("fwls");
    let target = Netns::new("fwlt");
    let _veth = VethPair::new(&scanner, &target, "198.18.156.1/24", "198.18.156.2/24");
    for scan_type in ["syn", "connect"] {
        let run = scan(&scanner, &["198.18.156.255"], scan_type, 4, &[]);
        assert!(run.host_records().is_empty(), "{scan_type}: {}", run.stdout);
        let records = run.port_records();
        assert_eq!(records.len(), 200, "{scan_type}: {}", run.stdout);
        for r in &records {
            assert_eq!(
                (r.state.as_str(), r.reason.as_str()),
                ("filtered", "local-denied"),
                "{scan_type}"
            );
        }
        let warnings = run
            .stderr
            .lines()
            .filter(|l| l.contains("local-denied"))
            .count();
        assert_eq!(warnings, 1, "{scan_type}: stderr:\n{}", run.stderr);
    }
}

/// A target whose every port is redirected to one listener (as a SYN proxy answers): 1000 of
/// 1000 ports open, said once on stderr and in the summary record.
#[test]
fn a_host_open_everywhere_is_flagged_once() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("fwms");
    let target = Netns::new("fwmt");
    let _veth = VethPair::new(&scanner, &target, "198.18.157.1/24", "198.18.157.2/24");
    let _l = target.listen("198.18.157.2", &[5000]);
    let _nat = nft_rules(
        &target,
        &[
            "chain pre { type nat hook prerouting priority dstnat; policy accept;",
            "  tcp dport 1-1000 redirect to :5000",
            "}",
        ],
    );
    let run = scanner.scan(&["198.18.157.2", "-p", "1-1000", "--format", "ndjson"]);
    run.assert_success();
    assert_eq!(run.ports("198.18.157.2", "open").len(), 1000);
    let summary = run
        .stdout
        .lines()
        .find(|l| l.contains("\"type\":\"summary\""))
        .expect("summary record");
    assert!(
        summary.contains("\"open_everywhere\":[\"198.18.157.2\"]"),
        "{summary}"
    );
    let warnings = run
        .stderr
        .lines()
        .filter(|l| l.contains("answered open"))
        .count();
    assert_eq!(warnings, 1, "stderr:\n{}", run.stderr);
}
