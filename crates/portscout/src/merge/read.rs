//! Reading ndjson (schema 1) back: one line → one [`Record`].

use std::io::{self, BufRead};
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::model::{Banner, HostDown, PortResult, PortState, Reason, ShardIdentity};
use crate::output::Summary;
use crate::plan::Shard;

/// One line of an ndjson output, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A port record (no `type` key).
    Port(PortResult),
    /// A host-down record (`"type":"host"`, `"state":"down"`).
    HostDown(HostDown),
    /// The summary record (`"type":"summary"`). `hosts_down` is 0 when the key is missing (files
    /// written before it existed).
    Summary(Summary),
    /// A host name found by a PTR lookup (`"type":"hostname"`, `"kind":"PTR"`).
    HostName {
        /// The address.
        ip: IpAddr,
        /// Its PTR name.
        name: String,
    },
    /// A record this version does not know (a `type` it does not know, or a host record whose
    /// state is not `down`): the schema may grow, so it is not an error. Holds a description,
    /// e.g. ``type `progress` ``.
    Unknown(String),
}

/// What is wrong with one line.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Not a JSON object, or a key of the wrong JSON type.
    #[error("{message} (column {column})")]
    Json {
        /// serde_json's message, without its position.
        message: String,
        /// The 1-based column where parsing stopped.
        column: usize,
    },
    /// A key the record needs is missing.
    #[error("{record} record without `{key}`")]
    Missing {
        /// The kind of record (`port`, `host`, `summary`).
        record: &'static str,
        /// The missing key.
        key: &'static str,
    },
    /// A key holds a value this version does not know.
    #[error("invalid `{key}`: `{value}`")]
    BadValue {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// The line is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
}

impl From<serde_json::Error> for LineError {
    fn from(e: serde_json::Error) -> LineError {
        // serde_json appends " at line L column C"; the line is always 1 here (one line is
        // parsed at a time) and the reader names the file's line itself.
        let column = e.column();
        let text = e.to_string();
        let message = match text.rfind(" at line ") {
            Some(at) if e.line() != 0 => text[..at].to_string(),
            _ => text,
        };
        LineError::Json { message, column }
    }
}

/// An input that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading failed (not the content's fault).
    #[error("cannot read `{name}`: {source}")]
    Io {
        /// The input's name.
        name: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// One line is not a valid record.
    #[error("`{name}` line {line}: {source}")]
    BadLine {
        /// The input's name.
        name: String,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        #[source]
        source: LineError,
    },
}

/// Every key any record of schema 1 has; unknown keys are ignored.
#[derive(Deserialize)]
struct RawLine {
    #[serde(rename = "type")]
    kind: Option<String>,
    ip: Option<IpAddr>,
    port: Option<u16>,
    protocol: Option<String>,
    state: Option<String>,
    reason: Option<String>,
    rtt_ms: Option<f64>,
    banner: Option<String>,
    service: Option<crate::service::ServiceInfo>,
    skipped: Option<u32>,
    hosts: Option<u64>,
    open: Option<u64>,
    closed: Option<u64>,
    filtered: Option<u64>,
    elapsed_ms: Option<u64>,
    hosts_down: Option<u64>,
    scan: Option<String>,
    shard: Option<String>,
    probes: Option<u64>,
    part: Option<u32>,
    complete: Option<bool>,
    name: Option<String>,
    /// A hostname record's `kind` (`PTR`).
    #[serde(rename = "kind")]
    name_kind: Option<String>,
}

/// Parses one ndjson line (without its newline) into a [`Record`].
///
/// ```
/// use portscout::merge::{parse_line, Record};
/// use portscout::PortState;
///
/// let line = r#"{"ip":"198.18.0.1","port":22,"protocol":"tcp","state":"open","reason":"syn-ack","rtt_ms":0.21}"#;
/// let Record::Port(result) = parse_line(line)? else { unreachable!() };
/// assert_eq!((result.port, result.state), (22, PortState::Open));
/// # Ok::<(), portscout::merge::LineError>(())
/// ```
pub fn parse_line(line: &str) -> Result<Record, LineError> {
    if !line.trim_start().starts_with('{') {
        // serde would read `[…]` as the struct's fields in order.
        return Err(LineError::Json {
            message: "expected a JSON object".to_string(),
            column: line.len() - line.trim_start().len() + 1,
        });
    }
    let raw: RawLine = serde_json::from_str(line)?;
    match raw.kind.as_deref() {
        None => port_record(raw).map(Record::Port),
        Some("host") => host_record(raw),
        Some("summary") => summary_record(raw).map(Record::Summary),
        Some("hostname") if raw.name_kind.as_deref() == Some("PTR") => {
            let missing = |key| LineError::Missing {
                record: "hostname",
                key,
            };
            let ip = raw.ip.ok_or_else(|| missing("ip"))?;
            let name = raw.name.ok_or_else(|| missing("name"))?;
            if !crate::names::is_host_name(&name) {
                return Err(LineError::BadValue {
                    key: "name",
                    value: name,
                });
            }
            Ok(Record::HostName { ip, name })
        }
        Some(other) => Ok(Record::Unknown(format!("type `{other}`"))),
    }
}

fn port_record(raw: RawLine) -> Result<PortResult, LineError> {
    let missing = |key| LineError::Missing {
        record: "port",
        key,
    };
    if let Some(protocol) = raw.protocol.filter(|p| p != "tcp") {
        return Err(LineError::BadValue {
            key: "protocol",
            value: protocol,
        });
    }
    let state = raw.state.ok_or_else(|| missing("state"))?;
    let reason = raw.reason.ok_or_else(|| missing("reason"))?;
    Ok(PortResult {
        ip: raw.ip.ok_or_else(|| missing("ip"))?,
        port: raw.port.ok_or_else(|| missing("port"))?,
        state: parse_state(&state)?,
        reason: parse_reason(&reason)?,
        rtt: raw.rtt_ms.map(rtt).transpose()?,
        banner: raw
            .banner
            .map(|b| {
                Banner::from_escaped(&b).map_err(|_| LineError::BadValue {
                    key: "banner",
                    value: b,
                })
            })
            .transpose()?,
        service: raw.service.map(Box::new),
    })
}

fn host_record(raw: RawLine) -> Result<Record, LineError> {
    let missing = |key| LineError::Missing {
        record: "host",
        key,
    };
    match raw.state.as_deref() {
        Some("down") => {}
        Some(other) => return Ok(Record::Unknown(format!("host state `{other}`"))),
        None => return Err(missing("state")),
    }
    let reason = raw.reason.ok_or_else(|| missing("reason"))?;
    Ok(Record::HostDown(HostDown {
        ip: raw.ip.ok_or_else(|| missing("ip"))?,
        reason: parse_reason(&reason)?,
        skipped: raw.skipped.ok_or_else(|| missing("skipped"))?,
    }))
}

fn summary_record(raw: RawLine) -> Result<Summary, LineError> {
    let missing = |key| LineError::Missing {
        record: "summary",
        key,
    };
    Ok(Summary {
        hosts: u128::from(raw.hosts.ok_or_else(|| missing("hosts"))?),
        open: raw.open.ok_or_else(|| missing("open"))?,
        closed: raw.closed.ok_or_else(|| missing("closed"))?,
        filtered: raw.filtered.ok_or_else(|| missing("filtered"))?,
        hosts_down: raw.hosts_down.unwrap_or(0),
        elapsed: Duration::from_millis(raw.elapsed_ms.ok_or_else(|| missing("elapsed_ms"))?),
        // Recomputed from the merged results.
        open_everywhere: Vec::new(),
        paused: false,
        identity: identity(&raw)?,
    })
}

/// The summary's `scan`, `shard`, `probes`, `part` and `complete`: all or none (none in
/// files written before they existed).
fn identity(raw: &RawLine) -> Result<Option<ShardIdentity>, LineError> {
    let missing = |key| LineError::Missing {
        record: "summary",
        key,
    };
    let Some(scan) = &raw.scan else {
        return Ok(None);
    };
    let bad = |key, value: &str| LineError::BadValue {
        key,
        value: value.to_string(),
    };
    let id = (scan.len() == 16)
        .then(|| u64::from_str_radix(scan, 16).ok())
        .flatten()
        .ok_or_else(|| bad("scan", scan))?;
    let shard_text = raw.shard.as_deref().ok_or_else(|| missing("shard"))?;
    let shard = shard_text
        .split_once('/')
        .and_then(|(i, n)| Shard::new(i.parse().ok()?, n.parse().ok()?))
        .ok_or_else(|| bad("shard", shard_text))?;
    let part = raw.part.ok_or_else(|| missing("part"))?;
    if part == 0 {
        return Err(bad("part", "0"));
    }
    Ok(Some(ShardIdentity {
        scan: id,
        shard,
        probes: raw.probes.ok_or_else(|| missing("probes"))?,
        part,
        complete: raw.complete.ok_or_else(|| missing("complete"))?,
    }))
}

fn parse_state(s: &str) -> Result<PortState, LineError> {
    PortState::ALL
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| LineError::BadValue {
            key: "state",
            value: s.to_string(),
        })
}

fn parse_reason(s: &str) -> Result<Reason, LineError> {
    Reason::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| LineError::BadValue {
            key: "reason",
            value: s.to_string(),
        })
}

/// `rtt_ms` (milliseconds, at most 3 decimals as written) → a duration, to the microsecond.
fn rtt(ms: f64) -> Result<Duration, LineError> {
    let micros = (ms * 1000.0).round();
    // serde_json never yields NaN or infinities; the upper bound keeps the cast exact.
    if !(0.0..=1e15).contains(&micros) {
        return Err(LineError::BadValue {
            key: "rtt_ms",
            value: ms.to_string(),
        });
    }
    Ok(Duration::from_micros(micros as u64))
}

/// The records of one ndjson input, read line by line (never the whole input at once).
///
/// Blank lines are skipped. After the first error the iterator ends.
pub struct Records<R> {
    name: String,
    input: R,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Records<R> {
    /// Reads `input`; `name` (a path, or e.g. `standard input`) is what errors call it.
    pub fn new(name: impl Into<String>, input: R) -> Records<R> {
        Records {
            name: name.into(),
            input,
            line: 0,
            buf: Vec::with_capacity(128),
            done: false,
        }
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn bad_line(&self, source: LineError) -> ReadError {
        ReadError::BadLine {
            name: self.name.clone(),
            line: self.line,
            source,
        }
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    let Ok(text) = std::str::from_utf8(&self.buf) else {
                        self.done = true;
                        return Some(Err(self.bad_line(LineError::NotUtf8)));
                    };
                    let text = text.trim();
                    if text.is_empty() {
                        continue;
                    }
                    let record = parse_line(text).map_err(|e| self.bad_line(e));
                    self.done = record.is_err();
                    return Some(record);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    self.done = true;
                    return Some(Err(ReadError::Io {
                        name: self.name.clone(),
                        source,
                    }));
                }
            }
        }
        None
    }
}
