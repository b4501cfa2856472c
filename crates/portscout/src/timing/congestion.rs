//! The congestion window: how many probes may wait for an answer at once, per host and per
//! worker, and how it tells random loss from congestion.
//!
//! # The signal
//! A probe's loss is known for certain only when the same port answers a later attempt (a
//! *confirmed loss*). Ports that never answer (filtered ones) say nothing: a dropped port range
//! is not congestion. Each answered port reports how many attempts it lost before answering.
//!
//! # Random loss or congestion
//! The window is judged once per *epoch*: as many answered ports as the window allows probes
//! in flight (at least [`MIN_EPOCH`]), roughly one round trip's worth. An epoch's loss rate is
//! compared with the *base* loss rate, the running average (weight 1/8) of the epochs that were
//! not congested:
//!
//! ```text
//! congested  ⇔  epoch loss rate > base + 3σ + 1 %,   σ = sqrt(b(1 − b) / n)
//! ```
//!
//! where `n` is the epoch's attempts and `b` the base with one loss and one answer added (so a
//! base of 0 still allows a stray loss). Random loss at a steady rate keeps each epoch's rate
//! near the base: a 10 % loss link has a 10 % base and the window keeps growing. Congestion is
//! loss that rises as the window grows past what the path carries: the epoch's rate jumps above
//! the base and the window is halved. The base is learnt while the window is small (it starts
//! at [`INITIAL_WINDOW`]), before a blast can cause loss of its own.
//!
//! # The window
//! Slow start doubles the window every epoch until the first congestion; after it, the window
//! grows by 1/16 per uncongested epoch (faster than TCP's one probe per round trip, because a
//! probe is one packet and a scan's windows are thousands) and is halved on congestion, never
//! under the floor ([`FLOOR`], or what `--min-rate` needs) nor above the maximum (from the free
//! descriptors, or `--concurrency`). When the kernel runs short of descriptors or buffers
//! (back-pressure), the window drops to what is in flight.

/// The window a host (and a worker) starts with.
pub const INITIAL_WINDOW: usize = 32;
/// The smallest window congestion can leave.
pub const FLOOR: usize = 4;
/// The fewest answered attempts an epoch judges.
pub const MIN_EPOCH: u32 = 32;

/// What the end of an epoch decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Loss was at the base rate: the window grew.
    Grew,
    /// Loss rose above the base: the window was halved.
    Congested,
}

/// One congestion window (AIMD with slow start, and a loss baseline).
#[derive(Clone, Debug)]
pub struct CongestionWindow {
    cwnd: usize,
    max: usize,
    ssthresh: usize,
    epoch_answers: u32,
    epoch_losses: u32,
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
            epoch_losses: 0,
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

    /// A port answered after `lost` confirmed losses. Returns the verdict when this ends an
    /// epoch.
    pub fn answered(&mut self, lost: u32) -> Option<Verdict> {
        self.epoch_answers += 1;
        self.epoch_losses = self.epoch_losses.saturating_add(lost);
        let n = self.epoch_answers + self.epoch_losses;
        let epoch = u32::try_from(self.cwnd).unwrap_or(u32::MAX).max(MIN_EPOCH);
        if n < epoch {
            return None;
        }
        let rate = f64::from(self.epoch_losses) / f64::from(n);
        self.epoch_answers = 0;
        self.epoch_losses = 0;
        let congested = match self.base {
            None => {
                self.base = Some(rate);
                false
            }
            Some(base) => {
                let b = (base * f64::from(n) + 1.0) / (f64::from(n) + 2.0);
                let sigma = (b * (1.0 - b) / f64::from(n)).sqrt();
                rate > base + 3.0 * sigma + 0.01
            }
        };
        if congested {
            self.cwnd = (self.cwnd / 2).max(FLOOR.min(self.max));
            self.ssthresh = self.cwnd;
            self.cuts += 1;
            return Some(Verdict::Congested);
        }
        if let Some(base) = &mut self.base {
            *base += (rate - *base) / 8.0;
        }
        let grown = if self.cwnd < self.ssthresh {
            self.cwnd * 2
        } else {
            self.cwnd + (self.cwnd / 16).max(1)
        };
        self.cwnd = grown.min(self.max);
        self.peak = self.peak.max(self.cwnd);
        Some(Verdict::Grew)
    }

    /// The kernel pushed back with `in_flight` probes waiting: that is all it allows now.
    pub fn pressed(&mut self, in_flight: usize) {
        self.cwnd = in_flight.clamp(1, self.max);
        self.ssthresh = self.cwnd;
        self.epoch_answers = 0;
        self.epoch_losses = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of answers with `p` of attempts lost (spread evenly).
    struct Lossy {
        p: f64,
        acc: f64,
    }

    impl Lossy {
        fn next(&mut self) -> u32 {
            self.acc += self.p / (1.0 - self.p);
            let lost = self.acc.floor();
            self.acc -= lost;
            lost as u32
        }
    }

    #[test]
    fn without_loss_slow_start_reaches_the_maximum() {
        let mut w = CongestionWindow::new(4096);
        assert_eq!(w.get(), INITIAL_WINDOW);
        for _ in 0..20_000 {
            w.answered(0);
        }
        assert_eq!(w.get(), 4096);
        assert_eq!(w.cuts(), 0);
    }

    #[test]
    fn steady_random_loss_is_not_congestion() {
        for p in [0.05, 0.10, 0.1925, 0.30] {
            let mut w = CongestionWindow::new(4096);
            let mut loss = Lossy { p, acc: 0.0 };
            for _ in 0..100_000 {
                w.answered(loss.next());
            }
            assert_eq!(w.get(), 4096, "p = {p}");
            assert_eq!(w.cuts(), 0, "p = {p}");
            let base = w.base_loss().unwrap();
            assert!((base - p).abs() < 0.02, "p = {p}, base {base}");
        }
    }

    /// A path that carries `capacity` probes in flight: beyond it, the excess is lost.
    fn congested_path_loss(window: usize, capacity: usize, base: f64) -> f64 {
        let excess = window.saturating_sub(capacity) as f64 / window as f64;
        base + (1.0 - base) * excess
    }

    #[test]
    fn loss_that_rises_with_the_window_halves_it() {
        let capacity = 300;
        let mut w = CongestionWindow::new(4096);
        let mut windows = Vec::new();
        for _ in 0..200_000 {
            let p = congested_path_loss(w.get(), capacity, 0.0);
            // Expected losses per answer at loss rate p, deterministically rounded.
            let lost = if p > 0.0 { (p / (1.0 - p)).round() as u32 } else { 0 };
            if let Some(Verdict::Congested) = w.answered(lost) {
                windows.push(w.get());
            }
        }
        assert!(w.cuts() > 0);
        // The window settles around the path's capacity: never stuck at the floor, never far
        // above.
        let w_now = w.get();
        assert!(w_now >= capacity / 4 && w_now <= capacity * 2, "window {w_now}, cuts at {windows:?}");
    }

    #[test]
    fn congestion_on_top_of_random_loss_is_still_seen() {
        let capacity = 500;
        let mut w = CongestionWindow::new(8192);
        let mut loss = Lossy { p: 0.10, acc: 0.0 };
        let mut extra = 0.0;
        for _ in 0..300_000 {
            let p = congested_path_loss(w.get(), capacity, 0.0);
            extra += p / (1.0 - p).max(0.01);
            let congestion_lost = extra.floor();
            extra -= congestion_lost;
            w.answered(loss.next() + congestion_lost as u32);
        }
        assert!(w.cuts() > 0);
        assert!(w.get() <= capacity * 2, "window {}", w.get());
        assert!(w.get() >= FLOOR);
    }

    #[test]
    fn the_floor_and_the_maximum_hold() {
        let mut w = CongestionWindow::new(4096);
        for _ in 0..10_000 {
            w.answered(0);
        }
        for _ in 0..100_000 {
            w.answered(5);
        }
        assert!(w.get() >= FLOOR);
        let mut small = CongestionWindow::new(2);
        assert_eq!(small.get(), 2);
        for _ in 0..1000 {
            small.answered(0);
        }
        assert_eq!(small.get(), 2);
    }

    #[test]
    fn back_pressure_drops_the_window_to_what_is_in_flight() {
        let mut w = CongestionWindow::new(4096);
        for _ in 0..20_000 {
            w.answered(0);
        }
        w.pressed(700);
        assert_eq!(w.get(), 700);
        w.pressed(0);
        assert_eq!(w.get(), 1);
    }
}
