//! Helpers shared by the library's integration tests. Loopback only.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use portscout::ports::PortSet;
use portscout::scan::{Engine, ScanConfig};
use portscout::target::Target;
use socket2::{Domain, Socket, Type};

/// Descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Threads of this process whose name starts with `prefix` (`portscout-w` for workers).
pub fn threads_named(prefix: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Waits up to `limit` for `done`, polling every 10 ms; whether it came true.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// A listener on 127.0.0.1 whose accept queue is full: SYNs to it get no answer.
pub struct Silent {
    _listener: Socket,
    _filler: TcpStream,
    /// Its port.
    pub port: u16,
}

pub fn silent() -> Silent {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&addr.into()).unwrap();
    // Backlog 0: the kernel queues one connection, then drops SYNs.
    listener.listen(0).unwrap();
    let local = listener.local_addr().unwrap().as_socket().unwrap();
    let filler = TcpStream::connect(local).unwrap();
    Silent {
        _listener: listener,
        _filler: filler,
        port: local.port(),
    }
}

/// A loopback scan of `ports` with `engine`, no retries.
pub fn config(engine: Engine, ports: &str, timeout: Duration) -> ScanConfig {
    ScanConfig::builder()
        .engine(engine)
        .targets([Target::parse("127.0.0.1").unwrap()])
        .ports(PortSet::parse(ports).unwrap())
        .timeout(timeout)
        .retries(0)
        .build()
        .unwrap()
}

/// What a [`Service`] does with each connection.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Sends these bytes at once, then waits for the client to close.
    Greet(Vec<u8>),
    /// Sends nothing; waits for the client to close.
    Silent,
    /// Sends nothing; once the client has closed, keeps its end open this long (a service
    /// slow to see the end, as on a loaded machine).
    Linger(Duration),
}

/// A TCP service on 127.0.0.1 that accepts every connection and plays [`Behaviour`] on each,
/// on a thread of its own. Dropping it stops accepting (connections already accepted end
/// when their client closes, or after 60 s).
pub struct Service {
    /// Its port.
    pub port: u16,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// Connections accepted and not closed yet (the service's end).
    pub live: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn service(behaviour: Behaviour) -> Service {
    serve(
        behaviour,
        TcpListener::bind("127.0.0.1:0").unwrap(),
        usize::MAX,
    )
}

/// A daemon that serves every loopback address (bound to 0.0.0.0: 127.0.0.2 reaches it as
/// 127.0.0.1 does, as AnyIP addresses reach one daemon), with a listen backlog of `backlog`,
/// and that stops accepting while it holds `max_live` connections, as Dovecot does at its
/// login process limit: then its accept queue fills and the kernel drops SYNs to it.
pub fn busy_daemon(behaviour: Behaviour, max_live: usize, backlog: i32) -> Service {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let addr: SocketAddr = "0.0.0.0:0".parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(backlog).unwrap();
    serve(behaviour, socket.into(), max_live)
}

fn serve(behaviour: Behaviour, listener: TcpListener, max_live: usize) -> Service {
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let live = Arc::new(AtomicUsize::new(0));
    let (stop2, accepted2, live2) = (Arc::clone(&stop), Arc::clone(&accepted), Arc::clone(&live));
    let thread = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            if live2.load(Ordering::SeqCst) >= max_live {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            live2.fetch_add(1, Ordering::SeqCst);
            accepted2.fetch_add(1, Ordering::SeqCst);
            let behaviour = behaviour.clone();
            let live = Arc::clone(&live2);
            std::thread::spawn(move || {
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
                if let Behaviour::Greet(bytes) = &behaviour {
                    let _ = conn.write_all(bytes);
                }
                let _ = conn.read_to_end(&mut Vec::new());
                if let Behaviour::Linger(linger) = behaviour {
                    std::thread::sleep(linger);
                }
                drop(conn);
                live.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Service {
        port,
        accepted,
        live,
        stop,
        thread: Some(thread),
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

/// A port that refuses connections for as long as the returned socket lives: bound, never
/// listening. Binding and dropping a listener would hand back a port of the ephemeral range
/// that anything on the machine may take meanwhile (a fresh-clone run beside another test
/// suite saw one of them open); a bound port is taken by no other socket.
pub fn closed_port() -> (socket2::Socket, u16) {
    closed_port_on("127.0.0.1")
}

/// [`closed_port`] on `ip` (an IPv4 or IPv6 literal).
pub fn closed_port_on(ip: &str) -> (socket2::Socket, u16) {
    let addr = SocketAddr::new(ip.parse().expect("an address literal"), 0);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    socket.bind(&addr.into()).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (socket, port)
}
