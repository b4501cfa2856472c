//! The probes in flight of a batching prober: one compact table and one deadline queue, in
//! place of a future and a timer per probe.
//!
//! A probe is a flat record: its target's address and port (an IPv4 address as a `u32`; IPv6
//! in a table of its own), its deadline and send time (32-bit microsecond counts, below) and
//! what the prober keeps with it (the SYN prober: the worker's job without its target, and
//! its source port, 18 bytes). An IPv4 record is 32 bytes. The records of a family lie side
//! by side in a vector, and a hash table keyed by target holds their positions (4 bytes a
//! bucket): a hash table is at most 7/8 full and doubles, so up to half its buckets are
//! spare, and a spare bucket costs 5 bytes, not a record's 33. Deadlines wait in a binary
//! heap ordered by time (exact microseconds since the table's epoch); an entry whose probe
//! was answered, retimed or replaced meanwhile is dropped when it comes to the top (its
//! deadline no longer matches the probe's), and the heap is rebuilt from the table when such
//! entries outnumber the probes. So a probe in flight costs 53 bytes (record, position,
//! control byte, heap entry) besides spare room, and the event loop sleeps once, until the
//! earliest deadline or the next answer, whatever the number of probes.
//!
//! A record keeps the low 32 bits of its deadline's and send time's microseconds (they wrap
//! every 71 minutes): the heap entry that is the probe's deadline is the one with the same low
//! bits, and a round trip is the difference from the send time. That is exact because a probe
//! waits at most [`MAX_WAIT`] (35 minutes; a later deadline is cut to that): two deadlines of
//! one target in the heap, or a send time and the time its answer is read, are never 71
//! minutes apart.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hashbrown::HashTable;
use tokio::time::Instant;

/// Heap entries (stale ones included) kept beyond twice the probes before the heap is rebuilt.
const STALE_SLACK: usize = 1024;

/// The longest a probe waits: a later deadline is cut to this long after its send time (half
/// the 32-bit microsecond counter's period, so comparisons of two deadlines of one target by
/// their low bits are exact). portscout's timeouts are at most `--max-rtt-timeout` (10 s by
/// default) or `--timeout`.
pub(crate) const MAX_WAIT: Duration = Duration::from_micros((1 << 31) - 1);

/// An address of one family: the record's key with its port.
trait Addr: Copy + Eq + Ord + Hash {}
impl Addr for u32 {}
impl Addr for u128 {}

/// One probe in flight: target, deadline, send time and what the prober keeps with it.
#[derive(Debug)]
struct Slot<A, T> {
    ip: A,
    port: u16,
    /// Microseconds since the table's epoch (rounded up: a probe never ends early), low 32 bits.
    deadline: u32,
    /// Microseconds since the table's epoch, low 32 bits.
    sent: u32,
    value: T,
}

/// One family's probes: their records side by side (no spare room but the vector's), and a
/// hash table of their positions (4 bytes and a control byte a bucket: the hash table's
/// spare room, up to half its buckets after it doubles, costs 5 bytes a bucket, not 33).
#[derive(Debug)]
struct Table<A, T> {
    /// Where each probe's record is in `slots`, by target.
    index: HashTable<u32>,
    slots: Vec<Slot<A, T>>,
    hasher: foldhash::fast::RandomState,
    /// Deadlines (microseconds since the epoch, exact) and their targets.
    queue: BinaryHeap<Reverse<(u64, A, u16)>>,
}

/// Whether the deadline `at` (exact) is the one a record keeps the low bits of.
fn is_current(at: u64, deadline: u32) -> bool {
    at as u32 == deadline
}

impl<A: Addr, T> Table<A, T> {
    fn new() -> Table<A, T> {
        Table {
            index: HashTable::new(),
            slots: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
            queue: BinaryHeap::new(),
        }
    }

    fn hash(&self, ip: A, port: u16) -> u64 {
        self.hasher.hash_one((ip, port))
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    /// The position of the record of `ip`, `port`.
    fn find(&self, ip: A, port: u16) -> Option<usize> {
        let slots = &self.slots;
        let at = self.index.find(self.hash(ip, port), |&i| {
            let s = &slots[i as usize];
            s.ip == ip && s.port == port
        })?;
        Some(*at as usize)
    }

    fn get(&self, ip: A, port: u16) -> Option<&Slot<A, T>> {
        self.find(ip, port).map(|i| &self.slots[i])
    }

    fn remove(&mut self, ip: A, port: u16) -> Option<Slot<A, T>> {
        let hash = self.hash(ip, port);
        let slots = &self.slots;
        let found = self.index.find_entry(hash, |&i| {
            let s = &slots[i as usize];
            s.ip == ip && s.port == port
        });
        let (at, _) = found.ok()?.remove();
        Some(self.take(at as usize))
    }

    /// Takes the record at `at` out of `slots` (its position already out of the index): the
    /// last record moves into its place.
    fn take(&mut self, at: usize) -> Slot<A, T> {
        let last = self.slots.len() - 1;
        let slot = self.slots.swap_remove(at);
        if at != last {
            let moved = &self.slots[at];
            let hash = self.hash(moved.ip, moved.port);
            if let Some(i) = self.index.find_mut(hash, |&i| i as usize == last) {
                *i = at as u32;
            }
        }
        slot
    }

    fn insert(&mut self, ip: A, port: u16, deadline: u64, sent: u32, value: T) -> Option<T> {
        self.queue.push(Reverse((deadline, ip, port)));
        let old = self.remove(ip, port).map(|s| s.value);
        // (A worker never has 4 billion probes in flight: 128 GB of records.)
        let at = self.slots.len() as u32;
        self.slots.push(Slot {
            ip,
            port,
            deadline: deadline as u32,
            sent,
            value,
        });
        let hash = self.hash(ip, port);
        let (hasher, slots) = (&self.hasher, &self.slots);
        self.index.insert_unique(hash, at, |&i| {
            let s = &slots[i as usize];
            hasher.hash_one((s.ip, s.port))
        });
        self.compact();
        old
    }

    /// Drops the heap's stale entries once they outnumber the probes.
    fn compact(&mut self) {
        if self.queue.len() > 2 * self.slots.len() + STALE_SLACK {
            let mut queue = std::mem::take(&mut self.queue).into_vec();
            queue.retain(|Reverse((at, ip, port))| {
                self.get(*ip, *port)
                    .is_some_and(|s| is_current(*at, s.deadline))
            });
            self.queue = BinaryHeap::from(queue);
        }
    }

    /// The earliest deadline of a probe still in flight (stale heap entries dropped).
    fn next(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, ip, port))) = self.queue.peek() {
            if self
                .get(ip, port)
                .is_some_and(|s| is_current(at, s.deadline))
            {
                return Some(at);
            }
            self.queue.pop();
        }
        None
    }

    /// Removes the probes whose deadline is at or before `now`, earliest first.
    fn expire(&mut self, now: u64, mut each: impl FnMut(A, u16, T)) {
        // One lookup per heap entry: a stale one (its probe answered, retimed or replaced) is
        // dropped here as in `next`.
        while let Some(&Reverse((at, ip, port))) = self.queue.peek() {
            if at > now {
                return;
            }
            self.queue.pop();
            let hash = self.hash(ip, port);
            let slots = &self.slots;
            let found = self.index.find_entry(hash, |&i| {
                let s = &slots[i as usize];
                s.ip == ip && s.port == port && is_current(at, s.deadline)
            });
            if let Ok(e) = found {
                let (i, _) = e.remove();
                each(ip, port, self.take(i as usize).value);
            }
        }
    }

    /// Moves the deadline of the probe of `ip`, `port` to `deadline` if that is earlier
    /// (both within [`MAX_WAIT`] after its send time: their low bits compare exactly).
    fn retime(&mut self, ip: A, port: u16, deadline: u64) {
        if let Some(i) = self.find(ip, port) {
            let slot = &mut self.slots[i];
            let earlier = (deadline as u32).wrapping_sub(slot.deadline) as i32;
            if earlier < 0 {
                slot.deadline = deadline as u32;
                self.queue.push(Reverse((deadline, ip, port)));
            }
        }
    }
}

/// A target's key in its family's table.
enum Key {
    V4(u32, u16),
    V6(u128, u16),
}

fn key(target: SocketAddr) -> Key {
    match target {
        SocketAddr::V4(a) => Key::V4(a.ip().to_bits(), a.port()),
        SocketAddr::V6(a) => Key::V6(a.ip().to_bits(), a.port()),
    }
}

fn addr4(ip: u32, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from_bits(ip)), port)
}

fn addr6(ip: u128, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(Ipv6Addr::from_bits(ip)), port)
}

/// The probes in flight of one worker, by target, with their deadlines (see the module).
#[derive(Debug)]
pub(crate) struct InFlight<T> {
    epoch: Instant,
    v4: Table<u32, T>,
    v6: Table<u128, T>,
}

impl<T> InFlight<T> {
    /// An empty table; times are kept relative to now.
    pub fn new() -> InFlight<T> {
        InFlight {
            epoch: Instant::now(),
            v4: Table::new(),
            v6: Table::new(),
        }
    }

    /// Microseconds since the epoch, rounded up.
    fn micros(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.epoch);
        let us = d.as_micros();
        let up = us + u128::from(d.subsec_nanos() % 1000 != 0);
        u64::try_from(up).unwrap_or(u64::MAX)
    }

    /// Microseconds since the epoch, rounded down.
    fn micros_floor(&self, at: Instant) -> u64 {
        let us = at.saturating_duration_since(self.epoch).as_micros();
        u64::try_from(us).unwrap_or(u64::MAX)
    }

    /// The deadline of a probe sent at `sent`, in microseconds since the epoch (rounded up),
    /// kept within [`MAX_WAIT`] after `sent` (and not before it).
    fn bounded(&self, sent: Instant, deadline: Instant) -> u64 {
        let sent = self.micros_floor(sent);
        let longest = sent.saturating_add(MAX_WAIT.as_micros() as u64);
        self.micros(deadline).clamp(sent, longest)
    }

    fn instant(&self, micros: u64) -> Instant {
        self.epoch + Duration::from_micros(micros)
    }

    /// How many probes are in flight.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether no probe is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a probe of `target` sent at `sent`, to end at `deadline` unless answered (at
    /// most [`MAX_WAIT`] after `sent`). Returns what a probe of the same target still in
    /// flight held (it is replaced).
    pub fn insert(
        &mut self,
        target: SocketAddr,
        sent: Instant,
        deadline: Instant,
        value: T,
    ) -> Option<T> {
        let deadline = self.bounded(sent, deadline);
        let sent = self.micros_floor(sent) as u32;
        match key(target) {
            Key::V4(ip, port) => self.v4.insert(ip, port, deadline, sent, value),
            Key::V6(ip, port) => self.v6.insert(ip, port, deadline, sent, value),
        }
    }

    /// The probe of `target`, if one is in flight: what it holds and when it was sent.
    pub fn get(&self, target: SocketAddr) -> Option<(&T, Instant)> {
        let (value, sent) = match key(target) {
            Key::V4(ip, port) => self.v4.get(ip, port).map(|s| (&s.value, s.sent)),
            Key::V6(ip, port) => self.v6.get(ip, port).map(|s| (&s.value, s.sent)),
        }?;
        Some((value, self.sent_at(sent)))
    }

    /// The send time of a probe recorded `sent` (to the microsecond, at most one early),
    /// taken as less than 71 minutes ago.
    fn sent_at(&self, sent: u32) -> Instant {
        let now = self.micros(Instant::now());
        let ago = (now as u32).wrapping_sub(sent);
        self.instant(now.saturating_sub(u64::from(ago)))
    }

    /// Removes the probe of `target` (answered, or its wait ended otherwise).
    pub fn remove(&mut self, target: SocketAddr) -> Option<T> {
        match key(target) {
            Key::V4(ip, port) => self.v4.remove(ip, port).map(|s| s.value),
            Key::V6(ip, port) => self.v6.remove(ip, port).map(|s| s.value),
        }
    }

    /// The earliest deadline of a probe in flight.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let at = match (self.v4.next(), self.v6.next()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(self.instant(at))
    }

    /// Removes every probe whose deadline is at or before `now` and hands it to `each`,
    /// earliest first within a family.
    pub fn expire(&mut self, now: Instant, mut each: impl FnMut(SocketAddr, T)) {
        let now = self.micros(now);
        self.v4.expire(now, |ip, port, v| each(addr4(ip, port), v));
        self.v6.expire(now, |ip, port, v| each(addr6(ip, port), v));
    }

    /// Moves the deadline of the probe of `target` earlier, to `deadline` (never later).
    #[cfg(test)]
    pub fn retime(&mut self, target: SocketAddr, deadline: Instant) {
        let Some((_, sent)) = self.get(target) else {
            return;
        };
        let at = self.bounded(sent, deadline);
        match key(target) {
            Key::V4(ip, port) => self.v4.retime(ip, port, at),
            Key::V6(ip, port) => self.v6.retime(ip, port, at),
        }
    }

    /// Asks `deadline` for a new deadline of every probe in flight (given its target, what
    /// it holds and when it was sent) and moves each one earlier where the answer is earlier.
    pub fn retime_all(
        &mut self,
        mut deadline: impl FnMut(SocketAddr, &T, Instant) -> Option<Instant>,
    ) {
        let mut moved4 = Vec::new();
        let mut moved6 = Vec::new();
        for s in &self.v4.slots {
            let sent = self.sent_at(s.sent);
            if let Some(d) = deadline(addr4(s.ip, s.port), &s.value, sent) {
                moved4.push((s.ip, s.port, self.bounded(sent, d)));
            }
        }
        for s in &self.v6.slots {
            let sent = self.sent_at(s.sent);
            if let Some(d) = deadline(addr6(s.ip, s.port), &s.value, sent) {
                moved6.push((s.ip, s.port, self.bounded(sent, d)));
            }
        }
        for (ip, port, at) in moved4 {
            self.v4.retime(ip, port, at);
        }
        for (ip, port, at) in moved6 {
            self.v6.retime(ip, port, at);
        }
    }
}

impl<T> Default for InFlight<T> {
    fn default() -> InFlight<T> {
        InFlight::new()
    }
}

/// Bytes one IPv4 probe in flight costs in the table (its record, its position in the hash
/// table and that bucket's control byte) and its queue, what it holds (`T`) included, not
/// counting spare room (the hash table is at most 7/8 full, and it, the records and the
/// queue grow by doubling).
#[cfg(test)]
pub(crate) const fn bytes_per_probe<T>() -> usize {
    std::mem::size_of::<Slot<u32, T>>()
        + std::mem::size_of::<u32>()
        + 1
        + std::mem::size_of::<Reverse<(u64, u32, u16)>>()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn expired(t: &mut InFlight<u32>, now: Instant) -> Vec<(SocketAddr, u32)> {
        let mut out = Vec::new();
        t.expire(now, |k, v| out.push((k, v)));
        out
    }

    #[tokio::test(start_paused = true)]
    async fn probes_expire_in_deadline_order_and_not_before() {
        let mut t = InFlight::new();
        let now = Instant::now();
        let ms = Duration::from_millis;
        t.insert(a("198.18.0.1:22"), now, now + ms(30), 1);
        t.insert(a("[2001:db8::1]:22"), now, now + ms(10), 2);
        t.insert(a("198.18.0.2:22"), now, now + ms(20), 3);
        assert_eq!(t.next_deadline(), Some(now + ms(10)));
        assert!(expired(&mut t, now + ms(9)).is_empty());
        assert_eq!(expired(&mut t, now + ms(10)), [(a("[2001:db8::1]:22"), 2)]);
        assert_eq!(t.next_deadline(), Some(now + ms(20)));
        assert_eq!(
            expired(&mut t, now + ms(40)),
            [(a("198.18.0.2:22"), 3), (a("198.18.0.1:22"), 1)]
        );
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn retime_only_shortens_and_the_old_deadline_is_ignored() {
        let mut t = InFlight::new();
        let now = Instant::now();
        let s = Duration::from_secs;
        let (x, y) = (a("198.18.0.1:22"), a("198.18.0.2:22"));
        t.insert(x, now, now + s(1), 1);
        t.insert(y, now, now + s(1), 2);
        t.retime(x, now + s(2));
        t.retime(y, now + Duration::from_millis(50));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(50)));
        assert_eq!(expired(&mut t, now + Duration::from_millis(60)), [(y, 2)]);
        assert_eq!(expired(&mut t, now + s(1)), [(x, 1)]);
        // retime_all: each probe from its send time, never later than before.
        t.insert(x, now, now + s(5), 3);
        t.insert(y, now + s(1), now + s(5), 4);
        t.retime_all(|_, &v, sent| (v == 4).then(|| sent + s(1)));
        assert_eq!(expired(&mut t, now + s(2)), [(y, 4)]);
        assert_eq!(t.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_probe_does_not_expire_and_a_new_attempt_keeps_its_own_deadline() {
        let mut t = InFlight::new();
        let now = Instant::now();
        let ms = Duration::from_millis;
        let (x, y) = (a("198.18.0.1:22"), a("198.18.0.2:22"));
        t.insert(x, now, now + ms(100), 1);
        t.insert(y, now, now + ms(100), 3);
        assert_eq!(t.remove(x), Some(1));
        // The port's next attempt, whose deadline is later: the answered attempt's deadline
        // passing does not end it.
        t.insert(x, now, now + ms(300), 2);
        assert_eq!(expired(&mut t, now + ms(200)), [(y, 3)]);
        assert_eq!(t.get(x).map(|(v, _)| *v), Some(2));
        assert_eq!(expired(&mut t, now + ms(300)), [(x, 2)]);
        // Expired: an answer after that finds nothing.
        assert_eq!(t.remove(x), None);
        assert!(t.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn many_probes_with_one_timeout_and_the_stale_entries_stay_bounded() {
        let mut t = InFlight::new();
        let start = Instant::now();
        let timeout = Duration::from_secs(1);
        let mut next = 0u32;
        let mut got = Vec::new();
        // 200,000 probes, 1,000 every millisecond, two thirds answered at once.
        for step in 0..200u64 {
            let now = start + Duration::from_millis(step);
            for _ in 0..1000 {
                let ip = Ipv4Addr::from_bits(0xc612_0000 + next);
                let target = SocketAddr::new(ip.into(), 22);
                t.insert(target, now, now + timeout, next);
                if next % 3 != 0 {
                    t.remove(target);
                }
                next += 1;
            }
            t.expire(now, |_, v| got.push(v));
        }
        assert!(got.is_empty());
        let in_flight = t.len();
        assert_eq!(in_flight, 200_000usize.div_ceil(3));
        assert!(t.v4.queue.len() <= 2 * in_flight + STALE_SLACK + 1);
        t.expire(start + Duration::from_secs(2), |_, v| got.push(v));
        assert_eq!(got.len(), in_flight);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "not in deadline order");
        assert!(t.is_empty());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(usize, u64),
        Remove(usize),
        Advance(u64),
    }

    proptest::proptest! {
        /// Records move when another one leaves (the last takes its place): the table agrees
        /// with a plain map of target to deadline and value through any sequence of sends,
        /// answers and expiries.
        #[test]
        fn the_table_agrees_with_a_map(ops in proptest::collection::vec(
            proptest::prop_oneof![
                (0..12usize, 1..50u64).prop_map(|(k, d)| Op::Insert(k, d)),
                (0..12usize).prop_map(Op::Remove),
                (0..30u64).prop_map(Op::Advance),
            ],
            1..300,
        )) {
            use std::collections::HashMap;
            let targets: Vec<SocketAddr> = (0..12)
                .map(|i| match i {
                    0..=8 => SocketAddr::new(Ipv4Addr::new(198, 18, 0, i % 3).into(), 20 + i as u16 / 3),
                    _ => SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16).into(), 22),
                })
                .collect();
            let mut t = InFlight::new();
            let start = t.epoch;
            let mut model: HashMap<SocketAddr, (u64, u32)> = HashMap::new();
            let mut now = 0u64;
            for (n, op) in ops.into_iter().enumerate() {
                let value = n as u32;
                match op {
                    Op::Insert(k, d) => {
                        let at = start + Duration::from_millis(now + d);
                        let old = t.insert(targets[k], start + Duration::from_millis(now), at, value);
                        let want = model.insert(targets[k], (now + d, value)).map(|(_, v)| v);
                        prop_assert_eq!(old, want);
                    }
                    Op::Remove(k) => {
                        let want = model.remove(&targets[k]).map(|(_, v)| v);
                        prop_assert_eq!(t.remove(targets[k]), want);
                    }
                    Op::Advance(d) => {
                        now += d;
                        let mut got = Vec::new();
                        t.expire(start + Duration::from_millis(now), |k, v| got.push((k, v)));
                        let mut want: Vec<_> = model
                            .iter()
                            .filter(|(_, (at, _))| *at <= now)
                            .map(|(k, (_, v))| (*k, *v))
                            .collect();
                        model.retain(|_, (at, _)| *at > now);
                        got.sort();
                        want.sort();
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                for (k, (_, v)) in &model {
                    prop_assert_eq!(t.get(*k).map(|(v, _)| *v), Some(*v));
                }
                let earliest = model.values().map(|(at, _)| *at).min();
                prop_assert_eq!(
                    t.next_deadline(),
                    earliest.map(|at| start + Duration::from_millis(at))
                );
            }
        }
    }

    #[test]
    fn a_probe_in_flight_costs_a_few_dozen_bytes() {
        // The record's target, deadline, send time, its position in the hash table and that
        // bucket's control byte, and a heap entry (without what it holds).
        assert_eq!(std::mem::size_of::<Slot<u32, ()>>(), 16);
        assert_eq!(bytes_per_probe::<()>(), 37);
        // What a prober keeps beside them fills the record's padding first: 18 bytes of
        // alignment 2 (the SYN prober's) make a 32-byte record.
        assert_eq!(std::mem::size_of::<Slot<u32, [u16; 9]>>(), 32);
    }

    /// The low 32 bits of a deadline's microseconds wrap 71.6 minutes after the epoch: probes
    /// whose deadlines straddle that point still end in order, retimed only earlier, and a
    /// send time before it still gives the round trip.
    #[tokio::test(start_paused = true)]
    async fn deadlines_keep_their_order_where_their_low_bits_wrap() {
        let mut t = InFlight::new();
        let ms = Duration::from_millis;
        let wrap = Duration::from_micros(1 << 32);
        tokio::time::advance(wrap - ms(20)).await;
        let now = Instant::now();
        let (x, y, z) = (
            a("198.18.0.1:22"),
            a("198.18.0.2:22"),
            a("[2001:db8::1]:22"),
        );
        // x and z end after the wrap, y before it.
        t.insert(x, now, now + ms(30), 1);
        t.insert(y, now, now + ms(10), 2);
        t.insert(z, now, now + ms(25), 3);
        assert_eq!(t.next_deadline(), Some(now + ms(10)));
        // Across the wrap: x earlier (from after it to before it), y not later.
        t.retime(x, now + ms(15));
        t.retime(y, now + ms(40));
        t.retime(z, now + ms(22));
        assert!(expired(&mut t, now + ms(9)).is_empty());
        assert_eq!(expired(&mut t, now + ms(12)), [(y, 2)]);
        assert_eq!(t.next_deadline(), Some(now + ms(15)));
        // The send time, read after the wrap, is still 21 ms ago.
        tokio::time::advance(ms(21)).await;
        assert_eq!(t.get(x).map(|(_, sent)| sent), Some(now));
        assert_eq!(expired(&mut t, now + ms(21)), [(x, 1)]);
        // x's stale deadline (30 ms) does not end a new attempt sent after the wrap.
        t.insert(x, now + ms(21), now + ms(60), 4);
        assert_eq!(expired(&mut t, now + ms(40)), [(z, 3)]);
        assert_eq!(t.next_deadline(), Some(now + ms(60)));
        assert_eq!(expired(&mut t, now + ms(60)), [(x, 4)]);
        assert!(t.is_empty());
    }

    /// A deadline more than [`MAX_WAIT`] after its send time is cut to that: so a stale
    /// deadline of the same target 2^32 µs earlier, which has the same low bits, is never
    /// taken for it.
    #[tokio::test(start_paused = true)]
    async fn a_probe_waits_at_most_max_wait() {
        let mut t = InFlight::new();
        let ms = Duration::from_millis;
        let now = Instant::now();
        let x = a("198.18.0.1:22");
        t.insert(x, now, now + ms(10), 1);
        assert_eq!(t.remove(x), Some(1));
        // Its heap entry stays (stale) until 10 ms.
        t.insert(x, now, now + ms(10) + Duration::from_micros(1 << 32), 2);
        assert!(expired(&mut t, now + ms(10)).is_empty());
        assert_eq!(t.next_deadline(), Some(now + MAX_WAIT));
        assert!(expired(&mut t, now + MAX_WAIT - ms(1)).is_empty());
        assert_eq!(expired(&mut t, now + MAX_WAIT), [(x, 2)]);
    }
}
