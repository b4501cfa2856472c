//! `Scan::progress` (what the progress bar shows) on a link with hosts found down and ports
//! that never answer: done reaches the plan's total exactly, for a shard and for a resumed
//! run, although the down hosts' ports yield no result of their own.
//!
//! THE NETWORK RULE: scans only 198.18.0.0/28 inside namespaces this test creates (needs root;
//! skips otherwise, fails under CI).

use std::time::{Duration, Instant};

use crate::support::{nft_rules, require_root, Listeners, Netns, NftTable, VethHosts, VethPair};
use portscout::ports::PortSet;
use portscout::scan::{Scan, ScanConfig, Shard};
use portscout::target::Target;
use portscout::Event;

const SCANNER_CIDR: &str = "198.18.0.1/24";
/// The one live target: 22 listens, 40-49 are dropped (filtered); the rest is closed.
const LIVE: &[(&str, &[u16])] = &[("198.18.0.2", &[22])];
/// 16 addresses: the scanner's own (up), the live target, and 14 that exist nowhere (down:
/// nothing answers ARP).
const TARGETS: &str = "198.18.0.0/28";
const PORTS: &str = "1-60";

/// A scan's results and down hosts, `done` as sampled while it ran and at the end, and the
/// total.
struct Run {
    results: u64,
    down: u64,
    samples: Vec<u64>,
    done: u64,
    total: u64,
}

/// Runs `scan` to its end (pausing it after `pause_after` events and a host found down, if
/// given), sampling
/// `progress.done()` from another thread.
fn run(mut scan: Scan, pause_after: Option<usize>) -> (Run, Scan) {
    let progress = scan.progress();
    let total = progress.total();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (mut results, mut down) = (0, 0);
    let samples = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                samples.push(progress.done());
                std::thread::sleep(Duration::from_millis(20));
            }
            samples
        });
        let pauser = scan.pauser();
        for (k, event) in scan.by_ref().enumerate() {
            match event.unwrap() {
                Event::Port(_) => results += 1,
                Event::HostDown(_) => down += 1,
            }
            // Paused once a host was found down too (silent hosts are decided after their 2
            // attempts, which may come after the first 20 results).
            if pause_after.is_some_and(|after| k >= after) && down > 0 && !pauser.is_paused() {
                pauser.pause();
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sampler.join().unwrap()
    });
    let run = Run {
        results,
        down,
        samples,
        done: progress.done(),
        total,
    };
    (run, scan)
}

fn config() -> portscout::scan::ScanConfigBuilder {
    ScanConfig::builder()
        .targets([Target::parse(TARGETS).unwrap()])
        .ports(PortSet::parse(PORTS).unwrap())
        .seed(11)
        .timeout(Duration::from_millis(300))
}

/// The namespaces and what is in them; fields drop in order (listeners and rules first, the
/// namespaces last), also when the test panics.
struct Fixture {
    _listeners: Vec<Listeners>,
    _nft: NftTable,
    _veth: VethPair,
    _target: Netns,
    scanner: Netns,
}

#[test]
fn done_reaches_the_total_with_hosts_down_in_a_shard_and_on_resume() {
    if !require_root() {
        return;
    }
    let VethHosts {
        listeners,
        veth,
        target,
        scanner,
    } = VethHosts::new("ps-progress", SCANNER_CIDR, LIVE);
    let nft = nft_rules(
        &target,
        &[
            "chain input { type filter hook input priority 0; policy accept;",
            "  tcp dport 40-49 drop",
            "}",
        ],
    );
    let fix = Fixture {
        _listeners: listeners,
        _nft: nft,
        _veth: veth,
        _target: target,
        scanner,
    };
    let scanner = &fix.scanner;
    let space = 16 * 60;

    // Shard 1/2: half of the space, 14 hosts found down, their ports without results.
    let started = Instant::now();
    let (shard, _) = scanner.run_in(|| {
        let c = config().shard(Shard::new(1, 2).unwrap()).build().unwrap();
        run(Scan::start(&c).unwrap(), None)
    });
    eprintln!(
        "shard: {} results, {} down, done {}/{} in {:?}",
        shard.results,
        shard.down,
        shard.done,
        shard.total,
        started.elapsed()
    );
    assert_eq!(shard.total, space / 2);
    assert_eq!(shard.down, 14, "every absent address is down");
    assert!(
        shard.results < shard.total,
        "down hosts' ports have no results ({} of {})",
        shard.results,
        shard.total
    );
    assert_eq!(shard.done, shard.total, "done reaches the total");
    assert!(
        shard.samples.windows(2).all(|w| w[0] <= w[1]),
        "done never goes back: {:?}",
        shard.samples
    );
    assert!(
        shard.samples.iter().any(|&d| 0 < d && d < shard.total),
        "done was seen between 0 and the total: {:?}",
        shard.samples
    );

    // The whole scan, paused early and resumed: the resumed run's total is what was left,
    // and the down hosts it already knows (skipped without a record) count as done.
    let (first, paused) = scanner.run_in(|| {
        let c = config().build().unwrap();
        run(Scan::start(&c).unwrap(), Some(20))
    });
    let checkpoint = paused.checkpoint().expect("paused").clone();
    assert!(
        !checkpoint.down.is_empty(),
        "hosts were found down before the pause"
    );
    assert_eq!(
        first.done + checkpoint.remaining(),
        first.total,
        "done and left add up"
    );
    let (resumed, _) = scanner.run_in(|| {
        let c = config().resume(checkpoint.clone()).build().unwrap();
        run(Scan::start(&c).unwrap(), None)
    });
    eprintln!(
        "first run: done {}/{}; resumed: {} results, {} down, done {}/{}",
        first.done, first.total, resumed.results, resumed.down, resumed.done, resumed.total
    );
    assert_eq!(resumed.total, checkpoint.remaining());
    assert_eq!(
        resumed.done, resumed.total,
        "done reaches the resumed total"
    );
    assert!(
        resumed.results < resumed.total,
        "known-down hosts' ports were skipped, with no result"
    );
}
