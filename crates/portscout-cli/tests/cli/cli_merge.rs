//! `portscout merge` as a user runs it, on small ndjson fixtures written to a temporary
//! directory. Nothing here touches the network.

use std::path::{Path, PathBuf};

use crate::support::portscout;
use crate::support::TempDir;
use assert_cmd::Command;
use predicates::prelude::*;

/// Writes `text` to `name` in `dir` and returns its path.
fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A full scan (`--show all`) of three hosts plus one found down, in discovery order.
const FULL_RECORDS: &[&str] = &[
    r#"{"ip":"2001:db8::1","port":443,"protocol":"tcp","state":"filtered","reason":"no-response","rtt_ms":null}"#,
    r#"{"ip":"198.18.0.2","port":443,"protocol":"tcp","state":"closed","reason":"conn-refused","rtt_ms":0.123}"#,
    r#"{"ip":"198.18.0.1","port":80,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":12}"#,
    r#"{"ip":"2001:db8::1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1.5}"#,
    r#"{"ip":"198.18.0.1","port":8080,"protocol":"tcp","state":"filtered","reason":"no-response","rtt_ms":null}"#,
    r#"{"ip":"198.18.0.2","port":22,"protocol":"tcp","state":"closed","reason":"conn-refused","rtt_ms":0.3}"#,
    r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":0.21}"#,
    r#"{"type":"host","ip":"198.18.0.9","state":"down","reason":"host-unreach","skipped":4}"#,
    r#"{"ip":"2001:db8::1","port":80,"protocol":"tcp","state":"filtered","reason":"host-unreach","rtt_ms":3}"#,
    r#"{"ip":"198.18.0.1","port":443,"protocol":"tcp","state":"closed","reason":"reset","rtt_ms":0.001}"#,
    r#"{"ip":"198.18.0.2","port":80,"protocol":"tcp","state":"closed","reason":"conn-refused","rtt_ms":0.25}"#,
    r#"{"ip":"198.18.0.1","port":8443,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":null}"#,
];

const FULL_SUMMARY: &str = r#"{"type":"summary","hosts":4,"open":4,"closed":4,"filtered":3,"elapsed_ms":412,"hosts_down":1,"schema":1}"#;

/// The full scan's records in merge order: ports by address (IPv4 first) then port, then
/// hosts down, then the summary.
const FULL_SORTED: &str = r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":0.21}
{"ip":"198.18.0.1","port":80,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":12}
{"ip":"198.18.0.1","port":443,"protocol":"tcp","state":"closed","reason":"reset","rtt_ms":0.001}
{"ip":"198.18.0.1","port":8080,"protocol":"tcp","state":"filtered","reason":"no-response","rtt_ms":null}
{"ip":"198.18.0.1","port":8443,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":null}
{"ip":"198.18.0.2","port":22,"protocol":"tcp","state":"closed","reason":"conn-refused","rtt_ms":0.3}
{"ip":"198.18.0.2","port":80,"protocol":"tcp","state":"closed","reason":"conn-refused","rtt_ms":0.25}
{"ip":"198.18.0.2","port":443,"protocol":"tcp","state":"closed","reason":"conn-refused","rtt_ms":0.123}
{"ip":"2001:db8::1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1.5}
{"ip":"2001:db8::1","port":80,"protocol":"tcp","state":"filtered","reason":"host-unreach","rtt_ms":3}
{"ip":"2001:db8::1","port":443,"protocol":"tcp","state":"filtered","reason":"no-response","rtt_ms":null}
{"type":"host","ip":"198.18.0.9","state":"down","reason":"host-unreach","skipped":4}
"#;

fn lines(records: &[&str]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

/// The two halves of the full scan (alternate records), each with the summary of its own
/// records, as two shards of the scan would write them.
fn halves(dir: &TempDir) -> (PathBuf, PathBuf) {
    let a: Vec<&str> = FULL_RECORDS.iter().copied().step_by(2).collect();
    let b: Vec<&str> = FULL_RECORDS.iter().copied().skip(1).step_by(2).collect();
    let a_summary = summary_of(&a, 212);
    let b_summary = summary_of(&b, 200);
    (
        write(dir, "a.ndjson", &(lines(&a) + &a_summary + "\n")),
        write(dir, "b.ndjson", &(lines(&b) + &b_summary + "\n")),
    )
}

/// The summary line a scan of 4 hosts that wrote `records` would end with.
fn summary_of(records: &[&str], elapsed_ms: u64) -> String {
    let n = |needle: &str| records.iter().filter(|r| r.contains(needle)).count();
    format!(
        r#"{{"type":"summary","hosts":4,"open":{},"closed":{},"filtered":{},"elapsed_ms":{elapsed_ms},"hosts_down":{}}}"#,
        n(r#""state":"open""#),
        n(r#""state":"closed""#),
        n(r#""state":"filtered""#),
        n(r#""state":"down""#),
    )
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn two_halves_merge_into_exactly_the_full_scan_sorted() {
    let dir = TempDir::new("halves");
    let (a, b) = halves(&dir);
    let merged = stdout_of(
        portscout()
            .args(["merge", "--format", "ndjson", "--show", "all"])
            .arg(&a)
            .arg(&b),
    );
    assert_eq!(merged, format!("{FULL_SORTED}{FULL_SUMMARY}\n"));

    // The order of the inputs does not matter, nor do their summaries: without them the
    // counts come from the records (and elapsed_ms is 0).
    let strip = |p: &Path, name: &str| {
        let text = std::fs::read_to_string(p).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| !l.contains(r#""type":"summary""#))
            .map(|l| format!("{l}\n"))
            .collect();
        write(&dir, name, &kept)
    };
    let merged = stdout_of(
        portscout()
            .args(["merge", "--format", "ndjson", "--show", "all"])
            .arg(strip(&b, "b-killed.ndjson"))
            .arg(strip(&a, "a-killed.ndjson")),
    );
    assert_eq!(
        merged,
        format!("{FULL_SORTED}{}\n", FULL_SUMMARY.replace("412", "0"))
    );
}

#[test]
fn merging_a_file_with_itself_keeps_each_record_once() {
    let dir = TempDir::new("itself");
    let full = write(
        &dir,
        "full.ndjson",
        &(lines(FULL_RECORDS) + FULL_SUMMARY + "\n"),
    );
    let mut cmd = portscout();
    cmd.args(["merge", "--format", "ndjson", "--show", "all"])
        .arg(&full)
        .arg(&full);
    let out = cmd
        .assert()
        .success()
        .stderr(predicate::str::is_empty())
        .get_output()
        .stdout
        .clone();
    // Counts are corrected for the duplicates and elapsed times add up (the merge cannot tell a
    // repeated input from two shards); a host down keeps its skipped count.
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{}{}\n", FULL_SORTED, FULL_SUMMARY.replace("412", "824"))
    );
}

#[test]
fn text_output_of_a_merge() {
    let dir = TempDir::new("text");
    let (a, b) = halves(&dir);
    let out = stdout_of(portscout().arg("merge").arg(&a).arg(&b));
    assert_eq!(
        out,
        "\
portscout report for 198.18.0.1
Not shown: 1 closed port (reset), 1 filtered port (no-response)
PORT      STATE  SERVICE    REASON
22/tcp    open   ssh        syn-ack
80/tcp    open   http       syn-ack
8443/tcp  open   https-alt  syn-ack

portscout report for 198.18.0.2
All 3 scanned ports are closed (conn-refused)

portscout report for 198.18.0.9
Host is down (host-unreach): 4 ports not scanned (--no-host-check scans them)

portscout report for 2001:db8::1
Not shown: 2 filtered ports (1 no-response, 1 host-unreach)
PORT    STATE  SERVICE  REASON
22/tcp  open   ssh      syn-ack

Done: 4 hosts, 11 ports: 4 open, 4 closed, 3 filtered; 1 host down
"
    );
}

#[test]
fn ndjson_output_lists_only_the_shown_states_and_keeps_the_summary() {
    let dir = TempDir::new("ndjson");
    let (a, b) = halves(&dir);
    let out = stdout_of(
        portscout()
            .args(["merge", "--format", "ndjson"])
            .arg(&b)
            .arg(&a),
    );
    assert_eq!(
        out,
        r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":0.21}
{"ip":"198.18.0.1","port":80,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":12}
{"ip":"198.18.0.1","port":8443,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":null}
{"ip":"2001:db8::1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1.5}
{"type":"host","ip":"198.18.0.9","state":"down","reason":"host-unreach","skipped":4}
{"type":"summary","hosts":4,"open":4,"closed":4,"filtered":3,"elapsed_ms":412,"hosts_down":1,"schema":1}
"#
    );
}

#[test]
fn every_format_writes_the_merge() {
    let dir = TempDir::new("formats");
    let (a, b) = halves(&dir);
    let run = |format: &str| {
        stdout_of(
            portscout()
                .args(["merge", "--show", "all", "--format", format])
                .arg(&a)
                .arg(&b),
        )
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["summary"]["open"], 4);
    assert_eq!(json["hosts"][0]["ports"][0]["port"], 22);
    let csv = run("csv");
    // The header, 11 ports, the host down.
    assert_eq!(csv.lines().count(), 13);
    assert_eq!(
        csv.lines().nth(1),
        Some("198.18.0.1,22,tcp,open,syn-ack,0.21")
    );
    assert_eq!(
        csv.lines().last(),
        Some("198.18.0.9,,tcp,down,host-unreach,")
    );
    assert!(run("grep").starts_with("Host: 198.18.0.1 ()\tPorts: 22/open/tcp//ssh///, "));
}

const OPEN_22: &str = r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1}"#;
const FILTERED_22: &str = r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"filtered","reason":"no-response","rtt_ms":null}"#;
const DOWN_1: &str =
    r#"{"type":"host","ip":"198.18.0.1","state":"down","reason":"no-response","skipped":9}"#;

#[test]
fn conflicts_are_warnings_on_stderr_and_quiet_silences_them() {
    let dir = TempDir::new("conflicts");
    let first = write(&dir, "first.ndjson", &lines(&[FILTERED_22]));
    let resumed = write(&dir, "resumed.ndjson", &lines(&[OPEN_22]));
    let down = write(&dir, "down.ndjson", &lines(&[DOWN_1]));
    let expected_out = format!(
        "{OPEN_22}\n{}\n",
        r#"{"type":"summary","hosts":1,"open":1,"closed":0,"filtered":0,"elapsed_ms":0,"hosts_down":0,"schema":1}"#
    );
    let mut cmd = portscout();
    cmd.args(["merge", "--format", "ndjson"])
        .arg(&first)
        .arg(&resumed)
        .arg(&down);
    cmd.assert()
        .success()
        .stdout(expected_out.clone())
        .stderr(format!(
            "warning: 198.18.0.1:22 is open in `{r}` but filtered in `{f}`: kept open\n\
             warning: 198.18.0.1 is down in `{d}` but has port results in `{r}`: kept the port \
             results\n",
            f = first.display(),
            r = resumed.display(),
            d = down.display(),
        ));
    let mut cmd = portscout();
    cmd.args(["merge", "-q", "--format", "ndjson"])
        .arg(&first)
        .arg(&resumed)
        .arg(&down);
    cmd.assert()
        .success()
        .stdout(expected_out)
        .stderr(predicate::str::is_empty());
}

#[test]
fn a_bad_line_exits_2_naming_the_file_and_line() {
    let dir = TempDir::new("badline");
    let good = write(&dir, "good.ndjson", &lines(&[OPEN_22]));
    let bad = write(
        &dir,
        "bad.ndjson",
        &(lines(&[OPEN_22, ""])
            + r#"{"ip":"198.18.0.1","port":22,"state":"opne","reason":"syn-ack"}"#
            + "\n"),
    );
    portscout()
        .arg("merge")
        .arg(&good)
        .arg(&bad)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(format!(
            "error: `{}` line 3: invalid `state`: `opne`\n",
            bad.display()
        ));
}

#[test]
fn unreadable_inputs_exit_2_naming_the_file() {
    let dir = TempDir::new("unreadable");
    let missing = dir.path().join("missing.ndjson");
    let cases = [
        (vec![missing.clone()], missing.display().to_string()),
        // A directory opens but cannot be read.
        (
            vec![dir.path().to_path_buf()],
            dir.path().display().to_string(),
        ),
        (
            vec!["-".into(), "-".into()],
            "`-` (standard input)".to_string(),
        ),
    ];
    for (args, named) in cases {
        portscout()
            .arg("merge")
            .args(&args)
            .write_stdin("")
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with("error: ").and(predicate::str::contains(named)));
    }
    // No file at all is a usage error.
    portscout().arg("merge").assert().code(2);
}

#[test]
fn standard_input_is_read_with_dash() {
    let dir = TempDir::new("stdin");
    let file = write(&dir, "a.ndjson", &lines(&[FILTERED_22]));
    portscout()
        .args(["merge", "-q", "--format", "csv", "--show", "all", "-"])
        .arg(&file)
        .write_stdin(lines(&[OPEN_22]))
        .assert()
        .success()
        .stdout("ip,port,protocol,state,reason,rtt_ms\n198.18.0.1,22,tcp,open,syn-ack,1\n");
    portscout()
        .args(["merge", "--format", "csv", "-"])
        .write_stdin("garbage\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`<stdin>` line 1"));
}

#[test]
fn the_output_file_may_be_an_input() {
    let dir = TempDir::new("inplace");
    let (a, b) = halves(&dir);
    portscout()
        .args(["merge", "--format", "ndjson", "--show", "all", "-o"])
        .arg(&a)
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        format!("{FULL_SORTED}{FULL_SUMMARY}\n")
    );
}
