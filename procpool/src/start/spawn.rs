//! The `spawn` start method: each worker is this executable started again
//! in the hidden worker role, its requests on stdin and its replies on
//! stdout (CPython's `spawn` context). The forkserver is started the same way.

use super::{cloexec_pipe, Started};
use crate::error::{os, PoolError};
use crate::{JOB_ENV, ROLE_ENV};
use childpid::ChildPid;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

/// Spawns one worker for the job named `job`.
pub(crate) fn start(job: &str) -> Result<Started, PoolError> {
    let (req_r, req_w) = cloexec_pipe()?;
    let (rep_r, rep_w) = cloexec_pipe()?;
    let pid = exec_self("worker", job, req_r, Some(rep_w), "spawning a worker")?;
    Ok(Started {
        pid,
        req: req_w,
        rep: rep_r,
    })
}

/// Starts this executable in `role` for the job named `job`, `stdin` as its
/// fd 0 and `stdout` (or the parent's) as its fd 1; fd 2 is inherited. Our
/// copies of `stdin` and `stdout` are closed on return. `what` names the
/// step in an error.
pub(crate) fn exec_self(
    role: &str,
    job: &str,
    stdin: OwnedFd,
    stdout: Option<OwnedFd>,
    what: &str,
) -> Result<ChildPid, PoolError> {
    let exe = std::env::current_exe().map_err(|e| os("current_exe", e))?;
    let child = Command::new(exe)
        .env(ROLE_ENV, role)
        .env(JOB_ENV, job)
        .stdin(Stdio::from(stdin))
        .stdout(stdout.map_or_else(Stdio::inherit, Stdio::from))
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| os(what, e))?;
    spawned_pid(child, what)
}

/// The [`ChildPid`] of a spawned child, which we reap ourselves (dropping a
/// std `Child` neither kills nor waits). A pid that does not fit (never seen)
/// is an error, the child killed and reaped through `Child`.
fn spawned_pid(mut child: std::process::Child, what: &str) -> Result<ChildPid, PoolError> {
    ChildPid::of(&child).ok_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        os(what, std::io::Error::other(format!("pid {} out of range", child.id())))
    })
}
