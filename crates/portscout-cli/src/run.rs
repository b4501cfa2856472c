//! One run of the command: inputs → config → probe space → scan → sink.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use portscout::banner::BannerOptions;
use portscout::names::ReverseDns;
use portscout::output::{self, Format, PrinterOptions};
use portscout::ports::PortSet;
use portscout::scan::{
    Checkpoint, DriveOptions, Driven, Ending, Pauser, Scan, ScanConfig, ScanStats,
};
use portscout::service::{DetectOptions, ProbeDb, ProbeDbError};
use portscout::target::{self, Target};
use portscout::{limits, HostDown, PortResult, PortState, ScanInfo, ScanType, Summary};

use crate::args::{not_allowed_with_resume, parse_stored, Args};
use crate::colour;
use crate::error::{BadInput, Failure, Result};
use crate::paths::{self, Writer};
use crate::progress::{Bar, BarHandle, BarWhen, StdoutLines};

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
    /// Whether the file can still be resumed (absent in files of earlier versions: paused).
    #[serde(default, skip_serializing_if = "ResumeState::is_paused")]
    state: ResumeState,
}

/// A resume file runs once: `--resume` marks it `resuming` before the first probe, and
/// `finished` when the resumed scan ends; a resumed scan paused again writes a new paused file
/// (the same file, unless the stored `--resume-file` names another, which the old one then
/// names).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
enum ResumeState {
    /// What a pause writes: the scan can be resumed.
    #[default]
    Paused,
    /// A run resumed it (process `pid`, started at `since`, seconds since the epoch), and has
    /// not finished or paused (it is running, or it was killed or failed).
    Resuming { pid: u32, since: u64 },
    /// Resumed and paused again: what is left is in `file`.
    Continued { file: PathBuf },
    /// Resumed to the end at `at` (seconds since the epoch): nothing is left.
    Finished { at: u64 },
}

impl ResumeState {
    fn is_paused(&self) -> bool {
        *self == ResumeState::Paused
    }
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `at` (seconds since the epoch) for an error message.
fn when(at: u64) -> String {
    portscout::history::Timestamp(i64::try_from(at).unwrap_or(i64::MAX).saturating_mul(1000))
        .rfc3339()
}

/// Refuses a resume file that was resumed already.
fn check_resumable(path: &Path, file: &ResumeFile) -> Result<(), BadInput> {
    let shown = path.display();
    let why = match &file.state {
        ResumeState::Paused => return Ok(()),
        ResumeState::Finished { at } => format!(
            "its scan was resumed to the end ({}): nothing is left to scan",
            when(*at)
        ),
        ResumeState::Resuming { pid, since } => format!(
            "it was resumed already (process {pid}, {}); a run that was killed or failed \
             leaves its results so far in its outputs",
            when(*since)
        ),
        ResumeState::Continued { file } => format!(
            "it was resumed and paused again: what is left is in `{}`",
            file.display()
        ),
    };
    Err(BadInput(format!(
        "`{shown}` cannot be resumed: {why} (a resume file runs once)"
    )))
}

/// Runs a scan (or a dry run). `raw` is the command line as given, without the program name.
pub fn run(args: Args, raw: Vec<String>) -> Result<Finished> {
    // With --resume: the file given, and what it held.
    let mut resumed_from: Option<(PathBuf, ResumeFile)> = None;
    let (args, stored, checkpoint, db_scan) = match &args.resume {
        None => (args, raw, None, None),
        Some(path) => {
            if let Some(token) = not_allowed_with_resume(&raw) {
                return Err(BadInput(format!(
                    "`{token}` cannot be given with --resume: the scan's arguments come from `{}` \
                     (only --dry-run, --quiet, --verbose and --color may be added)",
                    path.display()
                ))
                .into());
            }
            let file = read_resume_file(path)?;
            check_resumable(path, &file)?;
            let stored_words = file.args.clone();
            let mut stored_args = parse_stored(&file.args).map_err(|e| {
                BadInput(format!(
                    "resume file `{}` holds arguments that do not parse: {}",
                    path.display(),
                    e.kind()
                ))
            })?;
            stored_args.quiet |= args.quiet;
            stored_args.verbose = stored_args.verbose.max(args.verbose);
            if stored_args.quiet {
                // -q given now wins over a stored -v (they cannot go together).
                stored_args.verbose = 0;
            }
            // Colour is this invocation's choice, not the first run's.
            stored_args.color = args.color;
            if args.dry_run {
                // What is left goes to standard output: the stored `-o FILE` holds the first
                // run's results, which the plan must not overwrite.
                stored_args.dry_run = true;
                stored_args.output = None;
            }
            let db_scan = file.db_scan;
            let checkpoint = file.checkpoint.clone();
            resumed_from = Some((path.clone(), file));
            (stored_args, stored_words, Some(checkpoint), db_scan)
        }
    };
    // Elapsed time covers name resolution too, as nmap's does.
    let started = Instant::now();
    let started_at = SystemTime::now();
    let resuming = checkpoint.is_some();
    let config = build_config(&args, checkpoint)?;
    if config.scan_type() == ScanType::Syn && !args.dry_run {
        // Before anything is resolved or sent.
        portscout::probe::syn::sockets::raw_sockets_allowed().map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => {
                    Failure::from(portscout::Error::NeedsRawSockets)
                }
                _ => Failure::io("cannot open a raw socket", e),
            }
        })?;
    }

    // Resolves names, removes exclusions and sizes the probe space: every target and port
    // problem is found here, before any file is touched or any packet sent.
    let plan = config.resolve_plan()?;
    if args.dry_run {
        return dry_run(&args, &plan);
    }

    check_files(&args, resumed_from.as_ref().map(|(path, _)| path.as_path()))?;
    // A resumed run continues the paused run's XML documents: read and checked now, before
    // anything is touched, and rewritten whole at the end.
    let xml_parts = if resuming {
        read_xml_parts(&args)?
    } else {
        Vec::new()
    };
    // Watched from here (before the history is opened and the scan starts): a stop request
    // that comes while the scan starts still gives a resume file.
    let mut stops = StopRequests::watch(&args)?;
    // From here on files are written. A history file that cannot be used is still bad input
    // (before any packet).
    let recorder = crate::db::start(&args, &config, &stored, db_scan)?;
    let db_scan = recorder.as_ref().map(|r| r.id());
    let mut bar = Bar::new(BarWhen::here(args.quiet, args.dry_run));
    let sinks = printers(&args, resuming, xml_parts, &bar)?;
    if let Err(e) = limits::raise_nofile_limit() {
        if !args.quiet {
            eprintln!(
                "{} cannot raise the descriptor limit: {e}",
                colour::warning()
            );
        }
    }

    // Before the first probe: this file is being resumed, and cannot be again.
    mark_resumed(&mut resumed_from, true)?;
    let scan = match Scan::with_plan(&config, plan) {
        Ok(scan) => scan,
        Err(e) => {
            // Nothing was sent: the file can be resumed again.
            mark_resumed(&mut resumed_from, false)?;
            return Err(e.into());
        }
    };
    bar.start(scan.progress());
    stops.attach(scan.pauser(), bar.handle())?;
    // The bar first (off the screen before the buffered formats write), then the history
    // (recorded even if standard output's reader went away), then the printers.
    let mut tee = output::Tee::new(vec![Box::new(BarSink(bar))]);
    if let Some(recorder) = recorder {
        tee.push(Box::new(recorder.paused_by(scan.pauser())));
    }
    for sink in sinks {
        tee.push(sink);
    }
    let options = DriveOptions {
        max_open: args.max_open,
        // As the process got it (a resumed scan says `--resume FILE`).
        command: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        since: started,
        started: started_at,
    };
    let result = scan.drive(&mut tee, &options);
    stops.close();
    let driven = match result.map_err(Failure::from) {
        // A reader that went away (`portscout … | head`) is not a failure.
        Err(Failure::BrokenPipe) => {
            finish_resumed(resumed_from, None)?;
            return Ok(Finished::Done);
        }
        other => other?,
    };
    if !args.quiet {
        report(&driven, args.verbose > 0);
    }
    let Ending::Paused(checkpoint) = &driven.ending else {
        finish_resumed(resumed_from, None)?;
        return Ok(Finished::Done);
    };
    let file = ResumeFile {
        args: stored,
        checkpoint: checkpoint.clone(),
        db_scan,
        state: ResumeState::Paused,
    };
    write_resume_file(&args.resume_file(), &file)?;
    finish_resumed(resumed_from, Some(&args.resume_file()))?;
    // Said even with --quiet: without it the user would not know how to go on.
    eprintln!(
        "portscout: paused with {} probe(s) left ({} unanswered); resume with: portscout --resume {}",
        checkpoint.remaining(),
        checkpoint.pending.len(),
        shell_word(&args.resume_file().display().to_string()),
    );
    Ok(Finished::Paused)
}

/// `--dry-run`: the plan's probes, one per line, to standard output or `-o FILE`.
fn dry_run(args: &Args, plan: &portscout::plan::Plan) -> Result<Finished> {
    if let Some(path) = &args.output {
        paths::check_writable(path, "output file", Writer::Now)?;
    }
    let mut out = open_writer(args, false)?;
    match output::write_probes(plan, &mut out).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => {
            other?;
        }
    }
    Ok(Finished::Done)
}

/// The XML files a scan writes: `--format xml -o FILE`, `-oX FILE`, `-oA`'s `.xml`.
fn xml_files(args: &Args) -> Vec<PathBuf> {
    let main = args
        .output
        .clone()
        .filter(|_| Format::from(args.format) == Format::Xml);
    main.into_iter()
        .chain(
            args.extra_outputs()
                .into_iter()
                .filter(|(f, _)| *f == Format::Xml)
                .map(|(_, p)| p),
        )
        .collect()
}

/// What the paused run wrote in each XML file of a resumed run (a file that is gone is
/// started anew). A file that is not a paused portscout scan's document is bad input.
fn read_xml_parts(args: &Args) -> Result<Vec<(PathBuf, output::XmlPart)>> {
    let mut parts = Vec::new();
    for path in xml_files(args) {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(BadInput(format!(
                    "cannot read output file `{}` to continue it: {e}",
                    path.display()
                ))
                .into())
            }
        };
        let part = output::XmlPart::parse(&text).map_err(|e| {
            BadInput(format!(
                "cannot continue `{}`: it is not the XML document of a paused portscout scan \
                 ({e}); the resumed run rewrites it whole with both parts (move it away to \
                 write a document of the rest only)",
                path.display()
            ))
        })?;
        parts.push((path, part));
    }
    Ok(parts)
}

/// The printers: `--format` to standard output (around the bar on its terminal) or `-o FILE`,
/// then nmap's `-oN/-oX/-oG/-oA` files; appended to when resuming, but for XML files, which
/// are rewritten whole at the end with the paused run's part (`xml_parts`) and this run's.
fn printers(
    args: &Args,
    resuming: bool,
    mut xml_parts: Vec<(PathBuf, output::XmlPart)>,
    bar: &Bar,
) -> Result<Vec<Box<dyn output::Sink + Send>>> {
    // A resumed run's XML file: one document for both parts.
    let mut xml_continued = |format: Format, path: &Path, options: PrinterOptions| -> Result<_> {
        if !resuming || format != Format::Xml {
            return Ok(None);
        }
        let writer = paths::open_replacing(path)?;
        let part = xml_parts
            .iter()
            .position(|(p, _)| p == path)
            .map(|i| xml_parts.swap_remove(i).1);
        Ok(Some(match part {
            Some(part) => output::xml_continuing(args.show, writer, options, part),
            None => output::printer_with_options(format, args.show, writer, options),
        }))
    };
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let options = PrinterOptions {
        colour: colour::for_stream(args.color, to_terminal),
        // Standard output carries results only: the totals are the summary line on standard
        // error. A file (`-o FILE`, like `-oN FILE`) keeps its `Done:` line.
        summary: args.output.is_some(),
        ..PrinterOptions::default()
    };
    let continued = match &args.output {
        Some(path) => xml_continued(args.format.into(), path, options)?,
        None => None,
    };
    let main = match continued {
        Some(printer) => printer,
        None => {
            let writer = if to_terminal && bar.is_shown() {
                // Results on the terminal the bar is drawn on: written around it, line by line.
                Box::new(BufWriter::new(StdoutLines::new(bar.handle())))
            } else {
                open_writer(args, resuming)?
            };
            output::printer_with_options(args.format.into(), args.show, writer, options)
        }
    };
    let mut sinks = vec![main];
    // nmap's -oN/-oX/-oG/-oA: more printers, fed by the same results.
    for (format, path) in args.extra_outputs() {
        let printer = match xml_continued(format, &path, PrinterOptions::default())? {
            Some(printer) => printer,
            None => {
                let writer = paths::open_writer(Some(&path), resuming)?;
                output::printer_with_options(format, args.show, writer, PrinterOptions::default())
            }
        };
        sinks.push(printer);
    }
    Ok(sinks)
}

/// The summary lines on standard error, after the warnings the scan deserves; with `-v`
/// (`verbose`), the timing line too.
fn report(driven: &Driven, verbose: bool) {
    let summary = &driven.summary;
    warnings(summary, driven.stats.as_ref());
    let secs = summary.elapsed.as_secs_f64();
    eprintln!("{}", summary_line(summary));
    if let Some(stats) = driven.stats.filter(|_| verbose) {
        eprintln!("{}", timing_line(&stats, secs));
    }
}

/// The one summary line of a scan, for standard error.
fn summary_line(summary: &Summary) -> String {
    let plural = |n: u128, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let secs = summary.elapsed.as_secs_f64();
    let probes = summary.open + summary.closed + summary.filtered;
    let down = if summary.hosts_down > 0 {
        format!("; {} down", plural(summary.hosts_down.into(), "host"))
    } else {
        String::new()
    };
    format!(
        "portscout: {}, {} in {secs:.2} s ({:.0} ports/s): {} open, {} closed, {} filtered{down}",
        plural(summary.hosts, "host"),
        plural(probes.into(), "port"),
        probes as f64 / secs.max(1e-9),
        summary.open,
        summary.closed,
        summary.filtered,
    )
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

/// Marks the resume file being resumed (`on`) as `resuming`, or back as `paused` when the
/// scan could not start.
fn mark_resumed(resumed_from: &mut Option<(PathBuf, ResumeFile)>, on: bool) -> Result<()> {
    let Some((path, file)) = resumed_from else {
        return Ok(());
    };
    file.state = if on {
        ResumeState::Resuming {
            pid: std::process::id(),
            since: now_secs(),
        }
    } else {
        ResumeState::Paused
    };
    write_resume_file(path, file)
}

/// Every file the scan writes, checked before any is touched: `-o`, `--db` and the resume
/// file go to directories that exist and can be written (the resume file, written after a
/// `sudo` run has become its user, by that user), and no two are the same file.
fn check_files(args: &Args, resumed: Option<&Path>) -> Result<()> {
    let mut files: Vec<(&str, &Path)> = Vec::new();
    if let Some(path) = resumed {
        // Marked as resumed now, and as finished (by the sudo user) at the end.
        paths::check_writable(path, "resume file", Writer::AfterDrop)?;
    }
    if let Some(path) = &args.output {
        paths::check_writable(path, "output file", Writer::Now)?;
        files.push(("output file", path));
    }
    let extra = args.extra_outputs();
    for (_, path) in &extra {
        paths::check_writable(path, "output file", Writer::Now)?;
        files.push(("output file", path));
    }
    if let Some(path) = &args.db {
        paths::check_writable(path, "scan history", Writer::Now)?;
        files.push(("scan history", path));
    }
    let resume_file = args.resume_file();
    match &args.resume_file {
        Some(path) => {
            paths::check_writable(path, "resume file", Writer::AfterDrop)?;
            files.push(("resume file", path));
        }
        // The default place: a scan run where it cannot write is not refused, but told.
        None => {
            if !args.quiet && !paths::is_writable(&resume_file, Writer::AfterDrop) {
                eprintln!(
                    "{} cannot write `{}` here: an interrupted scan could not be resumed \
                     (--resume-file FILE puts it elsewhere)",
                    colour::warning(),
                    resume_file.display()
                );
            }
        }
    }
    paths::check_distinct(&files)?;
    Ok(())
}

/// The progress bar as a sink: it counts open ports, and goes off the screen at the end,
/// before the buffered formats write and the summary lines follow.
struct BarSink(Bar);

impl output::Sink for BarSink {
    fn begin(&mut self, _: &ScanInfo) -> io::Result<()> {
        Ok(())
    }

    fn result(&mut self, result: &PortResult) -> io::Result<bool> {
        if result.state == PortState::Open {
            self.0.open_found();
        }
        Ok(true)
    }

    fn host_down(&mut self, _: &HostDown) -> io::Result<()> {
        Ok(())
    }

    fn end(&mut self, _: &Summary) -> io::Result<()> {
        self.0.finish();
        Ok(())
    }
}

/// Signals within this long of the first stop request are the same request.
pub const SAME_REQUEST: Duration = Duration::from_secs(1);

/// Stop requests (SIGINT, SIGTERM), watched from before the scan starts until its results are
/// written.
///
/// One request is one request: signals read together, or within [`SAME_REQUEST`] of the
/// first request's acknowledgement, count once (GNU `timeout` signals the process and then its
/// process group, microseconds apart; a service manager may follow SIGINT with SIGTERM). The first request pauses the
/// scan (or, before it has started, pauses it as soon as it starts, so the resume file
/// holds everything); a request after that window quits at once, without a resume file.
struct StopRequests {
    handle: signal_hook::iterator::Handle,
    /// Registered at once; read by a thread started only once the scan has dropped its
    /// privileges (capabilities belong to threads: one started before would keep them).
    /// Signals that come in between wait in it.
    signals: Option<signal_hook::iterator::Signals>,
    state: Arc<Mutex<StopState>>,
}

#[derive(Default)]
struct StopState {
    /// When the first request came.
    first: Option<Instant>,
    /// The running scan's pauser and the bar to write above, once the scan has started.
    scan: Option<(Pauser, BarHandle)>,
    quiet: bool,
    file: String,
}

impl StopState {
    /// Pauses the scan and says so: the request is acknowledged.
    fn acknowledge(&self) {
        let Some((pauser, bar)) = &self.scan else {
            return;
        };
        if !self.quiet {
            // Above the bar, which goes on while the answers in flight come in.
            bar.suspend(|| {
                eprintln!(
                    "portscout: interrupted: waiting for the answers in flight, then saving \
                     `{}` (interrupt again to quit at once)",
                    self.file
                )
            });
        }
        pauser.pause();
    }
}

impl StopRequests {
    /// Starts watching SIGINT and SIGTERM: from now on they no longer end the process.
    fn watch(args: &Args) -> Result<StopRequests> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| Failure::io("cannot watch for Ctrl-C", e))?;
        let state = Arc::new(Mutex::new(StopState {
            quiet: args.quiet,
            file: args.resume_file().display().to_string(),
            ..StopState::default()
        }));
        Ok(StopRequests {
            handle: signals.handle(),
            signals: Some(signals),
            state,
        })
    }

    /// The scan has started (and dropped its privileges): requests are read from now on, and
    /// one that came before pauses it at once.
    fn attach(&mut self, pauser: Pauser, bar: BarHandle) -> Result<()> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).scan = Some((pauser, bar));
        let Some(mut signals) = self.signals.take() else {
            return Ok(());
        };
        let shared = Arc::clone(&self.state);
        std::thread::Builder::new()
            .name("portscout-signals".into())
            .spawn(move || {
                loop {
                    // Signals pending together (read in one wake-up) are one request,
                    // however long the last acknowledgement took.
                    if signals.wait().count() == 0 {
                        if signals.is_closed() {
                            break;
                        }
                        continue;
                    }
                    let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
                    match state.first {
                        None => {
                            state.acknowledge();
                            // The window counts from the acknowledgement: a loaded machine
                            // that took long to pause the scan does not shorten it.
                            state.first = Some(Instant::now());
                        }
                        Some(first) if first.elapsed() < SAME_REQUEST => {}
                        Some(_) => {
                            if let Some((_, bar)) = &state.scan {
                                bar.clear();
                            }
                            eprintln!(
                                "portscout: interrupted twice: quitting without a resume file"
                            );
                            std::process::exit(130);
                        }
                    }
                }
            })
            .map_err(|e| Failure::io("cannot watch for Ctrl-C", e))?;
        Ok(())
    }

    /// Stops watching (the results are written).
    fn close(&self) {
        self.handle.close();
    }
}

/// The end of a resumed run: the file it resumed is finished, or, paused again into another
/// file `continued`, says so. (Paused again into the same file, that file is new already.)
fn finish_resumed(
    resumed_from: Option<(PathBuf, ResumeFile)>,
    continued: Option<&Path>,
) -> Result<()> {
    let Some((path, mut file)) = resumed_from else {
        return Ok(());
    };
    file.state = match continued {
        None => ResumeState::Finished { at: now_secs() },
        Some(next) if paths::same_file(next, &path) => return Ok(()),
        Some(next) => ResumeState::Continued {
            file: next.to_path_buf(),
        },
    };
    write_resume_file(&path, &file)
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
        paths::give_to_sudo_user(&tmp)?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        Failure::io(
            format_args!("cannot write resume file `{}`", path.display()),
            e,
        )
    })
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
    let targets = args
        .targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(portscout::Error::from)?;
    let mut exclude = Vec::new();
    for list in &args.exclude {
        exclude.extend(target::parse_list(list).map_err(portscout::Error::from)?);
    }
    let mut builder = ScanConfig::builder()
        .scan_type(args.scan_type)
        // Once the sockets are open nothing needs a privilege (see portscout::privilege).
        .drop_privileges(true)
        .engine(args.engine)
        .targets(targets)
        .exclude(exclude);
    // The files are read as streams when the configuration is built.
    if let Some(path) = &args.input_list {
        builder = builder.target_file(path);
    }
    if let Some(path) = &args.exclude_file {
        builder = builder.exclude_file(path);
    }
    // Without any, the library's default (the top ports).
    if let Some(ports) = &args.ports {
        builder = builder.ports(ports.clone());
    } else if let Some(n) = args.top_ports {
        builder = builder.ports(PortSet::top(n).map_err(portscout::Error::from)?);
    } else if args.fast {
        builder = builder.ports(PortSet::top(FAST_PORTS).map_err(portscout::Error::from)?);
    }
    builder = builder.ipv6_only(args.ipv6);
    builder = builder.reverse_dns(if args.no_reverse_dns {
        ReverseDns::Never
    } else if args.reverse_dns_all {
        ReverseDns::All
    } else {
        ReverseDns::Up
    });
    if let Some(p) = &args.exclude_ports {
        builder = builder.exclude_ports(p.clone());
    }
    if let Some(t) = args.timeout {
        builder = builder.timeout(t);
    }
    if let Some(t) = args.min_rtt_timeout {
        builder = builder.min_rtt_timeout(t);
    }
    // nmap's -T template sets what the command line does not (a fixed --timeout leaves no
    // adaptive bounds to set; a --min-rtt-timeout above the template's maximum raises it).
    let template = args.timing;
    let max_rtt = args.max_rtt_timeout.or_else(|| {
        let t = template?.max_rtt_timeout()?;
        (args.timeout.is_none()).then(|| t.max(args.min_rtt_timeout.unwrap_or_default()))
    });
    if let Some(t) = max_rtt {
        builder = builder.max_rtt_timeout(t);
    }
    if let Some(r) = args.rate.or_else(|| template?.rate()) {
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
    if let Some(r) = args.retries.or_else(|| template?.retries()) {
        builder = builder.retries(r);
    }
    if let Some(c) = args.concurrency {
        builder = builder.concurrency(c as usize);
    }
    if let Some(w) = args.workers {
        builder = builder.workers(w as usize);
    }
    if args.service_version {
        builder = builder.service_version(detect_options(args)?);
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

/// `--service-version`'s options: nmap's database from `--service-db FILE` (read and parsed
/// here, before anything is touched: a file that cannot be read or parsed is bad input), or
/// nmap's installed one when there is one (one that is there but cannot be read is a warning,
/// and the built-in probes run alone), or none (`--service-db none`), and
/// `--version-intensity`.
fn detect_options(args: &Args) -> Result<DetectOptions> {
    let mut options = DetectOptions::default();
    if let Some(i) = args.version_intensity {
        options.intensity = i;
    }
    let db = match &args.service_db {
        // The built-in probes alone, even where nmap is installed (`./none` names a file).
        Some(path) if path.as_os_str() == "none" => None,
        Some(path) => Some(ProbeDb::load(path).map_err(|e| {
            BadInput(format!(
                "--service-db `{}`: {}",
                path.display(),
                match e {
                    ProbeDbError::Io { source, .. } => source.to_string(),
                    other => other.to_string(),
                }
            ))
        })?),
        None => match ProbeDb::load_installed() {
            Ok(db) => Some(db),
            Err(ProbeDbError::NotInstalled(_)) => None,
            Err(e) => {
                if !args.quiet {
                    eprintln!(
                        "{} {e}: service detection uses the built-in probes only",
                        colour::warning()
                    );
                }
                None
            }
        },
    };
    if let Some(db) = db {
        options = options.with_nmap_db(Arc::new(db), false);
    }
    Ok(options)
}

/// The ports of `-F` (nmap's fast mode): the 100 most common.
const FAST_PORTS: usize = 100;

/// Where results go: `-o FILE` (appended to when resuming, so the first run's results stay)
/// or standard output.
fn open_writer(args: &Args, append: bool) -> Result<Box<dyn Write + Send>> {
    Ok(paths::open_writer(args.output.as_deref(), append)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(words: &str) -> ScanConfig {
        let words: Vec<String> = words.split(' ').map(String::from).collect();
        build_config(&parse_stored(&words).unwrap(), None).unwrap()
    }

    #[test]
    fn one_summary_line() {
        let mut s = Summary {
            hosts: 1,
            open: 1,
            closed: 0,
            filtered: 0,
            elapsed: Duration::from_millis(500),
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&s),
            "portscout: 1 host, 1 port in 0.50 s (2 ports/s): 1 open, 0 closed, 0 filtered"
        );
        (s.hosts, s.closed, s.filtered, s.hosts_down) = (4, 2, 1, 1);
        assert_eq!(
            summary_line(&s),
            "portscout: 4 hosts, 4 ports in 0.50 s (8 ports/s): 1 open, 2 closed, 1 filtered; \
             1 host down"
        );
    }

    /// nmap's -T templates set what the command line leaves unset (docs/timing.md).
    #[test]
    fn timing_templates_fill_in_what_is_not_given() {
        let ms = Duration::from_millis;
        let default = config("127.0.0.1");
        for t in ["-T3", "-Tnormal"] {
            let c = config(&format!("127.0.0.1 {t}"));
            assert_eq!(c.retries(), default.retries(), "{t}");
            assert_eq!(c.max_rtt_timeout(), default.max_rtt_timeout(), "{t}");
            assert_eq!(c.rate(), None, "{t}");
        }
        let c = config("127.0.0.1 -T2");
        assert_eq!(c.rate(), Some(2));
        assert_eq!(c.retries(), default.retries());
        let c = config("127.0.0.1 -T4");
        assert_eq!((c.retries(), c.max_rtt_timeout()), (6, ms(1250)));
        let c = config("127.0.0.1 -T aggressive");
        assert_eq!((c.retries(), c.max_rtt_timeout()), (6, ms(1250)));
        let c = config("127.0.0.1 -T5");
        assert_eq!((c.retries(), c.max_rtt_timeout()), (2, ms(300)));
        assert_eq!(c.rate(), None);
        // Explicit options win, whatever their place.
        let c = config("127.0.0.1 --max-retries 9 -T5 --max-rtt-timeout 5s --max-rate 70");
        assert_eq!((c.retries(), c.max_rtt_timeout()), (9, ms(5000)));
        assert_eq!(c.rate(), Some(70));
        let c = config("127.0.0.1 -T2 --rate 50");
        assert_eq!(c.rate(), Some(50));
        // A minimum above the template's maximum raises it; a fixed timeout leaves it.
        let c = config("127.0.0.1 -T5 --min-rtt-timeout 400ms");
        assert_eq!(c.max_rtt_timeout(), ms(400));
        let c = config("127.0.0.1 -T5 --timeout 2s");
        assert_eq!(c.max_rtt_timeout(), default.max_rtt_timeout());
        assert_eq!(c.timeout(), Some(ms(2000)));
    }
}
