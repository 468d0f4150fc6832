//! A pool of long-lived worker processes with `multiprocessing.Pool.map`
//! semantics, started the three ways CPython can start them.
//!
//! `test_pool_fork_sleep.py`, `test_pool_spawn_sleep.py`,
//! `test_executor_sleep.sage` and the `test_pool_*_RF.py` scripts all create a
//! pool of `n` workers once and then map a batch of jobs over it again and
//! again; the results come back in input order. What differs is how a worker
//! comes to life, and that is what this crate reproduces with the real
//! mechanism ([`StartMethod`]):
//!
//! - `fork`: the parent forks the `n` workers once, when the pool is created,
//!   each with its own request and reply pipe (CPython's `fork` context);
//! - `forkserver`: a small server process is started once by spawning this
//!   same executable in a hidden role; every worker is forked *by the server*;
//!   the parent hands each worker's pipe ends to the server over a Unix
//!   socket with `SCM_RIGHTS` (CPython's `forkserver` context);
//! - `spawn`: every worker is a fresh process, this executable started again
//!   in a hidden role, talking over its stdin and stdout (CPython's `spawn`
//!   context). The new process (and the forkserver) is made as CPython makes
//!   it on each platform ([`SpawnVia`]): `posix_spawn` on Linux, `fork` then
//!   `execve` on macOS; either can be chosen with [`Pool::with_spawn_via`].
//!
//! # Using it from a binary
//!
//! The job function is chosen by the binary that owns the pool. Since the
//! forkserver and spawn workers are this executable started again, the
//! binary lists its jobs in a table and its `main` must begin with one line,
//! before parsing flags or starting any thread:
//!
//! ```no_run
//! fn square(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
//!     let a = u64::from_le_bytes(input.try_into().map_err(|_| 1)?);
//!     output.extend_from_slice(&(a * a).to_le_bytes());
//!     Ok(())
//! }
//! const JOBS: &[procpool::Job] = &[procpool::Job { name: "square", run: square }];
//!
//! fn main() {
//!     procpool::enter_worker_role_if_asked(JOBS); // never returns in a worker
//!     let mut pool = procpool::Pool::new(procpool::StartMethod::Forkserver, 4, JOBS[0]).unwrap();
//!     let inputs: Vec<[u8; 8]> = (0..4u64).map(u64::to_le_bytes).collect();
//!     let results = pool.map(&inputs).unwrap(); // in input order
//!     assert_eq!(results[3], 9u64.to_le_bytes());
//! }
//! ```
//!
//! A job is a byte payload of at most [`MAX_FRAME`] bytes; so is its result,
//! of any length up to that (an exact MPFR value fits). A job function
//! returns `Err(code)` to fail its job; the parent gets
//! [`PoolError::JobFailed`].
//!
//! # Faults
//!
//! CPython's Pool hangs forever when a worker dies mid-job. Here a worker that
//! dies, closes its pipe or sends a garbled or truncated frame makes `map`
//! return a [`PoolError::Worker`] naming the job, the pid and the cause (exit
//! status or signal) within 2 seconds. A job that hangs is waited for, as in
//! CPython. After an error the pool is broken: every worker is killed and
//! reaped at once.
//!
//! A worker that cannot be started (the forkserver's `fork()` failing at the
//! user's process limit) makes [`Pool::new`] return
//! [`PoolError::ForkWorker`] with the errno; pids are [`childpid::ChildPid`]s,
//! so a failed fork's `-1` can never reach `kill`.
//!
//! # Shutdown
//!
//! Dropping the pool closes the request pipes (the workers' end-of-file is
//! their sentinel), reaps every worker (killing those that do not leave within
//! a second) and stops the forkserver, which reaps its own workers. No fd,
//! zombie or orphan is left: the pool's fds are close-on-exec, and a worker
//! whose parent dies sees end-of-file and exits. Workers ignore SIGINT, so a
//! Ctrl-C at the terminal reaches the parent alone, which decides (through
//! [`Pool::set_interrupt_check`]) to stop and drop the pool.
//!
//! A fork worker inherits every fd of its parent that is not this pool's
//! (close-on-exec does not act without exec); if another pool is alive when a
//! fork pool is created, that pool's workers no longer see end-of-file when
//! it is dropped and are killed after the grace delay instead. Create fork
//! pools first, or one pool at a time, as the binaries of this suite do.
//!
//! # Where things are
//!
//! `pool.rs` holds the map loop and the way down; `start/` one file per
//! start method (`fork.rs`, `spawn.rs`, `forkserver.rs`, the parent's side of
//! the server); `server.rs` the forkserver process; `worker.rs` the worker
//! loop all three share; `frame.rs` the wire format.

#![warn(missing_docs)]

#[cfg(feature = "clap")]
mod clap;
mod cloexec;
pub mod diag;
mod error;
mod fault;
mod frame;
mod pool;
mod server;
mod start;
mod worker;

pub use cloexec::{os_pipe, set_cloexec};
pub use error::{PoolError, WorkerFault};
pub use fault::Fault;
pub use frame::MAX_FRAME;
pub use pool::Pool;
#[doc(hidden)]
pub use server::FAIL_FORK_ENV;
#[doc(hidden)]
pub use start::EXEC_PATH_ENV;
pub use start::{SpawnVia, StartMethod};
pub use worker::{EXIT_PANIC, EXIT_PROTOCOL, EXIT_UNKNOWN_JOB};

/// A job function: reads its job's payload, appends its result to `output`
/// (empty on entry, capacity [`MAX_FRAME`]), or fails with a non-zero code.
/// It runs inside a worker process, never in the parent.
pub type JobFn = fn(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32>;

/// A job function and the name by which a re-executed worker finds it in its
/// table (see [`enter_worker_role_if_asked`]).
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// The name a spawned worker or the forkserver is told (through the
    /// environment) to look up.
    pub name: &'static str,
    /// The function.
    pub run: JobFn,
}

/// Environment variable naming the hidden role of a re-executed worker.
pub(crate) const ROLE_ENV: &str = "PROCPOOL_ROLE";
/// Environment variable naming the job function of a re-executed worker.
pub(crate) const JOB_ENV: &str = "PROCPOOL_JOB";

/// The first line of `main` in every binary that owns a pool: when this
/// process was started as a spawn worker or as the forkserver, serve (the
/// job is looked up by name in `jobs`) and exit; otherwise return at once.
///
/// It must run before any thread is started, since the forkserver forks.
pub fn enter_worker_role_if_asked(jobs: &[Job]) {
    let Some(role) = std::env::var_os(ROLE_ENV) else { return };
    let name = std::env::var(JOB_ENV).unwrap_or_default();
    // SAFETY (of remove_var): still single-threaded, at the top of main.
    std::env::remove_var(ROLE_ENV);
    std::env::remove_var(JOB_ENV);
    let Some(job) = jobs.iter().find(|j| j.name == name) else {
        eprintln!("procpool worker: no job named '{name}' in this executable");
        std::process::exit(EXIT_UNKNOWN_JOB);
    };
    match role.to_str() {
        Some("worker") => worker::spawned_worker(job.run),
        Some("forkserver") => server::run(job.run),
        _ => {
            eprintln!("procpool: unknown role {role:?}");
            std::process::exit(EXIT_UNKNOWN_JOB);
        }
    }
}
