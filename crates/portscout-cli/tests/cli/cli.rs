//! The command as a user runs it: bad input, exit codes, formats, output files.
//! Scans here target only this machine's loopback, at listeners the test owns.

use std::collections::BTreeSet;
use std::net::TcpListener;

use crate::support::portscout;
use assert_cmd::Command;
use predicates::prelude::*;

/// Runs the command, asserts it succeeded, and returns its standard output.
fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

/// Each bad input exits 2 with `error: …` naming the bad token, before any scan.
#[test]
fn bad_input_exits_2_naming_the_token() {
    let cases: &[(&[&str], &str)] = &[
        (&["-p", "70000", "127.0.0.1"], "70000"),
        (&["-p", "10-5", "127.0.0.1"], "10-5"),
        (&["-p", "abc", "127.0.0.1"], "abc"),
        (&["-p", "0", "127.0.0.1"], "`0`"),
        (&["999.1.1.1"], "999.1.1.1"),
        (&["198.18.0.0/33"], "198.18.0.0/33"),
        (&["--timeout", "0", "127.0.0.1"], "`0`"),
        (&["--timeout", "-5", "127.0.0.1"], "-5"),
        (
            &["-iL", "/nonexistent/targets.txt"],
            "/nonexistent/targets.txt",
        ),
        (
            &["--exclude-file", "/nonexistent/ex.txt", "127.0.0.1"],
            "/nonexistent/ex.txt",
        ),
        (&["--show", "opne", "127.0.0.1"], "opne"),
        (&["--exclude", "300.1.1.1", "127.0.0.1"], "300.1.1.1"),
        (&["--exclude-ports", "x", "127.0.0.1"], "`x`"),
        (&["--top-ports", "0", "127.0.0.1"], "`0`"),
        (&["nosuch.invalid"], "nosuch.invalid"),
        (&["--format", "yaml", "127.0.0.1"], "yaml"),
        (
            &["-o", "/nonexistent/dir/out.txt", "127.0.0.1"],
            "/nonexistent/dir/out.txt",
        ),
        (&["--engine", "fast", "127.0.0.1"], "fast"),
        (
            &["--engine", "async", "--workers", "4", "127.0.0.1"],
            "--workers",
        ),
        (&["--max-open", "0", "127.0.0.1"], "0"),
        (&[], "no targets"),
        (&["--exclude", "127.0.0.1", "127.0.0.1"], "nothing to scan"),
        // IPv6.
        (
            &["2001:db8::1-2001:db8::ff"],
            "IPv6 ranges are not supported",
        ),
        (&["fe80::1%eth0"], "zone ids are not supported"),
        (
            &["fe80::1"],
            "`fe80::1`: IPv6 link-local addresses (fe80::/10) need a zone id",
        ),
        (
            &["2001:db8::1", "febf::/112", "--exclude", "febf::/113"],
            "`febf::8000`: IPv6 link-local",
        ),
        (&["fe80::/64", "--exclude", "fe80::/10"], "nothing to scan"),
        (
            &["2001:db8::/64", "-p", "80"],
            "too many probes: 2^64 target addresses × 1 port",
        ),
        (&["::/0", "-p", "80"], "about 2^128 target addresses"),
        // The IPv4-mapped spelling of an excluded address is excluded too.
        (
            &["--exclude", "::ffff:127.0.0.1", "127.0.0.1"],
            "nothing to scan",
        ),
        (
            &["--exclude", "127.0.0.1", "::ffff:127.0.0.1"],
            "nothing to scan",
        ),
    ];
    for (args, token) in cases {
        portscout()
            .args(*args)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with("error: ").and(predicate::str::contains(*token)));
    }
}

#[test]
fn empty_target_file_is_bad_input() {
    let dir = std::env::temp_dir().join(format!("portscout-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("empty.txt");
    std::fs::write(&file, "# only a comment\n\n").unwrap();
    portscout()
        .arg("-iL")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no targets"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A bad token in a target file is bad input naming the token, its line and the file.
#[test]
fn bad_token_in_target_file_names_its_line() {
    let dir = std::env::temp_dir().join(format!("portscout-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("targets.txt");
    std::fs::write(
        &file,
        "# list
127.0.0.1

127.0.0.2 999.1.1.1 # x
",
    )
    .unwrap();
    let want = format!(
        "error: invalid target `999.1.1.1` (line 4 of `{}`)",
        file.display()
    );
    portscout()
        .arg("-iL")
        .arg(&file)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(want.clone()));
    portscout()
        .arg("--exclude-file")
        .arg(&file)
        .arg("127.0.0.1")
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(want));
    portscout()
        .args(["-iL", "-"])
        .write_stdin(
            "127.0.0.1
fe80::1%eth0
",
        )
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`fe80::1%eth0`: IPv6 zone ids are not supported (line 2 of `-`)",
        ));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn hold_listeners(n: usize) -> (Vec<TcpListener>, BTreeSet<u16>) {
    let held: Vec<_> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    (held, ports)
}

fn spec(ports: &BTreeSet<u16>) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn open_ports_in_ndjson(stdout: &[u8]) -> BTreeSet<u16> {
    let mut open = BTreeSet::new();
    for line in std::str::from_utf8(stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("type").is_some() {
            continue;
        }
        assert_eq!(v["protocol"], "tcp");
        if v["state"] == "open" {
            assert_eq!(v["reason"], "syn-ack");
            open.insert(v["port"].as_u64().unwrap() as u16);
        }
    }
    open
}

#[test]
fn ndjson_lists_exactly_the_listeners_then_a_summary() {
    let (_held, open) = hold_listeners(4);
    let out = stdout_of(portscout().args(["127.0.0.1", "-p", &spec(&open), "--format", "ndjson"]));
    assert_eq!(open_ports_in_ndjson(&out), open);
    let last: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&out).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["open"], 4);
    assert!(last.get("port").is_none());
}

#[test]
fn show_all_lists_every_probed_port() {
    let (_held, open) = hold_listeners(2);
    let (_closed_socket, closed) = crate::support::closed_port("127.0.0.1");
    let mut ports = open.clone();
    ports.insert(closed);
    let out = stdout_of(portscout().args([
        "127.0.0.1",
        "-p",
        &spec(&ports),
        "--format",
        "csv",
        "--show",
        "all",
    ]));
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("ip,port,protocol,state,reason,rtt_ms"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows
        .iter()
        .any(|r| r.starts_with(&format!("127.0.0.1,{closed},tcp,closed,conn-refused,"))));
}

#[test]
fn text_is_the_default_and_stderr_carries_the_timing() {
    let (_held, open) = hold_listeners(1);
    let port = *open.iter().next().unwrap();
    portscout()
        .args(["127.0.0.1", "-n", "-v", "-p", &port.to_string()])
        .assert()
        .success()
        .stdout(predicate::str::contains("portscout report for 127.0.0.1"))
        .stdout(predicate::str::contains(format!("{port}/tcp")))
        .stdout(predicate::str::contains("ports/s").not())
        .stdout(predicate::str::contains("portscout: timing:").not())
        .stderr(predicate::str::contains("ports/s"))
        .stderr(predicate::str::contains("portscout: timing:"));
}

/// A text run prints one summary, on stderr, and no timing line without -v; stdout holds the
/// results only (no `Done:` line). A text file (`-o FILE`, `-oN FILE`) keeps its `Done:` line.
#[test]
fn one_summary_line_on_stderr_and_results_only_on_stdout() {
    let (_held, open) = hold_listeners(1);
    let port = open.iter().next().unwrap().to_string();
    let out = portscout()
        .args(["127.0.0.1", "-p", &port])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        stderr.lines().next().unwrap_or_default().to_string() + "\n",
        "one line on stderr"
    );
    assert!(
        stderr.starts_with("portscout: 1 host, 1 port in ")
            && stderr.contains(": 1 open, 0 closed, 0 filtered"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("Done") && !stdout.contains("ports/s"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{port}/tcp")), "{stdout}");

    let dir = crate::support::TempDir::new("one-summary");
    let (o, n) = (dir.file("o.txt"), dir.file("n.txt"));
    portscout()
        .args(["127.0.0.1", "-p", &port, "-o", &o, "-oN", &n, "-q"])
        .assert()
        .success();
    for f in [o, n] {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.contains("\nDone: 1 host, 1 port: 1 open"),
            "{f}: {text}"
        );
    }
}

#[test]
fn quiet_keeps_stderr_empty() {
    let (_held, open) = hold_listeners(1);
    portscout()
        .args(["127.0.0.1", "-q", "-p", &spec(&open)])
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
}

#[test]
fn output_file_gets_the_results_and_stdout_stays_empty() {
    let (_held, open) = hold_listeners(2);
    let path = std::env::temp_dir().join(format!("portscout-out-{}.ndjson", std::process::id()));
    portscout()
        .args(["127.0.0.1", "-p", &spec(&open), "--format", "ndjson", "-o"])
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
    let written = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(open_ports_in_ndjson(&written), open);
}

#[test]
fn target_file_names_and_exclusions_combine() {
    let (_held, open) = hold_listeners(1);
    let dir = std::env::temp_dir().join(format!("portscout-il-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("targets.txt");
    std::fs::write(
        &file,
        "# loopback only\nlocalhost\n127.0.0.2 127.0.0.3 # two more\n",
    )
    .unwrap();
    let out = stdout_of(
        portscout()
            .args([
                "-p",
                &spec(&open),
                "--format",
                "ndjson",
                "--show",
                "all",
                "--exclude",
                "127.0.0.2",
            ])
            .arg("-iL")
            .arg(&file),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let ips: BTreeSet<String> = std::str::from_utf8(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("type").is_none())
        .map(|v| v["ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ips,
        BTreeSet::from(["127.0.0.1".to_string(), "127.0.0.3".to_string()])
    );
}

/// Runs a bash script with `$PORTSCOUT` set to the binary; asserts it succeeded.
fn run_bash(script: &str) -> std::process::Output {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PORTSCOUT", env!("CARGO_BIN_EXE_portscout"))
        .env("PORTSCOUT_CONFIG", "")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_closed_reader_is_not_an_error() {
    // `portscout … | head -1`: the reader goes away; exit 0, no error message.
    // pipefail: the pipeline's status is portscout's, not head's.
    let out = run_bash(
        "set -o pipefail; $PORTSCOUT 127.0.0.1 -p 1-5000 --show all --format csv | head -1",
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("error"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ip,port,protocol,state,reason,rtt_ms\n"
    );
}

/// True when a plain blocking connect to `ip:port` reaches a listener (not itself).
fn really_listening(ip: std::net::IpAddr, port: u16) -> bool {
    let addr = std::net::SocketAddr::new(ip, port);
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))
        .is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok())
}

/// The seed's `asyncio_gather.py` reads "no descriptor free" as "closed" and loses every open
/// port. Here the window (1000) is far above what 64 descriptors allow, so `socket()` fails
/// with EMFILE again and again: that must be back-pressure, and the result still exact.
///
/// The host loopback is shared (other tests run in parallel), so the listeners sit on an
/// address of their own, 127.77.x.1, and an open port that is not ours counts as invented only
/// if a plain connect finds nothing listening there.
#[test]
fn descriptor_exhaustion_is_back_pressure_not_closed() {
    let ip: std::net::IpAddr = format!("127.77.{}.1", std::process::id() % 250)
        .parse()
        .unwrap();
    let held: Vec<_> = (0..6)
        .map(|_| TcpListener::bind((ip, 0)).unwrap())
        .collect();
    let open: BTreeSet<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let first = open.first().unwrap().saturating_sub(1500).max(1);
    let last = open.last().unwrap().saturating_add(1500);
    let out = run_bash(&format!(
        "ulimit -n 64 && exec $PORTSCOUT {ip} -p {first}-{last} --concurrency 1000 --format ndjson --show all"
    ));
    let found = open_ports_in_ndjson(&out.stdout);
    let missed: Vec<_> = open.difference(&found).collect();
    assert!(missed.is_empty(), "missed open ports {missed:?}");
    let invented: Vec<_> = found
        .difference(&open)
        .filter(|&&p| !really_listening(ip, p))
        .collect();
    assert!(invented.is_empty(), "invented open ports {invented:?}");
    let results = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"type\""))
        .count();
    assert_eq!(
        results,
        usize::from(last - first) + 1,
        "one result per probed port"
    );
}

#[test]
fn target_list_from_stdin() {
    let (_held, open) = hold_listeners(1);
    let out = stdout_of(
        portscout()
            .args(["-iL", "-", "-p", &spec(&open), "--format", "ndjson"])
            .write_stdin("# from a pipe\n127.0.0.1\n"),
    );
    assert_eq!(open_ports_in_ndjson(&out), open);
}

/// A listener on a free port in 10000–20000, so that a scan from there to 65535 is long.
fn low_listener() -> TcpListener {
    (10000..20000)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
        .expect("a free port in 10000-20000")
}

/// `--max-open 1` stops at the first open port: one open record, exit 0, and far fewer
/// records than ports in the range (the scan did not run to the end).
#[test]
fn max_open_stops_after_that_many_open_ports() {
    let listener = low_listener();
    let port = listener.local_addr().unwrap().port();
    for engine in ["auto", "threads", "async", "sharded"] {
        let out = stdout_of(portscout().args([
            "127.0.0.1",
            "-p",
            &format!("{port}-65535"),
            "--max-open",
            "1",
            "--format",
            "ndjson",
            "--show",
            "all",
            "--engine",
            engine,
            // The listener is the first port in ascending order.
            "--order",
            "serial",
        ]));
        let text = String::from_utf8(out).unwrap();
        let open: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(r#""state":"open""#))
            .collect();
        assert_eq!(open.len(), 1, "--engine {engine}: {open:?}");
        // Fewer than half the range: the `threads` engine's 64 threads each hand results
        // over in batches of up to 256, so on a busy machine up to 63 × 256 = 16 128 records
        // of other threads can come before the open port's batch (10 000 was too few).
        let records = text.lines().count();
        let range = 65536 - usize::from(port);
        assert!(
            records < range / 2,
            "--engine {engine}: {records} records for {range} ports: it did not stop"
        );
        assert!(text.lines().last().unwrap().contains(r#""type":"summary""#));
    }
}

/// ndjson lines appear as ports are found: the open port's line arrives while another probe
/// still waits out its 120 s timeout. The test waits up to 90 s for the line: a loaded machine
/// has room, and a scan that wrote its results only at its end could not pass (no speed is
/// asserted).
#[test]
fn ndjson_streams_results_before_the_scan_ends() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command as StdCommand, Stdio};
    use std::time::Duration;

    let (held, open) = hold_listeners(1);
    let open_port = *open.first().unwrap();
    // A listener with a full accept queue: SYNs to it get no answer, so its probe waits.
    let silent = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    silent.bind(&any.into()).unwrap();
    silent.listen(0).unwrap();
    let silent_addr = silent.local_addr().unwrap().as_socket().unwrap();
    let _filler = std::net::TcpStream::connect(silent_addr).unwrap();

    for engine in ["auto", "threads", "async", "sharded"] {
        let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("portscout"))
            .env("PORTSCOUT_CONFIG", "")
            .args([
                "127.0.0.1",
                "-p",
                &format!("{open_port},{}", silent_addr.port()),
                "--format",
                "ndjson",
                "--timeout",
                "120s",
                "--retries",
                "0",
                "-q",
                // No PTR lookup: its `hostname` record may come before the first result.
                "-n",
                "--engine",
                engine,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(90));
        let still_running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        let line = line.unwrap_or_else(|_| panic!("--engine {engine}: no line within 90 s"));
        assert!(
            line.contains(&format!(r#""port":{open_port},"#)) && line.contains(r#""open""#),
            "--engine {engine}: {line}"
        );
        assert!(
            still_running,
            "--engine {engine}: the scan had already ended"
        );
    }
    drop(held);
}

/// `--format list`: `ip:port` per open port (IPv6 bracketed), nothing else on stdout, whatever
/// `--show` says; the summary stays on stderr.
#[test]
fn list_format_is_ip_colon_port_per_open_port() {
    let (_held, open) = hold_listeners(2);
    let (_closed_socket, closed) = crate::support::closed_port("127.0.0.1");
    let v6 = std::net::TcpListener::bind("[::1]:0").ok();
    let mut targets = vec!["127.0.0.1".to_string()];
    let mut ports: Vec<u16> = open.iter().copied().chain([closed]).collect();
    let mut want: BTreeSet<String> = open.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    if let Some(l) = &v6 {
        let p = l.local_addr().unwrap().port();
        targets.push("::1".into());
        ports.push(p);
        want.insert(format!("[::1]:{p}"));
        // The IPv4 host does not listen on it, nor the IPv6 host on the others.
    }
    for show in ["open", "all"] {
        let out = portscout()
            .args(&targets)
            .args([
                "-p",
                &spec(&ports.iter().copied().collect()),
                "--format",
                "list",
            ])
            .args(["--show", show])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8(out.stdout.clone()).unwrap();
        let got: BTreeSet<String> = stdout.lines().map(String::from).collect();
        // Other machines' listeners cannot be here: loopback only, ports the test holds. A
        // port held on one family may be open on the other only if something else listens.
        assert!(want.is_subset(&got), "{show}: {stdout}");
        assert!(
            got.iter().all(|l| !l.ends_with(&format!(":{closed}"))
                && (l.starts_with("127.0.0.1:") || l.starts_with("[::1]:"))),
            "{show}: {stdout}"
        );
        assert_eq!(
            stdout.lines().count(),
            got.len(),
            "{show}: a line twice: {stdout}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("portscout: "),
            "{out:?}"
        );
    }
}

/// A scan's ndjson has a `time` (RFC 3339, UTC, ms) on every record, within the run, and a
/// `schema` of 1 in its summary record.
#[test]
fn ndjson_records_have_a_time_and_the_summary_a_schema() {
    let (_held, open) = hold_listeners(2);
    let before = std::time::SystemTime::now();
    let args = ["127.0.0.1", "-p", &spec(&open), "--format", "ndjson", "-q"];
    let out = String::from_utf8(stdout_of(portscout().args(args))).unwrap();
    let after = std::time::SystemTime::now();
    let secs =
        |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The two ports, the summary and (when the hosts file names 127.0.0.1) a hostname record
    // with the PTR name.
    assert_eq!(
        lines.iter().filter(|v| v.get("port").is_some()).count(),
        2,
        "{out}"
    );
    assert!(
        lines
            .iter()
            .all(|v| v.get("port").is_some() || v["type"] == "summary" || v["type"] == "hostname"),
        "{out}"
    );
    assert!((3..=4).contains(&lines.len()), "{out}");
    for v in &lines {
        let t = v["time"].as_str().unwrap_or_else(|| panic!("no time: {v}"));
        // 2026-12-03T13:45:01.123Z
        assert!(
            t.len() == 24 && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
        let date = std::process::Command::new("date")
            .args(["-u", "-d", t, "+%s"])
            .output()
            .unwrap();
        let at: u64 = String::from_utf8(date.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(secs(before) <= at && at <= secs(after), "{t}");
    }
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["schema"], 1);
}
