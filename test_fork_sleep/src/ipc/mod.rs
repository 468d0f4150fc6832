//! How a child's result travels back to the parent: `--ipc pipe`, one pipe
//! per job as `test_pyparallel_sleep.py` does, or `--ipc file`, the per-call
//! directory of SageMath's own fork backend (`test_parallel_sleep_v2.sage`).
//!
//! [`Ipc`] is the one choice, with one method per step of a result's trip
//! (open a call, open a job, the child's two steps, the parent's receipt,
//! close the call); the runner never asks which one it holds.

mod file;
mod pipe;

use crate::fault::Fault;
use std::path::PathBuf;

/// `--ipc`: the flag's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// One pipe per job, as test_pyparallel_sleep.py.
    Pipe,
    /// Sage's own protocol: per-call temp dir, `<pid>.out` and `<pid>.sobj` files.
    File,
}

impl Kind {
    /// The record's `params.ipc`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pipe => "pipe",
            Kind::File => "file",
        }
    }

    /// The record's `strategy`.
    pub fn strategy(self) -> &'static str {
        match self {
            Kind::Pipe => "fork-per-job/pipe",
            Kind::File => "fork-per-job/file",
        }
    }
}

/// The channel of a run, with the current call's state (Sage's directory).
pub enum Ipc {
    Pipe,
    /// Boxed: the directory's path is kept as bytes for the child (about 1 KiB).
    File(Option<Box<file::CallDir>>),
}

/// One job's end of the channel, made before its fork: its pipe, or nothing
/// (Sage's files are named by the child's pid).
pub enum JobEnd {
    Pipe(pipe::Pipe),
    File,
}

impl Ipc {
    pub fn new(kind: Kind) -> Ipc {
        match kind {
            Kind::Pipe => Ipc::Pipe,
            Kind::File => Ipc::File(None),
        }
    }

    /// Start of a call: Sage's `tmp_dir()` (nothing for the pipe).
    pub fn open_call(&mut self) -> Result<(), String> {
        if let Ipc::File(dir) = self {
            *dir = Some(Box::new(
                file::CallDir::new().map_err(|e| format!("creating the call's temp dir: {e}"))?,
            ));
        }
        Ok(())
    }

    /// End of a call (also after a failure): the directory goes. Returns its
    /// path, for the hygiene check that it is gone.
    pub fn close_call(&mut self) -> Option<PathBuf> {
        match self {
            Ipc::File(dir) => dir.take().map(|d| d.path().to_path_buf()),
            Ipc::Pipe => None,
        }
    }

    /// Before a job's fork: `r_fd, w_fd = os.pipe()`.
    pub fn open_job(&self) -> nix::Result<JobEnd> {
        Ok(match self {
            Ipc::Pipe => JobEnd::Pipe(pipe::Pipe::new()?),
            Ipc::File(_) => JobEnd::File,
        })
    }

    /// Child side, async-signal-safe, first thing after the fork:
    /// `os.close(r_fd)`, or Sage's stdout into `<pid>.out`.
    pub fn child_open(&self, end: &JobEnd) {
        match (self, end) {
            (_, JobEnd::Pipe(p)) => p.child_close_read(),
            (Ipc::File(Some(dir)), JobEnd::File) => dir.child_redirect_stdout(),
            (_, JobEnd::File) => {}
        }
    }

    /// Child side, async-signal-safe: `os.write(w_fd, payload)`, or Sage's
    /// `save(value, sobj)`. `Err(errno)` when the result could not be written.
    pub fn child_send(&self, end: &JobEnd, record: &[u8], fault: Option<Fault>) -> Result<(), i32> {
        match (self, end) {
            (_, JobEnd::Pipe(p)) => p.child_send(record, fault),
            (Ipc::File(Some(dir)), JobEnd::File) => dir.child_save(record, fault),
            (_, JobEnd::File) => Ok(()),
        }
    }

    /// Parent side, right after the fork: `os.close(w_fd)`.
    pub fn parent_keep(end: &mut JobEnd) {
        if let JobEnd::Pipe(p) = end {
            p.close_write();
        }
    }

    /// Parent side, after `wait()` returned `pid`: the result's bytes into
    /// `buf` (the first `buf.len()` of them); returns their total length.
    /// The pipe is read to EOF and closed (`os.close(r_fd)`); Sage's files
    /// are read, echoed and deleted.
    pub fn receive(&self, end: JobEnd, pid: i32, buf: &mut [u8]) -> usize {
        match (self, end) {
            (_, JobEnd::Pipe(p)) => p.read_to_eof(buf),
            (Ipc::File(Some(dir)), JobEnd::File) => {
                let bytes = dir.collect(pid);
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                bytes.len()
            }
            (_, JobEnd::File) => 0,
        }
    }
}

impl JobEnd {
    /// The `leakfd` fault: the parent duplicates this job's pipe and forgets
    /// the copy (`--hygiene` must see it). Nothing to leak for files.
    pub fn leak_fd(&self) {
        if let JobEnd::Pipe(p) = self {
            p.leak_read_end();
        }
    }
}
