//! `--start forkserver --spawn-via posix-spawn|fork-exec`: the server is
//! made either way, its workers serve the jobs, nothing is left behind, the
//! path is recorded in the JSON params; an `execve` of the server that fails
//! (the hidden `PROCPOOL_EXEC_PATH` pointing at no file) is exit 1 and one
//! line.

use testkit::{command, lock, read_record, run_with, Run};

const PATHS: [&str; 2] = ["posix-spawn", "fork-exec"];

/// Runs the binary in its own process group (`testkit` checks the group is
/// empty after), with the hidden `PROCPOOL_EXEC_PATH` when given.
fn run(args: &[&str], exec_path: Option<&str>) -> Run {
    let mut cmd = command(env!("CARGO_BIN_EXE_test_pool_sleep"));
    cmd.args(args);
    if let Some(path) = exec_path {
        cmd.env("PROCPOOL_EXEC_PATH", path);
    }
    run_with(&mut cmd)
}

#[test]
fn both_spawn_paths_serve_and_are_recorded() {
    let _one = lock();
    let dir = tempfile::tempdir().unwrap();
    for via in PATHS {
        let json = dir.path().join(format!("{via}.json"));
        let json = json.to_str().unwrap();
        for shape in [&["--numcalls", "100"][..], &["--api", "executor", "--numcalls", "100"]] {
            let mut args = vec!["--start", "forkserver", "--spawn-via", via];
            args.extend_from_slice(&["--maxworkers", "2", "--sleep", "0", "--check", "--workers"]);
            args.extend_from_slice(shape);
            args.extend_from_slice(&["--json", json]);
            let out = run(&args, None);
            let stdout = out.assert_success();
            let workers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("(extra) worker pid")).collect();
            assert!(!workers.is_empty(), "{stdout}");
            for line in workers {
                assert!(line.contains("parent the forkserver "), "{via}: {line}");
                assert!(line.ends_with("memory of a fresh exec"), "{via}: {line}");
            }
            assert!(
                stdout.lines().any(|l| l.starts_with('[') && l.ends_with(']')),
                "{via} {shape:?}: {stdout}"
            );
            let record = read_record(std::path::Path::new(json));
            assert_eq!(record["params"]["spawn_via"], via);
        }
    }
}

#[test]
fn a_failed_execve_is_exit_1_and_one_line() {
    let _one = lock();
    for via in PATHS {
        let args = [
            "--start",
            "forkserver",
            "--spawn-via",
            via,
            "--numcalls",
            "3",
            "--maxworkers",
            "2",
        ];
        let out = run(&args, Some("/nonexistent/test_pool_sleep"));
        assert_eq!(out.code, 1, "{via}");
        assert_eq!(
            out.err, "test_pool_sleep: spawning the forkserver: No such file or directory (os error 2)\n",
            "{via}"
        );
    }
}
