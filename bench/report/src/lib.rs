//! Reads the raw results that `bench/run.sh` writes (`results.csv`, one row per run) and turns
//! them into a Markdown table ([`render_table`]) and an SVG chart ([`chart::write_svg`]).
//!
//! The CSV has a header line and no quoting (the script never writes a comma inside a field):
//!
//! ```text
//! scenario,round,tool,status,exit_code,wall_s,user_s,sys_s,max_rss_kb,
//! open_expected,open_found,open_missed,open_invented,
//! filtered_reported,filtered_expected,filtered_found,filtered_missed,filtered_invented,
//! [probes,space,send_s,]note
//! ```
//!
//! `status` is `ok`, `failed` (non-zero exit) or `timeout` (killed at the per-run time limit).
//! Medians, CPU, memory and accuracy are taken over the `ok` runs only. The optional columns
//! `probes` (SYNs counted entering the target), `space` (addresses × ports scanned) and `send_s`
//! (seconds between the first and the last packet into a silent target) are filled for the wide
//! scans W1–W4 only; [`render_w_table`] shows them.

pub mod chart;

use std::collections::HashMap;
use std::fmt::Write as _;

/// The tool every ratio is measured against: portscout with its default engine.
pub const BASELINE: &str = "portscout-auto";

/// How one run ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Exited 0 before the time limit.
    Ok,
    /// Exited non-zero (or died of a signal) before the time limit.
    Failed,
    /// Killed at the per-run time limit.
    Timeout,
}

/// One row of `results.csv`: one run of one tool in one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub scenario: String,
    pub round: u32,
    pub tool: String,
    pub status: Status,
    pub exit_code: i32,
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_kb: u64,
    pub open_expected: u64,
    pub open_found: u64,
    pub open_missed: u64,
    pub open_invented: u64,
    /// Whether the tool lists filtered ports at all (portscout and nmap do).
    pub filtered_reported: bool,
    pub filtered_expected: u64,
    pub filtered_found: u64,
    pub filtered_missed: u64,
    pub filtered_invented: u64,
    /// SYNs counted as they entered the target (W scenarios), if the CSV has them.
    pub probes: Option<u64>,
    /// Addresses × ports the run scanned (W scenarios).
    pub space: Option<u64>,
    /// Seconds from the first to the last packet into the target (W1, W4).
    pub send_s: Option<f64>,
    pub note: String,
}

impl Run {
    /// User plus system CPU time.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
}

const HEADER: [&str; 19] = [
    "scenario",
    "round",
    "tool",
    "status",
    "exit_code",
    "wall_s",
    "user_s",
    "sys_s",
    "max_rss_kb",
    "open_expected",
    "open_found",
    "open_missed",
    "open_invented",
    "filtered_reported",
    "filtered_expected",
    "filtered_found",
    "filtered_missed",
    "filtered_invented",
    "note",
];

/// Parses the whole CSV. Columns are found by their header names, so their order may change.
pub fn parse_csv(text: &str) -> Result<Vec<Run>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("empty CSV")?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut col = HashMap::new();
    for want in HEADER {
        let i = names
            .iter()
            .position(|n| *n == want)
            .ok_or_else(|| format!("CSV header has no `{want}` column"))?;
        col.insert(want, i);
    }
    let mut runs = Vec::new();
    for (n, line) in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let get = |name: &str| -> Result<&str, String> {
            fields
                .get(col[name])
                .copied()
                .ok_or_else(|| format!("line {}: no `{name}` field", n + 1))
        };
        let num = |name: &str| -> Result<f64, String> {
            let f = get(name)?;
            f.parse()
                .map_err(|_| format!("line {}: `{name}` is not a number: {f:?}", n + 1))
        };
        // An optional column: absent (older CSVs) or empty is None.
        let opt = |name: &str| -> Result<Option<f64>, String> {
            match names.iter().position(|n| *n == name) {
                None => Ok(None),
                Some(i) => match fields.get(i).map(|f| f.trim()) {
                    None | Some("") => Ok(None),
                    Some(f) => f
                        .parse()
                        .map(Some)
                        .map_err(|_| format!("line {}: `{name}` is not a number: {f:?}", n + 1)),
                },
            }
        };
        let status = match get("status")? {
            "ok" => Status::Ok,
            "failed" => Status::Failed,
            "timeout" => Status::Timeout,
            other => return Err(format!("line {}: unknown status {other:?}", n + 1)),
        };
        runs.push(Run {
            scenario: get("scenario")?.to_string(),
            round: num("round")? as u32,
            tool: get("tool")?.to_string(),
            status,
            exit_code: num("exit_code")? as i32,
            wall_s: num("wall_s")?,
            user_s: num("user_s")?,
            sys_s: num("sys_s")?,
            max_rss_kb: num("max_rss_kb")? as u64,
            open_expected: num("open_expected")? as u64,
            open_found: num("open_found")? as u64,
            open_missed: num("open_missed")? as u64,
            open_invented: num("open_invented")? as u64,
            filtered_reported: get("filtered_reported")? == "1",
            filtered_expected: num("filtered_expected")? as u64,
            filtered_found: num("filtered_found")? as u64,
            filtered_missed: num("filtered_missed")? as u64,
            filtered_invented: num("filtered_invented")? as u64,
            probes: opt("probes")?.map(|x| x as u64),
            space: opt("space")?.map(|x| x as u64),
            send_s: opt("send_s")?,
            note: get("note")?.to_string(),
        });
    }
    Ok(runs)
}

/// The median of `xs` (mean of the middle two for an even count); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// `value / baseline`, formatted like `1.61x`; `n/a` without a usable baseline.
pub fn ratio(value: f64, baseline: Option<f64>) -> String {
    match baseline {
        Some(b) if b > 0.0 => format!("{:.2}x", value / b),
        _ => "n/a".to_string(),
    }
}

/// Every run of one tool in one scenario, summarised.
#[derive(Clone, Debug)]
pub struct Summary {
    pub scenario: String,
    pub tool: String,
    pub runs: Vec<Run>,
}

impl Summary {
    fn ok(&self) -> impl Iterator<Item = &Run> {
        self.runs.iter().filter(|r| r.status == Status::Ok)
    }
    fn count(&self, s: Status) -> usize {
        self.runs.iter().filter(|r| r.status == s).count()
    }
    /// Median wall time of the runs that completed.
    pub fn median_wall(&self) -> Option<f64> {
        median(&self.ok().map(|r| r.wall_s).collect::<Vec<_>>())
    }
    /// Shortest wall time of the runs that completed.
    pub fn min_wall(&self) -> Option<f64> {
        self.ok().map(|r| r.wall_s).min_by(f64::total_cmp)
    }
    /// Median user+system CPU time of the runs that completed.
    pub fn median_cpu(&self) -> Option<f64> {
        median(&self.ok().map(Run::cpu_s).collect::<Vec<_>>())
    }
    /// The largest peak RSS of the runs that completed, in KiB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.ok().map(|r| r.max_rss_kb).max()
    }
    /// Median wall time of the runs that failed (how long a tool lasted before it crashed).
    pub fn failed_wall(&self) -> Option<f64> {
        median(
            &self
                .runs
                .iter()
                .filter(|r| r.status == Status::Failed)
                .map(|r| r.wall_s)
                .collect::<Vec<_>>(),
        )
    }
    /// The longest time a timed-out run was given (a lower bound on the tool's time).
    pub fn timeout_wall(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter(|r| r.status == Status::Timeout)
            .map(|r| r.wall_s)
            .max_by(f64::total_cmp)
    }
}

/// Groups runs by (scenario, tool), scenarios and tools in the order they first appear.
pub fn summarise(runs: &[Run]) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for r in runs {
        match out
            .iter_mut()
            .find(|s| s.scenario == r.scenario && s.tool == r.tool)
        {
            Some(s) => s.runs.push(r.clone()),
            None => out.push(Summary {
                scenario: r.scenario.clone(),
                tool: r.tool.clone(),
                runs: vec![r.clone()],
            }),
        }
    }
    let scen_order: Vec<String> = dedup(runs.iter().map(|r| r.scenario.clone()));
    let tool_order: Vec<String> = dedup(runs.iter().map(|r| r.tool.clone()));
    let pos = |v: &[String], x: &str| v.iter().position(|y| y == x).unwrap_or(usize::MAX);
    out.sort_by_key(|s| (pos(&scen_order, &s.scenario), pos(&tool_order, &s.tool)));
    out
}

fn dedup(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

fn range(xs: impl Iterator<Item = u64>) -> String {
    let v: Vec<u64> = xs.collect();
    let (lo, hi) = (v.iter().min().copied(), v.iter().max().copied());
    match (lo, hi) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => "?".to_string(),
    }
}

/// "exact in 5/5 runs", or the spread of missed and invented ports with how many runs were wrong.
fn accuracy(
    runs: &[&Run],
    expected: fn(&Run) -> u64,
    missed: fn(&Run) -> u64,
    invented: fn(&Run) -> u64,
) -> String {
    let n = runs.len();
    let wrong = runs.iter().filter(|r| missed(r) + invented(r) > 0).count();
    if wrong == 0 {
        return format!("exact in {n}/{n} runs");
    }
    format!(
        "missed {} of {}, invented {} ({wrong}/{n} runs wrong)",
        range(runs.iter().map(|r| missed(r))),
        range(runs.iter().map(|r| expected(r))),
        range(runs.iter().map(|r| invented(r))),
    )
}

fn runs_cell(s: &Summary) -> String {
    let (ok, failed, timeout) = (
        s.count(Status::Ok),
        s.count(Status::Failed),
        s.count(Status::Timeout),
    );
    if failed == 0 && timeout == 0 {
        return ok.to_string();
    }
    let mut parts = vec![format!("{ok} ok")];
    if failed > 0 {
        let codes = dedup(
            s.runs
                .iter()
                .filter(|r| r.status == Status::Failed)
                .map(|r| r.exit_code.to_string()),
        );
        parts.push(format!("{failed} failed (exit {})", codes.join("/")));
    }
    if timeout > 0 {
        parts.push(format!("{timeout} timed out"));
    }
    parts.join(", ")
}

fn secs(x: Option<f64>) -> String {
    x.map_or("—".to_string(), |v| format!("{v:.3}"))
}

/// The Markdown table: one row per scenario and tool, in first-appearance order.
pub fn render_table(runs: &[Run]) -> String {
    let sums = summarise(runs);
    let mut out = String::new();
    out.push_str(
        "| scenario | tool | runs | median wall (s) | min wall (s) | median CPU (s) \
         | peak RSS (MiB) | open ports | filtered ports | wall vs portscout-auto |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|---|---|---:|\n");
    for s in &sums {
        let base = sums
            .iter()
            .find(|b| b.scenario == s.scenario && b.tool == BASELINE)
            .and_then(Summary::median_wall);
        let ok: Vec<&Run> = s.ok().collect();
        let (wall, rat) = match (s.median_wall(), s.timeout_wall()) {
            (Some(m), _) => (format!("{m:.3}"), ratio(m, base)),
            (None, Some(t)) => (
                format!("timeout (>{t:.0})"),
                match base {
                    Some(b) if b > 0.0 => format!(">{:.0}x", t / b),
                    _ => "n/a".to_string(),
                },
            ),
            (None, None) => (
                s.failed_wall()
                    .map_or("—".to_string(), |f| format!("failed (after {f:.1})")),
                "n/a".to_string(),
            ),
        };
        let (open, filtered) = if ok.is_empty() {
            ("—".to_string(), "—".to_string())
        } else {
            let open = accuracy(
                &ok,
                |r| r.open_expected,
                |r| r.open_missed,
                |r| r.open_invented,
            );
            let filtered = if ok.iter().all(|r| r.filtered_reported) {
                accuracy(
                    &ok,
                    |r| r.filtered_expected,
                    |r| r.filtered_missed,
                    |r| r.filtered_invented,
                )
            } else {
                "not reported".to_string()
            };
            (open, filtered)
        };
        let rss = s
            .peak_rss_kb()
            .map_or("—".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.scenario,
            s.tool,
            runs_cell(s),
            wall,
            secs(s.min_wall()),
            secs(s.median_cpu()),
            rss,
            open,
            filtered,
            rat,
        );
    }
    out
}

/// The tools the W scenarios' wall times are measured against: zmap (the SYN scans), nmap
/// (the connect scans: W1).
pub const W_BASELINES: [&str; 2] = ["zmap", "nmap"];

/// The wide scans (issue 18): one row per W scenario and tool, with the probes that reached
/// the target, their number per address and port, the send rate into a silent target and the
/// wall time against zmap's and nmap's (where they ran). Empty when the runs hold no W
/// scenario.
pub fn render_w_table(runs: &[Run]) -> String {
    let sums: Vec<Summary> = summarise(runs)
        .into_iter()
        .filter(|s| s.scenario.starts_with('W'))
        .collect();
    if sums.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    out.push_str(
        "| scenario | tool | runs | median wall (s) | median probes | probes per address and port \
         | median SYNs/s into the target | peak RSS (MiB) | open ports | wall vs zmap \
         | wall vs nmap |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|\n");
    let med = |xs: Vec<f64>| median(&xs);
    for s in &sums {
        // A baseline that only timed out counts as minus its limit: a lower bound.
        let base = |tool: &str| {
            sums.iter()
                .find(|b| b.scenario == s.scenario && b.tool == tool)
                .and_then(|b| b.median_wall().or(b.timeout_wall().map(|t| -t)))
        };
        let ok: Vec<&Run> = s.ok().collect();
        // A timed-out run's probes still say how far it got.
        let all = &s.runs;
        let probes = med(all
            .iter()
            .filter_map(|r| r.probes.map(|p| p as f64))
            .collect());
        let per = med(all
            .iter()
            .filter(|r| r.status == Status::Ok)
            .filter_map(|r| match (r.probes, r.space) {
                (Some(p), Some(n)) if n > 0 => Some(p as f64 / n as f64),
                _ => None,
            })
            .collect());
        let rate = med(all
            .iter()
            .filter_map(|r| match (r.probes, r.send_s) {
                (Some(p), Some(t)) if t > 0.0 => Some(p as f64 / t),
                _ => None,
            })
            .collect());
        // Against a baseline that timed out, the ratio is an upper bound.
        let versus = |b: Option<f64>| -> String {
            match (s.median_wall(), s.timeout_wall(), b) {
                (_, _, None) => "—".to_string(),
                (Some(m), _, Some(b)) if b < 0.0 => format!("<{:.2}x", m / -b),
                (Some(m), _, Some(b)) => ratio(m, Some(b)),
                (None, Some(t), Some(b)) if b > 0.0 => format!(">{:.1}x", t / b),
                _ => "n/a".to_string(),
            }
        };
        let wall = match (s.median_wall(), s.timeout_wall()) {
            (Some(m), _) => format!("{m:.3}"),
            (None, Some(t)) => format!("timeout (>{t:.0})"),
            (None, None) => s
                .failed_wall()
                .map_or("—".to_string(), |f| format!("failed (after {f:.1})")),
        };
        let open = if ok.is_empty() {
            "—".to_string()
        } else {
            accuracy(
                &ok,
                |r| r.open_expected,
                |r| r.open_missed,
                |r| r.open_invented,
            )
        };
        let rss = s
            .peak_rss_kb()
            .map_or("—".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.scenario,
            s.tool,
            runs_cell(s),
            wall,
            probes.map_or("—".to_string(), |p| format!("{p:.0}")),
            per.map_or("—".to_string(), |p| format!("{p:.2}")),
            rate.map_or("—".to_string(), |r| format!("{r:.0}")),
            rss,
            open,
            versus(base(W_BASELINES[0])),
            versus(base(W_BASELINES[1])),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run record for tests (also used by `chart`'s tests).
    pub(crate) fn run(scenario: &str, tool: &str, status: Status, wall: f64, missed: u64) -> Run {
        Run {
            scenario: scenario.into(),
            round: 1,
            tool: tool.into(),
            status,
            exit_code: if status == Status::Ok { 0 } else { 124 },
            wall_s: wall,
            user_s: 0.25,
            sys_s: 0.5,
            max_rss_kb: 8192,
            open_expected: 9,
            open_found: 9 - missed,
            open_missed: missed,
            open_invented: 0,
            filtered_reported: tool.starts_with("portscout"),
            filtered_expected: 0,
            filtered_found: 0,
            filtered_missed: 0,
            filtered_invented: 0,
            probes: None,
            space: None,
            send_s: None,
            note: String::new(),
        }
    }

    #[test]
    fn w_table_probes_rate_and_zmap_ratio() {
        let csv = "scenario,round,tool,status,exit_code,wall_s,user_s,sys_s,max_rss_kb,\
open_expected,open_found,open_missed,open_invented,filtered_reported,filtered_expected,\
filtered_found,filtered_missed,filtered_invented,probes,space,send_s,note\n\
S1,1,portscout-auto,ok,0,0.300,0.30,0.05,4096,9,9,0,0,1,0,0,0,0,,,,\n\
W1,1,portscout-syn,ok,0,3.000,0.30,0.05,10240,0,0,0,0,0,0,0,0,0,131072,65536,2.000,\n\
W1,1,zmap,ok,0,2.000,0.30,0.05,20480,0,0,0,0,0,0,0,0,0,131072,65536,1.000,zmap -P 2\n\
W1,1,nmap,timeout,124,300.000,0.30,0.05,0,0,0,0,0,0,0,0,0,0,4000,65536,299.000,\n\
W2,1,zmap,ok,0,4.000,0.30,0.05,20480,3072,3070,2,0,0,0,0,0,0,196608,196608,,\n";
        let runs = parse_csv(csv).unwrap();
        assert_eq!(runs[0].probes, None);
        assert_eq!(runs[1].probes, Some(131072));
        assert_eq!(runs[1].send_s, Some(2.0));
        let t = render_w_table(&runs);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2 + 4, "{t}");
        assert_eq!(
            lines[2],
            "| W1 | portscout-syn | 1 | 3.000 | 131072 | 2.00 | 65536 | 10.0 | exact in 1/1 runs \
             | 1.50x | <0.01x |"
        );
        assert_eq!(
            lines[4],
            "| W1 | nmap | 0 ok, 1 timed out | timeout (>300) | 4000 | — | 13 | — | — | >150.0x | n/a |"
        );
        assert!(
            lines[5].contains("| missed 2 of 3072, invented 0 (1/1 runs wrong) | 1.00x | — |"),
            "{}",
            lines[5]
        );
        // No W scenario, no W table; older CSVs without the columns still parse.
        assert_eq!(render_w_table(&runs[..1]), "");
        let old = "scenario,round,tool,status,exit_code,wall_s,user_s,sys_s,max_rss_kb,\
open_expected,open_found,open_missed,open_invented,filtered_reported,filtered_expected,\
filtered_found,filtered_missed,filtered_invented,note\n\
S1,1,nmap,ok,0,1.220,0.30,0.05,22400,9,9,0,0,1,0,0,0,0,\n";
        assert_eq!(parse_csv(old).unwrap()[0].space, None);
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.5]), Some(7.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ratio_formats_and_refuses_bad_baselines() {
        assert_eq!(ratio(1.22, Some(0.76)), "1.61x");
        assert_eq!(ratio(0.76, Some(0.76)), "1.00x");
        assert_eq!(ratio(1.0, Some(0.0)), "n/a");
        assert_eq!(ratio(1.0, None), "n/a");
    }

    #[test]
    fn csv_round_trip_by_header_names() {
        let csv = "scenario,round,tool,status,exit_code,wall_s,user_s,sys_s,max_rss_kb,\
open_expected,open_found,open_missed,open_invented,filtered_reported,filtered_expected,\
filtered_found,filtered_missed,filtered_invented,note\n\
S1,1,nmap,ok,0,1.220,0.30,0.05,22400,9,9,0,0,1,0,0,0,0,\n\
S4,1,nmap,timeout,124,120.004,80.1,20.2,23000,7,0,7,0,1,1001,0,1001,0,time limit\n\
S7,1,portscout-auto,ok,0,2.142,0.02,0.27,8916,3,2,1,0,1,0,3734,0,3734,\
tc: scanner side 8455 dropped (2398 sent) target side 0 dropped (2396 sent)\n";
        let runs = parse_csv(csv).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].status, Status::Ok);
        assert!((runs[0].cpu_s() - 0.35).abs() < 1e-9);
        assert_eq!(runs[1].status, Status::Timeout);
        assert_eq!(runs[1].note, "time limit");
        assert_eq!(runs[2].scenario, "S7");
        assert_eq!(runs[2].filtered_invented, 3734);
        assert!(runs[2].note.starts_with("tc: scanner side 8455 dropped"));
        assert!(parse_csv("scenario,tool\nS1,x\n").is_err());
    }

    #[test]
    fn table_keeps_the_scripts_scenario_order_s4h_and_s7_included() {
        let mut s7 = run("S7", "portscout-auto", Status::Ok, 2.1, 1);
        s7.filtered_reported = true;
        s7.filtered_found = 3734;
        s7.filtered_invented = 3734;
        let runs = vec![
            run("S4", "portscout-auto", Status::Ok, 3.3, 0),
            run("S4H", "portscout-auto", Status::Ok, 5.2, 0),
            run("S4H", "nmap", Status::Timeout, 120.0, 7),
            run("S5", "portscout-auto", Status::Ok, 3.5, 0),
            s7,
            run("S7", "nmap", Status::Ok, 4.2, 0),
        ];
        let t = render_table(&runs);
        let rows: Vec<(&str, &str)> = t
            .lines()
            .skip(2)
            .map(|l| {
                let c: Vec<&str> = l.split(" | ").collect();
                (c[0].trim_start_matches("| "), c[1])
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("S4", "portscout-auto"),
                ("S4H", "portscout-auto"),
                ("S4H", "nmap"),
                ("S5", "portscout-auto"),
                ("S7", "portscout-auto"),
                ("S7", "nmap"),
            ]
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[4].ends_with("| >23x |"), "{}", lines[4]);
        // S7's truth has no filtered port: every one reported is invented.
        assert_eq!(
            lines[6],
            "| S7 | portscout-auto | 1 | 2.100 | 2.100 | 0.750 | 8.0 | missed 1 of 9, invented 0 \
             (1/1 runs wrong) | missed 0 of 0, invented 3734 (1/1 runs wrong) | 1.00x |"
        );
        assert!(lines[7].ends_with("| 2.00x |"), "{}", lines[7]);
    }

    #[test]
    fn table_medians_ratios_accuracy_and_timeouts() {
        let runs = vec![
            run("S1", "portscout-auto", Status::Ok, 0.8, 0),
            run("S1", "nmap", Status::Ok, 1.6, 0),
            run("S1", "portscout-auto", Status::Ok, 0.6, 0),
            run("S1", "nmap", Status::Ok, 1.2, 1),
            run("S1", "portscout-auto", Status::Ok, 0.7, 0),
            run("S1", "nmap", Status::Ok, 1.4, 0),
            run("S4", "portscout-auto", Status::Ok, 2.0, 0),
            run("S4", "nmap", Status::Timeout, 120.0, 9),
            run("S4", "seed", Status::Failed, 78.1, 9),
        ];
        let t = render_table(&runs);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2 + 5, "{t}");
        assert_eq!(
            lines[2],
            "| S1 | portscout-auto | 3 | 0.700 | 0.600 | 0.750 | 8.0 | exact in 3/3 runs \
             | exact in 3/3 runs | 1.00x |"
        );
        assert_eq!(
            lines[3],
            "| S1 | nmap | 3 | 1.400 | 1.200 | 0.750 | 8.0 | missed 0–1 of 9, invented 0 \
             (1/3 runs wrong) | not reported | 2.00x |"
        );
        assert_eq!(
            lines[5],
            "| S4 | nmap | 0 ok, 1 timed out | timeout (>120) | — | — | — | — | — | >60x |"
        );
        assert_eq!(
            lines[6],
            "| S4 | seed | 0 ok, 1 failed (exit 124) | failed (after 78.1) | — | — | — | — | — | n/a |"
        );
    }
}
