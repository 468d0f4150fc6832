//! The cost model on runs recorded on a machine of this kind (Linux, 2
//! shared cores; the commands are in `docs/model.md`), read as `report`
//! reads them: the calibration (`test_fork_sleep --calibrate --json`), the
//! stand-in leak at one and at two entries per fork (`--map-churn 8` over
//! 2 × 1000 calls, `--map-churn 16` over 2 × 500 calls: the same 16,000
//! entries), and a run without it. Nothing here is timed: the records are
//! data, and what is asserted is what the model makes of them.

use drift::Trend;
use report_judge::model::{model, project, Cost, Model, Outcome, BAND};
use report_judge::Judged;
use report_read::{load_input, Calibration, Run};
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/model")
        .join(name)
}

fn calibrations() -> Vec<Calibration> {
    let input = load_input(&data("cal.json")).unwrap();
    assert!(input.runs.is_empty(), "a calibration holds no run");
    input.calibrations
}

fn run(name: &str) -> Run {
    let mut runs = load_input(&data(name)).unwrap().runs;
    assert_eq!(runs.len(), 1);
    runs.remove(0)
}

fn priced<'c>(run: &Run, cals: &'c [Calibration]) -> Model<'c> {
    match model(run, &run.machine, cals) {
        Some(Cost::Model(m)) => m,
        other => panic!("{}: {other:?}", run.source),
    }
}

#[test]
fn the_calibration_is_this_machines_and_positive() {
    let cals = calibrations();
    assert_eq!(cals.len(), 1);
    let c = &cals[0];
    assert_eq!(c.source, "cal.json (fork calibration)");
    assert_eq!(c.machine, run("churn8.json").machine, "named as its runs are");
    assert!(c.us_per_entry.low > 0.0, "{:?}", c.us_per_entry);
    assert_eq!(c.entries, (0.0, 16000.0));
    assert_eq!(c.points.len(), 9);
}

#[test]
fn one_entry_per_fork_accounts_for_the_drift() {
    let cals = calibrations();
    let m = priced(&run("churn8.json"), &cals);
    assert!((m.entries_per_fork - 1.0).abs() < 0.01, "{}", m.entries_per_fork);
    assert_eq!(m.range, (0.0, 16000.0));
    assert!(m.covered);
    let r = m.ratio.expect("a ratio");
    assert!((BAND.0..=BAND.1).contains(&r), "{r}");
    assert_eq!(m.outcome, Outcome::Accounts);
    let measured = m.measured.expect("a measured slope");
    assert!(
        m.predicted.low < measured.high && measured.low < m.predicted.high,
        "{m:?}"
    );
}

#[test]
fn two_entries_per_fork_over_the_same_entries_double_the_prediction() {
    let cals = calibrations();
    let (one, two) = (priced(&run("churn8.json"), &cals), priced(&run("churn16.json"), &cals));
    assert!((two.entries_per_fork - 2.0).abs() < 0.02, "{}", two.entries_per_fork);
    assert_eq!(one.range, two.range, "the same range of entries");
    assert_eq!(one.cost, two.cost, "so the same cost per entry");
    let k = two.predicted.value / one.predicted.value;
    assert!((k - 2.0).abs() < 0.02, "{k}");
}

#[test]
fn no_leak_and_no_drift_is_neither() {
    let cals = calibrations();
    let m = priced(&run("plain.json"), &cals);
    assert!(m.entries_per_fork.abs() < 0.01);
    assert_eq!(m.ratio, None);
    assert_eq!(m.outcome, Outcome::Neither);
}

#[test]
fn time_that_grows_while_the_entries_stay_flat_is_larger_than_the_leak() {
    let cals = calibrations();
    let mut r = run("plain.json");
    // The same run, each chunk 20 % of the first slower than the one
    // before: a drift the flat map cannot explain.
    let first = r.points[0].wall;
    for (k, p) in r.points.iter_mut().enumerate() {
        p.wall = first * (1.0 + 0.2 * k as f64);
    }
    assert_eq!(r.verdict().verdict, Trend::Drift);
    let m = priced(&r, &cals);
    assert!(matches!(m.outcome, Outcome::Larger { .. }), "{m:?}");
}

#[test]
fn a_run_of_another_machine_is_not_calibrated() {
    let cals = calibrations();
    let r = run("churn8.json");
    assert_eq!(
        model(&r, "macOS 15.5 (24F74), arm64, Apple M2", &cals),
        Some(Cost::NotCalibrated)
    );
    assert_eq!(model(&r, &r.machine, &[]), Some(Cost::NotCalibrated));
}

#[test]
fn a_short_run_predicts_the_full_session_and_the_seeds_rate_predicts_the_seed() {
    let cals = calibrations();
    let mut r = run("churn8.json");
    r.points.truncate(2);
    r.counters.iter_mut().for_each(|(_, v)| v.truncate(2));
    let m = priced(&r, &cals);
    assert_eq!(m.outcome, Outcome::NotMeasured);
    let p = project(&r, &m).expect("a projection");
    assert_eq!(p.start, r.points[0].secs_per_100());
    // 3000 calls of 8 forks at one entry each: 24,000 entries, beyond the
    // 16,000 calibrated, so the slope prices them.
    let per_1000 = 100.0 * 8.0 * 1.0e-3 * 8.0 * m.entries_per_fork * m.calibration.us_per_entry.value;
    assert!((p.end - p.start - 3.0 * per_1000).abs() < 1e-9, "{p:?}");

    // The seed's session: 8 jobs a call, 1.131 s per 100 calls at first,
    // about +0.1 µs per job per earlier fork (one entry per fork at
    // 0.1 µs). The model's 3000 calls end within 5 % of its 2.980 s.
    let seed = Calibration {
        us_per_entry: drift::Estimate {
            value: 0.1,
            low: 0.09,
            high: 0.11,
        },
        points: Vec::new(),
        ..m.calibration.clone()
    };
    let mut seed_run = r.clone();
    seed_run.points[0].wall = 1.131 * seed_run.points[0].calls as f64 / 100.0;
    let sm = Model {
        calibration: &seed,
        entries_per_fork: 1.0,
        ..m.clone()
    };
    let p = project(&seed_run, &sm).unwrap();
    assert!((p.start - 1.131).abs() < 1e-9);
    assert!((p.end / 2.980 - 1.0).abs() < 0.05, "{p:?}");
    assert!((20.0..40.0).contains(&p.pct_per_1000_calls), "{p:?}");
}
