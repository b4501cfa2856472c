//! portscout: an exact, fast TCP port scanner.
//!
//! The library never prints, exits or panics on bad input; the `portscout` binary is a thin
//! layer over it. A scan flows through these modules, in order:
//!
//! | module | role |
//! |---|---|
//! | [`target`], [`ports`] | parse what to scan (addresses, blocks, ranges, names; port specs) |
//! | [`scan::ScanConfig`] | everything a scan needs, validated once, before any socket exists |
//! | [`space`] | targets × ports as a lazy index space (never a list) |
//! | [`plan`] | which probes of the space this run sends, in which order: permutation, shard, work left after a pause |
//! | [`scan`] | the engines: workers that drive the prober over the space, and the results |
//! | [`probe`] | one probe and the single table that turns its answer into a [`PortState`] |
//! | [`packet`] | raw packets of the SYN scan: the SYN emitted, the answers (SYN-ACK, RST, ICMP errors) parsed; pure, never panics, never allocates |
//! | [`privilege`] | dropping root or capabilities once the raw sockets are open |
//! | [`banner`] | `--banners`: what a service on an open port says first (or answers to `HEAD /`), grabbed while the scan goes on |
//! | [`service`] | `-sV`: which service, product and version runs on an open port (built-in probes, TLS, nmap's probe database when installed) |
//! | [`names`] | host names of the addresses scanned: PTR lookups beside the scan, bounded in number and time |
//! | [`output`] | sinks: one printer per format, the only place results are written |
//! | [`merge`] | ndjson outputs read back and merged (shards, resumed runs): deduplicated, ordered, one summary |
//! | `sim` | a simulated network on tokio's paused clock that the real scheduler scans: the timing rules tested without root (feature `sim`, for tests only) |
//! | `history` | scans recorded in SQLite (a [`output::Sink`] beside the printer), listed, and two compared (feature `history`, on by default) |
//!
//! # Where these types come from
//!
//! portscout began as notes on CPython's async machinery that end in one port scanner built
//! four ways in Python: a thread pool, `asyncio.gather`, an async generator and
//! subinterpreters. Each idea there has one home here:
//!
//! | Python idea | here | what it buys |
//! |---|---|---|
//! | generator: lazy values, O(1) memory | [`space::ProbeSpace`]: `probe(i)` computes the i-th `(address, port)` | a /16 × 65535 ports is 4 billion probes in 160 bytes; shards and resume positions are just indices |
//! | coroutine | one probe: [`probe::connect::Pending::wait`], a future that waits for one handshake | a waiting probe costs a socket and a small task, not a thread |
//! | event loop (`asyncio.gather`) | [`scan::Engine::Async`]: one tokio runtime, a bounded in-flight window | the window is sized from free descriptors and shrinks on `EMFILE`: back-pressure, never a lost port (the Python `asyncio.gather` scanner, with no such bound, found none of its 9 open ports) |
//! | async generator with `max` | [`scan::ScanStream`] (a `Stream`) and [`scan::Scan`] (an `Iterator`): results as they are found | take what you need (`.take(1)`, `--max-open`) and drop the rest: dropping stops the scan and closes its sockets |
//! | thread pool (`ThreadPoolExecutor`) | [`scan::Engine::Threads`]: at most 64 OS threads, one blocking `connect` each | the thread-pool design, exact |
//! | subinterpreters: isolated parallel interpreters | [`scan::Engine::Sharded`]: one runtime per core, each owning a disjoint slice of the probe space and its own sockets | parallel with no locks on the probe path; results merge over one channel |
//!
//! Every engine drives the same prober ([`probe::connect::Connector`] on event loops,
//! [`probe::connect::BlockingConnector`] on threads: the same calls, the same socket reuse) and
//! decides each port with the same rules ([`probe::connect`]'s table), so every engine gives
//! the same results.
//!
//! # Examples
//!
//! Runnable programs in `examples/` (each scans this machine's loopback only):
//! `scan_loopback` (the blocking iterator), `first_open` (the stream, stopped after the first
//! open port), `engines` (one scan, each engine, timed, with listeners of its own to find) and
//! `probe_space` (the lazy index space; sends nothing).
//!
//! ```no_run
//! use portscout::ports::PortSet;
//! use portscout::scan::{Engine, Scan, ScanConfig};
//! use portscout::target::Target;
//!
//! let config = ScanConfig::builder()
//!     .engine(Engine::Sharded)
//!     .targets([Target::parse("127.0.0.1")?])
//!     .ports(PortSet::parse("1-1024")?)
//!     .build()?;
//! for result in Scan::start(&config)?.ports() {
//!     let result = result?;
//!     println!("{} {}", result.socket_addr(), result.state);
//! }
//! # Ok::<(), portscout::Error>(())
//! ```
#![deny(missing_docs)]

pub mod banner;
pub mod error;
#[cfg(feature = "history")]
pub mod history;
pub mod limits;
pub mod merge;
pub mod model;
pub mod names;
pub mod output;
pub mod packet;
pub mod plan;
pub mod ports;
pub mod privilege;
pub mod probe;
pub mod scan;
pub mod service;
#[cfg(feature = "sim")]
pub mod sim;
pub mod space;
pub mod target;
pub mod timing;

pub use error::Error;
pub use model::{
    Banner, Event, HostDown, PortResult, PortState, Reason, ScanInfo, ScanType, ShardIdentity,
    StateFilter, Summary, TargetName,
};
