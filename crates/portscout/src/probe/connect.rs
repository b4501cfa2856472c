//! The TCP connect prober: a non-blocking `connect(2)`, answered by the kernel's handshake.
//!
//! References: RFC 793 (TCP, §3.4 establishing a connection, simultaneous open), RFC 1122
//! §4.2.3.9 (ICMP errors reported to TCP), `connect(2)`, `socket(2)` and `tcp(7)` for errno
//! values. mio's `TcpStream::connect` documentation reads a finished non-blocking connect with
//! `SO_ERROR` then `getpeername`; this prober asks `connect(2)` itself a second time, which
//! gives the same answer in one call and leaves a refused socket ready for reuse.
//!
//! # How each kernel outcome is read
//!
//! This table is implemented by [`classify_error`] and [`classify_established`]; it is the
//! only place a connect result becomes a port state. A connect is read by calling `connect(2)`
//! again (see [`Connector`]): success or `EISCONN` means the handshake completed, `EALREADY`
//! means it is still under way, any other error is the connection's own error.
//!
//! | kernel outcome | outcome | state / reason |
//! |---|---|---|
//! | connected (`connect` again: 0 or `EISCONN`), local ≠ peer | decided | `open` / `syn-ack` |
//! | same, but local IP = peer IP (target is this host) | confirm once more | `open` / `syn-ack` if the second connect is open too |
//! | local address = peer address (self-connection, RFC 793 simultaneous open) | retry | — (never open) |
//! | `connect` again → `EALREADY` (spurious wake-up, or no answer yet) | keep waiting | — |
//! | `ECONNREFUSED` (RST answered the SYN) | decided | `closed` / `conn-refused` |
//! | `ECONNRESET` | decided | `closed` / `reset` |
//! | no answer before the timeout, or `ETIMEDOUT` | no response | `filtered` / `no-response` after every retry |
//! | `EHOSTUNREACH` (ICMP host unreachable, no ARP/NDP answer) | decided | `filtered` / `host-unreach` |
//! | `ENETUNREACH`, `ENETDOWN` (ICMP net unreachable, no route) | decided | `filtered` / `net-unreach` |
//! | `EHOSTDOWN` | decided | `filtered` / `host-down` |
//! | `EACCES`, `EPERM` (ICMP admin prohibited, local firewall, broadcast) | decided | `filtered` / `admin-prohibited` |
//! | `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, `EADDRNOTAVAIL`, `EAGAIN`, `ENOSPC` | back-pressure | — (probe again later) |
//! | `EINTR`, `EADDRINUSE`, `EALREADY` | retry | — |
//! | any other errno | decided | `filtered` / `error` |

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub use super::Attempt;
use super::{Outcome, Prober};
use crate::model::{PortState, Reason};

/// What an error from `socket`, `connect` or `SO_ERROR` means for the probe.
pub fn classify_error(err: &io::Error, rtt: Duration) -> Outcome {
    let decided = |state, reason, rtt| Outcome::Decided { state, reason, rtt };
    let Some(errno) = err.raw_os_error() else {
        return decided(PortState::Filtered, Reason::Error, None);
    };
    match errno {
        libc::ECONNREFUSED => decided(PortState::Closed, Reason::ConnRefused, Some(rtt)),
        libc::ECONNRESET => decided(PortState::Closed, Reason::Reset, Some(rtt)),
        libc::ETIMEDOUT => Outcome::NoResponse,
        libc::EHOSTUNREACH => decided(PortState::Filtered, Reason::HostUnreach, Some(rtt)),
        libc::ENETUNREACH | libc::ENETDOWN => {
            decided(PortState::Filtered, Reason::NetUnreach, Some(rtt))
        }
        libc::EHOSTDOWN => decided(PortState::Filtered, Reason::HostDown, Some(rtt)),
        libc::EACCES | libc::EPERM => {
            decided(PortState::Filtered, Reason::AdminProhibited, Some(rtt))
        }
        libc::EMFILE
        | libc::ENFILE
        | libc::ENOBUFS
        | libc::ENOMEM
        | libc::EADDRNOTAVAIL
        | libc::EAGAIN
        | libc::ENOSPC => Outcome::Backpressure,
        libc::EINTR | libc::EADDRINUSE | libc::EALREADY => Outcome::Retry,
        _ => decided(PortState::Filtered, Reason::Error, Some(rtt)),
    }
}

/// What a completed handshake means, from the socket's two ends (see the module table).
pub fn classify_established(local: SocketAddr, peer: SocketAddr, rtt: Duration) -> Outcome {
    if local == peer {
        // RFC 793 simultaneous open with itself: the kernel picked the target port as the
        // source port. Nothing listens there; ask again with another source port.
        Outcome::Retry
    } else if local.ip() == peer.ip() {
        Outcome::OpenUnconfirmed { rtt }
    } else {
        Outcome::Decided {
            state: PortState::Open,
            reason: Reason::SynAck,
            rtt: Some(rtt),
        }
    }
}

/// Opens non-blocking connect probes (for event loops) and keeps one spare socket per address
/// family for reuse.
///
/// A socket whose connect was refused is disconnected by the kernel (`tcp_disconnect`, which
/// also releases its source port) and may connect again, so a closed port costs two
/// `connect(2)` calls and nothing else: no `socket(2)`, no `close(2)`, no event-loop
/// registration. Only refused and reset attempts return their socket to the spare slot;
/// every other socket is closed.
///
/// The second `connect(2)` right after `EINPROGRESS` is how a non-blocking connect is read
/// without waiting (Stevens, UNIX Network Programming §16.3): `EALREADY` means still in
/// progress, `EISCONN` or success means established, any other error is the connection's
/// error, as `SO_ERROR` would report it. On loopback and on a local veth the kernel handles the
/// whole handshake inside the first call, so the second one decides.
#[derive(Debug, Default)]
pub struct Connector {
    spares: Spares,
}

/// Opens blocking connect probes (for threads), with the same socket reuse as [`Connector`]:
/// a closed port costs one `connect(2)` call.
#[derive(Debug, Default)]
pub struct BlockingConnector {
    spares: Spares,
}

/// One spare socket per address family (IPv4, IPv6).
#[derive(Debug, Default)]
struct Spares([Option<Spare>; 2]);

#[derive(Debug)]
struct Spare {
    socket: Socket,
    /// The `SO_SNDTIMEO` it carries (blocking sockets only).
    send_timeout: Option<Duration>,
}

/// A socket whose connect was refused, ready to connect again (see [`Connector::recycle`]).
#[derive(Debug)]
pub struct Reusable {
    socket: Socket,
    v6: bool,
}

/// A connect in progress.
#[derive(Debug)]
pub struct Pending {
    socket: Socket,
    target: SockAddr,
    start: Instant,
}

/// What a repeated `connect(2)` says about the connection.
enum Check {
    InProgress,
    Established,
    Failed(io::Error),
}

/// The longest a blocking `connect(2)` waits before the thread looks at the clock and at
/// cancellation again.
const BLOCKING_SLICE: Duration = Duration::from_millis(100);

impl Spares {
    /// A socket for `target`'s family: the spare one, or a new one.
    fn take(&mut self, target: SocketAddr, ty: Type) -> io::Result<Spare> {
        if let Some(spare) = self.0[usize::from(target.is_ipv6())].take() {
            return Ok(spare);
        }
        let socket = Socket::new(
            Domain::for_address(target),
            ty.cloexec(),
            Some(Protocol::TCP),
        )?;
        Ok(Spare {
            socket,
            send_timeout: None,
        })
    }

    /// Classifies a failed connect and keeps the socket when the kernel has reset it.
    fn failed(
        &mut self,
        target: SocketAddr,
        spare: Spare,
        err: &io::Error,
        rtt: Duration,
    ) -> Outcome {
        if reusable_after(err) {
            self.0[usize::from(target.is_ipv6())] = Some(spare);
        }
        classify_error(err, rtt)
    }
}

/// Whether a socket whose connect failed with `err` was disconnected by the kernel and may
/// connect again.
fn reusable_after(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::ECONNRESET)
    )
}

impl Connector {
    /// A connector with no spare socket yet.
    pub fn new() -> Connector {
        Connector::default()
    }

    /// Starts a probe of `target` on a non-blocking socket.
    pub fn start(&mut self, target: SocketAddr) -> Attempt {
        let start = Instant::now();
        let spare = match self.spares.take(target, Type::STREAM.nonblocking()) {
            Ok(spare) => spare,
            Err(e) => return Attempt::Done(classify_error(&e, start.elapsed())),
        };
        let addr = SockAddr::from(target);
        match spare.socket.connect(&addr) {
            Ok(()) => return Attempt::Done(established(&spare.socket, start.elapsed())),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Attempt::Done(classify_error(&e, start.elapsed())),
        }
        match check(&spare.socket, &addr) {
            Check::InProgress => Attempt::Pending(Pending {
                socket: spare.socket,
                target: addr,
                start,
            }),
            Check::Established => Attempt::Done(established(&spare.socket, start.elapsed())),
            Check::Failed(e) => {
                Attempt::Done(self.spares.failed(target, spare, &e, start.elapsed()))
            }
        }
    }

    /// Gives back the socket of a finished [`Pending::wait`] for reuse.
    pub fn recycle(&mut self, reusable: Reusable) {
        self.spares.0[usize::from(reusable.v6)] = Some(Spare {
            socket: reusable.socket,
            send_timeout: None,
        });
    }
}

impl Prober for Connector {
    type Pending = Pending;
    type Spare = Reusable;

    fn start(&mut self, target: SocketAddr) -> Attempt {
        Connector::start(self, target)
    }

    fn wait(
        pending: Pending,
        deadline: tokio::time::Instant,
    ) -> impl std::future::Future<Output = (Outcome, Option<Reusable>)> {
        pending.wait(deadline)
    }

    fn recycle(&mut self, spare: Reusable) {
        Connector::recycle(self, spare);
    }
}

impl BlockingConnector {
    /// A connector with no spare socket yet.
    pub fn new() -> BlockingConnector {
        BlockingConnector::default()
    }

    /// Probes `target` on a blocking socket, waiting `timeout` at most from the moment the
    /// SYN goes out.
    ///
    /// Waits in slices of at most 100 ms. After each slice that brought no answer it calls
    /// `keep_waiting`; when that returns false the probe ends as [`Outcome::NoResponse`], so a
    /// dropped scan stops promptly (and the caller can hand over results meanwhile).
    ///
    /// A thread of a busy pool may run again only well after its time was up, and a blocking
    /// `connect(2)` woken by the answer but scheduled after its `SO_SNDTIMEO` returns
    /// `EALREADY` as if nothing came. So when the time is up, the socket is looked at once
    /// more without waiting: an answer that arrived while the thread was not running is read,
    /// never taken for silence (issue 17).
    pub fn probe(
        &mut self,
        target: SocketAddr,
        timeout: Duration,
        mut keep_waiting: impl FnMut() -> bool,
    ) -> Outcome {
        let start = Instant::now();
        let mut spare = match self.spares.take(target, Type::STREAM) {
            Ok(spare) => spare,
            Err(e) => return classify_error(&e, start.elapsed()),
        };
        let addr = SockAddr::from(target);
        let deadline = Instant::now() + timeout;
        let mut first = true;
        loop {
            if !first && !keep_waiting() {
                return Outcome::NoResponse;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() && !first {
                // The last look: only if the handshake is over does `connect(2)` answer
                // without blocking.
                if !connect_finished(&spare.socket) {
                    return Outcome::NoResponse;
                }
            }
            first = false;
            // SO_SNDTIMEO has a granularity of one tick and 0 means "forever": at least 1 ms.
            let wait = left.min(BLOCKING_SLICE).max(Duration::from_millis(1));
            if spare.send_timeout != Some(wait) {
                if let Err(e) = spare.socket.set_write_timeout(Some(wait)) {
                    return classify_error(&e, start.elapsed());
                }
                spare.send_timeout = Some(wait);
            }
            // A blocking connect that runs out of time returns EINPROGRESS, and calling it again
            // on the connecting socket (EALREADY) waits again: the slices add up to one attempt.
            match spare.socket.connect(&addr) {
                Ok(()) => return established(&spare.socket, start.elapsed()),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EISCONN) => return established(&spare.socket, start.elapsed()),
                    Some(libc::EINPROGRESS | libc::EALREADY | libc::EINTR) => {
                        if left.is_zero() {
                            return Outcome::NoResponse;
                        }
                    }
                    _ => return self.spares.failed(target, spare, &e, start.elapsed()),
                },
            }
        }
    }
}

/// Whether a connecting socket's handshake is over (established, refused, or failed), asked
/// without waiting: `poll(2)` reports a connecting TCP socket neither writable nor in error.
fn connect_finished(socket: &Socket) -> bool {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor `socket` owns, a timeout of 0 (no waiting).
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready > 0 && fd.revents != 0
}

impl Pending {
    /// Waits for the answer until `deadline` (on tokio's clock, so a paused test clock
    /// applies). Returns the outcome, and the socket when it can
    /// be reused (give it to [`Connector::recycle`]).
    ///
    /// Must run on a tokio runtime with I/O and time enabled. Dropping the future closes the
    /// socket.
    pub async fn wait(self, deadline: tokio::time::Instant) -> (Outcome, Option<Reusable>) {
        let Pending {
            socket,
            target,
            start,
        } = self;
        // SAFETY: `socket` owns its descriptor and moves into the `AsyncFd`, which owns it
        // until it is dropped or taken back with `into_inner`; nothing else closes or replaces
        // it meanwhile.
        let fd = match unsafe { AsyncFd::register_with_interest(socket, Interest::WRITABLE) } {
            Ok(fd) => fd,
            Err(e) => return (classify_error(&e.into_parts().1, start.elapsed()), None),
        };
        loop {
            let mut guard = match tokio::time::timeout_at(deadline, fd.writable()).await {
                Err(_elapsed) => return (Outcome::NoResponse, None),
                Ok(Err(e)) => return (classify_error(&e, start.elapsed()), None),
                Ok(Ok(guard)) => guard,
            };
            let rtt = start.elapsed();
            match check(fd.get_ref(), &target) {
                Check::InProgress => guard.clear_ready(),
                Check::Established => return (established(fd.get_ref(), rtt), None),
                Check::Failed(e) => {
                    let reusable = reusable_after(&e);
                    drop(guard);
                    let v6 = target.is_ipv6();
                    let socket = reusable.then(|| Reusable {
                        socket: fd.into_inner(),
                        v6,
                    });
                    return (classify_error(&e, rtt), socket);
                }
            }
        }
    }
}

/// Reads a completed handshake from the socket's two ends.
fn established(socket: &Socket, rtt: Duration) -> Outcome {
    let ends = socket
        .local_addr()
        .and_then(|l| Ok((l, socket.peer_addr()?)));
    match ends {
        Ok((local, peer)) => match (local.as_socket(), peer.as_socket()) {
            (Some(local), Some(peer)) => classify_established(local, peer, rtt),
            _ => Outcome::Retry,
        },
        Err(e) => classify_error(&e, rtt),
    }
}

/// Asks a connecting socket how its connect went, by calling `connect(2)` again.
fn check(socket: &Socket, target: &SockAddr) -> Check {
    match socket.connect(target) {
        Ok(()) => Check::Established,
        Err(e) => match e.raw_os_error() {
            Some(libc::EISCONN) => Check::Established,
            Some(libc::EALREADY | libc::EINPROGRESS | libc::EINTR) => Check::InProgress,
            _ => Check::Failed(e),
        },
    }
}

/// Sends one connect probe to `target` and waits at most `timeout` for its answer, on a fresh
/// socket that is closed when this returns (or when the future is dropped).
///
/// Must run on a tokio runtime with I/O and time enabled.
pub async fn probe(target: SocketAddr, timeout: Duration) -> Outcome {
    let deadline = tokio::time::Instant::now() + timeout;
    match Connector::new().start(target) {
        Attempt::Done(outcome) => outcome,
        Attempt::Pending(pending) => pending.wait(deadline).await.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    const RTT: Duration = Duration::from_micros(250);

    #[test]
    fn refused_is_closed() {
        assert_eq!(
            classify_error(&err(libc::ECONNREFUSED), RTT),
            Outcome::Decided {
                state: PortState::Closed,
                reason: Reason::ConnRefused,
                rtt: Some(RTT)
            }
        );
    }

    #[test]
    fn scanner_shortages_are_backpressure_never_a_state() {
        for errno in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EADDRNOTAVAIL,
            libc::EAGAIN,
        ] {
            assert_eq!(
                classify_error(&err(errno), RTT),
                Outcome::Backpressure,
                "errno {errno}"
            );
        }
    }

    #[test]
    fn icmp_errors_are_filtered_with_their_reason() {
        let reason = |errno| match classify_error(&err(errno), RTT) {
            Outcome::Decided {
                state: PortState::Filtered,
                reason,
                ..
            } => reason,
            other => panic!("errno {errno}: {other:?}"),
        };
        assert_eq!(reason(libc::EHOSTUNREACH), Reason::HostUnreach);
        assert_eq!(reason(libc::ENETUNREACH), Reason::NetUnreach);
        assert_eq!(reason(libc::EACCES), Reason::AdminProhibited);
        assert_eq!(reason(libc::EHOSTDOWN), Reason::HostDown);
    }

    #[test]
    fn kernel_timeout_counts_as_no_response() {
        assert_eq!(
            classify_error(&err(libc::ETIMEDOUT), RTT),
            Outcome::NoResponse
        );
    }

    #[test]
    fn self_connection_is_retried_not_open() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(classify_established(a, a, RTT), Outcome::Retry);
    }

    #[test]
    fn connection_to_this_host_needs_confirmation() {
        let local: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(
            classify_established(local, peer, RTT),
            Outcome::OpenUnconfirmed { rtt: RTT }
        );
    }

    #[test]
    fn connection_to_another_host_is_open() {
        let local: SocketAddr = "198.18.0.1:50000".parse().unwrap();
        let peer: SocketAddr = "198.18.0.2:22".parse().unwrap();
        assert!(matches!(
            classify_established(local, peer, RTT),
            Outcome::Decided {
                state: PortState::Open,
                reason: Reason::SynAck,
                ..
            }
        ));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn probes_a_listener_and_a_closed_port_on_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let outcome = probe(open, Duration::from_secs(2)).await;
        assert!(
            matches!(outcome, Outcome::OpenUnconfirmed { .. }),
            "{outcome:?}"
        );
        // A port we just had and released: nothing listens there any more.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let outcome = probe(closed, Duration::from_secs(2)).await;
        assert!(
            matches!(
                outcome,
                Outcome::Decided {
                    state: PortState::Closed,
                    ..
                } | Outcome::Retry
            ),
            "{outcome:?}"
        );
    }

    /// Issue 17: a blocking probe whose thread comes back only after its time is up still
    /// reads the answer that came meanwhile (the last look), instead of calling it silence.
    /// The listener's accept queue is full, so the probe's SYN is dropped and the kernel sends
    /// it again after 1 s; the thread is away (in `keep_waiting`) until that handshake is done,
    /// long after the probe's 150 ms.
    #[test]
    fn a_blocking_probe_reads_the_answer_that_came_while_its_thread_was_away() {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        listener.bind(&SockAddr::from(any)).unwrap();
        listener.listen(0).unwrap();
        // accept(2) gives up after this (SO_RCVTIMEO), so the test cannot hang.
        listener
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let target = listener.local_addr().unwrap().as_socket().unwrap();
        let filler = std::net::TcpStream::connect(target).unwrap();
        let mut away = false;
        let outcome = BlockingConnector::new().probe(target, Duration::from_millis(150), || {
            if !away {
                away = true;
                // Room in the queue for the probe's second SYN; back once its handshake is
                // done (its connection is queued).
                drop(listener.accept().expect("the filler"));
                drop(
                    listener
                        .accept()
                        .expect("the probe's connection, within 30 s"),
                );
            }
            true
        });
        drop(filler);
        assert!(away, "the probe returned before its first slice ended");
        assert!(
            matches!(outcome, Outcome::OpenUnconfirmed { .. }),
            "{outcome:?}"
        );
    }
}
