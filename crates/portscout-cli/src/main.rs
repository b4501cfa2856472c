//! The `portscout` command: parses arguments, runs the library's scan, prints through a sink.
//!
//! Exit codes: 0 done, 1 the scan failed at run time, 2 bad input (nothing was sent),
//! 130 interrupted (SIGINT/SIGTERM: the scan paused and wrote a resume file).

mod args;
mod colour;
mod merge;
mod progress;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let (cli, raw) = args::parse();
    colour::init_stderr(match &cli.command {
        Some(args::Command::Merge(m)) => m.color,
        None => cli.scan.color,
    });
    let result = match cli.command {
        Some(args::Command::Merge(m)) => merge::run(m).map(|()| run::Finished::Done),
        None => run::run(cli.scan, raw),
    };
    match result {
        Ok(run::Finished::Done) => ExitCode::SUCCESS,
        Ok(run::Finished::Paused) => ExitCode::from(130),
        Err(err) => {
            eprintln!("{} {}", colour::error(), run::message(&err));
            ExitCode::from(run::exit_code(&err))
        }
    }
}
