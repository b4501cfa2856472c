//! `portscout history` and `portscout diff`: a scan history (`--db FILE`) listed and compared.
//!
//! Both only read the file (an older schema is upgraded in place first). Every problem with the
//! file or the scan ids is bad input (exit 2). `diff` exits 0, or with `--exit-code` 1 when
//! something changed, as diff(1) does.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use portscout::history::{
    self, Change, Db, Diff, HistoryError, HostChange, HostState, PortChange, ScanRecord, ScanStatus,
};
use serde::Serialize;

use crate::error::{Failure, Result};

/// `--format` of `history` and `diff`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// One JSON object per line.
    Ndjson,
}

/// `portscout history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The history file (written by scans with `--db FILE`).
    #[arg(long, value_name = "FILE", required = true)]
    pub db: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `portscout diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The history file (written by scans with `--db FILE`).
    #[arg(long, value_name = "FILE", required = true)]
    pub db: PathBuf,

    /// The earlier scan's id (`portscout history` lists them). Alone: compared with the most
    /// recent other complete scan of the same targets and ports. Neither: the two most recent
    /// complete scans of the targets and ports of the latest scan.
    #[arg(value_name = "A")]
    pub a: Option<i64>,

    /// The later scan's id.
    #[arg(value_name = "B", requires = "a")]
    pub b: Option<i64>,

    /// Output format: text (`+ 198.18.0.1 22/tcp open (was closed)`) or ndjson (one object
    /// per change, then a summary).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Exit 1 when something changed (0 when nothing did), as diff(1) does.
    #[arg(long)]
    pub exit_code: bool,

    /// Print nothing on standard error but errors (no warnings about incomplete scans).
    #[arg(short, long)]
    pub quiet: bool,
}

fn bad(e: HistoryError) -> Failure {
    Failure::BadInput(e.to_string())
}

/// Runs `portscout history`.
pub fn list(args: HistoryArgs) -> Result<()> {
    let db = Db::open_existing(&args.db).map_err(bad)?;
    let scans = db.scans().map_err(bad)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let written = match args.format {
        ReportFormat::Text => write_list_text(&mut out, &scans),
        ReportFormat::Ndjson => scans.iter().try_for_each(|s| {
            serde_json::to_writer(&mut out, &ScanLine::from(s))?;
            out.write_all(b"\n")
        }),
    }
    .and_then(|()| out.flush());
    ignore_broken_pipe(written)
}

fn ignore_broken_pipe(r: io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `1.52 s`, with the number of runs when resumed.
fn duration(s: &ScanRecord) -> String {
    match s.status {
        ScanStatus::Running { .. } | ScanStatus::Incomplete => "-".into(),
        _ if s.runs > 1 => format!("{:.2} s, {} runs", s.elapsed_ms as f64 / 1e3, s.runs),
        _ => format!("{:.2} s", s.elapsed_ms as f64 / 1e3),
    }
}

fn write_list_text(out: &mut impl Write, scans: &[ScanRecord]) -> io::Result<()> {
    let head = [
        "ID",
        "STARTED (UTC)",
        "STATUS",
        "TIME",
        "OPEN",
        "CLOSED",
        "FILTERED",
        "DOWN",
        "TARGETS",
    ];
    let rows: Vec<[String; 9]> = scans
        .iter()
        .map(|s| {
            [
                s.id.to_string(),
                s.started.to_string(),
                s.status.to_string(),
                duration(s),
                s.counts.open.to_string(),
                s.counts.closed.to_string(),
                s.counts.filtered.to_string(),
                s.counts.hosts_down.to_string(),
                history::describe(s),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    // Numbers right-aligned; the last column is not padded.
    let right = [true, false, false, true, true, true, true, true, false];
    let line = |out: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else if right[i] {
                text.push_str(&format!("{cell:>w$}", w = width[i]));
            } else {
                text.push_str(&format!("{cell:<w$}", w = width[i]));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &head)?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &cells)?;
    }
    Ok(())
}

/// A scan as `history --format ndjson` writes it.
#[derive(Serialize)]
struct ScanLine<'a> {
    id: i64,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    started: String,
    ended: Option<String>,
    elapsed_ms: u64,
    runs: u32,
    targets: &'a str,
    ports: &'a str,
    key: &'a str,
    scan_type: &'a str,
    hosts: Option<u64>,
    ports_per_host: Option<u32>,
    open: u64,
    closed: u64,
    filtered: u64,
    hosts_down: u64,
    args: &'a [String],
    version: &'a str,
}

impl<'a> From<&'a ScanRecord> for ScanLine<'a> {
    fn from(s: &'a ScanRecord) -> ScanLine<'a> {
        ScanLine {
            id: s.id,
            status: s.status.as_str(),
            pid: match s.status {
                ScanStatus::Running { pid } => Some(pid),
                _ => None,
            },
            started: s.started.rfc3339(),
            ended: s.ended.map(|t| t.rfc3339()),
            elapsed_ms: s.elapsed_ms,
            runs: s.runs,
            targets: &s.targets,
            ports: &s.ports,
            key: &s.key,
            scan_type: &s.scan_type,
            hosts: s.hosts,
            ports_per_host: s.ports_per_host,
            open: s.counts.open,
            closed: s.counts.closed,
            filtered: s.counts.filtered,
            hosts_down: s.counts.hosts_down,
            args: &s.args,
            version: &s.version,
        }
    }
}

/// Runs `portscout diff`; the exit code is 1 with `--exit-code` when something changed.
pub fn diff(args: DiffArgs) -> Result<ExitCode> {
    let db = Db::open_existing(&args.db).map_err(bad)?;
    let (a, b) = db.pick(args.a, args.b).map_err(bad)?;
    if !args.quiet {
        for s in [&a, &b] {
            match s.status {
                ScanStatus::Complete => {}
                ScanStatus::Running { pid } => eprintln!(
                    "warning: scan {} is still running (process {pid}): only the results it \
                     has so far are compared",
                    s.id
                ),
                status => eprintln!(
                    "warning: scan {} is {status}: only the results it recorded are compared",
                    s.id
                ),
            }
        }
        if a.key != b.key {
            eprintln!(
                "warning: scans {} and {} are not of the same targets and ports ({} / {}): \
                 only ports with a result in both are compared",
                a.id,
                b.id,
                history::describe(&a),
                history::describe(&b)
            );
        }
    }
    let diff = db.diff(&a, &b).map_err(bad)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let written = match args.format {
        ReportFormat::Text => write_diff_text(&mut out, &a, &b, &diff),
        ReportFormat::Ndjson => write_diff_ndjson(&mut out, &a, &b, &diff),
    }
    .and_then(|()| out.flush());
    ignore_broken_pipe(written)?;
    Ok(if args.exit_code && diff.summary.changes() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `22/tcp, 80/tcp`.
fn port_list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(|p| format!("{p}/tcp"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_diff_text(
    out: &mut impl Write,
    a: &ScanRecord,
    b: &ScanRecord,
    diff: &Diff,
) -> io::Result<()> {
    for (mark, s) in [("---", a), ("+++", b)] {
        writeln!(
            out,
            "{mark} scan {} ({} UTC, {}): {}",
            s.id,
            s.started,
            s.status,
            history::describe(s)
        )?;
    }
    for change in &diff.changes {
        match change {
            Change::Port {
                ip,
                port,
                change,
                state,
                was,
                service,
                was_service,
                ..
            } => {
                let sign = match change {
                    PortChange::Opened => '+',
                    PortChange::Closed => '-',
                    PortChange::Changed | PortChange::Service => '~',
                };
                match (change, service, was_service) {
                    (PortChange::Service, Some(now), Some(then)) => writeln!(
                        out,
                        "{sign} {ip} {port}/tcp {state} {} (was {})",
                        crate::error::clean(&now.to_string(), false),
                        crate::error::clean(&then.to_string(), false)
                    )?,
                    _ => writeln!(out, "{sign} {ip} {port}/tcp {state} (was {was})")?,
                }
            }
            Change::Host {
                ip,
                change,
                state,
                was,
                open,
                was_open,
            } => {
                let down = |s: &HostState| match s {
                    HostState::Down(r) => format!("down ({r})"),
                    other => other.as_str().to_string(),
                };
                let opens = |label: &str, ports: &[u16]| {
                    if ports.is_empty() {
                        String::new()
                    } else {
                        format!("; {label}: {}", port_list(ports))
                    }
                };
                let line = match change {
                    HostChange::Up => {
                        format!("+ {ip} host up (was {}){}", down(was), opens("open", open))
                    }
                    HostChange::Down => format!(
                        "- {ip} host {} (was up){}",
                        down(state),
                        opens("was open", was_open)
                    ),
                    HostChange::New => {
                        format!("+ {ip} new host, {}{}", down(state), opens("open", open))
                    }
                    HostChange::Gone => format!(
                        "- {ip} host gone (was {}){}",
                        down(was),
                        opens("was open", was_open)
                    ),
                };
                writeln!(out, "{line}")?;
            }
        }
    }
    let m = &diff.summary;
    let mut counts = Vec::new();
    if m.changes() > 0 {
        counts.push(format!(
            "{} opened, {} closed, {} changed",
            m.opened, m.closed, m.changed
        ));
        for (n, what) in [
            (m.services, "service(s) changed"),
            (m.hosts_up, "host(s) up"),
            (m.hosts_down, "host(s) down"),
            (m.hosts_new, "new host(s)"),
            (m.hosts_gone, "host(s) gone"),
        ] {
            if n > 0 {
                counts.push(format!("{n} {what}"));
            }
        }
    }
    let head = match m.changes() {
        0 => "no changes".to_string(),
        1 => format!("1 change: {}", counts.join(", ")),
        n => format!("{n} changes: {}", counts.join(", ")),
    };
    let mut compared = format!("{} ports compared", m.compared);
    if m.not_compared > 0 {
        compared.push_str(&format!(
            ", {} result(s) in one scan only not compared",
            m.not_compared
        ));
    }
    writeln!(out, "{head}; {compared}")
}

/// A change as `diff --format ndjson` writes it.
#[derive(Serialize)]
struct ChangeLine {
    change: &'static str,
    ip: std::net::IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'static str>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    was: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    was_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    open: Option<Vec<u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    was_open: Option<Vec<u16>>,
    /// With a `service` change: the service, product and version now and before.
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    was_service: Option<String>,
}

/// The summary line of `diff --format ndjson`.
#[derive(Serialize)]
struct DiffSummaryLine {
    #[serde(rename = "type")]
    kind: &'static str,
    a: i64,
    b: i64,
    a_status: &'static str,
    b_status: &'static str,
    changes: u64,
    opened: u64,
    closed: u64,
    changed: u64,
    hosts_up: u64,
    hosts_down: u64,
    hosts_new: u64,
    hosts_gone: u64,
    compared: u64,
    not_compared: u64,
    /// Service changes (`--service-version` in both scans); left out when none.
    #[serde(skip_serializing_if = "is_zero")]
    services: u64,
}

fn change_line(change: &Change) -> ChangeLine {
    let reason = |s: &HostState| match s {
        HostState::Down(r) => Some(r.as_str()),
        _ => None,
    };
    match change {
        Change::Port {
            ip,
            port,
            change,
            state,
            reason,
            was,
            was_reason,
            service,
            was_service,
        } => ChangeLine {
            change: change.as_str(),
            ip: *ip,
            port: Some(*port),
            protocol: Some("tcp"),
            state: state.as_str(),
            reason: Some(reason.as_str()),
            was: was.as_str(),
            was_reason: Some(was_reason.as_str()),
            open: None,
            was_open: None,
            service: service.as_ref().map(ToString::to_string),
            was_service: was_service.as_ref().map(ToString::to_string),
        },
        Change::Host {
            ip,
            change,
            state,
            was,
            open,
            was_open,
        } => ChangeLine {
            change: change.as_str(),
            ip: *ip,
            port: None,
            protocol: None,
            state: state.as_str(),
            reason: reason(state),
            was: was.as_str(),
            was_reason: reason(was),
            open: Some(open.clone()),
            was_open: Some(was_open.clone()),
            service: None,
            was_service: None,
        },
    }
}

fn write_diff_ndjson(
    out: &mut impl Write,
    a: &ScanRecord,
    b: &ScanRecord,
    diff: &Diff,
) -> io::Result<()> {
    for change in &diff.changes {
        serde_json::to_writer(&mut *out, &change_line(change))?;
        out.write_all(b"\n")?;
    }
    let m = &diff.summary;
    serde_json::to_writer(
        &mut *out,
        &DiffSummaryLine {
            kind: "summary",
            a: a.id,
            b: b.id,
            a_status: a.status.as_str(),
            b_status: b.status.as_str(),
            changes: m.changes(),
            opened: m.opened,
            closed: m.closed,
            changed: m.changed,
            hosts_up: m.hosts_up,
            hosts_down: m.hosts_down,
            hosts_new: m.hosts_new,
            hosts_gone: m.hosts_gone,
            compared: m.compared,
            not_compared: m.not_compared,
            services: m.services,
        },
    )?;
    out.write_all(b"\n")
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
