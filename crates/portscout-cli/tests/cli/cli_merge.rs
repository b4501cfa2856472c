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

/// The identity of the fixtures' scan (16 probes: 4 hosts × 4 ports), as shard `I/N` run
/// `part`, before `schema` as a summary writes it.
fn identity(shard: &str, part: u32, complete: bool) -> String {
    format!(
        r#","scan":"00000000000000aa","shard":"{shard}","probes":16,"part":{part},"complete":{complete}"#
    )
}

/// `summary` (ending with `"schema":1}`, or `}`) with an identity.
fn with_identity(summary: &str, identity: &str) -> String {
    match summary.strip_suffix(r#","schema":1}"#) {
        Some(head) => format!(r#"{head}{identity},"schema":1}}"#),
        None => format!("{}{identity}}}", summary.strip_suffix('}').unwrap()),
    }
}

/// The summary of a merge of every shard of the fixtures' scan: the whole scan, shard 1/1.
fn full_merged() -> String {
    with_identity(FULL_SUMMARY, &identity("1/1", 1, true))
}

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
    let a_summary = with_identity(&summary_of(&a, 212), &identity("1/2", 1, true));
    let b_summary = with_identity(&summary_of(&b, 200), &identity("2/2", 1, true));
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
    assert_eq!(merged, format!("{FULL_SORTED}{}\n", full_merged()));

    // The order of the inputs does not matter, nor do their summaries: without them the
    // counts come from the records (and elapsed_ms is 0). Records without a summary have no
    // identity to check: only --partial merges them.
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
            .args(["merge", "--partial", "--format", "ndjson", "--show", "all"])
            .arg(strip(&b, "b-killed.ndjson"))
            .arg(strip(&a, "a-killed.ndjson")),
    );
    assert_eq!(
        merged,
        format!("{FULL_SORTED}{}\n", FULL_SUMMARY.replace("412", "0"))
    );
}

/// The same file twice (it doubled the closed counts): refused, naming both; with
/// --partial, read once.
#[test]
fn a_repeated_shard_exits_2_naming_it_and_partial_reads_it_once() {
    let dir = TempDir::new("itself");
    let (a, b) = halves(&dir);
    let out = dir.path().join("out.ndjson");
    portscout()
        .args(["merge", "--format", "ndjson", "--show", "all", "-o"])
        .arg(&out)
        .arg(&a)
        .arg(&b)
        .arg(&a)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(format!(
            "error: the inputs are not one whole scan: `{a}` repeats `{a}` (shard 1/2 of scan \
             00000000000000aa, part 1): read once (--partial merges them anyway)\n",
            a = a.display()
        ));
    assert!(
        !out.exists(),
        "nothing is written when the merge is refused"
    );
    // Only open ports listed: the closed ones are only counted, and counted once.
    let shown_open: Vec<&str> = FULL_RECORDS
        .iter()
        .copied()
        .filter(|r| r.contains(r#""state":"open""#))
        .collect();
    let full = write(
        &dir,
        "full.ndjson",
        &(lines(&shown_open) + &with_identity(FULL_SUMMARY, &identity("1/1", 1, true)) + "\n"),
    );
    let mut cmd = portscout();
    cmd.args(["merge", "--partial", "--format", "ndjson", "--show", "all"])
        .arg(&full)
        .arg(&full);
    cmd.assert()
        .success()
        .stdout(format!("{}{FULL_SUMMARY}\n", lines(&sorted(&shown_open))))
        .stderr(format!(
            "warning: partial merge: `{f}` repeats `{f}` (shard 1/1 of scan 00000000000000aa, \
             part 1): read once\n",
            f = full.display()
        ));
}

/// `records` (of FULL_RECORDS) in the merge's order.
fn sorted<'a>(records: &[&'a str]) -> Vec<&'a str> {
    let order: Vec<&str> = FULL_SORTED.lines().collect();
    let mut v = records.to_vec();
    v.sort_by_key(|r| order.iter().position(|l| l == r));
    v
}

/// Shards of three: one missing is refused, naming it, and nothing is written; --partial
/// merges the others and names it on stderr.
#[test]
fn a_missing_shard_exits_2_naming_it_unless_partial() {
    let dir = TempDir::new("missing");
    let third = |i: usize| -> PathBuf {
        let records: Vec<&str> = FULL_RECORDS
            .iter()
            .copied()
            .skip(i - 1)
            .step_by(3)
            .collect();
        let summary = with_identity(
            &summary_of(&records, 100),
            &identity(&format!("{i}/3"), 1, true),
        );
        write(
            &dir,
            &format!("s{i}.ndjson"),
            &(lines(&records) + &summary + "\n"),
        )
    };
    let (s1, s2, s3) = (third(1), third(2), third(3));
    let out = dir.path().join("out.ndjson");
    portscout()
        .args(["merge", "--format", "ndjson", "--show", "all", "-o"])
        .arg(&out)
        .arg(&s1)
        .arg(&s3)
        .assert()
        .code(2)
        .stderr(
            "error: the inputs are not one whole scan: shard 2/3 of scan 00000000000000aa is \
             missing (--partial merges them anyway)\n",
        );
    assert!(
        !out.exists(),
        "nothing is written when the merge is refused"
    );
    let partial = portscout()
        .args(["merge", "--partial", "--format", "ndjson", "--show", "all"])
        .arg(&s1)
        .arg(&s3)
        .assert()
        .success()
        .stderr("warning: partial merge: shard 2/3 of scan 00000000000000aa is missing\n")
        .get_output()
        .stdout
        .clone();
    let partial = String::from_utf8(partial).unwrap();
    // 8 of the 12 records; a partial merge claims no identity.
    assert_eq!(partial.lines().count(), 9, "{partial}");
    assert!(!partial.contains(r#""scan""#), "{partial}");
    // Every shard: the whole scan, its identity shard 1/1.
    let all = stdout_of(
        portscout()
            .args(["merge", "--format", "ndjson", "--show", "all"])
            .arg(&s3)
            .arg(&s1)
            .arg(&s2),
    );
    assert_eq!(
        all,
        format!("{FULL_SORTED}{}\n", full_merged().replace("412", "300"))
    );
}

/// Shards of different scans are refused, even with --partial.
#[test]
fn shards_of_different_scans_exit_2_even_with_partial() {
    let dir = TempDir::new("mixed");
    let (a, b) = halves(&dir);
    let other = std::fs::read_to_string(&b)
        .unwrap()
        .replace("00000000000000aa", "00000000000000bb");
    let other = write(&dir, "other.ndjson", &other);
    for partial in [false, true] {
        let mut cmd = portscout();
        cmd.args(["merge", "--format", "ndjson"]);
        if partial {
            cmd.arg("--partial");
        }
        cmd.arg(&a)
            .arg(&other)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(format!(
                "error: the inputs are not one whole scan: `{o}` is from another scan \
                 (00000000000000bb, 16 probes) than `{a}` (00000000000000aa, 16 probes){}\n",
                if partial {
                    String::new()
                } else {
                    "; shard 2/2 of scan 00000000000000aa is missing".to_string()
                },
                o = other.display(),
                a = a.display()
            ));
    }
}

/// Files without identity (an older portscout's) are refused unless --partial.
#[test]
fn inputs_without_identity_need_partial() {
    let dir = TempDir::new("old");
    let old = write(
        &dir,
        "old.ndjson",
        &(lines(FULL_RECORDS) + FULL_SUMMARY + "\n"),
    );
    portscout()
        .args(["merge", "--format", "ndjson"])
        .arg(&old)
        .assert()
        .code(2)
        .stderr(format!(
            "error: the inputs are not one whole scan: `{}` has a summary without scan \
             identity (written by an older portscout): its shard cannot be checked (--partial \
             merges them anyway)\n",
            old.display()
        ));
    let out = stdout_of(
        portscout()
            .args([
                "merge",
                "-q",
                "--partial",
                "--format",
                "ndjson",
                "--show",
                "all",
            ])
            .arg(&old),
    );
    assert_eq!(out, format!("{FULL_SORTED}{FULL_SUMMARY}\n"));
}

/// Real shards of a scan of loopback (closed ports of an address nothing listens on) carry
/// their identity, and merge only when all are there.
#[test]
fn real_shards_carry_their_identity_and_merge_when_complete() {
    let dir = TempDir::new("real");
    let shard = |i: u32| -> PathBuf {
        let path = dir.path().join(format!("s{i}.ndjson"));
        portscout()
            .args([
                "127.0.19.19",
                "-p",
                "1-30",
                "--seed",
                "7",
                "--show",
                "all",
                "-q",
            ])
            .args(["--format", "ndjson", "--shard", &format!("{i}/3"), "-o"])
            .arg(&path)
            .assert()
            .success();
        path
    };
    let (s1, s2, s3) = (shard(1), shard(2), shard(3));
    let summary = std::fs::read_to_string(&s2).unwrap();
    let summary = summary.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(summary).unwrap();
    assert_eq!(v["shard"], "2/3", "{summary}");
    assert_eq!(v["probes"], 30, "{summary}");
    assert_eq!(
        (v["part"].clone(), v["complete"].clone()),
        (1.into(), true.into())
    );
    assert_eq!(v["scan"].as_str().map(str::len), Some(16), "{summary}");
    portscout()
        .args(["merge"])
        .arg(&s1)
        .arg(&s3)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shard 2/3 of scan"));
    let merged = stdout_of(
        portscout()
            .args(["merge", "--format", "ndjson", "--show", "all"])
            .arg(&s1)
            .arg(&s2)
            .arg(&s3),
    );
    let last: serde_json::Value = serde_json::from_str(merged.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["closed"].clone(), last["shard"].clone()),
        (30.into(), "1/1".into())
    );
    assert_eq!(last["scan"], v["scan"]);
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
{"type":"summary","hosts":4,"open":4,"closed":4,"filtered":3,"elapsed_ms":412,"hosts_down":1,"scan":"00000000000000aa","shard":"1/1","probes":16,"part":1,"complete":true,"schema":1}
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
    cmd.args(["merge", "--partial", "--format", "ndjson"])
        .arg(&first)
        .arg(&resumed)
        .arg(&down);
    let unchecked = |p: &Path| {
        format!(
            "warning: partial merge: `{}` has records that no summary covers (a run that was \
             killed?): their shard cannot be checked\n",
            p.display()
        )
    };
    cmd.assert().success().stdout(expected_out.clone()).stderr(
        unchecked(&first)
            + &unchecked(&resumed)
            + &unchecked(&down)
            + &format!(
                "warning: 198.18.0.1:22 is open in `{r}` but filtered in `{f}`: kept open\n\
             warning: 198.18.0.1 is down in `{d}` but has port results in `{r}`: kept the port \
             results\n",
                f = first.display(),
                r = resumed.display(),
                d = down.display(),
            ),
    );
    let mut cmd = portscout();
    cmd.args(["merge", "-q", "--partial", "--format", "ndjson"])
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
        .args([
            "merge",
            "-q",
            "--partial",
            "--format",
            "csv",
            "--show",
            "all",
            "-",
        ])
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
        format!("{FULL_SORTED}{}\n", full_merged())
    );
}
