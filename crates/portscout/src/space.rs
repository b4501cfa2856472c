//! The probe space: every `(address, port)` a scan will probe, as an index space `0..len`.
//!
//! Nothing here is a list of probes. [`ProbeSpace::probe`] computes the `i`-th probe from the
//! target ranges and port ranges, so memory stays O(number of ranges) however large the scan
//! (the seed's *generator*: lazy values, O(1) memory). Orders, slices for workers, and later
//! permutations and shards are all views of this one index space.
//!
//! The order is port-major: index `i` is port number `i / hosts` of the port set, on address
//! `i % hosts`. Consecutive probes therefore go to different hosts, so no single host is
//! flooded when many are scanned, and with one host the order is simply ascending ports.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use crate::error::Error;
use crate::model::TargetName;
use crate::ports::PortSet;
use crate::target::AddrSet;

/// Targets × ports, indexed `0..len()`.
#[derive(Clone, Debug)]
pub struct ProbeSpace {
    addrs: AddrSet,
    ports: PortSet,
    hosts: u64,
    len: u64,
    /// The names targets were given by ([`ProbeSpace::with_names`]).
    names: BTreeMap<IpAddr, TargetName>,
}

impl ProbeSpace {
    /// The space of `addrs × ports`. Fails if either is empty or the product does not fit
    /// in a `u64`.
    pub fn new(addrs: AddrSet, ports: PortSet) -> Result<ProbeSpace, Error> {
        if addrs.is_empty() {
            return Err(Error::EmptyScan(
                "no target address is left after exclusions",
            ));
        }
        if ports.is_empty() {
            return Err(Error::EmptyScan("no port is left after exclusions"));
        }
        let too_many = || Error::TooManyProbes {
            targets: addrs.len(),
            ports: ports.len(),
        };
        let hosts = u64::try_from(addrs.len()).map_err(|_| too_many())?;
        let len = hosts
            .checked_mul(u64::from(ports.len()))
            .ok_or_else(too_many)?;
        Ok(ProbeSpace {
            addrs,
            ports,
            hosts,
            len,
            names: BTreeMap::new(),
        })
    }

    /// The space, with the names the user gave for some of its addresses (a target given as
    /// `localhost`): passed to the sinks in [`crate::model::ScanInfo::names`]. Names of
    /// addresses outside the space (excluded) are dropped.
    pub fn with_names(mut self, names: BTreeMap<IpAddr, TargetName>) -> ProbeSpace {
        self.names = names
            .into_iter()
            .filter(|(ip, _)| self.addrs.contains(*ip))
            .collect();
        self
    }

    /// The names the user gave for addresses of the space.
    pub fn names(&self) -> &BTreeMap<IpAddr, TargetName> {
        &self.names
    }

    /// Number of probes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: an empty space is refused by [`ProbeSpace::new`].
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of target addresses.
    pub fn hosts(&self) -> u64 {
        self.hosts
    }

    /// The target addresses.
    pub fn addrs(&self) -> &AddrSet {
        &self.addrs
    }

    /// The ports probed on every address.
    pub fn ports(&self) -> &PortSet {
        &self.ports
    }

    /// Whether `probe` is one of the space's probes.
    pub fn contains(&self, probe: SocketAddr) -> bool {
        self.addrs.contains(probe.ip()) && self.ports.contains(probe.port())
    }

    /// The `i`-th probe, or `None` past the end. Allocates nothing.
    pub fn probe(&self, i: u64) -> Option<SocketAddr> {
        if i >= self.len {
            return None;
        }
        let port_index = u32::try_from(i / self.hosts).ok()?;
        let ip = self.addrs.nth(u128::from(i % self.hosts))?;
        let port = self.ports.nth(port_index)?;
        Some(SocketAddr::new(ip, port))
    }
}
