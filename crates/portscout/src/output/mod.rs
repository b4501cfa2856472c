//! Sinks: the one place results are written. One printer per format.
//!
//! The scanner calls [`Sink::begin`] once, [`Sink::result`] for every probed port (whatever
//! `--show` says) and [`Sink::host_down`] for every host found down, then [`Sink::end`] once. Each printer lists the results whose state passes
//! its [`StateFilter`] and only counts the others.
//!
//! * Streaming formats ([`Format::Ndjson`], [`Format::Csv`]) write each listed result as it
//!   arrives and keep nothing per result.
//! * Buffered formats ([`Format::Text`], [`Format::Json`], [`Format::Grep`], [`Format::Xml`])
//!   keep the results they will list (plus per-host counters) and write everything at
//!   [`Sink::end`], hosts ascending by address (IPv4 before IPv6), ports ascending.
//!
//! Printers write only to the writer they are given, and report write errors as `Err`.
//! The formats are described in `docs/output.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::model::{Banner, HostDown, PortResult, PortState, Reason, StateFilter, TargetName};
use crate::service::ServiceInfo;

mod csv;
mod grep;
mod json;
mod list;
mod ndjson;
mod probes;
mod text;
mod xml;

pub use probes::write_probes;
pub use xml::{NotAPausedPart, XmlPart};

#[cfg(test)]
mod tests;

pub use crate::model::{ScanInfo, Summary};

/// A host is listed in [`Summary::open_everywhere`] when at least this many of its ports
/// have a result...
pub const OPEN_EVERYWHERE_MIN_PORTS: u64 = 1000;

/// ...and at least this share of them (90 %) is open. No host offers that many services: a
/// SYN proxy, a tarpit or a load balancer in front of it completes every handshake itself.
pub const OPEN_EVERYWHERE_SHARE: f64 = 0.9;

/// Counts, per host, the results and the open ones, to find the hosts that answer open on
/// nearly every port ([`OPEN_EVERYWHERE_MIN_PORTS`], [`OPEN_EVERYWHERE_SHARE`]). Counts
/// nothing when a host cannot reach the minimum (fewer ports per host scanned), so a scan of a
/// few ports per host pays nothing.
#[derive(Clone, Debug, Default)]
pub struct OpenTally {
    enabled: bool,
    /// Per host: (results, open).
    hosts: std::collections::HashMap<IpAddr, (u64, u64)>,
    /// The host of the last results, counted here until another host's result comes (a scan
    /// of one host never hashes).
    last: Option<(IpAddr, (u64, u64))>,
}

impl OpenTally {
    /// A tally for a scan of `ports_per_host` ports per host (`None`: not known, count all).
    pub fn new(ports_per_host: Option<u64>) -> OpenTally {
        OpenTally {
            enabled: ports_per_host.is_none_or(|n| n >= OPEN_EVERYWHERE_MIN_PORTS),
            ..OpenTally::default()
        }
    }

    /// Counts one result.
    pub fn add(&mut self, r: &PortResult) {
        if !self.enabled {
            return;
        }
        let open = u64::from(r.state == PortState::Open);
        match &mut self.last {
            Some((ip, counts)) if *ip == r.ip => {
                counts.0 += 1;
                counts.1 += open;
            }
            last => {
                if let Some((ip, (all, o))) = last.replace((r.ip, (1, open))) {
                    let e = self.hosts.entry(ip).or_default();
                    e.0 += all;
                    e.1 += o;
                }
            }
        }
    }

    /// The hosts that answered open on nearly every port, ascending.
    pub fn hosts(&self) -> Vec<IpAddr> {
        let mut hosts = self.hosts.clone();
        if let Some((ip, (all, o))) = self.last {
            let e = hosts.entry(ip).or_default();
            e.0 += all;
            e.1 += o;
        }
        let mut v: Vec<IpAddr> = hosts
            .iter()
            .filter(|(_, &(all, open))| {
                all >= OPEN_EVERYWHERE_MIN_PORTS
                    && open as f64 >= OPEN_EVERYWHERE_SHARE * all as f64
            })
            .map(|(&ip, _)| ip)
            .collect();
        v.sort_unstable();
        v
    }
}

/// Receives a scan's results. Every result is given, whatever `--show` says: the printer
/// decides what it lists (and counts what it does not).
pub trait Sink {
    /// Called once, before any result.
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()>;
    /// Called once per probed port, in the order results are found. Returns whether the scan
    /// should go on: `Ok(false)` stops it (as `--max-open` does; [`crate::scan::Scan::drive`]),
    /// and [`Sink::end`] is still called. Printers always go on.
    fn result(&mut self, result: &PortResult) -> io::Result<bool>;
    /// Called once per host found down (it has no port results).
    fn host_down(&mut self, host: &HostDown) -> io::Result<()>;
    /// Called once per host whose name was found by a PTR lookup ([`crate::names`]), when it
    /// comes (before or after the host's results, but before [`Sink::end`]). `name` is a
    /// plausible host name ([`crate::names::is_host_name`]): no format needs to escape it.
    /// Default: ignored.
    fn host_name(&mut self, ip: IpAddr, name: &str) -> io::Result<()> {
        let _ = (ip, name);
        Ok(())
    }
    /// Called once, after the last result.
    fn end(&mut self, summary: &Summary) -> io::Result<()>;
}

/// Several sinks as one: each call goes to every sink, in order (`-o FILE -oX scan.xml`, or
/// a printer and the scan history). A failing sink does not keep the others from being
/// called; the first error is returned.
#[derive(Default)]
pub struct Tee {
    sinks: Vec<Box<dyn Sink + Send>>,
}

impl Tee {
    /// A tee of these sinks.
    pub fn new(sinks: Vec<Box<dyn Sink + Send>>) -> Tee {
        Tee { sinks }
    }

    /// Adds a sink after the others.
    pub fn push(&mut self, sink: Box<dyn Sink + Send>) {
        self.sinks.push(sink);
    }

    /// The number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether there is no sink.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    fn each(&mut self, mut f: impl FnMut(&mut dyn Sink) -> io::Result<()>) -> io::Result<()> {
        let mut first = Ok(());
        for sink in &mut self.sinks {
            let r = f(sink.as_mut());
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl fmt::Debug for Tee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tee({} sinks)", self.sinks.len())
    }
}

impl Sink for Tee {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.each(|s| s.begin(info))
    }

    fn result(&mut self, result: &PortResult) -> io::Result<bool> {
        let mut go_on = true;
        self.each(|s| {
            go_on &= s.result(result)?;
            Ok(())
        })?;
        Ok(go_on)
    }

    fn host_down(&mut self, host: &HostDown) -> io::Result<()> {
        self.each(|s| s.host_down(host))
    }

    fn host_name(&mut self, ip: IpAddr, name: &str) -> io::Result<()> {
        self.each(|s| s.host_name(ip, name))
    }

    fn end(&mut self, summary: &Summary) -> io::Result<()> {
        self.each(|s| s.end(summary))
    }
}

/// An output format (`--format`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Per-host tables, like nmap's normal output (the default).
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per line, flushed as results arrive.
    Ndjson,
    /// Comma-separated values with a header.
    Csv,
    /// One line per host.
    Grep,
    /// nmap's XML (`-oX`), valid against nmap's DTD.
    Xml,
    /// `ip:port` per open port, one per line, as found (naabu's default output), for pipes.
    List,
}

impl Format {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [Format; 7] = [
        Format::Text,
        Format::Json,
        Format::Ndjson,
        Format::Csv,
        Format::Grep,
        Format::Xml,
        Format::List,
    ];

    /// The name used on the command line (`text`, `json`, `ndjson`, `csv`, `grep`, `xml`,
    /// `list`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Grep => "grep",
            Format::Xml => "xml",
            Format::List => "list",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--format` value that names no format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected text, json, ndjson, csv, grep, xml or list)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses a format name exactly as [`Format::as_str`] spells it.
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// A service-name lookup: the well-known name of a TCP port, if any.
///
/// The text, grep and xml printers use [`crate::ports::service_name`] unless given another one
/// through [`printer_with_services`].
pub type ServiceLookup = fn(u16) -> Option<&'static str>;

/// Makes the printer for `format`, listing the states in `show`, writing to `out`.
///
/// ```
/// use std::time::Duration;
/// use portscout::output::{printer, Format, ScanInfo, Summary};
/// use portscout::{PortResult, PortState, Reason, StateFilter};
///
/// let mut sink = printer(Format::Ndjson, StateFilter::OPEN, Box::new(std::io::stdout()));
/// sink.begin(&ScanInfo { hosts: 1, ports: 1, ..ScanInfo::default() })?;
/// sink.result(&PortResult {
///     ip: "127.0.0.1".parse().unwrap(),
///     port: 22,
///     state: PortState::Open,
///     reason: Reason::SynAck,
///     rtt: Some(Duration::from_micros(210)),
///     banner: None,
///     service: None,
/// })?;
/// sink.end(&Summary { hosts: 1, open: 1, ..Summary::default() })?;
/// // {"ip":"127.0.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":0.21,"time":"2026-12-03T13:45:01.123Z"}
/// // {"type":"summary","hosts":1,"open":1,"closed":0,"filtered":0,"elapsed_ms":0,"hosts_down":0,"schema":1,"time":"2026-12-03T13:45:01.124Z"}
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn printer(
    format: Format,
    show: StateFilter,
    out: Box<dyn Write + Send>,
) -> Box<dyn Sink + Send> {
    printer_with_services(format, show, out, crate::ports::service_name)
}

/// Like [`printer`], with the service-name lookup used by the text, grep and xml formats
/// (the other formats print no service names).
pub fn printer_with_services(
    format: Format,
    show: StateFilter,
    out: Box<dyn Write + Send>,
    services: ServiceLookup,
) -> Box<dyn Sink + Send> {
    printer_with_options(
        format,
        show,
        out,
        PrinterOptions {
            services,
            ..PrinterOptions::default()
        },
    )
}

/// How a printer writes, besides its format and filter (see [`printer_with_options`]).
#[derive(Copy, Clone, Debug)]
pub struct PrinterOptions {
    /// The service-name lookup of the text and grep formats. Default:
    /// [`crate::ports::service_name`].
    pub services: ServiceLookup,
    /// Colour the text format's STATE column with ANSI SGR codes (open green, closed red,
    /// filtered yellow); the other formats, read by programs, are never coloured. Only the
    /// state word is wrapped in codes, after the padding is computed, so the columns line up
    /// on a terminal. Default: off. The library never decides this by itself (it looks at no
    /// terminal and no environment variable): the caller does.
    pub colour: bool,
    /// End the text format with its `Done:` line (the totals). Default: on. A caller that
    /// prints the totals elsewhere (the command, on standard error) turns it off, so that the
    /// results are all the text holds.
    pub summary: bool,
    /// The clock of ndjson's `time` fields (when each record is written). Default:
    /// [`std::time::SystemTime::now`]; tests give a fixed one. `None`: no `time` fields
    /// (`portscout merge`, which cannot know when its records were found).
    pub clock: Option<fn() -> std::time::SystemTime>,
}

impl Default for PrinterOptions {
    fn default() -> PrinterOptions {
        PrinterOptions {
            services: crate::ports::service_name,
            colour: false,
            summary: true,
            clock: Some(std::time::SystemTime::now),
        }
    }
}

/// A scan of at most this many addresses lists a record per host found down unless `--show`
/// says otherwise ([`StateFilter::down`]); a wider one counts them in the summary only.
pub const DOWN_LIST_LIMIT: u128 = 256;

/// Like [`printer`], with [`PrinterOptions`].
pub fn printer_with_options(
    format: Format,
    show: StateFilter,
    out: Box<dyn Write + Send>,
    options: PrinterOptions,
) -> Box<dyn Sink + Send> {
    Box::new(DownFilter {
        inner: format_printer(format, show, out, options),
        want: show.down,
        list: show.down.unwrap_or(true),
    })
}

/// Passes a host-down record on only where [`StateFilter::down`] lists them (decided at
/// `begin`, from the scan's size); every other call goes through.
struct DownFilter {
    inner: Box<dyn Sink + Send>,
    want: Option<bool>,
    list: bool,
}

impl Sink for DownFilter {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.list = self.want.unwrap_or(info.hosts <= DOWN_LIST_LIMIT);
        self.inner.begin(info)
    }

    fn result(&mut self, result: &PortResult) -> io::Result<bool> {
        self.inner.result(result)
    }

    fn host_down(&mut self, host: &HostDown) -> io::Result<()> {
        if self.list {
            self.inner.host_down(host)
        } else {
            Ok(())
        }
    }

    fn host_name(&mut self, ip: IpAddr, name: &str) -> io::Result<()> {
        self.inner.host_name(ip, name)
    }

    fn end(&mut self, summary: &Summary) -> io::Result<()> {
        self.inner.end(summary)
    }
}

fn format_printer(
    format: Format,
    show: StateFilter,
    out: Box<dyn Write + Send>,
    options: PrinterOptions,
) -> Box<dyn Sink + Send> {
    let services = options.services;
    match format {
        Format::Text => Box::new(Buffered::new(
            show,
            text::KEEP_EMPTY,
            match (options.colour, options.summary) {
                (false, true) => text::render,
                (true, true) => text::render_coloured,
                (false, false) => text::render_results,
                (true, false) => text::render_results_coloured,
            },
            out,
            services,
        )),
        Format::Json => Box::new(Buffered::new(
            show,
            json::KEEP_EMPTY,
            json::render,
            out,
            services,
        )),
        Format::Ndjson => Box::new(ndjson::NdjsonPrinter::new(show, out, options.clock)),
        Format::Csv => Box::new(csv::CsvPrinter::new(show, out)),
        Format::List => Box::new(list::ListPrinter::new(out)),
        Format::Grep => Box::new(Buffered::new(
            show,
            grep::KEEP_EMPTY,
            grep::render,
            out,
            services,
        )),
        Format::Xml => Box::new(Buffered::new(
            show,
            xml::KEEP_EMPTY,
            xml::render,
            out,
            services,
        )),
    }
}

/// The XML printer ([`Format::Xml`]) of a resumed run, continuing `before`, what the paused
/// run wrote ([`XmlPart::parse`]): it writes one document for the whole scan, with both
/// parts' hosts, the first part's command and start, the two parts' elapsed times added up.
/// `out` should be the paused run's file, truncated when the document is written (the
/// printer writes everything at [`Sink::end`]).
pub fn xml_continuing(
    show: StateFilter,
    out: Box<dyn Write + Send>,
    options: PrinterOptions,
    before: XmlPart,
) -> Box<dyn Sink + Send> {
    let mut printer = Buffered::new(show, xml::KEEP_EMPTY, xml::render, out, options.services);
    printer.collector.continue_from(&before);
    printer.before = Some(before);
    Box::new(printer)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// A round-trip time in milliseconds, rounded to the microsecond, printed without trailing
/// zeros (`0.21`, `1.5`, `12`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct RttMs {
    micros: u128,
}

impl RttMs {
    pub(crate) fn new(rtt: Duration) -> RttMs {
        RttMs {
            micros: (rtt.as_nanos() + 500) / 1000,
        }
    }

    fn as_f64(self) -> f64 {
        self.micros as f64 / 1000.0
    }
}

impl fmt::Display for RttMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.micros % 1000 == 0 {
            write!(f, "{}", self.micros / 1000)
        } else {
            // Rust prints the shortest representation that reads back to the same value,
            // never in exponent form.
            write!(f, "{}", self.as_f64())
        }
    }
}

impl Serialize for RttMs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.micros % 1000 == 0 {
            match u64::try_from(self.micros / 1000) {
                Ok(ms) => s.serialize_u64(ms),
                Err(_) => s.serialize_f64(self.as_f64()),
            }
        } else {
            s.serialize_f64(self.as_f64())
        }
    }
}

/// One port record, as ndjson and json write it (schema 1: the keys and their order are
/// frozen): the result, ndjson's `time`, and the name the target was given by (`host`).
pub(crate) struct PortRecord<'a>(
    pub(crate) &'a PortResult,
    pub(crate) Option<&'a str>,
    pub(crate) Option<&'a str>,
);

impl Serialize for PortRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut st = s.serialize_struct("PortRecord", 10)?;
        st.serialize_field("ip", &r.ip)?;
        st.serialize_field("port", &r.port)?;
        st.serialize_field("protocol", "tcp")?;
        st.serialize_field("state", r.state.as_str())?;
        st.serialize_field("reason", r.reason.as_str())?;
        st.serialize_field("rtt_ms", &r.rtt.map(RttMs::new))?;
        // Added after schema 1's keys, and only when there is one (`--banners`), so readers
        // of schema 1 keep working. Always the escaped, printable-ASCII form.
        match &r.banner {
            Some(b) => st.serialize_field("banner", &b.escaped())?,
            None => st.skip_field("banner")?,
        }
        // Likewise, only with `--service-version`: the detected service as an object
        // (`docs/output.md`).
        match &r.service {
            Some(service) => st.serialize_field("service", service.as_ref())?,
            None => st.skip_field("service")?,
        }
        // The name the user gave for the target (`portscout localhost`), only when there is
        // one; added after schema 1's keys (issue 19), before `time`.
        match self.2 {
            Some(h) => st.serialize_field("host", h)?,
            None => st.skip_field("host")?,
        }
        // ndjson's: when the record was written (RFC 3339, UTC, milliseconds). Last, added
        // after schema 1's keys.
        match self.1 {
            Some(t) => st.serialize_field("time", t)?,
            None => st.skip_field("time")?,
        }
        st.end()
    }
}

/// The summary record, with (ndjson) or without (json) its `"type":"summary"` key.
pub(crate) struct SummaryRecord<'a> {
    pub(crate) summary: &'a Summary,
    pub(crate) tagged: bool,
    /// ndjson's `schema` (json has none).
    pub(crate) schema: bool,
    /// ndjson's `time`, last (json has none; neither has merge's ndjson).
    pub(crate) time: Option<&'a str>,
}

/// The ndjson schema's number, in the summary record (`"schema":1`): fields are added within
/// a schema, never renamed or removed.
pub const NDJSON_SCHEMA: u32 = 1;

impl Serialize for SummaryRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.summary;
        let mut st = s.serialize_struct("Summary", 13)?;
        if self.tagged {
            st.serialize_field("type", "summary")?;
        }
        // u128 is not portable JSON; no scan has more than 2^64 hosts.
        st.serialize_field("hosts", &u64::try_from(m.hosts).unwrap_or(u64::MAX))?;
        st.serialize_field("open", &m.open)?;
        st.serialize_field("closed", &m.closed)?;
        st.serialize_field("filtered", &m.filtered)?;
        st.serialize_field(
            "elapsed_ms",
            &u64::try_from(m.elapsed.as_millis()).unwrap_or(u64::MAX),
        )?;
        // Added after schema 1's keys, so readers of the first five keep working.
        st.serialize_field("hosts_down", &m.hosts_down)?;
        // Only when there is one, so summaries without it stay as they were.
        if m.open_everywhere.is_empty() {
            st.skip_field("open_everywhere")?;
        } else {
            st.serialize_field("open_everywhere", &m.open_everywhere)?;
        }
        // Which scan, shard and run (merge checks them); summaries without one stay as they
        // were.
        match &m.identity {
            Some(id) => {
                st.serialize_field("scan", &id.scan_hex())?;
                st.serialize_field("shard", &format!("{}/{}", id.shard.index, id.shard.count))?;
                st.serialize_field("probes", &id.probes)?;
                st.serialize_field("part", &id.part)?;
                st.serialize_field("complete", &id.complete)?;
            }
            None => {
                for key in ["scan", "shard", "probes", "part", "complete"] {
                    st.skip_field(key)?;
                }
            }
        }
        if self.schema {
            st.serialize_field("schema", &NDJSON_SCHEMA)?;
        } else {
            st.skip_field("schema")?;
        }
        match self.time {
            Some(t) => st.serialize_field("time", t)?,
            None => st.skip_field("time")?,
        }
        st.end()
    }
}

/// A host-down record, as ndjson writes it: the host, `time`, and `host` (the name given).
pub(crate) struct HostDownRecord<'a>(
    pub(crate) &'a HostDown,
    pub(crate) Option<&'a str>,
    pub(crate) Option<&'a str>,
);

impl Serialize for HostDownRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let mut st = s.serialize_struct("HostDown", 7)?;
        st.serialize_field("type", "host")?;
        st.serialize_field("ip", &h.ip)?;
        st.serialize_field("state", "down")?;
        st.serialize_field("reason", h.reason.as_str())?;
        st.serialize_field("skipped", &h.skipped)?;
        match self.2 {
            Some(n) => st.serialize_field("host", n)?,
            None => st.skip_field("host")?,
        }
        match self.1 {
            Some(t) => st.serialize_field("time", t)?,
            None => st.skip_field("time")?,
        }
        st.end()
    }
}

/// `t` in RFC 3339, UTC, with milliseconds: `2026-12-03T13:45:01.123Z` (a time before the
/// epoch is written as the epoch).
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let secs = u64::try_from(ms / 1000).unwrap_or(u64::MAX);
    let (y, mo, d) = xml::civil_from_days(secs / 86_400);
    let sod = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms % 1000
    )
}

/// Turns a serde_json error (only ever an I/O error here) into an `io::Error`, keeping the
/// original error kind.
pub(crate) fn json_err(e: serde_json::Error) -> io::Error {
    io::Error::from(e)
}

/// One listed result, as the buffered printers keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) port: u16,
    pub(crate) state: PortState,
    pub(crate) reason: Reason,
    pub(crate) rtt: Option<Duration>,
    pub(crate) banner: Option<Banner>,
    pub(crate) service: Option<Box<ServiceInfo>>,
}

impl Listed {
    pub(crate) fn to_result(&self, ip: IpAddr) -> PortResult {
        PortResult {
            ip,
            port: self.port,
            state: self.state,
            reason: self.reason,
            rtt: self.rtt,
            banner: self.banner.clone(),
            service: self.service.clone(),
        }
    }
}

/// What a buffered printer keeps for one host.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostData {
    /// The listed results, in arrival order (sorted at the end).
    pub(crate) listed: Vec<Listed>,
    /// How many results were not listed, per `(state, reason)`; a handful of entries at most.
    pub(crate) hidden: Vec<(PortState, Reason, u64)>,
    /// Set when the host was found down: why, and how many of its ports have no result.
    pub(crate) down: Option<(Reason, u32)>,
    /// The name the user gave for the host, and the other addresses it resolved to.
    pub(crate) name: Option<TargetName>,
    /// The host's PTR name, if one was found.
    pub(crate) ptr: Option<String>,
}

impl HostData {
    /// Number of results seen for this host.
    pub(crate) fn total(&self) -> u64 {
        self.listed.len() as u64 + self.hidden_total()
    }

    /// Number of results not listed.
    pub(crate) fn hidden_total(&self) -> u64 {
        self.hidden.iter().map(|h| h.2).sum()
    }

    /// Number of results not listed in `state`.
    pub(crate) fn hidden_in(&self, state: PortState) -> u64 {
        self.hidden
            .iter()
            .filter(|h| h.0 == state)
            .map(|h| h.2)
            .sum()
    }

    /// The reasons behind the unlisted results in `state`, most frequent first.
    pub(crate) fn hidden_reasons(&self, state: PortState) -> Vec<(Reason, u64)> {
        let mut v: Vec<(Reason, u64)> = self
            .hidden
            .iter()
            .filter(|h| h.0 == state)
            .map(|h| (h.1, h.2))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Writes a buffered format from the collected hosts at the end of the scan.
type Render =
    fn(&mut dyn Write, &mut Collector, &ScanInfo, &Summary, ServiceLookup) -> io::Result<()>;

/// The buffered formats (text, json, grep, xml): they collect while the scan runs and write
/// everything at `end`, through their `render` function.
struct Buffered {
    collector: Collector,
    /// What `begin` was given (the default until then).
    info: ScanInfo,
    render: Render,
    out: Box<dyn Write + Send>,
    services: ServiceLookup,
    /// The XML printer of a resumed run: what the paused run wrote.
    before: Option<XmlPart>,
}

impl Buffered {
    fn new(
        show: StateFilter,
        keep_empty: bool,
        render: Render,
        out: Box<dyn Write + Send>,
        services: ServiceLookup,
    ) -> Buffered {
        Buffered {
            collector: Collector::new(show, keep_empty),
            info: ScanInfo::default(),
            render,
            out,
            services,
            before: None,
        }
    }
}

impl Sink for Buffered {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.info = info.clone();
        self.collector.names(&info.names);
        Ok(())
    }

    fn host_name(&mut self, ip: IpAddr, name: &str) -> io::Result<()> {
        self.collector.ptr(ip, name);
        Ok(())
    }

    fn result(&mut self, result: &PortResult) -> io::Result<bool> {
        self.collector.add(result);
        Ok(true)
    }

    fn host_down(&mut self, host: &HostDown) -> io::Result<()> {
        self.collector.down(host);
        Ok(())
    }

    fn end(&mut self, summary: &Summary) -> io::Result<()> {
        let mut w = BufWriter::new(&mut self.out);
        match &self.before {
            Some(before) => xml::render_part(
                &mut w,
                &mut self.collector,
                &self.info,
                summary,
                self.services,
                Some(before),
            )?,
            None => (self.render)(
                &mut w,
                &mut self.collector,
                &self.info,
                summary,
                self.services,
            )?,
        }
        w.flush()
    }
}

/// The results a buffered printer keeps: listed results and counters, per host.
#[derive(Clone, Debug)]
pub(crate) struct Collector {
    show: StateFilter,
    /// Hosts ascending by address (`IpAddr` orders IPv4 before IPv6).
    hosts: BTreeMap<IpAddr, HostData>,
    /// Whether hosts with no listed result are kept (as counters only).
    keep_empty: bool,
    /// The names the user gave ([`ScanInfo::names`]), given at `begin`.
    names: BTreeMap<IpAddr, TargetName>,
    /// PTR names, as they come ([`Sink::host_name`]).
    ptr: std::collections::HashMap<IpAddr, String>,
}

impl Collector {
    pub(crate) fn new(show: StateFilter, keep_empty: bool) -> Collector {
        Collector {
            show,
            hosts: BTreeMap::new(),
            keep_empty,
            names: BTreeMap::new(),
            ptr: std::collections::HashMap::new(),
        }
    }

    /// Takes the names the user gave ([`ScanInfo::names`]).
    pub(crate) fn names(&mut self, names: &BTreeMap<IpAddr, TargetName>) {
        self.names = names.clone();
    }

    /// Records a host's PTR name.
    pub(crate) fn ptr(&mut self, ip: IpAddr, name: &str) {
        self.ptr.insert(ip, name.to_string());
    }

    pub(crate) fn add(&mut self, r: &PortResult) {
        let listed = self.show.shows(r.state);
        if !listed && !self.keep_empty {
            return;
        }
        let host = self.hosts.entry(r.ip).or_default();
        if listed {
            host.listed.push(Listed {
                port: r.port,
                state: r.state,
                reason: r.reason,
                rtt: r.rtt,
                banner: r.banner.clone(),
                service: r.service.clone(),
            });
        } else if let Some(h) = host
            .hidden
            .iter_mut()
            .find(|h| h.0 == r.state && h.1 == r.reason)
        {
            h.2 += 1;
        } else {
            host.hidden.push((r.state, r.reason, 1));
        }
    }

    /// Records a host found down (kept whatever `keep_empty` says: it is news).
    pub(crate) fn down(&mut self, h: &HostDown) {
        self.hosts.entry(h.ip).or_default().down = Some((h.reason, h.skipped));
    }

    /// The hosts, ascending, each with its listed results sorted by port and its names.
    pub(crate) fn finish(&mut self) -> impl Iterator<Item = (&IpAddr, &HostData)> {
        for (ip, host) in self.hosts.iter_mut() {
            host.listed.sort_by_key(|l| l.port);
            if let Some(name) = self.names.get(ip) {
                host.name = Some(name.clone());
            }
            if let Some(ptr) = self.ptr.get(ip) {
                host.ptr = Some(ptr.clone());
            }
        }
        self.hosts.iter()
    }
}

/// A service's text (product, version, …: they come from what the service sent) made safe
/// for a terminal or a line-based format: control characters (C0, DEL, C1) written `\xHH`,
/// everything else as it is.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `"1 host"`, `"2 hosts"`.
pub(crate) fn plural(n: impl fmt::Display + PartialEq + From<u8>, word: &str) -> String {
    if n == From::from(1u8) {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
