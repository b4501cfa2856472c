//! `list`: one `ip:port` per open port, as found, flushed after every line (naabu's default
//! output), for feeding other tools. An IPv6 address is bracketed (`[2001:db8::1]:22`), as a
//! socket address is written everywhere. Nothing else: no closed or filtered port (whatever
//! `--show` says: a line has no state), no host down, no summary.

use std::io::{self, Write};
use std::net::SocketAddr;

use super::{ScanInfo, Sink, Summary};
use crate::model::{HostDown, PortResult, PortState};

/// Writes `ip:port` for every open port, as it arrives.
pub(crate) struct ListPrinter {
    out: Box<dyn Write + Send>,
}

impl ListPrinter {
    pub(crate) fn new(out: Box<dyn Write + Send>) -> ListPrinter {
        ListPrinter { out }
    }
}

impl Sink for ListPrinter {
    fn begin(&mut self, _info: &ScanInfo) -> io::Result<()> {
        Ok(())
    }

    fn result(&mut self, result: &PortResult) -> io::Result<bool> {
        if result.state == PortState::Open {
            // One write per line: a reader never sees half a line.
            let line = format!("{}\n", SocketAddr::new(result.ip, result.port));
            self.out.write_all(line.as_bytes())?;
            self.out.flush()?;
        }
        Ok(true)
    }

    fn host_down(&mut self, _host: &HostDown) -> io::Result<()> {
        Ok(())
    }

    fn end(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
