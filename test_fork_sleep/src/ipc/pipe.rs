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
    /// `os.pipe()`, with the system calls CPython makes on this platform
    /// ([`procpool::os_pipe`]): `pipe2(O_CLOEXEC)` on Linux, `pipe()` then
    /// `ioctl(FIOCLEX)` on each end on macOS.
    pub fn new() -> nix::Result<Pipe> {
        let (read, write) = procpool::os_pipe().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
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
