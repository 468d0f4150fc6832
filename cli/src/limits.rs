//! The open-file limit, checked before the run.
//!
//! A fork-per-job call holds a pipe per live child (`test_pyparallel_sleep.py`
//! opens one per job), a pool two pipes per worker, and both make a pipe pair
//! more while a child is being started. macOS's default soft `RLIMIT_NOFILE`
//! is 256, so `--ncpus 200` would otherwise stop mid-run with `EMFILE`. The
//! soft limit is raised toward the hard one when the run needs more (what
//! Python does not do: the original would fail), and a run that even the
//! hard limit cannot hold is refused before it starts, naming the flag.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors counted per concurrent child: its pipe(s) in the parent.
pub const FDS_PER_CHILD: u64 = 2;
/// Room for what else a run opens: the pipe pair of a child being started,
/// the forkserver's socket, the `--json` temporary file, `/dev/fd` listings.
pub const MARGIN: u64 = 16;

/// The hard limit cannot hold the run.
#[derive(Debug, thiserror::Error)]
#[error(
    "{flag} {children} needs about {need} open files, more than the hard limit of {hard} (ulimit -Hn); \
     lower {flag} or raise the limit"
)]
pub struct FdLimitError {
    /// The flag that sets the number of children (`--ncpus` or
    /// `--maxworkers`), named so the user knows what to lower.
    pub flag: &'static str,
    /// Its value: the number of concurrent children asked for.
    pub children: u64,
    /// Descriptors the run would need, as [`need`] counts them.
    pub need: u64,
    /// The hard `RLIMIT_NOFILE` (`ulimit -Hn`), which only root can raise.
    pub hard: u64,
}

/// What to do about a soft limit `soft` (hard `hard`) for a run needing `need`.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The soft limit already holds the run: nothing to change or print.
    Enough,
    /// Raise the soft limit to this many: the need, not the hard limit.
    RaiseTo(u64),
    /// Even the hard limit is too low: refuse the run before it starts.
    TooLow,
}

/// The decision of [`ensure_open_files`], apart from the system calls so that
/// it can be tested with any limits (macOS's 256, an unlimited hard limit).
pub fn plan(soft: u64, hard: u64, need: u64) -> Plan {
    if need <= soft {
        Plan::Enough
    } else if need <= hard {
        Plan::RaiseTo(need)
    } else {
        Plan::TooLow
    }
}

/// Descriptors a run with `children` concurrent children (`flag`: `--ncpus`
/// or `--maxworkers`) needs, from the count open now.
pub fn need(children: u64) -> u64 {
    probes::hygiene::open_fds() as u64 + FDS_PER_CHILD * children + MARGIN
}

/// Makes room for `children` concurrent children before the run: raises the
/// soft limit (and says so on one `(extra)` line on stdout) or refuses.
/// Threads need none: test_threads_sleep does not call this.
pub fn ensure_open_files(flag: &'static str, children: u64) -> Result<(), FdLimitError> {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(()); // unknown: the run will say EMFILE if it comes to that
    };
    let need = need(children);
    let too_low = || FdLimitError {
        flag,
        children,
        need,
        hard,
    };
    match plan(soft, hard, need) {
        Plan::Enough => Ok(()),
        Plan::TooLow => Err(too_low()),
        Plan::RaiseTo(n) => {
            // macOS refuses a soft limit above kern.maxfilesperproc even when
            // the hard limit is "unlimited": that is a limit too low as well.
            setrlimit(Resource::RLIMIT_NOFILE, n, hard).map_err(|_| too_low())?;
            crate::outln!(
                "(extra) open-file limit raised from {soft} to {n} for {flag} {children} (about {FDS_PER_CHILD} per child)"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        assert_eq!(plan(256, 1024, 100), Plan::Enough);
        assert_eq!(plan(256, 1024, 256), Plan::Enough);
        assert_eq!(plan(256, 1024, 257), Plan::RaiseTo(257));
        assert_eq!(plan(256, 1024, 1025), Plan::TooLow);
        assert_eq!(plan(256, u64::MAX, 9000), Plan::RaiseTo(9000));
    }

    #[test]
    fn need_grows_by_two_per_child_from_what_is_open() {
        let open = probes::hygiene::open_fds() as u64;
        let n = need(100);
        // Another test thread may open a file meanwhile: a small slack.
        assert!(
            (open + 200 + MARGIN..=open + 200 + MARGIN + 8).contains(&n),
            "{n} vs {open}"
        );
    }

    #[test]
    fn the_error_names_the_flag_and_the_limit() {
        let e = FdLimitError {
            flag: "--ncpus",
            children: 4096,
            need: 8300,
            hard: 4096,
        };
        assert_eq!(
            e.to_string(),
            "--ncpus 4096 needs about 8300 open files, more than the hard limit of 4096 (ulimit -Hn); lower --ncpus or raise the limit"
        );
    }
}
