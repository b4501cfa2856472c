//! The parser and matcher on a small database written for these tests, in nmap's format
//! (none of it is nmap's).

use super::*;

const FIXTURE: &str = r#"# A test database in nmap-service-probes format, written for portscout's tests.
Exclude T:9100-9107

Probe TCP NULL q||
totalwaitms 5000
tcpwrappedms 2500
match toyssh m|^TOY-([\d.]+)-Toyd_([\w.]+)\r?\n| p/Toyd/ v/$2/ i/protocol $1/ o/Unix/ cpe:/a:toy:toyd:$2/a
softmatch toyssh m|^TOY-|
match greeter m|^HELLO (\w+) ver=(\d+)\.(\d+)|i p/Greeter/ v/$2.$3/ h/$1/
match bin m|^\x01\x02(..)(.)|s p/Binary/ v/$I(1,">")/ i/minor $I(2,"<")/
match printable m|^PR:(.*)$|s p/$P(1)/
match subst m|^SUB ([\w_]+)| p/Subst/ v/$SUBST(1,"_",".")/
match backref m|^(\w)\1 twice| p/Backref/
match look m|^look(?=ahead)| p/Lookahead/
match broken m|^(unclosed| p/never/

Probe TCP Ask q|ASK\r\n\0\x41\\|
rarity 3
ports 7000-7002,7010
sslports 7443
fallback Other
match asked m|^ANSWER (\d+)| p/Answerer/ v/$1/ d/router/

Probe TCP Other q|OTHER|
rarity 8
ports 7005
match other m|^OTHER-REPLY| p/Other/

Probe UDP Udp q|\x00|
rarity 1
"#;

fn db() -> ProbeDb {
    ProbeDb::parse(FIXTURE.as_bytes()).unwrap()
}

#[test]
fn parses_probes_and_directives() {
    let db = db();
    assert_eq!(db.probes.len(), 4);
    assert_eq!(db.exclude.as_deref(), Some("T:9100-9107"));
    let null = db.probe(Protocol::Tcp, "NULL").unwrap();
    assert!(null.payload.is_empty());
    assert_eq!(null.totalwait, Some(Duration::from_millis(5000)));
    assert_eq!(null.tcpwrapped, Some(Duration::from_millis(2500)));
    let ask = db.probe(Protocol::Tcp, "Ask").unwrap();
    assert_eq!(ask.payload, b"ASK\r\n\0A\\");
    assert_eq!(ask.rarity, 3);
    assert!(ask.ports.contains(7001) && ask.ports.contains(7010) && !ask.ports.contains(7003));
    assert!(ask.sslports.contains(7443));
    assert_eq!(ask.fallback, ["Other"]);
    assert_eq!(db.probe(Protocol::Udp, "Udp").unwrap().payload, [0]);
    // One pattern does not compile: counted, skipped, the rest kept.
    assert_eq!(db.match_count(), 10);
    assert_eq!(db.failed_patterns().len(), 1);
    assert_eq!(db.failed_patterns()[0].0, 15);
}

#[test]
fn templates_and_cpes() {
    let db = db();
    let null = db.probe(Protocol::Tcp, "NULL").unwrap();
    let info = db.identify(null, b"TOY-2.0-Toyd_1.2.3\r\n").unwrap();
    assert_eq!(info.name, "toyssh");
    assert_eq!(info.product.as_deref(), Some("Toyd"));
    assert_eq!(info.version.as_deref(), Some("1.2.3"));
    assert_eq!(info.extrainfo.as_deref(), Some("protocol 2.0"));
    assert_eq!(info.ostype.as_deref(), Some("Unix"));
    assert_eq!(info.cpes, ["cpe:/a:toy:toyd:1.2.3"]);
    assert_eq!(info.confidence, 10);

    // The `i` flag, and several captures in one field.
    let info = db.identify(null, b"hello box1 VER=4.5").unwrap();
    assert_eq!(
        (info.product.as_deref(), info.version.as_deref()),
        (Some("Greeter"), Some("4.5"))
    );
    assert_eq!(info.hostname.as_deref(), Some("box1"));

    // $I: big endian 0x0102 = 258, little endian one byte; binary bytes and `s`.
    let info = db.identify(null, b"\x01\x02\x01\x02\x07").unwrap();
    assert_eq!(info.version.as_deref(), Some("258"));
    assert_eq!(info.extrainfo.as_deref(), Some("minor 7"));

    // $P keeps printable bytes only.
    let info = db.identify(null, b"PR:a\x00b\xffc").unwrap();
    assert_eq!(info.product.as_deref(), Some("abc"));

    // $SUBST.
    let info = db.identify(null, b"SUB 1_2_3").unwrap();
    assert_eq!(info.version.as_deref(), Some("1.2.3"));

    // Perl features: a back-reference and a lookahead.
    assert_eq!(
        db.identify(null, b"aa twice").unwrap().product.as_deref(),
        Some("Backref")
    );
    assert!(db.identify(null, b"ab twice").is_none());
    assert_eq!(
        db.identify(null, b"lookahead").unwrap().product.as_deref(),
        Some("Lookahead")
    );
    assert!(db.identify(null, b"lookaway").is_none());
}

#[test]
fn softmatch_when_no_hard_match() {
    let db = db();
    let null = db.probe(Protocol::Tcp, "NULL").unwrap();
    let info = db.identify(null, b"TOY-garbage").unwrap();
    assert_eq!(info.name, "toyssh");
    assert_eq!(info.product, None);
    assert_eq!(info.confidence, 8);
}

#[test]
fn fallback_and_null_fallback() {
    let db = db();
    let ask = db.probe(Protocol::Tcp, "Ask").unwrap();
    let info = db.identify(ask, b"ANSWER 42").unwrap();
    assert_eq!(
        (info.name.as_str(), info.version.as_deref()),
        ("asked", Some("42"))
    );
    assert_eq!(info.devicetype.as_deref(), Some("router"));
    // Ask names Other as its fallback: Other's matches apply, NULL's do not.
    assert_eq!(db.identify(ask, b"OTHER-REPLY").unwrap().name, "other");
    assert!(db.identify(ask, b"TOY-2.0-Toyd_1\r\n").is_none());
    // Other names no fallback: NULL's matches apply.
    let other = db.probe(Protocol::Tcp, "Other").unwrap();
    assert_eq!(
        db.identify(other, b"TOY-2.0-Toyd_1\r\n").unwrap().name,
        "toyssh"
    );
}

#[test]
fn order_by_ports_then_rarity_and_intensity() {
    let db = db();
    let names = |port, tls, intensity| -> Vec<String> {
        db.tcp_order(port, tls, intensity)
            .iter()
            .map(|p| p.name.clone())
            .collect()
    };
    assert_eq!(names(80, false, 7), ["Ask"]);
    assert_eq!(names(80, false, 9), ["Ask", "Other"]);
    assert_eq!(names(80, false, 2), Vec::<String>::new());
    // A port a probe lists gets it whatever the intensity, first.
    assert_eq!(names(7005, false, 0), ["Other"]);
    assert_eq!(names(7005, false, 9), ["Other", "Ask"]);
    assert_eq!(names(7443, true, 0), ["Ask"]);
}

#[test]
fn syntax_errors_name_the_line() {
    let err = ProbeDb::parse(b"match x m|a|\n").unwrap_err().to_string();
    assert!(err.contains("line 1"), "{err}");
    let err = ProbeDb::parse(b"Probe TCP A q|x|\nrarity 12\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("rarity"), "{err}");
    let err = ProbeDb::parse(b"Probe SCTP A q|x|\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("SCTP"), "{err}");
    let err = ProbeDb::parse(b"Probe TCP A q|x\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unterminated"), "{err}");
}

#[test]
fn escapes() {
    assert_eq!(unescape(br"a\tb\x7f\\\0\q").unwrap(), b"a\tb\x7f\\\0q");
    assert!(unescape(br"\x4").is_err());
    assert!(unescape(b"\\").is_err());
}
