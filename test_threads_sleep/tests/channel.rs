//! `--runtime channel` end to end: results, a pool per bar(), the process's
//! thread count (read from the kernel), Ctrl-C.

mod common;

use common::bin;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use regex::Regex;
use testkit::lines::PARA;
use testkit::{args, read_lines_until, read_record, spawn_piped, stdout_of, wait_for_end};

#[test]
fn results_lines_and_a_pool_per_bar() {
    let out = stdout_of(bin().args(args(
        "--runtime channel --ncpus 3 --numcalls 150 --sleep 0.001 --repeat 2 --check",
    )));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "I am set up to use 3 threads.");
    for (line, calls) in lines[1..3].iter().zip(["100", "50"]) {
        let c = PARA.captures(line).unwrap_or_else(|| panic!("not a chunk line: {out}"));
        assert_eq!((&c[1], &c[2], &c[3]), (calls, "3", "0.001"), "{line}");
    }
    assert_eq!(lines[3], "[0, 1, 4]");
    let re = Regex::new(r"^Threads \(extra\): runtime channel, (\d+) distinct threads ran iterations in 150 calls \((\d+) in this process so far\)").unwrap();
    let caps: Vec<_> = out.lines().filter_map(|l| re.captures(l)).collect();
    assert_eq!(caps.len(), 2, "{out}");
    let n = |c: &regex::Captures<'_>, i: usize| c[i].parse::<usize>().unwrap();
    // At most 3 threads per bar(), and the second bar() has threads of its own.
    assert!(
        (1..=3).contains(&n(&caps[0], 1)) && (1..=3).contains(&n(&caps[1], 1)),
        "{out}"
    );
    assert_eq!(n(&caps[0], 2), n(&caps[0], 1), "{out}");
    assert_eq!(n(&caps[1], 2), n(&caps[0], 1) + n(&caps[1], 1), "{out}");
    assert!(out.contains("CPU times: user ") && out.contains("Wall time: "), "{out}");
}

/// Sampled from outside while the binary runs: the process never has more
/// than its main thread and the pool's 4 workers (no thread per call, no
/// pool left over from an earlier bar()). Counts in between are pools being
/// created or joined; that each pool is joined is `channel.rs`'s unit test.
#[test]
fn thread_count_never_exceeds_one_pool() {
    let mut child = spawn_piped(bin().args(args(
        "--runtime channel --ncpus 4 --numcalls 300 --sleep 0.002 --repeat 4",
    )));
    let mut counts = std::collections::BTreeMap::new();
    while let Some(t) = testkit::threads_of(child.id()) {
        *counts.entry(t).or_insert(0u32) += 1;
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(300));
    }
    assert!(child.wait().unwrap().success());
    assert!(counts.keys().all(|&t| t <= 5), "thread counts seen: {counts:?}");
    assert!(
        counts.get(&5).copied().unwrap_or(0) > 10,
        "pool seen running: {counts:?}"
    );
}

#[test]
fn sigint_joins_the_pool_and_keeps_the_partial_record() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("t.json");
    let mut child = spawn_piped(
        bin()
            .args(args(
                "--runtime channel --ncpus 3 --numcalls 100000 --sleep 0.001 --json",
            ))
            .arg(&json),
    );
    let (stdout, line) = read_lines_until(&mut child, 2, |_| true);
    assert!(line.contains(" per 100 x 3 @para "), "{line}");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let r = wait_for_end(child, stdout);
    r.assert().code(130);
    let re = Regex::new(r"^test_threads_sleep: interrupted after \d+ calls; threads joined\n$").unwrap();
    assert!(re.is_match(&r.err), "{}", r.err);
    let v = read_record(&json);
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["strategy"], "threads/channel");
    assert!(!v["repeats"][0]["chunks"].as_array().unwrap().is_empty());
}

#[test]
fn map_churn_runs_on_the_channel_runtime() {
    let out = stdout_of(bin().args(args(
        "--runtime channel --ncpus 2 --numcalls 100 --sleep 0 --map-churn 1",
    )));
    assert!(out.contains(" per 100 x 2 @para sleep(0.000)."), "{out}");
}
