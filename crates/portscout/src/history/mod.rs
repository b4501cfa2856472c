//! Scan history in SQLite: every scan recorded (its arguments, start, end and every result),
//! listed, and two scans compared.
//!
//! * [`Db::open`] creates or opens a history file and brings its schema up to date
//!   ([`SCHEMA_VERSION`]; versioned with `PRAGMA user_version`, one transaction per
//!   migration). A file written by a newer portscout, a file that is not SQLite and an SQLite
//!   database of another program are refused with their own [`HistoryError`].
//! * [`Db::record`] starts a [`Recorder`]: a [`Sink`](crate::output::Sink) that writes the
//!   scan's results in batched transactions, and marks the scan complete (or paused) at
//!   [`Sink::end`](crate::output::Sink::end). A process killed mid-scan leaves the batches it
//!   committed, and the scan shows as [`ScanStatus::Incomplete`].
//! * [`Db::scans`] lists the scans, [`Db::pick`] chooses two to compare, [`Db::diff`] compares
//!   them ([`diff`] says what counts as a change).
//!
//! The schema, the crash semantics and how to query a history with the `sqlite3` shell are in
//! `docs/history.md`.
//!
//! ```
//! use portscout::history::{Db, NewScan, ScanKey};
//! use portscout::output::{ScanInfo, Sink, Summary};
//! use portscout::ports::PortSet;
//! use portscout::target::Target;
//! use portscout::{PortResult, PortState, Reason};
//!
//! let dir = std::env::temp_dir().join(format!("portscout-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("scans.db");
//! # let _ = std::fs::remove_file(&path);
//! let key = ScanKey::new(&[Target::parse("127.0.0.1")?], &[], &PortSet::parse("22")?);
//! for state in [PortState::Closed, PortState::Open] {
//!     let scan = NewScan::new(key.clone(), "127.0.0.1", "22", "connect", vec![]);
//!     let mut recorder = Db::open(&path)?.record(&scan)?;
//!     recorder.begin(&ScanInfo { hosts: 1, ports: 1, ..ScanInfo::default() })?;
//!     let reason = if state == PortState::Open { Reason::SynAck } else { Reason::ConnRefused };
//!     let ip = "127.0.0.1".parse().unwrap();
//!     recorder.result(&PortResult {
//!         ip, port: 22, state, reason, rtt: None, banner: None, service: None,
//!     })?;
//!     recorder.end(&Summary::default())?;
//! }
//! let db = Db::open(&path)?;
//! let (a, b) = db.pick(None, None)?;
//! let diff = db.diff(&a, &b)?;
//! assert_eq!(diff.summary.opened, 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};

use crate::model::{Banner, HostDown, PortResult, PortState, Reason};
use crate::ports::PortSet;

mod closed;
pub mod diff;
mod key;
mod recorder;
mod schema;
mod writer;

#[cfg(test)]
mod tests;

pub use diff::{Change, Diff, DiffSummary, HostChange, HostState, PortChange, Service};
pub use key::ScanKey;
pub use recorder::{Outcome, Recorder, DEFAULT_BATCH_INTERVAL, DEFAULT_BATCH_ROWS};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

/// An SQLite error, kept opaque (its text says what went wrong).
#[derive(Debug)]
pub struct SqlError(rusqlite::Error);

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqlError {}

/// What can go wrong with a scan history. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be opened or created (a missing directory, no permission, …).
    #[error("cannot open scan history `{path}`: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: SqlError,
    },
    /// [`Db::open_existing`] was given a file that does not exist.
    #[error("scan history `{path}` does not exist (a scan with --db creates it)")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The file is not an SQLite database.
    #[error("`{path}` is not a portscout scan history: not an SQLite database")]
    NotSqlite {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database of another program.
    #[error(
        "`{path}` is not a portscout scan history: an SQLite database of another kind ({why})"
    )]
    NotOurs {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        why: String,
    },
    /// The file was written by a newer portscout, with a schema this version does not know.
    #[error(
        "scan history `{path}` has schema version {found}, from a newer portscout; this \
         portscout ({version}) knows versions up to {known}: use a newer portscout"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// The file's schema version.
        found: u32,
        /// The newest schema version this library knows ([`SCHEMA_VERSION`]).
        known: u32,
        /// This library's version.
        version: &'static str,
    },
    /// A migration failed (it was rolled back: the file keeps its older version).
    #[error("cannot upgrade scan history `{path}` to schema version {to}: {source}")]
    Migration {
        /// The file.
        path: PathBuf,
        /// The version the failed migration leads to.
        to: u32,
        /// Why.
        #[source]
        source: SqlError,
    },
    /// Reading or writing failed (disk full, locked for too long, read-only file, …).
    #[error("scan history `{path}`: {source}")]
    Sql {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: SqlError,
    },
    /// A value in the file that this version cannot read.
    #[error("scan history `{path}`: unreadable value in scan {id}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The scan it belongs to.
        id: i64,
        /// What and where.
        what: String,
    },
    /// No scan has this id.
    #[error("no scan {id} in `{path}` (`portscout history --db {path}` lists them)")]
    NoSuchScan {
        /// The file.
        path: PathBuf,
        /// The id asked for.
        id: i64,
    },
    /// A paused or interrupted scan is resumed while another process is recording it.
    #[error("scan {id} in `{path}` is being recorded by process {pid}")]
    Busy {
        /// The file.
        path: PathBuf,
        /// The scan.
        id: i64,
        /// The process recording it.
        pid: u32,
    },
    /// [`Db::pick`] found no two scans to compare.
    #[error("{what} in `{path}`")]
    NothingToCompare {
        /// The file.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
}

/// A point in time, in milliseconds since the Unix epoch (UTC), as the history stores it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now.
    pub fn now() -> Timestamp {
        let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp(ms)
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-23T10:00:01.123Z`.
    pub fn rfc3339(self) -> String {
        let (date, (h, m, s), ms) = self.parts();
        format!("{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
    }

    /// `(YYYY-MM-DD, (h, m, s), ms)`.
    fn parts(self) -> (String, (i64, i64, i64), i64) {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        (
            format!("{y:04}-{mo:02}-{d:02}"),
            (sod / 3600, sod % 3600 / 60, sod % 60),
            ms,
        )
    }
}

impl fmt::Display for Timestamp {
    /// `2026-11-23 10:00:01` (UTC, whole seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (date, (h, m, s), _) = self.parts();
        write!(f, "{date} {h:02}:{m:02}:{s:02}")
    }
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Where a recorded scan stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ScanStatus {
    /// Being recorded by a process that is still alive (on this machine).
    Running {
        /// That process.
        pid: u32,
    },
    /// Finished (every probe has its result, or `--max-open` was reached).
    Complete,
    /// Interrupted by Ctrl-C/SIGTERM: a resume file says what is left; resuming continues
    /// this scan.
    Paused,
    /// Its process ended without finishing it (killed, crashed, interrupted twice, machine
    /// restarted): the results of the batches it committed are kept.
    Incomplete,
    /// The scan stopped with an error; the results it had are kept.
    Failed,
}

impl ScanStatus {
    /// `running`, `complete`, `paused`, `incomplete` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Running { .. } => "running",
            ScanStatus::Complete => "complete",
            ScanStatus::Paused => "paused",
            ScanStatus::Incomplete => "incomplete",
            ScanStatus::Failed => "failed",
        }
    }

    /// Whether the scan is [`ScanStatus::Complete`].
    pub fn is_complete(self) -> bool {
        self == ScanStatus::Complete
    }
}

impl fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result counts of a scan.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Open ports.
    pub open: u64,
    /// Closed ports.
    pub closed: u64,
    /// Filtered ports.
    pub filtered: u64,
    /// Hosts found down.
    pub hosts_down: u64,
}

/// One recorded scan, as [`Db::scans`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRecord {
    /// Its id (1, 2, …: in the order scans were started).
    pub id: i64,
    /// What makes scans comparable ([`ScanKey`]).
    pub key: String,
    /// The targets, as given.
    pub targets: String,
    /// The ports, as given (`1-65535`, `top 1000`).
    pub ports: String,
    /// `connect` or `syn`.
    pub scan_type: String,
    /// The command line, without the program name.
    pub args: Vec<String>,
    /// The portscout version that started it.
    pub version: String,
    /// When it started.
    pub started: Timestamp,
    /// When its last run ended (`None` while running, or when its process died).
    pub ended: Option<Timestamp>,
    /// Scanning time, summed over its runs (a paused scan resumed is one scan of two runs).
    pub elapsed_ms: u64,
    /// Number of runs (1, plus one per resume).
    pub runs: u32,
    /// Target addresses (after exclusions), once the scan began.
    pub hosts: Option<u64>,
    /// Ports per address, once the scan began.
    pub ports_per_host: Option<u32>,
    /// Where it stands.
    pub status: ScanStatus,
    /// Its results so far.
    pub counts: Counts,
}

/// One port's state in one scan ([`Db::port_history`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PortHistory {
    /// The scan's id.
    pub scan: i64,
    /// The port's state in it.
    pub state: PortState,
}

/// What [`Db::record`] stores about a new scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewScan {
    /// What makes scans comparable.
    pub key: ScanKey,
    /// The targets, as given (for people).
    pub targets: String,
    /// The ports, as given (for people).
    pub ports: String,
    /// `connect` or `syn`.
    pub scan_type: String,
    /// The command line, without the program name.
    pub args: Vec<String>,
}

impl NewScan {
    /// A new scan's description.
    pub fn new(
        key: ScanKey,
        targets: impl Into<String>,
        ports: impl Into<String>,
        scan_type: impl Into<String>,
        args: Vec<String>,
    ) -> NewScan {
        NewScan {
            key,
            targets: targets.into(),
            ports: ports.into(),
            scan_type: scan_type.into(),
            args,
        }
    }
}

/// A scan history file, open.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// Opens the history at `path`, creating it if it does not exist, and brings its schema
    /// up to [`SCHEMA_VERSION`].
    pub fn open(path: impl AsRef<Path>) -> Result<Db, HistoryError> {
        schema::open(path.as_ref(), true)
    }

    /// Like [`Db::open`], but a missing file is an error ([`HistoryError::Missing`]) rather
    /// than created: for reading.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Db, HistoryError> {
        schema::open(path.as_ref(), false)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's schema version (after [`Db::open`]: [`SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> Result<u32, HistoryError> {
        schema::user_version(&self.conn).map_err(|e| self.sql(e))
    }

    /// Starts recording a new scan (its row is written at once, as `running`).
    pub fn record(self, scan: &NewScan) -> Result<Recorder, HistoryError> {
        Recorder::start(self, scan)
    }

    /// Continues recording scan `id` (a paused or interrupted scan being resumed): its
    /// results so far stay, the new ones are added to it. Refused while another live process
    /// records it.
    pub fn resume(self, id: i64) -> Result<Recorder, HistoryError> {
        Recorder::resume(self, id)
    }

    pub(crate) fn sql(&self, e: rusqlite::Error) -> HistoryError {
        HistoryError::Sql {
            path: self.path.clone(),
            source: SqlError(e),
        }
    }

    fn corrupt(&self, id: i64, what: String) -> HistoryError {
        HistoryError::Corrupt {
            path: self.path.clone(),
            id,
            what,
        }
    }

    /// Every scan, oldest first.
    pub fn scans(&self) -> Result<Vec<ScanRecord>, HistoryError> {
        self.query_scans("ORDER BY id", params![])
    }

    /// Scan `id`.
    pub fn scan(&self, id: i64) -> Result<ScanRecord, HistoryError> {
        self.query_scans("WHERE id = ?1", params![id])?
            .pop()
            .ok_or_else(|| HistoryError::NoSuchScan {
                path: self.path.clone(),
                id,
            })
    }

    fn query_scans(
        &self,
        tail: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<ScanRecord>, HistoryError> {
        let sql = format!(
            "SELECT id, key, targets, ports, scan_type, args, version, state, started_ms, \
             ended_ms, elapsed_ms, runs, hosts, ports_per_host, open, closed, filtered, \
             hosts_down, writer_pid, writer_start, writer_boot FROM scans {tail}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params, |r| {
                Ok(RawScan {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    targets: r.get(2)?,
                    ports: r.get(3)?,
                    scan_type: r.get(4)?,
                    args: r.get(5)?,
                    version: r.get(6)?,
                    state: r.get(7)?,
                    started_ms: r.get(8)?,
                    ended_ms: r.get(9)?,
                    elapsed_ms: r.get(10)?,
                    runs: r.get(11)?,
                    hosts: r.get(12)?,
                    ports_per_host: r.get(13)?,
                    totals: [r.get(14)?, r.get(15)?, r.get(16)?, r.get(17)?],
                    writer: (r.get(18)?, r.get(19)?, r.get(20)?),
                })
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql(e))?;
        rows.into_iter().map(|raw| self.scan_record(raw)).collect()
    }

    fn scan_record(&self, raw: RawScan) -> Result<ScanRecord, HistoryError> {
        let id = raw.id;
        let args: Vec<String> = serde_json::from_str(&raw.args)
            .map_err(|e| self.corrupt(id, format!("args `{}`: {e}", raw.args)))?;
        let status = match raw.state.as_str() {
            "complete" => ScanStatus::Complete,
            "paused" => ScanStatus::Paused,
            "failed" => ScanStatus::Failed,
            "incomplete" => ScanStatus::Incomplete,
            "running" => match raw.writer {
                (Some(pid), Some(start), Some(boot)) if writer::alive(pid, start, &boot) => {
                    ScanStatus::Running { pid }
                }
                _ => ScanStatus::Incomplete,
            },
            other => return Err(self.corrupt(id, format!("state `{other}`"))),
        };
        let counts = match raw.totals {
            [Some(open), Some(closed), Some(filtered), Some(hosts_down)] => Counts {
                open,
                closed,
                filtered,
                hosts_down,
            },
            _ => self.count(id)?,
        };
        Ok(ScanRecord {
            id,
            key: raw.key,
            targets: raw.targets,
            ports: raw.ports,
            scan_type: raw.scan_type,
            args,
            version: raw.version,
            started: Timestamp(raw.started_ms),
            ended: raw.ended_ms.map(Timestamp),
            elapsed_ms: raw.elapsed_ms,
            runs: raw.runs,
            hosts: raw.hosts,
            ports_per_host: raw.ports_per_host,
            status,
            counts,
        })
    }

    /// Counts scan `id`'s results as they are in the file.
    fn count(&self, id: i64) -> Result<Counts, HistoryError> {
        count(&self.conn, id).map_err(|e| self.sql(e))
    }

    /// Scan `id`'s port results, ordered by address (IPv4 first) and port.
    pub fn results(&self, id: i64) -> Result<Vec<PortResult>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ip, port, state, reason, rtt_us, banner, service_info FROM results \
                 WHERE scan_id = ?1 ORDER BY rowid",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u16>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<u64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (ip, port, state, reason, rtt_us, banner, service) =
                row.map_err(|e| self.sql(e))?;
            let (ip, state, reason) = self.decode(id, &ip, &state, &reason)?;
            let banner = match banner {
                None => None,
                Some(b) => {
                    Some(Banner::from_escaped(&b).map_err(|e| self.corrupt(id, e.to_string()))?)
                }
            };
            out.push(PortResult {
                ip,
                port,
                state,
                reason,
                rtt: rtt_us.map(std::time::Duration::from_micros),
                banner,
                service: match service {
                    None => None,
                    Some(s) => Some(Box::new(
                        serde_json::from_str(&s).map_err(|e| self.corrupt(id, e.to_string()))?,
                    )),
                },
            });
        }
        // Closed ports kept as numbers: no round trip, banner or service.
        let port_set = self.port_set(id)?;
        let mut explicit: BTreeMap<IpAddr, Vec<u16>> = BTreeMap::new();
        for r in &out {
            explicit.entry(r.ip).or_default().push(r.port);
        }
        let mut lists: BTreeMap<IpAddr, Vec<closed::ClosedRow>> = BTreeMap::new();
        for row in self.closed_rows(id)? {
            let row = row?;
            lists.entry(row.ip).or_default().push(row);
        }
        for (ip, rows) in lists {
            let mut ports = explicit.remove(&ip).unwrap_or_default();
            ports.sort_unstable();
            for (port, reason) in closed::expand(&rows, &ports, port_set.as_ref()) {
                out.push(PortResult {
                    ip,
                    port,
                    state: PortState::Closed,
                    reason,
                    rtt: None,
                    banner: None,
                    service: None,
                });
            }
        }
        // Stable: of a port recorded twice (which a scan does not do), the last is kept.
        out.sort_by_key(|r| (r.ip, r.port));
        out.reverse();
        out.dedup_by_key(|r| (r.ip, r.port));
        out.reverse();
        Ok(out)
    }

    /// The ports scan `id` scanned on every host, when known (files of schema version 3).
    fn port_set(&self, id: i64) -> Result<Option<PortSet>, HistoryError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT port_set FROM scans WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(|e| self.sql(e))?;
        text.map(|t| {
            PortSet::parse(&t).map_err(|e| self.corrupt(id, format!("port set `{t}`: {e}")))
        })
        .transpose()
    }

    /// Scan `id`'s `closed` rows, by address as text.
    fn closed_rows(
        &self,
        id: i64,
    ) -> Result<impl Iterator<Item = Result<closed::ClosedRow, HistoryError>> + '_, HistoryError>
    {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ip, reason, ports FROM closed WHERE scan_id = ?1 ORDER BY ip, rowid",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                ))
            })
            .map_err(|e| self.sql(e))?
            .collect::<Vec<_>>();
        Ok(rows.into_iter().map(move |row| self.closed_row(id, row)))
    }

    fn closed_row(
        &self,
        id: i64,
        row: rusqlite::Result<(String, String, Option<Vec<u8>>)>,
    ) -> Result<closed::ClosedRow, HistoryError> {
        let (key, reason, ports) = row.map_err(|e| self.sql(e))?;
        let (ip, _, reason) = self.decode(id, &key, "closed", &reason)?;
        let ports = match ports {
            None => None,
            Some(bytes) => Some(
                closed::decode(&bytes)
                    .ok_or_else(|| self.corrupt(id, format!("closed ports of {key}")))?,
            ),
        };
        Ok(closed::ClosedRow {
            key,
            ip,
            reason,
            ports,
        })
    }

    /// The history of one port: its state in every scan that has a result for it, oldest
    /// scan first. Reads the `(ip, port)` index of `results` and the host's closed-port rows,
    /// not the scans' tables.
    pub fn port_history(&self, ip: IpAddr, port: u16) -> Result<Vec<PortHistory>, HistoryError> {
        let key = ip.to_string();
        let mut found: BTreeMap<i64, PortState> = BTreeMap::new();
        let mut listed = std::collections::BTreeSet::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT scan_id, state FROM results WHERE ip = ?1 AND port = ?2 \
                     ORDER BY scan_id, rowid",
                )
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(params![key, port], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(|e| self.sql(e))?;
            for row in rows {
                let (id, state) = row.map_err(|e| self.sql(e))?;
                let state = parse_state(&state)
                    .ok_or_else(|| self.corrupt(id, format!("state `{state}`")))?;
                // Of two rows (which a scan does not write), the later counts.
                found.insert(id, state);
                listed.insert(id);
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT scan_id, ports FROM closed WHERE ip = ?1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([&key], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (id, ports) = row.map_err(|e| self.sql(e))?;
            if listed.contains(&id) {
                continue;
            }
            let closed = match ports {
                Some(bytes) => closed::decode(&bytes)
                    .ok_or_else(|| self.corrupt(id, format!("closed ports of {key}")))?
                    .binary_search(&port)
                    .is_ok(),
                // Every port of the scan's set without a row.
                None => self.port_set(id)?.is_some_and(|set| set.contains(port)),
            };
            if closed {
                found.insert(id, PortState::Closed);
            }
        }
        Ok(found
            .into_iter()
            .map(|(scan, state)| PortHistory { scan, state })
            .collect())
    }

    /// Scan `id`'s hosts found down, ordered by address.
    pub fn hosts_down(&self, id: i64) -> Result<Vec<HostDown>, HistoryError> {
        Ok(self
            .down_map(id)?
            .into_iter()
            .map(|(ip, (reason, skipped))| HostDown {
                ip,
                reason,
                skipped,
            })
            .collect())
    }

    fn down_map(&self, id: i64) -> Result<BTreeMap<IpAddr, (Reason, u32)>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT ip, reason, skipped FROM hosts_down WHERE scan_id = ?1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (ip, reason, skipped) = row.map_err(|e| self.sql(e))?;
            let (ip, _, reason) = self.decode(id, &ip, "open", &reason)?;
            out.insert(ip, (reason, skipped));
        }
        Ok(out)
    }

    fn decode(
        &self,
        id: i64,
        ip: &str,
        state: &str,
        reason: &str,
    ) -> Result<(IpAddr, PortState, Reason), HistoryError> {
        let ip = ip
            .parse()
            .map_err(|_| self.corrupt(id, format!("address `{ip}`")))?;
        let state =
            parse_state(state).ok_or_else(|| self.corrupt(id, format!("state `{state}`")))?;
        let reason = Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == reason)
            .ok_or_else(|| self.corrupt(id, format!("reason `{reason}`")))?;
        Ok((ip, state, reason))
    }

    /// Chooses the two scans to compare, older first:
    ///
    /// * no id: the two most recent complete scans with the key of the most recent scan;
    /// * `a` only: scan `a` and the most recent other complete scan with `a`'s key, in the
    ///   order they were started (what changed from `a` to the latest, or from the previous
    ///   one to `a` when `a` is the latest);
    /// * `a` and `b`: exactly those, in that order, whatever their keys and status (a caller
    ///   warns about incomplete scans and different keys).
    pub fn pick(
        &self,
        a: Option<i64>,
        b: Option<i64>,
    ) -> Result<(ScanRecord, ScanRecord), HistoryError> {
        let nothing = |what: String| HistoryError::NothingToCompare {
            path: self.path.clone(),
            what,
        };
        match (a, b) {
            (Some(a), Some(b)) => Ok((self.scan(a)?, self.scan(b)?)),
            (Some(a), None) => {
                let a = self.scan(a)?;
                let other = self
                    .complete_of(&a.key, Some(a.id), 1)?
                    .pop()
                    .ok_or_else(|| {
                        nothing(format!(
                            "no other complete scan of the same targets and ports as scan {} \
                             ({})",
                            a.id,
                            describe(&a)
                        ))
                    })?;
                Ok(if other.id < a.id {
                    (other, a)
                } else {
                    (a, other)
                })
            }
            (None, Some(_)) => Err(nothing("a second scan id without a first".into())),
            (None, None) => {
                let latest: Option<i64> = self
                    .conn
                    .query_row("SELECT max(id) FROM scans", [], |r| r.get(0))
                    .map_err(|e| self.sql(e))?;
                let latest = self.scan(latest.ok_or_else(|| nothing("no scans".into()))?)?;
                let mut two = self.complete_of(&latest.key, None, 2)?;
                if two.len() < 2 {
                    return Err(nothing(format!(
                        "fewer than two complete scans of {} (the targets and ports of the \
                         latest scan, {}): found {}",
                        describe(&latest),
                        latest.id,
                        match two.first() {
                            Some(s) => format!("only scan {}", s.id),
                            None => "none".into(),
                        }
                    )));
                }
                let newer = two.remove(0);
                Ok((two.remove(0), newer))
            }
        }
    }

    /// The `limit` most recent complete scans with `key`, newest first, without `except`.
    fn complete_of(
        &self,
        key: &str,
        except: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ScanRecord>, HistoryError> {
        self.query_scans(
            "WHERE key = ?1 AND state = 'complete' AND id IS NOT ?2 ORDER BY id DESC LIMIT ?3",
            params![key, except, limit],
        )
    }

    /// What changed from scan `a` to scan `b` (see [`diff`] for the rules). Reads both scans'
    /// results in order, keeping only the changes and per-host sets in memory.
    pub fn diff(&self, a: &ScanRecord, b: &ScanRecord) -> Result<Diff, HistoryError> {
        let side = |s: &ScanRecord| -> Result<diff::Side, HistoryError> {
            Ok(diff::Side {
                down: self
                    .down_map(s.id)?
                    .into_iter()
                    .map(|(ip, (r, _))| (ip, r))
                    .collect(),
                complete: s.status.is_complete(),
            })
        };
        let (side_a, side_b) = (side(a)?, side(b)?);
        // Ties (a port recorded twice, which a scan does not do) come oldest first: the
        // comparison keeps the last.
        let sql = "SELECT ip, port, state, reason, service, product, version FROM results \
                   WHERE scan_id = ?1 ORDER BY ip, port, rowid";
        let mut stmt_a = self.conn.prepare(sql).map_err(|e| self.sql(e))?;
        let mut stmt_b = self.conn.prepare(sql).map_err(|e| self.sql(e))?;
        // Closed ports kept as numbers join their hosts' rows (`closed::merged`).
        let rows_a = closed::merged(
            self.diff_rows(&mut stmt_a, a.id)?,
            self.closed_rows(a.id)?,
            self.port_set(a.id)?,
        );
        let rows_b = closed::merged(
            self.diff_rows(&mut stmt_b, b.id)?,
            self.closed_rows(b.id)?,
            self.port_set(b.id)?,
        );
        diff::compare_sorted(rows_a, rows_b, &side_a, &side_b)
    }
}

impl Db {
    /// Scan `id`'s port results in the order of the primary key (address as text, port).
    fn diff_rows<'s>(
        &'s self,
        stmt: &'s mut rusqlite::Statement<'_>,
        id: i64,
    ) -> Result<impl Iterator<Item = Result<diff::Row, HistoryError>> + 's, HistoryError> {
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u16>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        Ok(rows.map(move |row| {
            let (key, port, state, reason, service, product, version) =
                row.map_err(|e| self.sql(e))?;
            let (ip, state, reason) = self.decode(id, &key, &state, &reason)?;
            Ok(diff::Row {
                key,
                ip,
                port,
                state,
                reason,
                service: service.map(|name| diff::Service {
                    name,
                    product,
                    version,
                }),
            })
        }))
    }
}

/// `127.0.0.1 -p 1-65535`: a scan's targets and ports, for messages.
pub fn describe(scan: &ScanRecord) -> String {
    format!("{} -p {}", scan.targets, scan.ports)
}

struct RawScan {
    id: i64,
    key: String,
    targets: String,
    ports: String,
    scan_type: String,
    args: String,
    version: String,
    state: String,
    started_ms: i64,
    ended_ms: Option<i64>,
    elapsed_ms: u64,
    runs: u32,
    hosts: Option<u64>,
    ports_per_host: Option<u32>,
    totals: [Option<u64>; 4],
    writer: (Option<u32>, Option<i64>, Option<String>),
}

fn parse_state(s: &str) -> Option<PortState> {
    PortState::ALL.into_iter().find(|p| p.as_str() == s)
}

/// Counts scan `id`'s results as they are in the file.
fn count(conn: &Connection, id: i64) -> rusqlite::Result<Counts> {
    let mut counts = Counts::default();
    let mut stmt = conn
        .prepare_cached("SELECT state, count(*) FROM results WHERE scan_id = ?1 GROUP BY state")?;
    let mut rows = stmt.query([id])?;
    while let Some(row) = rows.next()? {
        let n: u64 = row.get(1)?;
        match parse_state(&row.get::<_, String>(0)?) {
            Some(PortState::Open) => counts.open = n,
            Some(PortState::Closed) => counts.closed = n,
            Some(PortState::Filtered) => counts.filtered = n,
            None => {}
        }
    }
    let kept: u64 = conn
        .prepare_cached("SELECT coalesce(sum(count), 0) FROM closed WHERE scan_id = ?1")?
        .query_row([id], |r| r.get(0))?;
    counts.closed += kept;
    counts.hosts_down = conn
        .prepare_cached("SELECT count(*) FROM hosts_down WHERE scan_id = ?1")?
        .query_row([id], |r| r.get(0))?;
    Ok(counts)
}
