//! Parsing target tokens.

use std::net::Ipv6Addr;
use std::str::FromStr;

use super::{AddrRange, Target, TargetError};

impl Target {
    /// Parses one target token.
    ///
    /// Accepted forms:
    ///
    /// * an IPv4 address, `198.18.0.1` (octets in decimal, without leading zeros, which
    ///   `inet_aton` would read as octal);
    /// * an IPv6 address, `2001:db8::1`, optionally in brackets, `[2001:db8::1]`. Zone ids
    ///   (`fe80::1%eth0`) are rejected ([`TargetError::ZoneId`]);
    /// * a CIDR block, `198.18.0.0/24`, `2001:db8::/120` (or `[2001:db8::]/120`). As in nmap,
    ///   host bits may be set: `198.18.0.5/24` is the whole `198.18.0.0/24`. IPv6 has no
    ///   ranges ([`TargetError::V6Range`]);
    /// * an nmap-style IPv4 octet range: four octets, each `N`, `A-B` or `*` (`0-255`), as in
    ///   `198.18.8.10-39`, `198.18.1-3.1-254` or `198.18.*.1`. Such a product of ranges is not
    ///   contiguous: it gives one [`AddrRange`] per combination of the first three octets
    ///   (adjacent ones merged), so memory is O(that product) — up to 2^24 ranges for
    ///   `*.*.*.1`;
    /// * a host name per RFC 1123 (letters, digits and hyphens in labels of 1 to 63
    ///   characters that neither start nor end with a hyphen, at most 253 characters, with an
    ///   optional trailing dot), which [`super::resolve`] resolves.
    ///
    /// A token made only of digits, dots, `-`, `*` and `/`, or any token containing `/`, is
    /// always an IPv4 form (never a host name), and a token containing `:` is always an IPv6
    /// form: if it is not a valid one, it is an error. Every error names the token as written.
    pub fn parse(token: &str) -> Result<Target, TargetError> {
        if token.contains(':') || token.starts_with('[') {
            parse_v6(token)
        } else if token.contains('/')
            || (!token.is_empty()
                && token
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'*')))
        {
            parse_v4(token)
        } else if is_host_name(token) {
            Ok(Target::Name(token.to_string()))
        } else {
            Err(TargetError::Invalid(token.to_string()))
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;

    /// Same as [`Target::parse`].
    fn from_str(s: &str) -> Result<Target, TargetError> {
        Target::parse(s)
    }
}

/// Splits an exclusion list (`--exclude a,b c`) into targets.
///
/// Tokens are separated by commas and whitespace; empty tokens are skipped, so an empty list
/// gives no targets. The first invalid token is the error.
pub fn parse_list(list: &str) -> Result<Vec<Target>, TargetError> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(Target::parse)
        .collect()
}

/// A CIDR prefix length: decimal digits, at most `max`.
fn parse_prefix(s: &str, max: u32, token: &str) -> Result<u32, TargetError> {
    let bad = || TargetError::InvalidPrefix(token.to_string());
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let p: u32 = s.parse().map_err(|_| bad())?;
    if p > max {
        return Err(bad());
    }
    Ok(p)
}

fn parse_v6(token: &str) -> Result<Target, TargetError> {
    let invalid = || TargetError::Invalid(token.to_string());
    if token.contains('%') {
        return Err(TargetError::ZoneId(token.to_string()));
    }
    if token.contains('-') {
        return Err(TargetError::V6Range(token.to_string()));
    }
    let (addr, prefix) = match token.strip_prefix('[') {
        Some(rest) => {
            let (addr, after) = rest.split_once(']').ok_or_else(invalid)?;
            match after {
                "" => (addr, None),
                _ => (addr, Some(after.strip_prefix('/').ok_or_else(invalid)?)),
            }
        }
        None => match token.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (token, None),
        },
    };
    let addr: Ipv6Addr = addr.parse().map_err(|_| invalid())?;
    let a = u128::from(addr);
    let range = match prefix {
        None => AddrRange::from_v6(a, a),
        Some(p) => {
            let p = parse_prefix(p, 128, token)?;
            let host = u128::MAX.checked_shr(p).unwrap_or(0);
            AddrRange::from_v6(a & !host, a | host)
        }
    };
    Ok(Target::Addrs(vec![range]))
}

/// One decimal octet, `0` to `255`, without leading zeros.
fn octet(s: &str) -> Option<u8> {
    let ok = !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// One octet of an nmap-style range: `N`, `A-B` (with `A <= B`) or `*`.
fn octet_range(s: &str) -> Option<(u8, u8)> {
    if s == "*" {
        return Some((0, 255));
    }
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (octet(a)?, octet(b)?),
        None => {
            let a = octet(s)?;
            (a, a)
        }
    };
    (a <= b).then_some((a, b))
}

fn parse_v4(token: &str) -> Result<Target, TargetError> {
    let invalid = || TargetError::Invalid(token.to_string());
    if let Some((addr, prefix)) = token.split_once('/') {
        let a = plain_v4(addr).ok_or_else(invalid)?;
        let p = parse_prefix(prefix, 32, token)?;
        let host = u32::MAX.checked_shr(p).unwrap_or(0);
        return Ok(Target::Addrs(vec![AddrRange::from_v4(a & !host, a | host)]));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 4 {
        return Err(invalid());
    }
    if !token.contains(['-', '*']) {
        let a = plain_v4(token).ok_or_else(invalid)?;
        return Ok(Target::Addrs(vec![AddrRange::from_v4(a, a)]));
    }
    let bad_range = || TargetError::InvalidOctetRange(token.to_string());
    let mut o = [(0u8, 0u8); 4];
    for (slot, part) in o.iter_mut().zip(&parts) {
        *slot = octet_range(part).ok_or_else(bad_range)?;
    }
    let mut ranges: Vec<AddrRange> = Vec::new();
    let mut last: Option<(u32, u32)> = None;
    for a in o[0].0..=o[0].1 {
        for b in o[1].0..=o[1].1 {
            for c in o[2].0..=o[2].1 {
                let base = u32::from_be_bytes([a, b, c, 0]);
                let (s, e) = (base | u32::from(o[3].0), base | u32::from(o[3].1));
                last = match last {
                    // Ascending generation: merge with the previous range when adjacent.
                    Some((ps, pe)) if pe.checked_add(1) == Some(s) => Some((ps, e)),
                    Some((ps, pe)) => {
                        ranges.push(AddrRange::from_v4(ps, pe));
                        Some((s, e))
                    }
                    None => Some((s, e)),
                };
            }
        }
    }
    if let Some((s, e)) = last {
        ranges.push(AddrRange::from_v4(s, e));
    }
    Ok(Target::Addrs(ranges))
}

/// A dotted-quad IPv4 address (exactly four decimal octets without leading zeros).
fn plain_v4(s: &str) -> Option<u32> {
    let mut n = 0u32;
    let mut count = 0;
    for part in s.split('.') {
        count += 1;
        if count > 4 {
            return None;
        }
        n = (n << 8) | u32::from(octet(part)?);
    }
    (count == 4).then_some(n)
}

/// Whether `s` is a host name per RFC 1123 (see [`Target::parse`]).
fn is_host_name(s: &str) -> bool {
    let name = s.strip_suffix('.').unwrap_or(s);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::super::AddrSet;
    use super::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr};

    /// The target holding the single address `ip`.
    fn single(ip: IpAddr) -> Target {
        Target::Addrs(vec![AddrRange::single(ip)])
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn set(t: &Target) -> AddrSet {
        match t {
            Target::Addrs(r) => r.iter().copied().collect(),
            Target::Name(n) => panic!("unexpected name {n}"),
        }
    }

    fn err(token: &str) -> TargetError {
        match Target::parse(token) {
            Err(e) => {
                assert!(
                    e.to_string().contains(&format!("`{token}`")),
                    "{e} should name `{token}`"
                );
                e
            }
            Ok(t) => panic!("`{token}` parsed as {t:?}"),
        }
    }

    #[test]
    fn single_addresses() {
        assert_eq!(
            Target::parse("198.18.0.1").unwrap(),
            single(ip("198.18.0.1"))
        );
        assert_eq!(Target::parse("0.0.0.0").unwrap(), single(ip("0.0.0.0")));
        assert_eq!(
            Target::parse("2001:db8::1").unwrap(),
            single(ip("2001:db8::1"))
        );
        assert_eq!(
            Target::parse("[2001:db8::1]").unwrap(),
            single(ip("2001:db8::1"))
        );
        assert_eq!(
            Target::parse("::ffff:1.2.3.4").unwrap(),
            single(ip("::ffff:1.2.3.4"))
        );
        assert_eq!("::1".parse::<Target>().unwrap(), single(ip("::1")));
    }

    #[test]
    fn cidr_blocks() {
        let t = Target::parse("198.18.0.0/24").unwrap();
        assert_eq!(
            t,
            Target::Addrs(vec![AddrRange {
                start: ip("198.18.0.0"),
                end: ip("198.18.0.255")
            }])
        );
        // Host bits set: the whole block, as nmap.
        assert_eq!(Target::parse("198.18.0.5/24").unwrap(), t);
        assert_eq!(set(&Target::parse("0.0.0.0/0").unwrap()).len(), 1 << 32);
        assert_eq!(
            Target::parse("198.18.0.7/32").unwrap(),
            single(ip("198.18.0.7"))
        );
        let t6 = Target::parse("2001:db8::/120").unwrap();
        assert_eq!(
            t6,
            Target::Addrs(vec![AddrRange {
                start: ip("2001:db8::"),
                end: ip("2001:db8::ff")
            }])
        );
        assert_eq!(Target::parse("[2001:db8::]/120").unwrap(), t6);
        assert_eq!(Target::parse("2001:db8::42/120").unwrap(), t6);
        assert_eq!(set(&Target::parse("::/0").unwrap()).len(), u128::MAX);
        assert_eq!(Target::parse("::1/128").unwrap(), single(ip("::1")));
    }

    #[test]
    fn octet_ranges() {
        let t = Target::parse("198.18.8.10-39").unwrap();
        assert_eq!(
            t,
            Target::Addrs(vec![AddrRange {
                start: ip("198.18.8.10"),
                end: ip("198.18.8.39")
            }])
        );
        let t = Target::parse("198.18.1-3.1-254").unwrap();
        let Target::Addrs(r) = &t else {
            panic!("{t:?}")
        };
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].start, ip("198.18.3.1"));
        assert_eq!(r[2].end, ip("198.18.3.254"));
        let s = set(&t);
        assert_eq!(s.len(), 3 * 254);
        assert!(!s.contains(ip("198.18.2.0")));
        assert!(s.contains(ip("198.18.2.254")));

        let s = set(&Target::parse("198.18.*.1").unwrap());
        assert_eq!(s.len(), 256);
        assert_eq!(s.range_count(), 256);
        assert_eq!(s.nth(255), Some(ip("198.18.255.1")));

        // One range per combination of the first three octets.
        let s = set(&Target::parse("10.*.*.1-2").unwrap());
        assert_eq!(s.range_count(), 1 << 16);
        assert_eq!(s.len(), 2 << 16);
        assert_eq!(s.nth((2 << 16) - 1), Some(ip("10.255.255.2")));

        // Adjacent combinations merge.
        let t = Target::parse("198.18.*.*").unwrap();
        assert_eq!(t, Target::parse("198.18.0.0/16").unwrap());
        assert_eq!(
            Target::parse("*.*.*.*").unwrap(),
            Target::parse("0.0.0.0/0").unwrap()
        );
        assert_eq!(Target::parse("10.0.0.5-5").unwrap(), single(ip("10.0.0.5")));
    }

    #[test]
    fn host_names() {
        for name in [
            "localhost",
            "example.com",
            "a",
            "x-1.y2.z",
            "EXAMPLE.com.",
            "1.2.3.a",
            "0x10",
        ] {
            assert_eq!(
                Target::parse(name).unwrap(),
                Target::Name(name.to_string()),
                "{name}"
            );
        }
        let label = "a".repeat(63);
        let long = [label.as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(Target::parse(&long[..253]).is_ok());
        assert!(Target::parse(&format!("{}.", &long[..253])).is_ok());
        assert!(matches!(err(&long), TargetError::Invalid(_)));
        assert!(matches!(err(&"a".repeat(64)), TargetError::Invalid(_)));
    }

    #[test]
    fn invalid_tokens() {
        for token in [
            "999.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "256.0.0.1",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.4.",
            "-",
            "*",
            "/",
            "1.2.3.4-5/24",
            "1.2.3.*/24",
            "foo/24",
            "999.0.0.0/8",
            "a b",
            "foo_bar!",
            "",
            " 1.2.3.4",
            "-foo.com",
            "foo-.com",
            "foo..com",
            ".",
            "é.com",
            "2001:db8::g",
            "1.2.3.4:80",
            ":::",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[1.2.3.4]",
        ] {
            assert!(
                matches!(err(token), TargetError::Invalid(ref t) if t == token),
                "{token}"
            );
        }
    }

    #[test]
    fn invalid_prefixes() {
        for token in [
            "198.18.0.0/33",
            "198.18.0.0/",
            "198.18.0.0/x",
            "198.18.0.0/-1",
            "198.18.0.0/24/8",
            "198.18.0.0/1000",
            "2001:db8::/129",
            "2001:db8::/",
            "[2001:db8::]/200",
            "2001:db8::/x/1",
        ] {
            assert!(
                matches!(err(token), TargetError::InvalidPrefix(ref t) if t == token),
                "{token}"
            );
        }
        assert_eq!(
            err("198.18.0.0/33").to_string(),
            "invalid CIDR prefix in `198.18.0.0/33`"
        );
    }

    #[test]
    fn invalid_octet_ranges() {
        for token in [
            "198.18.0.10-5",
            "198.18.0.1-256",
            "198.18.0.300-301",
            "198.18.0.-5",
            "198.18.0.5-",
            "198.18.0.1-2-3",
            "198.18.**.1",
            "198.18.0-.1",
            "198.18..1-2",
        ] {
            assert!(
                matches!(err(token), TargetError::InvalidOctetRange(ref t) if t == token),
                "{token}"
            );
        }
        assert_eq!(
            err("198.18.0.10-5").to_string(),
            "invalid octet range in `198.18.0.10-5`"
        );
        assert_eq!(err("999.1.1.1").to_string(), "invalid target `999.1.1.1`");
    }

    #[test]
    fn ipv6_ranges_are_refused_with_a_hint() {
        for token in [
            "2001:db8::1-2001:db8::ff",
            "2001:db8::1-ff",
            "[2001:db8::1]-[2001:db8::2]",
            "2001:db8::-1/120",
        ] {
            let e = err(token);
            assert!(
                matches!(e, TargetError::V6Range(ref t) if t == token),
                "{e:?}"
            );
            assert!(e.to_string().contains("2001:db8::/120"), "{e}");
        }
    }

    #[test]
    fn zone_ids_are_rejected() {
        for token in ["fe80::1%eth0", "[fe80::1%eth0]", "fe80::1%2"] {
            assert!(matches!(err(token), TargetError::ZoneId(ref t) if t == token));
        }
    }

    #[test]
    fn lists() {
        let l = parse_list("198.18.0.1,198.18.0.64/26").unwrap();
        assert_eq!(
            l,
            [
                Target::parse("198.18.0.1").unwrap(),
                Target::parse("198.18.0.64/26").unwrap()
            ]
        );
        let l = parse_list(" ,a.example, \t::1\n,,10.0.0.1-2 ").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0], Target::Name("a.example".into()));
        assert!(parse_list("").unwrap().is_empty());
        assert!(parse_list(" , ").unwrap().is_empty());
        let e = parse_list("198.18.0.1,198.18.0.0/40").unwrap_err();
        assert!(matches!(e, TargetError::InvalidPrefix(ref t) if t == "198.18.0.0/40"));
    }

    proptest! {
        #[test]
        fn ipv4_round_trips(a in any::<u32>()) {
            let addr = IpAddr::V4(Ipv4Addr::from(a));
            prop_assert_eq!(Target::parse(&addr.to_string()).unwrap(), single(addr));
        }

        #[test]
        fn ipv6_round_trips(a in any::<u128>()) {
            let addr = IpAddr::V6(Ipv6Addr::from(a));
            prop_assert_eq!(Target::parse(&addr.to_string()).unwrap(), single(addr));
            prop_assert_eq!(Target::parse(&format!("[{addr}]")).unwrap(), single(addr));
        }

        #[test]
        fn ipv4_cidr_size(a in any::<u32>(), p in 0u32..=32) {
            let base = IpAddr::V4(Ipv4Addr::from(a));
            let s = set(&Target::parse(&format!("{base}/{p}")).unwrap());
            prop_assert_eq!(s.len(), 1u128 << (32 - p));
            prop_assert_eq!(s.range_count(), 1);
            prop_assert!(s.contains(base));
        }

        #[test]
        fn ipv6_cidr_size(a in any::<u128>(), p in 0u32..=128) {
            let base = IpAddr::V6(Ipv6Addr::from(a));
            let s = set(&Target::parse(&format!("{base}/{p}")).unwrap());
            let expected = if p == 0 { u128::MAX } else { 1u128 << (128 - p) };
            prop_assert_eq!(s.len(), expected);
            prop_assert_eq!(s.range_count(), 1);
            prop_assert!(s.contains(base));
            let first = a & !(u128::MAX.checked_shr(p).unwrap_or(0));
            prop_assert_eq!(s.nth(0), Some(IpAddr::V6(first.into())));
        }

        #[test]
        fn octet_ranges_match_model(
            o in prop::array::uniform4((0u8..=255, 0u8..4)),
        ) {
            let o = o.map(|(a, w)| (a, a.saturating_add(w)));
            let token = o
                .iter()
                .map(|&(a, b)| format!("{a}-{b}"))
                .collect::<Vec<_>>()
                .join(".");
            let s = set(&Target::parse(&token).unwrap());
            let count: u128 = o.iter().map(|&(a, b)| u128::from(b - a) + 1).product();
            prop_assert_eq!(s.len(), count);
            let probe = |x: [u8; 4]| s.contains(IpAddr::V4(x.into()));
            prop_assert!(probe([o[0].0, o[1].0, o[2].0, o[3].0]));
            prop_assert!(probe([o[0].1, o[1].1, o[2].1, o[3].1]));
            if o[3].1 < 255 {
                prop_assert!(!probe([o[0].0, o[1].0, o[2].0, o[3].1 + 1]));
            }
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Target::parse(&s);
            let _ = parse_list(&s);
        }

        #[test]
        fn parse_never_panics_on_address_like_strings(s in "[0-9a-f.*/:%\\[\\]-]{0,40}") {
            if let Err(e) = Target::parse(&s) {
                let named = format!("`{}`", s);
                prop_assert!(e.to_string().contains(&named));
            }
        }
    }
}
