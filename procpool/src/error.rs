//! What can go wrong in a pool, as values: [`PoolError`] for the caller of
//! [`Pool::map`](crate::Pool::map), [`WorkerFault`] for how a worker let its
//! job down. Each renders as the one-line cause a binary prints.

use crate::frame::MAX_FRAME;
use nix::sys::wait::WaitStatus;

/// Why a worker failed its job.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkerFault {
    /// The worker exited (with this status) while it had a job.
    #[error("exited with status {0}")]
    Exited(i32),
    /// The worker was killed by this signal (its name, e.g. `SIGKILL`).
    #[error("was killed by signal {0}")]
    Signaled(String),
    /// The worker's reply pipe closed and it was not seen to die in time.
    #[error("closed its pipe without a result")]
    ClosedPipe,
    /// The reply's header was wrong (what was wrong with it).
    #[error("sent a garbled frame ({0})")]
    Garbled(&'static str),
    /// The reply stopped short of its announced length.
    #[error("sent a truncated frame")]
    Truncated,
    /// A read or write on the worker's pipes failed otherwise.
    #[error("could not be reached: {0}")]
    Io(String),
}

/// Why [`Pool::new`](crate::Pool::new) or [`Pool::map`](crate::Pool::map)
/// failed. After any error but [`PoolError::TooLarge`] found before sending,
/// the pool is broken and its workers are killed and reaped.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A worker died, hung or garbled its reply while doing job `job`
    /// (the index in the batch given to `map`).
    #[error("job {job} (pid {pid}) {fault}")]
    Worker {
        /// Index of the job in the batch.
        job: usize,
        /// The worker's pid.
        pid: i32,
        /// What went wrong.
        fault: WorkerFault,
    },
    /// The job function returned `Err(code)`.
    #[error("job {job} (pid {pid}) failed in its job function with code {code}")]
    JobFailed {
        /// Index of the job in the batch.
        job: usize,
        /// The worker's pid.
        pid: i32,
        /// The job function's code.
        code: i32,
    },
    /// A job's payload, or its result, is over [`MAX_FRAME`] bytes.
    #[error("job {job}: {len} bytes is over the frame limit of {MAX_FRAME} bytes")]
    TooLarge {
        /// Index of the job in the batch.
        job: usize,
        /// Its length in bytes (`MAX_FRAME + 1` for a result).
        len: usize,
    },
    /// A signal interrupted the wait and the interrupt check said stop.
    #[error("interrupted by a signal")]
    Interrupted,
    /// An earlier error broke the pool; it takes no more jobs.
    #[error("the pool is broken by an earlier error")]
    Broken,
    /// The forkserver's `fork()` of worker number `worker` (from 1) failed
    /// with `errno` (`EAGAIN` at the user's process limit).
    #[error("forkserver could not fork worker {worker}: {}", childpid::errno_text(*.errno))]
    ForkWorker {
        /// Which worker, counting from 1.
        worker: usize,
        /// The fork's errno.
        errno: i32,
    },
    /// A system call of the parent failed (`what` names it).
    #[error("{what}: {err}")]
    Os {
        /// The call, or the step it was part of.
        what: String,
        /// The error it returned.
        err: std::io::Error,
    },
}

/// A [`PoolError::Os`].
pub(crate) fn os(what: impl Into<String>, err: impl Into<std::io::Error>) -> PoolError {
    PoolError::Os {
        what: what.into(),
        err: err.into(),
    }
}

/// How a reaped worker died, as a fault.
pub(crate) fn fault_of(status: WaitStatus) -> WorkerFault {
    match status {
        WaitStatus::Exited(_, code) => WorkerFault::Exited(code),
        WaitStatus::Signaled(_, sig, _) => WorkerFault::Signaled(sig.as_str().to_string()),
        other => WorkerFault::Io(format!("unexpected wait status {other:?}")),
    }
}
