//! The TCP connect prober: a non-blocking `connect(2)`, answered by the kernel's handshake.
//!
//! References: RFC 793 (TCP, §3.4 establishing a connection, simultaneous open), RFC 1122
//! §4.2.3.9 (ICMP errors reported to TCP), `connect(2)`, `socket(2)` and `tcp(7)` for errno
//! values, and mio's `TcpStream::connect` documentation for the steps that decide a
//! non-blocking connect has finished (writable, then `SO_ERROR`, then `getpeername`).
//!
//! # How each kernel outcome is read
//!
//! This table is implemented by [`classify_error`] and [`probe`]; it is the only place a
//! connect result becomes a port state.
//!
//! | kernel outcome | outcome | state / reason |
//! |---|---|---|
//! | writable, `SO_ERROR` 0, `getpeername` ok, local ≠ peer | decided | `open` / `syn-ack` |
//! | same, but local IP = peer IP (target is this host) | confirm once more | `open` / `syn-ack` if the second connect is open too |
//! | local address = peer address (self-connection, RFC 793 simultaneous open) | retry | — (never open) |
//! | `getpeername` → `ENOTCONN` (spurious wake-up) | keep waiting | — |
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
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Instant;

use super::Outcome;
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

/// Sends one connect probe to `target` and waits at most `timeout` for its answer.
///
/// The socket is closed when this returns (or when the future is dropped).
pub async fn probe(target: SocketAddr, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let socket = match Socket::new(
        Domain::for_address(target),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    ) {
        Ok(s) => s,
        Err(e) => return classify_error(&e, start.elapsed()),
    };
    match socket.connect(&SockAddr::from(target)) {
        Ok(()) => return established(&socket, start.elapsed()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return classify_error(&e, start.elapsed()),
    }
    // SAFETY: `socket` owns its descriptor and moves into the `AsyncFd`, which owns it
    // until it is dropped; nothing else closes or replaces it meanwhile.
    let fd = match unsafe { AsyncFd::register_with_interest(socket, Interest::WRITABLE) } {
        Ok(fd) => fd,
        Err(e) => return classify_error(&e.into_parts().1, start.elapsed()),
    };
    let deadline = start + timeout;
    loop {
        let mut guard = match tokio::time::timeout_at(deadline, fd.writable()).await {
            Err(_elapsed) => return Outcome::NoResponse,
            Ok(Err(e)) => return classify_error(&e, start.elapsed()),
            Ok(Ok(guard)) => guard,
        };
        let rtt = start.elapsed();
        match fd.get_ref().take_error() {
            Ok(Some(e)) | Err(e) => return classify_error(&e, rtt),
            Ok(None) => {}
        }
        match fd.get_ref().peer_addr() {
            Ok(_) => return established(fd.get_ref(), rtt),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => guard.clear_ready(),
            Err(e) => return classify_error(&e, rtt),
        }
    }
}

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
}
