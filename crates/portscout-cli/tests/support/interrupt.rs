//! Interrupting a running portscout at an event, not after a fixed time. Standalone (no other
//! support module), so that test files without the namespace fixtures can include it alone.

use std::time::Duration;

/// Sends SIGINT to `child` (stdout and stderr piped) once its standard output has shown
/// `lines` lines, instead of after a fixed time, and collects its output. If the output ends
/// first (the scan was over), the signal goes to a process that has ended, and the caller's
/// check of the exit code says so.
pub fn interrupt_after_lines(mut child: std::process::Child, lines: usize) -> std::process::Output {
    use std::io::{BufRead, Read};
    let stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let (seen, enough) = std::sync::mpsc::channel();
    let out = std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let (mut all, mut line, mut n) = (Vec::new(), Vec::new(), 0);
        while matches!(reader.read_until(b'\n', &mut line), Ok(k) if k > 0) {
            all.append(&mut line);
            n += 1;
            if n == lines {
                let _ = seen.send(());
            }
        }
        all
    });
    let err = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        all
    });
    // Err: the output ended (or nothing for two minutes): the signal below says how it went.
    let _ = enough.recv_timeout(Duration::from_secs(120));
    // SAFETY: sending a signal to our own child process, not yet waited for.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().expect("wait for portscout");
    std::process::Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}
