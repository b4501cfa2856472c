//! Assertions on port sets, ndjson maps and shard outputs, with readable messages.

use super::*;

/// Up to `n` items, then how many more.
pub fn first_items<T: std::fmt::Display>(items: &[T], n: usize) -> String {
    let shown: Vec<String> = items.iter().take(n).map(T::to_string).collect();
    let mut s = shown.join(", ");
    if items.len() > n {
        s.push_str(&format!(", … and {} more", items.len() - n));
    }
    s
}

/// Panics unless `got == want`, naming the ports missing, extra and in another state.
#[track_caller]
pub fn assert_same_ports(
    what: &str,
    got: &std::collections::BTreeMap<Key, String>,
    want: &std::collections::BTreeMap<Key, String>,
) {
    if got == want {
        return;
    }
    let show = |k: &Key, s: &String| format!("{} {s}", SocketAddr::new(k.0, k.1));
    let missing: Vec<String> = want
        .iter()
        .filter(|(k, _)| !got.contains_key(k))
        .map(|(k, s)| show(k, s))
        .collect();
    let extra: Vec<String> = got
        .iter()
        .filter(|(k, _)| !want.contains_key(k))
        .map(|(k, s)| show(k, s))
        .collect();
    let wrong: Vec<String> = got
        .iter()
        .filter_map(|(k, s)| match want.get(k) {
            Some(w) if w != s => Some(format!("{} want {w} got {s}", SocketAddr::new(k.0, k.1))),
            _ => None,
        })
        .collect();
    panic!(
        "{what}: {} ports wanted, {} reported\n  missing ({}): {}\n  extra ({}): {}\n  wrong state ({}): {}",
        want.len(),
        got.len(),
        missing.len(),
        first_items(&missing, 20),
        extra.len(),
        first_items(&extra, 20),
        wrong.len(),
        first_items(&wrong, 20)
    );
}

/// Counts of the last `"type":"summary"` record of ndjson output: (open, closed, filtered,
/// hosts_down).
#[track_caller]
pub fn summary_counts(what: &str, ndjson: &str) -> [u64; 4] {
    let line = ndjson
        .lines()
        .rev()
        .find(|l| l.contains("\"type\":\"summary\""))
        .unwrap_or_else(|| panic!("{what}: no summary record"));
    let v: serde_json::Value = serde_json::from_str(line).expect("summary is JSON");
    ["open", "closed", "filtered", "hosts_down"].map(|k| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{what}: summary without {k}: {line}"))
    })
}

/// Ports of `ip` with `state` among `records`.
pub fn ports_with_state(
    records: &[(IpAddr, u16, String)],
    ip: IpAddr,
    state: &str,
) -> BTreeSet<u16> {
    records
        .iter()
        .filter(|(i, _, s)| *i == ip && s == state)
        .map(|(_, p, _)| *p)
        .collect()
}

/// Assert `actual == expected`, naming the missing and extra ports.
#[track_caller]
pub fn assert_port_set(what: &str, actual: &BTreeSet<u16>, expected: &BTreeSet<u16>) {
    if actual == expected {
        return;
    }
    let missing: Vec<u16> = expected.difference(actual).copied().collect();
    let extra: Vec<u16> = actual.difference(expected).copied().collect();
    panic!(
        "{what}: port set differs\n  missing ({}): {}\n  extra ({}): {}\n  expected {} ports, got {}",
        missing.len(),
        summarize(&missing),
        extra.len(),
        summarize(&extra),
        expected.len(),
        actual.len()
    );
}

/// Up to 50 ports, then a count of the rest.
fn summarize(ports: &[u16]) -> String {
    let shown: Vec<String> = ports.iter().take(50).map(u16::to_string).collect();
    let mut s = format!("[{}]", shown.join(", "));
    if ports.len() > 50 {
        s.push_str(&format!(" ... and {} more", ports.len() - 50));
    }
    s
}

/// The outputs of the shards of one scan (ndjson files, in shard order): panics if a port is
/// reported by two shards; returns each file's text.
#[track_caller]
pub fn disjoint_shard_outputs(files: &[String]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<Key, usize> = std::collections::BTreeMap::new();
    files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let text = std::fs::read_to_string(file).expect("shard output");
            for k in port_map(&format!("shard {}", i + 1), &text).keys() {
                if let Some(other) = seen.insert(*k, i + 1) {
                    panic!(
                        "{} in shards {other} and {}",
                        SocketAddr::new(k.0, k.1),
                        i + 1
                    );
                }
            }
            text
        })
        .collect()
}

/// `portscout merge FILES --format ndjson --show all`, checked to succeed and to list its
/// ports strictly ordered by (ip, port).
#[track_caller]
pub fn merge_ordered(files: &[String]) -> ScanRun {
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend_from_slice(&["--format", "ndjson", "--show", "all"]);
    let merged = portscout_local(&args);
    merged.assert_success();
    let keys: Vec<Key> = parse_port_records(&merged.stdout)
        .iter()
        .map(|r| (r.ip, r.port))
        .collect();
    let unordered: Vec<String> = keys
        .windows(2)
        .filter(|w| w[0] >= w[1])
        .map(|w| {
            format!(
                "{} before {}",
                SocketAddr::new(w[0].0, w[0].1),
                SocketAddr::new(w[1].0, w[1].1)
            )
        })
        .collect();
    assert!(
        unordered.is_empty(),
        "merge output not strictly ordered by (ip, port): {}",
        first_items(&unordered, 10)
    );
    merged
}
