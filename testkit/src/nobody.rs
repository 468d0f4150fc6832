//! Running a binary as the user `nobody`, from wherever the checkout is.
//!
//! A test that needs a user of its own (a process limit that counts only
//! the run, a sentinel that a stray `kill(-1)` would reach) drops to
//! `nobody`, which only root can do. `nobody` must then be able to execute
//! the binary: a checkout under root's home or in a `mktemp -d` directory
//! (mode 0700) is out of its reach, and the exec fails with `EACCES`. So the
//! binary is copied into a fresh directory of mode 0755 under the temporary
//! directory, checked to be reachable (every directory above it searchable by
//! others), and run from there; where that cannot be had the test is skipped
//! with the reason. The copy is the binary itself: procpool's spawn and
//! forkserver start `/proc/self/exe` (or the executable path), so they start
//! the copy too.

use std::ffi::CStr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of a binary that `nobody` can execute, and `nobody`'s ids.
pub struct Nobody {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    /// `nobody`'s uid.
    pub uid: u32,
    /// `nobody`'s primary gid.
    pub gid: u32,
}

impl Nobody {
    /// Ready to run `bin` as `nobody`, or why not (for `skipped: <reason>`):
    /// not root, no user `nobody`, no temporary directory it can reach.
    pub fn new(bin: &Path) -> Result<Nobody, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("needs root to run a binary as the user nobody".into());
        }
        let (uid, gid) = ids_of(c"nobody").ok_or("no user nobody on this system")?;
        let (dir, copy) = reachable_copy(bin)?;
        Ok(Nobody {
            _dir: dir,
            bin: copy,
            uid,
            gid,
        })
    }

    /// The path of the copy.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `cmd` made to run as `nobody` (no supplementary groups), with the
    /// soft and hard `RLIMIT_NPROC` set to `nproc` first if given. The
    /// working directory is `/`, which `nobody` can always enter.
    pub fn prepare(&self, cmd: &mut Command, nproc: Option<u64>) {
        let (uid, gid) = (self.uid, self.gid);
        cmd.current_dir("/");
        // SAFETY: the pre-exec hook calls only setrlimit, setgroups, setgid
        // and setuid, all async-signal-safe, and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                let ok = |r: libc::c_int| {
                    if r == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                };
                if let Some(n) = nproc {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    ok(libc::setrlimit(libc::RLIMIT_NPROC, &lim))?;
                }
                ok(libc::setgroups(0, std::ptr::null()))?;
                ok(libc::setgid(gid))?;
                ok(libc::setuid(uid))
            })
        };
    }

    /// A command for the copy, to run as `nobody` ([`Nobody::prepare`]) in
    /// its own process group (as [`crate::command`]).
    pub fn command(&self, nproc: Option<u64>) -> Command {
        let mut cmd = crate::command(self.bin.to_str().unwrap());
        self.prepare(&mut cmd, nproc);
        cmd
    }
}

/// A copy of `bin` that any user can execute: mode 0755 in a fresh
/// directory of mode 0755 under the temporary directory, every directory
/// above it searchable by others; or why there is none (for `skipped:`).
/// The copy lives as long as the directory returned with it.
pub fn reachable_copy(bin: &Path) -> Result<(tempfile::TempDir, PathBuf), String> {
    let dir = tempfile::Builder::new()
        .prefix("reachable.")
        .tempdir()
        .map_err(|e| format!("no temporary directory: {e}"))?;
    let copy = dir.path().join(bin.file_name().ok_or("a binary path without a name")?);
    std::fs::copy(bin, &copy).map_err(|e| format!("copying {}: {e}", bin.display()))?;
    for path in [dir.path(), copy.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    if let Some(closed) = dir.path().ancestors().skip(1).find(|d| !searchable_by_others(d)) {
        return Err(format!(
            "other users cannot reach the temporary directory: {} is not searchable by others (set TMPDIR)",
            closed.display()
        ));
    }
    Ok((dir, copy))
}

fn ids_of(name: &CStr) -> Option<(u32, u32)> {
    // SAFETY: getpwnam with a valid C string; the record is read at once,
    // before any other passwd call (the test process makes none).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    // SAFETY: a non-null result points to a valid passwd record.
    (!pw.is_null()).then(|| unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn searchable_by_others(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
}

/// The processes whose owner is `uid` (the owner of their `/proc` entry);
/// `None` where there is no `/proc`.
pub fn processes_of(uid: u32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dir = std::fs::read_dir("/proc").ok()?;
    let n = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().as_encoded_bytes().iter().all(u8::is_ascii_digit))
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .count();
    Some(n as u64)
}
