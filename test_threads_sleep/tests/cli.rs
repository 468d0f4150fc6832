//! End-to-end tests of test_threads_sleep: formats, NCPUS precedence, the
//! thread organisation of each runtime, faults and bad input.

mod common;

use common::bin;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use regex::Regex;
use testkit::lines::{assert_time_block, chunk_sizes, PARA};
use testkit::{
    args, assert_usage_error_with, read_lines_until, read_record, run_with, spawn_piped, stdout_of, wait_for_end,
};

const THREADS_RE: &str = r"^Threads \(extra\): runtime (\w+), (\d+) distinct threads ran iterations in (\d+) calls \((\d+) in this process so far\); calls with two or more sleeps on one thread: (\d+); iteration-to-thread map (fixed|varied)$";

#[test]
fn header_chunks_and_time_block() {
    let out = stdout_of(bin().args(args("--ncpus 2 --numcalls 150 --sleep 0")));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "I am set up to use 2 threads.");
    assert_eq!(chunk_sizes(&PARA, &lines[1..3], "2"), [100, 50]);
    assert!(Regex::new(THREADS_RE).unwrap().is_match(lines[3]), "{}", lines[3]);
    assert_time_block(&lines[4..7]);
}

#[test]
fn defaults_are_the_c_originals() {
    let out = stdout_of(bin().args(["--ncpus", "2"]));
    // numcalls = 100, T = 0.005: one chunk line.
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(" per 100 x 2 @para sleep(0.005)."))
            .count(),
        1,
        "{out}"
    );
}

#[test]
fn ncpus_comes_from_flag_then_env_then_cpus() {
    let out = stdout_of(bin().env("NCPUS", "3").args(args("--numcalls 1 --sleep 0")));
    assert!(out.starts_with("I am set up to use 3 threads.\n"), "{out}");
    let out = stdout_of(bin().env("NCPUS", "3").args(args("--ncpus 2 --numcalls 1 --sleep 0")));
    assert!(out.starts_with("I am set up to use 2 threads.\n"), "{out}");
    let out = stdout_of(bin().args(args("--numcalls 1 --sleep 0")));
    let n: usize = Regex::new(r"use (\d+) threads").unwrap().captures(&out).unwrap()[1]
        .parse()
        .unwrap();
    // The logical CPUs this process may use (affinity and cgroup quota).
    assert_eq!(n, num_cpus::get().clamp(1, 4096));
}

fn threads_lines(out: &str) -> Vec<regex::Captures<'_>> {
    let re = Regex::new(THREADS_RE).unwrap();
    out.lines().filter_map(|l| re.captures(l)).collect()
}

#[test]
fn team_runs_iteration_a_on_thread_a_and_creates_threads_once() {
    let out = stdout_of(bin().args(args("--ncpus 3 --numcalls 200 --sleep 0 --repeat 3 --check")));
    let caps = threads_lines(&out);
    assert_eq!(caps.len(), 3);
    for c in &caps {
        assert_eq!(&c[1], "team");
        assert_eq!(&c[2], "3", "three threads, one per iteration");
        assert_eq!(&c[4], "3", "no thread created after the first call");
        assert_eq!(&c[5], "0", "never two iterations on one thread");
        assert_eq!(&c[6], "fixed", "iteration a always on the same thread");
    }
    // Iteration order results, a*a.
    assert_eq!(out.lines().filter(|l| *l == "[0, 1, 4]").count(), 3, "{out}");
}

#[test]
fn scoped_creates_new_threads_per_call() {
    let out = stdout_of(bin().args(args("--runtime scoped --ncpus 2 --numcalls 50 --sleep 0 --repeat 2")));
    let caps = threads_lines(&out);
    assert_eq!(&caps[0][2], "100");
    assert_eq!(&caps[1][4], "200");
}

#[test]
fn rayon_uses_a_pool_of_ncpus_threads() {
    let out = stdout_of(bin().args(args("--runtime rayon --ncpus 2 --numcalls 100 --sleep 0 --check")));
    let c = &threads_lines(&out)[0];
    assert!(
        c[4].parse::<usize>().unwrap() <= 2,
        "rayon created threads per call: {out}"
    );
    assert!(out.contains("[0, 1]\n"));
}

#[test]
fn a_panicking_iteration_is_one_line_and_exit_1() {
    // Iteration 0 runs on the main thread in the team (OpenMP's master).
    for (rt, a) in [
        ("team", "2"),
        ("team", "0"),
        ("rayon", "2"),
        ("scoped", "2"),
        ("scoped", "0"),
        ("channel", "2"),
        ("channel", "0"),
    ] {
        let r = run_with(
            bin()
                .args(["--runtime", rt, "--inject-panic", a])
                .args(args("--ncpus 3 --numcalls 20 --sleep 0")),
        );
        let err = &r.err;
        assert_eq!(r.code, 1, "{rt}: {err}");
        assert_eq!(err.lines().count(), 1, "{rt}: {err}");
        assert!(err.ends_with('\n'), "{rt}: {err:?}");
        assert!(err.contains(&format!("iteration {a} panicked")), "{rt}: {err}");
    }
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for (env, args, needle) in [
        (Some("0"), vec![], "NCPUS"),
        (Some("many"), vec![], "NCPUS"),
        (None, vec!["--ncpus", "0"], "--ncpus"),
        (None, vec!["--sleep", "-0.5"], "--sleep"),
        (None, vec!["--runtime", "openmp"], "--runtime"),
        (None, vec!["--numcalls", "0"], "--numcalls"),
    ] {
        let mut c = bin();
        if let Some(v) = env {
            c.env("NCPUS", v);
        }
        c.args(&args);
        assert_usage_error_with(&mut c, needle);
    }
}

#[test]
fn json_record() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("t.json");
    stdout_of(bin().args(args("--ncpus 2 --numcalls 120 --sleep 0 --json")).arg(&json));
    let v = read_record(&json);
    assert_eq!(v["tool"], "test_threads_sleep");
    assert_eq!(v["strategy"], "threads/team");
    assert_eq!(v["repeats"][0]["chunks"].as_array().unwrap().len(), 2);
}

#[test]
fn sigint_stops_with_partial_record() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("t.json");
    let mut child = spawn_piped(
        bin()
            .args(args("--ncpus 2 --numcalls 100000 --sleep 0.001 --json"))
            .arg(&json),
    );
    let (stdout, _) = read_lines_until(&mut child, 2, |_| true);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let r = wait_for_end(child, stdout);
    r.assert().code(130);
    assert!(r.err.ends_with(" calls; threads joined\n"), "{}", r.err);
    let v = read_record(&json);
    assert_eq!(v["interrupted"], true);
}
