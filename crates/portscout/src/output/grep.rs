//! `grep`: one line per host, like nmap's `-oG`, written at `end`.

use std::io::{self, BufWriter, Write};

use super::{Collector, ScanInfo, ServiceLookup, Sink, Summary};
use crate::model::{PortResult, PortState, StateFilter};

/// Keeps the listed results and per-host counters, then writes one line per host at `end`:
/// `Host: <ip> ()\tPorts: <port>/<state>/tcp//<service>///, …\tIgnored State: <state> (<n>)`.
pub(crate) struct GrepPrinter {
    collector: Collector,
    out: Box<dyn Write + Send>,
    services: ServiceLookup,
}

impl GrepPrinter {
    pub(crate) fn new(
        show: StateFilter,
        out: Box<dyn Write + Send>,
        services: ServiceLookup,
    ) -> GrepPrinter {
        GrepPrinter {
            collector: Collector::new(show, true),
            out,
            services,
        }
    }
}

impl Sink for GrepPrinter {
    fn begin(&mut self, _info: &ScanInfo) -> io::Result<()> {
        Ok(())
    }

    fn result(&mut self, result: &PortResult) -> io::Result<()> {
        self.collector.add(result);
        Ok(())
    }

    fn end(&mut self, _summary: &Summary) -> io::Result<()> {
        let services = self.services;
        let mut w = BufWriter::new(&mut self.out);
        for (ip, host) in self.collector.finish() {
            // nmap leaves the hostname between the parentheses; portscout does not resolve.
            write!(w, "Host: {ip} ()")?;
            if !host.listed.is_empty() {
                w.write_all(b"\tPorts: ")?;
                for (i, l) in host.listed.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b", ")?;
                    }
                    // port/state/protocol/owner/service/rpc info/version/
                    write!(
                        w,
                        "{}/{}/tcp//{}///",
                        l.port,
                        l.state.as_str(),
                        services(l.port).unwrap_or("")
                    )?;
                }
            }
            let ignored: Vec<String> = PortState::ALL
                .into_iter()
                .map(|s| (s, host.hidden_in(s)))
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| format!("{s} ({n})"))
                .collect();
            if !ignored.is_empty() {
                write!(w, "\tIgnored State: {}", ignored.join(", "))?;
            }
            w.write_all(b"\n")?;
        }
        w.flush()
    }
}
