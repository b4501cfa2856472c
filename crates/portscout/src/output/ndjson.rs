//! `ndjson`: one JSON object per line, flushed after every line (schema 1, frozen: fields are
//! added, never renamed or removed). Every record ends with its `time`.

use std::io::{self, Write};
use std::time::SystemTime;

use super::{
    json_err, rfc3339, HostDownRecord, PortRecord, ScanInfo, Sink, Summary, SummaryRecord,
};
use crate::model::{HostDown, PortResult, StateFilter};

/// Writes one port record per listed result and one host record per host found down, as they
/// arrive, then one summary record.
pub(crate) struct NdjsonPrinter {
    show: StateFilter,
    out: Box<dyn Write + Send>,
    /// Scratch buffer for one line, reused: each line reaches `out` in one `write_all`.
    line: Vec<u8>,
    /// The clock of the `time` fields (none: no `time`).
    clock: Option<fn() -> SystemTime>,
}

impl NdjsonPrinter {
    pub(crate) fn new(
        show: StateFilter,
        out: Box<dyn Write + Send>,
        clock: Option<fn() -> SystemTime>,
    ) -> NdjsonPrinter {
        NdjsonPrinter {
            show,
            out,
            line: Vec::with_capacity(128),
            clock,
        }
    }

    /// Now, for a record's `time`.
    fn now(&self) -> Option<String> {
        self.clock.map(|clock| rfc3339(clock()))
    }

    fn write_line<T: serde::Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(json_err)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.flush()
    }
}

impl Sink for NdjsonPrinter {
    fn begin(&mut self, _info: &ScanInfo) -> io::Result<()> {
        Ok(())
    }

    fn result(&mut self, result: &PortResult) -> io::Result<bool> {
        if self.show.shows(result.state) {
            let time = self.now();
            self.write_line(&PortRecord(result, time.as_deref()))?;
        }
        Ok(true)
    }

    fn host_down(&mut self, host: &HostDown) -> io::Result<()> {
        let time = self.now();
        self.write_line(&HostDownRecord(host, time.as_deref()))
    }

    fn end(&mut self, summary: &Summary) -> io::Result<()> {
        let time = self.now();
        self.write_line(&SummaryRecord {
            summary,
            tagged: true,
            schema: true,
            time: time.as_deref(),
        })
    }
}
