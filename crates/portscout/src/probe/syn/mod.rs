//! The SYN prober (`--scan syn`): a bare TCP SYN per probe, built by [`crate::packet`] and
//! sent in batches through a raw socket; answers read from a packet socket, validated by their
//! [`cookie`] and matched to the probe in flight.
//!
//! References: RFC 9293 (TCP: §3.5 establishing a connection, §3.10.7 a segment arriving at a
//! closed or listening port), RFC 792 and RFC 1122 §4.2.3.9 (ICMP errors for TCP), RFC 4443
//! (ICMPv6), and the kernel's own reading of ICMP errors for a connecting socket
//! (`icmp_err_convert` in `net/ipv4/icmp.c`, `icmpv6_err_convert` in `net/ipv6/icmp.c`,
//! `tcp_v4_err`/`tcp_v6_err`), which this prober follows so that both scan types give the same
//! state and reason for the same answer.
//!
//! # How each answer is read
//!
//! This table is implemented by [`classify`] (answers) and [`classify_send_error`] (what the
//! kernel says when the SYN is sent); they are the only places a SYN's answer becomes a port
//! state. An answer counts only if it passes [`Matcher::answer`]: its SYN cookie is right and
//! a probe of its address and port is in flight. Everything else is ignored. An answer to an
//! earlier attempt of that port (its cookie names another of our source ports) still decides
//! it, without a round-trip sample (Karn's rule: which SYN it answers is not known). The host
//! column is what the answer says about the host as a whole ([`HostSignal`]).
//!
//! | answer | outcome | state / reason | host |
//! |---|---|---|---|
//! | TCP SYN+ACK | decided | `open` / `syn-ack` | alive |
//! | TCP RST (with ACK) | decided | `closed` / `conn-refused` | alive |
//! | other TCP flags | ignored | — | |
//! | an ICMP or ICMPv6 error quoting the SYN | decided (or ignored) | by [`icmp::meaning`]: type, code, and whether the target sent it | |
//! | nothing before the timeout | no response | `filtered` / `no-response` after every retry | silent |
//! | `sendmmsg`: `EACCES`, `EPERM` (a broadcast address, a local firewall on output) | decided | `filtered` / `local-denied` | neutral |
//! | `sendmmsg` or route lookup: `ENETUNREACH` (no route here) | decided | `filtered` / `net-unreach` | unreachable |
//! | `sendmmsg`: `EHOSTUNREACH` | decided | `filtered` / `host-unreach` | unreachable |
//! | `sendmmsg`: `ENOBUFS`, `ENOMEM`, `EAGAIN`, … | back-pressure | — | |
//! | `sendmmsg`: any other errno | decided | `filtered` / `error` | neutral |
//!
//! The ICMP rows keep the message's type and code: ICMP 3/3 (and ICMPv6 1/4) is `filtered` /
//! `port-unreach`, as nmap `-sS` reads it (a closed TCP port answers a SYN with a RST; an ICMP
//! port unreachable is a filter's reject), and 3/13 is `admin-prohibited`, 3/10
//! `host-prohibited`. (The connect scan gets the same message from the socket's error queue,
//! but for 3/3: see [`super::connect`].)
//!
//! A SYN-ACK from this very host needs no confirmation here (unlike a connect): the SYN comes
//! from a raw socket, so no socket of the scanner can answer it.

pub mod bpf;
pub mod cookie;
pub mod sockets;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::inflight::InFlight;
use super::{icmp, HostSignal, Outcome, Prober, Start};
use crate::model::{PortState, Reason};
use crate::packet::{self, Answer, Syn, TcpFlags};
use crate::scan::job::{Job, PackedJob};
use cookie::Cookies;
use sockets::{Answers, Batch, Router, WorkerSockets};

/// Source ports each worker holds: consecutive attempts at one port leave from different
/// ports, so a late answer to an earlier attempt is not taken for the current one's.
pub const PORTS_PER_WORKER: u16 = 16;

/// What an answer means (see the module table). `None`: it says nothing about the port.
pub fn classify(answer: &Answer, rtt: Duration) -> Option<Outcome> {
    let (state, reason, host) = match *answer {
        Answer::Tcp(t) if t.flags.contains(TcpFlags::RST) => {
            (PortState::Closed, Reason::ConnRefused, HostSignal::Alive)
        }
        Answer::Tcp(t) if t.flags.contains(TcpFlags::SYN) && t.flags.contains(TcpFlags::ACK) => {
            (PortState::Open, Reason::SynAck, HostSignal::Alive)
        }
        Answer::Tcp(_) => return None,
        Answer::Icmp(i) => icmp::meaning(i.kind, i.reporter == i.probe_to.ip())?,
    };
    Some(Outcome::Decided {
        state,
        reason,
        rtt: Some(rtt),
        host,
    })
}

/// What an error from sending a SYN (or from finding its route) means (see the module table):
/// our own kernel speaking, never the target.
pub fn classify_send_error(err: &io::Error, rtt: Duration) -> Outcome {
    let decided = |state, reason, host| Outcome::Decided {
        state,
        reason,
        rtt: Some(rtt),
        host,
    };
    match err.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => decided(
            PortState::Filtered,
            Reason::LocalDenied,
            HostSignal::Neutral,
        ),
        Some(libc::ENETUNREACH | libc::ENETDOWN) => decided(
            PortState::Filtered,
            Reason::NetUnreach,
            HostSignal::Unreachable,
        ),
        Some(libc::EHOSTUNREACH) => decided(
            PortState::Filtered,
            Reason::HostUnreach,
            HostSignal::Unreachable,
        ),
        Some(
            libc::EMFILE
            | libc::ENFILE
            | libc::ENOBUFS
            | libc::ENOMEM
            | libc::EAGAIN
            | libc::ENOSPC
            | libc::EADDRNOTAVAIL,
        ) => Outcome::Backpressure,
        Some(libc::EINTR) => Outcome::Retry,
        _ => decided(PortState::Filtered, Reason::Error, HostSignal::Neutral),
    }
}

/// The address a SYN to `target` goes to: an IPv4-mapped IPv6 address (`::ffff:198.18.0.2`) is
/// that IPv4 address on the wire, as it is for `connect()`.
fn wire(target: SocketAddr) -> SocketAddr {
    match target {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => target,
        },
        v4 => v4,
    }
}

/// What the table keeps of one SYN in flight, beside its target, deadline and send time: the
/// worker's job without its target (the table's key: [`Job::unpack`]) and the source port it
/// left from (its source address is in its cookie). 18 bytes.
#[derive(Debug)]
struct Probe {
    job: PackedJob,
    ours: u16,
}

/// Why an answer was not taken.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stray {
    /// Not a packet [`packet::parse`] reads as an answer.
    Unreadable,
    /// No probe of that address and port is in flight (a late answer, a second answer to
    /// one probe, or not ours).
    NotInFlight,
    /// The SYN cookie is wrong: forged, or from another scan.
    BadCookie,
    /// Says nothing about the port (a bare ACK, an ICMP too big).
    Meaningless,
}

/// The probes in flight (one compact table, `probe::inflight`) and the check that matches an
/// answer to one of them. A probe leaves the table with its first answer, a send error or its
/// deadline, and waits in `done` until the event loop takes it.
#[derive(Debug)]
pub struct Matcher {
    cookies: Cookies,
    probes: InFlight<Probe>,
    done: Vec<(Job, Outcome)>,
}

impl Matcher {
    /// Matches answers to SYNs made with `cookies`.
    pub fn new(cookies: Cookies) -> Matcher {
        Matcher {
            cookies,
            probes: InFlight::new(),
            done: Vec::new(),
        }
    }

    /// Records a SYN of `job` from `ours` to `target` (its wire form), sent at `sent`, given
    /// up at `deadline`.
    pub(crate) fn sent(
        &mut self,
        job: Job,
        ours: SocketAddr,
        target: SocketAddr,
        sent: Instant,
        deadline: Instant,
    ) {
        let probe = Probe {
            job: job.pack(),
            ours: ours.port(),
        };
        if let Some(old) = self.probes.insert(target, sent, deadline, probe) {
            // Never two attempts of one port at once; were there, the first ends unanswered.
            self.done
                .push((Job::unpack(target, old.job), Outcome::NoResponse));
        }
    }

    /// Ends the probe of `target` with `outcome` (the first one counts).
    fn settle(&mut self, target: SocketAddr, outcome: Outcome) -> Result<(), Stray> {
        let probe = self.probes.remove(target).ok_or(Stray::NotInFlight)?;
        self.done.push((Job::unpack(target, probe.job), outcome));
        Ok(())
    }

    /// Reads one packet (from its IP header on) and, if it answers a probe in flight, settles
    /// that probe.
    pub fn answer(&mut self, packet: &[u8], now: Instant) -> Result<SocketAddr, Stray> {
        let answer = packet::parse(packet).map_err(|_| Stray::Unreadable)?;
        let (ours, target, valid) = match answer {
            Answer::Tcp(t) => (t.to, t.from, self.cookies.acknowledges(t.to, t.from, t.ack)),
            Answer::Icmp(i) => (
                i.probe_from,
                i.probe_to,
                i.probe_seq == self.cookies.cookie(i.probe_from, i.probe_to),
            ),
        };
        let (probe, sent) = self.probes.get(target).ok_or(Stray::NotInFlight)?;
        if !valid {
            return Err(Stray::BadCookie);
        }
        // The source address is in the cookie; the port tells the attempts apart. An answer
        // to an earlier attempt (another source port) came after that attempt's wait ended,
        // while this one is under way: it still says what the port is (before the scan's
        // first answer, an attempt that is not its port's last waits only half the initial
        // timeout; `Hosts::admit`), but not when it was sent, so it is no round-trip sample.
        let earlier = probe.ours != ours.port();
        let rtt = now.saturating_duration_since(sent);
        let mut outcome = classify(&answer, rtt).ok_or(Stray::Meaningless)?;
        if earlier {
            outcome = outcome.unsampled();
        }
        self.settle(target, outcome)?;
        Ok(target)
    }

    /// Ends the probes whose deadline is at or before `now` (no response).
    fn expire(&mut self, now: Instant) {
        let done = &mut self.done;
        self.probes.expire(now, |to, p| {
            done.push((Job::unpack(to, p.job), Outcome::NoResponse))
        });
    }

    /// Whether no probe is in flight.
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }
}

/// One worker's SYN prober: builds SYNs into per-family batches, sends them on the event
/// loop's flush, reads answers when it asks, and keeps the probes in flight in its
/// [`Matcher`] (no future and no timer per probe).
pub struct SynProber {
    cookies: Cookies,
    matcher: Matcher,
    send4: socket2::Socket,
    send6: Option<socket2::Socket>,
    batches: [Batch; 2],
    answers: Answers,
    router: Router,
    first_port: u16,
    ports: u16,
    next_port: u16,
    ip_id: u16,
    /// Held for the scan's lifetime (see [`sockets`]).
    _ports: sockets::PortBlock,
}

impl SynProber {
    /// A prober over `sockets`, with the scan's `cookies`. Must be called inside the worker's
    /// runtime (the packet socket registers with it).
    pub fn new(sockets: WorkerSockets, cookies: Cookies) -> io::Result<SynProber> {
        let WorkerSockets {
            send4,
            send6,
            answers,
            ports,
        } = sockets;
        Ok(SynProber {
            matcher: Matcher::new(cookies.clone()),
            cookies,
            send4,
            send6,
            batches: [Batch::new(), Batch::new()],
            answers: Answers::new(answers)?,
            router: Router::default(),
            first_port: ports.first,
            ports: ports.last - ports.first + 1,
            next_port: 0,
            ip_id: std::process::id() as u16,
            _ports: ports,
        })
    }

    fn send(&mut self, family: usize) {
        let socket = match family {
            0 => &self.send4,
            _ => match &self.send6 {
                Some(s) => s,
                None => return,
            },
        };
        let matcher = &mut self.matcher;
        let now = Instant::now();
        self.batches[family].send(socket, |to, err| {
            let outcome = classify_send_error(&err, now.elapsed());
            let _ = matcher.settle(to, outcome);
        });
    }
}

impl Prober for SynProber {
    type Pending = Infallible;
    type Spare = Infallible;

    fn tracks(&self) -> bool {
        true
    }

    fn start(&mut self, job: Job, deadline: Instant) -> Start<Infallible> {
        let started = Instant::now();
        // An IPv4-mapped IPv6 address (`::ffff:198.18.0.2`) is that IPv4 address on the wire,
        // as it is for connect(): the SYN, its answer and the probe in flight use the IPv4 form.
        let target = wire(job.target);
        let failed = |e: io::Error| Start::Done(classify_send_error(&e, started.elapsed()));
        let family = usize::from(target.is_ipv6());
        if family == 1 && self.send6.is_none() {
            return failed(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
        }
        let src = match self.router.source_for(target.ip()) {
            Ok(src) => src,
            Err(e) => return failed(e),
        };
        let ours = SocketAddr::new(src, self.first_port + self.next_port);
        self.next_port = (self.next_port + 1) % self.ports;
        self.ip_id = self.ip_id.wrapping_add(1);
        let syn = Syn {
            src: ours,
            dst: target,
            seq: self.cookies.cookie(ours, target),
            ip_id: self.ip_id,
        };
        if self.batches[family].is_full() {
            self.send(family);
        }
        let batch = &mut self.batches[family];
        match syn.emit(batch.next_buffer()) {
            Ok(len) => batch.push(len, target),
            Err(_) => return failed(io::Error::from_raw_os_error(libc::EINVAL)),
        }
        self.matcher.sent(job, ours, target, started, deadline);
        Start::Tracked
    }

    async fn wait(pending: Infallible, _deadline: Instant) -> (Outcome, Option<Infallible>) {
        match pending {}
    }

    fn recycle(&mut self, spare: Infallible) {
        match spare {}
    }

    fn flush(&mut self) {
        for family in 0..2 {
            if !self.batches[family].is_empty() {
                self.send(family);
            }
        }
    }

    fn read_answers(&mut self) {
        let now = Instant::now();
        let matcher = &mut self.matcher;
        self.answers.drain(|packet| {
            // A stray (see [`Stray`]) is ignored.
            let _ = matcher.answer(packet, now);
        });
    }

    fn completed(&mut self, done: &mut Vec<(Job, Outcome)>) {
        self.matcher.expire(Instant::now());
        done.append(&mut self.matcher.done);
    }

    fn tracked(&self) -> usize {
        self.matcher.probes.len() + self.matcher.done.len()
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.matcher.probes.next_deadline()
    }

    fn retime_all(&mut self, deadline: &mut dyn FnMut(&Job, Instant) -> Option<Instant>) {
        self.matcher
            .probes
            .retime_all(|to, probe, sent| deadline(&Job::unpack(to, probe.job), sent));
    }

    async fn answers_ready(&self) {
        if self.answers.readable().await.is_err() {
            // Not readable ever again: never wake for it (deadlines still end probes).
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests;
