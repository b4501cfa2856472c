//! The banner stage (`--banners`): between the workers' results channel and the [`Scan`].
//!
//! It exists only when banners are asked for: otherwise the scan reads the workers' channel
//! itself, with no thread or task in between. When it exists, it is one thread (a
//! single-threaded tokio runtime) that:
//!
//! * passes every event at once, in the order it came, except open ports without a banner;
//! * holds those, in the order found, and grabs their banners ([`crate::banner::grab`]), at
//!   most `concurrency` at once (the rest wait their turn, first found first grabbed);
//!   each comes out when its grab is over, with the banner set if the service said
//!   something. A grab never changes a state or a reason, and a failed grab is just no banner;
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

/// Starts the stage on its own thread: events from `input` come out of the returned receiver.
pub(crate) fn start(
    options: BannerOptions,
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

/// Whether the stage holds this event for a grab.
fn wants_banner(event: &Event) -> bool {
    matches!(event, Event::Port(r) if r.state == PortState::Open && r.banner.is_none())
}

async fn with_banner(mut result: PortResult, options: &BannerOptions) -> PortResult {
    result.banner = banner::grab(result.socket_addr(), options)
        .await
        .ok()
        .flatten();
    result
}

async fn run(
    options: BannerOptions,
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
