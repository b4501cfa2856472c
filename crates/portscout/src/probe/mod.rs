//! Probers: how one probe is sent and how its answer becomes a port state.
//!
//! A prober turns one `(address, port)` into an [`Outcome`]. Outcomes that say something about
//! the port become a [`PortState`] with a [`Reason`]; outcomes that say something about the
//! *scanner* (out of descriptors, buffers or source ports, a self-connection) are handed back to
//! the scheduler, which waits and probes again. They are never a port state.

pub mod connect;

use std::time::Duration;

use crate::model::{PortState, Reason};

/// What one probe attempt came to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The port's state is decided.
    Decided {
        /// The state.
        state: PortState,
        /// The answer behind it.
        reason: Reason,
        /// Time from sending to the answer.
        rtt: Option<Duration>,
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
