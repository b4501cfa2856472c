//! The event-loop worker: a bounded in-flight window of probes on one single-threaded tokio
//! runtime. The `async` engine runs one of these over the whole probe space; the `sharded`
//! engine runs one per core, each over a disjoint slice (no locks on the probe path).
//!
//! A probe the kernel answers inside `connect(2)` (loopback, a local veth) is settled at once
//! and never enters the window; only probes still waiting for an answer do. The window shrinks
//! when the kernel pushes back (`EMFILE`, `ENOBUFS`, …) and grows again by one per window's
//! worth of answered probes (additive increase, multiplicative decrease).

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::job::{Job, Next};
use super::{WorkerSpec, BATCH};
use crate::error::Error;
use crate::model::PortResult;
use crate::probe::connect::{Attempt, Connector};
use crate::probe::Outcome;

/// How long the scanner may stay starved (back-pressure with nothing in flight) before the
/// scan fails instead of waiting forever.
pub(crate) const STARVED_LIMIT: Duration = Duration::from_secs(30);
/// Probes started in a row before the worker looks at answers (and lets the runtime poll).
const ROUND: usize = 256;

/// The worker's scheduling state, apart from the futures in flight.
struct Window {
    cap: usize,
    max: usize,
    credit: usize,
    retries: u8,
    again: VecDeque<Job>,
    batch: Vec<PortResult>,
    pressed: bool,
}

impl Window {
    /// Applies one attempt's outcome; `in_flight` is the number of probes still waiting.
    fn settle(&mut self, mut job: Job, outcome: Outcome, in_flight: usize) {
        match job.next(outcome, self.retries) {
            Next::Report(result) => {
                self.batch.push(result);
                self.credit += 1;
                if self.credit >= self.cap && self.cap < self.max {
                    self.cap += 1;
                    self.credit = 0;
                }
            }
            Next::Again => self.again.push_front(job),
            Next::Retry => self.again.push_back(job),
            Next::Backpressure => {
                self.again.push_front(job);
                // Multiplicative decrease: what is in flight now is what the kernel allows.
                self.cap = in_flight.max(1);
                self.credit = 0;
                self.pressed = true;
            }
        }
    }
}

/// Why [`run_worker`] stopped starting probes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Fill {
    /// The window is full.
    Full,
    /// The kernel pushed back.
    Pressed,
    /// Nothing is left to start.
    Exhausted,
    /// A round's worth of probes started; more can start.
    Round,
}

/// Runs one worker's slice to the end, sending every decided port to `results`.
///
/// Returns early (with `Ok`) when the receiver is gone: the scan was dropped. Dropping the
/// futures in flight closes their sockets.
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
    let mut targets = std::iter::from_fn(move || {
        let target = space.probe(next)?;
        next = next.saturating_add(step);
        Some(target)
    });
    let mut connector = Connector::new();
    let mut in_flight = FuturesUnordered::new();
    let mut w = Window {
        cap: window.max(1),
        max: window.max(1),
        credit: 0,
        retries,
        again: VecDeque::new(),
        batch: Vec::with_capacity(BATCH),
        pressed: false,
    };
    let mut starved_since: Option<Instant> = None;
    let mut backoff = Duration::from_millis(1);

    loop {
        // Start probes while the window has room.
        w.pressed = false;
        let mut fill = Fill::Round;
        for _ in 0..ROUND {
            if in_flight.len() >= w.cap {
                fill = Fill::Full;
                break;
            }
            let Some(job) = w.again.pop_front().or_else(|| targets.next().map(Job::new)) else {
                fill = Fill::Exhausted;
                break;
            };
            match connector.start(job.target) {
                Attempt::Done(outcome) => w.settle(job, outcome, in_flight.len()),
                Attempt::Pending(pending) => {
                    let deadline = Instant::now() + timeout;
                    in_flight.push(async move {
                        let (outcome, socket) = pending.wait(deadline).await;
                        (job, outcome, socket)
                    });
                }
            }
            if w.pressed {
                fill = Fill::Pressed;
                break;
            }
        }
        if !w.pressed {
            starved_since = None;
            backoff = Duration::from_millis(1);
        }

        // Settle whatever has been answered meanwhile, without waiting.
        while let Some(Some((job, outcome, socket))) = in_flight.next().now_or_never() {
            if let Some(socket) = socket {
                connector.recycle(socket);
            }
            w.settle(job, outcome, in_flight.len());
        }
        if w.batch.len() >= BATCH && !flush(&results, &mut w.batch).await {
            return Ok(());
        }
        if results.is_closed() {
            return Ok(());
        }

        let more_to_start = !w.again.is_empty() || fill != Fill::Exhausted;
        if in_flight.is_empty() && !more_to_start {
            flush(&results, &mut w.batch).await;
            return Ok(());
        }
        if in_flight.is_empty() && w.pressed {
            // Starved: back-pressure with nothing in flight to wait for.
            if !flush(&results, &mut w.batch).await {
                return Ok(());
            }
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
        // Probes queued meanwhile (retries, confirmations) or not yet started go out now if
        // the window has room; waiting for the next answer first would delay them by up to a
        // whole timeout.
        if more_to_start && in_flight.len() < w.cap && !w.pressed {
            if fill == Fill::Round && !in_flight.is_empty() {
                // Let the runtime poll its sockets and timers between rounds.
                tokio::task::yield_now().await;
            }
            continue;
        }
        // The window is full, or nothing more can start: hand over what was found, then wait.
        if !flush(&results, &mut w.batch).await {
            return Ok(());
        }
        let done = tokio::select! {
            biased;
            _ = results.closed() => return Ok(()),
            done = in_flight.next() => done,
        };
        if let Some((job, outcome, socket)) = done {
            if let Some(socket) = socket {
                connector.recycle(socket);
            }
            w.settle(job, outcome, in_flight.len());
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

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;

    use socket2::{Domain, Socket, Type};

    use super::*;
    use crate::model::{PortState, Reason};
    use crate::ports::PortSet;
    use crate::space::ProbeSpace;
    use crate::target::{AddrRange, AddrSet};

    /// Loopback listeners whose accept queue is full: SYNs to them get no answer, so every
    /// probe of them waits out its timeout.
    fn silent_listeners(n: usize) -> Vec<(Socket, TcpStream, u16)> {
        (0..n)
            .map(|_| {
                let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
                l.bind(&any.into()).unwrap();
                l.listen(0).unwrap();
                let addr = l.local_addr().unwrap().as_socket().unwrap();
                let filler = TcpStream::connect(addr).unwrap();
                (l, filler, addr.port())
            })
            .collect()
    }

    /// Regression: retries queued while answers were being collected waited for the next
    /// answer before they were sent, so each round of retries cost one extra timeout (S3 took
    /// 3.2 s instead of 2.2 s). On tokio's paused clock, the time is exact: with one retry,
    /// every silent port is decided after two timeouts, not three.
    #[test]
    fn retries_start_at_once_not_after_the_next_answer() {
        let silent = silent_listeners(6);
        let spec: String = silent
            .iter()
            .map(|s| s.2.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let addrs: AddrSet = [AddrRange::single("127.0.0.1".parse().unwrap())]
            .into_iter()
            .collect();
        let space = ProbeSpace::new(addrs, PortSet::parse(&spec).unwrap()).unwrap();
        let timeout = Duration::from_secs(10);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let (elapsed, results) = runtime.block_on(async {
            let (tx, mut rx) = mpsc::channel(64);
            let start = Instant::now();
            let worker = WorkerSpec {
                space: Arc::new(space),
                first: 0,
                step: 1,
                window: 64,
                timeout,
                retries: 1,
            };
            run_worker(worker, tx).await.unwrap();
            let elapsed = start.elapsed();
            let mut results = Vec::new();
            while let Some(batch) = rx.recv().await {
                results.extend(batch);
            }
            (elapsed, results)
        });
        assert_eq!(results.len(), silent.len(), "{results:?}");
        for r in &results {
            assert_eq!(
                (r.state, r.reason),
                (PortState::Filtered, Reason::NoResponse)
            );
        }
        assert!(
            elapsed >= 2 * timeout && elapsed < 2 * timeout + timeout / 2,
            "two attempts of {timeout:?} took {elapsed:?} on the paused clock"
        );
    }
}
