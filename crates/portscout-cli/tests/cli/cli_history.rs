//! Scan history as a user runs it: `--db FILE` on scans, `portscout history`, `portscout diff`,
//! a scan killed mid-way and a scan paused and resumed.
//!
//! Scans run in a network namespace of their own (a loopback with nothing on it but the
//! listeners the test opens, so the expected output is exact); `history` and `diff` send
//! nothing and run here.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::{portscout_local, require_root, Netns, ScanRun, TempDir};
use rusqlite::Connection;

/// `--- scan 1 (2026-11-23 10:00:01 UTC, complete): …` with the time replaced by `<T>`.
fn without_times(text: &str) -> String {
    text.lines()
        .map(|l| match (l.find(" ("), l.find(" UTC,")) {
            (Some(a), Some(b)) if (l.starts_with("---") || l.starts_with("+++")) && a < b => {
                format!("{} (<T>{}", &l[..a], &l[b..])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn json_lines(run: &ScanRun) -> Vec<serde_json::Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Port results of scan `id` in the file, read with SQLite itself.
fn rows(db: &str, id: i64) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(RESULTS_OF, [id], |r| r.get(0))
        .unwrap()
}

/// Scan ?1's results in the file: rows, plus closed ports kept as numbers (schema 3).
const RESULTS_OF: &str = "SELECT (SELECT count(*) FROM results WHERE scan_id = ?1) + \
                          (SELECT coalesce(sum(count), 0) FROM closed WHERE scan_id = ?1)";

/// Waits until scan `id` has at least `n` results committed; returns how many.
fn wait_for_rows(db: &str, id: i64, n: i64) -> i64 {
    let start = Instant::now();
    loop {
        if std::path::Path::new(db).exists() {
            let got = Connection::open(db)
                .and_then(|c| c.query_row(RESULTS_OF, [id], |r| r.get(0)))
                .unwrap_or(0);
            if got >= n {
                return got;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "scan {id} did not record {n} results in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_scans_with_a_change_between_then_history_and_diff() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("hist");
    let dir = TempDir::new("hist");
    let db = dir.file("scans.db");
    let _ssh = ns.listen("127.0.0.1", &[22]);
    let web = ns.listen("127.0.0.1", &[80]);
    let scan = |format: &str| {
        let run = ns.scan(&[
            "127.0.0.1",
            "-p",
            "20-25,80,443",
            "--db",
            &db,
            "--format",
            format,
        ]);
        run.assert_success();
        run
    };
    let first = scan("ndjson");
    assert_eq!(first.ports("127.0.0.1", "open"), [22, 80].into());
    drop(web);
    let _tls = ns.listen("127.0.0.1", &[443]);
    scan("ndjson");

    let history = portscout_local(&["history", "--db", &db]);
    history.assert_success();
    let lines: Vec<Vec<&str>> = history
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "ID", "STARTED", "(UTC)", "STATUS", "TIME", "OPEN", "CLOSED", "FILTERED", "DOWN",
            "TARGETS"
        ]
    );
    assert_eq!(lines.len(), 3, "{}", history.stdout);
    for (i, line) in lines[1..].iter().enumerate() {
        // id, date, time, status, "0.01", "s", counts…, targets.
        assert_eq!(line[0], (i + 1).to_string());
        assert_eq!(line[3], "complete");
        assert_eq!(line[5], "s");
        assert_eq!(
            line[6..],
            ["2", "6", "0", "0", "127.0.0.1", "-p", "20-25,80,443"]
        );
    }

    let history = portscout_local(&["history", "--db", &db, "--format", "ndjson"]);
    history.assert_success();
    let scans = json_lines(&history);
    assert_eq!(scans.len(), 2);
    for (i, s) in scans.iter().enumerate() {
        assert_eq!(s["id"], i as u64 + 1);
        assert_eq!(s["status"], "complete");
        assert_eq!(s["key"], "127.0.0.1 -p 20-25,80,443");
        assert_eq!(
            (s["open"].as_u64(), s["closed"].as_u64()),
            (Some(2), Some(6))
        );
        assert_eq!(
            (s["hosts"].as_u64(), s["ports_per_host"].as_u64()),
            (Some(1), Some(8))
        );
        assert_eq!(s["runs"], 1);
        assert_eq!(s["scan_type"], "connect");
        assert_eq!(
            s["args"],
            serde_json::json!([
                "127.0.0.1",
                "-p",
                "20-25,80,443",
                "--db",
                db,
                "--format",
                "ndjson"
            ])
        );
        assert!(s["started"].as_str().unwrap().ends_with('Z'));
        assert!(s["ended"].as_str().is_some());
    }

    let diff = portscout_local(&["diff", "--db", &db]);
    diff.assert_success();
    assert_eq!(
        without_times(&diff.stdout),
        "--- scan 1 (<T> UTC, complete): 127.0.0.1 -p 20-25,80,443\n\
         +++ scan 2 (<T> UTC, complete): 127.0.0.1 -p 20-25,80,443\n\
         - 127.0.0.1 80/tcp closed (was open)\n\
         + 127.0.0.1 443/tcp open (was closed)\n\
         2 changes: 1 opened, 1 closed, 0 changed; 8 ports compared"
    );
    assert_eq!(diff.stderr, "");

    let diff = portscout_local(&["diff", "--db", &db, "--format", "ndjson", "--exit-code"]);
    assert_eq!(diff.code, Some(1), "{}", diff.stderr);
    assert_eq!(
        diff.stdout,
        concat!(
            r#"{"change":"closed","ip":"127.0.0.1","port":80,"protocol":"tcp","state":"closed","reason":"conn-refused","was":"open","was_reason":"syn-ack"}"#,
            "\n",
            r#"{"change":"opened","ip":"127.0.0.1","port":443,"protocol":"tcp","state":"open","reason":"syn-ack","was":"closed","was_reason":"conn-refused"}"#,
            "\n",
            r#"{"type":"summary","a":1,"b":2,"a_status":"complete","b_status":"complete","changes":2,"opened":1,"closed":1,"changed":0,"hosts_up":0,"hosts_down":0,"hosts_new":0,"hosts_gone":0,"compared":8,"not_compared":0}"#,
            "\n"
        )
    );

    // A third scan, nothing changed; its standard output is the same as without --db.
    let third = scan("text");
    let plain = ns.scan(&["127.0.0.1", "-p", "20-25,80,443"]);
    plain.assert_success();
    assert_eq!(third.stdout, plain.stdout);
    let diff = portscout_local(&["diff", "--db", &db, "--exit-code"]);
    assert_eq!(diff.code, Some(0), "{}", diff.stderr);
    assert!(
        diff.stdout.ends_with("\nno changes; 8 ports compared\n"),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.starts_with("--- scan 2 "), "{}", diff.stdout);
    // One id: from that scan to the latest.
    let diff = portscout_local(&["diff", "--db", &db, "1"]);
    diff.assert_success();
    assert!(diff.stdout.starts_with("--- scan 1 "), "{}", diff.stdout);
    assert!(diff.stdout.contains("\n+++ scan 3 "), "{}", diff.stdout);
    assert!(diff
        .stdout
        .contains("\n+ 127.0.0.1 443/tcp open (was closed)\n"));
    // Two ids: exactly those.
    let diff = portscout_local(&["diff", "--db", &db, "3", "1"]);
    diff.assert_success();
    assert!(diff
        .stdout
        .contains("\n- 127.0.0.1 443/tcp closed (was open)\n"));
    assert!(diff
        .stdout
        .contains("\n+ 127.0.0.1 80/tcp open (was closed)\n"));

    // A scan of other targets: `diff` without ids now wants two of those.
    ns.scan(&["127.0.0.1", "-p", "22", "--db", &db])
        .assert_success();
    let diff = portscout_local(&["diff", "--db", &db]);
    assert_eq!(diff.code, Some(2));
    assert!(
        diff.stderr
            .contains("fewer than two complete scans of 127.0.0.1 -p 22"),
        "{}",
        diff.stderr
    );
    // Compared explicitly anyway, with a warning.
    let diff = portscout_local(&["diff", "--db", &db, "1", "4"]);
    diff.assert_success();
    assert!(
        diff.stderr
            .contains("warning: scans 1 and 4 are not of the same targets and ports"),
        "{}",
        diff.stderr
    );
    assert!(diff
        .stdout
        .ends_with("no changes; 1 ports compared, 7 result(s) in one scan only not compared\n"));
}

#[test]
fn unusable_history_files_are_bad_input_naming_the_file() {
    let dir = TempDir::new("hist-bad");
    let text = dir.file("notes.txt");
    std::fs::write(
        &text,
        "not a database, but long enough to hold a header............",
    )
    .unwrap();
    let missing = dir.file("missing.db");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            // A scan whose history cannot be created: nothing is resolved or sent.
            vec!["127.0.0.1", "-p", "1", "--db", "/nonexistent/dir/scans.db"],
            "error: cannot open scan history `/nonexistent/dir/scans.db`".into(),
        ),
        (
            vec!["127.0.0.1", "-p", "1", "--db", &text],
            format!("error: `{text}` is not a portscout scan history: not an SQLite database"),
        ),
        (
            vec!["history", "--db", &missing],
            format!("error: scan history `{missing}` does not exist"),
        ),
        (
            vec!["diff", "--db", &missing],
            format!("error: scan history `{missing}` does not exist"),
        ),
        (
            vec!["history", "--db", &text],
            format!("error: `{text}` is not a portscout scan history"),
        ),
    ];
    for (args, want) in cases {
        let run = portscout_local(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with(&want), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert!(
        !std::path::Path::new(&missing).exists(),
        "history created a file"
    );

    // A history from a newer portscout.
    let future = dir.file("future.db");
    let run = portscout_local(&["history", "--db", &dir.file("empty.db")]);
    assert_eq!(run.code, Some(2));
    {
        let c = Connection::open(&future).unwrap();
        c.pragma_update(None, "application_id", 0x5053_434E)
            .unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let run = portscout_local(&["history", "--db", &future]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("has schema version 99, from a newer portscout"),
        "{}",
        run.stderr
    );
    let run = portscout_local(&["diff", "--db", &future, "7"]);
    assert_eq!(run.code, Some(2));
}

#[test]
fn a_scan_killed_mid_way_stays_readable_and_incomplete() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("hist-kill");
    let dir = TempDir::new("hist-kill");
    let db = dir.file("scans.db");
    let _ssh = ns.listen("127.0.0.1", &[22]);
    let all = ["127.0.0.1", "-p-", "--db", &db, "-q"];
    ns.scan(&all).assert_success();

    // 65535 ports at 5000 per second: 13 s, killed once 2000 results are committed.
    let mut slow = ns.spawn_in(
        dir.path(),
        &["127.0.0.1", "-p-", "--rate", "5000", "--db", &db, "-q"],
    );
    wait_for_rows(&db, 2, 2000);
    let running = portscout_local(&["history", "--db", &db, "--format", "ndjson"]);
    running.assert_success();
    let scans = json_lines(&running);
    assert_eq!(scans[1]["status"], "running", "{}", running.stdout);
    assert_eq!(scans[1]["pid"], slow.pid());
    slow.signal(libc::SIGKILL);
    let killed = slow.wait();
    assert_eq!(killed.code, None, "not killed: {}", killed.stderr);
    let committed = rows(&db, 2);
    assert!((2000..65_535).contains(&committed), "{committed}");

    let c = Connection::open(&db).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(c);
    let history = portscout_local(&["history", "--db", &db, "--format", "ndjson"]);
    history.assert_success();
    let scans = json_lines(&history);
    let s = &scans[1];
    assert_eq!(s["status"], "incomplete", "{}", history.stdout);
    assert_eq!(s["ended"], serde_json::Value::Null);
    assert_eq!(
        s["open"].as_u64().unwrap() + s["closed"].as_u64().unwrap(),
        committed as u64,
        "{s}"
    );
    let text = portscout_local(&["history", "--db", &db]);
    assert!(
        text.stdout.lines().nth(2).unwrap().contains(" incomplete "),
        "{}",
        text.stdout
    );
    // Opening the file marked it so in the file itself: not `running` forever.
    let state: String = Connection::open(&db)
        .unwrap()
        .query_row("SELECT state FROM scans WHERE id = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "incomplete");

    // A new scan records fine, with a change.
    let _web = ns.listen("127.0.0.1", &[8080]);
    ns.scan(&all).assert_success();
    assert_eq!(rows(&db, 3), 65_535);
    // Its closed ports are no rows: two open ports, one row saying "the rest is closed".
    let c = Connection::open(&db).unwrap();
    let stored: (i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM results WHERE scan_id = 3), \
                    (SELECT count(*) FROM closed WHERE scan_id = 3 AND ports IS NULL \
                     AND count = 65533)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored, (2, 1));
    drop(c);
    // The default compares the two complete scans, 1 and 3.
    let diff = portscout_local(&["diff", "--db", &db]);
    diff.assert_success();
    assert_eq!(
        without_times(&diff.stdout),
        "--- scan 1 (<T> UTC, complete): 127.0.0.1 -p 1-65535\n\
         +++ scan 3 (<T> UTC, complete): 127.0.0.1 -p 1-65535\n\
         + 127.0.0.1 8080/tcp open (was closed)\n\
         1 change: 1 opened, 0 closed, 0 changed; 65535 ports compared"
    );
    // The incomplete scan, compared explicitly: a warning, and only what it recorded.
    let diff = portscout_local(&["diff", "--db", &db, "1", "2", "--format", "ndjson"]);
    diff.assert_success();
    assert!(
        diff.stderr.contains("warning: scan 2 is incomplete"),
        "{}",
        diff.stderr
    );
    let summary = json_lines(&diff).pop().unwrap();
    assert_eq!(summary["changes"], 0);
    assert_eq!(summary["b_status"], "incomplete");
    assert_eq!(summary["compared"], committed);
    assert_eq!(summary["not_compared"], 65_535 - committed);
}

#[test]
fn a_paused_scan_resumed_is_one_scan_in_the_history() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("hist-pause");
    let dir = TempDir::new("hist-pause");
    let db = dir.file("scans.db");
    let _ssh = ns.listen("127.0.0.1", &[22]);
    let mut first = ns.spawn_in(
        dir.path(),
        &["127.0.0.1", "-p-", "--rate", "5000", "--db", &db, "-q"],
    );
    wait_for_rows(&db, 1, 1000);
    first.signal(libc::SIGINT);
    let first = first.wait();
    assert_eq!(first.code, Some(130), "{}", first.stderr);
    let history = portscout_local(&["history", "--db", &db, "--format", "ndjson"]);
    assert_eq!(
        json_lines(&history)[0]["status"],
        "paused",
        "{}",
        history.stdout
    );
    let resume = std::fs::read_to_string(dir.path().join("portscout.resume")).unwrap();
    assert!(resume.contains("\"db_scan\":1"), "{resume}");

    let second = ns.scan_in(dir.path(), &["--resume", "portscout.resume"]);
    second.assert_success();
    let history = portscout_local(&["history", "--db", &db, "--format", "ndjson"]);
    let scans = json_lines(&history);
    assert_eq!(scans.len(), 1, "{}", history.stdout);
    let s = &scans[0];
    assert_eq!(
        (s["status"].as_str(), s["runs"].as_u64()),
        (Some("complete"), Some(2))
    );
    assert_eq!(
        (s["open"].as_u64(), s["closed"].as_u64()),
        (Some(1), Some(65_534))
    );
    assert_eq!(rows(&db, 1), 65_535);
    let text = portscout_local(&["history", "--db", &db]);
    assert!(text.stdout.contains(" s, 2 runs "), "{}", text.stdout);
}

/// `sudo portscout … --db scans.db`: the process becomes the invoking user once its sockets are
/// open, and the history it created belongs to that user, whose scans without sudo can go on
/// recording into it.
#[test]
fn a_history_made_under_sudo_belongs_to_the_sudo_user() {
    use std::os::unix::fs::{chown, MetadataExt};
    if !require_root() {
        return;
    }
    const NOBODY: u32 = 65534;
    let ns = Netns::new("hsudo");
    let dir = TempDir::new("hsudo");
    // The user's own directory, as under sudo in a home directory.
    chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let db = dir.file("scans.db");
    let _web = ns.listen("127.0.0.1", &[80]);
    let out = ns
        .exec([support::BIN, "127.0.0.1", "-p", "79-81", "--db", &db, "-q"])
        .env("SUDO_UID", NOBODY.to_string())
        .env("SUDO_GID", NOBODY.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("80/tcp  open"));
    let meta = std::fs::metadata(&db).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));

    // The user, without sudo: a connect scan into the same history, then the list.
    let as_user = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let out = ns
        .exec(as_user)
        .args([support::BIN, "127.0.0.1", "-p", "79-81", "--db", &db, "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history = ns
        .exec(as_user)
        .args([support::BIN, "history", "--db", &db, "--format", "ndjson"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&history.stdout);
    assert!(
        history.status.success(),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    assert_eq!(stdout.matches("\"complete\"").count(), 2, "{stdout}");
}
