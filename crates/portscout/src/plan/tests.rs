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

/// The addresses of target tokens (`2001:db8::/64`, `198.18.0.0/31`, …) minus those of
/// `exclude`.
fn addrs(targets: &[&str], exclude: &[&str]) -> AddrSet {
    let set = |tokens: &[&str]| -> AddrSet {
        tokens
            .iter()
            .flat_map(|t| match crate::target::Target::parse(t).unwrap() {
                crate::target::Target::Addrs(r) => r,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    set(targets).difference(&set(exclude))
}

fn probe(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// IPv6 blocks at the edge of the u64 index: 2001:db8::/64 × 1 port (2^64 probes) is a clear
/// error, one address less is the largest space there is (2^64 - 1 probes), and every order and
/// shard of it reaches its last probe without overflow.
#[test]
fn ipv6_spaces_at_the_edge_of_u64() {
    let one_port = || PortSet::parse("80").unwrap();
    for (targets, ports, want) in [
        (&["2001:db8::/64"][..], "80", 1u128 << 64),
        (&["2001:db8::/65"][..], "80,443", 1 << 63),
        (&["::/0"][..], "80", u128::MAX),
    ] {
        match ProbeSpace::new(addrs(targets, &[]), PortSet::parse(ports).unwrap()) {
            Err(Error::TooManyProbes { targets, .. }) => assert_eq!(targets, want),
            other => panic!("{targets:?} × {ports}: {other:?}"),
        }
    }

    let s =
        Arc::new(ProbeSpace::new(addrs(&["2001:db8::/64"], &["2001:db8::"]), one_port()).unwrap());
    assert_eq!((s.len(), s.hosts()), (u64::MAX, u64::MAX));
    assert_eq!(s.probe(0), Some(probe("[2001:db8::1]:80")));
    let last = probe("[2001:db8::ffff:ffff:ffff:ffff]:80");
    assert_eq!(s.probe(u64::MAX - 1), Some(last));
    assert_eq!(s.probe(u64::MAX), None);

    let serial = Plan::new(Arc::clone(&s), Order::Serial, 0, Shard::WHOLE);
    assert_eq!(serial.get(serial.len() - 1), Some(last));
    for shard in [
        Shard::WHOLE,
        Shard { index: 3, count: 3 },
        Shard { index: 2, count: 7 },
    ] {
        let plan = Plan::new(Arc::clone(&s), Order::Random, 42, shard);
        assert_eq!(plan.len(), shard.len_of(u64::MAX));
        for slot in [0, 1, plan.len() / 2, plan.len() - 1] {
            let p = plan
                .get(slot)
                .unwrap_or_else(|| panic!("{shard}: slot {slot}"));
            assert!(s.contains(p), "{shard}: slot {slot} gave {p}");
        }
        assert_eq!(plan.get(plan.len()), None);
        // What a pause at the very end would leave.
        let tail = plan.len() - 2..plan.len();
        let left = plan.left(std::slice::from_ref(&tail), vec![last]);
        let resumed = Plan::resume(Arc::clone(&s), &left).unwrap();
        assert_eq!(resumed.len(), 3);
        assert_eq!(resumed.get(0), Some(last));
    }
}

/// Mixed IPv4 and IPv6 targets: one space, IPv4 addresses before IPv6 ones on every port; the
/// random order and the shards are reorderings and partitions of it.
#[test]
fn mixed_v4_and_v6_space() {
    let s = Arc::new(
        ProbeSpace::new(
            addrs(
                &["2001:db8::/126", "198.18.0.2", "[2001:db8::ff]"],
                &["2001:db8::1"],
            ),
            PortSet::parse("22,80").unwrap(),
        )
        .unwrap(),
    );
    let serial: Vec<SocketAddr> = Plan::new(Arc::clone(&s), Order::Serial, 0, Shard::WHOLE)
        .iter()
        .collect();
    let want: Vec<SocketAddr> = [22, 80]
        .into_iter()
        .flat_map(|port| {
            [
                "198.18.0.2",
                "2001:db8::",
                "2001:db8::2",
                "2001:db8::3",
                "2001:db8::ff",
            ]
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
        })
        .collect();
    assert_eq!(serial, want);
    let mut union = Vec::new();
    for i in 1..=3 {
        union.extend(
            Plan::new(
                Arc::clone(&s),
                Order::Random,
                3,
                Shard { index: i, count: 3 },
            )
            .iter(),
        );
    }
    assert_ne!(union, want);
    union.sort();
    let mut sorted = want.clone();
    sorted.sort();
    assert_eq!(union, sorted);
}

/// A checkpoint of an IPv6 scan goes through its JSON form (`"[2001:db8::ff]:80"`) and
/// resumes exactly what was left.
#[test]
fn an_ipv6_checkpoint_survives_its_json_form() {
    let s = Arc::new(
        ProbeSpace::new(
            addrs(&["2001:db8::/120", "198.18.0.2"], &["2001:db8::10"]),
            PortSet::parse("22,80").unwrap(),
        )
        .unwrap(),
    );
    let plan = Plan::new(
        Arc::clone(&s),
        Order::Random,
        11,
        Shard { index: 2, count: 3 },
    );
    let pending = vec![probe("[2001:db8::ff]:80"), probe("198.18.0.2:22")];
    let mut c = plan.left(&[5..40, 100..plan.len()], pending.clone());
    let v6 = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    c.up = vec![(v6("2001:db8::2"), v6("2001:db8::2"))];
    c.down = vec![(
        v6("2001:db8::90"),
        v6("2001:db8::99"),
        DownReason::HostUnreach,
    )];
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains("\"[2001:db8::ff]:80\""), "{json}");
    let back: Checkpoint = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    let resumed = Plan::resume(Arc::clone(&s), &back).unwrap();
    let mut want = pending;
    want.extend((5..40).chain(100..plan.len()).map(|k| plan.get(k).unwrap()));
    assert_eq!(resumed.iter().collect::<Vec<_>>(), want);
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

/// The scan id is the same for every shard and run of one scan, another for another space,
/// order or seed; a resumed run is the next part.
#[test]
fn identity_of_shards_and_runs() {
    let s = space(&[(1, 30)], "1-200");
    let plan = |space: &Arc<ProbeSpace>, order, seed, index| {
        Plan::new(Arc::clone(space), order, seed, Shard { index, count: 3 })
    };
    let first = plan(&s, Order::Random, 3, 1);
    let id = first.identity(true);
    assert_eq!(
        (id.shard, id.probes, id.part),
        (Shard { index: 1, count: 3 }, 6000, 1)
    );
    assert_eq!(plan(&s, Order::Random, 3, 3).scan_id(), id.scan);
    assert_ne!(plan(&s, Order::Random, 4, 1).scan_id(), id.scan);
    assert_ne!(plan(&s, Order::Serial, 3, 1).scan_id(), id.scan);
    // The seed means nothing to the serial order.
    assert_eq!(
        plan(&s, Order::Serial, 3, 1).scan_id(),
        plan(&s, Order::Serial, 4, 2).scan_id()
    );
    let other = space(&[(1, 30)], "1-199,201");
    assert_ne!(plan(&other, Order::Random, 3, 1).scan_id(), id.scan);
    let other = space(&[(1, 29), (31, 31)], "1-200");
    assert_ne!(plan(&other, Order::Random, 3, 1).scan_id(), id.scan);

    // Runs: a resumed plan is part 2, its checkpoint's resumed run part 3.
    let first = Arc::new(first);
    let (_, cp) = drain(&first, 1, Some(10));
    assert_eq!(cp.part, 1);
    let second = Arc::new(Plan::resume(Arc::clone(&s), &cp).unwrap());
    assert_eq!((second.part(), second.scan_id()), (2, id.scan));
    let (_, cp) = drain(&second, 1, Some(10));
    assert_eq!(Plan::resume(Arc::clone(&s), &cp).unwrap().part(), 3);
    // A checkpoint written before parts existed was written by part 1.
    let mut json: serde_json::Value = serde_json::to_value(&cp).unwrap();
    json.as_object_mut().unwrap().remove("part");
    let old: Checkpoint = serde_json::from_value(json).unwrap();
    assert_eq!(Plan::resume(Arc::clone(&s), &old).unwrap().part(), 2);
}

/// Issue 18: a resume file keeps the decisions of hosts with probes left only. Near the end of
/// a /16 × 3 ports (16 groups of 4096 hosts), what is left lies in the last group: its 4096
/// hosts are kept, the 61,440 others (every probe done) are not; with one group (a /20) or
/// the serial order, every host is.
#[test]
#[allow(clippy::single_range_in_vec_init)]
fn a_checkpoint_keeps_only_the_hosts_of_groups_with_work_left() {
    let base = u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0));
    let held = |plan: &Plan, left: &[Range<u64>]| {
        let checkpoint = plan.left(left, Vec::new());
        let hosts = plan.hosts_left(&checkpoint);
        (0..plan.space().hosts() as u32)
            .filter(|&i| hosts.holds(std::net::Ipv4Addr::from(base + i).into()))
            .count()
    };
    let wide = space(&[(base, base + 65_535)], "22,80,443");
    let plan = Plan::new(Arc::clone(&wide), Order::Random, 7, Shard::WHOLE);
    let n = plan.len();
    assert_eq!(held(&plan, &[n - 100..n]), 4096);
    assert_eq!(held(&plan, &[]), 0);
    // A probe left unanswered keeps its host's group.
    let probe = plan.get(0).unwrap();
    let checkpoint = plan.left(&[], vec![probe]);
    assert!(plan.hosts_left(&checkpoint).holds(probe.ip()));
    let serial = Plan::new(Arc::clone(&wide), Order::Serial, 7, Shard::WHOLE);
    assert_eq!(held(&serial, &[n - 100..n]), 65_536);
    let small = space(&[(base, base + 4095)], "22,80,443");
    let plan = Plan::new(small, Order::Random, 7, Shard::WHOLE);
    assert_eq!(held(&plan, &[0..1]), 4096);
}
