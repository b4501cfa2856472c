//! A resume runs once, and a chain of pauses is one scan: every port once in the output and
//! in the history. Scans here target only this machine's loopback.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TempDir, BIN};

const PORTS: u64 = 8000;

fn start(dir: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .current_dir(dir)
        .env("PORTSCOUT_CONFIG", "")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Waits until `out` has grown past `was` (the scan is writing results), then pauses the
/// scan with SIGINT and waits for it to end; returns its exit code and stderr.
fn pause_after_growth(mut child: Child, out: &Path, was: u64) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while size(out) <= was {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the scan ended before it was paused"
        );
        assert!(Instant::now() < deadline, "no results after 120 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: signalling our own child, which has not been reaped.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Three pauses, then a resume to the end: each port is in the output once, the history has
/// one complete scan whose counts add up to the ports scanned, exactly; resuming the file
/// again exits 2 saying it is finished, and touches nothing.
#[test]
fn three_pauses_then_the_file_is_finished() {
    let dir = TempDir::new("resume-once");
    let out = dir.path().join("out.ndjson");
    let spec = format!("1-{PORTS}");
    let first = start(
        dir.path(),
        &[
            "127.0.0.1",
            "-p",
            &spec,
            "--rate",
            "1000",
            "--format",
            "ndjson",
            "--show",
            "all",
            "-o",
            "out.ndjson",
            "--db",
            "h.db",
            "--resume-file",
            "r.resume",
            "-q",
        ],
    );
    let (code, err) = pause_after_growth(first, &out, 0);
    assert_eq!(code, Some(130), "{err}");
    for pause in 2..=3 {
        let was = size(&out);
        let again = start(dir.path(), &["--resume", "r.resume", "-q"]);
        let (code, err) = pause_after_growth(again, &out, was);
        assert_eq!(code, Some(130), "pause {pause}: {err}");
    }
    let last = start(dir.path(), &["--resume", "r.resume", "-q"])
        .wait_with_output()
        .unwrap();
    assert_eq!(last.status.code(), Some(0), "{last:?}");

    let text = std::fs::read_to_string(&out).unwrap();
    let ports: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["port"].as_u64())
        .collect();
    let unique: BTreeSet<u64> = ports.iter().copied().collect();
    assert_eq!(unique.len() as u64, PORTS);
    assert_eq!(ports.len() as u64, PORTS, "a port reported twice");

    let history = || {
        let h = Command::new(BIN)
            .current_dir(dir.path())
            .args(["history", "--db", "h.db", "--format", "ndjson"])
            .output()
            .unwrap();
        assert!(h.status.success(), "{h:?}");
        String::from_utf8(h.stdout).unwrap()
    };
    let listed = history();
    let scans: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scans.len(), 1, "{listed}");
    let s = &scans[0];
    assert_eq!(s["status"], "complete", "{listed}");
    assert_eq!(s["runs"], 4, "{listed}");
    let counted = ["open", "closed", "filtered"]
        .iter()
        .map(|k| s[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(counted, PORTS, "{listed}");

    // Once more: refused, and nothing changes.
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = files(dir.path());
    let again = start(dir.path(), &["--resume", "r.resume"])
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains("`r.resume` cannot be resumed"), "{err}");
    assert!(err.contains("resumed to the end"), "{err}");
    assert_eq!(files(dir.path()), before);
    assert_eq!(history(), listed);
}

/// A file being resumed cannot be resumed by a second run at the same time (nor after that
/// run was killed: its results are in its outputs already).
#[test]
fn a_file_being_resumed_is_refused() {
    let dir = TempDir::new("resume-twice");
    let out = dir.path().join("out.ndjson");
    let first = start(
        dir.path(),
        &[
            "127.0.0.1",
            "-p",
            "1-20000",
            "--rate",
            "1000",
            "--format",
            "ndjson",
            "--show",
            "all",
            "-o",
            "out.ndjson",
            "--resume-file",
            "r.resume",
            "-q",
        ],
    );
    let (code, err) = pause_after_growth(first, &out, 0);
    assert_eq!(code, Some(130), "{err}");
    let was = size(&out);
    let mut running = start(dir.path(), &["--resume", "r.resume", "-q"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while size(&out) <= was {
        assert!(Instant::now() < deadline, "no results after 120 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = start(dir.path(), &["--resume", "r.resume", "-q"])
        .wait_with_output()
        .unwrap();
    let _ = running.kill();
    let _ = running.wait();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(err.contains("resumed already"), "{err}");
}
