//! The `portscout` command: parses arguments, runs the library's scan, prints through a sink.
//!
//! Exit codes: 0 done, 1 the scan failed at run time, 2 bad input (nothing was sent),
//! 130 interrupted (SIGINT/SIGTERM: the scan paused and wrote a resume file).

mod args;
mod colour;
mod config;
mod db;
mod error;
mod generate;
mod history;
mod merge;
mod paths;
mod progress;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = match args::parse() {
        Ok(parsed) => parsed,
        Err(args::ArgsError::Clap(e)) => clap_exit(e),
        Err(args::ArgsError::Config(e)) => {
            eprintln!("error: {}", error::clean(&e.0, false));
            return ExitCode::from(2);
        }
    };
    colour::init_stderr(match &parsed.cli.command {
        Some(args::Command::Merge(m)) => m.color,
        _ => parsed.cli.scan.color,
    });
    let result = match parsed.cli.command {
        Some(args::Command::Merge(m)) => merge::run(m).map(|()| ExitCode::SUCCESS),
        Some(args::Command::History(h)) => history::list(h).map(|()| ExitCode::SUCCESS),
        Some(args::Command::Diff(d)) => history::diff(d),
        Some(args::Command::Completions { shell }) => {
            generate::completions(shell).map(|()| ExitCode::SUCCESS)
        }
        Some(args::Command::Man { dir }) => {
            generate::man(dir.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        None => run::run(parsed.cli.scan, parsed.args).map(|finished| match finished {
            run::Finished::Done => ExitCode::SUCCESS,
            run::Finished::Paused => ExitCode::from(130),
        }),
    };
    match result {
        Ok(code) => code,
        // A reader that went away (`portscout … | head`) is not a failure.
        Err(error::Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "{} {}",
                colour::error(),
                error::clean(&err.to_string(), false)
            );
            // The config file is never mentioned on a good run; when a run fails, it may be
            // why.
            if let Some((path, added)) = parsed.config.filter(|(_, added)| !added.is_empty()) {
                let note = format!(
                    "note: config file `{}` added: {} (--no-config reads none)",
                    path.display(),
                    added.join(" ")
                );
                eprintln!("{}", error::clean(&note, false));
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// Exits as clap does for this error. clap repeats a bad value as given, so when an argument
/// holds control characters or an overlong token, the arguments are cleaned
/// ([`error::clean`]) and parsed again, and that error (about the cleaned value) is the one
/// shown.
fn clap_exit(e: clap::Error) -> ! {
    if e.use_stderr() {
        let raw: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let cleaned: Vec<String> = raw.iter().map(|a| error::clean(a, false)).collect();
        if cleaned != raw {
            if let Err(args::ArgsError::Clap(again)) =
                args::parse_from(cleaned.into_iter().map(Into::into), |_| None)
            {
                again.exit()
            }
            eprint!("{}", error::clean(&e.render().to_string(), true));
            std::process::exit(e.exit_code())
        }
    }
    e.exit()
}
