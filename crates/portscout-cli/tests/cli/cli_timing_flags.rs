//! The timing flags of issue 4 as a user types them: `--rate`, `--min-rate`,
//! `--min-rtt-timeout`, `--max-rtt-timeout`, `--no-host-check` (`-Pn`).
//! Scans here target only this machine's loopback, at listeners the test owns.

use std::collections::BTreeSet;
use std::io;
use std::net::TcpListener;

use assert_cmd::Command;

fn portscout() -> Command {
    let mut cmd = Command::cargo_bin("portscout").unwrap();
    // No config file of this machine's user may change what the tests see.
    cmd.env("PORTSCOUT_CONFIG", "");
    cmd
}

/// Each bad value exits 2 with `error: …` naming it (every listed fragment must appear), with
/// nothing on stdout and no connection made to the listener the command was pointed at. A
/// flag the binary does not know ("unexpected argument") does not count.
#[test]
fn bad_timing_values_exit_2_naming_the_token_before_any_probe() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--rate", "0"], &["rate", "0"]),
        (&["--rate", "abc"], &["rate", "abc"]),
        (
            &["--rate", "100", "--min-rate", "250"],
            &["min-rate", "250"],
        ),
        (&["--min-rtt-timeout", "0"], &["min-rtt-timeout", "0"]),
        (
            &["--min-rtt-timeout", "900", "--max-rtt-timeout", "300"],
            &["min-rtt-timeout", "900"],
        ),
    ];
    let mut wrong = Vec::new();
    for (flags, tokens) in cases {
        let out = portscout()
            .args(["127.0.0.1", "-p", &port])
            .args(*flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first_line = stderr.lines().next().unwrap_or("");
        let named = tokens.iter().all(|t| stderr.contains(t));
        if out.status.code() != Some(2)
            || !out.stdout.is_empty()
            || !stderr.starts_with("error: ")
            || !named
            || stderr.contains("unexpected argument")
        {
            wrong.push(format!(
                "{flags:?}: want exit 2 and `error:` naming {tokens:?}; got exit {:?}, {} bytes on stdout, stderr {first_line:?}",
                out.status.code(),
                out.stdout.len()
            ));
        }
        match listener.accept() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => wrong.push(format!(
                "{flags:?}: connected to the target before refusing: {other:?}"
            )),
        }
    }
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}

/// Good values of the new flags are accepted and the scan is still exact.
#[test]
fn good_timing_values_are_accepted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let (_closed_socket, closed) = crate::support::closed_port("127.0.0.1");
    let ports = format!("{open},{closed}");
    let variants: &[&[&str]] = &[
        &["--rate", "2000"],
        &["--rate", "2000", "--min-rate", "100"],
        &["--min-rtt-timeout", "50", "--max-rtt-timeout", "2000"],
        &["--no-host-check"],
        &["-Pn"],
    ];
    let mut wrong = Vec::new();
    for flags in variants {
        let out = portscout()
            .args([
                "127.0.0.1",
                "-p",
                &ports,
                "--format",
                "ndjson",
                "--show",
                "all",
            ])
            .args(*flags)
            .output()
            .unwrap();
        if out.status.code() != Some(0) {
            wrong.push(format!(
                "{flags:?}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        }
        let mut states = BTreeSet::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v.get("type").is_none() {
                states.insert((v["port"].as_u64().unwrap(), v["state"].to_string()));
            }
        }
        let want = BTreeSet::from([
            (u64::from(open), "\"open\"".to_owned()),
            (u64::from(closed), "\"closed\"".to_owned()),
        ]);
        if states != want {
            wrong.push(format!("{flags:?}: got {states:?}, want {want:?}"));
        }
    }
    drop(listener);
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}
