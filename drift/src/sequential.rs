//! The stopping rule of `--until-verdict`: look at the verdict after every
//! bar() and stop at the first DRIFT or no drift, without letting the many
//! looks inflate the false alarms.
//!
//! Stopping at the first look whose p is below 0.01 would fire far more
//! often than 1 % on pure noise: every look is another chance. The rule
//! here is a Bonferroni-type alpha spending with no bound on the number of
//! looks: look `k` (1, 2, 3, ...) asks for `p < 0.01 × 6/(π² k²)`. The sum
//! over all k of these thresholds is `0.01 × (6/π²) × Σ 1/k² = 0.01`, so by
//! the union bound the chance of a DRIFT on a series without trend is at
//! most 1 % however long the run goes, for any noise for which each look's
//! Mann–Kendall p-value is valid. The price: later looks need a smaller p
//! (look 10 needs 6.1e-5), which a real drift reaches with about
//! (z ratio)^(2/3) more calls, since z grows as calls^1.5 under a trend.
//! A Pocock or O'Brien–Fleming boundary would need the number of looks in
//! advance, which a time budget does not give; the union bound needs nothing
//! but the count of looks so far. The measured rates are in the README
//! ("Power") and in the tests of the `simulate` module.
//!
//! "no drift" is not adjusted: it needs the 95 % interval's upper end below
//! +5 % per 1000 calls at the look where it stops. Its error (a real drift
//! of +5 % or more called "no drift") is a miss, measured in the same table.

use crate::verdict::{Judge, Verdict, MAX_P, MIN_CHUNKS};
use serde::{Deserialize, Serialize};

/// The rule in words, for `--help` of `--until-verdict`.
pub const RULE: &str = "Stopping rule: after each bar() (once there are at least 6 chunks) the \
verdict is taken again; look k asks for Mann-Kendall p < 0.01 x 6/(pi^2 k^2) (0.0061, 0.0015, \
0.00068, ...: these sum to 0.01, so the false-alarm rate on pure noise stays at most 1 % however \
many looks) and stops at the first DRIFT or 'no drift' (95 % interval below +5 % per 1000 calls); \
when the time is up the verdict is inconclusive. A bar() under way is finished, so a run may \
overshoot by one bar().";

/// What DRIFT needs at look `k` (1-based): `MAX_P × 6/(π² k²)`.
pub fn max_p(look: u32) -> f64 {
    let k = f64::from(look.max(1));
    MAX_P * 6.0 / (std::f64::consts::PI * std::f64::consts::PI * k * k)
}

/// How an `--until-verdict` run stopped, stored with its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    /// The time budget, seconds.
    pub until_verdict_secs: f64,
    /// bar()s run.
    pub bars: u32,
    /// Looks taken (bar()s that ended with at least 6 chunks in all).
    pub looks: u32,
    /// The time was up before a decision.
    pub timed_out: bool,
}

/// The verdict at the `looks`-th look (0: none taken yet, judged as look 1).
pub fn look(points: &[(f64, f64)], looks: u32, judge: &Judge) -> Verdict {
    Verdict::judge(
        points,
        &Judge {
            max_p: max_p(looks),
            ..*judge
        },
    )
}

/// Whether a bar() that leaves `chunks` chunks in all counts as a look.
pub fn is_look(chunks: usize) -> bool {
    chunks >= MIN_CHUNKS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_sum_to_the_nominal_rate() {
        assert!((max_p(1) - 0.006_079_271_018_540_267).abs() < 1e-15);
        assert!(max_p(2) < max_p(1) && max_p(0) == max_p(1));
        let total: f64 = (1..=1_000_000).map(max_p).sum();
        assert!(total < MAX_P && total > 0.999_99 * MAX_P, "{total}");
    }
}
