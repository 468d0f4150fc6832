//! Clean on any label: every kind of hostile text (terminal escapes, BEL,
//! NUL, C1, a newline, `|`, a code fence, `<details>`, `<script>`, an
//! entity, a link, a bidi override, a backslash) in each place an input
//! puts text (a pasted document's `Machine:` line, a record's CPU model and
//! OS version, its strategy, the input's file name) comes out cleaned, with
//! the exact form asserted, in the terminal table, `--markdown`,
//! `--hypothesis`, `--upstream cpython|sage`, `--svg` (which parses as XML)
//! and stderr. The records are real ones of the port, edited.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use testkit::{cargo_bin, command, run, run_with};
use timing::clock::Interval;
use timing::{Chunk, LineFormat, Repeat, RunRecord};

static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("report"));

fn report() -> Command {
    command(*BIN)
}

fn stdout_of(cmd: &mut Command) -> String {
    run_with(cmd).assert_success().to_string()
}

/// Every kind of hostile text in one label.
const LABEL: &str = "x\x1b[31m\x07\x00\u{9b}|y\n```\r<details><script>alert(1)</script>&amp;[a](b)\u{202e}z\\";
/// As the terminal, stderr, a code block and the plot show it.
const SHOWN: &str = "x\\x1b[31m\\x07\\x00\\x9b|y\\n```\\r<details><script>alert(1)</script>&amp;[a](b)\\u{202e}z\\";
/// As a Markdown cell or sentence holds it.
const CELL: &str = "x\\x1b\\[31m\\x07\\x00\\x9b\\|y\\n\\`\\`\\`\\r\\<details>\\<script>alert(1)\\</script>\\&amp;\\[a](b)\\u{202e}z\\\\";

/// The label as a `Machine:` line can hold it (no line break).
fn in_a_line(s: &str) -> String {
    s.replace(['\n', '\r'], "").replace("\\n", "").replace("\\r", "")
}

/// The label as a file name can hold it (no NUL, no `/`).
fn in_a_name(s: &str) -> String {
    s.replace(['\0', '/'], "").replace("\\x00", "")
}

/// A record of the port (`--post-fork-check CHECK`, one call of 2 forks a
/// job) edited to stand for a Mac's, its map entries flat (on a Mac `leak`
/// is then refuted, and the refutation names the run).
fn mac_record(check: &str) -> RunRecord {
    let mut rec = RunRecord::new(
        "test_fork_sleep",
        "fork-per-job/pipe",
        serde_json::json!({"ncpus": 2, "post_fork_check": check}),
        LineFormat::para(2, 0.001),
    );
    rec.repeats.push(Repeat {
        chunks: (0..8u64)
            .map(|i| Chunk {
                calls: 100,
                cost_per_job: 0.0,
                time: Interval {
                    wall: 0.2 + 0.001 * (i % 2) as f64,
                    ..Interval::default()
                },
                extra: None,
                resources: Some(
                    [
                        ("vm_map_entries".to_string(), 400 + i % 2),
                        ("mach_msg_regions".to_string(), 3),
                    ]
                    .into(),
                ),
            })
            .collect(),
        calls: 800,
        totals: Some(Interval::default()),
    });
    let s = &mut rec.system;
    (s.os, s.os_version, s.os_build, s.arch, s.cpu_model) = (
        "Darwin".into(),
        "macOS 15.5".into(),
        None,
        "arm64".into(),
        "Apple M2".into(),
    );
    rec
}

/// `off` and `leak` records, edited by `edit`, written as `NAME-off.json`
/// and `NAME-leak.json`.
fn records(dir: &Path, name: &str, edit: impl Fn(&mut RunRecord)) -> Vec<PathBuf> {
    ["off", "leak"]
        .iter()
        .map(|check| {
            let mut rec = mac_record(check);
            edit(&mut rec);
            let path = dir.join(format!("{name}-{check}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(&rec).unwrap()).unwrap();
            path
        })
        .collect()
}

/// What `report` wrote for some inputs, in every format.
struct Written {
    /// `--hypothesis` on the terminal.
    terminal: String,
    /// `--hypothesis --markdown FILE`: the file, and the terminal.
    markdown: String,
    markdown_terminal: String,
    cpython: String,
    sage: String,
    svg: String,
}

fn written(dir: &Path, inputs: &[PathBuf]) -> Written {
    let (md, svg) = (dir.join("out.md"), dir.join("out.svg"));
    let terminal = stdout_of(report().arg("--hypothesis").args(inputs).arg("--svg").arg(&svg));
    let markdown_terminal = stdout_of(report().arg("--hypothesis").args(inputs).arg("--markdown").arg(&md));
    let upstream = |target: &str| stdout_of(report().args(["--upstream", target]).args(inputs));
    Written {
        markdown: std::fs::read_to_string(&md).unwrap(),
        markdown_terminal,
        terminal,
        cpython: upstream("cpython"),
        sage: upstream("sage"),
        svg: std::fs::read_to_string(&svg).unwrap(),
    }
}

/// Unescaped `|` in a Markdown line (a backslash escapes the next character).
fn pipes(line: &str) -> usize {
    let mut chars = line.chars();
    let mut n = 0;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '|' => n += 1,
            _ => {}
        }
    }
    n
}

/// `line` without its code spans (a run of backticks to the next run as
/// long), as CommonMark reads them; an escaped character is kept whole.
fn outside_code(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                out.extend(&chars[i..(i + 2).min(chars.len())]);
                i += 2;
            }
            '`' => {
                let n = run_at(i);
                let close = (i + n..chars.len()).find(|&j| chars[j] == '`' && chars[j - 1] != '`' && run_at(j) == n);
                match close {
                    Some(j) => i = j + n,
                    None => {
                        out.extend(&chars[i..i + n]);
                        i += n;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// What holds of any Markdown `report` writes, whatever its inputs: no
/// character a terminal or a renderer would act on, every table row with its
/// header's cells, code fences only at our own lines and in pairs, and, out
/// of code, no HTML, entity or link but our own (the reproducer's
/// `<details>` in the CPython issue, each a line of its own).
fn assert_structure_holds(text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && (c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)))
        .collect();
    assert!(bad.is_empty(), "{bad:?} in\n{text}");
    let mut header = None;
    let mut fenced = false;
    for line in text.lines() {
        match (line.starts_with('|'), header) {
            (true, None) => header = Some(pipes(line)),
            (true, Some(n)) => assert_eq!(pipes(line), n, "a row with other cells than its header: {line}"),
            (false, _) => header = None,
        }
        let unquoted = line.trim_start_matches("> ");
        if unquoted.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let prose = outside_code(unquoted);
        for tag in ["<details", "<script", "</script", "&amp;", "[a](b)"] {
            for (at, _) in prose.match_indices(tag) {
                // Our own folds: a line of its own, `<details><summary>…</summary>`.
                let own = at == 0 && prose.starts_with("<details><summary>") && prose.ends_with("</summary>");
                assert!(own || prose[..at].ends_with('\\'), "a bare {tag} in {line}");
            }
        }
    }
    assert!(!fenced, "an unclosed fence in\n{text}");
}

/// The texts of the SVG (which must parse as XML), each legend entry's
/// lines joined again.
fn svg_texts(svg: &str) -> String {
    assert!(!svg.chars().any(|c| c.is_control() && c != '\n'), "{svg}");
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The one Markdown line that starts with `start`.
fn line_of<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in\n{text}"))
}

fn assert_everywhere(w: &Written) {
    for text in [&w.terminal, &w.markdown, &w.markdown_terminal, &w.cpython, &w.sage] {
        assert_structure_holds(text);
    }
    // The terminal and the file hold the same text; with --markdown the
    // terminal gets the Findings alone, cleaned alike.
    assert_eq!(w.markdown.trim_end(), w.terminal.trim_end());
    assert!(
        w.terminal.starts_with(w.markdown_terminal.trim_end()),
        "{}",
        w.markdown_terminal
    );
}

#[test]
fn a_hostile_strategy_is_cleaned_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = records(dir.path(), "rec", |r| r.strategy = format!("fork-per-job/pipe{LABEL}"));
    let w = written(dir.path(), &inputs);
    assert_everywhere(&w);
    // Our own Markdown around the labels is left as it is.
    assert!(
        w.cpython
            .contains("| CPython's count, nothing freed (`--post-fork-check leak`) |"),
        "{}",
        w.cpython
    );
    let run = format!("fork-per-job/pipe{CELL} (test_fork_sleep) post-fork-check=leak");
    // The runs' table, the hypothesis table, the Findings and the line on the mechanism.
    line_of(
        &w.terminal,
        &format!("| rec-leak.json (json) | {run} | macOS 15.5, arm64 | 2 |"),
    );
    // One machine, named once above the hypothesis table.
    line_of(
        &w.terminal,
        "One machine: macOS 15.5, arm64, Apple M2 (every run below).",
    );
    line_of(&w.terminal, &format!("| {run} | yes |"));
    line_of(
        &w.terminal,
        &format!("### post-fork check (port): port, fork-per-job/pipe{CELL} (test_fork_sleep), ncpus 2,"),
    );
    assert!(
        w.terminal
            .contains(&format!("refuted by {run} gains +0.00 map entries per fork")),
        "{}",
        w.terminal
    );
    // The leak's picture, in a code block: shown, not escaped for Markdown.
    assert!(
        w.terminal.contains(&format!(
            "/fork  fork-per-job/pipe{SHOWN} (test_fork_sleep) post-fork-check=leak | rec-leak.json (json)\n"
        )),
        "{}",
        w.terminal
    );
    // The upstream texts: the run's cell, the refutation among the Mac rows.
    let cell = format!("| fork-per-job/pipe{CELL} (test_fork_sleep) (rec-leak.json (json)) |");
    for text in [&w.cpython, &w.sage] {
        assert!(text.contains(&cell), "{text}");
        assert!(text.contains(&format!("1 does not: {run} gains +0.00")), "{text}");
    }
    // The plot's legend, as shown on the terminal.
    let texts = svg_texts(&w.svg);
    assert!(
        texts.contains(&format!(
            "rec-leak.json (json) | fork-per-job/pipe{SHOWN} (test_fork_sleep) post-fork-check=leak |"
        )),
        "{texts}"
    );
}

#[test]
fn a_hostile_cpu_model_and_os_version_are_cleaned_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = records(dir.path(), "rec", |r| {
        r.system.os_version = format!("macOS 15.5{LABEL}");
        r.system.cpu_model = format!("Apple M2{LABEL}");
    });
    let w = written(dir.path(), &inputs);
    assert_everywhere(&w);
    let os = format!("macOS 15.5{CELL}, arm64");
    let machine = format!("{os}, Apple M2{CELL}");
    line_of(
        &w.terminal,
        &format!("| rec-off.json (json) | fork-per-job/pipe (test_fork_sleep) | {os} | 2 |"),
    );
    line_of(&w.terminal, &format!("One machine: {machine} (every run below)."));
    line_of(&w.terminal, "| fork-per-job/pipe (test_fork_sleep) | no |");
    line_of(
        &w.terminal,
        // The machine is named once above the Findings, not in their headings.
        "### post-fork check (port): port, fork-per-job/pipe (test_fork_sleep), ncpus 2",
    );
    // The upstream texts: the machine's cells, and in the sentence at the
    // top a code span fenced around the label's backticks.
    let shown = format!("macOS 15.5{SHOWN}, arm64, Apple M2{SHOWN}");
    for text in [&w.cpython, &w.sage] {
        line_of(text, &format!("| {machine} | {os} | - (port) |"));
        assert!(
            text.contains(&format!("**Rows from a Mac: 2 of 2**, from ````{shown}````.")),
            "{text}"
        );
    }
    line_of(&w.cpython, &format!("| {machine} | {os} | off |"));
    // The plot shows no machine; it still parses.
    svg_texts(&w.svg);
}

#[test]
fn a_hostile_machine_line_is_cleaned_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = records(dir.path(), "rec", |_| {});
    let doc = dir.path().join("diagnose.md");
    let block = stdout_of(report().arg("--paste-block").args(&inputs));
    std::fs::write(
        &doc,
        format!("# Drift diagnosis\n\nMachine: M2 {}\n\n{block}", in_a_line(LABEL)),
    )
    .unwrap();
    let w = written(dir.path(), std::slice::from_ref(&doc));
    assert_everywhere(&w);
    let machine = format!("M2 {}", in_a_line(CELL));
    line_of(&w.terminal, &format!("One machine: {machine} (every run below)."));
    for text in [&w.cpython, &w.sage] {
        line_of(text, &format!("| {machine} | macOS 15.5, arm64 | - (port) |"));
        assert!(
            text.contains(&format!(
                "**Rows from a Mac: 2 of 2**, from ````M2 {}````.",
                in_a_line(SHOWN)
            )),
            "{text}"
        );
    }
    svg_texts(&w.svg);
}

#[test]
fn a_hostile_file_name_is_cleaned_in_every_output_and_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let name = in_a_name(LABEL);
    let inputs = records(dir.path(), &name, |_| {});
    let w = written(dir.path(), &inputs);
    assert_everywhere(&w);
    let (cell, shown) = (in_a_name(CELL), in_a_name(SHOWN));
    let source = format!("{cell}-leak.json (json)");
    line_of(
        &w.terminal,
        &format!("| {source} | fork-per-job/pipe (test_fork_sleep) post-fork-check=leak |"),
    );
    line_of(&w.terminal, &format!("| leak | {source} | yes |"));
    assert!(
        w.terminal
            .contains(&format!("post-fork-check=leak | {shown}-leak.json (json)\n")),
        "{}",
        w.terminal
    );
    for text in [&w.cpython, &w.sage] {
        assert!(
            text.contains(&format!("| fork-per-job/pipe (test_fork_sleep) ({source}) |")),
            "{text}"
        );
    }
    let texts = svg_texts(&w.svg);
    assert!(
        texts.contains(&format!("{shown}-leak.json (json) | fork-per-job/pipe")),
        "{texts}"
    );

    // An input that is none, and one that is not there, named so: one line,
    // the name shown escaped.
    let bad = dir.path().join(format!("{name}.txt"));
    std::fs::write(&bad, "hello\n").unwrap();
    let err = run(*BIN, &[bad.to_str().unwrap()]).one_line_error(1).to_string();
    let at = dir.path().display();
    assert_eq!(
        err,
        format!("report: {at}/{shown}.txt: no line of any original found (neither a JSON record nor a transcript)\n")
    );
    let missing = dir.path().join("\x1b]0;pwned\x07.json");
    let err = run(*BIN, &[missing.to_str().unwrap()]).one_line_error(1).to_string();
    assert_eq!(
        err,
        format!("report: {at}/\\x1b]0;pwned\\x07.json: No such file or directory (os error 2)\n")
    );
    // A usage error naming a path is cleaned too, and still exit 2.
    let folder = dir.path().join("out\x1b[2J");
    std::fs::create_dir(&folder).unwrap();
    let out = run(
        *BIN,
        &["--markdown", folder.to_str().unwrap(), inputs[0].to_str().unwrap()],
    );
    let err = out.one_line_error(2).to_string();
    assert!(err.contains("out\\x1b[2J") && !err.contains('\x1b'), "{err}");
}
