//! A record's witness (the system tool's count of the port's regions before
//! the first bar() and after the last) read back by `report` and set beside
//! the counter: the last cell of the evidence row says whether they agree.

use probes::witness::{Regions, Tool, Witness};
use testkit::{cargo_bin, command, run_with};
use timing::clock::Interval;
use timing::{Chunk, LineFormat, Repeat, RunRecord};

/// A fork-per-job record of 10 chunks of 100 calls x 2 forks whose
/// vm_map_entries grow by one a fork, and whose witness grew by `seen`.
fn record(seen: u64) -> RunRecord {
    let line = LineFormat::para(2, 0.001);
    let mut rec = RunRecord::new(
        "test_fork_sleep",
        "fork-per-job/pipe",
        serde_json::json!({}),
        line.clone(),
    );
    rec.repeats.push(Repeat {
        chunks: (0..10)
            .map(|i| Chunk {
                calls: 100,
                cost_per_job: line.cost_per_job(0.2, 100),
                time: Interval {
                    wall: 0.2,
                    ..Interval::default()
                },
                extra: None,
                resources: Some([("vm_map_entries".to_string(), 100 + 200 * (i + 1))].into()),
            })
            .collect(),
        calls: 1000,
        totals: Some(Interval::default()),
    });
    // As older records hold it: no counters kept with the readings, so
    // the chunks' readings are the comparison.
    let regions = |total| Regions {
        total,
        ..Regions::default()
    };
    rec.witness = Some(Witness {
        tool: Tool::Pmap,
        before: Some(regions(90)),
        after: Some(regions(90 + seen)),
        forks: Some(2000),
        refused: None,
    });
    rec
}

/// The witness cell of the run's row of `report --hypothesis`.
fn witness_cell(rec: &RunRecord) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    std::fs::write(&path, serde_json::to_string(rec).unwrap()).unwrap();
    let back = report_read::load(&path).unwrap();
    assert_eq!(back[0].witness, rec.witness, "the record's witness reads back");
    let r = run_with(command(cargo_bin!("report")).arg("--hypothesis").arg(&path));
    let out = r.assert_success();
    let header = out.lines().find(|l| l.starts_with("| run |")).unwrap();
    // The witness sits beside the mechanism's cells, before the timing's.
    let column = header
        .split(" | ")
        .position(|c| c == "witness per fork")
        .unwrap_or_else(|| panic!("{header}"));
    assert_eq!(header.split(" | ").nth(column - 1), Some("mechanism"), "{header}");
    let row = out
        .lines()
        .find(|l| l.starts_with("| ") && l.contains("fork-per-job/pipe"))
        .unwrap_or_else(|| panic!("{out}"));
    row.split(" | ").nth(column).unwrap().trim_end_matches(" |").to_string()
}

#[test]
fn the_witness_agrees_or_not_with_the_counter() {
    assert_eq!(witness_cell(&record(2000)), "+1.00 pmap, agrees");
    // A witness that saw nothing where the counter saw one entry a fork.
    assert_eq!(witness_cell(&record(5)), "+0.00 pmap, disagrees (vm_map_entries +1.00)");
    let mut none = record(0);
    none.witness = None;
    assert_eq!(witness_cell(&none), "-");
}
