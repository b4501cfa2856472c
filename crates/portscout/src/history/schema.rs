//! Opening a history file: is it ours, which schema version, migrations.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::{Db, HistoryError, SqlError};

/// `PRAGMA application_id` of a portscout history: `PSCN` in ASCII. SQLite keeps it in the
/// file header (`file(1)` shows it), so a history is told from other SQLite files.
pub const APPLICATION_ID: i32 = 0x5053_434E;

/// The newest schema version this library writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The migrations, in order: `MIGRATIONS[i]` takes a file from version `i` to `i + 1`. Each
/// runs in one transaction with the version bump, so a failure leaves the file as it was.
/// A released migration is never edited: a change of schema is a new migration.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// Version 1: scans, their port results, their hosts found down. `scan_id` is a `scans.id`
/// (not declared as a foreign key: checking it costs a lookup per result). `results` is a
/// plain table appended to, indexed by scan: a scan's results go in as fast as SQLite can
/// append (each key lookup of a `(scan, address, port)` primary key cost about twice as much
/// on a `-p-` scan).
const V1: &str = "
CREATE TABLE scans (
    id             INTEGER PRIMARY KEY,
    key            TEXT    NOT NULL,
    targets        TEXT    NOT NULL,
    ports          TEXT    NOT NULL,
    scan_type      TEXT    NOT NULL,
    args           TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    state          TEXT    NOT NULL
                   CHECK (state IN ('running', 'paused', 'complete', 'failed')),
    started_ms     INTEGER NOT NULL,
    ended_ms       INTEGER,
    elapsed_ms     INTEGER NOT NULL DEFAULT 0,
    runs           INTEGER NOT NULL DEFAULT 1,
    hosts          INTEGER,
    ports_per_host INTEGER,
    open           INTEGER,
    closed         INTEGER,
    filtered       INTEGER,
    hosts_down     INTEGER,
    writer_pid     INTEGER,
    writer_start   INTEGER,
    writer_boot    TEXT
);
CREATE INDEX scans_by_key ON scans (key, state, id);
CREATE TABLE results (
    scan_id INTEGER NOT NULL,
    ip      TEXT    NOT NULL,
    port    INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    state   TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'filtered')),
    reason  TEXT    NOT NULL,
    rtt_us  INTEGER,
    banner  TEXT
);
CREATE INDEX results_by_scan ON results (scan_id);
CREATE TABLE hosts_down (
    scan_id INTEGER NOT NULL,
    ip      TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    skipped INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ip)
) WITHOUT ROWID;
";

/// Version 2: what service detection (`--service-version`) found on an open port: the
/// service's name, product and version as columns (what `diff` compares, and what SQL
/// readers ask for), and everything it found (extra info, CPEs, method, confidence, TLS
/// certificate) as the JSON object the ndjson output writes (`service_info`). `NULL` for
/// results scanned without detection, and for every result of version-1 files.
const V2: &str = "
ALTER TABLE results ADD COLUMN service TEXT;
ALTER TABLE results ADD COLUMN product TEXT;
ALTER TABLE results ADD COLUMN version TEXT;
ALTER TABLE results ADD COLUMN service_info TEXT;
";

/// Version 3 (issue 19): foreign keys, a stored `incomplete` state, an index for per-port
/// queries, and closed ports kept compactly.
///
/// * `results`, `hosts_down` and the new `closed` reference `scans (id)` with `ON DELETE
///   CASCADE` (enforced: the library opens every file with `PRAGMA foreign_keys = ON`):
///   deleting a scan deletes its rows. SQLite cannot add a constraint to a table, so the
///   three tables are rebuilt and their rows copied (older files keep every row).
/// * `scans.state` may be `incomplete`: a `running` scan whose writer is gone is marked so
///   when a file is opened.
/// * `results_by_port (ip, port)`: "the history of this port" reads an index, not the table.
/// * `scans.port_set`: the ports scanned on every host, canonical (`1-65535`, `22,80`).
/// * `closed`: closed ports are no longer rows of `results` (56 bytes each). While a scan
///   records, each batch writes one row per host and reason whose `ports` blob lists the
///   host's closed ports of that batch (ascending, as differences, LEB128: about 2 bytes a
///   port). When a run ends, every host whose closed ports and `results` rows together
///   cover `port_set` keeps one row with `ports` NULL: its closed ports are those of
///   `port_set` without a row in `results`, all with that row's `reason`.
const V3: &str = "
CREATE TABLE scans_v3 (
    id             INTEGER PRIMARY KEY,
    key            TEXT    NOT NULL,
    targets        TEXT    NOT NULL,
    ports          TEXT    NOT NULL,
    scan_type      TEXT    NOT NULL,
    args           TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    state          TEXT    NOT NULL
                   CHECK (state IN ('running', 'paused', 'complete', 'failed', 'incomplete')),
    started_ms     INTEGER NOT NULL,
    ended_ms       INTEGER,
    elapsed_ms     INTEGER NOT NULL DEFAULT 0,
    runs           INTEGER NOT NULL DEFAULT 1,
    hosts          INTEGER,
    ports_per_host INTEGER,
    open           INTEGER,
    closed         INTEGER,
    filtered       INTEGER,
    hosts_down     INTEGER,
    writer_pid     INTEGER,
    writer_start   INTEGER,
    writer_boot    TEXT,
    port_set       TEXT
);
INSERT INTO scans_v3 (id, key, targets, ports, scan_type, args, version, state, started_ms,
    ended_ms, elapsed_ms, runs, hosts, ports_per_host, open, closed, filtered, hosts_down,
    writer_pid, writer_start, writer_boot)
SELECT id, key, targets, ports, scan_type, args, version, state, started_ms, ended_ms,
    elapsed_ms, runs, hosts, ports_per_host, open, closed, filtered, hosts_down, writer_pid,
    writer_start, writer_boot FROM scans;
CREATE TABLE results_v3 (
    scan_id      INTEGER NOT NULL REFERENCES scans_v3 (id) ON DELETE CASCADE,
    ip           TEXT    NOT NULL,
    port         INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    state        TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'filtered')),
    reason       TEXT    NOT NULL,
    rtt_us       INTEGER,
    banner       TEXT,
    service      TEXT,
    product      TEXT,
    version      TEXT,
    service_info TEXT
);
INSERT INTO results_v3 SELECT scan_id, ip, port, state, reason, rtt_us, banner, service,
    product, version, service_info FROM results ORDER BY rowid;
CREATE TABLE hosts_down_v3 (
    scan_id INTEGER NOT NULL REFERENCES scans_v3 (id) ON DELETE CASCADE,
    ip      TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    skipped INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ip)
) WITHOUT ROWID;
INSERT INTO hosts_down_v3 SELECT scan_id, ip, reason, skipped FROM hosts_down;
DROP TABLE results;
DROP TABLE hosts_down;
DROP TABLE scans;
ALTER TABLE scans_v3 RENAME TO scans;
ALTER TABLE results_v3 RENAME TO results;
ALTER TABLE hosts_down_v3 RENAME TO hosts_down;
CREATE INDEX scans_by_key ON scans (key, state, id);
CREATE INDEX results_by_scan ON results (scan_id);
CREATE INDEX results_by_port ON results (ip, port);
CREATE TABLE closed (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ip      TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    ports   BLOB
);
CREATE INDEX closed_by_scan ON closed (scan_id, ip);
CREATE INDEX closed_by_ip ON closed (ip);
";

/// How long a writer waits for another one's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the file's header says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Ours, at this version.
    Ours(u32),
    /// An empty database (a new file, or a 0-byte one): made ours by the first migration.
    Empty,
    /// Someone else's.
    Foreign(String),
}

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
}

pub(crate) fn kind(conn: &Connection) -> rusqlite::Result<Kind> {
    let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version = user_version(conn)?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok(if app == APPLICATION_ID {
        Kind::Ours(version)
    } else if app == 0 && version == 0 && objects == 0 {
        Kind::Empty
    } else if app != 0 {
        Kind::Foreign(format!("application id {app:#010x}"))
    } else {
        Kind::Foreign(format!(
            "{objects} table(s) and other objects, schema version {version}, no portscout \
             application id"
        ))
    })
}

pub(crate) fn open(path: &Path, create: bool) -> Result<Db, HistoryError> {
    if !create && !path.exists() {
        return Err(HistoryError::Missing {
            path: path.to_path_buf(),
        });
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let open_err = |e| HistoryError::Open {
        path: path.to_path_buf(),
        source: SqlError(e),
    };
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // The first read of the file is where SQLite finds out what it is.
    let found = kind(&conn).map_err(|e| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => HistoryError::NotSqlite {
            path: path.to_path_buf(),
        },
        _ => open_err(e),
    })?;
    let new_file = found == Kind::Empty;
    match found {
        Kind::Foreign(why) => {
            return Err(HistoryError::NotOurs {
                path: path.to_path_buf(),
                why,
            })
        }
        Kind::Ours(v) if v > SCHEMA_VERSION => return Err(too_new(path, v)),
        Kind::Ours(_) | Kind::Empty => {}
    }
    // A new file gives free pages back (`PRAGMA incremental_vacuum` after each scan: the
    // closed-port lists of a scan being recorded are replaced by one row per host at its
    // end). Only possible before the first table; older files keep reusing their free pages.
    if new_file {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(open_err)?;
    }
    // Write-ahead log: readers (`portscout history` during a scan) and the writer do not
    // block each other, and a commit is one append. `synchronous = NORMAL` keeps every
    // committed transaction through a crash of the process (power loss may lose the last
    // ones, never corrupt the file).
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    migrate(&mut conn, MIGRATIONS).map_err(|e| match e {
        MigrateError::TooNew(v) => too_new(path, v),
        MigrateError::Failed { to, source } => HistoryError::Migration {
            path: path.to_path_buf(),
            to,
            source: SqlError(source),
        },
    })?;
    // Checked on every statement from now on (a migration rebuilds tables with it off).
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    mark_incomplete(&conn).map_err(open_err)?;
    Ok(Db {
        conn,
        path: path.to_path_buf(),
    })
}

/// Marks `incomplete` every `running` scan whose writer is gone (killed, crashed, machine
/// restarted), so that the file says so itself. Takes the write lock only when there is one.
fn mark_incomplete(conn: &Connection) -> rusqlite::Result<()> {
    let dead: Vec<i64> = {
        let mut stmt = conn.prepare(
            "SELECT id, writer_pid, writer_start, writer_boot FROM scans WHERE state = 'running'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<u32>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut dead = Vec::new();
        for row in rows {
            let (id, pid, start, boot) = row?;
            let alive = match (pid, start, boot) {
                (Some(pid), Some(start), Some(boot)) => super::writer::alive(pid, start, &boot),
                _ => false,
            };
            if !alive {
                dead.push(id);
            }
        }
        dead
    };
    for id in dead {
        // Only if still running: its writer may have ended it meanwhile.
        conn.execute(
            "UPDATE scans SET state = 'incomplete' WHERE id = ?1 AND state = 'running'",
            [id],
        )?;
    }
    Ok(())
}

fn too_new(path: &Path, found: u32) -> HistoryError {
    HistoryError::TooNew {
        path: path.to_path_buf(),
        found,
        known: SCHEMA_VERSION,
        version: env!("CARGO_PKG_VERSION"),
    }
}

#[derive(Debug)]
pub(crate) enum MigrateError {
    TooNew(u32),
    Failed { to: u32, source: rusqlite::Error },
}

/// Runs the migrations the file lacks, each in its own transaction (taken with the write
/// lock at once, so two processes opening a new file do not both migrate it). Returns the
/// file's version.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<u32, MigrateError> {
    let latest = migrations.len() as u32;
    loop {
        let mut to = 0;
        let step = (|| -> rusqlite::Result<Option<u32>> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version = user_version(&tx)?;
            if version >= latest {
                return Ok(Some(version));
            }
            to = version + 1;
            if version == 0 {
                tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            }
            tx.execute_batch(migrations[version as usize])?;
            tx.pragma_update(None, "user_version", to)?;
            tx.commit()?;
            Ok(None)
        })();
        match step {
            Ok(Some(v)) if v > latest => return Err(MigrateError::TooNew(v)),
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(source) => return Err(MigrateError::Failed { to, source }),
        }
    }
}
