//! `--spawn-via posix-spawn|fork-exec`: both paths make fresh children of
//! this process that serve the jobs, leave no process behind, and are
//! recorded in the JSON params; an `execve` that fails (the hidden
//! `PROCPOOL_EXEC_PATH` pointing at no file) is exit 1 and one line.

use std::path::Path;
use std::sync::LazyLock;
use testkit::spawn_via::{assert_both_spawn_paths_serve, assert_failed_exec_is_one_line};
use testkit::{cargo_bin, lock};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_spawn_sleep"));

/// A pool per bar(), then a pool per call.
const SHAPES: [&str; 2] = ["", "--per-call"];

#[test]
fn both_spawn_paths_serve_and_are_recorded() {
    let _one = lock();
    for (shape, numcalls) in SHAPES.into_iter().zip([100, 3]) {
        let line = format!("{shape} --numcalls {numcalls} --maxworkers 2 --sleep 0 --check");
        for out in assert_both_spawn_paths_serve(*BIN, &line, "this process,") {
            assert!(out.lines().any(|l| l == "[0, 1]"), "{shape}: {out}");
        }
    }
}

#[test]
fn a_failed_execve_is_exit_1_and_one_line() {
    let _one = lock();
    for shape in SHAPES {
        assert_failed_exec_is_one_line(
            *BIN,
            &format!("{shape} --numcalls 3 --maxworkers 2 --sleep 0"),
            "test_spawn_sleep: spawning a worker: No such file or directory (os error 2)\n",
        );
    }
}
