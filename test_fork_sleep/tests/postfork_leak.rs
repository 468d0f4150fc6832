//! The leak on macOS (it runs on the macOS CI runners): `--post-fork-check
//! leak` does what CPython >= 3.12 does after every `os.fork()` there
//! (`task_for_pid` + `task_threads`, nothing given back), and the counters
//! must see it: at least 0.9 more `VM_MEMORY_MACH_MSG` region per fork (the
//! leaked thread arrays, `mach_msg_regions`), while `free` leaves them flat
//! (under 0.1 per fork). Elsewhere it prints why it skips.

use testkit::{cargo_bin, command, read_record, run_with};

/// (forks between the first and the last chunk's reading, growth of
/// `counter` over them) of a run with `--post-fork-check check`.
fn growth(check: &str, counter: &str) -> (u64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let mut cmd = command(cargo_bin!("test_fork_sleep"));
    cmd.args([
        "--numcalls",
        "300",
        "--ncpus",
        "2",
        "--sleep",
        "0",
        "--post-fork-check",
        check,
        "--json",
    ])
    .arg(&json);
    run_with(&mut cmd).assert().success();
    let rec = read_record(&json);
    let chunks = rec["repeats"][0]["chunks"].as_array().unwrap();
    let value = |c: &serde_json::Value| {
        c["resources"][counter]
            .as_u64()
            .unwrap_or_else(|| panic!("{counter}: {c}"))
    };
    let (first, last) = (chunks.first().unwrap(), chunks.last().unwrap());
    let forks = chunks[1..].iter().map(|c| c["calls"].as_u64().unwrap() * 2).sum();
    (forks, value(last) as f64 - value(first) as f64)
}

#[test]
fn the_leak_mode_grows_mach_msg_regions_per_fork_and_free_does_not() {
    if !cfg!(target_os = "macos") {
        println!("skipped: the thread arrays of task_threads are a macOS leak (Linux reads /proc/self/stat and leaks nothing)");
        return;
    }
    let _g = testkit::lock();
    let (forks, leak) = growth("leak", "mach_msg_regions");
    assert!(
        leak >= 0.9 * forks as f64,
        "leak: +{leak} mach_msg_regions over {forks} forks"
    );
    let (forks, free) = growth("free", "mach_msg_regions");
    assert!(
        free < 0.1 * forks as f64,
        "free: +{free} mach_msg_regions over {forks} forks"
    );
    // The map entries fork walks grow with them (not asserted as tightly:
    // the allocator may add or drop entries of its own).
    let (forks, entries) = growth("leak", "vm_map_entries");
    assert!(
        entries >= 0.5 * forks as f64,
        "leak: +{entries} vm_map_entries over {forks} forks"
    );
}
