//! Leak checks: a leaked fd, a zombie or an orphan can itself cause drift, so
//! every strategy must come back to its baseline after every call.

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Number of open file descriptors of this process: the entries of `/dev/fd`
/// (Linux and macOS both have it), else a probe of every fd below the limit.
pub fn open_fds() -> usize {
    if let Ok(dir) = std::fs::read_dir("/dev/fd") {
        // The directory handle itself is one of the entries.
        return dir.count().saturating_sub(1);
    }
    // SAFETY: getdtablesize has no preconditions.
    let limit = unsafe { libc::getdtablesize() }.clamp(0, 65536);
    // SAFETY: F_GETFD on any integer is harmless; EBADF when not open.
    (0..limit)
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .count()
}

/// What `waitpid(-1, WNOHANG)` tells about our children.
#[derive(Debug, PartialEq, Eq)]
pub enum Children {
    /// `ECHILD`: no child at all, the baseline of a fork-per-job parent.
    None,
    /// At least one child alive.
    Running,
    /// A child had exited unreaped (a zombie); it is reaped now.
    Zombie(i32),
}

/// A sweep over *any* child (`waitpid(-1, WNOHANG)`), on purpose: it asks
/// whether a child is left, not about a known one. The pid it may return is
/// only reported, never signalled (the child is reaped by then).
pub fn children() -> Children {
    match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        Err(Errno::ECHILD) => Children::None,
        Ok(WaitStatus::StillAlive) | Err(_) => Children::Running,
        Ok(status) => Children::Zombie(status.pid().map_or(-1, Pid::as_raw)),
    }
}
