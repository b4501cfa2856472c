//! One port's probe attempts, and what each outcome leads to. Shared by every engine, so the
//! engines differ only in how they wait, never in what they decide.

use std::net::SocketAddr;
use std::time::Duration;

use crate::model::{PortResult, PortState, Reason};
use crate::probe::Outcome;

/// Attempts that said nothing about the port (self-connections, interrupted calls) before
/// the port is reported `filtered`/`error`.
pub(crate) const MAX_SILENT_RETRIES: u8 = 32;

/// A port being probed, with the attempts spent on it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Job {
    pub target: SocketAddr,
    /// Retries already spent on no-response.
    retried: u8,
    /// Attempts that said nothing about the port.
    silent: u8,
    /// The last attempt completed a handshake with this host itself; this one confirms it.
    confirming: bool,
    /// The horizon (see [`crate::timing::congestion`]) the current attempt was sent in.
    pub sent_in: u32,
    /// The horizon of the first attempt that got no response.
    pub lost_in: u32,
    /// How long the current attempt waits for its answer, in µs (`u32::MAX`: not known).
    waited_us: u32,
    /// Attempts that timed out sooner than their host's round trip (see [`Job::too_soon`]).
    premature: u8,
    /// The current attempt waits out its host's floor of silence (see [`Job::set_floor`]).
    floor: bool,
    /// The current attempt holds no slot of its worker's window (sent to a never-answered
    /// host before the scan's first answer; see `Hosts::sent`).
    pub unbound: bool,
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The port is decided.
    Report(PortResult),
    /// Probe again at once (a confirmation, a self-connection, an interrupted call).
    Again,
    /// Probe again after the probes already queued (a retry after no response).
    Retry,
    /// The scanner is short of descriptors or buffers: probe again once others finish.
    Backpressure,
}

impl Job {
    /// A job that has made no attempt yet.
    pub fn new(target: SocketAddr) -> Job {
        Job {
            target,
            retried: 0,
            silent: 0,
            confirming: false,
            sent_in: 0,
            lost_in: 0,
            waited_us: u32::MAX,
            premature: 0,
            floor: false,
            unbound: false,
        }
    }

    /// The current attempt waits this long for its answer.
    pub fn set_wait(&mut self, timeout: Duration) {
        self.waited_us = u32::try_from(timeout.as_micros()).unwrap_or(u32::MAX);
    }

    /// Whether the current attempt's wait was stretched to its host's floor of silence (a
    /// never-answered host is given up only once that long passed since its first probe:
    /// `hosts::DOWN_SILENCE`).
    pub fn set_floor(&mut self, floor: bool) {
        self.floor = floor;
    }

    /// The current attempt waited out its host's floor of silence.
    pub fn floor(&self) -> bool {
        self.floor
    }

    /// Silent attempts made so far (the next attempt is number `silent_attempts() + 1`).
    pub fn silent_attempts(&self) -> u32 {
        u32::from(self.retried)
    }

    /// How long the current attempt waited (`None`: not known).
    pub fn waited(&self) -> Option<Duration> {
        (self.waited_us != u32::MAX).then(|| Duration::from_micros(u64::from(self.waited_us)))
    }

    /// The same port from its first attempt again, keeping the count of attempts that were
    /// too soon (see [`Job::too_soon`]), which bounds how often that happens.
    pub fn restart(self) -> Job {
        Job {
            premature: self.premature,
            ..Job::new(self.target)
        }
    }

    /// The current attempt timed out sooner than its host's own round trip (it waited with a
    /// timeout borrowed before the host answered anything): it says nothing about the port,
    /// so it is sent again without counting as a silent attempt nor as a loss. True if it
    /// may be (at most [`MAX_SILENT_RETRIES`] times per port).
    pub fn too_soon(&mut self) -> bool {
        if self.premature >= MAX_SILENT_RETRIES {
            return false;
        }
        self.premature += 1;
        true
    }

    /// Whether an attempt was already made (a retry, a confirmation, a repeat).
    pub fn started(&self) -> bool {
        self.retried > 0 || self.silent > 0 || self.premature > 0 || self.confirming
    }

    /// Attempts that got no response so far (each one a loss, if the port answers later).
    pub fn lost(&self) -> u32 {
        u32::from(self.retried)
    }

    /// Records one attempt's outcome; `attempts` is how many attempts a silent port gets in
    /// all (at least 1).
    pub fn next(&mut self, outcome: Outcome, attempts: u32) -> Next {
        let report = |state, reason, rtt| {
            Next::Report(PortResult {
                ip: self.target.ip(),
                port: self.target.port(),
                state,
                reason,
                rtt,
                banner: None,
                service: None,
            })
        };
        match outcome {
            Outcome::Decided {
                state, reason, rtt, ..
            } => report(state, reason, rtt),
            Outcome::OpenUnconfirmed { rtt } if self.confirming => {
                report(PortState::Open, Reason::SynAck, Some(rtt))
            }
            Outcome::OpenUnconfirmed { .. } => {
                self.confirming = true;
                Next::Again
            }
            Outcome::NoResponse if u32::from(self.retried) + 1 < attempts => {
                if self.retried == 0 {
                    self.lost_in = self.sent_in;
                }
                self.retried = self.retried.saturating_add(1);
                Next::Retry
            }
            Outcome::NoResponse => report(PortState::Filtered, Reason::NoResponse, None),
            Outcome::Retry if self.silent < MAX_SILENT_RETRIES => {
                self.silent += 1;
                Next::Again
            }
            Outcome::Retry => report(PortState::Filtered, Reason::Error, None),
            Outcome::Backpressure => Next::Backpressure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTT: Duration = Duration::from_micros(80);

    fn job() -> Job {
        Job::new("127.0.0.1:8080".parse().unwrap())
    }

    fn state_of(next: Next) -> Option<(PortState, Reason)> {
        match next {
            Next::Report(r) => Some((r.state, r.reason)),
            _ => None,
        }
    }

    #[test]
    fn an_open_port_on_this_host_needs_two_handshakes() {
        let mut j = job();
        assert_eq!(
            j.next(Outcome::OpenUnconfirmed { rtt: RTT }, 1),
            Next::Again
        );
        assert_eq!(
            state_of(j.next(Outcome::OpenUnconfirmed { rtt: RTT }, 1)),
            Some((PortState::Open, Reason::SynAck))
        );
    }

    #[test]
    fn a_refusal_after_an_unconfirmed_open_is_closed() {
        let mut j = job();
        j.next(Outcome::OpenUnconfirmed { rtt: RTT }, 1);
        let refused = Outcome::Decided {
            state: PortState::Closed,
            reason: Reason::ConnRefused,
            rtt: Some(RTT),
            host: crate::probe::HostSignal::Alive,
        };
        assert_eq!(
            state_of(j.next(refused, 1)),
            Some((PortState::Closed, Reason::ConnRefused))
        );
    }

    #[test]
    fn silence_is_retried_then_filtered() {
        let mut j = job();
        assert_eq!(j.next(Outcome::NoResponse, 3), Next::Retry);
        assert_eq!(j.next(Outcome::NoResponse, 3), Next::Retry);
        assert_eq!(j.lost(), 2);
        assert_eq!(
            state_of(j.next(Outcome::NoResponse, 3)),
            Some((PortState::Filtered, Reason::NoResponse))
        );
    }

    #[test]
    fn backpressure_never_decides_and_never_counts() {
        let mut j = job();
        for _ in 0..1000 {
            assert_eq!(j.next(Outcome::Backpressure, 0), Next::Backpressure);
        }
        assert_eq!(j, job());
    }

    #[test]
    fn endless_self_connections_end_as_an_error() {
        let mut j = job();
        for _ in 0..MAX_SILENT_RETRIES {
            assert_eq!(j.next(Outcome::Retry, 0), Next::Again);
        }
        assert_eq!(
            state_of(j.next(Outcome::Retry, 0)),
            Some((PortState::Filtered, Reason::Error))
        );
    }
}
