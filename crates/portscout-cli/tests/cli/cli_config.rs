//! The config file (`docs/config.md`): where it is found, what it may hold, and that the
//! command line always wins. Each test gives the binary its own `HOME` (a temporary
//! directory) and no `PORTSCOUT_CONFIG` or `XDG_CONFIG_HOME`, so no config file of this
//! machine's user is read. Scans here target only this machine's loopback, at listeners the
//! test owns, or are dry runs (`--dry-run` sends nothing).

use crate::support::{interrupt, TempDir};

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use predicates::prelude::*;

/// A temporary directory holding the binary's home directory.
struct Home {
    dir: TempDir,
}

impl Home {
    fn new(tag: &str) -> Home {
        let dir = TempDir::new(&format!("config-{tag}"));
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Home { dir }
    }

    /// `$HOME` of the binary.
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Writes `text` to `name` (relative to the temporary directory, parents created).
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes the default config file, `$HOME/.config/portscout/config.toml`.
    fn write_default(&self, text: &str) -> PathBuf {
        self.write("home/.config/portscout/config.toml", text)
    }

    /// The binary, with this home and nothing else that names a config file.
    fn portscout(&self) -> Command {
        let mut cmd = Command::cargo_bin("portscout").unwrap();
        cmd.env("HOME", self.home())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("PORTSCOUT_CONFIG");
        cmd
    }

    /// Like [`Home::portscout`], as a `std::process::Command` (to be signalled).
    fn std_portscout(&self) -> StdCommand {
        let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_portscout"));
        cmd.env("HOME", self.home())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("PORTSCOUT_CONFIG");
        cmd
    }
}

/// Runs the command, asserts it succeeded, and returns its standard output.
fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
}

/// The `(ip, port)` probes of a dry run's output.
fn probes(dry_run: &str) -> Vec<(String, u16)> {
    dry_run
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["ip"].as_str().unwrap().to_string(),
                v["port"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

fn ips(dry_run: &str) -> BTreeSet<String> {
    probes(dry_run).into_iter().map(|(ip, _)| ip).collect()
}

fn ports(dry_run: &str) -> BTreeSet<u16> {
    probes(dry_run).into_iter().map(|(_, p)| p).collect()
}

fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
    items.iter().cloned().collect()
}

fn strings(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A listening port and a closed one on 127.0.0.1 (the listener is held by the first).
fn open_and_closed() -> (TcpListener, u16, u16) {
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let (_closed_socket, closed) = crate::support::closed_port("127.0.0.1");
    let port = open.local_addr().unwrap().port();
    (open, port, closed)
}

/// The file sets `format` and `show`; the command line's `--format` wins over the file's,
/// and the file's `show`, which the command line does not give, applies.
#[test]
fn the_command_line_wins_and_the_file_fills_in() {
    let home = Home::new("precedence");
    let config = home.write("c.toml", "format = \"json\"\nshow = \"open,closed\"\n");
    let config = config.to_str().unwrap();
    let (_held, open, closed) = open_and_closed();
    let spec = format!("{open},{closed}");

    let csv = stdout_of(home.portscout().args([
        "--config",
        config,
        "127.0.0.1",
        "-p",
        &spec,
        "--format",
        "csv",
    ]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("ip,port,protocol,state,reason,rtt_ms"),
        "{csv}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "the file's show = open,closed: {csv}");
    assert!(rows
        .iter()
        .any(|r| r.starts_with(&format!("127.0.0.1,{open},tcp,open,"))));
    assert!(rows
        .iter()
        .any(|r| r.starts_with(&format!("127.0.0.1,{closed},tcp,closed,"))));

    // Without --format on the command line, the file's json.
    let json = stdout_of(
        home.portscout()
            .args(["--config", config, "127.0.0.1", "-p", &spec]),
    );
    let doc: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    assert_eq!(
        doc["hosts"][0]["ports"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );

    // And the command line's --show over the file's.
    let json = stdout_of(home.portscout().args([
        "--config",
        config,
        "127.0.0.1",
        "-p",
        &spec,
        "--show",
        "closed",
    ]));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let listed = doc["hosts"][0]["ports"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{json}");
    assert_eq!(listed[0]["port"], closed);
}

/// A list option given on the command line replaces the file's list; it does not add to it.
#[test]
fn a_list_on_the_command_line_replaces_the_files() {
    let home = Home::new("lists");
    let config = home.write("c.toml", "exclude = [\"127.0.0.2\", \"127.0.0.3\"]\n");
    let config = config.to_str().unwrap();
    let dry = ["127.0.0.0/30", "-p", "1", "--dry-run", "--config", config];

    let from_file = stdout_of(home.portscout().args(dry));
    assert_eq!(ips(&from_file), strings(&["127.0.0.0", "127.0.0.1"]));

    let replaced = stdout_of(home.portscout().args(dry).args(["--exclude", "127.0.0.1"]));
    assert_eq!(
        ips(&replaced),
        strings(&["127.0.0.0", "127.0.0.2", "127.0.0.3"])
    );

    // A one-value list may be written as a string.
    let config = home.write("one.toml", "exclude = \"127.0.0.0/31\"\n");
    let one = stdout_of(home.portscout().args([
        "127.0.0.0/30",
        "-p",
        "1",
        "--dry-run",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(ips(&one), strings(&["127.0.0.2", "127.0.0.3"]));
}

/// A flag set true in the file is given; false is the default spelled out; the command
/// line's flag stays given whatever the file says.
#[test]
fn flags_in_the_file() {
    let home = Home::new("flags");
    let (_held, open, _) = open_and_closed();
    let open = open.to_string();
    let scan = |config: &Path, extra: &[&str]| {
        home.portscout()
            .args([
                "--config",
                config.to_str().unwrap(),
                "127.0.0.1",
                "-p",
                &open,
            ])
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stderr
            .clone()
    };
    let quiet = home.write("quiet.toml", "quiet = true\n");
    assert_eq!(String::from_utf8_lossy(&scan(&quiet, &[])), "");

    let loud = home.write("loud.toml", "quiet = false\n");
    let stderr = String::from_utf8(scan(&loud, &[])).unwrap();
    assert!(stderr.contains("ports/s"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&scan(&loud, &["-q"])), "");
}

/// Every kind of bad file: exit 2 before anything is sent, `error: config file `PATH`…`
/// naming the line and the key, stdout empty; also when the command line gives the same
/// option (a file is valid or not whatever the command line).
#[test]
fn bad_files_exit_2_naming_the_file_line_and_key() {
    let home = Home::new("bad");
    let cases: &[(&str, &str)] = &[
        // Unknown keys.
        ("# mine\ncolour = \"always\"\n", "line 2: unknown option `colour`"),
        (
            "top_ports = 10\n",
            "line 1: unknown option `top_ports` (keys are long option names: did you mean `top-ports`?)",
        ),
        ("[scan]\nports = \"80\"\n", "line 1: `scan` takes a value (a string or a number), not a table"),
        // Bad values, as the option itself says.
        ("\n\nrate = \"fast\"\n", "line 3: `rate`: invalid value 'fast' for '--rate <PPS>'"),
        ("ports = \"70000\"\n", "line 1: `ports`: invalid value '70000'"),
        ("format = \"yaml\"\n", "line 1: `format`: invalid value 'yaml'"),
        ("timeout = 0\n", "line 1: `timeout`: invalid value '0'"),
        // Wrong TOML types.
        ("rate = true\n", "line 1: `rate` takes a value (a string or a number), not a boolean"),
        ("show = [\"open\", \"closed\"]\n", "line 1: `show` takes one value, not an array"),
        ("quiet = \"yes\"\n", "line 1: `quiet` is a flag: expected true or false, not a string"),
        ("no-host-check = 1\n", "line 1: `no-host-check` is a flag: expected true or false, not an integer"),
        // What a file may not set.
        ("targets = [\"127.0.0.1\"]\n", "`targets` cannot be set in a config file: targets are given on the command line"),
        ("input-list = \"t.txt\"\n", "`input-list` cannot be set in a config file"),
        ("resume = \"x.resume\"\n", "`resume` cannot be set in a config file"),
        ("dry-run = true\n", "`dry-run` cannot be set in a config file"),
        // Two options of the file that exclude each other.
        ("ports = \"80\"\ntop-ports = 10\n", "the argument '--ports <PORTS>' cannot be used with '--top-ports <N>'"),
        // Not TOML.
        ("ports = 80,\n", "line 1: not TOML"),
    ];
    for (text, wanted) in cases {
        let config = home.write("bad.toml", text);
        let name = format!("error: config file `{}`", config.display());
        for extra in [
            &[][..],
            &["-p", "80", "--rate", "10", "--format", "csv"][..],
        ] {
            home.portscout()
                .args(["--config", config.to_str().unwrap(), "127.0.0.1"])
                .args(extra)
                .assert()
                .code(2)
                .stdout(predicate::str::is_empty())
                .stderr(
                    predicate::str::starts_with(name.as_str())
                        .and(predicate::str::contains(*wanted)),
                );
        }
    }
}

/// A file named by `--config` or `$PORTSCOUT_CONFIG` must exist: exit 2 naming it.
#[test]
fn an_explicit_file_must_exist() {
    let home = Home::new("missing");
    let missing = home.dir.file("nope.toml");
    home.portscout()
        .args(["--config", &missing, "127.0.0.1", "--dry-run"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(format!(
            "error: cannot read config file `{missing}` (from --config): "
        )));
    home.portscout()
        .env("PORTSCOUT_CONFIG", &missing)
        .args(["127.0.0.1", "--dry-run"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(format!(
            "error: cannot read config file `{missing}` (from $PORTSCOUT_CONFIG): "
        )));
}

/// `$PORTSCOUT_CONFIG` names the file (over the default one); `--config` wins over it; set
/// empty, it reads none.
#[test]
fn portscout_config_names_the_file() {
    let home = Home::new("env");
    home.write_default("ports = \"1\"\n");
    let env_file = home.write("env.toml", "ports = \"2\"\n");
    let flag_file = home.write("flag.toml", "ports = \"3\"\n");
    let dry = ["127.0.0.1", "--dry-run"];

    let run = |env: Option<&Path>, extra: &[&str]| {
        let mut cmd = home.portscout();
        if let Some(env) = env {
            cmd.env("PORTSCOUT_CONFIG", env);
        }
        ports(&stdout_of(cmd.args(dry).args(extra)))
    };
    assert_eq!(run(None, &[]), set(&[1]));
    assert_eq!(run(Some(&env_file), &[]), set(&[2]));
    assert_eq!(
        run(Some(&env_file), &["--config", flag_file.to_str().unwrap()]),
        set(&[3])
    );
    // Empty: none (the top 1000 ports).
    assert_eq!(run(Some(Path::new("")), &[]).len(), 1000);
}

/// The default file: `$XDG_CONFIG_HOME/portscout/config.toml` when that variable is set
/// (absolute), else `$HOME/.config/portscout/config.toml`; none there is no config, silently.
#[test]
fn the_default_file_under_xdg_config_home_or_home() {
    let home = Home::new("xdg");
    let dry = ["127.0.0.1", "--dry-run"];
    // Nothing anywhere: the built-in defaults, not a word on stderr.
    let out = home.portscout().args(dry).assert().success();
    assert_eq!(
        ports(&String::from_utf8_lossy(&out.get_output().stdout)).len(),
        1000
    );
    assert!(out.get_output().stderr.is_empty());

    home.write_default("ports = \"7\"\n");
    assert_eq!(ports(&stdout_of(home.portscout().args(dry))), set(&[7]));

    let xdg = home.dir.path().join("xdg");
    home.write("xdg/portscout/config.toml", "ports = \"8\"\n");
    let with_xdg = |value: &Path| {
        ports(&stdout_of(
            home.portscout().env("XDG_CONFIG_HOME", value).args(dry),
        ))
    };
    assert_eq!(with_xdg(&xdg), set(&[8]));
    // A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
    assert_eq!(with_xdg(Path::new("xdg")), set(&[7]));
    // XDG_CONFIG_HOME set, but no file there: none (HOME's is not read either).
    assert_eq!(with_xdg(&home.dir.path().join("empty")).len(), 1000);
}

/// `--no-config` reads none: not the default file, not `$PORTSCOUT_CONFIG`, even a broken one.
#[test]
fn no_config_reads_none() {
    let home = Home::new("noconfig");
    home.write_default("colour = \"broken\"\n");
    let dry = ["127.0.0.1", "--dry-run", "--no-config"];
    assert_eq!(ports(&stdout_of(home.portscout().args(dry))).len(), 1000);
    assert_eq!(
        ports(&stdout_of(
            home.portscout()
                .env("PORTSCOUT_CONFIG", home.dir.file("missing.toml"))
                .args(dry)
        ))
        .len(),
        1000
    );
    // The broken default file is read without it.
    home.portscout()
        .args(["127.0.0.1", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown option `colour`"));
    // --config and --no-config together make no sense.
    home.portscout()
        .args([
            "127.0.0.1",
            "--dry-run",
            "--no-config",
            "--config",
            "x.toml",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

/// Short options and nmap's spellings on the command line win over the file's long keys, and
/// `-iL` combines with a file.
#[test]
fn short_options_and_nmap_spellings_win_over_the_file() {
    let home = Home::new("nmap");
    let config = home.write(
        "c.toml",
        "ports = \"1-3\"\nscan = \"syn\"\nengine = \"threads\"\norder = \"serial\"\n",
    );
    let config = config.to_str().unwrap();
    let targets = home.write("targets.txt", "127.0.0.1\n127.0.0.2\n");
    let targets = targets.to_str().unwrap();

    // The file alone: a SYN scan cannot run on the threads engine.
    home.portscout()
        .args(["--config", config, "127.0.0.1", "--dry-run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--scan syn runs on the event-loop engines",
        ));
    // -sT (nmap's connect scan) drops the file's `scan`; -p its `ports`; -iL gives targets.
    let out = stdout_of(home.portscout().args([
        "--config",
        config,
        "-iL",
        targets,
        "-sT",
        "-p",
        "9",
        "--dry-run",
    ]));
    assert_eq!(
        probes(&out),
        [("127.0.0.1".to_string(), 9), ("127.0.0.2".to_string(), 9)]
    );
    // The file's ports and serial order with -iL.
    let out =
        stdout_of(
            home.portscout()
                .args(["--config", config, "-iL", targets, "-sT", "--dry-run"]),
        );
    assert_eq!(
        probes(&out),
        [1, 2, 3]
            .iter()
            .flat_map(|&p| [("127.0.0.1".to_string(), p), ("127.0.0.2".to_string(), p)])
            .collect::<Vec<_>>()
    );
}

/// `portscout merge` reads no config file (a missing explicit one is no error there).
#[test]
fn merge_reads_no_config() {
    let home = Home::new("merge");
    let input = home.write(
        "a.ndjson",
        "{\"ip\":\"127.0.0.1\",\"port\":22,\"protocol\":\"tcp\",\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":0.1}\n",
    );
    home.write_default("format = \"csv\"\n");
    let out = stdout_of(
        home.portscout()
            .env("PORTSCOUT_CONFIG", home.dir.file("missing.toml"))
            .args([
                "merge",
                "--partial",
                "--format",
                "ndjson",
                input.to_str().unwrap(),
            ]),
    );
    assert!(
        out.starts_with("{\"ip\":\"127.0.0.1\",\"port\":22"),
        "{out}"
    );
    let text = stdout_of(
        home.portscout()
            .args(["merge", "--partial", input.to_str().unwrap()]),
    );
    assert!(text.starts_with("portscout report for 127.0.0.1"), "{text}");
}

/// A good run never mentions the config file; a failing one says what the file added.
#[test]
fn a_failing_run_names_what_the_file_added() {
    let home = Home::new("note");
    let config = home.write_default("engine = \"async\"\nworkers = 3\nformat = \"csv\"\n");
    home.portscout()
        .args(["127.0.0.1", "-p", "1", "--format", "json"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(format!(
            "error: conflicting options: the async engine runs one event loop; --workers applies \
             to threads and sharded\nnote: config file `{}` added: --engine=async --workers=3 \
             (--no-config reads none)\n",
            config.display()
        ));
    home.write_default("format = \"csv\"\nquiet = false\n");
    let (_held, open, _) = open_and_closed();
    let out = home
        .portscout()
        .args(["127.0.0.1", "-p", &open.to_string()])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(!stderr.contains("config"), "{stderr}");
}

/// `(port → state)` of the port records of ndjson output; panics on a port listed twice.
fn states(ndjson: &str, into: &mut BTreeMap<u16, String>) {
    for line in ndjson.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not ndjson: {e}: {line}"));
        if let Some(port) = v["port"].as_u64() {
            let old = into.insert(port as u16, v["state"].as_str().unwrap().to_string());
            assert!(old.is_none(), "port {port} reported twice");
        }
    }
}

/// A paused scan keeps the options its config file gave: the resume file holds the effective
/// arguments, and `--resume` reads no config file, so changing (or breaking) the file between
/// the two runs changes nothing. Two runs report every port once, in the first run's format,
/// without the ports the first run's file excluded.
#[test]
fn resume_keeps_the_files_options_when_the_file_changes() {
    use std::os::unix::process::ExitStatusExt;
    let home = Home::new("resume");
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let open: BTreeSet<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let spec = format!(
        "1-12000,{}",
        open.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    // 3000 probes a second: about 4 s in all.
    home.write_default(
        "format = \"ndjson\"\nshow = \"all\"\nrate = 3000\nexclude-ports = \"100-199\"\n",
    );
    let resume = home.dir.file("scan.resume");
    let child = home
        .std_portscout()
        .args(["127.0.0.1", "-p", &spec, "--resume-file", &resume])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once results flow (500 lines), not after a fixed time.
    let first = interrupt::interrupt_after_lines(child, 500);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(
        first.status.code(),
        Some(130),
        "{:?} {stderr}",
        first.status.signal()
    );
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&resume).unwrap()).unwrap();
    let stored: Vec<&str> = stored["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        stored[..4],
        [
            "--format=ndjson",
            "--show=all",
            "--rate=3000",
            "--exclude-ports=100-199"
        ],
        "the file's options first, then the command line's: {stored:?}"
    );

    let mut seen = BTreeMap::new();
    states(&String::from_utf8(first.stdout).unwrap(), &mut seen);
    let before = seen.len();
    assert!(
        before > 100 && before < 11_900,
        "{before} ports before the pause"
    );

    // With --resume, neither --config nor a broken file matters, and --config is refused
    // (before the file is resumed: a resumed file cannot be resumed, nor listed, again).
    let total = 12_000 - 100 + open.len();
    home.portscout()
        .args(["--resume", &resume, "--config", &home.dir.file("c.toml")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`--config` cannot be given with --resume",
        ));
    home.write_default("colour = \"broken\"\n");
    let left = stdout_of(home.portscout().args(["--resume", &resume, "--dry-run"]));
    let left = ports(&left);
    assert_eq!(
        left.len(),
        total - before,
        "left = total - reported before the pause"
    );
    assert!(left.iter().all(|p| !(100..200).contains(p)));
    home.portscout()
        .args(["--resume", &resume, "--dry-run", "--no-config"])
        .assert()
        .success();

    // Another file now, whose options would all change the result; and a broken one.
    home.write_default("format = \"csv\"\nshow = \"open\"\nexclude-ports = \"1-12000\"\n");
    let second = stdout_of(home.portscout().args(["--resume", &resume, "-q"]));
    states(&second, &mut seen);
    assert_eq!(seen.len(), total, "every port once over the two runs");
    assert!(
        seen.keys().all(|p| !(100..200).contains(p)),
        "an excluded port was scanned"
    );
    for (port, state) in &seen {
        // Other programs of this machine may listen too.
        if open.contains(port) || state != "open" {
            let wanted = if open.contains(port) {
                "open"
            } else {
                "closed"
            };
            assert_eq!(state, wanted, "port {port}");
        }
    }
}
