//! nmap's options as people type them (issue 19): `--open`, `-F`, `-T0`…`-T5`, `-v`, `-n`,
//! `-R`, `-6`, `--max-retries`, `--max-rate`, `--excludefile`, `--host-timeout`, `--reason`,
//! `-p T:…`, and the `-s` options (`-sS`, `-sT`, `-sV`; `-sU`, `-sn` refused plainly).
//! Scans here target only this machine's loopback (127.0.0.1, ::1), at listeners the test owns.

use std::collections::BTreeSet;
use std::io;
use std::net::TcpListener;

use crate::support::{portscout, TempDir};

/// A listening port and a port nothing listens on, on `ip`, each held for as long as the
/// returned sockets live (the closed one bound, never listening: `support::closed_port`).
fn open_and_closed(ip: &str) -> io::Result<((TcpListener, socket2::Socket), u16, u16)> {
    let listener = TcpListener::bind((ip, 0))?;
    let open = listener.local_addr()?.port();
    let (closed_socket, closed) = crate::support::closed_port(ip);
    Ok(((listener, closed_socket), open, closed))
}

/// The ports of `state` in an ndjson output.
fn ports(ndjson: &str, state: &str) -> BTreeSet<u16> {
    ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["state"] == state)
        .filter_map(|v| v["port"].as_u64())
        .map(|p| p as u16)
        .collect()
}

/// Each refused option exits 2 with `error: …` naming it and saying why in plain words
/// (never clap's "unexpected argument"), before anything is touched: no connection to the
/// listener the command points at, no output file created.
#[test]
fn refused_nmap_options_exit_2_plainly_before_anything() {
    let ((listener, _closed_socket), open, _) = open_and_closed("127.0.0.1").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = open.to_string();
    let tcp_udp = format!("T:{port},U:53");
    let cases: &[(&[&str], &[&str])] = &[
        (&["-sU"], &["`-sU`", "UDP scan is not supported yet"]),
        (&["-sn"], &["`-sn`", "ping scan) is not supported yet"]),
        (
            &["-sUV"],
            &["`-sUV`", "-sU", "UDP scan is not supported yet"],
        ),
        (&["-sS", "-sU"], &["`-sU`", "UDP scan is not supported yet"]),
        (
            &["-sSU"],
            &["`-sSU`", "-sU", "UDP scan is not supported yet"],
        ),
        (&["-sX"], &["`-sX`", "-sX is not supported"]),
        (&["-T0"], &["'0'", "-T0 (paranoid)", "5 minutes"]),
        (
            &["-T", "sneaky"],
            &["'sneaky'", "-T1 (sneaky)", "15 seconds"],
        ),
        (&["-T9"], &["'9'", "expected 0 to 5"]),
        (
            &["-p", &tcp_udp],
            &["`U:53`", "UDP ports are not supported yet"],
        ),
        (&["-p", "S:80"], &["`S:80`", "SCTP"]),
        (
            &["--host-timeout", "30m"],
            &["--host-timeout 30m", "not supported yet"],
        ),
        (&["-6"], &["`127.0.0.1`", "-6 scans IPv6 only"]),
        (&["-F", "-p", "80"], &["--fast", "--ports"]),
        (&["-n", "-R"], &["--no-reverse-dns", "--reverse-dns-all"]),
        (&["-v", "-q"], &["--verbose", "--quiet"]),
        (&["--open", "--show", "all"], &["--open", "--show"]),
    ];
    let dir = TempDir::new("nmap-refused");
    let out_file = dir.file("out.txt");
    let mut wrong = Vec::new();
    for (flags, words) in cases {
        let mut cmd = portscout();
        cmd.current_dir(dir.path())
            .args(["127.0.0.1", "-o", &out_file]);
        if !flags.contains(&"-p") && !flags.contains(&"-F") {
            cmd.args(["-p", &port]);
        }
        let out = cmd.args(*flags).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2)
            || !out.stdout.is_empty()
            || !stderr.starts_with("error: ")
            || !words.iter().all(|w| stderr.contains(w))
            || stderr.contains("unexpected argument")
        {
            wrong.push(format!(
                "{flags:?}: want exit 2 and `error:` with {words:?}; got exit {:?}, stderr {stderr:?}",
                out.status.code()
            ));
        }
        match listener.accept() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => wrong.push(format!("{flags:?}: connected before refusing: {other:?}")),
        }
        if std::path::Path::new(&out_file).exists() {
            wrong.push(format!("{flags:?}: created the output file"));
            std::fs::remove_file(&out_file).unwrap();
        }
    }
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}

/// Each accepted option (alone) scans exactly: the listener's port open, the other closed.
#[test]
fn accepted_nmap_options_scan_exactly() {
    let (_held, open, closed) = open_and_closed("127.0.0.1").unwrap();
    let ports_arg = format!("{open},{closed}");
    let tcp_ports = format!("T:{open},{closed}");
    let mixed = format!("{open},T:{closed}");
    let dir = TempDir::new("nmap-accepted");
    let cases: &[&[&str]] = &[
        &["--open"],
        &["--reason"],
        &["-n"],
        &["-R"],
        &["-v"],
        &["-vv"],
        &["-T2"],
        &["-T3"],
        &["-T4"],
        &["-T5"],
        &["-T", "aggressive"],
        &["-T4", "--retries", "3", "--max-rtt-timeout", "2s"],
        &["-T5", "--min-rtt-timeout", "400ms"],
        &["--max-retries", "3"],
        &["--max-rate", "5000"],
        &["-sT"],
        &["-p", &tcp_ports],
        &["-p", &mixed],
    ];
    let mut wrong = Vec::new();
    for flags in cases {
        // `--open` lists open ports only (and cannot be given with --show).
        let only_open = flags.contains(&"--open");
        let mut args = vec!["127.0.0.1", "--format", "ndjson"];
        if !only_open {
            args.extend(["--show", "open,closed"]);
        }
        if !flags.contains(&"-p") {
            args.extend(["-p", &ports_arg]);
        }
        let out = portscout()
            .current_dir(dir.path())
            .args(&args)
            .args(*flags)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let want_closed: BTreeSet<u16> = if only_open {
            BTreeSet::new()
        } else {
            [closed].into()
        };
        if !out.status.success()
            || ports(&stdout, "open") != [open].into()
            || ports(&stdout, "closed") != want_closed
        {
            wrong.push(format!(
                "{flags:?}: exit {:?}, stdout {stdout:?}, stderr {:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}

/// PTR names: by default and with `-R` the text report names 127.0.0.1 as the hosts file does
/// (loopback is named from the hosts file only, never asked of a DNS server); `-n` names
/// nothing. None of them warns. `-v` adds the timing line, which a run without it does not
/// print.
#[test]
fn reverse_dns_flags_and_verbose_say_what_they_do() {
    let (_held, open, _) = open_and_closed("127.0.0.1").unwrap();
    let port = open.to_string();
    let dir = TempDir::new("nmap-stderr");
    let run = |flags: &[&str]| {
        let out = portscout()
            .current_dir(dir.path())
            .args(["127.0.0.1", "-p", &port])
            .args(flags)
            .output()
            .unwrap();
        assert!(out.status.success(), "{flags:?}: {out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The first name of the hosts file's first line for 127.0.0.1, as the resolver reads it.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let name = hosts.lines().find_map(|l| {
        let mut w = l.split('#').next().unwrap_or("").split_whitespace();
        (w.next() == Some("127.0.0.1")).then(|| w.next().map(str::to_owned))?
    });
    for flags in [&["-R"][..], &[]] {
        let (out, e) = run(flags);
        assert!(!e.contains("warning"), "{flags:?}: {e}");
        let want = match &name {
            Some(n) => format!("portscout report for {n} (127.0.0.1)\n"),
            None => "portscout report for 127.0.0.1\n".to_string(),
        };
        assert!(out.starts_with(&want), "{flags:?}: {out}");
    }
    for flags in [&["-n"][..], &[]] {
        let (out, e) = run(flags);
        assert!(!e.contains("warning"), "{flags:?}: {e}");
        assert!(!e.contains("timing:"), "{flags:?}: {e}");
        if flags == ["-n"] {
            assert!(out.starts_with("portscout report for 127.0.0.1\n"), "{out}");
        }
    }
    for flags in [&["-v"][..], &["-vv"], &["--verbose"]] {
        let (_, e) = run(flags);
        assert!(e.contains("timing: "), "{flags:?}: {e}");
    }
}

/// `-F` probes the 100 most common ports, as `--top-ports 100`; `--excludefile` is
/// `--exclude-file`. Dry runs: nothing is sent.
#[test]
fn fast_mode_and_excludefile_plan_as_their_long_forms() {
    let dir = TempDir::new("nmap-plan");
    let ex = dir.file("ex.txt");
    std::fs::write(&ex, "127.0.0.1\n").unwrap();
    let plan = |flags: &[&str]| {
        let out = portscout()
            .current_dir(dir.path())
            .args(["--dry-run", "--seed", "7"])
            .args(flags)
            .output()
            .unwrap();
        assert!(out.status.success(), "{flags:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let fast = plan(&["127.0.0.1", "-F"]);
    assert_eq!(fast.lines().count(), 100, "{fast}");
    assert_eq!(fast, plan(&["127.0.0.1", "--top-ports", "100"]));
    let excluded = plan(&["127.0.0.1", "127.0.0.2", "-p", "80", "--excludefile", &ex]);
    assert_eq!(excluded, "{\"ip\":\"127.0.0.2\",\"port\":80}\n");
    assert_eq!(
        excluded,
        plan(&["127.0.0.1", "127.0.0.2", "-p", "80", "--exclude-file", &ex])
    );
}

/// `-6` scans an IPv6 target (`::1`) exactly. Skips when this machine has no IPv6 loopback.
#[test]
fn ipv6_only_scans_ipv6_loopback() {
    let Ok((_held, open, closed)) = open_and_closed("::1") else {
        eprintln!("SKIPPED cli::cli_nmap_options::ipv6_only_scans_ipv6_loopback: no ::1 here");
        return;
    };
    let dir = TempDir::new("nmap-ipv6");
    let out = portscout()
        .current_dir(dir.path())
        .args(["-6", "::1", "--format", "ndjson", "--show", "all"])
        .args(["-p", &format!("{open},{closed}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(ports(&stdout, "open"), [open].into(), "{stdout}");
    assert_eq!(ports(&stdout, "closed"), [closed].into(), "{stdout}");
}
