//! A forkserver whose fork of a worker fails: the run
//! ends with exit 1 and one line naming the worker and the errno, and no
//! process other than the run's own is signalled. Before the fix the failed
//! fork's pid `-1` reached `kill(-1, SIGKILL)`, which kills every process of
//! the user: each test keeps a sentinel process of that same user and checks
//! that it is still alive afterwards.

use std::path::Path;
use std::sync::LazyLock;
use testkit::nobody::{processes_of, Nobody};
use testkit::{args, cargo_bin, command, lock, run_with, Sentinel};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_pool_sleep"));

/// A pool run with a forkserver and 4 workers: the fork of one of them fails.
const FORKSERVER_RUN: &str = "--start forkserver --maxworkers 4 --numcalls 200 --sleep 0";

const LINE: &str = "test_pool_sleep: forkserver could not fork worker 2: Resource temporarily unavailable\n";

#[test]
fn failed_fork_in_the_forkserver_is_one_line_and_harms_nobody() {
    let _g = lock();
    let sentinel = Sentinel::start();
    let mut cmd = command(*BIN);
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
/// worker fails with `EAGAIN`. The run's own check of that limit would
/// refuse it before it starts (exit 2, `process_limit_is_checked_before_the_run`);
/// `CLI_UNCHECKED_NPROC` turns the check off, to reach the fork.
#[test]
fn process_limit_of_a_plain_user_is_one_line_and_harms_nobody() {
    if !cfg!(target_os = "linux") {
        println!("skipped: RLIMIT_NPROC counts the user's processes from /proc, which only Linux has");
        return;
    }
    let nobody = match Nobody::new(*BIN) {
        Ok(n) => n,
        Err(why) => return println!("skipped: {why}"),
    };
    let _g = lock();
    let mut cmd = std::process::Command::new("sleep");
    nobody.prepare(&mut cmd, None);
    let sentinel = Sentinel::start_as(cmd);
    // Room for what nobody runs now (the sentinel included), the run and
    // its forkserver: not one worker more.
    let limit = processes_of(nobody.uid).unwrap() + 2;
    let mut cmd = nobody.command(Some(limit));
    cmd.args(args(FORKSERVER_RUN)).env("CLI_UNCHECKED_NPROC", "1");
    let r = run_with(&mut cmd);
    assert_eq!(
        r.one_line_error(1),
        "test_pool_sleep: forkserver could not fork worker 1: Resource temporarily unavailable\n"
    );
    sentinel.assert_alive_then_stop();
}

/// The same limit without the hook: the run is refused before it starts,
/// exit 2 naming `--maxworkers`, the processes it needs (4 workers and the
/// forkserver) and the room the limit leaves.
#[test]
fn process_limit_is_checked_before_the_run() {
    if !cfg!(target_os = "linux") {
        println!("skipped: needs root on Linux to run as nobody under a lowered RLIMIT_NPROC");
        return;
    }
    let nobody = match Nobody::new(*BIN) {
        Ok(n) => n,
        Err(why) => return println!("skipped: {why}"),
    };
    let _g = lock();
    let mut cmd = nobody.command(Some(3));
    cmd.args(args(FORKSERVER_RUN));
    let r = run_with(&mut cmd);
    let line = r.one_line_error(2);
    let re = regex::Regex::new(
        r"^test_pool_sleep: --maxworkers 4 needs 5 processes, more than the (\d+) this user can still start \(ulimit -u 3 minus (\d+) running\); lower --maxworkers or raise the limit\n$",
    )
    .unwrap();
    let c = re.captures(line).unwrap_or_else(|| panic!("{line}"));
    let (room, running): (u64, u64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
    assert!(running >= 1 && room == 3u64.saturating_sub(running), "{line}");
    r.assert().stdout("");
    // A limit with room: the same run goes through.
    let mut cmd = nobody.command(Some(processes_of(nobody.uid).unwrap() + 64));
    cmd.args(args(FORKSERVER_RUN));
    run_with(&mut cmd).assert_success();
}
