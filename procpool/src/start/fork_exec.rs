//! The `fork-exec` spawn path: `fork()`, then in the child `dup2` the two
//! standard fds into place and `execve`, as CPython's
//! `_posixsubprocess.fork_exec` does on macOS (where it does not use vfork).
//!
//! Everything the child needs (the path, argv, envp, the fds) is made before
//! the fork, so the child calls only async-signal-safe functions and
//! allocates nothing; it could run in a multi-threaded parent. If `execve`
//! fails, the child writes its errno to a close-on-exec pipe and `_exit`s
//! with 127; the parent reads that pipe until end-of-file (the exec closed
//! it) or four bytes (the errno), as CPython reads its `errpipe`.

use childpid::{ChildPid, Forked};
use nix::errno::Errno;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// Starts `exe` with the current environment plus `env`, `stdin` as fd 0
/// and `stdout` (or ours) as fd 1; fd 2 is inherited. Our copies of `stdin`
/// and `stdout` are closed on return.
pub(crate) fn spawn(
    exe: &Path,
    env: &[(&str, &str)],
    stdin: OwnedFd,
    stdout: Option<OwnedFd>,
) -> std::io::Result<ChildPid> {
    let path = c_string(exe.as_os_str())?;
    let argv: [*const libc::c_char; 2] = [path.as_ptr(), std::ptr::null()];
    let envs = environment(env)?;
    let mut envp: Vec<*const libc::c_char> = envs.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // Sources above the standard fds, so that no dup2 overwrites another's.
    let stdin = above_stdio(stdin)?;
    let stdout = stdout.map(above_stdio).transpose()?;
    let out_fd = stdout.as_ref().map_or(-1, |f| f.as_raw_fd());
    let (err_r, err_w) = errpipe()?;
    // SAFETY: the child calls only async-signal-safe functions on data made
    // before the fork: dup2 (stdin and stdout into place), execve, and on
    // failure write (its errno, to the close-on-exec error pipe) and _exit.
    // It allocates nothing and never returns into the parent's code, so the
    // parent's threads, locks and allocator state do not matter.
    match unsafe { childpid::fork() } {
        Err(e) => Err(e.into()),
        Ok(Forked::Child) => child(&path, &argv, &envp, stdin.as_raw_fd(), out_fd, err_w.as_raw_fd()),
        Ok(Forked::Parent(pid)) => {
            drop((err_w, stdin, stdout));
            match exec_errno(&err_r) {
                Ok(None) => Ok(pid),
                Ok(Some(errno)) => {
                    // The child reported its errno and _exits at once: reap
                    // it before saying why.
                    while pid.waitpid(None) == Err(Errno::EINTR) {}
                    Err(std::io::Error::from_raw_os_error(errno))
                }
                Err(errno) => {
                    // The pipe could not be read: the child may be a worker
                    // by now, so it is killed, not waited for.
                    pid.kill_and_reap();
                    Err(std::io::Error::from_raw_os_error(errno))
                }
            }
        }
    }
}

/// The child: fds into place, `execve`; on failure the errno to the parent.
fn child(
    path: &CString,
    argv: &[*const libc::c_char; 2],
    envp: &[*const libc::c_char],
    stdin: RawFd,
    stdout: RawFd,
    err_w: RawFd,
) -> ! {
    // SAFETY: dup2, execve, write and _exit are async-signal-safe; every
    // pointer is to memory made before the fork, argv and envp end in null.
    unsafe {
        if libc::dup2(stdin, 0) >= 0 && (stdout < 0 || libc::dup2(stdout, 1) >= 0) {
            libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        }
        let errno = Errno::last_raw().to_ne_bytes();
        libc::write(err_w, errno.as_ptr().cast(), errno.len());
        libc::_exit(127)
    }
}

/// Reads the error pipe: `Ok(None)` at end-of-file (the exec happened),
/// `Ok(Some(errno))` if the child reported one, `Err(errno)` if the pipe
/// itself could not be read.
fn exec_errno(err_r: &OwnedFd) -> Result<Option<i32>, i32> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reading into the unfilled tail of a local buffer.
        let n = unsafe { libc::read(err_r.as_raw_fd(), buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if Errno::last() == Errno::EINTR => {}
            _ => return Err(Errno::last_raw()),
        }
    }
    match got {
        0 => Ok(None),
        4 => Ok(Some(i32::from_ne_bytes(buf))),
        _ => Ok(Some(libc::EPROTO)),
    }
}

/// The error pipe of `util.spawnv_passfds`: an `os.pipe()` ([`crate::os_pipe`]).
fn errpipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    crate::os_pipe()
}

/// `fd` itself if it is 3 or above, else a close-on-exec copy that is.
fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on an fd we own; the copy is ours to own.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// `KEY=VALUE` strings: the current environment with `env` set over it.
fn environment(env: &[(&str, &str)]) -> std::io::Result<Vec<CString>> {
    let mut out = Vec::new();
    for (key, value) in std::env::vars_os() {
        if env.iter().any(|(k, _)| OsStr::new(k) == key) {
            continue;
        }
        let mut kv = key.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(value.as_bytes());
        out.push(c_string(OsStr::from_bytes(&kv))?);
    }
    for (key, value) in env {
        out.push(c_string(OsStr::new(&format!("{key}={value}")))?);
    }
    Ok(out)
}

fn c_string(s: &OsStr) -> std::io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| std::io::Error::other("a NUL byte in the path or environment"))
}
