//! A file the user names for output: `--json` of every binary, `--markdown`
//! and `--svg` of `report`. The suite's "do no harm" rules for it, once:
//!
//! - `-` is standard output: the bytes follow the run's lines, so a record
//!   can be piped (`test_fork_sleep --json - | tail -n +9`);
//! - a path that exists and is not a regular file (a character or block
//!   device, a FIFO) is opened and written through, never replaced: renaming
//!   a temporary file onto `/dev/something` would put a regular file in its
//!   place, and a FIFO's reader would get nothing;
//! - a symlink is followed, and its *final target* is replaced atomically (a
//!   temporary file in the target's directory, then `rename(2)`): the link
//!   stays a link and sees the new content;
//! - a new file gets `0666 & !umask`, as `File::create` (and Python's `open`)
//!   would give it; an existing regular file keeps its mode.
//!
//! [`Sink::new`] checks the path before the run (an hour of work is not lost
//! on a typo) without opening a FIFO or a device: opening a FIFO for writing
//! blocks until a reader comes, and would hand the reader an empty record.
//! `access(W_OK)` answers for those.

use std::fs::{self, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A path that cannot be written; `flag` names the option (`--json`, ...).
#[derive(Debug, thiserror::Error)]
#[error("{flag} {}: {reason}", path.display())]
pub struct SinkError {
    /// The option that named the path, first on the one-line cause.
    pub flag: &'static str,
    /// The path as the user gave it (not a symlink's target), so the
    /// message shows what they typed.
    pub path: PathBuf,
    /// Why it cannot be written, in words (the system's text where there
    /// is one).
    pub reason: String,
}

/// Where the output goes, checked when created.
#[derive(Debug)]
pub struct Sink {
    flag: &'static str,
    path: PathBuf,
}

/// What a path is when it is written.
enum Kind {
    Stdout,
    /// A device or FIFO (the final target of any symlinks): written through.
    Through(PathBuf),
    /// A regular file or nothing yet: replaced atomically.
    Replace(PathBuf),
}

impl Sink {
    /// Checks that `path` can be written, before the run: a directory, a
    /// socket, a missing directory or a device without write permission is
    /// refused.
    pub fn new(flag: &'static str, path: &Path) -> Result<Sink, SinkError> {
        let sink = Sink {
            flag,
            path: path.to_path_buf(),
        };
        match sink.kind()? {
            Kind::Stdout => {}
            Kind::Through(target) => nix::unistd::access(&target, nix::unistd::AccessFlags::W_OK)
                .map_err(|e| sink.bad(format!("not writable: {}", e.desc())))?,
            // Probe: the very operation `write` does later (a temporary file
            // in the target's directory), removed again at once.
            Kind::Replace(target) => {
                let dir = dir_of(&target);
                tempfile::Builder::new()
                    .prefix(".probe-")
                    .tempfile_in(dir)
                    .map_err(|e| sink.bad(format!("cannot create a file in {}: {e}", dir.display())))?;
            }
        }
        Ok(sink)
    }

    /// The path as given (`-` for standard output), for messages that say
    /// where the output went.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is standard output (`-`).
    pub fn is_stdout(&self) -> bool {
        self.path == Path::new("-")
    }

    /// Writes `bytes` by the rules of the module docs. The path is looked at
    /// again now: what it is at the end of the run is what counts.
    pub fn write(&self, bytes: &[u8]) -> Result<(), SinkError> {
        match self.kind()? {
            Kind::Stdout => {
                // A closed stdout was already reported as the run's stop.
                crate::output::bytes(bytes);
                Ok(())
            }
            Kind::Through(target) => fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .and_then(|mut f| f.write_all(bytes))
                .map_err(|e| self.bad(e.to_string())),
            Kind::Replace(target) => replace(&target, bytes).map_err(|e| self.bad(e.to_string())),
        }
    }

    fn kind(&self) -> Result<Kind, SinkError> {
        if self.is_stdout() {
            return Ok(Kind::Stdout);
        }
        let target = final_target(&self.path).map_err(|e| self.bad(e.to_string()))?;
        match fs::metadata(&target) {
            Ok(md) if md.is_dir() => Err(self.bad("is a directory, expected a file path".into())),
            Ok(md) if md.file_type().is_socket() => Err(self.bad("is a socket, not a file".into())),
            Ok(md) if md.is_file() => Ok(Kind::Replace(target)),
            Ok(_) => Ok(Kind::Through(target)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Kind::Replace(target)),
            Err(e) => Err(self.bad(e.to_string())),
        }
    }

    fn bad(&self, reason: String) -> SinkError {
        SinkError {
            flag: self.flag,
            path: self.path.clone(),
            reason,
        }
    }
}

/// Follows a chain of symlinks to the path they end at (which may not exist
/// yet: a dangling link names the file to create).
fn final_target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    // The kernel's own bound on a chain (Linux MAXSYMLINKS).
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(md) if md.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

fn dir_of(target: &Path) -> &Path {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Atomic replacement of a regular file (or creation of a new one): a
/// temporary file in the same directory, given its final mode before any
/// byte is written, then `rename(2)` over the target.
fn replace(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let keep = fs::metadata(target)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions());
    // A new file: open(2) with 0666, which the kernel masks with the umask,
    // exactly as File::create. An existing one: private until its own mode is set.
    let mode = if keep.is_some() { 0o600 } else { 0o666 };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir_of(target))?;
    if let Some(perm) = keep {
        tmp.as_file().set_permissions(perm)?;
    }
    tmp.write_all(bytes)?;
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}
