//! The child's writes, in async-signal-safe calls only: what the forked child
//! ([`crate::child`]) and the IPC back-ends it sends through ([`crate::ipc`])
//! both use, kept apart so that neither imports the other for it (the child
//! uses the IPC; the IPC does not use the child).

use crate::fault::Fault;
use std::os::fd::RawFd;

/// The errno of the call that just failed (allocation-free).
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// `os.write(w_fd, payload)`: the record is 16 bytes, below `PIPE_BUF`, so a
/// single write is atomic; retried on `EINTR`. `Err(errno)` when it fails (a
/// write of nothing counts as `EIO`).
pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> Result<(), i32> {
    while !bytes.is_empty() {
        // SAFETY: bytes is a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            match (n, last_errno()) {
                (-1, libc::EINTR) => continue,
                (-1, errno) => return Err(errno),
                _ => return Err(libc::EIO),
            }
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// The child's write of its result: [`write_all`], or `ENOSPC` without
/// writing for the `enospc` fault.
pub fn write_result(fd: RawFd, bytes: &[u8], fault: Option<Fault>) -> Result<(), i32> {
    if fault == Some(Fault::NoSpace) {
        return Err(libc::ENOSPC);
    }
    write_all(fd, bytes)
}
