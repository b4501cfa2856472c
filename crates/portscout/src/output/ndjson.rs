//! `ndjson`: one JSON object per line, flushed after every line (schema 1, frozen: fields are
//! added, never renamed or removed). Every record ends with its `time`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::SystemTime;

use super::{
    json_err, rfc3339, HostDownRecord, PortRecord, ScanInfo, Sink, Summary, SummaryRecord,
};
use crate::model::{HostDown, PortResult, StateFilter, TargetName};

/// Writes one port record per listed result and one host record per host found down, as they
/// arrive, then one summary record.
pub(crate) struct NdjsonPrinter {
    show: StateFilter,
    out: Box<dyn Write + Send>,
    /// Scratch buffer for one line, reused: each line reaches `out` in one `write_all`.
    line: Vec<u8>,
    /// The clock of the `time` fields (none: no `time`).
    clock: Option<fn() -> SystemTime>,
    /// The names targets were given by (`host` fields).
    names: BTreeMap<IpAddr, TargetName>,
}

/// A host name found by a PTR lookup: `{"type":"hostname","ip":…,"name":…,"kind":"PTR"}`.
struct NameRecord<'a> {
    ip: IpAddr,
    name: &'a str,
    time: Option<&'a str>,
}

impl serde::Serialize for NameRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Name", 5)?;
        st.serialize_field("type", "hostname")?;
        st.serialize_field("ip", &self.ip)?;
        st.serialize_field("name", self.name)?;
        st.serialize_field("kind", "PTR")?;
        match self.time {
            Some(t) => st.serialize_field("time", t)?,
            None => st.skip_field("time")?,
        }
        st.end()
    }
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
            names: BTreeMap::new(),
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
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.names = info.names.clone();
        Ok(())
    }

    fn result(&mut self, result: &PortResult) -> io::Result<bool> {
        if self.show.shows(result.state) {
            let time = self.now();
            let host = self.names.get(&result.ip).map(|n| n.name.clone());
            self.write_line(&PortRecord(result, time.as_deref(), host.as_deref()))?;
        }
        Ok(true)
    }

    fn host_down(&mut self, host: &HostDown) -> io::Result<()> {
        let time = self.now();
        let name = self.names.get(&host.ip).map(|n| n.name.clone());
        self.write_line(&HostDownRecord(host, time.as_deref(), name.as_deref()))
    }

    fn host_name(&mut self, ip: IpAddr, name: &str) -> io::Result<()> {
        let time = self.now();
        self.write_line(&NameRecord {
            ip,
            name,
            time: time.as_deref(),
        })
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
