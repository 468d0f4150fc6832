//! The open-file and process limits, checked before the run.
//!
//! A fork-per-job call holds a pipe per live child (`test_pyparallel_sleep.py`
//! opens one per job), a pool two pipes per worker, and both make a pipe pair
//! more while a child is being started. macOS's default soft `RLIMIT_NOFILE`
//! is 256, so `--ncpus 200` would otherwise stop mid-run with `EMFILE`. The
//! soft limit is raised toward the ceiling when the run needs more (what
//! Python does not do: the original would fail), and a run that even the
//! ceiling cannot hold is refused before it starts, naming the flag. The
//! ceiling is the hard limit, or on macOS `kern.maxfilesperproc` where that
//! is smaller: a Mac's hard limit is often "unlimited", and the kernel refuses
//! a soft limit above `maxfilesperproc` all the same.
//!
//! Processes are a limit of the *user*, not of the run: `--ncpus 4096`
//! would use up what `ulimit -u` allows (a few thousand on a Mac, GUI apps
//! included), fail mid-call, and until then keep every app of the user from
//! forking. So the run's children (and a forkserver) are compared with what
//! the soft `RLIMIT_NPROC` leaves: the limit minus what the user runs now.
//! Both kernels count by real uid and refuse the fork that would go past the
//! soft limit: Linux counts every thread of the user (`copy_process` in
//! `kernel/fork.c`, `is_rlimit_overlimit(..., RLIMIT_NPROC, ...)`), XNU its
//! processes (`fork1` in `bsd/kern/kern_fork.c`, `chgproccnt`), and both let
//! root past (Linux also a holder of `CAP_SYS_RESOURCE`, which we do not
//! look for: such a user may have to lower the flag needlessly). XNU also
//! caps the limit at `kern.maxprocperuid`; the smaller of the two is used.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors counted per concurrent child: its pipe(s) in the parent.
pub const FDS_PER_CHILD: u64 = 2;
/// Room for what else a run opens: the pipe pair of a child being started,
/// the forkserver's socket, the `--json` temporary file, `/dev/fd` listings.
pub const MARGIN: u64 = 16;

/// The ceiling (hard limit or `kern.maxfilesperproc`) cannot hold the run.
#[derive(Debug, thiserror::Error)]
#[error(
    "{flag} {children} needs about {need} open files, more than the {} of {hard} ({}); \
     lower {flag} or raise the limit",
    ceiling_name(*hard_is_ceiling), ceiling_source(*hard_is_ceiling)
)]
pub struct FdLimitError {
    /// The flag that sets the number of children (`--ncpus` or
    /// `--maxworkers`), named so the user knows what to lower.
    pub flag: &'static str,
    /// Its value: the number of concurrent children asked for.
    pub children: u64,
    /// Descriptors the run would need, as [`need`] counts them.
    pub need: u64,
    /// The ceiling: the hard `RLIMIT_NOFILE` (`ulimit -Hn`, which only root
    /// can raise), or `kern.maxfilesperproc` where that is smaller.
    pub hard: u64,
    /// Whether `hard` is the hard limit (`true`) or `kern.maxfilesperproc`.
    pub hard_is_ceiling: bool,
}

fn ceiling_name(hard: bool) -> &'static str {
    if hard {
        "hard limit"
    } else {
        "per-process limit"
    }
}

fn ceiling_source(hard: bool) -> &'static str {
    if hard {
        "ulimit -Hn"
    } else {
        "sysctl kern.maxfilesperproc"
    }
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
    let Ok((soft, hard_limit)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(()); // unknown: the run will say EMFILE if it comes to that
    };
    let per_process = sysctl("kern.maxfilesperproc").unwrap_or(u64::MAX);
    let hard = hard_limit.min(per_process);
    let need = need(children);
    let too_low = || FdLimitError {
        flag,
        children,
        need,
        hard,
        hard_is_ceiling: hard_limit <= per_process,
    };
    match plan(soft, hard, need) {
        Plan::Enough => Ok(()),
        Plan::TooLow => Err(too_low()),
        Plan::RaiseTo(n) => {
            // The hard limit stays as it was; a refusal is a limit too low.
            setrlimit(Resource::RLIMIT_NOFILE, n, hard_limit).map_err(|_| too_low())?;
            crate::outln!(
                "(extra) open-file limit raised from {soft} to {n} for {flag} {children} (about {FDS_PER_CHILD} per child)"
            );
            Ok(())
        }
    }
}

/// The processes the user may still start cannot hold the run.
#[derive(Debug, thiserror::Error)]
#[error(
    "{flag} {children} needs {need} processes, more than the {room} this user can still start \
     (ulimit -u {limit} minus {running} running); lower {flag} or raise the limit"
)]
pub struct ProcLimitError {
    /// The flag that sets the number of children, named so the user knows
    /// what to lower.
    pub flag: &'static str,
    /// Its value.
    pub children: u64,
    /// Processes the run starts at most at once: the children and a server.
    pub need: u64,
    /// What the limit leaves: `limit - running`.
    pub room: u64,
    /// The soft `RLIMIT_NPROC` (`ulimit -u`; on macOS at most
    /// `kern.maxprocperuid`).
    pub limit: u64,
    /// What the user runs now, counted as the kernel counts it (threads on
    /// Linux, processes on macOS), this run included.
    pub running: u64,
}

/// Whether a run starting `need` processes fits a soft limit `limit` of
/// which the user uses `running` now (the decision of [`ensure_processes`]).
pub fn processes_fit(limit: u64, running: u64, need: u64) -> bool {
    need <= limit.saturating_sub(running)
}

/// Set (to anything) in the environment, [`ensure_processes`] checks
/// nothing: a test hook, for the test that must reach a real failed fork
/// under a limit this check would refuse (`test_pool_sleep/tests/fork_failure.rs`).
pub const UNCHECKED_NPROC_ENV: &str = "CLI_UNCHECKED_NPROC";

/// Refuses a run whose `children` (set by `flag`) and `servers` (a
/// forkserver: 1) would pass the user's process limit. Nothing is checked
/// for root, for an unlimited limit, or where the count cannot be had.
pub fn ensure_processes(flag: &'static str, children: u64, servers: u64) -> Result<(), ProcLimitError> {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    if uid == 0 || std::env::var_os(UNCHECKED_NPROC_ENV).is_some() {
        return Ok(());
    }
    // SAFETY: an all-zero rlimit is a value for getrlimit to fill in.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer (nix has no RLIMIT_NPROC on Apple targets).
    if unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) } != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        return Ok(());
    }
    let limit = (lim.rlim_cur as u64).min(sysctl("kern.maxprocperuid").unwrap_or(u64::MAX));
    let Some(running) = counted_by_the_kernel(uid) else {
        return Ok(());
    };
    let need = children + servers;
    if processes_fit(limit, running, need) {
        return Ok(());
    }
    Err(ProcLimitError {
        flag,
        children,
        need,
        room: limit.saturating_sub(running),
        limit,
        running,
    })
}

/// Both checks of this module, in the order a run meets them.
pub fn ensure_room(flag: &'static str, children: u64, servers: u64) -> anyhow::Result<()> {
    ensure_processes(flag, children, servers)?;
    ensure_open_files(flag, children)?;
    Ok(())
}

/// The threads of real user `uid`, as Linux counts them against
/// `RLIMIT_NPROC`: the `Threads:` of every `/proc/<pid>/status` whose
/// real `Uid:` is `uid`.
#[cfg(target_os = "linux")]
fn counted_by_the_kernel(uid: libc::uid_t) -> Option<u64> {
    let field = |status: &str, key: &str| -> Option<u64> {
        let rest = status.lines().find_map(|l| l.strip_prefix(key))?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let mut threads = 0;
    for entry in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        if !entry.file_name().as_encoded_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        // A process may end between the listing and the read: skip it.
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        if field(&status, "Uid:") == Some(u64::from(uid)) {
            threads += field(&status, "Threads:").unwrap_or(1);
        }
    }
    Some(threads)
}

/// The processes of real user `uid`, as XNU counts them against
/// `RLIMIT_NPROC`: `proc_listpids(PROC_RUID_ONLY, uid)` (`libproc.h`).
#[cfg(target_os = "macos")]
fn counted_by_the_kernel(uid: libc::uid_t) -> Option<u64> {
    const PROC_RUID_ONLY: u32 = 5; // sys/proc_info.h; not in the libc crate
    let pid_size = std::mem::size_of::<libc::pid_t>();
    // SAFETY: a null buffer asks for the size the list needs.
    let bytes = unsafe { libc::proc_listpids(PROC_RUID_ONLY, uid, std::ptr::null_mut(), 0) };
    if bytes <= 0 {
        return None;
    }
    // Room for processes started between the two calls.
    let mut pids = vec![0 as libc::pid_t; bytes as usize / pid_size + 64];
    let size = (pids.len() * pid_size) as libc::c_int;
    // SAFETY: the kernel writes at most `size` bytes into `pids`.
    let got = unsafe { libc::proc_listpids(PROC_RUID_ONLY, uid, pids.as_mut_ptr().cast(), size) };
    (got > 0).then(|| got as u64 / pid_size as u64)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn counted_by_the_kernel(_uid: libc::uid_t) -> Option<u64> {
    None
}

/// An integer `sysctl` by name (macOS: `kern.maxfilesperproc`,
/// `kern.maxprocperuid`); `None` where there is none (Linux).
#[cfg(target_vendor = "apple")]
fn sysctl(name: &str) -> Option<u64> {
    let name = std::ffi::CString::new(name).ok()?;
    let mut value: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>();
    // SAFETY: the kernel writes at most `size` bytes into `value`; no new value.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            (&mut value as *mut libc::c_int).cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0 && value > 0).then_some(value as u64)
}

#[cfg(not(target_vendor = "apple"))]
fn sysctl(_name: &str) -> Option<u64> {
    None
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
            hard_is_ceiling: true,
        };
        assert_eq!(
            e.to_string(),
            "--ncpus 4096 needs about 8300 open files, more than the hard limit of 4096 (ulimit -Hn); lower --ncpus or raise the limit"
        );
        // A Mac with an "unlimited" hard limit: the number is the sysctl's.
        let e = FdLimitError {
            hard: 24576,
            hard_is_ceiling: false,
            need: 30000,
            ..e
        };
        assert_eq!(
            e.to_string(),
            "--ncpus 4096 needs about 30000 open files, more than the per-process limit of 24576 (sysctl kern.maxfilesperproc); lower --ncpus or raise the limit"
        );
    }

    #[test]
    fn processes_fit_what_the_limit_leaves() {
        assert!(processes_fit(2666, 600, 2066));
        assert!(!processes_fit(2666, 600, 2067));
        assert!(!processes_fit(100, 150, 1)); // already over (lowered by hand)
        assert!(processes_fit(100, 150, 0));
    }

    #[test]
    fn the_process_error_names_the_flag_and_both_numbers() {
        let e = ProcLimitError {
            flag: "--maxworkers",
            children: 4096,
            need: 4097,
            room: 2066,
            limit: 2666,
            running: 600,
        };
        assert_eq!(
            e.to_string(),
            "--maxworkers 4096 needs 4097 processes, more than the 2066 this user can still start \
             (ulimit -u 2666 minus 600 running); lower --maxworkers or raise the limit"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_count_includes_this_process_and_its_threads() {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let mine = std::fs::read_dir("/proc/self/task").unwrap().count() as u64;
        let running = counted_by_the_kernel(uid).unwrap();
        assert!(running >= mine, "{running} < {mine}");
    }
}
