//! The cost model as `report` writes it: a calibration among the inputs
//! prices every fork-per-job run of its machine (`## Cost model`), a quick
//! run predicts the full session, a run of another machine or a report
//! without a calibration says "not calibrated", and a calibration pasted
//! in a block is its document's machine's. The records are those of
//! `report_judge/tests/data/model` (see `report_judge/tests/model.rs`).

use std::path::PathBuf;
use std::process::Command;
use testkit::{assert_usage_error_with, cargo_bin, command, run_with};

fn report() -> Command {
    command(cargo_bin!("report"))
}

fn stdout_of(cmd: &mut Command) -> String {
    run_with(cmd).assert_success().to_string()
}

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../report_judge/tests/data/model")
        .join(name)
}

fn quick() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/quick-linux");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    out
}

/// The `## Cost model` section of `text`, to the next `## `.
fn section(text: &str) -> &str {
    let start = text
        .find("## Cost model\n")
        .unwrap_or_else(|| panic!("no cost model in:\n{text}"));
    let rest = &text[start + 3..];
    &text[start..start + 3 + rest.find("\n## ").map_or(rest.len(), |e| e + 1)]
}

#[test]
fn a_calibration_prices_the_runs_of_its_machine() {
    let text = stdout_of(report().args([model("cal.json"), model("churn8.json"), model("plain.json")]));
    let s = section(&text);
    assert!(
        s.contains(
            "| fork-per-job/pipe (test_fork_sleep) | 1.00 | +2.02 (+1.95 to +2.34) | +2.02 (+1.95 to +2.34) | \
             +1.77 (+1.44 to +3) | 0.88 | the leak accounts for the drift (measured / predicted within 0.5–2) |"
        ),
        "{s}"
    );
    assert!(s.contains("| 0.00 | +1.61 (+1.55 to +1.86) | 0 (no leak) |"), "{s}");
    assert!(s.contains("| neither the map nor the time grows |"), "{s}");
    assert!(!s.contains("What a full session would show"), "runs long enough: {s}");
}

#[test]
fn without_a_calibration_it_says_so_and_guesses_nothing() {
    let text = stdout_of(report().arg(model("churn8.json")));
    let s = section(&text);
    assert!(
        s.contains(
            "\n\nCost model: not calibrated: no calibration of this machine among the inputs \
             (`test_fork_sleep --calibrate --json FILE`, or fork_repro.py's `fork cost:` line); \
             not guessed from another machine's.\n\n"
        ),
        "{s}"
    );
    assert!(!s.contains("| predicted |"), "{s}");
}

#[test]
fn a_quick_run_predicts_the_full_session_beside_the_seed() {
    let mut inputs = vec![model("cal.json")];
    inputs.extend(quick());
    let text = stdout_of(report().arg("--hypothesis").args(&inputs));
    let s = section(&text);
    assert!(text.find("## The hypothesis").unwrap() < text.find("## Cost model").unwrap());
    assert!(
        s.contains("### What a full session would show (3 × 1000 calls of bar())"),
        "{s}"
    );
    assert!(
        s.contains("1.131 s → 2.980 s per 100 calls over 3000 calls (+27.0 % and +34.5 %"),
        "{s}"
    );
    let rows: Vec<&str> = s
        .split("### What a full session")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("| fork-per-job"))
        .collect();
    assert_eq!(rows.len(), 17, "{s}");
    // The stand-in leak (one entry per fork) grows; every other row stays.
    for row in rows {
        let grows = !row.ends_with("| +0.0 % |");
        let standin = row.contains(", stand-in leak |") && !row.contains("without thread count");
        assert_eq!(grows, standin, "{row}");
    }
}

#[test]
fn a_pasted_calibration_is_its_documents_machines() {
    let dir = tempfile::tempdir().unwrap();
    let block = stdout_of(
        report()
            .arg("--paste-block")
            .args([model("cal.json"), model("churn8.json")]),
    );
    let doc = dir.path().join("thread.md");
    std::fs::write(&doc, format!("Machine: macOS 15.5 (24F74), Apple M2\n\n{block}")).unwrap();
    let s = section(&stdout_of(report().arg(&doc))).to_string();
    assert!(s.contains("| 0.88 | the leak accounts for the drift"), "{s}");
    // A calibration of this machine does not price another's runs.
    let other = dir.path().join("other.md");
    let block = stdout_of(report().arg("--paste-block").arg(model("churn8.json")));
    std::fs::write(&other, format!("Machine: macOS 15.5 (24F74), Apple M2\n\n{block}")).unwrap();
    let s = section(&stdout_of(report().args([model("cal.json"), other]))).to_string();
    assert!(s.contains("| not calibrated (no calibration of its machine) |"), "{s}");
}

#[test]
fn pairs_take_runs_only() {
    let err = assert_usage_error_with(
        report()
            .args(["--pairs"])
            .args([model("cal.json"), model("churn8.json")]),
        "--pairs: cal.json holds no run (a calibration record); --pairs takes runs only",
    );
    assert!(err.starts_with("report: "), "{err}");
}

#[test]
fn the_cpython_issue_prices_each_mac_run_with_fork_repros_own_calibration() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mac-cpython-fix");
    let text = stdout_of(
        report()
            .args(["--upstream", "cpython"])
            .args([dir.join("unpatched-fork_repro.txt"), dir.join("patched-fork_repro.txt")]),
    );
    let sentence = |build: &str, fork: &str| {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "- `fork_repro.py`, CPython 3.15.0a2+, {fork}, build `{build},"
                ))
            })
            .unwrap_or_else(|| panic!("no {build} {fork} sentence in:\n{text}"));
        line.split_once(" Cost model: ")
            .map(|(_, m)| m.to_string())
            .unwrap_or_default()
    };
    let leak = sentence("unpatched", "`os.fork`");
    assert!(
        leak.starts_with("1.00 map entries per fork × +0.621 (+0.581 to +0.662) µs per entry"),
        "{leak}"
    );
    assert!(
        leak.ends_with(", ratio 1.00: the leak accounts for the drift (measured / predicted within 0.5–2)."),
        "{leak}"
    );
    let fixed = sentence("patched", "`os.fork`");
    assert!(
        fixed.starts_with("no map entry per fork, so no drift predicted; measured "),
        "{fixed}"
    );
    assert!(fixed.ends_with(": neither the map nor the time grows."), "{fixed}");
}

#[test]
fn the_sage_comment_says_how_much_of_the_drift_the_leak_explains() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mac-cpython-fix");
    let files = [dir.join("unpatched-fork_repro.txt"), dir.join("patched-fork_repro.txt")];
    let text = stdout_of(report().args(["--upstream", "sage"]).args(&files));
    let line = text
        .lines()
        .find(|l| l.starts_with("**How much of it the leak explains.** Cost model: 1.00 map entries per fork"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.ends_with("ratio 1.00: the leak accounts for the drift (measured / predicted within 0.5–2)."),
        "{line}"
    );
    // Without the calibration lines, nothing is said of it.
    let tmp = tempfile::tempdir().unwrap();
    let bare: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let kept: String = std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("fork cost"))
                .map(|l| format!("{l}\n"))
                .collect();
            let p = tmp.path().join(f.file_name().unwrap());
            std::fs::write(&p, kept).unwrap();
            p
        })
        .collect();
    let text = stdout_of(report().args(["--upstream", "sage"]).args(&bare));
    assert!(!text.contains("leak explains"), "{text}");
    assert!(text.contains("**Measured on a Mac.**"), "{text}");
}
