//! portscout: an exact, fast TCP port scanner.
//!
//! The library never prints, exits or panics on bad input; the `portscout` binary is a thin
//! layer over it.
#![deny(missing_docs)]

pub mod error;
pub mod model;
pub mod output;
pub mod ports;
pub mod target;

pub use error::Error;
pub use model::{PortResult, PortState, Reason, StateFilter};
