//! The blocking iterator: scan this machine's loopback and print the open ports as they are
//! found. Loopback only. It opens a listener of its own (a port the kernel picks, added to the
//! scan), so at least that port is found on any machine.
//!
//! ```sh
//! cargo run --example scan_loopback            # ports 1-65535 of 127.0.0.1
//! cargo run --example scan_loopback -- 1-1024  # or any port spec
//! ```

use portscout::ports::PortSet;
use portscout::scan::{Scan, ScanConfig};
use portscout::target::Target;
use portscout::PortState;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ports = std::env::args().nth(1).unwrap_or_else(|| "1-65535".into());
    // Kept open until the end: a port the scan must find.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let ours = listener.local_addr()?.port();
    eprintln!("listening on 127.0.0.1:{ours}");
    let config = ScanConfig::builder()
        .targets([Target::parse("127.0.0.1")?])
        .ports(PortSet::parse(&format!("{ports},{ours}"))?)
        .build()?;
    let scan = Scan::start(&config)?;
    eprintln!(
        "scanning {} ports of 127.0.0.1 with the {} engine ({} workers)",
        scan.space().len(),
        scan.engine(),
        scan.workers()
    );
    // Like a generator: each result is produced when it is found, nothing is listed first.
    for result in scan.ports() {
        let result = result?;
        if result.state == PortState::Open {
            println!("{} open", result.socket_addr());
        }
    }
    drop(listener);
    Ok(())
}
