//! The `portscout` command: parses arguments, runs the library's scan, prints through a sink.
//!
//! Exit codes: 0 done, 1 the scan failed at run time, 2 bad input (nothing was sent),
//! 130 interrupted by Ctrl-C (the default SIGINT disposition).

mod args;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::parse();
    match run::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", run::message(&err));
            ExitCode::from(run::exit_code(&err))
        }
    }
}
