//! Pausing a scan and resuming it from its checkpoint, on every engine: the two runs report
//! every port exactly once. Loopback only, at listeners the test owns.

use std::collections::BTreeMap;
use std::net::TcpListener;

use portscout::ports::PortSet;
use portscout::scan::{Engine, Scan, ScanConfig};
use portscout::target::Target;
use portscout::PortState;

fn config(engine: Engine, ports: &PortSet) -> portscout::scan::ScanConfigBuilder {
    ScanConfig::builder()
        .engine(engine)
        .targets([Target::parse("127.0.0.1").unwrap()])
        .ports(ports.clone())
        .seed(3)
        // Slow enough that the pause lands mid-scan.
        .rate(4000)
}

#[test]
fn pause_and_resume_report_every_port_once() {
    let held: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let open: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let spec = format!(
        "1-3000,{}",
        open.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let ports = PortSet::parse(&spec).unwrap();
    let total = ports.len() as usize;
    for engine in [Engine::Async, Engine::Sharded, Engine::Threads] {
        let mut seen: BTreeMap<u16, PortState> = BTreeMap::new();
        let mut scan = Scan::start(&config(engine, &ports).build().unwrap()).unwrap();
        let pauser = scan.pauser();
        let progress = scan.progress();
        assert_eq!(progress.total(), total as u64);
        for (k, event) in scan.by_ref().enumerate() {
            let r = event.unwrap().port().unwrap().clone();
            assert!(
                seen.insert(r.port, r.state).is_none(),
                "{engine}: {} twice",
                r.port
            );
            if k == 100 {
                pauser.pause();
            }
        }
        let checkpoint = scan
            .checkpoint()
            .expect("a paused scan leaves a checkpoint")
            .clone();
        let before = seen.len();
        assert!(
            before < total,
            "{engine}: the pause came too late ({before})"
        );
        assert_eq!(
            checkpoint.remaining() as usize,
            total - before,
            "{engine}: the checkpoint leaves what was not reported"
        );
        assert_eq!(
            progress.done() as usize,
            before,
            "{engine}: done is what was reported"
        );
        let lo = "127.0.0.1".parse::<std::net::IpAddr>().unwrap();
        assert_eq!(checkpoint.up, vec![(lo, lo)]);

        let left = checkpoint.remaining();
        let resumed = config(engine, &ports).resume(checkpoint).build().unwrap();
        let mut scan = Scan::start(&resumed).unwrap();
        let progress = scan.progress();
        assert_eq!(
            progress.total(),
            left,
            "{engine}: a resumed run's total is what was left"
        );
        for event in scan.by_ref() {
            let r = event.unwrap().port().unwrap().clone();
            assert!(
                seen.insert(r.port, r.state).is_none(),
                "{engine}: {} twice",
                r.port
            );
        }
        assert_eq!(seen.len(), total, "{engine}: every port once");
        assert_eq!(
            progress.done(),
            left,
            "{engine}: the resumed run did all it had"
        );
        for port in &open {
            assert_eq!(seen[port], PortState::Open, "{engine}: {port}");
        }
    }
}

#[test]
fn a_checkpoint_does_not_fit_another_scan() {
    let ports = PortSet::parse("1-2000").unwrap();
    let mut scan = Scan::start(&config(Engine::Async, &ports).build().unwrap()).unwrap();
    scan.pauser().pause();
    for event in scan.by_ref() {
        event.unwrap();
    }
    let checkpoint = scan.checkpoint().unwrap().clone();
    let other = config(Engine::Async, &PortSet::parse("1-1999").unwrap())
        .resume(checkpoint.clone())
        .build()
        .unwrap();
    assert!(matches!(
        Scan::start(&other),
        Err(portscout::Error::BadResume(_))
    ));
    let reseeded = config(Engine::Async, &ports)
        .seed(4)
        .resume(checkpoint)
        .build();
    assert!(matches!(reseeded, Err(portscout::Error::BadResume(_))));
}

/// Issue 17: this test once failed under a CPU hog with "threads: the pause came too late
/// (3004)". The threads engine handed a thread's results over only when its batch of 256 was
/// full or the thread ended, and under `--rate` a thread sleeps between probes without
/// handing anything over: the scan's results came at its end, and a pause after the 500th
/// result landed after the last probe. Now a thread hands over what it found before it waits
/// for the rate: the first result comes while most of the scan is still to do.
#[test]
fn a_rate_limited_threads_scan_hands_results_over_as_it_goes() {
    let ports = PortSet::parse("1-4000").unwrap();
    // 2000 probes a second: about 2 s in all, 64 threads with about 62 probes each.
    let config = ScanConfig::builder()
        .engine(Engine::Threads)
        .targets([Target::parse("127.0.0.1").unwrap()])
        .ports(ports)
        .rate(2000)
        .build()
        .unwrap();
    let mut scan = Scan::start(&config).unwrap();
    let progress = scan.progress();
    let first = scan.next().expect("a result");
    let done = progress.done();
    drop(first);
    drop(scan);
    assert!(
        done < progress.total() / 2,
        "the first result came once {done} of {} probes were done",
        progress.total()
    );
}
