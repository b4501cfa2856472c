//! Scans across a veth pair between two namespaces (198.18.0.0/15 test addresses), with
//! nftables dropping a port range in the target namespace.
//!
//! Needs root and nft; skips with a message otherwise, fails under CI.

use crate::support::{assert_port_set, nft_drop_ports, require_nft, require_root, Netns, VethPair};
use std::collections::BTreeSet;

/// Listeners in the target namespace, inside and outside the ephemeral range.
const TARGET_PORTS: &[u16] = &[22, 80, 443, 8080, 31337, 45678, 65535];

/// Open ports exact, and the nft-dropped range 40000–41000 exactly filtered.
#[test]
fn veth_full_scan_open_and_filtered_exact() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("vscan");
    let target = Netns::new("vtgt");
    let _veth = VethPair::new(&scanner, &target, "198.18.11.1/24", "198.18.11.2/24");
    let listeners = target.listen("0.0.0.0", TARGET_PORTS);
    let _rules = nft_drop_ports(&target, 40000, 41000);

    let scan = scanner.scan(&[
        "198.18.11.2",
        "-p",
        "1-65535",
        "--format",
        "ndjson",
        "--show",
        "open,filtered",
        "--timeout",
        "500",
        "--retries",
        "1",
    ]);
    scan.assert_success();
    assert_port_set(
        "open ports of 198.18.11.2",
        &scan.ports("198.18.11.2", "open"),
        &listeners.ports(),
    );
    let want_filtered: BTreeSet<u16> = (40000..=41000).collect();
    assert_port_set(
        "filtered ports of 198.18.11.2",
        &scan.ports("198.18.11.2", "filtered"),
        &want_filtered,
    );
    let other: Vec<_> = scan
        .records()
        .into_iter()
        .filter(|(ip, _, st)| ip.to_string() != "198.18.11.2" || (st != "open" && st != "filtered"))
        .collect();
    assert!(other.is_empty(), "unexpected records: {other:?}");
}

/// An octet range target covers each host, and each host's open set is exact.
#[test]
fn veth_octet_range_exact_per_host() {
    if !require_root() {
        return;
    }
    let scanner = Netns::new("vrscan");
    let target = Netns::new("vrtgt");
    let veth = VethPair::new(&scanner, &target, "198.18.12.1/24", "198.18.12.2/24");
    veth.add_target_addr("198.18.12.3/24");
    let on2 = target.listen("198.18.12.2", &[22, 80, 1999]);
    let on3 = target.listen("198.18.12.3", &[1, 443, 2000]);
    // Listens on both addresses, so it is open on each host.
    let both = target.listen("0.0.0.0", &[1234]);
    // Outside the scanned range.
    let _outside = target.listen("0.0.0.0", &[2001, 8080]);

    let scan = scanner.scan(&[
        "198.18.12.2-3",
        "-p",
        "1-2000",
        "--format",
        "ndjson",
        "--timeout",
        "500",
    ]);
    scan.assert_success();
    let mut want2 = on2.ports();
    want2.extend(both.ports());
    let mut want3 = on3.ports();
    want3.extend(both.ports());
    assert_port_set(
        "open ports of 198.18.12.2",
        &scan.ports("198.18.12.2", "open"),
        &want2,
    );
    assert_port_set(
        "open ports of 198.18.12.3",
        &scan.ports("198.18.12.3", "open"),
        &want3,
    );
    let stray: Vec<_> = scan
        .records()
        .into_iter()
        .filter(|(ip, _, _)| {
            let s = ip.to_string();
            s != "198.18.12.2" && s != "198.18.12.3"
        })
        .collect();
    assert!(
        stray.is_empty(),
        "records for addresses not in the range: {stray:?}"
    );
}
