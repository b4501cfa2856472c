//! `--dry-run`: the probes a plan would send, one ndjson object per line, in plan order.

use std::io::{self, Write};
use std::net::IpAddr;

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
    let mut line = Vec::with_capacity(64);
    let mut n = 0;
    for probe in plan.iter() {
        line.clear();
        line.extend_from_slice(b"{\"ip\":\"");
        match probe.ip() {
            // By hand: this loop prints billions of lines, and `Display` cost more than the
            // rest of it.
            IpAddr::V4(ip) => {
                for (k, octet) in ip.octets().into_iter().enumerate() {
                    if k > 0 {
                        line.push(b'.');
                    }
                    decimal(&mut line, u32::from(octet));
                }
            }
            IpAddr::V6(ip) => write!(line, "{ip}")?,
        }
        line.extend_from_slice(b"\",\"port\":");
        decimal(&mut line, u32::from(probe.port()));
        line.extend_from_slice(b"}\n");
        out.write_all(&line)?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// Appends `v` in decimal.
fn decimal(out: &mut Vec<u8>, mut v: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals() {
        for v in [0u32, 7, 10, 99, 255, 65_535, u32::MAX] {
            let mut out = Vec::new();
            decimal(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }
}
