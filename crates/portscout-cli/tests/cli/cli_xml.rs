//! `--format xml` as nmap-XML tools read it: scans of loopback (listeners this test holds
//! itself) validated by `xmllint` against nmap's own DTD, compared by nmap's `ndiff` (with each
//! other, and with nmap's own XML of the same ports), and read by python-libnmap. A host found
//! down needs a network namespace (root; see `support`).
//!
//! The tools come from Debian packages (`libxml2-utils`, `nmap-common` for the DTD, `nmap`,
//! `ndiff`, `python3-libnmap`): without them a test skips with a message naming the package, except
//! under CI (`CI` set), where it fails; `.ci/run` installs them.

use crate::support;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::{TempDir, BIN};

/// nmap's DTD, as Debian's `nmap-common` installs it.
const DTD: &str = "/usr/share/nmap/nmap.dtd";

/// The Python that Debian's `python3-*` packages install into.
const PYTHON: &str = "/usr/bin/python3";

/// Skip (outside CI) or fail (under CI) for want of `what`. Returns false.
fn missing(what: &str) -> bool {
    support::skip_or_fail(&format!("needs {what}"))
}

/// Whether `program` can be started.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn require_xmllint() -> bool {
    if !Path::new(DTD).exists() {
        return missing(&format!("{DTD} (apt-get install nmap-common)"));
    }
    runs("xmllint", &["--version"]) || missing("xmllint (apt-get install libxml2-utils)")
}

fn require_ndiff() -> bool {
    runs("ndiff", &["-h"]) || missing("ndiff (apt-get install ndiff)")
}

fn require_libnmap() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import libnmap.parser"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok || missing("python-libnmap (apt-get install python3-libnmap)")
}

/// Runs portscout (a scan of loopback, or a merge) and returns its stdout; panics unless it
/// exits 0.
fn portscout(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        // No config file of this machine's user changes what the tests see.
        .env("PORTSCOUT_CONFIG", "")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "portscout {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `xmllint --noout --dtdvalid nmap.dtd FILE`; panics with its complaint unless valid.
#[track_caller]
fn assert_valid(path: &str) {
    let out = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", DTD, path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{path} does not validate against {DTD}:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

fn ndiff(a: &str, b: &str) -> Output {
    Command::new("ndiff").args([a, b]).output().unwrap()
}

/// Listeners on loopback ports the kernel picks.
fn listen(ip: &str, n: usize) -> (Vec<TcpListener>, BTreeSet<u16>) {
    let held: Vec<_> = (0..n)
        .map(|_| TcpListener::bind((ip, 0)).unwrap())
        .collect();
    let ports = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    (held, ports)
}

fn spec(ports: impl IntoIterator<Item = u16>) -> String {
    ports
        .into_iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The `(address, port, state, reason)` of every `<port>` in a document as portscout writes
/// it (one element per line).
fn xml_ports(doc: &str) -> BTreeSet<(String, u16, String, String)> {
    let attr = |line: &str, name: &str| -> String {
        let key = format!(" {name}=\"");
        let start = line
            .find(&key)
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + key.len();
        line[start..][..line[start..].find('"').unwrap()].to_string()
    };
    let mut ports = BTreeSet::new();
    let mut host = String::new();
    for line in doc.lines() {
        if line.starts_with("<address ") {
            host = attr(line, "addr");
        } else if let Some(port) = line
            .strip_prefix("<ports>")
            .unwrap_or(line)
            .strip_prefix("<port ")
        {
            let port = format!(" {port}");
            let state = &port[port.find("<state ").unwrap()..];
            ports.insert((
                host.clone(),
                attr(&port, "portid").parse().unwrap(),
                attr(state, "state"),
                attr(state, "reason"),
            ));
        }
    }
    ports
}

#[test]
fn loopback_scan_validates_against_nmaps_dtd_and_lists_what_listens() {
    if !require_xmllint() {
        return;
    }
    let dir = TempDir::new("xml-dtd");
    let (_held4, open4) = listen("127.0.0.1", 3);
    let (_closed_socket, closed4) = support::closed_port("127.0.0.1");
    // IPv6 loopback too, where the machine has it (addrtype="ipv6").
    let (_held6, open6) = match TcpListener::bind("[::1]:0") {
        Ok(_) => listen("::1", 2),
        Err(_) => (Vec::new(), BTreeSet::new()),
    };
    let mut targets = vec!["127.0.0.1"];
    if !open6.is_empty() {
        targets.push("::1");
    }
    let ports: BTreeSet<u16> = open4
        .iter()
        .chain(&open6)
        .copied()
        .chain([closed4])
        .collect();
    let ports_spec = spec(ports.iter().copied());

    // Default --show open: the closed ports are counted in <extraports>.
    let open_file = dir.file("open.xml");
    let mut args = vec!["-p", &ports_spec, "--format", "xml", "-q", "-o", &open_file];
    args.extend(&targets);
    assert_eq!(portscout(&args), "", "-o keeps stdout empty");
    assert_valid(&open_file);
    let doc = std::fs::read_to_string(&open_file).unwrap();
    let mut expected = BTreeSet::new();
    for (ip, open) in [("127.0.0.1", &open4), ("::1", &open6)] {
        for &p in open.iter() {
            expected.insert((ip.to_string(), p, "open".into(), "syn-ack".into()));
        }
    }
    assert_eq!(xml_ports(&doc), expected, "{doc}");
    assert!(
        doc.contains(&format!(
            "<scaninfo type=\"connect\" protocol=\"tcp\" numservices=\"{}\" services=\"{ports_spec}\"/>",
            ports.len()
        )),
        "{doc}"
    );
    assert!(doc.contains("<address addr=\"127.0.0.1\" addrtype=\"ipv4\"/>"));
    assert!(doc.contains(&format!(
        "<extraports state=\"closed\" count=\"{}\">",
        ports.len() - open4.len()
    )));
    let hosts = targets.len();
    assert!(
        doc.contains(&format!(
            "<hosts up=\"{hosts}\" down=\"0\" total=\"{hosts}\"/>"
        )),
        "{doc}"
    );

    // --show all, to stdout: every port listed, the closed one with its reason.
    let mut args = vec!["-p", &ports_spec, "--format", "xml", "-q", "--show", "all"];
    args.extend(&targets);
    let all = portscout(&args);
    let all_file = dir.file("all.xml");
    std::fs::write(&all_file, &all).unwrap();
    assert_valid(&all_file);
    let listed = xml_ports(&all);
    assert_eq!(listed.len(), ports.len() * hosts, "{all}");
    assert!(listed.contains(&(
        "127.0.0.1".into(),
        closed4,
        "closed".into(),
        "conn-refused".into()
    )));
    assert!(!all.contains("<extraports"), "{all}");
}

#[test]
fn ndiff_reports_the_ports_that_opened_and_closed_between_two_scans() {
    if !(require_xmllint() && require_ndiff()) {
        return;
    }
    let dir = TempDir::new("xml-ndiff");
    let ip = "127.0.0.1";
    let (stays, _) = listen(ip, 1);
    // Each port held by one socket through the three scans, listening or not: a dropped
    // listener's port could be taken (and listened on) by a test running beside this one.
    let goes = support::HeldPort::open(ip);
    let comes = support::HeldPort::closed(ip);
    let stays_port = stays[0].local_addr().unwrap().port();
    let (goes_port, comes_port) = (goes.port(), comes.port());
    let ports = spec([stays_port, goes_port, comes_port]);
    let scan = |name: &str| {
        let file = dir.file(name);
        portscout(&["-p", &ports, "--format", "xml", "-q", "-o", &file, ip]);
        assert_valid(&file);
        file
    };

    let before = scan("before.xml");
    goes.stop_listening();
    comes.listen();
    let after = scan("after.xml");
    let again = scan("again.xml");

    let diff = ndiff(&before, &after);
    let text = String::from_utf8_lossy(&diff.stdout);
    println!(
        "ndiff before.xml after.xml (exit {:?}):\n{text}",
        diff.status.code()
    );
    assert_eq!(
        diff.status.code(),
        Some(1),
        "ndiff exits 1 on differences: {text}{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    let row = |sign: &str, port: u16| {
        text.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() >= 2 && cells[0] == format!("{sign}{port}/tcp") && cells[1] == "open"
        })
    };
    assert!(row("-", goes_port), "the port that closed: {text}");
    assert!(row("+", comes_port), "the port that opened: {text}");
    assert!(
        !text.contains(&format!("{stays_port}/tcp")),
        "the port that stayed open is no difference: {text}"
    );
    // The host, named by its PTR name (the hosts file's) when it has one: `localhost
    // (127.0.0.1):`.
    assert!(
        text.contains(&format!(" {ip}:")) || text.contains(&format!(" ({ip}):")),
        "{text}"
    );

    // Nothing changed between the last two scans: ndiff says so with exit 0.
    let same = ndiff(&after, &again);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&same.stdout),
        String::from_utf8_lossy(&same.stderr)
    );
}

/// `portscout merge` turns ndjson (here with banners, which a scan writes with `--banners`)
/// into XML that nmap consumers read: python-libnmap sees the hosts, ports, states, service
/// names and each banner as the `banner` script's output.
#[test]
fn merged_xml_with_banners_is_read_by_libnmap() {
    if !(require_xmllint() && require_libnmap()) {
        return;
    }
    let dir = TempDir::new("xml-libnmap");
    let input = dir.file("in.ndjson");
    std::fs::write(
        &input,
        [
            r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":0.2,"banner":"SSH-2.0-OpenSSH_9.2 <&\"'>\\r\\n"}"#,
            r#"{"ip":"198.18.0.1","port":81,"protocol":"tcp","state":"closed","reason":"conn-refused","rtt_ms":0.1}"#,
            r#"{"ip":"2001:db8::2","port":22,"protocol":"tcp","state":"filtered","reason":"no-response","rtt_ms":null}"#,
            r#"{"type":"host","ip":"198.18.0.9","state":"down","reason":"host-unreach","skipped":2}"#,
            r#"{"type":"summary","hosts":3,"open":1,"closed":1,"filtered":1,"elapsed_ms":1234,"hosts_down":1}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let xml = dir.file("merged.xml");
    portscout(&[
        "merge",
        "-q",
        "--partial",
        "--format",
        "xml",
        "-o",
        &xml,
        &input,
    ]);
    assert_valid(&xml);

    let script = r#"
import sys
from libnmap.parser import NmapParser
r = NmapParser.parse_fromfile(sys.argv[1])
print("hosts", r.hosts_total, r.hosts_up, r.hosts_down, r.scan_type)
for h in sorted(r.hosts, key=lambda h: h.address):
    print("host", h.address, h.status)
    for s in h.services:
        print("port", s.port, s.protocol, s.state, s.reason, s.service,
              [(x["id"], x["output"]) for x in s.scripts_results])
"#;
    let out = Command::new(PYTHON)
        .args(["-c", script, &xml])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = r#"hosts 3 2 1 connect
host 198.18.0.1 up
port 22 tcp open syn-ack ssh [('banner', 'SSH-2.0-OpenSSH_9.2 <&"\'>\\r\\n')]
host 198.18.0.9 down
host 2001:db8::2 up
"#;
    assert_eq!(text, expected);
}

/// A host found down is listed as nmap -v lists it (`<status state="down">`, no ports), and
/// ndiff reports it coming up. Needs a network namespace: on loopback every address is up.
#[test]
fn a_host_down_then_up_validates_and_ndiff_reports_it() {
    if !(support::require_root() && require_xmllint() && require_ndiff()) {
        return;
    }
    let dir = TempDir::new("xml-down");
    let hosts = support::VethHosts::new("xmldn", "198.18.0.1/24", &[("198.18.0.2", &[22])]);
    let scan = |name: &str| {
        let file = dir.file(name);
        hosts
            .scanner
            .scan(&[
                "-p",
                "22,80",
                "--format",
                "xml",
                "-q",
                "-o",
                &file,
                "198.18.0.2",
                "198.18.0.3",
            ])
            .assert_success();
        assert_valid(&file);
        (std::fs::read_to_string(&file).unwrap(), file)
    };

    let (doc, before) = scan("before.xml");
    // No neighbour answers for .3: the kernel says so (host-unreach), or the probes time
    // out first (no-response).
    assert!(
        ["host-unreach", "no-response"]
            .iter()
            .any(|reason| doc.contains(&format!(
                "<host><status state=\"down\" reason=\"{reason}\" reason_ttl=\"0\"/>\n\
             <address addr=\"198.18.0.3\" addrtype=\"ipv4\"/>\n</host>\n"
            ))),
        "{doc}"
    );
    assert!(
        doc.contains("<hosts up=\"1\" down=\"1\" total=\"2\"/>"),
        "{doc}"
    );

    hosts.veth.add_target_addr("198.18.0.3/24");
    let _up = hosts.target.listen("198.18.0.3", &[80]);
    // The first scan ends after about a second (the floor of silence of .3), while the
    // scanner's kernel is still resolving .3's MAC address (3 ARP probes, 1 s apart): a SYN of
    // the second scan would wait behind that resolution and be dropped with EHOSTUNREACH when
    // it fails (host-unreach: down, 1 run in 10). Forget it, as time would: the kernel
    // resolves .3 afresh.
    let flushed = hosts
        .scanner
        .ip(["neigh", "flush", "to", "198.18.0.3"])
        .status()
        .unwrap();
    assert!(flushed.success(), "ip neigh flush: {flushed}");
    let (doc, after) = scan("after.xml");
    assert!(
        doc.contains("<hosts up=\"2\" down=\"0\" total=\"2\"/>"),
        "{doc}"
    );

    let diff = ndiff(&before, &after);
    let text = String::from_utf8_lossy(&diff.stdout);
    println!("ndiff before.xml after.xml:\n{text}");
    assert_eq!(diff.status.code(), Some(1), "{text}");
    assert!(
        text.contains(" 198.18.0.3:\n-Host is down.\n+Host is up.\n"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("+80/tcp") && l.contains("open")),
        "{text}"
    );
    // The host that did not change is not in the diff (the first two lines, the scans'
    // command lines, name it).
    assert!(
        !text
            .lines()
            .any(|l| l.get(1..).is_some_and(|l| l.starts_with("198.18.0.2:"))),
        "{text}"
    );
}

/// Whether nmap's service table (`nmap-services`, beside the DTD) names TCP `port`.
fn in_nmap_services(port: u16) -> bool {
    let table = std::fs::read_to_string("/usr/share/nmap/nmap-services").unwrap_or_default();
    let key = format!("{port}/tcp");
    table
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(key.as_str()))
}

/// nmap and portscout scan the same loopback ports; `ndiff` finds no difference between their
/// XML files (exit 0): same hosts, ports, states and service names. Both with `-n`: no names.
#[test]
fn ndiff_finds_no_difference_between_nmap_and_portscout() {
    let Some((_, text)) = ndiff_against_nmap("127.0.0.1", &["-n"]) else {
        return;
    };
    assert!(text.lines().any(|l| l.trim() == "127.0.0.1:"), "{text}");
}

/// Issue 19: a target given by name. nmap writes the name given (`type="user"`) and the PTR
/// name (`type="PTR"`, which for 127.0.0.1 comes from the hosts file: no DNS query is sent);
/// portscout writes the same, so `ndiff` sees the same host, not one removed and one added.
#[test]
fn ndiff_finds_no_difference_for_a_target_given_by_name() {
    let Some((ours, text)) = ndiff_against_nmap("localhost", &[]) else {
        return;
    };
    assert!(
        ours.contains("<hostname name=\"localhost\" type=\"user\"/>"),
        "{ours}"
    );
    // ndiff names a host by its first name and address.
    assert!(
        text.lines().any(|l| l.trim() == "localhost (127.0.0.1):"),
        "{text}"
    );
}

/// Scans `target` with nmap (`-sT`) and portscout, each with `flags`, on the same loopback
/// ports (two listening, one closed, and 22, 80, 443), and checks that `ndiff -v` finds no
/// difference and lists every open port as the same. Returns portscout's XML and ndiff's
/// output, or `None` when a tool is missing.
fn ndiff_against_nmap(target: &str, flags: &[&str]) -> Option<(String, String)> {
    if !(require_xmllint() && require_ndiff()) {
        return None;
    }
    if !runs("nmap", &["--version"]) {
        missing("nmap (apt-get install nmap)");
        return None;
    }
    let dir = TempDir::new("xml-vs-nmap");
    let ip = "127.0.0.1";
    // Ports neither service table names, so that the two tables cannot disagree on them; 22,
    // 80 and 443 for ports both name.
    let unnamed = |p: u16| !in_nmap_services(p) && portscout::ports::service_name(p).is_none();
    let mut held = Vec::new();
    while held.len() < 2 {
        let l = TcpListener::bind((ip, 0)).unwrap();
        if unnamed(l.local_addr().unwrap().port()) {
            held.push(l);
        }
    }
    let (_closed_socket, closed) = loop {
        let (socket, p) = support::closed_port(ip);
        if unnamed(p) {
            break (socket, p);
        }
    };
    let ports = spec(
        held.iter()
            .map(|l| l.local_addr().unwrap().port())
            .chain([closed, 22, 80, 443])
            .collect::<BTreeSet<u16>>(),
    );
    let ours = dir.file("portscout.xml");
    let theirs = dir.file("nmap.xml");
    let mut args = vec![
        "-p", &ports, "--show", "all", "--format", "xml", "-q", "-o", &ours,
    ];
    args.extend(flags);
    args.push(target);
    portscout(&args);
    let nmap = Command::new("nmap")
        .args(flags)
        .args(["-sT", "-p", &ports, "-oX", &theirs, target])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        nmap.status.success(),
        "{}",
        String::from_utf8_lossy(&nmap.stderr)
    );
    assert_valid(&ours);
    assert_valid(&theirs);
    let diff = Command::new("ndiff")
        .args(["-v", &theirs, &ours])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&diff.stdout).into_owned();
    println!("ndiff -v nmap.xml portscout.xml:\n{text}");
    assert_eq!(diff.status.code(), Some(0), "{text}");
    // -v lists the ports that are the same: every one of them, open ones included.
    for l in &held {
        let port = l.local_addr().unwrap().port();
        assert!(
            text.lines().any(|r| r
                .split_whitespace()
                .take(2)
                .eq([format!("{port}/tcp").as_str(), "open"])),
            "{text}"
        );
    }
    Some((std::fs::read_to_string(&ours).unwrap(), text))
}

/// Starts portscout in `dir` (stdout and stderr piped).
fn spawn_in(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .current_dir(dir)
        .env("PORTSCOUT_CONFIG", "")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until one of `held` accepts a connection (the scan has reached it), then pauses the
/// scan with SIGINT; returns its exit code and stderr.
fn pause_at_first_open(
    mut child: std::process::Child,
    held: &[TcpListener],
) -> (Option<i32>, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    for l in held {
        l.set_nonblocking(true).unwrap();
    }
    while !held.iter().any(|l| l.accept().is_ok()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the scan ended before it was paused"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no connection after 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
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

/// The `closed` ports of every `<extraports>` of a document.
fn closed_count(doc: &str) -> u64 {
    doc.lines()
        .filter_map(|l| l.split_once("<extraports state=\"closed\" count=\""))
        .map(|(_, rest)| rest.split('"').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// A scan paused by SIGINT writes XML that says so (`exit="error"` with an `errormsg`, as
/// nmap ends a scan it did not finish) and validates; its resumed run leaves ONE valid
/// document covering both parts, for `-oX FILE` and `--format xml -o FILE` alike: the ports
/// and counts of an uninterrupted scan (ndiff: no difference), the first run's command. A
/// file that is not a paused scan's document stops the resumed run before anything is
/// touched.
#[test]
fn a_paused_then_resumed_scan_leaves_one_valid_document() {
    if !require_xmllint() {
        return;
    }
    let (held, open) = listen("127.0.0.1", 3);
    let ports = format!("1-4000,{}", spec(open.iter().copied()));
    let dir = TempDir::new("xml-resume");
    let first = spawn_in(
        dir.path(),
        &[
            "127.0.0.1",
            "-p",
            &ports,
            "--rate",
            "1000",
            "--format",
            "xml",
            "-o",
            "main.xml",
            "-oX",
            "x.xml",
            "--resume-file",
            "r.resume",
        ],
    );
    let (code, err) = pause_at_first_open(first, &held);
    assert_eq!(code, Some(130), "{err}");
    let files = ["main.xml", "x.xml"].map(|f| dir.path().join(f));
    for f in &files {
        let doc = std::fs::read_to_string(f).unwrap();
        assert_valid(f.to_str().unwrap());
        assert!(
            doc.contains(" exit=\"error\" errormsg=\"interrupted (SIGINT or SIGTERM)"),
            "{doc}"
        );
    }
    let paused_x = std::fs::read_to_string(&files[1]).unwrap();

    // -v may be added to a resume: the timing line follows the summary.
    let second = spawn_in(dir.path(), &["--resume", "r.resume", "-v"])
        .wait_with_output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("\nportscout: timing: "), "{stderr}");

    // The same scan, uninterrupted.
    portscout(&[
        "127.0.0.1",
        "-p",
        &ports,
        "--format",
        "xml",
        "-o",
        dir.path().join("whole.xml").to_str().unwrap(),
    ]);
    let whole = std::fs::read_to_string(dir.path().join("whole.xml")).unwrap();
    for f in &files {
        let doc = std::fs::read_to_string(f).unwrap();
        assert_valid(f.to_str().unwrap());
        assert_eq!(doc.matches("<?xml ").count(), 1, "{doc}");
        assert_eq!(doc.matches("<nmaprun ").count(), 1, "{doc}");
        assert!(doc.contains(" exit=\"success\"/>"), "{doc}");
        assert!(!doc.contains("errormsg"), "{doc}");
        let nmaprun = doc.lines().find(|l| l.starts_with("<nmaprun ")).unwrap();
        assert!(
            nmaprun.contains("-oX x.xml") && !nmaprun.contains("--resume r.resume"),
            "{nmaprun}"
        );
        assert_eq!(xml_ports(&doc), xml_ports(&whole), "{doc}");
        assert_eq!(closed_count(&doc), closed_count(&whole), "{doc}");
        let listed: BTreeSet<u16> = xml_ports(&doc).into_iter().map(|p| p.1).collect();
        assert!(open.is_subset(&listed), "{open:?} in {doc}");
        if runs("ndiff", &["-h"]) {
            let diff = ndiff(
                dir.path().join("whole.xml").to_str().unwrap(),
                f.to_str().unwrap(),
            );
            assert_eq!(
                diff.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&diff.stdout)
            );
        }
    }

    // Paused again, with an XML file that is not its paused part: exit 2, nothing touched.
    // (The connections of the scans above are taken first.)
    for l in &held {
        l.set_nonblocking(true).unwrap();
        while l.accept().is_ok() {}
    }
    let third = spawn_in(
        dir.path(),
        &[
            "127.0.0.1",
            "-p",
            &ports,
            "--rate",
            "1000",
            "-oX",
            "x.xml",
            "--resume-file",
            "r2.resume",
            "-q",
        ],
    );
    let (code, err) = pause_at_first_open(third, &held);
    assert_eq!(code, Some(130), "{err}");
    let resume_file = std::fs::read(dir.path().join("r2.resume")).unwrap();
    for wrong in [whole.as_str(), &paused_x[..paused_x.len() / 2], "garbage\n"] {
        std::fs::write(&files[1], wrong).unwrap();
        let refused = spawn_in(dir.path(), &["--resume", "r2.resume"])
            .wait_with_output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("cannot continue `x.xml`"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&files[1]).unwrap(), wrong);
        assert_eq!(
            std::fs::read(dir.path().join("r2.resume")).unwrap(),
            resume_file
        );
    }
}
