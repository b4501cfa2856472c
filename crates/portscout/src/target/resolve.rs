//! Resolving targets into an [`AddrSet`].

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;

use tokio::task::JoinHandle;

use super::{AddrSet, Target, TargetError};

/// The address a host name stands for: its first IPv4 address, else its first IPv6 one; with
/// `ipv6_only`, its first IPv6 address.
fn pick(addrs: impl Iterator<Item = IpAddr>, ipv6_only: bool) -> Option<IpAddr> {
    let mut first_v6 = None;
    for a in addrs {
        if ipv6_only && a.is_ipv4() {
            continue;
        }
        if a.is_ipv4() {
            return Some(a);
        }
        first_v6 = first_v6.or(Some(a));
    }
    first_v6
}

/// Resolves host names (concurrently, through the system resolver) and collects every target.
///
/// Literal ranges are collected as they are. Every distinct [`Target::Name`] is resolved in
/// its own task with [`tokio::net::lookup_host`], all at once; so this must be awaited inside a
/// Tokio runtime (any flavor), which the caller provides. Of the addresses a name resolves to,
/// only one is scanned, as nmap does: the first IPv4 address, or if there is none the first
/// IPv6 address.
///
/// A name that does not resolve, or resolves to no address, is
/// [`TargetError::Unresolvable`]; when several fail, the error names the first of them in the
/// order of `targets`.
pub async fn resolve(targets: &[Target]) -> Result<AddrSet, TargetError> {
    resolve_in(targets, false).await
}

/// [`resolve`], where with `ipv6_only` (nmap's `-6`) a host name stands for its first IPv6
/// address, and one that has none is [`TargetError::Unresolvable`]. Literal addresses are
/// collected as they are, IPv4 ones too: [`crate::scan::ScanConfig::probe_space`] refuses
/// those.
pub async fn resolve_in(targets: &[Target], ipv6_only: bool) -> Result<AddrSet, TargetError> {
    Ok(resolve_named(targets, ipv6_only).await?.0)
}

/// One host name and what it resolved to ([`resolve_named`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The name, as written.
    pub name: String,
    /// The address scanned (chosen as [`resolve`] says).
    pub addr: IpAddr,
    /// Every other address the name resolved to, in the resolver's order, without repeats:
    /// not scanned.
    pub others: Vec<IpAddr>,
}

/// [`resolve_in`], which also says what each distinct name resolved to, in the order the
/// names are first given.
pub async fn resolve_named(
    targets: &[Target],
    ipv6_only: bool,
) -> Result<(AddrSet, Vec<Resolved>), TargetError> {
    let mut set = AddrSet::new();
    set.extend(targets.iter().flat_map(|t| match t {
        Target::Addrs(ranges) => ranges.as_slice(),
        Target::Name(_) => &[],
    }));

    let mut seen = HashSet::new();
    let mut lookups: Vec<(String, JoinHandle<io::Result<Vec<IpAddr>>>)> = Vec::new();
    for t in targets {
        if let Target::Name(name) = t {
            if seen.insert(name.as_str()) {
                let query = name.clone();
                let handle = tokio::spawn(async move {
                    let mut addrs = Vec::new();
                    for sa in tokio::net::lookup_host((query.as_str(), 0)).await? {
                        if !addrs.contains(&sa.ip()) {
                            addrs.push(sa.ip());
                        }
                    }
                    Ok(addrs)
                });
                lookups.push((name.clone(), handle));
            }
        }
    }

    let mut names = Vec::new();
    let mut lookups = lookups.into_iter();
    while let Some((name, handle)) = lookups.next() {
        let reason = match handle.await {
            Ok(Ok(addrs)) => match pick(addrs.iter().copied(), ipv6_only) {
                Some(ip) => {
                    set.insert(super::AddrRange::single(ip));
                    let others = addrs.into_iter().filter(|a| *a != ip).collect();
                    names.push(Resolved {
                        name,
                        addr: ip,
                        others,
                    });
                    continue;
                }
                None if ipv6_only => "no IPv6 address found (-6 scans IPv6 only)".to_string(),
                None => "no address found".to_string(),
            },
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("resolver task failed: {e}"),
        };
        for (_, rest) in lookups {
            rest.abort();
        }
        return Err(TargetError::Unresolvable { name, reason });
    }
    Ok((set, names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::AddrRange;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn picks_ipv4_first() {
        let addrs = [ip("::1"), ip("10.0.0.2"), ip("10.0.0.1")];
        assert_eq!(pick(addrs.into_iter(), false), Some(ip("10.0.0.2")));
        assert_eq!(pick(addrs.into_iter(), true), Some(ip("::1")));
        assert_eq!(
            pick([ip("::2"), ip("::1")].into_iter(), false),
            Some(ip("::2"))
        );
        assert_eq!(pick([ip("10.0.0.1")].into_iter(), true), None);
        assert_eq!(pick(std::iter::empty(), false), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resolves_literals_and_localhost() {
        let targets = [
            Target::parse("198.18.0.0/30").unwrap(),
            Target::parse("localhost").unwrap(),
            Target::parse("2001:db8::1").unwrap(),
            Target::parse("localhost").unwrap(),
        ];
        let set = resolve(&targets).await.unwrap();
        let want: AddrSet = [
            AddrRange::from_v4(0xc612_0000, 0xc612_0003),
            AddrRange::single(ip("127.0.0.1")),
            AddrRange::single(ip("2001:db8::1")),
        ]
        .into_iter()
        .collect();
        assert_eq!(set, want);
        assert!(resolve(&[]).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unresolvable_names_are_errors() {
        let targets = [
            Target::parse("127.0.0.1").unwrap(),
            Target::parse("localhost").unwrap(),
            Target::parse("nosuch.invalid").unwrap(),
            Target::parse("other.invalid").unwrap(),
        ];
        let e = resolve(&targets).await.unwrap_err();
        assert!(
            matches!(&e, TargetError::Unresolvable { name, .. } if name == "nosuch.invalid"),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("cannot resolve host name `nosuch.invalid`: "),
            "{msg}"
        );
    }
}
