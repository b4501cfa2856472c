//! Reading target files as a stream, into merged ranges and host names.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::{AddrRange, AddrSet, Target, TargetError};

/// Ranges held back before they are merged into the set, at the least: a batch is as long as
/// this or as the set has ranges, whichever is larger, so merging costs O(log) per range
/// amortized while the batch stays within a constant factor of the set (or of this).
const BATCH: usize = 64 * 1024;

/// Reads the targets of a file (`-` for standard input): whitespace-separated tokens, `#`
/// comments.
///
/// See [`read_targets`], which this calls on the opened file. Any I/O failure, opening
/// included, is [`TargetError::ReadFile`], naming `path`.
pub fn read_target_file(path: &Path) -> Result<Vec<Target>, TargetError> {
    if path == Path::new("-") {
        read_targets(io::stdin().lock(), path)
    } else {
        let file = File::open(path).map_err(|source| TargetError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        read_targets(BufReader::with_capacity(BATCH, file), path)
    }
}

/// Reads targets from `reader` as it goes, one line at a time; `path` names the input in errors.
///
/// Tokens are separated by whitespace, several on a line if need be; a `#` starts a comment
/// that runs to the end of its line, and blank lines are ignored. Each token is parsed with
/// [`Target::parse`] as soon as it is read, and its addresses are merged into one set on the
/// way (in batches), so memory after reading is O(merged ranges) plus the host names, not
/// O(lines): the addresses of a block, listed one per line in any order, end up as one range.
///
/// The result is one [`Target::Addrs`] holding the merged ranges (IPv4 ascending, then IPv6
/// ascending; left out if there are none), then one [`Target::Name`] per distinct host name,
/// in the order they first appear. An input without tokens gives an empty `Vec`.
///
/// The input must be UTF-8. A token that does not parse is [`TargetError::InFile`], which
/// holds the token's own error and its line number (counting from 1); an I/O failure is
/// [`TargetError::ReadFile`]. Both name `path`.
pub fn read_targets<R: BufRead>(mut reader: R, path: &Path) -> Result<Vec<Target>, TargetError> {
    let mut found = Found::default();
    let mut line = String::new();
    let mut number: u64 = 0;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|source| TargetError::ReadFile {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        number += 1;
        let text = line
            .split_once('#')
            .map_or(line.as_str(), |(before, _)| before);
        for token in text.split_whitespace() {
            let target = Target::parse(token).map_err(|e| TargetError::InFile {
                path: path.to_path_buf(),
                line: number,
                error: Box::new(e),
            })?;
            found.add(target);
        }
    }
    Ok(found.finish())
}

/// What has been read so far.
#[derive(Default)]
struct Found {
    /// The ranges merged so far.
    set: AddrSet,
    /// Ranges not yet merged into `set`.
    pending: Vec<AddrRange>,
    /// Distinct host names, in the order they first appear.
    names: Vec<String>,
    /// The same names, to skip repeats.
    seen: HashSet<String>,
}

impl Found {
    fn add(&mut self, target: Target) {
        match target {
            Target::Addrs(ranges) => {
                self.pending.extend(ranges);
                if self.pending.len() >= BATCH.max(self.set.range_count()) {
                    self.set.extend(self.pending.drain(..));
                }
            }
            Target::Name(name) => {
                if !self.seen.contains(&name) {
                    self.seen.insert(name.clone());
                    self.names.push(name);
                }
            }
        }
    }

    fn finish(mut self) -> Vec<Target> {
        self.set.extend(std::mem::take(&mut self.pending));
        let mut out = Vec::with_capacity(1 + self.names.len());
        if !self.set.is_empty() {
            out.push(Target::Addrs(self.set.ranges().collect()));
        }
        out.extend(self.names.into_iter().map(Target::Name));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::net::IpAddr;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn read(text: &str) -> Result<Vec<Target>, TargetError> {
        read_targets(Cursor::new(text), Path::new("list.txt"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn addrs(ranges: &[AddrRange]) -> Target {
        Target::Addrs(ranges.to_vec())
    }

    fn name(s: &str) -> Target {
        Target::Name(s.to_string())
    }

    /// A fresh path in the temporary directory (removed by the caller).
    fn temp_path(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!(
            "portscout-target-{}-{tag}-{n}.txt",
            std::process::id()
        ))
    }

    #[test]
    fn comments_blank_lines_and_several_tokens_per_line() {
        let text = "# header\n\n198.18.0.1  198.18.0.3\t# trailing 10.0.0.1\n  \n\
                    example.com#x\r\n::1\n#\n198.18.0.2 example.com 2001:db8::/127";
        assert_eq!(
            read(text).unwrap(),
            [
                addrs(&[
                    AddrRange::from_v4(0xc612_0001, 0xc612_0003),
                    AddrRange::single(ip("::1")),
                    AddrRange::from_v6(0x2001_0db8 << 96, (0x2001_0db8 << 96) + 1),
                ]),
                name("example.com"),
            ]
        );
        assert!(read("").unwrap().is_empty());
        assert!(read("# only\n   \n\n").unwrap().is_empty());
    }

    #[test]
    fn names_are_kept_once_in_order() {
        let text = "b.example\na.example b.example\nlocalhost\na.example\n";
        assert_eq!(
            read(text).unwrap(),
            [name("b.example"), name("a.example"), name("localhost")]
        );
    }

    #[test]
    fn ipv6_and_ranges_merge() {
        let text = "2001:db8::2\n[2001:db8::1]\n2001:db8::/126 198.18.0.0/24\n198.18.1.0-255\n";
        let base = 0x2001_0db8_u128 << 96;
        assert_eq!(
            read(text).unwrap(),
            [addrs(&[
                AddrRange::from_v4(0xc612_0000, 0xc612_01ff),
                AddrRange::from_v6(base, base + 3),
            ])]
        );
    }

    #[test]
    fn bad_token_names_token_line_and_file() {
        let text = "# targets\n198.18.0.1\n\n198.18.0.2 999.1.1.1 198.18.0.3\n";
        let e = read(text).unwrap_err();
        assert!(
            matches!(&e, TargetError::InFile { path, line: 4, error }
                if path == Path::new("list.txt")
                    && matches!(&**error, TargetError::Invalid(t) if t == "999.1.1.1")),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "invalid target `999.1.1.1` (line 4 of `list.txt`)"
        );
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.to_string(), "invalid target `999.1.1.1`");

        let e = read("fe80::1%eth0").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid target `fe80::1%eth0`: IPv6 zone ids are not supported (line 1 of `list.txt`)"
        );
        let e = read("\n\n198.18.0.0/33 # x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CIDR prefix in `198.18.0.0/33` (line 3 of `list.txt`)"
        );
    }

    #[test]
    fn not_utf8_is_a_read_error() {
        let e = read_targets(Cursor::new(b"10.0.0.1\n\xff\xfe\n"), Path::new("bin")).unwrap_err();
        assert!(
            matches!(&e, TargetError::ReadFile { path, source }
                if path == Path::new("bin") && source.kind() == io::ErrorKind::InvalidData),
            "{e:?}"
        );
    }

    /// A reader that makes up its lines as it is read, holding none of them: `lines` lines,
    /// line `i` being the address `base + perm(i)`, where `perm` is a bijection of
    /// `0..lines` (`lines` a power of two) that shuffles the order thoroughly.
    struct Shuffled {
        base: u32,
        lines: u32,
        next: u32,
        buf: Vec<u8>,
        pos: usize,
    }

    impl Shuffled {
        fn new(base: u32, lines: u32) -> Shuffled {
            assert!(lines.is_power_of_two());
            Shuffled {
                base,
                lines,
                next: 0,
                buf: Vec::new(),
                pos: 0,
            }
        }

        /// An odd multiplier and xor-shifts, all mod `lines`: a bijection.
        fn perm(&self, i: u32) -> u32 {
            let mask = self.lines - 1;
            let mut x = i.wrapping_mul(0x9e37_79b1) & mask;
            x ^= x >> 7;
            x = x.wrapping_mul(0x85eb_ca6b) & mask;
            x ^= x >> 11;
            x.wrapping_mul(0xc2b2_ae35) & mask
        }
    }

    impl io::Read for Shuffled {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = {
                let avail = self.fill_buf()?;
                let n = avail.len().min(out.len());
                out[..n].copy_from_slice(&avail[..n]);
                n
            };
            self.consume(n);
            Ok(n)
        }
    }

    impl BufRead for Shuffled {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.pos == self.buf.len() && self.next < self.lines {
                self.buf.clear();
                self.pos = 0;
                // A few lines at a time, some with two tokens and a comment.
                while self.buf.len() < 4096 && self.next < self.lines {
                    let a = std::net::Ipv4Addr::from(self.base + self.perm(self.next));
                    self.next += 1;
                    if self.next % 5 == 0 && self.next < self.lines {
                        let b = std::net::Ipv4Addr::from(self.base + self.perm(self.next));
                        self.next += 1;
                        self.buf
                            .extend_from_slice(format!("{a} {b} # two\n").as_bytes());
                    } else {
                        self.buf.extend_from_slice(format!("{a}\n").as_bytes());
                    }
                }
            }
            Ok(&self.buf[self.pos..])
        }

        fn consume(&mut self, n: usize) {
            self.pos += n;
        }
    }

    #[test]
    fn shuffled_block_merges_into_one_range() {
        // 2^16 addresses of 198.18.0.0/16, in shuffled order.
        let shuffled = Shuffled::new(0xc612_0000, 1 << 16);
        let mut seen = HashSet::new();
        for i in 0..shuffled.lines {
            assert!(seen.insert(shuffled.perm(i)), "perm is a bijection");
        }
        let got = read_targets(shuffled, Path::new("gen")).unwrap();
        assert_eq!(
            got,
            [addrs(&[AddrRange::from_v4(0xc612_0000, 0xc612_ffff)])]
        );
    }

    /// A million lines (2^20, the addresses of 198.16.0.0/12 shuffled) through the batched merge:
    /// it must finish (the merge is not quadratic) and give one range.
    #[test]
    fn a_million_shuffled_lines_merge_into_one_range() {
        let got = read_targets(Shuffled::new(0xc610_0000, 1 << 20), Path::new("gen")).unwrap();
        assert_eq!(
            got,
            [addrs(&[AddrRange::from_v4(0xc610_0000, 0xc61f_ffff)])]
        );
    }

    /// Every other address of a block: nothing merges, so the set grows as it is read.
    #[test]
    fn disjoint_addresses_stay_apart() {
        let text: String = (0..200_000u32)
            .rev()
            .map(|i| format!("{}\n", std::net::Ipv4Addr::from(0x0a00_0000 + 2 * i)))
            .collect();
        let got = read(&text).unwrap();
        let [Target::Addrs(ranges)] = &got[..] else {
            panic!("{got:?}")
        };
        assert_eq!(ranges.len(), 200_000);
        assert!(ranges.iter().enumerate().all(|(i, r)| *r
            == AddrRange::from_v4(0x0a00_0000 + 2 * i as u32, 0x0a00_0000 + 2 * i as u32)));
    }

    #[test]
    fn reads_files() {
        let path = temp_path("ok");
        std::fs::write(&path, "10.0.0.1 # a\n\nlocalhost\n10.0.0.2").unwrap();
        let got = read_target_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            got.unwrap(),
            [
                addrs(&[AddrRange::from_v4(0x0a00_0001, 0x0a00_0002)]),
                name("localhost")
            ]
        );

        let empty = temp_path("empty");
        std::fs::write(&empty, "").unwrap();
        let got = read_target_file(&empty);
        std::fs::remove_file(&empty).unwrap();
        assert!(got.unwrap().is_empty());
    }

    #[test]
    fn bad_token_in_a_file_names_the_file() {
        let path = temp_path("bad");
        std::fs::write(&path, "10.0.0.1\n10.0.0.1/40\n").unwrap();
        let got = read_target_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            got.unwrap_err().to_string(),
            format!(
                "invalid CIDR prefix in `10.0.0.1/40` (line 2 of `{}`)",
                path.display()
            )
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let path = temp_path("missing");
        let e = read_target_file(&path).unwrap_err();
        assert!(matches!(&e, TargetError::ReadFile { path: p, source }
            if *p == path && source.kind() == io::ErrorKind::NotFound));
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("cannot read target file `{}`: ", path.display())),
            "{msg}"
        );
    }
}
