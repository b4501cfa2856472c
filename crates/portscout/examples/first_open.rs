//! The seed's async generator with `max = 1` (section 6.3), as a `Stream`: take the first
//! open port and stop. Dropping the stream stops the scan; its sockets are closed at once.
//! Loopback only.
//!
//! ```sh
//! cargo run --example first_open
//! ```

use futures_util::{future, StreamExt};
use portscout::ports::PortSet;
use portscout::scan::{Scan, ScanConfig};
use portscout::target::Target;
use portscout::{Event, PortState};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), portscout::Error> {
    // Something to find, whatever else listens here.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    eprintln!("listening on {}", listener.local_addr().expect("address"));

    let config = ScanConfig::builder()
        .targets([Target::parse("127.0.0.1")?])
        .ports(PortSet::all())
        .build()?;
    // In async code, resolve without blocking, then start.
    let space = config.probe_space().await?;
    let open: Vec<_> = Scan::with_space(&config, space)?
        .into_stream()
        .filter_map(|event| {
            future::ready(match event {
                Ok(Event::Port(r)) if r.state == PortState::Open => Some(Ok(r)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
        })
        .take(1)
        .collect()
        .await;
    for result in open {
        let result = result?;
        println!("first open port: {}", result.socket_addr());
    }
    Ok(())
}
