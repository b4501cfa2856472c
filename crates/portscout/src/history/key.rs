//! What makes two scans "of the same targets".

use std::fmt;

use crate::ports::PortSet;
use crate::target::{AddrSet, Target};

/// The key under which scans are compared: targets and ports, normalized, as text.
///
/// Literal addresses are merged into ranges (`127.0.0.1 127.0.0.2` and `127.0.0.1-2` give
/// `127.0.0.1-127.0.0.2`; a CIDR block is its range), host names are lowercased; both are
/// sorted and deduplicated. The ports are the set scanned (`-p-` and `-p 1-65535` are the
/// same; `--exclude-ports` already taken out by the caller), exclusions are normalized the
/// same way. [`ScanKey::with`] appends what else restricts the scan (`-iL FILE` by its path,
/// `--shard I/N`). Order of the command line, duplicates, spelling of a block: none matter.
///
/// ```
/// use portscout::history::ScanKey;
/// use portscout::ports::PortSet;
/// use portscout::target::Target;
///
/// let t = |s: &str| Target::parse(s).unwrap();
/// let a = ScanKey::new(&[t("198.18.0.0/31"), t("Example.COM")], &[], &PortSet::parse("1-65535")?);
/// let b = ScanKey::new(&[t("example.com"), t("198.18.0.1"), t("198.18.0.0")], &[], &PortSet::all());
/// assert_eq!(a, b);
/// assert_eq!(a.as_str(), "198.18.0.0-198.18.0.1 example.com -p 1-65535");
/// # Ok::<(), portscout::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScanKey(String);

impl ScanKey {
    /// The key of a scan of `targets` minus `exclude`, on `ports`.
    pub fn new(targets: &[Target], exclude: &[Target], ports: &PortSet) -> ScanKey {
        let mut key = normalized(targets);
        key.push_str(" -p ");
        key.push_str(&ports.to_string());
        if !exclude.is_empty() {
            key.push_str(" --exclude ");
            key.push_str(&normalized(exclude));
        }
        ScanKey(key)
    }

    /// This key with `part` appended (after a space): `-iL /abs/path/hosts.txt`,
    /// `--shard 1/4`.
    pub fn with(mut self, part: &str) -> ScanKey {
        self.0.push(' ');
        self.0.push_str(part);
        self
    }

    /// The key as text (what the history stores).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScanKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Literal addresses merged into ranges, then names, space-separated.
fn normalized(targets: &[Target]) -> String {
    let mut addrs = AddrSet::new();
    let mut names = Vec::new();
    for t in targets {
        match t {
            Target::Addrs(ranges) => addrs.extend(ranges.iter()),
            Target::Name(name) => names.push(name.to_ascii_lowercase()),
        }
    }
    names.sort();
    names.dedup();
    let mut parts: Vec<String> = addrs.ranges().map(|r| r.to_string()).collect();
    parts.extend(names);
    parts.join(" ")
}
