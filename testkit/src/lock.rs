//! The process-wide lock of the tests that fork or count.

use std::sync::{Mutex, MutexGuard};

/// Held by every test that forks (directly or by starting a binary that
/// forks), or that counts fds, children or the processes of a group.
///
/// libtest runs the tests of one binary on several threads of one process.
/// A test that counts its own open fds or children sees the pipes and the
/// children of a test running beside it: a leak that is not there, or one
/// hidden by the other's close. A test that forks while another thread holds
/// the allocator's lock leaves a child that cannot allocate. And the suite's
/// binaries fork up to hundreds of children each: two at a time on a 2-core
/// machine turn a bound on a fault path into a flaky one. So such tests run
/// one at a time, as nix's own tests do with their `FORK_MTX`.
///
/// The lock is per test binary (each `tests/*.rs` is its own process): a
/// test that must be alone in its process gets its own `[[test]]` target
/// or file instead, as `probes/tests/hygiene.rs` does.
static FORK_MTX: Mutex<()> = Mutex::new(());

/// Takes `FORK_MTX` (above). A test that panicked while holding it poisons it;
/// the next test takes it all the same (the failure is already reported).
pub fn lock() -> MutexGuard<'static, ()> {
    FORK_MTX.lock().unwrap_or_else(|e| e.into_inner())
}
