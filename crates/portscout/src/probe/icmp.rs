//! How an ICMP or ICMPv6 error about a probe is read: the rows of both probers' tables for
//! ICMP errors. The SYN prober reads the message from the packet socket; the connect prober
//! gets the same type, code and sender from the socket's error queue (`IP_RECVERR`, see
//! [`super::connect`]), so both scan types read the same message the same way.
//!
//! References: RFC 792 and RFC 1812 §5.2.7.1 (ICMP codes; a router that filters sends 3/13),
//! RFC 4443 §3.1 (ICMPv6 codes), nmap's reason names (`--reason`: `host-unreach`,
//! `net-unreach`, `admin-prohibited`, `host-prohibited`, `net-prohibited`, `port-unreach`,
//! `proto-unreach`, `time-exceeded`, `param-problem`).
//!
//! | message | state / reason | host, sent by the target | host, sent by anyone else |
//! |---|---|---|---|
//! | v4 3/0, 3/6, 3/11 (network unreachable, unknown, for TOS) | `filtered` / `net-unreach` | alive | unreachable |
//! | v4 3/1, 3/8, 3/12 (host unreachable, isolated, for TOS) | `filtered` / `host-unreach` | alive | unreachable |
//! | v4 3/7 (host unknown) | `filtered` / `host-down` | alive | unreachable |
//! | v4 3/2 (protocol unreachable) | `filtered` / `proto-unreach` | alive | alive |
//! | v4 3/3 (port unreachable) | `filtered` / `port-unreach` | alive | alive |
//! | v4 3/9 (network administratively prohibited) | `filtered` / `net-prohibited` | alive | alive |
//! | v4 3/10 (host administratively prohibited) | `filtered` / `host-prohibited` | alive | alive |
//! | v4 3/13, 3/14, 3/15 (communication prohibited, precedence) | `filtered` / `admin-prohibited` | alive | alive |
//! | v4 3/5 (source route failed) | `filtered` / `error` | alive | neutral |
//! | v4 3/4 (fragmentation needed), code > 15 | ignored (path MTU, as TCP does) | | |
//! | v4 11 (time exceeded) | `filtered` / `time-exceeded` | alive | neutral |
//! | v4 12 (parameter problem) | `filtered` / `param-problem` | alive | neutral |
//! | v6 1/0 (no route), 1/6 (reject route) | `filtered` / `net-unreach` | alive | unreachable |
//! | v6 1/2, 1/3 (beyond scope, address unreachable) | `filtered` / `host-unreach` | alive | unreachable |
//! | v6 1/1, 1/5 (administratively prohibited, policy failure) | `filtered` / `admin-prohibited` | alive | alive |
//! | v6 1/4 (port unreachable) | `filtered` / `port-unreach` | alive | alive |
//! | v6 1, other codes | `filtered` / `error` | alive | neutral |
//! | v6 2 (packet too big) | ignored | | |
//! | v6 3 (time exceeded) | `filtered` / `time-exceeded` | alive | neutral |
//! | v6 4 (parameter problem) | `filtered` / `param-problem` | alive | neutral |
//!
//! A message the target sends about itself proves it is there, whatever its code: a firewall
//! rule on the target (`reject with icmp type host-unreachable`) answers from the target's
//! address. A network or host unreachable from a router (or from this host's own stack, which
//! sends one to itself when ARP or neighbour discovery fails) is about the host as a whole; a
//! prohibited code or a port unreachable names a filter or the port, and says the path works.

use super::HostSignal;
use crate::model::{PortState, Reason};
use crate::packet::IcmpKind;

/// The state, reason and host-level meaning of an ICMP error about a probe (see the module
/// table); `None` for messages that say nothing about the port (fragmentation needed, packet
/// too big, unknown types).
pub fn meaning(kind: IcmpKind, from_target: bool) -> Option<(PortState, Reason, HostSignal)> {
    use HostSignal::{Alive, Neutral, Unreachable};
    let (reason, host) = match kind {
        IcmpKind::V4 { ty: 3, code } => match code {
            0 | 6 | 11 => (Reason::NetUnreach, Unreachable),
            1 | 8 | 12 => (Reason::HostUnreach, Unreachable),
            7 => (Reason::HostDown, Unreachable),
            2 => (Reason::ProtoUnreach, Alive),
            3 => (Reason::PortUnreach, Alive),
            9 => (Reason::NetProhibited, Alive),
            10 => (Reason::HostProhibited, Alive),
            13..=15 => (Reason::AdminProhibited, Alive),
            5 => (Reason::Error, Neutral),
            _ => return None,
        },
        IcmpKind::V4 { ty: 11, .. } => (Reason::TimeExceeded, Neutral),
        IcmpKind::V4 { ty: 12, .. } => (Reason::ParamProblem, Neutral),
        IcmpKind::V4 { .. } => return None,
        IcmpKind::V6 { ty: 1, code } => match code {
            0 | 6 => (Reason::NetUnreach, Unreachable),
            2 | 3 => (Reason::HostUnreach, Unreachable),
            1 | 5 => (Reason::AdminProhibited, Alive),
            4 => (Reason::PortUnreach, Alive),
            _ => (Reason::Error, Neutral),
        },
        IcmpKind::V6 { ty: 3, .. } => (Reason::TimeExceeded, Neutral),
        IcmpKind::V6 { ty: 4, .. } => (Reason::ParamProblem, Neutral),
        IcmpKind::V6 { .. } => return None,
    };
    Some((
        PortState::Filtered,
        reason,
        if from_target { Alive } else { host },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use HostSignal::{Alive, Neutral, Unreachable};

    /// One row per line of the module table: (kind, reason, host-level meaning when a router
    /// sends it). Sent by the target itself, every row is `Alive`.
    #[test]
    fn every_row_of_the_table() {
        let v4 = |ty, code| IcmpKind::V4 { ty, code };
        let v6 = |ty, code| IcmpKind::V6 { ty, code };
        let rows = [
            (v4(3, 0), Reason::NetUnreach, Unreachable),
            (v4(3, 6), Reason::NetUnreach, Unreachable),
            (v4(3, 11), Reason::NetUnreach, Unreachable),
            (v4(3, 1), Reason::HostUnreach, Unreachable),
            (v4(3, 8), Reason::HostUnreach, Unreachable),
            (v4(3, 12), Reason::HostUnreach, Unreachable),
            (v4(3, 7), Reason::HostDown, Unreachable),
            (v4(3, 2), Reason::ProtoUnreach, Alive),
            (v4(3, 3), Reason::PortUnreach, Alive),
            (v4(3, 9), Reason::NetProhibited, Alive),
            (v4(3, 10), Reason::HostProhibited, Alive),
            (v4(3, 13), Reason::AdminProhibited, Alive),
            (v4(3, 14), Reason::AdminProhibited, Alive),
            (v4(3, 15), Reason::AdminProhibited, Alive),
            (v4(3, 5), Reason::Error, Neutral),
            (v4(11, 0), Reason::TimeExceeded, Neutral),
            (v4(11, 1), Reason::TimeExceeded, Neutral),
            (v4(12, 0), Reason::ParamProblem, Neutral),
            (v6(1, 0), Reason::NetUnreach, Unreachable),
            (v6(1, 6), Reason::NetUnreach, Unreachable),
            (v6(1, 2), Reason::HostUnreach, Unreachable),
            (v6(1, 3), Reason::HostUnreach, Unreachable),
            (v6(1, 1), Reason::AdminProhibited, Alive),
            (v6(1, 5), Reason::AdminProhibited, Alive),
            (v6(1, 4), Reason::PortUnreach, Alive),
            (v6(1, 7), Reason::Error, Neutral),
            (v6(3, 0), Reason::TimeExceeded, Neutral),
            (v6(4, 0), Reason::ParamProblem, Neutral),
        ];
        for (kind, reason, host) in rows {
            assert_eq!(
                meaning(kind, false),
                Some((PortState::Filtered, reason, host)),
                "{kind:?} from a router"
            );
            assert_eq!(
                meaning(kind, true),
                Some((PortState::Filtered, reason, Alive)),
                "{kind:?} from the target"
            );
        }
    }

    #[test]
    fn messages_about_the_path_mtu_and_unknown_types_are_ignored() {
        for kind in [
            IcmpKind::V4 { ty: 3, code: 4 },
            IcmpKind::V4 { ty: 3, code: 16 },
            IcmpKind::V4 { ty: 5, code: 0 },
            IcmpKind::V6 { ty: 2, code: 0 },
            IcmpKind::V6 { ty: 128, code: 0 },
        ] {
            assert_eq!(meaning(kind, false), None, "{kind:?}");
            assert_eq!(meaning(kind, true), None, "{kind:?}");
        }
    }
}
