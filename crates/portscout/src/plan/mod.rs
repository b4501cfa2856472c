//! The plan: which probes of the probe space this run sends, and in which order.
//!
//! The probe space ([`ProbeSpace`]) numbers every `(address, port)` `0..n`. A plan views it
//! through three lenses, none of which stores a probe:
//!
//! 1. **Order.** Position `p` of the scan is probe `π(p)`: a keyed permutation
//!    ([`Order::Random`], see [`permute`](self) for the construction and its source; past
//!    4096 addresses, hosts in groups whose probes are permuted one group after the other, so
//!    that a host's ports come close together) or the identity ([`Order::Serial`]).
//! 2. **Shard.** Shard `I/N` takes the positions `p ≡ I−1 (mod N)`: its `k`-th probe is at
//!    position `I−1 + N·k`. The `N` shards are disjoint and cover every position exactly once,
//!    for any `N`, and need nothing but the seed and the arguments to agree.
//! 3. **Work left.** A fresh run has one range of sequence numbers `0..len` of its shard; a
//!    resumed one has the ranges its [`Checkpoint`] left, plus the probes that were unanswered
//!    when it stopped (sent first).
//!
//! Memory is O(target ranges + port ranges + checkpoint ranges), whatever the number of
//! probes. Workers draw from one `Cursor` (crate-private) in small claims; at a pause, each worker's unused
//! claim and the cursor's position describe exactly what was not sent.

mod checkpoint;
mod grouped;
mod permute;

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use checkpoint::{Checkpoint, DownReason, VERSION as CHECKPOINT_VERSION};
use grouped::Grouped;

use crate::error::Error;
use crate::space::ProbeSpace;

/// The order probes are sent in (`--order`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// A pseudo-random permutation of the probe space, keyed by the seed (the default): load
    /// spreads over hosts and over time, and no network sees a sweep. Past 4096 addresses the
    /// hosts go in groups (every `C`-th address), one group's probes after the other's, so a
    /// host's ports come close together and the scan holds about one group's hosts at once
    /// (`grouped.rs`).
    #[default]
    Random,
    /// Ascending: port by port, each over every address.
    Serial,
}

impl FromStr for Order {
    type Err = Error;

    fn from_str(s: &str) -> Result<Order, Error> {
        match s {
            "random" => Ok(Order::Random),
            "serial" => Ok(Order::Serial),
            _ => Err(Error::BadOrder(s.to_string())),
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Order::Random => "random",
            Order::Serial => "serial",
        })
    }
}

/// How one run goes through the probe space: the order, its seed, and the shard. One value,
/// handed as it is from the [`crate::scan::ScanConfig`] to the [`Plan`] and to a
/// [`Checkpoint`] (where its fields sit beside the others).
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Walk {
    /// The order.
    pub order: Order,
    /// The permutation's seed (unused by [`Order::Serial`]).
    pub seed: u64,
    /// The shard.
    pub shard: Shard,
}

impl Default for Walk {
    fn default() -> Walk {
        Walk {
            order: Order::Random,
            seed: 0,
            shard: Shard::WHOLE,
        }
    }
}

/// One shard of a scan split over `count` runs (`--shard I/N`, 1-based `index`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// Which shard, `1..=count`.
    pub index: u64,
    /// How many shards the scan is split into.
    pub count: u64,
}

impl Shard {
    /// The whole scan: shard 1 of 1.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Shard `index` of `count` (1-based), or `None` unless `1 ≤ index ≤ count`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index >= 1 && index <= count).then_some(Shard { index, count })
    }

    /// How many of `n` positions fall in this shard.
    pub fn len_of(&self, n: u64) -> u64 {
        let first = self.index - 1;
        if n <= first {
            0
        } else {
            (n - first - 1) / self.count + 1
        }
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::WHOLE
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `I/N` (1-based: `1/4` … `4/4`).
    fn from_str(s: &str) -> Result<Shard, Error> {
        let bad = || Error::BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let num = |t: &str| {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u64>().ok())
                .flatten()
        };
        let (i, n) = (num(i).ok_or_else(bad)?, num(n).ok_or_else(bad)?);
        Shard::new(i, n).ok_or_else(bad)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The probes one run sends: a view of the probe space through an order, a shard and the
/// work left (see the [module documentation](self)).
///
/// The plan's own index ("slot") runs `0..len()`: first the explicit probes a checkpoint left
/// unanswered, then the shard's sequence numbers of each range left, in order.
#[derive(Clone, Debug)]
pub struct Plan {
    space: Arc<ProbeSpace>,
    walk: Walk,
    perm: Option<Grouped>,
    /// Explicit probes, sent first (unanswered at a pause).
    pending: Vec<SocketAddr>,
    /// Ranges of the shard's sequence numbers still to send.
    segments: Vec<Range<u64>>,
    /// The slot where each segment starts.
    starts: Vec<u64>,
    len: u64,
    /// Which run of the shard this is: 1, or one more than the checkpoint's.
    part: u32,
}

impl Plan {
    /// The whole of `shard` of `space`, in `order` keyed by `seed`.
    pub fn new(space: Arc<ProbeSpace>, order: Order, seed: u64, shard: Shard) -> Plan {
        Plan::walking(space, Walk { order, seed, shard })
    }

    /// The whole of `walk`'s shard of `space`.
    pub fn walking(space: Arc<ProbeSpace>, walk: Walk) -> Plan {
        let n = walk.shard.len_of(space.len());
        Plan::with_work(space, walk, Vec::new(), std::iter::once(0..n).collect())
    }

    /// What a checkpoint left of the same scan. Fails if the checkpoint was written for
    /// another probe space (other targets, ports or exclusions).
    pub fn resume(space: Arc<ProbeSpace>, checkpoint: &Checkpoint) -> Result<Plan, Error> {
        let c = checkpoint;
        if c.probes != space.len() || c.fingerprint != fingerprint(&space) {
            return Err(Error::BadResume(format!(
                "it was written for another scan ({} probes; these arguments give {})",
                c.probes,
                space.len()
            )));
        }
        let n = c.walk.shard.len_of(space.len());
        if c.segments.iter().any(|&(s, e)| s > e || e > n) {
            return Err(Error::BadResume("its ranges lie outside the scan".into()));
        }
        if let Some(p) = c.pending.iter().find(|p| !space.contains(**p)) {
            return Err(Error::BadResume(format!("{p} is not part of the scan")));
        }
        let segments = c.segments.iter().map(|&(s, e)| s..e).collect();
        let mut plan = Plan::with_work(space, c.walk, c.pending.clone(), segments);
        plan.part = c.part.saturating_add(1);
        Ok(plan)
    }

    fn with_work(
        space: Arc<ProbeSpace>,
        walk: Walk,
        pending: Vec<SocketAddr>,
        segments: Vec<Range<u64>>,
    ) -> Plan {
        let perm = match walk.order {
            Order::Random => Some(Grouped::new(
                space.hosts(),
                u64::from(space.ports().len()),
                walk.seed,
            )),
            Order::Serial => None,
        };
        let segments: Vec<Range<u64>> = segments.into_iter().filter(|r| !r.is_empty()).collect();
        let mut starts = Vec::with_capacity(segments.len());
        let mut len = pending.len() as u64;
        for r in &segments {
            starts.push(len);
            len += r.end - r.start;
        }
        Plan {
            space,
            walk,
            perm,
            pending,
            segments,
            starts,
            len,
            part: 1,
        }
    }

    /// Probes in the plan.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the plan sends nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The probe space the plan views.
    pub fn space(&self) -> &Arc<ProbeSpace> {
        &self.space
    }

    /// The order.
    pub fn order(&self) -> Order {
        self.walk.order
    }

    /// The order, seed and shard.
    pub fn walk(&self) -> Walk {
        self.walk
    }

    /// The permutation's seed (unused by [`Order::Serial`]).
    pub fn seed(&self) -> u64 {
        self.walk.seed
    }

    /// The shard.
    pub fn shard(&self) -> Shard {
        self.walk.shard
    }

    /// Which run of the shard this plan is: 1 for a fresh one, one more than its
    /// checkpoint's for a resumed one.
    pub fn part(&self) -> u32 {
        self.part
    }

    /// The scan id ([`crate::ShardIdentity::scan`]): a digest of the probe space (address
    /// and port ranges, size), the order and, for [`Order::Random`], the seed. The same for
    /// every shard and run of one scan, on every machine.
    pub fn scan_id(&self) -> u64 {
        let mut h = Fnv::new();
        h.eat(b"portscout scan 1;");
        h.eat(&fingerprint(&self.space).to_be_bytes());
        h.eat(&self.space.len().to_be_bytes());
        match self.walk.order {
            Order::Random => {
                h.eat(b"random;");
                h.eat(&self.walk.seed.to_be_bytes());
            }
            Order::Serial => h.eat(b"serial;"),
        }
        h.0
    }

    /// What this run's summary says about it, `complete` when it reached the end of its
    /// shard.
    pub fn identity(&self, complete: bool) -> crate::ShardIdentity {
        crate::ShardIdentity {
            scan: self.scan_id(),
            shard: self.walk.shard,
            probes: self.space.len(),
            part: self.part,
            complete,
        }
    }

    /// The probe at sequence number `k` of the shard.
    fn sequence(&self, k: u64) -> Option<SocketAddr> {
        let shard = self.walk.shard;
        let position = k.checked_mul(shard.count)?.checked_add(shard.index - 1)?;
        if position >= self.space.len() {
            return None;
        }
        let index = match &self.perm {
            Some(p) => p.map(position),
            None => position,
        };
        self.space.probe(index)
    }

    /// The probe in slot `slot`, or `None` past the end. Allocates nothing.
    pub fn get(&self, slot: u64) -> Option<SocketAddr> {
        if slot < self.pending.len() as u64 {
            return self.pending.get(slot as usize).copied();
        }
        let k = self.starts.partition_point(|&s| s <= slot).checked_sub(1)?;
        let r = &self.segments[k];
        let k = r.start + (slot - self.starts[k]);
        (k < r.end).then(|| self.sequence(k)).flatten()
    }

    /// Every probe of the plan, in slot order (what `--dry-run` prints).
    pub fn iter(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        let pending = self.pending.iter().copied();
        let rest = self
            .segments
            .iter()
            .flat_map(move |r| r.clone().filter_map(move |k| self.sequence(k)));
        pending.chain(rest)
    }

    /// The work left when only the slots in `left` (ascending or not, possibly overlapping
    /// nothing) and the explicit probes `unanswered` remain.
    pub(crate) fn left(&self, left: &[Range<u64>], unanswered: Vec<SocketAddr>) -> Checkpoint {
        let mut pending = unanswered;
        let mut segments: Vec<Range<u64>> = Vec::new();
        let p = self.pending.len() as u64;
        let mut left: Vec<Range<u64>> = left.iter().filter(|r| !r.is_empty()).cloned().collect();
        left.sort_by_key(|r| r.start);
        for r in left {
            // Explicit probes in the slot range.
            for slot in r.start..r.end.min(p) {
                pending.push(self.pending[slot as usize]);
            }
            // Sequence ranges in the slot range.
            let (from, to) = (r.start.max(p), r.end.min(self.len));
            let mut k = self
                .starts
                .partition_point(|&s| s <= from)
                .saturating_sub(1);
            let mut slot = from;
            while slot < to && k < self.segments.len() {
                let seg = &self.segments[k];
                let seg_end = self.starts[k] + (seg.end - seg.start);
                if slot >= seg_end {
                    k += 1;
                    continue;
                }
                let stop = to.min(seg_end);
                let a = seg.start + (slot - self.starts[k]);
                let b = seg.start + (stop - self.starts[k]);
                match segments.last_mut() {
                    Some(last) if last.end == a => last.end = b,
                    _ => segments.push(a..b),
                }
                slot = stop;
                k += 1;
            }
        }
        Checkpoint {
            version: checkpoint::VERSION,
            probes: self.space.len(),
            fingerprint: fingerprint(&self.space),
            walk: self.walk,
            pending,
            segments: segments.into_iter().map(|r| (r.start, r.end)).collect(),
            up: Vec::new(),
            down: Vec::new(),
            part: self.part,
        }
    }
}

/// Which hosts still have probes in a checkpoint's work: the hosts of every group (of the
/// grouped order) that the work left touches. Only their decisions go into the resume file:
/// a host whose every probe is done is never asked about again, so the file holds about one
/// group's decisions, not every host decided (with one group, or the serial order, every
/// host is kept).
#[derive(Debug)]
pub(crate) struct HostsLeft<'a> {
    space: &'a ProbeSpace,
    /// Per group, whether it has work left; `None`: every host is kept.
    groups: Option<Vec<bool>>,
}

impl HostsLeft<'_> {
    /// Whether `ip`'s decision must be kept.
    pub(crate) fn holds(&self, ip: std::net::IpAddr) -> bool {
        let Some(groups) = &self.groups else {
            return true;
        };
        match self.space.addrs().index_of(ip) {
            Some(i) => groups[(i % groups.len() as u128) as usize],
            None => false,
        }
    }
}

impl Plan {
    /// The hosts of `checkpoint` (made by [`Plan::left`] of this plan) with work left.
    pub(crate) fn hosts_left(&self, checkpoint: &Checkpoint) -> HostsLeft<'_> {
        let space = self.space.as_ref();
        let groups = self.perm.as_ref().filter(|g| g.groups() > 1).map(|g| {
            let mut left = vec![false; g.groups() as usize];
            let shard = self.walk.shard;
            let position = |k: u64| {
                k.checked_mul(shard.count)
                    .and_then(|p| p.checked_add(shard.index - 1))
                    .unwrap_or(u64::MAX)
                    .min(space.len() - 1)
            };
            for &(s, e) in &checkpoint.segments {
                if s >= e {
                    continue;
                }
                let (from, to) = (g.ordinal_at(position(s)), g.ordinal_at(position(e - 1)));
                for ordinal in from..=to {
                    left[g.group_at(ordinal) as usize] = true;
                }
            }
            for p in &checkpoint.pending {
                if let Some(i) = space.addrs().index_of(p.ip()) {
                    left[g.group_of(i as u64) as usize] = true;
                }
            }
            left
        });
        HostsLeft { space, groups }
    }
}

/// A digest of the probe space (its address and port ranges), so that a checkpoint is not
/// applied to another scan. FNV-1a over the ranges, the same on every machine.
fn fingerprint(space: &ProbeSpace) -> u64 {
    let mut h = Fnv::new();
    for r in space.addrs().ranges() {
        h.eat(r.to_string().as_bytes());
        h.eat(b";");
    }
    for &(a, b) in space.ports().ranges() {
        h.eat(&a.to_be_bytes());
        h.eat(&b.to_be_bytes());
    }
    h.0
}

/// FNV-1a, 64 bits: a digest that is the same on every machine and in every version.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Slots of a plan, handed to workers in claims; and the switch that pauses them.
#[derive(Debug)]
pub(crate) struct Cursor {
    next: AtomicU64,
    len: u64,
    claim: u64,
    paused: AtomicBool,
}

impl Cursor {
    /// A cursor over `len` slots shared by `workers` workers: claims are small enough that
    /// every worker gets work (at most 256 slots, at least 1).
    pub(crate) fn new(len: u64, workers: usize) -> Cursor {
        let claim = (len / (workers.max(1) as u64 * 16)).clamp(1, 256);
        Cursor {
            next: AtomicU64::new(0),
            len,
            claim,
            paused: AtomicBool::new(false),
        }
    }

    /// The next claim of slots, or `None` when all are handed out or the scan is paused.
    pub(crate) fn claim(&self) -> Option<Range<u64>> {
        if self.paused() {
            return None;
        }
        let start = self.next.fetch_add(self.claim, Ordering::Relaxed);
        (start < self.len).then(|| start..(start + self.claim).min(self.len))
    }

    /// Slots never claimed.
    pub(crate) fn unclaimed(&self) -> Range<u64> {
        self.next.load(Ordering::Relaxed).min(self.len)..self.len
    }

    pub(crate) fn pause(&self) {
        self.paused.store(true, Ordering::Relaxed);
    }

    pub(crate) fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
}

/// One worker's source of probes: claims from the shared cursor, one slot at a time.
#[derive(Debug)]
pub(crate) struct Feed {
    plan: Arc<Plan>,
    cursor: Arc<Cursor>,
    claim: Range<u64>,
}

impl Feed {
    pub(crate) fn new(plan: Arc<Plan>, cursor: Arc<Cursor>) -> Feed {
        Feed {
            plan,
            cursor,
            claim: 0..0,
        }
    }

    /// The next probe, or `None` when the plan is done or the scan paused.
    pub(crate) fn next_probe(&mut self) -> Option<SocketAddr> {
        loop {
            if self.cursor.paused() {
                return None;
            }
            if let Some(slot) = self.claim.next() {
                if let Some(p) = self.plan.get(slot) {
                    return Some(p);
                }
                continue;
            }
            self.claim = self.cursor.claim()?;
        }
    }

    /// Whether the scan was paused.
    pub(crate) fn paused(&self) -> bool {
        self.cursor.paused()
    }

    /// Slots claimed and not sent.
    pub(crate) fn unsent(&self) -> Range<u64> {
        self.claim.clone()
    }

    pub(crate) fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }
}

#[cfg(test)]
mod tests;
