//! One run of the command: inputs → config → probe space → scan → sink.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::Result;
use portscout::banner::BannerOptions;
use portscout::output::{self, PrinterOptions, ScanInfo, Summary};
use portscout::ports::PortSet;
use portscout::probe::ScanType;
use portscout::scan::ScanStats;
use portscout::scan::{Checkpoint, Scan, ScanConfig};
use portscout::target::{self, Target};
use portscout::{limits, Event, PortState};

use crate::args::{not_allowed_with_resume, parse_stored, Args};
use crate::colour;
use crate::progress::{Bar, BarHandle, BarWhen, StdoutLines};

/// Bad input found by the binary itself (output file, …): exit 2, nothing sent.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// The exit code for an error: 2 for bad input, 1 for a failure while running.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<portscout::Error>() {
            return if e.is_bad_input() { 2 } else { 1 };
        }
        if cause.is::<BadInput>() {
            return 2;
        }
    }
    1
}

/// The error and its causes on one line, skipping a cause whose text the message already holds
/// (library errors often name their source in their own message).
pub fn message(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

/// How a run ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Everything was scanned (or `--max-open` was reached): exit 0.
    Done,
    /// Interrupted: the results so far are written and a resume file says what is left
    /// (exit 130).
    Paused,
}

/// What a resume file holds: the scan's arguments and what the paused scan left.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ResumeFile {
    /// The command line, without the program name (as the first run got it).
    args: Vec<String>,
    checkpoint: Checkpoint,
    /// With `--db`: the scan's id in the history, which the resumed run continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    db_scan: Option<i64>,
}

/// Runs a scan (or a dry run). `raw` is the command line as given, without the program name.
pub fn run(args: Args, raw: Vec<String>) -> Result<Finished> {
    let (args, stored, checkpoint, db_scan) = match &args.resume {
        None => (args, raw, None, None),
        Some(path) => {
            if let Some(token) = not_allowed_with_resume(&raw) {
                return Err(BadInput(format!(
                    "`{token}` cannot be given with --resume: the scan's arguments come from `{}` \
                     (only --dry-run, --quiet and --color may be added)",
                    path.display()
                ))
                .into());
            }
            let file = read_resume_file(path)?;
            let mut stored_args = parse_stored(&file.args).map_err(|e| {
                BadInput(format!(
                    "resume file `{}` holds arguments that do not parse: {}",
                    path.display(),
                    e.kind()
                ))
            })?;
            stored_args.quiet |= args.quiet;
            // Colour is this invocation's choice, not the first run's.
            stored_args.color = args.color;
            if args.dry_run {
                // What is left goes to standard output: the stored `-o FILE` holds the first
                // run's results, which the plan must not overwrite.
                stored_args.dry_run = true;
                stored_args.output = None;
            }
            (stored_args, file.args, Some(file.checkpoint), file.db_scan)
        }
    };
    let resuming = checkpoint.is_some();
    let config = build_config(&args, checkpoint)?;
    if config.scan_type() == ScanType::Syn && !args.dry_run {
        // Before anything is resolved or sent.
        portscout::probe::syn::sockets::raw_sockets_allowed().map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => {
                    anyhow::Error::from(portscout::Error::NeedsRawSockets)
                }
                _ => anyhow::Error::from(e).context("cannot open a raw socket"),
            }
        })?;
    }

    if args.dry_run {
        let plan = config.resolve_plan()?;
        let mut out = open_writer(&args, false)?;
        match output::write_probes(&plan, &mut out).and_then(|_| out.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            other => {
                other?;
            }
        }
        return Ok(Finished::Done);
    }

    // Before anything is resolved or sent: a history file that cannot be used is bad input.
    let recorder = crate::db::start(&args, &stored, db_scan)?;
    let db_scan = recorder.as_ref().map(|r| r.id());
    let mut bar = Bar::new(BarWhen::here(args.quiet, args.dry_run));
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let writer = if to_terminal && bar.is_shown() {
        // Results on the terminal the bar is drawn on: written around it, line by line.
        Box::new(BufWriter::new(StdoutLines::new(bar.handle())))
    } else {
        open_writer(&args, resuming)?
    };
    let options = PrinterOptions {
        colour: colour::for_stream(args.color, to_terminal),
        ..PrinterOptions::default()
    };
    let out = output::printer_with_options(args.format.into(), args.show, writer, options);
    if let Err(e) = limits::raise_nofile_limit() {
        if !args.quiet {
            eprintln!(
                "{} cannot raise the descriptor limit: {e}",
                colour::warning()
            );
        }
    }

    // Elapsed time covers name resolution too, as nmap's does.
    let started = Instant::now();
    let started_at = SystemTime::now();
    // Resolves names and removes exclusions, then starts the workers.
    let mut scan = Scan::start(&config)?;
    bar.start(scan.progress());
    let signals = watch_signals(&scan, &args, bar.handle())?;
    let mut out = crate::db::tee(out, recorder, scan.pauser());
    let space = scan.space();
    let info = ScanInfo {
        hosts: u128::from(space.hosts()),
        ports: space.ports().len(),
        banners: config.banners().is_some(),
        // As the process got it (a resumed scan says `--resume FILE`).
        command: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        started: Some(started_at),
        scan_type: Some(config.scan_type()),
        port_set: Some(space.ports().clone()),
    };
    let mut summary = Summary {
        hosts: info.hosts,
        ..Summary::default()
    };
    // Hosts that answer open on nearly every port (a middlebox): said once, at the end.
    let mut tally = output::OpenTally::new(Some(u64::from(info.ports)));
    let result = (|| -> Result<()> {
        out.begin(&info)?;
        for event in scan.by_ref() {
            let result = match event? {
                Event::Port(result) => result,
                Event::HostDown(host) => {
                    summary.hosts_down += 1;
                    out.host_down(&host)?;
                    continue;
                }
            };
            match result.state {
                PortState::Open => {
                    summary.open += 1;
                    bar.open_found();
                }
                PortState::Closed => summary.closed += 1,
                PortState::Filtered => summary.filtered += 1,
            }
            tally.add(&result);
            out.result(&result)?;
            if args.max_open.is_some_and(|max| summary.open >= max) {
                // Enough: leaving the loop drops the scan, which stops its workers.
                break;
            }
        }
        summary.elapsed = started.elapsed();
        summary.open_everywhere = tally.hosts();
        // Off the screen before the buffered formats write and the summary lines follow.
        bar.finish();
        out.end(&summary)?;
        Ok(())
    })();
    signals.close();
    match result {
        // A reader that went away (`portscout … | head`) is not a failure.
        Err(e) if is_broken_pipe(&e) => return Ok(Finished::Done),
        other => other?,
    }
    if !args.quiet {
        warnings(&summary, scan.stats().as_ref());
        let secs = summary.elapsed.as_secs_f64();
        let probes = summary.open + summary.closed + summary.filtered;
        let down = if summary.hosts_down > 0 {
            format!("; {} host(s) down", summary.hosts_down)
        } else {
            String::new()
        };
        eprintln!(
            "portscout: {} host(s), {probes} ports in {secs:.2} s ({:.0} ports/s): {} open, {} closed, {} filtered{down}",
            summary.hosts,
            probes as f64 / secs.max(1e-9),
            summary.open,
            summary.closed,
            summary.filtered,
        );
        if let Some(stats) = scan.stats() {
            eprintln!("{}", timing_line(&stats, secs));
        }
    }
    let Some(checkpoint) = scan.checkpoint() else {
        return Ok(Finished::Done);
    };
    let file = ResumeFile {
        args: stored,
        checkpoint: checkpoint.clone(),
        db_scan,
    };
    write_resume_file(&args.resume_file, &file)?;
    // Said even with --quiet: without it the user would not know how to go on.
    eprintln!(
        "portscout: paused with {} probe(s) left ({} unanswered); resume with: portscout --resume {}",
        checkpoint.remaining(),
        checkpoint.pending.len(),
        shell_word(&args.resume_file.display().to_string()),
    );
    Ok(Finished::Paused)
}

/// The warnings a finished scan deserves, once each, on stderr: hosts that answered open on
/// nearly every port (a middlebox's answers, not the host's), and probes this host's own
/// kernel refused to send (`local-denied`).
fn warnings(summary: &Summary, stats: Option<&ScanStats>) {
    if !summary.open_everywhere.is_empty() {
        let hosts: Vec<String> = summary
            .open_everywhere
            .iter()
            .map(ToString::to_string)
            .collect();
        eprintln!(
            "{} {} answered open on at least {:.0} % of at least {} ports: something between \
             here and there (a SYN proxy, a tarpit, a load balancer) completes the handshakes; \
             these open ports are likely the network's, not the host's",
            colour::warning(),
            hosts.join(", "),
            output::OPEN_EVERYWHERE_SHARE * 100.0,
            output::OPEN_EVERYWHERE_MIN_PORTS,
        );
    }
    if let Some(n) = stats.map(|s| s.local_denied).filter(|&n| n > 0) {
        eprintln!(
            "{} this host's own kernel refused to send {n} probe(s) (EACCES/EPERM: a broadcast \
             address, or a firewall rule on output); their ports are reported `filtered` / \
             `local-denied`: nothing was learnt about them",
            colour::warning(),
        );
    }
}

/// On the first SIGINT or SIGTERM, pause the scan (results so far are written and a resume
/// file is saved); on the second, quit at once.
fn watch_signals(
    scan: &Scan,
    args: &Args,
    bar: BarHandle,
) -> Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| anyhow::anyhow!("cannot watch for Ctrl-C: {e}"))?;
    let handle = signals.handle();
    let pauser = scan.pauser();
    let quiet = args.quiet;
    let file = args.resume_file.display().to_string();
    std::thread::Builder::new()
        .name("portscout-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for _ in signals.forever() {
                seen += 1;
                if seen > 1 {
                    bar.clear();
                    eprintln!("portscout: interrupted twice: quitting without a resume file");
                    std::process::exit(130);
                }
                if !quiet {
                    // Above the bar, which goes on while the answers in flight come in.
                    bar.suspend(|| {
                        eprintln!(
                            "portscout: interrupted: waiting for the answers in flight, then \
                             saving `{file}` (interrupt again to quit at once)"
                        )
                    });
                }
                pauser.pause();
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot watch for Ctrl-C: {e}"))?;
    Ok(handle)
}

fn read_resume_file(path: &Path) -> Result<ResumeFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("cannot read resume file `{}`: {e}", path.display())))?;
    let file: ResumeFile = serde_json::from_str(&text).map_err(|e| {
        BadInput(format!(
            "`{}` is not a portscout resume file: {e}",
            path.display()
        ))
    })?;
    Ok(file)
}

/// Writes the resume file atomically (a temporary file renamed over it).
fn write_resume_file(path: &Path, file: &ResumeFile) -> Result<()> {
    let tmp = path.with_extension("resume-tmp");
    let write = || -> io::Result<()> {
        let mut w = BufWriter::new(File::create(&tmp)?);
        serde_json::to_writer(&mut w, file)?;
        w.write_all(b"\n")?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| anyhow::anyhow!("cannot write resume file `{}`: {e}", path.display()))
}

/// `s`, quoted for a POSIX shell if it needs to be.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What the timing machinery did, for stderr.
fn timing_line(s: &ScanStats, secs: f64) -> String {
    let ms = |d: Option<std::time::Duration>| {
        d.map_or("-".to_string(), |d| {
            format!("{:.3} ms", d.as_secs_f64() * 1e3)
        })
    };
    format!(
        "portscout: timing: {} probes sent ({:.0}/s), {} retransmitted, {} proven lost, \
         peak window {}, {} congestion cut(s), srtt {}, timeout {}, peak hosts held {}",
        s.attempts,
        s.attempts as f64 / secs.max(1e-9),
        s.retransmissions,
        s.confirmed_losses,
        s.peak_window,
        s.congestion_cuts,
        ms(s.srtt),
        ms(s.timeout),
        s.peak_hosts,
    )
}

fn build_config(args: &Args, resume: Option<Checkpoint>) -> Result<ScanConfig> {
    let mut targets = parse_targets(args.targets.iter().map(String::as_str))?;
    if let Some(path) = &args.input_list {
        // Read as a stream: its addresses come back merged, its host names once each.
        targets.extend(target::read_target_file(path).map_err(portscout::Error::from)?);
    }
    if targets.is_empty() {
        return Err(portscout::Error::EmptyScan("no targets given").into());
    }
    let mut exclude = Vec::new();
    for list in &args.exclude {
        exclude.extend(target::parse_list(list).map_err(portscout::Error::from)?);
    }
    if let Some(path) = &args.exclude_file {
        exclude.extend(target::read_target_file(path).map_err(portscout::Error::from)?);
    }
    let ports = match (&args.ports, args.top_ports) {
        (Some(ports), _) => ports.clone(),
        (None, Some(n)) => PortSet::top(n).map_err(portscout::Error::from)?,
        (None, None) => PortSet::top(1000).map_err(portscout::Error::from)?,
    };
    let mut builder = ScanConfig::builder()
        .scan_type(args.scan_type)
        // Once the sockets are open nothing needs a privilege (see portscout::privilege).
        .drop_privileges(true)
        .engine(args.engine)
        .targets(targets)
        .exclude(exclude)
        .ports(ports);
    if let Some(p) = &args.exclude_ports {
        builder = builder.exclude_ports(p.clone());
    }
    if let Some(t) = args.timeout {
        builder = builder.timeout(t);
    }
    if let Some(t) = args.min_rtt_timeout {
        builder = builder.min_rtt_timeout(t);
    }
    if let Some(t) = args.max_rtt_timeout {
        builder = builder.max_rtt_timeout(t);
    }
    if let Some(r) = args.rate {
        builder = builder.rate(r);
    }
    if let Some(r) = args.min_rate {
        builder = builder.min_rate(r);
    }
    builder = builder.host_check(!args.no_host_check).order(args.order);
    if let Some(seed) = args.seed {
        builder = builder.seed(seed);
    }
    if let Some(shard) = args.shard {
        builder = builder.shard(shard);
    }
    if let Some(c) = resume {
        builder = builder.resume(c);
    }
    if let Some(r) = args.retries {
        builder = builder.retries(r);
    }
    if let Some(c) = args.concurrency {
        builder = builder.concurrency(c as usize);
    }
    if let Some(w) = args.workers {
        builder = builder.workers(w as usize);
    }
    if args.banners {
        let mut options = BannerOptions::default();
        if let Some(t) = args.banner_timeout {
            options = options.with_timeout(t);
        }
        builder = builder.banners(options);
    }
    Ok(builder.build()?)
}

fn parse_targets<'a>(tokens: impl Iterator<Item = &'a str>) -> Result<Vec<Target>> {
    tokens
        .map(|t| Target::parse(t).map_err(|e| portscout::Error::from(e).into()))
        .collect()
}

/// Where results go: `-o FILE` (appended to when resuming, so the first run's results stay)
/// or standard output.
fn open_writer(args: &Args, append: bool) -> Result<Box<dyn Write + Send>> {
    open_writer_at(args.output.as_deref(), append)
}

/// A buffered writer to `path` (appending, or truncating it), or to standard output.
pub fn open_writer_at(path: Option<&Path>, append: bool) -> Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .append(append)
                .truncate(!append)
                .open(path)
                .map_err(|e| {
                    BadInput(format!(
                        "cannot write output file `{}`: {e}",
                        path.display()
                    ))
                })?;
            Box::new(BufWriter::new(file))
        }
        None => Box::new(BufWriter::new(io::stdout())),
    })
}

/// Whether `err` is a write to a reader that went away (`portscout … | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
