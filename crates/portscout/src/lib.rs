//! portscout: an exact, fast TCP port scanner.
//!
//! The library never prints, exits or panics on bad input; the `portscout` binary is a thin
//! layer over it. A scan flows through these modules, in order:
//!
//! | module | role |
//! |---|---|
//! | [`target`], [`ports`] | parse what to scan (addresses, blocks, ranges, names; port specs) |
//! | [`scan::ScanConfig`] | everything a scan needs, validated once, before any socket exists |
//! | [`space`] | targets × ports as a lazy index space (never a list) |
//! | [`scan`] | workers, each an event loop with a bounded in-flight window |
//! | [`probe`] | one probe and the single table that turns its answer into a [`PortState`] |
//! | [`output`] | sinks: one printer per format, the only place results are written |
#![deny(missing_docs)]

pub mod error;
pub mod limits;
pub mod model;
pub mod output;
pub mod ports;
pub mod probe;
pub mod scan;
pub mod space;
pub mod target;

pub use error::Error;
pub use model::{PortResult, PortState, Reason, StateFilter};
