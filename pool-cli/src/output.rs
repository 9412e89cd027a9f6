//! Writing the output, with write errors handled instead of panicking (as `println!` does).
//!
//! * stdout (the results): a failed write ends the command with one `error: cannot write
//!   output: ...` line on stderr and [`Exit::Failed`] (1), as `echo hi >/dev/full` does; a
//!   closed pipe (the reader is gone, e.g. `mmpool call ... | head -c0`) ends it quietly with
//!   [`Exit::OutputClosed`] (141, the status a shell shows for a process killed by SIGPIPE;
//!   Rust ignores SIGPIPE, so the write returns `BrokenPipe` instead).
//! * stderr (diagnostics): a failed write is ignored, since stderr is where failures are
//!   reported and there is nowhere left to report this one; the exit code still tells.

use std::fmt::Display;
use std::io::{self, Write};

use crate::outcome::Exit;

/// Writes `text` to stdout and flushes it, so that every error shows here.
pub fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `line` and a newline to stdout (see [`write_stdout`]).
pub fn stdout_line(line: impl Display) -> io::Result<()> {
    write_stdout(&format!("{line}\n"))
}

/// The exit code for a failed stdout write; says why on stderr unless the reader is gone.
pub fn write_failed(error: &io::Error) -> Exit {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Exit::OutputClosed
    } else {
        stderr_line(format_args!("error: cannot write output: {error}"));
        Exit::Failed
    }
}

/// Writes `text` to stderr, ignoring a failure (see the module documentation).
pub fn stderr_text(text: impl Display) {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}

/// Writes `line` and a newline to stderr, ignoring a failure.
pub fn stderr_line(line: impl Display) {
    stderr_text(format_args!("{line}\n"));
}
