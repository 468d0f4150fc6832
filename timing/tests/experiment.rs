//! The chunk loop (`divmod(numcalls, 100)`) and `%time` around bar(), as the
//! binaries use them.

use timing::{chunk_sizes, CallIndex, Experiment, LineFormat, Outcome};

#[test]
fn divmod_by_100() {
    assert_eq!(chunk_sizes(1000).collect::<Vec<_>>(), vec![100; 10]);
    assert_eq!(chunk_sizes(250).collect::<Vec<_>>(), vec![100, 100, 50]);
    assert_eq!(chunk_sizes(7).collect::<Vec<_>>(), vec![7]);
    assert_eq!(chunk_sizes(0).count(), 0);
}

#[test]
fn calls_are_indexed_per_chunk_and_recorded() {
    let mut exp = Experiment::new("t", "s", serde_json::json!({}), LineFormat::para(2, 0.0), None).unwrap();
    let mut seen = Vec::new();
    exp.bar(|bar| {
        bar.chunks(205, |i| {
            seen.push(i);
            Ok::<(), ()>(())
        })
    })
    .unwrap();
    assert_eq!(seen.len(), 205);
    assert_eq!(seen[99], CallIndex { chunk: 0, call: 99 });
    assert_eq!(seen[100], CallIndex { chunk: 1, call: 100 });
    assert_eq!(seen[204], CallIndex { chunk: 2, call: 204 });
    let rec = exp.finish(&Outcome::Completed).unwrap();
    let r = &rec.repeats[0];
    assert_eq!(r.chunks.iter().map(|c| c.calls).collect::<Vec<_>>(), vec![100, 100, 5]);
    assert_eq!(r.calls, 205);
    assert!(r.totals.is_some());
    assert_eq!(rec.verdict.as_ref().map(|v| v.chunks), Some(3));
}

#[test]
fn each_call_records_one_call_chunks() {
    let mut exp = Experiment::new("t", "s", serde_json::json!({}), LineFormat::para(2, 0.0), None).unwrap();
    let mut seen = Vec::new();
    exp.bar(|bar| {
        bar.each_call(
            3,
            || "x ".into(),
            |i| {
                seen.push(i.call);
                Ok::<(), ()>(())
            },
            |d| d.to_string(),
        )
    })
    .unwrap();
    assert_eq!(seen, vec![0, 1, 2]);
    let rec = exp.finish(&Outcome::Completed).unwrap();
    assert_eq!(rec.repeats[0].chunks.len(), 3);
    assert!(rec.repeats[0].chunks.iter().all(|c| c.calls == 1));
    assert_eq!(rec.repeats[0].calls, 3);
}

#[test]
fn a_failed_call_keeps_the_chunks_done() {
    let mut exp = Experiment::new("t", "s", serde_json::json!({}), LineFormat::para(2, 0.0), None).unwrap();
    let res = exp.bar(|bar| bar.chunks(300, |i| if i.call == 150 { Err("boom") } else { Ok(()) }));
    assert_eq!(res, Err("boom"));
    let rec = exp.finish(&Outcome::Interrupted(2)).unwrap();
    assert!(rec.interrupted);
    assert_eq!(rec.repeats[0].chunks.len(), 1);
    assert_eq!(rec.repeats[0].calls, 150);
    assert!(rec.repeats[0].totals.is_none());
}

#[test]
fn the_witness_reads_the_tool_before_the_first_bar_and_after_the_last() {
    let run = |params: serde_json::Value| {
        let mut exp = Experiment::new("t", "s", params, LineFormat::para(1, 0.0), None).unwrap();
        let mut kept = Vec::new();
        // Each bar() keeps 40 more mappings that cannot merge.
        let outcome = exp.repeat(2, |bar| {
            kept.push(probes::churn::MapChurn::new(40, 1).unwrap());
            let churn = kept.last_mut().unwrap();
            bar.chunks(1, |_| churn.before_call().map_err(|e| Outcome::Failed(e.to_string())))
        });
        assert_eq!(outcome, Outcome::Completed);
        exp.finish(&outcome).unwrap()
    };
    assert_eq!(run(serde_json::json!({})).witness, None, "off unless the params say on");
    assert_eq!(run(serde_json::json!({"witness": "off"})).witness, None);
    if probes::witness::Tool::here() != Some(probes::witness::Tool::Pmap)
        || std::process::Command::new("pmap").arg("-V").output().is_err()
    {
        println!("skipped: the tool run needs pmap (Linux)");
        return;
    }
    let w = run(serde_json::json!({"witness": "on"})).witness.unwrap();
    assert_eq!(
        (w.tool, w.refused.as_deref(), w.forks),
        (probes::witness::Tool::Pmap, None, Some(0))
    );
    let (before, after) = (w.before.unwrap().total, w.after.unwrap().total);
    // 80 kept mappings, give or take what the test harness's threads map.
    assert!(
        (75..=100).contains(&(after as i64 - before as i64)),
        "{before} -> {after}"
    );
}
