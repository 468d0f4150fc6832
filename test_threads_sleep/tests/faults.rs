//! Thread creation that fails (issue: a silent exit 101 under a process
//! limit) and panics that are bugs: one line and exit 1 for the first, the
//! normal panic message for the second.

mod common;

use common::bin;
use testkit::{args, cargo_bin, predicate, read_record, run_with};

const RUNTIMES: [&str; 4] = ["team", "rayon", "scoped", "channel"];

#[test]
fn a_thread_that_cannot_be_created_is_one_line_and_exit_1() {
    for rt in RUNTIMES {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("t.json");
        let r = run_with(
            bin()
                .args(["--runtime", rt])
                .args(args("--ncpus 8 --numcalls 5 --sleep 0 --inject-spawn-failure 3 --json"))
                .arg(&json),
        );
        assert_eq!(
            r.one_line_error(1),
            "test_threads_sleep: cannot create thread 3 of 8: Resource temporarily unavailable\n",
            "{rt}"
        );
        assert!(r.out.starts_with("I am set up to use 8 threads.\n"), "{rt}: {}", r.out);
        assert!(!r.out.contains(" @para "), "{rt}: no call ran: {}", r.out);
        assert_eq!(
            read_record(&json)["failure"],
            "cannot create thread 3 of 8: Resource temporarily unavailable",
            "{rt}"
        );
    }
}

#[test]
fn a_panic_outside_iterations_prints_normally() {
    let r = run_with(
        bin()
            .args(args("--ncpus 2 --numcalls 1 --inject-bug"))
            .env("RUST_BACKTRACE", "0"),
    );
    r.assert()
        .code(101)
        .stderr(predicate::str::contains("panicked at"))
        .stderr(predicate::str::contains("injected bug outside any iteration"));
}

/// A real process limit: as root, the binary runs under a uid of its own
/// (no other process has it) with `RLIMIT_NPROC` 3, so the kernel lets it
/// have three tasks: the main thread and threads 2 and 3 of the team. It
/// runs from a copy the uid can reach (`testkit::nobody::reachable_copy`),
/// wherever the checkout is.
#[test]
fn rlimit_nproc_stops_the_team_at_thread_4() {
    use std::os::unix::process::CommandExt;
    if !cfg!(target_os = "linux") {
        println!("skipped: only Linux counts threads against RLIMIT_NPROC (XNU counts processes)");
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root to run the binary under another uid");
        return;
    }
    let (_dir, copy) = match testkit::nobody::reachable_copy(cargo_bin!("test_threads_sleep")) {
        Ok(c) => c,
        Err(why) => return println!("skipped: {why}"),
    };
    let uid = 61_000 + std::process::id() % 4000;
    let mut cmd = testkit::command(copy);
    cmd.args(args("--ncpus 8 --numcalls 5 --sleep 0"))
        .current_dir("/")
        .uid(uid)
        .gid(uid);
    testkit::limit_processes(&mut cmd, 3);
    run_with(&mut cmd)
        .assert()
        .code(1)
        .stderr("test_threads_sleep: cannot create thread 4 of 8: Resource temporarily unavailable\n");
}
