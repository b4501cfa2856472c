//! `text` (the default): per-host tables like nmap's normal output, written at `end`.

use std::io::{self, Write};

use super::{plural, printable, Collector, HostData, ScanInfo, ServiceLookup, Summary};
use crate::model::{PortState, Reason};
use crate::service::TlsInfo;

/// What the SERVICE column shows for a port with no known service.
pub(crate) const UNKNOWN_SERVICE: &str = "?";

/// Hosts with nothing listed still get a block ("All N scanned ports are …").
pub(crate) const KEEP_EMPTY: bool = true;

/// `closed ports (conn-refused)` or `filtered ports (900 no-response, 100 host-unreach)`.
fn hidden_state(host: &HostData, state: PortState) -> Option<String> {
    let n = host.hidden_in(state);
    if n == 0 {
        return None;
    }
    let reasons = reason_list(&host.hidden_reasons(state));
    Some(format!(
        "{n} {state} {} ({reasons})",
        plural_word(n, "port")
    ))
}

/// `conn-refused` for a single reason, `900 no-response, 100 host-unreach` for several.
fn reason_list(reasons: &[(Reason, u64)]) -> String {
    if let [(reason, _)] = reasons {
        return reason.as_str().to_string();
    }
    reasons
        .iter()
        .map(|(r, c)| format!("{c} {r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural_word(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// The SGR code that colours a state in the STATE column, and the one that ends it.
fn state_colour(state: PortState) -> &'static str {
    match state {
        PortState::Open => "\x1b[32m",
        PortState::Closed => "\x1b[31m",
        PortState::Filtered => "\x1b[33m",
    }
}
const RESET: &str = "\x1b[0m";

fn write_host(
    w: &mut dyn Write,
    ip: &std::net::IpAddr,
    host: &HostData,
    services: ServiceLookup,
    colour: bool,
    versions: bool,
) -> io::Result<()> {
    // As nmap: the name the user gave, else the PTR name, before the address; the PTR name
    // when it differs from the name given; the name's other addresses.
    match (&host.name, &host.ptr) {
        (Some(n), _) => writeln!(w, "portscout report for {} ({ip})", n.name)?,
        (None, Some(ptr)) => writeln!(w, "portscout report for {ptr} ({ip})")?,
        (None, None) => writeln!(w, "portscout report for {ip}")?,
    }
    if let Some(n) = &host.name {
        if !n.others.is_empty() {
            let others: Vec<String> = n.others.iter().map(ToString::to_string).collect();
            writeln!(
                w,
                "Other addresses for {} (not scanned): {}",
                n.name,
                others.join(" ")
            )?;
        }
        if let Some(ptr) = host.ptr.as_ref().filter(|p| **p != n.name) {
            writeln!(w, "rDNS record for {ip}: {ptr}")?;
        }
    }
    if let Some((reason, skipped)) = host.down {
        writeln!(
            w,
            "Host is down ({reason}): {} not scanned (--no-host-check scans them)",
            plural(skipped, "port")
        )?;
        return writeln!(w);
    }
    if host.listed.is_empty() {
        let total = host.total();
        let states: Vec<PortState> = PortState::ALL
            .into_iter()
            .filter(|s| host.hidden_in(*s) > 0)
            .collect();
        if let [state] = states[..] {
            let reasons = reason_list(&host.hidden_reasons(state));
            writeln!(
                w,
                "All {total} scanned {} {state} ({reasons})",
                if total == 1 { "port is" } else { "ports are" }
            )?;
        } else {
            let counts = states
                .iter()
                .map(|s| format!("{} {s}", host.hidden_in(*s)))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(
                w,
                "All {total} scanned ports are in ignored states ({counts})"
            )?;
        }
        return writeln!(w);
    }

    let hidden: Vec<String> = PortState::ALL
        .into_iter()
        .filter_map(|s| hidden_state(host, s))
        .collect();
    if !hidden.is_empty() {
        writeln!(w, "Not shown: {}", hidden.join(", "))?;
    }

    // With `--service-version`, the SERVICE column names what was detected and a VERSION
    // column follows REASON, as nmap's `-sV --reason` prints them.
    let rows: Vec<Vec<String>> = host
        .listed
        .iter()
        .map(|l| {
            let service = match &l.service {
                Some(s) => printable(&s.display_name()),
                None => services(l.port).unwrap_or(UNKNOWN_SERVICE).to_string(),
            };
            let mut row = vec![
                format!("{}/tcp", l.port),
                l.state.as_str().to_string(),
                service,
                l.reason.as_str().to_string(),
            ];
            if versions {
                row.push(
                    l.service
                        .as_ref()
                        .map_or(String::new(), |s| printable(&s.version_line())),
                );
            }
            row
        })
        .collect();
    let mut header = vec!["PORT", "STATE", "SERVICE", "REASON"];
    if versions {
        header.push("VERSION");
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    // `state`: the row's state, coloured when `colour` is on. The codes wrap the word only
    // and the padding follows them, so they take no room in the column. The last column is
    // not padded.
    let write_row =
        |w: &mut dyn Write, cells: &[&str], state: Option<PortState>| -> io::Result<()> {
            let (start, end) = match state {
                Some(s) if colour => (state_colour(s), RESET),
                _ => ("", ""),
            };
            let last = cells.len() - 1;
            let mut line = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                if i == 1 {
                    line.push_str(start);
                    line.push_str(cell);
                    line.push_str(end);
                } else {
                    line.push_str(cell);
                }
                if i < last {
                    line.push_str(&" ".repeat(widths[i] - cell.len()));
                }
            }
            writeln!(w, "{}", line.trim_end())
        };
    write_row(w, &header, None)?;
    for (row, l) in rows.iter().zip(&host.listed) {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        write_row(w, &cells, Some(l.state))?;
        if let Some(banner) = &l.banner {
            // As nmap prints a script's one-line output; escaped, so a service cannot send
            // control sequences to the terminal.
            writeln!(w, "|_banner: {}", banner.escaped_line())?;
        }
        if let Some(tls) = l.service.as_ref().and_then(|s| s.tls.as_ref()) {
            if let Some(line) = tls_line(tls) {
                writeln!(w, "|_tls: {}", printable(&line))?;
            }
        }
    }
    if let Some(info) = service_info(host) {
        writeln!(w, "Service Info: {}", printable(&info))?;
    }
    writeln!(w)
}

/// Writes one block per host and a `Done:` line.
pub(crate) fn render(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, info, Some(summary), services, false)
}

/// [`render`] with the STATE column coloured (`PrinterOptions::colour`).
pub(crate) fn render_coloured(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, info, Some(summary), services, true)
}

/// [`render`] without the `Done:` line (`PrinterOptions::summary` off).
pub(crate) fn render_results(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    _summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, info, None, services, false)
}

/// [`render_coloured`] without the `Done:` line (`PrinterOptions::summary` off).
pub(crate) fn render_results_coloured(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    _summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, info, None, services, true)
}

fn render_with(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    summary: Option<&Summary>,
    services: ServiceLookup,
    colour: bool,
) -> io::Result<()> {
    for (ip, host) in collector.finish() {
        write_host(w, ip, host, services, colour, info.services)?;
    }
    let Some(summary) = summary else {
        return Ok(());
    };
    let ports = summary.open + summary.closed + summary.filtered;
    write!(
        w,
        "Done: {}, {}: {} open, {} closed, {} filtered",
        plural(summary.hosts, "host"),
        plural(ports, "port"),
        summary.open,
        summary.closed,
        summary.filtered
    )?;
    if summary.hosts_down > 0 {
        write!(w, "; {} down", plural(summary.hosts_down, "host"))?;
    }
    writeln!(w)
}

/// One line about a TLS session: `TLSv1.3; subject CN=…; issuer CN=…; SANs a, b; expires …`.
fn tls_line(tls: &TlsInfo) -> Option<String> {
    let mut parts = Vec::new();
    parts.extend(tls.version.clone());
    parts.extend(tls.subject.as_ref().map(|s| format!("subject {s}")));
    parts.extend(tls.issuer.as_ref().map(|s| format!("issuer {s}")));
    if !tls.sans.is_empty() {
        parts.push(format!("SANs {}", tls.sans.join(", ")));
    }
    parts.extend(tls.not_after.as_ref().map(|s| format!("expires {s}")));
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Adds `s` to `v` unless it is there.
fn push<'a>(v: &mut Vec<&'a str>, s: &'a str) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// nmap's `Service Info:` line of a host: the host names, OS and device types its services
/// told, and their OS and hardware CPEs (`cpe:/o:…`, `cpe:/h:…`), each once, in port order.
fn service_info(host: &HostData) -> Option<String> {
    let mut hosts: Vec<&str> = Vec::new();
    let mut oses: Vec<&str> = Vec::new();
    let mut devices: Vec<&str> = Vec::new();
    let mut cpes: Vec<&str> = Vec::new();
    for s in host.listed.iter().filter_map(|l| l.service.as_deref()) {
        if let Some(h) = &s.hostname {
            push(&mut hosts, h);
        }
        if let Some(o) = &s.ostype {
            push(&mut oses, o);
        }
        if let Some(d) = &s.devicetype {
            push(&mut devices, d);
        }
        for c in &s.cpes {
            if c.starts_with("cpe:/o:") || c.starts_with("cpe:/h:") {
                push(&mut cpes, c);
            }
        }
    }
    let mut parts = Vec::new();
    for (label, plural_label, values) in [
        ("Host", "Hosts", &hosts),
        ("OS", "OSs", &oses),
        ("Device", "Devices", &devices),
    ] {
        match values.len() {
            0 => {}
            1 => parts.push(format!("{label}: {}", values[0])),
            _ => parts.push(format!("{plural_label}: {}", values.join(", "))),
        }
    }
    if !cpes.is_empty() {
        parts.push(format!("CPE: {}", cpes.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
