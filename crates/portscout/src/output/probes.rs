//! `--dry-run`: the probes a plan would send, one ndjson object per line, in plan order.

use std::io::{self, Write};

use crate::plan::Plan;

/// Writes `{"ip":"…","port":N}` for every probe of `plan`, in the order the plan hands them
/// out, and returns how many. Sends nothing and opens no socket.
///
/// ```
/// use std::sync::Arc;
/// use portscout::plan::{Order, Plan, Shard};
/// use portscout::ports::PortSet;
/// use portscout::space::ProbeSpace;
/// use portscout::target::{AddrRange, AddrSet};
///
/// let addrs: AddrSet = [AddrRange::single("198.18.0.1".parse().unwrap())].into_iter().collect();
/// let space = ProbeSpace::new(addrs, PortSet::parse("22,80")?)?;
/// let plan = Plan::new(Arc::new(space), Order::Serial, 0, Shard::WHOLE);
/// let mut out = Vec::new();
/// assert_eq!(portscout::output::write_probes(&plan, &mut out)?, 2);
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "{\"ip\":\"198.18.0.1\",\"port\":22}\n{\"ip\":\"198.18.0.1\",\"port\":80}\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_probes(plan: &Plan, out: &mut dyn Write) -> io::Result<u64> {
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    let mut n = 0;
    for probe in plan.iter() {
        writeln!(
            out,
            "{{\"ip\":\"{}\",\"port\":{}}}",
            probe.ip(),
            probe.port()
        )?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}
