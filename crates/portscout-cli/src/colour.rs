//! When the command colours what it writes (`--color`, `NO_COLOR`).
//!
//! Coloured, and nothing else: the progress bar, the `error:` and `warning:` prefixes on
//! standard error, and the STATE column of the text format on standard output. The machine
//! formats (json, ndjson, csv, grep) are never coloured.
//!
//! `--color auto` (the default) colours a stream only when it is a terminal and `NO_COLOR` is
//! not set to a non-empty value (<https://no-color.org>). `--color always` colours even a pipe
//! or a file (`portscout … --color always | less -R`), and, as no-color.org asks of an explicit
//! command-line choice, overrides `NO_COLOR`. `--color never` never colours.

use std::ffi::OsStr;
use std::io::IsTerminal;

use clap::ValueEnum;

/// `--color` values.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour a stream that is a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Always colour (even a pipe or a file, and whatever NO_COLOR says).
    Always,
    /// Never colour.
    Never,
}

/// Whether `NO_COLOR` (its value) asks for no colour: set and not empty (no-color.org).
pub fn no_color(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// Whether to colour a stream: `terminal` says whether it is one, `no_color` whether
/// `NO_COLOR` is set to a non-empty value.
pub fn decide(choice: ColorChoice, terminal: bool, no_color: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    }
}

/// [`decide`] for this process: `terminal` from the stream, `NO_COLOR` from the environment.
pub fn for_stream(choice: ColorChoice, terminal: bool) -> bool {
    decide(
        choice,
        terminal,
        no_color(std::env::var_os("NO_COLOR").as_deref()),
    )
}

/// Decides the colour of standard error (the prefixes and the progress bar) once, at start.
pub fn init_stderr(choice: ColorChoice) {
    // The bar's styles and the prefixes below follow this; it replaces console's own guess
    // (which treats an empty NO_COLOR as set and knows nothing of --color).
    console::set_colors_enabled_stderr(for_stream(choice, std::io::stderr().is_terminal()));
}

/// Whether standard error is coloured (after [`init_stderr`]).
pub fn stderr() -> bool {
    console::colors_enabled_stderr()
}

/// `error:`, bold red when standard error is coloured (the codes clap writes for its own).
pub fn error() -> String {
    prefix("error:", "\x1b[1m\x1b[31m")
}

/// `warning:`, bold yellow when standard error is coloured (as clap's).
pub fn warning() -> String {
    prefix("warning:", "\x1b[1m\x1b[33m")
}

fn prefix(word: &str, sgr: &str) -> String {
    if stderr() {
        format!("{sgr}{word}\x1b[0m")
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_set_and_not_empty() {
        assert!(!no_color(None));
        assert!(!no_color(Some(OsStr::new(""))));
        assert!(no_color(Some(OsStr::new("1"))));
        assert!(no_color(Some(OsStr::new("0"))), "any value, even 0");
    }

    #[test]
    fn colour_decision_table() {
        use ColorChoice::*;
        // (choice, terminal, NO_COLOR set) -> colour
        let table = [
            (Auto, true, false, true),
            (Auto, true, true, false),
            (Auto, false, false, false),
            (Auto, false, true, false),
            (Always, false, false, true),
            (Always, true, true, true),
            (Always, false, true, true),
            (Never, true, false, false),
            (Never, false, false, false),
            (Never, true, true, false),
        ];
        for (choice, terminal, nc, want) in table {
            assert_eq!(
                decide(choice, terminal, nc),
                want,
                "{choice:?}, terminal {terminal}, NO_COLOR {nc}"
            );
        }
    }
}
