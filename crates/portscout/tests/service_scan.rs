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
use support::{service, Behaviour};

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

/// A port that refuses connections for as long as the returned socket lives: bound, never
/// listening. Binding and dropping a listener would hand back a port of the ephemeral range
/// that anything on the machine may take meanwhile (a fresh-clone run beside another test
/// suite saw one of them open); a bound port is taken by no other socket.
fn closed_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (socket, port)
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
