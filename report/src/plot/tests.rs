//! Tests of the figure's layout helpers.

use super::axis::ticks;
use super::draw::boundaries;
use super::{panel_of, Figure, Series};
use crate::run::{Point, Run, SourceKind};

fn run(strategy: &str, sleep: Option<f64>, repeats: &[usize], kind: SourceKind) -> Run {
    let points = repeats
        .iter()
        .enumerate()
        .flat_map(|(k, &n)| {
            (0..n).map(move |_| Point {
                repeat: k,
                calls: 100,
                wall: 0.1,
                cost_per_job: 0.0,
            })
        })
        .collect();
    Run {
        source: "s".into(),
        kind,
        strategy: strategy.into(),
        os_arch: "unknown".into(),
        ncpus: Some(2),
        sleep,
        points,
        counters: Vec::new(),
        bars: Vec::new(),
        prun: Vec::new(),
        until_verdict: None,
    }
}

#[test]
fn ticks_are_integers_and_few() {
    assert_eq!(ticks(2), vec![1.0, 2.0]);
    assert_eq!(ticks(10), (1..=10).map(f64::from).collect::<Vec<_>>());
    assert_eq!(ticks(30), vec![1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]);
    for n in [1, 7, 13, 50, 99, 2000] {
        let t = ticks(n);
        assert!(
            t.len() <= 13 && t.iter().all(|x| x.fract() == 0.0 && *x >= 1.0 && *x <= n as f64),
            "{n}: {t:?}"
        );
    }
}

#[test]
fn bar_boundaries_sit_between_chunks() {
    let r = run("fork-per-job/pipe (t)", Some(0.001), &[3, 2, 1], SourceKind::Record);
    let s = Series {
        run: r,
        colour: super::COLOURS[0],
        dashed: false,
    };
    assert_eq!(boundaries(&s), vec![3.5, 5.5]);
}

#[test]
fn one_panel_per_kind_of_strategy() {
    let t = SourceKind::Transcript;
    let kinds = [
        ("fork-per-job (Sage @parallel)", Some(0.001), 0),
        ("fork-per-job/pipe (test_fork_sleep)", Some(0.001), 0),
        ("pool/spawn", Some(0.001), 1),
        ("ProcessPoolExecutor/fork", Some(0.001), 1),
        ("executor/fork (test_pool_sleep)", Some(0.001), 1),
        ("pool-per-call/spawn (test_spawn_sleep)", Some(0.001), 2),
        ("threads/team (test_threads_sleep)", Some(0.001), 3),
        ("OpenMP thread team", Some(0.005), 3),
        ("pool/fork (test_rf_pool)", None, 4),
        ("pool/forkserver RealField(100)", None, 4),
    ];
    for (strategy, sleep, panel) in kinds {
        assert_eq!(panel_of(&run(strategy, sleep, &[1], t)), panel, "{strategy}");
    }
}

#[test]
fn originals_and_ports_share_a_colour() {
    let orig = |s| run(s, Some(0.001), &[2], SourceKind::Transcript);
    let port = |s| run(s, Some(0.001), &[2], SourceKind::Record);
    let inputs = vec![
        vec![orig("fork-per-job (Sage @parallel)")],
        vec![port("fork-per-job/pipe (test_fork_sleep)")],
        vec![orig("pool/fork")],
        vec![port("pool/fork (test_pool_sleep)")],
    ];
    let fig = Figure::new(&inputs, true, None);
    assert_eq!(fig.panels.len(), 2);
    for p in &fig.panels {
        let [a, b] = &p.series[..] else { panic!("two series") };
        assert_eq!(
            (a.colour, a.dashed, b.colour, b.dashed),
            (a.colour, false, a.colour, true)
        );
    }
    assert_ne!(fig.panels[0].series[0].colour, fig.panels[1].series[0].colour);
    // Without --pairs every run has its own colour; records are dashed.
    let fig = Figure::new(&inputs, false, None);
    let all: Vec<&Series> = fig.panels.iter().flat_map(|p| &p.series).collect();
    assert_eq!(
        all.iter().map(|s| s.dashed).collect::<Vec<_>>(),
        vec![false, true, false, true]
    );
    for (i, a) in all.iter().enumerate() {
        assert!(all[i + 1..].iter().all(|b| b.colour != a.colour));
    }
}
