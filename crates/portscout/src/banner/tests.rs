//! The grab against loopback listeners started here, each playing one kind of service.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::*;

/// A listener on 127.0.0.1 that accepts one connection and hands it to `service`.
fn serve<T: Send + 'static>(
    service: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || service(listener.accept().unwrap().0));
    (addr, handle)
}

/// Everything the client sent until it closed.
fn received(mut s: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

/// Bytes written to `s` that its peer has not acknowledged yet (`SIOCOUTQ`).
fn unacknowledged(s: &TcpStream) -> libc::c_int {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) stores one c_int through the pointer, which is valid; the
    // descriptor is open for as long as `s` lives.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    assert_eq!(rc, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
    n
}

/// Makes `s` end in a reset once what was written to it is in the client's socket: once the
/// client's kernel has acknowledged it (not after a fixed time, which a loaded machine can
/// outlast), polled every millisecond within 30 s. The reset goes out when `s` is dropped.
fn reset_once_acknowledged(s: &TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while unacknowledged(s) > 0 {
        assert!(
            Instant::now() < deadline,
            "the greeting was not acknowledged in 30 s"
        );
        thread::sleep(Duration::from_millis(1));
    }
    socket2::SockRef::from(s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

/// Options for a port that is not an HTTP port, with a timeout.
fn options(timeout_ms: u64) -> BannerOptions {
    BannerOptions::default().with_timeout(Duration::from_millis(timeout_ms))
}

/// A timeout (and, where set, a quiet gap) that a test means not to be what ends its grab.
/// These tests assert no speed (that is `bench/`'s business): an upper bound here only tells
/// which rule ended a grab, so it is [`LOAD`] past what that rule waits, and the rules that
/// must not end the grab wait 60 s, longer than any such bound.
const LONG_MS: u64 = 60_000;

/// What a loaded machine (load 10 to 17 on 2 cores) may add to a grab's own waits.
const LOAD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_ssh_like_line_is_read_and_nothing_is_sent() {
    let line = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n";
    let (addr, server) = serve(move |mut s| {
        s.write_all(line).unwrap();
        received(s)
    });
    let start = Instant::now();
    let banner = grab(addr, &options(LONG_MS)).await.unwrap().unwrap();
    let took = start.elapsed();
    assert_eq!(banner.as_bytes(), line);
    assert_eq!(
        banner.escaped_line(),
        "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13"
    );
    // Ended by the quiet gap after the line (the server holds the connection open), not by
    // the 60 s timeout; and not before the gap had passed.
    assert!(took < LOAD, "{took:?}");
    assert!(took >= DEFAULT_IDLE, "{took:?}");
    assert_eq!(
        server.join().unwrap(),
        b"",
        "a non-HTTP port is sent nothing"
    );
}

#[tokio::test]
async fn an_http_port_gets_a_head_request_and_its_answer_is_the_banner() {
    let answer = b"HTTP/1.0 200 OK\r\nServer: test/1.0\r\nContent-Length: 5\r\n\r\n";
    let (addr, server) = serve(move |mut s| {
        // Answers only once a whole request has come, and only a HEAD.
        let mut request = Vec::new();
        let mut byte = [0u8];
        while !request.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).unwrap() == 0 {
                return request;
            }
            request.push(byte[0]);
        }
        if request.starts_with(b"HEAD / HTTP/1.0\r\n") {
            s.write_all(answer).unwrap();
        }
        request
    });
    // A timeout and a quiet gap of 60 s: only the end of the stream can end the grab sooner.
    let http = options(LONG_MS)
        .with_idle(Duration::from_millis(LONG_MS))
        .with_http_ports(PortSet::parse(&addr.port().to_string()).unwrap());
    let start = Instant::now();
    let banner = grab(addr, &http).await.unwrap().expect("an answer");
    assert_eq!(banner.as_bytes(), answer);
    // The server closed after its answer, and that ended the grab.
    assert!(start.elapsed() < LOAD, "{:?}", start.elapsed());
    let request = String::from_utf8(server.join().unwrap()).unwrap();
    assert_eq!(
        request,
        format!("HEAD / HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", addr.port())
    );
}

#[test]
fn the_http_request_names_the_host_as_http_writes_it() {
    assert_eq!(
        http_request("127.0.0.1:80".parse().unwrap()),
        "HEAD / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    );
    assert_eq!(
        http_request("[::1]:8080".parse().unwrap()),
        "HEAD / HTTP/1.0\r\nHost: [::1]:8080\r\n\r\n"
    );
    let defaults = BannerOptions::default();
    for port in [80, 8000, 8008, 8080, 3128] {
        assert!(defaults.http_ports().contains(port), "{port}");
        assert!(
            crate::ports::service_name(port).is_some_and(|s| s.contains("http")),
            "{port}"
        );
    }
    for port in [22, 25, 443, 8443, 593] {
        assert!(!defaults.http_ports().contains(port), "{port}");
    }
}

#[tokio::test]
async fn a_silent_service_gives_no_banner_after_the_timeout() {
    let (addr, server) = serve(received);
    let start = Instant::now();
    assert_eq!(grab(addr, &options(300)).await.unwrap(), None);
    let took = start.elapsed();
    // The timeout was waited for, and it ended the grab: the service would have waited
    // forever for the client.
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(300) + LOAD, "{took:?}");
    // The grab closed its socket: the server saw the end of the stream.
    assert_eq!(server.join().unwrap(), b"");
}

#[tokio::test]
async fn hostile_bytes_are_kept_as_sent_and_printed_escaped() {
    let hostile = b"\x1b]0;pwned\x07\x1b[2J\x1b[31mroot#\xff\x00\xfe\r\n";
    let (addr, server) = serve(move |mut s| {
        s.write_all(hostile).unwrap();
        received(s)
    });
    let banner = grab(addr, &options(2000)).await.unwrap().unwrap();
    assert_eq!(banner.as_bytes(), hostile);
    assert_eq!(
        banner.escaped(),
        r"\x1B]0;pwned\x07\x1B[2J\x1B[31mroot#\xFF\x00\xFE\r\n"
    );
    assert!(banner.escaped().bytes().all(|b| (0x20..0x7f).contains(&b)));
    server.join().unwrap();
}

/// Writes until the client goes away.
fn endless(mut s: TcpStream) {
    let block = [b'A'; 4096];
    while s.write_all(&block).is_ok() {}
}

#[tokio::test]
async fn an_endless_sender_gives_exactly_the_cap() {
    for cap in [DEFAULT_MAX_BYTES, 1, 10_000] {
        let (addr, server) = serve(endless);
        let start = Instant::now();
        let banner = grab(addr, &options(LONG_MS).with_max_bytes(cap))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(banner.as_bytes().len(), cap);
        assert!(banner.as_bytes().iter().all(|&b| b == b'A'));
        // The cap ends it, not the 60 s timeout.
        assert!(start.elapsed() < LOAD, "{cap}: {:?}", start.elapsed());
        server.join().unwrap();
    }
}

/// Sends one byte every 300 ms until the client goes away.
fn trickle(mut s: TcpStream) {
    while s.write_all(b"x").is_ok() {
        thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test]
async fn a_slow_sender_is_bounded_by_the_timeout() {
    let (addr, server) = serve(trickle);
    // A quiet gap longer than the sender's, so only the timeout can end the grab.
    let slow = options(3000).with_idle(Duration::from_millis(LONG_MS));
    let start = Instant::now();
    let banner = grab(addr, &slow).await.unwrap().unwrap();
    let took = start.elapsed();
    // The timeout counts once for the whole grab: it ended it although bytes kept coming
    // (a timeout counted per read would never end, and the grab would last until the cap,
    // 1024 bytes at 300 ms: five minutes).
    assert!(took >= Duration::from_millis(3000), "{took:?}");
    assert!(took < Duration::from_millis(3000) + LOAD, "{took:?}");
    // More than one byte: the grab went on reading after the first. (How many came in the
    // 3 s depends on how busy the machine is; 2 needs the sender's second write within them.)
    assert!(banner.as_bytes().len() >= 2, "{:?}", banner.as_bytes());
    assert!(banner.as_bytes().iter().all(|&b| b == b'x'));
    server.join().unwrap();
}

#[tokio::test]
async fn a_quiet_gap_after_data_ends_the_grab() {
    // One byte, then nothing until the client closes: only the quiet gap (100 ms) or the
    // timeout (60 s) can end the grab.
    let (addr, server) = serve(|mut s| {
        s.write_all(b"x").unwrap();
        received(s)
    });
    let quick = options(LONG_MS).with_idle(Duration::from_millis(100));
    let start = Instant::now();
    let banner = grab(addr, &quick).await.unwrap().unwrap();
    let took = start.elapsed();
    assert_eq!(banner.as_bytes(), b"x");
    // The gap ended it, not the timeout; and not before the gap had passed.
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < LOAD, "{took:?}");
    // The grab closed its socket, having sent nothing.
    assert_eq!(server.join().unwrap(), b"");
}

#[tokio::test]
async fn a_service_that_closes_at_once_gives_no_banner() {
    let (addr, server) = serve(drop);
    let start = Instant::now();
    assert_eq!(grab(addr, &options(LONG_MS)).await.unwrap(), None);
    // The end of the stream ended the grab, not the 60 s timeout.
    assert!(start.elapsed() < LOAD, "{:?}", start.elapsed());
    server.join().unwrap();
}

#[tokio::test]
async fn a_greeting_before_a_reset_is_kept() {
    let (addr, server) = serve(|mut s| {
        // Speak only once the grab has sent its request (its port is taken for an HTTP port
        // below): the reset comes after a connect seen complete, on the read path. (A reset
        // before that is the next test's case.)
        let mut request = [0u8; 1];
        s.read_exact(&mut request).unwrap();
        s.write_all(b"220 ready\r\n").unwrap();
        reset_once_acknowledged(&s);
    });
    let options = options(3000).with_http_ports(PortSet::parse(&addr.port().to_string()).unwrap());
    let banner = grab(addr, &options).await.unwrap().unwrap();
    assert_eq!(banner.as_bytes(), b"220 ready\r\n");
    server.join().unwrap();
}

/// A service that greets and resets before the grab has seen its connect complete: the
/// greeting is still the banner (a plain connect reads the socket's pending reset and loses
/// it). Deterministic: the connect is begun, the service speaks and resets (the greeting
/// acknowledged by our kernel first), and only then is the connect finished.
#[tokio::test]
async fn a_greeting_and_reset_before_the_connect_completes_is_kept() {
    let (addr, server) = serve(|mut s| {
        s.write_all(b"220 quick\r\n").unwrap();
        reset_once_acknowledged(&s);
    });
    let socket = begin_connect(addr).unwrap();
    // The listener's kernel completes the handshake without us; the service then speaks and
    // resets (its thread ends with the reset).
    server.join().unwrap();
    let (stream, reset) = finish_connect(socket).await.unwrap();
    assert!(
        reset,
        "the connection was reset before it was seen complete"
    );
    let banner = read_banner(
        &stream,
        &options(3000),
        tokio::time::Instant::now() + Duration::from_secs(3),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(banner.as_bytes(), b"220 quick\r\n");
}

#[tokio::test]
async fn a_closed_port_is_an_error() {
    // Bound and never listening, held until the test ends: refused, and no other test can
    // take the port meanwhile (as it could a port whose listener was dropped).
    let holder = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    holder
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = holder.local_addr().unwrap().as_socket().unwrap().port();
    let err = grab(SocketAddr::from(([127, 0, 0, 1], port)), &options(1000))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
