//! `grep`: one line per host, like nmap's `-oG`, written at `end`.

use std::io::{self, Write};

use super::{printable, Collector, ScanInfo, ServiceLookup, Summary};
use crate::model::PortState;

/// Hosts with nothing listed still get their line (with only `Ignored State`).
pub(crate) const KEEP_EMPTY: bool = true;

/// Writes one line per host:
/// `Host: <ip> (<PTR name>)\tPorts: <port>/<state>/tcp//<service>///, …\tIgnored State: <state> (<n>)`.
pub(crate) fn render(
    w: &mut dyn Write,
    collector: &mut Collector,
    _info: &ScanInfo,
    _summary: &Summary,
    services: ServiceLookup,
) -> io::Result<()> {
    for (ip, host) in collector.finish() {
        // As nmap: the PTR name between the parentheses (empty without one, as with -n).
        write!(w, "Host: {ip} ({})", host.ptr.as_deref().unwrap_or(""))?;
        if host.down.is_some() {
            w.write_all(b"\tStatus: Down\n")?;
            continue;
        }
        if !host.listed.is_empty() {
            w.write_all(b"\tPorts: ")?;
            for (i, l) in host.listed.iter().enumerate() {
                if i > 0 {
                    w.write_all(b", ")?;
                }
                // port/state/protocol/owner/service/rpc info/version/: the detected version
                // (`--service-version`), else the banner, goes in the version field, with `/`
                // and `,` escaped like any other byte. A service inside TLS is `ssl|http`, as
                // nmap writes it.
                let field = |s: String| printable(&s).replace('/', "\\x2F").replace(',', "\\x2C");
                let version = match (&l.service, &l.banner) {
                    (Some(s), _) => field(s.version_line()),
                    (None, Some(b)) => field(b.escaped_line()),
                    (None, None) => String::new(),
                };
                let name = match &l.service {
                    Some(s) => field(s.display_name().replace("ssl/", "ssl|")),
                    None => services(l.port).unwrap_or("").to_string(),
                };
                write!(w, "{}/{}/tcp//{name}//{version}/", l.port, l.state.as_str(),)?;
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
    Ok(())
}
