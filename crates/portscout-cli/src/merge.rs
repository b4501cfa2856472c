//! `portscout merge`: ndjson outputs of shards or resumed runs → one result.

use anyhow::Result;

use crate::args::MergeArgs;

/// Runs `portscout merge`.
pub fn run(_args: MergeArgs) -> Result<()> {
    anyhow::bail!("merge is not implemented yet")
}
