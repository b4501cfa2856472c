//! Reading the scanner's ndjson output.

use super::*;

/// Parse ndjson scanner output into `(ip, port, state)`, skipping records with a `"type"` key
/// (summary and other meta records) and blank lines. Panics on a line that is not a JSON object
/// or a port record without ip/port/state.
pub fn parse_ndjson(stdout: &str) -> Vec<(IpAddr, u16, String)> {
    let mut recs = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("ndjson line {}: {e}: {line}", i + 1));
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("ndjson line {} is not an object: {line}", i + 1));
        if obj.contains_key("type") {
            continue;
        }
        let ip: IpAddr = obj
            .get("ip")
            .and_then(|x| x.as_str())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("ndjson line {}: no valid \"ip\": {line}", i + 1));
        let port = obj
            .get("port")
            .and_then(|x| x.as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("ndjson line {}: no valid \"port\": {line}", i + 1));
        let state = obj
            .get("state")
            .and_then(|x| x.as_str())
            .unwrap_or_else(|| panic!("ndjson line {}: no \"state\": {line}", i + 1))
            .to_owned();
        recs.push((ip, port, state));
    }
    recs
}

/// One ndjson port record, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRecord {
    pub ip: IpAddr,
    pub port: u16,
    pub state: String,
    pub reason: String,
}

/// Parse ndjson scanner output into port records (as [`parse_ndjson`], keeping the reason).
/// Panics on a port record without ip, port, state or reason.
pub fn parse_port_records(stdout: &str) -> Vec<PortRecord> {
    json_lines(stdout)
        .filter(|(_, _, obj)| !obj.contains_key("type"))
        .map(|(n, line, obj)| {
            let text = |key: &str| {
                obj.get(key)
                    .and_then(|x| x.as_str())
                    .unwrap_or_else(|| panic!("ndjson line {n}: no \"{key}\": {line}"))
                    .to_owned()
            };
            PortRecord {
                ip: text("ip")
                    .parse()
                    .unwrap_or_else(|e| panic!("ndjson line {n}: bad ip: {e}: {line}")),
                port: obj
                    .get("port")
                    .and_then(|x| x.as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or_else(|| panic!("ndjson line {n}: no valid \"port\": {line}")),
                state: text("state"),
                reason: text("reason"),
            }
        })
        .collect()
}

/// One ndjson host record: `{"type":"host","ip":…,"state":"down","reason":…,"skipped":N}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRecord {
    pub ip: IpAddr,
    pub state: String,
    pub reason: String,
    /// `skipped`: the number of the host's ports not reported; None when the key is missing.
    pub skipped: Option<u64>,
    /// The line as printed.
    pub line: String,
}

/// The host records (`"type":"host"`) of ndjson scanner output. Panics on a host record
/// without a valid `ip`, or without string `state` and `reason`.
pub fn parse_host_records(stdout: &str) -> Vec<HostRecord> {
    json_lines(stdout)
        .filter(|(_, _, obj)| obj.get("type").and_then(|t| t.as_str()) == Some("host"))
        .map(|(n, line, obj)| {
            let field = |key: &str| {
                obj.get(key)
                    .and_then(|x| x.as_str())
                    .unwrap_or_else(|| panic!("ndjson line {n}: host record without {key}: {line}"))
                    .to_owned()
            };
            HostRecord {
                ip: field("ip")
                    .parse()
                    .unwrap_or_else(|e| panic!("ndjson line {n}: bad ip: {e}: {line}")),
                state: field("state"),
                reason: field("reason"),
                skipped: obj.get("skipped").and_then(|x| x.as_u64()),
                line: line.to_owned(),
            }
        })
        .collect()
}

/// The non-blank lines of ndjson output as (line number, line, object); panics on a line that
/// is not a JSON object.
fn json_lines(
    stdout: &str,
) -> impl Iterator<Item = (usize, &str, serde_json::Map<String, serde_json::Value>)> {
    stdout
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, line)| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("ndjson line {n}: {e}: {line}"));
            match v {
                serde_json::Value::Object(obj) => (n, line, obj),
                _ => panic!("ndjson line {n} is not an object: {line}"),
            }
        })
}

/// A probe: address and port.
pub type Key = (IpAddr, u16);

/// The port records of ndjson output as (ip, port) → state; panics on a port reported twice.
pub fn port_map(what: &str, ndjson: &str) -> std::collections::BTreeMap<Key, String> {
    let mut map = std::collections::BTreeMap::new();
    let mut twice = Vec::new();
    for r in parse_port_records(ndjson) {
        if let Some(old) = map.insert((r.ip, r.port), r.state.clone()) {
            twice.push(format!(
                "{} {old} + {}",
                SocketAddr::new(r.ip, r.port),
                r.state
            ));
        }
    }
    assert!(
        twice.is_empty(),
        "{what}: {} port(s) reported more than once: {}",
        twice.len(),
        first_items(&twice, 10)
    );
    map
}
