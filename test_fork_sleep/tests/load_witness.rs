//! The load witness end to end: a run whose machine gets busy half-way says
//! so on its verdict line and in its record; the same run on a quiet machine
//! does not.
//!
//! The busy half is made by CPU hogs started after half of the chunk lines,
//! one per CPU, in their own process group and killed at the end. Both tests
//! take the fork lock and are alone in this test binary, so nothing else of
//! the test run competes with them; what the rest of the machine does is
//! the point of the test (CI runs it on a machine doing nothing else).
//! Chunks of 100 calls x 8 forks take about 0.1 s here, ten clock ticks:
//! enough resolution for the quarter of a CPU the rule asks.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::LazyLock;
use testkit::{cargo_bin, command, read_lines_until, read_record, spawn_piped, wait_for_end};

static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_fork_sleep"));

const ARGS: [&str; 7] = ["--numcalls", "2400", "--ncpus", "8", "--sleep", "0", "--json"];

/// One busy loop per CPU, each in its own process group.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start() -> Hogs {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hogs(
            (0..n)
                .map(|_| {
                    std::os::unix::process::CommandExt::process_group(
                        Command::new("sh").args(["-c", "while :; do :; done"]),
                        0,
                    )
                    .spawn()
                    .unwrap()
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs the port, starting the hogs after `hog_after` chunk lines when
/// given; returns its stdout from that point and its record.
fn run(hog_after: Option<usize>) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut cmd = command(*BIN);
    cmd.args(ARGS).arg(&json);
    let mut child = spawn_piped(&mut cmd);
    let (reader, _) = read_lines_until(&mut child, hog_after.unwrap_or(1), |l| l.contains(" @para sleep("));
    let hogs = hog_after.map(|_| Hogs::start());
    let end = wait_for_end(child, reader);
    drop(hogs);
    end.assert_success();
    (end.out, read_record(&json))
}

/// `(other_cpu_permille, wall)` of every chunk: what a failed check shows.
fn witness(record: &serde_json::Value) -> Vec<(u64, f64)> {
    record["repeats"][0]["chunks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["resources"]["other_cpu_permille"].as_u64().unwrap_or(0),
                c["wall"].as_f64().unwrap_or(0.0),
            )
        })
        .collect()
}

fn verdict_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("Drift verdict (extra): "))
        .expect("a verdict line")
}

/// The fork lock, where the machine's busy time can be read; `None` (and
/// a `skipped:` line) elsewhere.
fn alone() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !cfg!(target_os = "linux") && !cfg!(target_os = "macos") {
        println!("skipped: the machine's busy time is read on Linux and macOS only");
        return None;
    }
    Some(testkit::lock())
}

#[test]
fn a_machine_that_gets_busy_half_way_is_named_on_the_verdict_line() {
    let Some(_g) = alone() else { return };
    let (out, record) = run(Some(12));
    let line = verdict_line(&out);
    assert!(
        line.contains(", but the machine got busier during the run (load ")
            && line.contains(": confirm on a quiet machine; slope "),
        "{line}\nthe rest of the machine per chunk (CPU/1000, s per 100 calls): {:?}",
        witness(&record)
    );
    let busier = &record["verdict"]["busier"];
    let (first, last) = (
        busier["other_cpus_first"].as_f64().unwrap(),
        busier["other_cpus_last"].as_f64().unwrap(),
    );
    assert!(last - first >= 0.5, "the hogs' CPU: {busier}");
    // The witness is in every chunk, beside the other counters.
    let chunks = record["repeats"][0]["chunks"].as_array().unwrap();
    assert!(
        chunks
            .iter()
            .all(|c| c["resources"]["other_cpu_permille"].is_u64() && c["resources"]["load_avg_1m_milli"].is_u64()),
        "{chunks:?}"
    );
}

#[test]
fn a_quiet_run_says_nothing_of_the_machine() {
    let Some(_g) = alone() else { return };
    let (out, record) = run(None);
    let line = verdict_line(&out);
    assert!(
        !line.contains("busier"),
        "{line}\nthe rest of the machine per chunk (CPU/1000, s per 100 calls): {:?}",
        witness(&record)
    );
    assert!(record["verdict"].get("busier").is_none(), "{}", record["verdict"]);
}
