//! `--banners` as a user runs it: banners in text, ndjson and csv, none without the flag, bad
//! values, `--dry-run`, and the SYN scan (in a namespace, as root: skipped otherwise).
//!
//! Scans here target only loopback, at services the test owns: on this machine's loopback at
//! an address of 127.66.0.0/16 picked from the process id (so that the HTTP service can have
//! a well-known HTTP port without meeting another test's listener), and on the loopback of a
//! namespace the SYN test creates.

use crate::support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::portscout;

const GREETING: &[u8] = b"SSH-2.0-OpenSSH_9.6 portscout-test\r\n";
const HOSTILE: &[u8] = b"\x1b]0;pwned\x07\x1b[2J\xff root# ";
const HTTP_ANSWER: &[u8] = b"HTTP/1.0 200 OK\r\nServer: portscout-test\r\n\r\n";

/// What a [`Service`] does with each connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Sends these bytes at once, then waits for the client to close.
    Greet(&'static [u8]),
    /// Reads a request up to its blank line; answers [`HTTP_ANSWER`] to a `HEAD /` only.
    Http,
    /// Sends nothing; waits for the client to close.
    Silent,
}

/// A TCP service that plays its behaviour on every connection, each on a thread, and keeps
/// the bytes each connection sent. Dropping it stops accepting and closes the listener.
struct Service {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    fn start(listener: TcpListener, behaviour: Behaviour) -> Service {
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (received2, stop2) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let received = Arc::clone(&received2);
                std::thread::spawn(move || {
                    let _ = conn.set_nonblocking(false);
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut got = Vec::new();
                    match behaviour {
                        Behaviour::Greet(bytes) => {
                            let _ = conn.write_all(bytes);
                            let _ = conn.read_to_end(&mut got);
                        }
                        Behaviour::Silent => {
                            let _ = conn.read_to_end(&mut got);
                        }
                        Behaviour::Http => {
                            let mut byte = [0u8];
                            while !got.ends_with(b"\r\n\r\n") {
                                match conn.read(&mut byte) {
                                    Ok(1) => got.push(byte[0]),
                                    _ => break,
                                }
                            }
                            if got.starts_with(b"HEAD / HTTP/1.0\r\n") {
                                let _ = conn.write_all(HTTP_ANSWER);
                            }
                        }
                    }
                    received.lock().unwrap().push(got);
                });
            }
        });
        Service {
            addr,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What the connections that sent anything sent.
    fn requests(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The services of one test: an SSH-like greeter, a hostile one, a silent one, an HTTP
/// server on a well-known HTTP port, and a port where nothing listens (bound, never
/// listening, so that no other test can take it while this one runs).
struct Services {
    ip: Ipv4Addr,
    ssh: Service,
    hostile: Service,
    silent: Service,
    http: Service,
    closed: u16,
    _closed_socket: socket2::Socket,
}

impl Services {
    /// Binds them with `bind` (which may create the sockets in a namespace) on `ip`; the
    /// closed port is `closed`'s (`support::closed_port` there).
    fn start(
        ip: Ipv4Addr,
        bind: impl Fn(u16) -> std::io::Result<TcpListener>,
        closed: impl FnOnce() -> (socket2::Socket, u16),
    ) -> Services {
        // The first HTTP port of portscout's list that is free at this address.
        let http = portscout::banner::HTTP_PORTS
            .iter()
            .find_map(|&p| bind(p).ok())
            .expect("no HTTP port free");
        let (closed_socket, closed) = closed();
        Services {
            ip,
            ssh: Service::start(bind(0).unwrap(), Behaviour::Greet(GREETING)),
            hostile: Service::start(bind(0).unwrap(), Behaviour::Greet(HOSTILE)),
            silent: Service::start(bind(0).unwrap(), Behaviour::Silent),
            http: Service::start(http, Behaviour::Http),
            closed,
            _closed_socket: closed_socket,
        }
    }

    /// On this machine's loopback, at an address of 127.66.0.0/16 of this process.
    fn on_loopback() -> Services {
        let pid = std::process::id();
        let ip = Ipv4Addr::new(127, 66, (pid >> 8) as u8, pid as u8 | 1);
        Services::start(
            ip,
            |port| TcpListener::bind((ip, port)),
            || support::closed_port(&ip.to_string()),
        )
    }

    fn ports(&self) -> String {
        [
            self.ssh.port(),
            self.hostile.port(),
            self.silent.port(),
            self.http.port(),
            self.closed,
        ]
        .map(|p| p.to_string())
        .join(",")
    }

    /// The request the HTTP service must have received (HTTP leaves out port 80 in `Host`).
    fn head_request(&self) -> String {
        match self.http.port() {
            80 => format!("HEAD / HTTP/1.0\r\nHost: {}\r\n\r\n", self.ip),
            port => format!("HEAD / HTTP/1.0\r\nHost: {}:{port}\r\n\r\n", self.ip),
        }
    }
}

fn run(args: &[&str]) -> String {
    let out = portscout()
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// `port` → `banner` of each ndjson port record (`None` without the key), with its state.
fn ndjson_banners(stdout: &str) -> Vec<(u16, String, Option<String>)> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("port").is_some())
        .map(|v| {
            (
                v["port"].as_u64().unwrap() as u16,
                v["state"].as_str().unwrap().to_string(),
                v.get("banner").map(|b| b.as_str().unwrap().to_string()),
            )
        })
        .collect()
}

/// Checks the ndjson records of a `--banners --show all` scan of `s`.
#[track_caller]
fn assert_ndjson_banners(s: &Services, stdout: &str) {
    let mut records = ndjson_banners(stdout);
    records.sort();
    let mut want = vec![
        (
            s.ssh.port(),
            "open".to_string(),
            Some(r"SSH-2.0-OpenSSH_9.6 portscout-test\r\n".to_string()),
        ),
        (
            s.hostile.port(),
            "open".to_string(),
            Some(r"\x1B]0;pwned\x07\x1B[2J\xFF root# ".to_string()),
        ),
        (s.silent.port(), "open".to_string(), None),
        (
            s.http.port(),
            "open".to_string(),
            Some(r"HTTP/1.0 200 OK\r\nServer: portscout-test\r\n\r\n".to_string()),
        ),
        (s.closed, "closed".to_string(), None),
    ];
    want.sort();
    assert_eq!(records, want, "{stdout}");
}

#[test]
fn banners_in_text_and_ndjson() {
    let s = Services::on_loopback();
    let ip = s.ip.to_string();
    let ports = s.ports();
    let text = run(&[&ip, "-p", &ports, "--banners", "--banner-timeout", "500"]);
    let lines: Vec<&str> = text.lines().collect();
    let after = |port: u16| {
        let row = lines
            .iter()
            .position(|l| l.starts_with(&format!("{port}/tcp ")))
            .unwrap_or_else(|| panic!("no row for {port}:\n{text}"));
        lines.get(row + 1).copied().unwrap_or("")
    };
    assert_eq!(
        after(s.ssh.port()),
        "|_banner: SSH-2.0-OpenSSH_9.6 portscout-test"
    );
    assert_eq!(
        after(s.hostile.port()),
        r"|_banner: \x1B]0;pwned\x07\x1B[2J\xFF root#"
    );
    assert_eq!(
        after(s.http.port()),
        r"|_banner: HTTP/1.0 200 OK\r\nServer: portscout-test"
    );
    assert!(!after(s.silent.port()).starts_with("|_banner"), "{text}");
    // Nothing a terminal would act on.
    assert!(
        text.bytes()
            .all(|b| b == b'\n' || (0x20..0x7f).contains(&b)),
        "{text:?}"
    );
    // The HTTP service got exactly the minimal request (once per grab); the others nothing.
    assert_eq!(s.http.requests(), vec![s.head_request()]);
    assert!(s.ssh.requests().is_empty() && s.silent.requests().is_empty());

    let ndjson = run(&[
        &ip,
        "-p",
        &ports,
        "--banners",
        "--format",
        "ndjson",
        "--show",
        "all",
    ]);
    assert_ndjson_banners(&s, &ndjson);
}

#[test]
fn banners_in_csv() {
    let s = Services::on_loopback();
    let csv = run(&[
        &s.ip.to_string(),
        "-p",
        &s.ports(),
        "--banners",
        "--format",
        "csv",
    ]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("ip,port,protocol,state,reason,rtt_ms,banner")
    );
    let ssh = lines
        .find(|l| l.starts_with(&format!("{},{},", s.ip, s.ssh.port())))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        ssh.ends_with(r",SSH-2.0-OpenSSH_9.6 portscout-test\r\n"),
        "{ssh}"
    );
}

#[test]
fn without_banners_nothing_is_grabbed() {
    let s = Services::on_loopback();
    let ip = s.ip.to_string();
    let ports = s.ports();
    let text = run(&[&ip, "-p", &ports]);
    assert!(!text.contains("banner"), "{text}");
    assert_eq!(text.matches(" open ").count(), 4, "{text}");
    let ndjson = run(&[&ip, "-p", &ports, "--format", "ndjson", "--show", "all"]);
    let records = ndjson_banners(&ndjson);
    assert_eq!(records.len(), 5, "{ndjson}");
    assert!(records.iter().all(|(_, _, b)| b.is_none()), "{ndjson}");
    let csv = run(&[&ip, "-p", &ports, "--format", "csv"]);
    assert!(
        csv.starts_with("ip,port,protocol,state,reason,rtt_ms\n"),
        "{csv}"
    );
    // No request was sent to the HTTP port: the scan only connects.
    assert!(s.http.requests().is_empty(), "{:?}", s.http.requests());
}

#[test]
fn bad_banner_values_exit_2_naming_the_token() {
    for (args, token) in [
        (&["--banners", "--banner-timeout", "0"][..], "`0`"),
        (&["--banners", "--banner-timeout", "1.5"][..], "`1.5`"),
        (&["--banners", "--banner-timeout", "-3"][..], "-3"),
        (&["--banner-timeout", "500"][..], "--banners"),
        (&["--banners=yes"][..], "--banners"),
    ] {
        let out = portscout()
            .args(["127.0.0.1", "-p", "1"])
            .args(args)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
        assert!(stderr.contains(token), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn banners_with_dry_run_change_nothing() {
    let args = ["127.0.0.1", "-p", "22,80", "--dry-run", "--seed", "1"];
    let plain = run(&args);
    let with = run(&[&args[..], &["--banners"]].concat());
    assert_eq!(plain, with);
    assert_eq!(plain.lines().count(), 2, "{plain}");
}

/// Capability sets (CapEff, CapPrm, CapBnd) and names of every thread of `pid`.
fn threads(pid: u32) -> Vec<(String, [u64; 3])> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                    .unwrap_or(u64::MAX)
            };
            let name = status.lines().next()?.strip_prefix("Name:")?.trim();
            Some((
                name.to_string(),
                [field("CapEff:"), field("CapPrm:"), field("CapBnd:")],
            ))
        })
        .collect()
}

/// A SYN scan gets the same banners (a grab is a plain connect), and its banner thread, like
/// every other, holds no capability.
#[test]
fn syn_scan_banners() {
    if !support::require_root() {
        return;
    }
    let ns = support::Netns::new("bansyn");
    let ip = Ipv4Addr::LOCALHOST;
    let s = Services::start(
        ip,
        |port| ns.run_in(|| TcpListener::bind((ip, port))),
        || ns.run_in(|| support::closed_port("127.0.0.1")),
    );
    let ports = s.ports();
    let args = [
        "127.0.0.1",
        "-p",
        &ports,
        "--scan",
        "syn",
        "--banners",
        "--format",
        "ndjson",
        "--show",
        "all",
    ];
    let run = ns.scan(&args);
    run.assert_success();
    assert_ndjson_banners(&s, &run.stdout);
    assert_eq!(s.http.requests(), vec![s.head_request()]);

    // While the grab of the silent service waits (3 s), look at the threads.
    let dir = support::TempDir::new("bansyn");
    let mut running = ns.spawn_in(
        dir.path(),
        &[&args[..], &["--banner-timeout", "3000"]].concat(),
    );
    let pid = running.pid();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        seen = threads(pid);
        if seen.iter().any(|(name, _)| name == "portscout-grabs") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // (Whether it still runs matters only when no banner thread was seen: once seen, the
    // scan may end at any moment.)
    let still_running = running.is_running();
    let run = running.wait();
    run.assert_success();
    assert_ndjson_banners(&s, &run.stdout);
    assert!(
        seen.iter().any(|(name, _)| name == "portscout-grabs"),
        "no banner thread (scan still running when the look ended: {still_running}): {seen:?}"
    );
    for (name, caps) in &seen {
        assert_eq!(caps, &[0, 0, 0], "thread {name} holds capabilities");
    }
}
