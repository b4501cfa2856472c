//! A simulated network, for testing the scheduler's rules without root, without a kernel and
//! without waiting (feature `sim`; not for scanning).
//!
//! [`run`] scans a [`SimNet`] with the real scheduler: the event-loop workers of the `async`
//! and `sharded` engines (`scan::event_loop`), their per-host board (round-trip estimates and
//! timeouts, loss estimates and attempts, congestion windows, the host check), the per-port
//! decisions and `--rate`/`--min-rate`, exactly as a scan runs them. Only the prober differs:
//! its probes are answered by the description instead of the kernel, with errno values read by
//! the connect prober's own table ([`classify_error`], [`classify_established`]), so a refusal,
//! an ICMP error or a handshake reaches the scheduler as the outcome a real `connect(2)` would
//! give.
//!
//! Time is tokio's paused clock: the runtime jumps to the next timer whenever every probe is
//! waiting, so a scan of minutes of simulated time takes milliseconds, and the scanner's own
//! CPU time counts as zero. Loss and jitter are drawn from a keyed hash of (seed, address,
//! port, attempt number), not from a stream of random numbers, so a run is the same for the
//! same seed whatever order the workers send in.
//!
//! What a [`SimNet`] describes, per address (one [`SimHost`] for an address, or one for every
//! address of a range, so a silent /8 costs one entry):
//!
//! | property | meaning |
//! |---|---|
//! | ports | [`SimPort::Open`] (SYN-ACK), [`SimPort::Closed`] (RST), [`SimPort::Silent`] (dropped), [`SimPort::Errno`] (this host's own stack refused or could not deliver: the errno `connect(2)` reports with no ICMP message, e.g. `EHOSTUNREACH` after a failed ARP), [`SimPort::Icmp`] (an ICMP error with its type, code and sender, as the kernel queues it for the socket) |
//! | round trip | fixed, plus a uniform jitter; 0 means answered inside `connect(2)`, as on loopback |
//! | loss | a probability per direction: the SYN lost on the way out, the answer on the way back |
//! | capacity | at most this many probes on the path at once (sent, round trip not over); more are dropped, as a bottleneck queue overflows: loss that rises with the window (congestion) |
//! | reachable from | the path delivers nothing before this much time since the scan's first probe: a SYN sent earlier waits and leaves then, as one waits in the ARP queue of a neighbour not yet resolved (an address that comes up while it is scanned) |
//!
//! An address no host and no range describes answers nothing.
//!
//! The scan type picks how probes leave, as the real probers do. A connect scan decides a probe
//! answered in no time (round trip 0) inside `start`, and every other probe waits on its own. A
//! SYN scan (`--scan syn`) batches, as `SynProber` does: `start` only queues the SYN and keeps
//! the probe in the prober's own table (no future per probe), `flush` sends the round (its
//! round trips start then), answers are read by `read_answers` when the loop sees them arrive,
//! the loop takes answered and expired probes from `completed`, and its `retime_all` shortens
//! the probes sent before the first round trip was measured. An answer to an attempt that has
//! timed out is dropped by a connect scan (its socket is closed); a SYN scan takes it while a
//! later attempt of the port is under way (as `SynProber` does: it still names one of our
//! source ports), without a round-trip sample, and drops it otherwise.
//!
//! What it does not model: the kernel's own SYN retransmission (after 1 s; a probe's timeout is
//! usually shorter), the threads engine (a blocking thread per probe cannot run on a paused
//! clock), descriptor exhaustion, and pausing a scan.
//!
//! ```
//! use std::time::Duration;
//! use portscout::ports::PortSet;
//! use portscout::scan::ScanConfig;
//! use portscout::sim::{self, SimHost, SimNet, SimPort};
//! use portscout::target::Target;
//! use portscout::PortState;
//!
//! let net = SimNet::new(7).host(
//!     "198.18.0.1".parse().unwrap(),
//!     SimHost::answering(Duration::from_millis(20))
//!         .loss(0.05, 0.0)
//!         .port(22, SimPort::Open),
//! );
//! let config = ScanConfig::builder()
//!     .targets([Target::parse("198.18.0.1")?])
//!     .ports(PortSet::parse("1-1000")?)
//!     .build()?;
//! let report = sim::run(&config, &net)?;
//! let open: Vec<u16> = report
//!     .ports()
//!     .filter(|r| r.state == PortState::Open)
//!     .map(|r| r.port)
//!     .collect();
//! assert_eq!(open, [22]);
//! # Ok::<(), portscout::Error>(())
//! ```

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::model::{Event, HostDown, PortResult};
use crate::packet::IcmpKind;
use crate::ports::PortSet;
use crate::probe::connect::{classify_error, classify_established, QueuedIcmp};
use crate::probe::inflight::InFlight;
use crate::probe::{Outcome, Prober, ScanType, Start};
use crate::scan::job::Job;
use crate::scan::{ScanConfig, ScanStats};
use crate::target::AddrRange;

/// What one port of a simulated host does with a SYN.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SimPort {
    /// Answers with a SYN-ACK (`open`).
    Open,
    /// Answers with a RST (`closed`).
    Closed,
    /// Drops it: no answer ever.
    Silent,
    /// This host's own stack refuses the probe or cannot deliver it, with no ICMP message: the
    /// errno `connect(2)` reports (`libc::EHOSTUNREACH` after a failed ARP, `libc::ENETUNREACH`,
    /// `libc::EACCES` from a local firewall, ...): the connect prober's table decides what it
    /// means.
    Errno(i32),
    /// Answers with an ICMP error: its type and code, and whether the target itself sent it
    /// (else a router did). The connect prober's table reads it as it reads the message the
    /// kernel queues for the socket (`IP_RECVERR`).
    Icmp {
        /// The message's type and code.
        kind: IcmpKind,
        /// The target's own address sent it.
        from_target: bool,
    },
}

/// One simulated host (or every host of a range): its ports and its path.
#[derive(Clone, Debug, PartialEq)]
pub struct SimHost {
    rtt: Duration,
    jitter: Duration,
    loss_out: f64,
    loss_in: f64,
    capacity: Option<usize>,
    /// SYNs sent before this long after the scan's first probe wait until then.
    reachable_from: Duration,
    /// Later entries win.
    ports: Vec<(PortSet, SimPort)>,
    other: SimPort,
}

/// A host that answers nothing, what an address no description covers is.
const NOBODY: SimHost = SimHost {
    rtt: Duration::ZERO,
    jitter: Duration::ZERO,
    loss_out: 0.0,
    loss_in: 0.0,
    capacity: None,
    reachable_from: Duration::ZERO,
    ports: Vec::new(),
    other: SimPort::Silent,
};

/// [`NOBODY`], to lend out.
static SILENT: SimHost = NOBODY;

impl SimHost {
    /// A host that answers nothing (every port silent).
    pub fn silent() -> SimHost {
        NOBODY
    }

    /// A host whose every port is closed (answers RST) after `rtt`, with no loss; set ports
    /// with [`SimHost::port`] and [`SimHost::ports`].
    pub fn answering(rtt: Duration) -> SimHost {
        SimHost {
            rtt,
            other: SimPort::Closed,
            ..NOBODY
        }
    }

    /// The round trip (0: answered inside `connect(2)`, as loopback is).
    pub fn rtt(mut self, rtt: Duration) -> SimHost {
        self.rtt = rtt;
        self
    }

    /// Each round trip is longer by up to `jitter` (uniform, drawn per attempt).
    pub fn jitter(mut self, jitter: Duration) -> SimHost {
        self.jitter = jitter;
        self
    }

    /// The chance that a SYN is lost on the way to the host (`out`) and that its answer is
    /// lost on the way back (`back`), each drawn per attempt.
    pub fn loss(mut self, out: f64, back: f64) -> SimHost {
        self.loss_out = out;
        self.loss_in = back;
        self
    }

    /// At most `probes` on the path at once (sent, round trip not over, answered or not); a
    /// SYN sent while it is full is dropped, as an overflowing queue drops it.
    pub fn capacity(mut self, probes: usize) -> SimHost {
        self.capacity = Some(probes);
        self
    }

    /// The path delivers nothing before `after` (simulated time since the scan's first probe):
    /// a SYN sent earlier waits and leaves then, as a packet waits in the ARP queue of a
    /// neighbour being resolved, and its answer comes a round trip later (the round trip the
    /// scanner measures includes the wait). An address that starts answering late.
    pub fn reachable_from(mut self, after: Duration) -> SimHost {
        self.reachable_from = after;
        self
    }

    /// What `port` does (overrides earlier settings of it).
    pub fn port(self, port: u16, what: SimPort) -> SimHost {
        let one = PortSet::parse(&port.to_string()).unwrap_or_else(|_| PortSet::empty());
        self.ports(one, what)
    }

    /// What every port of `ports` does (overrides earlier settings of them).
    pub fn ports(mut self, ports: PortSet, what: SimPort) -> SimHost {
        self.ports.push((ports, what));
        self
    }

    /// What every port not set otherwise does.
    pub fn other_ports(mut self, what: SimPort) -> SimHost {
        self.other = what;
        self
    }

    /// What `port` does.
    pub fn behaviour(&self, port: u16) -> SimPort {
        self.ports
            .iter()
            .rev()
            .find(|(set, _)| set.contains(port))
            .map_or(self.other, |&(_, what)| what)
    }
}

/// A simulated network: hosts, ranges of hosts, and a seed for loss and jitter.
#[derive(Clone, Debug, Default)]
pub struct SimNet {
    seed: u64,
    hosts: HashMap<IpAddr, SimHost>,
    /// Later entries win.
    ranges: Vec<(AddrRange, SimHost)>,
}

impl SimNet {
    /// A network where nothing answers; `seed` draws its loss and jitter.
    pub fn new(seed: u64) -> SimNet {
        SimNet {
            seed,
            ..SimNet::default()
        }
    }

    /// `ip` is `host` (this wins over any range).
    pub fn host(mut self, ip: IpAddr, host: SimHost) -> SimNet {
        self.hosts.insert(ip, host);
        self
    }

    /// Every address of `range` is `host` (a later range wins over an earlier one).
    pub fn range(mut self, range: AddrRange, host: SimHost) -> SimNet {
        self.ranges.push((range, host));
        self
    }

    /// What `ip` is.
    pub fn host_at(&self, ip: IpAddr) -> &SimHost {
        self.hosts
            .get(&ip)
            .or_else(|| {
                self.ranges
                    .iter()
                    .rev()
                    .find(|(r, _)| r.contains(ip))
                    .map(|(_, h)| h)
            })
            .unwrap_or(&SILENT)
    }

    /// A number in `[0, 1)` for this attempt, the same for the same seed.
    fn draw(&self, target: SocketAddr, attempt: u32, what: u64) -> f64 {
        let ip = match target.ip() {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6) ^ (1 << 127),
        };
        let folded = (ip as u64) ^ mix((ip >> 64) as u64);
        let key = (u64::from(target.port()) << 40) | (u64::from(attempt) << 8) | what;
        let h = mix(self.seed ^ mix(folded ^ mix(key)));
        (h >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// SplitMix64's finaliser: a bijection that scatters every input bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a simulated scan did: its results as the scan reports them, the scheduler's counters,
/// and what the network saw.
#[derive(Clone, Debug)]
pub struct SimReport {
    /// Every event, in the order the workers produced them (held results of hosts decided at
    /// the end last, as `Scan` gives them).
    pub events: Vec<Event>,
    /// When each event of `events` was decided: simulated time since the start (the end, for
    /// hosts decided once every worker was done).
    pub decided_at: Vec<Duration>,
    /// What the timing machinery did, summed over workers (as [`crate::scan::Scan::stats`]).
    pub stats: ScanStats,
    /// Simulated time from the first probe to the end of the last worker.
    pub elapsed: Duration,
    /// SYNs sent to each `(address, port)` (retransmissions and confirmations included).
    pub attempts: HashMap<SocketAddr, u32>,
    /// When each SYN of `attempts` was sent (simulated time since the scan's first probe), in
    /// order.
    pub sent_at: HashMap<SocketAddr, Vec<Duration>>,
    /// The most probes waiting for an answer at once, over all workers.
    pub peak_in_flight: usize,
    /// SYNs dropped because their host's path was full ([`SimHost::capacity`]).
    pub dropped_at_capacity: u64,
}

impl SimReport {
    /// The port results.
    pub fn ports(&self) -> impl Iterator<Item = &PortResult> {
        self.events.iter().filter_map(Event::port)
    }

    /// The hosts found down.
    pub fn hosts_down(&self) -> impl Iterator<Item = &HostDown> {
        self.events.iter().filter_map(|e| match e {
            Event::HostDown(d) => Some(d),
            Event::Port(_) => None,
        })
    }

    /// The result for `target`, if the scan reported one.
    pub fn result(&self, target: SocketAddr) -> Option<&PortResult> {
        self.ports().find(|r| r.socket_addr() == target)
    }

    /// When the result for `target` (or its host's down record) was decided.
    pub fn decided_at(&self, target: SocketAddr) -> Option<Duration> {
        self.events
            .iter()
            .position(|e| match e {
                Event::Port(r) => r.socket_addr() == target,
                Event::HostDown(d) => d.ip == target.ip(),
            })
            .map(|i| self.decided_at[i])
    }

    /// SYNs sent in all.
    pub fn probes(&self) -> u64 {
        self.attempts.values().map(|&n| u64::from(n)).sum()
    }
}

/// Scans `net` as `config` says, on a paused clock, with the real scheduler.
///
/// The workers are event-loop workers on one thread: `config`'s worker count (default 1, the
/// `async` engine; more is the `sharded` engine's split, sharing one cursor and one host
/// board), whatever its engine says. Its scan type says whether probes are batched (see the
/// module's documentation); no privilege is needed for either. The window is `config`'s concurrency, or
/// [`crate::scan::DEFAULT_MAX_WINDOW`] (what a machine with enough descriptors gets). Targets
/// must be addresses (a name would be resolved by the system resolver).
///
/// Blocks (it runs a runtime of its own): inside an async runtime it returns an error.
pub fn run(config: &ScanConfig, net: &SimNet) -> Result<SimReport, Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Runtime(io::Error::other(
            "sim::run runs a runtime of its own and was called inside one",
        )));
    }
    let plan = config.resolve_plan()?;
    let wire = Rc::new(Wire {
        net: net.clone(),
        batching: config.scan_type() == ScanType::Syn,
        epoch: Cell::new(None),
        attempts: RefCell::default(),
        sent_at: RefCell::default(),
        in_flight: Cell::new(0),
        peak: Cell::new(0),
        path: RefCell::default(),
        dropped: Cell::new(0),
    });
    let done = crate::scan::simulate(config, plan, || SimProber::new(Rc::clone(&wire)))?;
    Ok(SimReport {
        events: done.events,
        decided_at: done.times,
        stats: done.stats,
        elapsed: done.elapsed,
        attempts: wire.attempts.take(),
        sent_at: wire.sent_at.take(),
        peak_in_flight: wire.peak.get(),
        dropped_at_capacity: wire.dropped.get(),
    })
}

/// The simulated network's state during a run, shared by every worker's prober (one thread).
#[derive(Debug)]
struct Wire {
    net: SimNet,
    /// A SYN scan: probes leave on `flush`, answers are read on `read_answers`.
    batching: bool,
    /// When the first probe started (what [`SimHost::reachable_from`] counts from).
    epoch: Cell<Option<Instant>>,
    attempts: RefCell<HashMap<SocketAddr, u32>>,
    sent_at: RefCell<HashMap<SocketAddr, Vec<Duration>>>,
    in_flight: Cell<usize>,
    peak: Cell<usize>,
    /// Per host with a capacity: when each probe on its path ends its round trip.
    path: RefCell<HashMap<IpAddr, BinaryHeap<Reverse<Instant>>>>,
    dropped: Cell<u64>,
}

/// The prober of a simulated scan (one per worker).
#[derive(Debug)]
pub(crate) struct SimProber {
    wire: Rc<Wire>,
    /// Batching: the probes in flight, as `SynProber` keeps them (with their attempt number:
    /// an answer to an earlier attempt is no round-trip sample).
    table: InFlight<(Job, u32)>,
    /// Batching: started, not yet flushed (with their answer, if one comes, and its delay).
    queued: Vec<(SocketAddr, u32, Option<Answer>)>,
    /// Batching: answers on their way, by arrival time and sequence number.
    arrivals: BinaryHeap<Reverse<(Instant, u64)>>,
    answers: HashMap<u64, (SocketAddr, u32, Outcome)>,
    sequence: u64,
    /// Batching: completed probes, for `completed`.
    done: Vec<(Job, Outcome)>,
}

impl SimProber {
    fn new(wire: Rc<Wire>) -> SimProber {
        SimProber {
            wire,
            table: InFlight::new(),
            queued: Vec::new(),
            arrivals: BinaryHeap::new(),
            answers: HashMap::new(),
            sequence: 0,
            done: Vec::new(),
        }
    }

    /// A batched probe is over: one fewer on the wire.
    fn ended(&mut self, job: Job, outcome: Outcome) {
        self.wire.in_flight.set(self.wire.in_flight.get() - 1);
        self.done.push((job, outcome));
    }
}

/// An answer on its way: after this long, this outcome.
type Answer = (Duration, Outcome);

/// A simulated connect probe in flight: when its answer arrives (if it does) and what it
/// says.
#[derive(Debug)]
pub(crate) struct SimPending {
    answer: Option<(Instant, Outcome)>,
    wire: Rc<Wire>,
}

/// The draws of one attempt.
const LOSS_OUT: u64 = 0;
const LOSS_IN: u64 = 1;
const JITTER: u64 = 2;

impl Prober for SimProber {
    type Pending = SimPending;
    type Spare = std::convert::Infallible;

    fn tracks(&self) -> bool {
        self.wire.batching
    }

    fn start(&mut self, job: Job, deadline: Instant) -> Start<SimPending> {
        let target = job.target;
        let wire = &self.wire;
        let attempt = {
            let mut attempts = wire.attempts.borrow_mut();
            let n = attempts.entry(target).or_insert(0);
            *n += 1;
            *n
        };
        let net = &wire.net;
        let host = net.host_at(target.ip());
        let now = Instant::now();
        let epoch = *wire.epoch.get().get_or_insert(now);
        wire.epoch.set(Some(epoch));
        wire.sent_at
            .borrow_mut()
            .entry(target)
            .or_default()
            .push(now - epoch);
        // A SYN sent before the path delivers waits until it does: that wait is part of the
        // round trip.
        let held = (epoch + host.reachable_from).saturating_duration_since(now);
        let rtt = held + host.rtt + host.jitter.mul_f64(net.draw(target, attempt, JITTER));
        let mut arrives = true;
        if let Some(capacity) = host.capacity {
            let mut paths = wire.path.borrow_mut();
            let path = paths.entry(target.ip()).or_default();
            while path.peek().is_some_and(|Reverse(t)| *t <= now) {
                path.pop();
            }
            if path.len() >= capacity {
                arrives = false;
                wire.dropped.set(wire.dropped.get() + 1);
            } else {
                path.push(Reverse(now + rtt));
            }
        }
        arrives &= net.draw(target, attempt, LOSS_OUT) >= host.loss_out;
        let answer = match host.behaviour(target.port()) {
            _ if !arrives => None,
            SimPort::Silent => None,
            _ if net.draw(target, attempt, LOSS_IN) < host.loss_in => None,
            what => Some(answer(what, target, rtt.max(Duration::from_micros(1)))),
        };
        if rtt.is_zero() && !wire.batching {
            if let Some(outcome) = answer {
                return Start::Done(outcome);
            }
        }
        let waiting = wire.in_flight.get() + 1;
        wire.in_flight.set(waiting);
        wire.peak.set(wire.peak.get().max(waiting));
        if wire.batching {
            self.table.insert(target, now, deadline, (job, attempt));
            self.queued
                .push((target, attempt, answer.map(|a| (rtt, a))));
            return Start::Tracked;
        }
        Start::Pending(SimPending {
            answer: answer.map(|a| (now + rtt, a)),
            wire: Rc::clone(wire),
        })
    }

    async fn wait(pending: SimPending, deadline: Instant) -> (Outcome, Option<Self::Spare>) {
        let outcome = match pending.answer {
            Some((at, outcome)) if at <= deadline => {
                tokio::time::sleep_until(at).await;
                outcome
            }
            _ => {
                tokio::time::sleep_until(deadline).await;
                Outcome::NoResponse
            }
        };
        let wire = &pending.wire;
        wire.in_flight.set(wire.in_flight.get() - 1);
        (outcome, None)
    }

    fn recycle(&mut self, spare: Self::Spare) {
        match spare {}
    }

    fn flush(&mut self) {
        let now = Instant::now();
        for (target, attempt, answer) in self.queued.drain(..) {
            if let Some((rtt, outcome)) = answer {
                let seq = self.sequence;
                self.sequence += 1;
                self.arrivals.push(Reverse((now + rtt, seq)));
                self.answers.insert(seq, (target, attempt, outcome));
            }
        }
    }

    fn read_answers(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, seq))) = self.arrivals.peek() {
            if at > now {
                break;
            }
            self.arrivals.pop();
            let Some((target, attempt, outcome)) = self.answers.remove(&seq) else {
                continue;
            };
            // No attempt of its port under way: a late answer, dropped. One to an earlier
            // attempt while a later one is under way decides the port, without a round trip
            // (as `SynProber` takes one: another source port, a valid cookie).
            let Some((&(_, current), _)) = self.table.get(target) else {
                continue;
            };
            if let Some((job, _)) = self.table.remove(target) {
                let outcome = if current == attempt {
                    outcome
                } else {
                    outcome.unsampled()
                };
                self.ended(job, outcome);
            }
        }
    }

    fn completed(&mut self, done: &mut Vec<(Job, Outcome)>) {
        let mut expired = Vec::new();
        self.table
            .expire(Instant::now(), |_, (job, _)| expired.push(job));
        for job in expired {
            self.ended(job, Outcome::NoResponse);
        }
        done.append(&mut self.done);
    }

    fn tracked(&self) -> usize {
        self.table.len() + self.done.len()
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.table.next_deadline()
    }

    fn retime_all(&mut self, deadline: &mut dyn FnMut(&Job, Instant) -> Option<Instant>) {
        self.table
            .retime_all(|_, (job, _), sent| deadline(job, sent));
    }

    fn answers_ready(&self) -> impl std::future::Future<Output = ()> + '_ {
        let next = self.arrivals.peek().map(|Reverse((at, _))| *at);
        async move {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        }
    }
}

/// The outcome `connect(2)` would give for this answer, through the connect prober's table.
fn answer(what: SimPort, target: SocketAddr, rtt: Duration) -> Outcome {
    let errno = match what {
        SimPort::Open => {
            // The scanner's side: an address no target has, so never "this very host".
            let local = match target {
                SocketAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 1),
                SocketAddr::V6(_) => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 1),
            };
            return classify_established(local, target, rtt);
        }
        SimPort::Closed => libc::ECONNREFUSED,
        SimPort::Errno(errno) => errno,
        SimPort::Icmp { kind, from_target } => {
            // The errno the kernel gives beside the queued message does not matter to the
            // table once a message is queued, but for a refusal: use a neutral one.
            let queued = QueuedIcmp { kind, from_target };
            return classify_error(
                &io::Error::from_raw_os_error(libc::EHOSTUNREACH),
                rtt,
                Some(queued),
            );
        }
        SimPort::Silent => return Outcome::NoResponse,
    };
    classify_error(&io::Error::from_raw_os_error(errno), rtt, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PortState, Reason};

    #[test]
    fn draws_are_uniform_and_depend_on_every_key() {
        let net = SimNet::new(1);
        let t: SocketAddr = "198.18.0.1:80".parse().unwrap();
        let n = 100_000;
        let below = (0..n).filter(|&a| net.draw(t, a, LOSS_OUT) < 0.2).count();
        let rate = below as f64 / f64::from(n);
        assert!((rate - 0.2).abs() < 0.01, "{rate}");
        let other: SocketAddr = "198.18.0.1:81".parse().unwrap();
        assert_ne!(net.draw(t, 1, LOSS_OUT), net.draw(other, 1, LOSS_OUT));
        assert_ne!(net.draw(t, 1, LOSS_OUT), net.draw(t, 1, LOSS_IN));
        assert_ne!(
            net.draw(t, 1, LOSS_OUT),
            SimNet::new(2).draw(t, 1, LOSS_OUT)
        );
        assert_eq!(
            net.draw(t, 1, LOSS_OUT),
            SimNet::new(1).draw(t, 1, LOSS_OUT)
        );
    }

    #[test]
    fn hosts_win_over_ranges_and_later_ranges_over_earlier_ones() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = SimNet::new(0)
            .range(
                AddrRange::new(ip("198.18.0.0"), ip("198.18.255.255")).unwrap(),
                SimHost::answering(Duration::from_millis(1)),
            )
            .range(
                AddrRange::new(ip("198.18.1.0"), ip("198.18.1.255")).unwrap(),
                SimHost::silent(),
            )
            .host(
                ip("198.18.1.7"),
                SimHost::answering(Duration::ZERO).port(22, SimPort::Open),
            );
        assert_eq!(net.host_at(ip("198.18.0.9")).behaviour(22), SimPort::Closed);
        assert_eq!(net.host_at(ip("198.18.1.9")).behaviour(22), SimPort::Silent);
        assert_eq!(net.host_at(ip("198.18.1.7")).behaviour(22), SimPort::Open);
        assert_eq!(net.host_at(ip("198.18.1.7")).behaviour(23), SimPort::Closed);
        assert_eq!(net.host_at(ip("198.19.0.1")), &SimHost::silent());
    }

    #[tokio::test]
    async fn run_inside_a_runtime_is_an_error_not_a_panic() {
        let config = ScanConfig::builder()
            .targets([crate::target::Target::parse("198.18.0.1").unwrap()])
            .ports(PortSet::parse("22").unwrap())
            .build()
            .unwrap();
        assert!(run(&config, &SimNet::new(0)).is_err());
    }

    #[test]
    fn answers_go_through_the_connect_probers_table() {
        let t: SocketAddr = "198.18.0.1:80".parse().unwrap();
        let rtt = Duration::from_millis(3);
        let decided = |o: Outcome| match o {
            Outcome::Decided { state, reason, .. } => Some((state, reason)),
            _ => None,
        };
        assert_eq!(
            decided(answer(SimPort::Open, t, rtt)),
            Some((PortState::Open, Reason::SynAck))
        );
        assert_eq!(
            decided(answer(SimPort::Closed, t, rtt)),
            Some((PortState::Closed, Reason::ConnRefused))
        );
        assert_eq!(
            decided(answer(SimPort::Errno(libc::EHOSTUNREACH), t, rtt)),
            Some((PortState::Filtered, Reason::HostUnreach))
        );
        assert_eq!(answer(SimPort::Silent, t, rtt), Outcome::NoResponse);
    }
}
