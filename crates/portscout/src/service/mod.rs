//! Service and version detection (`-sV`): what runs on an open TCP port, which product and
//! version, as nmap's `-sV` names them.
//!
//! [`detect`] connects to one port and decides, within a time budget
//! ([`DetectOptions::budget`], 6 s by default, counted once for everything):
//!
//! 1. **Greeting** (nmap's NULL probe): it waits a short time for what the service says on
//!    its own ([`DetectOptions::greeting_wait`]; only [`DetectOptions::short_wait`] on ports
//!    whose usual service waits for the client, such as 80 or 6379). SSH, FTP, SMTP, POP3,
//!    IMAP, MySQL, VNC and Telnet are recognised there.
//! 2. **Probes**, one connection each (the first reuses the greeting's): those written for
//!    the port first (`redis` on 6379, …), then `GET / HTTP/1.0` (a silent port gets it after
//!    the short wait), then a TLS handshake, then the others by rarity ([`builtin::PROBES`]);
//!    with nmap's database ([`DetectOptions::with_nmap_db`]), its probes in its own order
//!    ([`nmapdb::ProbeDb::tcp_order`]) follow or replace them ([`Probes`]).
//! 3. **TLS**: a ClientHello answered by a ServerHello is TLS; the handshake is completed
//!    accepting any certificate (rustls with a verifier that accepts all), the leaf
//!    certificate is read ([`TlsInfo`]), and the greeting and probes run again inside, which
//!    tells HTTPS from IMAPS, POP3S, SMTPS, …; a TLS service that answers nothing inside is
//!    `ssl`.
//!
//! Every answer is read until a quiet gap after data ([`DetectOptions::idle`]), the end of
//! the stream, a size cap, or the probe's wait ([`DetectOptions::probe_wait`]). A port that
//! answers none of [`DetectOptions::silent_probes`] probes in a row is given up on: a silent
//! or tarpitting port costs at most `greeting_wait + silent_probes × probe_wait` (and never
//! more than the budget). What is not recognised gets the port's conventional name with
//! [`Method::Table`] and confidence 3, as nmap does; a port that closes the connection at
//! once without a word is `tcpwrapped`.
//!
//! [`detect_all`] runs many detections at once, at most a given number in flight, and
//! yields each result as soon as it is known.
//!
//! ```no_run
//! # async fn f() -> Result<(), portscout::service::DetectError> {
//! use portscout::service::{detect, DetectOptions};
//!
//! let info = detect("127.0.0.1:22".parse().unwrap(), &DetectOptions::default()).await?;
//! println!("{} {}", info.display_name(), info.version_line());
//! # Ok(()) }
//! ```

pub mod builtin;
mod model;
pub mod nmapdb;
mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

pub use model::{Method, ServiceInfo, TlsInfo};
pub use nmapdb::{ProbeDb, ProbeDbError};
pub use tls::certificate_info;

/// The default time budget for one port's whole detection.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(6);
/// The default wait for a greeting.
pub const DEFAULT_GREETING_WAIT: Duration = Duration::from_millis(1000);
/// The default wait for a greeting on ports whose usual service waits for the client.
pub const DEFAULT_SHORT_WAIT: Duration = Duration::from_millis(200);
/// The default wait for a probe's answer.
pub const DEFAULT_PROBE_WAIT: Duration = Duration::from_millis(1000);
/// The default quiet gap that ends an answer once bytes have come.
pub const DEFAULT_IDLE: Duration = Duration::from_millis(250);
/// The default number of probes in a row answered by silence after which a port is given up.
pub const DEFAULT_SILENT_PROBES: usize = 4;
/// The default number of detections [`detect_all`] runs at once.
pub const DEFAULT_CONCURRENCY: usize = 256;
/// The most bytes read of one answer.
pub const MAX_ANSWER: usize = 16 * 1024;

/// Ports where TLS is tried before any plain-text probe.
pub const TLS_PORTS: &[u16] = &[
    261, 443, 448, 465, 563, 585, 614, 636, 853, 989, 990, 992, 993, 994, 995, 1443, 2083, 2087,
    2096, 3269, 4443, 5061, 5986, 6697, 7443, 8443, 8883, 9443, 10443,
];

/// Which probes detection sends.
#[derive(Clone, Debug)]
pub enum Probes {
    /// The built-in probes only.
    Builtin,
    /// nmap's database only (its NULL probe, then its probes; TLS still by handshake).
    Nmap(Arc<ProbeDb>),
    /// The built-in probes, then nmap's database for what they did not recognise.
    Both(Arc<ProbeDb>),
}

/// How detection runs. All waits are bounded by [`DetectOptions::budget`].
#[derive(Clone, Debug)]
pub struct DetectOptions {
    /// The whole detection of one port, connections included.
    pub budget: Duration,
    /// How long to wait for a greeting.
    pub greeting_wait: Duration,
    /// How long to wait for a greeting where the usual service waits for the client.
    pub short_wait: Duration,
    /// How long to wait for the answer to a probe (and for a TLS handshake).
    pub probe_wait: Duration,
    /// The quiet gap that ends an answer once bytes have come.
    pub idle: Duration,
    /// Probes in a row answered by silence after which the port is given up.
    pub silent_probes: usize,
    /// nmap's version intensity (0 to 9), for nmap's database.
    pub intensity: u8,
    /// Which probes are sent.
    pub probes: Probes,
    /// The name sent in TLS's server name indication (none by default: the address is used
    /// to connect and no name is sent).
    pub server_name: Option<String>,
}

impl Default for DetectOptions {
    fn default() -> DetectOptions {
        DetectOptions {
            budget: DEFAULT_BUDGET,
            greeting_wait: DEFAULT_GREETING_WAIT,
            short_wait: DEFAULT_SHORT_WAIT,
            probe_wait: DEFAULT_PROBE_WAIT,
            idle: DEFAULT_IDLE,
            silent_probes: DEFAULT_SILENT_PROBES,
            intensity: nmapdb::DEFAULT_INTENSITY,
            probes: Probes::Builtin,
            server_name: None,
        }
    }
}

impl DetectOptions {
    /// Uses nmap's database: only it (`only`), or after the built-in probes.
    pub fn with_nmap_db(mut self, db: Arc<ProbeDb>, only: bool) -> Self {
        self.probes = if only {
            Probes::Nmap(db)
        } else {
            Probes::Both(db)
        };
        self
    }

    fn builtin(&self) -> bool {
        !matches!(self.probes, Probes::Nmap(_))
    }

    fn db(&self) -> Option<&ProbeDb> {
        match &self.probes {
            Probes::Builtin => None,
            Probes::Nmap(db) | Probes::Both(db) => Some(db),
        }
    }
}

/// Why a port could not be examined at all.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The first connection failed (the port is not open, or no longer).
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The port.
        target: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The first connection did not complete within the budget.
    #[error("cannot connect to {0}: timed out")]
    ConnectTimeout(SocketAddr),
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Conn = Box<dyn Io>;

/// One step of the sequence after the greeting.
#[derive(Clone, Copy)]
enum Step<'a> {
    Builtin(&'static builtin::Probe),
    Nmap(&'a nmapdb::Probe),
    Tls,
}

/// What a sequence of probes ended with.
enum Found {
    /// A hard match.
    Done(Box<ServiceInfo>),
    /// Nothing decided (the best soft match, if any, is in the shared state).
    Nothing,
}

#[derive(Default)]
struct Progress {
    soft: Option<ServiceInfo>,
    tls: Option<TlsInfo>,
    tcpwrapped: bool,
}

/// Detects the service on `target`, an open TCP port (see the module documentation).
///
/// An error only when the first connection fails; everything after it ends in a
/// [`ServiceInfo`], a guess from the port table at worst. Needs a tokio runtime with its I/O
/// and time drivers.
pub async fn detect(
    target: SocketAddr,
    options: &DetectOptions,
) -> Result<ServiceInfo, DetectError> {
    let deadline = Instant::now() + options.budget;
    // A service that greets and resets at once keeps its greeting for the first probe (the
    // empty one, which only reads): a plain connect would report the reset instead.
    let (first, reset) =
        match timeout_at(deadline, crate::banner::connect_keeping_greeting(target)).await {
            Err(_) => return Err(DetectError::ConnectTimeout(target)),
            Ok(Err(source)) => return Err(DetectError::Connect { target, source }),
            Ok(Ok(s)) => s,
        };
    if !reset && matches!((first.local_addr(), first.peer_addr()), (Ok(l), Ok(p)) if l == p) {
        // RFC 793 simultaneous open with itself: nothing listens there.
        let source = io::Error::from(io::ErrorKind::ConnectionRefused);
        return Err(DetectError::Connect { target, source });
    }
    let _ = first.set_nodelay(true);
    let mut progress = Progress::default();
    let found = timeout_at(
        deadline,
        sequence(
            target,
            Box::new(first),
            None,
            options,
            deadline,
            &mut progress,
        ),
    )
    .await;
    let mut info = match found {
        Ok(Found::Done(info)) => *info,
        Ok(Found::Nothing) | Err(_) => match progress.soft.take() {
            Some(soft) => soft,
            None if progress.tcpwrapped => ServiceInfo {
                confidence: 8,
                ..ServiceInfo::probed("tcpwrapped")
            },
            None if progress.tls.is_some() => ServiceInfo::probed("ssl"),
            None => ServiceInfo::from_table(target.port()),
        },
    };
    if info.tls.is_none() {
        info.tls = progress.tls;
    }
    // nmap names SMB on 139 after NetBIOS's session service.
    if info.name == "microsoft-ds" && target.port() == 139 {
        info.name = "netbios-ssn".into();
    }
    Ok(info)
}

/// Runs [`detect`] on every target, at most `concurrency` at once (at least 1), and yields
/// each target with its result as soon as it is known (not in the order given).
pub fn detect_all(
    targets: impl IntoIterator<Item = SocketAddr>,
    options: DetectOptions,
    concurrency: usize,
) -> impl Stream<Item = (SocketAddr, Result<ServiceInfo, DetectError>)> {
    let options = Arc::new(options);
    stream::iter(targets)
        .map(move |target| {
            let options = Arc::clone(&options);
            async move { (target, detect(target, &options).await) }
        })
        .buffer_unordered(concurrency.max(1))
}

/// The greeting, then the probes, over plain TCP (`tls_info` `None`) or inside TLS.
///
/// Boxed: the TLS step runs a sequence inside itself.
fn sequence<'a>(
    target: SocketAddr,
    first: Conn,
    tls_info: Option<TlsInfo>,
    options: &'a DetectOptions,
    deadline: Instant,
    progress: &'a mut Progress,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Found> + Send + 'a>> {
    Box::pin(async move {
        let port = target.port();
        let inside_tls = tls_info.is_some();
        let finish = |mut info: ServiceInfo| {
            if inside_tls {
                info.tls = tls_info.clone();
            }
            Found::Done(Box::new(info))
        };
        let mut conn = Some(first);
        let wait = if builtin::client_speaks_first(port) {
            options.short_wait
        } else {
            options.greeting_wait
        };
        let started = Instant::now();
        let (greeting, closed) = read_answer(conn.as_mut().expect("set"), wait, options).await;
        if closed {
            conn = None;
        }
        if !greeting.is_empty() {
            if let Some(info) = identify(options, None, &greeting, port) {
                if info.confidence >= 10 {
                    return finish(info);
                }
                progress.soft.get_or_insert(info);
            }
        } else if closed && !inside_tls {
            let wrapped = options
                .db()
                .and_then(|db| db.probe(nmapdb::Protocol::Tcp, "NULL"))
                .and_then(|p| p.tcpwrapped)
                .unwrap_or(Duration::from_secs(2));
            if started.elapsed() < wrapped {
                progress.tcpwrapped = true;
                return Found::Nothing;
            }
        }
        let steps = steps(port, inside_tls, options);
        let mut silent = usize::from(greeting.is_empty() && !closed);
        for step in steps {
            if silent >= options.silent_probes {
                break;
            }
            // After a soft match, nmap's probes are sent only where they can say more of
            // that service (nmap does the same).
            if let (Step::Nmap(p), Some(soft)) = (step, &progress.soft) {
                if !p.matches.iter().any(|m| !m.soft && m.service == soft.name) {
                    continue;
                }
            }
            if let Step::Tls = step {
                match tls_step(target, options, deadline, progress).await {
                    TlsOutcome::Found(found) => return found,
                    TlsOutcome::Silent => silent += 1,
                    TlsOutcome::NotTls => silent = 0,
                }
                continue;
            }
            let payload = match step {
                Step::Builtin(p) => p.payload(target),
                Step::Nmap(p) => p.payload.clone(),
                Step::Tls => unreachable!("handled above"),
            };
            let mut c = match conn.take() {
                Some(c) => c,
                None => match open(target, inside_tls, options, deadline).await {
                    Some(c) => c,
                    None => continue,
                },
            };
            if c.write_all(&payload).await.is_err() {
                continue;
            }
            let wait = match step {
                Step::Nmap(p) => p.totalwait.unwrap_or(options.probe_wait),
                _ => options.probe_wait,
            }
            .min(options.probe_wait);
            let (answer, closed) = read_answer(&mut c, wait, options).await;
            if answer.is_empty() {
                if !closed {
                    silent += 1;
                }
                continue;
            }
            silent = 0;
            if let Some(info) = identify(options, Some(step), &answer, port) {
                if info.confidence >= 10 {
                    return finish(info);
                }
                progress.soft.get_or_insert(info);
            }
        }
        Found::Nothing
    })
}

enum TlsOutcome {
    Found(Found),
    Silent,
    NotTls,
}

/// Tries TLS; when it is TLS, runs the sequence inside it.
async fn tls_step(
    target: SocketAddr,
    options: &DetectOptions,
    deadline: Instant,
    progress: &mut Progress,
) -> TlsOutcome {
    let Ok(Ok(tcp)) = timeout_at(deadline, TcpStream::connect(target)).await else {
        return TlsOutcome::NotTls;
    };
    let _ = tcp.set_nodelay(true);
    let until = deadline.min(Instant::now() + options.probe_wait);
    match timeout_at(until, handshake(tcp, options)).await {
        Err(_) => TlsOutcome::Silent,
        Ok(Err(e)) => {
            // An alert, or a handshake that went wrong after the server answered in TLS:
            // TLS, though not one rustls completes (SSLv3, TLS 1.0/1.1, unknown suites).
            let tls = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
            if matches!(
                tls,
                Some(
                    rustls::Error::AlertReceived(_)
                        | rustls::Error::PeerIncompatible(_)
                        | rustls::Error::PeerMisbehaved(_)
                )
            ) {
                progress.tls.get_or_insert_with(TlsInfo::default);
                return TlsOutcome::Found(Found::Nothing);
            }
            TlsOutcome::NotTls
        }
        Ok(Ok(stream)) => {
            let info = tls::session_info(stream.get_ref().1);
            progress.tls = Some(info.clone());
            let found = sequence(
                target,
                Box::new(stream),
                Some(info),
                options,
                deadline,
                progress,
            )
            .await;
            TlsOutcome::Found(found)
        }
    }
}

async fn handshake(
    tcp: TcpStream,
    options: &DetectOptions,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = match &options.server_name {
        Some(n) => rustls::pki_types::ServerName::try_from(n.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        None => rustls::pki_types::ServerName::IpAddress(tcp.peer_addr()?.ip().into()),
    };
    tokio_rustls::TlsConnector::from(tls::client_config())
        .connect(name, tcp)
        .await
}

/// A new connection for a probe, plain or TLS (`None` when it cannot be made in time).
async fn open(
    target: SocketAddr,
    tls: bool,
    options: &DetectOptions,
    deadline: Instant,
) -> Option<Conn> {
    let until = deadline.min(Instant::now() + options.probe_wait);
    let tcp = timeout_at(until, TcpStream::connect(target))
        .await
        .ok()?
        .ok()?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Some(Box::new(tcp));
    }
    let stream = timeout_at(until, handshake(tcp, options))
        .await
        .ok()?
        .ok()?;
    Some(Box::new(stream))
}

/// The probes after the greeting, in order.
fn steps(port: u16, inside_tls: bool, options: &DetectOptions) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    if !inside_tls && TLS_PORTS.contains(&port) {
        steps.push(Step::Tls);
    }
    if options.builtin() {
        let order = builtin::order(port);
        let (listed, others): (Vec<_>, Vec<_>) =
            order.into_iter().partition(|p| p.ports.contains(&port));
        steps.extend(listed.into_iter().map(Step::Builtin));
        let mut others = others.into_iter();
        // HTTP first of the others (rarity 1), then TLS, then the rest.
        if let Some(http) = others.next() {
            steps.push(Step::Builtin(http));
        }
        if !inside_tls && !TLS_PORTS.contains(&port) {
            steps.push(Step::Tls);
        }
        steps.extend(others.map(Step::Builtin));
    }
    if let Some(db) = options.db() {
        let probes = db.tcp_order(port, inside_tls, options.intensity);
        if !options.builtin() && !inside_tls && !TLS_PORTS.contains(&port) {
            // nmap learns TLS from its SSLSessionReq probe's match; a handshake here does
            // the same with the answer read by rustls. Where that probe would have come.
            let at = probes
                .iter()
                .position(|p| p.name == "SSLSessionReq")
                .unwrap_or(probes.len().min(1));
            let mut v: Vec<Step> = probes.into_iter().map(Step::Nmap).collect();
            v.insert(at.min(v.len()), Step::Tls);
            steps.extend(v);
        } else {
            steps.extend(probes.into_iter().map(Step::Nmap));
        }
    }
    steps
}

/// What an answer says: the built-in readers and nmap's matches, as the options allow.
/// `step` `None`: the greeting.
fn identify(
    options: &DetectOptions,
    step: Option<Step>,
    answer: &[u8],
    port: u16,
) -> Option<ServiceInfo> {
    let builtin_name = match step {
        Some(Step::Builtin(p)) => p.name,
        _ => "",
    };
    let from_builtin = || {
        options
            .builtin()
            .then(|| builtin::identify(builtin_name, answer, port))
            .flatten()
    };
    let from_db = || {
        let db = options.db()?;
        let probe = match step {
            Some(Step::Nmap(p)) => p,
            _ => db.probe(nmapdb::Protocol::Tcp, "NULL")?,
        };
        db.identify(probe, answer)
    };
    let found = match step {
        Some(Step::Nmap(_)) => from_db().or_else(from_builtin),
        _ => from_builtin().or_else(from_db),
    }?;
    // nmap's `ssl` match means "TLS here": the handshake step says more.
    (found.name != "ssl").then_some(found)
}

/// Reads one answer: until `wait` passes without a byte, the quiet gap after data, the end
/// of the stream or [`MAX_ANSWER`]. Returns the bytes and whether the stream ended.
async fn read_answer(conn: &mut Conn, wait: Duration, options: &DetectOptions) -> (Vec<u8>, bool) {
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let until = if answer.is_empty() {
            start + wait
        } else {
            Instant::now() + options.idle
        };
        match timeout_at(until, conn.read(&mut buf)).await {
            Err(_) => return (answer, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (answer, true),
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() >= MAX_ANSWER {
                    return (answer, false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
