//! End-to-end tests of test_rf_pool: the three start methods, the exact
//! --check line, bit-for-bit results, --repeat and JSON, bad input, worker
//! faults and interruption, with no process left behind.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use regex::Regex;
use rug::Float;
use std::path::Path;
use std::sync::LazyLock;
use testkit::lines::assert_time_block;
use testkit::{
    args, assert_help_mentions, assert_usage_error, cargo_bin, command, lock, predicate, read_lines_until, read_record,
    run, run_str, run_timed, run_with, spawn_piped, wait_for_end, Sentinel,
};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_rf_pool"));

fn chunk_re(n: u64, ncpus: usize, precision: u32) -> Regex {
    Regex::new(&format!(
        r"^\d+\.\d{{3}}s per {n} x {ncpus} RealField\({precision}\)\.sin\(\)\. Cost/ncpus/calls is \d+\.\d{{6}}s\.$"
    ))
    .unwrap()
}

/// The line real SageMath 10.8 prints for the default bar(check=True)
/// (ORIGINALS.md).
const SAGE_CHECK_LINE: &str = "[0.099833416646828157830196867859, 0.19866933079506122634033743097, \
0.29552020666133956449895508077, 0.38941834230865051211797420932, 0.47942553860420300027328793522, \
0.56464247339503533887481339134, 0.64421768723769101970679809028, 0.71735609089952279256716781570]";

const STARTS: [&str; 3] = ["fork", "forkserver", "spawn"];

#[test]
fn check_line_is_sages_for_every_start_method() {
    let _g = lock();
    for start in STARTS {
        let r = run(*BIN, &["--start", start, "--numcalls", "3", "--check"]);
        r.assert().append_context("case", start.to_string()).code(0);
        assert_eq!(r.err, "");
        let lines: Vec<&str> = r.out.lines().collect();
        // Six lines of bar() and %time, then the run's drift verdict and
        // its attribution.
        assert_eq!(lines.len(), 8, "{start}: {}", r.out);
        assert_eq!(lines[7], "Drift attribution (extra): none (too few chunks)");
        assert!(
            lines[6].starts_with("Drift verdict (extra): too few chunks"),
            "{}",
            lines[6]
        );
        assert_eq!(lines[0], format!("Setting multiprocessing start method to '{start}'"));
        assert!(chunk_re(3, 8, 100).is_match(lines[1]), "{}", lines[1]);
        // The original prints after its `with` block, so after the chunk
        // lines and before %time's block.
        assert_eq!(lines[2], SAGE_CHECK_LINE, "{start}");
        assert_time_block(&lines[3..6]);
    }
}

/// The `--hex` line: the workers' exact values as the parent received them.
fn hex_values(out: &str) -> Vec<String> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("(extra) exact results, MPFR base-16 digits: "))
        .expect("a --hex line");
    line.trim_matches(['[', ']']).split(", ").map(str::to_string).collect()
}

#[test]
fn results_are_bit_for_bit_those_computed_here() {
    let _g = lock();
    let data = [0.1, -2.5, 1e-7, 123456.7, 3.7, 1e300, -0.0, 0.8];
    let data_arg = data.iter().map(|x| format!("{x:e}")).collect::<Vec<_>>().join(",");
    for (start, precision) in [
        ("fork", 2u32),
        ("fork", 53),
        ("forkserver", 100),
        ("spawn", 1000),
        ("fork", 4097),
    ] {
        let r = run_str(
            *BIN,
            &format!("--start {start} --numcalls 2 --precision {precision} --data {data_arg} --hex"),
        );
        r.assert()
            .append_context("case", format!("{start} {precision}"))
            .code(0);
        let got = hex_values(&r.out);
        let want: Vec<String> = data
            .iter()
            .map(|&x| {
                let mut v = Float::with_val(precision, x);
                v.sin_mut();
                v.to_string_radix(16, None)
            })
            .collect();
        assert_eq!(got, want, "{start} at {precision} bits");
        // sin(-0) is -0: the sign travels too.
        assert!(got[6].starts_with('-'), "{}", got[6]);
    }
}

#[test]
fn the_largest_precision_travels_exactly() {
    let _g = lock();
    let r = run_str(*BIN, "--numcalls 1 --ncpus 1 --precision 200000 --data 0.5 --hex");
    r.assert_success();
    let mut want = Float::with_val(200_000, 0.5);
    want.sin_mut();
    assert_eq!(hex_values(&r.out), vec![want.to_string_radix(16, None)]);
}

#[test]
fn repeat_and_json_record() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("rf.json");
    let r = run_with(
        command(*BIN)
            .args(args(
                "--start forkserver --numcalls 150 --ncpus 3 --precision 64 --repeat 2 --check --json",
            ))
            .arg(&json),
    );
    r.assert_success();
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines.len(), 16, "{}", r.out);
    assert_eq!(lines[15], "Drift attribution (extra): none (too few chunks)");
    assert!(lines[14].starts_with("Drift verdict (extra): "), "{}", lines[14]);
    for rep in 0..2 {
        let l = &lines[rep * 7..];
        assert_eq!(l[0], "Setting multiprocessing start method to 'forkserver'");
        assert!(chunk_re(100, 3, 64).is_match(l[1]), "{}", l[1]);
        assert!(chunk_re(50, 3, 64).is_match(l[2]), "{}", l[2]);
        // 18 digits at 64 bits: the list passagemath 10.8 prints for
        // [RealField(64)(x).sin() for x in (0.1, 0.2, 0.3)].
        assert_eq!(
            l[3],
            "[0.0998334166468281578, 0.198669330795061226, 0.295520206661339565]"
        );
        assert!(l[4].starts_with("CPU times: ") && l[5].starts_with("Wall time: "));
    }
    let v = read_record(&json);
    assert_eq!(v["tool"], "test_rf_pool");
    assert_eq!(v["strategy"], "pool/forkserver");
    assert_eq!(v["params"]["precision"], 64);
    assert_eq!(v["params"]["ncpus"], 3);
    assert_eq!(v["line_format"]["family"], "real_field");
    assert_eq!(v["interrupted"], false);
    assert!(v["failure"].is_null());
    let reps = v["repeats"].as_array().unwrap();
    assert_eq!(reps.len(), 2);
    for rep in reps {
        assert_eq!(rep["calls"], 150);
        assert_eq!(rep["chunks"].as_array().unwrap().len(), 2);
        assert!(rep["totals"].is_object());
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let _g = lock();
    let cases: &[(&[&str], &str)] = &[
        (&["--ncpus", "9"], "--ncpus"),
        (&["--ncpus", "3", "--data", "0.1,0.2"], "give more --data values"),
        (&["--precision", "1"], "2..=200000"),
        (&["--precision", "200001"], "2..=200000"),
        (&["--precision", "-5"], "2..=200000"),
        (&["--data", "0.1,x,0.3"], "'x' is not a float"),
        (&["--data", ""], "is not a float"),
        (&["--start", "thread"], "--start"),
        (&["--numcalls", "0"], "--numcalls"),
        (&["--json", "/no/such/dir/x.json"], "--json"),
    ];
    for (args, needle) in cases {
        assert_usage_error(*BIN, args, needle);
    }
    // Negative data is data, not a flag.
    let r = run_str(*BIN, "--data -0.5,0.25 --ncpus 2 --numcalls 1 --precision 53 --check");
    r.assert_success();
    r.assert()
        .stdout(predicate::str::contains("[-0.479425538604203, 0.247403959254523]"));
}

#[test]
fn thousands_of_calls_leave_nothing_behind() {
    let _g = lock();
    // Every bar() checks that the closed pool left no fd, zombie or child
    // (else exit 1); 4000 calls and 20 pools per start method.
    for start in STARTS {
        let r = run_with(
            command(*BIN)
                .args(["--start", start])
                .args(args("--numcalls 200 --repeat 20 --ncpus 2")),
        );
        r.assert().append_context("case", start.to_string()).code(0);
        assert_eq!(r.out.matches("Setting multiprocessing").count(), 20);
        assert_eq!(r.out.matches("RealField(100).sin()").count(), 40);
    }
}

#[test]
fn help_states_the_hypothesis() {
    assert_help_mentions(*BIN, &["Hypothesis under test", "--precision"]);
}

#[test]
fn worker_faults_fail_in_one_line_and_leave_nothing() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "fork",
            "signal@3",
            r"^test_rf_pool: job 3 \(pid \d+\) was killed by signal SIGKILL$",
        ),
        (
            "spawn",
            "signal@1",
            r"^test_rf_pool: job 1 \(pid \d+\) was killed by signal SIGKILL$",
        ),
        (
            "forkserver",
            "exit@0",
            r"^test_rf_pool: job 0 \(pid \d+\) exited with status 3$",
        ),
        (
            "fork",
            "exit@5",
            r"^test_rf_pool: job 5 \(pid \d+\) exited with status 3$",
        ),
        (
            "fork",
            "garble@2",
            r"^test_rf_pool: job 2 \(pid \d+\) sent a garbled frame \(bad magic\)$",
        ),
        (
            "spawn",
            "truncate@4",
            r"^test_rf_pool: job 4 \(pid \d+\) sent a truncated frame$",
        ),
        (
            "forkserver",
            "junk@6",
            r"^test_rf_pool: job 6 sent a result that is not an exact RealField\(100\) value \(16 bytes\)$",
        ),
    ];
    for (start, inject, want) in cases {
        let json = dir.path().join(format!("{start}-{inject}.json"));
        let line = format!("--start {start} --numcalls 5 --inject {inject} --json");
        let (r, took) = run_timed(*BIN, &[&args(&line)[..], &[json.to_str().unwrap()]].concat());
        // The fault is in the first call: the run ends within 2 s of it.
        assert!(
            took.as_secs_f64() < 2.0,
            "{start} {inject}: ended {took:?} after the start"
        );
        let err = r.one_line_error(1);
        assert!(
            Regex::new(want).unwrap().is_match(err.trim_end()),
            "{start} {inject}: {err}"
        );
        let v = read_record(&json);
        assert!(v["failure"].as_str().unwrap().contains("job"), "{v}");
        assert_eq!(v["repeats"][0]["calls"], 0);
    }
}

/// The forkserver's second fork fails (its hidden switch, as at the user's
/// process limit): exit 1, one line naming the worker and the errno, nothing
/// left behind, and a sentinel process of the same user still alive (a pid -1
/// that reached kill would have killed it).
#[test]
fn a_failed_fork_in_the_forkserver_is_one_line_and_harms_nobody() {
    let _g = lock();
    let sentinel = Sentinel::start();
    let mut cmd = command(*BIN);
    cmd.args(args("--start forkserver --ncpus 4 --numcalls 5"))
        .env("PROCPOOL_FORKSERVER_FAIL_FORK", "2");
    let r = run_with(&mut cmd);
    assert_eq!(
        r.one_line_error(1),
        "test_rf_pool: forkserver could not fork worker 2: Resource temporarily unavailable\n"
    );
    sentinel.assert_alive_then_stop();
}

#[test]
fn sigint_and_sigterm_keep_partial_results() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    for (start, sig, code) in [("fork", Signal::SIGINT, 130), ("spawn", Signal::SIGTERM, 143)] {
        let json = dir.path().join(format!("{start}.json"));
        let mut child = spawn_piped(
            command(*BIN)
                .args(["--start", start])
                .args(args("--numcalls 100000000 --json"))
                .arg(&json),
        );
        // Wait until at least one chunk is done, so the partial results are not empty.
        let (stdout, line) = read_lines_until(&mut child, 2, |_| true);
        assert!(line.contains("RealField(100).sin()"), "{line}");
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let r = wait_for_end(child, stdout);
        assert_eq!(r.code, code, "{start}: {}", r.err);
        let v = read_record(&json);
        assert_eq!(v["interrupted"], true);
        assert!(v["repeats"][0]["calls"].as_u64().unwrap() >= 100);
    }
}
