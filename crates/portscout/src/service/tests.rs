//! The order of the steps, and the model's names.

use super::*;

fn names(port: u16, tls: bool, options: &DetectOptions) -> Vec<String> {
    steps(port, tls, options)
        .iter()
        .map(|s| match s {
            Step::Builtin(p) => p.name.to_string(),
            Step::Nmap(p) => format!("nmap:{}", p.name),
            Step::Tls => "tls".to_string(),
        })
        .collect()
}

#[test]
fn the_ports_probe_then_http_then_tls() {
    let o = DetectOptions::default();
    let redis = names(6379, false, &o);
    assert_eq!(redis[..3], ["redis", "http", "tls"]);
    let any = names(31337, false, &o);
    assert_eq!(any[..2], ["http", "tls"]);
    assert_eq!(any.len(), builtin::PROBES.len() + 1);
    // TLS ports: the handshake first; inside TLS no second handshake.
    assert_eq!(names(443, false, &o)[..2], ["tls", "http"]);
    assert!(!names(443, true, &o).contains(&"tls".to_string()));
}

#[test]
fn nmap_probes_follow_or_replace() {
    let db = Arc::new(
        ProbeDb::parse(b"Probe TCP NULL q||\nProbe TCP A q|a|\nrarity 1\nProbe TCP SSLSessionReq q|\\x16|\nrarity 1\n")
            .unwrap(),
    );
    let both = DetectOptions::default().with_nmap_db(Arc::clone(&db), false);
    let v = names(31337, false, &both);
    assert_eq!(v[v.len() - 2..], ["nmap:A", "nmap:SSLSessionReq"]);
    let only = DetectOptions::default().with_nmap_db(db, true);
    assert_eq!(
        names(31337, false, &only),
        ["nmap:A", "tls", "nmap:SSLSessionReq"]
    );
}

#[test]
fn names_as_nmap_prints_them() {
    let mut s = ServiceInfo::probed("http");
    assert_eq!(s.display_name(), "http");
    s.tls = Some(TlsInfo::default());
    assert_eq!(s.display_name(), "ssl/http");
    assert_eq!(s.version_line(), "");
    let t = ServiceInfo::from_table(22);
    assert_eq!(
        (t.name.as_str(), t.method, t.confidence),
        ("ssh", Method::Table, 3)
    );
    assert_eq!(ServiceInfo::from_table(31338).name, "unknown");
    assert_eq!(ServiceInfo::from_table(31337).name, "Elite");
    assert_eq!(Method::Probed.as_str(), "probed");
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["method"], "table");
}
