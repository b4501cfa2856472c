//! Service detection (`ScanConfigBuilder::service_version`) through a whole scan, on every
//! engine: each open port comes out once, with what runs there; closed ports have no service
//! and are not held back; with banners too, an open port gets both. Loopback only, at
//! services the test owns.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use portscout::banner::BannerOptions;
use portscout::ports::PortSet;
use portscout::scan::{Engine, Scan, ScanConfig};
use portscout::service::{DetectOptions, Method};
use portscout::target::Target;
use portscout::{PortResult, PortState};
use support::{busy_daemon, closed_port, service, Behaviour};

const ENGINES: [Engine; 3] = [Engine::Threads, Engine::Async, Engine::Sharded];

/// Short waits: a silent port is given up after about a second.
fn quick() -> DetectOptions {
    DetectOptions {
        greeting_wait: Duration::from_millis(300),
        short_wait: Duration::from_millis(100),
        probe_wait: Duration::from_millis(300),
        budget: Duration::from_secs(3),
        ..DetectOptions::default()
    }
}

#[test]
fn each_open_port_comes_out_once_with_its_service() {
    let greeting = b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n".to_vec();
    let ssh = service(Behaviour::Greet(greeting.clone()));
    let quiet = service(Behaviour::Silent);
    let (_closed_socket, closed) = closed_port();
    let spec = format!("{},{},{closed}", ssh.port, quiet.port);
    for engine in ENGINES {
        for banners in [false, true] {
            let mut builder = ScanConfig::builder()
                .engine(engine)
                .targets([Target::parse("127.0.0.1").unwrap()])
                .ports(PortSet::parse(&spec).unwrap())
                .timeout(Duration::from_millis(500))
                .retries(0)
                .service_version(quick());
            if banners {
                builder = builder.banners(BannerOptions::default());
            }
            let results: Vec<PortResult> = Scan::start(&builder.build().unwrap())
                .unwrap()
                .ports()
                .collect::<Result<_, _>>()
                .unwrap();
            let what = format!("{engine}, banners {banners}");
            let mut by_port = BTreeMap::new();
            for r in &results {
                assert!(by_port.insert(r.port, r).is_none(), "{what}: {r:?} twice");
            }
            assert_eq!(by_port.len(), 3, "{what}");
            // The closed port is not held back by the detections.
            assert_eq!(results[0].port, closed, "{what}: {results:?}");
            assert_eq!(by_port[&closed].state, PortState::Closed);
            assert_eq!(by_port[&closed].service, None, "{what}");

            let s = by_port[&ssh.port].service.as_deref().expect("a service");
            assert_eq!(by_port[&ssh.port].state, PortState::Open);
            assert_eq!(
                (s.name.as_str(), s.product.as_deref(), s.version.as_deref()),
                ("ssh", Some("OpenSSH"), Some("9.6p1 Debian 3")),
                "{what}"
            );
            assert_eq!((s.method, s.confidence), (Method::Probed, 10), "{what}");
            assert_eq!(
                by_port[&ssh.port]
                    .banner
                    .as_ref()
                    .map(|b| b.as_bytes().to_vec()),
                banners.then(|| greeting.clone()),
                "{what}"
            );
            // A silent port stays open: nothing recognised, a guess from the table.
            let q = by_port[&quiet.port].service.as_deref().expect("a service");
            assert_eq!(q.method, Method::Table, "{what}: {q:?}");
        }
    }
}

/// One daemon serves many addresses (AnyIP, a load balancer) and stops accepting while it
/// holds 8 connections (as Dovecot does at its login process limit); its backlog is 4.
/// Detections of its port on the first addresses found must not fill its accept queue while
/// the scan still probes the same port on the others: a SYN dropped there would be read as
/// `filtered`. 64 loopback addresses × 25 ports, slowed to about 2 s by `--rate`, so the
/// daemon's port is probed on some addresses while it is detected on others.
#[test]
fn detections_never_starve_the_probes_of_a_daemon_many_addresses_share() {
    let daemon = busy_daemon(Behaviour::Silent, 8, 4);
    let closed: Vec<_> = (0..24).map(|_| closed_port()).collect();
    let spec = std::iter::once(daemon.port)
        .chain(closed.iter().map(|(_, p)| *p))
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let config = ScanConfig::builder()
        .targets([Target::parse("127.0.0.1-64").unwrap()])
        .ports(PortSet::parse(&spec).unwrap())
        .rate(800)
        .service_version(quick())
        .build()
        .unwrap();
    let results: Vec<PortResult> = Scan::start(&config)
        .unwrap()
        .ports()
        .collect::<Result<_, _>>()
        .unwrap();
    let daemon_ports: Vec<&PortResult> = results.iter().filter(|r| r.port == daemon.port).collect();
    assert_eq!(daemon_ports.len(), 64, "{daemon_ports:?}");
    let not_open: Vec<String> = daemon_ports
        .iter()
        .filter(|r| r.state != PortState::Open)
        .map(|r| format!("{} {:?} {:?}", r.ip, r.state, r.reason))
        .collect();
    assert!(
        not_open.is_empty(),
        "{} of 64 addresses read the shared daemon's port as not open: {not_open:?}",
        not_open.len()
    );
    assert!(daemon_ports.iter().all(|r| r.service.is_some()));
}
