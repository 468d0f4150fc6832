use assert_cmd::Command;
use std::path::PathBuf;
use timing::clock::Interval;
use timing::{Chunk, LineFormat, Repeat, RunRecord};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn report() -> Command {
    Command::cargo_bin("report").unwrap()
}

/// Cells of the table row whose first cell starts with `source`.
fn row(table: &str, source: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {source}")))
        .unwrap_or_else(|| panic!("no row for {source} in\n{table}"));
    line.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn both_seed_transcripts_are_drift() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("seed.svg");
    let out = report()
        .arg(data("seed_sage_parallel_v2.txt"))
        .arg(data("seed_ipython_pyparallel.txt"))
        .arg("--svg")
        .arg(&svg)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(out).unwrap();
    let sage = row(&table, "seed_sage_parallel_v2.txt:1-59 (transcript)");
    let py = row(&table, "seed_ipython_pyparallel.txt:1-76 (transcript)");
    assert_eq!(sage.len(), 11);
    assert_eq!(sage[10], "DRIFT", "{table}");
    assert_eq!(py[10], "DRIFT", "{table}");
    assert_eq!(sage[1], "fork-per-job (Sage @parallel)");
    assert_eq!(py[1], "fork-per-job (pure-Python @parallel emulation)");
    assert_eq!((sage[3].as_str(), sage[4].as_str()), ("8", "0.001 s"));
    // First and last chunk of each transcript, seconds per 100 calls.
    assert_eq!((sage[6].as_str(), sage[7].as_str()), ("1.131 s", "2.980 s"));
    assert_eq!((py[6].as_str(), py[7].as_str()), ("0.675 s", "5.034 s"));

    // The SVG is well-formed XML with one run line (a polyline of width 2)
    // per run, with one vertex per chunk (30 and 50 chunks).
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("valid XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let lines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .collect();
    assert_eq!(lines.len(), 2);
    let vertices: Vec<usize> = lines
        .iter()
        .map(|n| n.attribute("points").unwrap().split_whitespace().count())
        .collect();
    assert_eq!(vertices, vec![30, 50]);
    assert_ne!(lines[0].attribute("stroke"), lines[1].attribute("stroke"));
}

fn record(walls: &[&[f64]]) -> RunRecord {
    let mut rec = RunRecord::new(
        "test_fork_sleep",
        "fork-per-job/pipe",
        serde_json::json!({"ncpus": 2}),
        LineFormat::para(2, 0.001),
    );
    for bar in walls {
        rec.repeats.push(Repeat {
            chunks: bar
                .iter()
                .map(|&w| Chunk {
                    calls: 100,
                    cost_per_job: LineFormat::para(2, 0.001).cost_per_job(w, 100),
                    time: Interval {
                        wall: w,
                        ..Interval::default()
                    },
                    extra: None,
                })
                .collect(),
            calls: 100 * bar.len() as u64,
            totals: Some(Interval::default()),
        });
    }
    rec
}

#[test]
fn json_records_round_trip_into_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let flat = dir.path().join("flat.json");
    let rising = dir.path().join("rising.json");
    let flat_rec = record(&[&[0.2, 0.21, 0.2, 0.19, 0.2], &[0.2, 0.21, 0.19, 0.2, 0.2]]);
    let rising_rec = record(&[&[0.2, 0.22, 0.24, 0.26, 0.28], &[0.30, 0.32, 0.34, 0.36, 0.38]]);
    std::fs::write(&flat, serde_json::to_string_pretty(&flat_rec).unwrap()).unwrap();
    std::fs::write(&rising, serde_json::to_string_pretty(&rising_rec).unwrap()).unwrap();
    // The library reads back exactly the chunks written.
    let runs = report::load(&rising).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].kind, report::SourceKind::Record);
    assert_eq!(runs[0].repeats(), 2);
    let walls: Vec<f64> = runs[0].points.iter().map(|p| p.wall).collect();
    assert_eq!(walls, vec![0.2, 0.22, 0.24, 0.26, 0.28, 0.30, 0.32, 0.34, 0.36, 0.38]);
    assert_eq!(runs[0].verdict(), timing::Verdict::of_record(&rising_rec));

    let md = dir.path().join("table.md");
    report()
        .args([&flat, &rising])
        .arg("--markdown")
        .arg(&md)
        .assert()
        .success()
        .stdout("");
    let table = std::fs::read_to_string(&md).unwrap();
    let f = row(&table, "flat.json (json)");
    let r = row(&table, "rising.json (json)");
    assert_eq!(f[1], "fork-per-job/pipe (test_fork_sleep)");
    assert_eq!(
        f[2],
        format!("{}, {}", flat_rec.system.os_version, flat_rec.system.arch)
    );
    assert_eq!(f[10], "no drift");
    assert_eq!(r[10], "DRIFT");
    assert_eq!((r[6].as_str(), r[7].as_str()), ("0.200 s", "0.380 s"));
    // Median cost per job: (0.29 s/100 - 0.001)/2 = 0.95 ms.
    assert_eq!(r[5], "0.950 ms");
}

#[test]
fn pairs_give_a_side_by_side_table() {
    let dir = tempfile::tempdir().unwrap();
    let port = dir.path().join("port.json");
    let rec = record(&[&[0.675, 0.676, 0.674, 0.675, 0.677, 0.675]]);
    std::fs::write(&port, serde_json::to_string(&rec).unwrap()).unwrap();
    let out = report()
        .arg("--pairs")
        .arg(data("seed_ipython_pyparallel.txt"))
        .arg(&port)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8(out).unwrap();
    let pair = row(&table, "seed_ipython_pyparallel.txt:1-76 (transcript) | port.json");
    assert_eq!(pair[1], "port.json (json)");
    assert!(pair[5].starts_with("DRIFT (slope +"), "{table}");
    assert!(pair[6].starts_with("no drift"), "{table}");
    assert_eq!(pair[2], "3.132 ms");
}

#[test]
fn user_errors_are_one_line() {
    let out = report()
        .arg("/no/such/file.txt")
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("report: /no/such/file.txt"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello\n").unwrap();
    fails_with(report().arg(&junk), 1, "no line of any original");
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"schema\": 1}").unwrap();
    fails_with(report().arg(&bad_json), 1, "not a run record");

    fails_with(report().arg("--pairs").arg(&junk), 2, "--pairs needs an even number");
    let out = report().arg("--bogus").assert().code(2).get_output().stderr.clone();
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
    report().assert().code(2);
}

fn fails_with(cmd: &mut Command, code: i32, needle: &str) {
    let out = cmd.assert().code(code).get_output().stderr.clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains(needle) && err.lines().count() == 1, "{err}");
}

#[test]
fn help_states_the_rule() {
    let out = report().arg("--help").assert().success().get_output().stdout.clone();
    let help = String::from_utf8(out).unwrap();
    assert!(help.contains("DRIFT when p < 0.01"), "{help}");
    assert!(help.contains("fork-per-job"), "{help}");
}
