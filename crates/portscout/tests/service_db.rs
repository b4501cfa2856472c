//! nmap's own `nmap-service-probes`, when installed (Debian's `nmap-common`): it parses, its
//! patterns compile under PCRE2, and its answers agree with the built-in probes' on the
//! greetings and answers of the common Debian daemons. Skips with a message where the file
//! is absent, fails under CI (`.ci/run` installs nmap-common). The file is read where nmap
//! installed it; nothing of it is in this repository.

use portscout::service::builtin;
use portscout::service::nmapdb::{ProbeDb, Protocol, INSTALLED_PATHS};

fn installed() -> Option<ProbeDb> {
    match ProbeDb::load_installed() {
        Ok(db) => Some(db),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but nmap's service probes are missing: {e}"
            );
            eprintln!("skipped: {e} (apt-get install nmap-common)");
            None
        }
    }
}

#[test]
fn the_installed_database_parses_and_compiles() {
    let Some(db) = installed() else { return };
    let tcp = db
        .probes
        .iter()
        .filter(|p| p.protocol == Protocol::Tcp)
        .count();
    let compiled = db.match_count();
    let failed = db.failed_patterns().len();
    let rate = compiled as f64 / (compiled + failed) as f64;
    eprintln!(
        "{}: {} probes ({tcp} TCP), {compiled} patterns compiled, {failed} refused ({:.2} %)",
        INSTALLED_PATHS[0],
        db.probes.len(),
        rate * 100.0
    );
    for (line, why) in db.failed_patterns().iter().take(20) {
        eprintln!("  line {line}: {why}");
    }
    assert!(db.probes.len() >= 100, "{} probes", db.probes.len());
    assert!(compiled >= 10_000, "{compiled} patterns");
    assert!(
        rate >= 0.99,
        "only {:.2} % of the patterns compiled",
        rate * 100.0
    );
    let null = db.probe(Protocol::Tcp, "NULL").expect("a NULL probe");
    assert!(null.payload.is_empty() && null.totalwait.is_some());
    let get = db.probe(Protocol::Tcp, "GetRequest").expect("GetRequest");
    assert_eq!(get.payload, b"GET / HTTP/1.0\r\n\r\n");
    assert!(get.ports.contains(80) && get.sslports.contains(443));
}

/// Answers of the common Debian daemons (as they send them; written for this test) read by
/// the built-in readers and by nmap's matches of the probe that provoked them.
const ANSWERS: &[(&str, &str, u16, &[u8])] = &[
    ("", "NULL", 22, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
    ("", "NULL", 22, b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n"),
    ("", "NULL", 21, b"220 (vsFTPd 3.0.3)\r\n"),
    ("", "NULL", 25, b"220 mail.example.test ESMTP Exim 4.96 Thu, 03 Dec 2026 10:00:00 +0000\r\n"),
    ("", "NULL", 25, b"220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n"),
    ("", "NULL", 110, b"+OK Dovecot (Debian) ready.\r\n"),
    ("", "NULL", 143, b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"),
    ("", "NULL", 5900, b"RFB 003.008\n"),
    ("http", "GetRequest", 80, b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 03 Dec 2026 10:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    ("http", "GetRequest", 80, b"HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 10:00:00 GMT\r\nServer: Apache/2.4.62 (Debian)\r\nContent-Length: 0\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n"),
    ("http", "GetRequest", 28080, b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nDate: Thu, 03 Dec 2026 10:00:00 GMT\r\nContent-type: text/html; charset=utf-8\r\nContent-Length: 0\r\n\r\n"),
    ("redis", "redis-server", 6379, b"$40\r\n# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n"),
    ("memcached", "memcached", 11211, b"STAT pid 700\r\nSTAT uptime 12\r\nSTAT time 1796292000\r\nSTAT version 1.6.18\r\nSTAT libevent 2.1.12-stable\r\nEND\r\n"),
];

/// Which nmap probe carries what a built-in probe asks (the same request).
fn nmap_probe<'a>(db: &'a ProbeDb, name: &str) -> &'a portscout::service::nmapdb::Probe {
    let wanted: &[u8] = match name {
        "redis-server" => b"*1\r\n$4\r\ninfo\r\n",
        "memcached" => b"stats\r\n",
        _ => {
            return db
                .probe(Protocol::Tcp, name)
                .unwrap_or_else(|| panic!("no {name}"))
        }
    };
    // By payload where the names differ between nmap versions; else by name.
    db.probes
        .iter()
        .find(|p| p.payload == wanted)
        .or_else(|| db.probe(Protocol::Tcp, name))
        .unwrap_or_else(|| panic!("no probe {name}"))
}

#[test]
fn builtin_and_nmap_agree() {
    let Some(db) = installed() else { return };
    let mut disagree = Vec::new();
    for &(builtin_probe, probe, port, answer) in ANSWERS {
        let ours = builtin::identify(builtin_probe, answer, port).unwrap_or_else(|| {
            panic!(
                "built-in: nothing for {:?}",
                String::from_utf8_lossy(answer)
            )
        });
        let Some(theirs) = db.identify(nmap_probe(&db, probe), answer) else {
            disagree.push(format!(
                "nmap: nothing for {:?}",
                String::from_utf8_lossy(answer)
            ));
            continue;
        };
        // A soft match (nmap's file says the service, not the product) answers the name only.
        let soft = theirs.confidence < 10;
        let a = (
            &ours.name,
            (!soft).then_some(&ours.product),
            (!soft).then_some(&ours.version),
        );
        let b = (
            &theirs.name,
            (!soft).then_some(&theirs.product),
            (!soft).then_some(&theirs.version),
        );
        if a != b {
            disagree.push(format!(
                "{:?}\n  built-in {a:?} ({:?})\n  nmap     {b:?} ({:?})",
                String::from_utf8_lossy(answer),
                ours.extrainfo,
                theirs.extrainfo
            ));
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}
