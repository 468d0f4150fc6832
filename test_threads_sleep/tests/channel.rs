//! `--runtime channel` end to end: results, a pool per bar(), the process's
//! thread count (read from the kernel), Ctrl-C.

use assert_cmd::Command;
use regex::Regex;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

fn bin() -> Command {
    let mut c = Command::cargo_bin("test_threads_sleep").unwrap();
    c.env_remove("NCPUS");
    c
}

fn spawn(args: &[&str]) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("test_threads_sleep"))
        .env_remove("NCPUS")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn results_lines_and_a_pool_per_bar() {
    let out = bin()
        .args([
            "--runtime",
            "channel",
            "--ncpus",
            "3",
            "--numcalls",
            "150",
            "--sleep",
            "0.001",
        ])
        .args(["--repeat", "2", "--check"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "I am set up to use 3 threads.");
    let chunk =
        Regex::new(r"^\d+\.\d{3}s per (100|50) x 3 @para sleep\(0\.001\)\. Cost/ncpus/calls is -?\d+\.\d{6}s\.$")
            .unwrap();
    assert!(chunk.is_match(lines[1]) && chunk.is_match(lines[2]), "{out}");
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

/// Threads of process `pid` (the kernel's list), None once it is gone.
#[cfg(target_os = "linux")]
fn tasks(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count())
}

/// Sampled from outside while the binary runs: the process never has more
/// than its main thread and the pool's 4 workers (no thread per call, no
/// pool left over from an earlier bar()). Counts in between are pools being
/// created or joined; that each pool is joined is `channel.rs`'s unit test.
#[cfg(target_os = "linux")]
#[test]
fn thread_count_never_exceeds_one_pool() {
    let mut child = spawn(&[
        "--runtime",
        "channel",
        "--ncpus",
        "4",
        "--numcalls",
        "300",
        "--sleep",
        "0.002",
        "--repeat",
        "4",
    ]);
    let pid = child.id();
    let mut counts = std::collections::BTreeMap::new();
    while let Some(t) = tasks(pid) {
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
    let p = dir.path().join("t.json");
    let mut child = spawn(&[
        "--runtime",
        "channel",
        "--ncpus",
        "3",
        "--numcalls",
        "100000",
        "--sleep",
        "0.001",
        "--json",
        p.to_str().unwrap(),
    ]);
    let mut so = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..2 {
        line.clear();
        assert!(so.read_line(&mut line).unwrap() > 0);
    }
    assert!(line.contains(" per 100 x 3 @para "), "{line}");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8(out.stderr).unwrap();
    let re = Regex::new(r"^test_threads_sleep: interrupted after \d+ calls; threads joined\n$").unwrap();
    assert!(re.is_match(&err), "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["strategy"], "threads/channel");
    assert!(!v["repeats"][0]["chunks"].as_array().unwrap().is_empty());
}

#[test]
fn map_churn_runs_on_the_channel_runtime() {
    let out = bin()
        .args([
            "--runtime",
            "channel",
            "--ncpus",
            "2",
            "--numcalls",
            "100",
            "--sleep",
            "0",
        ])
        .args(["--map-churn", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains(" per 100 x 2 @para sleep(0.000)."));
}
