//! The threads engine (the seed's thread pool, done exactly): blocking sockets on a bounded
//! set of OS threads, each owning a disjoint slice of the probe space.
//!
//! Each thread probes one port at a time with a blocking `connect(2)` bounded by
//! `SO_SNDTIMEO`, in slices of at most 100 ms so that a dropped scan stops promptly and
//! found ports are handed over while a slow probe waits. Retries happen in place.

use std::io;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::event_loop::STARVED_LIMIT;
use super::job::{Job, Next};
use super::{WorkerSpec, BATCH};
use crate::error::Error;
use crate::model::PortResult;
use crate::probe::connect::BlockingConnector;

/// The default number of threads (the bound: no thread per port).
pub(crate) const DEFAULT_THREADS: usize = 64;

/// Runs one thread's slice to the end, sending every decided port to `results`.
///
/// Returns early (with `Ok`) when the receiver is gone: the scan was dropped.
pub(crate) fn run_thread(
    spec: WorkerSpec,
    results: &mpsc::Sender<Vec<PortResult>>,
) -> Result<(), Error> {
    let WorkerSpec {
        space,
        first,
        step,
        timeout,
        retries,
        ..
    } = spec;
    let mut connector = BlockingConnector::new();
    let mut batch: Vec<PortResult> = Vec::with_capacity(BATCH);
    let mut index = first;
    while let Some(target) = space.probe(index) {
        index = index.saturating_add(step);
        let mut job = Job::new(target);
        let mut starved_since: Option<Instant> = None;
        let mut backoff = Duration::from_millis(1);
        let result = loop {
            if results.is_closed() {
                return Ok(());
            }
            let deadline = Instant::now() + timeout;
            // While a probe waits, hand over what this thread has found so far.
            let outcome = connector.probe(target, deadline, || {
                flush(results, &mut batch) && !results.is_closed()
            });
            match job.next(outcome, retries) {
                Next::Report(result) => break result,
                Next::Again | Next::Retry => {}
                Next::Backpressure => {
                    // Out of descriptors or buffers: other threads hold them; wait for them.
                    if !flush(results, &mut batch) {
                        return Ok(());
                    }
                    let since = *starved_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > STARVED_LIMIT {
                        return Err(Error::Runtime(io::Error::other(
                            "no socket could be opened for 30 s (out of descriptors, buffers or source ports)",
                        )));
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
            }
        };
        batch.push(result);
        if batch.len() >= BATCH && !flush(results, &mut batch) {
            return Ok(());
        }
    }
    flush(results, &mut batch);
    Ok(())
}

/// Sends the batch, if any; false when the receiver is gone.
fn flush(results: &mpsc::Sender<Vec<PortResult>>, batch: &mut Vec<PortResult>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
    results.blocking_send(full).is_ok()
}
