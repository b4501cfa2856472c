//! Scans of this machine's loopback (v4 and v6) against listeners the test owns.
//! Loopback only: nothing else is ever scanned here.

// Written once for the whole workspace, in the command's test support.
#[path = "../../portscout-cli/tests/support/skip.rs"]
mod skip;
mod support;

use std::collections::BTreeSet;
use std::net::{IpAddr, TcpListener};
use std::time::Duration;

use portscout::ports::PortSet;
use portscout::scan::{Scan, ScanConfig};
use portscout::target::Target;
use portscout::PortState;

/// Binds `n` listeners on `ip` (kernel-chosen ports) and returns them with a closed port: a
/// socket bound and never listening, which holds the port until it is dropped (a port
/// released at once could be taken by a test running beside this one).
fn listeners(ip: &str, n: usize) -> Option<(Vec<TcpListener>, (socket2::Socket, u16))> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(TcpListener::bind((ip, 0)).ok()?);
    }
    Some((held, support::closed_port_on(ip)))
}

fn scan(ip: &str, ports: &PortSet) -> Vec<portscout::PortResult> {
    let config = ScanConfig::builder()
        .targets([Target::parse(ip).unwrap()])
        .ports(ports.clone())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    Scan::start(&config)
        .unwrap()
        .ports()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn check_exact(ip: &str) {
    let Some((held, (_closed_socket, closed))) = listeners(ip, 5) else {
        skip::skip(&format!(
            "cannot bind listeners on {ip} (no such loopback here)"
        ));
        return;
    };
    let open: BTreeSet<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let spec = open
        .iter()
        .chain([&closed])
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let ports = PortSet::parse(&spec).unwrap();
    let results = scan(ip, &ports);

    assert_eq!(
        results.len(),
        open.len() + 1,
        "one result per probed port: {results:?}"
    );
    let found: BTreeSet<u16> = results
        .iter()
        .filter(|r| r.state == PortState::Open)
        .map(|r| r.port)
        .collect();
    assert_eq!(found, open, "open ports differ");
    let closed_result = results.iter().find(|r| r.port == closed).unwrap();
    assert_eq!(closed_result.state, PortState::Closed);
    let ip: IpAddr = ip.parse().unwrap();
    assert!(results.iter().all(|r| r.ip == ip));
}

#[test]
fn exact_open_set_on_ipv4_loopback() {
    check_exact("127.0.0.1");
}

#[test]
fn exact_open_set_on_ipv6_loopback() {
    check_exact("::1");
}

#[test]
fn dropping_the_scan_stops_it() {
    let config = ScanConfig::builder()
        .targets([Target::parse("127.0.0.1").unwrap()])
        .ports(PortSet::all())
        .build()
        .unwrap();
    let mut scan = Scan::start(&config).unwrap();
    let first = scan.next().unwrap().unwrap().port().unwrap().clone();
    assert_eq!(first.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
    drop(scan);
    // The workers exit on their own; nothing to join. A new scan still works at once.
    let ports = PortSet::parse("1").unwrap();
    assert_eq!(scan_once(&ports), 1);
}

fn scan_once(ports: &PortSet) -> usize {
    scan("127.0.0.1", ports).len()
}

/// `Scan::progress`: a shard's total is its share, and done reaches it once every result is
/// read, on every engine. (Down hosts, retries and pauses: `scan::hosts` unit tests and
/// `pause.rs`.)
#[test]
fn progress_counts_a_shard_to_its_end() {
    use portscout::scan::{Engine, Shard};
    let ports = PortSet::parse("1-3000").unwrap();
    for engine in [Engine::Async, Engine::Sharded, Engine::Threads] {
        let config = ScanConfig::builder()
            .engine(engine)
            .targets([Target::parse("127.0.0.1").unwrap()])
            .ports(ports.clone())
            .seed(5)
            .shard(Shard::new(2, 3).unwrap())
            .build()
            .unwrap();
        let mut scan = Scan::start(&config).unwrap();
        let progress = scan.progress();
        assert_eq!(progress.total(), 1000, "{engine}: the shard's share");
        let results = scan.by_ref().count() as u64;
        assert_eq!(results, 1000, "{engine}");
        assert_eq!(
            progress.done(),
            1000,
            "{engine}: done when the last result is read"
        );
    }
}
