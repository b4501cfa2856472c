//! `--service-version` / `-sV` as a user runs it: against services this test starts itself on
//! loopback (Python's `http.server` on a free port, the same behind TLS with a certificate
//! made by `openssl`, a port that accepts and says nothing, a closed port), in text, ndjson
//! and XML (validated against nmap's DTD and read by nmap's `ndiff`, which shows the
//! versions), and its bad values (exit 2, nothing touched).
//!
//! Python, `openssl`, `xmllint` (with nmap's DTD) and `ndiff` come from Debian packages: a
//! test that lacks one skips with a message naming the package (under CI it fails).

use crate::support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use crate::support::{TempDir, BIN};

/// nmap's DTD, as Debian's `nmap-common` installs it.
const DTD: &str = "/usr/share/nmap/nmap.dtd";

/// A Python web server on a free loopback port, serving an empty directory, plain or (with a
/// certificate and key) inside TLS. Prints its port, then serves until killed. The TLS
/// handshake happens in the connection's thread (not in `accept`), so a client that says
/// nothing holds up no other.
const SERVER: &str = r#"
import http.server, ssl, sys
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A server process, killed (by its own id) and reaped on drop, also when a test fails.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts [`SERVER`] in `dir` (`tls`: certificate and key files) and waits for its port.
    fn start(dir: &Path, tls: Option<(&Path, &Path)>) -> Server {
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(SERVER).arg("-");
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = match line.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the test server did not print its port: {line:?}");
            }
        };
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_python() -> bool {
    support::require_tool("python3", "python3")
}

/// A port that accepts and says nothing, and one that refuses (bound, never listening:
/// [`support::closed_port`]), each for as long as the returned sockets live.
fn silent_and_closed() -> ((TcpListener, socket2::Socket), u16, u16) {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (closed_socket, closed) = support::closed_port("127.0.0.1");
    ((silent, closed_socket), port, closed)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        // No config file of this machine's user changes what the tests see.
        .env("PORTSCOUT_CONFIG", "")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn success(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "portscout {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sv_names_python_http_server_with_its_version_in_text_ndjson_and_xml() {
    if !require_python() {
        return;
    }
    let dir = TempDir::new("sv-http");
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let http = Server::start(&www, None);
    let (_held, silent, closed) = silent_and_closed();
    let ports = format!("{},{silent},{closed}", http.port);
    let xml = dir.path().join("scan.xml");
    let xml = xml.to_str().unwrap();

    // Text, with nmap's spelling; the XML beside it.
    let text = success(&["127.0.0.1", "-p", &ports, "-sV", "-q", "-oX", xml]);
    assert!(
        text.contains("PORT ") && text.contains(" REASON   VERSION\n"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{}/tcp ", http.port)))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains(" http ") && row.contains("SimpleHTTPServer 0.6 (Python 3."),
        "{text}"
    );
    let silent_row = text
        .lines()
        .find(|l| l.starts_with(&format!("{silent}/tcp ")))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(silent_row.contains(" open "), "{text}");
    assert!(!text.contains(&format!("{closed}/tcp")), "{text}");

    // ndjson, with the long spelling and the built-in probes alone (the same answers): the
    // service object on the open ports only.
    let ndjson = success(&[
        "127.0.0.1",
        "-p",
        &ports,
        "--service-version",
        "--service-db",
        "none",
        "--format",
        "ndjson",
        "--show",
        "all",
        "-q",
    ]);
    let records: Vec<serde_json::Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |port: u16| {
        records
            .iter()
            .find(|r| r["port"] == port)
            .unwrap_or_else(|| panic!("{port} in {ndjson}"))
    };
    let service = &of(http.port)["service"];
    assert_eq!(service["name"], "http", "{ndjson}");
    assert_eq!(service["product"], "SimpleHTTPServer", "{ndjson}");
    assert_eq!(service["version"], "0.6", "{ndjson}");
    assert_eq!(service["method"], "probed", "{ndjson}");
    assert_eq!(service["conf"], 10, "{ndjson}");
    assert!(
        service["cpe"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("cpe:/a:python:python:3.")),
        "{ndjson}"
    );
    // The silent port is open, with nothing recognised; the closed one has no service.
    assert_eq!(of(silent)["state"], "open");
    assert_ne!(of(silent)["service"]["method"], "probed", "{ndjson}");
    assert_eq!(of(closed)["state"], "closed");
    assert!(of(closed).get("service").is_none(), "{ndjson}");
    // The closed port's record is not held back by the detections: it comes before the
    // open ports' (each written once, when its detection is over).
    let at = |port: u16| records.iter().position(|r| r["port"] == port).unwrap();
    assert!(
        at(closed) < at(silent) && at(closed) < at(http.port),
        "{ndjson}"
    );

    // XML: valid against nmap's DTD, with the service as nmap -sV writes it.
    let doc = std::fs::read_to_string(xml).unwrap();
    assert!(
        doc.contains(
            "<service name=\"http\" product=\"SimpleHTTPServer\" version=\"0.6\" extrainfo=\"Python 3."
        ) && doc.contains("method=\"probed\" conf=\"10\"><cpe>cpe:/a:python:python:3."),
        "{doc}"
    );
    let dtd = Path::new(DTD).exists()
        || support::skip_or_fail("needs nmap's DTD (apt-get install nmap-common)");
    if dtd && support::require_tool("xmllint", "libxml2-utils") {
        let out = Command::new("xmllint")
            .args(["--noout", "--dtdvalid", DTD, xml])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{doc}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // ndiff reads the versions: against the same ports scanned without -sV, the HTTP port
    // gains its service and version.
    if Command::new("ndiff").arg("-h").output().is_ok()
        || support::skip_or_fail("needs ndiff (apt-get install ndiff)")
    {
        let plain = dir.path().join("plain.xml");
        let plain = plain.to_str().unwrap();
        success(&["127.0.0.1", "-p", &ports, "-q", "-oX", plain]);
        let out = Command::new("ndiff").args([plain, xml]).output().unwrap();
        let diff = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "ndiff: {diff}");
        assert!(
            diff.lines()
                .any(|l| l.starts_with(&format!("+{}/tcp", http.port))
                    && l.contains("http")
                    && l.contains("SimpleHTTPServer 0.6 (Python 3.")),
            "{diff}"
        );
    }
}

#[test]
fn sv_finds_https_inside_tls_and_shows_its_certificate() {
    let openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require_python()
        || !(openssl || support::skip_or_fail("needs `openssl` (apt-get install openssl)"))
    {
        return;
    }
    let dir = TempDir::new("sv-tls");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=portscout-test"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let https = Server::start(&www, Some((&cert, &key)));
    let port = https.port.to_string();

    let text = success(&["127.0.0.1", "-p", &port, "-sV", "-q"]);
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{port}/tcp ")))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains(" ssl/http ") && row.contains("SimpleHTTPServer 0.6"),
        "{text}"
    );
    assert!(
        text.contains(
            "|_tls: TLSv1.3; subject CN=portscout-test; issuer CN=portscout-test; \
                       SANs localhost, 127.0.0.1; expires "
        ),
        "{text}"
    );

    // -n: no `hostname` record that might come first.
    let ndjson = success(&[
        "127.0.0.1",
        "-p",
        &port,
        "-sV",
        "-q",
        "-n",
        "--format",
        "ndjson",
    ]);
    let record: serde_json::Value = serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
    let service = &record["service"];
    assert_eq!(service["name"], "http", "{ndjson}");
    assert_eq!(service["tls"]["subject"], "CN=portscout-test", "{ndjson}");
    assert_eq!(service["tls"]["sans"][1], "127.0.0.1", "{ndjson}");
}

#[test]
fn bad_service_options_exit_2_naming_the_token_and_touch_nothing() {
    let dir = TempDir::new("sv-bad");
    let out_file = dir.path().join("out.txt");
    let out_file = out_file.to_str().unwrap();
    let missing = dir.path().join("no-such-probes");
    let missing = missing.to_str().unwrap();
    let garbage = dir.path().join("garbage-probes");
    std::fs::write(&garbage, "Probe TCP NULL q||\nmatch ssh m|unterminated\n").unwrap();
    let garbage = garbage.to_str().unwrap();
    for (args, token) in [
        (vec!["-sV", "--version-intensity", "10"], "10"),
        (vec!["-sV", "--version-intensity", "-1"], "-1"),
        (vec!["-sV", "--version-intensity", "high"], "high"),
        (vec!["-sV", "--service-db", missing], missing),
        (vec!["-sV", "--service-db", garbage], garbage),
        // Detection options without detection do nothing: refused rather than ignored.
        (vec!["--version-intensity", "3"], "--service-version"),
        (vec!["--service-db", missing], "--service-version"),
    ] {
        let mut all = vec!["127.0.0.1", "-p", "1", "-o", out_file];
        all.extend(&args);
        let out = run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(token),
            "{args:?} should name `{token}`: {stderr}"
        );
        assert!(
            !Path::new(out_file).exists(),
            "{args:?} created the output file"
        );
    }
}

/// A service on a port of its own that sends its greeting on every connection and closes it,
/// until dropped. The greeting can change while it runs (a new version on the same port).
struct Greeter {
    port: u16,
    greeting: std::sync::Arc<std::sync::Mutex<&'static [u8]>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Greeter {
    fn start(greeting: &'static [u8]) -> Greeter {
        use std::io::Write;
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let greeting = std::sync::Arc::new(std::sync::Mutex::new(greeting));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (greeting2, stop2) = (
            std::sync::Arc::clone(&greeting),
            std::sync::Arc::clone(&stop),
        );
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let bytes = *greeting2.lock().unwrap();
                        let _ = conn.write_all(bytes);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Greeter {
            port,
            greeting,
            stop,
            thread: Some(thread),
        }
    }

    /// Greets every later connection with `greeting`.
    fn greet_with(&self, greeting: &'static [u8]) {
        *self.greeting.lock().unwrap() = greeting;
    }
}

impl Drop for Greeter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_new_version_on_the_same_port_is_a_change_in_diff() {
    let dir = TempDir::new("sv-diff");
    let db = dir.path().join("scans.db");
    let db = db.to_str().unwrap();
    // One listener for both scans: closing it and binding its port again for the second
    // would leave the port free in between for a test running beside this one to take.
    let service = Greeter::start(b"SSH-2.0-OpenSSH_9.2p1\r\n");
    let port = service.port;
    let spec = port.to_string();
    let scan = || success(&["127.0.0.1", "-p", &spec, "-sV", "-q", "--db", db]);
    let first = scan();
    assert!(first.contains("OpenSSH 9.2p1"), "{first}");
    // The same port, another version.
    service.greet_with(b"SSH-2.0-OpenSSH_9.6p1\r\n");
    let second = scan();
    assert!(second.contains("OpenSSH 9.6p1"), "{second}");

    let out = run(&["diff", "--db", db, "--exit-code"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "~ 127.0.0.1 {port}/tcp open ssh OpenSSH 9.6p1 (was ssh OpenSSH 9.2p1)"
        )),
        "{text}"
    );
    assert!(text.contains("1 service(s) changed"), "{text}");
    let ndjson = success(&["diff", "--db", db, "--format", "ndjson"]);
    let change: serde_json::Value = serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
    assert_eq!(change["change"], "service", "{ndjson}");
    assert_eq!(change["service"], "ssh OpenSSH 9.6p1", "{ndjson}");
    assert_eq!(change["was_service"], "ssh OpenSSH 9.2p1", "{ndjson}");
}
