//! Probe rate limits: `--rate` (a ceiling, a token bucket) and `--min-rate` (a floor the
//! congestion window may not push the rate under), both like nmap's options of the same names.
//!
//! Time is passed in (`now`), never read here, so the tests need no clock.

use std::time::{Duration, Instant};

/// How much sending a bucket may save up, in seconds of its rate (at least one probe).
const BURST_SECONDS: f64 = 0.01;

/// A token bucket: at most `rate` probes per second, in bursts of at most 1/100 s of them.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `per_sec` probes per second (`per_sec` > 0).
    pub fn new(per_sec: f64, now: Instant) -> TokenBucket {
        let burst = (per_sec * BURST_SECONDS).max(1.0);
        TokenBucket {
            per_sec,
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        self.last = now;
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
        }
    }
}

/// The `--min-rate` floor: it accrues one credit per `1/rate` s and every probe sent spends one;
/// while credit is left, the sender is behind the floor and may exceed the congestion window.
#[derive(Clone, Debug)]
pub struct RateFloor {
    bucket: TokenBucket,
}

impl RateFloor {
    /// A floor of `per_sec` probes per second, starting with no credit.
    pub fn new(per_sec: f64, now: Instant) -> RateFloor {
        let mut bucket = TokenBucket::new(per_sec, now);
        bucket.tokens = 0.0;
        RateFloor { bucket }
    }

    /// Whether sending has fallen behind the floor.
    pub fn behind(&mut self, now: Instant) -> bool {
        self.bucket.refill(now);
        self.bucket.tokens >= 1.0
    }

    /// One probe was sent.
    pub fn sent(&mut self) {
        self.bucket.tokens = (self.bucket.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000.0, t0);
        // Burst: 1000 * 0.01 = 10 probes at once.
        for _ in 0..10 {
            assert_eq!(b.take(t0), Ok(()));
        }
        let wait = b.take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(1));
        // One second later, the bucket holds at most its burst again.
        let t1 = t0 + Duration::from_secs(1);
        let mut sent = 0;
        while b.take(t1).is_ok() {
            sent += 1;
        }
        assert_eq!(sent, 10);
    }

    #[test]
    fn over_a_second_a_bucket_sends_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(500.0, t0);
        let mut sent = 0;
        let mut now = t0;
        // Poll every 100 µs for one second.
        for _ in 0..10_000 {
            now += Duration::from_micros(100);
            while b.take(now).is_ok() {
                sent += 1;
            }
        }
        assert!((500..=506).contains(&sent), "{sent}");
    }

    #[test]
    fn a_slow_bucket_still_sends_one_at_a_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, t0);
        assert_eq!(b.take(t0), Ok(()));
        assert_eq!(b.take(t0), Err(Duration::from_millis(500)));
        assert_eq!(b.take(t0 + Duration::from_millis(500)), Ok(()));
    }

    #[test]
    fn a_floor_is_behind_only_when_sending_lags() {
        let t0 = Instant::now();
        let mut f = RateFloor::new(100.0, t0);
        assert!(!f.behind(t0));
        // 50 ms at 100/s: 5 probes due, none sent.
        let t1 = t0 + Duration::from_millis(50);
        assert!(f.behind(t1));
        // Credit is capped at the burst (1 probe at 100/s): one send catches up.
        f.sent();
        assert!(!f.behind(t1));
        // Sending faster than the floor (every 5 ms, 200/s) never builds credit.
        let mut now = t1;
        for _ in 0..100 {
            now += Duration::from_millis(5);
            assert!(!f.behind(now));
            f.sent();
        }
    }
}
