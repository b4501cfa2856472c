//! The size of the scan history (`--db`) for a `-p-` scan of a /24, measured without
//! scanning (issue 19): a synthetic result of HOSTS hosts × 65 535 ports, in a random order
//! like the scan's, with about 32 open and 48 filtered ports per host and every other port closed,
//! recorded through the library's history API (`Db::record`, the `Recorder` sink) into a new
//! file, twice (the second scan shows what a scan adds once the first has run). With `old`,
//! the same rows go into the schema-2 layout as portscout wrote it before (one 56-byte
//! `results` row per port, closed ones included), through the same statements, for
//! comparison. `bench/history_size.sh` runs both.
//!
//! ```sh
//! cargo run --release --example history_size -- DIR [HOSTS] [old]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use portscout::history::{Db, NewScan, ScanKey};
use portscout::output::{ScanInfo, Sink, Summary};
use portscout::ports::PortSet;
use portscout::target::Target;
use portscout::{PortResult, PortState, Reason};

const PORTS: u64 = 65_535;

/// Result `i` of the scan's random order: a permutation of `hosts × PORTS` (a stride
/// coprime with the size), `(host, port)` → state. Per host: about 32 open and 48 filtered
/// ports (1 and 3 in 4096), the rest closed.
fn result(i: u64, n: u64, hosts: u64) -> PortResult {
    // 2^31 - 1 is prime and larger than any n here: coprime.
    let k = (i * 2_147_483_647) % n;
    let (host, port) = (k % hosts, (k / hosts + 1) as u16);
    let (state, reason) = match (u64::from(port) * 7 + host) % 4096 {
        0..=1 => (PortState::Open, Reason::SynAck),
        2..=4 => (PortState::Filtered, Reason::NoResponse),
        _ => (PortState::Closed, Reason::ConnRefused),
    };
    PortResult {
        ip: std::net::IpAddr::from([198, 18, 0, host as u8]),
        port,
        state,
        reason,
        rtt: Some(std::time::Duration::from_micros(200 + k % 300)),
        banner: None,
        service: None,
    }
}

/// The file and its write-ahead log, in bytes.
fn size(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    [path.to_path_buf(), wal]
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn new_layout(path: &Path, hosts: u64) -> Result<(), Box<dyn std::error::Error>> {
    let n = hosts * PORTS;
    let targets = format!("198.18.0.0-{}", hosts - 1);
    let key = ScanKey::new(&[Target::parse(&targets)?], &[], &PortSet::all());
    for scan in 1..=2 {
        let started = Instant::now();
        let new = NewScan::new(key.clone(), targets.clone(), "1-65535", "syn", vec![]);
        let mut r = Db::open(path)?.record(&new)?;
        r.begin(&ScanInfo {
            hosts: u128::from(hosts),
            ports: PORTS as u32,
            port_set: Some(PortSet::all()),
            ..ScanInfo::default()
        })?;
        let mut peak = 0;
        for i in 0..n {
            r.result(&result(i, n, hosts))?;
            if i % (1 << 20) == 0 {
                peak = peak.max(size(path));
            }
        }
        peak = peak.max(size(path));
        r.end(&Summary::default())?;
        drop(r);
        // Closing the last connection checkpoints the log into the file.
        drop(Db::open(path)?);
        println!(
            "new layout, scan {scan}: file {} (largest while recording: {}), {:.1} s",
            mb(size(path)),
            mb(peak),
            started.elapsed().as_secs_f64()
        );
    }
    let db = Db::open(path)?;
    let scans = db.scans()?;
    let c = scans[1].counts;
    println!(
        "  counts of scan 2: {} open, {} closed, {} filtered",
        c.open, c.closed, c.filtered
    );
    let (a, b) = (&scans[0], &scans[1]);
    let started = Instant::now();
    let diff = db.diff(a, b)?;
    println!(
        "  diff of the two: {} compared, {} changes, {:.1} s",
        diff.summary.compared,
        diff.summary.changes(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Schema 2 as it was, and the rows the recorder of schema 2 wrote.
const OLD_SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE results (
    scan_id INTEGER NOT NULL,
    ip      TEXT    NOT NULL,
    port    INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    state   TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'filtered')),
    reason  TEXT    NOT NULL,
    rtt_us  INTEGER,
    banner  TEXT,
    service TEXT, product TEXT, version TEXT, service_info TEXT
);
CREATE INDEX results_by_scan ON results (scan_id);
";

fn old_layout(path: &Path, hosts: u64) -> Result<(), Box<dyn std::error::Error>> {
    let n = hosts * PORTS;
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(OLD_SCHEMA)?;
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO results (scan_id, ip, port, state, reason, rtt_us, banner, \
                 service, product, version, service_info) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, NULL, NULL, NULL, NULL, NULL)",
            )?;
            for _ in 0..4096 {
                if i == n {
                    break;
                }
                let r = result(i, n, hosts);
                stmt.execute(rusqlite::params![
                    r.ip.to_string(),
                    r.port,
                    r.state.as_str(),
                    r.reason.as_str(),
                    r.rtt.map(|d| d.as_micros() as i64)
                ])?;
                i += 1;
            }
        }
        tx.commit()?;
    }
    drop(conn);
    println!(
        "old layout (schema 2), one scan: file {}, {:.1} s",
        mb(size(path)),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: history_size DIR [HOSTS] [old]")?,
    );
    let hosts: u64 = args.get(1).map_or(Ok(256), |h| h.parse())?;
    if !(1..=256).contains(&hosts) {
        return Err("HOSTS: 1 to 256".into());
    }
    std::fs::create_dir_all(&dir)?;
    println!("{hosts} hosts x {PORTS} ports = {} results", hosts * PORTS);
    if args.get(2).map(String::as_str) == Some("old") {
        let path = dir.join("old.db");
        let _ = std::fs::remove_file(&path);
        old_layout(&path, hosts)
    } else {
        let path = dir.join("new.db");
        let _ = std::fs::remove_file(&path);
        new_layout(&path, hosts)
    }
}
