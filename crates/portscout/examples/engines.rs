//! The seed's experiment (section 6): one scan, run by each engine in turn, with the time each
//! took and the open ports each found. Every engine finds the same ports. Loopback only.
//!
//! ```sh
//! cargo run --release --example engines            # 127.0.0.1, ports 30000-65535, as the seed
//! cargo run --release --example engines -- 1-65535
//! ```

use std::time::Instant;

use portscout::ports::PortSet;
use portscout::scan::{Engine, Scan, ScanConfig};
use portscout::target::Target;
use portscout::PortState;

fn main() -> Result<(), portscout::Error> {
    let ports = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "30000-65535".into());
    for engine in [Engine::Threads, Engine::Async, Engine::Sharded] {
        let config = ScanConfig::builder()
            .engine(engine)
            .targets([Target::parse("127.0.0.1")?])
            .ports(PortSet::parse(&ports)?)
            .build()?;
        let started = Instant::now();
        let scan = Scan::start(&config)?;
        let workers = scan.workers();
        let mut open = Vec::new();
        for result in scan.ports() {
            let result = result?;
            if result.state == PortState::Open {
                open.push(result.port);
            }
        }
        open.sort_unstable();
        println!(
            "{engine:>8} ({workers:>2} threads): {:>7.3} s, open: {open:?}",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
