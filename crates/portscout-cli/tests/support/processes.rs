//! Running the scanner: finished and running scans, temporary directories, the command.

use super::*;

/// One finished run of the scanner.
#[derive(Debug)]
pub struct ScanRun {
    /// The arguments given to portscout.
    pub args: Vec<String>,
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ScanRun {
    /// Panic (with stderr) unless the scanner exited 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "portscout {:?} exited {:?}\nstderr:\n{}\nstdout (first 2000 chars):\n{}",
            self.args,
            self.code,
            self.stderr,
            self.stdout.chars().take(2000).collect::<String>()
        );
        self
    }

    /// The ndjson port records as `(ip, port, state)`.
    pub fn records(&self) -> Vec<(IpAddr, u16, String)> {
        parse_ndjson(&self.stdout)
    }

    /// The ndjson port records with their reasons.
    pub fn port_records(&self) -> Vec<PortRecord> {
        parse_port_records(&self.stdout)
    }

    /// The ndjson host records (`"type":"host"`).
    pub fn host_records(&self) -> Vec<HostRecord> {
        parse_host_records(&self.stdout)
    }

    /// Ports of `ip` reported with `state`.
    pub fn ports(&self, ip: &str, state: &str) -> BTreeSet<u16> {
        let ip: IpAddr = ip.parse().expect("ip");
        ports_with_state(&self.records(), ip, state)
    }
}

/// Run a prepared scanner command, killing it after [`SCAN_DEADLINE`].
pub fn run_scan(cmd: Command, args: &[String]) -> ScanRun {
    spawn_scan(cmd, args).wait()
}

/// Start a prepared scanner command with its output captured; see [`RunningScan`].
///
/// Under `sudo cargo test` the scanner would become the invoking user once its sockets are
/// open (`portscout::privilege`) and could not write its resume file into the tests'
/// root-owned directories: it runs as the root the test runs as.
pub fn spawn_scan(mut cmd: Command, args: &[String]) -> RunningScan {
    let start = Instant::now();
    let mut child = cmd
        // No config file of this machine's user may change what the tests see.
        .env("PORTSCOUT_CONFIG", "")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    RunningScan {
        child: Some(child),
        args: args.to_vec(),
        start,
        out_t: Some(out_t),
        err_t: Some(err_t),
    }
}

/// A scanner process that is still running (to be signalled, e.g. paused with SIGINT). Killed
/// on drop if it has not been waited for, so that a failing test leaves no scanner behind.
pub struct RunningScan {
    child: Option<Child>,
    args: Vec<String>,
    start: Instant,
    out_t: Option<JoinHandle<String>>,
    err_t: Option<JoinHandle<String>>,
}

impl RunningScan {
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// The process id (`ip netns exec` execs the command, so this is portscout's).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("child").id()
    }

    /// Time since the process was started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Send signal `sig` (e.g. `libc::SIGINT`) to the process. `ip netns exec` execs the
    /// command, so this reaches portscout itself.
    #[track_caller]
    pub fn signal(&mut self, sig: libc::c_int) {
        assert!(
            self.is_running(),
            "portscout {:?} ended before it could be signalled",
            self.args
        );
        let pid = self.child.as_ref().expect("child").id();
        // SAFETY: sending a signal to our own child process, which has not been reaped (it is
        // still running), so the pid cannot have been reused.
        let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}): {}", io::Error::last_os_error());
    }

    /// Wait for the process to end (killing it after [`SCAN_DEADLINE`]) and collect its output.
    pub fn wait(mut self) -> ScanRun {
        let mut child = self.child.take().expect("not waited for yet");
        let status = loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if self.start.elapsed() > SCAN_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "portscout {:?} still running after {SCAN_DEADLINE:?}; killed",
                    self.args
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = self.start.elapsed();
        let join =
            |t: Option<JoinHandle<String>>| t.and_then(|t| t.join().ok()).unwrap_or_default();
        ScanRun {
            args: std::mem::take(&mut self.args),
            code: status.code(),
            stdout: join(self.out_t.take()),
            stderr: join(self.err_t.take()),
            elapsed,
        }
    }
}

impl Drop for RunningScan {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A directory under the system's temporary directory, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create `portscout-<tag>-<pid>-<counter>`.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "portscout-{tag}-{}-{}",
            std::process::id(),
            next_id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory, as a string (for a command line).
    pub fn file(&self, name: &str) -> String {
        self.path
            .join(name)
            .to_str()
            .expect("UTF-8 path")
            .to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The command under test (`assert_cmd`), with no config file of this machine's user
/// (`PORTSCOUT_CONFIG` empty: `docs/config.md`), so nothing outside the test changes what it
/// sees.
pub fn portscout() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("portscout").expect("the portscout binary");
    cmd.env("PORTSCOUT_CONFIG", "");
    cmd
}

/// Run the portscout binary in the test's own namespace with `args`: for commands that send
/// nothing (`portscout merge`, argument errors), never for a scan.
pub fn portscout_local<S: AsRef<str>>(args: &[S]) -> ScanRun {
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = Command::new(BIN);
    cmd.args(&args);
    run_scan(cmd, &args)
}

/// A port of `ip` (an IPv4 or IPv6 literal) that refuses connections for as long as the
/// returned socket lives: bound, never listening, without `SO_REUSEADDR`, so no other socket
/// of the machine can take the port meanwhile. (Binding a listener to port 0 and dropping it
/// hands back an ephemeral port that a test running beside it may take and listen on: the
/// fresh-clone CI saw such a "closed" port open.)
pub fn closed_port(ip: &str) -> (socket2::Socket, u16) {
    let addr = std::net::SocketAddr::new(ip.parse().expect("an address literal"), 0);
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket.bind(&addr.into()).expect("bind");
    let port = socket
        .local_addr()
        .expect("local address")
        .as_socket()
        .expect("an IP socket")
        .port();
    (socket, port)
}

/// A port of `ip` that one socket holds for as long as the value lives, listening (open) or
/// not (closed) as the test says: for a port that closes between two scans. A dropped
/// listener's port is free for any other test to take and listen on; this socket stops
/// listening and keeps its port. It is bound to its port by number, without `SO_REUSEADDR`, and
/// stops listening by a shutdown for reading: Linux then refuses connections and keeps the port
/// bound (it lets it go only for a socket bound to port 0).
pub struct HeldPort {
    socket: socket2::Socket,
    addr: SocketAddr,
}

impl HeldPort {
    /// A held port of `ip` (an IPv4 or IPv6 literal), not listening yet (closed).
    pub fn closed(ip: &str) -> HeldPort {
        // The kernel picks a free port, which is then bound again by number. Another socket
        // may take it in between: then the bind fails and another port is tried, so the port
        // held is never one that anything else uses.
        for _ in 0..100 {
            let (picked, port) = closed_port(ip);
            drop(picked);
            let addr = SocketAddr::new(ip.parse().expect("an address literal"), port);
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )
            .expect("socket");
            if socket.bind(&addr.into()).is_ok() {
                return HeldPort { socket, addr };
            }
        }
        panic!("no port of {ip} could be bound by number in 100 tries");
    }

    /// A held port of `ip`, listening (open).
    pub fn open(ip: &str) -> HeldPort {
        let held = HeldPort::closed(ip);
        held.listen();
        held
    }

    /// Its port number.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Starts listening: connections to the port are accepted (queued; nothing reads them).
    pub fn listen(&self) {
        self.socket.listen(128).expect("listen");
    }

    /// Stops listening and keeps the port: connections are refused from now on. Checks both
    /// (a connect refused; the port still taken), so that a kernel that behaved otherwise would
    /// fail here, not as a wrong port state in a scan.
    pub fn stop_listening(&self) {
        self.socket
            .shutdown(std::net::Shutdown::Read)
            .expect("shutdown of the listener");
        match std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(30)) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            other => panic!("{}: still accepts after the shutdown: {other:?}", self.addr),
        }
        let other = socket2::Socket::new(
            socket2::Domain::for_address(self.addr),
            socket2::Type::STREAM,
            None,
        )
        .expect("socket");
        assert!(
            other.bind(&self.addr.into()).is_err(),
            "{}: the port was let go when its listener stopped",
            self.addr
        );
    }
}
