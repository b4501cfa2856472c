//! `csv`: a header, then one row per listed result as it arrives. No summary row.

use std::io::{self, BufWriter, Write};

use super::{RttMs, ScanInfo, Sink, Summary};
use crate::model::{HostDown, PortResult, StateFilter};

/// The header row (`,banner` is added with `--banners`).
const HEADER: &str = "ip,port,protocol,state,reason,rtt_ms";

/// Writes the header at `begin`, one row per listed result, and flushes at `end`.
pub(crate) struct CsvPrinter {
    show: StateFilter,
    out: BufWriter<Box<dyn Write + Send>>,
    /// Whether rows have a `banner` column (the scan grabs banners).
    banners: bool,
}

impl CsvPrinter {
    pub(crate) fn new(show: StateFilter, out: Box<dyn Write + Send>) -> CsvPrinter {
        CsvPrinter {
            show,
            out: BufWriter::new(out),
            banners: false,
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
        self.out.write_all(b"\n")
    }

    fn result(&mut self, r: &PortResult) -> io::Result<bool> {
        if !self.show.shows(r.state) {
            return Ok(true);
        }
        // No field but the banner can contain a comma or a quote, and none a newline.
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
                // The escaped form has no newline; quoted (RFC 4180) when it holds a comma
                // or a quote.
                let text = banner.escaped();
                if text.contains([',', '"']) {
                    write!(self.out, "\"{}\"", text.replace('"', "\"\""))?;
                } else {
                    self.out.write_all(text.as_bytes())?;
                }
            }
        }
        self.out.write_all(b"\n")?;
        Ok(true)
    }

    /// A host found down is one row with no port, state `down` and the reason.
    fn host_down(&mut self, h: &HostDown) -> io::Result<()> {
        write!(self.out, "{},,tcp,down,{},", h.ip, h.reason.as_str())?;
        if self.banners {
            self.out.write_all(b",")?;
        }
        self.out.write_all(b"\n")
    }

    fn end(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
