//! Dropping a scan with banner grabs in progress closes their sockets and ends the banner
//! thread; without banners there is no such thread. Loopback only, at services the test owns.
//! This file holds this one test, so that the process's thread and descriptor counts are not
//! disturbed by other tests running at the same time.

mod support;

use std::sync::atomic::Ordering;
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

/// Whether no service has a connection open (its end of every connection is closed).
fn all_closed(services: &[Service]) -> bool {
    services.iter().all(|s| s.live.load(Ordering::SeqCst) == 0)
}

/// The services' ports, comma-separated.
fn ports_of(services: &[Service]) -> String {
    services
        .iter()
        .map(|s| s.port.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Issue 17: this test once failed with "sharded: the grabs never got under way (59 fds, 32
/// before)". A test bug: the descriptor count "before" was read while the services still
/// held their ends of the previous scan's connections (closed a moment later, on a loaded
/// machine), so the count the grabs had to reach was too high by as many. Made deterministic
/// by services that keep each end open 300 ms after their client closed, and by waiting for
/// them to close before the banner scan starts, the old reading failed every time ("threads:
/// the grabs never got under way (75 fds, 72 before)"). Now every count is read once the
/// services say their connections are closed, and the grabs are seen at the services.
#[test]
fn dropping_a_scan_ends_its_grabs_and_the_banner_thread() {
    const SERVICES: usize = 16;
    const LIMIT: Duration = Duration::from_secs(30);
    // Open ports whose services never speak: with a 60 s grab timeout, only the drop can
    // end their grabs within the test.
    let services: Vec<Service> = (0..SERVICES).map(|_| service(Behaviour::Silent)).collect();
    let spec = ports_of(&services);
    // The scans without banners probe services slow to close their ends.
    let slow: Vec<Service> = (0..SERVICES)
        .map(|_| service(Behaviour::Linger(Duration::from_millis(300))))
        .collect();
    let filtered = silent();
    let with_filtered = format!("{},{}", ports_of(&slow), filtered.port);
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
        assert!(eventually(LIMIT, || threads_named("portscout-") == 0));
        assert!(
            eventually(LIMIT, || all_closed(&slow) && all_closed(&services)),
            "{engine}: the services still hold connections of the scan without banners"
        );

        let fds_before = open_fds();
        let with = builder(engine, &spec)
            .banners(BannerOptions::default().with_timeout(Duration::from_secs(60)))
            .build()
            .unwrap();
        let scan = Scan::start(&with).unwrap();
        assert!(
            eventually(LIMIT, || threads_named("portscout-grabs") == 1),
            "{engine}: no banner thread"
        );
        // Every grab connected: each service holds a connection, and the grab's socket and
        // the service's end of it are open here.
        assert!(
            eventually(LIMIT, || services
                .iter()
                .all(|s| s.live.load(Ordering::SeqCst) >= 1)
                && open_fds() >= fds_before + 2 * SERVICES),
            "{engine}: the grabs never got under way ({} fds, {fds_before} before)",
            open_fds()
        );
        drop(scan);
        assert!(
            eventually(LIMIT, || threads_named("portscout-") == 0),
            "{engine}: {} scan threads still running {LIMIT:?} after the drop",
            threads_named("portscout-")
        );
        // The grabs' sockets are closed, so the services saw the end and closed theirs.
        assert!(
            eventually(LIMIT, || all_closed(&services) && open_fds() <= fds_before),
            "{engine}: {} descriptors open {LIMIT:?} after the drop, {fds_before} before",
            open_fds()
        );
    }
}
