//! Tests for every printer: snapshots of a fixed fixture, and the contract's checks.

use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::model::{Event, HostDown, PortResult, PortState, Reason, StateFilter};

/// A fixed clock for ndjson's `time` fields (the fixture's start, plus 5 ms), so snapshots
/// are the same on every run.
fn fixed_clock() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_005)
}

/// A fixed service table, so that snapshots do not depend on `ports::service_name`.
fn services(port: u16) -> Option<&'static str> {
    match port {
        22 => Some("ssh"),
        80 => Some("http"),
        _ => None,
    }
}

fn r(ip: &str, port: u16, state: PortState, reason: Reason, rtt_ns: Option<u64>) -> PortResult {
    PortResult {
        ip: ip.parse::<IpAddr>().unwrap(),
        port,
        state,
        reason,
        rtt: rtt_ns.map(Duration::from_nanos),
        banner: None,
        service: None,
    }
}

/// Two IPv4 hosts and one IPv6 host, interleaved, every state, rtt present and absent.
fn fixture() -> Vec<PortResult> {
    use PortState::*;
    use Reason::*;
    vec![
        r("2001:db8::1", 443, Filtered, NoResponse, None),
        r("198.18.0.2", 443, Closed, ConnRefused, Some(123_456)),
        r("198.18.0.1", 80, Open, SynAck, Some(12_000_000)),
        r("2001:db8::1", 22, Open, SynAck, Some(1_500_000)),
        r("198.18.0.1", 8080, Filtered, NoResponse, None),
        r("198.18.0.2", 22, Closed, ConnRefused, Some(300_000)),
        r("198.18.0.1", 22, Open, SynAck, Some(210_000)),
        r("2001:db8::1", 80, Filtered, HostUnreach, Some(3_000_499)),
        r("198.18.0.1", 443, Closed, Reset, Some(500)),
        r("198.18.0.2", 80, Closed, ConnRefused, Some(250_000)),
        r("198.18.0.1", 8443, Open, SynAck, None),
    ]
}

fn summary_of(results: &[PortResult], hosts: u128) -> Summary {
    let count = |s| results.iter().filter(|r| r.state == s).count() as u64;
    Summary {
        hosts,
        open: count(PortState::Open),
        closed: count(PortState::Closed),
        filtered: count(PortState::Filtered),
        hosts_down: 0,
        elapsed: Duration::from_millis(412),
        open_everywhere: Vec::new(),
        paused: false,
        identity: None,
    }
}

/// A writer whose bytes can be read after the printer that owns it is dropped.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn run_on(format: Format, show: StateFilter, results: &[PortResult], hosts: u128) -> String {
    let events: Vec<Event> = results.iter().cloned().map(Event::Port).collect();
    run_events(format, show, &events, hosts)
}

/// What the fixtures' scan was: the ports of `events`, a command line naming them and a fixed
/// start time (1700000000 = Tue Nov 14 22:13:20 2023 UTC), so that snapshots are the same on
/// every run.
fn fixture_info(events: &[Event], hosts: u128, banners: bool) -> ScanInfo {
    let port_set: crate::ports::PortSet = events
        .iter()
        .filter_map(|e| e.port().map(|r| r.port))
        .collect();
    ScanInfo {
        hosts,
        ports: port_set.len(),
        banners,
        services: events
            .iter()
            .any(|e| e.port().is_some_and(|r| r.service.is_some())),
        command: vec![
            "portscout".into(),
            "-p".into(),
            port_set.to_string(),
            "--format".into(),
            "xml".into(),
            "198.18.0.0/30".into(),
            "2001:db8::1".into(),
        ],
        started: Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        scan_type: Some(crate::probe::ScanType::Connect),
        port_set: Some(port_set),
        names: std::collections::BTreeMap::new(),
    }
}

/// Feeds `events` to the printer in order, then a summary that counts them.
fn run_events(format: Format, show: StateFilter, events: &[Event], hosts: u128) -> String {
    let plain = PrinterOptions {
        services,
        colour: false,
        summary: true,
        clock: Some(fixed_clock),
    };
    run_events_with(format, show, events, hosts, plain)
}

fn run_events_with(
    format: Format,
    show: StateFilter,
    events: &[Event],
    hosts: u128,
    options: PrinterOptions,
) -> String {
    let banners = events
        .iter()
        .any(|e| e.port().is_some_and(|r| r.banner.is_some()));
    let buf = SharedBuf::default();
    let mut p = printer_with_options(format, show, Box::new(buf.clone()), options);
    let info = fixture_info(events, hosts, banners);
    p.begin(&info).unwrap();
    for event in events {
        match event {
            Event::Port(r) => {
                p.result(r).unwrap();
            }
            Event::HostDown(h) => p.host_down(h).unwrap(),
        }
    }
    let results: Vec<PortResult> = events.iter().filter_map(|e| e.port().cloned()).collect();
    let summary = Summary {
        hosts_down: (events.len() - results.len()) as u64,
        ..summary_of(&results, hosts)
    };
    p.end(&summary).unwrap();
    drop(p);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

/// Issue 19: the fixture scanned with names. 198.18.0.1 was given as `a.example`, which also
/// resolved to 2001:db8::9 (not scanned), and its PTR name differs; 198.18.0.2 was given as an
/// address and has a PTR name; 2001:db8::1 has no name at all; 198.18.0.9, given as
/// `c.example`, is down, with a PTR name (`-R`). PTR names come in the middle of the results,
/// as a scan's lookups do.
fn run_with_names(format: Format) -> String {
    let buf = SharedBuf::default();
    let options = PrinterOptions {
        services,
        colour: false,
        summary: true,
        clock: Some(fixed_clock),
    };
    let mut p = printer_with_options(format, StateFilter::OPEN, Box::new(buf.clone()), options);
    let results = fixture();
    let events: Vec<Event> = results.iter().cloned().map(Event::Port).collect();
    let mut info = fixture_info(&events, 4, false);
    let name = |n: &str, others: &[&str]| crate::model::TargetName {
        name: n.into(),
        others: others.iter().map(|a| a.parse().unwrap()).collect(),
    };
    info.names.insert(
        "198.18.0.1".parse().unwrap(),
        name("a.example", &["2001:db8::9"]),
    );
    info.names
        .insert("198.18.0.9".parse().unwrap(), name("c.example", &[]));
    p.begin(&info).unwrap();
    for (i, r) in results.iter().enumerate() {
        p.result(r).unwrap();
        if i == 3 {
            p.host_name("198.18.0.1".parse().unwrap(), "host-1.example")
                .unwrap();
            p.host_down(&HostDown {
                ip: "198.18.0.9".parse().unwrap(),
                reason: Reason::NoResponse,
                skipped: 4,
            })
            .unwrap();
        }
    }
    p.host_name("198.18.0.2".parse().unwrap(), "b.example")
        .unwrap();
    p.host_name("198.18.0.9".parse().unwrap(), "c-ptr.example")
        .unwrap();
    p.end(&Summary {
        hosts_down: 1,
        ..summary_of(&results, 4)
    })
    .unwrap();
    drop(p);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn host_names_in_every_format() {
    for format in Format::ALL {
        let out = run_with_names(format);
        // The name given is in every format that names hosts; `list` and `grep` (which, as
        // nmap's, shows the PTR name only) have none.
        assert_eq!(
            out.contains("a.example"),
            !matches!(format, Format::List | Format::Grep),
            "{format}: {out}"
        );
        insta::assert_snapshot!(format!("names_{format}"), out);
    }
}

/// The fixture plus one host found down (198.18.0.9) in the middle, as each format prints it.
fn run_with_down(format: Format) -> String {
    let mut events: Vec<Event> = fixture().into_iter().map(Event::Port).collect();
    let down = HostDown {
        ip: "198.18.0.9".parse().unwrap(),
        reason: Reason::NoResponse,
        skipped: 4,
    };
    events.insert(3, Event::HostDown(down));
    run_events(format, StateFilter::OPEN, &events, 4)
}

#[test]
fn host_down_in_every_format() {
    for format in Format::ALL {
        let out = run_with_down(format);
        // `list` has open ports only: no host down.
        assert_eq!(
            out.contains("198.18.0.9"),
            format != Format::List,
            "{format}: {out}"
        );
        insta::assert_snapshot!(format!("host_down_{format}"), out);
    }
}

/// Issue 18: a wide scan (more than 256 addresses) counts its down hosts in the summary and
/// lists no record per down host unless `--show` says `down` (or `all`); a small one lists
/// them as before. The summary's count is there either way.
#[test]
fn a_wide_scan_counts_down_hosts_and_lists_them_only_when_asked() {
    let down = HostDown {
        ip: "198.18.0.9".parse().unwrap(),
        reason: Reason::NoResponse,
        skipped: 4,
    };
    let mut events: Vec<Event> = fixture().into_iter().map(Event::Port).collect();
    events.push(Event::HostDown(down));
    let with_down: StateFilter = "open,down".parse().unwrap();
    // `list` is `ip:port` of open ports only: never a down host.
    for format in Format::ALL.into_iter().filter(|f| *f != Format::List) {
        let small = run_events(format, StateFilter::OPEN, &events, 4);
        assert!(small.contains("198.18.0.9"), "{format}: {small}");
        let wide = run_events(format, StateFilter::OPEN, &events, 65536);
        assert!(!wide.contains("198.18.0.9"), "{format}: {wide}");
        let asked = run_events(format, with_down, &events, 65536);
        assert!(asked.contains("198.18.0.9"), "{format}: {asked}");
        let all = run_events(format, StateFilter::ALL, &events, 65536);
        assert!(all.contains("198.18.0.9"), "{format}: {all}");
    }
    for format in [Format::Ndjson, Format::Json] {
        let wide = run_events(format, StateFilter::OPEN, &events, 65536);
        assert!(wide.contains("\"hosts_down\":1"), "{format}: {wide}");
    }
    let text = run_events(Format::Text, StateFilter::OPEN, &events, 65536);
    assert!(text.contains("1 host down"), "{text}");
}

fn run(format: Format, show: StateFilter) -> String {
    run_on(format, show, &fixture(), 3)
}

#[test]
fn text_show_open() {
    insta::assert_snapshot!(run(Format::Text, StateFilter::OPEN));
}

#[test]
fn text_show_all() {
    insta::assert_snapshot!(run(Format::Text, StateFilter::ALL));
}

#[test]
fn text_host_with_mixed_ignored_states() {
    use PortState::*;
    use Reason::*;
    let results = [
        r("198.18.0.10", 1, Closed, ConnRefused, Some(1000)),
        r("198.18.0.10", 2, Filtered, NoResponse, None),
        r("198.18.0.10", 3, Filtered, NoResponse, None),
        r("198.18.0.9", 1, Filtered, NoResponse, None),
        r("198.18.0.9", 2, Filtered, AdminProhibited, None),
        r("198.18.0.9", 3, Filtered, NoResponse, None),
        r("::1", 1, Open, SynAck, None),
        r("::1", 2, Filtered, NoResponse, None),
        r("::1", 3, Closed, ConnRefused, None),
    ];
    insta::assert_snapshot!(run_on(Format::Text, StateFilter::OPEN, &results, 3));
}

#[test]
fn text_empty_scan() {
    insta::assert_snapshot!(run_on(Format::Text, StateFilter::OPEN, &[], 0));
}

#[test]
fn json_show_open() {
    insta::assert_snapshot!(run(Format::Json, StateFilter::OPEN));
}

#[test]
fn json_show_all() {
    insta::assert_snapshot!(run(Format::Json, StateFilter::ALL));
}

#[test]
fn ndjson_show_open() {
    insta::assert_snapshot!(run(Format::Ndjson, StateFilter::OPEN));
}

#[test]
fn ndjson_show_all() {
    insta::assert_snapshot!(run(Format::Ndjson, StateFilter::ALL));
}

#[test]
fn csv_show_open() {
    insta::assert_snapshot!(run(Format::Csv, StateFilter::OPEN));
}

#[test]
fn csv_show_all() {
    insta::assert_snapshot!(run(Format::Csv, StateFilter::ALL));
}

#[test]
fn grep_show_open() {
    insta::assert_snapshot!(run(Format::Grep, StateFilter::OPEN));
}

#[test]
fn grep_show_all() {
    insta::assert_snapshot!(run(Format::Grep, StateFilter::ALL));
}

#[test]
fn xml_show_open() {
    insta::assert_snapshot!(run(Format::Xml, StateFilter::OPEN));
}

#[test]
fn xml_show_all() {
    insta::assert_snapshot!(run(Format::Xml, StateFilter::ALL));
}

#[test]
fn xml_host_with_mixed_ignored_states() {
    // Hosts up for different reasons: an open port, only refusals, nothing but silence
    // (scanned with --no-host-check: `user-set`, as nmap says for -Pn).
    use PortState::*;
    use Reason::*;
    let results = [
        r("198.18.0.10", 1, Closed, ConnRefused, Some(1000)),
        r("198.18.0.10", 2, Filtered, AdminProhibited, None),
        r("198.18.0.10", 3, Filtered, NoResponse, None),
        r("198.18.0.9", 1, Filtered, NoResponse, None),
        r("198.18.0.9", 2, Filtered, NoResponse, None),
        r("198.18.0.9", 3, Filtered, NoResponse, None),
        r("::1", 1, Open, SynAck, None),
        r("::1", 2, Filtered, NoResponse, None),
        r("::1", 3, Closed, ConnRefused, None),
    ];
    insta::assert_snapshot!(run_on(Format::Xml, StateFilter::OPEN, &results, 3));
}

/// The XML of a scan nothing is known about (a library caller that gives only counts).
fn xml_of_unknown_scan() -> String {
    let buf = SharedBuf::default();
    let mut p = printer_with_services(
        Format::Xml,
        StateFilter::OPEN,
        Box::new(buf.clone()),
        services,
    );
    p.begin(&ScanInfo::default()).unwrap();
    p.end(&Summary::default()).unwrap();
    drop(p);
    let out = buf.0.lock().unwrap().clone();
    String::from_utf8(out).unwrap()
}

/// The XML of a one-port scan whose command line holds markup, quotes, `--` and a newline.
fn xml_of_hostile_command_line() -> String {
    let buf = SharedBuf::default();
    let mut p = printer_with_services(
        Format::Xml,
        StateFilter::OPEN,
        Box::new(buf.clone()),
        services,
    );
    let info = ScanInfo {
        hosts: 1,
        ports: 1,
        command: [
            "portscout",
            "--exclude-file",
            "a&b <\"c\">'--x\n\u{1}.txt",
            "-p-",
            "--",
            "::1",
        ]
        .map(String::from)
        .to_vec(),
        started: Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        ..ScanInfo::default()
    };
    p.begin(&info).unwrap();
    p.result(&r("::1", 22, PortState::Open, Reason::SynAck, None))
        .unwrap();
    p.end(&Summary {
        hosts: 1,
        open: 1,
        ..Summary::default()
    })
    .unwrap();
    drop(p);
    let out = buf.0.lock().unwrap().clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn xml_empty_scan_and_unknown_scan_info() {
    // The document is still complete; `time` is 0 as the DTD requires one.
    insta::assert_snapshot!(xml_of_unknown_scan());
}

#[test]
fn xml_escapes_the_command_line() {
    let out = xml_of_hostile_command_line();
    assert!(
        out.contains(
            r#"args="portscout --exclude-file a&amp;b &lt;&quot;c&quot;&gt;&apos;--x&#10;\x01.txt -p- -- ::1""#
        ),
        "{out}"
    );
    let comment = out.lines().find(|l| l.starts_with("<!--")).unwrap();
    let inner = &comment[4..comment.len() - 3];
    assert!(!inner.contains("--"), "{comment}");
    assert!(inner.contains("-&#45;exclude-file"), "{comment}");
    assert!(inner.contains("'-&#45;x\\x0A\\x01.txt"), "{comment}");
}

/// Every XML document the tests make, validated by `xmllint` against nmap's own DTD.
/// Skipped when either is missing, except under CI (`.ci/run` installs them).
#[test]
fn xml_documents_validate_against_nmaps_dtd() {
    const DTD: &str = "/usr/share/nmap/nmap.dtd";
    let missing = if !std::path::Path::new(DTD).exists() {
        Some(format!("{DTD} (Debian package nmap-common)"))
    } else if std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_err()
    {
        Some("xmllint (Debian package libxml2-utils)".to_string())
    } else {
        None
    };
    if let Some(what) = missing {
        let ci = std::env::var("CI").is_ok_and(|v| !(v.is_empty() || v == "0" || v == "false"));
        assert!(!ci, "CI is set but {what} is missing");
        eprintln!("skipping: needs {what}");
        return;
    }
    let mut docs = vec![
        ("show open", run(Format::Xml, StateFilter::OPEN)),
        ("show all", run(Format::Xml, StateFilter::ALL)),
        ("host down", run_with_down(Format::Xml)),
        (
            "banners",
            run_on(Format::Xml, StateFilter::ALL, &banner_fixture(), 1),
        ),
        ("unknown scan", xml_of_unknown_scan()),
        ("hostile command line", xml_of_hostile_command_line()),
    ];
    docs.push((
        "closed and filtered",
        run(Format::Xml, "closed,filtered".parse().unwrap()),
    ));
    let dir = std::env::temp_dir().join(format!("portscout-xml-dtd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut invalid = Vec::new();
    for (i, (what, doc)) in docs.iter().enumerate() {
        let path = dir.join(format!("{i}.xml"));
        std::fs::write(&path, doc).unwrap();
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--dtdvalid", DTD])
            .arg(&path)
            .output()
            .unwrap();
        if !out.status.success() {
            invalid.push(format!(
                "{what}: {}\n{doc}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(invalid.is_empty(), "{}", invalid.join("\n"));
}

#[test]
fn grep_show_closed_filtered() {
    let show: StateFilter = "closed,filtered".parse().unwrap();
    insta::assert_snapshot!(run(Format::Grep, show));
}

/// A writer that records every write and flush, in order.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Io>>>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Io {
    Write(Vec<u8>),
    Flush,
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().push(Io::Write(buf.to_vec()));
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap().push(Io::Flush);
        Ok(())
    }
}

#[test]
fn ndjson_flushes_after_every_line() {
    let rec = Recorder::default();
    let mut p = printer(Format::Ndjson, StateFilter::ALL, Box::new(rec.clone()));
    p.begin(&ScanInfo {
        hosts: 3,
        ports: 4,
        ..ScanInfo::default()
    })
    .unwrap();
    let results = fixture();
    for (i, res) in results.iter().enumerate() {
        p.result(res).unwrap();
        // As soon as `result` returns, the line is written in full and flushed.
        let events = rec.0.lock().unwrap().clone();
        assert_eq!(events.last(), Some(&Io::Flush), "after result {i}");
        let written: Vec<u8> = events
            .iter()
            .filter_map(|e| match e {
                Io::Write(b) => Some(b.clone()),
                Io::Flush => None,
            })
            .flatten()
            .collect();
        assert_eq!(written.iter().filter(|b| **b == b'\n').count(), i + 1);
        assert_eq!(written.last(), Some(&b'\n'));
    }
    p.end(&summary_of(&results, 3)).unwrap();
    let events = rec.0.lock().unwrap().clone();
    assert_eq!(events.last(), Some(&Io::Flush));
    // One flush per line, each right after that line's bytes.
    let flushes = events.iter().filter(|e| **e == Io::Flush).count();
    assert_eq!(flushes, results.len() + 1);
}

/// The keys of a JSON object, in the order they appear.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    m.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

#[test]
fn ndjson_port_lines_have_exactly_the_seven_keys_in_order() {
    let out = run(Format::Ndjson, StateFilter::ALL);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), fixture().len() + 1);
    let (summary, ports) = lines.split_last().unwrap();
    for line in ports {
        let keys: Keys = serde_json::from_str(line).unwrap();
        assert_eq!(
            keys.0,
            ["ip", "port", "protocol", "state", "reason", "rtt_ms", "time"],
            "{line}"
        );
        assert_eq!(v_time(line), "2023-11-14T22:13:20.005Z");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["ip"].is_string() && v["port"].is_u64() && v["protocol"] == "tcp");
        assert!(v["rtt_ms"].is_null() || v["rtt_ms"].is_number());
    }
    let keys: Keys = serde_json::from_str(summary).unwrap();
    assert_eq!(
        keys.0,
        [
            "type",
            "hosts",
            "open",
            "closed",
            "filtered",
            "elapsed_ms",
            "hosts_down",
            "schema",
            "time"
        ]
    );
    let v: serde_json::Value = serde_json::from_str(summary).unwrap();
    assert_eq!(v["schema"], NDJSON_SCHEMA);
}

/// A record's `time`.
fn v_time(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["time"].as_str().unwrap().to_string()
}

/// RFC 3339 in UTC with milliseconds, from the real clock too.
#[test]
fn ndjson_times_are_rfc3339() {
    assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(fixed_clock()), "2023-11-14T22:13:20.005Z");
    assert_eq!(
        rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(951_782_400_999)),
        "2000-02-29T00:00:00.999Z"
    );
    let buf = SharedBuf::default();
    let mut p = printer(Format::Ndjson, StateFilter::ALL, Box::new(buf.clone()));
    let before = std::time::SystemTime::now();
    p.result(&fixture()[0]).unwrap();
    p.end(&summary_of(&fixture()[..1], 1)).unwrap();
    drop(p);
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    for line in out.lines() {
        let t = v_time(line);
        assert_eq!(t.len(), 24, "{t}");
        // Not before the records were written (the text sorts as the time does).
        assert!(t >= rfc3339(before), "{t}");
    }
}

#[test]
fn rtt_ms_is_rounded_to_the_microsecond_without_trailing_zeros() {
    let cases = [
        (210_000, "0.21"),
        (1_500_000, "1.5"),
        (12_000_000, "12"),
        (123_456, "0.123"),
        (123_500, "0.124"),
        (499, "0"),
        (500, "0.001"),
        (1_999_999_500, "2000"),
    ];
    for (ns, want) in cases {
        let rtt = RttMs::new(Duration::from_nanos(ns));
        assert_eq!(rtt.to_string(), want, "{ns} ns (Display)");
        assert_eq!(serde_json::to_string(&rtt).unwrap(), want, "{ns} ns (JSON)");
    }
}

/// A writer that fails every write, or (with `fail_flush`) only flushes.
struct Broken {
    fail_flush: bool,
}

impl Write for Broken {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.fail_flush {
            Ok(buf.len())
        } else {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "broken pipe"))
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.fail_flush {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "broken pipe"))
        } else {
            Ok(())
        }
    }
}

#[test]
fn write_errors_are_returned_not_panics() {
    for fail_flush in [false, true] {
        for format in Format::ALL {
            let mut p = printer(format, StateFilter::ALL, Box::new(Broken { fail_flush }));
            let results = fixture();
            let mut failed = p
                .begin(&ScanInfo {
                    hosts: 3,
                    ports: 4,
                    ..ScanInfo::default()
                })
                .is_err();
            for res in &results {
                failed |= p.result(res).is_err();
            }
            let end = p.end(&summary_of(&results, 3));
            failed |= end.is_err();
            assert!(failed, "{format} (fail_flush: {fail_flush}) hid the error");
            // A buffered format's only chance to report is `end`.
            if matches!(
                format,
                Format::Text | Format::Json | Format::Grep | Format::Xml
            ) {
                let e = end.unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{format}");
            }
        }
    }
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        assert_eq!(f.to_string(), f.as_str());
    }
    assert_eq!(Format::default(), Format::Text);
    let err = "yaml".parse::<Format>().unwrap_err();
    assert_eq!(err, UnknownFormat("yaml".to_string()));
    assert!(err.to_string().contains("`yaml`"));
    for f in Format::ALL {
        assert!(err.to_string().contains(f.as_str()), "{f}");
    }
    assert!("JSON".parse::<Format>().is_err());
}

#[test]
fn printers_only_write_to_their_writer() {
    // Every format, every filter: output goes to the writer and nowhere else, and printing
    // the default `service_name` lookup path works too.
    for format in Format::ALL {
        let buf = SharedBuf::default();
        let mut p = printer(format, StateFilter::OPEN, Box::new(buf.clone()));
        p.begin(&ScanInfo {
            hosts: 3,
            ports: 4,
            ..ScanInfo::default()
        })
        .unwrap();
        for res in fixture() {
            p.result(&res).unwrap();
        }
        p.end(&summary_of(&fixture(), 3)).unwrap();
        assert!(!buf.0.lock().unwrap().is_empty(), "{format}");
    }
}

/// Banners as a hostile or ordinary service sends them: an SSH line, an HTTP answer, escape
/// sequences, a comma and a quote, bytes above 0x7F, nothing at all (no banner).
fn banner_fixture() -> Vec<PortResult> {
    use PortState::*;
    use Reason::*;
    let with = |port, banner: &[u8]| PortResult {
        banner: Some(Banner::new(banner)),
        service: None,
        ..r("198.18.0.1", port, Open, SynAck, Some(210_000))
    };
    vec![
        with(22, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
        with(80, b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n"),
        with(
            2323,
            b"\x1b]0;owned\x07\x1b[2J login, \"root\"\\ \xff\xfe\n",
        ),
        r("198.18.0.1", 8080, Open, SynAck, Some(300_000)),
        r("198.18.0.1", 443, Closed, ConnRefused, Some(100_000)),
    ]
}

#[test]
fn banners_in_every_format() {
    for format in Format::ALL {
        let out = run_on(format, StateFilter::OPEN, &banner_fixture(), 1);
        // Nothing a terminal would act on, in any format (grep's field separator is a tab).
        assert!(
            !out.bytes()
                .any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b >= 0x7f),
            "{format}: {out:?}"
        );
        // `list` has no banners: ip:port only.
        assert_eq!(
            out.contains("SSH-2.0-OpenSSH_9.2p1 Debian-2"),
            format != Format::List,
            "{format}: {out}"
        );
        insta::assert_snapshot!(format!("banners_{format}"), out);
    }
}

#[test]
fn banners_read_back_from_ndjson() {
    let out = run_on(Format::Ndjson, StateFilter::OPEN, &banner_fixture(), 1);
    let mut read = Vec::new();
    for line in out.lines() {
        if let crate::merge::Record::Port(r) = crate::merge::parse_line(line).unwrap() {
            read.push(r);
        }
    }
    let expected: Vec<PortResult> = banner_fixture()
        .into_iter()
        .filter(|r| r.state == PortState::Open)
        .collect();
    assert_eq!(read, expected);
}

/// The fixture, a host with banners (198.18.0.3) and a host down (198.18.0.9).
fn coloured_fixture() -> Vec<Event> {
    let mut events: Vec<Event> = fixture().into_iter().map(Event::Port).collect();
    events.extend(banner_fixture().into_iter().map(|r| {
        Event::Port(PortResult {
            ip: "198.18.0.3".parse().unwrap(),
            ..r
        })
    }));
    events.push(Event::HostDown(HostDown {
        ip: "198.18.0.9".parse().unwrap(),
        reason: Reason::NoResponse,
        skipped: 4,
    }));
    events
}

/// [`coloured_fixture`], every state listed, with `PrinterOptions::colour`.
fn run_coloured(format: Format) -> String {
    let events = coloured_fixture();
    let options = PrinterOptions {
        services,
        colour: true,
        summary: true,
        clock: Some(fixed_clock),
    };
    run_events_with(format, StateFilter::ALL, &events, 5, options)
}

/// Removes SGR sequences (`ESC [ digits ; … m`).
fn strip_sgr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let end = tail.find('m').expect("an SGR sequence ends with m");
        assert!(
            tail[..end].starts_with('[')
                && tail[1..end]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b';'),
            "not an SGR sequence: {:?}",
            &tail[..=end]
        );
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn text_coloured_state_column() {
    let coloured = run_coloured(Format::Text);
    // Shown with ESC spelled out, so that the snapshot reads as text.
    insta::assert_snapshot!(coloured.replace('\x1b', "\\e"));
    assert!(coloured.contains("\x1b[32mopen\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[31mclosed\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[33mfiltered\x1b[0m"), "{coloured}");
    // Without its codes it is the plain output, byte for byte: same columns, same padding.
    let options = PrinterOptions {
        services,
        colour: false,
        summary: true,
        clock: Some(fixed_clock),
    };
    let events = coloured_fixture();
    let plain = run_events_with(Format::Text, StateFilter::ALL, &events, 5, options);
    assert!(!plain.contains('\x1b'));
    assert_eq!(strip_sgr(&coloured), plain);
}

#[test]
fn colour_is_for_the_text_format_only() {
    for format in Format::ALL {
        if format == Format::Text {
            continue;
        }
        let out = run_coloured(format);
        assert!(!out.contains('\x1b'), "{format}: {out}");
    }
}

/// The middlebox heuristic: at least 1000 results and at least 90 % open, per host, whatever
/// order the hosts' results come in; nothing counted when fewer ports per host are scanned.
#[test]
fn open_tally_names_hosts_open_nearly_everywhere() {
    let result = |ip: &str, port: u16, open: bool| PortResult {
        ip: ip.parse().unwrap(),
        port,
        state: if open {
            PortState::Open
        } else {
            PortState::Closed
        },
        reason: if open {
            Reason::SynAck
        } else {
            Reason::ConnRefused
        },
        rtt: None,
        banner: None,
        service: None,
    };
    let mut tally = super::OpenTally::new(Some(1000));
    // Interleaved: a (1000 ports, 900 open: flagged), b (1000 ports, 899 open: not),
    // c (999 ports, all open: not).
    for port in 1..=1000u16 {
        tally.add(&result("198.18.0.1", port, port > 100));
        tally.add(&result("198.18.0.2", port, port > 101));
        if port < 1000 {
            tally.add(&result("198.18.0.3", port, true));
        }
    }
    assert_eq!(tally.hosts(), vec!["198.18.0.1".parse::<IpAddr>().unwrap()]);
    let mut small = super::OpenTally::new(Some(999));
    for port in 1..=1000u16 {
        small.add(&result("198.18.0.1", port, true));
    }
    assert!(
        small.hosts().is_empty(),
        "a scan of 999 ports per host counts nothing"
    );
}

/// Every reason (issue 15 added the ICMP ones and `local-denied`) goes through every printer
/// that prints reasons, as its name.
#[test]
fn every_reason_is_printed_by_name() {
    let results: Vec<PortResult> = Reason::ALL
        .into_iter()
        .enumerate()
        .map(|(i, reason)| PortResult {
            ip: "198.18.0.1".parse().unwrap(),
            port: i as u16 + 1,
            state: PortState::Filtered,
            reason,
            rtt: None,
            banner: None,
            service: None,
        })
        .collect();
    for format in [
        Format::Text,
        Format::Json,
        Format::Ndjson,
        Format::Csv,
        Format::Xml,
    ] {
        let text = run_on(format, StateFilter::ALL, &results, 1);
        for r in Reason::ALL {
            assert!(text.contains(r.as_str()), "{format}: no `{r}` in\n{text}");
        }
    }
}

/// Services as `--service-version` finds them: OpenSSH with OS hints and CPEs, HTTPS inside
/// TLS with its certificate, a guess from the port table, a service whose answer put commas,
/// quotes, markup and control characters in its product, and an open port whose detection
/// could not connect (no service).
fn service_fixture() -> Vec<PortResult> {
    use crate::service::{ServiceInfo, TlsInfo};
    use PortState::*;
    use Reason::*;
    let with = |port, service: ServiceInfo| PortResult {
        service: Some(Box::new(service)),
        ..r("198.18.0.1", port, Open, SynAck, Some(210_000))
    };
    let ssh = ServiceInfo {
        product: Some("OpenSSH".into()),
        version: Some("9.2p1 Debian 2+deb12u3".into()),
        extrainfo: Some("protocol 2.0".into()),
        ostype: Some("Linux".into()),
        cpes: vec![
            "cpe:/a:openbsd:openssh:9.2p1".into(),
            "cpe:/o:linux:linux_kernel".into(),
        ],
        ..ServiceInfo::probed("ssh")
    };
    let https = ServiceInfo {
        product: Some("nginx".into()),
        version: Some("1.22.1".into()),
        cpes: vec!["cpe:/a:igor_sysoev:nginx:1.22.1".into()],
        tls: Some(TlsInfo {
            subject: Some("CN=localhost".into()),
            issuer: Some("CN=localhost".into()),
            sans: vec!["localhost".into(), "127.0.0.1".into()],
            not_after: Some("2027-01-01T00:00:00Z".into()),
            version: Some("TLSv1.3".into()),
            cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
        }),
        ..ServiceInfo::probed("http")
    };
    let hostile = ServiceInfo {
        product: Some("Evil, \"Inc\" <b>&\x1b[2J".into()),
        version: Some("1/2".into()),
        hostname: Some("mail.example".into()),
        confidence: 8,
        ..ServiceInfo::probed("smtp")
    };
    vec![
        with(22, ssh),
        with(443, https),
        with(2525, hostile),
        with(9999, ServiceInfo::from_table(9999)),
        r("198.18.0.1", 8080, Open, SynAck, Some(300_000)),
        r("198.18.0.1", 80, Closed, ConnRefused, Some(100_000)),
    ]
}

#[test]
fn services_in_every_format() {
    // `list` is `ip:port` only, for pipes: no service there.
    for format in Format::ALL.into_iter().filter(|f| *f != Format::List) {
        let out = run_on(format, StateFilter::OPEN, &service_fixture(), 1);
        // No control character reaches any format (grep's field separator is a tab).
        assert!(
            !out.bytes().any(|b| b < 0x20 && b != b'\n' && b != b'\t'),
            "{format}: {out:?}"
        );
        assert!(out.contains("9.2p1 Debian 2+deb12u3"), "{format}: {out}");
        insta::assert_snapshot!(format!("services_{format}"), out);
    }
}

#[test]
fn services_read_back_from_ndjson() {
    let out = run_on(Format::Ndjson, StateFilter::OPEN, &service_fixture(), 1);
    let mut read = Vec::new();
    for line in out.lines() {
        if let crate::merge::Record::Port(r) = crate::merge::parse_line(line).unwrap() {
            read.push(r);
        }
    }
    let expected: Vec<PortResult> = service_fixture()
        .into_iter()
        .filter(|r| r.state == PortState::Open)
        .collect();
    assert_eq!(read, expected);
}

/// Feeds `events` to `p` with `info`, ends with a summary counting them (`paused`,
/// `elapsed`), and returns what `buf` got.
fn feed(
    mut p: Box<dyn Sink + Send>,
    buf: &SharedBuf,
    info: &ScanInfo,
    events: &[Event],
    paused: bool,
    elapsed: Duration,
) -> String {
    p.begin(info).unwrap();
    for event in events {
        match event {
            Event::Port(r) => {
                p.result(r).unwrap();
            }
            Event::HostDown(h) => p.host_down(h).unwrap(),
        }
    }
    let results: Vec<PortResult> = events.iter().filter_map(|e| e.port().cloned()).collect();
    p.end(&Summary {
        hosts_down: (events.len() - results.len()) as u64,
        paused,
        elapsed,
        ..summary_of(&results, 5)
    })
    .unwrap();
    drop(p);
    let bytes = std::mem::take(&mut *buf.0.lock().unwrap());
    String::from_utf8(bytes).unwrap()
}

/// Feeds `events` to the XML printer whole, and paused at several cuts then continued: the
/// continued document is the whole one but for its end time. Returns the whole document and
/// the paused one of all the events.
fn assert_xml_continues(events: &[Event]) -> (String, String) {
    let options = PrinterOptions {
        services,
        colour: false,
        summary: true,
        clock: Some(fixed_clock),
    };
    let info = fixture_info(events, 5, true);
    let ms = Duration::from_millis;
    let buf = SharedBuf::default();
    let whole = feed(
        printer_with_options(
            Format::Xml,
            StateFilter::OPEN,
            Box::new(buf.clone()),
            options,
        ),
        &buf,
        &info,
        events,
        false,
        ms(1000),
    );
    assert!(whole.contains(" exit=\"success\"/>"), "{whole}");

    let mut paused = String::new();
    for cut in [0, 4, 9, events.len()] {
        let cut = cut.min(events.len());
        let first = feed(
            printer_with_options(
                Format::Xml,
                StateFilter::OPEN,
                Box::new(buf.clone()),
                options,
            ),
            &buf,
            &info,
            &events[..cut],
            true,
            ms(300),
        );
        assert!(
            first.contains(" exit=\"error\" errormsg=\"interrupted (SIGINT or SIGTERM)"),
            "{first}"
        );
        assert!(
            first.contains("summary=\"portscout interrupted at "),
            "{first}"
        );
        let part = XmlPart::parse(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
        // The resumed run: another command, started later.
        let resumed = ScanInfo {
            command: vec!["portscout".into(), "--resume".into(), "r".into()],
            started: info.started.map(|t| t + Duration::from_secs(60)),
            ..info.clone()
        };
        let second = feed(
            xml_continuing(StateFilter::OPEN, Box::new(buf.clone()), options, part),
            &buf,
            &resumed,
            &events[cut..],
            false,
            ms(700),
        );
        // The same document, but for the end time (the resumed run's end).
        let strip = |doc: &str| {
            doc.lines()
                .map(|l| match l.split_once("<finished time=\"") {
                    Some((a, b)) => format!("{a}{}", b.split_once(" summary=").unwrap().1),
                    None => l.to_string(),
                })
                .map(|l| l.split(" at ").next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&second), strip(&whole), "cut at {cut}:\n{second}");
        assert!(second.contains("elapsed=\"1.00\""), "{second}");
        paused = first;
    }
    (whole, paused)
}

/// A paused scan's XML says `exit="error"` with an `errormsg`; read back and continued by the
/// resumed run's printer, it gives the document of the whole scan written at once (the
/// first part's command and start, both parts' hosts, their elapsed times added).
#[test]
fn xml_of_a_paused_scan_continues_into_one_document() {
    let mut events: Vec<Event> = fixture().into_iter().map(Event::Port).collect();
    events.extend(banner_fixture().into_iter().skip(2).map(|mut r| {
        r.ip = "198.18.0.3".parse().unwrap();
        Event::Port(r)
    }));
    let down = HostDown {
        ip: "198.18.0.9".parse().unwrap(),
        reason: Reason::HostUnreach,
        skipped: 4,
    };
    events.insert(3, Event::HostDown(down));
    let (whole, paused) = assert_xml_continues(&events);

    // Not a paused part: a finished scan, a truncated document, something else.
    assert!(XmlPart::parse(&whole)
        .unwrap_err()
        .to_string()
        .contains("not paused"));
    let cut = &paused[..paused.find("<runstats>").unwrap()];
    assert!(XmlPart::parse(cut).is_err());
    assert!(XmlPart::parse("{\"ip\":\"127.0.0.1\"}\n").is_err());
}

/// Detected services (`--service-version`) survive a pause: read back from the paused part,
/// TLS certificates and CPEs included, they are written again as they were.
#[test]
fn xml_of_a_paused_scan_with_services_continues() {
    let events: Vec<Event> = service_fixture().into_iter().map(Event::Port).collect();
    let (whole, _) = assert_xml_continues(&events);
    assert!(
        whole.contains("<cpe>cpe:/a:openbsd:openssh:9.2p1</cpe>"),
        "{whole}"
    );
    assert!(whole.contains("ssl-cert"), "{whole}");
}

/// With `summary` off, the text format holds the results only: no `Done:` line (the command
/// prints the totals on standard error); every other format is unchanged.
#[test]
fn text_without_its_summary_line() {
    let events: Vec<Event> = fixture().into_iter().map(Event::Port).collect();
    for colour in [false, true] {
        let with = PrinterOptions {
            services,
            colour,
            summary: true,
            clock: Some(fixed_clock),
        };
        let without = PrinterOptions {
            summary: false,
            ..with
        };
        let full = run_events_with(Format::Text, StateFilter::OPEN, &events, 3, with);
        let results = run_events_with(Format::Text, StateFilter::OPEN, &events, 3, without);
        assert!(full.contains("\nDone: 3 hosts"), "{full}");
        assert!(!results.contains("Done"), "{results}");
        assert_eq!(full.split("Done:").next().unwrap(), results);
        for format in [Format::Json, Format::Xml, Format::Grep] {
            assert_eq!(
                run_events_with(format, StateFilter::OPEN, &events, 3, with),
                run_events_with(format, StateFilter::OPEN, &events, 3, without),
                "{format}"
            );
        }
    }
}

/// `list`: `ip:port` per open port, in the order found, IPv6 bracketed; nothing else, whatever
/// `--show` says.
#[test]
fn list_is_ip_colon_port_per_open_port() {
    for show in [StateFilter::OPEN, StateFilter::ALL] {
        let out = run_on(Format::List, show, &fixture(), 3);
        assert_eq!(
            out,
            "198.18.0.1:80\n[2001:db8::1]:22\n198.18.0.1:22\n198.18.0.1:8443\n"
        );
    }
}

/// The examples of `docs/output.md` are what the printers write for the fixture (`--show
/// open`): each format's section holds a code block equal to the output, byte for byte.
#[test]
fn docs_examples_are_the_printers_output() {
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/output.md"));
    for format in [
        Format::Ndjson,
        Format::Json,
        Format::Csv,
        Format::Text,
        Format::Grep,
        Format::List,
    ] {
        let heading = format!("\n## `{format}`");
        let start = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("no section {heading}"));
        let section = &doc[start + heading.len()..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        let blocks: Vec<&str> = section.split("\n```\n").skip(1).step_by(2).collect();
        let out = run_on(format, StateFilter::OPEN, &fixture(), 3);
        assert!(
            blocks.iter().any(|b| format!("{b}\n") == out),
            "docs/output.md, {format}: no example is the output\n{out}\nexamples: {blocks:#?}"
        );
    }
}

/// Issue 19: the examples of the "Host names" section of `docs/output.md` are what the
/// printers write for the fixture with names ([`run_with_names`]).
#[test]
fn docs_host_name_examples_are_the_printers_output() {
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/output.md"));
    let heading = "\n## Host names";
    let start = doc.find(heading).expect("a Host names section");
    let section = &doc[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let blocks: Vec<&str> = section.split("\n```\n").skip(1).step_by(2).collect();
    for format in [
        Format::Text,
        Format::Ndjson,
        Format::Json,
        Format::Csv,
        Format::Grep,
    ] {
        let out = run_with_names(format);
        assert!(
            blocks.iter().any(|b| format!("{b}\n") == out),
            "docs/output.md, Host names, {format}: no example is the output\n{out}"
        );
    }
    let xml = run_with_names(Format::Xml);
    assert!(
        blocks
            .iter()
            .any(|b| b.contains("<hostnames>") && xml.contains(b)),
        "docs/output.md, Host names: the XML example is not part of the output\n{xml}"
    );
}

/// Issue 19: the names of a paused scan's hosts (given and PTR) are read back from its XML
/// and kept by the resumed run's document, whose run may not look its first part's hosts up
/// again.
#[test]
fn xml_of_a_paused_scan_keeps_its_host_names() {
    let options = PrinterOptions {
        services,
        colour: false,
        summary: true,
        clock: Some(fixed_clock),
    };
    let results = fixture();
    let events: Vec<Event> = results.iter().cloned().map(Event::Port).collect();
    let mut info = fixture_info(&events, 3, false);
    info.names.insert(
        "198.18.0.1".parse().unwrap(),
        crate::model::TargetName {
            name: "a.example".into(),
            others: Vec::new(),
        },
    );
    let (first, rest) = results.split_at(4);
    let buf = SharedBuf::default();
    let mut p = printer_with_options(
        Format::Xml,
        StateFilter::OPEN,
        Box::new(buf.clone()),
        options,
    );
    p.begin(&info).unwrap();
    for r in first {
        p.result(r).unwrap();
    }
    p.host_name("198.18.0.1".parse().unwrap(), "host-1.example")
        .unwrap();
    p.end(&Summary {
        paused: true,
        ..summary_of(first, 3)
    })
    .unwrap();
    drop(p);
    let paused = String::from_utf8(std::mem::take(&mut *buf.0.lock().unwrap())).unwrap();
    let part = XmlPart::parse(&paused).unwrap_or_else(|e| panic!("{e}: {paused}"));
    // The resumed run: the names given are not known here (a library caller's own).
    let resumed = ScanInfo {
        names: Default::default(),
        ..info
    };
    let mut p = xml_continuing(StateFilter::OPEN, Box::new(buf.clone()), options, part);
    p.begin(&resumed).unwrap();
    for r in rest {
        p.result(r).unwrap();
    }
    p.end(&summary_of(rest, 3)).unwrap();
    drop(p);
    let whole = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        whole.contains(
            "<address addr=\"198.18.0.1\" addrtype=\"ipv4\"/>\n<hostnames>\n\
             <hostname name=\"a.example\" type=\"user\"/>\n\
             <hostname name=\"host-1.example\" type=\"PTR\"/>\n</hostnames>"
        ),
        "{whole}"
    );
}
