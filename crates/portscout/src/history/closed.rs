//! Closed ports, kept compactly (schema version 3): a list of port numbers per host in the
//! `closed` table while a scan records, one row per host once its ports are all accounted
//! for. See `schema::V3` and `docs/history.md`.

use std::collections::VecDeque;
use std::net::IpAddr;

use rusqlite::Connection;

use super::diff::Row;
use crate::model::{PortState, Reason};
use crate::ports::PortSet;

/// Ascending ports as LEB128 differences (the first from 0): 1 byte for a gap below 128, 2
/// below 16 384, 3 above.
pub(crate) fn encode(ports: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ports.len() * 2);
    let mut last = 0u32;
    for &p in ports {
        let mut d = u32::from(p) - last;
        last = u32::from(p);
        loop {
            let byte = (d & 0x7f) as u8;
            d >>= 7;
            if d == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// The ports of [`encode`]; `None` if the bytes are not such a list.
pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<u16>> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut last, mut d, mut shift) = (0u32, 0u32, 0u32);
    for &b in bytes {
        if shift > 14 {
            return None;
        }
        d |= u32::from(b & 0x7f) << shift;
        if b & 0x80 != 0 {
            shift += 7;
            continue;
        }
        last += d;
        out.push(u16::try_from(last).ok()?);
        (d, shift) = (0, 0);
    }
    (shift == 0).then_some(out)
}

/// Replaces the `closed` lists of every host of scan `id` whose closed ports and `results`
/// rows together make `port_set` (its `ports_per_host`) by one row with `ports` NULL: its
/// closed ports are then `port_set` without its rows. Hosts with closed ports of two
/// reasons, and hosts not fully scanned (a shard's, a scan stopped early) keep their lists.
pub(crate) fn compact(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO closed (scan_id, ip, reason, count, ports) \
         SELECT ?1, c.ip, c.reason, c.n, NULL FROM \
           (SELECT ip, min(reason) AS reason, max(reason) AS other, sum(count) AS n \
            FROM closed WHERE scan_id = ?1 AND ports IS NOT NULL GROUP BY ip) AS c \
           LEFT JOIN (SELECT ip, count(*) AS n FROM results WHERE scan_id = ?1 GROUP BY ip) \
             AS r ON r.ip = c.ip \
         WHERE c.reason = c.other \
           AND c.n + coalesce(r.n, 0) = \
             (SELECT ports_per_host FROM scans WHERE id = ?1 AND port_set IS NOT NULL) \
           AND NOT EXISTS (SELECT 1 FROM closed AS x \
                           WHERE x.scan_id = ?1 AND x.ip = c.ip AND x.ports IS NULL)",
        [id],
    )?;
    conn.execute(
        "DELETE FROM closed WHERE scan_id = ?1 AND ports IS NOT NULL \
         AND ip IN (SELECT ip FROM closed WHERE scan_id = ?1 AND ports IS NULL)",
        [id],
    )?;
    Ok(())
}

/// One row of `closed`, read back.
pub(crate) struct ClosedRow {
    pub(crate) key: String,
    pub(crate) ip: IpAddr,
    pub(crate) reason: Reason,
    /// `None`: every port of the scan's port set without a `results` row.
    pub(crate) ports: Option<Vec<u16>>,
}

/// The closed ports `rows` (one host's) stand for, ascending, with their reason, given the
/// host's ports that have a `results` row (ascending) and the scan's port set.
pub(crate) fn expand(
    rows: &[ClosedRow],
    explicit: &[u16],
    port_set: Option<&PortSet>,
) -> Vec<(u16, Reason)> {
    let mut out = Vec::new();
    for row in rows {
        match (&row.ports, port_set) {
            (Some(ports), _) => out.extend(ports.iter().map(|&p| (p, row.reason))),
            (None, Some(set)) => out.extend(
                set.iter()
                    .filter(|p| explicit.binary_search(p).is_err())
                    .map(|p| (p, row.reason)),
            ),
            // A compact row without the port set cannot be: nothing to add.
            (None, None) => {}
        }
    }
    out.sort_by_key(|&(p, _)| p);
    out
}

/// A scan's rows in (address as text, port) order: its `results` rows (`explicit`, in that
/// order) and the closed ports of its `closed` rows (`closed`, by address as text), merged
/// host by host. Holds one host's rows at a time.
pub(crate) fn merged<E>(
    explicit: impl Iterator<Item = Result<Row, E>>,
    closed: impl Iterator<Item = Result<ClosedRow, E>>,
    port_set: Option<PortSet>,
) -> impl Iterator<Item = Result<Row, E>> {
    let mut explicit = explicit.peekable();
    let mut closed = closed.peekable();
    let mut ready: VecDeque<Row> = VecDeque::new();
    std::iter::from_fn(move || loop {
        if let Some(row) = ready.pop_front() {
            return Some(Ok(row));
        }
        // The next host: the smaller of the two streams' next addresses.
        let next_explicit = match explicit.peek() {
            Some(Err(_)) => return explicit.next(),
            Some(Ok(r)) => Some(r.key.clone()),
            None => None,
        };
        let next_closed = match closed.peek() {
            Some(Err(_)) => match closed.next() {
                Some(Err(e)) => return Some(Err(e)),
                _ => return None,
            },
            Some(Ok(c)) => Some(c.key.clone()),
            None => None,
        };
        let host = match (next_explicit, next_closed) {
            (None, None) => return None,
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (Some(a), Some(b)) => a.min(b),
        };
        let mut rows = Vec::new();
        while let Some(Ok(r)) = explicit.peek() {
            if r.key != host {
                break;
            }
            match explicit.next() {
                Some(Ok(r)) => rows.push(r),
                other => return other,
            }
        }
        let mut lists = Vec::new();
        while let Some(Ok(c)) = closed.peek() {
            if c.key != host {
                break;
            }
            match closed.next() {
                Some(Ok(c)) => lists.push(c),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        if lists.is_empty() {
            ready.extend(rows);
            continue;
        }
        let ports: Vec<u16> = rows.iter().map(|r| r.port).collect();
        let ip = lists[0].ip;
        let mut shut = expand(&lists, &ports, port_set.as_ref())
            .into_iter()
            .map(|(port, reason)| Row {
                key: host.clone(),
                ip,
                port,
                state: PortState::Closed,
                reason,
                service: None,
            })
            .peekable();
        // Both ascending by port: merge (a closed port before a row of the same port, which
        // then counts, as the later row does).
        let mut rows = rows.into_iter().peekable();
        loop {
            let take_closed = match (shut.peek(), rows.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(c), Some(r)) => c.port <= r.port,
            };
            let row = if take_closed {
                shut.next()
            } else {
                rows.next()
            };
            ready.extend(row);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_round_trip_through_their_encoding() {
        let cases: [&[u16]; 5] = [
            &[],
            &[1],
            &[1, 2, 3],
            &[127, 128, 16_511, 16_512],
            &[65_535],
        ];
        for ports in cases {
            assert_eq!(decode(&encode(ports)).as_deref(), Some(ports));
        }
        let all: Vec<u16> = (1..=65_535).collect();
        let bytes = encode(&all);
        assert_eq!(bytes.len(), 65_535, "one byte a port for consecutive ports");
        assert_eq!(decode(&bytes), Some(all));
        assert_eq!(decode(&[0x80]), None, "cut in a number");
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0x7f]), None, "too long");
    }
}
