//! The command on a real terminal: a tmux pane (its own tmux server, killed when the test
//! ends, also on failure) runs portscout, and `tmux capture-pane` reads the screen.
//!
//! Checked: the progress bar appears while a scan runs (probes done/total, rate, open ports,
//! ETA) and is gone when the summary is written; colour on a terminal, none with NO_COLOR;
//! no bar with --quiet; piped (`2>file | cat`), no bar and not one escape code; Ctrl-C's
//! message is a line of its own above the bar.
//!
//! Scans only 127.0.0.1 (loopback), at a listener the test owns. Without tmux the tests skip
//! with a message, except under CI, where they fail (`.ci/run` installs tmux).

use crate::support::{skip, TempDir};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_portscout");

/// Ports scanned: 1-30000 and the test's listener, at 10,000 probes/s: about 3 s, long enough
/// to read the bar a few times.
const RATE: &str = "10000";
/// What the bar shows as the total (30,000 ports and the listener's).
const TOTAL: &str = "30,001";
/// Marks the end of the command in the pane, with its exit code.
const EXIT_MARK: &str = "portscout-exit=";

/// Whether tmux can run here. Without it: skip with a message, or fail under CI.
fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    ok || skip::skip("needs `tmux` (apt-get install tmux; .ci/run installs it)")
}

/// A tmux server of the test's own (`tmux -S <socket in a directory of its own>`), with one
/// pane running a command; the server is killed on drop, pane and command with it, and its
/// socket removed.
struct Tmux {
    socket: PathBuf,
    _dir: TempDir,
}

impl Tmux {
    /// Starts a server whose one window (150×40) runs `command` through `sh -c`.
    fn start(command: &str) -> Tmux {
        let dir = TempDir::new("tmux");
        let tmux = Tmux {
            socket: dir.path().join("socket"),
            _dir: dir,
        };
        let out = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                "150",
                "-y",
                "40",
                "sh",
                "-c",
                command,
            ])
            .output()
            .expect("tmux runs");
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        // No user configuration: the defaults, the same everywhere.
        cmd.arg("-S").arg(&self.socket).args(["-f", "/dev/null"]);
        cmd
    }

    /// The screen as text, wrapped lines joined; `escapes`: with the SGR codes of colours.
    fn capture(&self, escapes: bool) -> String {
        let mut cmd = self.cmd();
        cmd.args(["capture-pane", "-p", "-J"]);
        if escapes {
            cmd.arg("-e");
        }
        let out: Output = cmd.output().expect("tmux capture-pane");
        assert!(out.status.success(), "capture-pane: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (up to `limit`) until the screen shows something `found` accepts; returns that
    /// screen, or None.
    fn wait_for(
        &self,
        limit: Duration,
        escapes: bool,
        found: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < limit {
            let screen = self.capture(escapes);
            if found(&screen) {
                return Some(screen);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Waits for the command to end; returns its exit code and the final screen.
    fn wait_exit(&self) -> (i32, String) {
        let screen = self
            .wait_for(Duration::from_secs(120), true, |s| s.contains(EXIT_MARK))
            .unwrap_or_else(|| panic!("the command did not end:\n{}", self.capture(false)));
        let code = screen
            .split(EXIT_MARK)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|c| c.parse().ok())
            .expect("an exit code");
        (code, screen)
    }

    fn send_keys(&self, keys: &str) {
        let out = self
            .cmd()
            .args(["send-keys", keys])
            .output()
            .expect("tmux send-keys");
        assert!(out.status.success(), "send-keys: {out:?}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// `s` quoted for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The scan the pane runs, as a shell command: 127.0.0.1, ports 1-30000 and `open`, at
/// [`RATE`]. `env` sets the environment (`NO_COLOR` is unset unless `env` sets it), `extra`
/// adds arguments and `redirect` redirections. Ends by printing [`EXIT_MARK`] and the exit
/// code, then stays (so the screen can be read). SIGINT is trapped by the shell (so that
/// Ctrl-C stops portscout, not the shell), which leaves it at its default for portscout.
fn scan_command(dir: &Path, open: u16, env: &str, extra: &str, redirect: &str) -> String {
    format!(
        "trap : INT; cd {dir} && env -u NO_COLOR -u CLICOLOR -u CLICOLOR_FORCE -u SUDO_UID \
         -u SUDO_GID PORTSCOUT_CONFIG= {env} {bin} 127.0.0.1 -p 1-30000,{open} --rate {RATE} {extra} {redirect}; \
         echo {EXIT_MARK}$?; exec sleep 600",
        dir = sh_quote(&dir.display().to_string()),
        bin = sh_quote(BIN),
    )
}

/// The bar's line on `screen`, if it shows one: `… [===>  ] 12,345/30,001 probes, 9,998/s,
/// 1 open, ETA 2s`.
fn bar_line(screen: &str) -> Option<&str> {
    screen.lines().find(|l| {
        l.contains(&format!("/{TOTAL} probes, ")) && l.contains("/s, ") && l.contains(" open, ETA ")
    })
}

/// The number of probes done that a bar line shows.
fn done_on(line: &str) -> u64 {
    let before = line.split(&format!("/{TOTAL} probes")).next().unwrap();
    let digits = before.rsplit(' ').next().unwrap().replace(',', "");
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no count in {line:?}"))
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn the_bar_shows_progress_and_is_gone_before_the_summary() {
    if !have_tmux() {
        return;
    }
    let (_held, open) = listener();
    let dir = TempDir::new("tty");
    let tmux = Tmux::start(&scan_command(dir.path(), open, "", "", ""));

    // While it runs: the bar, moving forward, coloured.
    let first = tmux
        .wait_for(Duration::from_secs(60), false, |s| {
            bar_line(s).is_some_and(|l| done_on(l) > 0)
        })
        .unwrap_or_else(|| panic!("no bar on the screen:\n{}", tmux.capture(false)));
    let first_line = bar_line(&first).unwrap().to_string();
    eprintln!("bar: {first_line}");
    let later = tmux
        .wait_for(Duration::from_secs(60), false, |s| {
            bar_line(s).is_some_and(|l| done_on(l) > done_on(&first_line))
        })
        .unwrap_or_else(|| panic!("the bar did not move:\n{}", tmux.capture(false)));
    eprintln!("bar: {}", bar_line(&later).unwrap());
    // The text after the bar is not coloured, so the line is found with the codes in.
    let coloured = tmux
        .wait_for(Duration::from_secs(60), true, |s| bar_line(s).is_some())
        .expect("the bar, read with its colours");
    assert!(
        bar_line(&coloured).unwrap().contains("\x1b[3"),
        "the bar is coloured on a terminal: {coloured:?}"
    );

    let (code, screen) = tmux.wait_exit();
    assert_eq!(code, 0, "{screen}");
    let plain = tmux.capture(false);
    eprintln!("final screen:\n{plain}");
    assert!(
        bar_line(&plain).is_none(),
        "a bar was left behind:\n{plain}"
    );
    assert!(
        !plain.contains(" probes, "),
        "a bar was left behind:\n{plain}"
    );
    assert!(
        plain.contains(&format!("{open}/tcp")),
        "the open port is listed:\n{plain}"
    );
    let summary = plain
        .lines()
        .find(|l| l.starts_with("portscout: 1 host, 30001 ports in "))
        .unwrap_or_else(|| panic!("no summary line:\n{plain}"));
    assert!(!summary.contains(": 0 open, "), "{summary}");
    // The results' STATE column is coloured on a terminal (open: green).
    assert!(
        screen.contains("\x1b[32mopen"),
        "open is green on a terminal:\n{screen:?}"
    );
}

#[test]
fn no_color_keeps_the_bar_without_colour() {
    if !have_tmux() {
        return;
    }
    let (_held, open) = listener();
    let dir = TempDir::new("nocolor");
    let tmux = Tmux::start(&scan_command(dir.path(), open, "NO_COLOR=1", "", ""));
    let running = tmux
        .wait_for(Duration::from_secs(60), true, |s| {
            bar_line(s).is_some_and(|l| done_on(l) > 0)
        })
        .unwrap_or_else(|| panic!("no bar with NO_COLOR:\n{}", tmux.capture(false)));
    assert!(
        !running.contains('\x1b'),
        "no colour with NO_COLOR:\n{running:?}"
    );
    let (code, screen) = tmux.wait_exit();
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains('\x1b'),
        "no colour with NO_COLOR:\n{screen:?}"
    );
    assert!(screen.contains(&format!("{open}/tcp")), "{screen}");
}

#[test]
fn quiet_shows_no_bar() {
    if !have_tmux() {
        return;
    }
    let (_held, open) = listener();
    let dir = TempDir::new("quiet");
    let tmux = Tmux::start(&scan_command(dir.path(), open, "", "--quiet", ""));
    let mut looks = 0;
    let start = Instant::now();
    loop {
        let screen = tmux.capture(false);
        assert!(bar_line(&screen).is_none(), "a bar with --quiet:\n{screen}");
        looks += 1;
        if screen.contains(EXIT_MARK) {
            break;
        }
        // Waited for as wait_exit does: a scan that never ends fails the test, not hangs it.
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the command did not end in 120 s:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        looks > 10,
        "the screen was read while the scan ran ({looks} looks)"
    );
    let (code, screen) = tmux.wait_exit();
    assert_eq!(code, 0, "{screen}");
    let plain = tmux.capture(false);
    assert!(plain.contains(&format!("{open}/tcp")), "{plain}");
    assert!(!plain.contains("portscout: 1 host,"), "--quiet: {plain}");
}

#[test]
fn piped_there_is_no_bar_and_no_escape_code() {
    if !have_tmux() {
        return;
    }
    let (_held, open) = listener();
    let dir = TempDir::new("piped");
    // On the terminal, but both streams piped away from it: stderr to a file, stdout to cat.
    let tmux = Tmux::start(&scan_command(
        dir.path(),
        open,
        "",
        "",
        "2>err.txt | cat >out.txt",
    ));
    let (code, screen) = tmux.wait_exit();
    assert_eq!(code, 0, "{screen}");
    let err = std::fs::read(dir.path().join("err.txt")).unwrap();
    let out = std::fs::read(dir.path().join("out.txt")).unwrap();
    let (err, out) = (
        String::from_utf8(err).unwrap(),
        String::from_utf8(out).unwrap(),
    );
    for (name, text) in [("stderr", &err), ("stdout", &out)] {
        assert!(
            !text.contains('\x1b'),
            "{name} has an escape code: {text:?}"
        );
        assert!(
            !text.contains('\r'),
            "{name} has a carriage return: {text:?}"
        );
        assert!(!text.contains(" probes, "), "{name} has a bar: {text:?}");
    }
    assert!(out.contains(&format!("{open}/tcp  open ")), "{out}");
    assert!(
        err.starts_with("portscout: 1 host, 30001 ports in "),
        "{err}"
    );
    // Nothing reached the screen but the exit mark.
    let plain = tmux.capture(false);
    assert!(bar_line(&plain).is_none(), "{plain}");
}

#[test]
fn ctrl_c_prints_its_message_on_a_line_of_its_own() {
    if !have_tmux() {
        return;
    }
    let (_held, open) = listener();
    let dir = TempDir::new("ctrlc");
    let tmux = Tmux::start(&scan_command(
        dir.path(),
        open,
        "",
        "--resume-file paused.resume",
        "",
    ));
    tmux.wait_for(Duration::from_secs(60), false, |s| {
        bar_line(s).is_some_and(|l| done_on(l) > 0)
    })
    .unwrap_or_else(|| panic!("no bar on the screen:\n{}", tmux.capture(false)));
    tmux.send_keys("C-c");
    let (code, _) = tmux.wait_exit();
    let plain = tmux.capture(false);
    eprintln!("after Ctrl-C:\n{plain}");
    assert_eq!(code, 130, "{plain}");
    assert!(
        plain
            .lines()
            .any(|l| l.starts_with("portscout: interrupted: waiting for the answers in flight")),
        "the message starts a line:\n{plain}"
    );
    assert!(
        plain
            .lines()
            .any(|l| l.starts_with("portscout: paused with ")),
        "{plain}"
    );
    assert!(
        bar_line(&plain).is_none(),
        "a bar was left behind:\n{plain}"
    );
    assert!(dir.path().join("paused.resume").exists());
}

#[test]
fn streamed_results_on_the_same_terminal_never_mix_with_the_bar() {
    if !have_tmux() {
        return;
    }
    let (_held, open) = listener();
    let dir = TempDir::new("ndjson");
    // Every port's line streams to the terminal the bar is drawn on.
    let tmux = Tmux::start(&scan_command(
        dir.path(),
        open,
        "",
        "--format ndjson --show all",
        "",
    ));
    let mut screens_with_bar = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        let screen = tmux.capture(false);
        if let Some((k, line)) = mixed_line(&screen) {
            panic!("line {k} mixes results and bar, or is cut:\n{line:?}\n\n{screen}");
        }
        // The summary record is the scan's last line: the bar is gone; what follows is the
        // shell's exit mark, awaited below.
        if screen.contains(SUMMARY) || screen.contains(EXIT_MARK) {
            break;
        }
        if bar_line(&screen).is_some() {
            screens_with_bar += 1;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(
        screens_with_bar >= 5,
        "the bar was seen {screens_with_bar} times"
    );
    let (code, screen) = tmux.wait_exit();
    assert_eq!(code, 0, "{screen}");
    let plain = tmux.capture(false);
    assert!(bar_line(&plain).is_none(), "{plain}");
    assert!(plain.contains(SUMMARY), "{plain}");
    assert_eq!(mixed_line(&plain), None, "{plain}");
}

/// The start of the ndjson summary record.
const SUMMARY: &str = "{\"type\":\"summary\"";
/// The start of a result record.
const RESULT: &str = "{\"ip\":\"127.0.0.1\",";
/// The start of a host name record (the PTR name of 127.0.0.1, written when its lookup
/// answers, among the results).
const HOSTNAME: &str = "{\"type\":\"hostname\"";

/// The first line of a screen of streamed ndjson results that is neither a whole record nor,
/// as the last line, a part of one (cut anywhere, even inside [`RESULT`]) or of the bar (the
/// screen may be read while tmux is still taking in a write). A result and the bar on one line
/// is what must never be. After the summary record come only lines without a record or the bar
/// in them (the one-line summary on stderr, the shell's exit mark).
fn mixed_line(screen: &str) -> Option<(usize, &str)> {
    let lines: Vec<&str> = screen.lines().filter(|l| !l.is_empty()).collect();
    let record_start = |l: &str| {
        [RESULT, SUMMARY, HOSTNAME].iter().any(|r| l.starts_with(r)) && l.matches('{').count() == 1
    };
    // A record's first characters, cut before its start is whole: `{"ip":"127.0.0`.
    let cut_start = |l: &str| [RESULT, SUMMARY, HOSTNAME].iter().any(|r| r.starts_with(l));
    let plain = |l: &str| !(l.contains('{') || l.contains('}'));
    let mut ended = false;
    lines.iter().enumerate().find_map(|(k, &line)| {
        let whole = record_start(line) && line.ends_with('}');
        let last = k + 1 == lines.len();
        let fine = if ended {
            plain(line) && bar_line(line).is_none()
        } else {
            whole || (last && (record_start(line) || cut_start(line) || plain(line)))
        };
        ended |= whole && line.starts_with(SUMMARY);
        (!fine).then_some((k, line))
    })
}

/// Issue 17: the screen was once read after the summary record was written and before the
/// shell's exit mark, and the summary, then the last line, was taken for a mixed one.
#[test]
fn a_screen_read_between_the_summary_and_the_exit_mark_is_not_mixed() {
    let result = r#"{"ip":"127.0.0.1","port":22,"state":"closed","reason":"conn-refused"}"#;
    let summary = r#"{"type":"summary","hosts":1,"open":1,"closed":30000,"filtered":0,"elapsed_ms":3012,"hosts_down":0}"#;
    let bar = format!("  [=====>   ] 12,345/{TOTAL} probes, 9,998/s, 1 open, ETA 2s");
    assert_eq!(mixed_line(&format!("{result}\n{summary}\n")), None);
    // A host name record among the results (issue 19) is a whole record too.
    let name = r#"{"type":"hostname","ip":"127.0.0.1","name":"localhost","kind":"PTR","time":"2026-12-03T17:58:48.172Z"}"#;
    assert_eq!(
        mixed_line(&format!("{result}\n{name}\n{result}\n{summary}\n")),
        None
    );
    assert_eq!(
        mixed_line(&format!("{result}\n{name}{bar}\n{result}\n")).map(|m| m.0),
        Some(1)
    );
    let stderr = "portscout: 1 host, 30001 ports in 6.27 s (4785 ports/s): 2 open, 29999 closed";
    assert_eq!(
        mixed_line(&format!("{result}\n{summary}\n{stderr}\n")),
        None
    );
    assert_eq!(
        mixed_line(&format!("{result}\n{summary}\n{stderr}\n{EXIT_MARK}0\n")),
        None
    );
    assert_eq!(
        mixed_line(&format!("{summary}\n{result}\n{EXIT_MARK}0\n")).map(|m| m.0),
        Some(1)
    );
    assert_eq!(mixed_line(&format!("{result}\n{bar}\n")), None);
    assert_eq!(
        mixed_line(&format!("{result}\n{result}{bar}\n{result}\n")).map(|m| m.0),
        Some(1)
    );
    assert_eq!(
        mixed_line(&format!("{bar}{result}\n")).map(|m| m.0),
        Some(0)
    );
    assert_eq!(
        mixed_line(&format!("{}\n{result}\n", &result[..20])).map(|m| m.0),
        Some(0)
    );
}

/// Issue 17 again: the screen was read while tmux was still taking in a write of results, and
/// the last line, cut 14 characters in (inside `{"ip":"127.0.0.1",`), was taken for a mixed
/// one. Cut anywhere, the last line is a line being written; not last, it is still refused.
#[test]
fn a_last_line_cut_anywhere_is_a_line_being_written() {
    let result = r#"{"ip":"127.0.0.1","port":22,"state":"closed","reason":"conn-refused"}"#;
    let summary = r#"{"type":"summary","hosts":1,"open":1,"closed":30000,"filtered":0,"elapsed_ms":3012,"hosts_down":0}"#;
    for record in [result, summary] {
        for cut in 1..record.len() {
            let part = &record[..cut];
            assert_eq!(
                mixed_line(&format!("{result}\n{part}\n")),
                None,
                "{part:?} last"
            );
            assert_eq!(
                mixed_line(&format!("{result}\n{part}\n{result}\n")).map(|m| m.0),
                Some(1),
                "{part:?} before a whole record"
            );
        }
    }
    // The bar after a cut record's start on the last line is still a mix.
    let bar = format!("  [=====>   ] 12,345/{TOTAL} probes, 9,998/s, 1 open, ETA 2s");
    assert_eq!(
        mixed_line(&format!("{result}\n{}{bar}\n", &result[..14])).map(|m| m.0),
        Some(1)
    );
}
