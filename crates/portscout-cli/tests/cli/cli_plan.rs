//! Order, seed, shards, dry runs, pause and resume, as a user runs them. Scans here target
//! only this machine's loopback, at listeners the test owns; dry runs send nothing.

use crate::support::{interrupt, TempDir};

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv6Addr, TcpListener};
use std::process::{Command as StdCommand, Stdio};

use crate::support::portscout;
use predicates::prelude::*;

/// The `(ip, port)` lines of a dry run, in order.
fn dry_run(args: &[&str]) -> Vec<(String, u16)> {
    let out = portscout()
        .args(args)
        .arg("--dry-run")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["ip", "port"], "{l}");
            (
                v["ip"].as_str().unwrap().to_string(),
                v["port"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

#[test]
fn serial_dry_run_lists_port_by_port_over_every_address() {
    let got = dry_run(&["127.0.0.0/31", "-p", "22,80", "--order", "serial"]);
    let want = [
        ("127.0.0.0", 22),
        ("127.0.0.1", 22),
        ("127.0.0.0", 80),
        ("127.0.0.1", 80),
    ];
    assert_eq!(
        got,
        want.map(|(ip, p)| (ip.to_string(), p)).to_vec(),
        "serial order"
    );
}

#[test]
fn the_seed_fixes_the_order_and_exclusions_hold() {
    let args = [
        "127.0.0.0/28",
        "-p",
        "1-300",
        "--exclude",
        "127.0.0.3,127.0.0.9",
    ];
    let a = dry_run(&[&args[..], &["--seed", "1"]].concat());
    let b = dry_run(&[&args[..], &["--seed", "1"]].concat());
    let c = dry_run(&[&args[..], &["--seed", "2"]].concat());
    let serial = dry_run(&[&args[..], &["--order", "serial"]].concat());
    assert_eq!(a, b, "the same seed gives the same order");
    assert_ne!(a, c, "another seed gives another order");
    assert_ne!(a, serial);
    assert_eq!(a.len(), 14 * 300);
    let set = |v: &[(String, u16)]| v.iter().cloned().collect::<BTreeSet<_>>();
    assert_eq!(set(&a), set(&serial), "a reordering of the same probes");
    assert!(a
        .iter()
        .all(|(ip, _)| ip != "127.0.0.3" && ip != "127.0.0.9"));
}

/// The coverage check, from the command line: shards are disjoint and together are
/// the whole scan, for several N.
#[test]
fn shards_are_disjoint_and_cover_the_scan() {
    let args = ["127.0.0.0/29", "127.0.1.7", "-p", "1-100,443,8000-8010"];
    let full: BTreeSet<(String, u16)> = dry_run(&[&args[..], &["--order", "serial"]].concat())
        .into_iter()
        .collect();
    for n in [1, 2, 3, 7] {
        let mut seen = BTreeSet::new();
        for i in 1..=n {
            let shard = format!("{i}/{n}");
            for probe in dry_run(&[&args[..], &["--shard", &shard, "--seed", "99"]].concat()) {
                assert!(seen.insert(probe.clone()), "{probe:?} in two shards of {n}");
            }
        }
        assert_eq!(seen, full, "the {n} shards cover the scan");
    }
}

/// IPv6 from the command line: a `/120` minus `--exclude` and an `--exclude-file` holding a v6
/// CIDR block and a bracketed address is exactly the addresses left × the ports, port by port
/// in serial order; the random order and three shards are a reordering and a partition of it.
#[test]
fn ipv6_block_minus_exclusions_serial_random_and_shards() {
    let tmp = TempDir::new("v6-plan");
    let dir = tmp.path();
    let file = dir.join("exclude.txt");
    std::fs::write(
        &file,
        "# IPv6\n2001:db8::80/121\n[2001:db8::7] 2001:db8::1:0/112\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let args = [
        "[2001:db8::]/120",
        "-p",
        "22,80",
        "--exclude",
        "2001:db8::10,[2001:db8::11]",
        "--exclude-file",
        file,
    ];
    let serial = dry_run(&[&args[..], &["--order", "serial"]].concat());
    let want: Vec<(String, u16)> = [22, 80]
        .into_iter()
        .flat_map(|port| {
            (0..0x80u16)
                .filter(|a| ![0x7, 0x10, 0x11].contains(a))
                .map(move |a| {
                    (
                        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a).to_string(),
                        port,
                    )
                })
        })
        .collect();
    assert_eq!(serial, want, "serial order");
    let all: BTreeSet<(String, u16)> = want.iter().cloned().collect();
    let random = dry_run(&[&args[..], &["--seed", "5"]].concat());
    assert_ne!(random, want, "the random order is not the serial one");
    assert_eq!(random.len(), want.len());
    assert_eq!(random.iter().cloned().collect::<BTreeSet<_>>(), all);
    let mut seen = BTreeSet::new();
    for i in 1..=3 {
        let shard = format!("{i}/3");
        for probe in dry_run(&[&args[..], &["--seed", "5", "--shard", &shard]].concat()) {
            assert!(seen.insert(probe.clone()), "{probe:?} in two shards");
        }
    }
    assert_eq!(seen, all, "the three shards cover the scan");
}

/// Mixed targets: IPv4 addresses come before IPv6 ones on every port, and an IPv4 address
/// excluded in either spelling (`198.18.0.2`, `::ffff:198.18.0.1`) is gone in both.
#[test]
fn mixed_targets_and_v4_mapped_exclusions() {
    let got = dry_run(&[
        "::ffff:198.18.0.0/126",
        "2001:db8::1",
        "198.18.0.0/30",
        "-p",
        "80,443",
        "--order",
        "serial",
        "--exclude",
        "198.18.0.2,::ffff:198.18.0.1",
    ]);
    let want: Vec<(String, u16)> = [80, 443]
        .into_iter()
        .flat_map(|port| {
            [
                "198.18.0.0",
                "198.18.0.3",
                "::ffff:198.18.0.0",
                "::ffff:198.18.0.3",
                "2001:db8::1",
            ]
            .map(|ip| (ip.to_string(), port))
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_dry_run_opens_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let got = dry_run(&["127.0.0.1", "-p", &port]);
    assert_eq!(got, [("127.0.0.1".to_string(), port.parse().unwrap())]);
    // The dry run has exited: a connect it made would be in the accept queue already (the
    // kernel completes a loopback handshake inside connect(2)).
    assert!(
        listener.accept().is_err(),
        "the dry run connected to the listener"
    );
}

#[test]
fn bad_plan_options_exit_2_naming_the_token() {
    let tmp = TempDir::new("bad-plan");
    let dir = tmp.path();
    let other = dir.join("other.resume");
    std::fs::write(&other, "{\"args\":[\"127.0.0.1\"],\"nope\":1}").unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["127.0.0.1", "--shard", "4/3"], "`4/3`".into()),
        (vec!["127.0.0.1", "--shard", "0/3"], "`0/3`".into()),
        (vec!["127.0.0.1", "--shard", "x"], "`x`".into()),
        (vec!["127.0.0.1", "--shard", "1/3"], "--seed".into()),
        (vec!["127.0.0.1", "--order", "zigzag"], "zigzag".into()),
        (vec!["127.0.0.1", "--seed", "-1"], "-1".into()),
        (
            vec!["--resume", "/nonexistent/x.resume"],
            "/nonexistent/x.resume".into(),
        ),
        (
            vec!["--resume", other.to_str().unwrap()],
            "not a portscout resume file".into(),
        ),
        (
            vec!["--resume", other.to_str().unwrap(), "-p", "80"],
            "`-p`".into(),
        ),
    ];
    for (args, token) in cases {
        portscout()
            .args(&args)
            .current_dir(dir)
            .assert()
            .code(2)
            .stdout("")
            .stderr(
                predicate::str::starts_with("error: ")
                    .and(predicate::str::contains(token.as_str())),
            );
    }
}

/// `(port → state)` of the port records of ndjson output; panics on a port listed twice.
fn states(ndjson: &[u8], into: &mut BTreeMap<u16, String>) {
    for line in String::from_utf8_lossy(ndjson).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(port) = v["port"].as_u64() {
            let old = into.insert(port as u16, v["state"].as_str().unwrap().to_string());
            assert!(old.is_none(), "port {port} reported twice");
        }
    }
}

/// Ctrl-C pauses: the results so far come out, a resume file is written, the exit status is
/// 130; `--resume` finishes the scan, and the two runs together report every port once, as
/// one run does.
#[test]
fn sigint_pauses_and_resume_finishes_exactly() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = TempDir::new("pause");
    let dir = tmp.path();
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let open: BTreeSet<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let spec = format!(
        "1-12000,{}",
        open.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let resume = dir.join("scan.resume");
    // 3000 probes a second: about 4 s in all.
    let child = StdCommand::new(env!("CARGO_BIN_EXE_portscout"))
        .env("PORTSCOUT_CONFIG", "")
        .args([
            "127.0.0.1",
            "-p",
            &spec,
            "--rate",
            "3000",
            "--format",
            "ndjson",
        ])
        .args(["--show", "all", "--resume-file", resume.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once results flow (500 lines), not after a fixed time.
    let first = interrupt::interrupt_after_lines(child, 500);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(
        first.status.code(),
        Some(130),
        "{:?} {stderr}",
        first.status.signal()
    );
    assert!(
        stderr.contains(&format!("portscout --resume {}", resume.display())),
        "{stderr}"
    );
    let summary = String::from_utf8_lossy(&first.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(summary.contains("\"type\":\"summary\""), "{summary}");

    let mut seen = BTreeMap::new();
    states(&first.stdout, &mut seen);
    let before = seen.len();
    assert!(
        before > 100 && before < 12_000,
        "{before} ports before the pause"
    );

    // A dry run of the resume lists exactly what is left.
    let left = portscout()
        .args(["--resume", resume.to_str().unwrap(), "--dry-run"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let left: BTreeSet<u16> = String::from_utf8(left)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["port"]
                .as_u64()
                .unwrap() as u16
        })
        .collect();
    let total = 12_000 + open.len();
    assert_eq!(left.len() + before, total, "left = total - reported");
    assert!(
        left.iter().all(|p| !seen.contains_key(p)),
        "a reported port is planned again"
    );

    let second = portscout()
        .args(["--resume", resume.to_str().unwrap(), "-q"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    states(&second, &mut seen);
    assert_eq!(seen.len(), total, "every port once over the two runs");
    let found: BTreeSet<u16> = seen
        .iter()
        .filter(|(_, s)| *s == "open")
        .map(|(p, _)| *p)
        .collect();
    assert!(open.is_subset(&found), "{open:?} not all in {found:?}");
    for (port, state) in &seen {
        if !open.contains(port) && *state != "open" {
            assert_eq!(state, "closed", "port {port}");
        }
    }
}
