//! nmap's output options: `-oN/-oX/-oG FILE` and `-oA BASENAME`, beside `--format`/`-o`.
//! Scans here target only this machine's loopback, at listeners the test owns.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{TempDir, BIN};

fn portscout(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .env("PORTSCOUT_CONFIG", "")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .args(args)
        .output()
        .unwrap()
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `-oX scan.xml` writes nmap's XML to scan.xml (it used to write a file named `X` and look
/// `scan.xml` up as a host name), and the text report still goes to standard output.
#[test]
fn ox_writes_xml_beside_the_text_report() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let dir = TempDir::new("outputs-ox");
    let out = portscout(
        dir.path(),
        &["127.0.0.1", "-p", &port, "-oX", "scan.xml", "-q"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(names(dir.path()), BTreeSet::from(["scan.xml".to_string()]));
    let xml = read(dir.path(), "scan.xml");
    assert!(xml.contains("<nmaprun"), "{xml}");
    assert!(xml.contains(&format!("portid=\"{port}\"")), "{xml}");
    assert!(xml.trim_end().ends_with("</nmaprun>"), "{xml}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{port}/tcp")), "{text}");
}

/// `-oA base` writes base.nmap (text), base.xml and base.gnmap (grep), all from one scan,
/// together with `--format ndjson -o FILE`; the text file is what standard output gets, and
/// the `Done:` line of the totals (standard output carries results only).
#[test]
fn oa_writes_all_three_with_the_main_output() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let dir = TempDir::new("outputs-oa");
    let ports = format!("{port},1");
    let out = portscout(
        dir.path(),
        &[
            "127.0.0.1",
            "-p",
            &ports,
            "--show",
            "all",
            "-oA",
            "base",
            "-q",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        names(dir.path()),
        ["base.gnmap", "base.nmap", "base.xml"]
            .map(String::from)
            .into()
    );
    let nmap = read(dir.path(), "base.nmap");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        nmap.strip_prefix(&*stdout),
        Some("Done: 1 host, 2 ports: 1 open, 1 closed, 0 filtered\n"),
        "{nmap}"
    );
    let grep = read(dir.path(), "base.gnmap");
    assert!(grep.contains(&format!("{port}/open/tcp")), "{grep}");
    assert!(grep.contains("1/closed/tcp"), "{grep}");
    assert!(read(dir.path(), "base.xml").contains("<nmaprun"));

    let out = portscout(
        dir.path(),
        &[
            "127.0.0.1",
            "-p",
            &ports,
            "--format",
            "ndjson",
            "-o",
            "r.ndjson",
            "-oG",
            "r.gnmap",
            "-oN",
            "r.txt",
            "-q",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let ndjson = read(dir.path(), "r.ndjson");
    assert!(ndjson.contains(&format!("\"port\":{port}")), "{ndjson}");
    assert!(read(dir.path(), "r.gnmap").contains(&format!("{port}/open/tcp")));
    assert!(read(dir.path(), "r.txt").contains(&format!("{port}/tcp")));
}

/// Any other `-o` and one letter exits 2 naming it; `-o X` (a space) gets a hint. Nothing is
/// written.
#[test]
fn other_o_spellings_are_refused() {
    let dir = TempDir::new("outputs-bad");
    for (args, words) in [
        (
            &["127.0.0.1", "-p", "1", "-oS", "f"][..],
            "unknown output option `-oS`",
        ),
        (
            &["127.0.0.1", "-p", "1", "-oz", "f"],
            "unknown output option `-oz`",
        ),
        (
            &["127.0.0.1", "-p", "1", "-o", "X", "scan.xml"],
            "`-oX scan.xml`",
        ),
        (&["127.0.0.1", "-p", "1", "-o", "A", "base"], "`-oA base`"),
        (&["127.0.0.1", "-p", "1", "-oX"], "--output-xml"),
    ] {
        let out = portscout(dir.path(), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(
            names(dir.path()).is_empty(),
            "{args:?}: {:?}",
            names(dir.path())
        );
    }
    // A file that really is named X, and a -o FILE attached to the option, are fine.
    let out = portscout(dir.path(), &["127.0.0.1", "-p", "1", "-o", "./X", "-q"]);
    assert!(out.status.success(), "{out:?}");
    let out = portscout(dir.path(), &["127.0.0.1", "-p", "1", "-oout.txt", "-q"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(names(dir.path()), ["X", "out.txt"].map(String::from).into());
}
