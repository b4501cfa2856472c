//! The merge rules, one by one, and the reader's errors.

use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::model::Reason;
use crate::output::{printer, Format, ScanInfo};
use crate::StateFilter;

fn port(ip: &str, port: u16, state: PortState) -> PortResult {
    let (reason, rtt) = match state {
        PortState::Open => (Reason::SynAck, Some(Duration::from_micros(210))),
        PortState::Closed => (Reason::ConnRefused, Some(Duration::from_millis(12))),
        PortState::Filtered => (Reason::NoResponse, None),
    };
    PortResult {
        ip: ip.parse().unwrap(),
        port,
        state,
        reason,
        rtt,
        banner: None,
        service: None,
    }
}

fn down(ip: &str, skipped: u32) -> HostDown {
    HostDown {
        ip: ip.parse().unwrap(),
        reason: Reason::NoResponse,
        skipped,
    }
}

/// The ndjson a scan writes (`--show all`) for these records, with a summary if given.
fn ndjson(ports: &[PortResult], downs: &[HostDown], summary: Option<Summary>) -> String {
    let buf = SharedBuf::default();
    let mut sink = printer(Format::Ndjson, StateFilter::ALL, Box::new(buf.clone()));
    sink.begin(&ScanInfo::default()).unwrap();
    for r in ports {
        sink.result(r).unwrap();
    }
    for h in downs {
        sink.host_down(h).unwrap();
    }
    if let Some(s) = summary {
        sink.end(&s).unwrap();
    }
    drop(sink);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

/// A writer whose bytes can be read after the printer that owns it is dropped.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn counted(ports: &[PortResult], hosts: u128, downs: u64, elapsed_ms: u64) -> Summary {
    let n = |s| ports.iter().filter(|r| r.state == s).count() as u64;
    Summary {
        hosts,
        open: n(PortState::Open),
        closed: n(PortState::Closed),
        filtered: n(PortState::Filtered),
        hosts_down: downs,
        elapsed: Duration::from_millis(elapsed_ms),
        open_everywhere: Vec::new(),
        paused: false,
        identity: None,
    }
}

fn merge(inputs: &[(&str, &str)]) -> Merged {
    let mut m = Merger::new();
    for (name, text) in inputs {
        m.read(name, text.as_bytes()).unwrap();
    }
    m.finish()
}

#[test]
fn every_record_kind_reads_back_as_written() {
    let mut ports: Vec<PortResult> = Reason::ALL
        .into_iter()
        .enumerate()
        .map(|(i, reason)| PortResult {
            reason,
            ..port("2001:db8::1", i as u16 + 1, PortState::Filtered)
        })
        .collect();
    ports.push(PortResult {
        rtt: Some(Duration::from_micros(3_000_500)),
        ..port("198.18.0.1", 65535, PortState::Open)
    });
    ports.push(port("198.18.0.1", 1, PortState::Closed));
    let downs = [down("198.18.0.9", 1000)];
    let summary = Summary {
        hosts: 1 << 40,
        ..counted(&ports, 0, 1, 412)
    };
    let text = ndjson(&ports, &downs, Some(summary.clone()));
    let records: Vec<Record> = Records::new("x", text.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let mut expected: Vec<Record> = ports.iter().cloned().map(Record::Port).collect();
    expected.push(Record::HostDown(downs[0]));
    expected.push(Record::Summary(summary));
    assert_eq!(records, expected);
}

#[test]
fn same_port_same_state_is_kept_once_and_counted_once() {
    let a = [port("198.18.0.1", 22, PortState::Open)];
    let b = [
        PortResult {
            rtt: Some(Duration::from_millis(5)),
            ..a[0].clone()
        },
        port("198.18.0.1", 80, PortState::Closed),
    ];
    let merged = merge(&[
        ("a", &ndjson(&a, &[], Some(counted(&a, 1, 0, 10)))),
        ("b", &ndjson(&b, &[], Some(counted(&b, 1, 0, 20)))),
    ]);
    // The first input's record (its rtt) is the one kept.
    assert_eq!(merged.results, [a[0].clone(), b[1].clone()]);
    assert!(merged.conflicts.is_empty());
    assert_eq!(
        merged.summary,
        Summary {
            hosts: 1,
            open: 1,
            closed: 1,
            filtered: 0,
            hosts_down: 0,
            elapsed: Duration::from_millis(30),
            open_everywhere: Vec::new(),
            paused: false,
            identity: None,
        }
    );
}

#[test]
fn different_states_keep_open_then_closed_then_filtered_and_report_it() {
    use PortState::*;
    let a = [
        port("198.18.0.1", 1, Filtered),
        port("198.18.0.1", 2, Closed),
    ];
    let b = [port("198.18.0.1", 1, Open), port("198.18.0.1", 2, Filtered)];
    let c = [port("198.18.0.1", 1, Closed)];
    let merged = merge(&[
        ("a", &ndjson(&a, &[], Some(counted(&a, 1, 0, 0)))),
        ("b", &ndjson(&b, &[], Some(counted(&b, 1, 0, 0)))),
        ("c", &ndjson(&c, &[], Some(counted(&c, 1, 0, 0)))),
    ]);
    assert_eq!(merged.results, [b[0].clone(), a[1].clone()]);
    let conflict = |port, kept, kept_in: &str, dropped, dropped_in: &str| Conflict::PortState {
        ip: "198.18.0.1".parse().unwrap(),
        port,
        kept,
        kept_in: kept_in.into(),
        dropped,
        dropped_in: dropped_in.into(),
    };
    assert_eq!(
        merged.conflicts,
        [
            conflict(1, Open, "b", Filtered, "a"),
            conflict(1, Open, "b", Closed, "c"),
            conflict(2, Closed, "a", Filtered, "b"),
        ]
    );
    assert_eq!(
        merged.conflicts[0].to_string(),
        "198.18.0.1:1 is open in `b` but filtered in `a`: kept open"
    );
    // 5 records, 3 dropped: one per dropped record's state.
    let s = &merged.summary;
    assert_eq!((s.open, s.closed, s.filtered), (1, 1, 0));
}

#[test]
fn results_are_ordered_by_address_then_port_ipv4_first() {
    use PortState::*;
    let a = [
        port("2001:db8::1", 22, Open),
        port("198.18.0.10", 80, Open),
        port("198.18.0.2", 443, Open),
        port("::1", 1, Open),
    ];
    let b = [
        port("198.18.0.2", 22, Open),
        port("255.255.255.255", 1, Open),
        port("198.18.0.10", 7, Open),
    ];
    let merged = merge(&[("a", &ndjson(&a, &[], None)), ("b", &ndjson(&b, &[], None))]);
    let got: Vec<(IpAddr, u16)> = merged.results.iter().map(|r| (r.ip, r.port)).collect();
    let want: Vec<(IpAddr, u16)> = [
        ("198.18.0.2", 22),
        ("198.18.0.2", 443),
        ("198.18.0.10", 7),
        ("198.18.0.10", 80),
        ("255.255.255.255", 1),
        ("::1", 1),
        ("2001:db8::1", 22),
    ]
    .into_iter()
    .map(|(ip, p)| (ip.parse().unwrap(), p))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn summary_sums_counts_and_elapsed_takes_the_largest_host_count() {
    use PortState::*;
    // Shards of a 256-host scan written with --show open: the summaries count more than the
    // records show.
    let a = [port("198.18.0.1", 22, Open)];
    let b = [port("198.18.0.2", 22, Open), port("198.18.0.2", 80, Open)];
    let sa = Summary {
        hosts: 256,
        open: 1,
        closed: 500,
        filtered: 12,
        hosts_down: 3,
        elapsed: Duration::from_millis(1500),
        open_everywhere: Vec::new(),
        paused: false,
        identity: None,
    };
    let sb = Summary {
        hosts: 256,
        open: 2,
        closed: 499,
        filtered: 0,
        hosts_down: 4,
        elapsed: Duration::from_millis(1700),
        open_everywhere: Vec::new(),
        paused: false,
        identity: None,
    };
    let merged = merge(&[
        ("a", &ndjson(&a, &[], Some(sa))),
        ("b", &ndjson(&b, &[], Some(sb))),
    ]);
    assert_eq!(
        merged.summary,
        Summary {
            hosts: 256,
            open: 3,
            closed: 999,
            filtered: 12,
            hosts_down: 7,
            elapsed: Duration::from_millis(3200),
            open_everywhere: Vec::new(),
            paused: false,
            identity: None,
        }
    );
}

#[test]
fn hosts_is_at_least_the_addresses_seen() {
    use PortState::*;
    let a = [port("198.18.0.1", 22, Open), port("198.18.0.2", 22, Open)];
    let b = [port("198.18.0.3", 22, Open)];
    let merged = merge(&[
        (
            "a",
            &ndjson(&a, &[down("198.18.0.4", 2)], Some(counted(&a, 1, 1, 0))),
        ),
        ("b", &ndjson(&b, &[], Some(counted(&b, 1, 0, 0)))),
    ]);
    assert_eq!(merged.summary.hosts, 4);
}

#[test]
fn an_input_without_summary_is_counted_from_its_records() {
    use PortState::*;
    // a: a killed run (no summary); b: its resumed run, which probed port 80 again.
    let a = [
        port("198.18.0.1", 22, Open),
        port("198.18.0.1", 80, Filtered),
    ];
    let b = [
        port("198.18.0.1", 80, Open),
        port("198.18.0.1", 443, Closed),
    ];
    let merged = merge(&[
        ("a", &ndjson(&a, &[down("198.18.0.2", 3)], None)),
        ("b", &ndjson(&b, &[], Some(counted(&b, 2, 0, 40)))),
    ]);
    assert_eq!(merged.results, [a[0].clone(), b[0].clone(), b[1].clone()]);
    assert_eq!(merged.conflicts.len(), 1);
    assert_eq!(
        merged.summary,
        Summary {
            hosts: 2,
            open: 2,
            closed: 1,
            filtered: 0,
            hosts_down: 1,
            elapsed: Duration::from_millis(40),
            open_everywhere: Vec::new(),
            paused: false,
            identity: None,
        }
    );
}

#[test]
fn records_after_the_last_summary_are_counted_themselves() {
    // `cat a.ndjson b.ndjson` where b lost its summary.
    use PortState::*;
    let a = [port("198.18.0.1", 22, Open)];
    let b = [port("198.18.0.2", 22, Closed)];
    let text = ndjson(&a, &[], Some(counted(&a, 2, 0, 5))) + &ndjson(&b, &[], None);
    let s = merge(&[("ab", &text)]).summary;
    assert_eq!(
        (s.hosts, s.open, s.closed, s.elapsed),
        (2, 1, 1, Duration::from_millis(5))
    );
}

#[test]
fn hosts_down_merge_per_address_keeping_the_largest_skipped() {
    use PortState::*;
    // Two shards each found 198.18.0.9 down; each reports all of its ports skipped, as one
    // scan would (the larger count wins should they differ).
    let a = [port("198.18.0.1", 22, Open)];
    let merged = merge(&[
        (
            "a",
            &ndjson(&a, &[down("198.18.0.9", 1024)], Some(counted(&a, 2, 1, 0))),
        ),
        (
            "b",
            &ndjson(
                &[],
                &[down("198.18.0.9", 1000)],
                Some(counted(&[], 2, 1, 0)),
            ),
        ),
    ]);
    assert_eq!(merged.hosts_down, [down("198.18.0.9", 1024)]);
    assert!(merged.conflicts.is_empty());
    assert_eq!((merged.summary.hosts, merged.summary.hosts_down), (2, 1));
}

#[test]
fn a_host_down_with_port_results_elsewhere_keeps_the_ports_and_reports_it() {
    use PortState::*;
    let a = [port("198.18.0.1", 22, Closed)];
    let merged = merge(&[
        ("a", &ndjson(&a, &[], Some(counted(&a, 1, 0, 0)))),
        (
            "b",
            &ndjson(&[], &[down("198.18.0.1", 9)], Some(counted(&[], 1, 1, 0))),
        ),
    ]);
    assert_eq!(merged.results, a);
    assert!(merged.hosts_down.is_empty());
    assert_eq!(
        merged.conflicts,
        [Conflict::HostDown {
            ip: "198.18.0.1".parse().unwrap(),
            down_in: "b".into(),
            ports_in: "a".into(),
        }]
    );
    assert_eq!(
        merged.conflicts[0].to_string(),
        "198.18.0.1 is down in `b` but has port results in `a`: kept the port results"
    );
    assert_eq!((merged.summary.hosts_down, merged.summary.closed), (0, 1));
}

#[test]
fn ipv6_conflicts_name_the_port_in_brackets() {
    use PortState::*;
    let merged = merge(&[
        ("a", &ndjson(&[port("2001:db8::1", 443, Closed)], &[], None)),
        ("b", &ndjson(&[port("2001:db8::1", 443, Open)], &[], None)),
    ]);
    assert_eq!(
        merged.conflicts[0].to_string(),
        "[2001:db8::1]:443 is open in `b` but closed in `a`: kept open"
    );
}

#[test]
fn older_summaries_without_hosts_down_and_unknown_keys_and_types_are_accepted() {
    let text = "\
{\"ip\":\"198.18.0.1\",\"port\":22,\"protocol\":\"tcp\",\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":0.21,\"owner\":\"root\"}

{\"type\":\"progress\",\"done\":10}
{\"type\":\"host\",\"ip\":\"198.18.0.3\",\"state\":\"up\"}
{\"type\":\"summary\",\"hosts\":3,\"open\":1,\"closed\":2,\"filtered\":0,\"elapsed_ms\":7,\"extra\":[1,2]}
";
    let merged = merge(&[("old", text)]);
    assert_eq!(merged.results.len(), 1);
    assert_eq!(merged.unknown, 2);
    assert_eq!(
        merged.summary,
        Summary {
            hosts: 3,
            open: 1,
            closed: 2,
            filtered: 0,
            hosts_down: 0,
            elapsed: Duration::from_millis(7),
            open_everywhere: Vec::new(),
            paused: false,
            identity: None,
        }
    );
}

/// The error for the first bad line of `text`, read as `f.ndjson`.
fn error_of(text: &str) -> String {
    let mut m = Merger::new();
    m.read("f.ndjson", text.as_bytes()).unwrap_err().to_string()
}

#[test]
fn a_malformed_line_is_an_error_naming_the_input_and_line() {
    let good = r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":1}"#;
    let cases = [
        ("{\"ip\":\"198.18.0.1\",\"port\":", "EOF while parsing"),
        ("not json", "expected a JSON object"),
        ("[1,2]", "expected a JSON object (column 1)"),
        (
            r#"{"ip":"198.18.0.1","port":70000,"state":"open","reason":"syn-ack"}"#,
            "70000",
        ),
        (
            r#"{"ip":"198.18.0.999","port":1,"state":"open","reason":"syn-ack"}"#,
            "invalid IP",
        ),
        (
            r#"{"ip":"198.18.0.1","state":"open","reason":"syn-ack"}"#,
            "port record without `port`",
        ),
        (
            r#"{"ip":"198.18.0.1","port":1,"state":"opne","reason":"syn-ack"}"#,
            "invalid `state`: `opne`",
        ),
        (
            r#"{"ip":"198.18.0.1","port":1,"state":"open","reason":"syn"}"#,
            "invalid `reason`: `syn`",
        ),
        (
            r#"{"ip":"198.18.0.1","port":1,"protocol":"udp","state":"open","reason":"syn-ack"}"#,
            "invalid `protocol`: `udp`",
        ),
        (
            r#"{"ip":"198.18.0.1","port":1,"state":"open","reason":"syn-ack","rtt_ms":-1}"#,
            "invalid `rtt_ms`: `-1`",
        ),
        (
            r#"{"type":"host","ip":"198.18.0.1","state":"down","reason":"no-response"}"#,
            "host record without `skipped`",
        ),
        (
            r#"{"type":"summary","hosts":1,"open":0,"closed":0,"elapsed_ms":1}"#,
            "summary record without `filtered`",
        ),
    ];
    for (bad, why) in cases {
        let err = error_of(&format!("{good}\n\n{bad}\n{good}\n"));
        assert!(err.starts_with("`f.ndjson` line 3: "), "{err}");
        assert!(err.contains(why), "{err} lacks {why}");
        assert!(!err.contains("at line 1"), "{err}");
    }
    let err = error_of("{\"ip\":\"198.18.0.1\",\"port\":\"x\"}");
    assert!(err.ends_with("(column 29)"), "{err}");
}

#[test]
fn a_line_that_is_not_utf8_is_an_error() {
    let mut m = Merger::new();
    let err = m.read("f", &b"\xff\xfe\n"[..]).unwrap_err();
    assert!(matches!(
        err,
        ReadError::BadLine {
            line: 1,
            source: LineError::NotUtf8,
            ..
        }
    ));
}

#[test]
fn a_failing_reader_is_an_io_error_and_the_records_end() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let mut records = Records::new("f", io::BufReader::new(Failing));
    let err = records.next().unwrap().unwrap_err();
    assert_eq!(err.to_string(), "cannot read `f`: disk on fire");
    assert!(records.next().is_none());
}

#[test]
fn windows_line_endings_are_accepted() {
    let text = "{\"type\":\"summary\",\"hosts\":1,\"open\":0,\"closed\":0,\"filtered\":0,\"elapsed_ms\":1}\r\n";
    let records: Vec<_> = Records::new("f", text.as_bytes()).collect();
    assert!(matches!(records[..], [Ok(Record::Summary(_))]));
}

#[test]
fn rtt_reads_back_to_the_microsecond() {
    let rtt = |ms: &str| {
        let line =
            format!(r#"{{"ip":"::1","port":1,"state":"open","reason":"syn-ack","rtt_ms":{ms}}}"#);
        match parse_line(&line).unwrap() {
            Record::Port(r) => r.rtt,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(rtt("0.21"), Some(Duration::from_micros(210)));
    assert_eq!(rtt("12"), Some(Duration::from_millis(12)));
    assert_eq!(rtt("0.001"), Some(Duration::from_micros(1)));
    assert_eq!(rtt("null"), None);
}

// Shard identity (issue 19): missing, repeated and foreign shards.

/// Shard `i/n`, run `part`, of scan `scan` (100 probes).
fn ident(scan: u64, i: u64, n: u64, part: u32, complete: bool) -> ShardIdentity {
    ShardIdentity {
        scan,
        shard: Shard::new(i, n).unwrap(),
        probes: 100,
        part,
        complete,
    }
}

/// One run's output: one open port (on port `port`), 5 closed ports only counted (as
/// `--show open` writes them), and a summary saying `id`.
fn shard_output(port: u16, id: ShardIdentity) -> String {
    let open = [self::port("198.18.0.1", port, PortState::Open)];
    let summary = Summary {
        closed: 5,
        identity: Some(id),
        ..counted(&open, 1, 0, 10)
    };
    let summary_line = ndjson(&[], &[], Some(summary));
    ndjson(&open, &[], None) + &summary_line
}

fn problems(inputs: &[(&str, &str)]) -> Vec<String> {
    merge(inputs)
        .shard_problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn identity_reads_back_as_written() {
    let text = shard_output(22, ident(0xdead_beef, 2, 3, 4, false));
    assert!(
        text.contains(
            r#""scan":"00000000deadbeef","shard":"2/3","probes":100,"part":4,"complete":false"#
        ),
        "{text}"
    );
    let summary = text.lines().last().unwrap();
    let Record::Summary(s) = parse_line(summary).unwrap() else {
        panic!("{summary}")
    };
    assert_eq!(s.identity, Some(ident(0xdead_beef, 2, 3, 4, false)));
    for (bad, key) in [
        (r#""scan":"xyz","#, "scan"),
        (r#""scan":"00000000deadbeef0","#, "scan"),
    ] {
        let line = summary.replace(r#""scan":"00000000deadbeef","#, bad);
        assert!(
            parse_line(&line).unwrap_err().to_string().contains(key),
            "{line}"
        );
    }
    for (bad, key) in [("2/3", "4/3"), ("2/3", "0/3"), ("2/3", "2")] {
        let line = summary.replace(bad, key);
        assert!(matches!(
            parse_line(&line),
            Err(LineError::BadValue { key: "shard", .. })
        ));
    }
    let line = summary.replace(r#","part":4"#, "");
    assert!(matches!(
        parse_line(&line),
        Err(LineError::Missing { key: "part", .. })
    ));
}

#[test]
fn every_shard_once_merges_without_problem_into_the_whole_scan() {
    let a = shard_output(22, ident(7, 1, 3, 1, true));
    let b = shard_output(80, ident(7, 2, 3, 1, true));
    let c = shard_output(443, ident(7, 3, 3, 1, true));
    let merged = merge(&[("c", &c), ("a", &a), ("b", &b)]);
    assert_eq!(merged.shard_problems, []);
    assert_eq!((merged.summary.open, merged.summary.closed), (3, 15));
    assert_eq!(merged.summary.identity, Some(ident(7, 1, 1, 1, true)));
}

#[test]
fn a_missing_shard_is_named() {
    let a = shard_output(22, ident(7, 1, 3, 1, true));
    let c = shard_output(443, ident(7, 3, 3, 1, true));
    assert_eq!(
        problems(&[("a", &a), ("c", &c)]),
        ["shard 2/3 of scan 0000000000000007 is missing"]
    );
    // Runs of missing shards are one problem each, however many shards.
    let b = shard_output(80, ident(7, 5, 1_000_000, 1, true));
    assert_eq!(
        problems(&[("b", &b)]),
        [
            "shards 1/1000000 to 4/1000000 of scan 0000000000000007 are missing",
            "shards 6/1000000 to 1000000/1000000 of scan 0000000000000007 are missing"
        ]
    );
    let merged = merge(&[("a", &a), ("c", &c)]);
    assert_eq!(merged.summary.identity, None);
    assert_eq!(merged.summary.closed, 10);
}

#[test]
fn a_repeated_shard_is_named_and_counted_once() {
    let a = shard_output(22, ident(7, 1, 2, 1, true));
    let b = shard_output(80, ident(7, 2, 2, 1, true));
    let merged = merge(&[("a", &a), ("b", &b), ("a again", &a)]);
    assert_eq!(
        merged
            .shard_problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["`a again` repeats `a` (shard 1/2 of scan 0000000000000007, part 1): read once"]
    );
    // The closed ports only counted are not counted twice (they were: 15).
    assert_eq!((merged.summary.open, merged.summary.closed), (2, 10));
    assert_eq!(merged.summary.elapsed, Duration::from_millis(20));
    // Also within one input (a file concatenated to itself).
    let twice = a.clone() + &a;
    let merged = merge(&[("twice", &twice), ("b", &b)]);
    assert_eq!(merged.summary.closed, 10);
    assert!(matches!(
        merged.shard_problems[..],
        [ShardProblem::Repeated { .. }]
    ));
}

#[test]
fn shards_of_another_scan_or_split_are_named_and_not_accepted_by_partial() {
    let a = shard_output(22, ident(7, 1, 2, 1, true));
    let other = shard_output(80, ident(8, 2, 2, 1, true));
    let p = merge(&[("a", &a), ("other", &other)]).shard_problems;
    assert_eq!(
        p.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "`other` is from another scan (0000000000000008, 100 probes) than `a` \
             (0000000000000007, 100 probes)",
            "shard 2/2 of scan 0000000000000007 is missing"
        ]
    );
    assert!(!p[0].partial_accepts() && p[1].partial_accepts());
    let split = shard_output(80, ident(7, 2, 3, 1, true));
    assert_eq!(
        problems(&[("a", &a), ("split", &split)])[0],
        "`split` splits scan 0000000000000007 into 3 shards, `a` into 2"
    );
}

#[test]
fn a_resumed_shard_needs_every_part_up_to_a_complete_one() {
    let paused = shard_output(22, ident(7, 1, 1, 1, false));
    let resumed = shard_output(80, ident(7, 1, 1, 2, true));
    assert_eq!(problems(&[("p", &paused), ("r", &resumed)]), [""; 0]);
    // One file: the resumed run appended to the paused one's output.
    let appended = paused.clone() + &resumed;
    let merged = merge(&[("f", &appended)]);
    assert_eq!(merged.shard_problems, []);
    assert_eq!(merged.summary.closed, 10);
    assert_eq!(
        problems(&[("r", &resumed)]),
        ["shard 1/1 of scan 0000000000000007 lacks part 1 (a run that a given one resumed)"]
    );
    assert_eq!(
        problems(&[("p", &paused)]),
        [
            "shard 1/1 of scan 0000000000000007 is unfinished: its part 1 was paused or \
             stopped early and no later part is given"
        ]
    );
}

#[test]
fn inputs_without_identity_are_named() {
    let a = shard_output(22, ident(7, 1, 1, 1, true));
    let old = ndjson(
        &[port("198.18.0.1", 80, PortState::Open)],
        &[],
        Some(counted(&[], 1, 0, 1)),
    );
    let killed = ndjson(&[port("198.18.0.1", 81, PortState::Open)], &[], None);
    let merged = merge(&[("a", &a), ("old", &old), ("killed", &killed)]);
    assert_eq!(
        merged
            .shard_problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "`old` has a summary without scan identity (written by an older portscout): its \
             shard cannot be checked",
            "`killed` has records that no summary covers (a run that was killed?): their \
             shard cannot be checked"
        ]
    );
    assert!(merged.shard_problems.iter().all(|p| p.partial_accepts()));
    assert_eq!(merged.summary.identity, None);
    assert_eq!(merged.results.len(), 3);
}
/// Issue 19: PTR names (`hostname` records) are read back, the first for each address kept,
/// and are not records of an unknown kind; a name no host has is refused.
#[test]
fn ptr_name_records_are_merged() {
    let a = "\
{\"ip\":\"198.18.0.1\",\"port\":22,\"protocol\":\"tcp\",\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":0.21,\"host\":\"a.example\"}
{\"type\":\"hostname\",\"ip\":\"198.18.0.1\",\"name\":\"one.example\",\"kind\":\"PTR\",\"time\":\"2026-12-03T13:45:01.123Z\"}
{\"type\":\"summary\",\"hosts\":1,\"open\":1,\"closed\":0,\"filtered\":0,\"elapsed_ms\":7}
";
    let b = "\
{\"type\":\"hostname\",\"ip\":\"198.18.0.1\",\"name\":\"other.example\",\"kind\":\"PTR\"}
{\"type\":\"hostname\",\"ip\":\"198.18.0.2\",\"name\":\"two.example\",\"kind\":\"PTR\"}
{\"type\":\"summary\",\"hosts\":1,\"open\":0,\"closed\":0,\"filtered\":0,\"elapsed_ms\":7}
";
    let merged = merge(&[("a", a), ("b", b)]);
    assert_eq!(merged.unknown, 0);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        merged.ptr_names,
        [
            (ip("198.18.0.1"), "one.example".to_string()),
            (ip("198.18.0.2"), "two.example".to_string())
        ]
    );
    assert!(
        parse_line(r#"{"type":"hostname","ip":"198.18.0.1","name":"a b<c>","kind":"PTR"}"#)
            .is_err()
    );
}
