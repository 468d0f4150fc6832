//! `--start forkserver --spawn-via posix-spawn|fork-exec`: the server is
//! made either way, its workers serve the jobs, nothing is left behind, the
//! path is recorded in the JSON params; an `execve` of the server that fails
//! (the hidden `PROCPOOL_EXEC_PATH` pointing at no file) is exit 1 and one
//! line.

use std::path::Path;
use std::sync::LazyLock;
use testkit::spawn_via::{assert_both_spawn_paths_serve, assert_failed_exec_is_one_line};
use testkit::{cargo_bin, lock};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_pool_sleep"));

#[test]
fn both_spawn_paths_serve_and_are_recorded() {
    let _one = lock();
    for api in ["pool", "executor"] {
        let line = format!("--start forkserver --api {api} --numcalls 100 --maxworkers 2 --sleep 0 --check");
        for out in assert_both_spawn_paths_serve(*BIN, &line, "the forkserver ") {
            let results = out.lines().any(|l| l.starts_with('[') && l.ends_with(']'));
            assert!(results, "{api}: {out}");
        }
    }
}

#[test]
fn a_failed_execve_is_exit_1_and_one_line() {
    let _one = lock();
    assert_failed_exec_is_one_line(
        *BIN,
        "--start forkserver --numcalls 3 --maxworkers 2",
        "test_pool_sleep: spawning the forkserver: No such file or directory (os error 2)\n",
    );
}
