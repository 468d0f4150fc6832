//! End-to-end tests of test_spawn_sleep: the spawned pool of
//! test_pool_spawn_sleep.py and the spawn-per-call of
//! test_parallel_spawn_sleep.sage.

#[path = "../../test_pool_sleep/tests/common/mod.rs"]
mod common;

use common::*;
use regex::Regex;

#[test]
fn spawned_pool_lines() {
    let _g = lock();
    let r = run(
        "test_spawn_sleep",
        &["--numcalls", "120", "--maxworkers", "2", "--sleep", "0", "--check"],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Setting multiprocessing start method to 'spawn'");
    assert_eq!(lines[1], "Using maxworkers=2 parallel decorated function");
    assert_eq!(chunk_sizes(POOL_RE, &lines[2..4], "2"), [100, 20]);
    assert_eq!(lines[4], squares(2, 2));
    assert_time_block(&lines[5..8]);
}

#[test]
fn per_call_lines_and_default_of_ten_calls() {
    let _g = lock();
    let r = run("test_spawn_sleep", &["--per-call", "--ncpus", "2"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Using ncpus=2 parallel decorated function");
    let first = Regex::new(r"^Now spawning @parallelized sleep\(0\.001\) on 2 workers\. \d+\.\d{3}s\.$").unwrap();
    let second = Regex::new(r"^ Cost/ncpus is -?\d+\.\d{6}s\.$").unwrap();
    for k in 0..10 {
        assert!(first.is_match(lines[1 + 2 * k]), "{}", lines[1 + 2 * k]);
        assert!(second.is_match(lines[2 + 2 * k]), "{}", lines[2 + 2 * k]);
    }
    assert_time_block(&lines[21..24]);
}

#[test]
fn workers_are_fresh_execs_whose_parent_is_this_process() {
    let _g = lock();
    let r = run(
        "test_spawn_sleep",
        &["--workers", "--numcalls", "1", "--maxworkers", "3", "--sleep", "0"],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let re = Regex::new(r"^\(extra\) worker pid (\d+): parent this process, memory of a fresh exec$").unwrap();
    let workers: Vec<&str> = r.out.lines().filter(|l| l.starts_with("(extra) worker")).collect();
    assert_eq!(workers.len(), 3, "{}", r.out);
    assert!(workers.iter().all(|l| re.is_match(l)), "{}", r.out);
}

#[test]
fn a_killed_worker_is_exit_1_with_a_one_line_cause() {
    let _g = lock();
    let r = run(
        "test_spawn_sleep",
        &["--per-call", "--numcalls", "2", "--inject", "signal@1"],
    );
    assert_eq!(r.code, 1);
    assert!(
        Regex::new(r"^test_spawn_sleep: job 1 \(pid \d+\) was killed by signal SIGKILL\n$")
            .unwrap()
            .is_match(&r.err),
        "{}",
        r.err
    );
}

#[test]
fn bad_input_is_exit_2_with_one_line() {
    let _g = lock();
    let cases: [(&[&str], &str); 3] = [
        (&["--repeat", "0"], "--repeat"),
        (&["--json", "/"], "--json"),
        (&["--maxworkers", "0"], "--maxworkers"),
    ];
    for (args, needle) in cases {
        let r = run("test_spawn_sleep", args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.err);
        assert_eq!(r.err.lines().count(), 1, "{args:?}: {}", r.err);
        assert!(r.err.contains(needle), "{args:?}: {}", r.err);
        assert_eq!(r.out, "");
    }
}

#[test]
fn per_call_json_record() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let r = run(
        "test_spawn_sleep",
        &[
            "--per-call",
            "--numcalls",
            "2",
            "--ncpus",
            "2",
            "--json",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let rec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(rec["strategy"], "pool-per-call/spawn");
    assert_eq!(rec["repeats"][0]["chunks"].as_array().unwrap().len(), 2);
    assert_eq!(rec["repeats"][0]["chunks"][0]["calls"], 1);
}
