//! Error messages are safe on a terminal: control bytes from the input are escaped as banners
//! are, and a token longer than 200 characters is cut, saying how long it was. Nothing here
//! is scanned (every command is bad input).

use std::process::Command;

use crate::support::{TempDir, BIN};

fn stderr_of(args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let out = Command::new(BIN)
        .env("PORTSCOUT_CONFIG", "")
        .args(args)
        .output()
        .unwrap();
    (out.status.code(), out.stderr)
}

fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)
}

#[test]
fn control_bytes_are_escaped() {
    for (args, want) in [
        (
            &["127.0.0.1\x1b[31m", "-p", "1"][..],
            r"`127.0.0.1\x1B[31m`",
        ),
        (&["-p", "1\x1b[2J", "127.0.0.1"], r"1\x1B[2J"),
        (
            &["--exclude", "127.0.0.1\x07", "127.0.0.1"],
            r"127.0.0.1\x07",
        ),
        (
            &["--format", "x\x1b]0;t\x07", "127.0.0.1"],
            r"x\x1B]0;t\x07",
        ),
        (&["-iL", "nosuch\x1b[31m.txt"], r"nosuch\x1B[31m.txt"),
    ] {
        let (code, err) = stderr_of(args);
        let text = String::from_utf8_lossy(&err);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(!has_control(&err), "{args:?}: {text:?}");
        assert!(text.contains(want), "{args:?}: {text}");
    }
}

#[test]
fn a_huge_token_is_cut_saying_how_long_it_was() {
    let dir = TempDir::new("errors-huge");
    let file = dir.file("targets.txt");
    std::fs::write(&file, format!("{}\n", "a".repeat(10_000_000))).unwrap();
    let long_arg = format!("{}\x1b", "1".repeat(5000));
    for (args, chars) in [
        (
            vec!["-iL", file.as_str(), "-p", "80"],
            "10000000 characters",
        ),
        (
            vec!["127.0.0.1", "-p", long_arg.as_str()],
            "5001 characters",
        ),
        (vec![long_arg.as_str(), "-p", "1"], "5001 characters"),
    ] {
        let (code, err) = stderr_of(&args);
        let text = String::from_utf8_lossy(&err);
        assert_eq!(code, Some(2), "{}", &text[..text.len().min(500)]);
        assert!(err.len() < 2000, "{} bytes: {}", err.len(), &text[..500]);
        assert!(text.contains(chars), "{text}");
        assert!(!has_control(&err), "{text:?}");
    }
}
