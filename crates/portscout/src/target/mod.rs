//! Targets: addresses, CIDR blocks, octet ranges, host names, target files and exclusions.
//! (Interface stub: to be implemented.)

use std::net::IpAddr;
use std::path::Path;

/// An inclusive range of addresses of one family.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AddrRange {
    /// First address.
    pub start: IpAddr,
    /// Last address (same family, not below `start`).
    pub end: IpAddr,
}

/// A set of addresses, kept as sorted, disjoint ranges (IPv4 first, then IPv6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// One parsed target token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Literal addresses: one address, a CIDR block or an octet range.
    Addrs(Vec<AddrRange>),
    /// A host name to resolve.
    Name(String),
}

/// A target that could not be parsed, read or resolved; each variant names the bad token.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not an address, block, range or host name.
    #[error("invalid target `{0}`")]
    Invalid(String),
}

impl Target {
    /// Parses one target token.
    pub fn parse(_token: &str) -> Result<Target, TargetError> {
        todo!()
    }
}

impl AddrSet {
    /// An empty set.
    pub fn new() -> AddrSet {
        AddrSet::default()
    }
    /// Adds a range.
    pub fn insert(&mut self, _range: AddrRange) {
        todo!()
    }
    /// The addresses in `self` and not in `other`.
    pub fn difference(&self, _other: &AddrSet) -> AddrSet {
        todo!()
    }
    /// Number of addresses.
    pub fn len(&self) -> u128 {
        todo!()
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
    /// The `i`-th address (IPv4 ascending, then IPv6 ascending).
    pub fn nth(&self, _i: u128) -> Option<IpAddr> {
        todo!()
    }
    /// Whether `ip` is in the set.
    pub fn contains(&self, _ip: IpAddr) -> bool {
        todo!()
    }
}

/// Splits an exclusion list (`--exclude a,b c`) into targets.
pub fn parse_list(_list: &str) -> Result<Vec<Target>, TargetError> {
    todo!()
}

/// Reads target tokens from a file (`-` for standard input): whitespace-separated, `#` comments.
pub fn read_target_file(_path: &Path) -> Result<Vec<String>, TargetError> {
    todo!()
}

/// Resolves host names (concurrently, through the system resolver) and collects every target.
pub async fn resolve(_targets: &[Target]) -> Result<AddrSet, TargetError> {
    todo!()
}
