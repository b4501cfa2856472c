//! Per-host scheduling state of one worker: round-trip estimate, loss estimate, congestion
//! window, probes waiting, and whether the host is up. Shared by every engine; only the
//! event loops use the windows (a blocking thread has one probe in flight by construction).
//!
//! # Host check
//! Decided on host-level evidence only, from the host column of the probers' tables
//! ([`HostSignal`]; the decision table is in `docs/architecture.md`). A host is *up* once an
//! answer proves it alive: a SYN-ACK, a RST, any ICMP error the target itself sent, or one that
//! names a filter or the port (prohibited, port unreachable). Until then its port results are
//! held back. It is *down* when [`DOWN_AFTER`] of its ports (or all of them, if fewer) ended
//! silent through every attempt or with a host-level unreachable (a router's network or host
//! unreachable, no ARP/NDP answer, no route), nothing proving it alive, and, if any of them was
//! silent and none unreachable, [`DOWN_SILENCE`] and the longest timeout any of its probes got
//! passed since its first probe. A neutral answer
//! (`local-denied`: this host's own kernel refused to send) counts for nothing. A down host
//! gets one [`HostDown`] record, its remaining ports are skipped, and its held results are
//! dropped. With the check off (`--no-host-check`), every host is up from the start. Workers
//! share one [`Board`] so they agree: the first decision on a host is final.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::job::{Job, Next};
use super::ScanStats;
use crate::model::{Event, HostDown, PortResult, PortState, Reason};
use crate::probe::{HostSignal, Outcome};
use crate::target::{AddrRange, AddrSet};
use crate::timing::congestion::{CongestionWindow, Verdict, INITIAL_WINDOW};
use crate::timing::loss::{attempts_unanswered, LossEstimate};
use crate::timing::now;
use crate::timing::rtt::{RtoBounds, RttEstimator, RttSketch};

/// Ports that must stay silent through every attempt, with nothing else of the host answering,
/// before the host is called down.
pub(crate) const DOWN_AFTER: u32 = 8;

/// The floor of silence: the least time a host that never answered must stay silent, from
/// its first probe, before it is given up (called down, its ports `no-response`), nmap's
/// minimum host timeout idea with RFC 6298's initial timeout. Also at the end of the scan: the
/// last attempt of such a host's port waits until then (see [`Hosts::admit`]), and one that
/// ended sooner is sent again, so no held silent result predates its host's floor. A host is
/// judged after at least this and the longest timeout any of its probes got (also the least a
/// probe of unknown timeout, the threads engine's, counts for), so a host slow to start
/// answering (an address that just came up, its SYNs waiting on ARP; IPv6 duplicate address
/// detection; a far host probed on near hosts' timeouts) gets to answer. Adaptive timeouts
/// only: `--timeout` fixes every wait.
pub(crate) const DOWN_SILENCE: Duration = Duration::from_secs(1);

/// A wait may end this much before its deadline (a blocking `poll(2)` counts in whole
/// milliseconds) and still count as having waited out its host's floor of silence.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// The most times a host's timeout is doubled after timeouts (still within the maximum).
const MAX_BACKOFF: u32 = 6;

/// A horizon (loss is counted per horizon of sending) lasts this many timeouts.
const HORIZON_TIMEOUTS: u32 = 1;

/// A worker looks for entries of hosts decided by other workers once it holds this many
/// more than after its last look (or a [`PRUNE_FRACTION`]th more, if that is more).
const PRUNE_MIN: usize = 1024;

/// See [`PRUNE_MIN`]. A look walks the entries, so a sixteenth more is about 16 entries
/// looked at a settle; what it saves is the entries of hosts found down meanwhile, up to a
/// quarter more entries before (which took a wide scan's map past a doubling of its table).
const PRUNE_FRACTION: usize = 16;

/// Idle entries of hosts found up that a worker keeps (their own estimates) before it drops
/// them as they go idle: a few hosts with many ports keep theirs for the whole scan.
const KEEP_IDLE: usize = 256;

/// How long to wait for each probe's answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// Always this long (`--timeout`).
    Fixed(Duration),
    /// From the round-trip estimate (RFC 6298), within bounds.
    Adaptive(RtoBounds),
}

/// The timing settings every worker gets.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct TimingSpec {
    pub timeout: Timeout,
    /// Attempts a silent port gets at most (retries + 1).
    pub max_attempts: u32,
    pub host_check: bool,
    /// This worker's share of `--rate`, probes per second.
    pub rate: Option<f64>,
    /// This worker's share of `--min-rate`.
    pub min_rate: Option<f64>,
}

/// Whether a host is up, as decided by the first worker that could tell.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Alive {
    Up,
    Down(Reason),
}

/// The workers' shared record of decided hosts. Touched only when a worker decides a host,
/// starts a probe of a host it holds no entry for, or settles a silent port of an undecided
/// host, never on the probe path of an up host.
///
/// For a space of at most [`DENSE_LIMIT`] addresses (a /5 of IPv4) it is 4 bits per address
/// of the space, by the address's index, set with one compare-and-swap and read with one load
/// (no lock, no entry per host: 32 KB for a /16, 8 MB for a /8; as much again counts each
/// address's silent ports over every worker); the few decisions it cannot
/// encode, and every decision of a larger space, go to a map.
#[derive(Debug, Default)]
pub(crate) struct Board {
    dense: Option<Dense>,
    hosts: Mutex<HashMap<IpAddr, Alive>>,
    /// The last timeout (µs) for never-answered addresses any worker computed from its
    /// samples (see [`RttSketch::timeout`]), 0 before any: what a worker that has no sample of
    /// its own uses (a thread whose only host is silent).
    rto_hint: AtomicU64,
    /// Each worker's count of probes done (see [`Hosts::done`]), read by [`Board::done`].
    done: Mutex<Vec<Arc<DoneCounter>>>,
    /// Some probe of the scan has been answered (SYN-ACK or RST), by any worker: from then
    /// on every probe holds its worker's window (see [`Hosts::window`]).
    answered: AtomicBool,
    /// Before the scan's first answer, the most probes a worker may have in flight (a memory
    /// bound, and the descriptor bound of a connect scan), however small its window: see
    /// [`Board::set_unanswered_window`]. 0: the worker's maximum window.
    unanswered_window: usize,
}

/// Spaces up to this many addresses get a dense board (64 MB at most, and as much again for
/// the silent-port counts).
pub(crate) const DENSE_LIMIT: u128 = 1 << 27;

/// 4 bits per address of the space: 0 undecided, then [`encode`]'s codes; and 4 more: how
/// many of its ports every worker together saw end silent or unreachable (saturating at 15).
#[derive(Debug)]
struct Dense {
    addrs: AddrSet,
    words: Box<[AtomicU64]>,
    silence: Box<[AtomicU64]>,
}

/// The code of a decision in a dense board: 1 up, 2–5 down for these reasons, 15 in the map.
fn encode(alive: Alive) -> u64 {
    match alive {
        Alive::Up => 1,
        Alive::Down(Reason::NoResponse) => 2,
        Alive::Down(Reason::HostUnreach) => 3,
        Alive::Down(Reason::NetUnreach) => 4,
        Alive::Down(Reason::HostDown) => 5,
        Alive::Down(_) => IN_MAP,
    }
}

const IN_MAP: u64 = 15;

fn decode(code: u64) -> Option<Alive> {
    Some(match code {
        1 => Alive::Up,
        2 => Alive::Down(Reason::NoResponse),
        3 => Alive::Down(Reason::HostUnreach),
        4 => Alive::Down(Reason::NetUnreach),
        5 => Alive::Down(Reason::HostDown),
        _ => return None,
    })
}

impl Dense {
    fn slot(&self, ip: IpAddr) -> Option<(&AtomicU64, u32)> {
        let i = usize::try_from(self.addrs.index_of(ip)?).ok()?;
        Some((self.words.get(i / 16)?, (i % 16) as u32 * 4))
    }

    fn silence_slot(&self, ip: IpAddr) -> Option<(&AtomicU64, u32)> {
        let i = usize::try_from(self.addrs.index_of(ip)?).ok()?;
        Some((self.silence.get(i / 16)?, (i % 16) as u32 * 4))
    }
}

/// One worker's count of probes done: written only by its worker (a plain store, on a cache
/// line of its own, so the probe path shares nothing), read by whoever asks for the progress.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct DoneCounter(AtomicU64);

impl Board {
    /// A board for a scan of `addrs` (dense if the space is small enough).
    pub(crate) fn for_space(addrs: &AddrSet) -> Board {
        let n = addrs.len();
        let dense = (n <= DENSE_LIMIT).then(|| {
            let words = (0..(n as usize).div_ceil(16))
                .map(|_| AtomicU64::new(0))
                .collect();
            let silence = (0..(n as usize).div_ceil(16))
                .map(|_| AtomicU64::new(0))
                .collect();
            Dense {
                addrs: addrs.clone(),
                words,
                silence,
            }
        });
        Board {
            dense,
            ..Board::default()
        }
    }

    /// Before the scan's first answer, a worker may have `per_worker` probes in flight (if that
    /// is above its maximum window): nothing measured says what the path carries, so silence
    /// is bounded only by this, the rate, back-pressure and the per-host windows.
    pub(crate) fn set_unanswered_window(&mut self, per_worker: usize) {
        self.unanswered_window = per_worker;
    }

    /// Whether any probe of the scan has been answered yet.
    pub(crate) fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// A probe was answered (written once: the workers share this cache line).
    fn set_answered(&self) {
        if !self.answered.load(Ordering::Relaxed) {
            self.answered.store(true, Ordering::Relaxed);
        }
    }

    /// One more port of `ip` ended silent (or unreachable) in some worker: the count over
    /// every worker (saturating at 15), or `None` where the board keeps no count (spaces over
    /// [`DENSE_LIMIT`]). A host's ports are spread over the workers' claims, so no worker alone
    /// may see enough of them to call the host down; the shared count lets the worker that
    /// settles the last of them decide, instead of every worker holding the host to the end.
    pub(crate) fn add_silent(&self, ip: IpAddr) -> Option<u32> {
        let (word, shift) = self.dense.as_ref()?.silence_slot(ip)?;
        let mut current = word.load(Ordering::Acquire);
        loop {
            let n = (current >> shift) & 0xf;
            if n == 0xf {
                return Some(15);
            }
            match word.compare_exchange_weak(
                current,
                current + (1 << shift),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(n as u32 + 1),
                Err(now) => current = now,
            }
        }
    }

    /// Records `want` for `ip` unless a decision exists. Returns the final decision and whether
    /// it is this call's.
    pub(crate) fn decide(&self, ip: IpAddr, want: Alive) -> (Alive, bool) {
        let Some((word, shift)) = self.dense.as_ref().and_then(|d| d.slot(ip)) else {
            let mut map = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            return match map.entry(ip) {
                Entry::Occupied(e) => (*e.get(), false),
                Entry::Vacant(e) => {
                    e.insert(want);
                    (want, true)
                }
            };
        };
        let code = encode(want);
        // Held while a decision the bits cannot encode goes in: a reader that sees its code
        // waits for the map.
        let _map = (code == IN_MAP).then(|| self.hosts.lock().unwrap_or_else(|e| e.into_inner()));
        let mut current = word.load(Ordering::Acquire);
        loop {
            let existing = (current >> shift) & 0xf;
            if existing != 0 {
                drop(_map);
                return (self.read(ip, existing), false);
            }
            match word.compare_exchange_weak(
                current,
                current | (code << shift),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        if let Some(mut map) = _map {
            map.insert(ip, want);
        }
        (want, true)
    }

    /// The decision a dense code stands for.
    fn read(&self, ip: IpAddr, code: u64) -> Alive {
        decode(code).unwrap_or_else(|| {
            let map = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            map.get(&ip).copied().unwrap_or(Alive::Up)
        })
    }

    pub(crate) fn get(&self, ip: IpAddr) -> Option<Alive> {
        if let Some((word, shift)) = self.dense.as_ref().and_then(|d| d.slot(ip)) {
            let code = (word.load(Ordering::Acquire) >> shift) & 0xf;
            return (code != 0).then(|| self.read(ip, code));
        }
        let map = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&ip).copied()
    }

    /// A board for `addrs` that knows these hosts already, as runs of consecutive addresses
    /// (from a checkpoint): a resumed scan neither reports them again nor takes an up host's
    /// silent ports for a down host.
    pub(crate) fn seeded(
        addrs: &AddrSet,
        up: &[(IpAddr, IpAddr)],
        down: &[(IpAddr, IpAddr, Reason)],
    ) -> Board {
        let board = Board::for_space(addrs);
        let runs = up
            .iter()
            .map(|&(a, b)| (a, b, Alive::Up))
            .chain(down.iter().map(|&(a, b, r)| (a, b, Alive::Down(r))));
        for (first, last, alive) in runs {
            if let Some(range) = AddrRange::new(first, last) {
                let mut i = 0u128;
                while i < range.len() {
                    if let Some(ip) = range.nth(i) {
                        board.decide(ip, alive);
                    }
                    i += 1;
                }
            }
        }
        board
    }

    /// A counter of probes done for a new worker.
    fn done_counter(&self) -> Arc<DoneCounter> {
        let counter = Arc::new(DoneCounter::default());
        let mut all = self.done.lock().unwrap_or_else(|e| e.into_inner());
        all.push(Arc::clone(&counter));
        counter
    }

    /// Probes done so far by every worker: decided (reported, or held for an undecided host)
    /// or dropped because their host was found down.
    pub(crate) fn done(&self) -> u64 {
        let all = self.done.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }

    /// The decided hosts for which `keep` is true, as runs of consecutive addresses with the
    /// same decision: up, and down with the reason, each sorted by address. O(runs): a range
    /// of silent addresses is one run, however many addresses it has.
    #[allow(clippy::type_complexity)]
    pub(crate) fn decided(
        &self,
        keep: impl Fn(IpAddr) -> bool,
    ) -> (Vec<(IpAddr, IpAddr)>, Vec<(IpAddr, IpAddr, Reason)>) {
        let mut all: Vec<(IpAddr, Alive)> = Vec::new();
        let mut runs: Vec<(IpAddr, IpAddr, Alive)> = Vec::new();
        let push = |runs: &mut Vec<(IpAddr, IpAddr, Alive)>, ip: IpAddr, alive: Alive| match runs
            .last_mut()
        {
            Some((_, last, a)) if *a == alive && next_ip(*last) == Some(ip) => *last = ip,
            _ => runs.push((ip, ip, alive)),
        };
        if let Some(dense) = &self.dense {
            let mut offset = 0u128;
            for range in dense.addrs.ranges() {
                let mut k = 0u128;
                while k < range.len() {
                    let i = (offset + k) as usize;
                    let word = dense.words[i / 16].load(Ordering::Acquire);
                    let code = (word >> ((i % 16) * 4)) & 0xf;
                    if code != 0 {
                        if let Some(ip) = range.nth(k).filter(|&ip| keep(ip)) {
                            push(&mut runs, ip, self.read(ip, code));
                        }
                    }
                    k += 1;
                }
                offset += range.len();
            }
        }
        {
            let map = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            all.extend(map.iter().map(|(&ip, &a)| (ip, a)));
        }
        all.sort_unstable_by_key(|&(ip, _)| ip);
        for (ip, alive) in all {
            if keep(ip) && self.dense.as_ref().is_none_or(|d| d.slot(ip).is_none()) {
                push(&mut runs, ip, alive);
            }
        }
        runs.sort_unstable_by_key(|&(a, _, _)| a);
        let mut up = Vec::new();
        let mut down = Vec::new();
        for (first, last, alive) in runs {
            match alive {
                Alive::Up => up.push((first, last)),
                Alive::Down(r) => down.push((first, last, r)),
            }
        }
        (up, down)
    }
}

/// The address after `ip`, if any.
fn next_ip(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(a) => u32::from(a).checked_add(1).map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(a) => u128::from(a).checked_add(1).map(|n| IpAddr::V6(n.into())),
    }
}

/// A result held until its host is decided. A silent port (`filtered` / `no-response`, the
/// whole of a never-answered host's results) is held as its job alone, its result made again
/// when it is needed: 56 bytes, not 120, for most of what a wide scan holds.
#[derive(Debug)]
enum Held {
    Silent(Job),
    Other(Box<(PortResult, Job)>),
}

impl Held {
    fn new(result: PortResult, job: Job) -> Held {
        if result == Held::silent(&job) {
            Held::Silent(job)
        } else {
            Held::Other(Box::new((result, job)))
        }
    }

    /// The result of a port that stayed silent through every attempt (as [`Job::next`]
    /// reports it).
    fn silent(job: &Job) -> PortResult {
        PortResult {
            ip: job.target.ip(),
            port: job.target.port(),
            state: PortState::Filtered,
            reason: Reason::NoResponse,
            rtt: None,
            banner: None,
            service: None,
        }
    }

    fn into_parts(self) -> (PortResult, Job) {
        match self {
            Held::Silent(job) => (Held::silent(&job), job),
            Held::Other(both) => *both,
        }
    }
}

#[derive(Debug)]
enum Liveness {
    /// Nothing answered yet: results held back, silent (or unreachable) ports counted, since
    /// the first probe, and the last host-level unreachable's reason.
    Unknown {
        silent: u32,
        held: Vec<Held>,
        since: Option<Instant>,
        /// The longest timeout any of its probes was given: silence is judged over at least
        /// that long since the first probe (a probe sent with the initial timeout, before the
        /// scan's first answer, may still be answered by a host farther than those).
        longest: Duration,
        unreachable: Option<Reason>,
    },
    Up,
    Down,
}

/// What a worker holds for a host. A host that never answered (most of a wide scan) needs only
/// this: what [`Liveness::Unknown`] counts, and its probes under way; it waits the scan-wide
/// timeout and is judged on the scan's evidence, in a window of [`INITIAL_WINDOW`]. Its own
/// estimates, window and queue ([`Own`]) are made on its first answer, or when it needs a
/// queue or a window of its own (its probes fill the initial window, the kernel pushes back),
/// and behave from there exactly as if they had been made with the entry.
#[derive(Debug)]
struct Host {
    in_flight: u32,
    /// Its jobs waiting in [`Hosts::later`] for their time.
    later: u32,
    live: Liveness,
    own: Option<Box<Own>>,
}

/// A host's own round trip, loss, congestion window and queue.
#[derive(Debug)]
struct Own {
    rtt: RttEstimator,
    /// RFC 6298 §5.5 back-off: the timeout is doubled this many times (see [`Hosts::timed_out`]).
    backoff: u32,
    backoff_at: Option<Instant>,
    /// A round-trip sample came in since the last doubling.
    sampled: bool,
    loss: LossEstimate,
    window: CongestionWindow,
    deferred: VecDeque<Job>,
}

impl Host {
    /// A host nothing was sent to yet: undecided, or up when there is no host check.
    fn new(host_check: bool) -> Host {
        Host {
            in_flight: 0,
            own: None,
            later: 0,
            live: if host_check {
                Liveness::Unknown {
                    silent: 0,
                    held: Vec::new(),
                    since: None,
                    longest: Duration::ZERO,
                    unreachable: None,
                }
            } else {
                Liveness::Up
            },
        }
    }

    /// Its own state, made now if it has none (a window of at most `max`).
    fn own(&mut self, max: usize) -> &mut Own {
        self.own.get_or_insert_with(|| {
            Box::new(Own {
                rtt: RttEstimator::new(),
                backoff: 0,
                backoff_at: None,
                sampled: false,
                loss: LossEstimate::new(),
                window: CongestionWindow::new(max),
                deferred: VecDeque::new(),
            })
        })
    }

    /// Its window: its own, or the initial one.
    fn window(&self, max: usize) -> usize {
        self.own
            .as_ref()
            .map_or(INITIAL_WINDOW.min(max.max(1)), |o| o.window.get())
    }

    /// Its smoothed round trip, if it answered.
    fn srtt(&self) -> Option<Duration> {
        self.own.as_ref().and_then(|o| o.rtt.srtt())
    }

    /// Jobs waiting in its queue.
    fn deferred(&self) -> usize {
        self.own.as_ref().map_or(0, |o| o.deferred.len())
    }

    /// Something of it is in flight, queued or delayed.
    fn busy(&self) -> bool {
        self.in_flight > 0 || self.deferred() > 0 || self.later > 0
    }
}

/// A job that starts at its time (the last attempt of a port of a host that never answered,
/// timed to end at the host's floor of silence). A wide scan holds about a second of such
/// jobs (every first attempt's port, while the first attempts go out at full speed), so the
/// entry is kept small: the job and one `u64` for the time and the order, 64 bytes (a
/// `(Instant, u64)` made it 80).
#[derive(Debug)]
struct Later {
    /// When it starts, in microseconds since the worker's epoch (rounded up: never early),
    /// shifted left by [`LATER_SEQ_BITS`] above a sequence number that keeps jobs due in the
    /// same microsecond in the order they came (it wraps: only a wrap within one microsecond,
    /// after a million jobs, could swap two of them).
    key: u64,
    job: Job,
}

/// The low bits of [`Later::key`]: a sequence number.
const LATER_SEQ_BITS: u32 = 20;

/// Adds `l` to `later`, growing it by a quarter when it is full, not by doubling: it holds
/// about a second of a wide scan's first attempts, tens of thousands of jobs, and doubling
/// from 65,536 to 131,072 entries (8 MB at 64 bytes) for a few more was the largest single
/// step of a /15's heap (heaptrack). The few extra moves cost nothing next to a probe.
fn push_later(later: &mut BinaryHeap<Reverse<Later>>, l: Later) {
    if later.len() == later.capacity() {
        later.reserve_exact(later.capacity() / 4 + 64);
    }
    later.push(Reverse(l));
}

impl Later {
    fn new(at: Instant, epoch: Instant, seq: u64, job: Job) -> Later {
        let nanos = at.saturating_duration_since(epoch).as_nanos();
        let micros = u64::try_from(nanos.div_ceil(1000)).unwrap_or(u64::MAX >> LATER_SEQ_BITS);
        Later {
            key: micros.min(u64::MAX >> LATER_SEQ_BITS) << LATER_SEQ_BITS
                | (seq & ((1 << LATER_SEQ_BITS) - 1)),
            job,
        }
    }

    /// When it starts, in microseconds since the epoch.
    fn micros(&self) -> u64 {
        self.key >> LATER_SEQ_BITS
    }

    /// When it starts.
    fn at(&self, epoch: Instant) -> Instant {
        epoch + Duration::from_micros(self.micros())
    }
}

impl PartialEq for Later {
    fn eq(&self, other: &Later) -> bool {
        self.key == other.key
    }
}

impl Eq for Later {}

impl PartialOrd for Later {
    fn partial_cmp(&self, other: &Later) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Later {
    fn cmp(&self, other: &Later) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// How long a probe [`Hosts::admit`] lets start waits for its answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wait {
    /// The probe's timeout.
    pub timeout: Duration,
    /// It was stretched to its host's floor of silence (the last attempt of a port of a host
    /// that never answered waits until [`DOWN_SILENCE`] passed since the host's first probe):
    /// give it to [`Job::set_floor`].
    pub floor: bool,
}

/// What [`Hosts::admit`] says about starting a job now.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Start it, waiting this long for an answer.
    Go(Wait),
    /// The host's window is full: the job waits in the host's queue.
    Deferred,
    /// The host is down: the job is dropped.
    Skipped,
    /// Not yet: it is the last attempt of a port of a host that never answered, and it starts
    /// so that it ends at the host's floor of silence; [`Hosts::due`] hands it back then.
    Later,
}

/// What settling an outcome asks of the caller.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    Done,
    /// The kernel pushed back: stop starting probes for now.
    Pressed,
}

/// One worker's view of its hosts.
#[derive(Debug)]
pub(crate) struct Hosts {
    map: HostMap,
    /// The most entries `map` held at once.
    peak_hosts: usize,
    /// When `map` grows past this, entries of hosts another worker decided are dropped (see
    /// [`Hosts::prune_decided`]).
    prune_at: usize,
    rtt: RttEstimator,
    /// Every round trip of the worker, for the timeout of addresses that never answered.
    sketch: RttSketch,
    /// That timeout, recomputed as samples come in (see [`Hosts::learn_rtt`]).
    unanswered_timeout: Option<Duration>,
    /// The loss every answered port of the worker showed: what a host with no answer of its
    /// own is judged by.
    pooled: LossEstimate,
    /// Addresses in the scan's space (the miss budget of never-answered addresses).
    space_hosts: u64,
    window: CongestionWindow,
    in_flight: usize,
    /// Probes in flight that hold no slot of the window: sent before the scan's first answer
    /// (see [`Hosts::window`]).
    unbound: usize,
    /// The most probes in flight at once, bound or not.
    peak_in_flight: usize,
    /// The most probes in flight before the scan's first answer (at least `max_window`).
    unanswered_window: usize,
    deferred: usize,
    /// Last attempts waiting for their time (see [`Admit::Later`]), earliest first.
    later: BinaryHeap<Reverse<Later>>,
    later_seq: u64,
    /// What [`Later`]'s times count from.
    epoch: Instant,
    /// Delay such attempts instead of stretching their wait (an event loop can; a blocking
    /// thread cannot).
    delay_floor: bool,
    max_window: usize,
    spec: TimingSpec,
    board: Arc<Board>,
    ports: u32,
    stats: ScanStats,
    /// The current horizon (loss is counted per horizon of sending) and when it began.
    horizon: u32,
    horizon_start: Instant,
    /// Probes of the plan this worker is done with, and where it shows them to the scan.
    done: u64,
    done_shown: Arc<DoneCounter>,
}

impl Hosts {
    /// State for a worker whose window may reach `max_window`, scanning `ports` ports per host.
    pub fn new(spec: TimingSpec, board: Arc<Board>, ports: u32, max_window: usize) -> Hosts {
        let max_window = max_window.max(1);
        let done_shown = board.done_counter();
        Hosts {
            map: HostMap::default(),
            peak_hosts: 0,
            prune_at: PRUNE_MIN,
            rtt: RttEstimator::new(),
            sketch: RttSketch::new(),
            unanswered_timeout: None,
            pooled: LossEstimate::new(),
            space_hosts: 1,
            window: CongestionWindow::new(max_window),
            in_flight: 0,
            unbound: 0,
            peak_in_flight: 0,
            unanswered_window: board.unanswered_window.max(max_window),
            deferred: 0,
            later: BinaryHeap::new(),
            later_seq: 0,
            epoch: now(),
            delay_floor: false,
            max_window,
            spec,
            board,
            ports,
            stats: ScanStats::default(),
            horizon: 0,
            horizon_start: now(),
            done: 0,
            done_shown,
        }
    }

    /// The scan's space has `n` addresses.
    pub fn set_space_hosts(&mut self, n: u64) {
        self.space_hosts = n.max(1);
    }

    /// `n` more probes of the plan are done with: decided (reported, or held until their host
    /// is decided) or dropped because their host is down. A probe sent again (a retry, a
    /// confirmation) or handed back at a pause is not done.
    fn done(&mut self, n: u64) {
        self.done += n;
        self.done_shown.0.store(self.done, Ordering::Relaxed);
    }

    /// `n` probes counted done are to be sent again.
    fn undone(&mut self, n: u64) {
        if n > 0 {
            self.done -= n;
            self.done_shown.0.store(self.done, Ordering::Relaxed);
        }
    }

    fn host(&mut self, ip: IpAddr) -> &mut Host {
        self.map.get_or_make(ip, self.spec.host_check)
    }

    /// The last attempt of a port of a host that never answered, which must end no sooner
    /// than the host's floor of silence, is delayed to end then (it holds no window meanwhile)
    /// instead of sent now with its wait stretched to the floor (a second in flight, for each
    /// silent address of a wide scan). For event loops, which call [`Hosts::due`].
    pub fn delay_floors(&mut self) {
        self.delay_floor = true;
    }

    /// Jobs delayed to their host's floor of silence whose time has come go to `again`.
    pub fn due(&mut self, again: &mut VecDeque<Job>) {
        if self.later.is_empty() {
            return;
        }
        let now = now().saturating_duration_since(self.epoch).as_micros();
        while self
            .later
            .peek()
            .is_some_and(|Reverse(l)| u128::from(l.micros()) <= now)
        {
            let Some(Reverse(l)) = self.later.pop() else {
                break;
            };
            if let Some(host) = self.map.get_mut(l.job.target.ip()) {
                host.later = host.later.saturating_sub(1);
            }
            again.push_back(l.job);
        }
    }

    /// When the next delayed job is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.later.peek().map(|Reverse(l)| l.at(self.epoch))
    }

    /// Jobs delayed to their host's floor of silence.
    pub fn later(&self) -> usize {
        self.later.len()
    }

    /// Probes waiting for an answer.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Jobs waiting in hosts' queues.
    pub fn deferred(&self) -> usize {
        self.deferred
    }

    /// The worker's window: probes that may wait at once (`behind` = below `--min-rate`, when
    /// only the descriptor limit counts). Probes sent before the scan's first answer do not
    /// hold it (silence is not a measure of what the path carries): they count on top of the
    /// congestion window, up to the worker's share of the unanswered maximum (a memory bound,
    /// the descriptors of a connect scan). So the probes that do hold it stay within the
    /// congestion window, and all of them within that maximum. Not while a host's queue holds
    /// jobs: its own window is full, and more probes taken from the space would only queue
    /// behind it, ahead of its retries (a silent host of 100 ports took 3 s instead of 2).
    pub fn window(&self, behind: bool) -> usize {
        if behind {
            self.max_window
        } else if self.deferred == 0 && (self.unbound > 0 || !self.board.answered()) {
            (self.window.get() + self.unbound).min(self.unanswered_window)
        } else {
            self.window.get()
        }
    }

    /// The timeout for a probe of a host with this estimator, doubled `backoff` times. A host
    /// with no round trip of its own waits `unanswered` (from the worker's sketch), or what
    /// another worker measured, or the initial timeout before the scan's first answer.
    fn timeout_for(
        spec: &TimingSpec,
        own: Option<&Own>,
        unanswered: Option<Duration>,
        board: &Board,
    ) -> Duration {
        let backoff = own.map_or(0, |o| o.backoff);
        match spec.timeout {
            Timeout::Fixed(t) => t,
            Timeout::Adaptive(bounds) => bounds.clamp(
                own.and_then(|o| o.rtt.rto(&bounds))
                    .or(unanswered)
                    .or_else(|| {
                        let hint = board.rto_hint.load(Ordering::Relaxed);
                        (hint > 0).then(|| bounds.clamp(Duration::from_micros(hint)))
                    })
                    .unwrap_or_else(|| bounds.clamp(bounds.initial))
                    .saturating_mul(1 << backoff.min(MAX_BACKOFF)),
            ),
        }
    }

    /// Whether the worker has measured any round trip yet (before that, probes wait out the
    /// initial timeout).
    pub fn has_rtt(&self) -> bool {
        self.rtt.srtt().is_some()
    }

    /// One round-trip sample of any host: the sketch, and (when the timeout it gives changes)
    /// the board's hint for other workers. The percentile is recomputed for each of the first
    /// 64 samples, then every 64th (no walk of the sketch per answer).
    fn learn_rtt(&mut self, rtt: Duration) {
        self.sketch.sample(rtt);
        let n = self.sketch.samples();
        if n > 64 && n % 64 != 0 {
            return;
        }
        if let Timeout::Adaptive(bounds) = self.spec.timeout {
            self.unanswered_timeout = self.sketch.timeout(&bounds);
            if let Some(t) = self.unanswered_timeout {
                // Written only when it changes: the workers share this cache line.
                let micros = u64::try_from(t.as_micros()).unwrap_or(u64::MAX).max(1);
                if self.board.rto_hint.load(Ordering::Relaxed) != micros {
                    self.board.rto_hint.store(micros, Ordering::Relaxed);
                }
            }
        }
    }

    /// The timeout a probe of `ip` would get now.
    pub fn timeout_of(&self, ip: IpAddr) -> Duration {
        Self::timeout_for(
            &self.spec,
            self.map.get(ip).and_then(|h| h.own.as_deref()),
            self.unanswered_timeout,
            &self.board,
        )
    }

    /// Whether `job` may start now. `behind`: sending is below `--min-rate`, so the host's
    /// congestion window does not hold it back.
    pub fn admit(
        &mut self,
        job: Job,
        behind: bool,
        events: &mut Vec<Event>,
        again: &mut VecDeque<Job>,
    ) -> Admit {
        let ip = job.target.ip();
        if self.spec.host_check
            && !self.map.contains(ip)
            && matches!(self.board.get(ip), Some(Alive::Down(_)))
        {
            // A host found down whose entry is gone: no entry made again to skip it.
            self.stats.skipped += 1;
            self.done(1);
            return Admit::Skipped;
        }
        let host = self.map.get_or_make(ip, self.spec.host_check);
        if let Liveness::Unknown { .. } = host.live {
            match self.board.get(ip) {
                Some(Alive::Down(_)) => host.live = Liveness::Down,
                Some(Alive::Up) => {
                    let requeued = Self::up(host, events, Some(again));
                    self.done -= requeued;
                    self.done_shown.0.store(self.done, Ordering::Relaxed);
                }
                None => {}
            }
        }
        if let Liveness::Down = host.live {
            self.stats.skipped += 1;
            self.done(1);
            return Admit::Skipped;
        }
        if host.in_flight as usize >= host.window(self.max_window) && !behind {
            // A port already under way goes first: behind the host's fresh ports it would wait
            // for all of them, and a host's ports get decided (and a silent host found down)
            // only when their attempts are done. (The queue is the host's own: made now.)
            let deferred = &mut host.own(self.max_window).deferred;
            if job.started() {
                deferred.push_front(job);
            } else {
                deferred.push_back(job);
            }
            self.deferred += 1;
            return Admit::Deferred;
        }
        let mut timeout = Self::timeout_for(
            &self.spec,
            host.own.as_deref(),
            self.unanswered_timeout,
            &self.board,
        );
        // The floor of silence: a host that never answered is given up only once
        // DOWN_SILENCE passed since its first probe, so the last attempt of its port waits
        // until then (an address that comes up while it is scanned, a far host probed on near
        // hosts' timeouts: the answer to an earlier SYN still counts). Not with `--timeout`,
        // which fixes every wait; not after an unreachable, which is an answer.
        let floor = match (&mut host.live, self.spec.timeout) {
            (
                Liveness::Unknown {
                    since,
                    unreachable: None,
                    ..
                },
                Timeout::Adaptive(bounds),
            ) => {
                let judged = DOWN_AFTER.min(self.ports);
                let attempts =
                    if let Some(own) = host.own.as_ref().filter(|o| o.loss.attempts() > 0) {
                        own.loss
                            .attempts_needed(u64::from(self.ports), self.spec.max_attempts)
                    } else {
                        attempts_unanswered(
                            &self.pooled,
                            self.space_hosts,
                            judged,
                            self.spec.max_attempts,
                        )
                    };
                // Its first probe leaves now, if none did: the floor counts from here (not
                // from `sent`, which a blocking thread calls once its probe is over).
                let now = now();
                let first = !job.started();
                let until = *since.get_or_insert(now) + DOWN_SILENCE;
                let last = job.silent_attempts() + 1 >= attempts;
                if !last && !self.board.answered() {
                    // Before the scan's first answer every wait is the initial timeout, a
                    // guess. An attempt that is not its port's last waits half of it: the
                    // retransmission leaves sooner (two probes half a second apart, so a short
                    // burst of loss does not take both), while the last attempt still waits
                    // the whole initial timeout, so the address is given up no sooner than
                    // `initial/2 + initial` after its first probe, past its floor of silence.
                    timeout = timeout.min(bounds.clamp(bounds.initial / 2));
                }
                last.then(|| until.saturating_duration_since(now))
                    .filter(|&rest| rest > timeout)
                    .map(|rest| (rest, (!first).then(|| until - timeout)))
            }
            _ => None,
        };
        let floor = match floor {
            Some((_, Some(at))) if self.delay_floor => {
                // Started later, it ends at the floor with its own timeout, and holds no
                // window meanwhile. (Not a port's very first attempt, `--retries 0`: that one
                // leaves now and waits.)
                host.later += 1;
                self.later_seq += 1;
                push_later(
                    &mut self.later,
                    Later::new(at, self.epoch, self.later_seq, job),
                );
                return Admit::Later;
            }
            other => other.map(|(rest, _)| rest),
        };
        Admit::Go(match floor {
            Some(rest) => Wait {
                timeout: rest,
                floor: true,
            },
            None => Wait {
                timeout,
                floor: false,
            },
        })
    }

    /// A probe of `job` was sent (`pending`: it waits for its answer).
    pub fn sent(&mut self, job: &mut Job, pending: bool) {
        let ip = job.target.ip();
        self.stats.attempts += 1;
        let now = now();
        let horizon = match self.spec.timeout {
            Timeout::Fixed(t) => t,
            Timeout::Adaptive(bounds) => self
                .rtt
                .rto(&bounds)
                .unwrap_or_else(|| bounds.clamp(bounds.initial)),
        } * HORIZON_TIMEOUTS;
        if now.saturating_duration_since(self.horizon_start) >= horizon {
            self.horizon += 1;
            self.horizon_start = now;
        }
        job.sent_in = self.horizon;
        if pending {
            self.in_flight += 1;
            self.peak_in_flight = self.peak_in_flight.max(self.in_flight);
            // Before the scan's first answer nothing has answered: the probe waits on silence,
            // which says nothing about what the path carries, and holds no window slot.
            job.unbound = !self.board.answered();
            self.unbound += usize::from(job.unbound);
        }
        let host = self.host(ip);
        if let Liveness::Unknown { since, longest, .. } = &mut host.live {
            since.get_or_insert(now);
            *longest = (*longest).max(job.waited().unwrap_or(DOWN_SILENCE));
        }
        if pending {
            host.in_flight += 1;
        }
        self.peak_hosts = self.peak_hosts.max(self.map.len());
    }

    /// The host is up: its held results are reported. With `again`, a held silent port is
    /// asked again instead: it was given up by the rule for a host that never answered (the
    /// host as a whole at stake, on the scan's evidence), and now the port alone is at stake,
    /// judged by the host's own estimate; one whose attempts waited less than the host's own
    /// round trip starts over (see [`Job::too_soon`]). Returns how many were asked again.
    fn up(host: &mut Host, events: &mut Vec<Event>, again: Option<&mut VecDeque<Job>>) -> u64 {
        let Liveness::Unknown { held, .. } = std::mem::replace(&mut host.live, Liveness::Up) else {
            return 0;
        };
        let srtt = host.srtt();
        let mut requeued = 0;
        match again {
            Some(again) => {
                for (result, mut job) in held.into_iter().map(Held::into_parts) {
                    let early = result.reason == Reason::NoResponse
                        && srtt
                            .zip(job.waited())
                            .is_some_and(|(srtt, waited)| waited < srtt);
                    if early && job.too_soon() {
                        again.push_back(job.restart());
                        requeued += 1;
                    } else if result.reason == Reason::NoResponse && !early {
                        again.push_back(job);
                        requeued += 1;
                    } else {
                        events.push(Event::Port(result));
                    }
                }
            }
            None => events.extend(held.into_iter().map(|h| Event::Port(h.into_parts().0))),
        }
        requeued
    }

    /// Decides `ip` down (or finds it up, if another worker said so first).
    fn down(&mut self, ip: IpAddr, reason: Reason, events: &mut Vec<Event>) {
        let (alive, ours) = self.board.decide(ip, Alive::Down(reason));
        let ports = self.ports;
        let host = self.map.get_or_make(ip, self.spec.host_check);
        match alive {
            Alive::Up => {
                Self::up(host, events, None);
            }
            Alive::Down(_) => {
                host.live = Liveness::Down;
                let dropped = host.deferred();
                if let Some(own) = host.own.as_mut() {
                    own.deferred.clear();
                }
                self.deferred -= dropped;
                self.stats.skipped += dropped as u64;
                self.done(dropped as u64);
                if ours {
                    self.stats.hosts_down += 1;
                    events.push(Event::HostDown(HostDown {
                        ip,
                        reason,
                        skipped: ports,
                    }));
                }
            }
        }
    }

    /// Applies one attempt's outcome: reports, requeues (`again`), learns timing, and lets the
    /// host's waiting jobs start when its window has room.
    pub fn settle(
        &mut self,
        job: Job,
        outcome: Outcome,
        pending: bool,
        events: &mut Vec<Event>,
        again: &mut VecDeque<Job>,
    ) -> Settled {
        let ip = job.target.ip();
        let settled = self.settle_in(job, outcome, pending, events, again);
        self.forget_if_idle(ip);
        settled
    }

    /// Drops `ip`'s entry when nothing of it is in flight, waiting or held, and it has nothing
    /// worth keeping: a host found down (the board remembers it), an undecided host with
    /// nothing held, or, once the worker holds more than [`KEEP_IDLE`] entries, a host found
    /// up (its later probes start from the scan-wide estimates, as a new host does). So a
    /// wide scan holds an entry per address only while that address has probes under way,
    /// and a scan of a few hosts keeps every host's own estimates.
    fn forget_if_idle(&mut self, ip: IpAddr) {
        if self.map.len() > self.prune_at {
            self.prune_decided();
        }
        let crowded = self.map.len() > KEEP_IDLE;
        self.map.remove_if(ip, |host| {
            if host.busy() {
                return false;
            }
            match &host.live {
                Liveness::Down => true,
                Liveness::Up => crowded,
                // Within its floor of silence it keeps its first probe's time (its retries are
                // under way).
                Liveness::Unknown {
                    held,
                    silent,
                    since,
                    ..
                } => {
                    held.is_empty()
                        && *silent == 0
                        && since.is_none_or(|t| now().saturating_duration_since(t) >= DOWN_SILENCE)
                }
            }
        });
    }

    /// Drops the idle entries of hosts this worker holds undecided that another worker has
    /// found down meanwhile (their held results are dropped with them, as at the end of the
    /// worker). Without this, a host whose ports were spread over several workers stayed in
    /// every worker but the deciding one until the end of the scan. O(entries), run each time
    /// the entries grew by a [`PRUNE_FRACTION`]th (at least [`PRUNE_MIN`]), so O(1) a settle in
    /// all.
    fn prune_decided(&mut self) {
        let board = &self.board;
        self.map.retain(|ip, host| {
            host.busy()
                || !matches!(host.live, Liveness::Unknown { .. })
                || !matches!(board.get(ip), Some(Alive::Down(_)))
        });
        self.prune_at = self.map.len() + (self.map.len() / PRUNE_FRACTION).max(PRUNE_MIN);
    }

    fn settle_in(
        &mut self,
        mut job: Job,
        outcome: Outcome,
        pending: bool,
        events: &mut Vec<Event>,
        again: &mut VecDeque<Job>,
    ) -> Settled {
        let ip = job.target.ip();
        let ports = u64::from(self.ports);
        let max_attempts = self.spec.max_attempts;
        let host = self.map.get_or_make(ip, self.spec.host_check);
        let unbound = pending && job.unbound;
        if pending {
            host.in_flight -= 1;
            self.in_flight -= 1;
            if job.unbound {
                self.unbound -= 1;
                job.unbound = false;
            }
            if let Some(own) = host.own.as_mut() {
                let room = own.window.get().saturating_sub(host.in_flight as usize);
                let n = room.min(own.deferred.len());
                again.extend(own.deferred.drain(..n));
                self.deferred -= n;
            }
        }
        if let Liveness::Down = host.live {
            // Its host was found down while it waited: dropped.
            self.done(1);
            return Settled::Done;
        }
        if outcome == Outcome::NoResponse
            && host
                .srtt()
                .zip(job.waited())
                .is_some_and(|(srtt, waited)| waited < srtt)
            && job.too_soon()
        {
            // It waited less than its host's own round trip (a timeout borrowed before the
            // host's first answer): no evidence about the port, asked again.
            self.stats.retransmissions += 1;
            again.push_back(job);
            return Settled::Done;
        }
        // What the answer says about the host as a whole (a confirmed open port: alive).
        let signal = match outcome {
            Outcome::Decided { host, .. } => host,
            Outcome::OpenUnconfirmed { .. } => HostSignal::Alive,
            _ => HostSignal::Neutral,
        };
        let attempts = match outcome {
            Outcome::NoResponse => {
                // RFC 6298 §5.5: a timeout doubles the timeout (once per timeout's length, not
                // once per probe), so that probes stuck in a queue longer than the estimate
                // (which only answered probes feed) stop timing out and piling up again.
                let now = now();
                let current = Self::timeout_for(
                    &self.spec,
                    host.own.as_deref(),
                    self.unanswered_timeout,
                    &self.board,
                );
                // Only while answers still come in (a sample since the last doubling): a host
                // that never answered borrows the worker's timeout and is found down by its
                // silence, and a run of filtered ports is not a reason to wait longer.
                if let Some(own) = host.own.as_mut().filter(|o| {
                    o.sampled
                        && o.backoff_at
                            .is_none_or(|at| now.saturating_duration_since(at) >= current)
                }) {
                    own.backoff = (own.backoff + 1).min(MAX_BACKOFF);
                    own.backoff_at = Some(now);
                    own.sampled = false;
                }
                if let Some(own) = host.own.as_ref().filter(|o| o.loss.attempts() > 0) {
                    own.loss.attempts_needed(ports, max_attempts)
                } else {
                    // Nothing of its own answered: silence is no loss signal, and the window
                    // grows past it (see `CongestionWindow::silent`); not past a probe that
                    // held no slot of it (sent before the scan's first answer).
                    if !unbound {
                        self.window.silent(self.horizon);
                    }
                    if let Liveness::Unknown { .. } = host.live {
                        // Judged as a whole, by its first ports, on the scan's evidence.
                        let judged = DOWN_AFTER.min(self.ports);
                        attempts_unanswered(&self.pooled, self.space_hosts, judged, max_attempts)
                    } else {
                        // Up (another worker saw it answer, its entry was dropped, no host
                        // check, or an ICMP filter answered): each port is at stake, judged
                        // by the per-host rule on the worker's evidence, which trusts little
                        // evidence little (a worker whose first probes were all lost has
                        // none, and gives the maximum).
                        self.pooled.attempts_needed(ports, max_attempts)
                    }
                }
            }
            _ => max_attempts,
        };
        let result = match job.next(outcome, attempts) {
            Next::Report(result)
                if result.reason == Reason::NoResponse
                    && before_floor(&host.live, self.spec.timeout)
                    && job.too_soon() =>
            {
                // The port's last attempt ended before its never-answered host's floor of
                // silence (it was not known to be the last when it left: the loss measured
                // since asks for fewer attempts, or a batching prober shortened it): one more
                // attempt, waiting until the floor, instead of giving the host up early.
                self.stats.retransmissions += 1;
                again.push_back(job);
                return Settled::Done;
            }
            Next::Report(result) => result,
            Next::Again => {
                again.push_front(job);
                return Settled::Done;
            }
            Next::Retry => {
                self.stats.retransmissions += 1;
                again.push_back(job);
                return Settled::Done;
            }
            Next::Backpressure => {
                again.push_front(job);
                let in_flight = host.in_flight as usize;
                host.own(self.max_window).window.pressed(in_flight);
                self.window.pressed(self.in_flight);
                return Settled::Pressed;
            }
        };
        let answered = matches!(
            result.reason,
            Reason::SynAck | Reason::ConnRefused | Reason::Reset
        );
        let mut fresh = None;
        if result.reason == Reason::LocalDenied {
            self.stats.local_denied += 1;
        }
        if answered {
            self.board.set_answered();
            // An answer without a round trip answered an earlier attempt (the SYN scan takes
            // one while a later attempt is under way; `Outcome::unsampled`): that attempt was
            // late, not lost.
            let lost = if result.rtt.is_some() { job.lost() } else { 0 };
            // Its first answer: its own estimates from here.
            let own = host.own(self.max_window);
            own.loss.answered(lost + 1);
            self.pooled.answered(lost + 1);
            if let Some(rtt) = result.rtt {
                if own.rtt.sample(rtt) {
                    // A fresh sample: the estimate catches up, the back-off unwinds by one.
                    own.backoff = own.backoff.saturating_sub(1);
                    own.sampled = true;
                }
                if self.rtt.sample(rtt) {
                    fresh = Some(rtt);
                }
            }
            let now = self.horizon;
            own.window
                .answered(job.sent_in, lost, job.lost_in, now, own.rtt.queueing());
            self.stats.confirmed_losses += u64::from(lost);
            // Delay is a property of one path (host); the worker mixes paths of every length.
            if self
                .window
                .answered(job.sent_in, lost, job.lost_in, now, false)
                == Some(Verdict::Congested)
            {
                self.stats.congestion_cuts += 1;
            }
        }
        let mut requeued = 0;
        let then = match &mut host.live {
            Liveness::Down => None,
            Liveness::Up => {
                events.push(Event::Port(result));
                None
            }
            Liveness::Unknown {
                silent,
                held,
                since,
                longest,
                unreachable,
            } => {
                let silence = result.reason == Reason::NoResponse;
                if !silence && signal == HostSignal::Alive {
                    match self.board.decide(ip, Alive::Up).0 {
                        Alive::Up => {
                            requeued = Self::up(host, events, Some(again));
                            events.push(Event::Port(result));
                        }
                        Alive::Down(_) => host.live = Liveness::Down,
                    }
                    None
                } else if silence || signal == HostSignal::Unreachable {
                    if !silence {
                        *unreachable = Some(result.reason);
                    }
                    // One held result per port: a wide scan holds several hosts' few ports,
                    // so grow by one (a Vec's first push makes room for 4).
                    held.reserve_exact(1);
                    held.push(Held::new(result, job));
                    *silent += 1;
                    // Every worker's count: a host's ports may be spread over several.
                    let seen = self.board.add_silent(ip).unwrap_or(0).max(*silent);
                    // Silence waits for a farther host to answer; an unreachable is an answer.
                    let long_enough = unreachable.is_some()
                        || since.is_none_or(|t| {
                            now().saturating_duration_since(t) >= (*longest).max(DOWN_SILENCE)
                        });
                    (seen >= DOWN_AFTER.min(self.ports) && long_enough)
                        .then(|| unreachable.unwrap_or(Reason::NoResponse))
                } else {
                    // Neutral (local-denied, an error): nothing about the host.
                    held.reserve_exact(1);
                    held.push(Held::new(result, job));
                    None
                }
            }
        };
        // Decided (reported, held, or dropped with its host); ports asked again are not.
        self.done(1);
        self.undone(requeued);
        if let Some(reason) = then {
            self.down(ip, reason, events);
        }
        if let Some(rtt) = fresh {
            self.learn_rtt(rtt);
        }
        Settled::Done
    }

    /// Moves every job waiting in a host's queue to `again` (when nothing is in flight, no
    /// answer would release them).
    pub fn release_all(&mut self, again: &mut VecDeque<Job>) {
        for (_, host) in self.map.iter_mut() {
            if let Some(own) = host.own.as_mut() {
                again.extend(own.deferred.drain(..));
            }
            host.later = 0;
        }
        self.deferred = 0;
        let mut later: Vec<Later> = std::mem::take(&mut self.later)
            .into_iter()
            .map(|Reverse(l)| l)
            .collect();
        later.sort_unstable();
        again.extend(later.into_iter().map(|l| l.job));
    }

    /// At the end of the worker's work: hosts still undecided had every port of this worker
    /// silent. Their held results go to `held`: other workers may still be probing them, so
    /// only the scan, once every worker is done, may call them down (see `Scan`). Those another
    /// worker decided already are reported or dropped here.
    /// Before [`Hosts::finish`]: hosts another worker found up since this one held their
    /// silent ports get those ports asked again (see [`Hosts::up`]) instead of reported as
    /// judged by the rule for never-answered hosts. True if any was: the worker goes on.
    pub fn requeue_found_up(&mut self, events: &mut Vec<Event>, again: &mut VecDeque<Job>) -> bool {
        let mut requeued = 0;
        for (ip, host) in self.map.iter_mut() {
            if let Liveness::Unknown { held, .. } = &host.live {
                if !held.is_empty() && self.board.get(ip) == Some(Alive::Up) {
                    requeued += Self::up(host, events, Some(again));
                }
            }
        }
        self.undone(requeued);
        requeued > 0
    }

    pub fn finish(&mut self, events: &mut Vec<Event>, held_out: &mut Vec<PortResult>) {
        self.release_held(events, |held| {
            held_out.extend(held.drain(..).map(|h| h.into_parts().0))
        });
    }

    /// At a pause: ports held back for hosts nobody has decided are not results yet; they go
    /// to `unanswered` (probed again on resume). Those of hosts another worker found up are
    /// reported; those of hosts found down were never to be.
    pub fn pause(&mut self, events: &mut Vec<Event>, unanswered: &mut Vec<SocketAddr>) {
        let before = unanswered.len();
        self.release_held(events, |held| {
            unanswered.extend(held.drain(..).map(|h| h.into_parts().1.target));
        });
        // Sent again on resume: no longer done.
        self.done -= (unanswered.len() - before) as u64;
        self.done_shown.0.store(self.done, Ordering::Relaxed);
    }

    /// Results held for undecided hosts: reported if the board says up, dropped if down, and
    /// given to `undecided` otherwise.
    fn release_held(&mut self, events: &mut Vec<Event>, mut undecided: impl FnMut(&mut Vec<Held>)) {
        for (ip, host) in self.map.iter_mut() {
            if let Liveness::Unknown { held, .. } = &mut host.live {
                if held.is_empty() {
                    continue;
                }
                match self.board.get(ip) {
                    Some(Alive::Up) => {
                        Self::up(host, events, None);
                    }
                    Some(Alive::Down(_)) => host.live = Liveness::Down,
                    None => undecided(held),
                }
            }
        }
    }

    /// The worker's counters so far.
    pub fn stats(&self) -> ScanStats {
        let timeout = match self.spec.timeout {
            Timeout::Fixed(t) => Some(t),
            Timeout::Adaptive(bounds) => self.rtt.rto(&bounds),
        };
        ScanStats {
            peak_window: self.window.peak().max(self.peak_in_flight),
            peak_hosts: self.peak_hosts,
            srtt: self.rtt.srtt(),
            timeout,
            ..self.stats
        }
    }
}

/// Whether a host that never answered (nothing unreachable either) is still within its floor
/// of silence: less than [`DOWN_SILENCE`] since its first probe (adaptive timeouts only).
fn before_floor(live: &Liveness, timeout: Timeout) -> bool {
    match (live, timeout) {
        (
            Liveness::Unknown {
                since: Some(since),
                unreachable: None,
                ..
            },
            Timeout::Adaptive(_),
        ) => now().saturating_duration_since(*since) + TIMER_SLACK < DOWN_SILENCE,
        _ => false,
    }
}

/// A worker's host entries, by compact keys (as the probers' in-flight tables): an IPv4
/// address as a `u32`, IPv6 in a table of its own. A table slot is then 16 bytes (the key and
/// the box), not 32 (an `IpAddr` takes 17, padded to 24), and a wide scan's table is mostly
/// slots. The entries are boxed: the table's buckets stay small, so the room a growing table
/// keeps empty, and the old table while it grows, cost little.
#[derive(Debug, Default)]
struct HostMap {
    v4: foldhash::HashMap<u32, Box<Host>>,
    v6: foldhash::HashMap<u128, Box<Host>>,
}

impl HostMap {
    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    fn get(&self, ip: IpAddr) -> Option<&Host> {
        match ip {
            IpAddr::V4(a) => self.v4.get(&a.to_bits()),
            IpAddr::V6(a) => self.v6.get(&a.to_bits()),
        }
        .map(|h| &**h)
    }

    fn get_mut(&mut self, ip: IpAddr) -> Option<&mut Host> {
        match ip {
            IpAddr::V4(a) => self.v4.get_mut(&a.to_bits()),
            IpAddr::V6(a) => self.v6.get_mut(&a.to_bits()),
        }
        .map(|h| &mut **h)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.get(ip).is_some()
    }

    /// The state of `ip`, created on first use.
    fn get_or_make(&mut self, ip: IpAddr, host_check: bool) -> &mut Host {
        let make = || Box::new(Host::new(host_check));
        match ip {
            IpAddr::V4(a) => self.v4.entry(a.to_bits()).or_insert_with(make),
            IpAddr::V6(a) => self.v6.entry(a.to_bits()).or_insert_with(make),
        }
    }

    /// Drops `ip`'s entry if it has one and `drop` says so.
    fn remove_if(&mut self, ip: IpAddr, drop: impl FnOnce(&Host) -> bool) {
        fn remove<K: std::hash::Hash + Eq>(
            map: &mut foldhash::HashMap<K, Box<Host>>,
            key: K,
            drop: impl FnOnce(&Host) -> bool,
        ) {
            if let Entry::Occupied(e) = map.entry(key) {
                if drop(e.get()) {
                    e.remove();
                }
            }
        }
        match ip {
            IpAddr::V4(a) => remove(&mut self.v4, a.to_bits(), drop),
            IpAddr::V6(a) => remove(&mut self.v6, a.to_bits(), drop),
        }
    }

    /// Keeps the entries `keep` says to keep.
    fn retain(&mut self, mut keep: impl FnMut(IpAddr, &mut Host) -> bool) {
        self.v4
            .retain(|&k, h| keep(IpAddr::V4(Ipv4Addr::from_bits(k)), h));
        self.v6
            .retain(|&k, h| keep(IpAddr::V6(Ipv6Addr::from_bits(k)), h));
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (IpAddr, &mut Host)> {
        let v4 = self
            .v4
            .iter_mut()
            .map(|(&k, h)| (IpAddr::V4(Ipv4Addr::from_bits(k)), &mut **h));
        let v6 = self
            .v6
            .iter_mut()
            .map(|(&k, h)| (IpAddr::V6(Ipv6Addr::from_bits(k)), &mut **h));
        v4.chain(v6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PortState;

    /// A host-checked spec with a fixed 10 ms timeout and `max_attempts` attempts.
    fn fixed_10ms(max_attempts: u32) -> TimingSpec {
        TimingSpec {
            timeout: Timeout::Fixed(Duration::from_millis(10)),
            max_attempts,
            host_check: true,
            rate: None,
            min_rate: None,
        }
    }

    /// Regression: a worker that ran out of work called a host down when its own probes of
    /// it were silent, while another worker could still be waiting for an answer from it
    /// (which would then be dropped: the first decision is final). Now it hands the held
    /// results to the scan, which decides once every worker is done.
    #[test]
    fn a_worker_that_finishes_does_not_call_a_host_down_alone() {
        let spec = fixed_10ms(1);
        let board = Arc::new(Board::default());
        let mut hosts = Hosts::new(spec, Arc::clone(&board), 100, 8);
        let target: SocketAddr = "198.18.0.2:80".parse().unwrap();
        let (mut events, mut again) = (Vec::new(), VecDeque::new());
        let mut job = Job::new(target);
        assert!(matches!(
            hosts.admit(job, false, &mut events, &mut again),
            Admit::Go(_)
        ));
        hosts.sent(&mut job, true);
        hosts.settle(job, Outcome::NoResponse, true, &mut events, &mut again);
        assert!(
            events.is_empty(),
            "a silent port of an undecided host is held"
        );
        let mut held = Vec::new();
        hosts.finish(&mut events, &mut held);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].port, 80);
        assert_eq!(board.get(target.ip()), None, "not decided by one worker");

        // Another worker found it up: a finishing worker reports what it held.
        let mut hosts = Hosts::new(spec, Arc::clone(&board), 100, 8);
        let mut job = Job::new(target);
        hosts.admit(job, false, &mut events, &mut again);
        hosts.sent(&mut job, true);
        hosts.settle(job, Outcome::NoResponse, true, &mut events, &mut again);
        board.decide(target.ip(), Alive::Up);
        let mut held = Vec::new();
        hosts.finish(&mut events, &mut held);
        assert!(held.is_empty());
        assert_eq!(events.len(), 1);
    }

    /// Issue 18: the board keeps 4 bits per address of the space (no entry per host), agrees
    /// on the first decision, and lists decided hosts as runs: a /16 decided down but for two
    /// hosts is a handful of runs, not 65,536 entries (the resume file is made from these).
    #[test]
    fn the_board_is_dense_and_lists_runs() {
        let space: AddrSet = [AddrRange::new(
            "198.18.0.0".parse().unwrap(),
            "198.18.255.255".parse().unwrap(),
        )
        .unwrap()]
        .into_iter()
        .collect();
        let board = Board::for_space(&space);
        assert!(board.dense.is_some());
        let up: IpAddr = "198.18.7.7".parse().unwrap();
        let odd: IpAddr = "198.18.9.9".parse().unwrap();
        let outside: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(board.decide(up, Alive::Up), (Alive::Up, true));
        assert_eq!(
            board.decide(up, Alive::Down(Reason::NoResponse)),
            (Alive::Up, false)
        );
        // A reason the bits do not encode, and an address outside the space: the map.
        let unusual = Alive::Down(Reason::AdminProhibited);
        assert_eq!(board.decide(odd, unusual), (unusual, true));
        assert_eq!(board.get(odd), Some(unusual));
        assert_eq!(board.decide(outside, Alive::Up), (Alive::Up, true));
        for i in 0..65536u32 {
            let ip = IpAddr::V4((u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)) + i).into());
            board.decide(ip, Alive::Down(Reason::NoResponse));
        }
        assert_eq!(
            board.hosts.lock().unwrap().len(),
            2,
            "only the odd ones in the map"
        );
        let (ups, downs) = board.decided(|_| true);
        assert_eq!(ups, vec![(up, up), (outside, outside)]);
        assert_eq!(downs.len(), 4, "{downs:?}");
        assert_eq!(downs[2], (odd, odd, Reason::AdminProhibited));
        // Seeded from those runs, a board says the same.
        let seeded = Board::seeded(&space, &ups, &downs);
        assert_eq!(seeded.decided(|_| true), (ups, downs));
    }

    /// A delayed job's entry is 64 bytes (80 with an `Instant` and a `u64`), never starts
    /// before its time, and jobs come out earliest first, those due at the same time in the
    /// order they came.
    #[test]
    fn delayed_jobs_are_small_and_keep_their_time_and_order() {
        assert!(
            std::mem::size_of::<Later>() <= 64,
            "{} bytes",
            std::mem::size_of::<Later>()
        );
        let epoch = Instant::now();
        let job = |port: u16| Job::new(SocketAddr::new("198.18.0.2".parse().unwrap(), port));
        let times = [
            Duration::from_nanos(1),
            Duration::from_micros(5),
            Duration::from_nanos(5_001),
            Duration::from_millis(950),
            Duration::from_secs(3 * 3600),
        ];
        for t in times {
            let l = Later::new(epoch + t, epoch, 7, job(1));
            let at = l.at(epoch);
            assert!(at >= epoch + t, "{t:?} starts early: {:?}", at - epoch);
            assert!(at - (epoch + t) < Duration::from_micros(1), "{t:?}");
        }
        // Before the epoch: at the epoch.
        let early = epoch.checked_sub(Duration::from_millis(1)).unwrap_or(epoch);
        assert_eq!(Later::new(early, epoch, 0, job(1)).at(epoch), epoch);
        // Earliest first; equal times in the order they came (sequence numbers past a wrap
        // of their bits).
        let mut heap = BinaryHeap::new();
        let t = epoch + Duration::from_millis(10);
        let seq0 = (1 << LATER_SEQ_BITS) * 3 + 5;
        for (i, port) in [30u16, 31, 32].into_iter().enumerate() {
            heap.push(Reverse(Later::new(t, epoch, seq0 + i as u64, job(port))));
        }
        heap.push(Reverse(Later::new(
            t + Duration::from_micros(1),
            epoch,
            1,
            job(40),
        )));
        heap.push(Reverse(Later::new(
            t - Duration::from_micros(1),
            epoch,
            9,
            job(20),
        )));
        let order: Vec<u16> = std::iter::from_fn(|| heap.pop())
            .map(|Reverse(l)| l.job.target.port())
            .collect();
        assert_eq!(order, [20, 30, 31, 32, 40]);
    }

    /// The delayed jobs' heap grows by a quarter, not by doubling: holding n jobs it never
    /// keeps room for many more than n / 4 (doubling kept up to n).
    #[test]
    fn the_delayed_jobs_heap_grows_by_a_quarter() {
        let epoch = Instant::now();
        let job = Job::new("198.18.0.2:22".parse().unwrap());
        let mut later = BinaryHeap::new();
        for n in 1..=100_000u64 {
            push_later(&mut later, Later::new(epoch, epoch, n, job));
            let room = later.capacity() - later.len();
            assert!(
                room <= later.len() / 4 + 64,
                "{n} jobs, room for {room} more"
            );
        }
    }

    /// Entries of hosts another worker found down (this one held their silent ports, idle)
    /// are dropped once the entries grew by a sixteenth (at least PRUNE_MIN) since the last
    /// look, so beside 20,000 undecided hosts a worker never holds more than 1,250 such dead
    /// entries (a quarter let 5,000 pile up, which took a wide scan's map past a doubling).
    #[test]
    fn entries_of_hosts_found_down_elsewhere_go_soon() {
        let spec = fixed_10ms(1);
        let board = Arc::new(Board::default());
        let mut hosts = Hosts::new(spec, Arc::clone(&board), 100, 8);
        let (mut events, mut again) = (Vec::new(), VecDeque::new());
        let ip = |i: u32| IpAddr::V4(Ipv4Addr::from_bits(0xc612_0000 + i));
        // One silent port of `ip(i)` held, its host undecided (1 of 100 ports).
        let mut hold = |hosts: &mut Hosts, i: u32| {
            let mut job = Job::new(SocketAddr::new(ip(i), 22));
            assert!(matches!(
                hosts.admit(job, false, &mut events, &mut again),
                Admit::Go(_)
            ));
            hosts.sent(&mut job, true);
            hosts.settle(job, Outcome::NoResponse, true, &mut events, &mut again);
        };
        const LIVE: u32 = 20_000;
        for i in 0..LIVE {
            hold(&mut hosts, i);
        }
        assert_eq!(hosts.map.len(), LIVE as usize);
        let mut most = 0;
        for i in LIVE..LIVE + 50_000 {
            hold(&mut hosts, i);
            // Another worker settles its other ports and finds it down.
            board.decide(ip(i), Alive::Down(Reason::NoResponse));
            most = most.max(hosts.map.len());
        }
        let dead = most - LIVE as usize;
        assert!(
            dead <= (LIVE / 16) as usize + 1,
            "{dead} dead entries at once"
        );
    }

    /// The host map's compact keys find every entry again, each under its own family: an
    /// IPv4 address and the IPv6 address with the same low bits (or its IPv4-mapped form)
    /// are different hosts.
    #[test]
    fn the_host_map_finds_each_host_under_its_own_address() {
        let mut map = HostMap::default();
        let ips: Vec<IpAddr> = [
            "198.18.0.2",
            "::c612:2",
            "::ffff:198.18.0.2",
            "0.0.0.0",
            "::",
            "255.255.255.255",
            "2001:db8::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for (i, &ip) in ips.iter().enumerate() {
            assert!(!map.contains(ip), "{ip} before it was made");
            map.get_or_make(ip, true).in_flight = i as u32 + 1;
        }
        assert_eq!(map.len(), ips.len());
        for (i, &ip) in ips.iter().enumerate() {
            assert_eq!(map.get(ip).map(|h| h.in_flight), Some(i as u32 + 1), "{ip}");
            assert_eq!(map.get_or_make(ip, true).in_flight, i as u32 + 1, "{ip}");
        }
        let mut seen: Vec<(IpAddr, u32)> =
            map.iter_mut().map(|(ip, h)| (ip, h.in_flight)).collect();
        seen.sort();
        let mut want: Vec<(IpAddr, u32)> = ips.iter().zip(1..).map(|(&ip, n)| (ip, n)).collect();
        want.sort();
        assert_eq!(seen, want);
        // Removed only when asked, and only that one.
        map.remove_if(ips[0], |_| false);
        assert!(map.contains(ips[0]));
        map.remove_if(ips[0], |h| h.in_flight == 1);
        assert!(!map.contains(ips[0]));
        assert!(map.contains(ips[1]) && map.contains(ips[2]));
        map.retain(|ip, h| ip.is_ipv4() || h.in_flight == 2);
        let left: Vec<IpAddr> = map.iter_mut().map(|(ip, _)| ip).collect();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(map.contains(ips[1]) && map.contains(ips[3]) && map.contains(ips[5]));
    }

    /// Issue 18: a host that never answered is a small record (its in-flight count, silent
    /// count, first-probe time, longest timeout, held results, unreachable reason, delayed
    /// jobs), not the whole per-host state (round trip, back-off, loss, congestion window,
    /// queue): 304 bytes before, in every entry of a wide scan's map. The full state is made
    /// on the host's first answer.
    #[test]
    fn a_never_answered_host_is_a_small_record() {
        let (host, own) = (std::mem::size_of::<Host>(), std::mem::size_of::<Own>());
        // A map entry: the key and the box in the table (plus its share of empty room), the
        // record on the heap with the allocator's 16 bytes.
        let slot = std::mem::size_of::<(u32, Box<Host>)>();
        println!("host record {host} B, own state {own} B, table slot {slot} B");
        assert!(host <= 96, "{host} bytes");
        // An IPv4 host's slot is its address as a `u32` and the box (an `IpAddr` key made it
        // 32 bytes).
        assert_eq!(slot, 16);
        let spec = TimingSpec {
            timeout: Timeout::Adaptive(RtoBounds {
                min: Duration::from_millis(50),
                max: Duration::from_secs(10),
                initial: Duration::from_secs(1),
            }),
            max_attempts: 11,
            host_check: true,
            rate: None,
            min_rate: None,
        };
        let mut hosts = Hosts::new(spec, Arc::new(Board::default()), 1, 4096);
        let (mut events, mut again) = (Vec::new(), VecDeque::new());
        let silent: SocketAddr = "198.18.0.2:22".parse().unwrap();
        let live: SocketAddr = "198.18.0.3:22".parse().unwrap();
        for target in [silent, live] {
            let mut job = Job::new(target);
            assert!(matches!(
                hosts.admit(job, false, &mut events, &mut again),
                Admit::Go(_)
            ));
            hosts.sent(&mut job, true);
            let outcome = if target == live {
                Outcome::Decided {
                    state: PortState::Closed,
                    reason: Reason::ConnRefused,
                    host: HostSignal::Alive,
                    rtt: Some(Duration::from_millis(5)),
                }
            } else {
                Outcome::NoResponse
            };
            hosts.settle(job, outcome, true, &mut events, &mut again);
        }
        // The silent one waits for its retry with no state of its own; the one that answered
        // has its own.
        assert!(hosts.map.get(silent.ip()).unwrap().own.is_none());
        assert!(hosts.map.get(live.ip()).unwrap().own.is_some());
    }

    /// Issue 18: a worker holds a host's entry only while the host has something under way: a
    /// silent /18 of one port, each address decided down after its attempts, leaves no entry
    /// behind, and the most entries held at once stays near the probes in flight.
    #[test]
    fn finished_hosts_leave_no_entry() {
        // On tokio's paused clock (the scheduler's clock, see `timing::now`): each probe waits
        // 64 steps of 20 ms, so a host's silence lasts over the 1 s the host check asks for.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let spec = fixed_10ms(2);
            let board = Arc::new(Board::default());
            let mut hosts = Hosts::new(spec, Arc::clone(&board), 1, 64);
            let (mut events, mut again) = (Vec::new(), VecDeque::new());
            let mut in_flight: VecDeque<Job> = VecDeque::new();
            let mut next = 0u32;
            let base = u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0));
            while next < 16384 || !in_flight.is_empty() || !again.is_empty() {
                // Keep 64 probes in flight, retries first.
                while in_flight.len() < 64 {
                    let job = match again.pop_front() {
                        Some(job) => job,
                        None if next < 16384 => {
                            next += 1;
                            Job::new(SocketAddr::new(IpAddr::V4((base + next - 1).into()), 22))
                        }
                        None => break,
                    };
                    if let Admit::Go(_) = hosts.admit(job, false, &mut events, &mut again) {
                        let mut job = job;
                        job.set_wait(Duration::ZERO);
                        hosts.sent(&mut job, true);
                        in_flight.push_back(job);
                    }
                }
                tokio::time::advance(Duration::from_millis(20)).await;
                if let Some(job) = in_flight.pop_front() {
                    hosts.settle(job, Outcome::NoResponse, true, &mut events, &mut again);
                }
            }
            assert_eq!(hosts.stats().hosts_down, 16384);
            assert_eq!(hosts.map.len(), 0, "entries of finished hosts left behind");
            assert!(
                hosts.peak_hosts <= 64 + 1,
                "{} entries at once",
                hosts.peak_hosts
            );
        });
    }

    /// The progress count: every probe is done exactly once, whether reported, held, dropped
    /// with its host found down (waiting in the host's queue, in flight, or not yet admitted),
    /// and never while it is to be sent again.
    #[test]
    fn every_probe_is_done_once_however_it_ends() {
        let spec = fixed_10ms(2);
        let board = Arc::new(Board::default());
        let mut hosts = Hosts::new(spec, Arc::clone(&board), 1, 2);
        let (mut events, mut again) = (Vec::new(), VecDeque::new());
        let probe = |s: &str| Job::new(s.parse::<SocketAddr>().unwrap());

        // A host that turns out unreachable: two probes in flight, two waiting for the window.
        let (mut a, mut b, c, d) = (
            probe("198.18.0.9:1"),
            probe("198.18.0.9:2"),
            probe("198.18.0.9:3"),
            probe("198.18.0.9:4"),
        );
        assert!(matches!(
            hosts.admit(a, false, &mut events, &mut again),
            Admit::Go(_)
        ));
        hosts.sent(&mut a, true);
        assert!(matches!(
            hosts.admit(b, false, &mut events, &mut again),
            Admit::Go(_)
        ));
        hosts.sent(&mut b, true);
        assert_eq!(
            hosts.admit(c, false, &mut events, &mut again),
            Admit::Deferred
        );
        assert_eq!(
            hosts.admit(d, false, &mut events, &mut again),
            Admit::Deferred
        );
        assert_eq!(board.done(), 0);
        let unreachable = Outcome::Decided {
            state: PortState::Filtered,
            reason: Reason::HostUnreach,
            rtt: None,
            host: HostSignal::Unreachable,
        };
        // Settling `a` frees room for `c` (to `again`), then finds the host down: `d`, still
        // in the host's queue, is dropped.
        hosts.settle(a, unreachable, true, &mut events, &mut again);
        assert!(matches!(events[..], [Event::HostDown(_)]), "{events:?}");
        assert_eq!(
            board.done(),
            2,
            "the answered probe and the one left in the queue"
        );
        hosts.settle(b, Outcome::NoResponse, true, &mut events, &mut again);
        assert_eq!(board.done(), 3, "in flight when its host went down");
        let c = again
            .pop_front()
            .expect("released before the host went down");
        assert_eq!(
            hosts.admit(c, false, &mut events, &mut again),
            Admit::Skipped
        );
        assert_eq!(board.done(), 4, "never sent");

        // A silent port is sent again (not done), then answers.
        let mut silent = probe("198.18.0.10:5");
        hosts.admit(silent, false, &mut events, &mut again);
        hosts.sent(&mut silent, true);
        hosts.settle(silent, Outcome::NoResponse, true, &mut events, &mut again);
        assert_eq!(board.done(), 4, "a retry is not done");
        let mut silent = again.pop_front().expect("sent again");
        hosts.admit(silent, false, &mut events, &mut again);
        hosts.sent(&mut silent, true);
        let closed = Outcome::Decided {
            state: PortState::Closed,
            reason: Reason::ConnRefused,
            rtt: Some(Duration::from_micros(50)),
            host: HostSignal::Alive,
        };
        hosts.settle(silent, closed, true, &mut events, &mut again);
        assert_eq!(board.done(), 5);

        // Another worker's count adds up.
        let mut other = Hosts::new(spec, Arc::clone(&board), 100, 2);
        let mut e = probe("198.18.0.10:6");
        other.admit(e, false, &mut events, &mut again);
        other.sent(&mut e, true);
        other.settle(e, closed, true, &mut events, &mut again);
        assert_eq!(board.done(), 6);

        // A silent port of an undecided host is held (done), until a pause hands it back to
        // be sent again on resume (not done any more).
        let mut held = probe("198.18.0.11:7");
        other.admit(held, false, &mut events, &mut again);
        other.sent(&mut held, true);
        let filtered = Outcome::Decided {
            state: PortState::Filtered,
            reason: Reason::NoResponse,
            rtt: None,
            host: HostSignal::Neutral,
        };
        other.settle(held, filtered, true, &mut events, &mut again);
        assert_eq!(board.done(), 7);
        let mut unanswered = Vec::new();
        other.pause(&mut events, &mut unanswered);
        assert_eq!(unanswered.len(), 1);
        assert_eq!(board.done(), 6);
    }

    /// Issue 15: the host check reads the host column only. Port-level answers (an ICMP error
    /// of the target itself, a prohibited code from anyone) make a host up whatever their
    /// reason; host-level unreachables count like silence, without its 1 s wait; neutral
    /// answers (`local-denied`) count for nothing.
    #[test]
    fn only_host_level_evidence_decides_a_host() {
        let spec = fixed_10ms(1);
        let board = Arc::new(Board::default());
        let mut hosts = Hosts::new(spec, Arc::clone(&board), 100, 64);
        let (mut events, mut again) = (Vec::new(), VecDeque::new());
        let mut settle =
            |hosts: &mut Hosts, target: &str, reason, host, events: &mut Vec<Event>| {
                let mut job = Job::new(target.parse::<SocketAddr>().unwrap());
                assert!(matches!(
                    hosts.admit(job, false, events, &mut again),
                    Admit::Go(_)
                ));
                hosts.sent(&mut job, true);
                let outcome = Outcome::Decided {
                    state: PortState::Filtered,
                    reason,
                    rtt: Some(Duration::from_micros(100)),
                    host,
                };
                hosts.settle(job, outcome, true, events, &mut again);
            };
        // A firewall on the host: 20 ports "host unreachable" sent by the host itself (alive).
        for port in 1..=20 {
            let t = format!("198.18.0.2:{port}");
            settle(
                &mut hosts,
                &t,
                Reason::HostUnreach,
                HostSignal::Alive,
                &mut events,
            );
        }
        assert_eq!(board.get("198.18.0.2".parse().unwrap()), Some(Alive::Up));
        assert_eq!(events.len(), 20, "every port reported: {events:?}");
        // This host's own refusals: nothing decided, however many.
        for port in 1..=20 {
            let t = format!("198.18.0.3:{port}");
            settle(
                &mut hosts,
                &t,
                Reason::LocalDenied,
                HostSignal::Neutral,
                &mut events,
            );
        }
        assert_eq!(board.get("198.18.0.3".parse().unwrap()), None);
        // A router's unreachable for every port: down at the 8th, at once.
        events.clear();
        for port in 1..=7 {
            let t = format!("198.18.0.4:{port}");
            settle(
                &mut hosts,
                &t,
                Reason::HostUnreach,
                HostSignal::Unreachable,
                &mut events,
            );
        }
        assert_eq!(
            board.get("198.18.0.4".parse().unwrap()),
            None,
            "7 are not enough"
        );
        settle(
            &mut hosts,
            "198.18.0.4:8",
            Reason::HostUnreach,
            HostSignal::Unreachable,
            &mut events,
        );
        assert!(
            matches!(
                events[..],
                [Event::HostDown(HostDown {
                    reason: Reason::HostUnreach,
                    ..
                })]
            ),
            "{events:?}"
        );
        // Unreachables then a port-level answer before the 8th: up, and what was held comes out.
        events.clear();
        for port in 1..=7 {
            let t = format!("198.18.0.5:{port}");
            settle(
                &mut hosts,
                &t,
                Reason::HostUnreach,
                HostSignal::Unreachable,
                &mut events,
            );
        }
        settle(
            &mut hosts,
            "198.18.0.5:8",
            Reason::AdminProhibited,
            HostSignal::Alive,
            &mut events,
        );
        assert_eq!(board.get("198.18.0.5".parse().unwrap()), Some(Alive::Up));
        assert_eq!(events.len(), 8, "{events:?}");
        assert_eq!(hosts.stats().local_denied, 20);
    }
}
