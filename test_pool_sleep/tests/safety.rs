//! The safety rules end to end for the pool binary: a closed stdout ends the run
//! quietly (workers and forkserver reaped, record kept), and the open-file
//! limit is checked before the pool exists.

use std::path::Path;
use std::sync::LazyLock;
use testkit::{
    args, cargo_bin, command, limit_open_files, lock, predicate, read_record, run_with,
    with_stdout_closed_after_first_line, PredicateNameExt,
};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_pool_sleep"));

#[test]
fn a_closed_stdout_ends_the_run_quietly_with_exit_0_and_the_record() {
    let _g = lock();
    for (start, api) in [("fork", "pool"), ("forkserver", "pool"), ("fork", "executor")] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("run.json");
        let mut cmd = command(*BIN);
        cmd.args(["--start", start, "--api", api])
            .args(args("--numcalls 100000000 --maxworkers 2 --sleep 0 --json"))
            .arg(&json);
        // `| head -1`: one line read, then the pipe closed.
        let r = with_stdout_closed_after_first_line(&mut cmd);
        let want = match api {
            "pool" => format!("Setting multiprocessing start method to '{start}'\n"),
            _ => "Using maxworkers=2 as max_workers for ProcessPoolExecutor\n".to_string(),
        };
        assert_eq!(r.out, want);
        r.assert()
            .append_context("case", format!("{start} {api}"))
            .success()
            .stderr("");
        let v = read_record(&json);
        assert_eq!(v["interrupted"], true, "{start} {api}");
        assert_eq!(v["failure"], serde_json::Value::Null);
    }
}

#[test]
fn a_hard_open_file_limit_too_low_for_the_pool_is_exit_2_before_it_starts() {
    let _g = lock();
    let mut cmd = command(*BIN);
    cmd.args(args("--maxworkers 100 --numcalls 1 --sleep 0"));
    limit_open_files(&mut cmd, 64, 64);
    let r = run_with(&mut cmd);
    r.assert()
        .code(2)
        .stdout(predicate::str::is_empty().name("the pool started"));
    let re = regex::Regex::new(
        r"^test_pool_sleep: --maxworkers 100 needs about \d+ open files, more than the hard limit of 64 \(ulimit -Hn\); lower --maxworkers or raise the limit\n$",
    )
    .unwrap();
    assert!(re.is_match(&r.err), "{}", r.err);
}
