//! The command's tests that need no network namespace (but one signal test): arguments,
//! formats, outputs (`-oN/-oX/-oG/-oA`), validation before anything is touched, error
//! messages, signals, config, plan and resume (a resume runs once), banners, history, merge,
//! completions and man page, XML, and the terminal. One module per subject; the shared helpers are in `tests/support` (`docs/testing.md`).
//!
//! One test binary (not one per file): the support code is compiled once for these, and the
//! binaries link once.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod cli_banners;
mod cli_colour;
mod cli_config;
mod cli_deploy;
mod cli_errors;
mod cli_generate;
mod cli_history;
mod cli_merge;
mod cli_nmap_options;
mod cli_outputs;
mod cli_plan;
mod cli_resume_once;
mod cli_service;
mod cli_signals;
mod cli_timing_flags;
mod cli_validate;
mod cli_xml;
mod terminal;
