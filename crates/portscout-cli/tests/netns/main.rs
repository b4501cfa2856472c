//! The command's tests in network namespaces the tests make (root, `ip`, `nft`; without them
//! each test skips, and fails under `CI`): engines, IPv6, loopback, loss, progress, shards, SYN
//! scans, veth pairs. One module per subject; the shared helpers (namespaces, veth pairs,
//! nftables, listeners, all removed on drop) are in `tests/support` (`docs/testing.md`).

#[path = "../support/mod.rs"]
mod support;

mod namespace_deploy;
mod namespace_engines;
mod namespace_firewall;
mod namespace_ipv6;
mod namespace_loopback;
mod namespace_loss;
mod namespace_names;
mod namespace_progress;
mod namespace_shards;
mod namespace_syn;
mod namespace_veth;
mod support_self_tests;
