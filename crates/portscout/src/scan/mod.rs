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
//! for result in Scan::start(&config)? {
//!     let result = result?;
//!     println!("{}:{} {}", result.ip, result.port, result.state);
//! }
//! # Ok::<(), portscout::Error>(())
//! ```

mod config;
mod engine;

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

pub use config::{
    ScanConfig, ScanConfigBuilder, DEFAULT_MAX_WINDOW, DEFAULT_RETRIES, DEFAULT_TIMEOUT,
};

use crate::error::Error;
use crate::limits;
use crate::model::PortResult;
use crate::space::ProbeSpace;
use engine::WorkerSpec;

/// Batches buffered between the workers and the consumer.
const RESULT_BUFFER: usize = 64;

/// A running scan: an iterator over its results, in the order they are found.
///
/// Every probed port yields one result. Dropping the scan stops it: workers notice the
/// closed channel, drop their in-flight probes (closing their sockets) and exit.
pub struct Scan {
    space: Arc<ProbeSpace>,
    results: mpsc::Receiver<Vec<PortResult>>,
    ready: std::vec::IntoIter<PortResult>,
    workers: Vec<JoinHandle<Result<(), Error>>>,
}

impl Scan {
    /// Resolves the targets and starts scanning, on one thread per worker.
    ///
    /// Must not be called from within an async runtime (it blocks while resolving names).
    pub fn start(config: &ScanConfig) -> Result<Scan, Error> {
        let runtime = current_thread_runtime()?;
        let space = runtime.block_on(config.probe_space())?;
        Scan::with_space(config, space)
    }

    /// Starts scanning a probe space that is already known.
    ///
    /// Fails only if the workers' runtimes or threads cannot be created.
    pub fn with_space(config: &ScanConfig, space: ProbeSpace) -> Result<Scan, Error> {
        let space = Arc::new(space);
        let window = config.concurrency.unwrap_or_else(|| {
            usize::try_from(limits::descriptor_budget())
                .unwrap_or(usize::MAX)
                .min(DEFAULT_MAX_WINDOW)
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = config.workers.unwrap_or(cores).min(window).max(1);
        let (tx, results) = mpsc::channel(RESULT_BUFFER);
        // Every worker's runtime (its epoll and wake-up descriptors) exists before any worker
        // opens a probe socket: otherwise a busy first worker could take the descriptors a
        // later worker's runtime needs.
        let runtimes = (0..workers)
            .map(|_| current_thread_runtime())
            .collect::<Result<Vec<_>, _>>()?;
        let mut handles = Vec::with_capacity(workers);
        for (k, runtime) in runtimes.into_iter().enumerate() {
            let spec = WorkerSpec {
                space: Arc::clone(&space),
                first: k as u64,
                step: workers as u64,
                window: window.div_ceil(workers),
                timeout: config.timeout,
                retries: config.retries,
            };
            let tx = tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("portscout-worker-{k}"))
                .spawn(move || runtime.block_on(engine::run_worker(spec, tx)))
                .map_err(Error::Runtime)?;
            handles.push(handle);
        }
        let workers = handles;
        Ok(Scan {
            space,
            results,
            ready: Vec::new().into_iter(),
            workers,
        })
    }

    /// The probe space being scanned.
    pub fn space(&self) -> &ProbeSpace {
        &self.space
    }

    fn join_workers(&mut self) -> Option<Error> {
        let mut first_error = None;
        for handle in self.workers.drain(..) {
            let outcome = handle.join().unwrap_or_else(|_| {
                Err(Error::Runtime(io::Error::other("a scan worker panicked")))
            });
            if let (Err(e), None) = (outcome, &first_error) {
                first_error = Some(e);
            }
        }
        first_error
    }
}

impl Iterator for Scan {
    type Item = Result<PortResult, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.ready.next() {
                return Some(Ok(result));
            }
            match self.results.blocking_recv() {
                Some(batch) => self.ready = batch.into_iter(),
                None => return self.join_workers().map(Err),
            }
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        self.results.close();
        // Workers see the closed channel at their next wake-up and exit; don't wait for them.
    }
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}
