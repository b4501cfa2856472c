//! The probes in flight of a batching prober: one compact table and one deadline queue, in
//! place of a future and a timer per probe.
//!
//! A probe is keyed by its target in a compact form (an IPv4 address and port packed in a
//! `u64`; IPv6 in a table of its own), and holds only its deadline, its send time and what
//! the prober keeps with it (the worker's job, its source port). Deadlines wait in a binary
//! heap ordered by time; an entry whose probe was answered, retimed or replaced meanwhile is
//! dropped when it comes to the top (its deadline no longer matches the probe's), and the heap
//! is rebuilt from the table when such entries outnumber the probes. So a probe in flight costs
//! a table entry and a heap entry, and the event loop sleeps once, until the earliest deadline
//! or the next answer, whatever the number of probes.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

/// Heap entries (stale ones included) kept beyond twice the probes before the heap is rebuilt.
const STALE_SLACK: usize = 1024;

/// One probe in flight.
#[derive(Debug)]
struct Slot<T> {
    /// Microseconds since the table's epoch (rounded up: a probe never ends early).
    deadline: u64,
    /// Microseconds since the table's epoch, wrapping (only differences under 71 minutes are
    /// read: a round trip).
    sent: u32,
    value: T,
}

/// One family's probes.
#[derive(Debug)]
struct Table<K, T> {
    slots: foldhash::HashMap<K, Slot<T>>,
    queue: BinaryHeap<Reverse<(u64, K)>>,
}

impl<K: Hash + Eq + Ord + Copy, T> Table<K, T> {
    fn new() -> Table<K, T> {
        Table {
            slots: foldhash::HashMap::default(),
            queue: BinaryHeap::new(),
        }
    }

    fn insert(&mut self, key: K, deadline: u64, sent: u32, value: T) -> Option<T> {
        self.queue.push(Reverse((deadline, key)));
        let old = self.slots.insert(
            key,
            Slot {
                deadline,
                sent,
                value,
            },
        );
        self.compact();
        old.map(|s| s.value)
    }

    /// Drops the heap's stale entries once they outnumber the probes.
    fn compact(&mut self) {
        if self.queue.len() > 2 * self.slots.len() + STALE_SLACK {
            let slots = &self.slots;
            self.queue
                .retain(|Reverse((at, k))| slots.get(k).is_some_and(|s| s.deadline == *at));
        }
    }

    /// The earliest deadline of a probe still in flight (stale heap entries dropped).
    fn next(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, key))) = self.queue.peek() {
            if self.slots.get(&key).is_some_and(|s| s.deadline == at) {
                return Some(at);
            }
            self.queue.pop();
        }
        None
    }

    /// Removes the probes whose deadline is at or before `now`, earliest first.
    fn expire(&mut self, now: u64, mut each: impl FnMut(K, T)) {
        // One lookup per heap entry: a stale one (its probe answered, retimed or replaced) is
        // dropped here as in `next`.
        while let Some(&Reverse((at, key))) = self.queue.peek() {
            if at > now {
                return;
            }
            self.queue.pop();
            if let Entry::Occupied(e) = self.slots.entry(key) {
                if e.get().deadline == at {
                    each(key, e.remove().value);
                }
            }
        }
    }

    fn retime(&mut self, key: K, deadline: u64) {
        if let Some(slot) = self.slots.get_mut(&key) {
            if deadline < slot.deadline {
                slot.deadline = deadline;
                self.queue.push(Reverse((deadline, key)));
            }
        }
    }
}

/// An IPv4 target as one integer: address, then port.
fn key4(ip: Ipv4Addr, port: u16) -> u64 {
    u64::from(ip.to_bits()) << 16 | u64::from(port)
}

fn addr4(key: u64) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::from_bits((key >> 16) as u32)),
        key as u16,
    )
}

/// The probes in flight of one worker, by target, with their deadlines (see the module).
#[derive(Debug)]
pub(crate) struct InFlight<T> {
    epoch: Instant,
    v4: Table<u64, T>,
    v6: Table<(u128, u16), T>,
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

    fn instant(&self, micros: u64) -> Instant {
        self.epoch + Duration::from_micros(micros)
    }

    /// How many probes are in flight.
    pub fn len(&self) -> usize {
        self.v4.slots.len() + self.v6.slots.len()
    }

    /// Whether no probe is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a probe of `target` sent at `sent`, to end at `deadline` unless answered.
    /// Returns what a probe of the same target still in flight held (it is replaced).
    pub fn insert(
        &mut self,
        target: SocketAddr,
        sent: Instant,
        deadline: Instant,
        value: T,
    ) -> Option<T> {
        let deadline = self.micros(deadline);
        let sent = sent.saturating_duration_since(self.epoch).as_micros() as u32;
        match target {
            SocketAddr::V4(a) => self
                .v4
                .insert(key4(*a.ip(), a.port()), deadline, sent, value),
            SocketAddr::V6(a) => {
                self.v6
                    .insert((a.ip().to_bits(), a.port()), deadline, sent, value)
            }
        }
    }

    /// The probe of `target`, if one is in flight: what it holds and when it was sent.
    pub fn get(&self, target: SocketAddr) -> Option<(&T, Instant)> {
        let slot = match target {
            SocketAddr::V4(a) => self.v4.slots.get(&key4(*a.ip(), a.port())),
            SocketAddr::V6(a) => self.v6.slots.get(&(a.ip().to_bits(), a.port())),
        }?;
        Some((&slot.value, self.sent_at(slot.sent)))
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
        match target {
            SocketAddr::V4(a) => self.v4.slots.remove(&key4(*a.ip(), a.port())),
            SocketAddr::V6(a) => self.v6.slots.remove(&(a.ip().to_bits(), a.port())),
        }
        .map(|s| s.value)
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
        self.v4.expire(now, |k, v| each(addr4(k), v));
        self.v6.expire(now, |(ip, port), v| {
            each(
                SocketAddr::new(IpAddr::V6(Ipv6Addr::from_bits(ip)), port),
                v,
            )
        });
    }

    /// Moves the deadline of the probe of `target` earlier, to `deadline` (never later).
    #[cfg(test)]
    pub fn retime(&mut self, target: SocketAddr, deadline: Instant) {
        let at = self.micros(deadline);
        match target {
            SocketAddr::V4(a) => self.v4.retime(key4(*a.ip(), a.port()), at),
            SocketAddr::V6(a) => self.v6.retime((a.ip().to_bits(), a.port()), at),
        }
    }

    /// Asks `deadline` for a new deadline of every probe in flight (given what it holds and
    /// when it was sent) and moves each one earlier where the answer is earlier.
    pub fn retime_all(&mut self, mut deadline: impl FnMut(&T, Instant) -> Option<Instant>) {
        let mut moved4 = Vec::new();
        let mut moved6 = Vec::new();
        for (k, s) in &self.v4.slots {
            if let Some(d) = deadline(&s.value, self.sent_at(s.sent)) {
                moved4.push((*k, self.micros(d)));
            }
        }
        for (k, s) in &self.v6.slots {
            if let Some(d) = deadline(&s.value, self.sent_at(s.sent)) {
                moved6.push((*k, self.micros(d)));
            }
        }
        for (k, at) in moved4 {
            self.v4.retime(k, at);
        }
        for (k, at) in moved6 {
            self.v6.retime(k, at);
        }
    }
}

impl<T> Default for InFlight<T> {
    fn default() -> InFlight<T> {
        InFlight::new()
    }
}

/// Bytes one IPv4 probe in flight costs in the table (key, slot, control byte) and its queue,
/// what it holds (`T`) included, not counting the hash table's spare room (it is at most 7/8
/// full, and grows by doubling).
#[cfg(test)]
pub(crate) const fn bytes_per_probe<T>() -> usize {
    std::mem::size_of::<(u64, Slot<T>)>() + 1 + std::mem::size_of::<Reverse<(u64, u64)>>()
}

#[cfg(test)]
mod tests {
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
        t.retime_all(|&v, sent| (v == 4).then(|| sent + s(1)));
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

    #[test]
    fn a_probe_in_flight_costs_a_few_dozen_bytes() {
        // The table's key, deadline, send time and a heap entry (without what it holds).
        assert!(bytes_per_probe::<()>() <= 48, "{}", bytes_per_probe::<()>());
    }
}
