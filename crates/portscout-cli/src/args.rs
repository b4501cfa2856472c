//! The command line, defined once with clap's derive API.

use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use portscout::output::Format;
use portscout::plan::{Order, Shard};
use portscout::ports::PortSet;
use portscout::probe::ScanType;
use portscout::scan::Engine;
use portscout::StateFilter;

use crate::colour::ColorChoice;
use crate::config;
use crate::error::BadInput;

/// An exact, fast TCP port scanner. Scan only hosts you own or are allowed to scan.
#[derive(Debug, Parser)]
#[command(name = "portscout", version, about, after_help = AFTER_HELP,
          args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Another command than a scan.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The scan (when no command is given).
    #[command(flatten)]
    pub scan: Args,
}

/// Commands besides scanning.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Combine ndjson outputs (shards, resumed runs) into one result, deduplicated and ordered
    /// per host and port, in any output format.
    Merge(MergeArgs),
    /// List the scans recorded in a scan history (`--db FILE`): id, start, status, counts.
    History(crate::history::HistoryArgs),
    /// Show what changed between two scans of a scan history: ports opened, closed or
    /// changed state, hosts up, down, new or gone.
    Diff(crate::history::DiffArgs),

    /// Print a shell completion script to standard output
    /// (`portscout completions bash > /etc/bash_completion.d/portscout`).
    Completions {
        /// The shell: bash, zsh, fish (also elvish, powershell).
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) to standard output (`portscout man > portscout.1`), or
    /// write every page (`portscout.1`, `portscout-merge.1`, …) into a directory.
    Man {
        /// Write portscout.1 and one page per command into DIR instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `portscout merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// ndjson files written by portscout (`--format ndjson`); `-` for standard input.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,

    /// Port states to list: open, closed, filtered, down (comma-separated) or all. `down` lists
    /// a record per host found down; without it they are listed for scans of at most 256
    /// addresses and only counted in the summary for wider ones.
    #[arg(long, value_name = "STATES", default_value = "open", value_parser = parse_show)]
    pub show: StateFilter,

    /// Write the result to FILE instead of standard output (it may be one of the inputs: it
    /// is written once every input has been read).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print nothing on standard error but errors (no conflict warnings).
    #[arg(short, long)]
    pub quiet: bool,

    /// Merge even when shards are missing or repeated, or an input has no scan identity
    /// (written by an older portscout, or a killed run); each is named on standard error.
    /// Without it, the merge refuses them (exit 2). Shards of different scans are always
    /// refused.
    #[arg(long)]
    pub partial: bool,

    /// Colour: auto (only on a terminal, and not when NO_COLOR is set), always, never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// The scan's options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Targets: addresses, CIDR blocks (198.18.0.0/24, 2001:db8::/120), octet ranges
    /// (198.18.8.10-39) or host names.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read targets from FILE (one or more per line, `#` comments; `-` for stdin). Also `-iL`.
    #[arg(long = "input-list", value_name = "FILE")]
    pub input_list: Option<PathBuf>,

    /// Never scan these targets (comma-separated; repeatable).
    #[arg(long, value_name = "LIST")]
    pub exclude: Vec<String>,

    /// Never scan the targets listed in FILE. Also nmap's --excludefile.
    #[arg(long, value_name = "FILE", visible_alias = "excludefile")]
    pub exclude_file: Option<PathBuf>,

    /// Ports to scan: 22,80,443 or 1-1024 or 22,8000-8100; `-p-` for all. Default: top 1000.
    /// nmap's protocol prefix `T:` (TCP) is accepted (`-p T:22,80`); `U:` and `S:` are not
    /// (TCP only).
    #[arg(short = 'p', long = "ports", value_name = "PORTS", allow_hyphen_values = true,
          value_parser = parse_ports, conflicts_with = "top_ports")]
    pub ports: Option<PortSet>,

    /// Scan the N most common ports.
    #[arg(long, value_name = "N")]
    pub top_ports: Option<usize>,

    /// Fast mode, as nmap's -F: the 100 most common ports (--top-ports 100).
    #[arg(short = 'F', long, conflicts_with_all = ["ports", "top_ports"])]
    pub fast: bool,

    /// Never scan these ports.
    #[arg(long, value_name = "PORTS", allow_hyphen_values = true, value_parser = parse_ports)]
    pub exclude_ports: Option<PortSet>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,

    /// Port states to list: open, closed, filtered, down (comma-separated) or all. `down` lists
    /// a record per host found down; without it they are listed for scans of at most 256
    /// addresses and only counted in the summary for wider ones.
    #[arg(long, value_name = "STATES", default_value = "open", value_parser = parse_show)]
    pub show: StateFilter,

    /// List open ports only, as nmap's --open: the same as --show open (the default). Hosts
    /// without an open port are still reported, in one line.
    #[arg(long, conflicts_with = "show")]
    pub open: bool,

    /// Show the reason of each port's state, as nmap's --reason. portscout always does (the
    /// REASON column, the `reason` fields): accepted so that nmap command lines run.
    #[arg(long)]
    pub reason: bool,

    /// Write results to FILE instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write nmap's normal output (the text format, without colour) to FILE. Also
    /// nmap's -oN FILE.
    #[arg(long = "output-normal", value_name = "FILE")]
    pub output_normal: Option<PathBuf>,

    /// Also write nmap's XML to FILE. Also nmap's -oX FILE.
    #[arg(long = "output-xml", value_name = "FILE")]
    pub output_xml: Option<PathBuf>,

    /// Also write nmap's grepable output to FILE. Also nmap's -oG FILE.
    #[arg(long = "output-grep", value_name = "FILE")]
    pub output_grep: Option<PathBuf>,

    /// Also write all three: BASENAME.nmap (text), BASENAME.xml and BASENAME.gnmap (grep).
    /// Also nmap's -oA BASENAME.
    #[arg(long = "output-all", value_name = "BASENAME")]
    pub output_all: Option<PathBuf>,

    /// Wait exactly this long for each probe's answer, in milliseconds (or with a unit: 500ms,
    /// 2s). Default: adapt to the round trips measured per host (RFC 6298).
    #[arg(long, value_name = "MS", allow_hyphen_values = true, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,

    /// The shortest adaptive timeout (default 50ms).
    #[arg(long, value_name = "MS", allow_hyphen_values = true, value_parser = parse_timeout,
          conflicts_with = "timeout")]
    pub min_rtt_timeout: Option<Duration>,

    /// The longest adaptive timeout (default 10s).
    #[arg(long, value_name = "MS", allow_hyphen_values = true, value_parser = parse_timeout,
          conflicts_with = "timeout")]
    pub max_rtt_timeout: Option<Duration>,

    /// Send a probe that got no answer at most N more times (default 10; a host that shows
    /// no loss gets 1). Also nmap's --max-retries.
    #[arg(long, value_name = "N", visible_alias = "max-retries")]
    pub retries: Option<u8>,

    /// Send at most PPS probes per second. Also nmap's --max-rate.
    #[arg(long, value_name = "PPS", visible_alias = "max-rate")]
    pub rate: Option<u32>,

    /// Send at least PPS probes per second, even when loss would slow the scan down.
    #[arg(long, value_name = "PPS")]
    pub min_rate: Option<u32>,

    /// nmap's timing template, 2 to 5 or its name (polite, normal, aggressive, insane): -T4.
    /// Options given explicitly win over it. 0 and 1 (paranoid, sneaky) are refused: they
    /// wait longer between probes than portscout can pace (`docs/timing.md`).
    #[arg(short = 'T', long = "timing", value_name = "0-5", value_parser = parse_template)]
    pub timing: Option<Template>,

    /// Give up on a host after this long, as nmap's --host-timeout: not supported yet (exit 2).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true,
          value_parser = refuse_host_timeout)]
    pub host_timeout: Option<String>,

    /// Scan every target even if nothing of it answers (nmap's -Pn). Default: a host whose
    /// probes all go unanswered, or that is unreachable, is reported down and skipped.
    #[arg(long)]
    pub no_host_check: bool,

    /// Probes in flight at once (default: from the descriptor limit, at most 4096).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,

    /// Worker threads: event loops for sharded (default: one per core), blocking threads for
    /// threads (default: 64).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,

    /// Scan type: connect (a full handshake through the kernel; no privilege needed) or syn (a
    /// bare SYN through a raw socket, half-open, faster; needs root or CAP_NET_RAW). Also
    /// nmap's -sT and -sS.
    #[arg(long = "scan", value_name = "TYPE", default_value = "connect", value_parser = parse_scan_type)]
    pub scan_type: ScanType,

    /// Engine: auto (the fastest here: sharded), threads, async or sharded.
    #[arg(long, value_name = "ENGINE", default_value = "auto", value_parser = parse_engine)]
    pub engine: Engine,

    /// Grab banners: what the service on each open port sends first (on HTTP ports such as
    /// 80 and 8080, its answer to `HEAD /`), at most 1024 bytes, printed escaped as printable
    /// ASCII in every format. Grabs run beside the scan (a plain connect, no privilege needed).
    #[arg(long)]
    pub banners: bool,

    /// How long one banner grab may take in all (connect, request, reading), in milliseconds
    /// (or with a unit: 500ms, 2s). Default 1s.
    #[arg(long, value_name = "MS", allow_hyphen_values = true, value_parser = parse_timeout,
          requires = "banners")]
    pub banner_timeout: Option<Duration>,

    /// Detect the service and version on each open port (also nmap's -sV): name, product,
    /// version, extra information, OS hints and CPEs, in every format. Detection runs beside
    /// the scan (a plain connect, no privilege needed); each open port is reported once, when
    /// its detection is over (at most about 6 s; a silent port about 4 s).
    #[arg(long)]
    pub service_version: bool,

    /// nmap's service probe database (nmap-service-probes) to use after the built-in probes,
    /// or `none` for the built-in probes alone. Default: nmap's installed one
    /// (/usr/share/nmap/nmap-service-probes, …) when there is one, else the built-in probes
    /// only.
    #[arg(long, value_name = "FILE", requires = "service_version")]
    pub service_db: Option<PathBuf>,

    /// How many of nmap's probes a port gets, 0 (only those written for its port) to 9 (all),
    /// as nmap's --version-intensity (default 7). Applies to nmap's database; the built-in
    /// probes are always sent.
    #[arg(long, value_name = "0-9", value_parser = clap::value_parser!(u8).range(0..=9),
          requires = "service_version")]
    pub version_intensity: Option<u8>,

    /// Stop once N open ports are found, print them, and exit 0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_open: Option<u64>,

    /// Probe order: random (a permutation of every target × port, keyed by --seed) or serial.
    #[arg(long, value_name = "ORDER", default_value = "random", value_parser = parse_order)]
    pub order: Order,

    /// Seed of the random order (default: a random one). Shards of one scan need the same.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Scan only shard I of N (1-based): the N shards of a scan, with the same --seed and
    /// arguments, are disjoint and together probe everything once.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Print the probes that would be sent (ndjson: {"ip":…,"port":…}) and send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// On Ctrl-C or SIGTERM, write what is left to FILE (default: portscout.resume).
    #[arg(long, value_name = "FILE")]
    pub resume_file: Option<PathBuf>,

    /// Continue the interrupted scan saved in FILE (its arguments come from the file).
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,

    /// Record the scan in the scan history FILE (SQLite; created if missing): its arguments,
    /// start, end and every result. `portscout history` lists the scans, `portscout diff`
    /// compares two.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Print nothing on standard error but errors (no progress bar either).
    #[arg(short, long)]
    pub quiet: bool,

    /// Say more on standard error: the timing line (probes sent, retransmissions, window,
    /// round trip) after the summary. -vv says as much as -v for now.
    #[arg(short = 'v', long, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// IPv6 only, as nmap's -6: a host name stands for its first IPv6 address, and an IPv4
    /// target is refused (exit 2). IPv6 addresses and blocks are scanned without it too.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Never look up host names of the addresses scanned (PTR records), as nmap's -n. By
    /// default every host that is up is looked up, beside the scan (at most 16 at once, 2 s
    /// each; loopback addresses from /etc/hosts only).
    #[arg(
        short = 'n',
        long = "no-reverse-dns",
        conflicts_with = "reverse_dns_all"
    )]
    pub no_reverse_dns: bool,

    /// Look up the host name (PTR record) of every address, hosts found down too, as nmap's
    /// -R.
    #[arg(short = 'R', long = "reverse-dns-all")]
    pub reverse_dns_all: bool,

    /// Read options from this config file (TOML, keys are long option names: `format =
    /// "json"`) instead of $PORTSCOUT_CONFIG or ~/.config/portscout/config.toml. An option
    /// given on the command line always wins over the file's.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,

    /// Read no config file.
    #[arg(long)]
    pub no_config: bool,

    /// Colour: auto (only on a terminal, and not when NO_COLOR is set), always (even piped,
    /// whatever NO_COLOR says), never. Coloured: the text format's STATE column, the progress
    /// bar, the error: and warning: prefixes.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Where an interrupted scan's resume file goes when `--resume-file` is not given.
pub const DEFAULT_RESUME_FILE: &str = "portscout.resume";

impl Args {
    /// Where the resume file goes: `--resume-file`, or [`DEFAULT_RESUME_FILE`].
    pub fn resume_file(&self) -> PathBuf {
        self.resume_file
            .clone()
            .unwrap_or_else(|| DEFAULT_RESUME_FILE.into())
    }
}

impl Args {
    /// The files `-oN`, `-oX`, `-oG` and `-oA` add beside the main output, with their formats,
    /// in that order.
    pub fn extra_outputs(&self) -> Vec<(Format, PathBuf)> {
        let mut out = Vec::new();
        let one = |p: &Option<PathBuf>, f: Format| p.clone().map(|p| (f, p));
        out.extend(one(&self.output_normal, Format::Text));
        out.extend(one(&self.output_xml, Format::Xml));
        out.extend(one(&self.output_grep, Format::Grep));
        if let Some(base) = &self.output_all {
            for (format, ext) in [
                (Format::Text, "nmap"),
                (Format::Xml, "xml"),
                (Format::Grep, "gnmap"),
            ] {
                let mut name = base.as_os_str().to_owned();
                name.push(".");
                name.push(ext);
                out.push((format, PathBuf::from(name)));
            }
        }
        out
    }
}

/// `--format` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Per-host tables, like nmap's normal output.
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per line, as results are found.
    Ndjson,
    /// Comma-separated values.
    Csv,
    /// One line per host, like nmap's -oG.
    Grep,
    /// nmap's XML (-oX): valid against nmap's DTD, read by ndiff and other nmap-XML tools.
    Xml,
    /// ip:port per open port, one per line, as found (naabu's default), for pipes.
    List,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Csv => Format::Csv,
            FormatArg::Grep => Format::Grep,
            FormatArg::Xml => Format::Xml,
            FormatArg::List => Format::List,
        }
    }
}

const AFTER_HELP: &str = "\
A scan reads options from a config file when one exists: --config FILE, else $PORTSCOUT_CONFIG
(empty: none), else $XDG_CONFIG_HOME/portscout/config.toml (default ~/.config/portscout/). The
command line always wins over the file; --no-config reads none.

Exit status: 0 the scan completed, 1 it failed while running, 2 bad input (nothing was sent),
130 interrupted (Ctrl-C). `portscout diff --exit-code`: 0 no change, 1 changes, 2 bad input.";

/// The command line, parsed, with what the config file added to it.
#[derive(Debug)]
pub struct Parsed {
    /// The effective arguments: the config file's and the command line's.
    pub cli: Cli,
    /// The effective arguments as words (without the program name): the config file's
    /// (`--key=value`) then the command line's. A resume file stores these, so that resuming
    /// does not depend on the config file.
    pub args: Vec<String>,
    /// The config file read, if any, and the arguments it added (none when the command line
    /// gave all its options).
    pub config: Option<(PathBuf, Vec<String>)>,
}

/// Why the command line cannot be used.
#[derive(Debug)]
pub enum ArgsError {
    /// The command line itself (or `--help`, `--version`): clap prints it and exits.
    Clap(clap::Error),
    /// The config file: exit 2.
    Config(BadInput),
}

/// Parses the process arguments (accepting nmap's `-iL`, `-Pn`, `-sS`, `-sT`) and, for a
/// scan, the config file (`docs/config.md`).
pub fn parse() -> Result<Parsed, ArgsError> {
    parse_from(std::env::args_os(), |name| std::env::var_os(name))
}

/// [`parse`] of `argv` (the program name first), with `env` reading the environment.
///
/// The command line is parsed alone first: a command (`merge`) or `--resume` reads no config
/// file. Otherwise the file's options that the command line does not give come first, and
/// everything is parsed again by the same clap definition.
pub fn parse_from(
    argv: impl IntoIterator<Item = std::ffi::OsString>,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Parsed, ArgsError> {
    let argv: Vec<std::ffi::OsString> = argv.into_iter().collect();
    check_output_spellings(argv.get(1..).unwrap_or_default()).map_err(ArgsError::Config)?;
    check_s_options(argv.get(1..).unwrap_or_default()).map_err(ArgsError::Config)?;
    let argv = nmap_spellings(argv);
    let words = |args: &[std::ffi::OsString]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    let command_line = words(argv.get(1..).unwrap_or_default());
    // clap's own messages (bad values, --help) follow --color too; read before parsing, as
    // they are written while parsing. Auto is clap's: a terminal, and no NO_COLOR.
    let cmd = Cli::command().color(match color_given(&command_line) {
        Some(ColorChoice::Always) => clap::ColorChoice::Always,
        Some(ColorChoice::Never) => clap::ColorChoice::Never,
        Some(ColorChoice::Auto) | None => clap::ColorChoice::Auto,
    });
    let matches = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(ArgsError::Clap)?;
    let alone = Cli::from_arg_matches(&matches).map_err(ArgsError::Clap)?;
    if alone.command.is_some() || alone.scan.resume.is_some() {
        return Ok(Parsed {
            cli: alone,
            args: command_line,
            config: None,
        });
    }
    let location = config::locate(alone.scan.config.as_deref(), alone.scan.no_config, env);
    let Some((path, text)) = config::read(&location).map_err(ArgsError::Config)? else {
        return Ok(Parsed {
            cli: alone,
            args: command_line,
            config: None,
        });
    };
    let from_file = config::file_args(&cmd, &path, &text, |id| {
        matches.value_source(id) == Some(ValueSource::CommandLine)
    })
    .map_err(ArgsError::Config)?;
    let args: Vec<String> = from_file.iter().chain(&command_line).cloned().collect();
    let mut merged = argv;
    let after_program = merged.len().min(1);
    merged.splice(
        after_program..after_program,
        from_file.iter().map(Into::into),
    );
    let cli = Cli::try_parse_from(merged).map_err(|e| {
        // Not expected: the file and the command line each parse, and a key that conflicts
        // with the command line is dropped.
        ArgsError::Config(BadInput(format!(
            "config file `{}` with this command line: {}",
            path.display(),
            config::clap_message(&e)
        )))
    })?;
    Ok(Parsed {
        cli,
        args,
        config: Some((path, from_file)),
    })
}

/// The last `--color WHEN` (or `--color=WHEN`) among the arguments, if its value is valid.
fn color_given(raw: &[String]) -> Option<ColorChoice> {
    let mut found = None;
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        let value = match a.strip_prefix("--color") {
            Some("") => it.next().map(String::as_str),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        if let Some(choice) = value.and_then(|v| ColorChoice::from_str(v, false).ok()) {
            found = Some(choice);
        }
    }
    found
}

/// Parses the arguments stored in a resume file (without the program name).
pub fn parse_stored(args: &[String]) -> Result<Args, clap::Error> {
    let argv = std::iter::once("portscout".to_string()).chain(args.iter().cloned());
    let cli = Cli::try_parse_from(nmap_spellings(argv.map(Into::into)))?;
    Ok(cli.scan)
}

/// With `--resume FILE`, the only other arguments allowed: the rest comes from the file.
/// Returns the first argument that is not allowed.
pub fn not_allowed_with_resume(raw: &[String]) -> Option<&str> {
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--resume" | "--color" => {
                it.next();
            }
            "-q" | "--quiet" | "--dry-run" | "--no-config" | "-v" | "-vv" | "--verbose" => {}
            a if a.starts_with("--resume=") || a.starts_with("--color=") => {}
            other => return Some(other),
        }
    }
    None
}

/// The commands besides a scan: their arguments are left as they are.
const COMMANDS: [&str; 6] = ["merge", "history", "diff", "completions", "man", "help"];

/// nmap's output options spelled in a way portscout does not take: `-o` and one letter
/// other than `-oN`, `-oX`, `-oG`, `-oA` (nmap's `-oS`, `-oM`, a typo), or `-o` with a value
/// that looks like one of those letters (`-o X scan.xml` writes a file named `X` and scans
/// `scan.xml`).
fn check_output_spellings(args: &[std::ffi::OsString]) -> Result<(), BadInput> {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if words
        .first()
        .is_some_and(|w| COMMANDS.contains(&w.as_str()))
    {
        return Ok(());
    }
    const KNOWN: &str =
        "-oN FILE (text), -oX FILE (xml), -oG FILE (grep), -oA BASENAME (all three)";
    for (i, w) in words.iter().enumerate() {
        if w == "--" {
            break;
        }
        let letters = w.strip_prefix("-o").unwrap_or_default();
        if letters.len() == 1 && letters.bytes().all(|b| b.is_ascii_alphabetic()) {
            if !"NXGA".contains(letters) {
                return Err(BadInput(format!(
                    "unknown output option `{w}`: portscout writes {KNOWN}, or --format FORMAT -o FILE"
                )));
            }
        } else if w == "-o" || w == "--output" {
            let value = words.get(i + 1).map(String::as_str).unwrap_or_default();
            if value.len() == 1 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
                let next = words.get(i + 2).map_or("FILE", String::as_str);
                return Err(BadInput(format!(
                    "`{w} {value}` would write the results to a file named `{value}`: nmap's \
                     spelling is `-o{up} {next}`, without a space ({KNOWN}); for a file named \
                     `{value}`, write `{w} ./{value}`",
                    up = value.to_ascii_uppercase()
                )));
            }
        }
    }
    Ok(())
}

/// nmap's `-s` options, letter by letter (`-sS`, `-sT`, and nmap's combined `-sSV`): what each
/// letter becomes, or why it is refused. Every `-s` option is read here, in one place.
const S_LETTERS: &[(char, Result<&str, &str>)] = &[
    ('S', Ok("--scan=syn")),
    ('T', Ok("--scan=connect")),
    (
        'U',
        Err("UDP scan is not supported yet: portscout scans TCP (-sT, the default, or -sS)"),
    ),
    (
        'n',
        Err(
            "host discovery without a port scan (ping scan) is not supported yet: portscout \
             always scans ports, and reports a host that answers nothing as down",
        ),
    ),
    ('V', Ok("--service-version")),
];

/// What the `-s` option `word` (`-sS`, `-sSV`) stands for: the long options of its letters, or
/// why one of them is refused. `None`: `word` is no `-s` option.
fn s_option(word: &str) -> Option<Result<Vec<&'static str>, String>> {
    let letters = word.strip_prefix("-s").filter(|l| !l.is_empty())?;
    Some(
        letters
            .chars()
            .map(|c| match S_LETTERS.iter().find(|(l, _)| *l == c) {
                Some((_, Ok(long))) => Ok(*long),
                Some((_, Err(why))) if letters.len() == 1 => Err(format!("`{word}`: {why}")),
                Some((_, Err(why))) => Err(format!("`{word}` (its -s{c}): {why}")),
                None => Err(format!(
                    "`{word}`: nmap's -s{c} is not supported: portscout scans with -sT \
                     (connect, the default) or -sS (syn)"
                )),
            })
            .collect(),
    )
}

/// nmap's `-s` options that portscout refuses (`-sU`, `-sn`, a letter it does not
/// know): exit 2 with a message saying so, not clap's "unexpected argument '-s'".
fn check_s_options(args: &[std::ffi::OsString]) -> Result<(), BadInput> {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if words
        .first()
        .is_some_and(|w| COMMANDS.contains(&w.as_str()))
    {
        return Ok(());
    }
    for w in words.iter().take_while(|w| *w != "--") {
        if let Some(Err(why)) = s_option(w) {
            return Err(BadInput(why));
        }
    }
    Ok(())
}

/// Rewrites nmap's multi-letter short options (`-iL`, `-Pn`, the `-s` options of
/// [`S_LETTERS`], and for a scan `-oN`, `-oX`, `-oG`, `-oA`) into their long forms.
pub fn nmap_spellings(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let command = args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| COMMANDS.contains(&a));
    let mut past_options = false;
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        if a == "--" {
            past_options = true;
        }
        let output = if command || past_options {
            None
        } else if a == "-oN" {
            Some("--output-normal")
        } else if a == "-oX" {
            Some("--output-xml")
        } else if a == "-oG" {
            Some("--output-grep")
        } else if a == "-oA" {
            Some("--output-all")
        } else {
            None
        };
        if let Some(long) = output {
            out.push(long.into());
        } else if a == "-iL" {
            out.push("--input-list".into());
        } else if a == "-Pn" {
            out.push("--no-host-check".into());
        } else if let Some(Ok(longs)) = (!command && !past_options)
            .then(|| a.to_str().and_then(s_option))
            .flatten()
        {
            out.extend(longs.into_iter().map(Into::into));
        } else {
            out.push(a);
        }
    }
    out
}

/// nmap's timing templates (`-T0` … `-T5`) that portscout can follow: what each sets, unless
/// the option is given (`docs/timing.md`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Template {
    /// `-T2`: one probe at a time, spaced (nmap waits 0.4 s between probes): `--rate 2`.
    Polite,
    /// `-T3`: the defaults.
    Normal,
    /// `-T4`: `--max-rtt-timeout 1250ms --retries 6`.
    Aggressive,
    /// `-T5`: `--max-rtt-timeout 300ms --retries 2`.
    Insane,
}

impl Template {
    /// The probes per second at most, if the template limits it.
    pub fn rate(self) -> Option<u32> {
        (self == Template::Polite).then_some(2)
    }

    /// The longest adaptive timeout, if the template sets it.
    pub fn max_rtt_timeout(self) -> Option<Duration> {
        match self {
            Template::Aggressive => Some(Duration::from_millis(1250)),
            Template::Insane => Some(Duration::from_millis(300)),
            Template::Polite | Template::Normal => None,
        }
    }

    /// The most retries, if the template sets it.
    pub fn retries(self) -> Option<u8> {
        match self {
            Template::Aggressive => Some(6),
            Template::Insane => Some(2),
            Template::Polite | Template::Normal => None,
        }
    }
}

/// `-T`'s value: 0 to 5 or nmap's names; 0 and 1 are refused.
fn parse_template(s: &str) -> Result<Template, String> {
    match s.to_ascii_lowercase().as_str() {
        "0" | "paranoid" => Err(too_slow("-T0 (paranoid)", "5 minutes")),
        "1" | "sneaky" => Err(too_slow("-T1 (sneaky)", "15 seconds")),
        "2" | "polite" => Ok(Template::Polite),
        "3" | "normal" => Ok(Template::Normal),
        "4" | "aggressive" => Ok(Template::Aggressive),
        "5" | "insane" => Ok(Template::Insane),
        _ => Err(format!(
            "`{s}`: expected 0 to 5, or paranoid, sneaky, polite, normal, aggressive, insane"
        )),
    }
}

/// Why a template slower than portscout can pace is refused.
fn too_slow(template: &str, wait: &str) -> String {
    format!(
        "nmap's {template} waits {wait} between probes, longer than portscout can pace (its \
         slowest is --rate 1, one probe per second; -T2 is --rate 2)"
    )
}

/// `--host-timeout`: refused, saying why.
fn refuse_host_timeout(s: &str) -> Result<String, String> {
    Err(format!(
        "--host-timeout {s}: giving up on a host mid-scan is not supported yet (portscout \
         reports a host that answers nothing as down once its probes time out; --max-rtt-timeout \
         and --retries bound how long that takes)"
    ))
}

/// A port list, with nmap's protocol prefixes: `T:` (TCP) applies to the ports after it and
/// is dropped; `U:` (UDP) and `S:` (SCTP) are refused (portscout scans TCP only).
fn parse_ports(s: &str) -> Result<PortSet, String> {
    let mut tcp = Vec::new();
    let mut prefixed = false;
    for item in s.split(',') {
        let item = item.trim();
        let (proto, rest) = match item.split_once(':') {
            Some((p, rest)) if p.len() == 1 => (Some(p.to_ascii_uppercase()), rest),
            _ => (None, item),
        };
        match proto.as_deref() {
            None => tcp.push(rest),
            Some("T") => {
                prefixed = true;
                tcp.push(rest);
            }
            Some("U") => {
                return Err(format!(
                    "`{item}`: UDP ports are not supported yet: portscout scans TCP only \
                     (T:PORTS, or no prefix)"
                ))
            }
            Some("S") => {
                return Err(format!(
                    "`{item}`: SCTP ports are not supported: portscout scans TCP only \
                     (T:PORTS, or no prefix)"
                ))
            }
            Some(_) => {
                return Err(format!(
                    "`{item}`: unknown protocol prefix (nmap's are T:, U:, S:; portscout scans TCP)"
                ))
            }
        }
    }
    if !prefixed {
        return PortSet::parse(s).map_err(|e| e.to_string());
    }
    PortSet::parse(&tcp.join(",")).map_err(|e| e.to_string())
}

fn parse_scan_type(s: &str) -> Result<ScanType, String> {
    s.parse().map_err(|e: portscout::Error| e.to_string())
}

fn parse_engine(s: &str) -> Result<Engine, String> {
    s.parse().map_err(|e: portscout::Error| e.to_string())
}

fn parse_order(s: &str) -> Result<Order, String> {
    s.parse().map_err(|e: portscout::Error| e.to_string())
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse().map_err(|e: portscout::Error| e.to_string())
}

fn parse_show(s: &str) -> Result<StateFilter, String> {
    s.parse().map_err(|e: portscout::Error| e.to_string())
}

/// Parses a timeout: whole milliseconds (`500`), or with a unit (`500ms`, `2s`). Must be > 0.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid timeout `{s}`: expected a positive number of milliseconds");
    let (digits, scale) = if let Some(d) = s.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = s.strip_suffix('s') {
        (d, 1000)
    } else {
        (s, 1)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ms: u64 = digits.parse().map_err(|_| bad())?;
    let ms = ms.checked_mul(scale).filter(|&ms| ms > 0).ok_or_else(bad)?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("500"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-5", "", "1.5", "abc", "0s", "99999999999999999999"] {
            let err = parse_timeout(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn color_is_read_before_parsing() {
        let raw = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(color_given(&raw("127.0.0.1 -p 1")), None);
        assert_eq!(
            color_given(&raw("--color never 127.0.0.1")),
            Some(ColorChoice::Never)
        );
        assert_eq!(
            color_given(&raw("--color=always -p 70000")),
            Some(ColorChoice::Always)
        );
        assert_eq!(
            color_given(&raw("--color always --color=never")),
            Some(ColorChoice::Never),
            "the last one"
        );
        assert_eq!(color_given(&raw("--color sometimes")), None);
        assert_eq!(color_given(&raw("-- --color always")), None);
    }

    #[test]
    fn nmap_version_detection_spelling() {
        let args = nmap_spellings(["portscout", "-sV", "h", "--", "-sV"].map(Into::into));
        assert_eq!(args[1], "--service-version");
        assert_eq!(args[4], "-sV", "after `--` it is a target");
        let merge = nmap_spellings(["portscout", "merge", "-sV"].map(Into::into));
        assert_eq!(merge[2], "-sV");
    }

    #[test]
    fn nmap_input_list_spelling() {
        let args = nmap_spellings(["portscout", "-iL", "t.txt", "-Pn"].map(Into::into));
        assert_eq!(args[1], "--input-list");
        assert_eq!(args[3], "--no-host-check");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
