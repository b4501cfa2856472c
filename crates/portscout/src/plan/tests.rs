use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::ports::PortSet;
use crate::target::{AddrRange, AddrSet};

fn space(v4: &[(u32, u32)], ports: &str) -> Arc<ProbeSpace> {
    let addrs: AddrSet = v4.iter().map(|&(s, e)| AddrRange::from_v4(s, e)).collect();
    Arc::new(ProbeSpace::new(addrs, PortSet::parse(ports).unwrap()).unwrap())
}

#[test]
fn shard_parsing() {
    assert_eq!(
        "2/8".parse::<Shard>().unwrap(),
        Shard { index: 2, count: 8 }
    );
    for bad in [
        "0/4", "5/4", "1/0", "1", "/4", "1/", "a/b", "-1/4", "1/4/2", " 1/4",
    ] {
        let e = bad.parse::<Shard>().unwrap_err().to_string();
        assert!(e.contains(&format!("`{bad}`")), "{e}");
    }
}

#[test]
fn shard_lengths_add_up() {
    for n in 0..50u64 {
        for count in 1..12u64 {
            let total: u64 = (1..=count)
                .map(|i| Shard { index: i, count }.len_of(n))
                .sum();
            assert_eq!(total, n, "n={n} count={count}");
        }
    }
}

#[test]
fn serial_order_is_the_space_order() {
    let s = space(&[(10, 12)], "1-3");
    let plan = Plan::new(Arc::clone(&s), Order::Serial, 0, Shard::WHOLE);
    let got: Vec<SocketAddr> = plan.iter().collect();
    let want: Vec<SocketAddr> = (0..s.len()).map(|i| s.probe(i).unwrap()).collect();
    assert_eq!(got, want);
    let by_slot: Vec<SocketAddr> = (0..plan.len()).map(|i| plan.get(i).unwrap()).collect();
    assert_eq!(by_slot, want);
}

#[test]
fn random_order_is_a_reordering() {
    let s = space(&[(10, 20), (40, 41)], "1-100,443");
    let plan = Plan::new(Arc::clone(&s), Order::Random, 9, Shard::WHOLE);
    let got: Vec<SocketAddr> = plan.iter().collect();
    let mut sorted = got.clone();
    sorted.sort();
    let mut want: Vec<SocketAddr> = (0..s.len()).map(|i| s.probe(i).unwrap()).collect();
    assert_ne!(got, want);
    want.sort();
    assert_eq!(sorted, want);
}

/// Slots claimed by `workers` feeds, interleaved; stops after `stop_after` probes (pausing).
fn drain(
    plan: &Arc<Plan>,
    workers: usize,
    stop_after: Option<usize>,
) -> (Vec<SocketAddr>, Checkpoint) {
    let cursor = Arc::new(Cursor::new(plan.len(), workers));
    let mut feeds: Vec<Feed> = (0..workers)
        .map(|_| Feed::new(Arc::clone(plan), Arc::clone(&cursor)))
        .collect();
    let mut sent = Vec::new();
    let mut live = workers;
    'outer: while live > 0 {
        live = 0;
        for f in &mut feeds {
            if stop_after.is_some_and(|n| sent.len() >= n) {
                cursor.pause();
                break 'outer;
            }
            if let Some(p) = f.next_probe() {
                sent.push(p);
                live += 1;
            }
        }
    }
    let mut left: Vec<Range<u64>> = feeds.iter().map(Feed::unsent).collect();
    left.push(cursor.unclaimed());
    (sent, plan.left(&left, Vec::new()))
}

#[test]
fn a_checkpoint_leaves_exactly_what_was_not_sent() {
    let s = space(&[(1, 30)], "1-200");
    let plan = Arc::new(Plan::new(
        Arc::clone(&s),
        Order::Random,
        3,
        Shard { index: 2, count: 3 },
    ));
    let all: HashSet<SocketAddr> = plan.iter().collect();
    let (first, cp) = drain(&plan, 3, Some(777));
    assert_eq!(cp.remaining() as usize, all.len() - first.len());
    let resumed = Arc::new(Plan::resume(Arc::clone(&s), &cp).unwrap());
    let (second, cp2) = drain(&resumed, 2, None);
    assert_eq!(cp2.remaining(), 0);
    let mut both: Vec<SocketAddr> = first.iter().chain(&second).copied().collect();
    let n = both.len();
    both.sort();
    both.dedup();
    assert_eq!(both.len(), n, "a probe was planned twice");
    assert_eq!(both.into_iter().collect::<HashSet<_>>(), all);
}

#[test]
fn a_checkpoint_of_another_scan_is_refused() {
    let s = space(&[(1, 30)], "1-200");
    let plan = Arc::new(Plan::new(Arc::clone(&s), Order::Random, 3, Shard::WHOLE));
    let (_, cp) = drain(&plan, 1, Some(10));
    let other = space(&[(1, 30)], "1-199,201");
    assert!(matches!(Plan::resume(other, &cp), Err(Error::BadResume(_))));
}

fn spec() -> impl Strategy<Value = (Vec<(u32, u32)>, String)> {
    let ranges = prop::collection::vec((0u32..500, 0u32..40), 1..4)
        .prop_map(|v| v.into_iter().map(|(s, l)| (s, s + l)).collect::<Vec<_>>());
    let ports = prop::collection::vec((1u16..3000, 0u16..30), 1..4).prop_map(|v| {
        v.into_iter()
            .map(|(s, l)| format!("{s}-{}", s.saturating_add(l)))
            .collect::<Vec<_>>()
            .join(",")
    });
    (ranges, ports)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The property: for random targets, ports, seeds and N, the shards are disjoint
    /// and together are the serial scan.
    #[test]
    fn shards_are_disjoint_and_cover_the_serial_scan(
        (ranges, ports) in spec(),
        seed: u64,
        count in 1u64..9,
        random: bool,
    ) {
        let s = space(&ranges, &ports);
        let order = if random { Order::Random } else { Order::Serial };
        let mut seen = HashSet::new();
        for index in 1..=count {
            let plan = Plan::new(Arc::clone(&s), order, seed, Shard { index, count });
            for p in plan.iter() {
                prop_assert!(seen.insert(p), "{} in two shards", p);
            }
        }
        let serial: HashSet<SocketAddr> =
            Plan::new(Arc::clone(&s), Order::Serial, 0, Shard::WHOLE).iter().collect();
        prop_assert_eq!(seen, serial);
    }

    #[test]
    fn pausing_anywhere_loses_and_repeats_nothing(
        (ranges, ports) in spec(),
        seed: u64,
        stop in 0usize..2000,
        workers in 1usize..5,
    ) {
        let s = space(&ranges, &ports);
        let plan = Arc::new(Plan::new(Arc::clone(&s), Order::Random, seed, Shard::WHOLE));
        let (first, cp) = drain(&plan, workers, Some(stop));
        let resumed = Arc::new(Plan::resume(Arc::clone(&s), &cp).unwrap());
        let (second, _) = drain(&resumed, 3, None);
        let mut both: Vec<SocketAddr> = first.into_iter().chain(second).collect();
        let n = both.len();
        both.sort();
        both.dedup();
        prop_assert_eq!(both.len(), n);
        prop_assert_eq!(n as u64, s.len());
    }
}
