//! The scheduler: a bounded in-flight window of probes on one event loop.
//!
//! Each worker runs [`run_worker`] on its own single-threaded tokio runtime and owns a disjoint
//! slice of the probe space (indices `first, first + step, …`): no locks on the probe path.
//! The window shrinks when the kernel pushes back (`EMFILE`, `ENOBUFS`, …) and grows again by
//! one per window's worth of answered probes (additive increase, multiplicative decrease).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::error::Error;
use crate::model::{PortResult, PortState, Reason};
use crate::probe::{connect, Outcome};
use crate::space::ProbeSpace;

/// How long the scanner may stay starved (back-pressure with nothing in flight) before the
/// scan fails instead of waiting forever.
const STARVED_LIMIT: Duration = Duration::from_secs(30);
/// Attempts that said nothing about the port (self-connections, interrupted calls) before
/// the port is reported `filtered`/`error`.
const MAX_SILENT_RETRIES: u8 = 32;

/// What a worker needs to know.
#[derive(Clone, Debug)]
pub(crate) struct WorkerSpec {
    pub space: Arc<ProbeSpace>,
    pub first: u64,
    pub step: u64,
    pub window: usize,
    pub timeout: Duration,
    pub retries: u8,
}

#[derive(Copy, Clone, Debug)]
struct Job {
    target: SocketAddr,
    /// Retries already spent on no-response.
    retried: u8,
    /// Attempts that said nothing about the port.
    silent: u8,
    /// The last attempt completed a handshake with this host itself; this one confirms it.
    confirming: bool,
}

impl Job {
    fn new(target: SocketAddr) -> Job {
        Job {
            target,
            retried: 0,
            silent: 0,
            confirming: false,
        }
    }
}

/// Results a worker collects before it hands them over. Batches are sent when full or as
/// soon as no answer is ready at once, so results still flow as they are found, without one
/// cross-thread wake-up per port.
pub(crate) const BATCH: usize = 256;

/// Runs one worker's slice to the end, sending every decided port to `results`.
///
/// Returns early (with `Ok`) when the receiver is gone: the scan was dropped.
pub(crate) async fn run_worker(
    spec: WorkerSpec,
    results: mpsc::Sender<Vec<PortResult>>,
) -> Result<(), Error> {
    let WorkerSpec {
        space,
        first,
        step,
        window,
        timeout,
        retries,
    } = spec;
    let mut next = first;
    let mut again: VecDeque<Job> = VecDeque::new();
    let mut in_flight = FuturesUnordered::new();
    let mut cap = window.max(1);
    let mut credit = 0usize;
    let mut starved_since: Option<Instant> = None;
    let mut backoff = Duration::from_millis(1);
    let mut batch: Vec<PortResult> = Vec::with_capacity(BATCH);

    loop {
        while in_flight.len() < cap {
            let job = match again.pop_front() {
                Some(job) => job,
                None => match space.probe(next) {
                    Some(target) => {
                        next = next.saturating_add(step);
                        Job::new(target)
                    }
                    None => break,
                },
            };
            in_flight.push(async move { (job, connect::probe(job.target, timeout).await) });
        }
        if in_flight.is_empty() {
            if !flush(&results, &mut batch).await {
                return Ok(());
            }
            if again.is_empty() {
                return Ok(());
            }
            // Starved: back-pressure with nothing in flight to wait for. Back off and retry.
            let since = *starved_since.get_or_insert_with(Instant::now);
            if since.elapsed() > STARVED_LIMIT {
                return Err(Error::Runtime(io::Error::other(
                    "no socket could be opened for 30 s (out of descriptors, buffers or source ports)",
                )));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(100));
            continue;
        }
        let done = match in_flight.next().now_or_never() {
            Some(done) => done,
            None => {
                // Nothing is ready: hand over what was found, then wait.
                if !flush(&results, &mut batch).await {
                    return Ok(());
                }
                tokio::select! {
                    biased;
                    _ = results.closed() => return Ok(()),
                    done = in_flight.next() => done,
                }
            }
        };
        let Some((mut job, outcome)) = done else {
            continue;
        };
        let decided = match outcome {
            Outcome::Decided { state, reason, rtt } => Some((state, reason, rtt)),
            Outcome::OpenUnconfirmed { rtt } if job.confirming => {
                Some((PortState::Open, Reason::SynAck, Some(rtt)))
            }
            Outcome::OpenUnconfirmed { .. } => {
                job.confirming = true;
                again.push_front(job);
                None
            }
            Outcome::NoResponse if job.retried < retries => {
                job.retried += 1;
                again.push_back(job);
                None
            }
            Outcome::NoResponse => Some((PortState::Filtered, Reason::NoResponse, None)),
            Outcome::Retry if job.silent < MAX_SILENT_RETRIES => {
                job.silent += 1;
                again.push_front(job);
                None
            }
            Outcome::Retry => Some((PortState::Filtered, Reason::Error, None)),
            Outcome::Backpressure => {
                again.push_front(job);
                // Multiplicative decrease: what is in flight now is what the kernel allows.
                cap = in_flight.len().max(1);
                credit = 0;
                continue;
            }
        };
        starved_since = None;
        backoff = Duration::from_millis(1);
        credit += 1;
        if credit >= cap && cap < window {
            cap += 1;
            credit = 0;
        }
        if let Some((state, reason, rtt)) = decided {
            batch.push(PortResult {
                ip: job.target.ip(),
                port: job.target.port(),
                state,
                reason,
                rtt,
            });
            if batch.len() >= BATCH && !flush(&results, &mut batch).await {
                return Ok(());
            }
        }
    }
}

/// Sends the batch, if any; false when the receiver is gone.
async fn flush(results: &mpsc::Sender<Vec<PortResult>>, batch: &mut Vec<PortResult>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
    results.send(full).await.is_ok()
}
