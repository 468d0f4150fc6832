//! `--ipc file`: how SageMath's own `@parallel` fork backend
//! (`sage.parallel.use_fork.p_iter_fork`, used by `test_parallel_sleep_v2.sage`)
//! moves results, instead of the pipe of `test_pyparallel_sleep.py`:
//!
//! - per call, a fresh temporary directory;
//! - the child sends its stdout to `<dir>/<pid>.out`, runs the job and saves
//!   its result to `<dir>/<pid>.sobj`, then `_exit`s;
//! - the parent, after `wait()`, reads and deletes `<pid>.sobj`, then reads,
//!   echoes to its own stdout and deletes `<pid>.out`;
//! - at the end of the call (also on failure) leftover workers are SIGKILLed
//!   and reaped and the directory is removed.
//!
//! These files are the "heavy disk write activity" of the seed report.

use crate::fault::Fault;
use crate::sigsafe;
use std::path::{Path, PathBuf};

/// Longest directory path the child can build file names from on its stack.
const MAX_DIR: usize = 900;

/// The per-call directory, and its path as bytes for the child.
pub struct CallDir {
    dir: tempfile::TempDir,
    prefix: [u8; MAX_DIR + 1],
    prefix_len: usize,
}

impl CallDir {
    /// Sage's `tmp_dir()`: a fresh directory under `$TMPDIR`.
    pub fn new() -> std::io::Result<CallDir> {
        let dir = tempfile::Builder::new().prefix("test_fork_sleep-").tempdir()?;
        let bytes = dir.path().as_os_str().as_encoded_bytes();
        if bytes.len() >= MAX_DIR {
            return Err(std::io::Error::other(format!(
                "temporary directory path longer than {MAX_DIR} bytes"
            )));
        }
        let mut prefix = [0u8; MAX_DIR + 1];
        prefix[..bytes.len()].copy_from_slice(bytes);
        prefix[bytes.len()] = b'/';
        let prefix_len = bytes.len() + 1;
        Ok(CallDir {
            dir,
            prefix,
            prefix_len,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, pid: i32, ext: &str) -> PathBuf {
        self.dir.path().join(format!("{pid}.{ext}"))
    }

    /// Child side, async-signal-safe: `<dir>/<pid>.<ext>` NUL-terminated in `buf`.
    fn child_path<'b>(&self, pid: i32, ext: &[u8], buf: &'b mut [u8; MAX_DIR + 32]) -> &'b [u8] {
        let mut n = self.prefix_len;
        buf[..n].copy_from_slice(&self.prefix[..n]);
        let mut digits = [0u8; 12];
        let mut d = digits.len();
        let mut p = pid.unsigned_abs();
        loop {
            d -= 1;
            digits[d] = b'0' + (p % 10) as u8;
            p /= 10;
            if p == 0 {
                break;
            }
        }
        for &b in digits[d..].iter().chain(b".").chain(ext) {
            buf[n] = b;
            n += 1;
        }
        buf[n] = 0;
        &buf[..=n]
    }

    /// Child side, async-signal-safe: `open(O_CREAT|O_WRONLY|O_TRUNC)`.
    fn child_create(&self, ext: &[u8]) -> libc::c_int {
        let mut buf = [0u8; MAX_DIR + 32];
        // SAFETY: getpid has no preconditions.
        let path = self.child_path(unsafe { libc::getpid() }, ext, &mut buf);
        // SAFETY: path is NUL-terminated and lives on this stack frame.
        unsafe {
            libc::open(
                path.as_ptr().cast(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                0o600,
            )
        }
    }

    /// Child side: Sage's `sys.stdout = open(out, 'w')`, done natively as a
    /// `dup2` of `<pid>.out` onto fd 1.
    pub fn child_redirect_stdout(&self) {
        let fd = self.child_create(b"out");
        if fd >= 0 {
            // SAFETY: dup2/close on fds we own.
            unsafe {
                libc::dup2(fd, 1);
                libc::close(fd);
            }
        }
    }

    /// Child side: Sage's `save(value, sobj, compress=False)`. `Err(errno)`
    /// when the file cannot be created, written or closed (a full disk may
    /// only show at `close`), for the child's exit status.
    pub fn child_save(&self, record: &[u8], fault: Option<Fault>) -> Result<(), i32> {
        let fd = self.child_create(b"sobj");
        if fd < 0 {
            return Err(sigsafe::last_errno());
        }
        let written = sigsafe::write_result(fd, record, fault);
        // SAFETY: closing the fd we opened.
        let closed = match unsafe { libc::close(fd) } {
            0 => Ok(()),
            _ => match sigsafe::last_errno() {
                libc::EINTR => Ok(()),
                errno => Err(errno),
            },
        };
        written.and(closed)
    }

    /// Parent side, after `wait()` returned `pid`: the `.sobj` bytes (empty when
    /// the child saved none, Sage's `NO DATA`), both files deleted and the
    /// `.out` text echoed to our stdout.
    pub fn collect(&self, pid: i32) -> Vec<u8> {
        let sobj = self.file(pid, "sobj");
        let data = std::fs::read(&sobj).unwrap_or_default();
        let _ = std::fs::remove_file(&sobj);
        let out = self.file(pid, "out");
        if let Ok(text) = std::fs::read(&out) {
            // Through timing's stdout: a closed pipe stops the run quietly.
            cli::output::bytes(&text);
            let _ = std::fs::remove_file(&out);
        }
        data
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn child_path_is_dir_pid_ext_nul() {
        let d = super::CallDir::new().unwrap();
        let mut buf = [0u8; super::MAX_DIR + 32];
        let p = d.child_path(40123, b"sobj", &mut buf).to_vec();
        let want = format!("{}/40123.sobj\0", d.path().display());
        assert_eq!(p, want.as_bytes());
        let p = d.child_path(7, b"out", &mut buf).to_vec();
        assert!(p.ends_with(b"/7.out\0"));
    }
}
