//! End-to-end tests of test_pool_sleep: printed formats,
//! --check order, the start method really used, JSON, bad input, worker
//! faults, interruption, and no orphan left.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use regex::Regex;
use std::io::BufReader;
use std::path::Path;
use std::process::{Child, ChildStdout};
use std::sync::LazyLock;
use testkit::lines::{assert_time_block, chunk_sizes, squares, EXECUTOR, POOL};
use testkit::{
    args, assert_usage_error, cargo_bin, command, lock, read_lines_until, read_record, run_str, run_timed, run_with,
    spawn_piped, wait_for_end,
};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_pool_sleep"));

#[test]
fn pool_lines_for_fork_and_forkserver() {
    let _g = lock();
    for start in ["fork", "forkserver"] {
        let r = run_with(
            command(*BIN)
                .args(["--start", start])
                .args(args("--numcalls 250 --ncpus 3 --sleep 0 --check")),
        );
        r.assert_success();
        let lines: Vec<&str> = r.out.lines().collect();
        assert_eq!(lines[0], format!("Setting multiprocessing start method to '{start}'"));
        assert_eq!(lines[1], "Using maxworkers=3 parallel decorated function");
        assert_eq!(chunk_sizes(&POOL, &lines[2..5], "3"), [100, 100, 50]);
        // m grows by maxworkers per chunk: the third chunk maps range(6, 9);
        // the results are printed after the pool is closed, in input order.
        assert_eq!(lines[5], squares(6, 3));
        assert_time_block(&lines[6..9]);
        assert_eq!(r.err, "");
    }
}

#[test]
fn executor_lines_and_results_after_every_chunk() {
    let _g = lock();
    let r = run_str(*BIN, "--api executor --numcalls 150 --maxworkers 2 --sleep 0 --check");
    r.assert_success();
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Using maxworkers=2 as max_workers for ProcessPoolExecutor");
    assert_eq!(chunk_sizes(&EXECUTOR, &[lines[1], lines[3]], "2"), [100, 50]);
    // m grows by maxworkers per call: call 99 maps range(198, 200), call 149 range(298, 300).
    assert_eq!(lines[2], squares(198, 2));
    assert_eq!(lines[4], squares(298, 2));
    assert_time_block(&lines[5..8]);
}

#[test]
fn without_check_no_results_are_printed() {
    let _g = lock();
    let r = run_str(*BIN, "--numcalls 100 --maxworkers 2 --sleep 0");
    r.assert_success();
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(chunk_sizes(&POOL, &lines[2..3], "2"), [100]);
    assert_time_block(&lines[3..6]);
}

/// `--workers` asks every worker for its pid, its parent and a value set in
/// the parent's memory before the pool was made.
#[test]
fn the_start_method_is_really_used() {
    let _g = lock();
    let cases = [
        ("fork", r"parent this process, memory of a fork of this process"),
        ("forkserver", r"parent the forkserver \d+, memory of a fresh exec"),
        ("spawn", r"parent this process, memory of a fresh exec"),
    ];
    for (start, want) in cases {
        let r = run_with(
            command(*BIN)
                .args(args("--workers --numcalls 1 --maxworkers 3 --sleep 0 --start"))
                .arg(start),
        );
        r.assert_success();
        let re = Regex::new(&format!(r"^\(extra\) worker pid (\d+): {want}$")).unwrap();
        let pids: std::collections::HashSet<&str> = r
            .out
            .lines()
            .filter(|l| l.starts_with("(extra) worker"))
            .map(|l| {
                re.captures(l)
                    .unwrap_or_else(|| panic!("{start}: {l}"))
                    .get(1)
                    .unwrap()
                    .as_str()
            })
            .collect();
        assert_eq!(pids.len(), 3, "{start}: three distinct workers");
        if start == "forkserver" {
            let servers: std::collections::HashSet<&str> =
                r.out.lines().filter_map(|l| l.split("forkserver ").nth(1)).collect();
            assert_eq!(servers.len(), 1, "one forkserver for the pool");
        }
    }
}

#[test]
fn a_faulty_worker_is_exit_1_with_a_one_line_cause() {
    let _g = lock();
    let cases = [
        ("fork", "signal", "was killed by signal SIGKILL"),
        ("forkserver", "signal", "was killed by signal SIGKILL"),
        ("spawn", "signal", "was killed by signal SIGKILL"),
        ("fork", "exit", "exited with status 3"),
        ("forkserver", "exit", "exited with status 3"),
        ("spawn", "garble", r"sent a garbled frame \(bad magic\)"),
        ("forkserver", "truncate", "sent a truncated frame"),
    ];
    for (start, kind, cause) in cases {
        let line = format!("--start {start} --numcalls 300 --maxworkers 3 --sleep 0 --inject {kind}@4");
        let (r, took) = run_timed(*BIN, &args(&line));
        r.assert().append_context("case", format!("{start} {kind}")).code(1);
        // The fault comes in the first 200 calls of sleep(0): the run ends
        // within 2 s of it, workers reaped (a bound on a fault path).
        assert!(
            took.as_secs_f64() < 2.0,
            "{start} {kind}: ended {took:?} after the start"
        );
        // Job a=4 is in the second chunk (m = 3): one line naming it.
        let re = Regex::new(&format!(r"^test_pool_sleep: job 4 \(pid \d+\) {cause}\n$")).unwrap();
        assert!(re.is_match(&r.err), "{start} {kind}: {:?}", r.err);
        assert_eq!(
            r.out.lines().filter(|l| l.contains("Cost/")).count(),
            1,
            "first chunk done"
        );
    }
}

#[test]
fn bad_input_is_exit_2_with_one_line() {
    let _g = lock();
    let cases: [(&[&str], &str); 6] = [
        (&["--maxworkers", "0"], "--maxworkers"),
        (&["--ncpus", "5000"], "1..=1024"),
        (&["--sleep", "-1"], "--sleep"),
        (&["--numcalls", "0"], "--numcalls"),
        (&["--start", "vfork"], "fork, forkserver, spawn"),
        (&["--api", "futures"], "pool, executor"),
    ];
    for (args, needle) in cases {
        assert_usage_error(*BIN, args, needle);
    }
}

#[test]
fn json_record_and_repeat() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let r = run_with(
        command(*BIN)
            .args(args(
                "--start forkserver --numcalls 150 --maxworkers 2 --sleep 0 --repeat 2 --json",
            ))
            .arg(&path),
    );
    r.assert_success();
    assert_eq!(
        r.out
            .matches("Setting multiprocessing start method to 'forkserver'")
            .count(),
        2
    );
    let rec = read_record(&path);
    assert_eq!(rec["tool"], "test_pool_sleep");
    assert_eq!(rec["strategy"], "pool/forkserver");
    assert_eq!(rec["line_format"]["family"], "pool");
    assert_eq!(rec["repeats"].as_array().unwrap().len(), 2);
    assert_eq!(rec["repeats"][1]["calls"], 150);
    assert_eq!(rec["interrupted"], false);

    let r = run_with(
        command(*BIN)
            .args(args("--numcalls 300 --maxworkers 2 --inject exit@3 --json"))
            .arg(&path),
    );
    r.assert().code(1);
    let rec = read_record(&path);
    assert!(rec["failure"].as_str().unwrap().contains("exited with status 3"));
    assert_eq!(rec["repeats"][0]["chunks"].as_array().unwrap().len(), 1);
}

/// Starts an endless `test_pool_sleep --start START` in its own process
/// group and returns once both workers have answered (the pool is up and
/// mapping); its stderr is piped. The caller keeps the stdout reader open
/// (closing it would make the parent's next print fail).
fn start_endless_pool(start: &str, json: &std::path::Path) -> (Child, BufReader<ChildStdout>) {
    let mut child = spawn_piped(
        command(*BIN)
            .args(["--start", start])
            .args(args("--workers --numcalls 100000000 --maxworkers 2 --json"))
            .arg(json),
    );
    let (out, _) = read_lines_until(&mut child, 2, |l| l.starts_with("(extra) worker"));
    (child, out)
}

/// Ctrl-C at the terminal: SIGINT to the whole process group, workers and
/// forkserver included. The parent stops, reaps everything, keeps its record.
#[test]
fn ctrl_c_stops_cleanly_with_130() {
    let _g = lock();
    for start in ["fork", "forkserver", "spawn"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        let (child, stdout) = start_endless_pool(start, &path);
        kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGINT).unwrap();
        let r = wait_for_end(child, stdout);
        r.assert().append_context("case", start.to_string()).code(130);
        assert!(r.err.contains("interrupted after"), "{start}: {}", r.err);
        let rec = read_record(&path);
        assert_eq!(rec["interrupted"], true);
    }
}

/// SIGTERM to the parent alone (a `kill PID`): it stops, closes the pool,
/// reaps the workers and the forkserver, keeps its record and exits 143.
#[test]
fn sigterm_to_the_parent_stops_cleanly_with_143() {
    let _g = lock();
    for start in ["fork", "forkserver"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        let (child, stdout) = start_endless_pool(start, &path);
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let r = wait_for_end(child, stdout);
        r.assert().append_context("case", start.to_string()).code(143);
        let rec = read_record(&path);
        assert_eq!(rec["interrupted"], true);
    }
}
