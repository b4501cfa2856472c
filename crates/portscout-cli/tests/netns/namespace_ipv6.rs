//! IPv6 end to end (issue 6): targets, CIDR blocks, exclusions, permutation, shards, merge and
//! every output format, on `::1` inside a namespace and on a veth pair with 2001:db8::/64
//! addresses ([`support::Ipv6Hosts`]).
//!
//! Every test is a function taking `extra` arguments for portscout, and a `#[test]` that calls
//! it with `&[]` (the connect scan): another scan type is one more `#[test]` calling the same
//! function, e.g. with `&["--scan", "syn"]`.
//!
//! What the tests check:
//!
//! 1. `::1 -p 1-65535` in a namespace: exactly the listeners open, some in the ephemeral
//!    range, and every other port closed;
//! 2. `2001:db8::/120`: the exact state of every port of every live address (the drop range
//!    of one address filtered), each of the 251 absent addresses down exactly once
//!    (`host-unreach` or `no-response`), nothing of an address outside the block;
//! 3. `--exclude 2001:db8::10` and an `--exclude-file` holding `2001:db8::10/124`: nftables
//!    counters show that no packet reached an excluded address, nor left the scanner for one
//!    (neighbour solicitations included), while packets did reach the others;
//! 4. three shards in random order, merged with `portscout merge`, equal the serial scan;
//! 5. IPv4 and IPv6 targets in one scan; IPv4-mapped targets (`::ffff:198.18.x.y`) reach the
//!    IPv4 host, and excluding its IPv4 address excludes them;
//! 6. each output format of one IPv6 scan parses and holds the same results.
//!
//! Needs root and nft; skips with a message otherwise, fails under CI.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Instant;

use crate::support::{
    assert_port_set, assert_same_ports, first_items, nft_rules, parse_host_records, port_map,
    require_nft, require_root, summary_counts, HostRecord, Ipv6Hosts, Key, Netns, RunningScan,
    ScanRun, TempDir, VethHosts,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `base` then `extra`.
fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

/// The ports of a `-p` list like `22,80,8000-8002`.
fn expand(spec: &str) -> BTreeSet<u16> {
    spec.split(',')
        .flat_map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b): (u16, u16) = (a.parse().unwrap(), b.parse().unwrap());
            a..=b
        })
        .collect()
}

/// The true state of each of `ports` on each of `hosts` (live addresses of the scenario, or
/// the scanner's own).
fn truth(hosts: &[&str], ports: &BTreeSet<u16>) -> BTreeMap<Key, String> {
    let mut want = BTreeMap::new();
    for host in hosts {
        for &p in ports {
            let state = Ipv6Hosts::truth(ip(host), p)
                .unwrap_or_else(|| panic!("{host} is not a live address"));
            want.insert((ip(host), p), state.to_owned());
        }
    }
    want
}

/// Every address of 2001:db8::/120 but those of `except`.
fn block_except(except: &[&str]) -> BTreeSet<IpAddr> {
    let except: BTreeSet<IpAddr> = except.iter().map(|s| ip(s)).collect();
    (0..=0xffu128)
        .map(|a| IpAddr::V6(((0x2001_0db8u128 << 96) | a).into()))
        .filter(|a| !except.contains(a))
        .collect()
}

/// Every live address of the scenario and the scanner's own.
fn live_and_scanner() -> Vec<&'static str> {
    let mut hosts: Vec<&str> = Ipv6Hosts::LIVE.iter().map(|(h, _)| *h).collect();
    hosts.push(Ipv6Hosts::SCANNER);
    hosts
}

/// Panics unless the host records are exactly one per address of `down`, each down with every
/// one of `ports` skipped, for want of an answer (`host-unreach`: no neighbour advertisement;
/// `no-response`: every probe unanswered).
#[track_caller]
fn assert_down_once(what: &str, hosts: &[HostRecord], down: &BTreeSet<IpAddr>, ports: usize) {
    let mut seen: BTreeMap<IpAddr, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for h in hosts {
        *seen.entry(h.ip).or_default() += 1;
        let reason_ok = h.reason == "host-unreach" || h.reason == "no-response";
        if h.state != "down" || !reason_ok || h.skipped != Some(ports as u64) {
            bad.push(h.line.clone());
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: host records not down for want of an answer with {ports} ports skipped: {}",
        first_items(&bad, 5)
    );
    let twice: Vec<String> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(ip, n)| format!("{ip} ×{n}"))
        .collect();
    assert!(
        twice.is_empty(),
        "{what}: hosts reported down more than once: {}",
        first_items(&twice, 10)
    );
    let got: BTreeSet<IpAddr> = seen.into_keys().collect();
    let missing: Vec<&IpAddr> = down.difference(&got).collect();
    let extra: Vec<&IpAddr> = got.difference(down).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} hosts should be down, {} are\n  not reported down ({}): {}\n  reported down \
         but not absent ({}): {}",
        down.len(),
        got.len(),
        missing.len(),
        first_items(&missing, 20),
        extra.len(),
        first_items(&extra, 20)
    );
}

// ---------------------------------------------------------------------------------------------
// 1. ::1, every port
// ---------------------------------------------------------------------------------------------

/// Spread over 1–65535, several in the Linux ephemeral range 32768–60999 (where a scanner
/// that connects to its own source port would invent open ports).
const LOOPBACK_PORTS: &[u16] = &[
    1, 22, 80, 443, 8080, 31337, 32768, 40000, 45678, 55555, 60999, 65535,
];

fn loopback_every_port(extra: &[&str]) {
    let ns = Netns::new("v6lo");
    let listeners = ns.listen("::1", LOOPBACK_PORTS);
    // Listening on 127.0.0.1 only: closed on ::1.
    let _v4_only = ns.listen("127.0.0.1", &[5000, 50000]);
    let scan = ns.scan(&with(
        &["::1", "-p", "1-65535", "--format", "ndjson"],
        extra,
    ));
    scan.assert_success();
    assert_port_set(
        &format!(
            "open ports of `portscout ::1 -p 1-65535` ({:.2?})",
            scan.elapsed
        ),
        &scan.ports("::1", "open"),
        &listeners.ports(),
    );
    let stray: Vec<_> = scan
        .records()
        .into_iter()
        .filter(|(a, _, st)| *a != ip("::1") || st != "open")
        .collect();
    assert!(stray.is_empty(), "records other than ::1 open: {stray:?}");
    assert!(scan.host_records().is_empty(), "{:?}", scan.host_records());
    let n = LOOPBACK_PORTS.len() as u64;
    assert_eq!(
        summary_counts("::1 scan", &scan.stdout),
        [n, 65535 - n, 0, 0],
        "summary (open, closed, filtered, hosts_down): every other port closed"
    );
    eprintln!("::1 -p 1-65535: {:.2?}", scan.elapsed);
}

#[test]
fn loopback_v6_every_port_connect() {
    if !require_root() {
        return;
    }
    loopback_every_port(&[]);
}

#[test]
fn loopback_v6_every_port_syn() {
    if !require_root() {
        return;
    }
    loopback_every_port(&["--scan", "syn"]);
}

// ---------------------------------------------------------------------------------------------
// 2. 2001:db8::/120 on a veth pair
// ---------------------------------------------------------------------------------------------

/// The ports of the block scan: listeners of every live address, one behind 2001:db8::10's
/// drop rule, one in the ephemeral range. Few, because each absent address costs every port
/// all of its attempts (11 when nothing of the host ever answered, see `docs/timing.md`):
/// 251 × 5 × 11 attempts at the initial window take about 10 s.
const BLOCK_PORTS: &str = "22,80,443,8081,40001";

fn cidr_block(extra: &[&str]) {
    let fx = Ipv6Hosts::new("v6blk");
    let ports = expand(BLOCK_PORTS);
    let scan = fx.scanner().scan(&with(
        &[
            Ipv6Hosts::BLOCK,
            "-p",
            BLOCK_PORTS,
            "--format",
            "ndjson",
            "--show",
            "all",
        ],
        extra,
    ));
    scan.assert_success();
    let live = live_and_scanner();
    let want = truth(&live, &ports);
    assert_same_ports(
        "2001:db8::/120: every port of every live address",
        &port_map("block scan", &scan.stdout),
        &want,
    );
    let absent = block_except(&live);
    assert_eq!(absent.len(), 251);
    assert_down_once("2001:db8::/120", &scan.host_records(), &absent, ports.len());
    let outside = ip(Ipv6Hosts::OUTSIDE.0);
    assert!(
        !scan.stdout.contains(&format!("\"{outside}\"")),
        "a record of {outside}, outside the block"
    );
    assert_eq!(
        fx.packets_to(Ipv6Hosts::OUTSIDE.0),
        0,
        "packets reached {outside}, outside the block"
    );
    assert!(
        fx.nft.counter("filtered") > 0,
        "the drop rule dropped nothing"
    );
    let count = |state: &str| want.values().filter(|s| *s == state).count() as u64;
    assert_eq!(
        summary_counts("block scan", &scan.stdout),
        [count("open"), count("closed"), count("filtered"), 251],
        "summary (open, closed, filtered, hosts_down)"
    );
    eprintln!(
        "2001:db8::/120 × {} ports: {:.2?}",
        ports.len(),
        scan.elapsed
    );
}

#[test]
fn ipv6_block_exact_per_address_connect() {
    if !require_nft() {
        return;
    }
    cidr_block(&[]);
}

#[test]
fn ipv6_block_exact_per_address_syn() {
    if !require_nft() {
        return;
    }
    cidr_block(&["--scan", "syn"]);
}

// ---------------------------------------------------------------------------------------------
// 3. Exclusions
// ---------------------------------------------------------------------------------------------

/// The ports of the exclusion and shard scans: listeners, and a few of the drop range.
const SMALL_PORTS: &str = "1-100,443,8075-8085,40001";

fn exclusions(extra: &[&str]) {
    let fx = Ipv6Hosts::new("v6excl");
    let dir = TempDir::new("v6excl");
    let ports = expand(SMALL_PORTS);
    // In the scanner, every packet it sends to an excluded address, or to the solicited-node
    // multicast address a neighbour solicitation for it would go to (RFC 4291 §2.7.1).
    let out = nft_rules(
        fx.scanner(),
        &[
            "counter to_10 { }",
            "counter to_10_1f { }",
            "counter to_2 { }",
            "chain output { type filter hook output priority 0; policy accept;",
            "  ip6 daddr { 2001:db8::10, ff02::1:ff00:10 } counter name \"to_10\"",
            "  ip6 daddr { 2001:db8::10/124, ff02::1:ff00:10/124 } counter name \"to_10_1f\"",
            "  ip6 daddr 2001:db8::2 counter name \"to_2\"",
            "}",
        ],
    );

    // --exclude one address of a block.
    let scan = fx.scanner().scan(&with(
        &[
            "2001:db8::2",
            "2001:db8::10/127",
            "-p",
            SMALL_PORTS,
            "--format",
            "ndjson",
            "--show",
            "all",
            "--exclude",
            "2001:db8::10",
        ],
        extra,
    ));
    scan.assert_success();
    assert_same_ports(
        "--exclude 2001:db8::10",
        &port_map("--exclude", &scan.stdout),
        &truth(&["2001:db8::2", "2001:db8::11"], &ports),
    );
    assert!(scan.host_records().is_empty(), "{:?}", scan.host_records());
    assert_eq!(
        (fx.packets_to("2001:db8::10"), out.counter("to_10")),
        (0, 0),
        "--exclude: packets (arrived in the target, left the scanner) for 2001:db8::10"
    );
    let (to_2, to_11) = (fx.packets_to("2001:db8::2"), fx.packets_to("2001:db8::11"));
    assert!(
        to_2 > 0 && to_11 > 0,
        "--exclude: the counters do not count ({to_2} packets to ::2, {to_11} to ::11)"
    );

    // --exclude-file with an IPv6 block, from a block: 2001:db8::/123 minus 2001:db8::10/124
    // leaves 2001:db8::0-f, where only ::1 (the scanner) and ::2 exist.
    let file = dir.file("exclude.txt");
    std::fs::write(&file, "# IPv6 exclusions\n2001:db8::10/124\n").unwrap();
    let before = |fx: &Ipv6Hosts| {
        [
            fx.packets_to("2001:db8::10"),
            fx.packets_to("2001:db8::11"),
            out.counter("to_10_1f"),
            fx.packets_to("2001:db8::2"),
            out.counter("to_2"),
        ]
    };
    let was = before(&fx);
    let scan = fx.scanner().scan(&with(
        &[
            "2001:db8::/123",
            "-p",
            SMALL_PORTS,
            "--format",
            "ndjson",
            "--show",
            "all",
            "--exclude-file",
            &file,
        ],
        extra,
    ));
    scan.assert_success();
    assert_same_ports(
        "--exclude-file 2001:db8::10/124",
        &port_map("--exclude-file", &scan.stdout),
        &truth(&["2001:db8::1", "2001:db8::2"], &ports),
    );
    let absent: BTreeSet<IpAddr> = (0..0x10u128)
        .filter(|a| *a != 1 && *a != 2)
        .map(|a| IpAddr::V6(((0x2001_0db8u128 << 96) | a).into()))
        .collect();
    assert_down_once("--exclude-file", &scan.host_records(), &absent, ports.len());
    let now = before(&fx);
    assert_eq!(
        [now[0] - was[0], now[1] - was[1], now[2] - was[2]],
        [0, 0, 0],
        "--exclude-file: packets (arrived at ::10, at ::11, left the scanner for ::10-::1f)"
    );
    assert!(
        now[3] > was[3] && now[4] > was[4],
        "--exclude-file: the counters do not count"
    );
    eprintln!(
        "exclusions: {} packets to 2001:db8::2, 0 to 2001:db8::10",
        fx.packets_to("2001:db8::2")
    );
}

#[test]
fn ipv6_exclusions_receive_nothing_connect() {
    if !require_nft() {
        return;
    }
    exclusions(&[]);
}

#[test]
fn ipv6_exclusions_receive_nothing_syn() {
    if !require_nft() {
        return;
    }
    exclusions(&["--scan", "syn"]);
}

// ---------------------------------------------------------------------------------------------
// 4. Random order, shards and merge
// ---------------------------------------------------------------------------------------------

fn shards_merged(extra: &[&str]) {
    let fx = Ipv6Hosts::new("v6shard");
    let dir = TempDir::new("v6shard");
    let ports = expand(SMALL_PORTS);
    let silent = "2001:db8::99";
    let targets = ["2001:db8::2", "2001:db8::10/127", silent];
    let base = with(
        &targets,
        &["-p", SMALL_PORTS, "--format", "ndjson", "--show", "all"],
    );
    let want = truth(&["2001:db8::2", "2001:db8::10", "2001:db8::11"], &ports);
    let down = BTreeSet::from([ip(silent)]);

    // The serial scan and the three shards, all at once.
    let started = Instant::now();
    let serial = fx.scanner().spawn_in(
        dir.path(),
        &with(&with(&base, &["--order", "serial"]), extra),
    );
    let files: Vec<String> = (1..=3)
        .map(|i| dir.file(&format!("shard-{i}.ndjson")))
        .collect();
    let shards: Vec<RunningScan> = (1..=3)
        .map(|i| {
            let shard = format!("{i}/3");
            let args = with(
                &base,
                &["--seed", "7", "--shard", &shard, "-o", &files[i - 1]],
            );
            fx.scanner().spawn_in(dir.path(), &with(&args, extra))
        })
        .collect();
    let serial = serial.wait();
    let shards: Vec<ScanRun> = shards.into_iter().map(RunningScan::wait).collect();
    let took = started.elapsed();

    serial.assert_success();
    let full = port_map("serial scan", &serial.stdout);
    assert_same_ports("serial scan", &full, &want);
    assert_down_once("serial scan", &serial.host_records(), &down, ports.len());

    for run in &shards {
        run.assert_success();
    }
    for (i, text) in support::disjoint_shard_outputs(&files).iter().enumerate() {
        // Each shard finds the silent address down itself.
        assert_down_once(
            &format!("shard {}", i + 1),
            &parse_host_records(text),
            &down,
            ports.len(),
        );
    }

    let merged = support::merge_ordered(&files);
    assert_same_ports(
        "merge of three random-order shards vs the serial scan",
        &port_map("merge", &merged.stdout),
        &full,
    );
    assert_down_once(
        "merge",
        &parse_host_records(&merged.stdout),
        &down,
        ports.len(),
    );
    assert_eq!(
        summary_counts("merge", &merged.stdout),
        summary_counts("serial scan", &serial.stdout),
        "summary (open, closed, filtered, hosts_down) of the merge vs the serial scan"
    );
    eprintln!(
        "shards: serial scan and 3 shards ({} ports) at once in {took:.2?}",
        full.len()
    );
}

#[test]
fn ipv6_shards_merged_equal_the_serial_scan_connect() {
    if !require_nft() {
        return;
    }
    shards_merged(&[]);
}

#[test]
fn ipv6_shards_merged_equal_the_serial_scan_syn() {
    if !require_nft() {
        return;
    }
    shards_merged(&["--scan", "syn"]);
}

// ---------------------------------------------------------------------------------------------
// 5. IPv4 and IPv6 together
// ---------------------------------------------------------------------------------------------

const MIXED_V4: &str = "198.18.62.2";
const MIXED_V4_EXCLUDED: &str = "198.18.62.3";
const MIXED_V6: &str = "2001:db8::2";
const MIXED_LIVE: &[(&str, &[u16])] = &[
    (MIXED_V4, &[22, 80, 40001]),
    (MIXED_V4_EXCLUDED, &[22, 443]),
    (MIXED_V6, &[22, 443, 8080]),
];
const MIXED_PORTS: &str = "1-1024,8080,40001";

/// The namespaces of the mixed tests and a target table counting packets to each IPv4
/// address (`to_v4_2`, `to_v4_3`).
struct Mixed {
    nft: support::NftTable,
    hosts: VethHosts,
}

impl Mixed {
    fn new(tag: &str) -> Mixed {
        let hosts =
            VethHosts::with_scanner_addrs(tag, &["198.18.62.1/24", "2001:db8::1/64"], MIXED_LIVE);
        let nft = nft_rules(
            &hosts.target,
            &[
                "counter to_v4_2 { }",
                "counter to_v4_3 { }",
                "chain pre { type filter hook prerouting priority -300; policy accept;",
                "  ip daddr 198.18.62.2 counter name \"to_v4_2\"",
                "  ip daddr 198.18.62.3 counter name \"to_v4_3\"",
                "}",
            ],
        );
        Mixed { nft, hosts }
    }

    /// The true state of `ports` on the live address `host`, listed under the name `as_ip`.
    fn truth(host: &str, as_ip: &str, ports: &BTreeSet<u16>) -> BTreeMap<Key, String> {
        let (_, listeners) = MIXED_LIVE.iter().find(|(h, _)| *h == host).unwrap();
        ports
            .iter()
            .map(|&p| {
                let state = if listeners.contains(&p) {
                    "open"
                } else {
                    "closed"
                };
                ((ip(as_ip), p), state.to_owned())
            })
            .collect()
    }
}

fn mixed_families(extra: &[&str]) {
    let fx = Mixed::new("v6mix");
    let ports = expand(MIXED_PORTS);
    let scan = fx.hosts.scanner.scan(&with(
        &[
            MIXED_V6,
            MIXED_V4,
            "-p",
            MIXED_PORTS,
            "--format",
            "ndjson",
            "--show",
            "all",
        ],
        extra,
    ));
    scan.assert_success();
    let mut want = Mixed::truth(MIXED_V4, MIXED_V4, &ports);
    want.extend(Mixed::truth(MIXED_V6, MIXED_V6, &ports));
    assert_same_ports(
        "198.18.62.2 and 2001:db8::2 in one scan",
        &port_map("mixed scan", &scan.stdout),
        &want,
    );
    assert!(scan.host_records().is_empty(), "{:?}", scan.host_records());
    assert_eq!(
        fx.nft.counter("to_v4_3"),
        0,
        "packets to an untargeted address"
    );
    eprintln!("mixed: {} ports in {:.2?}", want.len(), scan.elapsed);
}

#[test]
fn ipv4_and_ipv6_in_one_scan_connect() {
    if !require_nft() {
        return;
    }
    mixed_families(&[]);
}

#[test]
fn ipv4_and_ipv6_in_one_scan_syn() {
    if !require_nft() {
        return;
    }
    mixed_families(&["--scan", "syn"]);
}

/// `::ffff:198.18.62.2` is 198.18.62.2 on the wire: its ports are 198.18.62.2's, reported
/// under the name given; `--exclude 198.18.62.3` keeps every packet from
/// `::ffff:198.18.62.3`.
fn v4_mapped(extra: &[&str]) {
    let fx = Mixed::new("v6map");
    let ports = expand(MIXED_PORTS);
    let scan = fx.hosts.scanner.scan(&with(
        &[
            "::ffff:198.18.62.2",
            "::ffff:198.18.62.3",
            "-p",
            MIXED_PORTS,
            "--format",
            "ndjson",
            "--show",
            "all",
            "--exclude",
            MIXED_V4_EXCLUDED,
        ],
        extra,
    ));
    scan.assert_success();
    assert_same_ports(
        "::ffff:198.18.62.2 (198.18.62.3 excluded)",
        &port_map("mapped scan", &scan.stdout),
        &Mixed::truth(MIXED_V4, "::ffff:198.18.62.2", &ports),
    );
    assert!(scan.host_records().is_empty(), "{:?}", scan.host_records());
    assert_eq!(
        fx.nft.counter("to_v4_3"),
        0,
        "packets reached 198.18.62.3, excluded"
    );
    assert!(
        fx.nft.counter("to_v4_2") > 0,
        "the counters do not count: nothing reached 198.18.62.2"
    );
}

#[test]
fn ipv4_mapped_targets_and_exclusions_connect() {
    if !require_nft() {
        return;
    }
    v4_mapped(&[]);
}

#[test]
fn ipv4_mapped_targets_and_exclusions_syn() {
    if !require_nft() {
        return;
    }
    v4_mapped(&["--scan", "syn"]);
}

// ---------------------------------------------------------------------------------------------
// 6. Output formats
// ---------------------------------------------------------------------------------------------

/// `(ip, port, state)` of every listed port.
type Listed = BTreeSet<(IpAddr, u16, String)>;

fn listed(map: &BTreeMap<Key, String>) -> Listed {
    map.iter().map(|(k, s)| (k.0, k.1, s.clone())).collect()
}

/// json: `{"hosts":[{"ip":…,["state":"down","reason":…,]"ports":[…]}…],"summary":{…}}`,
/// hosts ascending.
fn parse_json(text: &str) -> (Listed, Vec<IpAddr>, Vec<IpAddr>) {
    let doc: serde_json::Value = serde_json::from_str(text.trim()).expect("json output parses");
    let mut ports = Listed::new();
    let (mut hosts, mut down) = (Vec::new(), Vec::new());
    for h in doc["hosts"].as_array().expect("hosts array") {
        let host: IpAddr = h["ip"].as_str().expect("host ip").parse().expect("an IP");
        hosts.push(host);
        if h["state"] == "down" {
            down.push(host);
        }
        for p in h["ports"].as_array().expect("ports array") {
            let pip: IpAddr = p["ip"].as_str().unwrap().parse().unwrap();
            assert_eq!(pip, host, "a port record under another host: {p}");
            assert_eq!(p["protocol"], "tcp");
            ports.insert((
                pip,
                p["port"].as_u64().unwrap() as u16,
                p["state"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(
        doc["summary"]["hosts_down"], 1,
        "json summary: {}",
        doc["summary"]
    );
    (ports, hosts, down)
}

/// csv: the header, then `ip,port,tcp,state,reason,rtt_ms` rows; a host down is
/// `ip,,tcp,down,reason,`.
fn parse_csv(text: &str) -> (Listed, Vec<IpAddr>) {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("ip,port,protocol,state,reason,rtt_ms"));
    let mut ports = Listed::new();
    let mut down = Vec::new();
    for line in lines {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 6, "csv row of {} columns: {line}", cols.len());
        let addr: IpAddr = cols[0]
            .parse()
            .unwrap_or_else(|e| panic!("csv ip: {e}: {line}"));
        assert_eq!(cols[2], "tcp", "{line}");
        if cols[3] == "down" {
            assert!(cols[1].is_empty() && cols[5].is_empty(), "{line}");
            down.push(addr);
        } else {
            ports.insert((addr, cols[1].parse().unwrap(), cols[3].to_owned()));
        }
    }
    (ports, down)
}

/// grep: `Host: <ip> ()\tPorts: <port>/<state>/tcp//<service>///, …` or
/// `Host: <ip> ()\tStatus: Down`, one line per host, ascending.
fn parse_grep(text: &str) -> (Listed, Vec<IpAddr>, Vec<IpAddr>) {
    let mut ports = Listed::new();
    let (mut hosts, mut down) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let mut fields = line.split('\t');
        let head = fields.next().unwrap();
        let addr: IpAddr = head
            .strip_prefix("Host: ")
            .and_then(|h| h.strip_suffix(" ()"))
            .unwrap_or_else(|| panic!("grep line: {line}"))
            .parse()
            .unwrap_or_else(|e| panic!("grep ip: {e}: {line}"));
        hosts.push(addr);
        for field in fields {
            if field == "Status: Down" {
                down.push(addr);
            } else if let Some(list) = field.strip_prefix("Ports: ") {
                for entry in list.split(", ") {
                    let parts: Vec<&str> = entry.split('/').collect();
                    assert_eq!(parts.len(), 8, "grep port entry: {entry}");
                    assert_eq!(parts[2], "tcp", "{entry}");
                    ports.insert((addr, parts[0].parse().unwrap(), parts[1].to_owned()));
                }
            } else {
                panic!("grep field: {field}");
            }
        }
    }
    (ports, hosts, down)
}

/// text: `portscout report for <ip>` blocks of `<port>/tcp  <state>  …` rows, or
/// `Host is down (…)`; no `Done: …` (the summary is on standard error).
fn parse_text(text: &str) -> (Listed, Vec<IpAddr>, Vec<IpAddr>) {
    let mut ports = Listed::new();
    let (mut hosts, mut down) = (Vec::new(), Vec::new());
    let mut host: Option<IpAddr> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("portscout report for ") {
            let addr: IpAddr = h.parse().unwrap_or_else(|e| panic!("text ip: {e}: {line}"));
            hosts.push(addr);
            host = Some(addr);
        } else if line.starts_with("Host is down (") {
            down.push(host.expect("a host block"));
        } else if let Some((port, rest)) = line.split_once("/tcp") {
            let state = rest.split_whitespace().next().unwrap();
            ports.insert((
                host.expect("a host block"),
                port.parse().unwrap(),
                state.to_owned(),
            ));
        }
    }
    assert!(
        !text.contains("Done:"),
        "standard output holds results only, the summary is on stderr:\n{text}"
    );
    (ports, hosts, down)
}

fn formats(extra: &[&str]) {
    let fx = Ipv6Hosts::new("v6fmt");
    let dir = TempDir::new("v6fmt");
    let ports_spec = "22,80,8081";
    let silent = "2001:db8::99";
    let scans: Vec<(&str, RunningScan)> = ["ndjson", "json", "csv", "grep", "text"]
        .into_iter()
        .map(|format| {
            let args = with(
                &[
                    "2001:db8::10",
                    "2001:db8::2",
                    silent,
                    "-p",
                    ports_spec,
                    "--show",
                    "all",
                    "--format",
                    format,
                ],
                extra,
            );
            (format, fx.scanner().spawn_in(dir.path(), &args))
        })
        .collect();
    let runs: BTreeMap<&str, ScanRun> = scans
        .into_iter()
        .map(|(f, s)| {
            let run = s.wait();
            run.assert_success();
            (f, run)
        })
        .collect();

    let want = truth(&["2001:db8::2", "2001:db8::10"], &expand(ports_spec));
    let ndjson = &runs["ndjson"].stdout;
    assert_same_ports("ndjson", &port_map("ndjson", ndjson), &want);
    assert_down_once(
        "ndjson",
        &parse_host_records(ndjson),
        &BTreeSet::from([ip(silent)]),
        3,
    );
    let want = listed(&want);
    let hosts = vec![ip("2001:db8::2"), ip("2001:db8::10"), ip(silent)];
    let down = vec![ip(silent)];

    let (ports, json_hosts, json_down) = parse_json(&runs["json"].stdout);
    assert_eq!(ports, want, "json ports");
    assert_eq!(
        (json_hosts, json_down),
        (hosts.clone(), down.clone()),
        "json hosts"
    );

    let (ports, csv_down) = parse_csv(&runs["csv"].stdout);
    assert_eq!(ports, want, "csv ports");
    assert_eq!(csv_down, down, "csv down rows");

    let (ports, grep_hosts, grep_down) = parse_grep(&runs["grep"].stdout);
    assert_eq!(ports, want, "grep ports");
    assert_eq!(
        (grep_hosts, grep_down),
        (hosts.clone(), down.clone()),
        "grep hosts"
    );

    let (ports, text_hosts, text_down) = parse_text(&runs["text"].stdout);
    assert_eq!(ports, want, "text ports");
    assert_eq!((text_hosts, text_down), (hosts, down), "text hosts");
}

#[test]
fn ipv6_output_formats_parse_connect() {
    if !require_nft() {
        return;
    }
    formats(&[]);
}

#[test]
fn ipv6_output_formats_parse_syn() {
    if !require_nft() {
        return;
    }
    formats(&["--scan", "syn"]);
}
