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

/// A [`Job`] without its target, in 16 bytes of no alignment: what a probe in flight keeps
/// of its job beside the key of its table (`probe::inflight`), which is the target. See
/// [`Job::pack`] and [`Job::unpack`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct PackedJob([u8; 16]);

/// The flags byte of a [`PackedJob`].
const CONFIRMING: u8 = 1;
const FLOOR: u8 = 2;
const UNBOUND: u8 = 4;
/// The target is an IPv4-mapped IPv6 address (`::ffff:198.18.0.2`), keyed by its IPv4 form.
const MAPPED: u8 = 8;

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

    /// This job without its target (see [`PackedJob`]): [`Job::unpack`] with the target, or
    /// its IPv4 form if it is an IPv4-mapped IPv6 address, gives it back.
    pub fn pack(&self) -> PackedJob {
        let mapped = match self.target {
            SocketAddr::V6(a) => a.ip().to_ipv4_mapped().is_some(),
            SocketAddr::V4(_) => false,
        };
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        let flags = flag(self.confirming, CONFIRMING)
            | flag(self.floor, FLOOR)
            | flag(self.unbound, UNBOUND)
            | flag(mapped, MAPPED);
        let mut b = [0; 16];
        b[0..4].copy_from_slice(&self.sent_in.to_le_bytes());
        b[4..8].copy_from_slice(&self.lost_in.to_le_bytes());
        b[8..12].copy_from_slice(&self.waited_us.to_le_bytes());
        b[12] = self.retried;
        b[13] = self.silent;
        b[14] = self.premature;
        b[15] = flags;
        PackedJob(b)
    }

    /// The job `packed` of `target` (see [`Job::pack`]): an IPv4 target whose job was packed
    /// with its IPv4-mapped IPv6 form gets that form back.
    pub fn unpack(target: SocketAddr, packed: PackedJob) -> Job {
        let b = packed.0;
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let flags = b[15];
        let target = match target {
            SocketAddr::V4(a) if flags & MAPPED != 0 => {
                SocketAddr::new(a.ip().to_ipv6_mapped().into(), a.port())
            }
            other => other,
        };
        Job {
            target,
            retried: b[12],
            silent: b[13],
            confirming: flags & CONFIRMING != 0,
            sent_in: word(0),
            lost_in: word(4),
            waited_us: word(8),
            premature: b[14],
            floor: flags & FLOOR != 0,
            unbound: flags & UNBOUND != 0,
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
    use proptest::prelude::*;

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

    fn any_job() -> impl Strategy<Value = Job> {
        let target = prop_oneof![
            any::<(u32, u16)>().prop_map(|(ip, port)| SocketAddr::new(
                std::net::Ipv4Addr::from_bits(ip).into(),
                port
            )),
            any::<(u128, u16)>().prop_map(|(ip, port)| SocketAddr::new(
                std::net::Ipv6Addr::from_bits(ip).into(),
                port
            )),
            // IPv4-mapped IPv6.
            any::<(u32, u16)>().prop_map(|(ip, port)| SocketAddr::new(
                std::net::Ipv4Addr::from_bits(ip).to_ipv6_mapped().into(),
                port
            )),
        ];
        let counts = (any::<(u8, u8, u8)>(), any::<(u32, u32, u32)>());
        (target, counts, any::<(bool, bool, bool)>()).prop_map(
            |(target, ((retried, silent, premature), (sent_in, lost_in, waited_us)), flags)| Job {
                target,
                retried,
                silent,
                confirming: flags.0,
                sent_in,
                lost_in,
                waited_us,
                premature,
                floor: flags.1,
                unbound: flags.2,
            },
        )
    }

    /// The key a table of probes in flight keeps a target by: an IPv4-mapped IPv6 address by
    /// its IPv4 form, as the SYN prober does.
    fn keyed(target: SocketAddr) -> SocketAddr {
        match target {
            SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(v4.into(), a.port()),
                None => target,
            },
            v4 => v4,
        }
    }

    proptest! {
        /// A probe in flight keeps its job packed beside its target: every field comes back,
        /// from the target or from its IPv4 form.
        #[test]
        fn a_packed_job_comes_back_from_its_target(job in any_job()) {
            prop_assert_eq!(Job::unpack(keyed(job.target), job.pack()), job);
            prop_assert_eq!(Job::unpack(job.target, job.pack()), job);
        }
    }

    #[test]
    fn a_packed_job_is_16_bytes() {
        assert_eq!(std::mem::size_of::<PackedJob>(), 16);
        // A job as the scheduler keeps it, for comparison.
        assert!(std::mem::size_of::<Job>() >= 48);
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
