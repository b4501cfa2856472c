//! Banners (`ScanConfigBuilder::banners`) through a whole scan, on every engine: open ports
//! get what their service said, nothing else changes, other results are not held back, and a
//! pause loses nothing. Loopback only, at services the test owns.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use portscout::banner::BannerOptions;
use portscout::ports::PortSet;
use portscout::scan::{Engine, Scan, ScanConfig};
use portscout::target::Target;
use portscout::{Banner, PortResult, PortState, Reason};
use support::{closed_port, eventually, service, Behaviour};

const ENGINES: [Engine; 3] = [Engine::Threads, Engine::Async, Engine::Sharded];

fn builder(engine: Engine, ports: &str) -> portscout::scan::ScanConfigBuilder {
    ScanConfig::builder()
        .engine(engine)
        .targets([Target::parse("127.0.0.1").unwrap()])
        .ports(PortSet::parse(ports).unwrap())
        .timeout(Duration::from_millis(500))
        .retries(0)
}

fn by_port(results: Vec<PortResult>) -> BTreeMap<u16, PortResult> {
    let mut map = BTreeMap::new();
    for r in results {
        let port = r.port;
        assert!(map.insert(port, r).is_none(), "{port} reported twice");
    }
    map
}

#[test]
fn open_ports_get_their_banners_and_nothing_else_changes() {
    let greeting = b"SSH-2.0-OpenSSH_9.6 portscout-test\r\n".to_vec();
    let hostile = b"\x1b]0;pwned\x07\xff login:".to_vec();
    let ssh = service(Behaviour::Greet(greeting.clone()));
    let evil = service(Behaviour::Greet(hostile.clone()));
    let quiet = service(Behaviour::Silent);
    let (_closed_socket, closed) = closed_port();
    let spec = format!("{},{},{},{closed}", ssh.port, evil.port, quiet.port);
    for engine in ENGINES {
        let options = BannerOptions::default().with_timeout(Duration::from_millis(400));
        let config = builder(engine, &spec).banners(options).build().unwrap();
        let results = by_port(
            Scan::start(&config)
                .unwrap()
                .ports()
                .collect::<Result<_, _>>()
                .unwrap(),
        );
        assert_eq!(results.len(), 4, "{engine}");
        let open = |port: u16, banner: Option<&[u8]>| {
            let r = &results[&port];
            assert_eq!(
                (r.state, r.reason),
                (PortState::Open, Reason::SynAck),
                "{engine}: {port}"
            );
            assert!(r.rtt.is_some(), "{engine}: {port}");
            assert_eq!(r.banner, banner.map(Banner::new), "{engine}: {port}");
        };
        open(ssh.port, Some(&greeting));
        open(evil.port, Some(&hostile));
        // A silent service stays open, without a banner.
        open(quiet.port, None);
        let r = &results[&closed];
        assert_eq!(
            (r.state, r.reason),
            (PortState::Closed, Reason::ConnRefused)
        );
        assert_eq!(r.banner, None);

        // Without banners: the same states, and no banner anywhere.
        let plain = builder(engine, &spec).build().unwrap();
        let results = by_port(
            Scan::start(&plain)
                .unwrap()
                .ports()
                .collect::<Result<_, _>>()
                .unwrap(),
        );
        assert!(results.values().all(|r| r.banner.is_none()), "{engine}");
        assert_eq!(results[&ssh.port].state, PortState::Open);
    }
}

/// Results that need no grab come out at once: a silent open port waiting for its grab holds
/// back nothing else. Every closed port comes out before the open port's grab (up to 120 s)
/// is over: its connection is open at the service after them.
#[test]
fn other_results_are_not_held_back_by_a_grab() {
    let quiet = service(Behaviour::Silent);
    let held: Vec<_> = (0..20).map(|_| closed_port()).collect();
    let closed: Vec<u16> = held.iter().map(|(_, port)| *port).collect();
    let spec = std::iter::once(quiet.port)
        .chain(closed.iter().copied())
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let grab = Duration::from_secs(120);
    for engine in ENGINES {
        let options = BannerOptions::default().with_timeout(grab);
        let config = builder(engine, &spec).banners(options).build().unwrap();
        let mut ports = Scan::start(&config).unwrap().ports();
        for _ in &closed {
            let r = ports.next().expect("a result").unwrap();
            assert_eq!(r.state, PortState::Closed, "{engine}: {r:?}");
        }
        // Had they waited for the grab, its connection would be closed by now.
        assert!(
            eventually(Duration::from_secs(30), || quiet
                .live
                .load(Ordering::SeqCst)
                >= 1),
            "{engine}: the closed ports came out only once the grab was over"
        );
        // Dropping the scan ends the grab.
        drop(ports);
    }
}

/// A pause with grabs in flight: they finish, every port is reported exactly once over the
/// paused and the resumed run, every open port with its banner, and the checkpoint is exact.
#[test]
fn a_pause_loses_no_result_and_no_banner() {
    let speakers: Vec<_> = (0..6)
        .map(|k| {
            service(Behaviour::Greet(
                format!("220 service {k}\r\n").into_bytes(),
            ))
        })
        .collect();
    let spec = format!(
        "1-3000,{}",
        speakers
            .iter()
            .map(|s| s.port.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let total = PortSet::parse(&spec).unwrap().len() as usize;
    let config = |engine| {
        ScanConfig::builder()
            .engine(engine)
            .targets([Target::parse("127.0.0.1").unwrap()])
            .ports(PortSet::parse(&spec).unwrap())
            .seed(5)
            .rate(4000)
            .banners(BannerOptions::default())
    };
    for engine in ENGINES {
        let mut seen: BTreeMap<u16, PortResult> = BTreeMap::new();
        let mut scan = Scan::start(&config(engine).build().unwrap()).unwrap();
        let pauser = scan.pauser();
        for (k, event) in scan.by_ref().enumerate() {
            let r = event.unwrap().port().unwrap().clone();
            if k == 400 {
                pauser.pause();
            }
            assert!(seen.insert(r.port, r).is_none(), "{engine}: twice");
        }
        let checkpoint = scan.checkpoint().expect("paused").clone();
        let before = seen.len();
        assert!(before < total, "{engine}: the pause came too late");
        assert_eq!(checkpoint.remaining() as usize, total - before, "{engine}");
        let resumed = config(engine).resume(checkpoint).build().unwrap();
        for event in Scan::start(&resumed).unwrap() {
            let r = event.unwrap().port().unwrap().clone();
            let port = r.port;
            assert!(seen.insert(port, r).is_none(), "{engine}: {port} twice");
        }
        assert_eq!(seen.len(), total, "{engine}: every port once");
        for (k, s) in speakers.iter().enumerate() {
            let r = &seen[&s.port];
            assert_eq!(r.state, PortState::Open, "{engine}");
            assert_eq!(
                r.banner,
                Some(Banner::new(format!("220 service {k}\r\n").into_bytes())),
                "{engine}: {}",
                s.port
            );
        }
    }
}

/// The stream form goes through the same stage.
#[test]
fn the_stream_gets_banners_too() {
    let greeting = b"+OK POP3 ready\r\n".to_vec();
    let pop = service(Behaviour::Greet(greeting.clone()));
    let config = builder(Engine::Sharded, &pop.port.to_string())
        .banners(BannerOptions::default())
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results: Vec<PortResult> = runtime.block_on(async {
        use futures_util::StreamExt;
        let space = config.probe_space().await.unwrap();
        Scan::with_space(&config, space)
            .unwrap()
            .into_stream()
            .filter_map(|e| async move { e.unwrap().port().cloned() })
            .collect()
            .await
    });
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].banner, Some(Banner::new(greeting)));
}
