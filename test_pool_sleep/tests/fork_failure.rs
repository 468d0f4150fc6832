//! A forkserver whose fork of a worker fails (issue 11, section 1): the run
//! ends with exit 1 and one line naming the worker and the errno, and no
//! process other than the run's own is signalled. Before the fix the failed
//! fork's pid `-1` reached `kill(-1, SIGKILL)`, which kills every process of
//! the user: each test keeps a sentinel process of that same user and checks
//! that it is still alive afterwards.

use testkit::{args, command, lock, run_with, Sentinel};

const BIN: &str = env!("CARGO_BIN_EXE_test_pool_sleep");

/// A pool run with a forkserver and 4 workers: the fork of one of them fails.
const FORKSERVER_RUN: &str = "--start forkserver --maxworkers 4 --numcalls 200 --sleep 0";

const LINE: &str = "test_pool_sleep: forkserver could not fork worker 2: Resource temporarily unavailable\n";

#[test]
fn failed_fork_in_the_forkserver_is_one_line_and_harms_nobody() {
    let _g = lock();
    let sentinel = Sentinel::start();
    let mut cmd = command(BIN);
    cmd.args(args(FORKSERVER_RUN)).env("PROCPOOL_FORKSERVER_FAIL_FORK", "2");
    // The worker forked before the failure and the server are gone too
    // (run_with checks the process group).
    let r = run_with(&mut cmd);
    assert_eq!(r.one_line_error(1), LINE);
    assert!(!r.out.contains("Cost/"), "no chunk ran without its pool: {}", r.out);
    sentinel.assert_alive_then_stop();
}

/// The real thing, when the tests run as root on Linux: the run and the
/// sentinel belong to `nobody`, whose process limit (`RLIMIT_NPROC`) leaves
/// room for the run and its forkserver only, so the server's first fork of a
/// worker fails with `EAGAIN`.
#[test]
fn process_limit_of_a_plain_user_is_one_line_and_harms_nobody() {
    // SAFETY: geteuid has no preconditions.
    if !cfg!(target_os = "linux") || unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root on Linux to run as nobody under RLIMIT_NPROC");
        return;
    }
    let _g = lock();
    let nobody = 65534;
    let as_nobody = |cmd: &mut std::process::Command, nproc: Option<u64>| {
        use std::os::unix::process::CommandExt;
        // SAFETY: the pre-exec hook calls only setrlimit, setgroups, setgid
        // and setuid, all async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let ok = |r: libc::c_int| {
                    if r == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                };
                if let Some(n) = nproc {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    ok(libc::setrlimit(libc::RLIMIT_NPROC, &lim))?;
                }
                ok(libc::setgroups(0, std::ptr::null()))?;
                ok(libc::setgid(nobody))?;
                ok(libc::setuid(nobody))
            })
        };
    };
    let mut cmd = std::process::Command::new("sleep");
    as_nobody(&mut cmd, None);
    let sentinel = Sentinel::start_as(cmd);
    // Room for what nobody runs now (the sentinel included), the run and
    // its forkserver: not one worker more.
    let limit = processes_of(nobody) + 2;
    let mut cmd = command(BIN);
    cmd.args(args(FORKSERVER_RUN)).current_dir("/");
    as_nobody(&mut cmd, Some(limit));
    let r = run_with(&mut cmd);
    assert_eq!(
        r.one_line_error(1),
        "test_pool_sleep: forkserver could not fork worker 1: Resource temporarily unavailable\n"
    );
    sentinel.assert_alive_then_stop();
}

/// Processes whose owner is `uid` (the owner of their `/proc` entry).
fn processes_of(uid: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .count() as u64
}
