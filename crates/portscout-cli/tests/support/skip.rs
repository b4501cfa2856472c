//! Skipped tests are visible: a test that cannot run here (no root, a tool missing) says so
//! where a developer sees it, and is counted at the end of `.ci/run`; under `CI` it fails.
//!
//! libtest shows a test that returned early as `ok` and hides what it printed. So [`skip`]
//! writes its line straight to the process's standard error (which libtest does not capture:
//! it captures only `print!`/`eprint!`), where `cargo test` shows it among the results:
//!
//! ```text
//! SKIPPED netns::namespace_loss::loss_never_changes_a_state: needs root to create network namespaces
//! ```
//!
//! and appends the same to [`SKIP_LOG`], which `.ci/run` empties before the tests and counts
//! after them (`.ci/skips`). Standalone (no other support module): every test binary of the
//! workspace that can skip includes this file, the library's through a `#[path]`.

use std::io::Write;

/// Where skipped tests are recorded, one `test<TAB>reason` line each (in cargo's temporary
/// directory for integration tests, `target/tmp`).
pub const SKIP_LOG: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/test-skips.log");

/// True when running under CI (`CI` set, non-empty, not `false`/`0`).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")))
}

/// The running test, as `binary::test` (libtest names each test's thread after it).
fn this_test() -> String {
    let binary = std::env::args()
        .next()
        .and_then(|a| {
            let name = std::path::Path::new(&a)
                .file_name()?
                .to_string_lossy()
                .into_owned();
            // Cargo's test binaries are `<name>-<hash>`.
            Some(match name.rsplit_once('-') {
                Some((stem, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                    stem.to_owned()
                }
                _ => name,
            })
        })
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    format!("{binary}::{test}")
}

/// The running test cannot run here for `why`: under CI, panics (a test never passes by
/// skipping there); otherwise says so on the terminal and in [`SKIP_LOG`], and returns false
/// (the caller returns at once).
pub fn skip(why: &str) -> bool {
    if in_ci() {
        panic!("CI is set but this test cannot run: {why}");
    }
    let test = this_test();
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(SKIP_LOG)
    {
        // One write per line: with O_APPEND, lines of tests running at once never mix.
        let _ = log.write_all(format!("{test}\t{why}\n").as_bytes());
    }
    false
}
