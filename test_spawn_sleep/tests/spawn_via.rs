//! `--spawn-via posix-spawn|fork-exec`: both paths make fresh children of
//! this process that serve the jobs, leave no process behind, and are
//! recorded in the JSON params; an `execve` that fails (the hidden
//! `PROCPOOL_EXEC_PATH` pointing at no file) is exit 1 and one line.

use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::process::Output;
use std::sync::Mutex;

/// One run at a time: each test checks its process group is empty after.
static RUNS: Mutex<()> = Mutex::new(());

const PATHS: [&str; 2] = ["posix-spawn", "fork-exec"];

fn run(args: &[&str], exec_path: Option<&str>) -> (Output, i32) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("test_spawn_sleep"));
    cmd.process_group(0).args(args);
    if let Some(path) = exec_path {
        cmd.env("PROCPOOL_EXEC_PATH", path);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    (child.wait_with_output().unwrap(), pgid)
}

fn assert_no_orphans(pgid: i32) {
    for _ in 0..50 {
        if kill(Pid::from_raw(-pgid), None) == Err(nix::errno::Errno::ESRCH) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("a process of group {pgid} is left");
}

#[test]
fn both_spawn_paths_serve_and_are_recorded() {
    let _one = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    for via in PATHS {
        let json = dir.path().join(format!("{via}.json"));
        let json = json.to_str().unwrap();
        for shape in [&["--numcalls", "100"][..], &["--per-call", "--numcalls", "3"]] {
            let mut args = vec![
                "--spawn-via",
                via,
                "--maxworkers",
                "2",
                "--sleep",
                "0",
                "--check",
                "--workers",
            ];
            args.extend_from_slice(shape);
            args.extend_from_slice(&["--json", json]);
            let (out, pgid) = run(&args, None);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{via} {shape:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let workers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("(extra) worker pid")).collect();
            assert!(!workers.is_empty(), "{stdout}");
            for line in workers {
                assert!(
                    line.ends_with("parent this process, memory of a fresh exec"),
                    "{via}: {line}"
                );
            }
            assert!(stdout.lines().any(|l| l == "[0, 1]"), "{via} {shape:?}: {stdout}");
            let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
            assert_eq!(record["params"]["spawn_via"], via);
            assert_no_orphans(pgid);
        }
    }
}

#[test]
fn a_failed_execve_is_exit_1_and_one_line() {
    let _one = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    for via in PATHS {
        for per_call in [false, true] {
            let mut args = vec![
                "--spawn-via",
                via,
                "--numcalls",
                "3",
                "--maxworkers",
                "2",
                "--sleep",
                "0",
            ];
            if per_call {
                args.push("--per-call");
            }
            let (out, pgid) = run(&args, Some("/nonexistent/test_spawn_sleep"));
            assert_eq!(out.status.code(), Some(1), "{via}");
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                "test_spawn_sleep: spawning a worker: No such file or directory (os error 2)\n",
                "{via} per_call={per_call}"
            );
            assert_no_orphans(pgid);
        }
    }
}
