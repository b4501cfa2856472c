//! Merging ndjson outputs (shards of one scan, an interrupted run and its resumed run) into
//! one result: deduplicated, ordered per host and port, with one summary.
//!
//! [`Records`] reads one input line by line; a [`Merger`] takes the records of several inputs
//! and [`Merger::finish`] gives the [`Merged`] result. The rules (also in `docs/output.md`,
//! "Merging"):
//!
//! * **Ports.** One result per `(ip, port)`, sorted by address (IPv4 before IPv6, as
//!   [`IpAddr`]'s order) then port. Records of the same port in the same state are kept once
//!   (the first input's record: its reason and rtt). Records in different states keep the
//!   state of highest precedence, **open > closed > filtered** (an answer beats silence), and
//!   each dropped record in another state is reported as a [`Conflict::PortState`].
//! * **Hosts down.** One record per address, its `skipped` the largest of the inputs' (each
//!   shard of a scan that finds a host down reports all of the host's ports skipped, as the
//!   whole scan does), its reason the first input's. An address that also has port
//!   results in some input keeps the port results; its down records are dropped and reported
//!   as a [`Conflict::HostDown`].
//! * **Summary.** `open`, `closed`, `filtered` and `hosts_down` are the sums over the inputs'
//!   summary records, minus one for every record the merge dropped (in the dropped record's
//!   state; a dropped host-down record counts against `hosts_down`). Records that no summary
//!   covers (an input without a summary record, e.g. a run that was killed, or the records
//!   after an input's last summary) are counted themselves. `hosts` is the largest `hosts` of
//!   any summary (shards of one scan each report the full target count), and at least the
//!   number of distinct addresses seen. `elapsed` is the sum of the summaries' `elapsed_ms`
//!   (total scanning time).
//!
//! Duplicates can only be found among listed records: a port hidden by `--show` in two inputs
//! is counted twice. Write shards with `--show all` for exact totals.
//!
//! ```
//! use portscout::merge::Merger;
//!
//! let a = r#"{"ip":"198.18.0.1","port":80,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1}
//! {"type":"summary","hosts":2,"open":1,"closed":0,"filtered":0,"elapsed_ms":100,"hosts_down":0}
//! "#;
//! let b = r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1}
//! {"ip":"198.18.0.1","port":80,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":2}
//! "#;
//! let mut merger = Merger::new();
//! merger.read("a.ndjson", a.as_bytes())?;
//! merger.read("b.ndjson", b.as_bytes())?; // no summary: a killed run
//! let merged = merger.finish();
//! let ports: Vec<u16> = merged.results.iter().map(|r| r.port).collect();
//! assert_eq!(ports, [22, 80]);
//! assert_eq!((merged.summary.hosts, merged.summary.open), (2, 2));
//! assert!(merged.conflicts.is_empty());
//! # Ok::<(), portscout::merge::ReadError>(())
//! ```

use std::fmt;
use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::model::{HostDown, PortResult, PortState};
use crate::output::Summary;

mod read;
#[cfg(test)]
mod tests;

pub use read::{parse_line, LineError, ReadError, Record, Records};

/// A disagreement between records, found and resolved by the merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// One port has records in different states: `kept` won by precedence (open > closed >
    /// filtered), the record in state `dropped` was dropped.
    PortState {
        /// The address.
        ip: IpAddr,
        /// The port.
        port: u16,
        /// The state kept.
        kept: PortState,
        /// The input the kept record came from.
        kept_in: Arc<str>,
        /// The state dropped.
        dropped: PortState,
        /// The input the dropped record came from.
        dropped_in: Arc<str>,
    },
    /// A host reported down in one input has port results in another (or the same): the port
    /// results were kept, the down record dropped.
    HostDown {
        /// The address.
        ip: IpAddr,
        /// The input that reported it down.
        down_in: Arc<str>,
        /// An input with port results for it.
        ports_in: Arc<str>,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::PortState {
                ip,
                port,
                kept,
                kept_in,
                dropped,
                dropped_in,
            } => write!(
                f,
                "{} is {kept} in `{kept_in}` but {dropped} in `{dropped_in}`: kept {kept}",
                SocketAddr::new(*ip, *port)
            ),
            Conflict::HostDown {
                ip,
                down_in,
                ports_in,
            } => write!(
                f,
                "{ip} is down in `{down_in}` but has port results in `{ports_in}`: kept the port \
                 results"
            ),
        }
    }
}

/// The result of a merge.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Merged {
    /// One result per `(ip, port)`, sorted by address (IPv4 first) then port.
    pub results: Vec<PortResult>,
    /// One record per host down (none of them has a port result), sorted by address.
    pub hosts_down: Vec<HostDown>,
    /// The merged totals.
    pub summary: Summary,
    /// Every disagreement found, in address and port order (ports first, then hosts).
    pub conflicts: Vec<Conflict>,
    /// Records of a kind this version does not know, skipped.
    pub unknown: u64,
    /// PTR names (`hostname` records), the first one read for each address, by address.
    pub ptr_names: Vec<(IpAddr, String)>,
}

/// Port and host-down counts.
#[derive(Copy, Clone, Debug, Default)]
struct Counts {
    open: u64,
    closed: u64,
    filtered: u64,
    hosts_down: u64,
}

impl Counts {
    fn state(&mut self, state: PortState) -> &mut u64 {
        match state {
            PortState::Open => &mut self.open,
            PortState::Closed => &mut self.closed,
            PortState::Filtered => &mut self.filtered,
        }
    }

    fn add(&mut self, other: Counts) {
        self.open += other.open;
        self.closed += other.closed;
        self.filtered += other.filtered;
        self.hosts_down += other.hosts_down;
    }
}

/// Accumulates the records of several inputs; [`Merger::finish`] merges them.
///
/// Feed it whole inputs with [`Merger::read`], or records one by one with
/// [`Merger::start_input`] and [`Merger::add`]. It keeps every port record until `finish`
/// (about 50 bytes each).
#[derive(Debug, Default)]
pub struct Merger {
    /// Input names, in the order they started.
    inputs: Vec<Arc<str>>,
    /// Port records, each with the index of its input.
    ports: Vec<(PortResult, u32)>,
    /// Host-down records, each with the index of its input.
    downs: Vec<(HostDown, u32)>,
    /// Sums of the summary records, plus the records no summary covered.
    totals: Counts,
    /// Records of the current input since its last summary record (or its start).
    uncovered: Counts,
    /// The largest `hosts` of any summary.
    hosts: u128,
    /// Sum of the summaries' elapsed times.
    elapsed: Duration,
    unknown: u64,
    /// PTR names, the first read for each address.
    ptr_names: std::collections::BTreeMap<IpAddr, String>,
}

impl Merger {
    /// An empty merger.
    pub fn new() -> Merger {
        Merger::default()
    }

    /// Starts the next input, called `name` in conflicts. Records added from now on belong to
    /// it; records of the previous input that no summary covered are counted themselves.
    pub fn start_input(&mut self, name: &str) {
        self.totals.add(std::mem::take(&mut self.uncovered));
        self.inputs.push(name.into());
    }

    /// Adds one record of the current input (starting an input called `input` if none was).
    ///
    /// A summary record covers the records of its input added since the previous summary.
    pub fn add(&mut self, record: Record) {
        if self.inputs.is_empty() {
            self.start_input("input");
        }
        let input = u32::try_from(self.inputs.len() - 1).unwrap_or(u32::MAX);
        match record {
            Record::Port(result) => {
                *self.uncovered.state(result.state) += 1;
                self.ports.push((result, input));
            }
            Record::HostDown(host) => {
                self.uncovered.hosts_down += 1;
                self.downs.push((host, input));
            }
            Record::Summary(s) => {
                self.uncovered = Counts::default();
                self.totals.add(Counts {
                    open: s.open,
                    closed: s.closed,
                    filtered: s.filtered,
                    hosts_down: s.hosts_down,
                });
                self.hosts = self.hosts.max(s.hosts);
                self.elapsed = self.elapsed.saturating_add(s.elapsed);
            }
            Record::HostName { ip, name } => {
                self.ptr_names.entry(ip).or_insert(name);
            }
            Record::Unknown(_) => self.unknown += 1,
        }
    }

    /// Reads one whole input (line by line) and adds its records, as [`Merger::start_input`]
    /// then [`Merger::add`] for each record. On error, the records read before the bad line
    /// have been added.
    pub fn read<R: BufRead>(&mut self, name: &str, input: R) -> Result<(), ReadError> {
        self.start_input(name);
        for record in Records::new(name, input) {
            self.add(record?);
        }
        Ok(())
    }

    /// Merges everything added, by the rules in the [module documentation](self).
    pub fn finish(mut self) -> Merged {
        self.totals.add(std::mem::take(&mut self.uncovered));
        let mut totals = self.totals;
        let mut conflicts = Vec::new();

        // Ports: stable sort, so each group keeps its records in input order.
        self.ports.sort_by_key(|(r, _)| (r.ip, r.port));
        let mut results: Vec<(PortResult, u32)> = Vec::with_capacity(self.ports.len());
        for group in self
            .ports
            .chunk_by(|(a, _), (b, _)| (a.ip, a.port) == (b.ip, b.port))
        {
            // The first record of the highest-precedence state (min_by_key keeps the first).
            let Some((k, kept)) = group
                .iter()
                .enumerate()
                .min_by_key(|(_, (r, _))| precedence(r.state))
            else {
                continue;
            };
            for (i, (dropped, input)) in group.iter().enumerate() {
                if i == k {
                    continue;
                }
                let count = totals.state(dropped.state);
                *count = count.saturating_sub(1);
                if dropped.state != kept.0.state {
                    conflicts.push(Conflict::PortState {
                        ip: dropped.ip,
                        port: dropped.port,
                        kept: kept.0.state,
                        kept_in: self.inputs[kept.1 as usize].clone(),
                        dropped: dropped.state,
                        dropped_in: self.inputs[*input as usize].clone(),
                    });
                }
            }
            results.push(kept.clone());
        }
        drop(std::mem::take(&mut self.ports));

        // Hosts down: one per address, unless it has port results.
        self.downs.sort_by_key(|(h, _)| h.ip);
        let mut hosts_down = Vec::new();
        for group in self.downs.chunk_by(|(a, _), (b, _)| a.ip == b.ip) {
            let ip = group[0].0.ip;
            let with_ports = results.partition_point(|(r, _)| r.ip < ip);
            match results.get(with_ports) {
                Some(&(ref r, ports_in)) if r.ip == ip => {
                    totals.hosts_down = totals.hosts_down.saturating_sub(group.len() as u64);
                    for &(_, down_in) in group {
                        conflicts.push(Conflict::HostDown {
                            ip,
                            down_in: self.inputs[down_in as usize].clone(),
                            ports_in: self.inputs[ports_in as usize].clone(),
                        });
                    }
                }
                _ => {
                    totals.hosts_down = totals.hosts_down.saturating_sub(group.len() as u64 - 1);
                    hosts_down.push(HostDown {
                        skipped: group.iter().map(|(h, _)| h.skipped).max().unwrap_or(0),
                        ..group[0].0
                    });
                }
            }
        }

        // Distinct addresses (results are sorted by address).
        let mut ips: Vec<IpAddr> = results.iter().map(|(r, _)| r.ip).collect();
        ips.dedup();
        // A host down here has no port result (else it was dropped above).
        let seen = ips.len() + hosts_down.len();
        let mut tally = crate::output::OpenTally::new(None);
        for (r, _) in &results {
            tally.add(r);
        }
        let summary = Summary {
            hosts: self.hosts.max(seen as u128),
            open: totals.open,
            closed: totals.closed,
            filtered: totals.filtered,
            hosts_down: totals.hosts_down,
            elapsed: self.elapsed,
            open_everywhere: tally.hosts(),
            paused: false,
        };
        Merged {
            results: results.into_iter().map(|(r, _)| r).collect(),
            hosts_down,
            summary,
            conflicts,
            unknown: self.unknown,
            ptr_names: self.ptr_names.into_iter().collect(),
        }
    }
}

/// Lower wins: an answer (open, then closed) beats silence (filtered).
fn precedence(state: PortState) -> u8 {
    match state {
        PortState::Open => 0,
        PortState::Closed => 1,
        PortState::Filtered => 2,
    }
}
