//! The `portscout` command: parses arguments, runs the library's scan, prints through a sink.
//!
//! Exit codes: 0 done, 1 the scan failed at run time, 2 bad input (nothing was sent),
//! 130 interrupted by Ctrl-C (the default SIGINT disposition).

mod args;
mod merge;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::parse();
    let result = match cli.command {
        Some(args::Command::Merge(m)) => merge::run(m),
        None => run::run(cli.scan),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", run::message(&err));
            ExitCode::from(run::exit_code(&err))
        }
    }
}
