//! The edge stage (`--banners`, `--service-version`): between the workers' results channel
//! and the [`Scan`].
//!
//! It exists only when banners or service detection are asked for: otherwise the scan reads
//! the workers' channel itself, with no thread or task in between. When it exists, it is one
//! thread (a single-threaded tokio runtime) that:
//!
//! * passes every event at once, in the order it came, except open ports;
//! * holds those, in the order found, and grabs their banners ([`crate::banner::grab`]) and
//!   detects their services ([`crate::service::detect`]; both at once for one port when both
//!   are asked for), at most `concurrency` ports at once (the rest wait their turn, first
//!   found first served); each comes out once, when its work is over, with the banner set if
//!   the service said something and the service set if detection could connect. Neither
//!   ever changes a state or a reason, and a failure is just no banner or no service;
//! * ends once the workers are done (their channel closed) and every grab is over, which
//!   closes the channel the scan reads: the scan then joins its workers as before. So a
//!   pause loses nothing: results of probes in flight at the pause still get their grab
//!   (each bounded by the banner timeout), and the checkpoint, made once every result has
//!   been read, is exact;
//! * stops at once when the scan is dropped (its receiver closed): the grabs in flight are
//!   dropped, closing their sockets, and dropping its own receiver tells the workers to stop;
//! * keeps back-pressure: it reads more from the workers only while at most one batch waits
//!   for the consumer, and grabs keep going while it waits (open results waiting for a grab
//!   are the only thing it holds, one per open port).
//!
//! [`Scan`]: super::Scan

use std::collections::VecDeque;
use std::thread::JoinHandle;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::RESULT_BUFFER;
use crate::banner::{self, BannerOptions};
use crate::error::Error;
use crate::model::{Event, PortResult, PortState};
use crate::service::{self, DetectOptions};

/// What the stage does to each open port.
#[derive(Clone, Debug)]
pub(crate) struct EdgeOptions {
    /// Grab its banner.
    pub(crate) banners: Option<BannerOptions>,
    /// Detect its service.
    pub(crate) services: Option<DetectOptions>,
    /// Ports served at once.
    pub(crate) concurrency: usize,
}

impl EdgeOptions {
    fn concurrency(&self) -> usize {
        self.concurrency.max(1)
    }
}

/// Starts the stage on its own thread: events from `input` come out of the returned receiver.
pub(crate) fn start(
    options: EdgeOptions,
    input: mpsc::Receiver<Vec<Event>>,
) -> Result<(mpsc::Receiver<Vec<Event>>, JoinHandle<()>), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let (tx, rx) = mpsc::channel(RESULT_BUFFER);
    let handle = std::thread::Builder::new()
        .name("portscout-grabs".into())
        .spawn(move || runtime.block_on(run(options, input, tx)))
        .map_err(Error::Runtime)?;
    Ok((rx, handle))
}

/// Whether the stage holds this event for a grab or a detection.
fn wants_banner(event: &Event) -> bool {
    matches!(event, Event::Port(r) if r.state == PortState::Open
        && r.banner.is_none() && r.service.is_none())
}

async fn with_banner(mut result: PortResult, options: &EdgeOptions) -> PortResult {
    let target = result.socket_addr();
    let grab = async {
        match &options.banners {
            Some(b) => banner::grab(target, b).await.ok().flatten(),
            None => None,
        }
    };
    let detect = async {
        match &options.services {
            Some(d) => service::detect(target, d).await.ok().map(Box::new),
            None => None,
        }
    };
    (result.banner, result.service) = tokio::join!(grab, detect);
    result
}

async fn run(
    options: EdgeOptions,
    mut input: mpsc::Receiver<Vec<Event>>,
    out: mpsc::Sender<Vec<Event>>,
) {
    let mut waiting: VecDeque<PortResult> = VecDeque::new();
    let mut grabs = FuturesUnordered::new();
    // Batches ready for the consumer, oldest first.
    let mut outbox: VecDeque<Vec<Event>> = VecDeque::new();
    let mut input_open = true;
    loop {
        while grabs.len() < options.concurrency() {
            let Some(result) = waiting.pop_front() else {
                break;
            };
            grabs.push(with_banner(result, &options));
        }
        if !input_open && grabs.is_empty() && outbox.is_empty() {
            // Every result is out: dropping `out` ends the scan's stream.
            return;
        }
        tokio::select! {
            // The scan was dropped: stop now (dropping the grabs closes their sockets).
            _ = out.closed() => return,
            permit = out.reserve(), if !outbox.is_empty() => match permit {
                Ok(permit) => permit.send(outbox.pop_front().unwrap_or_default()),
                Err(_) => return,
            },
            batch = input.recv(), if input_open && outbox.len() <= 1 => match batch {
                None => input_open = false,
                Some(batch) => {
                    let (held, pass): (Vec<Event>, Vec<Event>) =
                        batch.into_iter().partition(wants_banner);
                    waiting.extend(held.into_iter().filter_map(|e| match e {
                        Event::Port(r) => Some(r),
                        Event::HostDown(_) => None,
                    }));
                    if !pass.is_empty() {
                        outbox.push_back(pass);
                    }
                }
            },
            Some(done) = grabs.next(), if !grabs.is_empty() => {
                // Joins the batch waiting for the consumer, if there is one: grabs never
                // make the stage read more from the workers.
                match outbox.back_mut() {
                    Some(batch) => batch.push(Event::Port(done)),
                    None => outbox.push_back(vec![Event::Port(done)]),
                }
            }
        }
    }
}
