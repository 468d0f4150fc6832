//! Close-on-exec pipes and descriptors, made with the system calls CPython
//! makes on each platform.
//!
//! Every pipe of the originals is an `os.pipe()`: `test_pyparallel_sleep.py`'s
//! per-job pipe, `multiprocessing`'s request and reply pipes
//! (`popen_fork.py`, `popen_spawn_posix.py`, `forkserver.py`) and the error
//! pipe of `util.spawnv_passfds`. `os_pipe_impl` in CPython's
//! `Modules/posixmodule.c` calls `pipe2(fds, O_CLOEXEC)` where the platform
//! has `pipe2` (Linux: one system call), and otherwise (macOS has no `pipe2`)
//! `pipe(fds)` then `_Py_set_inheritable(fd, 0, NULL)` on each end. That
//! function (`set_inheritable` in `Python/fileutils.c`) takes its fast path,
//! one `ioctl(fd, FIOCLEX)`, and falls back to `fcntl(F_GETFD)` +
//! `fcntl(F_SETFD)` only when the ioctl fails with `ENOTTY` or `EACCES`.
//! [`os_pipe`] and [`set_cloexec`] do the same, so that a macOS run makes
//! the original's three system calls per pipe, and a Linux run its one.
//!
//! Neither is called in a forked child: CPython itself skips the ioctl fast
//! path where it must stay async-signal-safe (`raise=0`).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `os.pipe()`: a pipe whose two ends are close-on-exec, as CPython makes it
/// on this platform (see the module docs). Returns (read end, write end).
pub fn os_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    #[cfg(target_os = "linux")]
    // SAFETY: pipe2 writes two fds into a valid 2-int array.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: pipe writes two fds into a valid 2-int array.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are fresh from pipe and owned by nothing else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(target_os = "linux"))]
    {
        use std::os::fd::AsRawFd;
        set_cloexec(r.as_raw_fd())?;
        set_cloexec(w.as_raw_fd())?;
    }
    Ok((r, w))
}

/// `_Py_set_inheritable(fd, 0, NULL)`: `ioctl(FIOCLEX)`, or `fcntl` where
/// that ioctl is refused (`ENOTTY`, `EACCES`), as `Python/fileutils.c` does.
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: FIOCLEX takes no argument and only sets a flag of an fd we own.
    if unsafe { libc::ioctl(fd, libc::FIOCLEX as _) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::ENOTTY | libc::EACCES)) {
        return Err(err);
    }
    // SAFETY: F_GETFD/F_SETFD on an fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn is_cloexec(fd: RawFd) -> bool {
        // SAFETY: F_GETFD on an open fd.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(flags >= 0, "{}", io::Error::last_os_error());
        flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn both_ends_of_os_pipe_are_close_on_exec_and_connected() {
        let (r, w) = os_pipe().unwrap();
        assert!(is_cloexec(r.as_raw_fd()) && is_cloexec(w.as_raw_fd()));
        assert_eq!(nix::unistd::write(&w, b"x"), Ok(1));
        let mut b = [0u8; 1];
        assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut b), Ok(1));
        assert_eq!(&b, b"x");
    }

    #[test]
    fn set_cloexec_sets_the_flag_and_reports_a_bad_fd() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(!is_cloexec(r.as_raw_fd()));
        set_cloexec(r.as_raw_fd()).unwrap();
        assert!(is_cloexec(r.as_raw_fd()));
        assert_eq!(set_cloexec(-1).unwrap_err().raw_os_error(), Some(libc::EBADF));
    }
}
