//! [`Checkpoint`]: what a paused scan left to do, written to the resume file.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::Walk;
use crate::model::Reason;

/// The checkpoint format's version; a file of another version is refused. Version 2 lists
/// decided hosts as runs of consecutive addresses (version 1 listed every host); version 3
/// comes with the grouped random order of spaces over 4096 addresses (a version-2 file's
/// sequence numbers name other probes there) and lists only the hosts with probes left.
pub const VERSION: u32 = 3;

/// What a paused scan left to do: enough, with the scan's arguments, to finish it so that the
/// two runs together give exactly the results of one uninterrupted scan.
///
/// It holds no list of probes but the few that were unanswered at the pause: the rest is
/// ranges of the shard's sequence numbers (see [`super::Plan`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The probe space's size, a check that the arguments still give the same scan.
    pub probes: u64,
    /// A digest of the probe space's address and port ranges, the same check.
    pub fingerprint: u64,
    /// The order, seed and shard (`order`, `seed`, `shard` in the file, beside the fields
    /// above).
    #[serde(flatten)]
    pub walk: Walk,
    /// Probes that were sent and not answered when the scan stopped (or waited behind a full
    /// window): sent again, first.
    pub pending: Vec<SocketAddr>,
    /// Ranges `[start, end)` of the shard's sequence numbers never sent.
    pub segments: Vec<(u64, u64)>,
    /// Hosts found up, as runs `[first, last]` of consecutive addresses: their silent ports
    /// are reported as filtered, not taken for a down host.
    pub up: Vec<(IpAddr, IpAddr)>,
    /// Hosts found down (and why), as runs `[first, last]` of consecutive addresses with the
    /// same reason: their remaining ports are skipped, not probed again. A silent range is one
    /// run, so the file stays O(runs), not O(hosts decided).
    pub down: Vec<(IpAddr, IpAddr, DownReason)>,
    /// Which run of the shard paused (1 for the first; the resumed run is the next). Files
    /// written before it existed read as 1.
    #[serde(default = "first_part")]
    pub part: u32,
}

fn first_part() -> u32 {
    1
}

/// A [`Reason`] a host was found down for, as the checkpoint spells it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DownReason {
    /// `no-response`.
    NoResponse,
    /// `host-unreach`.
    HostUnreach,
    /// `net-unreach`.
    NetUnreach,
    /// `host-down`.
    HostDown,
}

impl DownReason {
    /// The reason, for a host-down reason; `None` for reasons a host is never down for.
    pub fn from_reason(r: Reason) -> Option<DownReason> {
        match r {
            Reason::NoResponse => Some(DownReason::NoResponse),
            Reason::HostUnreach => Some(DownReason::HostUnreach),
            Reason::NetUnreach => Some(DownReason::NetUnreach),
            Reason::HostDown => Some(DownReason::HostDown),
            _ => None,
        }
    }

    /// Back to a [`Reason`].
    pub fn reason(self) -> Reason {
        match self {
            DownReason::NoResponse => Reason::NoResponse,
            DownReason::HostUnreach => Reason::HostUnreach,
            DownReason::NetUnreach => Reason::NetUnreach,
            DownReason::HostDown => Reason::HostDown,
        }
    }
}

impl Checkpoint {
    /// Probes the checkpoint leaves to send (the unanswered ones and the ranges never sent).
    pub fn remaining(&self) -> u64 {
        self.pending.len() as u64 + self.segments.iter().map(|(s, e)| e - s).sum::<u64>()
    }
}
