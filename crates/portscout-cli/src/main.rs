//! The `portscout` command: parses arguments, runs the library's scan, prints through a sink.
//!
//! Exit codes: 0 done, 1 the scan failed at run time, 2 bad input (nothing was sent),
//! 130 interrupted (SIGINT/SIGTERM: the scan paused and wrote a resume file).

mod args;
mod db;
mod history;
mod merge;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let (cli, raw) = args::parse();
    let result = match cli.command {
        Some(args::Command::Merge(m)) => merge::run(m).map(|()| ExitCode::SUCCESS),
        Some(args::Command::History(h)) => history::list(h).map(|()| ExitCode::SUCCESS),
        Some(args::Command::Diff(d)) => history::diff(d),
        None => run::run(cli.scan, raw).map(|finished| match finished {
            run::Finished::Done => ExitCode::SUCCESS,
            run::Finished::Paused => ExitCode::from(130),
        }),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", run::message(&err));
            ExitCode::from(run::exit_code(&err))
        }
    }
}
