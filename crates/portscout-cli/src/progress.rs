//! The progress bar on standard error: probes done of this run's total, rate, open ports found,
//! time left.
//!
//! Shown only when standard error is a terminal (not `TERM=dumb`, which cannot move the
//! cursor), and never with `--quiet` or `--dry-run`: piped, the command writes no bar and no
//! escape code at all. A thread of its own reads the scan's counter ([`Progress::done`]) ten
//! times a second and redraws, so the bar moves and the time counts even while no result
//! comes (ports waiting for their timeout). The bar is cleared before the summary lines, and
//! every other line written while it is shown goes through [`BarHandle::suspend`] (or
//! [`StdoutLines`] for results on a terminal), so nothing lands in the middle of it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanCount, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use portscout::scan::Progress;

/// How often the bar reads the scan's counter and redraws.
const TICK: Duration = Duration::from_millis(100);

/// What decides whether the bar is shown.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BarWhen {
    /// Standard error is a terminal.
    pub stderr_terminal: bool,
    /// `TERM=dumb`: a terminal that cannot move the cursor (a bar would print line after line).
    pub dumb_terminal: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--dry-run` (nothing is sent: there is no progress to show).
    pub dry_run: bool,
}

impl BarWhen {
    /// Whether the bar is shown.
    pub fn show(self) -> bool {
        self.stderr_terminal && !self.dumb_terminal && !self.quiet && !self.dry_run
    }

    /// For this process: standard error and `TERM` as they are.
    pub fn here(quiet: bool, dry_run: bool) -> BarWhen {
        use std::io::IsTerminal;
        BarWhen {
            stderr_terminal: io::stderr().is_terminal(),
            dumb_terminal: std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
            quiet,
            dry_run,
        }
    }
}

/// The progress bar, or nothing (every method then does nothing but what it must: `suspend`
/// still runs its closure).
///
/// Made before the scan starts (so that standard output can be written around it), drawn
/// from [`Bar::start`] on.
#[derive(Default)]
pub struct Bar {
    shown: Option<Shown>,
}

struct Shown {
    bar: ProgressBar,
    open: Arc<AtomicU64>,
    /// The ticker thread and how to stop it, once started.
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

/// A handle on the bar for another thread (the signal thread): prints around it, clears it.
#[derive(Clone, Default)]
pub struct BarHandle(Option<ProgressBar>);

impl BarHandle {
    /// Runs `f` (which writes to the terminal) with the bar taken off the screen, then draws
    /// it again.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Takes the bar off the screen for good (before the process exits).
    pub fn clear(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// The template: ASCII only, so any terminal and locale draws it; the bar takes the width the
/// rest leaves.
const TEMPLATE: &str = "{spinner:.green} {elapsed:>4} [{wide_bar:.cyan/blue}] \
                        {human_pos}/{human_len} probes, {rate}, {msg}, ETA {left}";

impl Bar {
    /// No bar.
    pub fn hidden() -> Bar {
        Bar::default()
    }

    /// A bar if `when` says so, not drawn yet (its colours follow [`crate::colour::stderr`]).
    pub fn new(when: BarWhen) -> Bar {
        if !when.show() {
            return Bar::hidden();
        }
        let style = ProgressStyle::with_template(TEMPLATE)
            .expect("the template is valid")
            .progress_chars("=> ")
            .tick_chars("-\\|/ ")
            .with_key(
                "rate",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/s", HumanCount(s.per_sec().round() as u64));
                },
            )
            .with_key(
                "left",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    // Unknown until something is done (the rate is 0 until then).
                    if s.pos() == 0 {
                        let _ = w.write_str("?");
                    } else {
                        let _ = write!(w, "{:#}", HumanDuration(s.eta()));
                    }
                },
            );
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
            .with_style(style)
            .with_message("0 open");
        Bar {
            shown: Some(Shown {
                bar,
                open: Arc::new(AtomicU64::new(0)),
                ticker: None,
            }),
        }
    }

    /// Draws the bar for `progress` and keeps it current from a thread of its own.
    pub fn start(&mut self, progress: Progress) {
        let Some(shown) = &mut self.shown else {
            return;
        };
        let bar = &shown.bar;
        bar.set_length(progress.total());
        bar.reset_eta();
        // Drawn through console's terminal directly: indicatif's own stderr target hides the
        // bar whenever NO_COLOR is set, and NO_COLOR is about colour, not about the bar.
        bar.set_draw_target(ProgressDrawTarget::term_like_with_hz(
            Box::new(Margin(console::Term::buffered_stderr())),
            10,
        ));
        let (stop, stopped) = mpsc::channel::<()>();
        let (bar, open) = (bar.clone(), Arc::clone(&shown.open));
        let ticker = std::thread::Builder::new()
            .name("portscout-progress".into())
            .spawn(move || loop {
                bar.set_position(progress.done().min(progress.total()));
                bar.set_message(format!("{} open", open.load(Ordering::Relaxed)));
                bar.tick();
                match stopped.recv_timeout(TICK) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
            });
        // Without its thread the bar would stand still: better none.
        match ticker {
            Ok(t) => shown.ticker = Some((stop, t)),
            Err(_) => self.finish(),
        }
    }

    /// One more open port found.
    pub fn open_found(&self) {
        if let Some(s) = &self.shown {
            s.open.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A handle for another thread.
    pub fn handle(&self) -> BarHandle {
        BarHandle(self.shown.as_ref().map(|s| s.bar.clone()))
    }

    /// Whether the bar is to be drawn (standard output on the same terminal must then be
    /// written through [`StdoutLines`]).
    pub fn is_shown(&self) -> bool {
        self.shown.is_some()
    }

    /// Stops the bar and clears it from the screen (also done on drop).
    pub fn finish(&mut self) {
        if let Some(mut s) = self.shown.take() {
            if let Some((stop, ticker)) = s.ticker.take() {
                let _ = stop.send(());
                let _ = ticker.join();
            }
            s.bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Columns left free at the end of the bar's line.
const MARGIN: u16 = 3;

/// Standard error, a few columns narrower than it is: the terminal echoes Ctrl-C as `^C` after
/// the bar, and on a line filled to the last column that echo would wrap, leaving a copy of
/// the bar on the line above that clearing the bar no longer reaches.
#[derive(Debug)]
struct Margin(console::Term);

impl indicatif::TermLike for Margin {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(MARGIN).max(1)
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Standard output while the bar is on the same terminal: whole lines are written with the
/// bar taken off the screen, so a result never lands in the middle of the bar; a line's
/// beginning waits for its end.
pub struct StdoutLines {
    bar: BarHandle,
    partial: Vec<u8>,
}

impl StdoutLines {
    /// Standard output, written around `bar`.
    pub fn new(bar: BarHandle) -> StdoutLines {
        StdoutLines {
            bar,
            partial: Vec::new(),
        }
    }

    fn write_out(&self, bytes: &[u8]) -> io::Result<()> {
        self.bar.suspend(|| {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        })
    }
}

impl Write for StdoutLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match buf.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                let (lines, rest) = buf.split_at(last + 1);
                if self.partial.is_empty() {
                    self.write_out(lines)?;
                } else {
                    self.partial.extend_from_slice(lines);
                    let all = std::mem::take(&mut self.partial);
                    self.write_out(&all)?;
                }
                self.partial.extend_from_slice(rest);
            }
            None => self.partial.extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    /// Writes the whole lines (a line's beginning waits for its end, or for the drop).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for StdoutLines {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            let _ = self.write_out(&partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_decision_table() {
        // Of every combination of (stderr a terminal, TERM=dumb, --quiet, --dry-run), the bar
        // shows for exactly one: a terminal that is not dumb, without --quiet or --dry-run.
        let mut shown = Vec::new();
        for bits in 0..16u8 {
            let when = BarWhen {
                stderr_terminal: bits & 1 != 0,
                dumb_terminal: bits & 2 != 0,
                quiet: bits & 4 != 0,
                dry_run: bits & 8 != 0,
            };
            if when.show() {
                shown.push(when);
            }
        }
        assert_eq!(
            shown,
            [BarWhen {
                stderr_terminal: true,
                dumb_terminal: false,
                quiet: false,
                dry_run: false,
            }]
        );
    }

    #[test]
    fn a_bar_never_started_clears_without_drawing() {
        let mut bar = Bar::new(BarWhen {
            stderr_terminal: true,
            dumb_terminal: false,
            quiet: false,
            dry_run: false,
        });
        assert!(bar.is_shown());
        assert_eq!(bar.handle().suspend(|| 3), 3);
        bar.finish();
        assert!(!bar.is_shown());
    }

    #[test]
    fn a_hidden_bar_still_runs_what_it_suspends() {
        let bar = Bar::hidden();
        assert_eq!(bar.handle().suspend(|| 7), 7);
        bar.open_found();
        bar.handle().clear();
    }
}
