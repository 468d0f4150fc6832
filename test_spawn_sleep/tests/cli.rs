//! End-to-end tests of test_spawn_sleep: the spawned pool of
//! test_pool_spawn_sleep.py and the spawn-per-call of
//! test_parallel_spawn_sleep.sage.

use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;
use testkit::lines::{assert_time_block, chunk_sizes, squares, POOL};
use testkit::{args, assert_usage_error, cargo_bin, command, lock, read_record, run, run_with};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_spawn_sleep"));

#[test]
fn spawned_pool_lines() {
    let _g = lock();
    let r = run(
        *BIN,
        &["--numcalls", "120", "--maxworkers", "2", "--sleep", "0", "--check"],
    );
    r.assert_success();
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Setting multiprocessing start method to 'spawn'");
    assert_eq!(lines[1], "Using maxworkers=2 parallel decorated function");
    assert_eq!(chunk_sizes(&POOL, &lines[2..4], "2"), [100, 20]);
    assert_eq!(lines[4], squares(2, 2));
    assert_time_block(&lines[5..8]);
}

#[test]
fn per_call_lines_and_default_of_ten_calls() {
    let _g = lock();
    let r = run(*BIN, &["--per-call", "--ncpus", "2"]);
    r.assert_success();
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
        *BIN,
        &["--workers", "--numcalls", "1", "--maxworkers", "3", "--sleep", "0"],
    );
    r.assert_success();
    let re = Regex::new(r"^\(extra\) worker pid (\d+): parent this process, memory of a fresh exec$").unwrap();
    let workers: Vec<&str> = r.out.lines().filter(|l| l.starts_with("(extra) worker")).collect();
    assert_eq!(workers.len(), 3, "{}", r.out);
    assert!(workers.iter().all(|l| re.is_match(l)), "{}", r.out);
}

#[test]
fn a_killed_worker_is_exit_1_with_a_one_line_cause() {
    let _g = lock();
    let r = run(*BIN, &["--per-call", "--numcalls", "2", "--inject", "signal@1"]);
    r.assert().code(1);
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
        assert_usage_error(*BIN, args, needle);
    }
}

#[test]
fn per_call_json_record() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let r = run_with(
        command(*BIN)
            .args(args("--per-call --numcalls 2 --ncpus 2 --json"))
            .arg(&path),
    );
    r.assert_success();
    let rec = read_record(&path);
    assert_eq!(rec["strategy"], "pool-per-call/spawn");
    assert_eq!(rec["repeats"][0]["chunks"].as_array().unwrap().len(), 2);
    assert_eq!(rec["repeats"][0]["chunks"][0]["calls"], 1);
}
