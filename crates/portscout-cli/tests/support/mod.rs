//! Test support for the command's tests (`tests/cli` and `tests/netns`, each including it
//! once): namespaces (`namespaces.rs`), running the scanner (`processes.rs`), reading ndjson
//! (`ndjson.rs`), assertions (`assertions.rs`), skipping (`skip.rs`) and interrupting at an
//! event (`interrupt.rs`). This file holds what they share: requirements and command helpers.
//!
//! THE NETWORK RULE: everything here touches only loopback inside a namespace that the test
//! created, or addresses in 198.18.0.0/15 (IPv6: 2001:db8::/32) that exist only on veth pairs
//! between such namespaces. Every namespace, listener and nftables rule is removed when its RAII
//! value is dropped, also when a test panics.
//!
//! Namespace tests need root. [`require_root`] says whether they can run; outside CI they skip
//! with a message on stderr, under `CI` they fail instead of skipping.
//!
//! Every scanner started here runs with `PORTSCOUT_CONFIG` set empty: no config file of the
//! machine's user (`docs/config.md`) can change what a test sees. A test that starts the binary
//! some other way must do the same.
#![allow(dead_code)]

pub mod interrupt;
pub mod skip;

mod assertions;
mod namespaces;
mod ndjson;
mod processes;

pub use assertions::*;
pub use namespaces::*;
pub use ndjson::*;
pub use processes::*;
#[allow(unused_imports)]
pub use skip::{in_ci, skip as skip_or_fail};

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Path of the portscout binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_portscout");

/// How long one scanner run may take before it is killed and the test fails.
pub const SCAN_DEADLINE: Duration = Duration::from_secs(300);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Serialises `ip netns add`: the first calls in a process race on mounting /run/netns.
static NETNS_LOCK: Mutex<()> = Mutex::new(());

pub(crate) fn next_id() -> usize {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// Whether the program `name` runs here (`name --version` or, failing that, `name -V`
/// exits 0). When it does not, skips (outside CI) or fails (under CI), naming the Debian
/// `package` that provides it (`.ci/run` installs it).
pub fn require_tool(name: &str, package: &str) -> bool {
    let runs = |flag: &str| {
        Command::new(name)
            .arg(flag)
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("--version") || runs("-V") {
        return true;
    }
    skip_or_fail(&format!("needs `{name}` (apt-get install {package})"))
}

/// Whether namespace tests can run here: root and a working `ip netns`.
///
/// When they cannot, prints `skipping: ...` to stderr and returns false, except under CI,
/// where it panics so that the tests never pass by skipping silently.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return skip_or_fail("needs root to create network namespaces");
    }
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        let name = format!("pst-probe-{}", std::process::id());
        let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let _ = quiet(Command::new("ip").args(["netns", "del", &name]));
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("cannot run `ip`: {e} (install iproute2)"))?;
        let _ = quiet(Command::new("ip").args(["netns", "del", &name]));
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`ip netns add` is unusable here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    });
    match probe {
        Ok(()) => true,
        Err(why) => skip_or_fail(why),
    }
}

/// Whether nftables tests can run: [`require_root`] and an `nft` binary.
pub fn require_nft() -> bool {
    if !require_root() {
        return false;
    }
    match Command::new("nft").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => skip_or_fail("needs `nft` (apt-get install nftables)"),
    }
}

/// Run a command with output discarded; true when it exited 0.
fn quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Run a command that must succeed; panics with its stderr otherwise.
pub(crate) fn must(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// Run a command that must succeed, feeding `input` on stdin.
fn must_with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}\ninput:\n{input}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}
