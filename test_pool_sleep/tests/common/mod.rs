//! Helpers shared by the end-to-end tests of the pool binaries:
//! test_pool_sleep, test_spawn_sleep and test_rf_pool (the last two include
//! this file by path).
#![allow(dead_code)]

use nix::sys::signal::kill;
use nix::unistd::Pid;
use regex::Regex;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Mutex;

/// One test at a time: each starts a pool of processes and checks that its
/// process group is empty afterwards.
static POOLS: Mutex<()> = Mutex::new(());

pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    POOLS.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn bin(name: &str) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin(name));
    // Its own process group: after it exits, any process left in the group is
    // an orphan (worker or forkserver) it failed to reap.
    c.process_group(0);
    c
}

pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

pub fn run(name: &str, args: &[&str]) -> Run {
    let child = bin(name)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let out = child.wait_with_output().unwrap();
    assert_no_orphans(pgid);
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8(out.stdout).unwrap(),
        err: String::from_utf8(out.stderr).unwrap(),
    }
}

/// As [`run`], and the time from the first line on stdout (the run has
/// begun) to the exit: a fault in the first calls must end the run within 2 s.
pub fn run_timed(name: &str, args: &[&str]) -> (Run, std::time::Duration) {
    use std::io::{BufRead, Read};
    let mut child = bin(name)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    stdout.read_line(&mut out).unwrap();
    let begun = std::time::Instant::now();
    stdout.read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    let elapsed = begun.elapsed();
    assert_no_orphans(pgid);
    let run = Run {
        code: status.code().unwrap_or(-1),
        out,
        err: err.join().unwrap(),
    };
    (run, elapsed)
}

pub fn assert_no_orphans(pgid: i32) {
    // A worker that got end-of-file may need a moment to be gone from the
    // group; one that is still there after a second is an orphan.
    for _ in 0..50 {
        if kill(Pid::from_raw(-pgid), None) == Err(nix::errno::Errno::ESRCH) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("processes left in group {pgid}");
}

pub const POOL_RE: &str =
    r"^\d+\.\d{3}s per (\d+) x (\d+) sleep\((\d+\.\d{3})\)\. Cost/maxworkers/calls is -?\d+\.\d{6}s\.$";
pub const EXEC_RE: &str =
    r"^\d+\.\d{3}s per (\d+) x (\d+) @para sleep\((\d+\.\d{3})\)\. Cost/maxworkers/calls is -?\d+\.\d{6}s\.$";
pub const CPU_RE: &str =
    r"^CPU times: user [0-9.e+]+ (s|ms|µs|ns), sys: [0-9.e+]+ (s|ms|µs|ns), total: [0-9.e+]+ (s|ms|µs|ns)$";
pub const WALL_RE: &str = r"^Wall time: ([0-9.e+]+ (s|ms|µs|ns)|(\d+(d|h|min|s) ?)+)$";
pub const CHILD_RE: &str = r"^Children CPU times \(extra, RUSAGE_CHILDREN\): user .+, sys: .+, total: .+$";

pub fn assert_time_block(lines: &[&str]) {
    assert!(Regex::new(CPU_RE).unwrap().is_match(lines[0]), "{}", lines[0]);
    assert!(Regex::new(WALL_RE).unwrap().is_match(lines[1]), "{}", lines[1]);
    assert!(Regex::new(CHILD_RE).unwrap().is_match(lines[2]), "{}", lines[2]);
}

pub fn chunk_sizes(re: &str, lines: &[&str], workers: &str) -> Vec<u64> {
    let re = Regex::new(re).unwrap();
    lines
        .iter()
        .map(|l| {
            let c = re.captures(l).unwrap_or_else(|| panic!("not a chunk line: {l}"));
            assert_eq!((&c[2], &c[3]), (workers, "0.000"));
            c[1].parse().unwrap()
        })
        .collect()
}

pub fn squares(from: u64, n: u64) -> String {
    let v: Vec<String> = (from..from + n).map(|a| (a * a).to_string()).collect();
    format!("[{}]", v.join(", "))
}
