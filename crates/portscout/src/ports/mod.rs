//! Port specifications: `-p 22,80,8000-8100`, `-p-`, `--top-ports N`, `--exclude-ports`.
//!
//! A [`PortSet`] holds TCP ports 1–65535 as sorted, disjoint, non-adjacent inclusive ranges,
//! so its memory is proportional to the number of ranges, never to the number of ports.

use std::fmt;
use std::str::FromStr;

mod services;
mod top;

pub use services::service_name;
pub use top::TOP_PORTS;

/// The lowest TCP port a set can hold.
pub const MIN_PORT: u16 = 1;
/// The highest TCP port a set can hold.
pub const MAX_PORT: u16 = 65535;
/// How many of the most common ports a scan probes when no ports are given.
pub const DEFAULT_TOP_PORTS: usize = 1000;

/// A set of TCP ports (1–65535), kept as sorted, disjoint, non-adjacent inclusive ranges.
///
/// Equality compares the sets of ports: two sets are equal exactly when they hold the same
/// ports, however they were built.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PortSet {
    /// Sorted, disjoint, non-adjacent inclusive ranges, each within 1..=65535.
    ranges: Vec<(u16, u16)>,
    /// `before[k]` is the number of ports in `ranges[..k]` (same length as `ranges`).
    before: Vec<u32>,
}

/// A port specification that could not be parsed; each variant names the bad token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortSpecError {
    /// The specification, or one of its comma-separated items, is empty. Holds the whole
    /// (trimmed) specification.
    #[error("{}", empty_message(.0))]
    Empty(String),
    /// Not a number or range (`abc`, `1.5`, `+3`, `0x10`, `1-2-3`).
    #[error("invalid port `{0}`")]
    Invalid(String),
    /// A port number outside 1–65535 (`0`, `70000`). Holds the number as written.
    #[error("port `{0}` is out of range (1-65535)")]
    OutOfRange(String),
    /// A range whose start is above its end (`10-5`). Holds the whole range.
    #[error("port range `{0}` is reversed")]
    Reversed(String),
    /// `--top-ports` asked for no ports, or for more than the ranked list holds.
    #[error("top ports count `{n}` is out of range (1-{max})")]
    TopPortsRange {
        /// The count asked for.
        n: usize,
        /// The largest count allowed (`TOP_PORTS.len()`).
        max: usize,
    },
}

/// The message of [`PortSpecError::Empty`].
fn empty_message(spec: &str) -> String {
    if spec.is_empty() {
        "empty port list".to_string()
    } else {
        format!("empty item in port list `{spec}`")
    }
}

/// Parses one port number as the user wrote it (`token` is already trimmed).
fn parse_port(token: &str) -> Result<u16, PortSpecError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortSpecError::Invalid(token.to_string()));
    }
    // Saturate instead of overflowing: any value above 65535 is out of range anyway.
    let value = token.bytes().fold(0u32, |acc, b| {
        (acc * 10 + u32::from(b - b'0')).min(u32::from(MAX_PORT) + 1)
    });
    match u16::try_from(value) {
        Ok(port) if port >= MIN_PORT => Ok(port),
        _ => Err(PortSpecError::OutOfRange(token.to_string())),
    }
}

/// Parses one item (`N`, `A-B`, `A-`, `-B` or `-`); `item` is already trimmed and non-empty.
fn parse_item(item: &str) -> Result<(u16, u16), PortSpecError> {
    let Some((lo, hi)) = item.split_once('-') else {
        let port = parse_port(item)?;
        return Ok((port, port));
    };
    if hi.contains('-') {
        return Err(PortSpecError::Invalid(item.to_string()));
    }
    let (lo, hi) = (lo.trim(), hi.trim());
    let lo = if lo.is_empty() {
        MIN_PORT
    } else {
        parse_port(lo)?
    };
    let hi = if hi.is_empty() {
        MAX_PORT
    } else {
        parse_port(hi)?
    };
    if lo > hi {
        return Err(PortSpecError::Reversed(item.to_string()));
    }
    Ok((lo, hi))
}

impl PortSet {
    /// Builds a set from arbitrary inclusive ranges: sorts them, merges overlapping and
    /// adjacent ones, and drops port 0 and empty (reversed) ranges.
    fn from_ranges(mut raw: Vec<(u16, u16)>) -> PortSet {
        raw.retain(|&(a, b)| a <= b && b >= MIN_PORT);
        for r in &mut raw {
            r.0 = r.0.max(MIN_PORT);
        }
        raw.sort_unstable();
        let mut ranges: Vec<(u16, u16)> = Vec::with_capacity(raw.len());
        for (a, b) in raw {
            match ranges.last_mut() {
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => ranges.push((a, b)),
            }
        }
        ranges.shrink_to_fit();
        let mut before = Vec::with_capacity(ranges.len());
        let mut count = 0u32;
        for &(a, b) in &ranges {
            before.push(count);
            count += u32::from(b - a) + 1;
        }
        PortSet { ranges, before }
    }

    /// Parses a specification such as `22,80,443`, `1-1024`, `-` (all), `22,8000-8100`.
    ///
    /// Items are separated by commas; whitespace around items is ignored. An item is a port
    /// `N`, a range `A-B`, an open range `A-` (A to 65535) or `-B` (1 to B), or a lone `-`
    /// (every port). Overlapping and repeated items merge.
    ///
    /// ```
    /// use portscout::ports::PortSet;
    /// let set = PortSet::parse("443, 22, 8000-8100, 80-80, 8050-").unwrap();
    /// assert_eq!(set.to_string(), "22,80,443,8000-65535");
    /// assert_eq!(PortSet::parse("-").unwrap(), PortSet::all());
    /// ```
    pub fn parse(spec: &str) -> Result<PortSet, PortSpecError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(PortSpecError::Empty(String::new()));
        }
        let mut raw = Vec::new();
        for item in spec.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(PortSpecError::Empty(spec.to_string()));
            }
            raw.push(parse_item(item)?);
        }
        Ok(PortSet::from_ranges(raw))
    }

    /// Ports 1–65535.
    pub fn all() -> PortSet {
        PortSet::from_ranges(vec![(MIN_PORT, MAX_PORT)])
    }

    /// The empty set.
    pub fn empty() -> PortSet {
        PortSet::default()
    }

    /// The `n` most common TCP ports: the first `n` entries of [`TOP_PORTS`].
    ///
    /// `n` must be between 1 and `TOP_PORTS.len()`, otherwise
    /// [`PortSpecError::TopPortsRange`] is returned.
    pub fn top(n: usize) -> Result<PortSet, PortSpecError> {
        if n == 0 || n > TOP_PORTS.len() {
            return Err(PortSpecError::TopPortsRange {
                n,
                max: TOP_PORTS.len(),
            });
        }
        Ok(TOP_PORTS[..n].iter().copied().collect())
    }

    /// The ports in `self` and not in `other`.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(a, b) in &self.ranges {
            // Skip the ranges of `other` that end before this one starts.
            while j < other.ranges.len() && other.ranges[j].1 < a {
                j += 1;
            }
            let mut start = u32::from(a);
            let end = u32::from(b);
            let mut k = j;
            while start <= end && k < other.ranges.len() && u32::from(other.ranges[k].0) <= end {
                let (oa, ob) = (u32::from(other.ranges[k].0), u32::from(other.ranges[k].1));
                if oa > start {
                    out.push((start as u16, (oa - 1) as u16));
                }
                start = start.max(ob + 1);
                k += 1;
            }
            if start <= end {
                out.push((start as u16, end as u16));
            }
        }
        PortSet::from_ranges(out)
    }

    /// The ports in `self`, in `other`, or in both.
    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut raw = Vec::with_capacity(self.ranges.len() + other.ranges.len());
        raw.extend_from_slice(&self.ranges);
        raw.extend_from_slice(&other.ranges);
        PortSet::from_ranges(raw)
    }

    /// The ports in both `self` and `other`.
    pub fn intersection(&self, other: &PortSet) -> PortSet {
        self.difference(&self.difference(other))
    }

    /// Number of ports.
    pub fn len(&self) -> u32 {
        match (self.before.last(), self.ranges.last()) {
            (Some(&before), Some(&(a, b))) => before + u32::from(b - a) + 1,
            _ => 0,
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The `i`-th port in ascending order (from 0), or `None` when `i >= self.len()`.
    ///
    /// Takes O(log r) time for r ranges.
    pub fn nth(&self, i: u32) -> Option<u16> {
        // The last range starting at or before `i`.
        let k = self.before.partition_point(|&b| b <= i).checked_sub(1)?;
        let (a, b) = self.ranges[k];
        let offset = i - self.before[k];
        if offset <= u32::from(b - a) {
            // offset <= b - a, so a + offset <= b fits in a u16.
            Some(a + offset as u16)
        } else {
            None
        }
    }

    /// Whether `port` is in the set. Takes O(log r) time for r ranges.
    pub fn contains(&self, port: u16) -> bool {
        let k = self.ranges.partition_point(|&(a, _)| a <= port);
        k > 0 && self.ranges[k - 1].1 >= port
    }

    /// The ports in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| a..=b)
    }

    /// The sorted, disjoint, non-adjacent inclusive ranges.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }
}

impl FromIterator<u16> for PortSet {
    /// Collects ports into a set; port 0, which is not a TCP port, is ignored.
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> PortSet {
        PortSet::from_ranges(iter.into_iter().map(|p| (p, p)).collect())
    }
}

impl FromStr for PortSet {
    type Err = PortSpecError;

    /// Same as [`PortSet::parse`].
    fn from_str(s: &str) -> Result<PortSet, PortSpecError> {
        PortSet::parse(s)
    }
}

impl fmt::Display for PortSet {
    /// The canonical specification: ascending items, single ports as `N`, runs as `A-B`
    /// (`22,80,8000-8100`; every port is `1-65535`). Parsing it gives back the same set.
    /// The empty set displays as the empty string, which does not parse.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
