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

/// Why a command did not succeed: the CLI's one error type. Each kind has its exit code
/// ([`Failure::exit_code`]); its text is written once, by `main`, cleaned ([`clean`]).
#[derive(Debug)]
pub enum Failure {
    /// Bad input (exit 2): nothing was sent, no file was touched.
    BadInput(String),
    /// A failure while running (exit 1).
    Failed(String),
    /// A write to a reader that went away (`portscout … | head`): not a failure (exit 0).
    BrokenPipe,
}

/// The CLI's results.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    /// A failure while running, `what` then its cause (a reader gone is still
    /// [`Failure::BrokenPipe`]).
    pub fn io(what: impl fmt::Display, e: io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::BrokenPipe => Failure::BrokenPipe,
            _ => Failure::Failed(format!("{what}: {e}")),
        }
    }

    /// The exit code: 2 for bad input, 1 for a failure while running, 0 for a reader gone.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::BadInput(_) => 2,
            Failure::Failed(_) => 1,
            Failure::BrokenPipe => 0,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput(m) | Failure::Failed(m) => f.write_str(m),
            Failure::BrokenPipe => f.write_str("the reader of the output went away"),
        }
    }
}

impl From<BadInput> for Failure {
    fn from(e: BadInput) -> Failure {
        Failure::BadInput(e.0)
    }
}

impl From<portscout::Error> for Failure {
    fn from(e: portscout::Error) -> Failure {
        match e {
            portscout::Error::Output(io) | portscout::Error::Runtime(io)
                if io.kind() == io::ErrorKind::BrokenPipe =>
            {
                Failure::BrokenPipe
            }
            e if e.is_bad_input() => Failure::BadInput(e.to_string()),
            e => Failure::Failed(e.to_string()),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::BrokenPipe => Failure::BrokenPipe,
            _ => Failure::Failed(e.to_string()),
        }
    }
}

/// The longest token an error message repeats in full.
pub const LONGEST_TOKEN: usize = 200;

/// `text` made safe for a terminal: control characters escaped as banners are
/// ([`portscout::Banner::escaped`]: `\x1B`, `\r`, …; line ends too, unless `keep_newlines`),
/// and every token (a run of characters between blanks and backquotes) longer than
/// [`LONGEST_TOKEN`] characters cut there, saying how long it was.
pub fn clean(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut token = String::new();
    let mut chars = 0usize;
    let flush = |out: &mut String, token: &mut String, chars: &mut usize| {
        if *chars > LONGEST_TOKEN {
            out.push_str(&format!("… ({} characters)", *chars));
        }
        out.push_str(token);
        token.clear();
        *chars = 0;
    };
    for c in text.chars() {
        if c.is_whitespace() || c == '`' {
            flush(&mut out, &mut token, &mut chars);
            if c == '\n' && keep_newlines || c == ' ' || c == '`' {
                out.push(c);
            } else {
                out.push_str(&escape_char(c));
            }
            continue;
        }
        chars += 1;
        if chars > LONGEST_TOKEN {
            continue;
        }
        if c.is_control() {
            token.push_str(&escape_char(c));
        } else {
            token.push(c);
        }
        if chars == LONGEST_TOKEN {
            // The cut, said once the token's length is known.
            out.push_str(&token);
            token.clear();
        }
    }
    flush(&mut out, &mut token, &mut chars);
    out
}

/// One character as the banners escape its bytes.
fn escape_char(c: char) -> String {
    let mut buf = [0u8; 4];
    portscout::Banner::new(c.encode_utf8(&mut buf).as_bytes()).escaped()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_as_banners_are() {
        assert_eq!(
            clean("invalid target `127.0.0.1\x1b[31m`", false),
            r"invalid target `127.0.0.1\x1B[31m`"
        );
        assert_eq!(clean("a\nb\r\tc", false), r"a\nb\r\tc");
        assert_eq!(clean("a\nb", true), "a\nb");
        assert_eq!(clean("2 × 3 … é", false), "2 × 3 … é");
        assert_eq!(clean("\u{9b}31m", false), r"\xC2\x9B31m");
    }

    #[test]
    fn long_tokens_are_cut_saying_how_long_they_were() {
        let long = "a".repeat(1_000_000);
        let got = clean(&format!("invalid target `{long}`: no"), false);
        assert_eq!(
            got,
            format!(
                "invalid target `{}… (1000000 characters)`: no",
                "a".repeat(200)
            )
        );
        let exact = "b".repeat(200);
        assert_eq!(clean(&exact, false), exact);
        let cut = clean(&format!("x {} y", "\x07".repeat(300)), false);
        assert_eq!(
            cut,
            format!("x {}… (300 characters) y", r"\x07".repeat(200))
        );
    }
}
