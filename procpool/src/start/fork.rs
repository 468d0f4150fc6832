//! The `fork` start method: each worker is a fork of the parent, made once
//! when the pool is created, with its own request and reply pipe.

use super::{cloexec_pipe, Started};
use crate::error::{os, PoolError};
use crate::worker::{self, Buffers};
use crate::JobFn;
use childpid::Forked;
use std::os::fd::{AsRawFd, RawFd};

/// Forks one worker running `job`. `earlier` are the parent's ends of the
/// pipes of the workers forked before: the child closes them, and its own
/// parent ends, so that a request pipe's only writer is the parent (and a
/// worker sees end-of-file when the pool closes it). `bufs` are the worker's
/// buffers, allocated once by the caller before any fork.
pub(crate) fn start(job: crate::JobFn, earlier: &[RawFd], bufs: &mut Buffers) -> Result<Started, PoolError> {
    let (req_r, req_w) = cloexec_pipe()?;
    let (rep_r, rep_w) = cloexec_pipe()?;
    let parent_ends = [req_w.as_raw_fd(), rep_r.as_raw_fd()];
    // SAFETY: the caller of Pool::new guarantees that this process is
    // single-threaded (the binaries create fork pools before any thread
    // exists), so the child starts with a consistent copy of the allocator and
    // of every lock, exactly as CPython's fork Pool relies on. The child closes
    // inherited fds (close), sets signal dispositions (signal), then runs the
    // worker loop (read, write, poll on buffers allocated before the fork) and
    // the job function, and leaves with _exit: it never returns into the
    // parent's code, no destructor or atexit handler runs in it. The sleep job
    // allocates nothing; a job that allocates (MPFR in test_rf_pool) does so
    // in a single-threaded child with a consistent allocator.
    match unsafe { childpid::fork() } {
        Err(e) => Err(os("fork", e)),
        Ok(Forked::Child) => child(
            job,
            earlier.iter().chain(&parent_ends),
            req_r.as_raw_fd(),
            rep_w.as_raw_fd(),
            bufs,
        ),
        Ok(Forked::Parent(pid)) => {
            drop((req_r, rep_w));
            Ok(Started {
                pid,
                req: req_w,
                rep: rep_r,
            })
        }
    }
}

/// The forked worker's whole life: close the parent's fds, serve, `_exit`.
fn child<'a>(job: JobFn, close: impl Iterator<Item = &'a RawFd>, req: RawFd, rep: RawFd, bufs: &mut Buffers) -> ! {
    for &fd in close {
        // SAFETY: close is async-signal-safe.
        unsafe { libc::close(fd) };
    }
    worker::worker_signals();
    let code = worker::serve(req, rep, job, bufs);
    // SAFETY: _exit is async-signal-safe; nothing is flushed.
    unsafe { libc::_exit(code) }
}
