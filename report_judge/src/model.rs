//! The cost model: how much of a run's drift its leak explains.
//!
//! A fork-per-job run counts the map entries each fork leaves in the parent
//! (`Run::entries_per_fork`); a calibration of the same machine
//! (`report_read::calibration`, from `test_fork_sleep --calibrate` or
//! fork_repro.py) says what one more entry costs the parent's `fork()`.
//! Every job is one fork, so if the leak is the whole drift, the cost per
//! job grows per earlier fork by
//!
//! ```text
//! predicted = entries per fork × µs per entry
//! ```
//!
//! in the unit of the verdict's growth (`drift::Growth::
//! us_per_job_per_earlier_fork`). The µs per entry is read from the
//! calibration's points over the range of entries the run itself reached
//! (`Calibration::cost_over`), not from one global slope: the cost need not
//! be linear. The judgement holds the measured slope against it
//! ([`Outcome`], band [`BAND`]). What the model assumes, and where it fails,
//! is in `docs/model.md`.

use crate::verdict::Judged;
use drift::{Estimate, Trend};
use report_read::{Calibration, Run};

/// The ratio measured / predicted within which the leak accounts for the
/// drift. Why a factor of two each way: the calibration times one fork at
/// a time in a quiet parent, while a run forks `ncpus` children whose exits
/// share the cores with it, so the two costs are alike but not the same
/// (here, on 2 shared cores, the stand-in's ratio was 0.67–0.88); the
/// measured slope of a run of 1000 calls has an interval of ±10–25 %; and
/// the seed's own two sessions differ by 40 % (+0.10 and +0.14 µs per job per
/// earlier fork). A cause beside the leak as big as the leak itself
/// doubles the ratio, which this band still tells.
pub const BAND: (f64, f64) = (0.5, 2.0);

/// Map entries per fork below which a run leaks nothing the model can
/// price: the leak is one entry per fork, a clean run 0.00, and the table
/// shows two decimals.
pub const NO_LEAK: f64 = 0.01;

/// The session of the seed that [`project`] predicts: 3 bar()s of 1000
/// calls (`ParallelIssue.md`: 1.131 s → 2.980 s per 100 calls).
pub const SESSION_CALLS: u64 = 3000;

/// What the comparison says.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The ratio is within [`BAND`]: the leak accounts for the drift.
    Accounts,
    /// The time grows more than the leak explains (ratio above the band,
    /// or the time grows while the entries stay flat): something else
    /// grows. The counters that grew with the time (`drift` attribution).
    Larger { grew: Vec<String> },
    /// The time grows less than predicted (ratio below the band): an entry
    /// costs this run less than the calibration measured.
    Smaller,
    /// No leak, and no drift: nothing to explain.
    Neither,
    /// The run is too short for a timing verdict: the prediction only.
    NotMeasured,
}

/// One run's prediction against its measured slope.
#[derive(Clone, Debug, PartialEq)]
pub struct Model<'c> {
    pub calibration: &'c Calibration,
    /// Map entries per fork, as counted.
    pub entries_per_fork: f64,
    /// The extra entries the run reached: none before its first fork, at
    /// its rate up to its last.
    pub range: (f64, f64),
    /// µs per entry over that range, and whether the calibration's points
    /// covered it (else its slope).
    pub cost: Estimate,
    pub covered: bool,
    /// µs per job per earlier fork, predicted.
    pub predicted: Estimate,
    /// The same, measured (the verdict's growth); `None` when too short.
    pub measured: Option<Estimate>,
    /// measured / predicted, when both are there and the run leaks.
    pub ratio: Option<f64>,
    pub outcome: Outcome,
}

/// What the model can say of one run.
#[derive(Clone, Debug, PartialEq)]
pub enum Cost<'c> {
    Model(Model<'c>),
    /// No calibration names this run's machine (to the letter): a pasted
    /// report without one. Never guessed from another machine's.
    NotCalibrated,
}

/// The model of `run` on `machine` (as `report_read::once_each` names it)
/// with the first of `calibrations` measured on the same machine; `None`
/// for a run the model does not price (not fork per job, or its map entries
/// not counted).
pub fn model<'c>(run: &Run, machine: &str, calibrations: &'c [Calibration]) -> Option<Cost<'c>> {
    let e = run.entries_per_fork().filter(|_| run.is_fork_per_job())?;
    let Some(calibration) = calibrations.iter().find(|c| c.machine == machine) else {
        return Some(Cost::NotCalibrated);
    };
    // From none to what the run's last fork met: its forks in all (the
    // first chunk's too, made before the first reading) at its rate.
    let w = run.ncpus? as f64;
    let forks: f64 = run.points.iter().map(|p| p.calls as f64 * w).sum();
    let range = (0.0, (e * forks).max(0.0));
    let (cost, covered) = calibration.cost_over(range.0, range.1);
    let predicted = cost.scaled(e);
    let verdict = run.verdict();
    let measured = verdict.growth.and_then(|g| g.us_per_job_per_earlier_fork);
    let ratio = measured
        .filter(|_| e >= NO_LEAK && predicted.value > 0.0)
        .map(|m| m.value / predicted.value);
    let outcome = match (measured, ratio) {
        (None, _) => Outcome::NotMeasured,
        (Some(_), Some(r)) if r < BAND.0 => Outcome::Smaller,
        (Some(_), Some(r)) if r <= BAND.1 => Outcome::Accounts,
        (Some(m), None) if !(verdict.verdict == Trend::Drift && m.low > 0.0) => Outcome::Neither,
        (Some(_), _) => Outcome::Larger {
            grew: run
                .attribution()
                .map_or_else(Vec::new, |a| a.grows_with.into_iter().map(|g| g.counter).collect()),
        },
    };
    Some(Cost::Model(Model {
        calibration,
        entries_per_fork: e,
        range,
        cost,
        covered,
        predicted,
        measured,
        ratio,
        outcome,
    }))
}

/// What a full session would show, predicted from a run's count and its
/// machine's calibration: seconds per 100 calls at the start and after
/// [`SESSION_CALLS`] calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Projection {
    /// The run's first chunk, seconds per 100 calls.
    pub start: f64,
    /// Predicted after [`SESSION_CALLS`] calls.
    pub end: f64,
    /// The predicted slope as the verdict states it: percent of the median
    /// per 1000 calls (the seed's: +27.0 % and +34.5 %).
    pub pct_per_1000_calls: f64,
}

/// [`Projection`] of `run` by `m`: every call makes `w` forks (jobs), each
/// growing the cost of every later job by `predicted` µs; a chunk of 100
/// calls takes `100 (T + w × cost per job)`, so it grows by `100 w Δcost`.
/// The cost per entry is read over the range the whole session would reach
/// (`Calibration::cost_over`). `None` without jobs per call or a chunk.
pub fn project(run: &Run, m: &Model<'_>) -> Option<Projection> {
    let w = run.ncpus? as f64;
    let start = run.points.first()?.secs_per_100();
    let forks = SESSION_CALLS as f64 * w;
    let (cost, _) = m.calibration.cost_over(0.0, (m.entries_per_fork * forks).max(0.0));
    let per_fork_s = m.entries_per_fork * cost.value * 1e-6;
    let per_1000 = 100.0 * w * per_fork_s * 1000.0 * w;
    let end = start + per_1000 * SESSION_CALLS as f64 / 1000.0;
    let median = (start + end) / 2.0;
    Some(Projection {
        start,
        end,
        pct_per_1000_calls: 100.0 * per_1000 / median,
    })
}
