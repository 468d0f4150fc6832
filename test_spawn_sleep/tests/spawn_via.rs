//! `--spawn-via posix-spawn|fork-exec`: both paths make fresh children of
//! this process that serve the jobs, leave no process behind, and are
//! recorded in the JSON params; an `execve` that fails (the hidden
//! `PROCPOOL_EXEC_PATH` pointing at no file) is exit 1 and one line.

use testkit::lines::worker_lines;
use testkit::{args, command, lock, read_record, run_with, stdout_of};

const BIN: &str = env!("CARGO_BIN_EXE_test_spawn_sleep");
const PATHS: [&str; 2] = ["posix-spawn", "fork-exec"];

#[test]
fn both_spawn_paths_serve_and_are_recorded() {
    let _one = lock();
    let dir = tempfile::tempdir().unwrap();
    for via in PATHS {
        let json = dir.path().join(format!("{via}.json"));
        // A pool per bar(), then a pool per call.
        for calls in ["--numcalls 100", "--per-call --numcalls 3"] {
            let mut cmd = command(BIN);
            cmd.args(["--spawn-via", via]).args(args(calls));
            let out = stdout_of(
                cmd.args(args("--maxworkers 2 --sleep 0 --check --workers --json"))
                    .arg(&json),
            );
            for line in worker_lines(&out) {
                assert!(
                    line.ends_with("parent this process, memory of a fresh exec"),
                    "{via}: {line}"
                );
            }
            assert!(out.lines().any(|l| l == "[0, 1]"), "{via} {calls}: {out}");
            assert_eq!(read_record(&json)["params"]["spawn_via"], via);
        }
    }
}

#[test]
fn a_failed_execve_is_exit_1_and_one_line() {
    let _one = lock();
    for via in PATHS {
        for per_call in [&[][..], &["--per-call"]] {
            let r = run_with(
                command(BIN)
                    .args(["--spawn-via", via])
                    .args(per_call)
                    .args(args("--numcalls 3 --maxworkers 2 --sleep 0"))
                    .env("PROCPOOL_EXEC_PATH", "/nonexistent/test_spawn_sleep"),
            );
            assert_eq!(
                r.one_line_error(1),
                "test_spawn_sleep: spawning a worker: No such file or directory (os error 2)\n",
                "{via} {per_call:?}"
            );
        }
    }
}
