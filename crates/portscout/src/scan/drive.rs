//! A scan driven end to end: every event into one sink, counted, until the scan is done, a
//! sink stops it, or it is paused.

use std::time::{Instant, SystemTime};

use super::{Scan, ScanStats};
use crate::error::Error;
use crate::model::{Event, PortState, ScanInfo, Summary};
use crate::names::{PtrLookups, ReverseDns};
use crate::output::{OpenTally, Sink};
use crate::plan::Checkpoint;

/// How [`Scan::drive`] runs a scan: what the sink is told, and when to stop early.
#[derive(Clone, Debug)]
pub struct DriveOptions {
    /// Stop once this many open ports are found (`--max-open`).
    pub max_open: Option<u64>,
    /// The command line that started the scan, program name first ([`ScanInfo::command`]).
    pub command: Vec<String>,
    /// When the scan started: the elapsed time counts from here (so it may include name
    /// resolution, as nmap's does).
    pub since: Instant,
    /// The same moment on the wall clock ([`ScanInfo::started`]).
    pub started: SystemTime,
}

impl Default for DriveOptions {
    fn default() -> DriveOptions {
        DriveOptions {
            max_open: None,
            command: Vec::new(),
            since: Instant::now(),
            started: SystemTime::now(),
        }
    }
}

/// How a driven scan ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every probe of the plan has its result.
    Done,
    /// A sink said to stop, or `max_open` was reached: the rest is not scanned.
    Stopped,
    /// Paused ([`super::Pauser::pause`]): what is left, to resume from.
    Paused(Checkpoint),
}

/// What [`Scan::drive`] returns.
#[derive(Clone, Debug)]
pub struct Driven {
    /// The totals, as given to [`Sink::end`].
    pub summary: Summary,
    /// How the scan ended.
    pub ending: Ending,
    /// What the timing machinery saw and did (`None` when stopped early).
    pub stats: Option<ScanStats>,
}

impl Scan {
    /// Runs the scan into `sink`: [`Sink::begin`], every event (counted into the
    /// [`Summary`]) and the host names found ([`Sink::host_name`]: PTR lookups as
    /// [`crate::names`] says, at most the lookup timeout after the last event), then
    /// [`Sink::end`], until every probe has its result, the sink returns
    /// `false` from [`Sink::result`] or `options.max_open` open ports are found (the scan is
    /// then dropped, which stops its workers), or the scan is paused (its checkpoint is in the
    /// returned [`Ending`]).
    ///
    /// Blocks until then. Fails if the scan fails ([`Error::Runtime`]) or the sink cannot
    /// write ([`Error::Output`]).
    pub fn drive(mut self, sink: &mut dyn Sink, options: &DriveOptions) -> Result<Driven, Error> {
        let space = self.space();
        let info = ScanInfo {
            hosts: u128::from(space.hosts()),
            ports: space.ports().len(),
            banners: self.banners,
            services: self.services,
            command: options.command.clone(),
            started: Some(options.started),
            scan_type: Some(self.scan_type),
            port_set: Some(space.ports().clone()),
            names: space.names().clone(),
        };
        let mut summary = Summary {
            hosts: info.hosts,
            ..Summary::default()
        };
        // Hosts that answer open on nearly every port (a middlebox): in the summary.
        let mut tally = OpenTally::new(Some(u64::from(info.ports)));
        sink.begin(&info).map_err(Error::Output)?;
        let mut stopped = false;
        // PTR lookups, beside the scan: asked when a host's first event comes, given to the
        // sink when they come (crate::names).
        let mut lookups =
            (self.names.reverse_dns != ReverseDns::Never).then(|| PtrLookups::new(self.names));
        let mut last_asked = None;
        for event in self.by_ref() {
            let event = event?;
            if let Some(lookups) = &mut lookups {
                let (ip, up) = match &event {
                    Event::Port(r) => (r.ip, true),
                    Event::HostDown(h) => (h.ip, false),
                };
                if last_asked != Some(ip) && lookups.wants(up) {
                    lookups.ask(ip);
                    last_asked = Some(ip);
                }
                for (ip, name) in lookups.ready() {
                    sink.host_name(ip, &name).map_err(Error::Output)?;
                }
            }
            let result = match event {
                Event::Port(result) => result,
                Event::HostDown(host) => {
                    summary.hosts_down += 1;
                    sink.host_down(&host).map_err(Error::Output)?;
                    continue;
                }
            };
            match result.state {
                PortState::Open => summary.open += 1,
                PortState::Closed => summary.closed += 1,
                PortState::Filtered => summary.filtered += 1,
            }
            tally.add(&result);
            let go_on = sink.result(&result).map_err(Error::Output)?;
            if !go_on || options.max_open.is_some_and(|max| summary.open >= max) {
                stopped = true;
                break;
            }
        }
        // The names still missing: waited for a bounded time (the lookup timeout).
        if let Some(lookups) = lookups {
            for (ip, name) in lookups.finish() {
                sink.host_name(ip, &name).map_err(Error::Output)?;
            }
        }
        summary.elapsed = options.since.elapsed();
        summary.open_everywhere = tally.hosts();
        summary.paused = !stopped && self.checkpoint().is_some();
        summary.identity = Some(
            self.plan()
                .identity(!stopped && self.checkpoint().is_none()),
        );
        sink.end(&summary).map_err(Error::Output)?;
        let ending = match (stopped, self.checkpoint()) {
            (true, _) => Ending::Stopped,
            (false, Some(c)) => Ending::Paused(c.clone()),
            (false, None) => Ending::Done,
        };
        Ok(Driven {
            summary,
            ending,
            stats: self.stats(),
        })
    }
}
