//! The `portscout` command: parses arguments, runs the library's scan, prints through a sink.
//!
//! Exit codes: 0 done, 1 the scan failed at run time, 2 bad input (nothing was sent),
//! 130 interrupted (SIGINT/SIGTERM: the scan paused and wrote a resume file).

mod args;
mod generate;
mod merge;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let (cli, raw) = args::parse();
    let result = match cli.command {
        Some(args::Command::Merge(m)) => merge::run(m).map(|()| run::Finished::Done),
        Some(args::Command::Completions { shell }) => {
            generate::completions(shell).map(|()| run::Finished::Done)
        }
        Some(args::Command::Man { dir }) => {
            generate::man(dir.as_deref()).map(|()| run::Finished::Done)
        }
        None => run::run(cli.scan, raw),
    };
    match result {
        Ok(run::Finished::Done) => ExitCode::SUCCESS,
        Ok(run::Finished::Paused) => ExitCode::from(130),
        Err(err) => {
            eprintln!("error: {}", run::message(&err));
            ExitCode::from(run::exit_code(&err))
        }
    }
}
