//! Timing: how long to wait for an answer, how often to ask again, how many probes may wait at
//! once, and how fast to send. Pure state machines: time is passed in, never read, so every
//! one of them is unit-tested without a clock or a network.
//!
//! | piece | decides | from |
//! |---|---|---|
//! | [`rtt::RttEstimator`] | the no-answer timeout of each probe | RFC 6298: SRTT + 4·RTTVAR, within `--min-rtt-timeout`/`--max-rtt-timeout` |
//! | [`loss::LossEstimate`] | how many attempts a silent port gets before it is `filtered` | the losses the host's answered ports proved |
//! | [`congestion::CongestionWindow`] | probes waiting at once, per host and per worker | loss rising above the host's base loss rate (congestion) vs. loss at a steady rate (random) |
//! | [`rate::TokenBucket`], [`rate::RateFloor`] | `--rate`, `--min-rate` | probes per second |
//!
//! The design, with the reasons behind each choice, is in `docs/timing.md`.

pub mod congestion;
pub mod loss;
pub mod rate;
pub mod rtt;

/// The scheduler's clock: what the per-host state ([`crate::scan`]'s host board, horizons,
/// back-off, the host check's silence) and the event loop read as "now".
///
/// It is tokio's clock, so that a test on a runtime with a paused clock (the simulated network
/// of `portscout::sim`) moves every timing rule with simulated time. Without tokio's
/// `test-util` feature (never on in a release build: only the `sim` feature turns it on) this
/// is exactly `std::time::Instant::now()`; outside a runtime (the threads engine) it is too.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
