//! The library's typed errors. Every error that comes from user input names the bad token.

use std::io;
use std::path::PathBuf;

pub use crate::ports::PortSpecError;
pub use crate::target::TargetError;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A port specification was invalid.
    #[error(transparent)]
    Ports(#[from] PortSpecError),
    /// A target, exclusion or target file was invalid.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// `--show` named something that is not a port state.
    #[error("invalid state `{0}` (expected open, closed, filtered or all)")]
    BadStateName(String),
    /// A timeout of zero was asked for.
    #[error("invalid timeout `{0}`: it must be greater than zero")]
    BadTimeout(String),
    /// Timing options that cannot hold (a zero rate, bounds the wrong way round).
    #[error("invalid timing: {0}")]
    BadTiming(String),
    /// A concurrency window of zero was asked for.
    #[error("invalid concurrency `{0}`: it must be at least 1")]
    BadConcurrency(String),
    /// Banner options that cannot work (a size cap or a number of grabs of zero).
    #[error("invalid banner options: {0}")]
    BadBanner(String),
    /// Service detection options that cannot work (an intensity above 9, a zero budget).
    #[error("invalid service detection options: {0}")]
    BadServiceDetection(String),
    /// `--engine` named no engine.
    #[error("invalid engine `{0}` (expected auto, threads, async or sharded)")]
    BadEngine(String),
    /// `--scan` named no scan type.
    #[error("invalid scan type `{0}` (expected connect or syn)")]
    BadScanType(String),
    /// A SYN scan was asked for without the privilege to open raw sockets.
    #[error("--scan syn needs root or CAP_NET_RAW")]
    NeedsRawSockets,
    /// `--order` named no order.
    #[error("invalid order `{0}` (expected random or serial)")]
    BadOrder(String),
    /// `--shard` was not `I/N` with `1 ≤ I ≤ N`.
    #[error("invalid shard `{0}` (expected I/N with 1 <= I <= N, e.g. 2/8)")]
    BadShard(String),
    /// A resume checkpoint that does not fit the scan, or could not be read.
    #[error("cannot resume: {0}")]
    BadResume(String),
    /// Options that contradict each other.
    #[error("conflicting options: {0}")]
    Conflict(&'static str),
    /// After exclusions, nothing is left to scan.
    #[error("nothing to scan: {0}")]
    EmptyScan(&'static str),
    /// The probe space (targets × ports) does not fit in 64 bits.
    #[error(
        "too many probes: {} × {} is more than 2^64 - 1 probes (an IPv6 /64 alone holds 2^64 \
         addresses: scan longer prefixes)",
        count(.targets, "target address", "target addresses"),
        count(&u128::from(*.ports), "port", "ports")
    )]
    TooManyProbes {
        /// Number of target addresses (saturating: `u128::MAX` for 2^128 or more).
        targets: u128,
        /// Number of ports.
        ports: u32,
    },
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The scanner itself failed (no descriptors at all for a long time, runtime failure, …).
    #[error("scan failed: {0}")]
    Runtime(#[source] io::Error),
    /// A sink could not write the results ([`crate::scan::Scan::drive`]).
    #[error("cannot write the results: {0}")]
    Output(#[source] io::Error),
}

/// `n` and its noun, for a message: powers of two from 2^32 on as `2^k`, and a saturated
/// count (`u128::MAX`: all of IPv6, 2^128 addresses, perhaps with more) as `about 2^128`.
fn count(n: &u128, one: &str, many: &str) -> String {
    let noun = if *n == 1 { one } else { many };
    if *n == u128::MAX {
        format!("about 2^128 {noun}")
    } else if n.is_power_of_two() && *n >= 1 << 32 {
        format!("2^{} {noun}", n.trailing_zeros())
    } else {
        format!("{n} {noun}")
    }
}

impl Error {
    /// Whether this error comes from the user's input (exit code 2) rather than from the run.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Error::Runtime(_) | Error::Output(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_probes_says_how_many_plainly() {
        let e = |targets, ports| Error::TooManyProbes { targets, ports }.to_string();
        // 2001:db8::/64 × 1 port.
        assert_eq!(
            e(1 << 64, 1),
            "too many probes: 2^64 target addresses × 1 port is more than 2^64 - 1 probes (an \
             IPv6 /64 alone holds 2^64 addresses: scan longer prefixes)"
        );
        // ::/0, whose count saturates at 2^128 - 1: not printed as that number.
        assert!(e(u128::MAX, 80)
            .starts_with("too many probes: about 2^128 target addresses × 80 ports "));
        assert!(e(3 << 62, 65_535)
            .starts_with("too many probes: 13835058055282163712 target addresses × 65535 ports "));
    }
}
