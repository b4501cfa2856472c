//! Tests of the scan history: opening and migrations, the recorder, choosing and comparing
//! scans.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::diff::{compare, Snapshot};
use super::schema::{self, migrate, MigrateError, MIGRATIONS};
use super::*;
use crate::output::{ScanInfo, Sink, Summary};
use crate::ports::PortSet;
use crate::target::Target;

/// Schema version 1 exactly as released. Never edit: a file written by that release must keep
/// opening (`a_version_1_file_as_released_opens_with_its_data`).
const V1_AS_RELEASED: &str = "
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

/// A directory of its own, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "portscout-history-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn port(addr: &str, port: u16, state: PortState) -> PortResult {
    let reason = match state {
        PortState::Open => Reason::SynAck,
        PortState::Closed => Reason::ConnRefused,
        PortState::Filtered => Reason::NoResponse,
    };
    PortResult {
        ip: ip(addr),
        port,
        state,
        reason,
        rtt: Some(Duration::from_micros(120)),
        banner: None,
        service: None,
    }
}

fn new_scan(targets: &str, ports: &str) -> NewScan {
    let t: Vec<Target> = targets
        .split(' ')
        .map(|t| Target::parse(t).unwrap())
        .collect();
    let key = ScanKey::new(&t, &[], &PortSet::parse(ports).unwrap());
    NewScan::new(
        key,
        targets,
        ports,
        "connect",
        vec![targets.into(), "-p".into(), ports.into()],
    )
}

/// Records one scan of `results` (and `down`) and ends it.
fn record(path: &Path, scan: &NewScan, results: &[PortResult], down: &[HostDown]) -> i64 {
    let mut r = Db::open(path).unwrap().record(scan).unwrap();
    r.begin(&ScanInfo {
        hosts: 1,
        ports: 1,
        ..ScanInfo::default()
    })
    .unwrap();
    for x in results {
        r.result(x).unwrap();
    }
    for h in down {
        r.host_down(h).unwrap();
    }
    r.end(&Summary::default()).unwrap();
    r.id()
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// Results of scan `id` in the file: rows of `results` plus closed ports kept as numbers.
fn rows_in(path: &Path, id: i64) -> i64 {
    raw(path)
        .query_row(
            "SELECT (SELECT count(*) FROM results WHERE scan_id = ?1) + \
                    (SELECT coalesce(sum(count), 0) FROM closed WHERE scan_id = ?1)",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Opening and migrations.

#[test]
fn a_new_file_gets_the_latest_schema_our_application_id_and_wal() {
    let dir = Dir::new("fresh");
    let path = dir.file("scans.db");
    let db = Db::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION as usize, MIGRATIONS.len());
    drop(db);
    let c = raw(&path);
    let app: i32 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Opening again changes nothing.
    assert_eq!(
        Db::open(&path).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
    assert!(Db::open(&path).unwrap().scans().unwrap().is_empty());
}

#[test]
fn an_empty_file_is_taken_as_a_new_history() {
    let dir = Dir::new("empty");
    let path = dir.file("scans.db");
    std::fs::write(&path, b"").unwrap();
    assert_eq!(
        Db::open(&path).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
}

#[test]
fn a_version_1_file_as_released_opens_with_its_data() {
    let dir = Dir::new("v1");
    let path = dir.file("scans.db");
    {
        let c = raw(&path);
        c.execute_batch(V1_AS_RELEASED).unwrap();
        c.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute_batch(
            "INSERT INTO scans (id, key, targets, ports, scan_type, args, version, state, \
             started_ms, ended_ms, elapsed_ms, runs, hosts, ports_per_host, open, closed, \
             filtered, hosts_down) VALUES (1, '127.0.0.1 -p 22', '127.0.0.1', '22', 'connect', \
             '[\"127.0.0.1\",\"-p\",\"22\"]', '0.1.0', 'complete', 1700000000000, \
             1700000001500, 1500, 1, 1, 1, 1, 0, 0, 0);
             INSERT INTO results VALUES (1, '127.0.0.1', 22, 'open', 'syn-ack', 210, 'SSH-2.0\\r\\n');",
        )
        .unwrap();
    }
    let db = Db::open_existing(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    let scans = db.scans().unwrap();
    assert_eq!(scans.len(), 1);
    let s = &scans[0];
    assert_eq!(
        (s.id, s.status, s.counts.open, s.elapsed_ms),
        (1, ScanStatus::Complete, 1, 1500)
    );
    assert_eq!(s.started.rfc3339(), "2023-11-14T22:13:20.000Z");
    assert_eq!(s.args, ["127.0.0.1", "-p", "22"]);
    let results = db.results(1).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].banner.as_ref().unwrap().as_bytes(),
        b"SSH-2.0\r\n"
    );
    assert_eq!(results[0].rtt, Some(Duration::from_micros(210)));
}

#[test]
fn migrations_run_in_order_each_in_one_transaction() {
    let dir = Dir::new("migrate");
    let path = dir.file("scans.db");
    let mut c = raw(&path);
    // A file at version 1 with a scan in it.
    assert_eq!(migrate(&mut c, &MIGRATIONS[..1]).unwrap(), 1);
    c.execute(
        "INSERT INTO scans (key, targets, ports, scan_type, args, version, state, started_ms) \
         VALUES ('k', 't', 'p', 'connect', '[]', '0', 'complete', 0)",
        [],
    )
    .unwrap();
    // A version 2 whose second statement fails: nothing of it stays.
    let failing = [
        MIGRATIONS[0],
        "CREATE TABLE notes (scan_id INTEGER, text TEXT); CREATE TABLE scans (x);",
    ];
    match migrate(&mut c, &failing) {
        Err(MigrateError::Failed { to: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(schema::user_version(&c).unwrap(), 1);
    let notes: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'notes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(notes, 0, "a failed migration left a table behind");
    // A working version 2 and 3: run once each, in order, the data kept.
    let good = [
        MIGRATIONS[0],
        "ALTER TABLE scans ADD COLUMN note TEXT NOT NULL DEFAULT 'v2';",
        "UPDATE scans SET note = note || '+v3';",
    ];
    assert_eq!(migrate(&mut c, &good).unwrap(), 3);
    assert_eq!(migrate(&mut c, &good).unwrap(), 3, "ran again");
    let note: String = c
        .query_row("SELECT note FROM scans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(note, "v2+v3");
    // Against a list that ends at 2, the file is from the future.
    match migrate(&mut c, &good[..2]) {
        Err(MigrateError::TooNew(3)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_from_a_newer_portscout_is_refused_naming_both_versions() {
    let dir = Dir::new("future");
    let path = dir.file("scans.db");
    drop(Db::open(&path).unwrap());
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = Db::open(&path).unwrap_err();
    assert!(
        matches!(err, HistoryError::TooNew { found, known, .. } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{text}"
    );
    assert!(
        text.contains(&format!("knows versions up to {SCHEMA_VERSION}")),
        "{text}"
    );
}

#[test]
fn files_that_are_not_a_history_are_refused_and_left_alone() {
    let dir = Dir::new("foreign");
    let text = dir.file("notes.txt");
    let content = b"this is not a database, and it is long enough to be read as a header......";
    std::fs::write(&text, content).unwrap();
    assert!(matches!(
        Db::open(&text).unwrap_err(),
        HistoryError::NotSqlite { .. }
    ));
    assert_eq!(
        std::fs::read(&text).unwrap(),
        content,
        "the file was changed"
    );

    let other = dir.file("other.db");
    raw(&other)
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let err = Db::open(&other).unwrap_err();
    assert!(matches!(err, HistoryError::NotOurs { .. }), "{err:?}");
    let mode: String = raw(&other)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        mode, "delete",
        "the other program's file was switched to WAL"
    );

    let app = dir.file("app.db");
    raw(&app)
        .pragma_update(None, "application_id", 0x1234_5678)
        .unwrap();
    let err = Db::open(&app).unwrap_err();
    assert!(err.to_string().contains("0x12345678"), "{err}");

    let missing = dir.file("missing.db");
    assert!(matches!(
        Db::open_existing(&missing).unwrap_err(),
        HistoryError::Missing { .. }
    ));
    assert!(!missing.exists());
    assert!(matches!(
        Db::open(dir.file("no/such/dir/scans.db")).unwrap_err(),
        HistoryError::Open { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Recording.

#[test]
fn results_are_committed_in_batches_of_n_rows() {
    let dir = Dir::new("batch");
    let path = dir.file("scans.db");
    let mut r = Db::open(&path)
        .unwrap()
        .record(&new_scan("127.0.0.1", "1-10"))
        .unwrap()
        .batch(3, Duration::from_secs(3600));
    let id = r.id();
    // The row is there, running, before the scan begins.
    let s = Db::open(&path).unwrap().scan(id).unwrap();
    assert_eq!(
        s.status,
        ScanStatus::Running {
            pid: std::process::id()
        }
    );
    r.begin(&ScanInfo {
        hosts: 1,
        ports: 10,
        ..ScanInfo::default()
    })
    .unwrap();
    let mut seen = Vec::new();
    for p in 1..=8 {
        r.result(&port("127.0.0.1", p, PortState::Open)).unwrap();
        seen.push(rows_in(&path, id));
    }
    assert_eq!(seen, [0, 0, 3, 3, 3, 6, 6, 6]);
    // Closed ports (kept as numbers) make a batch of their own, 3 here.
    let mut seen = Vec::new();
    for p in 9..=14 {
        r.result(&port("127.0.0.1", p, PortState::Closed)).unwrap();
        seen.push(rows_in(&path, id));
    }
    assert_eq!(seen, [6, 6, 11, 11, 11, 14]);
    r.end(&Summary::default()).unwrap();
    assert_eq!(rows_in(&path, id), 14);
    let s = Db::open(&path).unwrap().scan(id).unwrap();
    assert_eq!(s.status, ScanStatus::Complete);
    assert_eq!((s.counts.open, s.counts.closed), (8, 6));
    assert_eq!((s.hosts, s.ports_per_host), (Some(1), Some(10)));
    assert!(s.ended.is_some());
}

#[test]
fn results_are_committed_once_they_have_waited_the_interval() {
    let interval = Duration::from_millis(300);
    // A result that has not waited the interval is not committed. That shows only when this
    // thread got from `begin` (the interval's start) to the check within the interval, which a
    // loaded machine (or a slow fsync) may not allow: then the try says nothing, and the test
    // tries again with a new file, rather than bound the machine's speed.
    let (_dir, path, id, mut r) = (0..20)
        .find_map(|_| {
            let dir = Dir::new("interval");
            let path = dir.file("scans.db");
            let mut r = Db::open(&path)
                .unwrap()
                .record(&new_scan("127.0.0.1", "1-10"))
                .unwrap()
                .batch(1000, interval);
            let id = r.id();
            let started = std::time::Instant::now();
            r.begin(&ScanInfo::default()).unwrap();
            r.result(&port("127.0.0.1", 1, PortState::Open)).unwrap();
            let rows = rows_in(&path, id);
            if started.elapsed() >= interval {
                return None;
            }
            assert_eq!(rows, 0, "a result committed before it waited the interval");
            Some((dir, path, id, r))
        })
        .expect("in 20 tries, never from `begin` to a result within 300 ms");
    // Once the interval has passed (a lower bound: what the recorder waits by design), the
    // next result commits the batch.
    std::thread::sleep(interval + Duration::from_millis(50));
    r.result(&port("127.0.0.1", 2, PortState::Open)).unwrap();
    assert_eq!(rows_in(&path, id), 2);
}

#[test]
fn a_recorder_that_vanishes_leaves_its_batches_and_an_incomplete_scan() {
    let dir = Dir::new("vanish");
    let path = dir.file("scans.db");
    let mut r = Db::open(&path)
        .unwrap()
        .record(&new_scan("127.0.0.1", "1-10"))
        .unwrap()
        .batch(2, Duration::from_secs(3600));
    let id = r.id();
    r.begin(&ScanInfo::default()).unwrap();
    for p in 1..=5 {
        r.result(&port("127.0.0.1", p, PortState::Closed)).unwrap();
    }
    // As if the process were killed: no destructor runs.
    std::mem::forget(r);
    let db = Db::open(&path).unwrap();
    // Its writer (this process) is alive: running.
    assert!(matches!(
        db.scan(id).unwrap().status,
        ScanStatus::Running { .. }
    ));
    // Resuming it is refused while that writer lives.
    assert!(matches!(
        Db::open(&path).unwrap().resume(id).unwrap_err(),
        HistoryError::Busy { .. }
    ));
    // The writer is gone (another process with the same pid would have another start time).
    raw(&path)
        .execute(
            "UPDATE scans SET writer_start = writer_start + 1 WHERE id = ?1",
            [id],
        )
        .unwrap();
    let s = db.scan(id).unwrap();
    assert_eq!(s.status, ScanStatus::Incomplete);
    assert_eq!(s.counts.closed, 4, "the two committed batches");
    assert_eq!(db.results(id).unwrap().len(), 4);
    assert_eq!(s.ended, None);
    // A new scan records fine after it.
    let next = record(
        &path,
        &new_scan("127.0.0.1", "1-10"),
        &[port("127.0.0.1", 1, PortState::Open)],
        &[],
    );
    assert_eq!(db.scan(next).unwrap().status, ScanStatus::Complete);
}

#[test]
fn a_scan_that_fails_is_kept_as_failed_and_one_that_never_began_is_removed() {
    let dir = Dir::new("drop");
    let path = dir.file("scans.db");
    let mut r = Db::open(&path)
        .unwrap()
        .record(&new_scan("127.0.0.1", "1-10"))
        .unwrap();
    let failed = r.id();
    r.begin(&ScanInfo::default()).unwrap();
    r.result(&port("127.0.0.1", 1, PortState::Open)).unwrap();
    drop(r);
    let db = Db::open(&path).unwrap();
    let s = db.scan(failed).unwrap();
    assert_eq!((s.status, s.counts.open), (ScanStatus::Failed, 1));

    let r = Db::open(&path)
        .unwrap()
        .record(&new_scan("127.0.0.1", "1-10"))
        .unwrap();
    let never = r.id();
    drop(r);
    assert!(matches!(
        db.scan(never).unwrap_err(),
        HistoryError::NoSuchScan { .. }
    ));
}

#[test]
fn a_paused_scan_resumed_is_one_scan_of_two_runs() {
    let dir = Dir::new("resume");
    let path = dir.file("scans.db");
    let mut r = Db::open(&path)
        .unwrap()
        .record(&new_scan("127.0.0.1", "1-4"))
        .unwrap();
    let id = r.id();
    r.begin(&ScanInfo::default()).unwrap();
    r.result(&port("127.0.0.1", 1, PortState::Open)).unwrap();
    r.result(&port("127.0.0.1", 2, PortState::Closed)).unwrap();
    r.finish(
        &Summary {
            elapsed: Duration::from_millis(700),
            ..Summary::default()
        },
        Outcome::Paused,
    )
    .unwrap();
    drop(r);
    let db = Db::open(&path).unwrap();
    assert_eq!(db.scan(id).unwrap().status, ScanStatus::Paused);

    // A resumed run that never begins gives the scan back as it was.
    drop(Db::open(&path).unwrap().resume(id).unwrap());
    let s = db.scan(id).unwrap();
    assert_eq!(
        (s.status, s.runs, s.counts.open),
        (ScanStatus::Paused, 1, 1)
    );

    let mut r = Db::open(&path).unwrap().resume(id).unwrap();
    assert_eq!(r.id(), id);
    assert!(matches!(
        db.scan(id).unwrap().status,
        ScanStatus::Running { .. }
    ));
    r.begin(&ScanInfo::default()).unwrap();
    r.result(&port("127.0.0.1", 3, PortState::Closed)).unwrap();
    r.host_down(&HostDown {
        ip: ip("127.0.0.2"),
        reason: Reason::NoResponse,
        skipped: 4,
    })
    .unwrap();
    r.end(&Summary {
        elapsed: Duration::from_millis(300),
        ..Summary::default()
    })
    .unwrap();
    let s = db.scan(id).unwrap();
    assert_eq!(
        (s.status, s.runs, s.elapsed_ms),
        (ScanStatus::Complete, 2, 1000)
    );
    assert_eq!(
        s.counts,
        Counts {
            open: 1,
            closed: 2,
            filtered: 0,
            hosts_down: 1
        }
    );
    assert_eq!(db.scans().unwrap().len(), 1);
    assert_eq!(db.results(id).unwrap().len(), 3);
    assert_eq!(db.hosts_down(id).unwrap()[0].skipped, 4);
}

// ---------------------------------------------------------------------------------------------
// Choosing scans to compare.

#[test]
fn pick_takes_complete_scans_of_the_latest_scans_targets() {
    let dir = Dir::new("pick");
    let path = dir.file("scans.db");
    let a = new_scan("127.0.0.1", "1-10");
    let b = new_scan("127.0.0.2", "1-10");
    let ids = |p: (ScanRecord, ScanRecord)| (p.0.id, p.1.id);
    let db = || Db::open(&path).unwrap();

    assert!(matches!(
        db().pick(None, None).unwrap_err(),
        HistoryError::NothingToCompare { .. }
    ));
    let s1 = record(&path, &a, &[], &[]);
    let err = db().pick(None, None).unwrap_err().to_string();
    assert!(err.contains("only scan 1"), "{err}");
    let s2 = record(&path, &b, &[], &[]);
    let s3 = record(&path, &a, &[], &[]);
    let s4 = record(&path, &b, &[], &[]);
    // An incomplete scan of `a`, latest: its targets count, it does not.
    let r = db().record(&a).unwrap();
    let s5 = r.id();
    std::mem::forget(r);
    raw(&path)
        .execute("UPDATE scans SET writer_pid = NULL WHERE id = ?1", [s5])
        .unwrap();
    assert_eq!(ids(db().pick(None, None).unwrap()), (s1, s3));
    // The latest is `b` again.
    let s6 = record(&path, &b, &[], &[]);
    assert_eq!(ids(db().pick(None, None).unwrap()), (s4, s6));
    // One id: with the most recent other complete scan of its targets, in time order.
    assert_eq!(ids(db().pick(Some(s1), None).unwrap()), (s1, s3));
    assert_eq!(ids(db().pick(Some(s3), None).unwrap()), (s1, s3));
    assert_eq!(ids(db().pick(Some(s2), None).unwrap()), (s2, s6));
    assert_eq!(ids(db().pick(Some(s5), None).unwrap()), (s3, s5));
    // Two ids: exactly those, in that order, whatever they are.
    assert_eq!(ids(db().pick(Some(s6), Some(s1)).unwrap()), (s6, s1));
    assert_eq!(ids(db().pick(Some(s5), Some(s2)).unwrap()), (s5, s2));
    assert!(matches!(
        db().pick(Some(99), None).unwrap_err(),
        HistoryError::NoSuchScan { id: 99, .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Comparing.

fn snap<'a>(ports: &'a [PortResult], down: &'a [HostDown], complete: bool) -> Snapshot<'a> {
    Snapshot {
        ports,
        down,
        complete,
    }
}

fn down(addr: &str) -> HostDown {
    HostDown {
        ip: ip(addr),
        reason: Reason::NoResponse,
        skipped: 3,
    }
}

/// Every row of the table in `diff`'s documentation, with one scan pair.
#[test]
fn diff_semantics_table() {
    use PortState::{Closed, Filtered, Open};
    let a = [
        // Host .1 up in both.
        port("198.18.0.1", 1, Closed),   // → open: opened
        port("198.18.0.1", 2, Filtered), // → open: opened
        port("198.18.0.1", 3, Open),     // → closed: closed
        port("198.18.0.1", 4, Open),     // → filtered: closed
        port("198.18.0.1", 5, Closed),   // → filtered: changed
        port("198.18.0.1", 6, Filtered), // → closed: changed
        port("198.18.0.1", 7, Open),     // same
        port("198.18.0.1", 8, Closed),   // same
        port("198.18.0.1", 9, Open),     // only in A: not compared
        // Host .2 up, then down.
        port("198.18.0.2", 22, Open),
        port("198.18.0.2", 23, Closed),
        // Host .4 up, then absent.
        port("198.18.0.4", 80, Open),
    ];
    let mut filtered_other_reason = port("198.18.0.1", 10, Filtered);
    filtered_other_reason.reason = Reason::HostUnreach;
    let b = [
        port("198.18.0.1", 1, Open),
        port("198.18.0.1", 2, Open),
        port("198.18.0.1", 3, Closed),
        port("198.18.0.1", 4, Filtered),
        port("198.18.0.1", 5, Filtered),
        port("198.18.0.1", 6, Closed),
        port("198.18.0.1", 7, Open),
        port("198.18.0.1", 8, Closed),
        port("198.18.0.1", 11, Open), // only in B: not compared
        // Host .3 down, then up.
        port("198.18.0.3", 443, Open),
        port("198.18.0.3", 444, Closed),
        // Host .5 absent, then up.
        port("198.18.0.5", 8080, Open),
    ];
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.push(port("198.18.0.1", 10, Filtered));
    b.push(filtered_other_reason); // a new reason only: no change
    let a_down = [down("198.18.0.3"), down("198.18.0.7")];
    let b_down = [down("198.18.0.2"), down("198.18.0.6"), down("198.18.0.7")];
    let d = compare(&snap(&a, &a_down, true), &snap(&b, &b_down, true));

    let lines: Vec<String> = d
        .changes
        .iter()
        .map(|c| match c {
            Change::Port {
                ip,
                port,
                change,
                state,
                was,
                ..
            } => format!("{ip}:{port} {} {was}->{state}", change.as_str()),
            Change::Host {
                ip,
                change,
                state,
                was,
                open,
                was_open,
            } => format!(
                "{ip} {} {}->{} open {open:?} was {was_open:?}",
                change.as_str(),
                was.as_str(),
                state.as_str()
            ),
        })
        .collect();
    assert_eq!(
        lines,
        [
            "198.18.0.1:1 opened closed->open",
            "198.18.0.1:2 opened filtered->open",
            "198.18.0.1:3 closed open->closed",
            "198.18.0.1:4 closed open->filtered",
            "198.18.0.1:5 changed closed->filtered",
            "198.18.0.1:6 changed filtered->closed",
            "198.18.0.2 host-down up->down open [] was [22]",
            "198.18.0.3 host-up down->up open [443] was []",
            "198.18.0.4 host-gone up->absent open [] was [80]",
            "198.18.0.5 host-new absent->up open [8080] was []",
            "198.18.0.6 host-new absent->down open [] was []",
        ]
    );
    assert_eq!(
        d.summary,
        DiffSummary {
            opened: 2,
            closed: 2,
            changed: 2,
            services: 0,
            hosts_up: 1,
            hosts_down: 1,
            hosts_new: 2,
            hosts_gone: 1,
            compared: 9,
            // .1:9, .1:11, .2 (2), .3 (2), .4, .5
            not_compared: 8,
        }
    );
    assert_eq!(d.summary.changes(), 11);
}

#[test]
fn hosts_absent_from_an_incomplete_scan_are_not_compared() {
    let a = [
        port("198.18.0.1", 22, PortState::Open),
        port("198.18.0.2", 22, PortState::Open),
    ];
    let b = [port("198.18.0.1", 22, PortState::Closed)];
    let d = compare(&snap(&a, &[], true), &snap(&b, &[], false));
    assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
    assert_eq!((d.summary.closed, d.summary.hosts_gone), (1, 0));
    assert_eq!(d.summary.not_compared, 1);
    // Nothing changed: nothing reported.
    let same = compare(&snap(&a, &[], true), &snap(&a, &[], true));
    assert_eq!(same.changes, []);
    assert_eq!((same.summary.compared, same.summary.changes()), (2, 0));
}

/// The file's comparison (rows streamed in the order of the address as text) gives the same
/// as the comparison in memory, for addresses whose text order is not their order
/// (`127.0.0.10` < `127.0.0.9`, IPv6 after IPv4), and keeps the last of a port recorded twice.
#[test]
fn the_files_diff_is_the_diff_of_its_results_in_address_order() {
    let dir = Dir::new("diff");
    let path = dir.file("scans.db");
    let scan = new_scan("127.0.0.1", "1-65535");
    let hosts = [
        "127.0.0.9",
        "127.0.0.10",
        "2001:db8::2",
        "2001:db8::10",
        "10.0.0.1",
    ];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        for p in [9u16, 10, 100, 1000] {
            let open_a = (usize::from(p) + i) % 3 == 0;
            let open_b = (usize::from(p) + i) % 2 == 0;
            let state = |open| {
                if open {
                    PortState::Open
                } else {
                    PortState::Closed
                }
            };
            a.push(port(h, p, state(open_a)));
            b.push(port(h, p, state(open_b)));
        }
    }
    // Recorded twice in B (which a scan does not do): of two rows, the last counts.
    let mut twice = vec![port("127.0.0.9", 10, PortState::Filtered)];
    twice.extend(b.iter().cloned());
    let ia = record(&path, &scan, &a, &[down("198.18.0.1")]);
    let ib = record(&path, &scan, &twice, &[]);
    let db = Db::open(&path).unwrap();
    let (ra, rb) = db.pick(None, None).unwrap();
    assert_eq!((ra.id, rb.id), (ia, ib));
    let from_file = db.diff(&ra, &rb).unwrap();
    let in_memory = compare(&snap(&a, &[down("198.18.0.1")], true), &snap(&b, &[], true));
    assert_eq!(from_file, in_memory);
    assert!(from_file.summary.opened > 0 && from_file.summary.closed > 0);
    let order: Vec<(IpAddr, u16)> = from_file
        .changes
        .iter()
        .map(|c| match c {
            Change::Port { ip, port, .. } => (*ip, *port),
            Change::Host { ip, .. } => (*ip, 0),
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order.first().unwrap().0, ip("10.0.0.1"));
    // `results` reads back each port once, the last recorded.
    let back = db.results(ib).unwrap();
    assert_eq!(back.len(), b.len());
    let p9 = back
        .iter()
        .find(|r| r.ip == ip("127.0.0.9") && r.port == 9)
        .unwrap();
    assert_ne!(p9.state, PortState::Filtered);
}

/// Every reason (issue 15 added the ICMP ones and `local-denied`) is stored and read back as
/// it was.
#[test]
fn every_reason_reads_back() {
    let dir = Dir::new("reasons");
    let path = dir.file("scans.db");
    let scan = new_scan("198.18.0.1", "1-100");
    let results: Vec<PortResult> = Reason::ALL
        .into_iter()
        .enumerate()
        .map(|(i, reason)| PortResult {
            reason,
            ..port("198.18.0.1", i as u16 + 1, PortState::Filtered)
        })
        .collect();
    let id = record(&path, &scan, &results, &[]);
    let db = Db::open(&path).unwrap();
    let mut back: Vec<(u16, Reason)> = db
        .results(id)
        .unwrap()
        .iter()
        .map(|r| (r.port, r.reason))
        .collect();
    back.sort();
    let want: Vec<(u16, Reason)> = results.iter().map(|r| (r.port, r.reason)).collect();
    assert_eq!(back, want);
}

// ---------------------------------------------------------------------------------------------
// Small pieces.

#[test]
fn timestamps_print_as_utc() {
    assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        Timestamp(1_700_000_000_123).rfc3339(),
        "2023-11-14T22:13:20.123Z"
    );
    assert_eq!(
        Timestamp(951_825_600_000).to_string(),
        "2000-02-29 12:00:00"
    );
    assert_eq!(Timestamp(-1).rfc3339(), "1969-12-31T23:59:59.999Z");
    assert_eq!(
        Timestamp(4_102_444_800_000).rfc3339(),
        "2100-01-01T00:00:00.000Z"
    );
}

#[test]
fn keys_ignore_order_spelling_and_case_but_not_what_is_scanned() {
    let t = |s: &str| Target::parse(s).unwrap();
    let p = |s: &str| PortSet::parse(s).unwrap();
    let k = ScanKey::new(
        &[t("198.18.0.0/30"), t("Host.example"), t("2001:db8::1")],
        &[t("198.18.0.2")],
        &p("22,80"),
    );
    assert_eq!(
        k.as_str(),
        "198.18.0.0-198.18.0.3 2001:db8::1 host.example -p 22,80 --exclude 198.18.0.2"
    );
    let same = ScanKey::new(
        &[
            t("2001:db8::1"),
            t("198.18.0.0-3"),
            t("host.EXAMPLE"),
            t("198.18.0.1"),
        ],
        &[t("198.18.0.2")],
        &p("80,22"),
    );
    assert_eq!(k, same);
    assert_ne!(k, ScanKey::new(&[t("198.18.0.0/30")], &[], &p("22,80")));
    assert_ne!(
        ScanKey::new(&[t("198.18.0.1")], &[], &p("22")),
        ScanKey::new(&[t("198.18.0.1")], &[], &p("23"))
    );
    assert_eq!(
        k.clone().with("--shard 1/2").as_str(),
        format!("{k} --shard 1/2")
    );
}

/// `port(addr, n, Open)` with a detected service.
fn with_service(addr: &str, n: u16, name: &str, product: &str, version: &str) -> PortResult {
    let mut service = crate::service::ServiceInfo::probed(name);
    service.product = Some(product.into());
    service.version = Some(version.into());
    service.extrainfo = Some("protocol 2.0".into());
    service.cpes = vec![format!("cpe:/a:openbsd:openssh:{version}")];
    PortResult {
        service: Some(Box::new(service)),
        ..port(addr, n, PortState::Open)
    }
}

#[test]
fn services_are_recorded_read_back_and_a_new_version_is_a_change() {
    let dir = Dir::new("services");
    let path = dir.file("scans.db");
    let scan = new_scan("127.0.0.1", "22,80,443,8080");
    let a = [
        with_service("127.0.0.1", 22, "ssh", "OpenSSH", "9.2p1"),
        with_service("127.0.0.1", 80, "http", "nginx", "1.22.1"),
        // Detected in one scan only: no change (the other did not look).
        with_service("127.0.0.1", 443, "http", "nginx", "1.22.1"),
        port("127.0.0.1", 8080, PortState::Open),
    ];
    let mut extra = with_service("127.0.0.1", 80, "http", "nginx", "1.22.1");
    // Only the extra information differs: no change.
    extra.service.as_mut().unwrap().extrainfo = Some("Debian".into());
    let b = [
        with_service("127.0.0.1", 22, "ssh", "OpenSSH", "9.6p1"),
        extra,
        port("127.0.0.1", 443, PortState::Open),
        with_service("127.0.0.1", 8080, "http", "SimpleHTTPServer", "0.6"),
    ];
    let ia = record(&path, &scan, &a, &[]);
    let ib = record(&path, &scan, &b, &[]);
    let db = Db::open(&path).unwrap();
    // Everything detection found comes back.
    assert_eq!(db.results(ia).unwrap(), a.to_vec());
    assert_eq!(db.results(ib).unwrap(), b.to_vec());
    // Name, product and version are columns of their own.
    let (name, product, version): (String, String, String) = raw(&path)
        .query_row(
            "SELECT service, product, version FROM results WHERE scan_id = ?1 AND port = 22",
            [ib],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((name.as_str(), product.as_str()), ("ssh", "OpenSSH"));
    assert_eq!(version, "9.6p1");

    let scans = db.scans().unwrap();
    let (sa, sb) = (
        scans.iter().find(|s| s.id == ia).unwrap(),
        scans.iter().find(|s| s.id == ib).unwrap(),
    );
    for diff in [
        db.diff(sa, sb).unwrap(),
        compare(&snap(&a, &[], true), &snap(&b, &[], true)),
    ] {
        assert_eq!(diff.summary.services, 1, "{diff:?}");
        assert_eq!(diff.summary.changes(), 1);
        let Change::Port {
            port,
            change,
            service,
            was_service,
            ..
        } = &diff.changes[0]
        else {
            panic!("{diff:?}")
        };
        assert_eq!((*port, *change), (22, PortChange::Service));
        assert_eq!(service.as_ref().unwrap().to_string(), "ssh OpenSSH 9.6p1");
        assert_eq!(
            was_service.as_ref().unwrap().to_string(),
            "ssh OpenSSH 9.2p1"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Schema version 3 (issue 19): foreign keys, incomplete scans marked, the per-port index,
// closed ports kept as numbers.

/// Records a scan of `port_set` on every host from `results` (in that order); `end`: whether
/// it ends (else the recorder is forgotten, as a killed process leaves it). Batches of 50.
fn record_set(
    path: &Path,
    port_set: &str,
    results: &[PortResult],
    end: bool,
) -> (i64, Option<Recorder>) {
    let set = PortSet::parse(port_set).unwrap();
    let mut r = Db::open(path)
        .unwrap()
        .record(&new_scan("198.18.0.0/30", port_set))
        .unwrap()
        .batch(50, Duration::from_secs(3600));
    r.begin(&ScanInfo {
        hosts: 4,
        ports: set.len(),
        port_set: Some(set),
        ..ScanInfo::default()
    })
    .unwrap();
    for x in results {
        r.result(x).unwrap();
    }
    let id = r.id();
    if end {
        r.end(&Summary::default()).unwrap();
        (id, None)
    } else {
        (id, Some(r))
    }
}

/// A pseudo-random order (the scan's order is random).
fn shuffled(mut v: Vec<PortResult>, seed: u64) -> Vec<PortResult> {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

/// Hosts .1–.3 on ports 1–300: mostly closed, a few open or filtered (which depend on
/// `flavour`); .3's closed ports answer with two reasons.
fn results_of(flavour: u16) -> Vec<PortResult> {
    let mut v = Vec::new();
    for h in 1..=3 {
        for p in 1..=300u16 {
            let state = if (p + flavour * h) % 37 == 0 {
                PortState::Open
            } else if (p + h) % 50 == 0 {
                PortState::Filtered
            } else {
                PortState::Closed
            };
            let mut r = port(&format!("198.18.0.{h}"), p, state);
            if h == 3 && state == PortState::Closed && p % 2 == 0 {
                r.reason = Reason::Reset;
            }
            if state == PortState::Closed {
                r.rtt = None;
            }
            v.push(r);
        }
    }
    v
}

fn sorted(mut v: Vec<PortResult>) -> Vec<PortResult> {
    v.sort_by_key(|r| (r.ip, r.port));
    v
}

#[test]
fn closed_ports_are_not_rows_and_diff_and_results_stay_exact() {
    let dir = Dir::new("closed");
    let path = dir.file("scans.db");
    let (a, b) = (results_of(1), results_of(2));
    let (ia, _) = record_set(&path, "1-300", &shuffled(a.clone(), 7), true);
    let (ib, _) = record_set(&path, "1-300", &shuffled(b.clone(), 9), true);
    let c = raw(&path);
    let explicit = |id: i64| -> i64 {
        c.query_row(
            "SELECT count(*) FROM results WHERE scan_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    let not_closed = a.iter().filter(|r| r.state != PortState::Closed).count();
    assert_eq!(
        explicit(ia) as usize,
        not_closed,
        "closed ports are no rows"
    );
    // Hosts .1 and .2: one row each (every port accounted for); .3 (two reasons) keeps its
    // lists.
    let compact: Vec<String> = c
        .prepare("SELECT ip FROM closed WHERE scan_id = ?1 AND ports IS NULL ORDER BY ip")
        .unwrap()
        .query_map([ia], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(compact, ["198.18.0.1", "198.18.0.2"]);
    let lists: i64 = c
        .query_row(
            "SELECT count(*) FROM closed WHERE scan_id = ?1 AND ports IS NOT NULL \
             AND ip <> '198.18.0.3'",
            [ia],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(lists, 0);
    // A new file gives the lists' pages back at the end of each scan.
    let vacuum: (i64, i64) = c
        .query_row(
            "SELECT (SELECT auto_vacuum FROM pragma_auto_vacuum), \
                    (SELECT freelist_count FROM pragma_freelist_count)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(vacuum, (2, 0), "(incremental, no free page)");

    let db = Db::open(&path).unwrap();
    assert_eq!(db.results(ia).unwrap(), sorted(a.clone()));
    assert_eq!(db.results(ib).unwrap(), sorted(b.clone()));
    let s = db.scan(ia).unwrap();
    let closed = a.iter().filter(|r| r.state == PortState::Closed).count();
    assert_eq!(s.counts.closed as usize, closed);
    let from_file = db
        .diff(&db.scan(ia).unwrap(), &db.scan(ib).unwrap())
        .unwrap();
    let in_memory = compare(&snap(&a, &[], true), &snap(&b, &[], true));
    assert_eq!(from_file, in_memory);
    assert!(from_file.summary.opened > 0 && from_file.summary.closed > 0);
    assert_eq!(from_file.summary.compared, 900);

    // The history of one port, from rows, lists and compact rows alike.
    let states = |ip_: &str, p: u16| -> Vec<(i64, PortState)> {
        db.port_history(ip(ip_), p)
            .unwrap()
            .into_iter()
            .map(|h| (h.scan, h.state))
            .collect()
    };
    let of = |v: &[PortResult], ip_: &str, p: u16| {
        v.iter()
            .find(|r| r.ip == ip(ip_) && r.port == p)
            .unwrap()
            .state
    };
    for (h, p) in [
        ("198.18.0.1", 37),
        ("198.18.0.1", 1),
        ("198.18.0.2", 50),
        ("198.18.0.3", 4),
        ("198.18.0.3", 74),
    ] {
        assert_eq!(
            states(h, p),
            [(ia, of(&a, h, p)), (ib, of(&b, h, p))],
            "{h}:{p}"
        );
    }
    assert_eq!(states("198.18.0.1", 301), []);

    // A scan killed half way keeps its closed ports as lists: its diff is exact too (its
    // ports not reached are not compared).
    let half: Vec<PortResult> = shuffled(b.clone(), 3).into_iter().take(420).collect();
    let (ic, r) = record_set(&path, "1-300", &half, false);
    std::mem::forget(r);
    let db = Db::open(&path).unwrap();
    let sc = db.scan(ic).unwrap();
    assert!(!sc.status.is_complete(), "{:?}", sc.status);
    let committed = db.results(ic).unwrap();
    assert!(
        (300..420).contains(&committed.len()),
        "the batches of 50 committed: {}",
        committed.len()
    );
    let from_file = db.diff(&db.scan(ia).unwrap(), &sc).unwrap();
    let in_memory = compare(&snap(&a, &[], true), &snap(&committed, &[], false));
    assert_eq!(from_file, in_memory);
    assert!(from_file.summary.opened > 0 || from_file.summary.closed > 0);
    assert!(from_file.summary.not_compared > 0);

    // A run that ends without every port of a host (a shard's, one stopped by --max-open):
    // only hosts whose ports are all accounted for are made one row; the others' closed
    // ports are exactly those recorded.
    let part: Vec<PortResult> = b.iter().filter(|r| r.port % 3 != 0).cloned().collect();
    let (id, _) = record_set(&path, "1-300", &shuffled(part.clone(), 5), true);
    let db = Db::open(&path).unwrap();
    assert_eq!(db.results(id).unwrap(), sorted(part.clone()));
    let from_file = db
        .diff(&db.scan(ia).unwrap(), &db.scan(id).unwrap())
        .unwrap();
    assert_eq!(
        from_file,
        compare(&snap(&a, &[], true), &snap(&part, &[], true))
    );
}

#[test]
fn a_crashed_scan_is_marked_incomplete_when_the_file_is_opened() {
    let dir = Dir::new("crashed");
    let path = dir.file("scans.db");
    let (id, r) = record_set(
        &path,
        "1-10",
        &[port("198.18.0.1", 1, PortState::Open)],
        false,
    );
    std::mem::forget(r);
    let state = |c: &Connection| -> String {
        c.query_row("SELECT state FROM scans WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    // Its writer (this process) lives: still running after an open.
    drop(Db::open(&path).unwrap());
    assert_eq!(state(&raw(&path)), "running");
    // Gone (another process with this pid would have another start time).
    raw(&path)
        .execute(
            "UPDATE scans SET writer_start = writer_start + 1 WHERE id = ?1",
            [id],
        )
        .unwrap();
    assert_eq!(state(&raw(&path)), "running");
    let db = Db::open_existing(&path).unwrap();
    assert_eq!(state(&raw(&path)), "incomplete", "marked in the file");
    assert_eq!(db.scan(id).unwrap().status, ScanStatus::Incomplete);
    // It can still be resumed, and ends complete.
    let mut r = db.resume(id).unwrap();
    r.end(&Summary::default()).unwrap();
    drop(r);
    assert_eq!(state(&raw(&path)), "complete");
}

#[test]
fn a_version_2_file_migrates_with_foreign_keys_an_index_and_its_rows() {
    let dir = Dir::new("v2");
    let path = dir.file("scans.db");
    {
        let mut c = raw(&path);
        assert_eq!(migrate(&mut c, &MIGRATIONS[..2]).unwrap(), 2);
        c.execute_batch(
            "INSERT INTO scans (id, key, targets, ports, scan_type, args, version, state, \
             started_ms, writer_pid, writer_start, writer_boot) VALUES \
             (1, 'k', '198.18.0.1', '1-3', 'connect', '[]', '0.1.0', 'complete', 0, NULL, NULL, NULL), \
             (2, 'k', '198.18.0.1', '1-3', 'connect', '[]', '0.1.0', 'running', 0, 1, 1, 'gone');
             INSERT INTO results (scan_id, ip, port, state, reason, rtt_us) VALUES
             (1, '198.18.0.1', 1, 'closed', 'conn-refused', 5),
             (1, '198.18.0.1', 2, 'open', 'syn-ack', 7),
             (1, '198.18.0.1', 3, 'closed', 'conn-refused', 5),
             (2, '198.18.0.1', 1, 'open', 'syn-ack', 5);
             INSERT INTO hosts_down VALUES (2, '198.18.0.9', 'no-response', 3);",
        )
        .unwrap();
    }
    let db = Db::open_existing(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), 3);
    // The rows, as they were (closed ones included), and the dead writer's scan marked.
    let r1 = db.results(1).unwrap();
    assert_eq!(r1.len(), 3);
    assert_eq!(r1[0].rtt, Some(Duration::from_micros(5)));
    assert_eq!(db.scan(1).unwrap().counts.closed, 2);
    assert_eq!(db.scan(2).unwrap().status, ScanStatus::Incomplete);
    let diff = db.diff(&db.scan(1).unwrap(), &db.scan(2).unwrap()).unwrap();
    assert_eq!(diff.summary.opened, 1);
    // Foreign keys: enforced on the library's connection, cascading deletes.
    let on: i64 = db
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(on, 1);
    for table in ["results", "hosts_down", "closed"] {
        let fk: (String, String) = db
            .conn
            .query_row(
                &format!("SELECT \"table\", on_delete FROM pragma_foreign_key_list('{table}')"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(fk, ("scans".to_string(), "CASCADE".to_string()), "{table}");
    }
    assert!(db
        .conn
        .execute(
            "INSERT INTO results (scan_id, ip, port, state, reason) \
             VALUES (99, '198.18.0.1', 1, 'open', 'syn-ack')",
            [],
        )
        .is_err());
    db.conn
        .execute("DELETE FROM scans WHERE id = 2", [])
        .unwrap();
    let left: i64 = db
        .conn
        .query_row(
            "SELECT (SELECT count(*) FROM results WHERE scan_id = 2) + \
             (SELECT count(*) FROM hosts_down WHERE scan_id = 2)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the scan's rows went with it");
    // "The history of this port" reads the index.
    let plan: String = db
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT scan_id, state FROM results \
             WHERE ip = '198.18.0.1' AND port = 2",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("results_by_port"), "{plan}");
    assert_eq!(
        raw(&path)
            .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
}
