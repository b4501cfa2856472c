//! `Scan::drive`: a scan run end to end into a sink, which can stop it. Loopback only, at
//! listeners the test owns.

use std::io;
use std::net::TcpListener;

use portscout::output::{Sink, Tee};
use portscout::ports::PortSet;
use portscout::scan::{DriveOptions, Ending, Scan, ScanConfig};
use portscout::target::Target;
use portscout::{HostDown, PortResult, PortState, ScanInfo, Summary};

/// Counts what it is given; says stop after `stop_after` results.
#[derive(Default)]
struct Counter {
    begun: u32,
    results: u64,
    open: u64,
    ended: Option<Summary>,
    stop_after: Option<u64>,
}

impl Sink for Counter {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        assert_eq!(info.hosts, 1);
        self.begun += 1;
        Ok(())
    }

    fn result(&mut self, r: &PortResult) -> io::Result<bool> {
        self.results += 1;
        self.open += u64::from(r.state == PortState::Open);
        Ok(self.stop_after.is_none_or(|n| self.results < n))
    }

    fn host_down(&mut self, _: &HostDown) -> io::Result<()> {
        Ok(())
    }

    fn end(&mut self, summary: &Summary) -> io::Result<()> {
        self.ended = Some(summary.clone());
        Ok(())
    }
}

fn config(ports: &str) -> ScanConfig {
    ScanConfig::builder()
        .targets([Target::parse("127.0.0.1").unwrap()])
        .ports(PortSet::parse(ports).unwrap())
        .build()
        .unwrap()
}

#[test]
fn a_scan_runs_to_the_end_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sink = Counter::default();
    let scan = Scan::start(&config(&format!("1-200,{port}"))).unwrap();
    let driven = scan.drive(&mut sink, &DriveOptions::default()).unwrap();
    assert_eq!(driven.ending, Ending::Done);
    assert!(driven.stats.is_some());
    let s = driven.summary;
    assert_eq!(s.open + s.closed + s.filtered, 201);
    assert!(s.open >= 1);
    assert_eq!(sink.begun, 1);
    assert_eq!(sink.results, 201);
    assert_eq!(sink.ended, Some(s));
}

/// A sink that has seen enough stops the scan (one sink of a tee is enough), and is still
/// told the end; so does `max_open`.
#[test]
fn a_sink_or_max_open_stops_the_scan() {
    let mut sink = Counter {
        stop_after: Some(10),
        ..Counter::default()
    };
    let mut tee = Tee::new(vec![Box::new(Counter::default())]);
    tee.push(Box::new(Counter {
        stop_after: Some(10),
        ..Counter::default()
    }));
    let scan = Scan::start(&config("1-5000")).unwrap();
    let driven = scan.drive(&mut tee, &DriveOptions::default()).unwrap();
    assert_eq!(driven.ending, Ending::Stopped);
    let s = &driven.summary;
    assert_eq!(s.open + s.closed + s.filtered, 10);

    let scan = Scan::start(&config("1-5000")).unwrap();
    let driven = scan.drive(&mut sink, &DriveOptions::default()).unwrap();
    assert_eq!(driven.ending, Ending::Stopped);
    assert_eq!(sink.results, 10);
    assert!(sink.ended.is_some());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sink = Counter::default();
    let options = DriveOptions {
        max_open: Some(1),
        ..DriveOptions::default()
    };
    let scan = Scan::start(&config(&format!("{port},1-3000"))).unwrap();
    let driven = scan.drive(&mut sink, &options).unwrap();
    assert_eq!(sink.open, 1);
    assert_eq!(driven.summary.open, 1);
    assert_ne!(driven.ending, Ending::Done, "{:?}", driven.summary);
}

/// A paused scan ends with its checkpoint.
#[test]
fn a_paused_scan_ends_with_its_checkpoint() {
    let scan = Scan::start(&config("1-65535")).unwrap();
    scan.pauser().pause();
    let mut sink = Counter::default();
    let driven = scan.drive(&mut sink, &DriveOptions::default()).unwrap();
    let Ending::Paused(checkpoint) = driven.ending else {
        panic!("{:?}", driven.ending);
    };
    let s = driven.summary;
    assert_eq!(
        checkpoint.remaining() + s.open + s.closed + s.filtered,
        65535
    );
}

/// Keeps the names it is given: those of the targets (at `begin`) and the PTR names.
#[derive(Default)]
struct Names {
    given: std::collections::BTreeMap<std::net::IpAddr, String>,
    ptr: std::collections::BTreeMap<std::net::IpAddr, String>,
    ended: bool,
}

impl Sink for Names {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.given = info
            .names
            .iter()
            .map(|(ip, n)| (*ip, n.name.clone()))
            .collect();
        Ok(())
    }

    fn result(&mut self, _: &PortResult) -> io::Result<bool> {
        Ok(true)
    }

    fn host_down(&mut self, _: &HostDown) -> io::Result<()> {
        Ok(())
    }

    fn host_name(&mut self, ip: std::net::IpAddr, name: &str) -> io::Result<()> {
        assert!(!self.ended, "a name after the end");
        self.ptr.insert(ip, name.to_string());
        Ok(())
    }

    fn end(&mut self, _: &Summary) -> io::Result<()> {
        self.ended = true;
        Ok(())
    }
}

/// A lookup of the test's own (no resolver is asked): `n-<last octet>.test`, nothing for .3.
fn fake_lookup(ip: std::net::IpAddr) -> Option<String> {
    match ip {
        std::net::IpAddr::V4(a) if a.octets()[3] != 3 => Some(format!("n-{}.test", a.octets()[3])),
        _ => None,
    }
}

/// Issue 19: the name a target was given by reaches the sink at `begin`, and every host that
/// is up gets the PTR name its lookup found, before `end`; `ReverseDns::Never` (`-n`) looks
/// nothing up.
#[test]
fn drive_gives_the_sink_the_names_given_and_the_ptr_names() {
    use portscout::names::{NameOptions, ReverseDns};
    let run = |reverse_dns| {
        let config = ScanConfig::builder()
            .targets([
                Target::parse("localhost").unwrap(),
                Target::parse("127.0.0.2-3").unwrap(),
            ])
            .ports(PortSet::parse("1-20").unwrap())
            .names(NameOptions {
                reverse_dns,
                lookup: fake_lookup,
                ..NameOptions::default()
            })
            .build()
            .unwrap();
        let mut sink = Names::default();
        Scan::start(&config)
            .unwrap()
            .drive(&mut sink, &DriveOptions::default())
            .unwrap();
        sink
    };
    let up = run(ReverseDns::Up);
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(
        up.given.into_iter().collect::<Vec<_>>(),
        [(ip("127.0.0.1"), "localhost".to_string())]
    );
    assert_eq!(
        up.ptr.into_iter().collect::<Vec<_>>(),
        [
            (ip("127.0.0.1"), "n-1.test".to_string()),
            (ip("127.0.0.2"), "n-2.test".to_string())
        ]
    );
    let none = run(ReverseDns::Never);
    assert!(none.ptr.is_empty(), "{:?}", none.ptr);
    assert_eq!(none.given.len(), 1);
}
