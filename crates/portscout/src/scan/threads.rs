//! The threads engine (the seed's thread pool, done exactly): blocking sockets on a bounded
//! set of OS threads, each owning a disjoint slice of the probe space.
//!
//! Each thread probes one port at a time with a blocking `connect(2)` bounded by
//! `SO_SNDTIMEO`, in slices of at most 100 ms so that a dropped scan stops promptly and
//! found ports are handed over while a slow probe waits. Retries happen in place. Timeouts,
//! retry counts and the host check come from the same per-host state as on the event loops
//! ([`Hosts`]); a thread has one probe in flight, so no congestion window applies.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::event_loop::STARVED_LIMIT;
use super::hosts::{Admit, Hosts, Settled};
use super::job::Job;
use super::{WorkerEnd, WorkerSpec, BATCH};
use crate::error::Error;
use crate::model::Event;
use crate::plan::Feed;
use crate::probe::connect::BlockingConnector;
use crate::probe::Outcome;
use crate::timing::rate::TokenBucket;

/// The default number of threads (the bound: no thread per port).
pub(crate) const DEFAULT_THREADS: usize = 64;

/// Runs one thread's slice to the end, sending every result to `results`.
///
/// Returns early (with `Ok`) when the receiver is gone: the scan was dropped.
pub(crate) fn run_thread(
    spec: WorkerSpec,
    results: &mpsc::Sender<Vec<Event>>,
) -> Result<WorkerEnd, Error> {
    let WorkerSpec {
        mut feed,
        timing,
        board,
        ..
    } = spec;
    let ports = feed.plan().space().ports().len();
    let mut hosts = Hosts::new(timing, board, ports, 1);
    let mut unanswered: Vec<SocketAddr> = Vec::new();
    let end = |hosts: &Hosts, feed: &Feed, unanswered: Vec<SocketAddr>| WorkerEnd {
        stats: hosts.stats(),
        unsent: feed.unsent(),
        unanswered,
        held: Vec::new(),
    };
    let mut bucket = timing.rate.map(|r| TokenBucket::new(r, Instant::now()));
    let mut connector = BlockingConnector::new();
    let mut events: Vec<Event> = Vec::with_capacity(BATCH);
    let mut again: VecDeque<Job> = VecDeque::new();
    let mut starved_since: Option<Instant> = None;
    let mut backoff = Duration::from_millis(1);
    loop {
        if results.is_closed() {
            return Ok(end(&hosts, &feed, unanswered));
        }
        if feed.paused() {
            // The probe in flight (if any) has had its answer or its timeout.
            hosts.release_all(&mut again);
            unanswered.extend(again.drain(..).map(|job| job.target));
            break;
        }
        let job = match again.pop_front() {
            Some(job) => job,
            None => match feed.next_probe() {
                Some(target) => Job::new(target),
                // Ports held for a host another thread found up since are asked again first.
                None if hosts.requeue_found_up(&mut events, &mut again) => continue,
                None => break,
            },
        };
        // One probe in flight: the window never holds a thread back.
        let timeout = match hosts.admit(job, true, &mut events, &mut again) {
            Admit::Go(timeout) => timeout,
            Admit::Deferred | Admit::Skipped => continue,
        };
        if let Some(bucket) = &mut bucket {
            while let Err(wait) = bucket.take(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let deadline = Instant::now() + timeout;
        // While a probe waits, hand over what this thread has found so far.
        let outcome = connector.probe(job.target, deadline, || {
            flush(results, &mut events) && !results.is_closed()
        });
        let mut job = job;
        if outcome != Outcome::Backpressure {
            hosts.sent(&mut job, false);
        }
        match hosts.settle(job, outcome, false, &mut events, &mut again) {
            Settled::Done => {
                starved_since = None;
                backoff = Duration::from_millis(1);
            }
            Settled::Pressed => {
                // Out of descriptors or buffers: other threads hold them; wait for them.
                if !flush(results, &mut events) {
                    return Ok(end(&hosts, &feed, unanswered));
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
        if events.len() >= BATCH && !flush(results, &mut events) {
            return Ok(end(&hosts, &feed, unanswered));
        }
    }
    let mut held = Vec::new();
    if feed.paused() {
        hosts.pause(&mut events, &mut unanswered);
    } else {
        hosts.finish(&mut events, &mut held);
    }
    flush(results, &mut events);
    Ok(WorkerEnd {
        held,
        ..end(&hosts, &feed, unanswered)
    })
}

/// Sends the batch, if any; false when the receiver is gone.
fn flush(results: &mpsc::Sender<Vec<Event>>, batch: &mut Vec<Event>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
    results.blocking_send(full).is_ok()
}
