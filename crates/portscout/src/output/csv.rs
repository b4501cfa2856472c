//! `csv`: a header, then one row per listed result as it arrives. No summary row.

use std::io::{self, BufWriter, Write};

use super::{printable, RttMs, ScanInfo, Sink, Summary};
use crate::model::{HostDown, PortResult, StateFilter, TargetName};

/// The header row (`,banner` is added with `--banners`, [`SERVICE_HEADER`] with
/// `--service-version`, `,host` when a target was given by name).
const HEADER: &str = "ip,port,protocol,state,reason,rtt_ms";

/// The columns added with `--service-version`: the service's name (`ssl/http` inside TLS),
/// product, version, extra information, CPEs (separated by spaces), method and confidence.
const SERVICE_HEADER: &str = ",service,product,version,extrainfo,cpe,method,conf";

/// Writes the header at `begin`, one row per listed result, and flushes at `end`.
pub(crate) struct CsvPrinter {
    show: StateFilter,
    out: BufWriter<Box<dyn Write + Send>>,
    /// Whether rows have a `banner` column (the scan grabs banners).
    banners: bool,
    /// Whether rows have the service columns (the scan detects services).
    services: bool,
    /// The names targets were given by: rows have a last `host` column when there is one.
    names: std::collections::BTreeMap<std::net::IpAddr, TargetName>,
}

/// `text` as one CSV field: quoted (RFC 4180) when it holds a comma or a quote. The texts
/// written here never hold a newline.
fn field(out: &mut impl Write, text: &str) -> io::Result<()> {
    if text.contains([',', '"']) {
        write!(out, "\"{}\"", text.replace('"', "\"\""))
    } else {
        out.write_all(text.as_bytes())
    }
}

impl CsvPrinter {
    pub(crate) fn new(show: StateFilter, out: Box<dyn Write + Send>) -> CsvPrinter {
        CsvPrinter {
            show,
            out: BufWriter::new(out),
            banners: false,
            services: false,
            names: std::collections::BTreeMap::new(),
        }
    }

    /// The `host` column (a host name as the parser accepts it: letters, digits, dots and
    /// dashes, never quoted), when the scan has one.
    fn host(&mut self, ip: std::net::IpAddr) -> io::Result<()> {
        if self.names.is_empty() {
            return Ok(());
        }
        self.out.write_all(b",")?;
        match self.names.get(&ip) {
            Some(n) => field(&mut self.out, &n.name),
            None => Ok(()),
        }
    }
}

impl Sink for CsvPrinter {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.banners = info.banners;
        self.out.write_all(HEADER.as_bytes())?;
        if self.banners {
            self.out.write_all(b",banner")?;
        }
        self.services = info.services;
        if self.services {
            self.out.write_all(SERVICE_HEADER.as_bytes())?;
        }
        self.names = info.names.clone();
        if !self.names.is_empty() {
            self.out.write_all(b",host")?;
        }
        self.out.write_all(b"\n")
    }

    fn result(&mut self, r: &PortResult) -> io::Result<bool> {
        if !self.show.shows(r.state) {
            return Ok(true);
        }
        // No field but the banner and the service's can contain a comma or a quote, and
        // none a newline.
        write!(
            self.out,
            "{},{},tcp,{},{},",
            r.ip,
            r.port,
            r.state.as_str(),
            r.reason.as_str()
        )?;
        if let Some(rtt) = r.rtt {
            write!(self.out, "{}", RttMs::new(rtt))?;
        }
        if self.banners {
            self.out.write_all(b",")?;
            if let Some(banner) = &r.banner {
                // The escaped form has no newline.
                field(&mut self.out, &banner.escaped())?;
            }
        }
        if self.services {
            match &r.service {
                Some(s) => {
                    // Service texts come from the service's answer: printable, but they
                    // may hold commas and quotes; a control character is escaped as in a
                    // banner.
                    let clean = |t: &Option<String>| t.as_deref().map_or(String::new(), printable);
                    for text in [
                        Some(s.display_name()),
                        s.product.clone(),
                        s.version.clone(),
                        s.extrainfo.clone(),
                        Some(s.cpes.join(" ")),
                        Some(s.method.as_str().to_string()),
                    ] {
                        self.out.write_all(b",")?;
                        field(&mut self.out, &clean(&text))?;
                    }
                    write!(self.out, ",{}", s.confidence)?;
                }
                None => self.out.write_all(b",,,,,,,")?,
            }
        }
        self.host(r.ip)?;
        self.out.write_all(b"\n")?;
        Ok(true)
    }

    /// A host found down is one row with no port, state `down` and the reason.
    fn host_down(&mut self, h: &HostDown) -> io::Result<()> {
        write!(self.out, "{},,tcp,down,{},", h.ip, h.reason.as_str())?;
        if self.banners {
            self.out.write_all(b",")?;
        }
        if self.services {
            self.out.write_all(b",,,,,,,")?;
        }
        self.host(h.ip)?;
        self.out.write_all(b"\n")
    }

    fn end(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
