//! Random packet loss, a silent address and several hosts in one scan (issue 4).
//!
//! The fixture: a scanner namespace (198.18.0.1/24) and a target namespace joined by a veth
//! pair. The target holds 198.18.0.2, .3 and .4, each with its own listeners (some in the
//! ephemeral range, one behind the drop rule), and nftables rules that
//!
//! * drop every packet to ports 5000–5099 (those ports are `filtered`),
//! * drop 15 % of the incoming connection-opening SYNs (`numgen random`),
//! * drop 5 % of the outgoing RSTs,
//!
//! with named counters on each rule, read after every scan so that a test cannot pass because
//! the loss was off. 198.18.0.9 is in the subnet but nobody has it: ARP goes unanswered and a
//! connect to it fails with `EHOSTUNREACH` after about 3 s.
//!
//! What a scan must report, whatever the loss: every port of .2/.3/.4 exactly once in its true
//! state (open for a listener, filtered in 5000–5099, closed otherwise), and for .9 a single
//! host record `{"type":"host","ip":"198.18.0.9","state":"down",…}` and no port record, unless
//! `--no-host-check` (`-Pn`) asks for its ports.
//!
//! The tests here take a lock so that they run one at a time: each scan has the machine's
//! cores to itself, and the times they print mean something.
//!
//! Needs root and nft; skips with a message otherwise, fails under CI.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::support::{
    nft_rules, require_nft, Listeners, Netns, NftTable, ScanRun, VethHosts, VethPair,
};

const SCANNER_CIDR: &str = "198.18.0.1/24";

/// The live target addresses and their listeners. Ephemeral-range listeners: 40000, 40001,
/// 40050, 40099. 198.18.0.4:5050 listens behind the drop rule: filtered, not open.
const LIVE: &[(&str, &[u16])] = &[
    ("198.18.0.2", &[22, 80, 443, 7999, 40001, 40099]),
    ("198.18.0.3", &[1, 25, 1024, 4999, 5100, 8000, 40050]),
    ("198.18.0.4", &[53, 993, 5050, 7990, 40000]),
];

/// In the subnet, but nobody has it.
const SILENT: &str = "198.18.0.9";

/// Every packet to these ports is dropped in the target.
const FILTERED: (u16, u16) = (5000, 5099);
/// Percent of incoming connection-opening SYNs dropped in the target.
const SYN_LOSS_PCT: u64 = 15;
/// Percent of outgoing RSTs dropped in the target.
const RST_LOSS_PCT: u64 = 5;

/// The ports of the full scan: 1–8000 and 100 ports in the ephemeral range (32400 probes
/// over the four addresses).
const FULL_PORTS: &str = "1-8000,40000-40099";
/// The ports of the per-engine scans: every listener, the drop range with a margin on each
/// side, and the ephemeral block (1255 ports per address).
const ENGINE_PORTS: &str = "1-1024,4990-5109,7990-8000,40000-40099";

/// One scan at a time in this file.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The namespaces, veth, listeners and nft table of the loss tests. Fields drop in order:
/// listeners, rules, veth, then the namespaces.
struct LossFixture {
    listeners: Vec<Listeners>,
    nft: NftTable,
    _veth: VethPair,
    _target: Netns,
    scanner: Netns,
}

impl LossFixture {
    fn new(tag: &str) -> LossFixture {
        let VethHosts {
            listeners,
            veth,
            target,
            scanner,
        } = VethHosts::new(tag, SCANNER_CIDR, LIVE);
        let (lo, hi) = FILTERED;
        let drop_range = format!("  tcp dport {lo}-{hi} counter name \"filtered\" drop");
        let syn_loss = format!(
            "  tcp flags & (syn | ack) == syn numgen random mod 100 < {SYN_LOSS_PCT} counter name \"syn_loss\" drop"
        );
        let rst_loss = format!(
            "  tcp flags & rst == rst numgen random mod 100 < {RST_LOSS_PCT} counter name \"rst_loss\" drop"
        );
        let nft = nft_rules(
            &target,
            &[
                "counter filtered { }",
                "counter syns { }",
                "counter syn_loss { }",
                "counter rsts { }",
                "counter rst_loss { }",
                "chain input { type filter hook input priority 0; policy accept;",
                &drop_range,
                "  tcp flags & (syn | ack) == syn counter name \"syns\"",
                &syn_loss,
                "}",
                "chain output { type filter hook output priority 0; policy accept;",
                "  tcp flags & rst == rst counter name \"rsts\"",
                &rst_loss,
                "}",
            ],
        );
        LossFixture {
            listeners,
            nft,
            _veth: veth,
            _target: target,
            scanner,
        }
    }

    /// SYNs and RSTs seen and dropped by the loss rules so far.
    fn loss(&self) -> Loss {
        Loss {
            syns: self.nft.counter("syns"),
            syn_lost: self.nft.counter("syn_loss"),
            rsts: self.nft.counter("rsts"),
            rst_lost: self.nft.counter("rst_loss"),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Loss {
    syns: u64,
    syn_lost: u64,
    rsts: u64,
    rst_lost: u64,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |a: u64, b: u64| 100.0 * a as f64 / b.max(1) as f64;
        write!(
            f,
            "SYNs dropped {} of {} ({:.1} %), RSTs dropped {} of {} ({:.1} %)",
            self.syn_lost,
            self.syns,
            pct(self.syn_lost, self.syns),
            self.rst_lost,
            self.rsts,
            pct(self.rst_lost, self.rsts)
        )
    }
}

impl Loss {
    /// Panics unless both loss rules dropped packets, at roughly their nominal rates (between
    /// half and twice): the scan really ran under loss.
    #[track_caller]
    fn assert_happened(&self) {
        for (what, lost, seen, pct) in [
            ("SYN", self.syn_lost, self.syns, SYN_LOSS_PCT),
            ("RST", self.rst_lost, self.rsts, RST_LOSS_PCT),
        ] {
            assert!(
                lost > 0 && lost * 200 >= seen * pct && lost * 50 <= seen * pct,
                "the {what} loss rule did not work as meant ({pct} %): {self}"
            );
        }
    }
}

/// The ports of a `-p` list like `1-8000,40000-40099`.
fn expand(spec: &str) -> BTreeSet<u16> {
    spec.split(',')
        .flat_map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b): (u16, u16) = (a.parse().unwrap(), b.parse().unwrap());
            a..=b
        })
        .collect()
}

/// The true state of each scanned port of an address with `listeners`.
fn truth(scanned: &BTreeSet<u16>, listeners: &[u16]) -> BTreeMap<u16, &'static str> {
    scanned
        .iter()
        .map(|&p| {
            let state = if (FILTERED.0..=FILTERED.1).contains(&p) {
                "filtered"
            } else if listeners.contains(&p) {
                "open"
            } else {
                "closed"
            };
            (p, state)
        })
        .collect()
}

/// Up to `n` items, then how many more.
fn first<T: std::fmt::Display>(items: &[T], n: usize) -> String {
    let shown: Vec<String> = items.iter().take(n).map(T::to_string).collect();
    let mut s = shown.join(", ");
    if items.len() > n {
        s.push_str(&format!(", … and {} more", items.len() - n));
    }
    s
}

/// Everything wrong in `run` against the truth: per live address, ports wrong, missing or
/// reported twice; for the silent address, its host record and any port record; records for
/// addresses not scanned. Empty when the run is exact.
fn problems(run: &ScanRun, scanned: &BTreeSet<u16>) -> Vec<String> {
    let mut problems = Vec::new();
    // ip -> port -> every (state/reason) reported for it.
    let mut got: BTreeMap<IpAddr, BTreeMap<u16, Vec<String>>> = BTreeMap::new();
    for r in run.port_records() {
        got.entry(r.ip)
            .or_default()
            .entry(r.port)
            .or_default()
            .push(format!("{}/{}", r.state, r.reason));
    }
    let hosts = run.host_records();

    for (ip, listeners) in LIVE {
        let addr: IpAddr = ip.parse().unwrap();
        let want = truth(scanned, listeners);
        let ports = got.remove(&addr).unwrap_or_default();
        // "want→got (reason)" -> the ports so reported.
        let mut wrong: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        let mut missing = Vec::new();
        let mut twice = Vec::new();
        for (&port, &state) in &want {
            match ports.get(&port).map(Vec::as_slice) {
                None | Some([]) => missing.push(port),
                Some([one]) => {
                    let (got_state, reason) = one.split_once('/').unwrap_or((one, ""));
                    if got_state != state {
                        let kind = format!("{state}→{got_state} ({reason})");
                        wrong.entry(kind).or_default().push(port);
                    }
                }
                Some(many) => twice.push(format!("{port} {}", many.join(" + "))),
            }
        }
        let extra: Vec<u16> = ports
            .keys()
            .filter(|p| !want.contains_key(p))
            .copied()
            .collect();
        if !(wrong.is_empty() && missing.is_empty() && twice.is_empty() && extra.is_empty()) {
            let mut text = format!(
                "{ip}: {} of {} ports in a wrong state, {} missing, {} reported more than once, {} reported but not scanned",
                wrong.values().map(Vec::len).sum::<usize>(),
                want.len(),
                missing.len(),
                twice.len(),
                extra.len()
            );
            for (kind, ports) in &wrong {
                text.push_str(&format!(
                    "\n    {kind} ×{}: {}",
                    ports.len(),
                    first(ports, 20)
                ));
            }
            if !missing.is_empty() {
                text.push_str(&format!("\n    missing: {}", first(&missing, 20)));
            }
            if !twice.is_empty() {
                text.push_str(&format!("\n    more than once: {}", first(&twice, 10)));
            }
            if !extra.is_empty() {
                text.push_str(&format!("\n    not scanned: {}", first(&extra, 20)));
            }
            problems.push(text);
        }
        let down: Vec<&str> = hosts
            .iter()
            .filter(|h| h.ip == addr && h.state == "down")
            .map(|h| h.line.as_str())
            .collect();
        if !down.is_empty() {
            problems.push(format!(
                "{ip} has listeners but was reported down: {down:?}"
            ));
        }
    }

    let silent: IpAddr = SILENT.parse().unwrap();
    if let Some(ports) = got.remove(&silent) {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for s in ports.values().flatten() {
            *kinds.entry(s.as_str()).or_default() += 1;
        }
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let listed: Vec<u16> = ports.keys().copied().collect();
        problems.push(format!(
            "{SILENT} (nobody has it): {} port records, want none ({}); ports {}",
            ports.values().map(Vec::len).sum::<usize>(),
            kinds.join(", "),
            first(&listed, 10)
        ));
    }
    let records: Vec<_> = hosts.iter().filter(|h| h.ip == silent).collect();
    match records.as_slice() {
        [] => problems.push(format!(
            "{SILENT} (nobody has it): no host record; want one {{\"type\":\"host\",\"ip\":\"{SILENT}\",\"state\":\"down\",\"reason\":\"host-unreach\"|\"no-response\",\"skipped\":{}}}",
            scanned.len()
        )),
        [h] => {
            let reason_ok = h.reason == "host-unreach" || h.reason == "no-response";
            if h.state != "down" || !reason_ok || h.skipped != Some(scanned.len() as u64) {
                problems.push(format!(
                    "{SILENT}: want state down, reason host-unreach or no-response, skipped {}; got {}",
                    scanned.len(),
                    h.line
                ));
            }
        }
        many => problems.push(format!(
            "{SILENT}: {} host records, want one: {:?}",
            many.len(),
            many.iter().map(|h| &h.line).collect::<Vec<_>>()
        )),
    }

    for (ip, ports) in got {
        problems.push(format!(
            "{} records for {ip}, which was not scanned",
            ports.len()
        ));
    }
    problems
}

/// Scan the four addresses on `ports` with `extra` arguments under loss, then require every
/// state exact and the loss rules to have dropped packets.
fn scan_under_loss(tag: &str, ports: &str, extra: &[&str]) {
    let _one_at_a_time = serial();
    let fix = LossFixture::new(tag);
    let targets = format!("{}-4", LIVE[0].0);
    let mut args = vec![
        targets.as_str(),
        SILENT,
        "-p",
        ports,
        "--format",
        "ndjson",
        "--show",
        "all",
    ];
    args.extend_from_slice(extra);
    let run = fix.scanner.scan(&args);
    let loss = fix.loss();
    let scanned = expand(ports);
    eprintln!(
        "portscout {args:?}: {:.1} s, exit {:?}; {loss}",
        run.elapsed.as_secs_f64(),
        run.code
    );
    run.assert_success();
    let problems = problems(&run, &scanned);
    assert!(
        problems.is_empty(),
        "portscout {args:?} under loss ({:.1} s; {loss}):\n  {}\nstderr: {}",
        run.elapsed.as_secs_f64(),
        problems.join("\n  "),
        run.stderr.trim()
    );
    loss.assert_happened();
}

/// All four addresses, 1–8000 and 100 ephemeral ports, default engine and timing: loss never
/// turns an open or closed port into filtered, and the silent address is one host-down record.
#[test]
fn loss_never_changes_a_state() {
    if !require_nft() {
        return;
    }
    scan_under_loss("loss", FULL_PORTS, &[]);
}

/// The same for each engine, on a smaller port list (every listener, the drop range and its
/// edges, the ephemeral block).
#[test]
fn loss_never_changes_a_state_threads() {
    if !require_nft() {
        return;
    }
    scan_under_loss("loss-thr", ENGINE_PORTS, &["--engine", "threads"]);
}

#[test]
fn loss_never_changes_a_state_async() {
    if !require_nft() {
        return;
    }
    scan_under_loss("loss-asy", ENGINE_PORTS, &["--engine", "async"]);
}

#[test]
fn loss_never_changes_a_state_sharded() {
    if !require_nft() {
        return;
    }
    scan_under_loss("loss-shd", ENGINE_PORTS, &["--engine", "sharded"]);
}

/// `--no-host-check` and its nmap spelling `-Pn`: the silent address's 20 ports are each
/// reported filtered, and there is no host record.
#[test]
fn no_host_check_scans_a_silent_address() {
    if !require_nft() {
        return;
    }
    let _one_at_a_time = serial();
    let fix = LossFixture::new("loss-pn");
    let silent: IpAddr = SILENT.parse().unwrap();
    let mut problems = Vec::new();
    for flag in ["--no-host-check", "-Pn"] {
        let args = [
            SILENT, flag, "-p", "1-20", "--format", "ndjson", "--show", "all",
        ];
        let run = fix.scanner.scan(&args);
        eprintln!(
            "portscout {args:?}: {:.1} s, exit {:?}",
            run.elapsed.as_secs_f64(),
            run.code
        );
        if run.code != Some(0) {
            problems.push(format!(
                "{flag}: exit {:?}: {}",
                run.code,
                run.stderr.trim()
            ));
            continue;
        }
        let records = run.port_records();
        let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
        for r in &records {
            *seen.entry(r.port).or_default() += 1;
            if r.ip != silent || r.state != "filtered" || !(1..=20).contains(&r.port) {
                problems.push(format!(
                    "{flag}: want only {SILENT} ports 1-20 filtered, got {} {} {}/{}",
                    r.ip, r.port, r.state, r.reason
                ));
            }
        }
        let not_once: Vec<String> = (1..=20u16)
            .filter(|p| seen.get(p) != Some(&1))
            .map(|p| format!("{p}×{}", seen.get(&p).unwrap_or(&0)))
            .collect();
        if !not_once.is_empty() {
            problems.push(format!(
                "{flag}: {} port records, want ports 1-20 once each; not once: {}",
                records.len(),
                not_once.join(", ")
            ));
        }
        let hosts = run.host_records();
        if !hosts.is_empty() {
            problems.push(format!(
                "{flag}: want no host record, got {:?}",
                hosts.iter().map(|h| &h.line).collect::<Vec<_>>()
            ));
        }
    }
    assert!(problems.is_empty(), "\n  {}", problems.join("\n  "));
}

/// The fixture itself, with plain connects from the scanner namespace: listeners accept
/// (perhaps after a lost SYN), other ports refuse, the drop range times out (also where a
/// listener sits behind it), the silent address fails with EHOSTUNREACH after about 3 s, and
/// the loss rules drop packets.
#[test]
fn loss_fixture_is_what_the_tests_assume() {
    if !require_nft() {
        return;
    }
    let _one_at_a_time = serial();
    let fix = LossFixture::new("loss-fx");
    let bound: BTreeSet<SocketAddr> = fix
        .listeners
        .iter()
        .flat_map(|l| l.addrs().iter().copied())
        .collect();
    let want: BTreeSet<SocketAddr> = LIVE
        .iter()
        .flat_map(|(ip, ports)| {
            ports
                .iter()
                .map(|p| SocketAddr::new(ip.parse().unwrap(), *p))
        })
        .collect();
    assert_eq!(bound, want);

    let connect = |addr: SocketAddr, ms: u64| {
        TcpStream::connect_timeout(&addr, Duration::from_millis(ms)).map(drop)
    };
    let sa = |ip: &str, port: u16| SocketAddr::new(ip.parse().unwrap(), port);
    let scanner = &fix.scanner;
    std::thread::scope(|s| {
        // The silent address, in parallel with the rest (it takes ~3 s: the kernel's ARP
        // resolution fails). 60 s for the connect leaves a loaded machine room: a timed-out
        // connect (no EHOSTUNREACH) is what says the address is not silent as ARP sees it.
        let silent = s.spawn(|| {
            fix.scanner.run_in(|| {
                let started = Instant::now();
                let e = connect(sa(SILENT, 80), 60_000).expect_err("nobody has the address");
                (e, started.elapsed())
            })
        });
        // The drop range (198.18.0.4:5050 has a listener behind it), also in parallel.
        let dropped: Vec<_> = [(LIVE[0].0, 5050), (LIVE[2].0, 5050), (LIVE[1].0, 5000)]
            .into_iter()
            .map(|(ip, port)| {
                s.spawn(move || {
                    let e = scanner
                        .run_in(|| connect(sa(ip, port), 2000))
                        .expect_err("dropped range");
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{ip}:{port}: {e}");
                })
            })
            .collect();
        fix.scanner.run_in(|| {
            // Listeners: a lost SYN costs the kernel's 1 s retransmit; a few tries at most.
            for addr in &want {
                if (FILTERED.0..=FILTERED.1).contains(&addr.port()) {
                    continue;
                }
                let ok = (0..5).any(|_| connect(*addr, 3000).is_ok());
                assert!(ok, "no connect to listener {addr} in 5 tries");
            }
            // Closed ports, 300 times with a short timeout: refused or (lost) timed out.
            let (mut refused, mut timed_out) = (0, 0);
            for i in 0..300u16 {
                match connect(sa(LIVE[usize::from(i % 3)].0, 2000 + i), 50) {
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => refused += 1,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => timed_out += 1,
                    other => panic!("closed port {}: {other:?}", 2000 + i),
                }
            }
            // 15 % + 5 % of the rest: about 19 % lost.
            assert!(
                (15..=120).contains(&timed_out),
                "{timed_out} of 300 connects to closed ports lost, {refused} refused"
            );
        });
        for d in dropped {
            d.join().unwrap();
        }
        let (e, took) = silent.join().unwrap();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EHOSTUNREACH),
            "{SILENT}: {e} after {took:?}"
        );
        // Not before the kernel's ARP solicitations (3, 1 s apart) went unanswered: a lower
        // bound the kernel waits by design. No upper bound but the connect's own: the
        // error says what happened, and how late it came on a loaded machine says nothing.
        assert!(
            took >= Duration::from_millis(2500),
            "{SILENT}: EHOSTUNREACH after {took:?}, want about 3 s"
        );
    });
    let loss = fix.loss();
    eprintln!("fixture: {loss}");
    assert!(fix.nft.counter("filtered") >= 3, "drop rule did not count");
    assert!(loss.syn_lost > 0 && loss.rst_lost > 0, "{loss}");
}

/// The checker itself, on made-up output (no root needed): an exact run passes, and each kind
/// of mistake is named.
#[test]
fn checker_accepts_an_exact_run_and_names_what_is_wrong() {
    let scanned = expand("1-3,4999-5001,40000");
    let mut exact = String::new();
    for (ip, listeners) in LIVE {
        for (port, state) in truth(&scanned, listeners) {
            let reason = match state {
                "open" => "syn-ack",
                "closed" => "reset",
                _ => "no-response",
            };
            exact.push_str(&format!(
                "{{\"ip\":\"{ip}\",\"port\":{port},\"protocol\":\"tcp\",\"state\":\"{state}\",\"reason\":\"{reason}\",\"rtt_ms\":null}}\n"
            ));
        }
    }
    let host = format!(
        "{{\"type\":\"host\",\"ip\":\"{SILENT}\",\"state\":\"down\",\"reason\":\"host-unreach\",\"skipped\":{}}}\n",
        scanned.len()
    );
    let summary = "{\"type\":\"summary\",\"hosts\":4,\"open\":1,\"closed\":1,\"filtered\":1,\"elapsed_ms\":1}\n";
    let run = |stdout: String| ScanRun {
        args: Vec::new(),
        code: Some(0),
        stdout,
        stderr: String::new(),
        elapsed: Duration::ZERO,
    };
    let ok = problems(&run(format!("{exact}{host}{summary}")), &scanned);
    assert!(ok.is_empty(), "{ok:#?}");

    // 198.18.0.2:2 filtered instead of closed, 198.18.0.3:1 twice, a port of the silent
    // address, no host record.
    let bad = exact
        .replace(
            "\"198.18.0.2\",\"port\":2,\"protocol\":\"tcp\",\"state\":\"closed\",\"reason\":\"reset\"",
            "\"198.18.0.2\",\"port\":2,\"protocol\":\"tcp\",\"state\":\"filtered\",\"reason\":\"no-response\"",
        )
        + "{\"ip\":\"198.18.0.3\",\"port\":1,\"protocol\":\"tcp\",\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":null}\n"
        + "{\"ip\":\"198.18.0.9\",\"port\":3,\"protocol\":\"tcp\",\"state\":\"filtered\",\"reason\":\"host-unreach\",\"rtt_ms\":3}\n"
        + summary;
    let found = problems(&run(bad), &scanned).join("\n");
    for needle in [
        "198.18.0.2: 1 of 7 ports in a wrong state",
        "closed→filtered (no-response) ×1: 2",
        "198.18.0.3: 0 of 7 ports in a wrong state, 0 missing, 1 reported more than once",
        "198.18.0.9 (nobody has it): 1 port records, want none (1 filtered/host-unreach); ports 3",
        "198.18.0.9 (nobody has it): no host record",
    ] {
        assert!(found.contains(needle), "{needle:?} not in:\n{found}");
    }
    let wrong_host = host.replace("\"down\"", "\"up\"");
    let found = problems(&run(format!("{exact}{wrong_host}")), &scanned).join("\n");
    assert!(found.contains("want state down"), "{found}");
}
