//! Probers: how one probe is sent and how its answer becomes a port state.
//!
//! A prober turns one `(address, port)` into an [`Outcome`]. Outcomes that say something about
//! the port become a [`PortState`] with a [`Reason`]; outcomes that say something about the
//! *scanner* (out of descriptors, buffers or source ports, a self-connection) are handed back to
//! the scheduler, which waits and probes again. They are never a port state.

pub mod connect;
pub mod icmp;
pub(crate) mod inflight;
pub mod syn;

use std::future::Future;
use std::time::Duration;

use crate::model::{PortState, Reason};
use crate::scan::job::Job;

// The scan type lives with the other result types (it is in every output).
pub use crate::model::ScanType;

/// What an event-loop worker needs from a prober: start a probe, and learn its outcome.
///
/// Two kinds, one loop. A prober whose probes need a future each (connect: a socket to wait
/// on) hands back [`Start::Pending`], which the loop waits on with [`Prober::wait`]. A batching
/// prober (SYN) keeps its probes in flight itself, in one compact table with one deadline
/// queue ([`inflight::InFlight`]): it answers [`Start::Tracked`], sends what was started on
/// [`Prober::flush`], reads answers on [`Prober::read_answers`], and hands the loop every
/// probe that has completed (answered, or its deadline passed) on [`Prober::completed`]; the
/// loop sleeps once, until [`Prober::next_deadline`] or [`Prober::answers_ready`].
pub(crate) trait Prober {
    /// A probe in flight.
    type Pending;
    /// What a finished probe may hand back for reuse (a socket).
    type Spare;

    /// Whether probes in flight are kept by the prober ([`Start::Tracked`]) rather than
    /// waited on one by one. Fixed for the prober's life.
    fn tracks(&self) -> bool {
        false
    }

    /// Starts a probe of `job.target`, to be given up at `deadline`: decided at once, in
    /// flight as a future, or in flight in the prober's own table (keeping `job`).
    fn start(&mut self, job: Job, deadline: tokio::time::Instant) -> Start<Self::Pending>;

    /// Waits for a probe's outcome until `deadline` (then [`Outcome::NoResponse`]).
    fn wait(
        pending: Self::Pending,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = (Outcome, Option<Self::Spare>)>;

    /// Takes back what a finished probe handed over.
    fn recycle(&mut self, spare: Self::Spare);

    /// Sends the probes started since the last flush (if `start` only queues them).
    fn flush(&mut self) {}

    /// Reads the answers that have arrived, without waiting.
    fn read_answers(&mut self) {}

    /// Tracked probes that have completed: answered (read by [`Prober::read_answers`] or
    /// refused when sent), or whose deadline has passed ([`Outcome::NoResponse`]); each
    /// with the job it was started with.
    fn completed(&mut self, _done: &mut Vec<(Job, Outcome)>) {}

    /// How many tracked probes are in flight.
    fn tracked(&self) -> usize {
        0
    }

    /// The earliest deadline of a tracked probe in flight.
    fn next_deadline(&mut self) -> Option<tokio::time::Instant> {
        None
    }

    /// Moves the deadline of every tracked probe in flight earlier where `deadline` (given
    /// its job and send time) says so: they were started with the initial timeout, before any
    /// round trip was measured. Probers whose first answers come inside `start` (connect)
    /// need not.
    fn retime_all(
        &mut self,
        _deadline: &mut dyn FnMut(&Job, tokio::time::Instant) -> Option<tokio::time::Instant>,
    ) {
    }

    /// Completes when answers may have arrived (never, for probers whose waits read their own
    /// answers).
    fn answers_ready(&self) -> impl Future<Output = ()> + '_ {
        std::future::pending()
    }
}

/// How a probe started (see [`Prober::start`]).
#[derive(Debug)]
pub(crate) enum Start<P> {
    /// The outcome is known at once.
    Done(Outcome),
    /// In flight: wait for it with [`Prober::wait`].
    Pending(P),
    /// In flight in the prober's own table: its outcome comes from [`Prober::completed`].
    Tracked,
}

impl<P> From<Attempt<P>> for Start<P> {
    fn from(a: Attempt<P>) -> Start<P> {
        match a {
            Attempt::Done(o) => Start::Done(o),
            Attempt::Pending(p) => Start::Pending(p),
        }
    }
}

/// The result of starting a probe.
#[derive(Debug)]
pub enum Attempt<P = connect::Pending> {
    /// The outcome is known at once.
    Done(Outcome),
    /// The probe is in flight.
    Pending(P),
}

/// What one answer says about its host as a whole, besides the port's state: the host-level
/// column of each prober's table, read by the host check (see `docs/architecture.md`,
/// "Host up or down").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HostSignal {
    /// The host, or the path to it, is alive: a SYN-ACK or RST, any ICMP error the target
    /// itself sent, or one that names a filter or the port (prohibited, port or protocol
    /// unreachable) whoever sent it. The host is up.
    Alive,
    /// The host as a whole may be unreachable: a network or host unreachable sent by a router
    /// (or by this host's own stack: no ARP/NDP answer), or no route here. It counts toward
    /// calling the host down, as a silent port does, unless another port proves it alive.
    Unreachable,
    /// Nothing about the host: this host's own kernel refused to send (`local-denied`), an
    /// error, a time exceeded on the way.
    Neutral,
}

/// What one probe attempt came to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The port's state is decided.
    Decided {
        /// The state.
        state: PortState,
        /// The answer behind it.
        reason: Reason,
        /// Time from sending to the answer (`None` with an answer, a SYN-ACK or RST: it
        /// answered an earlier attempt of the port, whose sending time is not known, so it is
        /// no round-trip sample and proves no attempt lost; see [`Outcome::unsampled`]).
        rtt: Option<Duration>,
        /// What the answer says about the host as a whole.
        host: HostSignal,
    },
    /// The handshake completed, but with an address of this very host: it may be one of the
    /// scanner's own sockets answering (TCP simultaneous open), so it is probed once more with
    /// a fresh source port before it is called open.
    OpenUnconfirmed {
        /// Time from sending to the answer.
        rtt: Duration,
    },
    /// Nothing came back within the timeout.
    NoResponse,
    /// The scanner ran short of something (descriptors, buffers, source ports). The probe
    /// said nothing about the port; it must be sent again, after in-flight probes drain.
    Backpressure,
    /// The attempt said nothing about the port and can be repeated at once (a
    /// self-connection, an interrupted call, a 4-tuple collision).
    Retry,
}

impl Outcome {
    /// The same outcome as the answer to an earlier attempt of the port than the one in flight
    /// (its wait had ended): a decided state without a round trip, which is then no sample.
    pub fn unsampled(self) -> Outcome {
        match self {
            Outcome::Decided {
                state,
                reason,
                host,
                ..
            } => Outcome::Decided {
                state,
                reason,
                rtt: None,
                host,
            },
            other => other,
        }
    }
}
