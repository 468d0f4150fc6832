//! `--start forkserver --spawn-via posix-spawn|fork-exec`: the server is
//! made either way, its workers serve the jobs, nothing is left behind, the
//! path is recorded in the JSON params; an `execve` of the server that fails
//! (the hidden `PROCPOOL_EXEC_PATH` pointing at no file) is exit 1 and one
//! line.

use testkit::lines::worker_lines;
use testkit::{args, command, lock, read_record, run_with, stdout_of};

const BIN: &str = env!("CARGO_BIN_EXE_test_pool_sleep");
const PATHS: [&str; 2] = ["posix-spawn", "fork-exec"];

#[test]
fn both_spawn_paths_serve_and_are_recorded() {
    let _one = lock();
    let dir = tempfile::tempdir().unwrap();
    for via in PATHS {
        let json = dir.path().join(format!("{via}.json"));
        for api in ["pool", "executor"] {
            let mut cmd = command(BIN);
            cmd.args(["--spawn-via", via, "--api", api]);
            cmd.args(args(
                "--start forkserver --numcalls 100 --maxworkers 2 --sleep 0 --check --workers --json",
            ));
            let out = stdout_of(cmd.arg(&json));
            for line in worker_lines(&out) {
                assert!(line.contains("parent the forkserver "), "{via}: {line}");
                assert!(line.ends_with("memory of a fresh exec"), "{via}: {line}");
            }
            let results = out.lines().any(|l| l.starts_with('[') && l.ends_with(']'));
            assert!(results, "{via} {api}: {out}");
            assert_eq!(read_record(&json)["params"]["spawn_via"], via);
        }
    }
}

#[test]
fn a_failed_execve_is_exit_1_and_one_line() {
    let _one = lock();
    for via in PATHS {
        let r = run_with(
            command(BIN)
                .args(["--spawn-via", via])
                .args(args("--start forkserver --numcalls 3 --maxworkers 2"))
                .env("PROCPOOL_EXEC_PATH", "/nonexistent/test_pool_sleep"),
        );
        assert_eq!(
            r.one_line_error(1),
            "test_pool_sleep: spawning the forkserver: No such file or directory (os error 2)\n",
            "{via}"
        );
    }
}
