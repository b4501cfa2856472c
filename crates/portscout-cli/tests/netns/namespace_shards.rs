//! Shards, pause/resume and exclusions across a veth pair (issue 5).
//!
//! The fixture: a scanner namespace (198.18.0.100/24) and a target namespace joined by a veth
//! pair. The target holds 198.18.0.2, .3, .4 and .5, each with its own listeners; nftables in
//! the target drops every packet to ports 100–149 (those ports are `filtered`, and each costs
//! the scanner a timeout) and counts:
//!
//! * `syns`: connection-opening SYNs arriving (how far a scan has got: the interrupting tests
//!   send their signal once a share of the scan has reached the target),
//! * `excluded`: every IPv4 packet to 198.18.0.3, in `prerouting` (before anything can drop it),
//! * `control`: every IPv4 packet to 198.18.0.2, so that a test shows its counters count.
//!
//! The scanner namespace counts, in its `output` hook, every packet it sends to an address of
//! 198.18.0.0/24 other than .2, .4 and .5 (`stray`): with 198.18.0.3 excluded, nothing may
//! leave for any other address of the subnet. 198.18.0.9 is in the subnet but nobody has it:
//! a scan that includes it must report it down (one host record) and no port of it.
//!
//! What the tests check:
//!
//! 1. an interrupted scan (SIGINT, exit 130, a resume file) and its resumed run together
//!    report exactly what one uninterrupted scan reports, no port in both runs, the silent
//!    address down once, and summaries that add up (default engine and `--engine threads`);
//! 2. an excluded address receives no packet: full scan, each of three shards, serial order,
//!    an interrupted (SIGTERM) and resumed scan into one `-o` file, `--exclude-file`; no dry
//!    run lists it, and `--resume --dry-run` lists exactly what is left (on stdout: the `-o`
//!    file is left alone);
//! 3. three shards are disjoint and cover the scan (`--dry-run`), and their ndjson outputs,
//!    merged with `portscout merge`, equal the full scan, ordered by address and port.
//!
//! Needs root and nft; skips with a message otherwise, fails under CI.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{
    assert_same_ports, disjoint_shard_outputs, first_items, merge_ordered, nft_rules,
    parse_host_records, port_map, require_nft, summary_counts, HostRecord, Key, Listeners, Netns,
    NftTable, RunningScan, ScanRun, TempDir, VethHosts, VethPair,
};

const SCANNER_CIDR: &str = "198.18.0.100/24";

/// The live target addresses and their listeners. 198.18.0.2:120, 198.18.0.3:143 and
/// 198.18.0.5:110 listen behind the drop rule: filtered, not open.
const LIVE: &[(&str, &[u16])] = &[
    ("198.18.0.2", &[22, 80, 120, 200]),
    ("198.18.0.3", &[25, 143, 250]),
    ("198.18.0.4", &[1, 53, 99, 150]),
    ("198.18.0.5", &[110, 222, 249]),
];

/// In the subnet, but nobody has it.
const SILENT: &str = "198.18.0.9";

/// The excluded address, and the one whose packets are counted as a control.
const EXCLUDED: &str = "198.18.0.3";
const CONTROL: &str = "198.18.0.2";

/// Every packet to these ports is dropped in the target.
const FILTERED: (u16, u16) = (100, 149);

/// The ports of most scans here: 50 of them filtered.
const PORTS: &str = "1-250";

/// The namespaces, veth, listeners and nft tables of these tests. Fields drop in order:
/// listeners, rules, veth, then the namespaces.
struct Fixture {
    _listeners: Vec<Listeners>,
    /// In the target: `syns`, `filtered`, `excluded`, `control`.
    target_nft: NftTable,
    /// In the scanner: `stray`.
    scanner_nft: NftTable,
    _veth: VethPair,
    _target: Netns,
    scanner: Netns,
    dir: TempDir,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let VethHosts {
            listeners,
            veth,
            target,
            scanner,
        } = VethHosts::new(tag, SCANNER_CIDR, LIVE);
        let (lo, hi) = FILTERED;
        let excluded = format!("  ip daddr {EXCLUDED} counter name \"excluded\"");
        let control = format!("  ip daddr {CONTROL} counter name \"control\"");
        let drop_range = format!("  tcp dport {lo}-{hi} counter name \"filtered\" drop");
        let target_nft = nft_rules(
            &target,
            &[
                "counter syns { }",
                "counter filtered { }",
                "counter excluded { }",
                "counter control { }",
                "chain pre { type filter hook prerouting priority -300; policy accept;",
                &excluded,
                &control,
                "}",
                "chain input { type filter hook input priority 0; policy accept;",
                "  tcp flags & (syn | ack) == syn counter name \"syns\"",
                &drop_range,
                "}",
            ],
        );
        let scanner_nft = nft_rules(
            &scanner,
            &[
                "counter stray { }",
                "chain output { type filter hook output priority 0; policy accept;",
                "  ip daddr 198.18.0.0/24 ip daddr != { 198.18.0.2, 198.18.0.4, 198.18.0.5 } counter name \"stray\"",
                "}",
            ],
        );
        Fixture {
            _listeners: listeners,
            target_nft,
            scanner_nft,
            _veth: veth,
            _target: target,
            scanner,
            dir: TempDir::new(tag),
        }
    }

    fn syns(&self) -> u64 {
        self.target_nft.counter("syns")
    }

    /// Run portscout in the scanner namespace, with the fixture's temporary directory as the
    /// working directory.
    fn scan<S: AsRef<str>>(&self, args: &[S]) -> ScanRun {
        self.scanner.scan_in(self.dir.path(), args)
    }

    fn spawn<S: AsRef<str>>(&self, args: &[S]) -> RunningScan {
        self.scanner.spawn_in(self.dir.path(), args)
    }

    /// Start a scan and send it `sig` once `syns` more SYNs have reached the target than before
    /// it started; returns what the scan printed. Panics if the scan ends first.
    fn interrupted<S: AsRef<str>>(&self, args: &[S], syns: u64, sig: libc::c_int) -> ScanRun {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let before = self.syns();
        let mut run = self.spawn(&args);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                run.is_running(),
                "portscout {args:?} ended before {syns} SYNs reached the target: make the scan \
                 longer (ports, --rate)"
            );
            if self.syns() >= before + syns {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "portscout {args:?}: fewer than {syns} SYNs after 60 s"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        run.signal(sig);
        let run = run.wait();
        assert_eq!(
            run.code,
            Some(130),
            "portscout {args:?} after signal {sig}: want exit 130 (paused)\nstderr:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("resume with: portscout --resume"),
            "no resume hint on stderr:\n{}",
            run.stderr
        );
        run
    }
}

/// The ports of a `-p` list like `1-60,100-109`.
fn expand(spec: &str) -> BTreeSet<u16> {
    spec.split(',')
        .flat_map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b): (u16, u16) = (a.parse().unwrap(), b.parse().unwrap());
            a..=b
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The true state of each `ports` of each live address in `hosts`.
fn truth(hosts: &[&str], ports: &BTreeSet<u16>) -> BTreeMap<Key, String> {
    let mut want = BTreeMap::new();
    for &host in hosts {
        let listeners = LIVE
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, l)| *l)
            .unwrap_or_else(|| panic!("{host} is not a live address"));
        for &p in ports {
            let state = if (FILTERED.0..=FILTERED.1).contains(&p) {
                "filtered"
            } else if listeners.contains(&p) {
                "open"
            } else {
                "closed"
            };
            want.insert((ip(host), p), state.to_owned());
        }
    }
    want
}

/// Panics unless `got == want`, naming the probes missing and extra.
#[track_caller]
fn assert_same_keys(what: &str, got: &BTreeSet<Key>, want: &BTreeSet<Key>) {
    if got == want {
        return;
    }
    let show = |keys: Vec<&Key>| -> String {
        let keys: Vec<String> = keys.iter().map(|(ip, p)| format!("{ip}:{p}")).collect();
        format!("({}): {}", keys.len(), first_items(&keys, 20))
    };
    panic!(
        "{what}: {} probes wanted, {} planned\n  missing {}\n  extra {}",
        want.len(),
        got.len(),
        show(want.difference(got).collect()),
        show(got.difference(want).collect())
    );
}

fn add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

/// The one host record of the silent address among `hosts`, which must be the only host
/// record: state down, every scanned port skipped.
#[track_caller]
fn assert_silent_down(what: &str, hosts: &[HostRecord], ports: usize) {
    let lines: Vec<&str> = hosts.iter().map(|h| h.line.as_str()).collect();
    assert!(
        hosts.len() == 1
            && hosts[0].ip == ip(SILENT)
            && hosts[0].state == "down"
            && hosts[0].skipped == Some(ports as u64),
        "{what}: want one host record, {SILENT} down with {ports} ports skipped; got {lines:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Pause and resume
// ---------------------------------------------------------------------------------------------

/// Scans the live addresses and the silent one uninterrupted, then interrupted (SIGINT once
/// `syns` SYNs reached the target) and resumed, and compares. `resume_file`: where the resume
/// file goes (None: the default `portscout.resume` in the working directory).
fn resume_equals_uninterrupted(
    tag: &str,
    ports: &str,
    extra: &[&str],
    syns: u64,
    resume_file: Option<&str>,
) {
    let fx = Fixture::new(tag);
    let hosts: Vec<&str> = LIVE.iter().map(|(h, _)| *h).collect();
    let scanned = expand(ports);
    let resume_path = match resume_file {
        Some(name) => fx.dir.file(name),
        None => fx.dir.file("portscout.resume"),
    };
    let mut args = vec![
        "198.18.0.2-5",
        SILENT,
        "-p",
        ports,
        "--format",
        "ndjson",
        "--show",
        "all",
        "--seed",
        "7",
    ];
    args.extend_from_slice(extra);
    if resume_file.is_some() {
        args.extend_from_slice(&["--resume-file", &resume_path]);
    }

    let full = fx.scan(&args);
    full.assert_success();
    let full_ports = port_map("uninterrupted scan", &full.stdout);
    assert_same_ports("uninterrupted scan", &full_ports, &truth(&hosts, &scanned));
    assert_silent_down("uninterrupted scan", &full.host_records(), scanned.len());
    assert!(
        !Path::new(&resume_path).exists(),
        "an uninterrupted scan left a resume file"
    );

    let first_run = fx.interrupted(&args, syns, libc::SIGINT);
    assert!(
        Path::new(&resume_path).exists(),
        "no resume file at {resume_path} after the interrupt\nstderr:\n{}",
        first_run.stderr
    );
    let hint = if resume_file.is_some() {
        resume_path.clone()
    } else {
        "portscout.resume".to_owned()
    };
    assert!(
        first_run
            .stderr
            .contains(&format!("resume with: portscout --resume {hint}")),
        "stderr does not say how to resume with {hint}:\n{}",
        first_run.stderr
    );
    let resumed = fx.scan(&["--resume", &resume_path]);
    resumed.assert_success();

    let a = port_map("interrupted run", &first_run.stdout);
    let b = port_map("resumed run", &resumed.stdout);
    let total = full_ports.len();
    assert!(
        !a.is_empty() && a.len() < total && !b.is_empty(),
        "not a real split: {} ports before the interrupt, {} after, {total} in all",
        a.len(),
        b.len()
    );
    let both: Vec<String> = a
        .keys()
        .filter(|k| b.contains_key(k))
        .map(|(ip, port)| format!("{ip}:{port}"))
        .collect();
    assert!(
        both.is_empty(),
        "{} port(s) reported by both runs: {}",
        both.len(),
        first_items(&both, 20)
    );
    let mut union = a.clone();
    union.extend(b.clone());
    assert_same_ports(
        "interrupted + resumed runs vs the uninterrupted scan",
        &union,
        &full_ports,
    );

    let mut hosts_split = first_run.host_records();
    hosts_split.extend(resumed.host_records());
    assert_silent_down("interrupted + resumed runs", &hosts_split, scanned.len());
    assert_eq!(
        add(
            summary_counts("interrupted run", &first_run.stdout),
            summary_counts("resumed run", &resumed.stdout)
        ),
        summary_counts("uninterrupted scan", &full.stdout),
        "summaries (open, closed, filtered, hosts_down) of the two runs do not add up"
    );
    eprintln!(
        "{tag}: uninterrupted {} ports in {:.2?}; interrupted after {:.2?} with {} ports, resumed \
         {} ports in {:.2?}",
        total,
        full.elapsed,
        first_run.elapsed,
        a.len(),
        b.len(),
        resumed.elapsed
    );
}

/// Default engine: 1250 probes at 400/s, interrupted after 200 SYNs, resume file in the working
/// directory under its default name.
#[test]
fn resume_equals_uninterrupted_default_engine() {
    if !require_nft() {
        return;
    }
    resume_equals_uninterrupted("shres", PORTS, &["--rate", "400"], 200, None);
}

/// `--scan syn`: the same split and resume with raw SYNs (the resume file keeps `--scan syn`).
#[test]
fn resume_equals_uninterrupted_syn_scan() {
    if !require_nft() {
        return;
    }
    resume_equals_uninterrupted(
        "shsyn",
        PORTS,
        &["--scan", "syn", "--rate", "400"],
        200,
        None,
    );
}

/// `--engine threads`: 350 probes (its retries of a silent host are many), interrupted after
/// 50 SYNs; `--resume-file` in the temporary directory.
#[test]
fn resume_equals_uninterrupted_threads_engine() {
    if !require_nft() {
        return;
    }
    resume_equals_uninterrupted(
        "shrest",
        "1-60,100-109",
        &["--engine", "threads", "--rate", "300"],
        50,
        Some("threads.resume"),
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Exclusions
// ---------------------------------------------------------------------------------------------

/// Counters after a run: nothing reached the excluded address, nothing left the scanner for an
/// address other than .2/.4/.5, and the control address got packets during the run.
#[track_caller]
fn assert_nothing_excluded_sent(fx: &Fixture, what: &str, control_before: u64) {
    let excluded = fx.target_nft.counter("excluded");
    let stray = fx.scanner_nft.counter("stray");
    let control = fx.target_nft.counter("control");
    assert_eq!(
        excluded, 0,
        "{what}: {excluded} packet(s) reached the excluded address {EXCLUDED}"
    );
    assert_eq!(
        stray, 0,
        "{what}: {stray} packet(s) left the scanner for an address other than .2, .4, .5"
    );
    assert!(
        control > control_before,
        "{what}: no packet reached the control address {CONTROL}: the counters do not count"
    );
}

#[test]
fn exclusions_are_absolute() {
    if !require_nft() {
        return;
    }
    let fx = Fixture::new("shexcl");
    let allowed = ["198.18.0.2", "198.18.0.4", "198.18.0.5"];
    let want = truth(&allowed, &expand(PORTS));
    let base = [
        "198.18.0.2-5",
        "-p",
        PORTS,
        "--format",
        "ndjson",
        "--show",
        "all",
        "--exclude",
        EXCLUDED,
    ];
    let with = |more: &[&str]| -> Vec<String> {
        base.iter()
            .chain(more)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };

    // The plan never holds the excluded address.
    let dry = fx.scan(&with(&["--dry-run", "--seed", "5"]));
    dry.assert_success();
    let planned = dry_run_probes("dry run with --exclude", &dry.stdout);
    let want_keys: BTreeSet<Key> = want.keys().copied().collect();
    assert_same_keys(
        "dry run with --exclude vs the targets minus the excluded address",
        &planned.iter().copied().collect(),
        &want_keys,
    );
    assert_eq!(planned.len(), want_keys.len(), "a probe planned twice");

    // A full scan, serial order.
    for (what, more) in [
        ("full scan", &["--seed", "5"][..]),
        ("serial order", &["--order", "serial"][..]),
        ("SYN scan", &["--scan", "syn", "--seed", "5"][..]),
    ] {
        let before = fx.target_nft.counter("control");
        let run = fx.scan(&with(more));
        run.assert_success();
        assert_same_ports(what, &port_map(what, &run.stdout), &want);
        assert!(run.host_records().is_empty(), "{what}: host records");
        assert_nothing_excluded_sent(&fx, what, before);
    }

    // Each of three shards.
    let mut union = BTreeMap::new();
    for i in 1..=3 {
        let what = format!("shard {i}/3");
        let shard = format!("{i}/3");
        let before = fx.target_nft.counter("control");
        let run = fx.scan(&with(&["--shard", &shard, "--seed", "5"]));
        run.assert_success();
        union.extend(port_map(&what, &run.stdout));
        assert_nothing_excluded_sent(&fx, &what, before);
    }
    assert_same_ports("the three shards", &union, &want);

    // Interrupted (SIGTERM) and resumed, the results in one file (-o: the resumed run appends).
    let resume = fx.dir.file("excl.resume");
    let out = fx.dir.file("excl.ndjson");
    let before = fx.target_nft.counter("control");
    let args = with(&[
        "--seed",
        "5",
        "--rate",
        "400",
        "--resume-file",
        &resume,
        "-o",
        &out,
    ]);
    fx.interrupted(&args, 150, libc::SIGTERM);
    assert_nothing_excluded_sent(&fx, "interrupted run", before);
    let first_part = std::fs::read_to_string(&out).expect("the interrupted run's -o file");
    let reported: BTreeSet<Key> = port_map("interrupted run", &first_part)
        .into_keys()
        .collect();
    assert!(!reported.is_empty(), "nothing reported before the signal");
    // What is left, by a dry run of the resume: on stdout, the -o file untouched; exactly the
    // probes not reported yet, none to the excluded address.
    let left = fx.scan(&["--resume", &resume, "--dry-run"]);
    left.assert_success();
    let after = std::fs::read_to_string(&out).unwrap();
    assert!(
        after == first_part,
        "`--resume --dry-run` changed the results file: {} lines before, {} after, first now: {}",
        first_part.lines().count(),
        after.lines().count(),
        after.lines().next().unwrap_or("")
    );
    let left = dry_run_probes("--resume --dry-run", &left.stdout);
    let left_set: BTreeSet<Key> = left.iter().copied().collect();
    assert_eq!(left_set.len(), left.len(), "a probe left twice");
    assert!(
        left_set.is_disjoint(&reported),
        "a reported port is planned again"
    );
    let all: BTreeSet<Key> = reported.union(&left_set).copied().collect();
    assert_same_keys(
        "reported before the signal + left",
        &all,
        &want.keys().copied().collect(),
    );
    let before = fx.target_nft.counter("control");
    fx.scan(&["--resume", &resume]).assert_success();
    assert_nothing_excluded_sent(&fx, "resumed run", before);
    // port_map panics on a port reported twice.
    let both = std::fs::read_to_string(&out).unwrap();
    assert_same_ports(
        "interrupted + resumed (one -o file)",
        &port_map("interrupted + resumed (one -o file)", &both),
        &want,
    );

    // --exclude-file, with a CIDR target around the live addresses: the file excludes .3 and
    // every address of 198.18.0.0/29 that nobody has.
    let file = fx.dir.file("exclude.txt");
    std::fs::write(
        &file,
        "# never scan these\n198.18.0.3\n198.18.0.0-1\n198.18.0.6/31\n",
    )
    .unwrap();
    let args = [
        "198.18.0.0/29",
        "-p",
        PORTS,
        "--format",
        "ndjson",
        "--show",
        "all",
        "--seed",
        "5",
        "--exclude-file",
        &file,
    ];
    let before = fx.target_nft.counter("control");
    let run = fx.scan(&args);
    run.assert_success();
    assert_same_ports(
        "--exclude-file",
        &port_map("--exclude-file", &run.stdout),
        &want,
    );
    assert!(
        run.host_records().is_empty(),
        "--exclude-file: host records for excluded addresses: {:?}",
        run.host_records()
    );
    assert_nothing_excluded_sent(&fx, "--exclude-file", before);
    eprintln!(
        "exclusions: {} packets to {CONTROL}, 0 to {EXCLUDED}",
        fx.target_nft.counter("control")
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Shards and merge
// ---------------------------------------------------------------------------------------------

/// The probes of `--dry-run` output, in order.
fn dry_run_probes(what: &str, stdout: &str) -> Vec<Key> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {e}: {l}"));
            let ip = v["ip"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{what}: no ip: {l}"));
            let port = v["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or_else(|| panic!("{what}: no port: {l}"));
            (ip, port)
        })
        .collect()
}

/// `--dry-run` of three shards (random order with a seed, and serial order): disjoint, no
/// probe twice, together the full dry run; a shard's plan is the same every time.
#[test]
fn shard_dry_runs_partition_the_probe_space() {
    if !require_nft() {
        return;
    }
    let fx = Fixture::new("shdry");
    let targets = ["198.18.0.2-5", SILENT];
    let mut all_hosts: Vec<&str> = LIVE.iter().map(|(h, _)| *h).collect();
    all_hosts.push(SILENT);
    let space: BTreeSet<Key> = all_hosts
        .iter()
        .flat_map(|h| expand(PORTS).into_iter().map(move |p| (ip(h), p)))
        .collect();
    for order in [&["--seed", "11"][..], &["--order", "serial"][..]] {
        let dry = |shard: Option<&str>| -> Vec<Key> {
            let mut args: Vec<&str> = targets.to_vec();
            args.extend_from_slice(&["-p", PORTS, "--dry-run"]);
            args.extend_from_slice(order);
            if let Some(s) = shard {
                args.extend_from_slice(&["--shard", s]);
            }
            let run = fx.scan(&args);
            run.assert_success();
            dry_run_probes(&format!("{args:?}"), &run.stdout)
        };
        let full = dry(None);
        assert_eq!(full.len(), space.len(), "{order:?}: full dry run length");
        assert_same_keys(
            &format!("{order:?}: the full dry run vs every target × port"),
            &full.iter().copied().collect(),
            &space,
        );
        let mut union = BTreeSet::new();
        let mut sizes = Vec::new();
        for i in 1..=3 {
            let shard = format!("{i}/3");
            let probes = dry(Some(&shard));
            let set: BTreeSet<Key> = probes.iter().copied().collect();
            assert_eq!(
                set.len(),
                probes.len(),
                "{order:?} shard {shard}: a probe twice"
            );
            let overlap = union.intersection(&set).count();
            assert_eq!(
                overlap, 0,
                "{order:?} shard {shard}: {overlap} probes also in an earlier shard"
            );
            assert_eq!(
                dry(Some(&shard)),
                probes,
                "{order:?} shard {shard}: a second dry run planned otherwise"
            );
            sizes.push(set.len());
            union.extend(set);
        }
        assert_same_keys(
            &format!("{order:?}: the shards' dry runs vs the full dry run"),
            &union,
            &space,
        );
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(
            max - min <= 1,
            "{order:?}: shards of unequal size {sizes:?}"
        );
        if order[0] == "--seed" {
            let mut sorted = full.clone();
            sorted.sort();
            assert_ne!(full, sorted, "random order is sorted");
        }
    }
}

/// Three shard processes at once, each to its own file, merged with `portscout merge`: the
/// full scan's port records, ordered by address and port, and its host record for the silent
/// address (which each shard reports).
#[test]
fn shards_merged_equal_the_full_scan() {
    if !require_nft() {
        return;
    }
    let fx = Fixture::new("shmerge");
    let hosts: Vec<&str> = LIVE.iter().map(|(h, _)| *h).collect();
    let scanned = expand(PORTS);
    let base = [
        "198.18.0.2-5",
        SILENT,
        "-p",
        PORTS,
        "--seed",
        "11",
        "--format",
        "ndjson",
        "--show",
        "all",
    ];
    let full = fx.scan(&base);
    full.assert_success();
    let full_ports = port_map("full scan", &full.stdout);
    assert_same_ports("full scan", &full_ports, &truth(&hosts, &scanned));
    assert_silent_down("full scan", &full.host_records(), scanned.len());

    let files: Vec<String> = (1..=3)
        .map(|i| fx.dir.file(&format!("shard-{i}.ndjson")))
        .collect();
    let started = Instant::now();
    let running: Vec<RunningScan> = (1..=3)
        .map(|i| {
            let shard = format!("{i}/3");
            let mut args = base.to_vec();
            args.extend_from_slice(&["--shard", &shard, "-o", &files[i - 1]]);
            fx.spawn(&args)
        })
        .collect();
    let runs: Vec<ScanRun> = running.into_iter().map(RunningScan::wait).collect();
    let shards_took = started.elapsed();
    for run in &runs {
        run.assert_success();
    }
    for (i, text) in disjoint_shard_outputs(&files).iter().enumerate() {
        // Each shard finds the silent address down itself, and reports all of its ports
        // skipped, as the full scan does.
        assert_silent_down(
            &format!("shard {}", i + 1),
            &parse_host_records(text),
            scanned.len(),
        );
    }

    let merged = merge_ordered(&files);
    assert_same_ports(
        "merge of three shards vs the full scan",
        &port_map("merge", &merged.stdout),
        &full_ports,
    );
    assert_silent_down("merge", &parse_host_records(&merged.stdout), scanned.len());
    assert_eq!(
        summary_counts("merge", &merged.stdout),
        summary_counts("full scan", &full.stdout),
        "summary (open, closed, filtered, hosts_down) of the merge vs the full scan"
    );
    eprintln!(
        "shards: full scan {} ports in {:.2?}; 3 shards at once in {shards_took:.2?}",
        full_ports.len(),
        full.elapsed
    );
}
