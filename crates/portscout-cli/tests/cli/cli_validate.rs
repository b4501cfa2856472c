//! Nothing is touched before the whole command is valid: on every exit-2 path each file named
//! on the command line is byte for byte as it was, and no new file exists. Scans here target
//! only this machine's loopback; the bad ones send nothing at all.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{TempDir, BIN};

/// The files every case starts with: an output file, a real scan history, a resume file and
/// a few inputs.
struct Files {
    template: BTreeMap<String, Vec<u8>>,
}

impl Files {
    fn new() -> Files {
        let dir = TempDir::new("validate-template");
        // A history with one scan in it (this machine's loopback, one port).
        let made = Command::new(BIN)
            .current_dir(dir.path())
            .env("PORTSCOUT_CONFIG", "")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .args(["127.0.0.1", "-p", "1", "-q", "--db", "h.db"])
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        std::fs::remove_file(dir.path().join("portscout.resume")).ok();
        let mut template = BTreeMap::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            template.insert(name, std::fs::read(entry.path()).unwrap());
        }
        assert_eq!(
            template.keys().collect::<Vec<_>>(),
            ["h.db"],
            "{template:?}"
        );
        for (name, bytes) in [
            ("out.txt", &b"precious results\n"[..]),
            ("r.resume", b"precious resume file\n"),
            ("bad.toml", b"rate = \"fast\"\n"),
            ("ex.txt", b"127.0.0.1\n"),
            ("good.toml", b"show = \"all\"\n"),
        ] {
            template.insert(name.into(), bytes.to_vec());
        }
        Files { template }
    }

    fn lay_out(&self, dir: &Path) {
        for (name, bytes) in &self.template {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap_or_else(|_| b"<directory>".to_vec());
            (e.file_name().into_string().unwrap(), bytes)
        })
        .collect()
}

/// The files every case names, unless it names its own.
const FILES: [&str; 6] = ["-o", "out.txt", "--db", "h.db", "--resume-file", "r.resume"];

/// Each bad command exits 2 with `error: …` containing the expected words, and leaves the
/// directory exactly as it was: `out.txt`, `h.db` and `r.resume` unchanged, nothing new.
#[test]
fn bad_commands_touch_no_file() {
    let files = Files::new();
    // (arguments, whether FILES are added, words the error contains)
    let cases: &[(&[&str], bool, &str)] = &[
        (
            &["nosuchhost.invalid", "-p", "80"],
            true,
            "nosuchhost.invalid",
        ),
        (
            &["127.0.0.1", "--exclude", "127.0.0.1", "-p", "80"],
            true,
            "no target address is left",
        ),
        (
            &["127.0.0.1", "--exclude-file", "ex.txt", "-p", "80"],
            true,
            "no target address is left",
        ),
        (
            &["127.0.0.1", "-p", "80", "--exclude-ports", "80"],
            true,
            "no port is left",
        ),
        (&["2001:db8::/64", "-p", "80"], true, "too many probes"),
        // nmap's options that portscout does not take (yet), issue 19.
        (
            &["127.0.0.1", "-p", "80", "-sU"],
            true,
            "UDP scan is not supported yet",
        ),
        (
            &[
                "127.0.0.1",
                "-p",
                "80",
                "-sV",
                "--service-db",
                "/nonexistent/probes",
            ],
            true,
            "/nonexistent/probes",
        ),
        (&["127.0.0.1", "-p", "80", "-sn"], true, "`-sn`"),
        (&["127.0.0.1", "-p", "T:80,U:53"], true, "`U:53`"),
        (&["127.0.0.1", "-p", "80", "-T0"], true, "-T0 (paranoid)"),
        (
            &["127.0.0.1", "-p", "80", "--host-timeout", "5m"],
            true,
            "--host-timeout 5m",
        ),
        (&["127.0.0.1", "-p", "80", "-6"], true, "-6 scans IPv6 only"),
        (
            &[
                "127.0.0.1",
                "-p",
                "80",
                "-o",
                "nodir/out.txt",
                "--db",
                "h.db",
                "--resume-file",
                "r.resume",
            ],
            false,
            "nodir",
        ),
        (
            &["127.0.0.1", "-p", "80", "-o", ".", "--db", "h.db"],
            false,
            "is a directory",
        ),
        (
            &[
                "127.0.0.1",
                "-p",
                "80",
                "-o",
                "out.txt",
                "--db",
                "nodir/h.db",
                "--resume-file",
                "r.resume",
            ],
            false,
            "nodir",
        ),
        (
            &[
                "127.0.0.1",
                "-p",
                "80",
                "-o",
                "out.txt",
                "--db",
                "h.db",
                "--resume-file",
                "nodir/x.resume",
            ],
            false,
            "nodir",
        ),
        (
            &["127.0.0.1", "-p", "80", "-o", "out.txt", "--db", "out.txt"],
            false,
            "same file",
        ),
        (
            &[
                "127.0.0.1",
                "-p",
                "80",
                "-o",
                "out.txt",
                "--resume-file",
                "out.txt",
            ],
            false,
            "same file",
        ),
        (
            &["127.0.0.1", "-p", "80", "--config", "bad.toml"],
            true,
            "bad.toml",
        ),
        (
            &["127.0.0.1", "-p", "80", "--config", "nosuch.toml"],
            true,
            "nosuch.toml",
        ),
        (&["127.0.0.1", "-p", "70000"], true, "70000"),
        (&["999.1.1.1", "-p", "80"], true, "999.1.1.1"),
        (&["-iL", "nosuch.txt", "-p", "80"], true, "nosuch.txt"),
        (&["127.0.0.1", "--top-ports", "0"], true, "`0`"),
        (&["127.0.0.1", "-p", "80", "--rate", "0"], true, "--rate 0"),
        (&["127.0.0.1", "-p", "80", "--shard", "1/2"], true, "--seed"),
        (
            &[
                "127.0.0.1",
                "-p",
                "80",
                "--scan",
                "syn",
                "--engine",
                "threads",
            ],
            true,
            "threads",
        ),
        (
            &["127.0.0.1", "-p", "80", "-oX", "nodir/x.xml"],
            true,
            "nodir/x.xml",
        ),
        (
            &["127.0.0.1", "-p", "80", "-oA", "nodir/base"],
            true,
            "nodir/base.nmap",
        ),
        (
            &["127.0.0.1", "-p", "80", "-oG", "out.txt"],
            true,
            "same file",
        ),
        (&["127.0.0.1", "-p", "80", "-oZ", "z.txt"], true, "`-oZ`"),
        (
            &["127.0.0.1", "-p", "80", "-o", "X", "scan.xml"],
            false,
            "`-oX scan.xml`",
        ),
        (
            &["-oX", "scan.xml", "nosuchhost.invalid", "-p", "80"],
            true,
            "nosuchhost.invalid",
        ),
        (&["--resume", "nosuch.resume"], false, "nosuch.resume"),
        (
            &["--resume", "r.resume"],
            false,
            "not a portscout resume file",
        ),
        (&[], true, "no targets"),
    ];
    let mut failures = Vec::new();
    for (args, with_files, words) in cases {
        let dir = TempDir::new("validate");
        files.lay_out(dir.path());
        let before = snapshot(dir.path());
        let mut all: Vec<&str> = args.to_vec();
        if *with_files {
            all.extend(FILES);
        }
        let out = Command::new(BIN)
            .current_dir(dir.path())
            .env("PORTSCOUT_CONFIG", "")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .args(&all)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let after = snapshot(dir.path());
        if out.status.code() != Some(2) || !stderr.starts_with("error:") || !stderr.contains(words)
        {
            failures.push(format!(
                "{all:?}: exit {:?}, stderr {stderr:?}",
                out.status.code()
            ));
        }
        if after != before {
            let changed: Vec<_> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect();
            failures.push(format!("{all:?}: changed or created {changed:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Under `sudo` the scan becomes the invoking user once its sockets are open, and that user
/// writes the resume file: a directory only root can write is refused at once (exit 2), not
/// at the first Ctrl-C, when the progress would be lost.
#[test]
fn a_resume_file_the_sudo_user_cannot_write_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (a sudo run)");
        return;
    }
    let dir = TempDir::new("validate-sudo");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = snapshot(dir.path());
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("PORTSCOUT_CONFIG", "")
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .args(["127.0.0.1", "-p", "1", "--resume-file", "x.resume"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not writable by user 65534"), "{stderr}");
    assert_eq!(snapshot(dir.path()), before);
}
