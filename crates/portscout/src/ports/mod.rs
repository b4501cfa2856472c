//! Port specifications: `-p 22,80,8000-8100`, `-p-`, `--top-ports N`, `--exclude-ports`.
//! (Interface stub: to be implemented.)

use std::fmt;

/// A set of TCP ports (1–65535), kept as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

/// A port specification that could not be parsed; each variant names the bad token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortSpecError {
    /// Not a number or range.
    #[error("invalid port `{0}`")]
    Invalid(String),
}

impl PortSet {
    /// Parses a specification such as `22,80,443`, `1-1024`, `-` (all), `22,8000-8100`.
    pub fn parse(_spec: &str) -> Result<PortSet, PortSpecError> {
        todo!()
    }
    /// Ports 1–65535.
    pub fn all() -> PortSet {
        PortSet {
            ranges: vec![(1, 65535)],
        }
    }
    /// The `n` most common TCP ports.
    pub fn top(_n: usize) -> Result<PortSet, PortSpecError> {
        todo!()
    }
    /// The ports in `self` and not in `other`.
    pub fn difference(&self, _other: &PortSet) -> PortSet {
        todo!()
    }
    /// Number of ports.
    pub fn len(&self) -> u32 {
        self.ranges.iter().map(|&(a, b)| u32::from(b - a) + 1).sum()
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    /// The `i`-th port in ascending order.
    pub fn nth(&self, _i: u32) -> Option<u16> {
        todo!()
    }
    /// The sorted disjoint ranges.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

/// The conventional service name of a TCP port, where one is well known.
pub fn service_name(_port: u16) -> Option<&'static str> {
    None
}
