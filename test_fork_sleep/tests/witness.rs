//! The witness end to end (`probes::witness`, read by `timing`): the port's
//! record keeps the system tool's count of its regions before the first
//! bar() and after the last (pmap here, vmmap on the macOS runners) and the
//! forks between; `--map-churn` grows it as it grows `vm_map_entries`; a
//! missing tool is one line on stderr and the run goes on.

use testkit::{args, cargo_bin, command, read_record, run_with};

/// A run's record with `args` (and `--json`), and its stderr.
fn record(args: &[&str], path_var: Option<&str>) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let mut cmd = command(cargo_bin!("test_fork_sleep"));
    cmd.args(args).arg("--json").arg(&json);
    if let Some(p) = path_var {
        cmd.env("PATH", p);
    }
    let r = run_with(&mut cmd);
    r.assert().success();
    (read_record(&json), r.err)
}

/// The witness's total before and after, or why it is not there.
fn totals(rec: &serde_json::Value) -> Result<(i64, i64), String> {
    let w = &rec["witness"];
    match (w["before"]["total"].as_i64(), w["after"]["total"].as_i64()) {
        (Some(b), Some(a)) => Ok((b, a)),
        _ => Err(format!("no witness readings: {w}")),
    }
}

#[test]
fn the_record_keeps_the_witness_and_map_churn_grows_it_as_the_counter() {
    let (rec, err) = record(
        &args("--numcalls 400 --ncpus 2 --sleep 0 --map-churn 2 --witness on"),
        None,
    );
    let (before, after) = match totals(&rec) {
        Ok(t) => t,
        Err(why) => {
            println!("skipped: {why} ({err})");
            return;
        }
    };
    let tool = rec["witness"]["tool"].as_str().unwrap();
    assert!(["pmap", "vmmap"].contains(&tool), "{tool}");
    assert_eq!(rec["params"]["witness"], "on");
    // 400 calls x 2 forks, counted by the fork handler.
    assert_eq!(rec["witness"]["forks"], 800);
    // 2 mappings a call: 800 more regions, give or take what the run's own
    // buffers map; vm_map_entries from the first chunk's reading to the
    // last's: 3 chunks x 200.
    assert!((790..=830).contains(&(after - before)), "{before} -> {after}");
    let chunks = rec["repeats"][0]["chunks"].as_array().unwrap();
    let entries = |c: &serde_json::Value| c["resources"]["vm_map_entries"].as_i64().unwrap();
    assert_eq!(entries(&chunks[3]) - entries(&chunks[0]), 600);
    // Off by default: no field at all.
    let (rec, err) = record(&args("--numcalls 10 --ncpus 1 --sleep 0"), None);
    assert!(
        rec.get("witness").is_none() && rec["params"]["witness"] == "off",
        "{rec}"
    );
    assert!(!err.contains("Witness"), "{err}");
}

#[test]
fn a_missing_tool_is_one_line_and_the_run_goes_on() {
    // No PATH entry holds vmmap or pmap.
    let (rec, err) = record(
        &args("--numcalls 10 --ncpus 1 --sleep 0 --witness on"),
        Some("/nonexistent"),
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("Witness (extra): ")
            && lines[0].ends_with(" not found on the PATH; the run goes on without it"),
        "{err}"
    );
    assert_eq!(rec["repeats"][0]["calls"], 10);
    assert!(
        rec["witness"]["refused"].as_str().unwrap().contains("not found"),
        "{rec}"
    );
    assert!(rec["witness"].get("before").is_none(), "{rec}");
}

#[test]
fn on_macos_vmmap_sees_the_post_fork_leak_as_mach_message_regions() {
    if !cfg!(target_os = "macos") {
        println!("skipped: vmmap and the post-fork leak are macOS's");
        return;
    }
    let (rec, err) = record(
        &args("--numcalls 300 --ncpus 2 --sleep 0 --post-fork-check leak --witness on"),
        None,
    );
    let w = &rec["witness"];
    let (Some(before), Some(after)) = (w["before"]["mach_msg"].as_i64(), w["after"]["mach_msg"].as_i64()) else {
        println!("skipped: vmmap gave no reading: {w} ({err})");
        return;
    };
    // One leaked thread array a fork: at least 0.9 Mach message region per fork.
    assert!(
        (after - before) as f64 >= 0.9 * 600.0,
        "{before} -> {after} over 600 forks"
    );
}
