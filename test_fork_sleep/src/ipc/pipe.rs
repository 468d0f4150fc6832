//! `--ipc pipe`: one pipe per job, as `test_pyparallel_sleep.py` does.

use crate::fault::Fault;
use crate::sigsafe;
use nix::errno::Errno;
use std::os::fd::{AsRawFd, OwnedFd};

/// Both ends of one job's pipe; the parent drops the write end after the fork.
pub struct Pipe {
    read: OwnedFd,
    write: Option<OwnedFd>,
}

impl Pipe {
    /// `os.pipe()`: CPython makes both ends non-inheritable. On macOS it does
    /// so with `pipe()` then `fcntl(FD_CLOEXEC)` on each end (there is no
    /// `pipe2`); we make those same calls on every OS.
    pub fn new() -> nix::Result<Pipe> {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        let (read, write) = nix::unistd::pipe()?;
        fcntl(read.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        fcntl(write.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        Ok(Pipe {
            read,
            write: Some(write),
        })
    }

    /// Child side: `os.close(r_fd)` on the child's copy (a raw `close`: the
    /// child never runs a destructor).
    pub fn child_close_read(&self) {
        // SAFETY: closing the child's copy of the read end; close is
        // async-signal-safe.
        unsafe { libc::close(self.read.as_raw_fd()) };
    }

    /// Child side: `os.write(w_fd, payload)`.
    pub fn child_send(&self, record: &[u8], fault: Option<Fault>) -> Result<(), i32> {
        match &self.write {
            Some(w) => sigsafe::write_result(w.as_raw_fd(), record, fault),
            None => Err(libc::EBADF),
        }
    }

    /// Parent side: `os.close(w_fd)`.
    pub fn close_write(&mut self) {
        self.write = None;
    }

    /// The `leakfd` fault: a `dup` of the read end, never closed.
    pub fn leak_read_end(&self) {
        // SAFETY: dup of an open fd; the copy is deliberately leaked.
        unsafe { libc::dup(self.read.as_raw_fd()) };
    }

    /// `while chunk := os.read(r_fd, 4096): data += chunk`, then
    /// `os.close(r_fd)`. Returns the total length; the first `buf.len()`
    /// bytes are kept.
    pub fn read_to_eof(self, buf: &mut [u8]) -> usize {
        let mut chunk = [0u8; 4096];
        let mut total = 0;
        loop {
            match nix::unistd::read(self.read.as_raw_fd(), &mut chunk) {
                Ok(0) => return total,
                Ok(n) => {
                    if total < buf.len() {
                        let k = n.min(buf.len() - total);
                        buf[total..total + k].copy_from_slice(&chunk[..k]);
                    }
                    total += n;
                }
                Err(Errno::EINTR) => continue,
                Err(_) => return total,
            }
        }
    }
}
