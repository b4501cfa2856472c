//! Unit and property tests of port sets and the top-ports list.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::top::{RANKED, REGISTERED};
use super::*;

fn set(spec: &str) -> PortSet {
    PortSet::parse(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"))
}

fn ranges(spec: &str) -> Vec<(u16, u16)> {
    set(spec).ranges().to_vec()
}

/// Checks the representation invariant: sorted, disjoint, non-adjacent, within 1..=65535,
/// and prefix counts that match.
fn check_invariant(s: &PortSet) {
    let mut count = 0u32;
    for (k, &(a, b)) in s.ranges.iter().enumerate() {
        assert!(a >= 1 && a <= b, "bad range {a}-{b} in {s:?}");
        if k > 0 {
            assert!(
                u32::from(s.ranges[k - 1].1) + 1 < u32::from(a),
                "ranges touch in {s:?}"
            );
        }
        assert_eq!(s.before[k], count, "prefix count in {s:?}");
        count += u32::from(b - a) + 1;
    }
    assert_eq!(s.before.len(), s.ranges.len());
    assert_eq!(s.len(), count);
}

#[test]
fn parses_every_item_form() {
    assert_eq!(ranges("22"), vec![(22, 22)]);
    assert_eq!(ranges("1-1024"), vec![(1, 1024)]);
    assert_eq!(ranges("60000-"), vec![(60000, 65535)]);
    assert_eq!(ranges("-100"), vec![(1, 100)]);
    assert_eq!(ranges("-"), vec![(1, 65535)]);
    assert_eq!(ranges(" - "), vec![(1, 65535)]);
    assert_eq!(ranges("65535"), vec![(65535, 65535)]);
    assert_eq!(ranges("1"), vec![(1, 1)]);
    assert_eq!(ranges("080"), vec![(80, 80)]);
    assert_eq!(ranges("5-5"), vec![(5, 5)]);
    assert_eq!(ranges("1 - 5"), vec![(1, 5)]);
}

#[test]
fn parses_lists_with_whitespace_and_merges() {
    assert_eq!(
        ranges(" 443 ,22,\t80 , 8000-8100"),
        vec![(22, 22), (80, 80), (443, 443), (8000, 8100)]
    );
    // Duplicates, overlaps and adjacent items merge.
    assert_eq!(ranges("80,80,79,81"), vec![(79, 81)]);
    assert_eq!(ranges("10-20,15-30,31,5-9"), vec![(5, 31)]);
    assert_eq!(ranges("1-10,3-4"), vec![(1, 10)]);
    assert_eq!(ranges("100-,-99"), vec![(1, 65535)]);
    assert_eq!(set("22,-").len(), 65535);
    assert_eq!("22,80".parse::<PortSet>().unwrap(), set("80,22"));
}

#[track_caller]
fn assert_err(spec: &str, expected: PortSpecError, token: &str) {
    let err = PortSet::parse(spec).expect_err(spec);
    assert_eq!(err, expected, "spec {spec:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("`{token}`")),
        "{msg:?} does not name `{token}`"
    );
}

#[test]
fn empty_specs_and_items_are_errors() {
    assert_eq!(PortSet::parse(""), Err(PortSpecError::Empty(String::new())));
    assert_eq!(
        PortSet::parse("   "),
        Err(PortSpecError::Empty(String::new()))
    );
    assert_eq!(
        PortSet::parse("").unwrap_err().to_string(),
        "empty port list"
    );
    assert_err("22,,80", PortSpecError::Empty("22,,80".into()), "22,,80");
    assert_err(" 22,80, ", PortSpecError::Empty("22,80,".into()), "22,80,");
    assert_err(",22", PortSpecError::Empty(",22".into()), ",22");
    assert_err(",", PortSpecError::Empty(",".into()), ",");
    assert_eq!(
        PortSet::parse("22,,80").unwrap_err().to_string(),
        "empty item in port list `22,,80`"
    );
}

#[test]
fn non_numbers_are_invalid() {
    for token in [
        "abc", "1.5", "+3", "0x10", "٣", "1e3", "-3-", "1-2-3", "--", "22a",
    ] {
        let spec = format!("80, {token} ,443");
        assert_err(&spec, PortSpecError::Invalid(token.into()), token);
    }
    // Inside a range, the bad side is named.
    assert_err("abc-5", PortSpecError::Invalid("abc".into()), "abc");
    assert_err("5-x", PortSpecError::Invalid("x".into()), "x");
    assert_eq!(
        PortSet::parse("abc").unwrap_err().to_string(),
        "invalid port `abc`"
    );
}

#[test]
fn out_of_range_ports_are_errors() {
    for token in [
        "0",
        "00",
        "65536",
        "70000",
        "4294967296",
        "18446744073709551617",
        "99999999999999999999999999999999999999",
    ] {
        assert_err(token, PortSpecError::OutOfRange(token.into()), token);
    }
    assert_err("0-10", PortSpecError::OutOfRange("0".into()), "0");
    assert_err(
        "10-70000",
        PortSpecError::OutOfRange("70000".into()),
        "70000",
    );
    assert_err("-0", PortSpecError::OutOfRange("0".into()), "0");
    assert_eq!(
        PortSet::parse("70000").unwrap_err().to_string(),
        "port `70000` is out of range (1-65535)"
    );
}

#[test]
fn reversed_ranges_are_errors() {
    assert_err("10-5", PortSpecError::Reversed("10-5".into()), "10-5");
    assert_err(
        "22, 10 - 5 ",
        PortSpecError::Reversed("10 - 5".into()),
        "10 - 5",
    );
    assert_eq!(
        PortSet::parse("10-5").unwrap_err().to_string(),
        "port range `10-5` is reversed"
    );
}

#[test]
fn all_and_display() {
    assert_eq!(PortSet::all().to_string(), "1-65535");
    assert_eq!(PortSet::all().len(), 65535);
    assert_eq!(set("-").to_string(), "1-65535");
    assert_eq!(set("8000-8100,80,22").to_string(), "22,80,8000-8100");
    assert_eq!(PortSet::empty().to_string(), "");
    assert!(PortSet::empty().is_empty());
    assert_eq!(PortSet::empty().len(), 0);
    assert_eq!(PortSet::empty().nth(0), None);
    assert!(!PortSet::all().is_empty());
}

#[test]
fn nth_contains_and_iter() {
    let s = set("5-7,10,65535");
    let ports: Vec<u16> = s.iter().collect();
    assert_eq!(ports, vec![5, 6, 7, 10, 65535]);
    assert_eq!(
        (0..6).map(|i| s.nth(i)).collect::<Vec<_>>(),
        vec![Some(5), Some(6), Some(7), Some(10), Some(65535), None]
    );
    assert_eq!(s.nth(u32::MAX), None);
    assert!(s.contains(5) && s.contains(7) && s.contains(10) && s.contains(65535));
    assert!(!s.contains(0) && !s.contains(4) && !s.contains(8) && !s.contains(11));
    assert_eq!(PortSet::all().nth(65534), Some(65535));
    assert_eq!(PortSet::all().nth(65535), None);
}

#[test]
fn set_operations() {
    let a = set("1-100,200-300");
    let b = set("50-250,300");
    assert_eq!(a.difference(&b), set("1-49,251-299"));
    assert_eq!(a.union(&b), set("1-300"));
    assert_eq!(a.intersection(&b), set("50-100,200-250,300"));
    assert_eq!(PortSet::all().difference(&PortSet::all()), PortSet::empty());
    assert_eq!(PortSet::all().difference(&set("1,65535")), set("2-65534"));
    assert_eq!(a.difference(&PortSet::empty()), a);
}

#[test]
fn from_iterator_ignores_zero() {
    let s: PortSet = [0u16, 3, 1, 2, 9].into_iter().collect();
    assert_eq!(s.ranges(), &[(1, 3), (9, 9)]);
}

#[test]
fn top_ports_list_is_sound() {
    assert!(TOP_PORTS.len() >= 1000, "only {} ports", TOP_PORTS.len());
    assert!(!TOP_PORTS.contains(&0));
    let distinct: BTreeSet<u16> = TOP_PORTS.iter().copied().collect();
    assert_eq!(distinct.len(), TOP_PORTS.len(), "duplicates in TOP_PORTS");
    // The hand-written tiers are clean on their own: no 0, no repeats, no overlap.
    let mut seen = BTreeSet::new();
    for &p in RANKED.iter().chain(REGISTERED) {
        assert!(p != 0);
        assert!(seen.insert(p), "port {p} listed twice in the tiers");
    }
}

#[test]
fn top_ports_follow_the_documented_construction() {
    let mut expected: Vec<u16> = RANKED.iter().chain(REGISTERED).copied().collect();
    let tiers: BTreeSet<u16> = expected.iter().copied().collect();
    expected.extend((1..=1023).filter(|p| !tiers.contains(p)));
    assert_eq!(TOP_PORTS, expected.as_slice());
    // The head of the ranking is the public, well-known one.
    assert_eq!(&TOP_PORTS[..6], &[80, 443, 22, 21, 23, 25]);
    // Every well-known port is somewhere in the list.
    assert!((1..=1023).all(|p| TOP_PORTS.contains(&p)));
    // docs/top-ports.md quotes these numbers: update it when they change.
    assert_eq!(
        (RANKED.len(), REGISTERED.len(), TOP_PORTS.len()),
        (184, 202, 1362)
    );
    assert_eq!(TOP_PORTS[999], 655);
}

#[test]
fn top_n() {
    assert_eq!(PortSet::top(1).unwrap(), set("80"));
    assert_eq!(PortSet::top(3).unwrap(), set("22,80,443"));
    assert_eq!(PortSet::top(1000).unwrap().len(), 1000);
    assert_eq!(
        PortSet::top(TOP_PORTS.len()).unwrap().len() as usize,
        TOP_PORTS.len()
    );
    let max = TOP_PORTS.len();
    for n in [0, max + 1, usize::MAX] {
        let err = PortSet::top(n).unwrap_err();
        assert_eq!(err, PortSpecError::TopPortsRange { n, max });
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{n}`")), "{msg}");
        assert!(msg.contains(&format!("1-{max}")), "{msg}");
    }
}

/// Random sets: up to 12 ranges, biased towards the edges of the port space.
fn arb_set() -> impl Strategy<Value = PortSet> {
    let port = prop_oneof![1u16..=20, 65515u16..=65535, 1u16..=65535, 1u16..=300,];
    prop::collection::vec((port.clone(), 0u16..300), 0..12).prop_map(|v| {
        PortSet::from_ranges(
            v.into_iter()
                .map(|(a, len)| (a, a.saturating_add(len)))
                .collect(),
        )
    })
}

fn model(s: &PortSet) -> BTreeSet<u16> {
    s.ranges.iter().flat_map(|&(a, b)| a..=b).collect()
}

proptest! {
    #[test]
    fn display_parse_round_trip(s in arb_set()) {
        check_invariant(&s);
        prop_assume!(!s.is_empty());
        let text = s.to_string();
        prop_assert_eq!(PortSet::parse(&text).unwrap(), s);
    }

    #[test]
    fn nth_is_ascending_and_contained(s in arb_set()) {
        let n = s.len();
        let mut prev = None;
        for i in 0..n {
            let p = s.nth(i).unwrap();
            prop_assert!(prev < Some(p));
            prop_assert!(s.contains(p));
            prev = Some(p);
        }
        prop_assert_eq!(s.nth(n), None);
        let iterated: Vec<u16> = s.iter().collect();
        prop_assert_eq!(iterated.len() as u32, n);
        prop_assert_eq!(iterated, model(&s).into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn contains_matches_model(s in arb_set(), probes in prop::collection::vec(any::<u16>(), 50)) {
        let m = model(&s);
        for p in probes.into_iter().chain([0, 1, 65535]) {
            prop_assert_eq!(s.contains(p), m.contains(&p));
        }
    }

    #[test]
    fn set_operations_match_model(a in arb_set(), b in arb_set()) {
        let (ma, mb) = (model(&a), model(&b));
        let d = a.difference(&b);
        check_invariant(&d);
        prop_assert_eq!(model(&d), ma.difference(&mb).copied().collect::<BTreeSet<_>>());
        let u = a.union(&b);
        check_invariant(&u);
        prop_assert_eq!(model(&u), ma.union(&mb).copied().collect::<BTreeSet<_>>());
        let i = a.intersection(&b);
        check_invariant(&i);
        prop_assert_eq!(model(&i), ma.intersection(&mb).copied().collect::<BTreeSet<_>>());
    }

    #[test]
    fn parse_matches_model(items in prop::collection::vec((1u16..=2000, 0u16..50, 0u8..4), 1..10)) {
        // Builds a spec from random items of every form and checks it against a naive model.
        let mut spec = Vec::new();
        let mut m = BTreeSet::new();
        for (a, len, form) in items {
            let b = a.saturating_add(len);
            match form {
                0 => { spec.push(format!(" {a}")); m.insert(a); }
                1 => { spec.push(format!("{a}-{b} ")); m.extend(a..=b); }
                2 => { spec.push(format!("-{a}")); m.extend(1..=a); }
                _ => { spec.push(format!("{b}-")); m.extend(b..=65535); }
            }
        }
        let s = PortSet::parse(&spec.join(",")).unwrap();
        check_invariant(&s);
        prop_assert_eq!(model(&s), m);
    }

    #[test]
    fn parse_never_panics(spec in "\\PC{0,40}") {
        if let Ok(s) = PortSet::parse(&spec) {
            check_invariant(&s);
            prop_assert!(!s.is_empty());
        }
    }

    #[test]
    fn parse_never_panics_on_port_like_text(spec in "[0-9, \\-]{0,30}") {
        match PortSet::parse(&spec) {
            Ok(s) => check_invariant(&s),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
