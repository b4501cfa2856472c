//! Running a scan: configuration, workers, and the results as they are found.
//!
//! ```no_run
//! use portscout::ports::PortSet;
//! use portscout::scan::{Scan, ScanConfig};
//! use portscout::target::Target;
//!
//! let config = ScanConfig::builder()
//!     .targets([Target::parse("127.0.0.1")?])
//!     .ports(PortSet::parse("1-1024")?)
//!     .build()?;
//! for result in Scan::start(&config)?.ports() {
//!     let result = result?;
//!     println!("{} {}", result.socket_addr(), result.state);
//! }
//! # Ok::<(), portscout::Error>(())
//! ```

mod banners;
mod config;
mod drive;
mod engine;
mod event_loop;
mod hosts;
pub(crate) mod job;
mod threads;

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;

pub use crate::plan::{Checkpoint, Order, Shard, Walk};
pub use config::{
    ScanConfig, ScanConfigBuilder, DEFAULT_DETECTIONS, DEFAULT_INITIAL_RTT_TIMEOUT,
    DEFAULT_MAX_RTT_TIMEOUT, DEFAULT_MAX_UNANSWERED, DEFAULT_MAX_WINDOW, DEFAULT_MIN_RTT_TIMEOUT,
    DEFAULT_RETRIES,
};
pub use drive::{DriveOptions, Driven, Ending};
pub use engine::Engine;

use crate::error::Error;
use crate::limits;
use crate::model::{Event, PortResult};
use crate::model::{HostDown, Reason};
use crate::plan::{Cursor, DownReason, Feed, Plan};
use crate::privilege;
use crate::probe::syn::cookie::Cookies;
use crate::probe::syn::sockets::{self as syn_sockets, WorkerSockets};
use crate::probe::syn::PORTS_PER_WORKER;
use crate::probe::ScanType;
use crate::space::ProbeSpace;
use hosts::{Alive, Board, TimingSpec};

/// Opens every worker's SYN sockets and holds its source ports (needs root or `CAP_NET_RAW`).
fn open_syn_sockets(workers: usize) -> Result<Vec<WorkerProbe>, Error> {
    let error = |e: io::Error| match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => Error::NeedsRawSockets,
        _ => Error::Runtime(e),
    };
    syn_sockets::raw_sockets_allowed().map_err(error)?;
    let cookies = Cookies::new();
    let blocks = syn_sockets::hold_ports(workers, PORTS_PER_WORKER).map_err(Error::Runtime)?;
    blocks
        .into_iter()
        .map(|ports| {
            let sockets = WorkerSockets::open(ports).map_err(error)?;
            Ok(WorkerProbe::Syn(Box::new(sockets), cookies.clone()))
        })
        .collect()
}

/// Batches buffered between the workers and the consumer.
const RESULT_BUFFER: usize = 64;

/// Results a worker collects before it hands them over. Batches are sent when full or as
/// soon as the worker would wait, so results still flow as they are found, without one
/// cross-thread wake-up per port.
pub(crate) const BATCH: usize = 256;

/// What a worker needs to know: where its probes come from (claims of the shared plan), its
/// share of the window, the timing, and the board where workers record hosts found up or down.
#[derive(Debug)]
pub(crate) struct WorkerSpec {
    pub feed: Feed,
    pub window: usize,
    pub timing: TimingSpec,
    pub board: Arc<Board>,
    pub probe: WorkerProbe,
}

/// The prober a worker runs, with what it needs opened before the worker starts.
#[derive(Debug, Default)]
pub(crate) enum WorkerProbe {
    /// The connect prober (it opens its sockets as it goes).
    #[default]
    Connect,
    /// The SYN prober: this worker's raw and packet sockets, its source ports, and the scan's
    /// cookie key.
    Syn(Box<WorkerSockets>, Cookies),
}

/// What a worker hands back when it stops: its counters and, after a pause, what it left.
#[derive(Debug, Default)]
pub(crate) struct WorkerEnd {
    pub stats: ScanStats,
    /// Slots of the plan it claimed and did not send.
    pub unsent: Range<u64>,
    /// Probes it started (or queued) that have no result.
    pub unanswered: Vec<SocketAddr>,
    /// Results held for hosts nobody had decided when it finished (every port of them it
    /// probed was silent): the scan decides them once every worker is done.
    pub held: Vec<PortResult>,
}

/// How a finished scan went: what the timing machinery saw and did (per worker while it runs,
/// summed over workers at the end).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Probes sent (each a SYN leaving the host), retransmissions included.
    pub attempts: u64,
    /// Probes sent again after no answer.
    pub retransmissions: u64,
    /// Attempts proven lost: the port answered a later attempt.
    pub confirmed_losses: u64,
    /// Times loss rising above the base rate halved a worker's window.
    pub congestion_cuts: u64,
    /// The largest in-flight window reached, summed over workers.
    pub peak_window: usize,
    /// The most hosts whose state workers held at once, summed over workers: a host's state
    /// lives while it has probes under way (or results held until it is found up or down),
    /// so this stays near the window however wide the scan.
    pub peak_hosts: usize,
    /// The smoothed round-trip time at the end (the highest of the workers').
    pub srtt: Option<Duration>,
    /// The no-answer timeout at the end (the highest of the workers').
    pub timeout: Option<Duration>,
    /// Hosts found down.
    pub hosts_down: u64,
    /// Probes not sent because their host was down.
    pub skipped: u64,
    /// Ports whose probe this host's own kernel refused to send (`local-denied`: a
    /// broadcast address, a local firewall on output). Worth a warning: nothing was learnt
    /// about them.
    pub local_denied: u64,
}

impl ScanStats {
    fn add(&mut self, w: &ScanStats) {
        self.attempts += w.attempts;
        self.retransmissions += w.retransmissions;
        self.confirmed_losses += w.confirmed_losses;
        self.congestion_cuts += w.congestion_cuts;
        self.peak_window += w.peak_window;
        self.peak_hosts += w.peak_hosts;
        self.srtt = self.srtt.max(w.srtt);
        self.timeout = self.timeout.max(w.timeout);
        self.hosts_down += w.hosts_down;
        self.skipped += w.skipped;
        self.local_denied += w.local_denied;
    }
}

/// A running scan: its results ([`Event`]s), in the order they are found, as a blocking
/// [`Iterator`] (or as a [`Stream`] through [`Scan::into_stream`]).
///
/// Every probed port yields one [`Event::Port`], except the ports of a host found down, which
/// yields one [`Event::HostDown`] instead. [`Scan::ports`] keeps only the port results.
/// With [`ScanConfigBuilder::banners`] or [`ScanConfigBuilder::service_version`], an open
/// port's result comes out once, when its banner grab and service detection are over (other
/// results are not held). Dropping the scan stops it: the workers see the
/// closed channel, drop their in-flight probes (closing their sockets) and exit, within
/// about 100 ms (the longest a blocking `connect` waits between looks); banner grabs in
/// progress (and detections) are dropped at once, closing their sockets.
pub struct Scan {
    plan: Arc<Plan>,
    cursor: Arc<Cursor>,
    board: Arc<Board>,
    engine: Engine,
    results: mpsc::Receiver<Vec<Event>>,
    ready: std::vec::IntoIter<Event>,
    workers: Vec<JoinHandle<Result<WorkerEnd, Error>>>,
    /// The edge stage's thread, with `--banners` or `--service-version` (see `banners.rs`).
    stage: Option<JoinHandle<()>>,
    stats: Option<ScanStats>,
    checkpoint: Option<Checkpoint>,
    scan_type: ScanType,
    /// Whether open ports come with banners.
    banners: bool,
    /// Whether open ports come with their service detected.
    services: bool,
    /// PTR lookups while the scan is driven ([`Scan::drive`]).
    names: crate::names::NameOptions,
}

/// Pauses a running scan from another thread (a signal handler's thread, say): see
/// [`Scan::pauser`].
#[derive(Clone, Debug)]
pub struct Pauser(Arc<Cursor>);

impl Pauser {
    /// Stops the scan from sending new probes. Probes in flight get their answer or their
    /// timeout (no retry), their results come out as usual, and then the scan ends;
    /// [`Scan::checkpoint`] says what is left.
    pub fn pause(&self) {
        self.0.pause();
    }

    /// Whether [`Pauser::pause`] was called (by this handle or another one of the same scan).
    pub fn is_paused(&self) -> bool {
        self.0.paused()
    }
}

/// How far a running scan is, readable from any thread while the scan runs (a progress bar's
/// thread, say): see [`Scan::progress`].
#[derive(Clone, Debug)]
pub struct Progress {
    board: Arc<Board>,
    total: u64,
}

impl Progress {
    /// Probes of the plan done so far: decided (whether reported yet or held until their host
    /// is found up), or skipped because their host was found down. A probe waiting for its
    /// answer or to be sent again is not done. Reaches [`Progress::total`] when the scan
    /// completes; stays below it after a pause (what is left goes to the checkpoint).
    pub fn done(&self) -> u64 {
        self.board.done()
    }

    /// The probes this run sends: the plan's length (a shard's share, or what a checkpoint
    /// left), not the whole probe space.
    pub fn total(&self) -> u64 {
        self.total
    }
}

impl Scan {
    /// Resolves the targets and starts scanning with the configured engine.
    ///
    /// Blocks while it resolves names, so inside an async runtime it returns an error; in
    /// async code, resolve with [`ScanConfig::probe_space`] and call [`Scan::with_space`].
    pub fn start(config: &ScanConfig) -> Result<Scan, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Runtime(io::Error::other(
                "Scan::start blocks and was called inside an async runtime; \
                 use ScanConfig::probe_space(), Scan::with_space() and Scan::into_stream() there",
            )));
        }
        Scan::with_plan(config, config.resolve_plan()?)
    }

    /// Starts scanning a probe space that is already known, with the configuration's order,
    /// seed, shard and checkpoint. Does not block.
    ///
    /// Fails if the checkpoint does not fit the space, or if the workers' runtimes or threads
    /// cannot be created.
    pub fn with_space(config: &ScanConfig, space: ProbeSpace) -> Result<Scan, Error> {
        Scan::with_plan(config, config.plan(space)?)
    }

    /// Starts sending a plan's probes (see [`ScanConfig::resolve_plan`]). Does not block.
    ///
    /// Fails if the workers' runtimes or threads cannot be created, and for a SYN scan if raw
    /// sockets are not allowed ([`Error::NeedsRawSockets`]) or no source ports are free; with
    /// [`ScanConfigBuilder::drop_privileges`], if they cannot be dropped.
    pub fn with_plan(config: &ScanConfig, plan: Plan) -> Result<Scan, Error> {
        let plan = Arc::new(plan);
        let engine = config.engine.resolve();
        let budget = || usize::try_from(limits::descriptor_budget()).unwrap_or(usize::MAX);
        // Banner grabs hold a descriptor each, detections up to two (a TLS handshake beside
        // the greeting's connection): with a connect scan's window sized from the
        // descriptors, they get at most a quarter of them, taken off the window. (A grab that
        // still meets EMFILE waits and tries again until its timeout.) Detection is also
        // bounded by the scan's own window when one is given (`--concurrency`).
        let edge = (config.banners.is_some() || config.services.is_some()).then(|| {
            let per_port = if config.services.is_some() { 2 } else { 1 };
            let wanted = match (&config.banners, &config.services) {
                (Some(b), None) => b.concurrency(),
                (Some(b), Some(_)) => b.concurrency().min(DEFAULT_DETECTIONS),
                (None, _) => DEFAULT_DETECTIONS,
            };
            let wanted = match (config.services.is_some(), config.concurrency) {
                (true, Some(window)) => wanted.min(window),
                _ => wanted,
            };
            let ports = match (config.scan_type, config.concurrency) {
                (ScanType::Connect, None) => wanted.min((budget() / 4 / per_port).max(1)),
                (ScanType::Connect, Some(_)) => wanted,
                // A SYN in flight holds no descriptor: the grabs may have them all.
                (ScanType::Syn, _) => wanted.min((budget() / per_port).max(1)),
            };
            banners::EdgeOptions {
                banners: config.banners.clone(),
                services: config.services.clone(),
                concurrency: ports,
                per_port_probing: banners::PER_PORT_PROBING,
                per_port: banners::PER_PORT,
            }
        });
        let grabs = edge.as_ref().map_or(0, |e| {
            e.concurrency * if e.services.is_some() { 2 } else { 1 }
        });
        let window = config
            .concurrency
            .unwrap_or_else(|| match config.scan_type {
                // A SYN in flight holds no descriptor.
                ScanType::Syn => DEFAULT_MAX_WINDOW,
                ScanType::Connect => budget().saturating_sub(grabs).clamp(1, DEFAULT_MAX_WINDOW),
            });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = match engine {
            Engine::Async => 1,
            Engine::Threads => config.workers.unwrap_or(threads::DEFAULT_THREADS),
            Engine::Sharded | Engine::Auto => config.workers.unwrap_or(cores),
        }
        .min(window)
        .max(1);
        let (tx, results) = mpsc::channel(RESULT_BUFFER);
        let board = Arc::new(board_for(config, &plan, window, workers));
        let timing = config.timing_spec(workers);
        let cursor = Arc::new(Cursor::new(plan.len(), workers));
        // Everything that needs a privilege is opened here, in the calling thread, before any
        // worker exists; then the privileges go (if asked), and the workers inherit that.
        let mut probes: Vec<WorkerProbe> = match config.scan_type {
            ScanType::Connect => (0..workers).map(|_| WorkerProbe::Connect).collect(),
            ScanType::Syn => open_syn_sockets(workers)?,
        };
        if config.drop_privileges {
            privilege::drop_privileges().map_err(|e| {
                Error::Runtime(io::Error::new(
                    e.kind(),
                    format!("cannot drop privileges: {e}"),
                ))
            })?;
        }
        let mut spec = |_: usize| WorkerSpec {
            feed: Feed::new(Arc::clone(&plan), Arc::clone(&cursor)),
            window: window.div_ceil(workers),
            timing,
            board: Arc::clone(&board),
            probe: probes.pop().unwrap_or_default(),
        };
        let mut handles = Vec::with_capacity(workers);
        if engine == Engine::Threads {
            for k in 0..workers {
                let (spec, tx) = (spec(k), tx.clone());
                handles.push(spawn(k, move || threads::run_thread(spec, &tx))?);
            }
        } else {
            // Every worker's runtime (its epoll and wake-up descriptors) exists before any
            // worker opens a probe socket: otherwise a busy first worker could take the
            // descriptors a later worker's runtime needs.
            let runtimes = (0..workers)
                .map(|_| current_thread_runtime())
                .collect::<Result<Vec<_>, _>>()?;
            for (k, runtime) in runtimes.into_iter().enumerate() {
                let (spec, tx) = (spec(k), tx.clone());
                handles.push(spawn(k, move || {
                    runtime.block_on(event_loop::run_worker(spec, tx))
                })?);
            }
        }
        // Started after the privileges are dropped, like the workers: a grab is a plain
        // connect. Without banners, the scan reads the workers' channel itself.
        let (results, stage) = match edge {
            Some(options) => {
                let (results, stage) = banners::start(options, results)?;
                (results, Some(stage))
            }
            None => (results, None),
        };
        Ok(Scan {
            plan,
            cursor,
            board,
            engine,
            results,
            ready: Vec::new().into_iter(),
            workers: handles,
            stage,
            stats: None,
            checkpoint: None,
            scan_type: config.scan_type,
            banners: config.banners.is_some(),
            services: config.services.is_some(),
            names: config.names,
        })
    }

    /// Only the port results, for callers that do not need host records.
    pub fn ports(self) -> impl Iterator<Item = Result<PortResult, Error>> {
        self.filter_map(|event| match event {
            Ok(Event::Port(result)) => Some(Ok(result)),
            Ok(Event::HostDown(_)) => None,
            Err(e) => Some(Err(e)),
        })
    }

    /// What the timing machinery saw and did: available once every result has been read.
    pub fn stats(&self) -> Option<ScanStats> {
        self.stats
    }

    /// The results as a [`Stream`], for async code. Works on any executor: the workers run
    /// on their own threads.
    pub fn into_stream(self) -> ScanStream {
        ScanStream(self)
    }

    /// The probe space being scanned.
    pub fn space(&self) -> &ProbeSpace {
        self.plan.space()
    }

    /// The plan: the probes this run sends, in order.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// A handle that tells how far the scan is (from any thread).
    pub fn progress(&self) -> Progress {
        Progress {
            board: Arc::clone(&self.board),
            total: self.plan.len(),
        }
    }

    /// A handle that pauses the scan (from any thread).
    pub fn pauser(&self) -> Pauser {
        Pauser(Arc::clone(&self.cursor))
    }

    /// After a pause, once every result has been read: what is left, to resume from with
    /// [`ScanConfigBuilder::resume`]. `None` if the scan was not paused or failed.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }

    /// The engine running the scan (never [`Engine::Auto`]: the one it chose).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The number of worker threads (event loops or blocking threads).
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    fn join_workers(&mut self) -> Option<Error> {
        let mut first_error = None;
        let mut stats = ScanStats::default();
        let mut left = vec![self.cursor.unclaimed()];
        let mut unanswered = Vec::new();
        let mut held = Vec::new();
        if let Some(stage) = self.stage.take() {
            // It has closed its channel, so it is ending; it cannot fail.
            let _ = stage.join();
        }
        for handle in self.workers.drain(..) {
            let outcome = handle.join().unwrap_or_else(|_| {
                Err(Error::Runtime(io::Error::other("a scan worker panicked")))
            });
            match outcome {
                Ok(w) => {
                    stats.add(&w.stats);
                    left.push(w.unsent);
                    unanswered.extend(w.unanswered);
                    held.extend(w.held);
                }
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some(e);
                    }
                }
            }
        }
        if first_error.is_none() {
            self.decide_held(held, &mut stats);
        }
        if self.stats.is_none() {
            self.stats = Some(stats);
        }
        if self.cursor.paused() && first_error.is_none() && self.checkpoint.is_none() {
            unanswered.sort_unstable();
            unanswered.dedup();
            let mut checkpoint = self.plan.left(&left, unanswered);
            // Only hosts with probes left: the others' decisions are never read again.
            let hosts_left = self.plan.hosts_left(&checkpoint);
            let (up, down) = self.board.decided(|ip| hosts_left.holds(ip));
            checkpoint.up = up;
            checkpoint.down = down
                .into_iter()
                .filter_map(|(a, b, r)| Some((a, b, DownReason::from_reason(r)?)))
                .collect();
            self.checkpoint = Some(checkpoint);
        }
        first_error
    }
}

impl Scan {
    /// Every worker is done: see [`decide_held`].
    fn decide_held(&mut self, held: Vec<PortResult>, stats: &mut ScanStats) {
        let ports = self.plan.space().ports().len();
        self.ready = decide_held(&self.board, ports, held, stats).into_iter();
    }
}

/// Every worker is done: a host still undecided had every probed port silent, unreachable or
/// neutral, in every worker. If any was silent or unreachable, it is down now (one record;
/// `host-unreach`/`net-unreach`/`host-down` if a port was unreachable, else `no-response`); if
/// every one was neutral (`local-denied`: this host's kernel refused to send), nothing is known
/// about it and its ports are reported as they are. One that some worker found up meanwhile
/// gets its ports reported. Returns the events to report, in order.
fn decide_held(
    board: &Board,
    ports: u32,
    mut held: Vec<PortResult>,
    stats: &mut ScanStats,
) -> Vec<Event> {
    let mut events = Vec::new();
    if held.is_empty() {
        return events;
    }
    held.sort_by_key(|r| (r.ip, r.port));
    for host in held.chunk_by(|a, b| a.ip == b.ip) {
        let ip = host[0].ip;
        if board.get(ip).is_none() {
            let unreachable = host.iter().map(|r| r.reason).find(|r| {
                matches!(
                    r,
                    Reason::HostUnreach | Reason::NetUnreach | Reason::HostDown
                )
            });
            let silent = host.iter().any(|r| r.reason == Reason::NoResponse);
            let decision = match (unreachable, silent) {
                (Some(reason), _) => Alive::Down(reason),
                (None, true) => Alive::Down(Reason::NoResponse),
                (None, false) => Alive::Up,
            };
            board.decide(ip, decision);
            if let Alive::Down(reason) = decision {
                stats.hosts_down += 1;
                events.push(Event::HostDown(HostDown {
                    ip,
                    reason,
                    skipped: ports,
                }));
            }
        }
        if board.get(ip) == Some(Alive::Up) {
            events.extend(host.iter().cloned().map(Event::Port));
        }
    }
    events
}

/// The host board a scan of `plan` starts with: empty, or what a checkpoint says was decided.
/// The workers' shared board, knowing what a checkpoint decided, and how many probes a worker
/// may have in flight before the scan's first answer: a SYN scan's [`DEFAULT_MAX_UNANSWERED`]
/// (unless `--concurrency` sets the window), a connect scan's `window` (its descriptors).
fn board_for(config: &ScanConfig, plan: &Plan, window: usize, workers: usize) -> Board {
    let addrs = plan.space().addrs();
    let mut board = match &config.resume {
        Some(c) => {
            let down: Vec<_> = c.down.iter().map(|&(a, b, r)| (a, b, r.reason())).collect();
            Board::seeded(addrs, &c.up, &down)
        }
        None => Board::for_space(addrs),
    };
    let unanswered = match (config.scan_type, config.concurrency) {
        (ScanType::Syn, None) => DEFAULT_MAX_UNANSWERED.max(window),
        _ => window,
    };
    board.set_unanswered_window(unanswered.div_ceil(workers.max(1)));
    board
}

/// What [`simulate`] hands back.
#[cfg(feature = "sim")]
pub(crate) struct Simulated {
    pub events: Vec<Event>,
    /// When each event came out of its worker (simulated time since the start).
    pub times: Vec<Duration>,
    pub stats: ScanStats,
    /// Simulated time from the start to the end of the last worker.
    pub elapsed: Duration,
}

/// Runs `plan` with event-loop workers driving the probers `prober` makes (one per worker), all
/// on one thread with tokio's clock paused: the scheduler of a real scan, on a simulated
/// network (see `crate::sim`). `config`'s worker count (default 1) and concurrency (default
/// [`DEFAULT_MAX_WINDOW`]) size it, as [`Scan::with_plan`] would.
#[cfg(feature = "sim")]
pub(crate) fn simulate<P: crate::probe::Prober>(
    config: &ScanConfig,
    plan: Plan,
    mut prober: impl FnMut() -> P,
) -> Result<Simulated, Error> {
    use futures_util::future::join_all;

    let plan = Arc::new(plan);
    let window = config.concurrency.unwrap_or(DEFAULT_MAX_WINDOW);
    let workers = config.workers.unwrap_or(1).min(window).max(1);
    let board = Arc::new(board_for(config, &plan, window, workers));
    let timing = config.timing_spec(workers);
    let cursor = Arc::new(Cursor::new(plan.len(), workers));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let start = tokio::time::Instant::now();
        let (tx, mut rx) = mpsc::channel(RESULT_BUFFER);
        let drives: Vec<_> = (0..workers)
            .map(|_| {
                let spec = WorkerSpec {
                    feed: Feed::new(Arc::clone(&plan), Arc::clone(&cursor)),
                    window: window.div_ceil(workers),
                    timing,
                    board: Arc::clone(&board),
                    probe: WorkerProbe::Connect,
                };
                event_loop::drive(spec, prober(), tx.clone())
            })
            .collect();
        drop(tx);
        let work = async {
            let ends = join_all(drives).await;
            (ends, tokio::time::Instant::now())
        };
        // A worker hands its batch over before it waits, so the time a batch arrives is the
        // time its events were decided.
        let collect = async {
            let (mut events, mut times) = (Vec::new(), Vec::new());
            while let Some(batch) = rx.recv().await {
                times.resize(times.len() + batch.len(), start.elapsed());
                events.extend(batch);
            }
            (events, times)
        };
        let ((ends, end), (mut events, mut times)) = tokio::join!(work, collect);
        let mut stats = ScanStats::default();
        let mut held = Vec::new();
        for w in ends {
            let w = w?;
            stats.add(&w.stats);
            held.extend(w.held);
        }
        let ports = plan.space().ports().len();
        events.extend(decide_held(&board, ports, held, &mut stats));
        times.resize(events.len(), end - start);
        Ok(Simulated {
            events,
            times,
            stats,
            elapsed: end - start,
        })
    })
}

fn spawn(
    k: usize,
    work: impl FnOnce() -> Result<WorkerEnd, Error> + Send + 'static,
) -> Result<JoinHandle<Result<WorkerEnd, Error>>, Error> {
    std::thread::Builder::new()
        .name(format!("portscout-w{k}"))
        .spawn(work)
        .map_err(Error::Runtime)
}

impl Iterator for Scan {
    type Item = Result<Event, Error>;

    /// Blocks until the next result. Must not be called from within an async runtime (use
    /// the [`Stream`] there).
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.ready.next() {
                return Some(Ok(result));
            }
            match self.results.blocking_recv() {
                Some(batch) => self.ready = batch.into_iter(),
                None if self.workers.is_empty() => return None,
                None => {
                    if let Some(e) = self.join_workers() {
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}

/// A running scan as a [`Stream`] of its results, in the order they are found: the async
/// form of [`Scan`], made by [`Scan::into_stream`]. Dropping it stops the scan.
pub struct ScanStream(Scan);

impl ScanStream {
    /// The scan behind the stream.
    pub fn scan(&self) -> &Scan {
        &self.0
    }
}

impl Stream for ScanStream {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut self.get_mut().0;
        loop {
            if let Some(result) = this.ready.next() {
                return Poll::Ready(Some(Ok(result)));
            }
            match this.results.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(batch)) => this.ready = batch.into_iter(),
                Poll::Ready(None) if this.workers.is_empty() => return Poll::Ready(None),
                // Every worker has dropped its sender, so each has returned: joining is quick.
                Poll::Ready(None) => {
                    if let Some(e) = this.join_workers() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        self.results.close();
        // Workers see the closed channel at their next look and exit; don't wait for them.
    }
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}
