//! Full loopback scans inside a fresh network namespace, checked against real listeners.
//!
//! Needs root (network namespaces); skips with a message otherwise, fails under CI.

use crate::support::{assert_port_set, require_root, Netns};
use std::collections::BTreeSet;

/// Spread over 1–65535, several inside the Linux ephemeral range 32768–60999, where a scanner
/// that connects to its own source port on loopback would invent open ports (TCP self-connect).
const LOOPBACK_PORTS: &[u16] = &[22, 80, 443, 8080, 31337, 40000, 45678, 55555, 60999, 65535];

fn expected(ports: &[u16]) -> BTreeSet<u16> {
    ports.iter().copied().collect()
}

/// Regression: five full scans in a row each report exactly the listener set as open.
#[test]
fn loopback_full_scan_exact_five_times() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("lo5");
    let listeners = ns.listen("127.0.0.1", LOOPBACK_PORTS);
    let want = listeners.ports();
    assert_eq!(want, expected(LOOPBACK_PORTS));
    for run in 1..=5 {
        let scan = ns.scan(&["127.0.0.1", "-p-", "--format", "ndjson"]);
        scan.assert_success();
        let open = scan.ports("127.0.0.1", "open");
        assert_port_set(
            &format!(
                "run {run}/5 of `portscout 127.0.0.1 -p-` ({:?})",
                scan.elapsed
            ),
            &open,
            &want,
        );
    }
}

/// The same full scan with only 128 file descriptors available.
#[test]
fn loopback_full_scan_exact_with_128_fds() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("lofd");
    let listeners = ns.listen("127.0.0.1", LOOPBACK_PORTS);
    let scan = ns.scan_with_nofile(128, &["127.0.0.1", "-p-", "--format", "ndjson"]);
    scan.assert_success();
    assert_port_set(
        "`ulimit -n 128; portscout 127.0.0.1 -p-`",
        &scan.ports("127.0.0.1", "open"),
        &listeners.ports(),
    );
}

/// 128 descriptors and a window of 1000: `socket()` fails with EMFILE throughout the scan.
/// Back-pressure, not "closed": still exactly the listeners.
#[test]
fn loopback_full_scan_exact_when_the_window_exceeds_descriptors() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("loemf");
    let listeners = ns.listen("127.0.0.1", LOOPBACK_PORTS);
    let scan = ns.scan_with_nofile(
        128,
        &[
            "127.0.0.1",
            "-p-",
            "--format",
            "ndjson",
            "--concurrency",
            "1000",
        ],
    );
    scan.assert_success();
    assert_port_set(
        "`ulimit -n 128; portscout 127.0.0.1 -p- --concurrency 1000`",
        &scan.ports("127.0.0.1", "open"),
        &listeners.ports(),
    );
}

/// IPv6 loopback: listeners on ::1, scan ::1 ports 1-5000.
#[test]
fn loopback_ipv6_scan_exact() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("lo6");
    let listeners = ns.listen("::1", &[1, 22, 80, 443, 2222, 4999, 5000]);
    // Ground truth outside the scanned range must not be reported.
    let _outside = ns.listen("::1", &[5001, 40000]);
    let scan = ns.scan(&["::1", "-p", "1-5000", "--format", "ndjson"]);
    scan.assert_success();
    assert_port_set(
        "`portscout ::1 -p 1-5000`",
        &scan.ports("::1", "open"),
        &listeners.ports(),
    );
    // And nothing for any other address.
    let stray: Vec<_> = scan
        .records()
        .into_iter()
        .filter(|(ip, _, _)| ip.to_string() != "::1")
        .collect();
    assert!(stray.is_empty(), "records for other addresses: {stray:?}");
}
