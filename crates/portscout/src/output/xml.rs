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

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Collector, HostData, ScanInfo, ServiceLookup, Summary};
use crate::model::{PortState, Reason};
use crate::probe::ScanType;
use crate::service::{ServiceInfo, TlsInfo};

/// Every host that answered is listed, even when all its ports are hidden by `--show` (as
/// nmap lists every host up): a reader such as `ndiff` takes a host that is missing for a
/// host of unknown state, and would report its ports as gone.
pub(crate) const KEEP_EMPTY: bool = true;

/// The `xmloutputversion` of nmap 7.x, whose layout this printer writes.
const XML_OUTPUT_VERSION: &str = "1.05";

/// The `scanner` attribute. nmap's DTD allows no other value (`scanner (nmap) #REQUIRED`),
/// so a file that says `portscout` there does not validate; the comment before `<nmaprun>`,
/// `args` and `version` say which program wrote the file.
const SCANNER: &str = "nmap";

/// Writes the whole document.
pub(crate) fn render(
    w: &mut dyn Write,
    collector: &mut Collector,
    info: &ScanInfo,
    summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let args = info.command.join(" ");
    let start = info.started.map(unix_seconds);
    let end = info.started.map(|t| unix_seconds(t + summary.elapsed));

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
    let elapsed = seconds(summary.elapsed);
    let mut done = String::from("portscout done");
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
    writeln!(
        w,
        "<runstats>{finished} summary=\"{}\" elapsed=\"{elapsed}\" exit=\"success\"/>\
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
    if let Some((reason, _)) = host.down {
        // As nmap -v lists a host that did not answer: no names, no ports.
        return writeln!(
            w,
            "<host><status state=\"down\" reason=\"{reason}\" reason_ttl=\"0\"/>\n{address}\n</host>"
        );
    }
    writeln!(
        w,
        "<host><status state=\"up\" reason=\"{}\" reason_ttl=\"0\"/>\n{address}\n<hostnames>\n</hostnames>",
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
fn civil_from_days(days: u64) -> (u64, u64, u64) {
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
