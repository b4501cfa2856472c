//! The command's errors: bad input (exit 2, nothing was sent or written) or a failure while
//! running (exit 1), and how an error is written on standard error.

use std::fmt;
use std::io;

/// Bad input found by the binary itself (an output file, a resume file, …): exit 2, nothing
/// sent, no file touched.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// The exit code for an error: 2 for bad input, 1 for a failure while running.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<portscout::Error>() {
            return if e.is_bad_input() { 2 } else { 1 };
        }
        if cause.is::<BadInput>() {
            return 2;
        }
    }
    1
}

/// The error and its causes on one line, skipping a cause whose text the message already holds
/// (library errors often name their source in their own message).
pub fn message(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

/// Whether `err` is a write to a reader that went away (`portscout … | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
