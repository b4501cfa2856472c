//! `portscout completions SHELL` and `portscout man`: generated from the clap definition, so
//! every option of `--help` must be in them, and each shell must accept its script.
//! Nothing here scans.

use std::collections::BTreeSet;
use std::process::Command as Process;

use crate::support;
use crate::support::portscout;

fn stdout_of(args: &[&str]) -> String {
    let out = portscout()
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).unwrap()
}

/// Every `--long` option named in `portscout [COMMAND] --help`.
fn long_options(command: &[&str]) -> BTreeSet<String> {
    let mut args = command.to_vec();
    args.push("--help");
    let help = stdout_of(&args);
    let options: BTreeSet<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_string)
        .collect();
    assert!(options.contains("--help"), "{help}");
    options
}

/// The commands `portscout --help` lists (besides `help`).
fn commands() -> Vec<String> {
    let help = stdout_of(&["--help"]);
    let section = help
        .split("Commands:\n")
        .nth(1)
        .expect("--help lists commands");
    section
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_and_option_is_in_each_completion_script() {
    let commands = commands();
    assert!(
        commands.contains(&"completions".to_string()),
        "{commands:?}"
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for option in long_options(&[]) {
            // fish and powershell name options without their dashes.
            let bare = option.trim_start_matches('-');
            assert!(script.contains(bare), "{shell}: `{option}` missing");
        }
        for command in &commands {
            assert!(
                script.contains(command.as_str()),
                "{shell}: `{command}` missing"
            );
        }
    }
}

/// Completes `words` (the last one being typed) the way bash does on Tab.
fn bash_complete(words: &[&str]) -> BTreeSet<String> {
    let words = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let script = format!(
        "source /dev/stdin; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
         _portscout portscout \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let completion = stdout_of(&["completions", "bash"]);
    let out = Process::new("bash")
        .args(["--norc", "-c", &script])
        .stdin_bytes(completion)
        .unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A small extension: run a process with `input` on stdin, return its stdout (asserting
/// success).
trait StdinBytes {
    fn stdin_bytes(&mut self, input: String) -> std::io::Result<Vec<u8>>;
}

impl StdinBytes for Process {
    fn stdin_bytes(&mut self, input: String) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().unwrap().write_all(input.as_bytes())?;
        let out = child.wait_with_output()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out.stdout)
    }
}

#[test]
fn bash_completes_options_commands_and_values() {
    if !support::require_tool("bash", "bash") {
        return;
    }
    let got = bash_complete(&["portscout", "--for"]);
    assert!(got.contains("--format"), "{got:?}");
    let got = bash_complete(&["portscout", "comp"]);
    assert!(got.contains("completions"), "{got:?}");
    let got = bash_complete(&["portscout", "completions", "f"]);
    assert_eq!(got, BTreeSet::from(["fish".to_string()]));
    let got = bash_complete(&["portscout", "--format", "nd"]);
    assert_eq!(got, BTreeSet::from(["ndjson".to_string()]));
}

/// Each shell parses its script without error (`-n`: read, do not run).
#[test]
fn each_shell_accepts_its_script() {
    for (shell, package) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        if !support::require_tool(shell, package) {
            continue;
        }
        let script = stdout_of(&["completions", shell]);
        let dir = support::TempDir::new("generate");
        let path = dir.path().join(format!("portscout.{shell}"));
        std::fs::write(&path, script).unwrap();
        let out = Process::new(shell).arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{shell} -n: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn an_unknown_shell_is_bad_input() {
    let out = portscout()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error:") && err.contains("tcsh"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn the_man_page_has_every_option_and_renders() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH portscout 1"), "{}", &page[..200]);
    // roff escapes dashes as `\-`.
    let plain = page.replace("\\-", "-");
    for option in long_options(&[]) {
        assert!(
            plain.contains(&option),
            "`{option}` missing from the man page"
        );
    }
    assert!(
        plain.contains("Exit status: 0"),
        "the exit codes are documented"
    );
    if !support::require_tool("groff", "groff-base") {
        return;
    }
    // groff warns on stderr about roff it cannot read; -ww turns every warning on, -k reads
    // UTF-8 as man(1) does.
    use std::io::Write;
    use std::process::Stdio;
    let mut groff = Process::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = groff.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let dir = support::TempDir::new("generate");
    portscout()
        .args(["man", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout("");
    let mut expected: BTreeSet<String> = commands()
        .iter()
        .map(|c| format!("portscout-{c}.1"))
        .collect();
    expected.insert("portscout.1".to_string());
    let written: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(written, expected);
    for command in commands() {
        let page =
            std::fs::read_to_string(dir.path().join(format!("portscout-{command}.1"))).unwrap();
        let plain = page.replace("\\-", "-");
        assert!(
            plain.contains(&format!(".TH portscout-{command} 1")),
            "{command}"
        );
        for option in long_options(&[&command]) {
            assert!(
                plain.contains(&option),
                "portscout-{command}.1: `{option}` missing"
            );
        }
    }
}
