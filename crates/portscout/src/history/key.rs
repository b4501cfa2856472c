//! What makes two scans "of the same targets".

use std::fmt;

use std::path::Path;

use crate::ports::PortSet;
use crate::scan::ScanConfig;
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

    /// The key of a validated scan configuration: its targets, exclusions and ports (the
    /// excluded ones taken out), then its target and exclusion files by their absolute paths
    /// (`-iL /abs/hosts.txt`, `--exclude-file /abs/x.txt`; not their contents) and its shard
    /// (`--shard 2/4`) when it is one of several.
    pub fn of(config: &ScanConfig) -> ScanKey {
        let mut key = ScanKey::new(config.targets(), config.exclude(), &config.ports());
        for file in config.target_files() {
            key = key.with(&format!("-iL {}", absolute(file)));
        }
        for file in config.exclude_files() {
            key = key.with(&format!("--exclude-file {}", absolute(file)));
        }
        let shard = config.shard();
        if shard.count > 1 {
            key = key.with(&format!("--shard {shard}"));
        }
        key
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

/// `file` as an absolute path (`-`, standard input, as it is).
fn absolute(file: &Path) -> String {
    if file.as_os_str() == "-" {
        return "-".into();
    }
    std::fs::canonicalize(file)
        .or_else(|_| std::path::absolute(file))
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Shard;

    #[test]
    fn the_key_of_a_config_is_that_of_what_it_scans() {
        let t = |s: &str| Target::parse(s).unwrap();
        let config = ScanConfig::builder()
            .targets([t("127.0.0.2"), t("127.0.0.1")])
            .exclude([t("127.0.0.9")])
            .ports(PortSet::parse("1-100").unwrap())
            .exclude_ports(PortSet::parse("50").unwrap())
            .seed(1)
            .shard(Shard::new(2, 4).unwrap())
            .build()
            .unwrap();
        assert_eq!(
            ScanKey::of(&config).as_str(),
            "127.0.0.1-127.0.0.2 -p 1-49,51-100 --exclude 127.0.0.9 --shard 2/4"
        );
        // The default ports are the library's, written once.
        let config = ScanConfig::builder()
            .targets([t("127.0.0.1")])
            .build()
            .unwrap();
        let top = PortSet::top(crate::ports::DEFAULT_TOP_PORTS).unwrap();
        assert_eq!(
            ScanKey::of(&config),
            ScanKey::new(&[t("127.0.0.1")], &[], &top)
        );
    }
}
