//! One scan, run by each engine in turn, with the time each took and the open ports each
//! found (the experiment portscout started from: one port scanner built as a thread pool, an
//! event loop and parallel workers). Every engine finds the same ports. Loopback only.
//!
//! The example opens three listeners of its own on 127.0.0.1 (ports the kernel picks, added to
//! the scan), so there is something to find on any machine; other services of this machine in
//! the range show up too.
//!
//! ```sh
//! cargo run --release --example engines            # 127.0.0.1, ports 30000-65535
//! cargo run --release --example engines -- 1-65535
//! ```

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Instant;

use portscout::ports::PortSet;
use portscout::scan::{Engine, Scan, ScanConfig};
use portscout::target::Target;
use portscout::PortState;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let range = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "30000-65535".into());
    // Kept open until the end: the ports every engine must find.
    let listeners = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    let ours = listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect::<Result<BTreeSet<u16>, std::io::Error>>()?;
    let spec = std::iter::once(range.clone())
        .chain(ours.iter().map(u16::to_string))
        .collect::<Vec<_>>()
        .join(",");
    println!("listening on 127.0.0.1 ports {ours:?}; scanning {range} and those");
    for engine in [Engine::Threads, Engine::Async, Engine::Sharded] {
        let config = ScanConfig::builder()
            .engine(engine)
            .targets([Target::parse("127.0.0.1")?])
            .ports(PortSet::parse(&spec)?)
            .build()?;
        let started = Instant::now();
        let scan = Scan::start(&config)?;
        let workers = scan.workers();
        let mut open = BTreeSet::new();
        for result in scan.ports() {
            let result = result?;
            if result.state == PortState::Open {
                open.insert(result.port);
            }
        }
        let found = if ours.is_subset(&open) {
            "all 3 of ours found"
        } else {
            "MISSED some of ours"
        };
        println!(
            "{engine:>8} ({workers:>2} threads): {:>7.3} s, open: {open:?} ({found})",
            started.elapsed().as_secs_f64()
        );
    }
    drop(listeners);
    Ok(())
}
