//! Many Macs, one table: a document made as `ci/diagnose.sh` makes
//! `diagnose.md` (its header, `report --hypothesis`, then
//! `report --paste-block` of the same inputs) reads back into the same runs,
//! and several pasted into one text (a thread) give one table, one machine
//! per document. And the reproducer's output, as the script prints it here,
//! reads as its runs.

use report_read::{Run, SourceKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use testkit::{assert_help_mentions, assert_usage_error, cargo_bin, command, run_with};
use timing::clock::Interval;
use timing::{Chunk, LineFormat, Repeat, RunRecord};

static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("report"));

fn report() -> Command {
    command(*BIN)
}

fn stdout_of(cmd: &mut Command) -> String {
    run_with(cmd).assert_success().to_string()
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// A record of the port with the counters a drifting fork-per-job run
/// has (one map entry per fork), pretty-printed as the binaries write it.
fn record_file(dir: &Path) -> PathBuf {
    let mut rec = RunRecord::new(
        "test_fork_sleep",
        "fork-per-job/pipe",
        serde_json::json!({"ncpus": 2, "post_fork_check": "leak"}),
        LineFormat::para(2, 0.001),
    );
    rec.repeats.push(Repeat {
        chunks: (0..8u32)
            .map(|i| Chunk {
                calls: 100,
                cost_per_job: 0.0,
                time: Interval {
                    wall: 0.2 + 0.013 * f64::from(i),
                    ..Interval::default()
                },
                extra: None,
                resources: Some([("vm_map_entries".to_string(), 40 + 200 * u64::from(i))].into()),
            })
            .collect(),
        calls: 800,
        totals: Some(Interval::default()),
    });
    let path = dir.join("fork-pipe-leak.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rec).unwrap()).unwrap();
    path
}

/// `diagnose.md` as `ci/diagnose.sh` writes it, for `machine`.
fn diagnose_md(inputs: &[PathBuf], machine: &str) -> String {
    format!(
        "# Drift diagnosis: Darwin arm64\n\nMachine: {machine}\nInterpreters: python3.12=3.12.1\n\n{}\n{}",
        stdout_of(report().arg("--hypothesis").args(inputs)),
        stdout_of(report().arg("--paste-block").args(inputs)),
    )
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    vec![
        record_file(dir),
        data("seed_sage_parallel_v2.txt"),
        data("seed_ipython_pyparallel.txt"),
    ]
}

#[test]
fn a_diagnose_md_made_here_reads_back_to_the_same_runs() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let doc = dir.path().join("diagnose.md");
    std::fs::write(&doc, diagnose_md(&inputs, "macOS 15.5 (24F74), Apple M2, 8 CPUs")).unwrap();

    // The library: the same runs, each labelled with the document's machine.
    let back = report_read::load_input(&doc).unwrap();
    assert!(back.pasted);
    let mut given: Vec<Run> = Vec::new();
    for path in &inputs {
        given.extend(report_read::load(path).unwrap());
    }
    assert_eq!(given.len(), 3);
    for r in &mut given {
        r.machine = "macOS 15.5 (24F74), Apple M2, 8 CPUs".into();
    }
    assert_eq!(back.runs, given);
    // The binary: the same table from the document as from the inputs (the
    // document's own tables are not read as runs).
    assert_eq!(stdout_of(report().arg(&doc)), stdout_of(report().args(&inputs)));
}

/// `--paste-block` of inputs whose names hold a newline, control
/// characters, `|`, backticks, a fence, the block's last line and a
/// `Machine:` line reads back to the very same runs, under the document's
/// machine.
#[test]
fn a_block_reads_back_to_the_same_runs_whatever_the_names() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "a\nMachine: evil\r\u{1b}[31m|`x`` \u{7}\t> ";
    let record = dir.path().join(format!("{hostile}.json"));
    std::fs::rename(record_file(dir.path()), &record).unwrap();
    let seed = dir.path().join(format!("{hostile}\n```\nreport-runs end\n.txt"));
    std::fs::copy(data("seed_sage_parallel_v2.txt"), &seed).unwrap();
    let inputs = vec![record, seed];
    let block = stdout_of(report().arg("--paste-block").args(&inputs));
    let doc = dir.path().join("diagnose.md");
    std::fs::write(&doc, format!("Machine: M\n\n{block}")).unwrap();

    let back = report_read::load_input(&doc).unwrap();
    let mut given: Vec<Run> = Vec::new();
    for path in &inputs {
        given.extend(report_read::load(path).unwrap());
    }
    for r in &mut given {
        r.machine = "M".into();
    }
    assert_eq!(given.len(), 2);
    assert_eq!(back.runs, given);
    assert_eq!(back.runs[0].source, format!("{hostile}.json (json)"));
    assert_eq!(stdout_of(report().arg(&doc)), stdout_of(report().args(&inputs)));
}

/// In a thread, a block quoted in a reply (`> ` before each line, as GitHub
/// quotes) belongs to the comment it quotes, never to the replier's
/// `Machine:` line: with the quoted comment in the thread it is that
/// comment's block, counted once; with the quoted `Machine:` line, that
/// machine's; with neither, set apart under a machine saying so.
#[test]
fn a_quoted_block_belongs_to_the_comment_it_quotes_never_to_the_replier() {
    let dir = tempfile::tempdir().unwrap();
    let block = stdout_of(report().arg("--paste-block").args(inputs(dir.path())));
    let quote = |text: &str| -> String {
        text.lines()
            .map(|l| if l.is_empty() { ">\n".into() } else { format!("> {l}\n") })
            .collect()
    };
    let thread = dir.path().join("thread.md");
    let machines = |text: &str| -> Vec<String> {
        std::fs::write(&thread, text).unwrap();
        report_read::load_input(&thread)
            .unwrap()
            .runs
            .into_iter()
            .map(|r| r.machine)
            .collect()
    };
    let a = format!("Machine: Mac A\n\n{block}");
    let b = format!("Machine: Mac B\n\nSame here, see:\n\n{}\nThanks.\n", quote(&block));
    // Comment A, then comment B quoting A's block only.
    let both = format!("{a}\n{b}");
    assert_eq!(machines(&both), ["Mac A"; 3]);
    let table = stdout_of(report().arg("--hypothesis").arg(&thread));
    assert!(!table.contains("Mac B"), "{table}");
    // B quoting all of A's comment, its Machine: line with it, A's own not in the text.
    assert_eq!(machines(&format!("Machine: Mac B\n\n{}", quote(&a))), ["Mac A"; 3]);
    // B's quote of the block alone: no machine to give it but B's, which it is not.
    let apart = "thread.md, block at line 10 (quoted in a reply, no Machine: line in the quote)";
    assert_eq!(machines(&b), [apart; 3]);
}

#[test]
fn two_pasted_reports_one_edited_for_another_machine_give_one_table_with_both() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let one = diagnose_md(&inputs, "Mac A: macOS 15.5 (24F74), Apple M2, 8 CPUs");
    // The same report edited to stand for another machine, pasted in a
    // thread after prose, and quoted again in a reply (read once).
    let two = one.replace("Machine: Mac A:", "Machine: Mac B:");
    let quoted: String = two.lines().map(|l| format!("> {l}\n")).collect();
    let thread = dir.path().join("thread.md");
    std::fs::write(&thread, format!("{one}\n\nSame here:\n\n{two}\n\nquoting:\n\n{quoted}")).unwrap();

    let table = stdout_of(report().arg("--hypothesis").arg(&thread));
    let hypothesis = table
        .split("\n## ")
        .find(|s| s.starts_with("The hypothesis, machine by machine"))
        .unwrap_or_else(|| panic!("no hypothesis table in\n{table}"));
    for mac in ["Mac A", "Mac B"] {
        let rows = hypothesis
            .lines()
            .filter(|l| l.starts_with(&format!("| {mac}: ")))
            .count();
        // Three fork-per-job runs each: the port's record and both seeds.
        assert_eq!(rows, 3, "{mac} in\n{hypothesis}");
    }
    // Every run once per machine in the table of runs, too.
    let seed_rows = table
        .lines()
        .filter(|l| l.starts_with("| seed_sage_parallel_v2.txt:1-59 (transcript) |"))
        .count();
    assert_eq!(seed_rows, 2, "{table}");

    // --upstream puts both machines in one table.
    let issue = stdout_of(report().args(["--upstream", "cpython"]).arg(&thread));
    let measured = issue.split("<summary>Measurements").nth(1).unwrap();
    let measured = measured.split("</details>").next().unwrap();
    for mac in ["Mac A", "Mac B"] {
        assert_eq!(
            measured
                .lines()
                .filter(|l| l.starts_with(&format!("| {mac}: ")))
                .count(),
            3,
            "{issue}"
        );
    }
    // The machines are named; whether a row comes from a Mac is its OS.
    assert!(
        issue.contains(
            "> **Not yet confirmed on macOS.** None of the 6 fork-per-job runs of the input comes from a Mac"
        ),
        "{issue}"
    );
}

#[test]
fn a_cut_block_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let doc = diagnose_md(&inputs(dir.path()), "M");
    let cut = dir.path().join("cut.md");
    std::fs::write(&cut, &doc[..doc.len() - 300]).unwrap();
    let err = run_with(report().arg(&cut)).one_line_error(1).to_string();
    assert!(err.contains("cut.md: block at line"), "{err}");
    assert!(err.contains("was it pasted whole?"), "{err}");
}

/// The reproducer as a user runs it (`python3 fork_repro.py --batches 6
/// --forks 40`, its fork cost left out), read back by `report`: two runs of
/// six batches, os.fork and the control, each with the map entries counted
/// after each batch (Linux: `/proc/self/maps`), its answer the last line.
#[test]
fn the_reproducers_output_is_read_as_its_runs() {
    if !cfg!(target_os = "linux") {
        println!("skipped: the map count of the reproducer is checked on Linux");
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../upstream/cpython/fork_repro.py");
    let _forks = testkit::lock();
    let Ok(out) = Command::new("python3")
        .arg(&script)
        .args(["--batches", "6", "--forks", "40", "--no-calibrate"])
        .output()
    else {
        println!("skipped: no python3");
        return;
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let runs = report_read::load_text("fork_repro.txt", &text).unwrap();
    let forks: Vec<Option<&str>> = runs.iter().map(|r| r.factors.os_fork.as_deref()).collect();
    assert_eq!(forks, [Some("real"), Some("without thread count")], "{text}");
    for r in &runs {
        assert_eq!(r.kind, SourceKind::Reproducer);
        assert_eq!(r.points.len(), 6, "{text}");
        assert!(r.points.iter().all(|p| p.calls == 40), "{text}");
        assert_eq!(r.counter("vm_map_entries").map(<[f64]>::len), Some(6), "{text}");
        assert_eq!(report_judge::findings::predicts_leak(r), Some(false));
    }
    assert!(
        text.lines()
            .last()
            .unwrap()
            .ends_with(" map entries per fork, control +0.00: no leak here"),
        "{text}"
    );
}

#[test]
fn the_new_flags_are_documented_and_checked() {
    assert_help_mentions(
        *BIN,
        &[
            "--upstream",
            "--cpython-issue",
            "--paste-block",
            "not yet confirmed on macOS",
        ],
    );
    assert_usage_error(*BIN, &["--upstream", "gcc", "x.json"], "--upstream");
    assert_usage_error(*BIN, &["--cpython-issue", "https://x", "x.json"], "--upstream");
    assert_usage_error(*BIN, &["--paste-block", "--hypothesis", "x.json"], "--paste-block");
}
