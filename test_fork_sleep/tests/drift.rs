//! End to end: a run that really drifts gets the DRIFT verdict, and its
//! attribution names the counter that was made to grow.
//!
//! `--map-churn 4` adds four unmergeable mappings before every call, so the
//! parent's map grows by 4800 entries over 1200 calls and every `fork()` has
//! more to copy: measured here, +150 to +170 % per 1000 calls, p < 1e-3 even
//! with the other core busy. Linux only: what fork costs per mapping is the
//! kernel's business, and only Linux is tested here.

use std::process::Command;

#[test]
fn map_churn_drifts_and_names_vm_map_entries() {
    if !cfg!(target_os = "linux") {
        println!(
            "skipped: the cost of fork per mapping was measured on Linux only; what a Mac does is for ci/bench*.sh"
        );
        return;
    }
    let _g = testkit::lock();
    let out = Command::new(env!("CARGO_BIN_EXE_test_fork_sleep"))
        .args(["--map-churn", "4", "--numcalls", "1200", "--ncpus", "2", "--sleep", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let verdict = lines[lines.len() - 2];
    let attribution = lines[lines.len() - 1];
    assert!(
        verdict.starts_with("Drift verdict (extra): DRIFT; slope +") && verdict.ends_with(", 12 chunks"),
        "{verdict}"
    );
    assert!(
        attribution.starts_with("Drift attribution (extra): chunk time grows with ")
            && attribution.contains("vm_map_entries (Kendall tau "),
        "{attribution}"
    );
    // The map entries grew by the 4 x 1200 mappings, give or take the first chunk's.
    let after = attribution.split("vm_map_entries (").nth(1).unwrap();
    let range = after.split("; ").nth(1).unwrap().split(')').next().unwrap();
    let (first, last) = range.split_once(" -> ").unwrap();
    let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
    assert!(last - first >= 4 * 1100, "{first} -> {last}");
}
