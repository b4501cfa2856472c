//! Files named on the command line, checked before anything is written: the directory each
//! one goes to exists and can be written, and no file is a directory. Nothing is created,
//! truncated or appended to here.

use std::ffi::CString;
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::BadInput;

/// Who writes a file: this process as it is now, or the user a `sudo` run becomes once its
/// sockets are open (`portscout::privilege`), for files written only after that (the resume
/// file).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Writer {
    /// This process, with its current identity.
    Now,
    /// This process after the privileges are dropped.
    AfterDrop,
}

/// Checks that `path` (`what` names it in the error: "output file") can be created or
/// written by `writer`: its directory exists and is writable, and it is not a directory.
pub fn check_writable(path: &Path, what: &str, writer: Writer) -> Result<(), BadInput> {
    let bad = |why: String| BadInput(format!("cannot open {what} `{}`: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(bad("the name is empty".into()));
    }
    if path.is_dir() {
        return Err(bad("it is a directory".into()));
    }
    let dir = directory_of(path);
    match std::fs::metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(bad(format!("directory `{}` does not exist", dir.display())))
        }
        Err(e) => return Err(bad(format!("directory `{}`: {e}", dir.display()))),
        Ok(m) if !m.is_dir() => return Err(bad(format!("`{}` is not a directory", dir.display()))),
        Ok(m) => {
            if let Err(e) = access(&dir, libc::W_OK | libc::X_OK) {
                return Err(bad(format!("directory `{}`: {e}", dir.display())));
            }
            if let (Writer::AfterDrop, Some((uid, gid))) = (writer, later_user()) {
                if !permits(&m, uid, gid, 0o3) {
                    return Err(bad(format!(
                        "directory `{}` is not writable by user {uid}, whom this sudo run \
                         becomes once its sockets are open",
                        dir.display()
                    )));
                }
            }
        }
    }
    if path.exists() {
        if let Err(e) = access(path, libc::W_OK) {
            return Err(bad(e.to_string()));
        }
    }
    Ok(())
}

/// A buffered writer to `path` (appending, or truncating it), or to standard output.
pub fn open_writer(path: Option<&Path>, append: bool) -> Result<Box<dyn Write + Send>, BadInput> {
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

/// A buffered writer to `path` that leaves the file as it is until the first write, which
/// empties it first: a document written whole at the end (XML) replaces the file then, and a
/// run that fails before leaves it untouched.
pub fn open_replacing(path: &Path) -> Result<Box<dyn Write + Send>, BadInput> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            BadInput(format!(
                "cannot write output file `{}`: {e}",
                path.display()
            ))
        })?;
    Ok(Box::new(BufWriter::new(Replacing {
        file,
        emptied: false,
    })))
}

/// [`open_replacing`]'s file.
struct Replacing {
    file: std::fs::File,
    emptied: bool,
}

impl Write for Replacing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.emptied {
            self.file.set_len(0)?;
            io::Seek::seek(&mut self.file, io::SeekFrom::Start(0))?;
            self.emptied = true;
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Whether `path` can be written where it is: [`check_writable`] without the error.
pub fn is_writable(path: &Path, writer: Writer) -> bool {
    check_writable(path, "", writer).is_ok()
}

/// Checks that no two of `files` (what, path) are the same file.
pub fn check_distinct(files: &[(&str, &Path)]) -> Result<(), BadInput> {
    for (i, (a_what, a)) in files.iter().enumerate() {
        for (b_what, b) in &files[i + 1..] {
            if same_file(a, b) {
                return Err(BadInput(format!(
                    "{a_what} `{}` and {b_what} `{}` are the same file",
                    a.display(),
                    b.display()
                )));
            }
        }
    }
    Ok(())
}

/// Whether `a` and `b` name the same file (the same inode, or the same absolute path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => absolute(a) == absolute(b),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Under `sudo`, while still root: makes a file this run wrote belong to the invoking user,
/// as the files it writes once it has become that user do.
pub fn give_to_sudo_user(path: &Path) -> io::Result<()> {
    if let Some((uid, gid)) = later_user() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// The directory a file named `path` goes into.
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The user this process becomes when it drops its privileges: the `sudo` user when it runs
/// as root through `sudo` (`portscout::privilege::drop_privileges`).
fn later_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    portscout::privilege::sudo_user()
}

/// Whether the mode bits of `m` give `bits` (of `rwx` as 0o4, 0o2, 0o1) to `uid`/`gid`. The
/// dropped process has no supplementary groups (`setgroups(0)`), so only `gid` counts.
fn permits(m: &std::fs::Metadata, uid: u32, gid: u32, bits: u32) -> bool {
    let mode = m.mode();
    let granted = if m.uid() == uid {
        mode >> 6
    } else if m.gid() == gid {
        mode >> 3
    } else {
        mode
    };
    granted & bits == bits
}

fn access(path: &Path, mode: libc::c_int) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the name"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::access(c.as_ptr(), mode) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_missing_directories_are_refused() {
        let e = check_writable(Path::new("/nonexistent-dir/x"), "output file", Writer::Now)
            .unwrap_err();
        assert!(
            e.0.contains("directory `/nonexistent-dir` does not exist"),
            "{e}"
        );
        let e = check_writable(Path::new("/"), "output file", Writer::Now).unwrap_err();
        assert!(e.0.contains("is a directory"), "{e}");
        let e =
            check_writable(Path::new("/etc/hostname/x"), "output file", Writer::Now).unwrap_err();
        assert!(e.0.contains("is not a directory"), "{e}");
        assert!(check_writable(Path::new("x.txt"), "output file", Writer::Now).is_ok());
    }

    #[test]
    fn the_same_file_twice_is_refused() {
        let e = check_distinct(&[
            ("output file", Path::new("a")),
            ("history", Path::new("./a")),
        ])
        .unwrap_err();
        assert!(e.0.contains("same file"), "{e}");
        assert!(check_distinct(&[("a", Path::new("a")), ("b", Path::new("b"))]).is_ok());
    }
}
