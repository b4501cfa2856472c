//! Every engine against the same fixtures, compared port by port with the ground truth:
//! listeners are open, nft-dropped ports are filtered, every other port is closed.
//!
//! Needs root (network namespaces) and nft; skips with a message otherwise, fails under CI.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::support::{nft_drop_ports, require_nft, require_root, Netns, ScanRun, VethPair};

const ENGINES: &[&str] = &["threads", "async", "sharded", "auto"];

/// Spread over 1–65535, several inside the ephemeral range (self-connections).
const LOOPBACK_PORTS: &[u16] = &[22, 80, 443, 8080, 31337, 40000, 45678, 55555, 60999, 65535];
const VETH_PORTS: &[u16] = &[22, 80, 443, 8080, 31337, 45678, 65535];

type States = BTreeMap<u16, String>;

fn truth(open: &[u16], filtered: &[u16]) -> States {
    (1..=65535u16)
        .map(|p| {
            let state = if open.contains(&p) {
                "open"
            } else if filtered.contains(&p) {
                "filtered"
            } else {
                "closed"
            };
            (p, state.to_owned())
        })
        .collect()
}

/// The state of every port of `ip` in the run, failing on a port reported twice or another
/// address.
fn states(run: &ScanRun, ip: &str) -> States {
    let ip: IpAddr = ip.parse().unwrap();
    let mut states = States::new();
    for (addr, port, state) in run.records() {
        assert_eq!(addr, ip, "a record for another address: {addr}:{port}");
        if let Some(before) = states.insert(port, state.clone()) {
            panic!("port {port} reported twice: {before}, then {state}");
        }
    }
    states
}

#[track_caller]
fn assert_states(what: &str, got: &States, want: &States) {
    let wrong: Vec<String> = want
        .iter()
        .filter(|(p, s)| got.get(p) != Some(s))
        .map(|(p, s)| format!("{p}: want {s}, got {:?}", got.get(p)))
        .collect();
    let extra = got.keys().filter(|p| !want.contains_key(p)).count();
    assert!(
        wrong.is_empty() && extra == 0,
        "{what}: {} ports wrong, {extra} unexpected; first: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );
}

/// Runs `scan` once per engine (it gets the `--engine` arguments to add) and compares every
/// port of `ip` with `want`.
fn each_engine_matches(what: &str, ip: &str, want: &States, scan: impl Fn(&[&str]) -> ScanRun) {
    for engine in ENGINES {
        let run = scan(&["--engine", engine]);
        run.assert_success();
        assert_states(
            &format!("--engine {engine}, {what}"),
            &states(&run, ip),
            want,
        );
    }
}

/// The arguments every run here shares: the full range, every state, as ndjson.
fn full_scan<'a>(target: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![target, "-p-", "--format", "ndjson", "--show", "all"];
    args.extend_from_slice(extra);
    args
}

/// Every engine, full range on namespace loopback: identical to the ground truth.
#[test]
fn every_engine_is_exact_on_loopback() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("eng-lo");
    let _listeners = ns.listen("127.0.0.1", LOOPBACK_PORTS);
    let want = truth(LOOPBACK_PORTS, &[]);
    each_engine_matches("127.0.0.1 -p-", "127.0.0.1", &want, |engine| {
        ns.scan(&full_scan("127.0.0.1", engine))
    });
}

/// Every engine across a veth with 201 dropped ports: open, closed and filtered all exact.
#[test]
fn every_engine_is_exact_across_veth_with_filtered_ports() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("eng-vs");
    let target = Netns::new("eng-vt");
    let _veth = VethPair::new(&scanner, &target, "198.18.21.1/24", "198.18.21.2/24");
    let _listeners = target.listen("0.0.0.0", VETH_PORTS);
    let _rules = nft_drop_ports(&target, 40000, 40200);
    let dropped: Vec<u16> = (40000..=40200).collect();
    let want = truth(VETH_PORTS, &dropped);
    each_engine_matches("198.18.21.2 -p-", "198.18.21.2", &want, |engine| {
        let mut args = full_scan("198.18.21.2", &["--timeout", "300", "--retries", "1"]);
        args.extend_from_slice(engine);
        scanner.scan(&args)
    });
}

/// Every engine with 128 descriptors and a window of 1000 (EMFILE throughout for the event
/// loops): back-pressure, never a port state.
#[test]
fn every_engine_is_exact_when_starved_of_descriptors() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("eng-fd");
    let _listeners = ns.listen("127.0.0.1", LOOPBACK_PORTS);
    let want = truth(LOOPBACK_PORTS, &[]);
    each_engine_matches(
        "ulimit -n 128, --concurrency 1000",
        "127.0.0.1",
        &want,
        |engine| {
            let mut args = full_scan("127.0.0.1", &["--concurrency", "1000"]);
            args.extend_from_slice(engine);
            ns.scan_with_nofile(128, &args)
        },
    );
}
