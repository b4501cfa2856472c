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
//! * serves at most [`PER_PORT_PROBING`] ports of one port number at once (across every
//!   host) while the workers still send probes, and [`PER_PORT`] once they are done. Many
//!   addresses can reach one daemon (AnyIP, a load balancer, NAT), and a daemon that is slow
//!   to accept keeps our connections in its accept queue; once that queue is full the kernel
//!   drops every SYN to the port, the scan's probes included, and the scan reads them as
//!   `filtered`. Two detections hold at most four connections in the queue, fewer than any
//!   usual listen backlog, so while the scan probes, its own detections never fill it;
//!   afterwards no probe can be lost any more, and the higher bound only spares the daemon
//!   (a detection that waits in a full queue learns nothing);
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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::thread::JoinHandle;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::RESULT_BUFFER;
use crate::banner::{self, BannerOptions};
use crate::error::Error;
use crate::model::{Event, PortResult, PortState};
use crate::service::{self, DetectOptions};

/// Ports of one port number (across every host) served at once while the workers still send
/// probes: each detection holds up to two connections, so at most four of ours wait in a
/// daemon's accept queue, which a listen backlog of 4 or more (nearly every daemon's; Python's
/// `socketserver` has 5) never drops a SYN for.
pub(crate) const PER_PORT_PROBING: usize = 2;

/// Ports of one port number served at once once the workers are done: no probe can be lost
/// any more, and this spares a daemon that serves many addresses (a detection whose
/// connection waits in a full accept queue times out and learns nothing).
pub(crate) const PER_PORT: usize = 8;

/// What the stage does to each open port.
#[derive(Clone, Debug)]
pub(crate) struct EdgeOptions {
    /// Grab its banner.
    pub(crate) banners: Option<BannerOptions>,
    /// Detect its service.
    pub(crate) services: Option<DetectOptions>,
    /// Ports served at once.
    pub(crate) concurrency: usize,
    /// Ports of one port number served at once while the workers send probes.
    pub(crate) per_port_probing: usize,
    /// Ports of one port number served at once after that.
    pub(crate) per_port: usize,
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

/// Open results waiting for their turn: first found first served, but never more than `cap`
/// of one port number served at once.
#[derive(Debug, Default)]
struct Waiting {
    /// Per port number, the results waiting, each with the order it came in.
    by_port: HashMap<u16, VecDeque<(u64, PortResult)>>,
    /// The first waiting result of each port number that may start now: its order → port.
    ready: BTreeMap<u64, u16>,
    /// Results being served, per port number.
    serving: HashMap<u16, usize>,
    /// The order of the next result.
    next: u64,
    /// Served at once per port number.
    cap: usize,
}

impl Waiting {
    fn new(cap: usize) -> Waiting {
        Waiting {
            cap: cap.max(1),
            ..Waiting::default()
        }
    }

    fn serving(&self, port: u16) -> usize {
        self.serving.get(&port).copied().unwrap_or(0)
    }

    /// Puts the first waiting result of `port` in `ready` if it may start now (idempotent).
    fn refresh(&mut self, port: u16) {
        if self.serving(port) >= self.cap {
            return;
        }
        if let Some((order, _)) = self.by_port.get(&port).and_then(VecDeque::front) {
            self.ready.insert(*order, port);
        }
    }

    fn push(&mut self, result: PortResult) {
        let port = result.port;
        self.by_port
            .entry(port)
            .or_default()
            .push_back((self.next, result));
        self.next += 1;
        self.refresh(port);
    }

    /// The result to serve next, counted as served until [`Waiting::done`].
    fn pop(&mut self) -> Option<PortResult> {
        let (_, port) = self.ready.pop_first()?;
        let queue = self.by_port.get_mut(&port)?;
        let (_, result) = queue.pop_front()?;
        if queue.is_empty() {
            self.by_port.remove(&port);
        }
        *self.serving.entry(port).or_default() += 1;
        self.refresh(port);
        Some(result)
    }

    /// One result of `port` is served.
    fn done(&mut self, port: u16) {
        if let Some(n) = self.serving.get_mut(&port) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.serving.remove(&port);
            }
        }
        self.refresh(port);
    }

    fn is_empty(&self) -> bool {
        self.by_port.is_empty()
    }

    /// Serves up to `cap` results of one port number at once from now on.
    fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        self.ready.clear();
        let ports: Vec<u16> = self.by_port.keys().copied().collect();
        for port in ports {
            self.refresh(port);
        }
    }
}

async fn run(
    options: EdgeOptions,
    mut input: mpsc::Receiver<Vec<Event>>,
    out: mpsc::Sender<Vec<Event>>,
) {
    let mut waiting = Waiting::new(options.per_port_probing);
    let mut grabs = FuturesUnordered::new();
    // Batches ready for the consumer, oldest first.
    let mut outbox: VecDeque<Vec<Event>> = VecDeque::new();
    let mut input_open = true;
    loop {
        while grabs.len() < options.concurrency() {
            let Some(result) = waiting.pop() else {
                break;
            };
            grabs.push(with_banner(result, &options));
        }
        if !input_open && grabs.is_empty() && waiting.is_empty() && outbox.is_empty() {
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
                None => {
                    // No probe is sent any more: a port number may have more at once.
                    input_open = false;
                    waiting.set_cap(options.per_port);
                }
                Some(batch) => {
                    let (held, pass): (Vec<Event>, Vec<Event>) =
                        batch.into_iter().partition(wants_banner);
                    for event in held {
                        if let Event::Port(r) = event {
                            waiting.push(r);
                        }
                    }
                    if !pass.is_empty() {
                        outbox.push_back(pass);
                    }
                }
            },
            Some(done) = grabs.next(), if !grabs.is_empty() => {
                waiting.done(done.port);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reason;

    fn open(port: u16, host: u8) -> PortResult {
        PortResult {
            ip: std::net::IpAddr::from([198, 18, 0, host]),
            port,
            state: PortState::Open,
            reason: Reason::SynAck,
            rtt: None,
            banner: None,
            service: None,
        }
    }

    fn take(w: &mut Waiting) -> Option<(u16, u8)> {
        w.pop().map(|r| match r.ip {
            std::net::IpAddr::V4(a) => (r.port, a.octets()[3]),
            std::net::IpAddr::V6(_) => unreachable!(),
        })
    }

    #[test]
    fn first_found_first_served_within_the_bound_of_each_port_number() {
        let mut w = Waiting::new(2);
        for (port, host) in [(110, 1), (110, 2), (110, 3), (22, 1), (110, 4), (22, 2)] {
            w.push(open(port, host));
        }
        // Two of port 110, then port 22's, which the bound does not hold back.
        assert_eq!(take(&mut w), Some((110, 1)));
        assert_eq!(take(&mut w), Some((110, 2)));
        assert_eq!(take(&mut w), Some((22, 1)));
        assert_eq!(take(&mut w), Some((22, 2)));
        assert_eq!(take(&mut w), None);
        // One of 110 is over: the next in order starts.
        w.done(110);
        assert_eq!(take(&mut w), Some((110, 3)));
        assert_eq!(take(&mut w), None);
        // The workers are done: a higher bound lets the rest start.
        w.set_cap(8);
        assert_eq!(take(&mut w), Some((110, 4)));
        assert!(w.is_empty());
        assert_eq!(take(&mut w), None);
        // A port number served at its bound takes a newcomer once one is over.
        let mut w = Waiting::new(1);
        w.push(open(80, 1));
        assert_eq!(take(&mut w), Some((80, 1)));
        w.push(open(80, 2));
        assert_eq!(take(&mut w), None);
        w.done(80);
        assert_eq!(take(&mut w), Some((80, 2)));
    }
}
