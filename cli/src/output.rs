//! Standard output for the run's lines, written in one place so that a closed
//! stdout (`test_fork_sleep | head -1`) ends the run quietly, as ripgrep does
//! (`crates/core/main.rs`), instead of the panic of `println!`.
//!
//! Every line goes through [`outln!`](crate::outln) / [`out!`](crate::out).
//! The first failed write sets a process-wide flag and every later write is
//! skipped; [`crate::signals::interrupted`] then reports `SIGPIPE`, so the
//! interrupt checks every strategy already makes stop the run: children and
//! workers killed and reaped, the record written with `"interrupted": true`,
//! and `timing::Experiment::conclude` exits 0 with no message (the suite's
//! rule for a closed pipe, written down in docs/binaries.md). Any other write error
//! (a full disk under `> file`) stops the run the same way but is reported:
//! one line, exit 1.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error that was not `BrokenPipe`.
static ERROR: OnceLock<String> = OnceLock::new();

/// `println!` that never panics: see the module docs.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::line(::std::format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(::std::format_args!($($arg)*))
    };
}

/// `print!` followed by a flush (a line finished later), that never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::partial(::std::format_args!($($arg)*))
    };
}

/// One line and its newline.
pub fn line(args: fmt::Arguments<'_>) {
    write(|o| {
        o.write_fmt(args)?;
        o.write_all(b"\n")
    });
}

/// Text without a newline, flushed at once.
pub fn partial(args: fmt::Arguments<'_>) {
    write(|o| {
        o.write_fmt(args)?;
        o.flush()
    });
}

/// Raw bytes (`--json -`), flushed at once.
pub fn bytes(b: &[u8]) {
    write(|o| {
        o.write_all(b)?;
        o.flush()
    });
}

/// Whether a write to stdout has failed; nothing more is written then.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// The write error, when stdout failed for another reason than a closed pipe.
pub fn error() -> Option<&'static str> {
    ERROR.get().map(String::as_str)
}

fn write(f: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>) {
    if closed() {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = f(&mut out) {
        stop(&e);
    }
}

/// Marks stdout as gone; the run's interrupt checks see it as `SIGPIPE`.
pub(crate) fn stop(e: &io::Error) {
    if e.kind() != io::ErrorKind::BrokenPipe {
        let _ = ERROR.set(e.to_string());
    }
    CLOSED.store(true, Ordering::SeqCst);
    crate::signals::note(nix::sys::signal::Signal::SIGPIPE);
}
