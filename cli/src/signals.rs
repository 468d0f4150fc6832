//! SIGINT / SIGTERM (and SIGALRM for `--timeout`) as flags.
//!
//! The handlers are installed *without* `SA_RESTART`, so a parent blocked in
//! `wait(2)` or `read(2)` gets `EINTR` and can kill and reap its children,
//! keep its partial results and exit 130 / 143. No signal thread: a parent
//! that forks must stay single-threaded.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicU64, Ordering};

static RECEIVED: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    RECEIVED.fetch_or(1 << (sig as u64 & 63), Ordering::SeqCst);
}

/// Installs the flag-setting handler for `signals`.
pub fn catch(signals: &[Signal]) -> nix::Result<()> {
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for &s in signals {
        // SAFETY: the handler only performs an atomic store.
        unsafe { sigaction(s, &action) }?;
    }
    Ok(())
}

/// SIGINT or SIGTERM received so far, if any (the first by number); else
/// `SIGPIPE` once stdout is closed (see [`crate::output`]), which stops a run
/// the same way.
pub fn interrupted() -> Option<Signal> {
    let bits = RECEIVED.load(Ordering::SeqCst);
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGPIPE]
        .into_iter()
        .find(|s| bits & (1 << (*s as u64)) != 0)
}

/// Raises the flag of `sig` as if it had arrived (a closed stdout is `SIGPIPE`;
/// no handler is installed for it: Rust ignores the signal and writes fail
/// with `EPIPE` instead).
pub(crate) fn note(sig: Signal) {
    RECEIVED.fetch_or(1 << (sig as u64), Ordering::SeqCst);
}

/// Whether `sig` arrived since the last `take(sig)`; clears it.
pub fn take(sig: Signal) -> bool {
    let bit = 1u64 << (sig as u64);
    RECEIVED.fetch_and(!bit, Ordering::SeqCst) & bit != 0
}

/// The shell's exit code for a run stopped by signal number `sig`: 130 for
/// SIGINT, 143 for SIGTERM. The one place the 128 + n rule is written.
pub fn exit_code(sig: i32) -> u8 {
    128u8.wrapping_add(sig as u8)
}
