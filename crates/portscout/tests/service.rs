//! Service detection against real services on loopback that the tests start themselves:
//! Python's `http.server`, an `sshd` in inetd mode (when openssh-server is installed), TLS
//! servers made with rustls, a greeting MySQL-like service, a silent port, a tarpit that
//! trickles, a port that closes at once, a port that never accepts. Exact service and
//! version; bounded time; the built-in probes and nmap's database agree where both answer.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use portscout::service::{detect, detect_all, DetectError, DetectOptions, Method, ProbeDb};
use support::{service, Behaviour};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// A child process killed and reaped when dropped (also when a test fails).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Python's http.server on a free port, and Python's version.
fn python_http() -> (Reaped, u16, String) {
    let version = Command::new("python3")
        .args(["-c", "import sys; print(sys.version.split()[0])"])
        .output()
        .expect("python3");
    let version = String::from_utf8(version.stdout)
        .unwrap()
        .trim()
        .to_string();
    let dir = std::env::temp_dir();
    let mut child = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let stdout = child.stdout.take().unwrap();
    let child = Reaped(child);
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port, version)
}

fn installed_db() -> Option<Arc<ProbeDb>> {
    match ProbeDb::load_installed() {
        Ok(db) => Some(Arc::new(db)),
        Err(e) => {
            assert!(
                !in_ci(),
                "CI is set but nmap's service probes are missing: {e}"
            );
            eprintln!("skipped the nmap half: {e}");
            None
        }
    }
}

#[tokio::test]
async fn python_http_server() {
    let (_server, port, python) = python_http();
    let info = detect(addr(port), &DetectOptions::default()).await.unwrap();
    assert_eq!(info.name, "http");
    assert_eq!(info.product.as_deref(), Some("SimpleHTTPServer"));
    assert_eq!(info.version.as_deref(), Some("0.6"));
    assert_eq!(
        info.extrainfo.as_deref(),
        Some(format!("Python {python}").as_str())
    );
    assert_eq!(info.method, Method::Probed);
    assert_eq!(info.confidence, 10);
    assert!(info.tls.is_none());

    if let Some(db) = installed_db() {
        let options = DetectOptions::default().with_nmap_db(db, true);
        let theirs = detect(addr(port), &options).await.unwrap();
        assert_eq!(
            (&theirs.name, &theirs.product, &theirs.version),
            (&info.name, &info.product, &info.version),
            "nmap's database: {theirs:?}"
        );
    }
}

/// `sshd` on a loopback port the test holds: its listener hands each connection to a fresh
/// `sshd -i` (inetd mode: the connection is its standard input and output), with a temporary
/// configuration and host key. The port is never free: a port picked free and given to a
/// daemon to bind is free until the daemon binds it, for any test running beside this one to
/// take (then the daemon fails, and the test reads the other test's service).
fn sshd() -> Option<(Inetd, u16, tempdir::Dir)> {
    let sshd = std::path::Path::new("/usr/sbin/sshd");
    if !sshd.exists() {
        assert!(!in_ci(), "CI is set but /usr/sbin/sshd is missing");
        eprintln!("skipped: /usr/sbin/sshd is not installed (apt-get install openssh-server)");
        return None;
    }
    let dir = tempdir::Dir::new("portscout-i20-sshd");
    let key = dir.path.join("host_ed25519");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    // The privilege separation directory sshd insists on (made at boot on a full system).
    let _ = std::fs::create_dir_all("/run/sshd");
    let config = dir.path.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "HostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\n",
            key.display(),
            dir.path.join("sshd.pid").display()
        ),
    )
    .unwrap();
    // The configuration is sound before any connection depends on it (`-t`: test mode).
    let check = Command::new(sshd)
        .args(["-t", "-f"])
        .arg(&config)
        .output()
        .expect("sshd -t");
    assert!(
        check.status.success(),
        "sshd -t: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut command = Command::new(sshd);
    command.args(["-i", "-e", "-f"]).arg(&config);
    Some((Inetd::start(listener, command), port, dir))
}

/// An inetd of one service: runs `command` for each connection to its listener, the
/// connection as the command's standard input and output, until dropped; then stops
/// accepting, and kills and reaps every command it started.
struct Inetd {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    children: Arc<std::sync::Mutex<Vec<Reaped>>>,
}

impl Inetd {
    fn start(listener: TcpListener, mut command: Command) -> Inetd {
        use std::sync::atomic::Ordering;
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let children = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop2, children2) = (Arc::clone(&stop), Arc::clone(&children));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let input = conn.try_clone().expect("clone the connection");
                let child = command
                    .stdin(Stdio::from(std::os::fd::OwnedFd::from(input)))
                    .stdout(Stdio::from(std::os::fd::OwnedFd::from(conn)))
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start the service");
                children2.lock().unwrap().push(Reaped(child));
            }
        });
        Inetd {
            stop,
            thread: Some(thread),
            children,
        }
    }
}

impl Drop for Inetd {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

mod tempdir {
    /// A temporary directory removed when dropped.
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new(prefix: &str) -> Dir {
            let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[tokio::test]
async fn openssh_server() {
    let Some((_sshd, port, _dir)) = sshd() else {
        return;
    };
    let info = detect(addr(port), &DetectOptions::default()).await.unwrap();
    assert_eq!(info.name, "ssh");
    assert_eq!(info.product.as_deref(), Some("OpenSSH"));
    assert_eq!(info.extrainfo.as_deref(), Some("protocol 2.0"));
    // Debian's package version `1:9.2p1-2+deb12u3` is the banner's `9.2p1 Debian-2+deb12u3`.
    let package = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "openssh-server"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .filter(|v| !v.is_empty());
    let version = info.version.clone().unwrap();
    match package {
        Some(p) => {
            let p = p.split_once(':').map_or(p.as_str(), |(_, v)| v);
            let (upstream, revision) = p.split_once('-').unwrap();
            assert_eq!(version, format!("{upstream} Debian {revision}"));
            assert!(info
                .cpes
                .contains(&format!("cpe:/a:openbsd:openssh:{upstream}")));
            assert_eq!(info.ostype.as_deref(), Some("Linux"));
        }
        None => assert!(
            version.starts_with(|c: char| c.is_ascii_digit()),
            "{version}"
        ),
    }
    if let Some(db) = installed_db() {
        let theirs = detect(addr(port), &DetectOptions::default().with_nmap_db(db, true))
            .await
            .unwrap();
        assert_eq!(
            (
                &theirs.name,
                &theirs.product,
                &theirs.version,
                &theirs.extrainfo
            ),
            (&info.name, &info.product, &info.version, &info.extrainfo)
        );
    }
}

/// A TLS server with a self-signed certificate for `localhost` and 127.0.0.1 that, after the
/// handshake, greets with `greeting` (when not empty) or answers the first request with
/// `answer`.
async fn tls_server(greeting: &'static [u8], answer: &'static [u8]) -> u16 {
    tls_server_with_plain(greeting, answer, b"").await
}

/// [`tls_server`] that answers a client which does not start with a TLS record with `plain`
/// (when not empty), as nginx does on its TLS ports.
async fn tls_server_with_plain(
    greeting: &'static [u8],
    answer: &'static [u8],
    plain: &'static [u8],
) -> u16 {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                if !plain.is_empty()
                    && matches!(tcp.peek(&mut first).await, Ok(1))
                    && first[0] != 0x16
                {
                    let _ = tcp.read(&mut [0u8; 1024]).await;
                    let _ = tcp.write_all(plain).await;
                    return;
                }
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if !greeting.is_empty() {
                    let _ = tls.write_all(greeting).await;
                }
                let mut buf = [0u8; 1024];
                if let Ok(n) = tls.read(&mut buf).await {
                    if n > 0 && !answer.is_empty() {
                        let _ = tls.write_all(answer).await;
                        let _ = tls.shutdown().await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn https_inside_tls() {
    let port = tls_server(
        b"",
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let info = detect(addr(port), &DetectOptions::default()).await.unwrap();
    assert_eq!(info.display_name(), "ssl/http");
    assert_eq!(info.product.as_deref(), Some("nginx"));
    assert_eq!(info.version.as_deref(), Some("1.22.1"));
    let tls = info.tls.expect("TLS info");
    assert_eq!(tls.subject.as_deref(), Some("CN=rcgen self signed cert"));
    assert_eq!(tls.issuer, tls.subject);
    assert_eq!(tls.sans, ["localhost", "127.0.0.1"]);
    assert!(tls.not_after.as_deref().unwrap().ends_with('Z'));
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
    assert!(tls.cipher.as_deref().unwrap().starts_with("TLS13_"));
}

/// nginx on a TLS port answers plain HTTP with a 400 of its own: HTTP, but the handshake
/// decides (`ssl/http`).
#[tokio::test]
async fn tls_port_that_answers_plain_http_too() {
    let port = tls_server_with_plain(
        b"",
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n</body>\r\n</html>\r\n",
    )
    .await;
    let info = detect(addr(port), &DetectOptions::default()).await.unwrap();
    assert_eq!(info.display_name(), "ssl/http");
    assert_eq!(info.product.as_deref(), Some("nginx"));
    assert!(info.tls.is_some());
}

#[tokio::test]
async fn imaps_inside_tls() {
    let port = tls_server(
        b"* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.\r\n",
        b"",
    )
    .await;
    let info = detect(addr(port), &DetectOptions::default()).await.unwrap();
    assert_eq!(info.display_name(), "ssl/imap");
    assert_eq!(info.product.as_deref(), Some("Dovecot imapd"));
}

#[tokio::test]
async fn tls_that_says_nothing_inside_is_ssl() {
    let port = tls_server(b"", b"").await;
    let info = detect(addr(port), &DetectOptions::default()).await.unwrap();
    assert_eq!(info.name, "ssl");
    assert!(info.tls.unwrap().sans.contains(&"localhost".to_string()));
}

#[tokio::test]
async fn greeting_service() {
    let mut body = vec![0x0a];
    body.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
    body.extend_from_slice(&[
        9, 0, 0, 0, b'x', b'x', b'x', b'x', b'x', b'x', b'x', b'x', 0,
    ]);
    let mut packet = vec![body.len() as u8, 0, 0, 0];
    packet.extend(body);
    let svc = service(Behaviour::Greet(packet));
    let info = detect(addr(svc.port), &DetectOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (
            info.name.as_str(),
            info.product.as_deref(),
            info.version.as_deref()
        ),
        ("mysql", Some("MariaDB"), Some("10.11.6"))
    );
}

#[tokio::test]
async fn silent_port_costs_bounded_time() {
    use std::sync::atomic::Ordering::SeqCst;
    let svc = service(Behaviour::Silent);
    // A budget far above: only giving up after silent probes ends the detection in time.
    let options = DetectOptions {
        budget: Duration::from_secs(300),
        ..DetectOptions::default()
    };
    let start = Instant::now();
    let info = detect(addr(svc.port), &options).await.unwrap();
    let took = start.elapsed();
    // Nothing recognised: the port table's name (none for an ephemeral port), a guess.
    assert_eq!(info.method, Method::Table);
    assert_eq!(info.confidence, 3);
    // It was asked something: the GET after the greeting's wait, then other probes, each on
    // a connection of its own (the GET on the greeting's).
    assert!(
        support::eventually(Duration::from_secs(60), || svc.accepted.load(SeqCst) >= 2),
        "no probe after the greeting"
    );
    // Given up after `silent_probes` silent waits, the greeting's included: at most that many
    // connections, where the whole sequence (a dozen probes and the TLS handshake) takes one
    // for nearly every probe. Counted, not timed: what the give-up bounds is the number of
    // waits, and so the time.
    let accepted = svc.accepted.load(SeqCst);
    assert!(
        accepted <= options.silent_probes,
        "{accepted} connections: the silent port was not given up on"
    );
    // And the budget did not end it: the waits of the silent probes, and 30 s for a loaded
    // machine, are far below it. (No speed is asserted: that is `bench/`'s business.)
    let bound = options.greeting_wait + options.probe_wait * options.silent_probes as u32;
    assert!(took < bound + Duration::from_secs(30), "{took:?}");
}

/// A tarpit: accepts, then sends a byte every 100 ms forever (each read comes before the
/// quiet gap ends, so only the budget stops it).
#[tokio::test]
async fn trickling_tarpit_stops_at_the_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let stop = Arc::clone(&stop2);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst)
                    && conn.write_all(b"x").is_ok()
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
    });
    let budget = Duration::from_secs(2);
    let options = DetectOptions {
        budget,
        ..DetectOptions::default()
    };
    let start = Instant::now();
    // Without the budget the tarpit would hold the first answer until its 16 KiB cap (27
    // minutes at 10 bytes a second). The bound, the budget and 30 s for a loaded machine,
    // tells the budget from that; it asserts no speed.
    let info = tokio::time::timeout(
        budget + Duration::from_secs(30),
        detect(addr(port), &options),
    )
    .await
    .expect("detection outlived its budget")
    .unwrap();
    let took = start.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(info.method, Method::Table);
    // The budget, and nothing before it, ended the detection.
    assert!(took >= budget, "{took:?}");
}

#[tokio::test]
async fn closed_at_once_is_tcpwrapped() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    let info = detect(addr(port), &DetectOptions::default()).await.unwrap();
    assert_eq!(info.name, "tcpwrapped");
}

#[tokio::test]
async fn a_port_that_never_accepts_is_an_error_within_the_budget() {
    let silent = support::silent();
    let options = DetectOptions {
        budget: Duration::from_secs(1),
        ..DetectOptions::default()
    };
    let err = detect(addr(silent.port), &options).await.unwrap_err();
    assert!(matches!(err, DetectError::ConnectTimeout(_)), "{err}");
    let (_closed_socket, closed) = support::closed_port();
    let err = detect(addr(closed), &options).await.unwrap_err();
    assert!(matches!(err, DetectError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn detect_all_runs_ports_concurrently() {
    let ssh = service(Behaviour::Greet(
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec(),
    ));
    let ftp = service(Behaviour::Greet(b"220 (vsFTPd 3.0.3)\r\n".to_vec()));
    let silent: Vec<_> = (0..4).map(|_| service(Behaviour::Silent)).collect();
    let mut targets = vec![addr(ssh.port), addr(ftp.port)];
    targets.extend(silent.iter().map(|s| addr(s.port)));
    let accepted = || {
        silent
            .iter()
            .map(|s| s.accepted.load(std::sync::atomic::Ordering::SeqCst))
            .collect::<Vec<_>>()
    };
    let mut results = Vec::new();
    // The silent ports' connections when the first silent port's result came.
    let mut at_first_silent = None;
    let mut stream = std::pin::pin!(detect_all(targets.clone(), DetectOptions::default(), 256));
    while let Some((target, result)) = stream.next().await {
        if at_first_silent.is_none() && silent.iter().any(|s| s.port == target.port()) {
            at_first_silent = Some(accepted());
        }
        results.push((target, result));
    }
    assert_eq!(results.len(), targets.len());
    // The greeting services come first: they do not wait for the silent ones.
    let names: Vec<_> = results
        .iter()
        .map(|(_, r)| r.as_ref().unwrap().name.clone())
        .collect();
    let mut first_two = names[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["ftp", "ssh"]);
    // Four silent ports at once: when the first of them is given up on (after seconds of
    // waits), every one of them has been connected to. One at a time, the other three would
    // not have been yet. An order of events, not a time: no speed is asserted.
    let at_first_silent = at_first_silent.expect("a silent port's result");
    assert!(
        at_first_silent.iter().all(|&n| n >= 1),
        "connections to the silent ports when the first was given up on: {at_first_silent:?}"
    );
}
