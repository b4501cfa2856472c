//! Dropping a scan stops it: in-flight probes are cancelled, their sockets closed, and no
//! worker thread is left behind.
//!
//! Loopback only. Probes that hang without root: a listener whose accept queue is full drops
//! every further SYN (Linux `tcp_conn_request`), so a connect to it waits for its timeout.
//! This file holds this one test, so that the process's thread and descriptor counts are not
//! disturbed by other tests running at the same time.

mod support;

use std::time::Duration;

use support::{config, eventually, open_fds, silent, threads_named, Silent};

use portscout::scan::{Engine, Scan};

#[test]
fn dropping_a_scan_closes_its_sockets_and_ends_its_workers() {
    // Fewer than a host's first congestion window (32): all of them are in flight at once.
    const PROBES: usize = 24;
    let silent: Vec<Silent> = (0..PROBES).map(|_| silent()).collect();
    let spec = silent
        .iter()
        .map(|s| s.port.to_string())
        .collect::<Vec<_>>()
        .join(",");
    // With a 300 s timeout, nothing but the drop can end these probes within the test. The
    // waits below (60 s each, for a loaded machine) only tell the drop from that timeout:
    // they assert no speed.
    let timeout = Duration::from_secs(300);
    let limit = Duration::from_secs(60);
    for engine in [Engine::Threads, Engine::Async, Engine::Sharded] {
        let fds_before = open_fds();
        assert_eq!(
            threads_named("portscout-w"),
            0,
            "{engine}: workers left from before"
        );
        let scan = Scan::start(&config(engine, &spec, timeout)).unwrap();
        assert!(
            eventually(limit, || open_fds() >= fds_before + PROBES),
            "{engine}: the probes never got under way ({} fds, {} before)",
            open_fds(),
            fds_before
        );
        drop(scan);
        assert!(
            eventually(limit, || threads_named("portscout-w") == 0),
            "{engine}: {} workers still running {limit:?} after the drop",
            threads_named("portscout-w")
        );
        assert!(
            eventually(limit, || open_fds() <= fds_before),
            "{engine}: {} descriptors open {limit:?} after the drop, {fds_before} before",
            open_fds()
        );
    }
}
