//! `csv`: a header, then one row per listed result as it arrives. No summary row.

use std::io::{self, BufWriter, Write};

use super::{RttMs, ScanInfo, Sink, Summary};
use crate::model::{HostDown, PortResult, StateFilter};

/// The header row.
const HEADER: &str = "ip,port,protocol,state,reason,rtt_ms\n";

/// Writes the header at `begin`, one row per listed result, and flushes at `end`.
pub(crate) struct CsvPrinter {
    show: StateFilter,
    out: BufWriter<Box<dyn Write + Send>>,
}

impl CsvPrinter {
    pub(crate) fn new(show: StateFilter, out: Box<dyn Write + Send>) -> CsvPrinter {
        CsvPrinter {
            show,
            out: BufWriter::new(out),
        }
    }
}

impl Sink for CsvPrinter {
    fn begin(&mut self, _info: &ScanInfo) -> io::Result<()> {
        self.out.write_all(HEADER.as_bytes())
    }

    fn result(&mut self, r: &PortResult) -> io::Result<()> {
        if !self.show.shows(r.state) {
            return Ok(());
        }
        // No field can contain a comma, a quote or a newline: nothing needs quoting.
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
        self.out.write_all(b"\n")
    }

    /// A host found down is one row with no port, state `down` and the reason.
    fn host_down(&mut self, h: &HostDown) -> io::Result<()> {
        writeln!(self.out, "{},,tcp,down,{},", h.ip, h.reason.as_str())
    }

    fn end(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
