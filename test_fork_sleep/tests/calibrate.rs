//! `test_fork_sleep --calibrate`: fork()'s cost per extra map entry, its
//! record, the check that the entries exist, and its flags.

use std::path::Path;
use std::sync::LazyLock;
use testkit::{args, assert_help_mentions, assert_usage_error, cargo_bin, lock, one_line, run, run_str};
use timing::calibration::{CalibrationRecord, Kind};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_fork_sleep"));

/// The one timed assertion the issue asks for: more map entries make fork()
/// slower, here too (on Linux a fork's cost grows by about a microsecond per
/// extra written mapping, far above the noise at 16,000 of them). The record
/// round-trips through serde and names this machine as a run's record does.
#[test]
fn finds_a_positive_cost_per_entry_and_records_it_with_the_machine() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cal.json");
    let r = run(*BIN, &["--calibrate", "--json", path.to_str().unwrap()]);
    r.assert().success().stderr("");
    let line = r.out.strip_suffix('\n').unwrap_or(&r.out);
    assert!(!line.contains('\n'), "one line: {}", r.out);
    assert!(line.starts_with("fork cost: +"), "{line}");
    assert!(line.contains(" µs per extra map entry (95 % "), "{line}");
    assert!(line.ends_with("), 0–16,000 entries, fork() in the parent"), "{line}");

    let text = std::fs::read_to_string(&path).unwrap();
    let rec: CalibrationRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(rec.kind, Kind::ForkCalibration);
    assert_eq!(
        serde_json::to_value(&rec).unwrap(),
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    );
    assert_eq!(rec.line(), line, "the line is the record's");
    let e = rec.us_per_entry;
    assert!(e.low > 0.0 && e.low <= e.value && e.value <= e.high, "{e:?}");

    // The machine, as a run records it.
    let here = timing::system::SystemInfo::collect();
    assert_eq!(
        (
            &rec.system.os,
            &rec.system.kernel,
            &rec.system.arch,
            &rec.system.cpu_model
        ),
        (&here.os, &here.kernel, &here.arch, &here.cpu_model)
    );
    assert_eq!(rec.system.page_size, probes::page_size() as u64);

    // 9 counts from 0 to 16,000, each timed, and the entries were there.
    let counts: Vec<u64> = rec.points.iter().map(|p| p.entries).collect();
    assert_eq!(counts, (0..=8).map(|i| i * 2000).collect::<Vec<_>>());
    assert!(
        rec.points.iter().all(|p| p.forks >= 3 && p.min_us <= p.median_us),
        "{:?}",
        rec.points
    );
    assert_eq!(rec.forks, rec.points.iter().map(|p| u64::from(p.forks)).sum::<u64>());
    assert_eq!(rec.entries_max, 16_000);
    let entries = rec
        .verified
        .iter()
        .find(|v| v.counter == "vm_map_entries")
        .expect("vm_map_entries checked");
    assert!(entries.added.abs_diff(16_000) <= 160, "{entries:?}");
    assert!(entries.baseline > 0, "{entries:?}");
    assert!(rec.elapsed_secs < 10.0, "at most 10 s: {}", rec.elapsed_secs);
}

/// Entries that merge are not what was asked for: the calibration refuses
/// to time them (exit 1, one line naming the counter), and writes no record.
#[test]
fn entries_that_merge_fail_the_count_check() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cal.json");
    let r = run(
        *BIN,
        &[
            "--calibrate",
            "--calibrate-merge",
            "--calibrate-max",
            "1000",
            "--json",
            path.to_str().unwrap(),
        ],
    );
    r.assert().code(1).stdout("").stderr(one_line());
    assert!(
        r.err
            .starts_with("test_fork_sleep: --calibrate: 125 extra allocations added "),
        "{}",
        r.err
    );
    assert!(r.err.contains("to vm_map_entries, not 125 within 1 %"), "{}", r.err);
    assert!(!path.exists(), "no record of a failed calibration");
}

#[test]
fn a_smaller_range_is_the_records_range() {
    let _g = lock();
    let r = run_str(*BIN, "--calibrate --calibrate-max 1000 --json -");
    r.assert().success();
    let (line, json) = r.out.split_once('\n').unwrap();
    assert!(line.ends_with("), 0–1,000 entries, fork() in the parent"), "{line}");
    let rec: CalibrationRecord = serde_json::from_str(json).unwrap();
    assert_eq!(rec.entries_max, 1000);
    let counts: Vec<u64> = rec.points.iter().map(|p| p.entries).collect();
    assert_eq!(counts, [0, 125, 250, 375, 500, 625, 750, 875, 1000]);
}

#[test]
fn bad_flags_are_one_line_and_exit_2() {
    let _g = lock();
    for flags in [
        "--calibrate --numcalls 100",
        "--calibrate --map-churn 8",
        "--calibrate --repeat 2",
        "--calibrate --ncpus 2",
        "--calibrate --post-fork-check leak",
        "--calibrate --witness on",
    ] {
        let err = assert_usage_error(*BIN, &args(flags), "--calibrate");
        assert!(err.contains("cannot be used with"), "{flags}: {err}");
    }
    assert_usage_error(*BIN, &args("--calibrate --calibrate-max 999"), "1000..=1000000");
    assert_usage_error(*BIN, &args("--calibrate --calibrate-max 1000001"), "1000..=1000000");
    assert_usage_error(*BIN, &args("--calibrate --calibrate-max x"), "--calibrate-max");
    // Without --calibrate it means nothing.
    assert_usage_error(*BIN, &args("--calibrate-max 2000"), "--calibrate");
    // Past the system's map limit: refused before anything is mapped.
    let err = assert_usage_error(
        *BIN,
        &args("--calibrate --calibrate-max 1000000"),
        "--calibrate-max 1000000: ",
    );
    assert!(err.contains(probes::churn::map_limit().source), "{err}");
    // An unwritable record: refused before the measurement.
    assert_usage_error(*BIN, &args("--calibrate --json /nonexistent/dir/cal.json"), "--json");
}

#[test]
fn help_states_what_it_measures() {
    assert_help_mentions(
        *BIN,
        &[
            "--calibrate",
            "--calibrate-max",
            "Hypothesis measured",
            "fork() in the parent",
            "VM_MEMORY_MACH_MSG",
        ],
    );
}
