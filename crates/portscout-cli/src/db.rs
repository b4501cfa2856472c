//! `--db FILE`: the scan recorded in a history file, beside the printer.
//!
//! The file is opened (created, migrated) and the scan's row written before anything is
//! resolved or sent: a file that cannot be used is bad input (exit 2, nothing sent). A resumed
//! scan (`--resume`) continues the row its resume file names, so a paused scan and its
//! resumption are one scan in the history.

use std::io;
use std::path::Path;

use portscout::history::{Db, HistoryError, NewScan, Recorder, ScanKey};
use portscout::ports::DEFAULT_TOP_PORTS;
use portscout::scan::ScanConfig;

use crate::args::Args;
use crate::error::{BadInput, Result};

/// Opens `args.db` (if given) and starts recording: a new scan, or the resumed scan
/// `resumed` (a scan id from the resume file). `command_line` is what the history stores as
/// the scan's arguments.
pub fn start(
    args: &Args,
    config: &ScanConfig,
    command_line: &[String],
    resumed: Option<i64>,
) -> Result<Option<Recorder>> {
    let Some(path) = &args.db else {
        return Ok(None);
    };
    let bad = |e: HistoryError| BadInput(e.to_string());
    let created = !path.exists();
    let db = Db::open(path).map_err(bad)?;
    let recorder = match resumed {
        Some(id) => match db.resume(id) {
            Ok(r) => r,
            Err(HistoryError::NoSuchScan { .. }) => {
                if !args.quiet {
                    eprintln!(
                        "warning: `{}` has no scan {id} to continue: recording the resumed run \
                         as a new scan",
                        path.display()
                    );
                }
                Db::open(path)
                    .map_err(bad)?
                    .record(&new_scan(args, config, command_line))
                    .map_err(bad)?
            }
            Err(e) => return Err(bad(e).into()),
        },
        None => db
            .record(&new_scan(args, config, command_line))
            .map_err(bad)?,
    };
    give_to_sudo_user(path, created).map_err(|e| {
        BadInput(format!(
            "cannot give the history `{}` to the sudo user: {e}",
            path.display()
        ))
    })?;
    Ok(Some(recorder))
}

/// Under `sudo`, the history belongs to the invoking user, as the resume file does (the
/// process becomes that user once its sockets are open: `portscout::privilege`). Otherwise a
/// history made by `sudo portscout … --db scans.db` could not be read by that user's
/// `portscout history` (SQLite opens it for writing, and its journal files too). A file this
/// run created goes to `SUDO_UID:SUDO_GID`; the journal files (`-wal`, `-shm`, made as root
/// just now) go to whoever owns the history.
fn give_to_sudo_user(path: &Path, created: bool) -> io::Result<()> {
    use std::os::unix::fs::{chown, MetadataExt};
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let Some((uid, gid)) = portscout::privilege::sudo_user() else {
        return Ok(());
    };
    if created {
        chown(path, Some(uid), Some(gid))?;
    }
    let owner = std::fs::metadata(path)?;
    if owner.uid() != uid {
        return Ok(());
    }
    for suffix in ["-wal", "-shm"] {
        let mut journal = path.as_os_str().to_owned();
        journal.push(suffix);
        match chown(&journal, Some(owner.uid()), Some(owner.gid())) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// The scan as the history describes it: its key from the validated configuration, its
/// targets and ports as the command line gave them.
fn new_scan(args: &Args, config: &ScanConfig, command_line: &[String]) -> NewScan {
    let mut shown: Vec<String> = args.targets.clone();
    if let Some(file) = &args.input_list {
        shown.push(format!("-iL {}", file.display()));
    }
    let ports_text = match (&args.ports, args.top_ports) {
        (Some(p), _) => p.to_string(),
        (None, n) => format!("top {}", n.unwrap_or(DEFAULT_TOP_PORTS)),
    };
    let ports_text = match &args.exclude_ports {
        Some(x) => format!("{ports_text} except {x}"),
        None => ports_text,
    };
    NewScan::new(
        ScanKey::of(config),
        shown.join(" "),
        ports_text,
        config.scan_type().to_string(),
        command_line.to_vec(),
    )
}
