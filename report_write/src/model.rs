//! The cost model in words (`report_judge::model`): a sentence per run for
//! Findings, the `## Cost model` section (one row per priced run) and,
//! for runs too short for a timing verdict (`ci/diagnose.sh --quick`), what
//! a full session would show beside the seed's own numbers.

use crate::escape::markdown_cell as cell;
use drift::Estimate;
use report_judge::model::{model, project, Cost, Model, Outcome, BAND, NO_LEAK, SESSION_CALLS};
use report_read::{Calibration, Run};
use timing::pyfmt::thousands;

/// `+2.13 (+2.06 to +2.20)`: the report's one form of an estimate
/// (`crate::markdown::estimate`).
fn estimate(e: Estimate) -> String {
    crate::markdown::estimate(Some(e))
}

/// `0–8,000`.
fn range((lo, hi): (f64, f64)) -> String {
    let count = |v: f64| thousands(v.max(0.0).round() as u64);
    format!("{}–{}", count(lo), count(hi))
}

/// The predicted cell: `0 (no leak)` below [`NO_LEAK`] entries per fork
/// (an interval of one number says nothing).
fn predicted(m: &Model<'_>) -> String {
    if m.entries_per_fork.abs() < NO_LEAK {
        "0 (no leak)".into()
    } else {
        estimate(m.predicted)
    }
}

/// What the outcome says, in words.
pub fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Accounts => format!(
            "the leak accounts for the drift (measured / predicted within {}–{})",
            BAND.0, BAND.1
        ),
        Outcome::Larger { grew } if grew.is_empty() => {
            "the drift is larger than the leak explains (no counter read grew with the time)".into()
        }
        Outcome::Larger { grew } => format!(
            "the drift is larger than the leak explains; grew with the time: {}",
            grew.iter().map(|g| cell(g)).collect::<Vec<_>>().join(", ")
        ),
        Outcome::Smaller => "the drift is smaller than the leak predicts (an entry costs this run less than \
                             the calibration measured)"
            .into(),
        Outcome::Neither => "neither the map nor the time grows".into(),
        Outcome::NotMeasured => "too short to measure its slope; see what a full session would show".into(),
    }
}

/// The sentence of one run: `Cost model: 1.00 map entries per fork ×
/// +2.13 µs per entry (…) predicts …; measured …, ratio 0.67: the leak
/// accounts for the drift (…).`
pub fn sentence(c: &Cost<'_>) -> String {
    let m = match c {
        Cost::NotCalibrated => {
            return "Cost model: not calibrated: no calibration of this machine among the inputs \
                    (`test_fork_sleep --calibrate --json FILE`, or fork_repro.py's `fork cost:` line); \
                    not guessed from another machine's."
                .into()
        }
        Cost::Model(m) => m,
    };
    let mut s = if m.entries_per_fork.abs() < NO_LEAK {
        "Cost model: no map entry per fork, so no drift predicted".to_string()
    } else {
        format!(
            "Cost model: {:.2} map entries per fork × {} µs per entry ({}, entries {}{}) predicts {} µs per \
             job per earlier fork",
            m.entries_per_fork,
            estimate(m.cost),
            cell(&m.calibration.source),
            range(m.range),
            if m.covered { "" } else { ", its slope" },
            predicted(m)
        )
    };
    if let Some(measured) = m.measured {
        s += &format!("; measured {}", estimate(measured));
    }
    if let Some(r) = m.ratio {
        s += &format!(", ratio {r:.2}");
    }
    s + ": " + &outcome(&m.outcome) + "."
}

/// The priced runs of `runs` (`machines[i]` names the machine of
/// `runs[i]`), with their model.
fn priced<'r, 'c>(runs: &'r [Run], machines: &[String], calibrations: &'c [Calibration]) -> Vec<(&'r Run, Cost<'c>)> {
    runs.iter()
        .zip(machines)
        .filter_map(|(r, m)| Some((r, model(r, m, calibrations)?)))
        .collect()
}

/// The `## Cost model` section: one row per run whose map entries were
/// counted, then, for runs too short for a timing verdict, what a full
/// session would show. Empty when no run is priced.
pub fn section(runs: &[Run], machines: &[String], calibrations: &[Calibration]) -> String {
    let rows = priced(runs, machines, calibrations);
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Cost model\n\nPredicted drift = map entries per fork × what one more entry costs a fork on the \
         machine (its calibration, read over the entries the run reached), in µs per job per earlier fork, \
         beside the measured slope (`docs/model.md`).\n\n",
    );
    if calibrations.is_empty() {
        return out + &sentence(&Cost::NotCalibrated) + "\n\n";
    }
    out += "| run | map entries per fork | µs per entry | predicted | measured | ratio | the leak |\n\
            |---|--:|--:|--:|--:|--:|---|\n";
    for (run, c) in &rows {
        match c {
            Cost::NotCalibrated => {
                out += &format!(
                    "| {} | | | | | | not calibrated (no calibration of its machine) |\n",
                    cell(&run.strategy)
                );
            }
            Cost::Model(m) => {
                out += &format!(
                    "| {} | {:.2} | {} | {} | {} | {} | {} |\n",
                    cell(&run.strategy),
                    m.entries_per_fork,
                    estimate(m.cost),
                    predicted(m),
                    m.measured.map_or("too short".into(), estimate),
                    m.ratio.map_or(String::new(), |r| format!("{r:.2}")),
                    outcome(&m.outcome)
                );
            }
        }
    }
    out += "\n";
    out + &session(&rows)
}

/// What a full session would show: for the runs too short for a verdict,
/// seconds per 100 calls at the start and after 3 × 1000 calls of bar(),
/// predicted from their count and calibration, beside the seed's.
fn session(rows: &[(&Run, Cost<'_>)]) -> String {
    let quick: Vec<(&Run, &Model<'_>)> = rows
        .iter()
        .filter_map(|(r, c)| match c {
            Cost::Model(m) if m.outcome == Outcome::NotMeasured => Some((*r, m)),
            _ => None,
        })
        .collect();
    if quick.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "### What a full session would show (3 × 1000 calls of bar())\n\n\
         Predicted from each run's count and its machine's calibration: every call makes `ncpus` forks, each \
         adding its entries to every later fork. The seed's Sage session measured 1.131 s → 2.980 s per 100 \
         calls over {SESSION_CALLS} calls (+27.0 % and +34.5 % per 1000 calls, Sage's `@parallel` and the \
         pure-Python emulation).\n\n\
         | run | s per 100 calls, first chunk | after {SESSION_CALLS} calls (predicted) | per 1000 calls \
         (predicted) |\n|---|--:|--:|--:|\n"
    );
    for (run, m) in quick {
        if let Some(p) = project(run, m) {
            out += &format!(
                "| {} | {:.3} s | {:.3} s | {:+.1} % |\n",
                cell(&run.strategy),
                p.start,
                p.end,
                p.pct_per_1000_calls
            );
        }
    }
    out + "\n"
}

/// The sentences of `runs` for one Findings group, one line each, naming
/// the run; empty when none is priced.
pub fn lines(runs: &[(&Run, &String)], calibrations: &[Calibration]) -> String {
    let mut out = String::new();
    for (run, machine) in runs {
        if let Some(c) = model(run, machine, calibrations) {
            out += &format!("{} ({}).\n", sentence(&c).trim_end_matches('.'), cell(&run.source));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_and_ranges_read_as_the_rest_of_the_report() {
        let e = |value, low, high| Estimate { value, low, high };
        assert_eq!(estimate(e(2.13, 2.06, 2.2)), "+2.13 (+2.06 to +2.2)");
        assert_eq!(estimate(e(-0.0005, -0.001, 0.0002)), "-0.0005 (-0.001 to +0.0002)");
        assert_eq!(range((0.0, 16000.0)), "0–16,000");
    }
}
