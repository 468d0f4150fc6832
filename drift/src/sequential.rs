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
//! but the count of looks so far. The measured rates are in docs/verdict.md
//! ("Power, measured") and in the tests of the `simulate` module.
//!
//! "no drift" is not adjusted: it needs the 95 % interval's upper end below
//! +5 % per 1000 calls at the look where it stops. Its error (a real drift
//! of +5 % or more called "no drift") is a miss, measured in the same table.

// `Stop`, the record of how a run stopped, is defined beside the verdict
// that stores it, so that this module uses `verdict` and not the reverse.
pub use crate::verdict::Stop;
use crate::verdict::{Judge, Verdict, MAX_P, MIN_CHUNKS};

/// The rule in words, for `--help` of `--until-verdict`.
pub const RULE: &str = "Stopping rule: after each bar() (once there are at least 6 chunks) the \
verdict is taken again; look k asks for Mann-Kendall p < 0.01 x 6/(pi^2 k^2) (0.0061, 0.0015, \
0.00068, ...: these sum to 0.01, so the false-alarm rate on pure noise stays at most 1 % however \
many looks) and stops at the first DRIFT or 'no drift' (95 % interval below +5 % per 1000 calls); \
when the time is up the verdict is inconclusive. A bar() is not started when the last one's \
duration would overrun the time; one under way is finished. Measured on seeded noise: \
docs/verdict.md, 'Power, measured'.";

/// What DRIFT needs at look `k` (1-based): `MAX_P × 6/(π² k²)`.
pub fn max_p(look: u32) -> f64 {
    let k = f64::from(look.max(1));
    MAX_P * 6.0 / (std::f64::consts::PI * std::f64::consts::PI * k * k)
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

impl Stop {
    /// A run of at most `secs` seconds, nothing done yet.
    pub fn new(secs: f64) -> Stop {
        Stop {
            until_verdict_secs: secs,
            bars: 0,
            looks: 0,
            timed_out: false,
        }
    }

    /// After each bar(): counts it (and the look, if it is one) and tells
    /// whether to stop: decided (once at least `min_bars` bar()s ran), or
    /// `elapsed` seconds so far plus another bar() like the last
    /// (`last_bar` seconds) would overrun the budget (then `timed_out`
    /// unless decided). `points` are the run's chunks so far.
    pub fn after_bar(
        &mut self,
        points: &[(f64, f64)],
        judge: &Judge,
        min_bars: u64,
        elapsed: f64,
        last_bar: f64,
    ) -> bool {
        self.bars += 1;
        self.looks += u32::from(is_look(points.len()));
        let decided = self.looks > 0 && look(points, self.looks, judge).verdict.decided();
        if decided && u64::from(self.bars) >= min_bars {
            return true;
        }
        if elapsed + last_bar > self.until_verdict_secs {
            self.timed_out = !decided;
            return true;
        }
        false
    }
}

/// Whether a bar() that leaves `chunks` chunks in all counts as a look.
pub fn is_look(chunks: usize) -> bool {
    chunks >= MIN_CHUNKS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_when_decided_or_when_the_next_bar_would_overrun() {
        let judge = Judge::default();
        let points = |ys: &[f64]| crate::verdict::series_points(ys);
        let steep: Vec<f64> = (0..10).map(|i| 1.0 + 0.1 * f64::from(i)).collect();
        // A steep rise in 10 chunks: DRIFT at the first look (p < 0.0061).
        let mut s = Stop::new(60.0);
        assert!(s.after_bar(&points(&steep), &judge, 1, 2.0, 2.0));
        assert_eq!((s.bars, s.looks, s.timed_out), (1, 1, false));
        // ... but not before --repeat bar()s.
        let mut s = Stop::new(60.0);
        assert!(!s.after_bar(&points(&steep), &judge, 2, 2.0, 2.0));
        // Four chunks: no look yet; the time is not up either.
        let mut s = Stop::new(60.0);
        assert!(!s.after_bar(&points(&steep[..4]), &judge, 1, 2.0, 2.0));
        assert_eq!((s.bars, s.looks), (1, 0));
        // Noise in 8 chunks is undecided: stop only when another bar() of
        // 10 s would end after 60 s.
        let noisy = [1.0, 1.3, 0.8, 1.1, 0.9, 1.2, 0.7, 1.0];
        assert!(!s.after_bar(&points(&noisy), &judge, 1, 45.0, 10.0));
        assert!(s.after_bar(&points(&noisy), &judge, 1, 51.0, 10.0));
        assert_eq!((s.bars, s.looks, s.timed_out), (3, 2, true));
    }

    #[test]
    fn thresholds_sum_to_the_nominal_rate() {
        assert!((max_p(1) - 0.006_079_271_018_540_267).abs() < 1e-15);
        assert!(max_p(2) < max_p(1) && max_p(0) == max_p(1));
        let total: f64 = (1..=1_000_000).map(max_p).sum();
        assert!(total < MAX_P && total > 0.999_99 * MAX_P, "{total}");
    }
}
