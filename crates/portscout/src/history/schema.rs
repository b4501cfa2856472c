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
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2];

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
    Ok(Db {
        conn,
        path: path.to_path_buf(),
    })
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
