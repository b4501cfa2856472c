//! nmap's probe database (`nmap-service-probes`), read at run time from the user's copy.
//!
//! portscout ships no part of that file (it is nmap's, under nmap's licence): [`ProbeDb::load`]
//! reads it from a path, [`ProbeDb::load_installed`] from nmap's data directory
//! ([`INSTALLED_PATHS`]). The format is nmap's documented one; what is implemented:
//!
//! * `Probe TCP|UDP <name> q|<string>|` with C-style escapes (`\0 \a \b \f \n \r \t \v \\
//!   \xHH`, any other escaped byte stands for itself) and the `no-payload` option (read, and
//!   ignored: it concerns UDP payload lists);
//! * `match` and `softmatch` `<service> m<d><pattern><d>[s][i]` followed by version
//!   templates `p/ v/ i/ h/ o/ d/` and `cpe:/.../[a]` (any delimiter), with `$1`..`$9`,
//!   `$P(n)` (printable bytes only), `$SUBST(n,"from","to")` and `$I(n,">")`/`$I(n,"<")`
//!   (an unsigned integer of 1 to 8 bytes, big or little endian);
//! * `ports`, `sslports`, `rarity`, `totalwaitms`, `tcpwrappedms`, `fallback`;
//! * `Exclude` is read and kept ([`ProbeDb::exclude`]) but not applied (the scan decides
//!   what is probed).
//!
//! Patterns are compiled by PCRE2 (the `pcre2` crate, the library nmap itself uses), on
//! bytes, without UTF mode: nmap's patterns use Perl features (back-references, lookaround,
//! possessive quantifiers) that the `regex` crate lacks, and match binary answers, which
//! `fancy-regex` (on `&str` only) cannot take as they are. A pattern that PCRE2 refuses is
//! counted ([`ProbeDb::failed_patterns`]) and skipped, never an error for the whole file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pcre2::bytes::{Captures, Regex, RegexBuilder};

use super::ServiceInfo;
use crate::ports::PortSet;

/// Where nmap's data directory holds the database on common systems (Debian's `nmap-common`
/// first).
pub const INSTALLED_PATHS: &[&str] = &[
    "/usr/share/nmap/nmap-service-probes",
    "/usr/local/share/nmap/nmap-service-probes",
    "/opt/homebrew/share/nmap/nmap-service-probes",
];

/// The default version intensity (nmap's `--version-intensity`, 0 to 9): probes of a higher
/// rarity are sent only to the ports they list.
pub const DEFAULT_INTENSITY: u8 = 7;

/// A line of the database that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeDbError {
    /// The file could not be read.
    #[error("cannot read service probes {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No database at any of [`INSTALLED_PATHS`].
    #[error("no nmap-service-probes found (looked in {0})")]
    NotInstalled(String),
    /// A line that is not in the format.
    #[error("service probes line {line}: {message}")]
    Syntax {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The transport a probe is sent over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// One version template field of a match (`p/`, `v/`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Field {
    Product,
    Version,
    Info,
    Hostname,
    OsType,
    DeviceType,
    Cpe,
}

/// One `match` or `softmatch` line.
#[derive(Debug)]
pub struct Match {
    /// The service it names.
    pub service: String,
    /// Whether it is a `softmatch` (the service, not the product: probing goes on).
    pub soft: bool,
    /// The pattern's source, as written.
    pub pattern: String,
    regex: Regex,
    templates: Vec<(Field, String)>,
    /// The line in the file, from 1.
    pub line: usize,
}

impl Match {
    /// Whether the pattern matches `answer`.
    pub fn is_match(&self, answer: &[u8]) -> bool {
        matches!(self.regex.is_match(answer), Ok(true))
    }

    /// The service this match gives for `answer`, or `None` when it does not match.
    pub fn apply(&self, answer: &[u8]) -> Option<ServiceInfo> {
        let caps = self.regex.captures(answer).ok()??;
        let mut info = ServiceInfo::probed(&self.service);
        if self.soft {
            info.confidence = 8;
        }
        for (field, template) in &self.templates {
            let value = expand(template, &caps);
            if value.is_empty() {
                continue;
            }
            match field {
                Field::Product => info.product = Some(value),
                Field::Version => info.version = Some(value),
                Field::Info => info.extrainfo = Some(value),
                Field::Hostname => info.hostname = Some(value),
                Field::OsType => info.ostype = Some(value),
                Field::DeviceType => info.devicetype = Some(value),
                Field::Cpe => info.add_cpe(format!("cpe:/{value}")),
            }
        }
        Some(info)
    }
}

/// One `Probe` and the lines under it.
#[derive(Debug)]
pub struct Probe {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Its name (`NULL`, `GetRequest`, …).
    pub name: String,
    /// The bytes it sends (empty for `NULL`: it only listens).
    pub payload: Vec<u8>,
    /// 1 (sent everywhere) to 9 (rarely useful); `NULL` has none (0).
    pub rarity: u8,
    /// Ports where it is tried first and whatever the intensity.
    pub ports: PortSet,
    /// Ports where it is tried first inside TLS.
    pub sslports: PortSet,
    /// How long to wait for its answer.
    pub totalwait: Option<Duration>,
    /// A connection closed sooner than this after the probe, without data, is `tcpwrapped`.
    pub tcpwrapped: Option<Duration>,
    /// Probes whose matches also apply to this probe's answer.
    pub fallback: Vec<String>,
    /// Its matches and softmatches, in file order.
    pub matches: Vec<Match>,
}

impl Probe {
    fn new(protocol: Protocol, name: String, payload: Vec<u8>) -> Probe {
        Probe {
            protocol,
            name,
            payload,
            rarity: 0,
            ports: PortSet::empty(),
            sslports: PortSet::empty(),
            totalwait: None,
            tcpwrapped: None,
            fallback: Vec::new(),
            matches: Vec::new(),
        }
    }
}

/// A parsed `nmap-service-probes`.
#[derive(Debug)]
pub struct ProbeDb {
    /// The probes in file order (the first is `NULL` in nmap's file).
    pub probes: Vec<Probe>,
    /// The `Exclude` directive's ports, as written (not applied).
    pub exclude: Option<String>,
    failed: Vec<(usize, String)>,
}

impl ProbeDb {
    /// Reads and parses the database at `path`.
    pub fn load(path: &Path) -> Result<ProbeDb, ProbeDbError> {
        let bytes = std::fs::read(path).map_err(|source| ProbeDbError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ProbeDb::parse(&bytes)
    }

    /// Reads the database from nmap's installed data directory (the first of
    /// [`INSTALLED_PATHS`] that exists).
    pub fn load_installed() -> Result<ProbeDb, ProbeDbError> {
        match INSTALLED_PATHS.iter().map(Path::new).find(|p| p.exists()) {
            Some(path) => ProbeDb::load(path),
            None => Err(ProbeDbError::NotInstalled(INSTALLED_PATHS.join(", "))),
        }
    }

    /// Parses a database from its text. Lines are bytes (patterns may hold any byte).
    pub fn parse(text: &[u8]) -> Result<ProbeDb, ProbeDbError> {
        let mut db = ProbeDb {
            probes: Vec::new(),
            exclude: None,
            failed: Vec::new(),
        };
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let err = |message: String| ProbeDbError::Syntax {
                line: line_no,
                message,
            };
            let (word, rest) = split_word(line);
            let rest_str = || String::from_utf8_lossy(rest).trim().to_string();
            match word {
                b"Exclude" => db.exclude = Some(rest_str()),
                b"Probe" => db.probes.push(parse_probe(rest).map_err(err)?),
                b"match" | b"softmatch" => {
                    let probe = db
                        .probes
                        .last_mut()
                        .ok_or_else(|| err("match before any Probe".into()))?;
                    match parse_match(rest, word == b"softmatch", line_no).map_err(err)? {
                        Ok(m) => probe.matches.push(m),
                        Err(why) => db.failed.push((line_no, why)),
                    }
                }
                _ => {
                    let probe = db
                        .probes
                        .last_mut()
                        .ok_or_else(|| err(format!("{} before any Probe", lossy(word))))?;
                    let value = rest_str();
                    match word {
                        b"ports" => probe.ports = parse_ports(&value).map_err(err)?,
                        b"sslports" => probe.sslports = parse_ports(&value).map_err(err)?,
                        b"rarity" => {
                            probe.rarity = value
                                .parse()
                                .ok()
                                .filter(|r| (1..=9).contains(r))
                                .ok_or_else(|| err(format!("bad rarity `{value}`")))?
                        }
                        b"totalwaitms" | b"tcpwrappedms" => {
                            let ms: u64 = value
                                .parse()
                                .map_err(|_| err(format!("bad milliseconds `{value}`")))?;
                            let d = Some(Duration::from_millis(ms));
                            if word == b"totalwaitms" {
                                probe.totalwait = d;
                            } else {
                                probe.tcpwrapped = d;
                            }
                        }
                        b"fallback" => {
                            probe.fallback = value
                                .split(',')
                                .map(|s| s.trim().to_string())
                                .filter(|s| !s.is_empty())
                                .collect()
                        }
                        _ => return Err(err(format!("unknown directive `{}`", lossy(word)))),
                    }
                }
            }
        }
        Ok(db)
    }

    /// The number of `match` and `softmatch` lines whose pattern compiled.
    pub fn match_count(&self) -> usize {
        self.probes.iter().map(|p| p.matches.len()).sum()
    }

    /// The lines whose pattern PCRE2 refused: line number and why.
    pub fn failed_patterns(&self) -> &[(usize, String)] {
        &self.failed
    }

    /// The probe named `name` over `protocol`.
    pub fn probe(&self, protocol: Protocol, name: &str) -> Option<&Probe> {
        self.probes
            .iter()
            .find(|p| p.protocol == protocol && p.name == name)
    }

    /// The TCP probes to send to `port` after `NULL`, in nmap's order: those that list the
    /// port (in `ports`, or `sslports` when `tls`) first, then the others of rarity at most
    /// `intensity`, each group by rarity, then file order.
    pub fn tcp_order(&self, port: u16, tls: bool, intensity: u8) -> Vec<&Probe> {
        let listed = |p: &Probe| {
            if tls {
                p.sslports.contains(port)
            } else {
                p.ports.contains(port)
            }
        };
        let mut chosen: Vec<(bool, u8, usize, &Probe)> = self
            .probes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.protocol == Protocol::Tcp && !p.payload.is_empty())
            .filter(|(_, p)| listed(p) || p.rarity <= intensity)
            .map(|(i, p)| (!listed(p), p.rarity, i, p))
            .collect();
        chosen.sort_by_key(|&(unlisted, rarity, i, _)| (unlisted, rarity, i));
        chosen.into_iter().map(|(.., p)| p).collect()
    }

    /// What `answer`, the reply to `probe`, says: the first hard match of the probe, then of
    /// its fallbacks (or of `NULL` when it names none), else the first soft match. `None`
    /// when nothing matches.
    pub fn identify(&self, probe: &Probe, answer: &[u8]) -> Option<ServiceInfo> {
        let mut chain = vec![probe];
        for name in &probe.fallback {
            if let Some(p) = self.probe(probe.protocol, name) {
                chain.push(p);
            }
        }
        if probe.fallback.is_empty() && probe.name != "NULL" {
            if let Some(p) = self.probe(probe.protocol, "NULL") {
                chain.push(p);
            }
        }
        let mut soft = None;
        for p in chain {
            for m in &p.matches {
                if m.soft {
                    if soft.is_none() && m.is_match(answer) {
                        soft = m.apply(answer);
                    }
                } else if let Some(info) = m.apply(answer) {
                    return Some(info);
                }
            }
        }
        soft
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn split_word(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|c| c.is_ascii_whitespace()) {
        Some(i) => (&b[..i], trim(&b[i..])),
        None => (b, &[]),
    }
}

fn parse_ports(spec: &str) -> Result<PortSet, String> {
    PortSet::parse(&spec.replace(' ', "")).map_err(|e| format!("bad ports `{spec}`: {e}"))
}

/// Reads `<d>...<d>` at the start of `b`: the delimited bytes and what follows.
fn delimited(b: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let d = *b.first().ok_or("missing delimiter")?;
    let end = b[1..]
        .iter()
        .position(|&c| c == d)
        .ok_or_else(|| format!("unterminated `{}`", d as char))?;
    Ok((&b[1..1 + end], &b[end + 2..]))
}

fn parse_probe(rest: &[u8]) -> Result<Probe, String> {
    let (proto, rest) = split_word(rest);
    let protocol = match proto {
        b"TCP" => Protocol::Tcp,
        b"UDP" => Protocol::Udp,
        other => return Err(format!("unknown protocol `{}`", lossy(other))),
    };
    let (name, rest) = split_word(rest);
    if name.is_empty() {
        return Err("probe without a name".into());
    }
    let rest = rest
        .strip_prefix(b"q")
        .ok_or("probe string must start with q")?;
    let (payload, _options) = delimited(rest)?;
    Ok(Probe::new(protocol, lossy(name), unescape(payload)?))
}

/// nmap's probe-string escapes.
pub fn unescape(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let c = *s.get(i + 1).ok_or("trailing backslash")?;
        i += 2;
        out.push(match c {
            b'0' => 0,
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 11,
            b'x' => {
                let hex = s.get(i..i + 2).ok_or("short \\x escape")?;
                i += 2;
                u8::from_str_radix(std::str::from_utf8(hex).map_err(|_| "bad \\x")?, 16)
                    .map_err(|_| format!("bad \\x{}", lossy(hex)))?
            }
            other => other,
        });
    }
    Ok(out)
}

/// A match line: `Ok(Ok(match))`, `Ok(Err(why))` when only the pattern fails to compile, or
/// `Err` when the line is malformed.
fn parse_match(rest: &[u8], soft: bool, line: usize) -> Result<Result<Match, String>, String> {
    let (service, rest) = split_word(rest);
    if service.is_empty() {
        return Err("match without a service".into());
    }
    let rest = rest.strip_prefix(b"m").ok_or("pattern must start with m")?;
    let (pattern, mut rest) = delimited(rest)?;
    let (mut caseless, mut dotall) = (false, false);
    while let Some((&f, tail)) = rest.split_first() {
        match f {
            b'i' => caseless = true,
            b's' => dotall = true,
            _ => break,
        }
        rest = tail;
    }
    let mut templates = Vec::new();
    let mut rest = trim(rest);
    while !rest.is_empty() {
        let (field, after) = if let Some(after) = rest.strip_prefix(b"cpe:") {
            (Field::Cpe, after)
        } else {
            let field = match rest[0] {
                b'p' => Field::Product,
                b'v' => Field::Version,
                b'i' => Field::Info,
                b'h' => Field::Hostname,
                b'o' => Field::OsType,
                b'd' => Field::DeviceType,
                other => return Err(format!("unknown version field `{}`", other as char)),
            };
            (field, &rest[1..])
        };
        let (value, mut after) = delimited(after)?;
        if field == Field::Cpe {
            // The optional `a` flag after a CPE (its part may be approximate).
            if let Some(tail) = after.strip_prefix(b"a") {
                after = tail;
            }
        }
        templates.push((field, lossy(value)));
        rest = trim(after);
    }
    let source = lossy(pattern);
    // PCRE2 takes the pattern as bytes: without UTF mode, `\xHH` and literal bytes above
    // 0x7F stand for themselves. A pattern that is not UTF-8 is passed byte for byte through
    // a Latin-1 string, whose escapes mean the same bytes.
    let pattern_str = match std::str::from_utf8(pattern) {
        Ok(s) => s.to_string(),
        Err(_) => pattern
            .iter()
            .map(|&b| {
                if b.is_ascii() {
                    (b as char).to_string()
                } else {
                    format!("\\x{b:02x}")
                }
            })
            .collect(),
    };
    let regex = RegexBuilder::new()
        .caseless(caseless)
        .dotall(dotall)
        .build(&pattern_str);
    Ok(match regex {
        Ok(regex) => Ok(Match {
            service: lossy(service),
            soft,
            pattern: source,
            regex,
            templates,
            line,
        }),
        Err(e) => Err(e.to_string()),
    })
}

/// Expands a version template with a match's captures.
fn expand(template: &str, caps: &Captures) -> String {
    let group = |n: usize| caps.get(n).map(|m| m.as_bytes()).unwrap_or(&[]);
    let t = template.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i] == b'$' {
            if let Some(d) = t.get(i + 1).filter(|d| d.is_ascii_digit()) {
                out.extend_from_slice(group((d - b'0') as usize));
                i += 2;
                continue;
            }
            if let Some((name, args, len)) = function(&t[i + 1..]) {
                let n: usize = args
                    .first()
                    .and_then(|a| a.trim().parse().ok())
                    .unwrap_or(0);
                let g = group(n);
                match name {
                    "P" => out.extend(g.iter().filter(|b| (0x20..0x7f).contains(*b))),
                    "SUBST" if args.len() == 3 => {
                        let from = unquote(&args[1]);
                        let to = unquote(&args[2]);
                        out.extend_from_slice(replace(g, from.as_bytes(), to.as_bytes()).as_slice())
                    }
                    "I" if args.len() == 2 && (1..=8).contains(&g.len()) => {
                        let little = unquote(&args[1]) == "<";
                        let mut v: u64 = 0;
                        let bytes: Vec<u8> = if little {
                            g.iter().rev().copied().collect()
                        } else {
                            g.to_vec()
                        };
                        for b in bytes {
                            v = (v << 8) | u64::from(b);
                        }
                        out.extend_from_slice(v.to_string().as_bytes());
                    }
                    _ => {}
                }
                i += 1 + len;
                continue;
            }
        }
        out.push(t[i]);
        i += 1;
    }
    // Answers are bytes; templates copy them into text. Bytes that are not UTF-8 are kept as
    // Latin-1 characters, so nothing is lost and nothing panics.
    match String::from_utf8(out) {
        Ok(s) => s.trim().to_string(),
        Err(e) => e
            .into_bytes()
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

/// `NAME(args)` at the start of `t`: the name, the comma-separated arguments (commas inside
/// quotes kept), and the length consumed.
fn function(t: &[u8]) -> Option<(&'static str, Vec<String>, usize)> {
    let name = ["SUBST", "P", "I"]
        .into_iter()
        .find(|n| t.starts_with(n.as_bytes()) && t.get(n.len()) == Some(&b'('))?;
    let mut args = vec![String::new()];
    let mut quoted = false;
    let mut i = name.len() + 1;
    while i < t.len() {
        let c = t[i];
        match c {
            b'"' => {
                quoted = !quoted;
                args.last_mut()?.push('"');
            }
            b',' if !quoted => args.push(String::new()),
            b')' if !quoted => return Some((name, args, i + 1)),
            _ => args.last_mut()?.push(c as char),
        }
        i += 1;
    }
    None
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
