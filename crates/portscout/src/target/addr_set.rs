//! [`AddrRange`] and [`AddrSet`]: address sets kept as sorted, disjoint, merged ranges.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive range of addresses of one family.
///
/// The fields are public, so a range can be built whose ends differ in family or whose end is
/// below its start; such a range is *empty*: [`AddrRange::len`] is 0 and inserting it into an
/// [`AddrSet`] does nothing. [`AddrRange::new`] refuses to build one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddrRange {
    /// First address.
    pub start: IpAddr,
    /// Last address (same family, not below `start`).
    pub end: IpAddr,
}

/// A range as integers: the two families kept apart.
enum Raw {
    V4(u32, u32),
    V6(u128, u128),
    Empty,
}

impl AddrRange {
    /// The range `start..=end`, or `None` if the ends differ in family or `end < start`.
    pub fn new(start: IpAddr, end: IpAddr) -> Option<AddrRange> {
        let r = AddrRange { start, end };
        match r.raw() {
            Raw::Empty => None,
            _ => Some(r),
        }
    }

    /// The range holding the single address `ip`.
    pub fn single(ip: IpAddr) -> AddrRange {
        AddrRange { start: ip, end: ip }
    }

    /// The IPv4 range `start..=end` given as integers (`end < start` gives an empty range).
    pub fn from_v4(start: u32, end: u32) -> AddrRange {
        AddrRange {
            start: IpAddr::V4(Ipv4Addr::from(start)),
            end: IpAddr::V4(Ipv4Addr::from(end)),
        }
    }

    /// The IPv6 range `start..=end` given as integers (`end < start` gives an empty range).
    pub fn from_v6(start: u128, end: u128) -> AddrRange {
        AddrRange {
            start: IpAddr::V6(Ipv6Addr::from(start)),
            end: IpAddr::V6(Ipv6Addr::from(end)),
        }
    }

    fn raw(&self) -> Raw {
        match (self.start, self.end) {
            (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => Raw::V4(s.into(), e.into()),
            (IpAddr::V6(s), IpAddr::V6(e)) if s <= e => Raw::V6(s.into(), e.into()),
            _ => Raw::Empty,
        }
    }

    /// Number of addresses in the range, saturating at `u128::MAX` (only `::/0`, which holds
    /// 2^128 addresses, saturates). 0 for an empty (malformed) range.
    pub fn len(&self) -> u128 {
        match self.raw() {
            Raw::V4(s, e) => u128::from(e - s) + 1,
            Raw::V6(s, e) => (e - s).saturating_add(1),
            Raw::Empty => 0,
        }
    }

    /// Whether the range is empty (its ends differ in family, or `end < start`).
    pub fn is_empty(&self) -> bool {
        matches!(self.raw(), Raw::Empty)
    }

    /// The `i`-th address of the range (from `start`), or `None` past its end.
    pub fn nth(&self, i: u128) -> Option<IpAddr> {
        match self.raw() {
            Raw::V4(s, e) => {
                let a = u128::from(s) + i;
                (a <= u128::from(e)).then(|| IpAddr::V4(Ipv4Addr::from(a as u32)))
            }
            Raw::V6(s, e) => (i <= e - s).then(|| IpAddr::V6(Ipv6Addr::from(s + i))),
            Raw::Empty => None,
        }
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.raw(), ip) {
            (Raw::V4(s, e), IpAddr::V4(a)) => (s..=e).contains(&u32::from(a)),
            (Raw::V6(s, e), IpAddr::V6(a)) => (s..=e).contains(&u128::from(a)),
            _ => false,
        }
    }
}

impl fmt::Display for AddrRange {
    /// `a` for a single address, `a-b` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// The integer types the two families are stored as.
trait Int: Copy + Ord {
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

impl Int for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Int for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// Whether a range ending at `end` lies strictly before `start` and does not touch it.
fn before_not_adjacent<T: Int>(end: T, start: T) -> bool {
    end.succ().is_some_and(|n| n < start)
}

/// Inserts `s..=e` (with `s <= e`) into sorted, disjoint, non-adjacent `v`, merging; returns the
/// index of the first range that changed.
fn insert_range<T: Int>(v: &mut Vec<(T, T)>, s: T, e: T) -> usize {
    let i = v.partition_point(|&(_, re)| before_not_adjacent(re, s));
    // Ranges from `i` on that start at or before `e + 1` touch the new one.
    let j = match e.succ() {
        Some(n) => v.partition_point(|&(rs, _)| rs <= n),
        None => v.len(),
    };
    if i < j {
        let ns = s.min(v[i].0);
        let ne = e.max(v[j - 1].1);
        v.splice(i..j, std::iter::once((ns, ne)));
    } else {
        v.insert(i, (s, e));
    }
    i
}

/// Sorts and merges overlapping or adjacent ranges in place. O(n log n), no allocation.
fn normalize<T: Int>(v: &mut Vec<(T, T)>) {
    v.sort_unstable();
    let mut w: usize = 0;
    for r in 0..v.len() {
        let (s, e) = v[r];
        match w.checked_sub(1) {
            Some(last) if !before_not_adjacent(v[last].1, s) => v[last].1 = v[last].1.max(e),
            _ => {
                v[w] = (s, e);
                w += 1;
            }
        }
    }
    v.truncate(w);
}

/// The union of `a` and `b`, both sorted, disjoint and non-adjacent; so is the result. O(a + b).
fn merge<T: Int>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out: Vec<(T, T)> = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    loop {
        // The next range by start, from whichever input has the lower one.
        let next = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x.0 <= y.0 => {
                i += 1;
                x
            }
            (_, Some(&y)) => {
                j += 1;
                y
            }
            (Some(&x), None) => {
                i += 1;
                x
            }
            (None, None) => break,
        };
        match out.last_mut() {
            Some(last) if !before_not_adjacent(last.1, next.0) => last.1 = last.1.max(next.1),
            _ => out.push(next),
        }
    }
    out
}

/// Adds the unordered ranges `batch` to the sorted, disjoint, non-adjacent `v`, keeping it so:
/// `batch` is sorted and merged on its own, then merged into `v` in one linear pass.
/// O(b log b + v) for `b` new ranges, rather than O((v + b) log (v + b)) for sorting it all.
fn add_batch<T: Int>(v: &mut Vec<(T, T)>, mut batch: Vec<(T, T)>) {
    normalize(&mut batch);
    *v = if v.is_empty() {
        batch
    } else {
        merge(v, &batch)
    };
}

/// `a \ b`, both sorted, disjoint and non-adjacent.
fn difference<T: Int>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &(s, e) in a {
        while j < b.len() && b[j].1 < s {
            j += 1;
        }
        let mut cur = Some(s);
        let mut k = j;
        while let Some(c) = cur {
            if k >= b.len() || b[k].0 > e {
                break;
            }
            let (bs, be) = b[k];
            if bs > c {
                // `bs > c >= 0`, so `bs - 1` exists.
                if let Some(p) = bs.pred() {
                    out.push((c, p));
                }
            }
            cur = if be >= e { None } else { be.succ() };
            k += 1;
        }
        if let Some(c) = cur {
            out.push((c, e));
        }
    }
    out
}

/// The index of the range holding `x`, if any.
fn find<T: Int>(v: &[(T, T)], x: T) -> Option<usize> {
    let k = v.partition_point(|&(s, _)| s <= x);
    (k > 0 && v[k - 1].1 >= x).then(|| k - 1)
}

/// The first IPv4-mapped IPv6 address, `::ffff:0.0.0.0` (the block is `::ffff:0:0/96`).
const V4_MAPPED: u128 = 0xffff_0000_0000;

/// A set of addresses, kept as sorted, disjoint ranges (IPv4 first, then IPv6).
///
/// Adjacent and overlapping ranges are merged, so memory is O(number of ranges), never
/// O(number of addresses). Addresses are ordered IPv4 ascending, then IPv6 ascending; this is
/// the order of [`AddrSet::nth`] and [`AddrSet::ranges`].
///
/// Prefix sums over the ranges are kept alongside them, so [`AddrSet::nth`] and
/// [`AddrSet::contains`] are O(log ranges) and never allocate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    /// `v4_off[k]`: number of IPv4 addresses in the ranges before `v4[k]`.
    v4_off: Vec<u64>,
    /// `v6_off[k]`: number of IPv6 addresses in the ranges before `v6[k]` (never overflows: it
    /// is at most `v6[k].0`).
    v6_off: Vec<u128>,
}

impl AddrSet {
    /// An empty set.
    pub fn new() -> AddrSet {
        AddrSet::default()
    }

    /// Adds a range, merging it with the ranges it overlaps or touches. An empty (malformed)
    /// range is ignored.
    ///
    /// O(ranges) in the worst case, O(1) amortized when ranges are inserted in ascending order.
    /// To add many unordered ranges at once, [`Extend::extend`] is O(n log n + ranges).
    pub fn insert(&mut self, range: AddrRange) {
        match range.raw() {
            Raw::V4(s, e) => {
                let i = insert_range(&mut self.v4, s, e);
                self.reindex_v4(i);
            }
            Raw::V6(s, e) => {
                let i = insert_range(&mut self.v6, s, e);
                self.reindex_v6(i);
            }
            Raw::Empty => {}
        }
    }

    /// The addresses in `self` or in `other`.
    pub fn union(&self, other: &AddrSet) -> AddrSet {
        let mut out = self.clone();
        out.extend(other.ranges());
        out
    }

    /// The addresses in `self` and not in `other` (used for `--exclude`).
    pub fn difference(&self, other: &AddrSet) -> AddrSet {
        let mut out = AddrSet {
            v4: difference(&self.v4, &other.v4),
            v6: difference(&self.v6, &other.v6),
            v4_off: Vec::new(),
            v6_off: Vec::new(),
        };
        out.reindex_v4(0);
        out.reindex_v6(0);
        out
    }

    /// The set plus the other spelling of every IPv4 host in it: `::ffff:a.b.c.d` for each
    /// IPv4 address `a.b.c.d`, and `a.b.c.d` for each IPv4-mapped IPv6 address
    /// `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2).
    ///
    /// A dual-stack socket that connects to `::ffff:a.b.c.d` reaches the IPv4 host `a.b.c.d`,
    /// so the two spellings are one host on the wire: exclusions go through this, so that
    /// excluding either one excludes both.
    pub fn with_v4_mapped(&self) -> AddrSet {
        let mapped = self.v4.iter().map(|&(s, e)| {
            AddrRange::from_v6(V4_MAPPED | u128::from(s), V4_MAPPED | u128::from(e))
        });
        let unmapped = self.v6.iter().filter_map(|&(s, e)| {
            let (lo, hi) = (s.max(V4_MAPPED), e.min(V4_MAPPED | u128::from(u32::MAX)));
            // The low 32 bits of a mapped address are the IPv4 address.
            (lo <= hi).then(|| AddrRange::from_v4(lo as u32, hi as u32))
        });
        let aliases: Vec<AddrRange> = mapped.chain(unmapped).collect();
        let mut out = self.clone();
        out.extend(aliases);
        out
    }

    /// The first address of the set in the IPv6 block `block` (given as its first and last
    /// address), if any.
    pub fn first_in_v6(&self, first: Ipv6Addr, last: Ipv6Addr) -> Option<Ipv6Addr> {
        let (a, b) = (u128::from(first), u128::from(last));
        let k = self.v6.partition_point(|&(_, e)| e < a);
        let &(s, e) = self.v6.get(k)?;
        let lo = s.max(a);
        (lo <= e.min(b)).then(|| Ipv6Addr::from(lo))
    }

    /// Number of addresses, saturating at `u128::MAX`.
    ///
    /// The count only saturates when it does not fit in a `u128`, that is when the set holds
    /// all of IPv6 (`::/0`, 2^128 addresses), possibly plus some IPv4 addresses. Indices past
    /// `u128::MAX` cannot be reached through [`AddrSet::nth`].
    pub fn len(&self) -> u128 {
        u128::from(self.v4_len()).saturating_add(self.v6_len())
    }

    /// Number of IPv4 addresses (at most 2^32).
    fn v4_len(&self) -> u64 {
        match (self.v4.last(), self.v4_off.last()) {
            (Some(&(s, e)), Some(&off)) => off + u64::from(e - s) + 1,
            _ => 0,
        }
    }

    /// Number of IPv6 addresses, saturating.
    fn v6_len(&self) -> u128 {
        match (self.v6.last(), self.v6_off.last()) {
            (Some(&(s, e)), Some(&off)) => (off + (e - s)).saturating_add(1),
            _ => 0,
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Number of disjoint, non-adjacent ranges the set is made of.
    pub fn range_count(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The `i`-th address (IPv4 ascending, then IPv6 ascending), or `None` if `i >= len()`.
    ///
    /// O(log ranges), no allocation.
    pub fn nth(&self, i: u128) -> Option<IpAddr> {
        let n4 = u128::from(self.v4_len());
        if i < n4 {
            // `i < 2^32`, so it fits in a `u64`.
            let i = i as u64;
            let k = self.v4_off.partition_point(|&o| o <= i) - 1;
            // The offset inside range `k` is below its size, at most 2^32.
            let a = self.v4[k].0 + (i - self.v4_off[k]) as u32;
            return Some(IpAddr::V4(Ipv4Addr::from(a)));
        }
        let j = i - n4;
        let k = self.v6_off.partition_point(|&o| o <= j).checked_sub(1)?;
        let (s, e) = self.v6[k];
        let d = j - self.v6_off[k];
        (d <= e - s).then(|| IpAddr::V6(Ipv6Addr::from(s + d)))
    }

    /// The index of `ip` (the `i` with `nth(i) == Some(ip)`), or `None` if it is not in the
    /// set. O(log ranges).
    pub fn index_of(&self, ip: IpAddr) -> Option<u128> {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let k = find(&self.v4, a)?;
                Some(u128::from(self.v4_off[k] + u64::from(a - self.v4[k].0)))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let k = find(&self.v6, a)?;
                Some(u128::from(self.v4_len()) + self.v6_off[k] + (a - self.v6[k].0))
            }
        }
    }

    /// Whether `ip` is in the set. O(log ranges).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)).is_some(),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)).is_some(),
        }
    }

    /// The ranges, IPv4 ascending then IPv6 ascending; disjoint and non-adjacent.
    pub fn ranges(&self) -> impl Iterator<Item = AddrRange> + '_ {
        let v4 = self.v4.iter().map(|&(s, e)| AddrRange::from_v4(s, e));
        let v6 = self.v6.iter().map(|&(s, e)| AddrRange::from_v6(s, e));
        v4.chain(v6)
    }

    /// Recomputes the IPv4 prefix sums from range `from` on.
    fn reindex_v4(&mut self, from: usize) {
        self.v4_off.truncate(from);
        let mut off = match from.checked_sub(1) {
            Some(p) => self.v4_off[p] + u64::from(self.v4[p].1 - self.v4[p].0) + 1,
            None => 0,
        };
        for &(s, e) in &self.v4[from..] {
            self.v4_off.push(off);
            off += u64::from(e - s) + 1;
        }
    }

    /// Recomputes the IPv6 prefix sums from range `from` on.
    fn reindex_v6(&mut self, from: usize) {
        self.v6_off.truncate(from);
        // Offsets are computed only for a range that has a successor, so `e < u128::MAX` and
        // the sum is at most the successor's start: no overflow.
        let mut off = match from.checked_sub(1) {
            Some(p) => self.v6_off[p] + (self.v6[p].1 - self.v6[p].0) + 1,
            None => 0,
        };
        let n = self.v6.len();
        for k in from..n {
            self.v6_off.push(off);
            if k + 1 < n {
                let (s, e) = self.v6[k];
                off += (e - s) + 1;
            }
        }
    }
}

impl Extend<AddrRange> for AddrSet {
    /// Adds every range (empty ones are ignored).
    ///
    /// The new ranges are sorted and merged among themselves, then merged into the set in one
    /// linear pass: O(n log n + r) for `n` new ranges and `r` ranges already in the set. So a
    /// long stream of ranges can be added in batches, each batch at least as long as the set
    /// has ranges (or some fixed size such as 64 Ki, whichever is larger), in O(log) amortized
    /// time per range, while holding only one batch at a time.
    fn extend<I: IntoIterator<Item = AddrRange>>(&mut self, iter: I) {
        let (mut b4, mut b6) = (Vec::new(), Vec::new());
        for r in iter {
            match r.raw() {
                Raw::V4(s, e) => b4.push((s, e)),
                Raw::V6(s, e) => b6.push((s, e)),
                Raw::Empty => {}
            }
        }
        if !b4.is_empty() {
            add_batch(&mut self.v4, b4);
            self.reindex_v4(0);
        }
        if !b6.is_empty() {
            add_batch(&mut self.v6, b6);
            self.reindex_v6(0);
        }
    }
}

impl<'a> Extend<&'a AddrRange> for AddrSet {
    /// Adds every range (empty ones are ignored).
    fn extend<I: IntoIterator<Item = &'a AddrRange>>(&mut self, iter: I) {
        self.extend(iter.into_iter().copied());
    }
}

impl FromIterator<AddrRange> for AddrSet {
    fn from_iter<I: IntoIterator<Item = AddrRange>>(iter: I) -> AddrSet {
        let mut set = AddrSet::new();
        set.extend(iter);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn insert_merges_overlapping_and_adjacent() {
        let mut set = AddrSet::new();
        set.insert(AddrRange::from_v4(10, 20));
        set.insert(AddrRange::from_v4(30, 40));
        assert_eq!(set.range_count(), 2);
        set.insert(AddrRange::from_v4(21, 29));
        assert_eq!(set.range_count(), 1);
        assert_eq!(set.len(), 31);
        set.insert(AddrRange::from_v4(0, 8));
        assert_eq!(set.range_count(), 2);
        set.insert(AddrRange::from_v4(9, 9));
        assert_eq!(
            set.ranges().collect::<Vec<_>>(),
            [AddrRange::from_v4(0, 40)]
        );
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut set = AddrSet::new();
        set.insert(AddrRange::from_v4(0, u32::MAX));
        set.insert(AddrRange::from_v6(0, u128::MAX));
        assert_eq!(set.range_count(), 2);
        assert_eq!(set.len(), u128::MAX, "saturates");
        assert_eq!(set.nth(0), Some(v4("0.0.0.0")));
        assert_eq!(set.nth((1 << 32) - 1), Some(v4("255.255.255.255")));
        assert_eq!(set.nth(1 << 32), Some(v4("::")));
        assert_eq!(
            set.nth(u128::MAX),
            Some(v4("ffff:ffff:ffff:ffff:ffff:fffe:ffff:ffff"))
        );

        let all6: AddrSet = [AddrRange::from_v6(0, u128::MAX)].into_iter().collect();
        assert_eq!(all6.len(), u128::MAX);
        assert_eq!(
            all6.nth(u128::MAX),
            Some(v4("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
        let hole: AddrSet = [AddrRange::from_v6(5, 5)].into_iter().collect();
        let d = all6.difference(&hole);
        assert_eq!(d.range_count(), 2);
        assert_eq!(d.len(), u128::MAX);
        assert!(!d.contains(v4("::5")));
        assert_eq!(d.nth(5), Some(v4("::6")));
        assert_eq!(
            d.nth(u128::MAX - 1),
            Some(v4("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(d.nth(u128::MAX), None);
        assert!(all6.difference(&all6).is_empty());
    }

    #[test]
    fn v4_mapped_aliases_go_both_ways() {
        let set: AddrSet = [
            AddrRange::new(v4("198.18.0.2"), v4("198.18.0.3")).unwrap(),
            AddrRange::single(v4("::ffff:198.18.1.7")),
            AddrRange::single(v4("2001:db8::1")),
        ]
        .into_iter()
        .collect();
        let both = set.with_v4_mapped();
        for a in [
            "198.18.0.2",
            "198.18.0.3",
            "::ffff:198.18.0.2",
            "::ffff:198.18.0.3",
            "198.18.1.7",
            "::ffff:198.18.1.7",
            "2001:db8::1",
        ] {
            assert!(both.contains(v4(a)), "{a}");
        }
        assert_eq!(both.len(), 7);
        assert!(
            !both.contains(v4("::198.18.0.2")),
            "IPv4-compatible is another address"
        );

        // A block that straddles the mapped one: only its mapped part has an IPv4 spelling.
        let wide: AddrSet = [AddrRange::from_v6(V4_MAPPED - 1, V4_MAPPED + 1)]
            .into_iter()
            .collect();
        let w = wide.with_v4_mapped();
        assert_eq!(
            w.ranges().collect::<Vec<_>>(),
            [
                AddrRange::from_v4(0, 1),
                AddrRange::from_v6(V4_MAPPED - 1, V4_MAPPED + 1)
            ]
        );
        let all6: AddrSet = [AddrRange::from_v6(0, u128::MAX)].into_iter().collect();
        let all = all6.with_v4_mapped();
        assert_eq!(all.range_count(), 2);
        assert!(all.contains(v4("0.0.0.0")) && all.contains(v4("255.255.255.255")));
        assert!(AddrSet::new().with_v4_mapped().is_empty());
    }

    #[test]
    fn first_in_a_v6_block() {
        let ll = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let (first, last) = (ll("fe80::"), ll("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        let set = |ranges: &[(&str, &str)]| -> AddrSet {
            ranges
                .iter()
                .map(|(a, b)| AddrRange::new(v4(a), v4(b)).unwrap())
                .collect()
        };
        let first_in = |s: &AddrSet| s.first_in_v6(first, last);
        assert_eq!(
            first_in(&set(&[("fe80::1", "fe80::1")])),
            Some(ll("fe80::1"))
        );
        assert_eq!(first_in(&set(&[("::", "ffff::")])), Some(first));
        assert_eq!(
            first_in(&set(&[
                ("2001:db8::", "2001:db8::ff"),
                ("febf::5", "fec0::")
            ])),
            Some(ll("febf::5"))
        );
        assert_eq!(
            first_in(&set(&[
                ("198.18.0.0", "198.18.0.9"),
                ("2001:db8::", "fe7f::")
            ])),
            None
        );
        assert_eq!(first_in(&set(&[("fec0::", "fec0::1")])), None);
        assert_eq!(first_in(&AddrSet::new()), None);
    }

    #[test]
    fn malformed_ranges_are_empty() {
        let mixed = AddrRange {
            start: v4("1.2.3.4"),
            end: v4("::1"),
        };
        assert!(mixed.is_empty());
        assert_eq!(AddrRange::new(mixed.start, mixed.end), None);
        assert_eq!(AddrRange::new(v4("1.2.3.5"), v4("1.2.3.4")), None);
        let mut set = AddrSet::new();
        set.insert(mixed);
        set.insert(AddrRange::from_v4(5, 4));
        set.extend([mixed, AddrRange::from_v6(5, 4)]);
        assert!(set.is_empty());
        assert_eq!(set.len(), 0);
        assert_eq!(set.nth(0), None);
    }

    #[test]
    fn ipv4_comes_before_ipv6() {
        let set: AddrSet = [AddrRange::from_v6(1, 2), AddrRange::from_v4(7, 7)]
            .into_iter()
            .collect();
        let all: Vec<_> = (0..4).map(|i| set.nth(i)).collect();
        assert_eq!(
            all,
            [Some(v4("0.0.0.7")), Some(v4("::1")), Some(v4("::2")), None]
        );
        assert_eq!(set.union(&AddrSet::new()), set);
        assert_eq!(AddrRange::from_v4(1, 2).to_string(), "0.0.0.1-0.0.0.2");
        assert_eq!(AddrRange::single(v4("::1")).to_string(), "::1");
    }

    /// Values near both ends of the IPv4 space, to hit the overflow edges.
    fn val() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..48, (u32::MAX - 48)..=u32::MAX]
    }

    fn range() -> impl Strategy<Value = (u32, u32)> {
        (val(), 0u32..12).prop_map(|(s, w)| (s, s.saturating_add(w)))
    }

    fn domain() -> impl Iterator<Item = u32> {
        (0u32..64).chain(u32::MAX - 64..=u32::MAX)
    }

    /// Builds `(set, model)` from v4 ranges and (small) v6 ranges, inserted one by one or all
    /// at once.
    fn build(v4r: &[(u32, u32)], v6r: &[(u32, u32)], bulk: bool) -> (AddrSet, Vec<IpAddr>) {
        let ranges: Vec<AddrRange> = v4r
            .iter()
            .map(|&(s, e)| AddrRange::from_v4(s, e))
            .chain(
                v6r.iter()
                    .map(|&(s, e)| AddrRange::from_v6(s.into(), e.into())),
            )
            .collect();
        let mut set = AddrSet::new();
        if bulk {
            set.extend(ranges.iter());
        } else {
            for r in &ranges {
                set.insert(*r);
            }
        }
        let m4: BTreeSet<u32> = v4r.iter().flat_map(|&(s, e)| s..=e).collect();
        let m6: BTreeSet<u32> = v6r.iter().flat_map(|&(s, e)| s..=e).collect();
        let model = m4
            .into_iter()
            .map(|a| IpAddr::V4(a.into()))
            .chain(m6.into_iter().map(|a| IpAddr::V6(u128::from(a).into())))
            .collect();
        (set, model)
    }

    fn check(set: &AddrSet, model: &[IpAddr]) -> Result<(), TestCaseError> {
        prop_assert_eq!(set.len(), model.len() as u128);
        prop_assert_eq!(set.is_empty(), model.is_empty());
        for (i, a) in model.iter().enumerate() {
            prop_assert_eq!(set.nth(i as u128), Some(*a));
        }
        prop_assert_eq!(set.nth(model.len() as u128), None);
        prop_assert_eq!(set.nth(u128::MAX), None);
        for x in domain() {
            let a4 = IpAddr::V4(x.into());
            let a6 = IpAddr::V6(u128::from(x).into());
            prop_assert_eq!(set.contains(a4), model.contains(&a4));
            prop_assert_eq!(set.contains(a6), model.contains(&a6));
        }
        // Ranges: sorted, disjoint, non-adjacent, and covering exactly the model.
        let ranges: Vec<AddrRange> = set.ranges().collect();
        prop_assert_eq!(ranges.len(), set.range_count());
        for w in ranges.windows(2) {
            match (w[0].end, w[1].start) {
                (IpAddr::V4(a), IpAddr::V4(b)) => prop_assert!(u32::from(a) + 1 < u32::from(b)),
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    prop_assert!(u128::from(a) + 1 < u128::from(b))
                }
                (IpAddr::V4(_), IpAddr::V6(_)) => {}
                _ => prop_assert!(false, "IPv6 before IPv4"),
            }
        }
        prop_assert_eq!(ranges.iter().map(AddrRange::len).sum::<u128>(), set.len());
        Ok(())
    }

    proptest! {
        #[test]
        fn insert_agrees_with_model(
            v4r in prop::collection::vec(range(), 0..10),
            v6r in prop::collection::vec(range(), 0..4),
        ) {
            let (one, model) = build(&v4r, &v6r, false);
            check(&one, &model)?;
            let (bulk, _) = build(&v4r, &v6r, true);
            prop_assert_eq!(&bulk, &one);
        }

        #[test]
        fn extend_in_batches_agrees_with_insert(
            v4r in prop::collection::vec(range(), 0..16),
            v6r in prop::collection::vec(range(), 0..6),
            chunk in 1usize..5,
        ) {
            let (one, model) = build(&v4r, &v6r, false);
            let ranges: Vec<AddrRange> = v4r
                .iter()
                .map(|&(s, e)| AddrRange::from_v4(s, e))
                .chain(v6r.iter().map(|&(s, e)| AddrRange::from_v6(s.into(), e.into())))
                .collect();
            let mut batched = AddrSet::new();
            for part in ranges.chunks(chunk) {
                batched.extend(part.iter());
            }
            check(&batched, &model)?;
            prop_assert_eq!(&batched, &one);
        }

        #[test]
        fn difference_agrees_with_model(
            a4 in prop::collection::vec(range(), 0..10),
            a6 in prop::collection::vec(range(), 0..4),
            b4 in prop::collection::vec(range(), 0..10),
            b6 in prop::collection::vec(range(), 0..4),
        ) {
            let (a, ma) = build(&a4, &a6, false);
            let (b, mb) = build(&b4, &b6, true);
            let d = a.difference(&b);
            let md: Vec<IpAddr> = ma.iter().copied().filter(|x| !mb.contains(x)).collect();
            check(&d, &md)?;
            let u = a.union(&b);
            let mut mu: Vec<IpAddr> = ma.iter().chain(mb.iter()).copied().collect();
            mu.sort_by_key(|x| (x.is_ipv6(), *x));
            mu.dedup();
            check(&u, &mu)?;
        }

        #[test]
        fn nth_is_strictly_ascending(
            v4r in prop::collection::vec(range(), 0..10),
            v6r in prop::collection::vec(range(), 0..4),
        ) {
            let (set, _) = build(&v4r, &v6r, true);
            let all: Vec<IpAddr> = (0..set.len()).map_while(|i| set.nth(i)).collect();
            prop_assert_eq!(all.len() as u128, set.len());
            for w in all.windows(2) {
                let key = |x: IpAddr| (x.is_ipv6(), x);
                prop_assert!(key(w[0]) < key(w[1]));
            }
        }
    }
}
