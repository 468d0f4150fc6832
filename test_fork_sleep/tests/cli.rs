//! End-to-end tests of test_fork_sleep: printed formats, --check, --repeat,
//! JSON, bad input, worker faults, interruption and leak invariants.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use regex::Regex;
use std::path::Path;
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Instant;
use testkit::lines::{assert_time_block, chunk_sizes, PARA};
use testkit::{
    args, assert_help_mentions, assert_no_orphans, assert_usage_error, cargo_bin, command, lock, read_lines_until,
    read_record, run, run_str, run_with,
};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_fork_sleep"));

#[test]
fn every_line_has_the_original_format() {
    let _g = lock();
    // `run` checks that no process is left in the run's group.
    let r = run_str(*BIN, "--numcalls 250 --ncpus 2 --sleep 0");
    r.assert_success();
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines[0], "Using ncpus=2 parallel decorated function");
    assert_eq!(chunk_sizes(&PARA, &lines[1..4], "2"), [100, 100, 50]);
    assert_time_block(&lines[4..7]);
    // Nothing else but the verdict line may follow.
    assert!(lines[7..].iter().all(|l| l.contains("(extra)")), "{}", r.out);
}

#[test]
fn sleep_is_printed_with_three_decimals() {
    let _g = lock();
    let r = run_str(*BIN, "--numcalls 3 --ncpus 1 --sleep 0.0005");
    r.assert().code(0);
    let out = r.out;
    // Python: f"{0.0005:.3f}" == "0.001" (half-even on the binary value 0.000500000000000000010...).
    assert!(out.lines().nth(1).unwrap().contains("@para sleep(0.001)."), "{out}");
}

#[test]
fn check_prints_the_last_call_with_m_growing_per_chunk() {
    let _g = lock();
    for ipc in ["pipe", "file"] {
        let r = run(
            *BIN,
            &[
                "--numcalls",
                "250",
                "--ncpus",
                "3",
                "--sleep",
                "0",
                "--check",
                "--ipc",
                ipc,
            ],
        );
        r.assert_success();
        let list = r.out.lines().find(|l| l.starts_with('[')).expect("a result list");
        // Third chunk: m = 2 * 3, jobs 6, 7, 8; completion order, so compare sorted.
        let mut v: Vec<u64> = list
            .trim_matches(['[', ']'])
            .split(", ")
            .map(|x| x.parse().unwrap())
            .collect();
        v.sort();
        assert_eq!(v, [36, 49, 64], "{ipc}");
    }
}

#[test]
fn repeat_prints_one_time_block_per_bar() {
    let _g = lock();
    let r = run_str(*BIN, "--numcalls 120 --ncpus 2 --sleep 0 --repeat 3");
    r.assert().code(0);
    let out = r.out;
    assert_eq!(out.matches("Using ncpus=2 parallel decorated function").count(), 3);
    assert_eq!(out.lines().filter(|l| l.starts_with("CPU times: ")).count(), 3);
    assert_eq!(out.lines().filter(|l| l.starts_with("Wall time: ")).count(), 3);
    assert_eq!(out.lines().filter(|l| PARA.is_match(l)).count(), 6);
}

#[test]
fn json_record_has_every_field() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let r = run(
        *BIN,
        &[
            "--numcalls",
            "150",
            "--ncpus",
            "2",
            "--sleep",
            "0",
            "--repeat",
            "2",
            "--breakdown",
            "--json",
            path.to_str().unwrap(),
        ],
    );
    r.assert_success();
    let v = read_record(&path);
    assert_eq!(v["tool"], "test_fork_sleep");
    assert_eq!(v["strategy"], "fork-per-job/pipe");
    assert_eq!(v["params"]["ncpus"], 2);
    assert_eq!(v["params"]["numcalls"], 150);
    assert_eq!(v["interrupted"], false);
    for key in [
        "os",
        "os_version",
        "kernel",
        "arch",
        "cpu_model",
        "logical_cores",
        "physical_cores",
    ] {
        assert!(!v["system"][key].is_null(), "system.{key}");
    }
    let repeats = v["repeats"].as_array().unwrap();
    assert_eq!(repeats.len(), 2);
    for r in repeats {
        let chunks = r["chunks"].as_array().unwrap();
        assert_eq!(
            chunks.iter().map(|c| c["calls"].as_u64().unwrap()).collect::<Vec<_>>(),
            [100, 50]
        );
        for c in chunks {
            for k in ["wall", "cost_per_job"] {
                assert!(c[k].is_f64(), "{k}");
            }
            for k in ["user", "sys"] {
                assert!(c["self"][k].is_f64() && c["children"][k].is_f64());
            }
            assert_eq!(c["extra"]["jobs"], if c["calls"] == 100 { 200.0 } else { 100.0 });
        }
        assert!(r["totals"]["wall"].as_f64().unwrap() > 0.0);
    }
    assert!(v["peak_rss_bytes"].as_u64().unwrap() > 0);
    // Only the record is left: the temporary file was renamed onto it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let _g = lock();
    let cases: &[(&[&str], &str)] = &[
        (&["--ncpus", "0"], "--ncpus"),
        (&["--ncpus", "4097"], "--ncpus"),
        (&["--numcalls", "0"], "--numcalls"),
        (&["--sleep", "-1"], "--sleep"),
        (&["--sleep", "nan"], "--sleep"),
        (&["--sleep", "inf"], "--sleep"),
        (&["--sleep", "3601"], "--sleep"),
        (&["--ipc", "socket"], "--ipc"),
        (&["--timeout", "0"], "--timeout"),
        (&["--repeat", "0"], "--repeat"),
        (&["--json", "/nonexistent-dir/x/run.json"], "--json"),
        (&["--bogus"], "--bogus"),
    ];
    for (args, flag) in cases {
        assert_usage_error(*BIN, args, flag);
    }
    let err = assert_usage_error(*BIN, &["--ncpus", "0"], "1..=4096");
    assert!(err.contains("--ncpus"), "{err}");
    let err = assert_usage_error(*BIN, &["--ipc", "socket"], "pipe");
    assert!(err.contains("file"), "{err}");
}

#[test]
fn a_faulty_child_fails_the_run_with_one_line_and_no_orphan() {
    let _g = lock();
    let cases = [
        ("signal@2", "killed by signal SIGKILL"),
        ("exit@1", "exited with status 3"),
        ("short@3", "short result"),
        ("garble@0", "garbled result"),
    ];
    for ipc in ["pipe", "file"] {
        for (inject, cause) in cases {
            let started = Instant::now();
            // `run` checks that no process is left in the run's group.
            let r = run(
                *BIN,
                &[
                    "--numcalls",
                    "50",
                    "--ncpus",
                    "4",
                    "--sleep",
                    "0.001",
                    "--ipc",
                    ipc,
                    "--inject",
                    inject,
                ],
            );
            r.assert().append_context("case", format!("{inject} {ipc}")).code(1);
            // The fault is in the first call: the run ends within 2 s of it
            // (a bound on a fault path, taken from the very start).
            let took = started.elapsed();
            assert!(took.as_secs_f64() < 2.0, "{inject} {ipc}: ended after {took:?}");
            let a = &inject[inject.find('@').unwrap() + 1..];
            let line = r
                .err
                .lines()
                .find(|l| l.contains(cause))
                .unwrap_or_else(|| panic!("{inject}: {}", r.err));
            assert!(line.contains(&format!("job {a} (pid ")), "{line}");
        }
    }
}

/// `--ipc file` on a full disk: the child's save fails with ENOSPC (hidden
/// `enospc` fault) and its exit status carries the errno to the parent, whose
/// one line names it instead of "sent no result".
#[test]
fn a_failed_result_write_names_its_errno() {
    let _g = lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut c = command(*BIN);
    c.env("TMPDIR", tmp.path());
    c.args(args("--numcalls 50 --ncpus 4 --sleep 0 --ipc file --inject enospc@1"));
    let r = run_with(&mut c);
    r.assert().code(1);
    let re = Regex::new(r"^test_fork_sleep: job 1 \(pid \d+\) could not write its result: No space left on device\n$")
        .unwrap();
    assert!(re.is_match(&r.err), "{:?}", r.err);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "temp dir left");
}

#[test]
fn a_hung_child_is_killed_by_the_timeout() {
    let _g = lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut c = command(*BIN);
    c.env("TMPDIR", tmp.path());
    c.args(args("--numcalls 20 --ncpus 3 --ipc file --timeout 0.3 --inject hang@1"));
    let started = Instant::now();
    let r = run_with(&mut c);
    // The hang becomes a fault at 0.3 s; the run ends within 2 s of that.
    let took = started.elapsed();
    assert!(took.as_secs_f64() < 0.3 + 2.0, "ended after {took:?}");
    r.assert().code(1);
    assert!(
        r.err.contains("job 1 (pid ") && r.err.contains("timed out after 0.3 s"),
        "{}",
        r.err
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "temp dir left");
}

#[test]
fn no_fd_child_or_temp_dir_left_over_thousands_of_calls() {
    let _g = lock();
    for ipc in ["pipe", "file"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = command(*BIN);
        c.env("TMPDIR", tmp.path());
        c.args([
            "--numcalls",
            "2000",
            "--ncpus",
            "4",
            "--sleep",
            "0",
            "--hygiene",
            "--ipc",
            ipc,
        ]);
        let r = run_with(&mut c);
        r.assert().append_context("case", ipc.to_string()).code(0);
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "{ipc}: temp dir left"
        );
    }
}

#[test]
fn the_hygiene_check_catches_a_leaked_fd() {
    let _g = lock();
    let r = run_str(*BIN, "--numcalls 10 --ncpus 2 --sleep 0 --hygiene --inject leakfd@0");
    let err = r.one_line_error(1);
    assert!(
        err.contains("hygiene:") && err.contains("fds open after call 1"),
        "{err}"
    );
}

#[test]
fn sigint_and_sigterm_keep_partial_results() {
    let _g = lock();
    for (sig, want) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partial.json");
        let mut c = command(*BIN);
        c.env("TMPDIR", dir.path());
        c.args([
            "--numcalls",
            "1000000",
            "--ncpus",
            "4",
            "--ipc",
            "file",
            "--json",
            path.to_str().unwrap(),
        ]);
        let mut child = c.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let pid = child.id() as i32;
        // Wait until the first chunk line is out, so that something is done.
        let (_stdout, _) = read_lines_until(&mut child, 2, |_| true);
        kill(Pid::from_raw(pid), sig).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(want), "{sig}");
        assert_no_orphans(pid);
        let v = read_record(&path);
        assert_eq!(v["interrupted"], true);
        assert!(v["repeats"][0]["calls"].as_u64().unwrap() >= 100);
        assert!(!v["repeats"][0]["chunks"].as_array().unwrap().is_empty());
        // Only the record: the interrupted call's temp dir is gone too.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "{sig}");
    }
}

#[test]
fn help_states_the_hypothesis_and_the_verdict_rule() {
    assert_help_mentions(
        *BIN,
        &[
            "Hypothesis under test",
            "Theil-Sen",
            "Mann-Kendall",
            "DRIFT when p < 0.01",
        ],
    );
}

#[test]
fn map_churn_over_the_system_limit_is_refused_before_the_run() {
    let _g = lock();
    assert_usage_error(*BIN, &["--map-churn", "65536", "--numcalls", "1000"], "--map-churn");
}
