//! `portscout completions SHELL` and `portscout man`: both generated from the one clap
//! definition in `args.rs`, so they can never disagree with `--help`.

use std::io::{self, Write};
use std::path::Path;

use crate::error::{Failure, Result};
use clap::CommandFactory;

use crate::args::Cli;

/// Writes the completion script for `shell` to standard output.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "portscout", &mut out);
    finish(out.flush())
}

/// Writes the manual page (section 1, roff) to standard output, or with `dir` every page:
/// `portscout.1` and `portscout-COMMAND.1` for each command.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let Some(dir) = dir else {
        let mut out = io::stdout().lock();
        return finish(render(Cli::command(), &mut out).and_then(|()| out.flush()));
    };
    for (name, page) in pages() {
        let path = dir.join(format!("{name}.1"));
        let mut bytes = Vec::new();
        render(page, &mut bytes)?;
        std::fs::write(&path, bytes)
            .map_err(|e| Failure::io(format_args!("cannot write `{}`", path.display()), e))?;
    }
    Ok(())
}

/// The main page and one page per command (`help` aside), each named as `man` looks it up.
fn pages() -> Vec<(String, clap::Command)> {
    let main = Cli::command();
    let version = main.get_version().unwrap_or_default().to_string();
    let mut pages = vec![("portscout".to_string(), main.clone())];
    for sub in main.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("portscout-{}", sub.get_name());
        pages.push((
            name.clone(),
            sub.clone().name(name).version(version.clone()),
        ));
    }
    pages
}

fn render(cmd: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(cmd).render(out)
}

/// A reader that went away (`portscout man | head`) is not a failure.
fn finish(written: io::Result<()>) -> Result<()> {
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
