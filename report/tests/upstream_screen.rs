//! `report --upstream cpython` as a triager reads it: its first screen on
//! a Mac's files (`tests/data/mac-cpython-fix`: `ci/cpython-fix.sh`'s
//! reproducer transcripts of an unpatched and a patched build of one
//! commit), and the rules every upstream text keeps on any input (no clause
//! with nothing to say, every reference to another project `owner/repo#N`).

mod common;

use regex::Regex;
use std::path::{Path, PathBuf};
use std::process::Command;
use testkit::{cargo_bin, command, run_with};

fn report() -> Command {
    command(cargo_bin!("report"))
}

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

fn mac(build: &str) -> PathBuf {
    data(&format!("mac-cpython-fix/{build}-fork_repro.txt"))
}

/// The files of `dir`, sorted, as a shell glob gives them.
fn all_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    out
}

/// The quick run's records and transcripts (`tests/data/quick-linux`, as
/// `tests/quick.rs` reads them) copied to `dir`, edited to stand for a
/// Mac's.
fn quick_as_a_mac(dir: &Path) -> Vec<PathBuf> {
    common::quick_as_a_mac(dir, |_| true)
}

fn upstream(target: &str, inputs: &[PathBuf]) -> String {
    run_with(report().args(["--upstream", target]).args(inputs))
        .assert_success()
        .to_string()
}

/// The text before the first `<details>`, and its lines.
fn first_screen(text: &str) -> Vec<&str> {
    text[..text.find("<details>").expect("a fold")].lines().collect()
}

/// The prose of `text`: its fenced code (the diff, the script) left out.
fn prose(text: &str) -> String {
    text.split("```").step_by(2).collect::<Vec<_>>().join("\n")
}

/// A clause with nothing to say: `0 show`, `0 drift`, `0 predicted`, or an
/// interval `X to X`.
fn empty_clauses(text: &str) -> Vec<String> {
    let prose = prose(text);
    let zero = Regex::new(r"\b0 (show|drift|predicted)").unwrap();
    let interval = Regex::new(r"([+-]?[0-9.]+) to ([+-]?[0-9.]+)").unwrap();
    let mut out: Vec<String> = zero.find_iter(&prose).map(|m| m.as_str().to_string()).collect();
    out.extend(
        interval
            .captures_iter(&prose)
            .filter(|c| c[1] == c[2])
            .map(|c| c[0].to_string()),
    );
    out
}

/// A `#N` not preceded by `owner/repo` (GitHub links a bare one to an issue
/// of the project the text is filed in).
fn bare_references(text: &str) -> Vec<String> {
    let bare = Regex::new(r"(^|[^/\w])#[0-9]+").unwrap();
    text.lines().filter(|l| bare.is_match(l)).map(str::to_string).collect()
}

/// The cells of a Markdown table row.
fn cells(row: &str) -> usize {
    row.trim().trim_matches('|').split('|').count()
}

#[test]
fn on_a_macs_files_the_first_screen_is_title_five_lines_one_table_and_the_diff() {
    let text = upstream("cpython", &[mac("unpatched"), mac("patched")]);
    let screen = first_screen(&text);
    let diff = screen.iter().position(|l| *l == "```diff").expect("the diff inline");
    assert!(diff <= 30, "{diff} lines before the diff:\n{}", screen.join("\n"));
    // Then the diff itself, the patch as it would be sent, and nothing more.
    let patch = include_str!("../../upstream/cpython/free-thread-count.patch");
    let rest = screen[diff + 1..].join("\n");
    assert_eq!(rest.trim_end(), format!("{}\n```", patch.trim_end()), "{text}");

    let title = screen[0].strip_prefix("**Title:** ").expect("a title first");
    assert!(
        title.chars().count() < 80,
        "{} characters: {title}",
        title.chars().count()
    );
    assert!(!title.contains("draft"), "{title}");

    // The five lines, in order and together.
    let five: Vec<&str> = screen.iter().copied().filter(|l| l.starts_with("- **")).collect();
    let heads: Vec<&str> = five.iter().map(|l| l.split(":**").next().unwrap()).collect();
    assert_eq!(
        heads,
        ["- **Affected", "- **Symptom", "- **Leak", "- **Ask", "- **Reproduce"],
        "{text}"
    );
    let at = screen.iter().position(|l| *l == five[0]).unwrap();
    assert_eq!(&screen[at..at + 5], &five[..], "{text}");
    for needle in [
        "macOS",
        "CPython 3.12 and later",
        "`main`",
        "not 3.11",
        "(measured on a Mac: 3.15)",
    ] {
        assert!(five[0].contains(needle), "{needle} in {}", five[0]);
    }
    // The fixture's first and last batch of os.fork, unpatched.
    assert!(
        five[1].contains("1037.2 µs per fork at first, 2157.2 µs after 2,000 forks (fork_repro.py, CPython 3.15.0a2+, macOS 15.5 (24F74), arm64)"),
        "{}",
        five[1]
    );
    assert!(
        five[2].starts_with("- **Leak:** +1.00 VM map entry per fork unpatched, +0.00 patched"),
        "{}",
        five[2]
    );
    assert!(five[3].contains("the diff below, for `main`"), "{}", five[3]);
    assert!(five[4].contains("`python3 fork_repro.py`"), "{}", five[4]);

    // One table of six columns: os.fork, then the control; unpatched, then patched.
    let table: Vec<&str> = screen.iter().copied().filter(|l| l.starts_with('|')).collect();
    assert!(table.iter().all(|r| cells(r) == 6), "{}", table.join("\n"));
    assert_eq!(
        table[0],
        "| on a Mac | fork | unpatched: µs per fork, first → last | unpatched: map entries per fork \
         | patched: µs per fork, first → last | patched: map entries per fork |"
    );
    assert_eq!(
        &table[2..],
        [
            "| fork_repro.py, CPython 3.15.0a2+ | `os.fork` | 1037.2 → 2157.2 | +1.00 | 1047.6 → 1037.0 | +0.00 |",
            "| fork_repro.py, CPython 3.15.0a2+ | control | 1029.4 → 1033.3 | +0.00 | 1027.7 → 1036.4 | +0.00 |",
        ],
        "{text}"
    );
}

#[test]
fn the_first_screen_shows_mac_rows_only() {
    let mut inputs = all_in(&data("quick-linux"));
    inputs.extend([mac("unpatched"), mac("patched")]);
    let text = upstream("cpython", &inputs);
    let screen = first_screen(&text);
    let rows: Vec<&str> = screen.iter().copied().filter(|l| l.starts_with("| ")).skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", screen.join("\n"));
    assert!(
        rows.iter().all(|r| r.starts_with("| fork_repro.py, ")),
        "{}",
        rows.join("\n")
    );
    let diff = screen.iter().position(|l| *l == "```diff").unwrap();
    assert!(diff <= 30, "{}", screen.join("\n"));
    // The Linux rows are below, folded, with the Mac's.
    let below = &text[text.find("<summary>Measurements").unwrap()..];
    let below = &below[..below.find("</details>").unwrap()];
    assert!(below.contains("**Rows from a Mac: 4 of 21**"), "{below}");
    let linux = below.lines().filter(|l| l.starts_with("| Debian GNU/Linux 12")).count();
    assert_eq!(linux, 17, "{below}");
}

#[test]
fn the_patched_build_is_told_from_the_unpatched_one() {
    // Alone, each build is in its own column.
    let unpatched = upstream("cpython", &[mac("unpatched")]);
    let row = first_screen(&unpatched)
        .into_iter()
        .find(|l| l.contains("| `os.fork` |"))
        .unwrap()
        .to_string();
    assert!(row.ends_with("| +1.00 | - | - |"), "{row}");
    assert!(!unpatched.contains("+0.00 patched"), "{unpatched}");
    let patched = upstream("cpython", &[mac("patched")]);
    let row = first_screen(&patched)
        .into_iter()
        .find(|l| l.contains("| `os.fork` |"))
        .unwrap()
        .to_string();
    assert!(row.contains("| `os.fork` | - | - | 1047.6 → 1037.0 | +0.00 |"), "{row}");
    // The patched build gains nothing, as the fix means: not held against
    // the leak's prediction for CPython as it is, and no symptom claimed.
    assert!(
        !patched.contains("does not:") && !patched.contains("do not:"),
        "{patched}"
    );
    assert!(
        patched.contains("- **Symptom:** each `os.fork()` slower than the one before"),
        "{patched}"
    );
    // The Sage comment gains the patched build's numbers.
    let sage = upstream("sage", &[mac("unpatched"), mac("patched")]);
    assert!(
        sage.contains(
            "**With the fix.** CPython 3.15.0a2+ with the patch proposed to CPython applied: `os.fork` gains \
             +0.00 map entries per fork where the same CPython without it gains +1.00; its time per fork: no \
             drift over 2000 forks."
        ),
        "{sage}"
    );
    assert!(!upstream("sage", &[mac("unpatched")]).contains("**With the fix.**"));
}

#[test]
fn the_originals_under_the_two_builds_are_one_row_with_both_columns() {
    // As ci/cpython-fix.sh writes them: a `Build (extra):` line, then the
    // harness's output (here the quick run's, edited for a Mac).
    let dir = tempfile::tempdir().unwrap();
    let quick = quick_as_a_mac(dir.path());
    let original = quick
        .iter()
        .find(|p| p.ends_with("test_pyparallel_sleep.py@python3.12.txt"))
        .unwrap();
    let text = std::fs::read_to_string(original).unwrap();
    let inputs: Vec<PathBuf> = ["unpatched", "patched"]
        .iter()
        .map(|build| {
            let path = dir.path().join(format!("{build}-test_pyparallel_sleep.txt"));
            let label = format!("{build}, python/cpython main at 1a2b3c4d5e");
            std::fs::write(&path, format!("Build (extra): {label}\n{text}")).unwrap();
            path
        })
        .collect();
    let issue = upstream("cpython", &inputs);
    let screen = first_screen(&issue);
    let rows: Vec<&str> = screen
        .iter()
        .copied()
        .filter(|l| l.starts_with("| pure-Python"))
        .collect();
    assert_eq!(rows.len(), 1, "{}", screen.join("\n"));
    let cells: Vec<&str> = rows[0].trim_matches('|').split(" | ").map(str::trim).collect();
    assert_eq!(
        cells[..2],
        ["pure-Python @parallel emulation, CPython 3.12.1", "`os.fork`"],
        "{}",
        rows[0]
    );
    // Both builds' columns filled, each from its own transcript.
    assert!(cells[2..].iter().all(|c| *c != "-"), "{}", rows[0]);
    let below = &issue[issue.find("<summary>Measurements").unwrap()..];
    for build in ["unpatched", "patched"] {
        assert!(
            below.contains(&format!(
                "build: {build}, python/cpython main at 1a2b3c4d5e) ({build}-test_pyparallel_sleep.txt:"
            )),
            "{below}"
        );
    }
}

#[test]
fn no_clause_is_empty_and_every_reference_is_qualified_whatever_the_input() {
    let quick = all_in(&data("quick-linux"));
    let seeds = vec![data("seed_sage_parallel_v2.txt"), data("seed_ipython_pyparallel.txt")];
    let mut everything = quick.clone();
    everything.extend(seeds.clone());
    everything.extend([mac("unpatched"), mac("patched")]);
    let dir = tempfile::tempdir().unwrap();
    let mut edited = quick_as_a_mac(dir.path());
    edited.extend([mac("unpatched"), mac("patched")]);
    let inputs: [(&str, Vec<PathBuf>); 7] = [
        ("a Mac's two builds", vec![mac("unpatched"), mac("patched")]),
        ("the unpatched build", vec![mac("unpatched")]),
        ("the patched build", vec![mac("patched")]),
        ("a Linux quick run", quick),
        ("the seed's transcripts", seeds),
        ("all of them", everything),
        ("the quick run edited for a Mac, with the two builds", edited),
    ];
    for (what, files) in &inputs {
        for target in ["cpython", "sage"] {
            let text = upstream(target, files);
            assert_eq!(
                empty_clauses(&text),
                Vec::<String>::new(),
                "{target} on {what}:\n{text}"
            );
            assert_eq!(bare_references(&text), Vec::<String>::new(), "{target} on {what}");
        }
        let issue = upstream("cpython", files);
        let screen = first_screen(&issue);
        let title = screen[0].strip_prefix("**Title:** ").unwrap();
        assert!(title.chars().count() < 80, "{what}: {title}");
        let diff = screen.iter().position(|l| *l == "```diff").unwrap();
        assert!(diff <= 30, "{what}:\n{}", screen.join("\n"));
    }
    // The checks find what they look for.
    assert_eq!(empty_clauses("of the 0 predicted flat"), ["0 predicted"]);
    assert_eq!(empty_clauses("(+0.200 to +0.200 µs)"), ["+0.200 to +0.200"]);
    assert!(empty_clauses("(+0.58 to +0.66), 3.13.0 to 3.13.9").is_empty());
    assert_eq!(bare_references("fixed in htop (#2015)").len(), 1);
    assert!(bare_references("htop-dev/htop#2015, gh-137109, GH-141438").is_empty());
}
