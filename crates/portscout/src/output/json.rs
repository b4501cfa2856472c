//! `json`: one compact JSON document, written at `end`.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::{
    json_err, Collector, HostData, PortRecord, ScanInfo, ServiceLookup, Summary, SummaryRecord,
};

/// Hosts with nothing listed are left out of the document (counted in `summary` only).
pub(crate) const KEEP_EMPTY: bool = false;

/// The whole document.
struct Document<'a> {
    hosts: Hosts<'a>,
    summary: &'a Summary,
}

/// One host and its ports.
struct HostRecord<'a> {
    ip: IpAddr,
    data: &'a HostData,
}

/// The `ports` array of one host.
struct Ports<'a>(&'a HostRecord<'a>);

impl Serialize for Ports<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let host = self.0;
        let mut seq = s.serialize_seq(Some(host.data.listed.len()))?;
        for l in &host.data.listed {
            let name = host.data.name.as_ref().map(|n| n.name.as_str());
            seq.serialize_element(&PortRecord(&l.to_result(host.ip), None, name))?;
        }
        seq.end()
    }
}

impl Serialize for HostRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let down = self.data.down;
        let mut st = s.serialize_struct("Host", if down.is_some() { 6 } else { 4 })?;
        st.serialize_field("ip", &self.ip)?;
        // The name the user gave, and the PTR name: only when there is one (issue 19).
        match &self.data.name {
            Some(n) => st.serialize_field("host", &n.name)?,
            None => st.skip_field("host")?,
        }
        match &self.data.ptr {
            Some(p) => st.serialize_field("ptr", p)?,
            None => st.skip_field("ptr")?,
        }
        if let Some((reason, _)) = down {
            st.serialize_field("state", "down")?;
            st.serialize_field("reason", reason.as_str())?;
        }
        st.serialize_field("ports", &Ports(self))?;
        st.end()
    }
}

/// The `hosts` array, serialized straight from the collector.
struct Hosts<'a>(Vec<HostRecord<'a>>);

impl Serialize for Hosts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for h in &self.0 {
            seq.serialize_element(h)?;
        }
        seq.end()
    }
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Document", 2)?;
        st.serialize_field("hosts", &self.hosts)?;
        st.serialize_field(
            "summary",
            &SummaryRecord {
                summary: self.summary,
                tagged: false,
                schema: false,
                time: None,
            },
        )?;
        st.end()
    }
}

/// Writes `{"hosts":[{"ip":…,"ports":[…]}…],"summary":{…}}` and a newline.
pub(crate) fn render(
    w: &mut dyn Write,
    collector: &mut Collector,
    _info: &ScanInfo,
    summary: &Summary,
    _services: ServiceLookup,
) -> io::Result<()> {
    let hosts = Hosts(
        collector
            .finish()
            .map(|(ip, data)| HostRecord { ip: *ip, data })
            .collect(),
    );
    serde_json::to_writer(&mut *w, &Document { hosts, summary }).map_err(json_err)?;
    w.write_all(b"\n")
}
