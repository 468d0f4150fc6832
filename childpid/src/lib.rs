//! A child's process id that can only come from a successful `fork` or
//! spawn, so that `kill` and `waitpid` never see 0 or a negative number.
//!
//! Why a type and not care: `kill(2)` with pid `-1` signals *every process the
//! caller may signal* (for an ordinary user: the whole desktop session), pid
//! `0` or `-n` a whole process group, and a failed `fork()` returns `-1`. The
//! forkserver of `procpool` (CPython's `multiprocessing.forkserver`, as
//! `test_pool_fork_sleep.py` and the `test_pool_*_RF.py` scripts use it)
//! once passed a failed fork's `-1` back as a worker's pid, and the clean-up
//! after the failed run did `kill(-1, SIGKILL)`. With [`ChildPid`] that
//! cannot compile: its only constructors are [`fork`] (the parent's side of a
//! successful fork), [`ChildPid::of`] (a spawned [`std::process::Child`]) and
//! the checked [`ChildPid::new`] (a pid another process got from its own
//! successful fork, such as the forkserver's report), which refuses `<= 0`.
//! Every `kill` and every `waitpid` of one given child in the workspace goes
//! through its methods.
//!
//! Sweeps of the form `waitpid(-1, WNOHANG)` ("has *any* child exited?") are
//! not pids and stay plain `waitpid` calls; what they return is only ever
//! compared with known `ChildPid`s, never signalled.

#![warn(missing_docs)]

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// The pid of a process this one (or its forkserver) forked or spawned:
/// always `> 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildPid(i32);

impl ChildPid {
    /// A pid reported by another process from its own successful fork (the
    /// forkserver's answer): `None` for `0` and every negative number, which
    /// `kill` would read as "my process group", "every process" or "that
    /// group".
    pub fn new(raw: i32) -> Option<ChildPid> {
        (raw > 0).then_some(ChildPid(raw))
    }

    /// The pid of a spawned child (`None` only if it does not fit a pid_t).
    pub fn of(child: &std::process::Child) -> Option<ChildPid> {
        i32::try_from(child.id()).ok().and_then(ChildPid::new)
    }

    /// The number itself, for what only needs to print, send or compare it
    /// (the forkserver's reports, diagnostics). It is still `> 0`; signal
    /// it through [`kill`](ChildPid::kill), not `libc::kill` on this number.
    pub fn as_raw(self) -> i32 {
        self.0
    }

    /// The nix [`Pid`], to compare with what a `waitpid(-1, …)` sweep
    /// returned (see the crate docs); the methods here call nix with it.
    pub fn as_pid(self) -> Pid {
        Pid::from_raw(self.0)
    }

    /// `kill(pid, sig)` on this child alone.
    pub fn kill(self, sig: Signal) -> nix::Result<()> {
        nix::sys::signal::kill(self.as_pid(), sig)
    }

    /// `waitpid(pid, flags)` on this child alone. Once it has returned an
    /// exit or a death, the pid is no longer this process's: drop it.
    pub fn waitpid(self, flags: Option<WaitPidFlag>) -> nix::Result<WaitStatus> {
        nix::sys::wait::waitpid(self.as_pid(), flags)
    }

    /// SIGKILL, then a blocking `waitpid` (retried on `EINTR`): the child is
    /// gone and reaped. `None` if it was not (or no longer) our child.
    pub fn kill_and_reap(self) -> Option<WaitStatus> {
        let _ = self.kill(Signal::SIGKILL);
        loop {
            match self.waitpid(None) {
                Err(Errno::EINTR) => continue,
                Ok(status) => return Some(status),
                Err(_) => return None,
            }
        }
    }

    /// Waits for the child to leave until `deadline`, then
    /// [`kill_and_reap`](ChildPid::kill_and_reap)s it.
    pub fn reap_by(self, deadline: Instant) -> Option<WaitStatus> {
        loop {
            match self.waitpid(Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => return Some(status),
                Err(_) => return None,
            }
            if Instant::now() >= deadline {
                return self.kill_and_reap();
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl std::fmt::Display for ChildPid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What [`fork`] returned in each process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forked {
    /// In the new child: only async-signal-safe calls until `_exit` or exec
    /// (the contract of [`fork`]).
    Child,
    /// In the parent, with the child's pid, which the kernel gave as `> 0`.
    Parent(ChildPid),
}

/// `fork()`, whose parent side can only be a [`ChildPid`]; a failure is its
/// errno, never a pid.
///
/// # Safety
///
/// As [`nix::unistd::fork`]: in a multi-threaded program the child may only
/// call async-signal-safe functions until it execs or `_exit`s.
pub unsafe fn fork() -> Result<Forked, Errno> {
    // SAFETY: the caller keeps fork's contract (see above).
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
        // A kernel never reports success with a pid <= 0; if one did, it is
        // refused like any other bad pid rather than signalled later.
        nix::unistd::ForkResult::Parent { child } => {
            ChildPid::new(child.as_raw()).map(Forked::Parent).ok_or(Errno::EINVAL)
        }
    }
}

/// The C library's text for `errno` (`strerror`), without the
/// " (os error N)" that [`std::io::Error`] appends: "Resource temporarily
/// unavailable", "No space left on device", as the one-line causes print it.
pub fn errno_text(errno: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; the XSI strerror_r (which the
    // libc crate binds on Linux and macOS) NUL-terminates what it writes.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if rc != 0 || len == 0 {
        return format!("error {errno}");
    }
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_zero_and_negative_pids() {
        for raw in [0, -1, -2, -12345, i32::MIN] {
            assert_eq!(ChildPid::new(raw), None, "{raw}");
        }
        assert_eq!(ChildPid::new(1).map(ChildPid::as_raw), Some(1));
        assert_eq!(ChildPid::new(i32::MAX).map(ChildPid::as_raw), Some(i32::MAX));
    }

    #[test]
    fn a_spawned_child_is_killed_and_reaped() {
        let child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = ChildPid::of(&child).unwrap();
        assert_eq!(pid.as_raw() as u32, child.id());
        assert_eq!(pid.to_string(), child.id().to_string());
        assert_eq!(pid.waitpid(Some(WaitPidFlag::WNOHANG)), Ok(WaitStatus::StillAlive));
        assert_eq!(
            pid.kill_and_reap(),
            Some(WaitStatus::Signaled(pid.as_pid(), Signal::SIGKILL, false))
        );
        // Reaped: no longer ours.
        assert_eq!(pid.waitpid(Some(WaitPidFlag::WNOHANG)), Err(Errno::ECHILD));
        drop(child);
    }

    #[test]
    fn errno_text_is_the_c_library_text() {
        assert_eq!(errno_text(libc::ENOSPC), "No space left on device");
        assert_eq!(errno_text(libc::EAGAIN), "Resource temporarily unavailable");
    }
}
