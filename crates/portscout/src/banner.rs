//! Banner grabbing (`--banners`): what a service on an open port says first.
//!
//! [`grab`] opens a plain TCP connection (no privilege needed, whatever the scan type), and:
//!
//! * on a port where HTTP is the usual protocol ([`BannerOptions::http_ports`], by default
//!   [`HTTP_PORTS`]), sends a minimal request at once, `HEAD / HTTP/1.0` with a `Host:` header
//!   naming the address (and the port when it is not 80), since an HTTP server says nothing
//!   until asked;
//! * on any other port, sends nothing and waits for what the service sends on its own (SSH,
//!   SMTP, FTP, POP3, IMAP, MySQL, … greet first).
//!
//! It reads until the first of:
//!
//! * the size cap ([`DEFAULT_MAX_BYTES`]): the banner is then exactly the cap long;
//! * the end of the stream (the service closed);
//! * the timeout ([`DEFAULT_TIMEOUT`]), counted once for the whole grab (connect, request
//!   and every read), so a service that trickles bytes cannot hold a grab longer;
//! * a quiet gap ([`DEFAULT_IDLE`]) once something has come: greetings come in one write,
//!   and without this every SSH or SMTP grab would last the whole timeout, because those
//!   services then wait for the client.
//!
//! A service that sends nothing in time gives no banner (`None`). A grab never changes a
//! port's state or reason: it only adds [`crate::PortResult::banner`]. The bytes are kept as
//! received; outputs print them escaped ([`crate::Banner::escaped`]).
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use portscout::banner::{grab, BannerOptions};
//!
//! let options = BannerOptions::default();
//! if let Some(banner) = grab("127.0.0.1:22".parse().unwrap(), &options).await? {
//!     println!("{}", banner.escaped_line());
//! }
//! # Ok(()) }
//! ```
//!
//! # Why these defaults
//!
//! nmap's `banner` script waits up to 5 s per port. portscout grabs while it scans (up to
//! [`DEFAULT_CONCURRENCY`] ports at once), so the cost of the timeout is the time the scan
//! waits for its last grabs, and for every service that never speaks first (TLS, SMB, RDP, …)
//! a whole timeout per port, over the concurrency: 1 s covers a greeting or an HTTP answer
//! across any network with a round trip of up to a few hundred milliseconds (connect, then
//! the greeting: two round trips at most), and `--banner-timeout` raises it for slower ones.
//! 1024 bytes hold any SSH identification line (255 bytes at most, RFC 4253 §4.2), a typical
//! SMTP or FTP greeting, and the status line and headers of most HTTP answers.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{sleep, timeout_at, Instant};

use crate::model::Banner;
use crate::ports::PortSet;
use crate::probe::connect::classify_error;
use crate::probe::Outcome;

/// The default time a whole grab may take: connect, request and reads (`--banner-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The default size cap: a banner is at most this many bytes.
pub const DEFAULT_MAX_BYTES: usize = 1024;

/// The default quiet gap: once bytes have come, the grab ends after this long without more.
pub const DEFAULT_IDLE: Duration = Duration::from_millis(200);

/// The default number of grabs in progress at once over the whole scan.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// Ports where HTTP is the usual protocol, where a grab sends `HEAD /` first: those of
/// portscout's service table named `http`, `http-alt`, `http-proxy` or `squid-http` (80, 8000,
/// 8008, 8080, 3128), HTTP APIs in that table (5601 kibana, 8500 consul-http, 8983 solr,
/// 9200 elasticsearch), and ports commonly used for web servers without a registered name
/// (81, 591, 3000, 5000, 8001, 8081, 8088, 8888, 9080). TLS ports (443, 8443) are not in
/// it: a plain-text request there gets no banner worth having.
pub const HTTP_PORTS: &[u16] = &[
    80, 81, 591, 3000, 3128, 5000, 5601, 8000, 8001, 8008, 8080, 8081, 8088, 8500, 8888, 8983,
    9080, 9200,
];

/// How banners are grabbed: set on a scan with
/// [`crate::scan::ScanConfigBuilder::banners`], or given to [`grab`].
///
/// ```
/// use std::time::Duration;
/// use portscout::banner::BannerOptions;
///
/// let options = BannerOptions::default().with_timeout(Duration::from_secs(3));
/// assert_eq!(options.max_bytes(), 1024);
/// assert!(options.http_ports().contains(8080));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BannerOptions {
    timeout: Duration,
    max_bytes: usize,
    idle: Duration,
    concurrency: usize,
    http_ports: PortSet,
}

impl Default for BannerOptions {
    /// [`DEFAULT_TIMEOUT`], [`DEFAULT_MAX_BYTES`], [`DEFAULT_IDLE`],
    /// [`DEFAULT_CONCURRENCY`] and [`HTTP_PORTS`].
    fn default() -> BannerOptions {
        BannerOptions {
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            idle: DEFAULT_IDLE,
            concurrency: DEFAULT_CONCURRENCY,
            http_ports: HTTP_PORTS.iter().copied().collect(),
        }
    }
}

impl BannerOptions {
    /// Sets the time a whole grab may take (connect, request, reads); must be above zero.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the size cap in bytes; must be at least 1.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the quiet gap that ends a grab once something has come (zero: only what has
    /// arrived by the first read; the timeout or more: read until the timeout).
    pub fn with_idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Sets how many grabs a scan runs at once; must be at least 1. Each holds one socket.
    pub fn with_concurrency(mut self, grabs: usize) -> Self {
        self.concurrency = grabs;
        self
    }

    /// Sets the ports where a grab sends `HEAD /` first (default [`HTTP_PORTS`]).
    pub fn with_http_ports(mut self, ports: PortSet) -> Self {
        self.http_ports = ports;
        self
    }

    /// The time a whole grab may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The size cap in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The quiet gap that ends a grab once something has come.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// How many grabs a scan runs at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The ports where a grab sends `HEAD /` first.
    pub fn http_ports(&self) -> &PortSet {
        &self.http_ports
    }
}

/// The request sent first to an HTTP port: `HEAD / HTTP/1.0`, with a `Host:` header (the
/// address, bracketed for IPv6, and the port unless it is 80) so that servers with virtual
/// hosts answer for their default one rather than with an error.
pub fn http_request(addr: SocketAddr) -> String {
    let host = match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let port = if addr.port() == 80 {
        String::new()
    } else {
        format!(":{}", addr.port())
    };
    format!("HEAD / HTTP/1.0\r\nHost: {host}{port}\r\n\r\n")
}

/// Grabs the banner of `addr` (see the module documentation for what is sent and when the
/// grab stops).
///
/// `Ok(None)` when the service sent nothing before it closed or before the timeout, or when
/// the connection turned out to be a connection to itself (nothing listens there any more).
/// An error when the connection could not be made, or failed before anything was read;
/// bytes received before a reset are returned as the banner. Needs a tokio runtime with
/// its I/O and time drivers.
pub async fn grab(addr: SocketAddr, options: &BannerOptions) -> io::Result<Option<Banner>> {
    let deadline = Instant::now() + options.timeout;
    let Ok(connected) = timeout_at(deadline, connect(addr, deadline)).await else {
        return Ok(None);
    };
    let (stream, reset) = connected?;
    if reset {
        // The service spoke and reset before the connect was seen complete: what it said is
        // still queued (and no connection to itself is reset).
        return read_banner(&stream, options, deadline).await;
    }
    if stream.local_addr()? == stream.peer_addr()? {
        // RFC 793 simultaneous open with itself: the listener went away since the scan.
        return Ok(None);
    }
    if options.http_ports.contains(addr.port()) {
        let request = http_request(addr);
        let mut sent = 0;
        while sent < request.len() {
            match timeout_at(deadline, stream.writable()).await {
                Err(_) => return Ok(None),
                Ok(ready) => ready?,
            }
            match stream.try_write(&request.as_bytes()[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The service may have spoken and closed already: read what it said.
                Err(_) => break,
            }
        }
    }
    read_banner(&stream, options, deadline).await
}

/// Connects, waiting and trying again while the scanner is short of descriptors, buffers or
/// source ports (the prober's back-pressure errors), until the deadline. `true`: the
/// connection was made and then reset (or closed and reset) before it was seen complete.
async fn connect(addr: SocketAddr, deadline: Instant) -> io::Result<(TcpStream, bool)> {
    let mut backoff = Duration::from_millis(1);
    loop {
        match connect_keeping_greeting(addr).await {
            Err(e)
                if matches!(
                    classify_error(&e, Duration::ZERO, None),
                    Outcome::Backpressure | Outcome::Retry
                ) && Instant::now() + backoff < deadline =>
            {
                sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Connects to `addr` once; `true`: the connection was made and then reset before it was
/// seen complete, and what the service said before the reset is still queued in it (see
/// [`finish_connect`]). Banner grabs and service detection's first connection use it.
pub(crate) async fn connect_keeping_greeting(addr: SocketAddr) -> io::Result<(TcpStream, bool)> {
    finish_connect(begin_connect(addr)?).await
}

/// A non-blocking socket whose connect to `addr` is under way (or done).
fn begin_connect(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

/// Waits for the connect of `socket` to complete. Unlike a plain connect, a connection that
/// was made and then reset is no error here (`true`): a service that greets and resets at
/// once leaves its greeting in the socket, and the socket's pending error (`ECONNRESET`, or
/// `EPIPE` after a close and then a reset; a refused SYN gives `ECONNREFUSED`) would
/// otherwise hide it.
async fn finish_connect(socket: std::net::TcpStream) -> io::Result<(TcpStream, bool)> {
    let stream = TcpStream::from_std(socket)?;
    stream.writable().await?;
    match stream.take_error()? {
        None => Ok((stream, false)),
        Some(e) if matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE)) => {
            Ok((stream, true))
        }
        Some(e) => Err(e),
    }
}

/// Reads until the cap, the end of the stream, the deadline, or the quiet gap after data.
async fn read_banner(
    stream: &TcpStream,
    options: &BannerOptions,
    deadline: Instant,
) -> io::Result<Option<Banner>> {
    let mut banner = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut last_data = None;
    while banner.len() < options.max_bytes {
        let until = match last_data {
            None => deadline,
            Some(at) => deadline.min(at + options.idle),
        };
        match timeout_at(until, stream.readable()).await {
            Err(_) => break,
            Ok(Ok(())) => {}
            Ok(Err(e)) if banner.is_empty() => return Err(e),
            Ok(Err(_)) => break,
        }
        let want = (options.max_bytes - banner.len()).min(chunk.len());
        match stream.try_read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => {
                banner.extend_from_slice(&chunk[..n]);
                last_data = Some(Instant::now());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if banner.is_empty() => return Err(e),
            // A reset after the greeting: keep what came.
            Err(_) => break,
        }
    }
    Ok((!banner.is_empty()).then(|| Banner::new(banner)))
}

#[cfg(test)]
mod tests;
