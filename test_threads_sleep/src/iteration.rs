//! What every runtime shares: the body of one iteration (`foo(a, T)` of
//! `test_openmp_sleep.c`), running it with its panic caught, creating threads
//! with the fallible APIs, and the one-line errors a region can end with.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

/// The body of one iteration: `a` → its result.
pub type Body = dyn Fn(usize) -> Option<u64> + Send + Sync;

/// One iteration's outcome: its result, or the message of its panic.
pub type Slot = Result<Option<u64>, String>;

thread_local! {
    /// Set while this thread runs an iteration: its panic is expected (the
    /// caller reports it as one line), any other panic is a bug.
    static IN_ITERATION: Cell<bool> = const { Cell::new(false) };
}

/// Runs iteration `a` of `body`, a panic caught and turned into its message.
pub fn run_iteration(body: &Body, a: usize) -> Slot {
    IN_ITERATION.with(|f| f.set(true));
    let r = catch_unwind(AssertUnwindSafe(|| body(a)));
    IN_ITERATION.with(|f| f.set(false));
    r.map_err(|p| panic_message(&*p))
}

/// Keeps the default panic message for every panic but an iteration's: that
/// one ends the run as `iteration A panicked: …` (one line, printed by the
/// caller), every other panic is a bug and must be seen.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_ITERATION.with(|f| f.get()) {
            default(info);
        }
    }));
}

/// The text of a panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// A thread that could not be created: `thread` of `of` (1-based; in the
/// team, thread 1 is the main thread, member `a` is thread `a + 1`).
#[derive(Debug)]
pub struct SpawnError {
    pub thread: usize,
    pub of: usize,
    pub err: io::Error,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot create thread {} of {}: {}",
            self.thread,
            self.of,
            os_message(&self.err)
        )
    }
}

/// `strerror` of an OS error, without std's ` (os error N)` suffix.
pub fn os_message(err: &io::Error) -> String {
    let s = err.to_string();
    match (err.raw_os_error(), s.rsplit_once(" (os error ")) {
        (Some(_), Some((msg, _))) => msg.to_string(),
        _ => s,
    }
}

/// How a region (one call) can fail, as one line.
#[derive(Debug)]
pub enum RegionError {
    /// The first panicking iteration (lowest `a`) and its message.
    Panicked(usize, String),
    Spawn(SpawnError),
    /// The pool's threads are gone (a bug: iterations cannot kill them).
    WorkersGone,
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::Panicked(a, msg) => write!(f, "iteration {a} panicked: {msg}"),
            RegionError::Spawn(e) => e.fmt(f),
            RegionError::WorkersGone => f.write_str("the pool's worker threads are gone"),
        }
    }
}

impl From<SpawnError> for RegionError {
    fn from(e: SpawnError) -> Self {
        RegionError::Spawn(e)
    }
}

/// Collects a region's slots in iteration order into `out`; the first
/// panicking iteration, if any, is the error.
pub fn collect<'a>(slots: impl Iterator<Item = &'a Slot>, out: &mut Vec<Option<u64>>) -> Result<(), RegionError> {
    out.clear();
    for (a, slot) in slots.enumerate() {
        match slot {
            Ok(v) => out.push(*v),
            Err(msg) => return Err(RegionError::Panicked(a, msg.clone())),
        }
    }
    Ok(())
}

/// Creates the threads of a runtime of `of` threads with the fallible APIs
/// (`Builder::spawn`, `Builder::spawn_scoped`), so that a process limit is
/// one line and exit 1, not a panic. `fail_at` is the hidden
/// `--inject-spawn-failure K`: creating thread `K` fails with `EAGAIN`, as
/// it does under `RLIMIT_NPROC`.
#[derive(Clone, Copy, Debug)]
pub struct Spawner {
    pub of: usize,
    pub fail_at: Option<usize>,
}

impl Spawner {
    fn check(&self, thread: usize) -> Result<std::thread::Builder, SpawnError> {
        if self.fail_at == Some(thread) {
            let err = io::Error::from_raw_os_error(libc::EAGAIN);
            return Err(SpawnError {
                thread,
                of: self.of,
                err,
            });
        }
        Ok(std::thread::Builder::new())
    }

    /// Creates thread `thread` (1-based) named `name`.
    pub fn spawn<T: Send + 'static>(
        &self,
        thread: usize,
        name: String,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<JoinHandle<T>, SpawnError> {
        let of = self.of;
        self.check(thread)?
            .name(name)
            .spawn(f)
            .map_err(|err| SpawnError { thread, of, err })
    }

    /// Creates thread `thread` (1-based) in scope `s`.
    pub fn spawn_scoped<'scope, T: Send + 'scope>(
        &self,
        s: &'scope Scope<'scope, '_>,
        thread: usize,
        f: impl FnOnce() -> T + Send + 'scope,
    ) -> Result<ScopedJoinHandle<'scope, T>, SpawnError> {
        let of = self.of;
        self.check(thread)?
            .spawn_scoped(s, f)
            .map_err(|err| SpawnError { thread, of, err })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_error_is_the_issue_line() {
        let e = SpawnError {
            thread: 3,
            of: 8,
            err: io::Error::from_raw_os_error(libc::EAGAIN),
        };
        assert_eq!(
            e.to_string(),
            "cannot create thread 3 of 8: Resource temporarily unavailable"
        );
    }

    #[test]
    fn injected_failure_hits_thread_k_only() {
        let s = Spawner {
            of: 4,
            fail_at: Some(2),
        };
        let ok = s.spawn(1, "t1".into(), || 7).unwrap();
        assert_eq!(ok.join().unwrap(), 7);
        let e = s.spawn(2, "t2".into(), || 7).unwrap_err();
        assert_eq!((e.thread, e.of, e.err.raw_os_error()), (2, 4, Some(libc::EAGAIN)));
    }

    #[test]
    fn collect_reports_the_first_panic_in_iteration_order() {
        let slots: Vec<Slot> = vec![Ok(Some(0)), Err("b".into()), Err("c".into())];
        let mut out = Vec::new();
        let e = collect(slots.iter(), &mut out).unwrap_err();
        assert_eq!(e.to_string(), "iteration 1 panicked: b");
        collect([Ok(None), Ok(Some(1))].iter(), &mut out).unwrap();
        assert_eq!(out, vec![None, Some(1)]);
    }
}
