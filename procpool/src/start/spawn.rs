//! The `spawn` start method: each worker is this executable started again
//! in the hidden worker role, its requests on stdin and its replies on
//! stdout (CPython's `spawn` context). The forkserver is started the same
//! way. How the new process is made is [`SpawnVia`].

use super::{cloexec_pipe, fork_exec, Started};
use crate::error::{os, PoolError};
use crate::{JOB_ENV, ROLE_ENV};
use childpid::ChildPid;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How a fresh process of this executable is made (the spawn workers and
/// the forkserver), as CPython's `_posixsubprocess.fork_exec` makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpawnVia {
    /// [`std::process::Command`], which uses `posix_spawn` where it can: on
    /// Linux, glibc's `posix_spawn` is `clone(CLONE_VM|CLONE_VFORK)` and
    /// `execve`, the vfork that CPython's `_posixsubprocess` uses there.
    PosixSpawn,
    /// `fork()`, then in the child only `dup2`, `execve` (and `write`,
    /// `_exit` if it fails): what CPython's `_posixsubprocess` does on macOS.
    ForkExec,
}

impl SpawnVia {
    /// Both, in the order of the `--spawn-via` help.
    pub const ALL: [SpawnVia; 2] = [SpawnVia::PosixSpawn, SpawnVia::ForkExec];

    /// What CPython does on this platform: `fork-exec` on macOS (no vfork
    /// there), `posix-spawn` elsewhere (on Linux CPython vforks, which is
    /// what glibc's `posix_spawn` does).
    pub const DEFAULT: SpawnVia = if cfg!(target_os = "macos") {
        SpawnVia::ForkExec
    } else {
        SpawnVia::PosixSpawn
    };

    /// Its flag value: `posix-spawn`, `fork-exec`.
    pub fn name(self) -> &'static str {
        match self {
            SpawnVia::PosixSpawn => "posix-spawn",
            SpawnVia::ForkExec => "fork-exec",
        }
    }
}

impl std::fmt::Display for SpawnVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Testing aid (hidden): a path to execute instead of this executable, so
/// that the tests can make `execve` fail (a path that does not exist).
pub const EXEC_PATH_ENV: &str = "PROCPOOL_EXEC_PATH";

/// Spawns one worker for the job named `job`.
pub(crate) fn start(job: &str, via: SpawnVia) -> Result<Started, PoolError> {
    let (req_r, req_w) = cloexec_pipe()?;
    let (rep_r, rep_w) = cloexec_pipe()?;
    let pid = exec_self(via, "worker", job, req_r, Some(rep_w), "spawning a worker")?;
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
    via: SpawnVia,
    role: &str,
    job: &str,
    stdin: OwnedFd,
    stdout: Option<OwnedFd>,
    what: &str,
) -> Result<ChildPid, PoolError> {
    let exe = match std::env::var_os(EXEC_PATH_ENV) {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe().map_err(|e| os("current_exe", e))?,
    };
    let env = [(ROLE_ENV, role), (JOB_ENV, job)];
    match via {
        SpawnVia::PosixSpawn => posix_spawn(&exe, &env, stdin, stdout, what),
        SpawnVia::ForkExec => fork_exec::spawn(&exe, &env, stdin, stdout).map_err(|e| os(what, e)),
    }
}

/// The `posix-spawn` path, through [`Command`].
fn posix_spawn(
    exe: &Path,
    env: &[(&str, &str)],
    stdin: OwnedFd,
    stdout: Option<OwnedFd>,
    what: &str,
) -> Result<ChildPid, PoolError> {
    let child = Command::new(exe)
        .envs(env.iter().copied())
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
