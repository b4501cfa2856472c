//! The scheduler's timing rules, on the simulated network of `portscout::sim`: the real event
//! loop, host board, per-port decisions and timing estimators, answered by a described network
//! on tokio's paused clock. No root, no kernel, no waiting: minutes of simulated time take
//! milliseconds, and every run is the same for the same seed. (What only a kernel can show
//! stays in the CLI's namespace tests.)

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use portscout::packet::IcmpKind;
use portscout::ports::PortSet;
use portscout::probe::ScanType;
use portscout::scan::{Order, ScanConfig, ScanConfigBuilder};
use portscout::sim::{self, SimHost, SimNet, SimPort, SimReport};
use portscout::target::Target;
use portscout::{PortState, Reason};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ports(spec: &str) -> PortSet {
    PortSet::parse(spec).unwrap()
}

/// A scan of `targets` × `ports` with the defaults (host check on, 10 retries, adaptive
/// timeouts) and a fixed order seed.
fn scan(targets: &str, port_spec: &str) -> ScanConfigBuilder {
    ScanConfig::builder()
        .targets([Target::parse(targets).unwrap()])
        .ports(ports(port_spec))
        .seed(1)
}

fn run(config: ScanConfigBuilder, net: &SimNet) -> SimReport {
    sim::run(&config.build().unwrap(), net).unwrap()
}

/// The state a port of `net` must be reported in (silent ports: `filtered`).
fn truth(net: &SimNet, target: SocketAddr) -> PortState {
    match net.host_at(target.ip()).behaviour(target.port()) {
        SimPort::Open => PortState::Open,
        SimPort::Closed => PortState::Closed,
        SimPort::Silent | SimPort::Errno(_) | SimPort::Icmp { .. } => PortState::Filtered,
    }
}

/// Every port of `hosts` × `port_spec` is reported once, in its true state, and no host is
/// reported down.
fn assert_exact(report: &SimReport, net: &SimNet, hosts: &[&str], port_spec: &str, what: &str) {
    let down: Vec<_> = report.hosts_down().collect();
    assert!(down.is_empty(), "{what}: hosts reported down: {down:?}");
    let mut seen: HashMap<SocketAddr, PortState> = HashMap::new();
    for r in report.ports() {
        assert!(
            seen.insert(r.socket_addr(), r.state).is_none(),
            "{what}: {} reported twice",
            r.socket_addr()
        );
    }
    let mut wrong = Vec::new();
    for host in hosts {
        for port in ports(port_spec).iter() {
            let target = SocketAddr::new(ip(host), port);
            let want = truth(net, target);
            match seen.get(&target) {
                Some(&got) if got == want => {}
                got => wrong.push(format!(
                    "{target}: {got:?} instead of {want:?} after {} attempts",
                    report.attempts.get(&target).copied().unwrap_or(0)
                )),
            }
        }
    }
    assert_eq!(seen.len(), hosts.len() * ports(port_spec).len() as usize);
    assert!(
        wrong.is_empty(),
        "{what}: {} ports in a wrong state: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}

/// Attempts of every port of `host` whose truth is `state`.
fn attempts_of(report: &SimReport, net: &SimNet, host: &str, state: PortState) -> Vec<u32> {
    report
        .attempts
        .iter()
        .filter(|(t, _)| t.ip() == ip(host) && truth(net, **t) == state)
        .map(|(_, &n)| n)
        .collect()
}

/// Two hosts, each with open, closed and silent ports, on lossy paths of different lengths.
fn lossy_net(seed: u64, loss: f64) -> SimNet {
    SimNet::new(seed)
        .host(
            ip("198.18.0.1"),
            SimHost::answering(ms(10))
                .jitter(ms(5))
                .loss(loss, 0.0)
                .ports(ports("1000-1099"), SimPort::Silent)
                .ports(ports("22,80,443,8080"), SimPort::Open),
        )
        .host(
            ip("198.18.0.2"),
            SimHost::answering(ms(40))
                .loss(loss / 2.0, loss / 2.0)
                .ports(ports("1500-1599"), SimPort::Silent)
                .ports(ports("25,3306"), SimPort::Open),
        )
}

#[test]
fn every_port_is_exact_under_seeded_loss() {
    for loss in [0.05, 0.20] {
        for seed in 1..=4 {
            // One worker (the async engine) and two (sharded, sharing the host board).
            let workers = 1 + (seed as usize % 2);
            let net = lossy_net(seed, loss);
            let config = scan("198.18.0.1-2", "1-2000").seed(seed).workers(workers);
            let report = run(config, &net);
            let what = format!("loss {loss}, seed {seed}, {workers} worker(s)");
            let hosts = ["198.18.0.1", "198.18.0.2"];
            assert_exact(&report, &net, &hosts, "1-2000", &what);
            assert!(report.stats.confirmed_losses > 0, "{what}: no loss seen");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let a = run(scan("198.18.0.1-2", "1-2000"), &lossy_net(9, 0.2));
    let b = run(scan("198.18.0.1-2", "1-2000"), &lossy_net(9, 0.2));
    assert_eq!(a.events, b.events);
    assert_eq!(a.decided_at, b.decided_at);
    assert_eq!(a.attempts, b.attempts);
    assert_eq!(a.stats, b.stats);
    let c = run(scan("198.18.0.1-2", "1-2000"), &lossy_net(10, 0.2));
    assert_ne!(a.attempts, c.attempts, "another seed, other losses");
}

/// docs/timing.md: a host that shows no loss gets 3 attempts per silent port after about 1600
/// answers without a loss, 2 once the answers reach about sqrt(2N / 0.0001) for its N ports
/// (about 28 000 for 40 010 ports). In serial order the silent ports come after those answers.
#[test]
fn a_silent_port_of_a_lossless_host_gets_two_attempts() {
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(10)).ports(ports("2001-2010"), SimPort::Silent),
    );
    let report = run(scan("198.18.0.1", "1-2010").order(Order::Serial), &net);
    assert_exact(
        &report,
        &net,
        &["198.18.0.1"],
        "1-2010",
        "lossless, 2000 answers",
    );
    assert_eq!(
        attempts_of(&report, &net, "198.18.0.1", PortState::Filtered),
        [3; 10]
    );
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(10)).ports(ports("40001-40010"), SimPort::Silent),
    );
    let report = run(scan("198.18.0.1", "1-40010").order(Order::Serial), &net);
    assert_exact(
        &report,
        &net,
        &["198.18.0.1"],
        "1-40010",
        "lossless, 40000 answers",
    );
    assert_eq!(
        attempts_of(&report, &net, "198.18.0.1", PortState::Filtered),
        [2; 10]
    );
    assert!(attempts_of(&report, &net, "198.18.0.1", PortState::Closed)
        .iter()
        .all(|&n| n == 1));
    assert_eq!(report.stats.retransmissions, 10);
}

/// A lossy host's silent ports get more attempts, as many as its loss calls for, never more
/// than `--retries` + 1.
#[test]
fn a_lossy_host_gets_more_attempts_bounded_by_retries() {
    let net = SimNet::new(3).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(10))
            .loss(0.2, 0.0)
            .ports(ports("2001-2010"), SimPort::Silent),
    );
    let report = run(scan("198.18.0.1", "1-2010").order(Order::Serial), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-2010", "20 % loss");
    let silent = attempts_of(&report, &net, "198.18.0.1", PortState::Filtered);
    // p ≈ 0.2 over 2010 ports: ceil(ln(0.0001 / 2010) / ln 0.2) = 11.
    assert!(silent.iter().all(|&n| (10..=11).contains(&n)), "{silent:?}");
    assert!(report.attempts.values().all(|&n| n <= 11));

    for retries in [0u8, 3] {
        let report = run(
            scan("198.18.0.1", "1-2010")
                .order(Order::Serial)
                .retries(retries),
            &net,
        );
        let most = report.attempts.values().max().copied();
        assert_eq!(most, Some(u32::from(retries) + 1), "--retries {retries}");
        assert_eq!(
            attempts_of(&report, &net, "198.18.0.1", PortState::Filtered),
            [u32::from(retries) + 1; 10],
            "--retries {retries}"
        );
    }
}

/// docs/timing.md: a host is down once 8 of its ports stayed silent through every attempt and
/// the longest timeout any of its probes got passed since its first probe: here its first
/// probes left before the scan's first answer, with the initial 1 s. Its later probes borrow
/// the answering host's timeout (50 ms), so they are done long before the second; the host
/// check waits for the first ones.
#[test]
fn a_host_that_answers_nothing_is_down_after_eight_silent_ports_and_a_second() {
    let net = SimNet::new(1).host(ip("198.18.0.2"), SimHost::answering(ms(5)));
    let report = run(scan("198.18.0.1-2", "1-1000"), &net);
    let down: Vec<_> = report.hosts_down().collect();
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(
        (down[0].ip, down[0].reason),
        (ip("198.18.0.1"), Reason::NoResponse)
    );
    assert!(report.ports().all(|r| r.ip == ip("198.18.0.2")));
    assert_eq!(report.ports().count(), 1000);
    let at = report
        .decided_at(SocketAddr::new(ip("198.18.0.1"), 1))
        .unwrap();
    assert!(at >= ms(1000) && at < ms(1500), "decided down at {at:?}");
    // Its ports not yet asked were skipped; those asked got 2 attempts (no loss measured).
    assert!(report.stats.skipped > 0);
    let probed: Vec<u32> = report
        .attempts
        .iter()
        .filter(|(t, _)| t.ip() == ip("198.18.0.1"))
        .map(|(_, &n)| n)
        .collect();
    assert!(probed.len() < 1000, "{} of its ports probed", probed.len());
    assert!(probed.iter().all(|&n| n <= 2), "{probed:?}");
}

/// Scanned alone, with no timeout to borrow, such a host costs 2 attempts (docs/timing.md:
/// nothing measured any loss, so one retransmission; it was 11 before issue 18): the first
/// waits half the initial 1 s, the last the whole of it (before the scan's first answer), so
/// the host is down 1.5 s after its first probe (2 s, two attempts of a second, before).
#[test]
fn a_silent_host_alone_costs_two_attempts_in_a_second_and_a_half() {
    let report = run(scan("198.18.0.1", "1-100"), &SimNet::new(1));
    let down: Vec<_> = report.hosts_down().collect();
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(report.attempts.values().max(), Some(&2));
    let at = report
        .decided_at(SocketAddr::new(ip("198.18.0.1"), 1))
        .unwrap();
    assert!(at >= ms(1_500) && at < ms(1_600), "decided down at {at:?}");
}

/// The failure of CLI test `cli_xml::a_host_down_then_up_validates_and_ndiff_reports_it` that
/// reverted issue 18's first landing: an address that had just come up (its SYNs waited in the
/// ARP queue of a neighbour still being resolved) was called down `no-response` in a 0.11 s
/// scan. Hosts beside it answer in microseconds, so its attempts borrowed their 50 ms timeout,
/// both ended before it answered, and the end of the scan called it down without the host
/// check's second of silence. An address that never answered is given up only once
/// `DOWN_SILENCE` (1 s) passed since its first probe, also at the end of the scan: its last
/// attempt waits until then.
#[test]
fn an_address_that_answers_late_beside_fast_ones_is_up() {
    let fast = || {
        SimHost::answering(Duration::ZERO)
            .port(22, SimPort::Open)
            .port(80, SimPort::Closed)
    };
    let net = SimNet::new(1)
        .host(ip("198.18.0.1"), fast())
        .host(ip("198.18.0.2"), fast())
        .host(
            ip("198.18.0.3"),
            SimHost::answering(Duration::from_micros(50))
                .reachable_from(ms(300))
                .port(80, SimPort::Open),
        )
        .host(ip("198.18.0.4"), fast());
    let hosts = ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4"];
    for scan_type in [ScanType::Connect, ScanType::Syn] {
        for workers in [1, 2] {
            for order in [Order::Serial, Order::Random] {
                let config = scan("198.18.0.1-4", "22,80")
                    .order(order)
                    .workers(workers)
                    .scan_type(scan_type);
                let report = run(config, &net);
                let what = format!("{scan_type}, {workers} worker(s), {order}");
                assert_exact(&report, &net, &hosts, "22,80", &what);
                // It waited for the late address, not much longer.
                assert!(report.elapsed < ms(1500), "{what}: {:?}", report.elapsed);
            }
        }
    }
    // Where nothing answers it at all, it is still down: after its second.
    let net = net.host(ip("198.18.0.3"), SimHost::silent());
    let report = run(scan("198.18.0.1-4", "22,80").order(Order::Serial), &net);
    let down: Vec<_> = report.hosts_down().collect();
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(
        (down[0].ip, down[0].reason),
        (ip("198.18.0.3"), Reason::NoResponse)
    );
    assert!(report.elapsed >= ms(1000), "{:?}", report.elapsed);
    assert!(
        report.attempts.values().all(|&n| n <= 2),
        "{:?}",
        report.attempts
    );
}

#[test]
fn a_host_with_one_open_port_among_silent_ones_is_up() {
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(20))
            .other_ports(SimPort::Silent)
            .port(22, SimPort::Open),
    );
    // Every port is in the first window: port 22 answers before any port is given up.
    let report = run(scan("198.18.0.1", "1-30"), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-30", "one open port");
}

/// The host check judges a host by the ports it asked first: a host whose only open port comes
/// late in the scan's order (here port 22 of 1000, the rest dropped) is called down after 8
/// silent ports, before port 22 is asked, as nmap's host discovery would call it
/// (`--no-host-check` scans it). Recorded as today's behaviour.
#[test]
fn a_host_whose_only_open_port_comes_late_is_called_down() {
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(20))
            .other_ports(SimPort::Silent)
            .port(22, SimPort::Open),
    );
    let report = run(scan("198.18.0.1", "1-1000"), &net);
    assert_eq!(report.hosts_down().count(), 1);
    assert!(!report
        .attempts
        .contains_key(&"198.18.0.1:22".parse().unwrap()));

    let report = run(scan("198.18.0.1", "1-1000").host_check(false), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-1000", "--no-host-check");
}

/// ICMP errors, as the errno `connect(2)` reports them with no ICMP message queued (this host's
/// own stack could not deliver: a failed ARP, no route): host and net unreachable decide the
/// host down with the first window's answers (8 unreachable ports, no 1 s of silence needed);
/// an error that says a filter answered does not.
#[test]
fn icmp_errors_decide_the_host_as_the_connect_table_says() {
    for (errno, reason) in [
        (libc::EHOSTUNREACH, Reason::HostUnreach),
        (libc::ENETUNREACH, Reason::NetUnreach),
    ] {
        let net = SimNet::new(1).host(
            ip("198.18.0.1"),
            SimHost::answering(ms(5)).other_ports(SimPort::Errno(errno)),
        );
        let report = run(scan("198.18.0.1", "1-1000"), &net);
        let down: Vec<_> = report.hosts_down().collect();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].reason, reason);
        assert_eq!(
            report.decided_at(SocketAddr::new(ip("198.18.0.1"), 1)),
            Some(ms(5)),
            "down at the first error"
        );
        // The first window, and at most what its first answers let start before the eighth.
        assert!(
            report.probes() <= 64,
            "{} probes: more than the first answers",
            report.probes()
        );
    }
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(5))
            .other_ports(SimPort::Silent)
            .ports(
                ports("1-50"),
                SimPort::Icmp {
                    kind: IcmpKind::V4 { ty: 3, code: 13 },
                    from_target: true,
                },
            ),
    );
    let report = run(scan("198.18.0.1", "1-100"), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-100", "admin prohibited");
}

/// The timeout follows the measured round trip: on a lossless 200 ms path no answering port
/// is ever asked twice (no attempt timed out before its answer could come), and a silent port
/// waits at least one round trip per attempt.
#[test]
fn timeouts_follow_the_measured_round_trip() {
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(200))
            .ports(ports("100-109"), SimPort::Silent)
            .port(22, SimPort::Open),
    );
    let report = run(scan("198.18.0.1", "1-1000"), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-1000", "200 ms");
    assert!(attempts_of(&report, &net, "198.18.0.1", PortState::Closed)
        .iter()
        .all(|&n| n == 1));
    assert_eq!(report.stats.confirmed_losses, 0);
    assert_eq!(report.stats.srtt, Some(ms(200)));
    assert!(
        report.stats.timeout.unwrap() > ms(200),
        "{:?}",
        report.stats
    );
    for port in 100..=109 {
        let target = SocketAddr::new(ip("198.18.0.1"), port);
        let attempts = report.attempts[&target];
        let at = report.decided_at(target).unwrap();
        assert!(
            attempts >= 2 && at >= ms(200) * attempts,
            "{target}: {attempts} by {at:?}"
        );
    }

    // A path whose round trip varies (200-300 ms) widens the timeout: still exact.
    let net = SimNet::new(2).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(200))
            .jitter(ms(100))
            .ports(ports("100-109"), SimPort::Silent),
    );
    let report = run(scan("198.18.0.1", "1-1000"), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-1000", "200-300 ms");
    assert!(
        report.stats.timeout.unwrap() > ms(300),
        "{:?}",
        report.stats
    );
}

/// Slow start: on a lossless path the window grows from 32 to the maximum (4096) within a few
/// round trips, and nothing halves it.
#[test]
fn the_window_grows_on_answers() {
    let net = SimNet::new(1).host(ip("198.18.0.1"), SimHost::answering(ms(10)));
    let report = run(scan("198.18.0.1", "1-20000"), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-20000", "lossless");
    assert_eq!(report.stats.peak_window, 4096);
    assert_eq!(report.peak_in_flight, 4096);
    assert_eq!(report.stats.congestion_cuts, 0);
    // 20000 probes at up to 4096 per 10 ms round trip, after 7 round trips of slow start.
    assert!(report.elapsed < ms(150), "{:?}", report.elapsed);
}

/// Random loss at a steady rate is not congestion: 10 % of SYNs lost, the window still grows to
/// the maximum and is never halved.
#[test]
fn steady_random_loss_never_halves_the_window() {
    for seed in 1..=2 {
        let net =
            SimNet::new(seed).host(ip("198.18.0.1"), SimHost::answering(ms(10)).loss(0.1, 0.0));
        let report = run(scan("198.18.0.1", "1-20000").seed(seed), &net);
        assert_exact(&report, &net, &["198.18.0.1"], "1-20000", "10 % loss");
        assert_eq!(report.stats.congestion_cuts, 0, "seed {seed}");
        assert_eq!(report.stats.peak_window, 4096, "seed {seed}");
    }
}

/// Loss that rises with the window is congestion: a path that carries 100 probes at once drops
/// the rest, and confirmed losses above the base rate halve the window.
#[test]
fn loss_that_rises_with_the_window_halves_it() {
    let net = SimNet::new(1).host(ip("198.18.0.1"), SimHost::answering(ms(10)).capacity(100));
    let report = run(scan("198.18.0.1", "1-20000"), &net);
    assert!(report.dropped_at_capacity > 0);
    assert!(report.stats.congestion_cuts > 0, "{:?}", report.stats);
}

/// Found with this simulator (a known failure until issue 18): a path that drops what exceeds
/// its capacity, without queueing first (a policer: no delay signal), misread closed ports as
/// filtered (1076 of 65535 at a capacity of 1000, 8936 at 300). Slow start overshot within the
/// first horizon (then 4 timeouts long), so the first judged horizon already had the path's
/// loss and became the base rate. Horizons are now one timeout long (judged 3 later): slow
/// start spans several, the first ones carry the base rate of the path's own loss, and the
/// overshoot is judged congestion.
#[test]
fn a_drop_only_bottleneck_keeps_every_port_exact() {
    for (seed, capacity) in [(1u64, 1000usize), (2, 1000), (3, 300)] {
        let net = SimNet::new(seed).host(
            ip("198.18.0.1"),
            SimHost::answering(ms(10)).capacity(capacity),
        );
        let report = run(scan("198.18.0.1", "1-65535").seed(seed), &net);
        let what = format!("capacity {capacity}, seed {seed}");
        assert_exact(&report, &net, &["198.18.0.1"], "1-65535", &what);
        assert!(report.stats.congestion_cuts > 0, "{what}");
    }
}

/// Found with this simulator (a known failure until issue 18): a far host (300 ms) scanned
/// beside a near one (5 ms) borrows the near host's 50 ms timeout until its own first answer;
/// a port whose every attempt was sent with it was reported `filtered` although it is closed
/// (14 of 1000 ports with seed 1). Now an attempt that waited less than its host's own round
/// trip is no evidence (sent again, not counted), and a port held silent before its host
/// answered is asked again once it does.
#[test]
fn a_far_host_beside_a_near_one_keeps_every_port_exact() {
    for seed in 1..=4 {
        let net = SimNet::new(seed)
            .host(ip("198.18.0.1"), SimHost::answering(ms(5)))
            .host(ip("198.18.0.2"), SimHost::answering(ms(300)));
        let report = run(scan("198.18.0.1-2", "1-1000").seed(seed), &net);
        let what = format!("near and far, seed {seed}");
        assert_exact(
            &report,
            &net,
            &["198.18.0.1", "198.18.0.2"],
            "1-1000",
            &what,
        );
    }
}

/// The silent /20 × 1 port of issue 18 with the default options, before and after. Before
/// (recorded when the simulator came): nothing answered, so every probe waited the initial
/// 1 s, each address was asked 10 times (11 with issue 17's retry rule) and a worker's window
/// stayed at 32: 40,960 probes in 1,280 s (one worker) or 640 s (two), 64 probes/s (45,056 in
/// 1,408 s and 704 s with 11). Then silence became no evidence of loss (2 attempts: no loss was
/// measured) and the window grew by slow start on silent probes, to its maximum of 4096:
/// 8,192 probes in 8-9 s (7 doublings of 1 s). Now, before the scan's first answer, a probe
/// holds no window at all (only the unanswered maximum, 4096 here, bounds the probes in
/// flight): the 4,096 first attempts leave at once, the second ones half a second later
/// (before the first answer an attempt that is not the last waits half the initial 1 s), and
/// those wait the whole second: 1.5 s in all (2 s when the first attempts waited a second).
#[test]
fn baseline_a_silent_slash_20() {
    for (scan_type, workers, millis) in [
        (ScanType::Connect, 1usize, 1_600u64),
        (ScanType::Connect, 2, 1_600),
        (ScanType::Syn, 2, 1_600),
    ] {
        let config = scan("198.18.192.0/20", "22")
            .workers(workers)
            .scan_type(scan_type);
        let report = run(config, &SimNet::new(1));
        let probes = report.probes();
        let rate = probes as f64 / report.elapsed.as_secs_f64();
        println!(
            "silent /20 x 1 port, {scan_type}, {workers} worker(s): {probes} probes, {} per address, \
             {:?} simulated, {rate:.0} probes/s, peak window {}, peak host entries {}, {} hosts down",
            probes / 4096,
            report.elapsed,
            report.stats.peak_window,
            report.stats.peak_hosts,
            report.stats.hosts_down,
        );
        assert_eq!(report.stats.hosts_down, 4096);
        assert_eq!(report.hosts_down().count(), 4096);
        assert!(report.attempts.values().all(|&n| n == 2));
        assert_eq!(probes, 8192);
        assert_eq!(report.stats.peak_window, 4096);
        assert!(
            report.elapsed >= ms(1_500) && report.elapsed <= ms(millis),
            "{:?}",
            report.elapsed
        );
    }
}

/// Before the scan's first answer, a never-answered address's attempts are spaced half the
/// initial timeout (its first, not its last, waits 0.5 s), and its last attempt waits the whole
/// initial 1 s: the address is given up 1.5 s after its first probe, past its floor of silence
/// (1 s), and the silent space ends at 1.5 s plus the sending, not 2 s (W1 of issue 18). For
/// `--retries 0` the only attempt is the last: a whole second. `--timeout` fixes every wait.
#[test]
fn before_the_first_answer_a_retry_leaves_after_half_the_initial_timeout() {
    for (scan_type, workers) in [
        (ScanType::Connect, 1usize),
        (ScanType::Connect, 2),
        (ScanType::Syn, 1),
        (ScanType::Syn, 2),
    ] {
        let what = format!("{scan_type}, {workers} worker(s)");
        let config = scan("198.18.192.0/22", "22")
            .workers(workers)
            .scan_type(scan_type);
        let report = run(config, &SimNet::new(1));
        assert_eq!(report.hosts_down().count(), 1024, "{what}");
        assert_eq!(report.sent_at.len(), 1024, "{what}");
        for (target, sent) in &report.sent_at {
            assert_eq!(sent.len(), 2, "{what}: {target} sent at {sent:?}");
            let gap = sent[1] - sent[0];
            assert!(
                gap >= ms(500) && gap < ms(510),
                "{what}: {target}: attempts {gap:?} apart"
            );
            // Down when its last attempt's whole second is over.
            let down = report.decided_at(*target).unwrap();
            assert!(
                down >= sent[1] + ms(1_000) && down < sent[1] + ms(1_010),
                "{what}: {target} sent at {sent:?}, down at {down:?}"
            );
        }
        assert!(
            report.elapsed >= ms(1_500) && report.elapsed < ms(1_600),
            "{what}: {:?}",
            report.elapsed
        );
    }
    // One attempt: the last, a whole second.
    let report = run(scan("198.18.0.1-4", "22").retries(0), &SimNet::new(1));
    assert!(report.attempts.values().all(|&n| n == 1));
    assert!(
        report.elapsed >= ms(1_000) && report.elapsed < ms(1_100),
        "--retries 0: {:?}",
        report.elapsed
    );
    // A fixed timeout is every wait.
    let report = run(scan("198.18.0.1-4", "22").timeout(ms(800)), &SimNet::new(1));
    for sent in report.sent_at.values() {
        assert_eq!(sent.len(), 2, "--timeout: sent at {sent:?}");
        assert!(sent[1] - sent[0] >= ms(800), "--timeout: sent at {sent:?}");
    }
}

/// The attempt after a half-second first one is under way when the first one's answer comes
/// (a far host, an address whose SYN waited in an ARP queue): the SYN scan takes that answer
/// (it still names one of the scan's source ports), so every SYN has at least a second to be
/// answered: a round trip of 0.5-1.5 s still finds the port open, without a round-trip sample
/// nor a loss (the first attempt was late, not lost). Before, the answer to an attempt whose
/// wait was over was dropped, and a round trip past 1 s (the first attempt's whole wait) made
/// the port `filtered` and its host down. A connect scan closes the first attempt's socket: its
/// second attempt finds a round trip of up to 1 s.
#[test]
fn an_answer_to_a_first_attempt_after_its_half_second_still_counts() {
    for (scan_type, rtt) in [
        (ScanType::Syn, 600u64),
        (ScanType::Syn, 1_200),
        (ScanType::Syn, 1_450),
        (ScanType::Connect, 600),
        (ScanType::Connect, 900),
    ] {
        let what = format!("{scan_type}, round trip {rtt} ms");
        let net = SimNet::new(1).host(
            ip("198.18.0.1"),
            SimHost::answering(ms(rtt)).port(22, SimPort::Open),
        );
        let report = run(scan("198.18.0.1", "22").scan_type(scan_type), &net);
        let target = SocketAddr::new(ip("198.18.0.1"), 22);
        assert_eq!(report.hosts_down().count(), 0, "{what}");
        let result = report.result(target).expect(&what);
        assert_eq!(result.state, PortState::Open, "{what}");
        assert_eq!(report.attempts[&target], 2, "{what}");
        if scan_type == ScanType::Syn {
            // The first attempt's answer, taken during the second: no sample, no loss.
            assert_eq!(result.rtt, None, "{what}");
            assert_eq!(report.stats.confirmed_losses, 0, "{what}");
            assert!(
                report.elapsed < ms(rtt + 10),
                "{what}: {:?}",
                report.elapsed
            );
        }
    }
}

/// Issue 18: a silent /16 × 1 port under `--rate` takes (addresses × K) / rate with K = 2
/// (no loss measured), plus the last probe's wait: the rate sets the pace, not the silence;
/// and a worker holds an address's state only while the address has probes under way (peak
/// host entries near the probes in flight, 2000 per second of timeout here, not 65,536).
#[test]
fn a_silent_slash_16_goes_at_the_rate() {
    let rate = 2000u32;
    let report = run(scan("198.18.0.0/16", "22").rate(rate), &SimNet::new(1));
    let probes = report.probes();
    assert_eq!(probes, 65536 * 2);
    assert_eq!(report.stats.hosts_down, 65536);
    let ideal = probes as f64 / f64::from(rate);
    let took = report.elapsed.as_secs_f64();
    println!(
        "silent /16 x 1 port at --rate {rate}: {probes} probes in {took:.1} s (ideal {ideal:.1} s), \
         peak window {}, peak host entries {}",
        report.stats.peak_window, report.stats.peak_hosts
    );
    assert!(took >= ideal && took <= ideal * 1.12 + 1.0, "{took} s");
    assert!(
        report.stats.peak_hosts <= 2000 + 512,
        "{} host entries at once",
        report.stats.peak_hosts
    );
}

/// A /16 where 1 address in 64 answers (scattered; port 22 open, 80 and 443 closed), the rest
/// silent: every port of every live address exact, every silent address down once, for
/// three seeds, two of them with 5 % of SYNs lost (W2 and W3 of issue 18, simulated; seed 3
/// read a port of a live host `filtered` before held ports were asked again once their host
/// answered).
#[test]
fn a_sparse_slash_16_is_exact() {
    for (seed, loss) in [(3u64, 0.05), (1, 0.0), (4, 0.05)] {
        let mut net = SimNet::new(seed);
        let mut live = Vec::new();
        for i in 0..1024u32 {
            let offset = (i.wrapping_mul(2_654_435_761) >> 8) % 64;
            let addr = std::net::Ipv4Addr::from(
                u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)) + i * 64 + offset,
            );
            live.push(IpAddr::V4(addr));
            net = net.host(
                IpAddr::V4(addr),
                SimHost::answering(ms(20))
                    .jitter(ms(10))
                    .loss(loss, 0.0)
                    .port(22, SimPort::Open),
            );
        }
        let config = scan("198.18.0.0/16", "22,80,443").seed(seed).workers(2);
        let report = run(config, &net);
        let what = format!("seed {seed}, loss {loss}");
        let mut wrong = Vec::new();
        let mut seen = 0;
        for r in report.ports() {
            seen += 1;
            let want = truth(&net, r.socket_addr());
            if r.state != want {
                wrong.push(format!(
                    "{}: {:?} instead of {want:?}",
                    r.socket_addr(),
                    r.state
                ));
            }
        }
        let down: std::collections::HashSet<IpAddr> = report.hosts_down().map(|d| d.ip).collect();
        let live_down: Vec<_> = live.iter().filter(|ip| down.contains(ip)).collect();
        println!(
            "{what}: {} probes ({:.2} per address and port), {:?} simulated, peak window {}, \
             peak host entries {}, {} down",
            report.probes(),
            report.probes() as f64 / (65536.0 * 3.0),
            report.elapsed,
            report.stats.peak_window,
            report.stats.peak_hosts,
            down.len()
        );
        assert!(
            live_down.is_empty(),
            "{what}: live hosts called down: {live_down:?}"
        );
        // A silent address's last attempt is delayed to end at its floor of silence (1 s
        // after its first probe), holding no window meanwhile: the floor costs about a second
        // at the end, not a second of window per silent address (36-39 s when that attempt
        // left at once and waited the second out; 7.6-8.7 s with no floor at all).
        assert!(
            report.elapsed < Duration::from_secs(15),
            "{what}: {:?}",
            report.elapsed
        );
        assert!(
            wrong.is_empty(),
            "{what}: {} wrong: {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(10)]
        );
        assert_eq!(seen, 1024 * 3, "{what}");
        assert_eq!(down.len(), 65536 - 1024, "{what}");
        assert_eq!(
            report.hosts_down().count(),
            65536 - 1024,
            "{what}: a host reported twice"
        );
    }
}

/// Issue 18, memory: the host entries a scan holds at once stay flat as the space grows. A
/// /20 and a /16 where 1 address in 64 answers, × 3 ports: with the whole space permuted, a
/// host's three ports were spread over the whole scan, so nearly every address of the /16 was
/// undecided, and held, at once (about 97,000 entries at the peak, against about 6,000 for the
/// /20). The random order now takes hosts in groups of at most 4096, one group's probes after
/// another's, so a host is decided soon after its first probe.
#[test]
fn host_entries_stay_flat_as_the_space_grows() {
    let peak = |prefix: u32| {
        let size = 1u32 << (32 - prefix);
        let mut net = SimNet::new(1);
        for i in 0..size / 64 {
            let offset = (i.wrapping_mul(2_654_435_761) >> 8) % 64;
            let addr = std::net::Ipv4Addr::from(
                u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)) + i * 64 + offset,
            );
            net = net.host(
                IpAddr::V4(addr),
                SimHost::answering(ms(20))
                    .jitter(ms(10))
                    .port(22, SimPort::Open),
            );
        }
        let config = scan(&format!("198.18.0.0/{prefix}"), "22,80,443").workers(2);
        let report = run(config, &net);
        assert_eq!(
            report
                .ports()
                .filter(|r| r.state == PortState::Open)
                .count(),
            (size / 64) as usize,
            "/{prefix}"
        );
        assert_eq!(report.hosts_down().count(), (size - size / 64) as usize);
        println!(
            "/{prefix} x 3 ports, 1 in 64 live: peak host entries {}, {:?} simulated",
            report.stats.peak_hosts, report.elapsed
        );
        report.stats.peak_hosts
    };
    let (small, large) = (peak(17), peak(16));
    assert!(
        large * 4 <= small * 5,
        "host entries grow with the space: {small} at /17, {large} at /16"
    );
}

/// `--rate` caps the probes sent per second (retransmissions included), in simulated time.
#[test]
fn rate_caps_the_probes_per_second() {
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(10)).ports(ports("1-100"), SimPort::Silent),
    );
    let report = run(scan("198.18.0.1", "1-2000").rate(500), &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-2000", "--rate 500");
    let probes = report.probes();
    let rate = probes as f64 / report.elapsed.as_secs_f64();
    assert!(
        probes > 2000 && rate > 450.0 && rate <= 505.0,
        "{probes} probes at {rate:.0}/s"
    );
}

/// `--min-rate` sends past the congestion window: on a /20 whose first address answers at once
/// and the rest are silent, with a fixed 1 s timeout, every probe after the first answer holds
/// the window, which starts at 32 and doubles once per second, so the 8190 probes take 8 s
/// or more; with a floor of 2000 probes/s they leave in about 4 s and the scan ends a second
/// later.
#[test]
fn min_rate_sends_past_the_window() {
    let net = SimNet::new(1).host(ip("198.18.0.0"), SimHost::answering(ms(1)));
    let config = || {
        scan("198.18.0.0/20", "22")
            .order(Order::Serial)
            .timeout(ms(1000))
    };
    let report = run(config().min_rate(2000), &net);
    assert_eq!(report.stats.hosts_down, 4095);
    assert!(report.elapsed < ms(6000), "{:?}", report.elapsed);
    let report = run(config(), &net);
    assert_eq!(report.stats.hosts_down, 4095);
    assert!(report.elapsed >= ms(8000), "{:?}", report.elapsed);
}

/// Issue 18, the window rule for silence: before the scan's first answer nothing measured
/// says what the path carries, so a probe to a never-answered address holds no window; only
/// `--rate` (and the unanswered maximum, 65,536 probes of a SYN scan) bounds them. A silent
/// /16 × 1 port at `--rate 20000` takes (65,536 × 2) / 20,000 s plus the last probes'
/// second. (Bound by the window, whose 4096 probes each waited the initial 1 s, it took 33 s
/// or more.)
#[test]
fn a_silent_slash_16_is_not_window_bound() {
    let rate = 20_000u32;
    for workers in [1usize, 2] {
        let config = scan("198.18.0.0/16", "22")
            .rate(rate)
            .workers(workers)
            .scan_type(ScanType::Syn);
        let report = run(config, &SimNet::new(1));
        let probes = report.probes();
        assert_eq!(probes, 65536 * 2);
        assert_eq!(report.stats.hosts_down, 65536);
        let ideal = probes as f64 / f64::from(rate);
        let took = report.elapsed.as_secs_f64();
        println!(
            "silent /16 x 1 port, syn at --rate {rate}, {workers} worker(s): {probes} probes in \
             {took:.2} s (ideal {ideal:.2} s), peak window {}, peak host entries {}",
            report.stats.peak_window, report.stats.peak_hosts
        );
        assert!(took >= ideal && took <= ideal + 2.0, "{took} s");
        assert!(report.stats.peak_window > 4096, "{:?}", report.stats);
    }
}

/// Issue 18: once anything has answered, every probe holds the window again, and a path that
/// carries 100 probes at once still gets the window cut, with silent addresses around it
/// (which the SYN scan sent before the first answer without holding any window).
#[test]
fn a_capacity_limited_path_beside_silence_still_cuts_the_window() {
    let net = SimNet::new(1).host(ip("198.18.0.1"), SimHost::answering(ms(10)).capacity(100));
    let config = scan("198.18.0.0/27", "1-3000").scan_type(ScanType::Syn);
    let report = run(config, &net);
    assert!(report.dropped_at_capacity > 0);
    assert!(report.stats.congestion_cuts > 0, "{:?}", report.stats);
    assert_eq!(report.hosts_down().count(), 31);
    let closed = report
        .ports()
        .filter(|r| r.ip == ip("198.18.0.1") && r.state == PortState::Closed)
        .count();
    assert_eq!(closed, 3000);
}

/// A host with fewer than 8 ports is down once all of them stayed silent (and 1 s passed).
#[test]
fn a_silent_host_with_few_ports_is_down_once_all_are_silent() {
    let net = SimNet::new(1).host(ip("198.18.0.2"), SimHost::answering(ms(5)));
    let report = run(scan("198.18.0.1-2", "1-3"), &net);
    let down: Vec<_> = report.hosts_down().collect();
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(down[0].ip, ip("198.18.0.1"));
    assert_eq!(report.ports().count(), 3);
    let at = report
        .decided_at(SocketAddr::new(ip("198.18.0.1"), 1))
        .unwrap();
    assert!(at >= ms(1000), "decided down at {at:?}");
}

/// The SYN scan's batching (`--scan syn`: SYNs leave on `flush`, answers are read as they
/// arrive) is held to the same rules: exact under loss.
#[test]
fn a_syn_scan_is_exact_under_seeded_loss() {
    for seed in 1..=2 {
        let net = lossy_net(seed, 0.2);
        let config = scan("198.18.0.1-2", "1-2000")
            .seed(seed)
            .workers(seed as usize)
            .scan_type(ScanType::Syn);
        let report = run(config, &net);
        let what = format!("syn, seed {seed}");
        let hosts = ["198.18.0.1", "198.18.0.2"];
        assert_exact(&report, &net, &hosts, "1-2000", &what);
        assert!(report.stats.confirmed_losses > 0, "{what}: no loss seen");
    }
}

/// A batching scan sends its first round before any answer is read, with the initial 1 s
/// timeout; once the first round trip is measured the loop shortens those probes to the
/// timeout any other gets (the 50 ms floor): two silent ports of the first round end the scan
/// after four short attempts (98 answers without a loss, 100 ports: `100 · P(4) ≤ 0.0001`),
/// not after a second.
#[test]
fn a_syn_scans_first_round_is_retimed() {
    let net = SimNet::new(1).host(
        ip("198.18.0.1"),
        SimHost::answering(ms(1)).ports(ports("3-4"), SimPort::Silent),
    );
    // Serial order: ports 3 and 4 are in the first round.
    let config = scan("198.18.0.1", "1-100")
        .order(Order::Serial)
        .scan_type(ScanType::Syn);
    let report = run(config, &net);
    assert_exact(&report, &net, &["198.18.0.1"], "1-100", "syn");
    assert!(report.elapsed < ms(500), "{:?}", report.elapsed);
}

/// The hosts of `namespace_loss.rs` (issue 17): 15 % of SYNs and 5 % of RSTs lost, so an
/// attempt to an answering port goes unanswered with p = 1 − 0.85 · 0.95 = 0.1925; ports
/// 5000–5099 silent.
fn namespace_loss_net(seed: u64) -> SimNet {
    let mut net = SimNet::new(seed);
    for host in ["198.18.0.2", "198.18.0.3", "198.18.0.4"] {
        net = net.host(
            ip(host),
            SimHost::answering(Duration::from_micros(30))
                .loss(0.15, 0.05)
                .ports(ports("5000-5099"), SimPort::Silent)
                .ports(ports("22,80,443"), SimPort::Open),
        );
    }
    net
}

/// Issue 17: a closed port read as `filtered` under loss is a port whose every attempt was
/// lost, and that happens at the rate `pⁿ` says, no more: every attempt counted was sent, and
/// their losses are independent (no attempt counted that never left, none sent so close to
/// the last that one loss covers both). With `--retries 4` (5 attempts) over 3 × 2000 ports
/// and 40 seeds, `40 · 3 · 1900 · 0.1925⁵ ≈ 60` misreads are expected; a scheduler that
/// counted one attempt too many per port would make about 5 times that.
#[test]
fn under_loss_a_port_is_misread_only_at_the_rate_its_attempts_allow() {
    const P: f64 = 1.0 - 0.85 * 0.95;
    let mut misread = 0u32;
    let mut expected = 0.0;
    for seed in 1..=40 {
        let net = namespace_loss_net(seed);
        let config = scan("198.18.0.2-4", "1-2000,5000-5099")
            .seed(seed)
            .workers(2)
            .retries(4);
        let report = run(config, &net);
        for r in report.ports() {
            let target = r.socket_addr();
            let attempts = report.attempts[&target];
            assert!(attempts <= 5, "{target}: {attempts} attempts");
            match (truth(&net, target), r.state) {
                (PortState::Filtered, got) => assert_eq!(got, PortState::Filtered, "{target}"),
                (want, got) if want == got => {}
                (PortState::Closed, PortState::Filtered) => {
                    assert_eq!(attempts, 5, "{target} misread after {attempts} attempts");
                    misread += 1;
                }
                (want, got) => panic!("{target}: {got:?} instead of {want:?}"),
            }
        }
        expected += 3.0 * 1997.0 * P.powi(5);
    }
    let ratio = f64::from(misread) / expected;
    assert!(
        (0.6..1.6).contains(&ratio),
        "{misread} closed ports misread, {expected:.1} expected from p⁵"
    );
}

/// Regression (issue 17): the full scan of `namespace_loss.rs` (3 × 8100 ports, p = 0.1925,
/// default retries). Under the old budget of 0.001 the rule gave a silent port 10 attempts
/// (`8100 · P(10) ≤ 0.001`), so `3 · 8100 · 0.1925¹⁰ ≈ 0.0017` closed ports were misread per
/// scan, which one stability run in ten hit. Under `MISS_BUDGET` = 0.0001 it reaches the
/// maximum, 11 (10 now and then, when a port's last timeout comes while the estimate still
/// lags the losses of ports under way): `3 · 8100 · 0.1925¹¹ ≈ 0.0003` a scan.
#[test]
fn the_namespace_loss_full_scan_gives_silent_ports_the_maximum() {
    let net = namespace_loss_net(1);
    let config = scan("198.18.0.2-4", "1-8000,40000-40099").workers(2);
    let report = run(config, &net);
    let hosts = ["198.18.0.2", "198.18.0.3", "198.18.0.4"];
    assert_exact(&report, &net, &hosts, "1-8000,40000-40099", "p 0.1925");
    for host in hosts {
        let silent = attempts_of(&report, &net, host, PortState::Filtered);
        assert_eq!(silent.len(), 100);
        assert!(silent.iter().all(|&n| (10..=11).contains(&n)), "{silent:?}");
        let eleven = silent.iter().filter(|&&n| n == 11).count();
        assert!(
            eleven >= 80,
            "{host}: {eleven} of 100 silent ports got 11 attempts"
        );
    }
}
