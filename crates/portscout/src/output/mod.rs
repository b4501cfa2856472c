//! Sinks: the one place results are written. One printer per format.
//! (Interface stub: to be implemented.)

use std::io::{self, Write};
use std::time::Duration;

use crate::model::{PortResult, StateFilter};

/// What a scan is about to do, given to a sink before the first result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanInfo {
    /// Number of target addresses.
    pub hosts: u128,
    /// Number of ports per address.
    pub ports: u32,
}

/// Totals of a finished scan.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Summary {
    /// Number of target addresses.
    pub hosts: u128,
    /// Ports found open.
    pub open: u64,
    /// Ports found closed.
    pub closed: u64,
    /// Ports found filtered.
    pub filtered: u64,
    /// Wall time of the scan.
    pub elapsed: Duration,
}

/// Receives a scan's results. Every result is given, whatever `--show` says: the printer
/// decides what it lists (and counts what it does not).
pub trait Sink {
    /// Called once, before any result.
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()>;
    /// Called once per probed port, in the order results are found.
    fn result(&mut self, result: &PortResult) -> io::Result<()>;
    /// Called once, after the last result.
    fn end(&mut self, summary: &Summary) -> io::Result<()>;
}

/// An output format (`--format`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Per-host tables, like nmap's normal output.
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per line, flushed as results arrive.
    Ndjson,
    /// Comma-separated values with a header.
    Csv,
    /// One line per host.
    Grep,
}

/// Makes the printer for `format`, listing the states in `show`, writing to `out`.
pub fn printer(
    _format: Format,
    _show: StateFilter,
    _out: Box<dyn Write + Send>,
) -> Box<dyn Sink + Send> {
    todo!()
}
