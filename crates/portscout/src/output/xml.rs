//! `xml`: nmap's XML output (`-oX`, `xmloutputversion` 1.05), valid against nmap's own DTD
//! (`nmap.dtd`) and read by nmap's `ndiff` and other nmap-XML consumers. Written at `end`.
//!
//! The layout follows what nmap 7.93 writes for `nmap -sT -oX -`, element for element, so a
//! reader that works on nmap's files works here: one `<host>` per host that answered, its
//! unlisted ports as `<extraports>` (one per state, with `<extrareasons>`), its listed ports as
//! `<port>` with `<state>` and `<service>` (the detected one with `--service-version`, with
//! its `<cpe>`s, and a TLS certificate as the `ssl-cert` script's output), a banner as the
//! `banner` script's output. Hosts found
//! down are listed as nmap lists them with `-v`: `<status state="down">` and the address.
//! `docs/output.md` says what maps to what and where this differs from nmap.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Collector, HostData, Listed, ScanInfo, ServiceLookup, Summary};
use crate::model::{Banner, PortState, Reason};
use crate::probe::ScanType;
use crate::service::{ServiceInfo, TlsInfo};

/// Every host that answered is listed, even when all its ports are hidden by `--show` (as
/// nmap lists every host up): a reader such as `ndiff` takes a host that is missing for a
/// host of unknown state, and would report its ports as gone.
pub(crate) const KEEP_EMPTY: bool = true;

/// The `errormsg` of a paused scan's document.
pub(crate) const PAUSED: &str =
    "interrupted (SIGINT or SIGTERM): the scan paused before its end; `portscout --resume` \
     of its resume file scans the rest and rewrites this file whole";

/// The `xmloutputversion` of nmap 7.x, whose layout this printer writes.
const XML_OUTPUT_VERSION: &str = "1.05";

/// The `scanner` attribute. nmap's DTD allows no other value (`scanner (nmap) #REQUIRED`),
/// so a file that says `portscout` there does not validate; the comment before `<nmaprun>`,
/// `args` and `version` say which program wrote the file.
const SCANNER: &str = "nmap";

/// What the XML printer wrote for the earlier part of a scan (a run that was paused), read
/// back from its document so that the resumed run writes one document for the whole scan
/// ([`super::xml_continuing`]): the first part's command, start and elapsed time, and its
/// hosts.
#[derive(Clone, Debug)]
pub struct XmlPart {
    args: Option<String>,
    start: Option<u64>,
    elapsed: Duration,
    hosts: BTreeMap<IpAddr, HostData>,
}

/// A document that is not one portscout's XML printer wrote for a paused scan.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct NotAPausedPart {
    /// The line (from 1) where it shows, or the last line.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl XmlPart {
    /// Reads the document that [`super::Format::Xml`] wrote for a paused scan
    /// ([`Summary::paused`]: `exit="error"`). Refuses anything else: another layout, a
    /// truncated document, a scan that finished (`exit="success"`).
    pub fn parse(text: &str) -> Result<XmlPart, NotAPausedPart> {
        let mut part = XmlPart {
            args: None,
            start: None,
            elapsed: Duration::ZERO,
            hosts: BTreeMap::new(),
        };
        let mut host: Option<(Option<IpAddr>, HostData)> = None;
        let mut extra_state = None;
        let mut finished = false;
        let mut last = 0;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            last = n;
            let bad = |what: &str| NotAPausedPart {
                line: n,
                what: what.to_string(),
            };
            if let Some(rest) = line.strip_prefix("<nmaprun ") {
                part.args = attr_value(rest, "args");
                part.start = attr_value(rest, "start").and_then(|s| s.parse().ok());
            } else if let Some(rest) = line.strip_prefix("<host><status ") {
                let data = HostData {
                    down: match attr_value(rest, "state").as_deref() {
                        Some("up") => None,
                        Some("down") => {
                            let reason = attr_value(rest, "reason")
                                .and_then(|r| reason(&r))
                                .ok_or_else(|| bad("a down host without a known reason"))?;
                            Some((reason, 0))
                        }
                        _ => return Err(bad("a host neither up nor down")),
                    },
                    ..HostData::default()
                };
                host = Some((None, data));
            } else if let Some(rest) = line.strip_prefix("<address ") {
                let (ip, _) = host
                    .as_mut()
                    .ok_or_else(|| bad("an address outside a host"))?;
                *ip = Some(
                    attr_value(rest, "addr")
                        .and_then(|a| a.parse().ok())
                        .ok_or_else(|| bad("a bad address"))?,
                );
            } else if let Some(rest) = line.strip_prefix("<hostname ") {
                let (_, data) = host
                    .as_mut()
                    .ok_or_else(|| bad("a hostname outside a host"))?;
                let name =
                    attr_value(rest, "name").ok_or_else(|| bad("a hostname without a name"))?;
                match attr_value(rest, "type").as_deref() {
                    Some("user") => {
                        data.name = Some(crate::model::TargetName {
                            name,
                            others: Vec::new(),
                        })
                    }
                    Some("PTR") => data.ptr = Some(name),
                    _ => return Err(bad("a hostname of an unknown type")),
                }
            } else if let Some(rest) = line
                .strip_prefix("<ports><extraports ")
                .or_else(|| line.strip_prefix("<extraports "))
            {
                extra_state = attr_value(rest, "state").and_then(|s| state(&s));
                if extra_state.is_none() {
                    return Err(bad("extraports of an unknown state"));
                }
            } else if let Some(rest) = line.strip_prefix("<extrareasons ") {
                let (_, data) = host.as_mut().ok_or_else(|| bad("ports outside a host"))?;
                let st = extra_state.ok_or_else(|| bad("extrareasons outside extraports"))?;
                let r = attr_value(rest, "reason").and_then(|r| reason(&r));
                let count = attr_value(rest, "count").and_then(|c| c.parse().ok());
                let (Some(r), Some(count)) = (r, count) else {
                    return Err(bad("extrareasons without a known reason and a count"));
                };
                data.hidden.push((st, r, count));
            } else if let Some(rest) = line
                .strip_prefix("<ports><port ")
                .or_else(|| line.strip_prefix("<port "))
            {
                let (_, data) = host.as_mut().ok_or_else(|| bad("a port outside a host"))?;
                let port = attr_value(rest, "portid").and_then(|p| p.parse().ok());
                let st_attrs = rest.split_once("<state ").map(|(_, a)| a).unwrap_or("");
                let st = attr_value(st_attrs, "state").and_then(|s| state(&s));
                let r = attr_value(st_attrs, "reason").and_then(|r| reason(&r));
                let (Some(port), Some(st), Some(r)) = (port, st, r) else {
                    return Err(bad("a port without a number, a known state and a reason"));
                };
                let banner = match rest.split_once("<script id=\"banner\" ") {
                    Some((_, a)) => Some(
                        attr_value(a, "output")
                            .and_then(|b| Banner::from_escaped(&b).ok())
                            .ok_or_else(|| bad("a banner that does not read back"))?,
                    ),
                    None => None,
                };
                let service = read_service(rest).map(Box::new);
                data.listed.push(Listed {
                    port,
                    state: st,
                    reason: r,
                    rtt: None,
                    banner,
                    service,
                });
            } else if line == "</host>" {
                let (ip, data) = host.take().ok_or_else(|| bad("a host that never began"))?;
                let ip = ip.ok_or_else(|| bad("a host without an address"))?;
                part.hosts.insert(ip, data);
                extra_state = None;
            } else if let Some(rest) = line.strip_prefix("<runstats><finished ") {
                if attr_value(rest, "exit").as_deref() != Some("error") {
                    return Err(bad(
                        "its scan was not paused (exit=\"error\"): a finished scan is not continued",
                    ));
                }
                let secs: f64 = attr_value(rest, "elapsed")
                    .and_then(|e| e.parse().ok())
                    .filter(|e: &f64| e.is_finite() && *e >= 0.0)
                    .ok_or_else(|| bad("no elapsed time"))?;
                part.elapsed = Duration::from_secs_f64(secs);
                finished = true;
            }
        }
        if host.is_some() || !finished || part.args.is_none() {
            return Err(NotAPausedPart {
                line: last,
                what: "not a whole document of portscout's XML printer".into(),
            });
        }
        Ok(part)
    }
}

/// The value of attribute `name` in `attrs` (`name="value"`), its references read.
/// A service read back from a port line as [`write_service`] and [`write_tls`] wrote it
/// (`None` for no `<service>`). A name from the port table (`method="table"`) is written
/// again the same way whether it came from detection or from the table.
fn read_service(port_line: &str) -> Option<ServiceInfo> {
    let (_, from) = port_line.split_once("<service ")?;
    let end = from.find('>')?;
    let attrs = &from[..end];
    let mut s = ServiceInfo::probed(&attr_value(attrs, "name")?);
    if attr_value(attrs, "method").as_deref() == Some("table") {
        s.method = crate::service::Method::Table;
    }
    s.product = attr_value(attrs, "product");
    s.version = attr_value(attrs, "version");
    s.extrainfo = attr_value(attrs, "extrainfo");
    s.hostname = attr_value(attrs, "hostname");
    s.ostype = attr_value(attrs, "ostype");
    s.devicetype = attr_value(attrs, "devicetype");
    s.confidence = attr_value(attrs, "conf")
        .and_then(|c| c.parse().ok())
        .unwrap_or(10);
    if !attrs.ends_with('/') {
        let body = &from[end + 1..from.find("</service>").unwrap_or(from.len())];
        s.cpes = body
            .split("<cpe>")
            .skip(1)
            .filter_map(|c| c.split_once("</cpe>"))
            .filter_map(|(c, _)| unescape(c))
            .collect();
    }
    // A bare TLS service is named `ssl` without a tunnel; any other has `tunnel="ssl"`.
    if s.name == "ssl" || attr_value(attrs, "tunnel").as_deref() == Some("ssl") {
        let mut tls = TlsInfo::default();
        if let Some((_, a)) = port_line.split_once("<script id=\"ssl-cert\" ") {
            for line in attr_value(a, "output").unwrap_or_default().lines() {
                let (key, value) = line.split_once(": ").unwrap_or((line, ""));
                let value = Some(value.to_string());
                match key {
                    "Subject" => tls.subject = value,
                    "Issuer" => tls.issuer = value,
                    "Subject Alternative Name" => {
                        tls.sans = line[key.len() + 2..]
                            .split(", ")
                            .map(str::to_string)
                            .collect()
                    }
                    "Not valid after" => tls.not_after = value,
                    "Protocol" => tls.version = value,
                    "Cipher" => tls.cipher = value,
                    _ => {}
                }
            }
        }
        s.tls = Some(tls);
    }
    Some(s)
}

fn attr_value(attrs: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let mut from = 0;
    let start = loop {
        let at = from + attrs[from..].find(&key)?;
        // A whole attribute name: at the start or after a space.
        if at == 0 || attrs.as_bytes()[at - 1] == b' ' {
            break at + key.len();
        }
        from = at + key.len();
    };
    let len = attrs[start..].find('"')?;
    unescape(&attrs[start..start + len])
}

/// Text as [`attr`] and [`text`] escaped it, read back (`None` for an entity they never write).
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';')? + amp;
        out.push(match &rest[amp + 1..semi] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "#9" => '\t',
            "#10" => '\n',
            "#13" => '\r',
            _ => return None,
        });
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn state(s: &str) -> Option<PortState> {
    PortState::ALL.into_iter().find(|st| st.as_str() == s)
}

fn reason(s: &str) -> Option<Reason> {
    Reason::ALL.into_iter().find(|r| r.as_str() == s)
}

impl Collector {
    /// Takes the hosts of an earlier part of the scan (before any result of this run).
    pub(crate) fn continue_from(&mut self, part: &XmlPart) {
        self.hosts = part.hosts.clone();
    }
}

/// Writes the whole document.
pub(crate) fn render(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    render_part(w, collector, info, summary, services, None)
}

/// Writes the whole document; `before`, the earlier part of a resumed scan, whose hosts the
/// collector holds already: its command and start are the document's, its elapsed time is
/// added to this run's.
pub(crate) fn render_part(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    summary: &Summary,
    services: ServiceLookup,
    before: Option<&XmlPart>,
) -> io::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let args = match before.and_then(|b| b.args.clone()) {
        Some(args) => args,
        None => info.command.join(" "),
    };
    let start = before
        .and_then(|b| b.start)
        .or(info.started.map(unix_seconds));
    let end = info.started.map(|t| unix_seconds(t + summary.elapsed));
    let elapsed_total = summary.elapsed + before.map_or(Duration::ZERO, |b| b.elapsed);

    w.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n")?;
    let mut head = format!("portscout {version} scan");
    if let Some(start) = start {
        let _ = write!(head, " initiated {}", ctime(start));
    }
    if !args.is_empty() {
        let _ = write!(head, " as: {args}");
    }
    writeln!(w, "<!-- {} -->", comment(&head))?;

    write!(w, "<nmaprun scanner=\"{SCANNER}\"")?;
    if !args.is_empty() {
        write!(w, " args=\"{}\"", attr(&args))?;
    }
    if let Some(start) = start {
        write!(w, " start=\"{start}\" startstr=\"{}\"", ctime(start))?;
    }
    writeln!(
        w,
        " version=\"{version}\" xmloutputversion=\"{XML_OUTPUT_VERSION}\">"
    )?;
    let scan_type = match info.scan_type.unwrap_or_default() {
        ScanType::Connect => "connect",
        ScanType::Syn => "syn",
    };
    let port_list = info
        .port_set
        .as_ref()
        .map_or(String::new(), ToString::to_string);
    writeln!(
        w,
        "<scaninfo type=\"{scan_type}\" protocol=\"tcp\" numservices=\"{}\" services=\"{}\"/>",
        info.ports,
        attr(&port_list)
    )?;
    // Required by the DTD; portscout has no verbosity levels of its own.
    w.write_all(b"<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n")?;

    let (mut up, mut down) = (0u64, 0u64);
    for (ip, host) in collector.finish() {
        if host.down.is_some() {
            down += 1;
        } else {
            up += 1;
        }
        write_host(w, *ip, host, services)?;
    }

    let total = summary.hosts.max(u128::from(up + down));
    let elapsed = seconds(elapsed_total);
    let mut done = String::from(if summary.paused {
        "portscout interrupted"
    } else {
        "portscout done"
    });
    // The DTD requires `time`; without a start time there is no honest one to give.
    let time = end.unwrap_or(0);
    let mut finished = format!("<finished time=\"{time}\"");
    if let Some(end) = end {
        let _ = write!(done, " at {}", ctime(end));
        let _ = write!(finished, " timestr=\"{}\"", ctime(end));
    }
    let _ = write!(
        done,
        "; {total} IP {} ({up} {} up) scanned in {elapsed} seconds",
        if total == 1 { "address" } else { "addresses" },
        if up == 1 { "host" } else { "hosts" },
    );
    // A shard names itself (nmap's `summary` is free text; the DTD has no place for it).
    if let Some(id) = summary.identity.filter(|id| id.shard.count > 1) {
        let _ = write!(
            done,
            "; shard {}/{} of scan {} ({} probes), part {}",
            id.shard.index,
            id.shard.count,
            id.scan_hex(),
            id.probes,
            id.part
        );
    }
    // As nmap ends a scan it did not finish: `exit="error"` and why. `--max-open` is an end
    // that was asked for: a success.
    let exit = if summary.paused {
        format!("exit=\"error\" errormsg=\"{}\"", attr(PAUSED))
    } else {
        "exit=\"success\"".to_string()
    };
    writeln!(
        w,
        "<runstats>{finished} summary=\"{}\" elapsed=\"{elapsed}\" {exit}/>\
         <hosts up=\"{up}\" down=\"{down}\" total=\"{total}\"/>\n</runstats>\n</nmaprun>",
        attr(&done)
    )
}

fn write_host(
    w: &mut dyn Write,
    ip: IpAddr,
    host: &HostData,
    services: ServiceLookup,
) -> io::Result<()> {
    let addrtype = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
    let address = format!("<address addr=\"{ip}\" addrtype=\"{addrtype}\"/>");
    // As nmap: the name the user gave (`user`), then the PTR name (`PTR`), one per line.
    let mut hostnames = String::from("<hostnames>\n");
    if let Some(n) = &host.name {
        let _ = writeln!(
            hostnames,
            "<hostname name=\"{}\" type=\"user\"/>",
            attr(&n.name)
        );
    }
    if let Some(ptr) = &host.ptr {
        let _ = writeln!(hostnames, "<hostname name=\"{}\" type=\"PTR\"/>", attr(ptr));
    }
    hostnames.push_str("</hostnames>");
    if let Some((reason, _)) = host.down {
        // As nmap -v lists a host that did not answer: no ports; its names only when it has
        // one (a name given, or -R).
        if host.name.is_none() && host.ptr.is_none() {
            return writeln!(
                w,
                "<host><status state=\"down\" reason=\"{reason}\" reason_ttl=\"0\"/>\n{address}\n</host>"
            );
        }
        return writeln!(
            w,
            "<host><status state=\"down\" reason=\"{reason}\" reason_ttl=\"0\"/>\n{address}\n{hostnames}\n</host>"
        );
    }
    writeln!(
        w,
        "<host><status state=\"up\" reason=\"{}\" reason_ttl=\"0\"/>\n{address}\n{hostnames}",
        up_reason(host)
    )?;
    w.write_all(b"<ports>")?;
    // A fixed order (open, closed, filtered): ndiff compares the extraports of two scans
    // in the order they are written.
    for state in PortState::ALL {
        let count = host.hidden_in(state);
        if count == 0 {
            continue;
        }
        writeln!(w, "<extraports state=\"{state}\" count=\"{count}\">")?;
        for (reason, n) in host.hidden_reasons(state) {
            writeln!(
                w,
                "<extrareasons reason=\"{reason}\" count=\"{n}\" proto=\"tcp\"/>"
            )?;
        }
        w.write_all(b"</extraports>\n")?;
    }
    for l in &host.listed {
        write!(
            w,
            "<port protocol=\"tcp\" portid=\"{}\"><state state=\"{}\" reason=\"{}\" \
             reason_ttl=\"0\"/>",
            l.port, l.state, l.reason,
        )?;
        if let Some(s) = &l.service {
            write_service(w, s)?;
        } else if let Some(name) = services(l.port) {
            // As nmap: a port its table does not know gets no <service> at all.
            write!(
                w,
                "<service name=\"{}\" method=\"table\" conf=\"3\"/>",
                attr(name)
            )?;
        }
        if let Some(tls) = l.service.as_ref().and_then(|s| s.tls.as_ref()) {
            write_tls(w, tls)?;
        }
        if let Some(banner) = &l.banner {
            // nmap's `banner` script puts what the service sent in `output`, non-printable
            // bytes as \xHH; here the exact escaped form of every other format.
            write!(
                w,
                "<script id=\"banner\" output=\"{}\"/>",
                attr(&banner.escaped())
            )?;
        }
        w.write_all(b"</port>\n")?;
    }
    w.write_all(b"</ports>\n</host>\n")
}

/// A detected service as nmap `-sV` writes it: `<service name product version extrainfo
/// hostname ostype devicetype tunnel method conf>` with one `<cpe>` per CPE.
fn write_service(w: &mut dyn Write, s: &ServiceInfo) -> io::Result<()> {
    let mut out = format!("<service name=\"{}\"", attr(&s.name));
    for (key, value) in [
        ("product", &s.product),
        ("version", &s.version),
        ("extrainfo", &s.extrainfo),
        ("hostname", &s.hostname),
        ("ostype", &s.ostype),
        ("devicetype", &s.devicetype),
    ] {
        if let Some(v) = value {
            let _ = write!(out, " {key}=\"{}\"", attr(v));
        }
    }
    // nmap names a bare TLS service `ssl`, without a tunnel.
    if s.is_tls() && s.name != "ssl" {
        out.push_str(" tunnel=\"ssl\"");
    }
    // The DTD allows confidences 0 to 10.
    let _ = write!(
        out,
        " method=\"{}\" conf=\"{}\"",
        s.method.as_str(),
        s.confidence.min(10)
    );
    if s.cpes.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for cpe in &s.cpes {
            let _ = write!(out, "<cpe>{}</cpe>", text(cpe));
        }
        out.push_str("</service>");
    }
    w.write_all(out.as_bytes())
}

/// The certificate of a TLS service, as the `output` of an `ssl-cert` script (nmap's name for
/// the script that shows it): subject, issuer, SANs, expiry, protocol and cipher, one a line.
fn write_tls(w: &mut dyn Write, tls: &TlsInfo) -> io::Result<()> {
    let mut lines = Vec::new();
    lines.extend(tls.subject.as_ref().map(|s| format!("Subject: {s}")));
    lines.extend(tls.issuer.as_ref().map(|s| format!("Issuer: {s}")));
    if !tls.sans.is_empty() {
        lines.push(format!("Subject Alternative Name: {}", tls.sans.join(", ")));
    }
    lines.extend(
        tls.not_after
            .as_ref()
            .map(|s| format!("Not valid after: {s}")),
    );
    lines.extend(tls.version.as_ref().map(|s| format!("Protocol: {s}")));
    lines.extend(tls.cipher.as_ref().map(|s| format!("Cipher: {s}")));
    if lines.is_empty() {
        return Ok(());
    }
    write!(
        w,
        "<script id=\"ssl-cert\" output=\"{}\"/>",
        attr(&lines.join("\n"))
    )
}

/// `s` escaped for element content.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    xml_chars(s, true, |c| match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    });
    out
}

/// Why a host counts as up, in nmap's words: the strongest answer any of its ports gave
/// (`syn-ack`, then `conn-refused`, then `reset`, then an ICMP error), or `user-set` when
/// none answered (`--no-host-check` scanned it anyway, nmap's `-Pn`).
fn up_reason(host: &HostData) -> &'static str {
    let reasons = host
        .listed
        .iter()
        .map(|l| l.reason)
        .chain(host.hidden.iter().map(|h| h.1));
    let rank = |r: Reason| match r {
        Reason::SynAck => 0,
        Reason::ConnRefused => 1,
        Reason::Reset => 2,
        Reason::NoResponse => u8::MAX,
        _ => 3,
    };
    match reasons.min_by_key(|r| (rank(*r), *r)) {
        Some(r) if r != Reason::NoResponse => r.as_str(),
        _ => "user-set",
    }
}

/// Whole seconds since the Unix epoch (0 for a time before it).
fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Seconds with two decimals, as nmap writes `elapsed` (`0.41`).
fn seconds(d: Duration) -> String {
    let centis = (d.as_millis() + 5) / 10;
    format!("{}.{:02}", centis / 100, centis % 100)
}

/// A Unix time as nmap writes `startstr` (`Tue Nov 14 22:13:20 2023`, C's `%a %b %d %H:%M:%S
/// %Y`), in UTC: printers never depend on the machine's time zone.
fn ctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {day:02} {:02}:{:02}:{:02} {year}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Text as XML 1.0 allows it: characters it cannot hold at all (C0 controls but TAB, LF and
/// CR; U+FFFE, U+FFFF) become `\xHH` (U+FFFD for the two non-characters). TAB, LF and CR
/// are passed on when `keep_blanks`, else written `\xHH` too (a comment stays on one line).
fn xml_chars(s: &str, keep_blanks: bool, mut push: impl FnMut(char)) {
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' if keep_blanks => push(c),
            '\u{0}'..='\u{1f}' => {
                for e in format!("\\x{:02X}", u32::from(c)).chars() {
                    push(e);
                }
            }
            '\u{fffe}' | '\u{ffff}' => push('\u{fffd}'),
            c => push(c),
        }
    }
}

/// `s` escaped for an attribute value in double quotes. TAB, LF and CR are written as
/// character references, which an XML parser keeps (it would turn them into spaces as they
/// are).
pub(crate) fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    xml_chars(s, true, |c| match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&apos;"),
        '\t' => out.push_str("&#9;"),
        '\n' => out.push_str("&#10;"),
        '\r' => out.push_str("&#13;"),
        c => out.push(c),
    });
    out
}

/// `s` made safe inside `<!-- … -->`, which may not hold `--` (nor end in `-`, which the
/// space before `-->` prevents): as nmap does, the second `-` of a pair is written `&#45;`
/// (a comment has no references: it reads `-&#45;`).
fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_dash = false;
    xml_chars(s, false, |c| {
        if c == '-' && after_dash {
            out.push_str("&#45;");
            after_dash = false;
        } else {
            out.push(c);
            after_dash = c == '-';
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_is_utc_like_c() {
        assert_eq!(ctime(0), "Thu Jan 01 00:00:00 1970");
        assert_eq!(ctime(1_700_000_000), "Tue Nov 14 22:13:20 2023");
        // 2000 was a leap year, 2100 will not be.
        assert_eq!(ctime(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(ctime(4_107_456_000), "Sun Feb 28 00:00:00 2100");
        assert_eq!(ctime(4_107_542_400), "Mon Mar 01 00:00:00 2100");
        assert_eq!(ctime(4_107_628_800), "Tue Mar 02 00:00:00 2100");
        assert_eq!(ctime(1_795_315_090), "Sun Nov 22 02:38:10 2026");
    }

    #[test]
    fn elapsed_has_two_decimals() {
        assert_eq!(seconds(Duration::from_millis(412)), "0.41");
        assert_eq!(seconds(Duration::from_millis(0)), "0.00");
        assert_eq!(seconds(Duration::from_millis(1995)), "2.00");
        assert_eq!(seconds(Duration::from_secs(61)), "61.00");
    }

    #[test]
    fn attributes_escape_markup_quotes_and_controls() {
        assert_eq!(
            attr("a<b>&\"c'\t\n\r\u{1}\u{7f}é\u{ffff}"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#9;&#10;&#13;\\x01\u{7f}é\u{fffd}"
        );
    }

    #[test]
    fn comments_never_hold_a_double_dash() {
        assert_eq!(comment("--show all"), "-&#45;show all");
        assert_eq!(comment("a---b"), "a-&#45;-b");
        assert_eq!(comment("----"), "-&#45;-&#45;");
        assert_eq!(comment("<&>\u{2}\n"), "<&>\\x02\\x0A");
        for s in ["-", "--", "---", "a--", "--x--y---"] {
            assert!(!comment(s).contains("--"), "{s}");
        }
    }
}
