//! The congestion window: how many probes may wait for an answer at once, per host and per
//! worker, and how it tells random loss from congestion.
//!
//! # The signals
//! *Loss.* A probe's loss is known for certain only when the same port answers a later attempt
//! (a *confirmed loss*), about one timeout after the loss. Ports that never answer (filtered
//! ones) say nothing: a dropped port range is not congestion.
//!
//! *Delay.* A queue building on the path shows in the round trip before it overflows: the
//! caller says when the smoothed round trip is well above the smallest one
//! ([`super::rtt::RttEstimator::queueing`]).
//!
//! # Random loss or congestion
//! Time is cut into *horizons* (the caller numbers them; the scanner makes one last 4 × its
//! timeout). Every attempt is counted in the horizon it was *sent* in: an answer there, a loss
//! there once a later attempt of the same port answers. Counting by the time of the answer
//! instead would be biased: confirmed losses arrive in bursts one timeout late, and at the end
//! of a scan only retransmissions are answered. A horizon is judged [`JUDGE_LAG`] horizons
//! after it ended, when the fate of its attempts is known, if it counted at least
//! [`MIN_EPOCH`] attempts. Its loss rate is compared with the *base* loss rate learnt from
//! earlier horizons:
//!
//! ```text
//! congested  ⇔  horizon loss rate > base + 3σ + 1 %,   σ = sqrt(b(1 − b) / n)
//! ```
//!
//! where `n` is the horizon's attempts and `b` the base with one loss and one answer added (so a
//! base of 0 still allows a stray loss). The base follows a lower rate at once and a higher one
//! by 1/8 per uncongested horizon. Random loss at a steady rate keeps every horizon near the
//! base: a 10 % loss link has a 10 % base and the window is never cut. Congestion is loss that
//! rises as the window grows past what the path carries: the horizon's rate jumps above the
//! base and the window is halved.
//!
//! # The window
//! Slow start doubles the window every *epoch* (as many answers as the window, at least
//! [`MIN_EPOCH`]) until the first congestion; after it, the window grows by 1/16 per epoch
//! (faster than TCP's one probe per round trip, because a probe is one packet and a scan's
//! windows are thousands). It does not grow while a queue is building (delay). It is halved on
//! congestion, never under [`FLOOR`] nor above the maximum (from the free descriptors, or
//! `--concurrency`). When the kernel runs short of descriptors or buffers (back-pressure), the
//! window drops to what is in flight.

use std::collections::VecDeque;

/// The window a host (and a worker) starts with.
pub const INITIAL_WINDOW: usize = 32;
/// The smallest window congestion can leave.
pub const FLOOR: usize = 4;
/// The fewest answers an epoch counts, and the fewest attempts a horizon is judged on.
pub const MIN_EPOCH: u32 = 32;
/// Horizons between the end of a horizon and its judgement.
pub const JUDGE_LAG: u32 = 3;

/// What an answer led to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An epoch ended without congestion: the window grew (or held, when a queue builds).
    Grew,
    /// Loss rose above the base: the window was halved.
    Congested,
}

/// Attempts sent in one horizon whose fate is known.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Horizon {
    id: u32,
    answers: u32,
    losses: u32,
}

/// One congestion window (slow start, then additive increase, multiplicative decrease), with a
/// loss baseline.
#[derive(Clone, Debug)]
pub struct CongestionWindow {
    cwnd: usize,
    max: usize,
    ssthresh: usize,
    epoch_answers: u32,
    horizons: VecDeque<Horizon>,
    base: Option<f64>,
    cuts: u64,
    peak: usize,
}

impl CongestionWindow {
    /// A window starting at [`INITIAL_WINDOW`] (or `max` if smaller), never above `max`.
    pub fn new(max: usize) -> CongestionWindow {
        let max = max.max(1);
        let cwnd = INITIAL_WINDOW.min(max);
        CongestionWindow {
            cwnd,
            max,
            ssthresh: max,
            epoch_answers: 0,
            horizons: VecDeque::new(),
            base: None,
            cuts: 0,
            peak: cwnd,
        }
    }

    /// Probes that may be in flight now.
    pub fn get(&self) -> usize {
        self.cwnd
    }

    /// The largest window so far.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// How often congestion halved the window.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// The base loss rate learnt so far.
    pub fn base_loss(&self) -> Option<f64> {
        self.base
    }

    /// Counts into horizon `id` (ignored if it is older than the horizons kept).
    fn credit(&mut self, id: u32, answers: u32, losses: u32) {
        if let Some(h) = self.horizons.iter_mut().find(|h| h.id == id) {
            h.answers += answers;
            h.losses = h.losses.saturating_add(losses);
            return;
        }
        let newest = self.horizons.back().map(|h| h.id);
        if newest.is_none_or(|n| id > n) {
            self.horizons.push_back(Horizon {
                id,
                answers,
                losses,
            });
        }
    }

    /// Judges the horizons old enough; true if one of them was congested.
    fn judge(&mut self, current: u32) -> bool {
        let mut congested = false;
        while let Some(h) = self.horizons.front().copied() {
            if h.id.saturating_add(JUDGE_LAG) > current {
                break;
            }
            self.horizons.pop_front();
            let n = h.answers.saturating_add(h.losses);
            if n < MIN_EPOCH {
                continue;
            }
            let rate = f64::from(h.losses) / f64::from(n);
            match self.base {
                Some(base) if above(base, h.losses, n) => congested = true,
                Some(base) if rate < base => self.base = Some(rate),
                Some(base) => self.base = Some(base + (rate - base) / 8.0),
                None => self.base = Some(rate),
            }
        }
        congested
    }

    /// A port answered an attempt sent in horizon `sent`, after `lost` confirmed losses of
    /// attempts sent in horizon `lost_in`; `current` is the horizon now. `queueing`: a queue
    /// is building on the path (do not grow).
    pub fn answered(
        &mut self,
        sent: u32,
        lost: u32,
        lost_in: u32,
        current: u32,
        queueing: bool,
    ) -> Option<Verdict> {
        self.credit(sent, 1, 0);
        if lost > 0 {
            self.credit(lost_in, 0, lost);
        }
        self.step(current, queueing)
    }

    /// A probe to an address that never answered timed out. Silence is neither an answer nor
    /// a loss (nothing shows that the probe, rather than the address, was lost): it counts in
    /// no horizon. But it is a probe the path carried without showing congestion, so it
    /// counts toward the epoch like an answer: a scan of mostly silent space grows its window
    /// as the answering hosts allow (a horizon of theirs judged congested still halves it),
    /// instead of staying at its initial size because nothing answers.
    pub fn silent(&mut self, current: u32) -> Option<Verdict> {
        self.step(current, false)
    }

    /// Judges what is due, then counts one event of the epoch.
    fn step(&mut self, current: u32, queueing: bool) -> Option<Verdict> {
        if self.judge(current) {
            self.cwnd = (self.cwnd / 2).max(FLOOR.min(self.max));
            self.ssthresh = self.cwnd;
            self.epoch_answers = 0;
            self.cuts += 1;
            return Some(Verdict::Congested);
        }
        self.epoch_answers += 1;
        let epoch = u32::try_from(self.cwnd).unwrap_or(u32::MAX).max(MIN_EPOCH);
        if self.epoch_answers < epoch {
            return None;
        }
        self.epoch_answers = 0;
        if !queueing {
            let grown = if self.cwnd < self.ssthresh {
                self.cwnd * 2
            } else {
                self.cwnd + (self.cwnd / 16).max(1)
            };
            self.cwnd = grown.min(self.max);
            self.peak = self.peak.max(self.cwnd);
        }
        Some(Verdict::Grew)
    }

    /// The kernel pushed back with `in_flight` probes waiting: that is all it allows now.
    pub fn pressed(&mut self, in_flight: usize) {
        self.cwnd = in_flight.clamp(1, self.max);
        self.ssthresh = self.cwnd;
        self.epoch_answers = 0;
    }
}

/// Whether `losses` of `n` attempts is above the congestion threshold for `base`.
fn above(base: f64, losses: u32, n: u32) -> bool {
    let n = f64::from(n.max(1));
    let rate = f64::from(losses) / n;
    let b = (base * n + 1.0) / (n + 2.0);
    let sigma = (b * (1.0 - b) / n).sqrt();
    rate > base + 3.0 * sigma + 0.01
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated path: answers arrive `per_horizon` per horizon; the attempts lost in one
    /// horizon are confirmed (their ports answer a retry) in a burst in the next one, as on a
    /// real path, where a loss is known one timeout late.
    struct Sim {
        answers: u64,
        per_horizon: u64,
        owed: f64,
        owed_from: u32,
    }

    impl Sim {
        fn new(per_horizon: u64) -> Sim {
            Sim {
                answers: 0,
                per_horizon,
                owed: 0.0,
                owed_from: 0,
            }
        }

        fn current(&self) -> u32 {
            (self.answers / self.per_horizon) as u32
        }

        /// One answer while the path loses `p` of the attempts sent now.
        fn answer(&mut self, w: &mut CongestionWindow, p: f64, queueing: bool) -> Option<Verdict> {
            self.answers += 1;
            let now = self.current();
            if now != self.owed_from {
                // New horizon: the last one's losses are confirmed in one burst, now.
                let lost = self.owed.round() as u32;
                let from = self.owed_from;
                self.owed = 0.0;
                self.owed_from = now;
                self.owed += p / (1.0 - p);
                return w.answered(now, lost, from, now, queueing);
            }
            self.owed += p / (1.0 - p);
            w.answered(now, 0, now, now, queueing)
        }
    }

    #[test]
    fn without_loss_slow_start_reaches_the_maximum() {
        let mut w = CongestionWindow::new(4096);
        let mut sim = Sim::new(10_000);
        assert_eq!(w.get(), INITIAL_WINDOW);
        for _ in 0..20_000 {
            sim.answer(&mut w, 0.0, false);
        }
        assert_eq!(w.get(), 4096);
        assert_eq!(w.cuts(), 0);
    }

    #[test]
    fn steady_random_loss_is_not_congestion_even_when_confirmed_in_bursts() {
        for p in [0.05, 0.10, 0.1925, 0.30] {
            let mut w = CongestionWindow::new(4096);
            let mut sim = Sim::new(10_000);
            for _ in 0..300_000 {
                sim.answer(&mut w, p, false);
            }
            assert_eq!(w.get(), 4096, "p = {p}");
            assert_eq!(w.cuts(), 0, "p = {p}");
            let base = w.base_loss().unwrap();
            assert!((base - p).abs() < 0.02, "p = {p}, base {base}");
        }
    }

    /// Loss on a path that carries `capacity` probes in flight: the excess is lost.
    fn path_loss(window: usize, capacity: usize, base: f64) -> f64 {
        let excess = window.saturating_sub(capacity) as f64 / window as f64;
        base + (1.0 - base) * excess
    }

    #[test]
    fn loss_that_rises_with_the_window_halves_it() {
        for random in [0.0, 0.10] {
            let capacity = 300;
            let mut w = CongestionWindow::new(8192);
            let mut sim = Sim::new(2_000);
            let mut cuts_at = Vec::new();
            for _ in 0..400_000 {
                let p = path_loss(w.get(), capacity, random);
                if sim.answer(&mut w, p, false) == Some(Verdict::Congested) {
                    cuts_at.push(w.get());
                }
            }
            assert!(w.cuts() > 0, "random {random}");
            let now = w.get();
            assert!(
                now >= capacity / 4 && now <= capacity * 3,
                "random {random}: window {now}, cuts at {cuts_at:?}"
            );
        }
    }

    #[test]
    fn a_building_queue_stops_growth() {
        let mut w = CongestionWindow::new(4096);
        let mut sim = Sim::new(2_000);
        for _ in 0..100_000 {
            sim.answer(&mut w, 0.0, true);
        }
        assert_eq!(w.get(), INITIAL_WINDOW);
        assert_eq!(w.cuts(), 0);
    }

    #[test]
    fn the_floor_and_the_maximum_hold() {
        let mut w = CongestionWindow::new(4096);
        let mut sim = Sim::new(2_000);
        for _ in 0..10_000 {
            sim.answer(&mut w, 0.0, false);
        }
        for _ in 0..100_000 {
            sim.answer(&mut w, 0.9, false);
        }
        assert!(w.cuts() > 0);
        assert!(w.get() >= FLOOR);
        let mut small = CongestionWindow::new(2);
        assert_eq!(small.get(), 2);
        for _ in 0..1000 {
            sim.answer(&mut small, 0.0, false);
        }
        assert_eq!(small.get(), 2);
    }

    #[test]
    fn silence_grows_the_window_and_congestion_still_halves_it() {
        let mut w = CongestionWindow::new(4096);
        for _ in 0..10_000 {
            w.silent(0);
        }
        assert_eq!(w.get(), 4096, "silence is no reason to stay at 32");
        assert_eq!(w.cuts(), 0);
        // Mostly silence, and answering hosts behind a path that carries 300 probes: their
        // loss rises with the window, and halves it although silence keeps growing it.
        let mut w = CongestionWindow::new(4096);
        let mut sim = Sim::new(2_000);
        for _ in 0..100_000 {
            let p = path_loss(w.get(), 300, 0.0);
            sim.answer(&mut w, p, false);
            for _ in 0..4 {
                w.silent(sim.current());
            }
        }
        assert!(w.cuts() > 0);
        assert!(w.get() < 4096, "{}", w.get());
    }

    #[test]
    fn back_pressure_drops_the_window_to_what_is_in_flight() {
        let mut w = CongestionWindow::new(4096);
        let mut sim = Sim::new(10_000);
        for _ in 0..20_000 {
            sim.answer(&mut w, 0.0, false);
        }
        w.pressed(700);
        assert_eq!(w.get(), 700);
        w.pressed(0);
        assert_eq!(w.get(), 1);
    }
}
