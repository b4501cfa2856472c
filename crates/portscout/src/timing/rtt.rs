//! Round-trip time estimation and the retransmission timeout, after RFC 6298 ("Computing
//! TCP's Retransmission Timer", §2).
//!
//! Every answered probe (a SYN-ACK or a RST, read by `connect(2)`) gives one sample: the time
//! from the probe's `connect` call to the answer. A connect probe is one socket per attempt, so
//! a sample never mixes up an original SYN with a retransmission (Karn's algorithm holds by
//! construction), as long as the timeout stays below the kernel's own first SYN retransmission
//! (1 s, `TCP_TIMEOUT_INIT`); samples at or above that are ignored.
//!
//! ```text
//! first sample R:   SRTT = R, RTTVAR = R/2
//! next samples R':  RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|,  SRTT = 7/8 SRTT + 1/8 R'
//! timeout:          RTO = SRTT + max(G, 4 RTTVAR), clamped to [min, max]
//! no sample yet:    RTO = the initial value (RFC 6298 §2.1: 1 s), clamped the same way
//! ```

use std::time::Duration;

/// The clock granularity `G` of RFC 6298: the smallest variance term.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// Samples this long or longer may be answers to the kernel's own SYN retransmission (its
/// first one leaves after 1 s), so they are not used.
pub const AMBIGUOUS_SAMPLE: Duration = Duration::from_secs(1);

/// How far above twice the smallest round trip the smoothed one may be before a queue is
/// said to be building.
pub const QUEUE_MARGIN: Duration = Duration::from_millis(5);

/// Bounds and start value of an adaptive timeout (`--min-rtt-timeout`, `--max-rtt-timeout`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RtoBounds {
    /// The lowest timeout.
    pub min: Duration,
    /// The highest timeout.
    pub max: Duration,
    /// The timeout before any sample.
    pub initial: Duration,
}

impl RtoBounds {
    /// Clamps a timeout into `[min, max]`.
    pub fn clamp(&self, rto: Duration) -> Duration {
        rto.clamp(self.min, self.max.max(self.min))
    }
}

/// The smoothed round-trip time and its variation, for one host or for all hosts of a worker.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    min: Option<Duration>,
    samples: u64,
}

impl RttEstimator {
    /// An estimator with no sample.
    pub fn new() -> RttEstimator {
        RttEstimator::default()
    }

    /// Takes one round-trip sample. Returns false (and ignores it) when it is ambiguous.
    pub fn sample(&mut self, rtt: Duration) -> bool {
        if rtt >= AMBIGUOUS_SAMPLE {
            return false;
        }
        self.samples += 1;
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let delta = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar * 3 / 4 + delta / 4;
                self.srtt = Some(srtt * 7 / 8 + rtt / 8);
            }
        }
        true
    }

    /// The smoothed round-trip time, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The round-trip variation.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The smallest sample: the path's round trip with empty queues.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min
    }

    /// Whether a queue is building on the path: the smoothed round trip is more than twice
    /// the smallest one plus 5 ms (TCP Vegas' signal, with a margin for a busy event loop).
    pub fn queueing(&self) -> bool {
        match (self.srtt, self.min) {
            (Some(srtt), Some(min)) => srtt > min * 2 + QUEUE_MARGIN,
            _ => false,
        }
    }

    /// Samples taken.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The retransmission timeout, or `None` before the first sample.
    pub fn rto(&self, bounds: &RtoBounds) -> Option<Duration> {
        let srtt = self.srtt?;
        Some(bounds.clamp(srtt + (self.rttvar * 4).max(GRANULARITY)))
    }
}

/// Sub-buckets per power of two in an [`RttSketch`] (a bucket spans at most 25 % of its value).
const SKETCH_SUB_BITS: u32 = 2;
/// Buckets of an [`RttSketch`]: up to 2^32 µs (over an hour), far above any timeout.
const SKETCH_BUCKETS: usize = 32 << SKETCH_SUB_BITS;

/// The distribution of every round trip a worker measured, on every host: a histogram on a
/// logarithmic scale (4 buckets per power of two of microseconds, 128 counters, no allocation
/// per sample). Its high percentiles give the timeout of an address that never answered: it
/// waits as long as nearly every host that did answer took, whatever its distance, where the
/// smoothed estimate of RFC 6298 follows the mix of near and far hosts.
#[derive(Clone, Debug)]
pub struct RttSketch {
    counts: [u32; SKETCH_BUCKETS],
    total: u64,
}

impl Default for RttSketch {
    fn default() -> RttSketch {
        RttSketch {
            counts: [0; SKETCH_BUCKETS],
            total: 0,
        }
    }
}

impl RttSketch {
    /// A sketch with no sample.
    pub fn new() -> RttSketch {
        RttSketch::default()
    }

    fn bucket(rtt: Duration) -> usize {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        let log = 63 - us.leading_zeros();
        let sub = if log >= SKETCH_SUB_BITS {
            (us >> (log - SKETCH_SUB_BITS)) & ((1 << SKETCH_SUB_BITS) - 1)
        } else {
            (us << (SKETCH_SUB_BITS - log)) & ((1 << SKETCH_SUB_BITS) - 1)
        };
        ((log << SKETCH_SUB_BITS) as usize + sub as usize).min(SKETCH_BUCKETS - 1)
    }

    /// The largest round trip bucket `b` holds.
    fn upper(b: usize) -> Duration {
        let log = (b >> SKETCH_SUB_BITS) as u32;
        let sub = (b & ((1 << SKETCH_SUB_BITS) - 1)) as u64;
        let top = ((1u64 << SKETCH_SUB_BITS) + sub + 1) << log >> SKETCH_SUB_BITS;
        Duration::from_micros(top.max(1))
    }

    /// Takes one sample (ambiguous samples, see [`AMBIGUOUS_SAMPLE`], are the caller's to drop).
    pub fn sample(&mut self, rtt: Duration) {
        let b = Self::bucket(rtt);
        self.counts[b] = self.counts[b].saturating_add(1);
        self.total += 1;
    }

    /// Samples taken.
    pub fn samples(&self) -> u64 {
        self.total
    }

    /// The round trip that a share `q` (0 to 1) of the samples did not exceed (rounded up to
    /// its bucket's top), or `None` before the first sample.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let want = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (b, &n) in self.counts.iter().enumerate() {
            seen += u64::from(n);
            if seen >= want {
                return Some(Self::upper(b));
            }
        }
        Some(Self::upper(SKETCH_BUCKETS - 1))
    }

    /// The timeout of a probe to an address that never answered: twice the 99th percentile
    /// of the round trips measured (plus [`GRANULARITY`]), within `bounds`; `None` before
    /// the first sample.
    pub fn timeout(&self, bounds: &RtoBounds) -> Option<Duration> {
        let p99 = self.quantile(0.99)?;
        Some(bounds.clamp(p99 * 2 + GRANULARITY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: RtoBounds = RtoBounds {
        min: Duration::from_millis(50),
        max: Duration::from_secs(10),
        initial: Duration::from_secs(1),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_sample_no_estimate() {
        let e = RttEstimator::new();
        assert_eq!(e.rto(&BOUNDS), None);
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn first_sample_follows_rfc_6298() {
        let mut e = RttEstimator::new();
        assert!(e.sample(ms(200)));
        assert_eq!(e.srtt(), Some(ms(200)));
        assert_eq!(e.rttvar(), ms(100));
        // 200 + 4 * 100
        assert_eq!(e.rto(&BOUNDS), Some(ms(600)));
    }

    #[test]
    fn later_samples_are_smoothed() {
        let mut e = RttEstimator::new();
        e.sample(ms(200));
        e.sample(ms(100));
        // RTTVAR = 3/4 * 100 + 1/4 * |200 - 100| = 100; SRTT = 7/8 * 200 + 1/8 * 100 = 187.5
        assert_eq!(e.rttvar(), ms(100));
        assert_eq!(e.srtt(), Some(Duration::from_micros(187_500)));
        assert_eq!(e.rto(&BOUNDS), Some(Duration::from_micros(587_500)));
    }

    #[test]
    fn a_steady_rtt_converges_to_it_and_the_timeout_to_the_floor() {
        let mut e = RttEstimator::new();
        for _ in 0..200 {
            e.sample(Duration::from_micros(40));
        }
        let srtt = e.srtt().unwrap();
        assert!(srtt.abs_diff(Duration::from_micros(40)) < Duration::from_micros(1));
        assert!(e.rttvar() < Duration::from_micros(1));
        assert_eq!(e.rto(&BOUNDS), Some(BOUNDS.min));
    }

    #[test]
    fn the_timeout_is_clamped_to_the_bounds() {
        let mut e = RttEstimator::new();
        e.sample(ms(900));
        // 900 + 4 * 450 = 2.7 s, under the 10 s cap; with a 2 s cap it is 2 s.
        assert_eq!(e.rto(&BOUNDS), Some(ms(2700)));
        let tight = RtoBounds {
            max: ms(2000),
            ..BOUNDS
        };
        assert_eq!(e.rto(&tight), Some(ms(2000)));
    }

    #[test]
    fn samples_that_may_answer_a_kernel_retransmission_are_ignored() {
        let mut e = RttEstimator::new();
        assert!(!e.sample(AMBIGUOUS_SAMPLE));
        assert_eq!(e.samples(), 0);
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn a_growing_queue_is_seen_in_the_round_trip() {
        let mut e = RttEstimator::new();
        for _ in 0..20 {
            e.sample(Duration::from_micros(600));
        }
        assert!(!e.queueing());
        // A queue of 80 ms builds up.
        for _ in 0..20 {
            e.sample(ms(80));
        }
        assert_eq!(e.min_rtt(), Some(Duration::from_micros(600)));
        assert!(e.queueing());
    }

    #[test]
    fn the_sketch_gives_high_percentiles_within_a_quarter() {
        let mut s = RttSketch::new();
        assert_eq!(s.timeout(&BOUNDS), None);
        // 98 near samples (5 ms) and 2 far ones (300 ms): the 99th percentile is the far one.
        for _ in 0..98 {
            s.sample(ms(5));
        }
        s.sample(ms(300));
        s.sample(ms(300));
        let p50 = s.quantile(0.5).unwrap();
        assert!(p50 >= ms(5) && p50 <= ms(5) * 5 / 4, "{p50:?}");
        let p99 = s.quantile(0.99).unwrap();
        assert!(p99 >= ms(300) && p99 <= ms(375), "{p99:?}");
        assert!(s.timeout(&BOUNDS).unwrap() >= ms(600));
        for us in [1u64, 2, 3, 7, 999, 1000, 1001, 123_456, 9_999_999] {
            let b = RttSketch::bucket(Duration::from_micros(us));
            let top = RttSketch::upper(b);
            assert!(top >= Duration::from_micros(us), "{us}: {top:?}");
            assert!(
                top <= Duration::from_micros(us * 5 / 4 + 1),
                "{us}: {top:?}"
            );
        }
        // Near hosts only: the floor.
        let mut near = RttSketch::new();
        near.sample(Duration::from_micros(300));
        assert_eq!(near.timeout(&BOUNDS), Some(BOUNDS.min));
    }

    #[test]
    fn a_jump_in_rtt_raises_the_timeout_at_once() {
        let mut e = RttEstimator::new();
        for _ in 0..50 {
            e.sample(ms(10));
        }
        let before = e.rto(&BOUNDS).unwrap();
        e.sample(ms(300));
        let after = e.rto(&BOUNDS).unwrap();
        // RTTVAR grows by 1/4 of the 290 ms jump: the timeout rises by about 4 * 72 ms.
        assert!(after > before + ms(250), "{before:?} -> {after:?}");
    }
}
