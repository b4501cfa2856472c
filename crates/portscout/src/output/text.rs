//! `text` (the default): per-host tables like nmap's normal output, written at `end`.

use std::io::{self, Write};

use super::{plural, Collector, HostData, ScanInfo, ServiceLookup, Summary};
use crate::model::{PortState, Reason};

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
) -> io::Result<()> {
    writeln!(w, "portscout report for {ip}")?;
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

    let rows: Vec<[String; 4]> = host
        .listed
        .iter()
        .map(|l| {
            [
                format!("{}/tcp", l.port),
                l.state.as_str().to_string(),
                services(l.port).unwrap_or(UNKNOWN_SERVICE).to_string(),
                l.reason.as_str().to_string(),
            ]
        })
        .collect();
    let header = ["PORT", "STATE", "SERVICE", "REASON"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    // `state`: the row's state, coloured when `colour` is on. The codes wrap the word only
    // and the padding follows them, so they take no room in the column.
    let write_row =
        |w: &mut dyn Write, cells: [&str; 4], state: Option<PortState>| -> io::Result<()> {
            let (start, end) = match state {
                Some(s) if colour => (state_colour(s), RESET),
                _ => ("", ""),
            };
            write!(
                w,
                "{:<w0$}  {start}{}{end}{:pad$}  {:<w2$}  {}",
                cells[0],
                cells[1],
                "",
                cells[2],
                cells[3],
                w0 = widths[0],
                pad = widths[1] - cells[1].len(),
                w2 = widths[2],
            )?;
            writeln!(w)
        };
    write_row(w, header, None)?;
    for (row, l) in rows.iter().zip(&host.listed) {
        write_row(w, [&row[0], &row[1], &row[2], &row[3]], Some(l.state))?;
        if let Some(banner) = &l.banner {
            // As nmap prints a script's one-line output; escaped, so a service cannot send
            // control sequences to the terminal.
            writeln!(w, "|_banner: {}", banner.escaped_line())?;
        }
    }
    writeln!(w)
}

/// Writes one block per host and a `Done:` line.
pub(crate) fn render(
    w: &mut dyn Write,
    collector: &mut Collector,
    _info: &ScanInfo,
    summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, Some(summary), services, false)
}

/// [`render`] with the STATE column coloured (`PrinterOptions::colour`).
pub(crate) fn render_coloured(
    w: &mut dyn Write,
    collector: &mut Collector,
    _info: &ScanInfo,
    summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, Some(summary), services, true)
}

/// [`render`] without the `Done:` line (`PrinterOptions::summary` off).
pub(crate) fn render_results(
    w: &mut dyn Write,
    collector: &mut Collector,
    _info: &ScanInfo,
    _summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, None, services, false)
}

/// [`render_coloured`] without the `Done:` line (`PrinterOptions::summary` off).
pub(crate) fn render_results_coloured(
    w: &mut dyn Write,
    collector: &mut Collector,
    _info: &ScanInfo,
    _summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_with(w, collector, None, services, true)
}

fn render_with(
    w: &mut dyn Write,
    collector: &mut Collector,
    summary: Option<&Summary>,
    services: ServiceLookup,
    colour: bool,
) -> io::Result<()> {
    for (ip, host) in collector.finish() {
        write_host(w, ip, host, services, colour)?;
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
