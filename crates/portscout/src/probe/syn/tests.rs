//! The SYN prober's decisions, byte by byte: which packets answer a probe, and what they mean.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::packet::{Syn, SYN_MAX_LEN};

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An IP packet around `payload` (protocol `proto`), from `src` to `dst`. Checksums are left 0:
/// the parser reads none (offload leaves them partial on loopback and veth).
fn ip(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&[0x45, 0]);
            p.extend_from_slice(&(20 + payload.len() as u16).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 0, 64, proto, 0, 0]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            p.extend_from_slice(&[proto, 64]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed families"),
    }
    p.extend_from_slice(payload);
    p
}

/// A TCP segment from `from` to `to` with `flags` and acknowledgment `ack`.
fn tcp(from: SocketAddr, to: SocketAddr, flags: u8, ack: u32) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&from.port().to_be_bytes());
    t.extend_from_slice(&to.port().to_be_bytes());
    t.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    ip(from.ip(), to.ip(), 6, &t)
}

/// An ICMP error of `ty`/`code` from `reporter`, quoting `syn` (as sent).
fn icmp(reporter: IpAddr, ty: u8, code: u8, syn: &Syn) -> Vec<u8> {
    let mut quoted = [0u8; SYN_MAX_LEN];
    let n = syn.emit(&mut quoted).unwrap();
    let mut m = vec![ty, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&quoted[..n]);
    let proto = if reporter.is_ipv6() { 58 } else { 1 };
    ip(reporter, syn.src.ip(), proto, &m)
}

struct Case {
    m: Matcher,
    cookies: Cookies,
    ours: SocketAddr,
    target: SocketAddr,
    t0: Instant,
}

impl Case {
    fn new(ours: &str, target: &str) -> Case {
        let cookies = Cookies::new();
        let mut m = Matcher::new(cookies.clone());
        let (ours, target) = (a(ours), a(target));
        let t0 = Instant::now();
        m.sent(
            Job::new(target),
            ours,
            target,
            t0,
            t0 + Duration::from_secs(10),
        );
        Case {
            m,
            cookies,
            ours,
            target,
            t0,
        }
    }

    fn ack(&self) -> u32 {
        self.cookies.cookie(self.ours, self.target).wrapping_add(1)
    }

    fn syn(&self) -> Syn {
        Syn {
            src: self.ours,
            dst: self.target,
            seq: self.cookies.cookie(self.ours, self.target),
            ip_id: 1,
        }
    }

    /// Feeds `packet` 3 ms after the SYN; returns the probe's outcome if it got one.
    fn feed(&mut self, packet: &[u8]) -> Result<Outcome, Stray> {
        self.m.answer(packet, self.t0 + Duration::from_millis(3))?;
        let (job, outcome) = self.m.done.pop().unwrap();
        assert_eq!(job.target, self.target);
        // The send time is kept to the microsecond.
        Ok(match outcome {
            Outcome::Decided {
                state,
                reason,
                rtt: Some(rtt),
                host,
            } => Outcome::Decided {
                state,
                reason,
                rtt: Some(Duration::from_millis(
                    ((rtt.as_micros() + 500) / 1000) as u64,
                )),
                host,
            },
            other => other,
        })
    }
}

fn decided(state: PortState, reason: Reason) -> Outcome {
    decided_host(state, reason, HostSignal::Alive)
}

fn decided_host(state: PortState, reason: Reason, host: HostSignal) -> Outcome {
    Outcome::Decided {
        state,
        reason,
        rtt: Some(Duration::from_millis(3)),
        host,
    }
}

#[test]
fn a_syn_ack_with_the_cookie_is_open() {
    for (ours, target) in [
        ("198.18.0.1:61000", "198.18.0.2:80"),
        ("[2001:db8::1]:61000", "[2001:db8::2]:80"),
    ] {
        let mut c = Case::new(ours, target);
        let p = tcp(c.target, c.ours, 0x12, c.ack());
        assert_eq!(c.feed(&p), Ok(decided(PortState::Open, Reason::SynAck)));
    }
}

#[test]
fn a_rst_with_the_cookie_is_closed_as_the_connect_scan_says() {
    for (ours, target) in [
        ("127.0.0.1:61000", "127.0.0.1:81"),
        ("[::1]:61000", "[::1]:81"),
    ] {
        let mut c = Case::new(ours, target);
        let p = tcp(c.target, c.ours, 0x14, c.ack());
        assert_eq!(
            c.feed(&p),
            Ok(decided(PortState::Closed, Reason::ConnRefused))
        );
    }
}

#[test]
fn forged_and_stray_answers_are_ignored() {
    let mut c = Case::new("198.18.0.1:61000", "198.18.0.2:80");
    let (t, o) = (c.target, c.ours);
    // Wrong acknowledgment: a guess, or an answer to another scan's SYN.
    for ack in [
        0,
        c.ack().wrapping_sub(1),
        c.ack().wrapping_add(1),
        !c.ack(),
    ] {
        assert_eq!(c.feed(&tcp(t, o, 0x12, ack)), Err(Stray::BadCookie));
    }
    // The right number to another of our ports (an earlier attempt's port): the cookie of
    // that 4-tuple differs, so it fails the cookie first.
    let other = a("198.18.0.1:61001");
    assert_eq!(c.feed(&tcp(t, other, 0x12, c.ack())), Err(Stray::BadCookie));
    // From a port nobody probes.
    let elsewhere = a("198.18.0.2:81");
    assert_eq!(
        c.feed(&tcp(elsewhere, o, 0x12, c.ack())),
        Err(Stray::NotInFlight)
    );
    // Flags that say nothing.
    assert_eq!(c.feed(&tcp(t, o, 0x10, c.ack())), Err(Stray::Meaningless));
    assert_eq!(c.feed(&[0x45, 0, 0]), Err(Stray::Unreadable));
    // None of it settled the probe; the real answer still does, once.
    assert!(c.m.done.is_empty() && !c.m.is_empty());
    assert_eq!(
        c.feed(&tcp(t, o, 0x12, c.ack())),
        Ok(decided(PortState::Open, Reason::SynAck))
    );
    // A second answer finds the probe ended.
    assert_eq!(c.feed(&tcp(t, o, 0x14, c.ack())), Err(Stray::NotInFlight));
    assert!(c.m.is_empty() && c.m.done.is_empty());
}

#[test]
fn an_answer_after_its_wait_ended_is_a_stray() {
    let mut c = Case::new("198.18.0.1:61000", "198.18.0.2:80");
    c.m.probes.remove(c.target);
    let p = tcp(c.target, c.ours, 0x12, c.ack());
    assert_eq!(c.feed(&p), Err(Stray::NotInFlight));
    assert!(c.m.is_empty());
}

/// A probe whose deadline passed ends unanswered, and its answer coming after that is a
/// stray: it never ends the port's next attempt, nor a second time the one that expired.
#[test]
fn an_answer_after_the_deadline_is_a_stray() {
    let mut c = Case::new("198.18.0.1:61000", "198.18.0.2:80");
    c.m.expire(c.t0 + Duration::from_secs(9));
    assert!(c.m.done.is_empty(), "expired before its deadline");
    c.m.expire(c.t0 + Duration::from_secs(10));
    assert_eq!(c.m.done.len(), 1);
    assert_eq!(c.m.done[0].1, Outcome::NoResponse);
    c.m.done.clear();
    let p = tcp(c.target, c.ours, 0x12, c.ack());
    assert_eq!(c.feed(&p), Err(Stray::NotInFlight));
}

/// While the port's next attempt is under way (from another source port), an answer to the
/// earlier one, whose wait ended, decides the port (its SYN left from one of our ports to this
/// target: the cookie says so), but it is no round-trip sample: which SYN it answers, and when
/// that left, is not known. (Before the scan's first answer an attempt that is not the port's
/// last waits only half the initial timeout: its answer may come during the next one.)
#[test]
fn an_earlier_attempts_answer_decides_the_next_one_without_a_sample() {
    for flags in [0x12, 0x14] {
        let mut c = Case::new("198.18.0.1:61000", "198.18.0.2:80");
        c.m.expire(c.t0 + Duration::from_secs(10));
        c.m.done.clear();
        let late = tcp(c.target, c.ours, flags, c.ack());
        let next = a("198.18.0.1:61001");
        c.m.sent(
            Job::new(c.target),
            next,
            c.target,
            c.t0 + Duration::from_secs(10),
            c.t0 + Duration::from_secs(20),
        );
        let (state, reason) = if flags == 0x12 {
            (PortState::Open, Reason::SynAck)
        } else {
            (PortState::Closed, Reason::ConnRefused)
        };
        assert_eq!(
            c.m.answer(&late, c.t0 + Duration::from_secs(11)),
            Ok(c.target)
        );
        let (job, outcome) = c.m.done.pop().unwrap();
        assert_eq!(job.target, c.target);
        assert_eq!(
            outcome,
            Outcome::Decided {
                state,
                reason,
                rtt: None,
                host: HostSignal::Alive,
            }
        );
        // Once: the next attempt's own answer finds it ended.
        let own = tcp(
            c.target,
            next,
            0x12,
            c.cookies.cookie(next, c.target).wrapping_add(1),
        );
        assert_eq!(
            c.m.answer(&own, c.t0 + Duration::from_secs(11)),
            Err(Stray::NotInFlight)
        );
    }
}

/// What a SYN in flight costs: a 32-byte record (target, deadline, send time, the job packed
/// without its target, the source port), its position in the hash table (4 bytes and a
/// control byte) and a 16-byte heap entry: 53 bytes (a future, a tokio timer and a
/// `SocketAddr`-keyed slot were several hundred; the whole `Job` beside its key, 97).
#[test]
fn a_syn_in_flight_costs_53_bytes() {
    assert_eq!(std::mem::size_of::<Probe>(), 18);
    let bytes = crate::probe::inflight::bytes_per_probe::<Probe>();
    assert_eq!(bytes, 53, "{bytes} bytes");
}

/// Every ICMP row of the table, through real packets, IPv4 and IPv6, sent by a router and by
/// the target itself (a firewall rule on the target answers from the target's address). The
/// reasons are nmap's (`-sS --reason`): 3/3 is `port-unreach` (only a RST is closed), 3/13
/// `admin-prohibited`, 3/10 `host-prohibited`.
#[test]
fn icmp_errors_quoting_the_syn_keep_their_type_and_code() {
    use HostSignal::{Alive, Neutral, Unreachable};
    use PortState::Filtered;
    let v4 = [
        (3, 0, Some((Reason::NetUnreach, Unreachable))),
        (3, 1, Some((Reason::HostUnreach, Unreachable))),
        (3, 2, Some((Reason::ProtoUnreach, Alive))),
        (3, 3, Some((Reason::PortUnreach, Alive))),
        (3, 5, Some((Reason::Error, Neutral))),
        (3, 6, Some((Reason::NetUnreach, Unreachable))),
        (3, 7, Some((Reason::HostDown, Unreachable))),
        (3, 8, Some((Reason::HostUnreach, Unreachable))),
        (3, 9, Some((Reason::NetProhibited, Alive))),
        (3, 10, Some((Reason::HostProhibited, Alive))),
        (3, 11, Some((Reason::NetUnreach, Unreachable))),
        (3, 12, Some((Reason::HostUnreach, Unreachable))),
        (3, 13, Some((Reason::AdminProhibited, Alive))),
        (3, 14, Some((Reason::AdminProhibited, Alive))),
        (3, 15, Some((Reason::AdminProhibited, Alive))),
        (3, 4, None),
        (3, 16, None),
        (11, 0, Some((Reason::TimeExceeded, Neutral))),
        (12, 0, Some((Reason::ParamProblem, Neutral))),
    ];
    let v6 = [
        (1, 0, Some((Reason::NetUnreach, Unreachable))),
        (1, 1, Some((Reason::AdminProhibited, Alive))),
        (1, 2, Some((Reason::HostUnreach, Unreachable))),
        (1, 3, Some((Reason::HostUnreach, Unreachable))),
        (1, 4, Some((Reason::PortUnreach, Alive))),
        (1, 5, Some((Reason::AdminProhibited, Alive))),
        (1, 6, Some((Reason::NetUnreach, Unreachable))),
        (2, 0, None),
        (3, 0, Some((Reason::TimeExceeded, Neutral))),
        (4, 0, Some((Reason::ParamProblem, Neutral))),
    ];
    let cases = [
        (
            "198.18.0.1:61000",
            "198.18.9.9:443",
            "198.18.0.254",
            &v4[..],
        ),
        (
            "[2001:db8::1]:61000",
            "[2001:db8::9]:443",
            "2001:db8::fe",
            &v6[..],
        ),
    ];
    for (ours, target, router, rows) in cases {
        for &(ty, code, want) in rows {
            for from_target in [false, true] {
                let mut c = Case::new(ours, target);
                let reporter: IpAddr = if from_target {
                    c.target.ip()
                } else {
                    router.parse().unwrap()
                };
                let got = c.feed(&icmp(reporter, ty, code, &c.syn()));
                let what = format!("{ty}/{code} from {reporter}");
                match want {
                    Some((reason, host)) => {
                        let host = if from_target { Alive } else { host };
                        assert_eq!(got, Ok(decided_host(Filtered, reason, host)), "{what}");
                    }
                    None => assert_eq!(got, Err(Stray::Meaningless), "{what}"),
                }
            }
        }
    }
}

/// What the kernel says when a SYN is sent is ours, never the target's: `EACCES`/`EPERM`
/// (a broadcast address, an output firewall) is `local-denied`, not `admin-prohibited`.
#[test]
fn send_errors_are_read_as_local() {
    use HostSignal::{Neutral, Unreachable};
    use PortState::Filtered;
    let rtt = Duration::from_millis(3);
    let rows = [
        (libc::EACCES, Some((Reason::LocalDenied, Neutral))),
        (libc::EPERM, Some((Reason::LocalDenied, Neutral))),
        (libc::ENETUNREACH, Some((Reason::NetUnreach, Unreachable))),
        (libc::EHOSTUNREACH, Some((Reason::HostUnreach, Unreachable))),
        (libc::EINVAL, Some((Reason::Error, Neutral))),
        (libc::ENOBUFS, None),
        (libc::EAGAIN, None),
    ];
    for (errno, want) in rows {
        let got = classify_send_error(&io::Error::from_raw_os_error(errno), rtt);
        match want {
            Some((reason, host)) => {
                assert_eq!(got, decided_host(Filtered, reason, host), "errno {errno}")
            }
            None => assert_eq!(got, Outcome::Backpressure, "errno {errno}"),
        }
    }
}

#[test]
fn an_icmp_error_quoting_a_forged_syn_is_ignored() {
    let mut c = Case::new("198.18.0.1:61000", "198.18.9.9:443");
    let mut syn = c.syn();
    syn.seq ^= 1;
    let p = icmp("198.18.0.254".parse().unwrap(), 3, 1, &syn);
    assert_eq!(c.feed(&p), Err(Stray::BadCookie));
}

/// The scan types name themselves as `--scan` takes them.
#[test]
fn scan_type_names_round_trip() {
    for t in crate::probe::ScanType::ALL {
        assert_eq!(t.as_str().parse::<crate::probe::ScanType>().unwrap(), t);
    }
    let err = "stealth".parse::<crate::probe::ScanType>().unwrap_err();
    assert!(err.to_string().contains("`stealth`"), "{err}");
}
