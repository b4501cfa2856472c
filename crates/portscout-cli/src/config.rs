//! The optional config file: where it is, what it may hold, and how its options join the
//! command line's (`docs/config.md`).
//!
//! The file is TOML; its keys are the scan's long option names. Each key becomes command-line
//! arguments (`--key=value`) that are parsed by the one clap definition together with the real
//! command line, so every option, present or added later, works in the file as on the command
//! line, with the same validation. A key whose option the command line gives (or an option
//! that conflicts with it) is dropped whole: the command line always wins.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, Command};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::BadInput;

/// The file's path under a configuration directory.
const FILE_NAME: [&str; 2] = ["portscout", "config.toml"];

/// What the targets' options may not be set from, and why.
const TARGETS: &str = "targets are given on the command line (or with -iL), never by a config file";

/// Options that a config file cannot set, by clap id, and why.
const NOT_IN_A_FILE: &[(&str, &str)] = &[
    ("targets", TARGETS),
    ("input_list", TARGETS),
    (
        "resume",
        "a resumed scan takes its arguments from its resume file",
    ),
    ("dry_run", "a dry run is asked for on the command line"),
    ("config", "it chooses the config file"),
    ("no_config", "it chooses the config file"),
];

/// Where the config file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// None is read (`--no-config`, `PORTSCOUT_CONFIG` set empty, no home directory).
    None,
    /// A file that must exist; the second field says who named it (`--config`,
    /// `$PORTSCOUT_CONFIG`).
    Explicit(PathBuf, &'static str),
    /// The default file: read if it exists, silently skipped if not.
    Default(PathBuf),
}

/// Where the config file is: `--no-config` reads none; else `--config FILE`; else
/// `$PORTSCOUT_CONFIG` (empty: none); else `$XDG_CONFIG_HOME/portscout/config.toml` (an
/// absolute `$XDG_CONFIG_HOME` only, as the XDG base directory specification says), else
/// `$HOME/.config/portscout/config.toml`. `env` reads an environment variable.
pub fn locate(
    flag: Option<&Path>,
    no_config: bool,
    env: impl Fn(&str) -> Option<OsString>,
) -> Location {
    if no_config {
        return Location::None;
    }
    if let Some(path) = flag {
        return Location::Explicit(path.to_path_buf(), "--config");
    }
    if let Some(path) = env("PORTSCOUT_CONFIG") {
        return if path.is_empty() {
            Location::None
        } else {
            Location::Explicit(path.into(), "$PORTSCOUT_CONFIG")
        };
    }
    let under = |dir: PathBuf| Location::Default(FILE_NAME.iter().fold(dir, |p, c| p.join(c)));
    if let Some(dir) = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
    {
        return under(dir);
    }
    match env("HOME").filter(|h| !h.is_empty()) {
        Some(home) => under(PathBuf::from(home).join(".config")),
        None => Location::None,
    }
}

/// The text of the config file at `location`, with its path; `None` when there is none (a
/// default file that does not exist). An explicit file that cannot be read is bad input.
pub fn read(location: &Location) -> Result<Option<(PathBuf, String)>, BadInput> {
    let (path, origin) = match location {
        Location::None => return Ok(None),
        Location::Default(path) if !path.exists() => return Ok(None),
        Location::Default(path) => (path, String::new()),
        Location::Explicit(path, by) => (path, format!(" (from {by})")),
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some((path.clone(), text))),
        Err(e) => Err(BadInput(format!(
            "cannot read config file `{}`{origin}: {e}",
            path.display()
        ))),
    }
}

/// The arguments (`--key=value`, `--flag`) that the config file `text` (read from `path`)
/// adds to the command line of `cmd`. `given(id)` says whether the command line gave the
/// option with that clap id: such a key, and a key whose option conflicts with a given one, is
/// dropped whole (a list too: the command line's `--exclude` replaces the file's).
///
/// Every key is checked first, dropped or not, against the clap definition: an unknown key,
/// an option a file cannot set, a value of the wrong TOML type or one the option refuses is
/// bad input naming the file, the line and the key. So whether a file is valid never depends
/// on the command line it is used with.
pub fn file_args(
    cmd: &Command,
    path: &Path,
    text: &str,
    given: impl Fn(&str) -> bool,
) -> Result<Vec<String>, BadInput> {
    let bad = |line: Option<usize>, msg: String| {
        BadInput(match line {
            Some(n) => format!("config file `{}` line {n}: {msg}", path.display()),
            None => format!("config file `{}`: {msg}", path.display()),
        })
    };
    let table = DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        bad(line, format!("not TOML: {}", one_line(e.message())))
    })?;
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);

    let mut keys = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let line = Some(line_of(text, key.span().start));
        let name = key.get_ref().as_ref();
        let arg = find_option(cmd, name).map_err(|m| bad(line, m))?;
        let args = to_args(arg, name, value).map_err(|m| bad(line, m))?;
        // The values, as the command line would check them. Conflicts and requirements are
        // checked below, with the rest of the file and with the command line.
        if let Err(e) = try_parse(cmd, &args) {
            if !matches!(
                e.kind(),
                ErrorKind::ArgumentConflict | ErrorKind::MissingRequiredArgument
            ) {
                return Err(bad(line, format!("`{name}`: {}", clap_message(&e))));
            }
        }
        keys.push((arg, args));
    }
    // Two options of the file may conflict with each other.
    let all: Vec<String> = keys.iter().flat_map(|(_, a)| a.iter().cloned()).collect();
    if let Err(e) = try_parse(cmd, &all) {
        if e.kind() != ErrorKind::MissingRequiredArgument {
            return Err(bad(None, clap_message(&e)));
        }
    }
    let on_command_line: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| given(a.get_id().as_str()))
        .collect();
    Ok(keys
        .into_iter()
        .filter(|(arg, _)| !on_command_line.iter().any(|g| overrides(cmd, g, arg)))
        .flat_map(|(_, args)| args)
        .collect())
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses `args` alone (after a program name) with `cmd`.
fn try_parse(cmd: &Command, args: &[String]) -> Result<clap::ArgMatches, clap::Error> {
    let argv = std::iter::once("portscout").chain(args.iter().map(String::as_str));
    cmd.clone().try_get_matches_from(argv)
}

/// The option that config key `key` sets: the option whose long name (or one of its aliases)
/// is `key`, if a file may set it.
fn find_option<'c>(cmd: &'c Command, key: &str) -> Result<&'c Arg, String> {
    let named = |a: &&Arg| {
        a.get_long() == Some(key) || a.get_all_aliases().is_some_and(|al| al.contains(&key))
    };
    let arg = match cmd.get_arguments().find(named) {
        Some(arg) => arg,
        None => {
            if let Some(p) = cmd
                .get_arguments()
                .find(|a| a.is_positional() && a.get_id() == key)
            {
                return Err(not_in_a_file(key, p).unwrap_or_else(|| TARGETS.to_string()));
            }
            return Err(unknown(cmd, key));
        }
    };
    if let Some(why) = not_in_a_file(key, arg) {
        return Err(why);
    }
    Ok(arg)
}

/// Why `arg` cannot be set by a config file, if it cannot.
fn not_in_a_file(key: &str, arg: &Arg) -> Option<String> {
    let why = NOT_IN_A_FILE
        .iter()
        .find(|(id, _)| arg.get_id() == *id)
        .map(|(_, why)| *why)
        .or(match arg.get_action() {
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version => {
                Some("it is not a scan option")
            }
            _ => None,
        })?;
    Some(format!("`{key}` cannot be set in a config file: {why}"))
}

/// The error for a key that names no option, with a hint when it is close to one.
fn unknown(cmd: &Command, key: &str) -> String {
    let dashed = key.replace('_', "-");
    let mut chars = key.chars();
    let hint = if dashed != key && cmd.get_arguments().any(|a| a.get_long() == Some(&dashed)) {
        Some(dashed)
    } else if let (Some(c), None) = (chars.next(), chars.next()) {
        cmd.get_arguments()
            .find(|a| a.get_short() == Some(c))
            .and_then(|a| a.get_long())
            .map(str::to_string)
    } else {
        None
    };
    match hint {
        Some(long) => {
            format!("unknown option `{key}` (keys are long option names: did you mean `{long}`?)")
        }
        None => format!("unknown option `{key}`"),
    }
}

/// The arguments that `key = value` stands for.
fn to_args(arg: &Arg, key: &str, value: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
    let flag = format!(
        "--{}",
        arg.get_long().expect("options are found by long name")
    );
    let value = value.get_ref();
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match value {
            // `banners = false` is the default spelled out: nothing to add.
            DeValue::Boolean(b) if *b == matches!(arg.get_action(), ArgAction::SetTrue) => {
                Ok(vec![flag])
            }
            DeValue::Boolean(_) => Ok(Vec::new()),
            other => Err(format!(
                "`{key}` is a flag: expected true or false, not {}",
                type_name(other)
            )),
        },
        ArgAction::Count => match value {
            DeValue::Boolean(b) => Ok(if *b { vec![flag] } else { Vec::new() }),
            DeValue::Integer(i) => match integer(i).parse::<u8>() {
                Ok(n) => Ok(vec![flag; usize::from(n)]),
                Err(_) => Err(format!("`{key}` is a count: expected 0 to 255, not {i}")),
            },
            other => Err(format!(
                "`{key}` is a count: expected a number, not {}",
                type_name(other)
            )),
        },
        ArgAction::Append => match value {
            DeValue::Array(items) => items
                .iter()
                .map(|v| scalar(key, v.get_ref()).map(|s| format!("{flag}={s}")))
                .collect(),
            one => Ok(vec![format!("{flag}={}", scalar(key, one)?)]),
        },
        _ => Ok(vec![format!("{flag}={}", scalar(key, value)?)]),
    }
}

/// One option value: a string, or a number as written.
fn scalar(key: &str, value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(i) => Ok(integer(i)),
        DeValue::Float(f) => Ok(f.as_str().to_string()),
        other => Err(format!(
            "`{key}` takes {}, not {}",
            if matches!(other, DeValue::Array(_)) {
                "one value"
            } else {
                "a value (a string or a number)"
            },
            type_name(other)
        )),
    }
}

/// A TOML integer in decimal (`0x10` is `16`).
fn integer(i: &toml::de::DeInteger<'_>) -> String {
    i128::from_str_radix(i.as_str(), i.radix()).map_or_else(|_| i.to_string(), |n| n.to_string())
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Whether `given`, an option of the command line, overrides the file's `key` option: it is
/// the same option, or one of them conflicts with the other (so both cannot be used).
fn overrides(cmd: &Command, given: &Arg, key: &Arg) -> bool {
    let conflicts = |a: &Arg, b: &Arg| {
        cmd.get_arg_conflicts_with(a)
            .iter()
            .any(|c| c.get_id() == b.get_id())
    };
    let one_of_a_group = cmd.get_groups().any(|g| {
        let ids: Vec<_> = g.get_args().cloned().collect();
        !g.clone().is_multiple() && ids.contains(given.get_id()) && ids.contains(key.get_id())
    });
    given.get_id() == key.get_id()
        || given.is_exclusive_set()
        || key.is_exclusive_set()
        || conflicts(given, key)
        || conflicts(key, given)
        || one_of_a_group
}

/// A clap error's message on one line, without its `error: ` prefix and usage hints.
pub fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    one_line(first.trim().strip_prefix("error: ").unwrap_or(first))
}

/// `text` with each run of white space (line breaks included) made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::CommandFactory;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn location_order() {
        let all = [
            ("PORTSCOUT_CONFIG", "/e/p.toml"),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ];
        let flag = Some(Path::new("/f.toml"));
        assert_eq!(locate(flag, true, env(&all)), Location::None);
        assert_eq!(
            locate(flag, false, env(&all)),
            Location::Explicit("/f.toml".into(), "--config")
        );
        assert_eq!(
            locate(None, false, env(&all)),
            Location::Explicit("/e/p.toml".into(), "$PORTSCOUT_CONFIG")
        );
        assert_eq!(
            locate(
                None,
                false,
                env(&[("PORTSCOUT_CONFIG", ""), ("HOME", "/h")])
            ),
            Location::None
        );
        assert_eq!(
            locate(None, false, env(&all[1..])),
            Location::Default("/x/portscout/config.toml".into())
        );
        // A relative XDG_CONFIG_HOME is ignored (XDG base directory specification).
        assert_eq!(
            locate(
                None,
                false,
                env(&[("XDG_CONFIG_HOME", "x"), ("HOME", "/h")])
            ),
            Location::Default("/h/.config/portscout/config.toml".into())
        );
        assert_eq!(locate(None, false, env(&[])), Location::None);
    }

    /// The file's arguments, with `cli` as the command line.
    fn file(text: &str, cli: &[&str]) -> Result<Vec<String>, String> {
        let cmd = Cli::command();
        let argv = std::iter::once("portscout").chain(cli.iter().copied());
        let m = cmd.clone().try_get_matches_from(argv).unwrap();
        let given = |id: &str| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
        file_args(&cmd, Path::new("c.toml"), text, given).map_err(|e| e.0)
    }

    #[test]
    fn keys_become_arguments_in_file_order() {
        let text = "ports = \"1-1024\"\nrate = 0x10\nno-host-check = true\nquiet = false\n\
                    exclude = [\"198.18.0.0/24\", \"198.18.1.1\"]\ntimeout = \"500ms\"\n";
        assert_eq!(
            file(text, &[]).unwrap(),
            [
                "--ports=1-1024",
                "--rate=16",
                "--no-host-check",
                "--exclude=198.18.0.0/24",
                "--exclude=198.18.1.1",
                "--timeout=500ms"
            ]
        );
    }

    #[test]
    fn the_command_line_drops_a_key_and_the_keys_it_conflicts_with() {
        let text = "ports = \"1-1024\"\nexclude = [\"198.18.0.1\"]\nmin-rtt-timeout = 60\n\
                    format = \"json\"\n";
        assert_eq!(
            file(
                text,
                &["--top-ports", "10", "--exclude", "x", "--timeout", "5"]
            )
            .unwrap(),
            ["--format=json"]
        );
        assert_eq!(
            file(text, &["-p", "80", "--format=csv"]).unwrap(),
            ["--exclude=198.18.0.1", "--min-rtt-timeout=60"]
        );
    }

    #[test]
    fn bad_files_name_the_line_and_the_key() {
        for (text, wanted) in [
            ("\n\ncolour = 1", "c.toml` line 3: unknown option `colour`"),
            ("top_ports = 5", "did you mean `top-ports`?"),
            ("p = \"80\"", "did you mean `ports`?"),
            (
                "rate = \"fast\"",
                "line 1: `rate`: invalid value 'fast' for '--rate <PPS>'",
            ),
            (
                "rate = true",
                "`rate` takes a value (a string or a number), not a boolean",
            ),
            ("show = [\"open\"]", "`show` takes one value, not an array"),
            (
                "no-host-check = \"yes\"",
                "is a flag: expected true or false, not a string",
            ),
            (
                "exclude = [[\"x\"]]",
                "`exclude` takes one value, not an array",
            ),
            (
                "targets = [\"127.0.0.1\"]",
                "`targets` cannot be set in a config file",
            ),
            (
                "input-list = \"t\"",
                "`input-list` cannot be set in a config file",
            ),
            ("resume = \"r\"", "`resume` cannot be set"),
            ("dry-run = true", "`dry-run` cannot be set"),
            ("config = \"c\"", "`config` cannot be set"),
            ("ports = \"80\"\ntop-ports = 5", "cannot be used with"),
            ("\nports = ", "c.toml` line 2: not TOML: "),
            ("[options]\nports = \"80\"", "unknown option `options`"),
            (
                "scan.type = \"syn\"",
                "`scan` takes a value (a string or a number), not a table",
            ),
        ] {
            let err = file(text, &[]).unwrap_err();
            assert!(err.contains(wanted), "{text:?}: {err}");
            // Whatever the command line gives.
            assert_eq!(file(text, &["-p", "80", "--rate", "5"]).unwrap_err(), err);
        }
    }

    /// Nothing here lists the options: any clap definition works, with its flags, counts,
    /// aliases and groups (a group's members exclude each other).
    #[test]
    fn any_clap_definition_works() {
        use clap::ArgGroup;
        let cmd = Command::new("t")
            .arg(
                Arg::new("banners")
                    .long("banners")
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("verbose").long("verbose").action(ArgAction::Count))
            .arg(Arg::new("db").long("db").visible_alias("database"))
            .arg(Arg::new("json").long("json").action(ArgAction::SetTrue))
            .arg(Arg::new("csv").long("csv").action(ArgAction::SetTrue))
            .group(ArgGroup::new("fmt").args(["json", "csv"]));
        let text = "banners = true\nverbose = 2\ndatabase = \"s.db\"\njson = true\n";
        let args = |given: &[&str]| {
            file_args(&cmd, Path::new("c.toml"), text, |id| given.contains(&id)).map_err(|e| e.0)
        };
        assert_eq!(
            args(&[]).unwrap(),
            ["--banners", "--verbose", "--verbose", "--db=s.db", "--json"]
        );
        assert_eq!(
            args(&["csv", "db"]).unwrap(),
            ["--banners", "--verbose", "--verbose"]
        );
    }

    #[test]
    fn options_a_file_cannot_set_exist() {
        let cmd = Cli::command();
        for (id, _) in NOT_IN_A_FILE {
            assert!(
                cmd.get_arguments().any(|a| a.get_id() == *id),
                "no option `{id}`"
            );
        }
    }
}
