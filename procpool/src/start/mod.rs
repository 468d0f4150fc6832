//! How a worker comes to life: one file per start method.
//!
//! - [`fork`]: forked from the parent (CPython's `fork` context);
//! - [`spawn`]: this executable started again in a hidden role (`spawn`),
//!   through `posix_spawn` or [`fork_exec`] ([`SpawnVia`]);
//! - [`forkserver`]: forked by a server process that was itself spawned once
//!   (`forkserver`); the server's side is [`crate::server`].
//!
//! Each returns a [`Started`] worker: its pid and the parent's ends of its
//! request and reply pipes.

pub(crate) mod fork;
mod fork_exec;
pub(crate) mod forkserver;
pub(crate) mod spawn;

use crate::error::{os, PoolError};
pub use spawn::{SpawnVia, EXEC_PATH_ENV};

use childpid::ChildPid;
use std::os::fd::OwnedFd;

/// How the workers are started (`multiprocessing.set_start_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartMethod {
    /// Forked from this process once, at pool creation.
    Fork,
    /// Forked by a server process spawned once, which gets the pipes over a
    /// Unix socket (`SCM_RIGHTS`).
    Forkserver,
    /// Fresh processes of this executable, talking over stdin and stdout.
    Spawn,
}

impl StartMethod {
    /// The three, in CPython's order of appearance.
    pub const ALL: [StartMethod; 3] = [StartMethod::Fork, StartMethod::Forkserver, StartMethod::Spawn];

    /// CPython's name: `fork`, `forkserver`, `spawn`.
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Forkserver => "forkserver",
            StartMethod::Spawn => "spawn",
        }
    }
}

impl std::fmt::Display for StartMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A worker just started: its pid and the parent's pipe ends.
pub(crate) struct Started {
    pub pid: ChildPid,
    /// The write end of its request pipe.
    pub req: OwnedFd,
    /// The read end of its reply pipe.
    pub rep: OwnedFd,
}

/// `os.pipe()`, as CPython makes it on this platform ([`crate::os_pipe`]).
pub(crate) fn cloexec_pipe() -> Result<(OwnedFd, OwnedFd), PoolError> {
    crate::os_pipe().map_err(|e| os("pipe", e))
}
