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
//! * **Shards.** Every summary written by a scan names its scan, shard, probe count and run
//!   ([`ShardIdentity`]). A summary that repeats one already read (same scan, shard and
//!   part: the same file given twice) is dropped with the records it covers, and reported. Once
//!   every input is read, the shards of the first identified scan are checked: each shard
//!   `1..=N` must be there, with every part up to one that completed it. Each gap, each
//!   summary of another scan (or of another split) and each input that cannot be checked (a
//!   summary without identity, or records no summary covers) is a [`ShardProblem`]. The
//!   merge goes on regardless; the caller decides (`portscout merge` refuses unless
//!   `--partial`). A merge without problems has the scan's identity as shard `1/1`.
//!
//! Duplicates can only be found among listed records: a port hidden by `--show` in two inputs
//! is counted twice. Write shards with `--show all` for exact totals.
//!
//! ```
//! use portscout::merge::Merger;
//!
//! let a = r#"{"ip":"198.18.0.1","port":80,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1}
//! {"type":"summary","hosts":2,"open":1,"closed":0,"filtered":0,"elapsed_ms":100,"hosts_down":0,"scan":"00000000000000aa","shard":"1/2","probes":4,"part":1,"complete":true}
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
//! // b.ndjson has no summary (so no identity), and shard 2/2 is missing.
//! assert_eq!(merged.shard_problems.len(), 2);
//! assert!(merged.shard_problems[1].to_string().contains("shard 2/2 of scan 00000000000000aa is missing"));
//! # Ok::<(), portscout::merge::ReadError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::model::{HostDown, PortResult, PortState, ShardIdentity};
use crate::output::Summary;
use crate::plan::Shard;

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

/// Why the inputs may not make up one whole scan, found by the merge (see the
/// [module documentation](self), "Shards").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardProblem {
    /// Records of `input` carry no identity to check: its summary has none (`summary`:
    /// written by an older portscout), or no summary covers them (a run that was killed).
    Unidentified {
        /// The input.
        input: Arc<str>,
        /// Whether it was a summary without identity (else records without a summary).
        summary: bool,
    },
    /// A summary of `input` is of another scan (another id or probe count) or another split
    /// (another shard count) than the first identified one, read from `first_in`.
    OtherScan {
        /// The input.
        input: Arc<str>,
        /// What its summary says.
        identity: ShardIdentity,
        /// The input of the first identified summary.
        first_in: Arc<str>,
        /// What that one says.
        first: ShardIdentity,
    },
    /// A summary of `input` repeats one of `first_in` (same scan, shard and part): it and
    /// the records it covers were dropped.
    Repeated {
        /// The input that repeats.
        input: Arc<str>,
        /// The input read first.
        first_in: Arc<str>,
        /// The repeated identity.
        identity: ShardIdentity,
    },
    /// A shard of the scan is missing or incomplete.
    Missing {
        /// The scan id.
        scan: u64,
        /// The shard.
        shard: Shard,
        /// What of it is missing.
        gap: Gap,
    },
}

/// What of a shard is missing ([`ShardProblem::Missing`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gap {
    /// No part of it, nor of the shards after it up to `through` (its index, for one
    /// shard), was given.
    Shards {
        /// The last missing shard of the run.
        through: u64,
    },
    /// These parts (runs before a later one that was given) are missing.
    Parts(Vec<u32>),
    /// Its last part given, `last`, did not complete it (paused, or stopped early) and no
    /// later part was given.
    Unfinished {
        /// The last part given.
        last: u32,
    },
}

impl ShardProblem {
    /// Whether `portscout merge --partial` accepts it: every problem but
    /// [`ShardProblem::OtherScan`] (results of different scans never make one).
    pub fn partial_accepts(&self) -> bool {
        !matches!(self, ShardProblem::OtherScan { .. })
    }
}

/// `shard 2/3 of scan 0123456789abcdef`.
fn shard_of(shard: Shard, scan: u64) -> String {
    format!("shard {}/{} of scan {scan:016x}", shard.index, shard.count)
}

impl fmt::Display for ShardProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardProblem::Unidentified {
                input,
                summary: true,
            } => write!(
                f,
                "`{input}` has a summary without scan identity (written by an older \
                 portscout): its shard cannot be checked"
            ),
            ShardProblem::Unidentified {
                input,
                summary: false,
            } => write!(
                f,
                "`{input}` has records that no summary covers (a run that was killed?): \
                 their shard cannot be checked"
            ),
            ShardProblem::OtherScan {
                input,
                identity: b,
                first_in,
                first: a,
            } => {
                if (a.scan, a.probes) == (b.scan, b.probes) {
                    write!(
                        f,
                        "`{input}` splits scan {} into {} shards, `{first_in}` into {}",
                        a.scan_hex(),
                        b.shard.count,
                        a.shard.count
                    )
                } else {
                    write!(
                        f,
                        "`{input}` is from another scan ({}, {} probes) than `{first_in}` \
                         ({}, {} probes)",
                        b.scan_hex(),
                        b.probes,
                        a.scan_hex(),
                        a.probes
                    )
                }
            }
            ShardProblem::Repeated {
                input,
                first_in,
                identity: id,
            } => write!(
                f,
                "`{input}` repeats `{first_in}` ({}, part {}): read once",
                shard_of(id.shard, id.scan),
                id.part
            ),
            ShardProblem::Missing { scan, shard, gap } => {
                let which = shard_of(*shard, *scan);
                match gap {
                    Gap::Shards { through } if *through == shard.index => {
                        write!(f, "{which} is missing")
                    }
                    Gap::Shards { through } => write!(
                        f,
                        "shards {}/{n} to {through}/{n} of scan {scan:016x} are missing",
                        shard.index,
                        n = shard.count
                    ),
                    Gap::Parts(parts) => {
                        let list: Vec<String> = parts.iter().map(u32::to_string).collect();
                        write!(
                            f,
                            "{which} lacks part {} (a run that a given one resumed)",
                            list.join(", ")
                        )
                    }
                    Gap::Unfinished { last } => write!(
                        f,
                        "{which} is unfinished: its part {last} was paused or stopped early \
                         and no later part is given"
                    ),
                }
            }
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
    /// Why the inputs may not be one whole scan (missing, repeated or foreign shards,
    /// inputs that cannot be checked), in the order found; empty when they are.
    pub shard_problems: Vec<ShardProblem>,
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
    /// Where the current input's records since its last summary (or its start) begin in
    /// `ports` and `downs`: a repeated summary drops them.
    segment: (usize, usize),
    /// Every identified summary kept, with its input.
    parts: Vec<(ShardIdentity, u32)>,
    /// Problems found while reading.
    problems: Vec<ShardProblem>,
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
        self.end_input();
        self.inputs.push(name.into());
    }

    /// Ends the current input: the records no summary covered are counted themselves.
    fn end_input(&mut self) {
        let uncovered = std::mem::take(&mut self.uncovered);
        let any = self.segment != (self.ports.len(), self.downs.len());
        if any {
            if let Some(input) = self.inputs.last() {
                let input = input.clone();
                self.unidentified(input, false);
            }
        }
        self.segment = (self.ports.len(), self.downs.len());
        self.totals.add(uncovered);
    }

    fn unidentified(&mut self, input: Arc<str>, summary: bool) {
        let problem = ShardProblem::Unidentified { input, summary };
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
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
                let name = self.inputs[input as usize].clone();
                match s.identity {
                    None => self.unidentified(name, true),
                    Some(id) => {
                        let seen = self.parts.iter().find(|(p, _)| {
                            (p.scan, p.shard, p.probes, p.part)
                                == (id.scan, id.shard, id.probes, id.part)
                        });
                        if let Some(&(_, first)) = seen {
                            // The same run twice: once is enough.
                            self.ports.truncate(self.segment.0);
                            self.downs.truncate(self.segment.1);
                            self.uncovered = Counts::default();
                            self.problems.push(ShardProblem::Repeated {
                                input: name,
                                first_in: self.inputs[first as usize].clone(),
                                identity: id,
                            });
                            return;
                        }
                        self.parts.push((id, input));
                    }
                }
                self.segment = (self.ports.len(), self.downs.len());
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
        self.end_input();
        let (mut shard_problems, identity) = self.check_shards();
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
            identity,
        };
        Merged {
            results: results.into_iter().map(|(r, _)| r).collect(),
            hosts_down,
            summary,
            conflicts,
            unknown: self.unknown,
            shard_problems: std::mem::take(&mut shard_problems),
            ptr_names: self.ptr_names.into_iter().collect(),
        }
    }

    /// The problems of the shards read, and the identity of the merge when there is none.
    fn check_shards(&mut self) -> (Vec<ShardProblem>, Option<ShardIdentity>) {
        let mut problems = std::mem::take(&mut self.problems);
        let Some(&(first, first_in)) = self.parts.first() else {
            return (problems, None);
        };
        // Parts of each shard of the first identified scan.
        let mut parts: BTreeMap<u64, Vec<(u32, bool)>> = BTreeMap::new();
        for &(id, input) in &self.parts {
            if (id.scan, id.shard.count, id.probes) != (first.scan, first.shard.count, first.probes)
            {
                problems.push(ShardProblem::OtherScan {
                    input: self.inputs[input as usize].clone(),
                    identity: id,
                    first_in: self.inputs[first_in as usize].clone(),
                    first,
                });
                continue;
            }
            parts
                .entry(id.shard.index)
                .or_default()
                .push((id.part, id.complete));
        }
        let count = first.shard.count;
        let missing = |index: u64, through: u64| ShardProblem::Missing {
            scan: first.scan,
            shard: Shard { index, count },
            gap: Gap::Shards { through },
        };
        // The shards given, in order; each run of shards between them is one problem.
        let mut next = 1u64;
        for (&index, given) in &parts {
            if index > next {
                problems.push(missing(next, index - 1));
            }
            next = index + 1;
            let shard = Shard { index, count };
            let done = given.iter().filter(|(_, c)| *c).map(|(p, _)| *p).min();
            let gap = match done {
                Some(end) => {
                    let lacking: Vec<u32> = (1..end)
                        .filter(|p| !given.iter().any(|(q, _)| q == p))
                        .collect();
                    (!lacking.is_empty()).then_some(Gap::Parts(lacking))
                }
                None => Some(Gap::Unfinished {
                    last: given.iter().map(|(p, _)| *p).max().unwrap_or(1),
                }),
            };
            if let Some(gap) = gap {
                problems.push(ShardProblem::Missing {
                    scan: first.scan,
                    shard,
                    gap,
                });
            }
        }
        if next <= count {
            problems.push(missing(next, count));
        }
        let identity = problems.is_empty().then_some(ShardIdentity {
            shard: Shard::WHOLE,
            part: 1,
            complete: true,
            ..first
        });
        (problems, identity)
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
