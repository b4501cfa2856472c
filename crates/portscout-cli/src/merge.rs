//! `portscout merge`: ndjson outputs of shards or resumed runs → one result.
//!
//! Reads every input line by line into the library's [`Merger`], prints its conflicts as
//! `warning:` lines on stderr (unless `-q`), then writes the merged result through the usual
//! printer: results ordered by address and port, then hosts down, then the summary.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal};
use std::path::Path;

use portscout::merge::{Merger, ShardProblem};
use portscout::output::{self, ScanInfo};
use portscout::ports::PortSet;

use crate::args::MergeArgs;
use crate::error::{BadInput, Failure, Result};

/// What errors and conflicts call standard input.
const STDIN_NAME: &str = "<stdin>";

/// Runs `portscout merge`.
pub fn run(args: MergeArgs) -> Result<()> {
    if args.files.iter().filter(|f| is_stdin(f)).count() > 1 {
        return Err(BadInput("`-` (standard input) is given more than once".into()).into());
    }
    let mut merger = Merger::new();
    for path in &args.files {
        let read = if is_stdin(path) {
            merger.read(STDIN_NAME, io::stdin().lock())
        } else {
            let name = path.display().to_string();
            let file =
                File::open(path).map_err(|e| BadInput(format!("cannot read `{name}`: {e}")))?;
            merger.read(&name, BufReader::new(file))
        };
        read.map_err(|e| BadInput(e.to_string()))?;
    }
    let merged = merger.finish();
    check_shards(&merged.shard_problems, args.partial)?;
    if !args.quiet {
        for problem in &merged.shard_problems {
            eprintln!("{} partial merge: {problem}", crate::colour::warning());
        }
        for conflict in &merged.conflicts {
            eprintln!("{} {conflict}", crate::colour::warning());
        }
        if merged.unknown > 0 {
            eprintln!(
                "{} skipped {} record(s) of a kind this version does not know",
                crate::colour::warning(),
                merged.unknown
            );
        }
    }

    // Opened only now: the output file may be one of the inputs.
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let colour = crate::colour::for_stream(args.color, to_terminal);
    let mut out = open_output(
        args.output.as_deref(),
        args.format.into(),
        args.show,
        colour,
    )?;
    // ndjson records carry no start time, scan type or port list: the ports are the ones
    // that have a result, the rest stays unknown.
    let port_set = result_ports(&merged.results);
    let info = ScanInfo {
        hosts: merged.summary.hosts,
        ports: port_set.len(),
        banners: merged.results.iter().any(|r| r.banner.is_some()),
        services: merged.results.iter().any(|r| r.service.is_some()),
        command: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        started: None,
        scan_type: None,
        port_set: Some(port_set),
        // The names given are not read back (docs/output.md, Merging).
        names: Default::default(),
    };
    let written = (|| -> Result<()> {
        out.begin(&info)?;
        for result in &merged.results {
            out.result(result)?;
        }
        for host in &merged.hosts_down {
            out.host_down(host)?;
        }
        for (ip, name) in &merged.ptr_names {
            out.host_name(*ip, name)?;
        }
        out.end(&merged.summary)?;
        Ok(())
    })();
    match written {
        // A reader that went away (`portscout merge … | head`) is not a failure.
        Err(Failure::BrokenPipe) => Ok(()),
        other => other,
    }
}

/// Refuses a merge whose inputs are not one whole scan, naming every problem, unless
/// `partial` (and the problems are ones it accepts).
fn check_shards(problems: &[ShardProblem], partial: bool) -> Result<()> {
    let refused: Vec<&ShardProblem> = problems
        .iter()
        .filter(|p| !(partial && p.partial_accepts()))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    // One line (error messages escape line ends: file names may hold any byte).
    let list: Vec<String> = refused.iter().map(|p| p.to_string()).collect();
    let mut message = format!("the inputs are not one whole scan: {}", list.join("; "));
    if refused.iter().all(|p| p.partial_accepts()) {
        message.push_str(" (--partial merges them anyway)");
    }
    Err(BadInput(message).into())
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The ports that have a result.
fn result_ports(results: &[portscout::PortResult]) -> PortSet {
    let mut seen = vec![false; 1 << 16];
    for r in results {
        seen[usize::from(r.port)] = true;
    }
    (0..=u16::MAX).filter(|&p| seen[usize::from(p)]).collect()
}

fn open_output(
    path: Option<&Path>,
    format: output::Format,
    show: portscout::StateFilter,
    colour: bool,
) -> Result<Box<dyn output::Sink + Send>> {
    let writer = crate::paths::open_writer(path, false)?;
    let options = output::PrinterOptions {
        colour,
        // A merge cannot know when its records were found: its ndjson has no `time`.
        clock: None,
        ..output::PrinterOptions::default()
    };
    Ok(output::printer_with_options(format, show, writer, options))
}
