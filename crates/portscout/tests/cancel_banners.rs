//! Dropping a scan with banner grabs in progress closes their sockets and ends the banner
//! thread; without banners there is no such thread. Loopback only, at services the test owns.
//! This file holds this one test, so that the process's thread and descriptor counts are not
//! disturbed by other tests running at the same time.

mod support;

use std::time::Duration;

use portscout::banner::BannerOptions;
use portscout::ports::PortSet;
use portscout::scan::{Engine, Scan, ScanConfig, ScanConfigBuilder};
use portscout::target::Target;
use support::{eventually, open_fds, service, silent, threads_named, Behaviour, Service};

fn builder(engine: Engine, ports: &str) -> ScanConfigBuilder {
    ScanConfig::builder()
        .engine(engine)
        .targets([Target::parse("127.0.0.1").unwrap()])
        .ports(PortSet::parse(ports).unwrap())
        .timeout(Duration::from_secs(1))
        .retries(0)
}

#[test]
fn dropping_a_scan_ends_its_grabs_and_the_banner_thread() {
    const SERVICES: usize = 16;
    // Open ports whose services never speak: with a 60 s grab timeout, only the drop can
    // end their grabs within the test.
    let services: Vec<Service> = (0..SERVICES).map(|_| service(Behaviour::Silent)).collect();
    let spec = services
        .iter()
        .map(|s| s.port.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let filtered = silent();
    let with_filtered = format!("{spec},{}", filtered.port);
    for engine in [Engine::Threads, Engine::Async, Engine::Sharded] {
        // Without banners: no banner thread, while the workers wait for the filtered port.
        let plain = builder(engine, &with_filtered)
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let mut scan = Scan::start(&plain).unwrap();
        assert!(scan.next().is_some(), "{engine}");
        assert!(
            threads_named("portscout-w") > 0,
            "{engine}: the scan is over"
        );
        assert_eq!(
            threads_named("portscout-grabs"),
            0,
            "{engine}: a banner thread without banners"
        );
        drop(scan);
        assert!(eventually(Duration::from_secs(5), || threads_named(
            "portscout-"
        ) == 0));

        let fds_before = open_fds();
        let with = builder(engine, &spec)
            .banners(BannerOptions::default().with_timeout(Duration::from_secs(60)))
            .build()
            .unwrap();
        let scan = Scan::start(&with).unwrap();
        assert!(
            eventually(Duration::from_secs(5), || threads_named("portscout-grabs")
                == 1),
            "{engine}: no banner thread"
        );
        // Every grab connected: its socket and the service's end of it are open here.
        assert!(
            eventually(Duration::from_secs(10), || open_fds()
                >= fds_before + 2 * SERVICES),
            "{engine}: the grabs never got under way ({} fds, {fds_before} before)",
            open_fds()
        );
        drop(scan);
        assert!(
            eventually(Duration::from_secs(5), || threads_named("portscout-") == 0),
            "{engine}: {} scan threads still running 5 s after the drop",
            threads_named("portscout-")
        );
        // The grabs' sockets are closed, so the services saw the end and closed theirs.
        assert!(
            eventually(Duration::from_secs(5), || open_fds() <= fds_before),
            "{engine}: {} descriptors open 5 s after the drop, {fds_before} before",
            open_fds()
        );
    }
}
