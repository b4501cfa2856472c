//! `portscout-bench-report RESULTS.csv OUTDIR`: writes OUTDIR/table.md and OUTDIR/chart.svg
//! from the raw results of `bench/run.sh`, and prints the table.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, outdir] = args.as_slice() else {
        eprintln!("usage: portscout-bench-report RESULTS.csv OUTDIR");
        return ExitCode::from(2);
    };
    match run(csv.into(), outdir.into()) {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portscout-bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(csv: PathBuf, outdir: PathBuf) -> Result<String, String> {
    let text = std::fs::read_to_string(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
    let runs = portscout_bench_report::parse_csv(&text)?;
    let mut table = portscout_bench_report::render_table(&runs);
    let wide = portscout_bench_report::render_w_table(&runs);
    if !wide.is_empty() {
        table.push_str("\nWide scans (W1-W4): probes counted entering the target\n\n");
        table.push_str(&wide);
    }
    let md = outdir.join("table.md");
    std::fs::write(&md, &table).map_err(|e| format!("{}: {e}", md.display()))?;
    portscout_bench_report::chart::write_svg(&runs, &outdir.join("chart.svg"))?;
    Ok(table)
}
