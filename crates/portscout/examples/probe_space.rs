//! The generator idea (seed section 2): the probe space is computed, never listed. A /16 of
//! test addresses times every port is 4 billion probes in a few bytes; any probe is found by
//! its index. Sends nothing.
//!
//! ```sh
//! cargo run --example probe_space
//! ```

use portscout::ports::PortSet;
use portscout::space::ProbeSpace;
use portscout::target::{AddrSet, Target};

fn main() -> Result<(), portscout::Error> {
    let Target::Addrs(block) = Target::parse("198.18.0.0/16")? else {
        unreachable!("an address block is not a name")
    };
    let space = ProbeSpace::new(AddrSet::from_iter(block), PortSet::all())?;
    println!(
        "{} hosts x {} ports = {} probes, held in {} bytes",
        space.hosts(),
        space.ports().len(),
        space.len(),
        std::mem::size_of_val(&space)
    );
    // Port-major order: consecutive indices visit every host before the next port.
    for i in [0, 1, 65_535, 65_536, space.len() - 1] {
        println!("probe {i:>10} -> {:?}", space.probe(i));
    }
    Ok(())
}
