//! Service detection on loopback ports: `detect_all` over the ports given, printed as nmap's
//! `-sV` prints them. `--nmap` uses nmap's installed `nmap-service-probes` only, `--both`
//! after the built-in probes. Loopback only (it refuses other addresses).
//!
//! ```sh
//! cargo run --release --example service_detect -- 22 80 28080
//! cargo run --release --example service_detect -- --nmap 22 80 28080
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use portscout::service::{detect_all, DetectOptions, ProbeDb};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut options = DetectOptions::default();
    let mut ports = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--nmap" | "--both" => {
                let start = Instant::now();
                let db = ProbeDb::load_installed().unwrap_or_else(|e| {
                    eprintln!("error: {e}");
                    std::process::exit(2)
                });
                eprintln!(
                    "nmap-service-probes: {} probes, {} patterns, loaded in {:.2?}",
                    db.probes.len(),
                    db.match_count(),
                    start.elapsed()
                );
                options = options.with_nmap_db(Arc::new(db), arg == "--nmap");
            }
            port => match port.parse::<u16>() {
                Ok(p) => ports.push(SocketAddr::from(([127, 0, 0, 1], p))),
                Err(_) => {
                    eprintln!("error: invalid port `{port}`");
                    std::process::exit(2)
                }
            },
        }
    }
    let start = Instant::now();
    let mut results: Vec<_> = detect_all(ports, options, 256).collect().await;
    results.sort_by_key(|(a, _)| a.port());
    println!("{:<9} {:<15} VERSION", "PORT", "SERVICE");
    for (addr, result) in results {
        match result {
            Ok(info) => println!(
                "{:<9} {:<15} {}",
                format!("{}/tcp", addr.port()),
                info.display_name(),
                info.version_line()
            ),
            Err(e) => println!("{}/tcp error: {e}", addr.port()),
        }
    }
    eprintln!("done in {:.2?}", start.elapsed());
}
