//! Recording a scan as it runs: a [`Sink`] that writes results in batched transactions.

use std::io;
use std::time::{Duration, Instant};

use rusqlite::{params, TransactionBehavior};

use super::writer::{self, Writer};
use super::{count, Counts, Db, HistoryError, NewScan, Timestamp};
use crate::model::{HostDown, PortResult, PortState};
use crate::output::{ScanInfo, Sink, Summary};
use crate::scan::Pauser;

/// Results written per transaction, at most.
pub const DEFAULT_BATCH_ROWS: usize = 4096;

/// Longest time results wait in memory before they are committed (checked as results
/// arrive).
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_millis(250);

/// By default a batch holds [`DEFAULT_BATCH_ROWS`] rows, or this many times as many closed
/// ports (kept as numbers, about 2 bytes each: a batch of them is still smaller than a batch
/// of rows, and fewer, longer lists per host take less room while a scan records).
const CLOSED_PER_ROW: usize = 16;

/// How a recorded run ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The scan finished.
    Complete,
    /// The scan paused (a resume file says what is left); resuming continues it.
    Paused,
}

/// Writes one scan's results into the history, as a [`Sink`] beside the printer.
///
/// The scan's row exists from [`Db::record`] on, as `running`, with this process as its
/// writer. Results and hosts found down are kept in memory and committed in one transaction
/// every [`DEFAULT_BATCH_ROWS`] records or [`DEFAULT_BATCH_INTERVAL`], whichever comes
/// first ([`Recorder::batch`] changes both). [`Sink::end`] (or [`Recorder::finish`]) commits
/// the last batch and marks the scan complete or paused, with its end time and totals, in one
/// transaction.
///
/// If the process dies, what was committed stays and the scan reads as incomplete (its writer
/// is gone). Dropped without [`Sink::end`] (the scan failed), the recorder commits what it
/// has and marks the scan `failed`; dropped before [`Sink::begin`] (the scan never started),
/// it removes the new scan, or gives a resumed scan back its previous state.
pub struct Recorder {
    db: Db,
    id: i64,
    pending: Vec<Pending>,
    /// Closed ports of the batch, per host and reason (written as one `closed` row each).
    closed: std::collections::HashMap<(std::net::IpAddr, &'static str), Vec<u16>>,
    /// Closed ports waiting in `closed`.
    waiting: usize,
    batch_rows: usize,
    /// Closed ports per batch, at most.
    batch_closed: usize,
    batch_interval: Duration,
    last_commit: Instant,
    run_started: Instant,
    pauser: Option<Pauser>,
    /// The scan's results so far (a resumed scan's earlier runs included).
    counts: Counts,
    began: bool,
    finished: bool,
    /// A resumed scan's state before this run (restored if the run never begins); `None`
    /// for a new scan (deleted if it never begins).
    before: Option<(String, Option<i64>)>,
}

/// A resumed scan's state, end, and writer (pid, start time, boot id).
type ResumedRow = (
    String,
    Option<i64>,
    Option<u32>,
    Option<i64>,
    Option<String>,
);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("db", &self.db)
            .field("id", &self.id)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// A detected service as `results` stores it: name, product, version, and the whole JSON
/// object.
type ServiceRow = (String, Option<String>, Option<String>, String);

enum Pending {
    Port {
        ip: String,
        port: u16,
        state: &'static str,
        reason: &'static str,
        rtt_us: Option<i64>,
        banner: Option<String>,
        service: Option<Box<ServiceRow>>,
    },
    Down {
        ip: String,
        reason: &'static str,
        skipped: u32,
    },
}

impl Recorder {
    fn new(db: Db, id: i64, counts: Counts, before: Option<(String, Option<i64>)>) -> Recorder {
        Recorder {
            db,
            id,
            pending: Vec::new(),
            closed: std::collections::HashMap::new(),
            waiting: 0,
            batch_rows: DEFAULT_BATCH_ROWS,
            batch_closed: DEFAULT_BATCH_ROWS * CLOSED_PER_ROW,
            batch_interval: DEFAULT_BATCH_INTERVAL,
            last_commit: Instant::now(),
            run_started: Instant::now(),
            pauser: None,
            counts,
            began: false,
            finished: false,
            before,
        }
    }

    pub(crate) fn start(db: Db, scan: &NewScan) -> Result<Recorder, HistoryError> {
        let w = Writer::this_process();
        let args = serde_json::to_string(&scan.args).expect("strings serialize");
        db.conn
            .execute(
                "INSERT INTO scans (key, targets, ports, scan_type, args, version, state, \
                 started_ms, writer_pid, writer_start, writer_boot) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9, ?10)",
                params![
                    scan.key.as_str(),
                    scan.targets,
                    scan.ports,
                    scan.scan_type,
                    args,
                    env!("CARGO_PKG_VERSION"),
                    Timestamp::now().0,
                    w.as_ref().map(|w| w.pid),
                    w.as_ref().map(|w| w.start),
                    w.as_ref().map(|w| w.boot.as_str()),
                ],
            )
            .map_err(|e| db.sql(e))?;
        let id = db.conn.last_insert_rowid();
        Ok(Recorder::new(db, id, Counts::default(), None))
    }

    pub(crate) fn resume(mut db: Db, id: i64) -> Result<Recorder, HistoryError> {
        let w = Writer::this_process();
        let path = db.path.clone();
        let sql = |e| HistoryError::Sql {
            path: path.clone(),
            source: super::SqlError(e),
        };
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let row: Option<ResumedRow> = tx
            .query_row(
                "SELECT state, ended_ms, writer_pid, writer_start, writer_boot FROM scans \
                 WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(sql)?;
        let Some((state, ended, pid, start, boot)) = row else {
            return Err(HistoryError::NoSuchScan { path, id });
        };
        if let (true, Some(pid), Some(start), Some(boot)) = (state == "running", pid, start, boot) {
            if writer::alive(pid, start, &boot) {
                return Err(HistoryError::Busy { path, id, pid });
            }
        }
        tx.execute(
            "UPDATE scans SET state = 'running', ended_ms = NULL, runs = runs + 1, \
             open = NULL, closed = NULL, filtered = NULL, hosts_down = NULL, \
             writer_pid = ?2, writer_start = ?3, writer_boot = ?4 WHERE id = ?1",
            params![
                id,
                w.as_ref().map(|w| w.pid),
                w.as_ref().map(|w| w.start),
                w.as_ref().map(|w| w.boot.as_str()),
            ],
        )
        .map_err(sql)?;
        let counts = count(&tx, id).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Recorder::new(db, id, counts, Some((state, ended))))
    }

    /// The scan's id in the history.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Commits every `rows` records, or when results have waited `interval`, whichever
    /// comes first (`rows` at least 1).
    pub fn batch(mut self, rows: usize, interval: Duration) -> Recorder {
        self.batch_rows = rows.max(1);
        self.batch_closed = rows.max(1);
        self.batch_interval = interval;
        self
    }

    /// At [`Sink::end`], records the scan as paused if `pauser` paused it (else complete).
    pub fn paused_by(mut self, pauser: Pauser) -> Recorder {
        self.pauser = Some(pauser);
        self
    }

    /// Commits the last batch and marks the scan as `outcome` says, with its end time and
    /// totals, in one transaction. [`Sink::end`] calls it.
    pub fn finish(&mut self, summary: &Summary, outcome: Outcome) -> Result<(), HistoryError> {
        let state = match outcome {
            Outcome::Complete => "complete",
            Outcome::Paused => "paused",
        };
        let elapsed = i64::try_from(summary.elapsed.as_millis()).unwrap_or(i64::MAX);
        self.commit(Some((state, elapsed)))?;
        self.finished = true;
        // The closed-port lists made one row per host leave free pages: a file created by
        // schema 3 (`auto_vacuum = INCREMENTAL`) gives them back now; in an older file they
        // are reused by the next scans (no-op there).
        self.give_back().map_err(|e| self.db.sql(e))
    }

    /// `PRAGMA incremental_vacuum`, stepped to its end (each step frees one page).
    fn give_back(&self) -> rusqlite::Result<()> {
        let mut stmt = self.db.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }

    /// Commits what is pending; with `end`, marks the scan in the same transaction.
    fn commit(&mut self, end: Option<(&str, i64)>) -> Result<(), HistoryError> {
        let id = self.id;
        let counts = self.counts;
        let pending = std::mem::take(&mut self.pending);
        let closed = std::mem::take(&mut self.closed);
        self.waiting = 0;
        let write = || -> rusqlite::Result<()> {
            let tx = self.db.conn.unchecked_transaction()?;
            {
                let mut insert_closed = tx.prepare_cached(
                    "INSERT INTO closed (scan_id, ip, reason, count, ports) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for ((ip, reason), mut ports) in closed {
                    ports.sort_unstable();
                    insert_closed.execute(params![
                        id,
                        ip.to_string(),
                        reason,
                        ports.len() as i64,
                        super::closed::encode(&ports)
                    ])?;
                }
                let mut port = tx.prepare_cached(
                    "INSERT INTO results (scan_id, ip, port, state, reason, rtt_us, \
                     banner, service, product, version, service_info) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                let mut down = tx.prepare_cached(
                    "INSERT OR REPLACE INTO hosts_down (scan_id, ip, reason, skipped) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for p in &pending {
                    match p {
                        Pending::Port {
                            ip,
                            port: n,
                            state,
                            reason,
                            rtt_us,
                            banner,
                            service,
                        } => {
                            let (name, product, version, json) = match service.as_deref() {
                                Some((n, p, v, j)) => (Some(n), p.as_ref(), v.as_ref(), Some(j)),
                                None => (None, None, None, None),
                            };
                            port.execute(params![
                                id, ip, n, state, reason, rtt_us, banner, name, product, version,
                                json
                            ])?;
                        }
                        Pending::Down {
                            ip,
                            reason,
                            skipped,
                        } => {
                            down.execute(params![id, ip, reason, skipped])?;
                        }
                    }
                }
            }
            if let Some((state, elapsed)) = end {
                super::closed::compact(&tx, id)?;
                let c = counts;
                tx.execute(
                    "UPDATE scans SET state = ?2, ended_ms = ?3, elapsed_ms = elapsed_ms + ?4, \
                     open = ?5, closed = ?6, filtered = ?7, hosts_down = ?8 WHERE id = ?1",
                    params![
                        id,
                        state,
                        Timestamp::now().0,
                        elapsed,
                        c.open,
                        c.closed,
                        c.filtered,
                        c.hosts_down
                    ],
                )?;
            }
            tx.commit()
        };
        let result = write();
        self.last_commit = Instant::now();
        result.map_err(|e| self.db.sql(e))
    }

    fn push(&mut self, p: Pending) -> Result<(), HistoryError> {
        self.pending.push(p);
        self.waited()
    }

    /// Commits when the batch is full (`batch_rows` rows, or `batch_closed` closed ports) or
    /// has waited long enough.
    fn waited(&mut self) -> Result<(), HistoryError> {
        if self.pending.len() >= self.batch_rows
            || self.waiting >= self.batch_closed
            || self.last_commit.elapsed() >= self.batch_interval
        {
            self.commit(None)?;
        }
        Ok(())
    }

    fn drop_unfinished(&mut self) -> Result<(), HistoryError> {
        if !self.began {
            let conn = &self.db.conn;
            // The scan never started (bad input found after the row was written, say).
            return match self.before.take() {
                None => conn
                    .execute_batch(&format!(
                        "DELETE FROM results WHERE scan_id = {id}; \
                         DELETE FROM hosts_down WHERE scan_id = {id}; \
                         DELETE FROM closed WHERE scan_id = {id}; \
                         DELETE FROM scans WHERE id = {id};",
                        id = self.id
                    ))
                    .map(drop),
                Some((state, ended)) => {
                    let c = match count(conn, self.id) {
                        Ok(c) => c,
                        Err(e) => return Err(self.db.sql(e)),
                    };
                    let totals = (state != "running").then_some(c);
                    conn.execute(
                        "UPDATE scans SET state = ?2, ended_ms = ?3, runs = runs - 1, \
                         open = ?4, closed = ?5, filtered = ?6, hosts_down = ?7 WHERE id = ?1",
                        params![
                            self.id,
                            state,
                            ended,
                            totals.map(|c| c.open),
                            totals.map(|c| c.closed),
                            totals.map(|c| c.filtered),
                            totals.map(|c| c.hosts_down),
                        ],
                    )
                    .map(drop)
                }
            }
            .map_err(|e| self.db.sql(e));
        }
        let elapsed = i64::try_from(self.run_started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.commit(Some(("failed", elapsed)))
    }
}

fn io_err(e: HistoryError) -> io::Error {
    io::Error::other(e)
}

impl Sink for Recorder {
    /// Records the number of hosts and ports.
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.began = true;
        self.run_started = Instant::now();
        self.last_commit = Instant::now();
        let hosts = i64::try_from(info.hosts).unwrap_or(i64::MAX);
        // The ports of every host: what a host's compact closed row stands for. A resumed
        // run scans the same set.
        let port_set = info.port_set.as_ref().map(|p| p.to_string());
        self.db
            .conn
            .execute(
                "UPDATE scans SET hosts = ?2, ports_per_host = ?3, \
                 port_set = coalesce(?4, port_set) WHERE id = ?1",
                params![self.id, hosts, info.ports, port_set],
            )
            .map_err(|e| io_err(self.db.sql(e)))?;
        Ok(())
    }

    fn result(&mut self, r: &PortResult) -> io::Result<bool> {
        match r.state {
            PortState::Open => self.counts.open += 1,
            PortState::Closed => self.counts.closed += 1,
            PortState::Filtered => self.counts.filtered += 1,
        }
        // A closed port is a port number in its host's `closed` row (its round trip is not
        // kept); one with a banner or service (which a closed port does not have) stays a row.
        if r.state == PortState::Closed && r.banner.is_none() && r.service.is_none() {
            self.closed
                .entry((r.ip, r.reason.as_str()))
                .or_default()
                .push(r.port);
            self.waiting += 1;
            self.waited().map_err(io_err)?;
            return Ok(true);
        }
        self.push(Pending::Port {
            ip: r.ip.to_string(),
            port: r.port,
            state: r.state.as_str(),
            reason: r.reason.as_str(),
            rtt_us: r
                .rtt
                .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            banner: r.banner.as_ref().map(|b| b.escaped()),
            service: r.service.as_ref().map(|s| {
                Box::new((
                    s.name.clone(),
                    s.product.clone(),
                    s.version.clone(),
                    serde_json::to_string(s.as_ref()).unwrap_or_default(),
                ))
            }),
        })
        .map_err(io_err)?;
        Ok(true)
    }

    fn host_down(&mut self, h: &HostDown) -> io::Result<()> {
        self.counts.hosts_down += 1;
        self.push(Pending::Down {
            ip: h.ip.to_string(),
            reason: h.reason.as_str(),
            skipped: h.skipped,
        })
        .map_err(io_err)
    }

    /// Commits the last batch and marks the scan complete, or paused if the
    /// [`Recorder::paused_by`] pauser paused it.
    fn end(&mut self, summary: &Summary) -> io::Result<()> {
        let outcome = match &self.pauser {
            Some(p) if p.is_paused() => Outcome::Paused,
            _ => Outcome::Complete,
        };
        self.finish(summary, outcome).map_err(io_err)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: if this fails too, the scan reads as incomplete once this process
            // is gone.
            let _ = self.drop_unfinished();
        }
    }
}
