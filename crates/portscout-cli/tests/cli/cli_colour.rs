//! `--color` and `NO_COLOR` when the output is not a terminal (the terminal itself:
//! `terminal.rs`). Scans here target only 127.0.0.1, at a listener the test owns.

use std::net::TcpListener;

use assert_cmd::Command;

/// The command with a clean colour environment (`NO_COLOR` and `CLICOLOR*` unset).
fn portscout() -> Command {
    let mut cmd = crate::support::portscout();
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

/// Scans the test's listener and a closed port; returns (exit code, stdout, stderr).
fn scan(extra: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = held.local_addr().unwrap().port();
    let (_closed_socket, closed) = crate::support::closed_port("127.0.0.1");
    let mut cmd = portscout();
    cmd.args([
        "127.0.0.1",
        "-p",
        &format!("{open},{closed}"),
        "--show",
        "all",
    ])
    .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn piped_output_is_plain_by_default() {
    for env in [&[][..], &[("NO_COLOR", "1")][..]] {
        let (code, out, err) = scan(&[], env);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("/tcp  open "), "{out}");
        assert!(!out.contains('\x1b'), "{out:?}");
        assert!(!err.contains('\x1b'), "{err:?}");
        assert!(!err.contains(" probes, "), "no bar when piped: {err:?}");
    }
}

#[test]
fn color_always_colours_a_pipe_even_with_no_color() {
    // no-color.org: an explicit command-line choice overrides NO_COLOR.
    for env in [&[][..], &[("NO_COLOR", "1")][..]] {
        let (code, out, err) = scan(&["--color", "always"], env);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("\x1b[32mopen\x1b[0m"), "{out:?}");
        assert!(out.contains("\x1b[31mclosed\x1b[0m"), "{out:?}");
        // Standard error: only the bar (never when piped) and the prefixes are coloured.
        assert!(!err.contains(" probes, "), "no bar when piped: {err:?}");
    }
    // Errors: clap's (a bad port) and the command's own (a bad target) alike.
    for (args, token) in [
        (&["--color=always", "-p", "70000", "127.0.0.1"][..], "70000"),
        (&["--color=always", "999.1.1.1"][..], "999.1.1.1"),
    ] {
        let bad = portscout()
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(2));
        let err = String::from_utf8(bad.stderr).unwrap();
        assert!(err.starts_with("\x1b[1m\x1b[31merror:\x1b[0m "), "{err:?}");
        assert!(err.contains(token), "{err}");
    }
}

#[test]
fn machine_formats_and_never_are_never_coloured() {
    for format in ["json", "ndjson", "csv", "grep"] {
        let (code, out, err) = scan(&["--color", "always", "--format", format], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(!out.contains('\x1b'), "{format}: {out:?}");
    }
    let (code, out, err) = scan(&["--color", "never"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\x1b') && !err.contains('\x1b'));
    for args in [
        &["--color", "never", "-p", "70000", "127.0.0.1"][..],
        &["--color", "never", "999.1.1.1"][..],
    ] {
        let bad = portscout().args(args).output().unwrap();
        let err = String::from_utf8(bad.stderr).unwrap();
        assert!(err.starts_with("error: "), "{err:?}");
    }
}

#[test]
fn bad_color_value_is_bad_input() {
    let out = portscout()
        .args(["--color", "sometimes", "127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("sometimes"), "{err}");
}

#[test]
fn color_may_be_given_with_resume() {
    // Only the arguments are checked here: a missing resume file is reported (exit 2), not
    // `--color` refused.
    let out = portscout()
        .args(["--resume", "/nonexistent/x.resume", "--color", "always"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot read resume file"), "{err}");
    let out = portscout()
        .args(["--resume", "/nonexistent/x.resume", "--top-ports", "5"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--color may be added"), "{err}");
}
