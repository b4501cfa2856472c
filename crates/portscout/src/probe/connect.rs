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
//! This table is implemented by [`classify_error`] (with [`icmp_outcome`] for its ICMP rows)
//! and [`classify_established`]; it is the only place a connect result becomes a port state.
//! A connect is read by calling `connect(2)` again (see [`Connector`]): success or `EISCONN`
//! means the handshake completed, `EALREADY` means it is still under way, any other error is
//! the connection's own error.
//!
//! Every probe socket has `IP_RECVERR` (`IPV6_RECVERR`) set, so the kernel also queues the ICMP
//! message behind an error, with its type, code and sender, on the socket's error queue
//! (`ip(7)`, `tcp(7)`). The prober reads that queue only when a connection fails with an
//! error other than a refusal or a reset, or when the socket signals an error while still
//! connecting: the kernel keeps an ICMP error that arrives while `connect(2)` holds the socket
//! (on a local veth, inside the very call) as a soft error until its own SYN retransmission a
//! second later, but queues it at once. So the connect scan reads the same message as the SYN
//! scan, through the same table ([`super::icmp`]).
//!
//! | kernel outcome | outcome | state / reason | host |
//! |---|---|---|---|
//! | connected (`connect` again: 0 or `EISCONN`), local ≠ peer | decided | `open` / `syn-ack` | alive |
//! | same, but local IP = peer IP (target is this host) | confirm once more | `open` / `syn-ack` if the second connect is open too | alive |
//! | local address = peer address (self-connection, RFC 793 simultaneous open) | retry | — (never open) | |
//! | `connect` again → `EALREADY` (spurious wake-up, or no answer yet), nothing queued | keep waiting | — | |
//! | an ICMP message queued for the socket (`IP_RECVERR`), connection failed or not | decided | by [`super::icmp::meaning`]: type, code, whether the target sent it | |
//! | `ECONNREFUSED` (a RST answered the SYN, or an ICMP port unreachable) | decided | `closed` / `conn-refused` | alive |
//! | `ECONNRESET` | decided | `closed` / `reset` | alive |
//! | no answer before the timeout, or `ETIMEDOUT` | no response | `filtered` / `no-response` after every retry | silent |
//! | `EHOSTUNREACH`, nothing queued (no ARP/NDP answer) | decided | `filtered` / `host-unreach` | unreachable |
//! | `ENETUNREACH`, `ENETDOWN`, nothing queued (no route here) | decided | `filtered` / `net-unreach` | unreachable |
//! | `ENETUNREACH` to a broadcast address of this host (a UDP `connect` there gets `EACCES`) | decided | `filtered` / `local-denied` | neutral |
//! | `EHOSTDOWN`, nothing queued | decided | `filtered` / `host-down` | unreachable |
//! | `EACCES`, `EPERM`, nothing queued (this host's kernel: a local firewall, an LSM) | decided | `filtered` / `local-denied` | neutral |
//! | `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, `EADDRNOTAVAIL`, `EAGAIN`, `ENOSPC` | back-pressure | — (probe again later) | |
//! | `EINTR`, `EADDRINUSE`, `EALREADY` | retry | — | |
//! | any other errno | decided | `filtered` / `error` | neutral |
//!
//! **What the connect scan cannot tell.** The kernel reads an ICMP port unreachable (3/3,
//! ICMPv6 1/4) answering a SYN as a refusal, `ECONNREFUSED`, exactly as it reads a RST. The
//! message is queued too, but telling the two apart would cost one more system call for every
//! closed port (the scan's commonest answer), so the connect scan reports both as `closed` /
//! `conn-refused`, as nmap `-sT` does; the SYN scan tells them apart (`filtered` /
//! `port-unreach`).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub use super::Attempt;
use super::{HostSignal, Outcome, Prober};
use crate::model::{PortState, Reason};
use crate::packet::IcmpKind;

/// An ICMP error the kernel queued for a connecting socket (`IP_RECVERR`): its type and code,
/// and whether the target itself sent it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QueuedIcmp {
    /// The message's type and code.
    pub kind: IcmpKind,
    /// The message came from the target's own address (not a router's, nor this host's).
    pub from_target: bool,
}

/// What an error from `socket`, `connect` or `SO_ERROR` means for the probe, with the ICMP
/// message the kernel queued for the socket, if any (see the module table).
pub fn classify_error(err: &io::Error, rtt: Duration, icmp: Option<QueuedIcmp>) -> Outcome {
    let decided = |state, reason, rtt, host| Outcome::Decided {
        state,
        reason,
        rtt,
        host,
    };
    let Some(errno) = err.raw_os_error() else {
        return decided(
            PortState::Filtered,
            Reason::Error,
            None,
            HostSignal::Neutral,
        );
    };
    match errno {
        libc::ECONNREFUSED => decided(
            PortState::Closed,
            Reason::ConnRefused,
            Some(rtt),
            HostSignal::Alive,
        ),
        libc::ECONNRESET => decided(
            PortState::Closed,
            Reason::Reset,
            Some(rtt),
            HostSignal::Alive,
        ),
        libc::ETIMEDOUT => Outcome::NoResponse,
        libc::EMFILE
        | libc::ENFILE
        | libc::ENOBUFS
        | libc::ENOMEM
        | libc::EADDRNOTAVAIL
        | libc::EAGAIN
        | libc::ENOSPC => Outcome::Backpressure,
        libc::EINTR | libc::EADDRINUSE | libc::EALREADY => Outcome::Retry,
        _ => {
            if let Some(outcome) = icmp.and_then(|q| icmp_outcome(q, rtt)) {
                return outcome;
            }
            let (reason, host) = match errno {
                libc::EHOSTUNREACH => (Reason::HostUnreach, HostSignal::Unreachable),
                libc::ENETUNREACH | libc::ENETDOWN => (Reason::NetUnreach, HostSignal::Unreachable),
                libc::EHOSTDOWN => (Reason::HostDown, HostSignal::Unreachable),
                libc::EACCES | libc::EPERM => (Reason::LocalDenied, HostSignal::Neutral),
                _ => (Reason::Error, HostSignal::Neutral),
            };
            decided(PortState::Filtered, reason, Some(rtt), host)
        }
    }
}

/// The ICMP rows of the table: what a queued ICMP message means ([`super::icmp::meaning`]);
/// `None` for one that says nothing about the port (fragmentation needed).
///
/// A port unreachable is read as the kernel reads it, `closed` / `conn-refused`: the connect
/// scan gives the same answer whether the message came while `connect(2)` held the socket
/// (queued) or after (`ECONNREFUSED`), see the module documentation.
pub fn icmp_outcome(icmp: QueuedIcmp, rtt: Duration) -> Option<Outcome> {
    let (state, reason, host) = match super::icmp::meaning(icmp.kind, icmp.from_target)? {
        (_, Reason::PortUnreach, _) => (PortState::Closed, Reason::ConnRefused, HostSignal::Alive),
        other => other,
    };
    Some(Outcome::Decided {
        state,
        reason,
        rtt: Some(rtt),
        host,
    })
}

/// Whether the error queue may hold the ICMP message behind `err` (read only for these: a
/// refusal, the commonest answer, is never looked at).
fn may_have_icmp(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(
            libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::EACCES
                | libc::EPERM
                | libc::ENONET
                | libc::EPROTO
                | libc::ENOPROTOOPT
                | libc::EOPNOTSUPP
        )
    )
}

/// Classifies the failed connect of `socket` to `target`, with the ICMP message queued for it.
/// A connect to a broadcast address of this host fails with `ENETUNREACH` (TCP does not
/// broadcast), which is this host's refusal, not a missing route: read as `EACCES`, which a
/// datagram socket gets there (and the SYN scan's `sendmmsg` too).
fn failed(socket: &Socket, target: SocketAddr, err: &io::Error, rtt: Duration) -> Outcome {
    let icmp = if may_have_icmp(err) {
        queued_icmp(socket, target)
    } else {
        None
    };
    if icmp.is_none() && err.raw_os_error() == Some(libc::ENETUNREACH) && is_broadcast(target) {
        return classify_error(&io::Error::from_raw_os_error(libc::EACCES), rtt, None);
    }
    classify_error(err, rtt, icmp)
}

/// Whether `target` is a broadcast address for this host: a UDP socket without
/// `SO_BROADCAST` may not connect there (`EACCES`). Asked only after an `ENETUNREACH`.
fn is_broadcast(target: SocketAddr) -> bool {
    target.is_ipv4()
        && Socket::new(Domain::IPV4, Type::DGRAM.cloexec(), None)
            .and_then(|s| s.connect(&SockAddr::from(target)))
            .is_err_and(|e| e.raw_os_error() == Some(libc::EACCES))
}

/// Asks the kernel to queue ICMP errors on `socket` (`IP_RECVERR`, `IPV6_RECVERR`). A socket
/// without it still works: its errors are read from the errno alone.
fn enable_error_queue(socket: &Socket, v6: bool) {
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
    } else {
        (libc::IPPROTO_IP, libc::IP_RECVERR)
    };
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor, and a pointer to an int of the length given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The last ICMP message queued on `socket` about a packet to `target` (the queue is drained:
/// a reused socket may hold messages about earlier targets).
fn queued_icmp(socket: &Socket, target: SocketAddr) -> Option<QueuedIcmp> {
    let canonical = |ip: IpAddr| ip.to_canonical();
    let want = (canonical(target.ip()), target.port());
    let mut found = None;
    // At most a few messages: one per attempt that used this socket.
    for _ in 0..16 {
        // SAFETY: plain C structures, zeroed, then filled by the kernel within the lengths
        // given.
        let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 64];
        let mut iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` points at live buffers of the lengths it states.
        let n = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            break;
        }
        // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes into `name`.
        let dest = unsafe { read_sockaddr((&name as *const libc::sockaddr_storage).cast()) };
        // SAFETY: the control buffer holds `msg_controllen` bytes of control messages, walked
        // with the kernel's own macros.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: `cmsg` points into the control buffer (CMSG_FIRSTHDR/NXTHDR check it).
            let header = unsafe { cmsg.read_unaligned() };
            let ours = (header.cmsg_level == libc::IPPROTO_IP
                && header.cmsg_type == libc::IP_RECVERR)
                || (header.cmsg_level == libc::IPPROTO_IPV6
                    && header.cmsg_type == libc::IPV6_RECVERR);
            if ours {
                // SAFETY: an IP_RECVERR message is a `sock_extended_err` followed by the
                // offender's address, both inside the control buffer.
                let (ee, offender) = unsafe {
                    let ee = libc::CMSG_DATA(cmsg) as *const libc::sock_extended_err;
                    (
                        ee.read_unaligned(),
                        read_sockaddr(libc::SO_EE_OFFENDER(ee).cast()),
                    )
                };
                let kind = match ee.ee_origin {
                    libc::SO_EE_ORIGIN_ICMP => Some(IcmpKind::V4 {
                        ty: ee.ee_type,
                        code: ee.ee_code,
                    }),
                    libc::SO_EE_ORIGIN_ICMP6 => Some(IcmpKind::V6 {
                        ty: ee.ee_type,
                        code: ee.ee_code,
                    }),
                    _ => None,
                };
                let about_target = dest.is_none_or(|(ip, port)| (canonical(ip), port) == want);
                if let (Some(kind), true) = (kind, about_target) {
                    found = Some(QueuedIcmp {
                        kind,
                        from_target: offender.is_some_and(|(ip, _)| canonical(ip) == want.0),
                    });
                }
            }
            // SAFETY: as above.
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
    }
    found
}

/// The address and port of a `sockaddr_in` or `sockaddr_in6` at `p` (`None` for another
/// family, such as the `AF_UNSPEC` of a message with no offender).
///
/// # Safety
/// `p` must point at a socket address of its family's length.
unsafe fn read_sockaddr(p: *const u8) -> Option<(IpAddr, u16)> {
    let family = (p as *const libc::sa_family_t).read_unaligned();
    match i32::from(family) {
        libc::AF_INET => {
            let sin = (p as *const libc::sockaddr_in).read_unaligned();
            Some((
                IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes()),
                u16::from_be(sin.sin_port),
            ))
        }
        libc::AF_INET6 => {
            let sin6 = (p as *const libc::sockaddr_in6).read_unaligned();
            Some((
                IpAddr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
            ))
        }
        _ => None,
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
            host: HostSignal::Alive,
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
        enable_error_queue(&socket, target.is_ipv6());
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
        let outcome = failed(&spare.socket, target, err, rtt);
        if reusable_after(err) {
            self.0[usize::from(target.is_ipv6())] = Some(spare);
        }
        outcome
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
            Err(e) => return Attempt::Done(classify_error(&e, start.elapsed(), None)),
        };
        let addr = SockAddr::from(target);
        match spare.socket.connect(&addr) {
            Ok(()) => return Attempt::Done(established(&spare.socket, start.elapsed())),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Attempt::Done(failed(&spare.socket, target, &e, start.elapsed())),
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

    fn start(
        &mut self,
        job: crate::scan::job::Job,
        _deadline: tokio::time::Instant,
    ) -> super::Start<Pending> {
        Connector::start(self, job.target).into()
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
            Err(e) => return classify_error(&e, start.elapsed(), None),
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
                    return classify_error(&e, start.elapsed(), None);
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
                        // An ICMP error that came while the call held the socket is queued,
                        // not returned (see the module documentation).
                        if let Some(outcome) = queued_icmp(&spare.socket, target)
                            .and_then(|q| icmp_outcome(q, start.elapsed()))
                        {
                            return outcome;
                        }
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
        // ERROR too: an ICMP message queued while the socket is still connecting signals
        // only that (see the module documentation).
        let interest = Interest::WRITABLE | Interest::ERROR;
        let fd = match unsafe { AsyncFd::register_with_interest(socket, interest) } {
            Ok(fd) => fd,
            Err(e) => {
                return (
                    classify_error(&e.into_parts().1, start.elapsed(), None),
                    None,
                )
            }
        };
        let Some(to) = target.as_socket() else {
            return (Outcome::Retry, None);
        };
        loop {
            let mut guard = match tokio::time::timeout_at(deadline, fd.ready(interest)).await {
                Err(_elapsed) => return (Outcome::NoResponse, None),
                Ok(Err(e)) => return (classify_error(&e, start.elapsed(), None), None),
                Ok(Ok(guard)) => guard,
            };
            let rtt = start.elapsed();
            match check(fd.get_ref(), &target) {
                Check::InProgress => {
                    if let Some(outcome) =
                        queued_icmp(fd.get_ref(), to).and_then(|q| icmp_outcome(q, rtt))
                    {
                        return (outcome, None);
                    }
                    guard.clear_ready();
                }
                Check::Established => return (established(fd.get_ref(), rtt), None),
                Check::Failed(e) => {
                    let reusable = reusable_after(&e);
                    let outcome = failed(fd.get_ref(), to, &e, rtt);
                    drop(guard);
                    let v6 = target.is_ipv6();
                    let socket = reusable.then(|| Reusable {
                        socket: fd.into_inner(),
                        v6,
                    });
                    return (outcome, socket);
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
        Err(e) => classify_error(&e, rtt, None),
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

    /// Every errno row of the module table, with nothing queued, and with an ICMP message
    /// queued (IPv4 and IPv6), as (errno, queued message, state, reason, host).
    #[test]
    fn every_row_of_the_table() {
        use HostSignal::{Alive, Neutral, Unreachable};
        use PortState::{Closed, Filtered};
        let q = |kind, from_target| Some(QueuedIcmp { kind, from_target });
        let v4 = |code| IcmpKind::V4 { ty: 3, code };
        let v6 = |code| IcmpKind::V6 { ty: 1, code };
        let rows = [
            (libc::ECONNREFUSED, None, Closed, Reason::ConnRefused, Alive),
            // The port unreachable behind a refusal is never read (see the module docs).
            (
                libc::ECONNREFUSED,
                q(v4(3), true),
                Closed,
                Reason::ConnRefused,
                Alive,
            ),
            (libc::ECONNRESET, None, Closed, Reason::Reset, Alive),
            (
                libc::EHOSTUNREACH,
                None,
                Filtered,
                Reason::HostUnreach,
                Unreachable,
            ),
            (
                libc::ENETUNREACH,
                None,
                Filtered,
                Reason::NetUnreach,
                Unreachable,
            ),
            (
                libc::ENETDOWN,
                None,
                Filtered,
                Reason::NetUnreach,
                Unreachable,
            ),
            (
                libc::EHOSTDOWN,
                None,
                Filtered,
                Reason::HostDown,
                Unreachable,
            ),
            (libc::EACCES, None, Filtered, Reason::LocalDenied, Neutral),
            (libc::EPERM, None, Filtered, Reason::LocalDenied, Neutral),
            (libc::EINVAL, None, Filtered, Reason::Error, Neutral),
            // The kernel's EHOSTUNREACH for 3/1, 3/10, 3/13: the queued message tells.
            (
                libc::EHOSTUNREACH,
                q(v4(13), true),
                Filtered,
                Reason::AdminProhibited,
                Alive,
            ),
            (
                libc::EHOSTUNREACH,
                q(v4(13), false),
                Filtered,
                Reason::AdminProhibited,
                Alive,
            ),
            (
                libc::EHOSTUNREACH,
                q(v4(10), true),
                Filtered,
                Reason::HostProhibited,
                Alive,
            ),
            (
                libc::EHOSTUNREACH,
                q(v4(1), true),
                Filtered,
                Reason::HostUnreach,
                Alive,
            ),
            (
                libc::EHOSTUNREACH,
                q(v4(1), false),
                Filtered,
                Reason::HostUnreach,
                Unreachable,
            ),
            (
                libc::ENETUNREACH,
                q(v4(9), true),
                Filtered,
                Reason::NetProhibited,
                Alive,
            ),
            (
                libc::ENETUNREACH,
                q(v4(0), false),
                Filtered,
                Reason::NetUnreach,
                Unreachable,
            ),
            (
                libc::ENETUNREACH,
                q(v4(0), true),
                Filtered,
                Reason::NetUnreach,
                Alive,
            ),
            // ICMPv6: 1/1 is EACCES, remote (queued), not local-denied.
            (
                libc::EACCES,
                q(v6(1), true),
                Filtered,
                Reason::AdminProhibited,
                Alive,
            ),
            (
                libc::EHOSTUNREACH,
                q(v6(3), true),
                Filtered,
                Reason::HostUnreach,
                Alive,
            ),
            (
                libc::EHOSTUNREACH,
                q(v6(3), false),
                Filtered,
                Reason::HostUnreach,
                Unreachable,
            ),
            (
                libc::ENETUNREACH,
                q(v6(0), false),
                Filtered,
                Reason::NetUnreach,
                Unreachable,
            ),
            (
                libc::EACCES,
                q(v6(5), false),
                Filtered,
                Reason::AdminProhibited,
                Alive,
            ),
        ];
        for (errno, icmp, state, reason, host) in rows {
            assert_eq!(
                classify_error(&err(errno), RTT, icmp),
                Outcome::Decided {
                    state,
                    reason,
                    rtt: Some(RTT),
                    host
                },
                "errno {errno}, queued {icmp:?}"
            );
        }
        // Still connecting, with a message queued: read as the message says, but a port
        // unreachable as the kernel reads it.
        assert_eq!(
            icmp_outcome(
                QueuedIcmp {
                    kind: v6(4),
                    from_target: true
                },
                RTT
            ),
            Some(Outcome::Decided {
                state: Closed,
                reason: Reason::ConnRefused,
                rtt: Some(RTT),
                host: Alive
            })
        );
        assert_eq!(
            icmp_outcome(
                QueuedIcmp {
                    kind: v4(4),
                    from_target: false
                },
                RTT
            ),
            None,
            "fragmentation needed says nothing about the port"
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
                classify_error(&err(errno), RTT, None),
                Outcome::Backpressure,
                "errno {errno}"
            );
        }
    }

    #[test]
    fn kernel_timeout_counts_as_no_response() {
        assert_eq!(
            classify_error(&err(libc::ETIMEDOUT), RTT, None),
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
        // A port bound and never listening, held until the test ends: the kernel refuses
        // connections to it, and no other test can take it meanwhile (as it could a port
        // whose listener was dropped).
        let holder = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        holder
            .bind(&SockAddr::from(
                "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
            ))
            .unwrap();
        let closed = holder.local_addr().unwrap().as_socket().unwrap();
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
