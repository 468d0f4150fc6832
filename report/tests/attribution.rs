//! `report` shows the drift attribution of records that carry resource
//! counters, and `--counter NAME` plots one of them.

use testkit::{cargo_bin, command, run_with};
use timing::clock::Interval;
use timing::{Chunk, LineFormat, Repeat, RunRecord};

/// A record of 12 chunks whose times rise with `vm_regions` when `drift`,
/// and stay flat (with a counter that does not move) otherwise.
fn record(drift: bool) -> RunRecord {
    let mut rec = RunRecord::new(
        "test_fork_sleep",
        "fork-per-job/pipe",
        serde_json::json!({}),
        LineFormat::para(2, 0.0),
    );
    let chunks = (0..12)
        .map(|i| {
            let wall = if drift {
                0.25 * (1.0 + 0.2 * i as f64)
            } else {
                0.25 + 0.001 * ((i * 7) % 5) as f64
            };
            let regions = if drift { 434 + 400 * i as u64 } else { 40 };
            let resources = [("vm_regions", regions), ("threads", 1)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            Chunk {
                calls: 100,
                cost_per_job: 0.0,
                time: Interval {
                    wall,
                    ..Interval::default()
                },
                extra: None,
                resources: Some(resources),
            }
        })
        .collect();
    rec.repeats.push(Repeat {
        chunks,
        calls: 1200,
        totals: None,
    });
    rec
}

#[test]
fn the_table_names_what_grew_and_the_plot_shows_a_counter() {
    let dir = tempfile::tempdir().unwrap();
    let (churn, clean) = (dir.path().join("churn.json"), dir.path().join("clean.json"));
    std::fs::write(&churn, serde_json::to_string(&record(true)).unwrap()).unwrap();
    std::fs::write(&clean, serde_json::to_string(&record(false)).unwrap()).unwrap();
    let svg = dir.path().join("regions.svg");
    let mut cmd = command(cargo_bin!("report"));
    cmd.args([&churn, &clean])
        .arg("--counter")
        .arg("vm_regions")
        .arg("--svg")
        .arg(&svg);
    let table = run_with(&mut cmd).assert_success().to_string();
    assert!(table.contains("| verdict | grows with |"), "{table}");
    let churn_row = table.lines().find(|l| l.starts_with("| churn.json")).unwrap();
    let clean_row = table.lines().find(|l| l.starts_with("| clean.json")).unwrap();
    // Columns 12 and 13: verdict, grows with.
    let cells = |row: &str| -> Vec<String> {
        row.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let (churn_cells, clean_cells) = (cells(churn_row), cells(clean_row));
    assert_eq!(
        churn_cells[12..14],
        ["DRIFT", "vm_regions (tau 1.00; 434 -> 4834)"],
        "{churn_row}"
    );
    assert_eq!(clean_cells[12..14], ["no drift", "none (no drift)"], "{clean_row}");

    // The counter's values are what is drawn: the y axis is named after it.
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
    assert!(texts.contains(&"vm_regions"), "no vm_regions axis: {texts:?}");
    assert!(text.contains("grows with: vm_regions"), "legend lacks the attribution");
}
