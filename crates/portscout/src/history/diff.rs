//! What changed between two scans.
//!
//! Each address is **up** in a scan when the scan has port results for it, **down** when the
//! scan found it down, and **absent** when the scan has neither. A port is compared only when
//! both scans have a result for it; a port with a result in one scan only (not scanned by
//! the other: other ports, or an incomplete scan that had not reached it) is counted as
//! *not compared*, never as a change. Only the state counts: a new reason for the same state
//! (`filtered` by `no-response`, then by `host-unreach`) is no change. For a port open in both
//! scans whose service both scans detected (`--service-version`), a different service name,
//! product or version is a change too ([`PortChange::Service`]); a port detected in one scan
//! only is no change (the other scan did not look), nor is new extra information or CPE.
//!
//! | before (scan A) | after (scan B) | change |
//! |---|---|---|
//! | port `closed` or `filtered` | port `open` | [`PortChange::Opened`] |
//! | port `open` | port `closed` or `filtered` | [`PortChange::Closed`] |
//! | port `closed` | port `filtered`, or the other way | [`PortChange::Changed`] |
//! | port `open`, service detected | port `open`, another service, product or version | [`PortChange::Service`] |
//! | host down | host up | [`HostChange::Up`], with its open ports in B |
//! | host up | host down | [`HostChange::Down`], with its open ports in A |
//! | host absent, A complete | host up or down | [`HostChange::New`] |
//! | host up or down | host absent, B complete | [`HostChange::Gone`] |
//!
//! A host absent from an incomplete scan is not compared (the scan may not have reached it).
//! For a host up in both scans only its ports can change. The changes come ordered by
//! address (IPv4 first), a host's own change before its ports, then by port.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::IpAddr;

use crate::model::{HostDown, PortResult, PortState, Reason};

/// How a port changed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PortChange {
    /// Now open, was closed or filtered.
    Opened,
    /// Was open, now closed or filtered.
    Closed,
    /// Closed became filtered, or filtered became closed.
    Changed,
    /// Open in both, with another service name, product or version detected.
    Service,
}

impl PortChange {
    /// `opened`, `closed` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PortChange::Opened => "opened",
            PortChange::Closed => "closed",
            PortChange::Changed => "changed",
            PortChange::Service => "service",
        }
    }
}

/// How a host changed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostChange {
    /// Was down, now up.
    Up,
    /// Was up, now down.
    Down,
    /// Not in the earlier scan (complete), in the later one.
    New,
    /// In the earlier scan, not in the later one (complete).
    Gone,
}

impl HostChange {
    /// `host-up`, `host-down`, `host-new` or `host-gone`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostChange::Up => "host-up",
            HostChange::Down => "host-down",
            HostChange::New => "host-new",
            HostChange::Gone => "host-gone",
        }
    }
}

/// A host's standing in one scan.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostState {
    /// It has port results.
    Up,
    /// The scan found it down, for this reason.
    Down(Reason),
    /// The scan has nothing of it.
    Absent,
}

impl HostState {
    /// `up`, `down` or `absent`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Up => "up",
            HostState::Down(_) => "down",
            HostState::Absent => "absent",
        }
    }
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A port of a host up in both scans changed state.
    Port {
        /// The address.
        ip: IpAddr,
        /// The port.
        port: u16,
        /// Which way.
        change: PortChange,
        /// The state in the later scan.
        state: PortState,
        /// Its reason.
        reason: Reason,
        /// The state in the earlier scan.
        was: PortState,
        /// Its reason.
        was_reason: Reason,
        /// The service detected in the later scan (with [`PortChange::Service`]; else when
        /// known).
        service: Option<Service>,
        /// The service detected in the earlier scan.
        was_service: Option<Service>,
    },
    /// A host came up, went down, appeared or disappeared.
    Host {
        /// The address.
        ip: IpAddr,
        /// Which way.
        change: HostChange,
        /// Its standing in the later scan.
        state: HostState,
        /// Its standing in the earlier scan.
        was: HostState,
        /// Its open ports in the later scan, ascending.
        open: Vec<u16>,
        /// Its open ports in the earlier scan, ascending.
        was_open: Vec<u16>,
    },
}

impl Change {
    /// The address.
    pub fn ip(&self) -> IpAddr {
        match self {
            Change::Port { ip, .. } | Change::Host { ip, .. } => *ip,
        }
    }

    /// Where it sorts: address, the host's own change first, then port.
    fn order(&self) -> (IpAddr, u32) {
        match self {
            Change::Port { ip, port, .. } => (*ip, u32::from(*port) + 1),
            Change::Host { ip, .. } => (*ip, 0),
        }
    }
}

/// What a diff compares of a detected service: its name, product and version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Service {
    /// The service name (`ssh`, `http`, …).
    pub name: String,
    /// The product, when detected.
    pub product: Option<String>,
    /// The version, when detected.
    pub version: Option<String>,
}

impl std::fmt::Display for Service {
    /// `ssh OpenSSH 9.2p1`: the name, then product and version where known.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        for part in [&self.product, &self.version].into_iter().flatten() {
            write!(f, " {part}")?;
        }
        Ok(())
    }
}

impl From<&crate::service::ServiceInfo> for Service {
    fn from(s: &crate::service::ServiceInfo) -> Service {
        Service {
            name: s.name.clone(),
            product: s.product.clone(),
            version: s.version.clone(),
        }
    }
}

/// Counts of a [`Diff`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffSummary {
    /// [`PortChange::Opened`] changes.
    pub opened: u64,
    /// [`PortChange::Closed`] changes.
    pub closed: u64,
    /// [`PortChange::Changed`] changes.
    pub changed: u64,
    /// [`PortChange::Service`] changes.
    pub services: u64,
    /// [`HostChange::Up`] changes.
    pub hosts_up: u64,
    /// [`HostChange::Down`] changes.
    pub hosts_down: u64,
    /// [`HostChange::New`] changes.
    pub hosts_new: u64,
    /// [`HostChange::Gone`] changes.
    pub hosts_gone: u64,
    /// Ports with a result in both scans.
    pub compared: u64,
    /// Port results of either scan without a counterpart in the other.
    pub not_compared: u64,
}

impl DiffSummary {
    /// Number of changes.
    pub fn changes(&self) -> u64 {
        self.opened
            + self.closed
            + self.changed
            + self.services
            + self.hosts_up
            + self.hosts_down
            + self.hosts_new
            + self.hosts_gone
    }
}

/// What changed from one scan to another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// The changes, by address, then port.
    pub changes: Vec<Change>,
    /// Their counts, and how many ports were compared.
    pub summary: DiffSummary,
}

/// One scan's results, in memory, for [`compare`].
#[derive(Clone, Copy, Debug)]
pub struct Snapshot<'a> {
    /// Its port results, in any order.
    pub ports: &'a [PortResult],
    /// Its hosts found down.
    pub down: &'a [HostDown],
    /// Whether the scan is complete (an absent host then means "not a target").
    pub complete: bool,
}

/// What changed from `a` to `b` (see the [module](self) for the rules).
pub fn compare(a: &Snapshot<'_>, b: &Snapshot<'_>) -> Diff {
    let rows = |s: &Snapshot<'_>| {
        let mut rows: Vec<Row> = s
            .ports
            .iter()
            .map(|r| Row {
                key: r.ip.to_string(),
                ip: r.ip,
                port: r.port,
                state: r.state,
                reason: r.reason,
                service: r.service.as_deref().map(Service::from),
            })
            .collect();
        // Stable: of a port given twice, the last stays last (and counts).
        rows.sort_by(|x, y| (x.key.as_str(), x.port).cmp(&(y.key.as_str(), y.port)));
        rows
    };
    let side = |s: &Snapshot<'_>| Side {
        down: s.down.iter().map(|h| (h.ip, h.reason)).collect(),
        complete: s.complete,
    };
    let ok = |rows: Vec<Row>| rows.into_iter().map(Ok::<_, Infallible>);
    match compare_sorted(ok(rows(a)), ok(rows(b)), &side(a), &side(b)) {
        Ok(diff) => diff,
        Err(never) => match never {},
    }
}

/// A port result as the comparison reads it: `key` is the address as text, the order the
/// rows come in (by `key`, then port).
pub(crate) struct Row {
    pub(crate) key: String,
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
    pub(crate) state: PortState,
    pub(crate) reason: Reason,
    pub(crate) service: Option<Service>,
}

/// What the comparison needs of a scan besides its rows.
pub(crate) struct Side {
    pub(crate) down: BTreeMap<IpAddr, Reason>,
    pub(crate) complete: bool,
}

/// Per-scan facts gathered while the rows stream by.
#[derive(Default)]
struct Seen {
    up: BTreeSet<IpAddr>,
    last: Option<IpAddr>,
    /// Open ports of rows without a counterpart, per host.
    open_alone: BTreeMap<IpAddr, Vec<u16>>,
}

impl Seen {
    fn up(&mut self, ip: IpAddr) {
        if self.last != Some(ip) {
            self.up.insert(ip);
            self.last = Some(ip);
        }
    }

    fn alone(&mut self, row: &Row) {
        self.up(row.ip);
        if row.state == PortState::Open {
            self.open_alone.entry(row.ip).or_default().push(row.port);
        }
    }

    fn host(&self, ip: IpAddr, side: &Side) -> Option<HostState> {
        if self.up.contains(&ip) {
            Some(HostState::Up)
        } else if let Some(&r) = side.down.get(&ip) {
            Some(HostState::Down(r))
        } else if side.complete {
            Some(HostState::Absent)
        } else {
            None
        }
    }
}

/// Of rows with the same address and port in a row, the last one.
struct LastOfEqual<I> {
    inner: I,
    held: Option<Row>,
}

impl<E, I: Iterator<Item = Result<Row, E>>> Iterator for LastOfEqual<I> {
    type Item = Result<Row, E>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = match self.held.take() {
            Some(row) => row,
            None => match self.inner.next()? {
                Ok(row) => row,
                Err(e) => return Some(Err(e)),
            },
        };
        loop {
            match self.inner.next() {
                None => return Some(Ok(row)),
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(next)) if next.key == row.key && next.port == row.port => row = next,
                Some(Ok(next)) => {
                    self.held = Some(next);
                    return Some(Ok(row));
                }
            }
        }
    }
}

/// Compares two scans whose rows come sorted by (`key`, port), reading each row once. Of a
/// port that comes twice in a scan, the last row counts.
pub(crate) fn compare_sorted<E>(
    a: impl Iterator<Item = Result<Row, E>>,
    b: impl Iterator<Item = Result<Row, E>>,
    side_a: &Side,
    side_b: &Side,
) -> Result<Diff, E> {
    let mut a = LastOfEqual {
        inner: a,
        held: None,
    };
    let mut b = LastOfEqual {
        inner: b,
        held: None,
    };
    let mut diff = Diff::default();
    let (mut seen_a, mut seen_b) = (Seen::default(), Seen::default());
    let mut next_a = a.next().transpose()?;
    let mut next_b = b.next().transpose()?;
    loop {
        let order = match (&next_a, &next_b) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => (x.key.as_str(), x.port).cmp(&(y.key.as_str(), y.port)),
        };
        match order {
            Ordering::Less => {
                let x = next_a.take().expect("a row");
                seen_a.alone(&x);
                diff.summary.not_compared += 1;
                next_a = a.next().transpose()?;
            }
            Ordering::Greater => {
                let y = next_b.take().expect("a row");
                seen_b.alone(&y);
                diff.summary.not_compared += 1;
                next_b = b.next().transpose()?;
            }
            Ordering::Equal => {
                let (x, y) = (next_a.take().expect("a row"), next_b.take().expect("a row"));
                seen_a.up(x.ip);
                seen_b.up(y.ip);
                diff.summary.compared += 1;
                let change = if x.state == y.state {
                    match (&x.service, &y.service) {
                        (Some(was), Some(now)) if x.state == PortState::Open && was != now => {
                            Some(PortChange::Service)
                        }
                        _ => None,
                    }
                } else if y.state == PortState::Open {
                    Some(PortChange::Opened)
                } else if x.state == PortState::Open {
                    Some(PortChange::Closed)
                } else {
                    Some(PortChange::Changed)
                };
                if let Some(change) = change {
                    match change {
                        PortChange::Opened => diff.summary.opened += 1,
                        PortChange::Closed => diff.summary.closed += 1,
                        PortChange::Changed => diff.summary.changed += 1,
                        PortChange::Service => diff.summary.services += 1,
                    }
                    diff.changes.push(Change::Port {
                        ip: y.ip,
                        port: y.port,
                        change,
                        state: y.state,
                        reason: y.reason,
                        was: x.state,
                        was_reason: x.reason,
                        service: y.service,
                        was_service: x.service,
                    });
                }
                next_a = a.next().transpose()?;
                next_b = b.next().transpose()?;
            }
        }
    }

    let hosts: BTreeSet<IpAddr> = seen_a
        .up
        .iter()
        .chain(&seen_b.up)
        .chain(side_a.down.keys())
        .chain(side_b.down.keys())
        .copied()
        .collect();
    for ip in hosts {
        let (Some(was), Some(state)) = (seen_a.host(ip, side_a), seen_b.host(ip, side_b)) else {
            continue;
        };
        let change = match (was, state) {
            (HostState::Absent, _) => HostChange::New,
            (_, HostState::Absent) => HostChange::Gone,
            (HostState::Down(_), HostState::Up) => HostChange::Up,
            (HostState::Up, HostState::Down(_)) => HostChange::Down,
            _ => continue,
        };
        match change {
            HostChange::Up => diff.summary.hosts_up += 1,
            HostChange::Down => diff.summary.hosts_down += 1,
            HostChange::New => diff.summary.hosts_new += 1,
            HostChange::Gone => diff.summary.hosts_gone += 1,
        }
        let open = |seen: &Seen| seen.open_alone.get(&ip).cloned().unwrap_or_default();
        diff.changes.push(Change::Host {
            ip,
            change,
            state,
            was,
            open: open(&seen_b),
            was_open: open(&seen_a),
        });
    }
    diff.changes.sort_by_key(Change::order);
    Ok(diff)
}
