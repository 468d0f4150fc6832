//! How a bar() over a pool stops: a Ctrl-C or SIGTERM seen between calls or
//! during a map, or a pool error as a one-line cause. Shared by every pool
//! binary (the sleep pools here, and `test_rf_pool`).

use cli::signals;
use procpool::PoolError;
use timing::Outcome;

/// The pool's interrupt check ([`procpool::Pool::set_interrupt_check`]):
/// stop the map when a SIGINT or SIGTERM has come.
pub fn interrupted() -> bool {
    signals::interrupted().is_some()
}

/// A pool error as a one-line cause naming the job by its argument: the
/// batch's job `j` is the original's `a = first + j`.
pub fn outcome_of(e: PoolError, first: u64) -> Outcome {
    // A Ctrl-C reaches the whole process group: a worker that died of it is
    // part of the interruption, not a fault.
    if let Some(sig) = signals::interrupted() {
        return Outcome::Interrupted(sig as i32);
    }
    let cause = match e {
        PoolError::Interrupted => return Outcome::Interrupted(libc::SIGINT),
        PoolError::Worker { job, pid, fault } => format!("job {} (pid {pid}) {fault}", first + job as u64),
        PoolError::JobFailed { job, pid, code } => {
            format!(
                "job {} (pid {pid}) failed in its job function with code {code}",
                first + job as u64
            )
        }
        other => other.to_string(),
    };
    Outcome::Failed(cause)
}
