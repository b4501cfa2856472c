//! A scan consumed as a `Stream` gives the same results as the blocking `Iterator`, on every
//! engine. Loopback only.

mod support;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use futures_util::StreamExt;
use portscout::scan::{Engine, Scan};
use portscout::PortState;
use support::{config, silent};

#[test]
fn a_scan_is_a_stream_with_the_same_results_as_the_iterator() {
    let held: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let open: BTreeSet<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let quiet = silent();
    let spec = open
        .iter()
        .chain([&quiet.port])
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for engine in [Engine::Threads, Engine::Async, Engine::Sharded] {
        let config = config(engine, &spec, Duration::from_millis(300));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let streamed: Vec<_> = runtime.block_on(async {
            let space = config.probe_space().await.unwrap();
            let scan = Scan::with_space(&config, space).unwrap();
            scan.into_stream()
                .filter_map(|e| async move { e.unwrap().port().cloned() })
                .collect()
                .await
        });
        let iterated: Vec<_> =
            Iterator::collect::<Result<_, _>>(Scan::start(&config).unwrap().ports()).unwrap();
        let summary = |results: &[portscout::PortResult]| {
            results
                .iter()
                .map(|r| (r.port, r.state))
                .collect::<BTreeSet<_>>()
        };
        let mut want: BTreeSet<_> = open.iter().map(|&p| (p, PortState::Open)).collect();
        want.insert((quiet.port, PortState::Filtered));
        assert_eq!(summary(&streamed), want, "{engine}: stream");
        assert_eq!(summary(&iterated), want, "{engine}: iterator");
    }
}

#[test]
fn starting_a_blocking_scan_inside_a_runtime_is_an_error_not_a_panic() {
    let config = config(Engine::Auto, "1", Duration::from_millis(300));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async { Scan::start(&config).map(|_| ()) });
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains("with_space"), "{err}");
}
