//! The wire format between the parent and a worker, and the raw I/O under it.
//!
//! CPython's Pool pickles `(job_id, i, func, args)` into a length-prefixed
//! message on a pipe. Ours is as small as it can be: a fixed 16-byte header
//! (magic, job index, status, payload length, little-endian) and at most
//! [`MAX_FRAME`] payload bytes, the same frame in both directions. The worker
//! side only uses `read`, `write` and `poll` on raw fds and preallocated
//! buffers, so a forked worker allocates nothing of its own.

use std::os::fd::RawFd;
use std::time::Instant;

/// Largest payload of a job or a result, bytes.
pub const MAX_FRAME: usize = 64 * 1024;
/// Size of the frame header, bytes.
pub const HEADER: usize = 16;
const MAGIC: [u8; 4] = *b"PPv1";

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The job's index in the batch given to `map`.
    pub index: u32,
    /// 0: a job (parent → worker) or a result; else the job function's error code.
    pub status: i32,
    pub len: u32,
}

impl Header {
    pub fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&MAGIC);
        out[4..8].copy_from_slice(&self.index.to_le_bytes());
        out[8..12].copy_from_slice(&self.status.to_le_bytes());
        out[12..16].copy_from_slice(&self.len.to_le_bytes());
    }

    /// `Err` says what is wrong with the bytes.
    pub fn decode(b: &[u8; HEADER]) -> Result<Header, &'static str> {
        if b[..4] != MAGIC {
            return Err("bad magic");
        }
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        let h = Header {
            index: u32::from_le_bytes(word(4)),
            status: i32::from_le_bytes(word(8)),
            len: u32::from_le_bytes(word(12)),
        };
        if h.len as usize > MAX_FRAME {
            return Err("length over the frame limit");
        }
        Ok(h)
    }
}

/// Outcome of a raw read or write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Io {
    Done,
    /// End of file before the first byte.
    Eof,
    /// End of file after some bytes (a truncated frame).
    Short(usize),
    /// The deadline passed with the buffer incomplete.
    TimedOut(usize),
    Error(i32),
    /// `poll` was interrupted by a signal and the caller should look at it.
    Interrupted,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Waits until `fd` is ready for `events` or the deadline passes.
/// Returns false on timeout; `Err(errno)` (EINTR included) on error.
pub(crate) fn wait_fd(fd: RawFd, events: libc::c_short, deadline: Option<Instant>) -> Result<bool, i32> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    let timeout = poll_timeout(deadline);
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout) };
    match r {
        -1 => Err(errno()),
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Milliseconds left until `deadline`, rounded up; -1 (forever) without one.
pub(crate) fn poll_timeout(deadline: Option<Instant>) -> libc::c_int {
    match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            (left.as_micros().div_ceil(1000)).min(i32::MAX as u128) as libc::c_int
        }
    }
}

/// Reads exactly `buf.len()` bytes. On a non-blocking fd it polls until the
/// deadline; on a blocking one (the worker's side) `deadline` is `None`.
/// `interruptible`: an EINTR returns [`Io::Interrupted`] instead of retrying.
pub(crate) fn read_exact(fd: RawFd, buf: &mut [u8], deadline: Option<Instant>, interruptible: bool) -> Io {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: writing into the unfilled tail of `buf`.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n > 0 {
            got += n as usize;
            continue;
        }
        if n == 0 {
            return if got == 0 { Io::Eof } else { Io::Short(got) };
        }
        match errno() {
            libc::EINTR if interruptible => return Io::Interrupted,
            libc::EINTR => {}
            libc::EAGAIN => match wait_fd(fd, libc::POLLIN, deadline) {
                Ok(true) => {}
                Ok(false) => return Io::TimedOut(got),
                Err(libc::EINTR) if interruptible => return Io::Interrupted,
                Err(libc::EINTR) => {}
                Err(e) => return Io::Error(e),
            },
            e => return Io::Error(e),
        }
    }
    Io::Done
}

/// Writes all of `buf`, polling for room until the deadline on a
/// non-blocking fd. EPIPE (the reader is gone) is an `Io::Eof`.
pub(crate) fn write_all(fd: RawFd, buf: &[u8], deadline: Option<Instant>, interruptible: bool) -> Io {
    let mut put = 0;
    while put < buf.len() {
        // SAFETY: reading from the unsent tail of `buf`.
        let n = unsafe { libc::write(fd, buf[put..].as_ptr().cast(), buf.len() - put) };
        if n >= 0 {
            put += n as usize;
            continue;
        }
        match errno() {
            libc::EINTR if interruptible => return Io::Interrupted,
            libc::EINTR => {}
            libc::EPIPE => return Io::Eof,
            libc::EAGAIN => match wait_fd(fd, libc::POLLOUT, deadline) {
                Ok(true) => {}
                Ok(false) => return Io::TimedOut(put),
                Err(libc::EINTR) if interruptible => return Io::Interrupted,
                Err(libc::EINTR) => {}
                Err(e) => return Io::Error(e),
            },
            e => return Io::Error(e),
        }
    }
    Io::Done
}

pub(crate) fn set_nonblocking(fd: RawFd) {
    // SAFETY: F_GETFL/F_SETFL on an fd we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_rejects() {
        let mut b = [0u8; HEADER];
        let h = Header {
            index: 7,
            status: -3,
            len: 4096,
        };
        h.encode(&mut b);
        assert_eq!(Header::decode(&b), Ok(h));
        let mut bad = b;
        bad[0] = b'X';
        assert_eq!(Header::decode(&bad), Err("bad magic"));
        Header {
            len: MAX_FRAME as u32 + 1,
            ..h
        }
        .encode(&mut b);
        assert_eq!(Header::decode(&b), Err("length over the frame limit"));
    }
}
