//! `ci/diagnose.sh --quick` as a new user runs it on Linux (STANDIN=1,
//! with Sage): `tests/data/quick-linux` holds what that run wrote here
//! (the port's records and its transcripts, the originals' transcripts
//! under the compare harness), read as the user globs it (`*.json
//! test_*.txt`), and edited to stand for a Mac's.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use testkit::{cargo_bin, command, run_with};

fn report() -> Command {
    command(cargo_bin!("report"))
}

fn stdout_of(cmd: &mut Command) -> String {
    run_with(cmd).assert_success().to_string()
}

use common::quick_dir;

/// The files of `dir` whose names `keep` accepts, sorted (as a shell glob).
fn files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| keep(p.file_name().unwrap().to_str().unwrap()))
        .collect();
    out.sort();
    out
}

/// `*.json test_*.txt`: everything the quick run wrote.
fn everything(dir: &Path) -> Vec<PathBuf> {
    files(dir, |n| {
        n.ends_with(".json") || (n.starts_with("test_") && n.ends_with(".txt"))
    })
}

/// The rows of the table that follows the line starting with `header`.
fn table_rows<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| !l.starts_with(header))
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .collect()
}

/// The section of `text` under the heading `## title`.
fn section<'a>(text: &'a str, title: &str) -> &'a str {
    let start = text
        .find(&format!("## {title}"))
        .unwrap_or_else(|| panic!("no {title} in\n{text}"));
    let rest = &text[start + 3..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

const LINUX_CONCLUSION: &str = "Mechanism: 17 of 17 measured fork-per-job runs gain the map entries per fork the \
    hypothesis predicts (at least +0.9 when it leaks, at most +0.1 otherwise). No run here is from a Mac: the \
    measuring chain works (the 3 runs predicted to leak, the stand-in's, gain their entry per fork) and no real \
    run leaked, as predicted off macOS; the macOS half (CPython's os.fork leaving an entry behind per fork) is \
    untested until a Mac runs it.";

#[test]
fn everything_the_quick_run_wrote_counts_each_run_once_named_by_what_ran() {
    let dir = quick_dir();
    let inputs = everything(&dir);
    assert_eq!(
        inputs.len(),
        21,
        "4 records, their 4 transcripts, 13 originals' transcripts"
    );
    let text = stdout_of(report().arg("--hypothesis").args(&inputs));
    let hypothesis = section(&text, "The hypothesis, machine by machine");
    let rows = table_rows(hypothesis, "| run |");
    assert_eq!(rows.len(), 17, "{hypothesis}");
    // The runs' table: each run once, the port's by its record.
    let runs = table_rows(&text, "| source |");
    assert_eq!(runs.len(), 17, "{text}");
    assert_eq!(runs.iter().filter(|r| r.contains(".json (json)")).count(), 4);
    assert!(!text.contains("unknown"), "every run names its machine: {text}");
    // Each named by what ran: the port's tool, the original's script.
    for row in rows {
        assert!(
            row.contains("(test_fork_sleep)")
                || row.contains("(Sage @parallel, test_parallel_sleep_v2.sage)")
                || row.contains("(pure-Python @parallel emulation)"),
            "{row}"
        );
    }
    // The transcripts alone are kept (nothing else has their runs).
    let txt = files(&dir, |n| n.starts_with("test_fork_sleep") && n.ends_with(".txt"));
    let alone = stdout_of(report().args(&txt));
    assert_eq!(table_rows(&alone, "| source |").len(), 4, "{alone}");
}

#[test]
fn on_linux_the_quick_report_says_what_this_platform_can_show() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("quick.svg");
    let text = stdout_of(
        report()
            .arg("--hypothesis")
            .arg("--svg")
            .arg(&svg)
            .args(everything(&quick_dir())),
    );
    // The measuring chain and no real leak, not "confirmed".
    assert!(text.contains(&format!("{LINUX_CONCLUSION}\n")), "{text}");
    assert!(!text.contains("confirmed"), "{text}");
    assert!(
        text.contains("as predicted off macOS (the stand-in leaks its entry per fork"),
        "{text}"
    );
    // One machine, named once above each table, in no column.
    let machine = "One machine: Debian GNU/Linux 12 (bookworm), x86_64, AMD EPYC (every run below).";
    assert_eq!(text.matches(machine).count(), 2, "{text}");
    assert!(!text.contains("| machine |"), "{text}");
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("### ")).collect();
    assert_eq!(headings.len(), 16, "{text}");
    assert!(headings.iter().all(|h| !h.contains("Debian")), "{headings:?}");
    // The mechanism only: no symptom column, the timing said once.
    assert!(
        !text.contains("too few chunks") && !text.contains("| verdict |"),
        "{text}"
    );
    assert!(!text.contains("Symptom:"), "{text}");
    let timing: Vec<&str> = text.lines().filter(|l| l.contains("Timing")).collect();
    assert_eq!(timing.len(), 1, "{timing:?}");
    assert!(
        timing[0].starts_with("Timing: not judged. No run has the 6 chunks"),
        "{timing:?}"
    );

    // The picture: the leak's panel alone, its legend one entry per
    // group (4 port records, Sage, 3.11, 3.12, 3.13) and the strokes' row.
    let svg = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("The leak's picture only: the timing panel is left out")),
        "{texts:?}"
    );
    let plot_bg = report_plot::PLOT_BG;
    let hex = format!("#{:02X}{:02X}{:02X}", plot_bg.0, plot_bg.1, plot_bg.2);
    let panels = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(hex.as_str()))
        .count();
    assert_eq!(panels, 1, "no timing panel");
    assert_eq!(legend_rows(&doc), 8 + 1, "{texts:?}");
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.starts_with("fork-per-job (pure-Python"))
            .count(),
        3,
        "one entry per interpreter: {texts:?}"
    );
}

/// The rows of the legends with a line sample at their start (entries and
/// the strokes' row): a sample's first piece starts 10 px into the legend.
fn legend_rows(doc: &roxmltree::Document) -> usize {
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("3"))
        .filter(|n| n.attribute("points").is_some_and(|p| p.starts_with("90,")))
        .count()
}

/// The quick run's files `keep` accepts (records and the originals'
/// transcripts), copied to `dir` edited to stand for a Mac's.
fn as_a_mac(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    common::quick_as_a_mac(dir, |n| {
        keep(n) && (n.ends_with(".json") || n.contains(".py@") || n.contains(".sage"))
    })
}

#[test]
fn edited_to_stand_for_a_mac_the_runs_confirm_and_two_machines_get_columns() {
    let dir = tempfile::tempdir().unwrap();
    // The runs whose prediction is the same on a Mac (no real os.fork
    // under CPython 3.12+, no --post-fork-check leak): flat on Linux, as
    // predicted on a Mac too.
    let same_prediction = |n: &str| {
        !n.contains("post-fork-check-leak")
            && (n.ends_with(".json") || n.contains("python3.11") || n.contains("+control") || n.contains("+standin"))
    };
    let mac = as_a_mac(dir.path(), same_prediction);
    assert_eq!(mac.len(), 13);
    let text = stdout_of(report().arg("--hypothesis").args(&mac));
    assert!(
        text.contains("(at least +0.9 when it leaks, at most +0.1 otherwise): confirmed.\n"),
        "{text}"
    );
    assert!(
        text.contains("Mechanism: **confirmed (map entries per fork as predicted in every run)**."),
        "{text}"
    );
    assert!(
        text.contains("One machine: macOS 15.5, arm64, AMD EPYC (every run below)."),
        "{text}"
    );
    // The real os.fork of 3.12 flat on a Mac: refuted, named.
    let all = as_a_mac(dir.path(), |_| true);
    let text = stdout_of(report().arg("--hypothesis").args(&all));
    assert!(text.contains(": refuted by "), "{text}");
    assert!(
        text.contains("(Sage @parallel, test_parallel_sleep_v2.sage) @python3.12 gains +0.00 map entries per fork"),
        "{text}"
    );
    // This machine's runs beside the Mac's: two machines, in columns.
    let linux = files(&quick_dir(), |n| n.ends_with(".json"));
    let text = stdout_of(report().arg("--hypothesis").args(&mac).args(&linux));
    let hypothesis = section(&text, "The hypothesis, machine by machine");
    assert!(!hypothesis.contains("One machine"), "{hypothesis}");
    let rows = table_rows(hypothesis, "| machine | OS, arch | run |");
    assert_eq!(rows.len(), 17, "{hypothesis}");
    assert_eq!(
        rows.iter()
            .filter(|r| r.starts_with("| macOS 15.5, arm64, AMD EPYC | macOS 15.5, arm64 |"))
            .count(),
        13
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.starts_with("| Debian GNU/Linux 12 (bookworm), x86_64, AMD EPYC | Debian"))
            .count(),
        4
    );
    assert!(
        hypothesis.contains(": confirmed.\n"),
        "a Mac's runs among them: {hypothesis}"
    );
}

#[test]
fn legends_are_capped_and_long_labels_cut_so_the_picture_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // 30 interpreters' runs of the harness: 30 groups, a dozen drawn.
    let original = std::fs::read_to_string(quick_dir().join("test_pyparallel_sleep.py@python3.12.txt")).unwrap();
    let mut many = Vec::new();
    for i in 0..30 {
        let p = dir.path().join(format!("run{i}.txt"));
        std::fs::write(&p, original.replace("Python 3.12.1", &format!("Python 3.{}.1", 20 + i))).unwrap();
        many.push(p);
    }
    let svg = dir.path().join("many.svg");
    stdout_of(report().arg("--svg").arg(&svg).args(&many));
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("valid XML");
    assert_eq!(legend_rows(&doc), 12);
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert!(
        texts.contains(&"+18 more (18 runs; every run is in the report's tables)"),
        "{texts:?}"
    );
    let height = |doc: &roxmltree::Document| doc.root_element().attribute("height").unwrap().to_string();
    let capped = height(&doc);

    // A record whose label is long (its strategy field): two lines in the
    // legend, the second ending with an ellipsis; the picture as tall as
    // with a short one.
    let rec = std::fs::read_to_string(quick_dir().join("test_fork_sleep.json")).unwrap();
    let mut rec: timing::RunRecord = serde_json::from_str(&rec).unwrap();
    let short = dir.path().join("short.json");
    std::fs::write(&short, serde_json::to_string(&rec).unwrap()).unwrap();
    rec.strategy = format!("fork-per-job/pipe {}", "very long label ".repeat(60));
    let long = dir.path().join("long.json");
    std::fs::write(&long, serde_json::to_string(&rec).unwrap()).unwrap();
    let picture = |input: &Path| {
        let svg = dir.path().join("one.svg");
        stdout_of(report().arg("--svg").arg(&svg).arg(input));
        std::fs::read_to_string(&svg).unwrap()
    };
    let (short, long) = (picture(&short), picture(&long));
    let (short, long) = (
        roxmltree::Document::parse(&short).unwrap(),
        roxmltree::Document::parse(&long).unwrap(),
    );
    let entry: Vec<&str> = long
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .filter(|t| t.contains("very long label"))
        .collect();
    assert_eq!(entry.len(), 2, "{entry:?}");
    assert!(entry[1].ends_with('…'), "{entry:?}");
    assert!(entry.iter().all(|t| t.chars().count() < 200), "{entry:?}");
    // One line more than the short label's entry, and no more.
    let rows = |d: &roxmltree::Document| d.root_element().attribute("height").unwrap().parse::<u32>().unwrap();
    assert_eq!(rows(&long), rows(&short) + 20);
    assert!(capped.parse::<u32>().unwrap() < 1000, "{capped}");
}
