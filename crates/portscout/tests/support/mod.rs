//! Helpers shared by the library's integration tests. Loopback only.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use portscout::ports::PortSet;
use portscout::scan::{Engine, ScanConfig};
use portscout::target::Target;
use socket2::{Domain, Socket, Type};

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
