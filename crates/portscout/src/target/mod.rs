//! Targets: addresses, CIDR blocks, octet ranges, host names, target files and exclusions.
//!
//! A command line names targets as tokens; [`Target::parse`] reads one, [`parse_list`] reads
//! an exclusion list, [`read_target_file`] reads a target file as a stream (its addresses
//! merged as they come, so memory is O(merged ranges), not O(lines)), and [`resolve`] turns
//! parsed targets into an [`AddrSet`], resolving host names on the way.

use std::io;
use std::path::PathBuf;

mod addr_set;
mod file;
mod parse;
mod resolve;

pub use addr_set::{AddrRange, AddrSet};
pub use file::{read_target_file, read_targets};
pub use parse::parse_list;
pub use resolve::{resolve, resolve_in, resolve_named, Resolved};

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
    /// An IPv6 address with a zone id (`fe80::1%eth0`): zone ids are not supported.
    #[error("invalid target `{0}`: IPv6 zone ids are not supported")]
    ZoneId(String),
    /// A target address in `fe80::/10`: a link-local address means nothing without the zone
    /// id that names its link, and the kernel refuses to connect to one without it (`EINVAL`,
    /// nothing sent). Holds the first such address. Excluding them (`--exclude fe80::/10`) is
    /// fine.
    #[error(
        "invalid target `{0}`: IPv6 link-local addresses (fe80::/10) need a zone id, which is \
         not supported"
    )]
    LinkLocal(String),
    /// An IPv6 address range (`2001:db8::1-2001:db8::ff`, `2001:db8::1-ff`): only IPv4 has
    /// (octet) ranges, as in nmap; an IPv6 block is written in CIDR notation.
    #[error("invalid target `{0}`: IPv6 ranges are not supported (write a CIDR block, such as 2001:db8::/120)")]
    V6Range(String),
    /// A CIDR block whose prefix length is not a number or is too long for its family.
    #[error("invalid CIDR prefix in `{0}`")]
    InvalidPrefix(String),
    /// An nmap-style octet range with a value over 255, a reversed range or a malformed octet.
    #[error("invalid octet range in `{0}`")]
    InvalidOctetRange(String),
    /// An IPv4 target in a scan of IPv6 only (nmap's `-6`). Holds the first such address.
    #[error("invalid target `{0}`: an IPv4 address, and -6 scans IPv6 only")]
    NotIpv6(String),
    /// A host name that did not resolve, or resolved to no address.
    #[error("cannot resolve host name `{name}`: {reason}")]
    Unresolvable {
        /// The host name, as written.
        name: String,
        /// Why, as the resolver put it.
        reason: String,
    },
    /// A bad token in a target file: the token's own error (one of the variants above, which
    /// names the token), and where it is.
    #[error("{error} (line {line} of `{path}`)")]
    InFile {
        /// The file, as given (`-` is standard input).
        path: PathBuf,
        /// The token's line, counting from 1.
        line: u64,
        /// What is wrong with the token.
        #[source]
        error: Box<TargetError>,
    },
    /// A target file that could not be read (`-` is standard input).
    #[error("cannot read target file `{path}`: {source}")]
    ReadFile {
        /// The file, as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}
