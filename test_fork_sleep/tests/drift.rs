//! End to end: a run that really drifts gets the DRIFT verdict, and its
//! attribution names the counter that was made to grow.
//!
//! `--map-churn 4` adds four unmergeable mappings before every call, so the
//! parent's map grows by 4800 entries over 1200 calls and every `fork()` has
//! more to copy: measured here, +150 to +170 % per 1000 calls, p < 1e-3 even
//! with the other core busy. Linux only: what fork costs per mapping is the
//! kernel's business, and only Linux is tested here.

use testkit::{cargo_bin, predicate, run_str, PredicateBooleanExt};

#[test]
fn map_churn_drifts_and_names_vm_map_entries() {
    if !cfg!(target_os = "linux") {
        println!(
            "skipped: the cost of fork per mapping was measured on Linux only; what a Mac does is for ci/bench*.sh"
        );
        return;
    }
    let _g = testkit::lock();
    let r = run_str(
        cargo_bin!("test_fork_sleep"),
        "--map-churn 4 --numcalls 1200 --ncpus 2 --sleep 0",
    );
    // The last two lines: the verdict, then the attribution.
    r.assert().success().stdout(
        predicate::str::is_match(r"(?m)^Drift verdict \(extra\): DRIFT(, but [^;]*)?; slope \+.*, 12 chunks\n.*\n\z")
            .unwrap()
            .and(
                predicate::str::is_match(
                    r"(?m)^Drift attribution \(extra\): chunk time grows with .*vm_map_entries \(Kendall tau .*\n\z",
                )
                .unwrap(),
            ),
    );
    let attribution = r.out.lines().last().unwrap();
    // The map entries grew by the 4 x 1200 mappings, give or take the first chunk's.
    let after = attribution.split("vm_map_entries (").nth(1).unwrap();
    let range = after.split("; ").nth(1).unwrap().split(')').next().unwrap();
    let (first, last) = range.split_once(" -> ").unwrap();
    let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
    assert!(last - first >= 4 * 1100, "{first} -> {last}");
}
