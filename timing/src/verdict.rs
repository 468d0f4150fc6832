//! The drift verdict printed at the end of every run and stored in its record.
//!
//! A user of the originals eyeballs ten chunk lines per bar() and cannot tell a
//! 5 % drift from noise. The verdict looks at the chunk times of a whole run
//! (seconds per 100 calls, every chunk in order across all repeated bar()s) and
//! answers with two numbers:
//!
//! - the **Theil–Sen slope**: the median of the slopes between every pair of
//!   chunks, with the chunk's position measured in calls (the middle of the
//!   chunk, counted from the first call of the run), expressed as percent of the
//!   median chunk time per 1000 calls. The median makes it robust to the odd
//!   slow chunk (a scheduler hiccup), which an ordinary least-squares fit is not;
//! - the **Mann–Kendall trend test**: `S = Σ_{i<j} sign(y_j − y_i)`, its
//!   variance `[n(n−1)(2n+5) − Σ_t t(t−1)(2t+5)] / 18` corrected for groups of
//!   `t` tied values (printed chunk times often tie), the continuity-corrected
//!   `z = (S − sign S) / √Var`, and the two-sided p-value `erfc(|z|/√2)`.
//!
//! The rule is [`RULE`]. Its weak point is the independence that Mann–Kendall
//! assumes: on a shared machine whose load rises during the run (measured
//! here: a test_fork_sleep run without churn went from 0.25 to 0.35 s per 100
//! calls when another process started, +14 % per 1000 calls, p = 3.5e-5) the
//! verdict is DRIFT although nothing in the process grew. Both statistics need no assumption about the noise
//! distribution; Mann–Kendall alone would flag a trend of 0.1 %, which is real
//! but harmless, hence the minimum slope.

use crate::pyfmt::g;
use crate::record::RunRecord;
use serde::{Deserialize, Serialize};

/// Fewer chunks than this give no verdict.
pub const MIN_CHUNKS: usize = 6;
/// Mann–Kendall two-sided p-value below which a trend counts.
pub const MAX_P: f64 = 0.01;
/// Smallest Theil–Sen slope, percent of the median chunk time per 1000 calls,
/// that counts as drift.
pub const MIN_SLOPE_PCT: f64 = 5.0;

/// The rule in words, for `--help` (`after_help`) and the README.
pub const RULE: &str = "Drift verdict (last line of every run): the chunk times (seconds per 100 calls, \
every chunk in order across all repeats) get a Theil-Sen slope, expressed as percent of the median chunk \
time per 1000 calls, and a two-sided Mann-Kendall trend test (tie-corrected variance, continuity \
correction). DRIFT when p < 0.01 and the slope is at least +5 % per 1000 calls; 'no drift' otherwise; \
'too few chunks' under 6 chunks. The test assumes chunk times vary independently: a change of load on \
the machine during the run (other processes) shows as drift too, so confirm a DRIFT on a quiet machine.";

/// The three answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trend {
    #[serde(rename = "DRIFT")]
    Drift,
    #[serde(rename = "no drift")]
    NoDrift,
    #[serde(rename = "too few chunks")]
    TooFewChunks,
}

impl std::fmt::Display for Trend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trend::Drift => "DRIFT",
            Trend::NoDrift => "no drift",
            Trend::TooFewChunks => "too few chunks",
        })
    }
}

/// The verdict on one run, with the numbers behind it. The statistics are
/// `None` when there are too few chunks (or, for the slope, when the median
/// chunk time is not positive), never NaN (JSON has no NaN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: Trend,
    /// Number of chunks looked at.
    pub chunks: usize,
    /// Median chunk time, seconds per 100 calls.
    pub median_secs_per_100: Option<f64>,
    /// Theil–Sen slope, percent of the median chunk time per 1000 calls.
    pub slope_pct_per_1000_calls: Option<f64>,
    /// Mann–Kendall S.
    pub mk_s: Option<i64>,
    /// Variance of S, tie-corrected.
    pub mk_var: Option<f64>,
    /// Continuity-corrected z.
    pub z: Option<f64>,
    /// Two-sided p-value.
    pub p: Option<f64>,
}

impl Verdict {
    /// The verdict on `(x, y)` points in time order: `x` the position in calls,
    /// `y` seconds per 100 calls.
    pub fn of_points(points: &[(f64, f64)]) -> Verdict {
        let n = points.len();
        if n < MIN_CHUNKS {
            return Verdict {
                verdict: Trend::TooFewChunks,
                chunks: n,
                median_secs_per_100: None,
                slope_pct_per_1000_calls: None,
                mk_s: None,
                mk_var: None,
                z: None,
                p: None,
            };
        }
        let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
        let median_y = median(ys.clone());
        let slope = theil_sen(points);
        let slope_pct = (median_y > 0.0)
            .then(|| slope * 1000.0 / median_y * 100.0)
            .filter(|s| s.is_finite());
        let mk = mann_kendall(&ys);
        let drift = mk.p < MAX_P && slope_pct.is_some_and(|s| s >= MIN_SLOPE_PCT);
        Verdict {
            verdict: if drift { Trend::Drift } else { Trend::NoDrift },
            chunks: n,
            median_secs_per_100: Some(median_y).filter(|m| m.is_finite()),
            slope_pct_per_1000_calls: slope_pct,
            mk_s: Some(mk.s),
            mk_var: Some(mk.var),
            z: Some(mk.z),
            p: Some(mk.p),
        }
    }

    /// The verdict on a series of chunks of 100 calls each.
    pub fn of_series(secs_per_100: &[f64]) -> Verdict {
        let points: Vec<(f64, f64)> = secs_per_100
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64 * 100.0 + 50.0, y))
            .collect();
        Verdict::of_points(&points)
    }

    /// The verdict on a run record: the same chunks as
    /// [`RunRecord::chunk_series`], placed at their real positions in calls
    /// (a remainder chunk of `r < 100` calls is shorter).
    pub fn of_record(record: &RunRecord) -> Verdict {
        Verdict::of_points(&points(record))
    }

    /// The one extra line printed after the last `%time` block, for humans
    /// only (nothing parses it):
    /// `Drift verdict (extra): no drift; slope +0.8 % per 1000 calls, Mann-Kendall p=0.42, 10 chunks`.
    pub fn line(&self) -> String {
        match self.verdict {
            Trend::TooFewChunks => format!(
                "Drift verdict (extra): too few chunks ({} chunks, at least {MIN_CHUNKS} needed)",
                self.chunks
            ),
            v => {
                let slope = self
                    .slope_pct_per_1000_calls
                    .map_or("n/a".to_string(), |s| format!("{s:+.1} %"));
                let p = self.p.map_or("n/a".to_string(), |p| g(p, 2));
                format!(
                    "Drift verdict (extra): {v}; slope {slope} per 1000 calls, Mann-Kendall p={p}, {} chunks",
                    self.chunks
                )
            }
        }
    }
}

/// `(position in calls, seconds per 100 calls)` of every non-empty chunk of
/// the record, in order across repeats; the position is the middle of the
/// chunk counted from the first call of the run.
pub fn points(record: &RunRecord) -> Vec<(f64, f64)> {
    let mut done = 0u64;
    let mut out = Vec::new();
    for c in record.repeats.iter().flat_map(|r| &r.chunks).filter(|c| c.calls > 0) {
        out.push((done as f64 + c.calls as f64 / 2.0, c.time.wall * 100.0 / c.calls as f64));
        done += c.calls;
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Theil–Sen estimator: the median of `(y_j − y_i)/(x_j − x_i)` over every
/// pair with `x_i ≠ x_j`. Zero when there is no such pair.
pub fn theil_sen(points: &[(f64, f64)]) -> f64 {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, &(xi, yi)) in points.iter().enumerate() {
        for &(xj, yj) in &points[i + 1..] {
            if xj != xi {
                slopes.push((yj - yi) / (xj - xi));
            }
        }
    }
    let m = median(slopes);
    if m.is_finite() {
        m
    } else {
        0.0
    }
}

/// Result of the Mann–Kendall test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannKendall {
    pub s: i64,
    pub var: f64,
    pub z: f64,
    pub p: f64,
}

/// Mann–Kendall trend test on a series in time order (see the module doc).
/// A series of ties only has variance 0: then `z = 0`, `p = 1`.
pub fn mann_kendall(y: &[f64]) -> MannKendall {
    let n = y.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += match y[j].partial_cmp(&y[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let term = |t: f64| t * (t - 1.0) * (2.0 * t + 5.0);
    let mut ties = 0.0;
    let mut k = 0;
    while k < n {
        let mut e = k + 1;
        while e < n && sorted[e] == sorted[k] {
            e += 1;
        }
        ties += term((e - k) as f64);
        k = e;
    }
    let var = ((term(n as f64) - ties) / 18.0).max(0.0);
    let z = if var > 0.0 {
        (s - s.signum()) as f64 / var.sqrt()
    } else {
        0.0
    };
    MannKendall {
        s,
        var,
        z,
        p: erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0),
    }
}

/// Standard normal distribution function Φ(x) = erfc(−x/√2)/2.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function, to about 1e-14 relative.
///
/// Below 2: `1 − erf(x)` with the all-positive series
/// `erf(x) = 2/√π · e^{−x²} · Σ_k 2^k x^{2k+1} / (1·3·…·(2k+1))`
/// (Abramowitz & Stegun 7.1.6; no cancellation between terms).
/// From 2 on: the continued fraction
/// `erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))`
/// (A&S 7.1.14), evaluated bottom-up with a fixed depth that converges for
/// x ≥ 2. Negative arguments use `erfc(−x) = 2 − erfc(x)`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
    if x < 2.0 {
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        let mut k = 0.0;
        while term > sum * 1e-17 {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
        }
        1.0 - 2.0 * FRAC_1_SQRT_PI * (-x2).exp() * sum
    } else if x > 27.0 {
        0.0
    } else {
        // 1/(x + a_1/(x + a_2/(x + …))) with a_k = k/2.
        let mut f = x;
        for k in (1..=80).rev() {
            f = x + (k as f64 / 2.0) / f;
        }
        FRAC_1_SQRT_PI * (-x * x).exp() / f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn erfc_matches_published_values() {
        // erfc values as published (A&S table 7.1 to its digits; all digits
        // here agree with scipy.special.erfc).
        let cases = [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_16),
            (1.5, 0.033_894_853_524_689_27),
            (2.0, 0.004_677_734_981_047_266),
            (2.5, 0.000_406_952_017_444_958_86),
            (3.0, 2.209_049_699_858_544_5e-5),
            (5.0, 1.537_459_794_428_034_7e-12),
            (-1.0, 1.842_700_792_949_714_8),
        ];
        for (x, want) in cases {
            assert!(close(erfc(x), want, 1e-13), "erfc({x}) = {} want {want}", erfc(x));
        }
        // Φ(1.96) = 0.9750021 (normal tables), Φ(2.5758293) = 0.995.
        assert!((normal_cdf(1.96) - 0.975_002_1).abs() < 1e-7);
        assert!((normal_cdf(2.575_829_3) - 0.995).abs() < 1e-8);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-15);
        // Continuity across the switch at 2.
        assert!(close(erfc(2.0 - 1e-12), erfc(2.0), 1e-10));
    }

    #[test]
    fn mann_kendall_matches_pymannkendall() {
        // Reference: pymannkendall 1.4.3 `original_test` (same tie-corrected
        // variance, continuity correction and two-sided normal p-value) on
        // these series; `sens_slope` there is our Theil–Sen with x = 0, 1, 2, ….
        let y = [1.2, 1.5, 1.1, 1.9, 2.4, 2.4, 2.0, 3.1, 2.9, 3.3];
        let mk = mann_kendall(&y);
        assert_eq!(mk.s, 34);
        assert!(close(mk.var, 124.0, 1e-12), "{}", mk.var);
        assert!(close(mk.z, 2.963_487_483_441_786, 1e-12), "{}", mk.z);
        assert!(close(mk.p, 0.003_041_744_319_900_896_4, 1e-10), "{}", mk.p);
        let xy: Vec<(f64, f64)> = y.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect();
        assert!(
            close(theil_sen(&xy), 0.233_333_333_333_333_3, 1e-12),
            "{}",
            theil_sen(&xy)
        );

        // A decreasing series with a triple tie.
        let y = [5.0, 4.0, 4.0, 4.0, 6.0, 3.0, 2.0];
        let mk = mann_kendall(&y);
        assert_eq!(mk.s, -10);
        assert!(close(mk.var, 40.666_666_666_666_664, 1e-12), "{}", mk.var);
        assert!(close(mk.z, -1.411_312_608_421_155_1, 1e-12), "{}", mk.z);
        assert!(close(mk.p, 0.158_152_458_374_423_15, 1e-10), "{}", mk.p);
        let xy: Vec<(f64, f64)> = y.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect();
        assert!(close(theil_sen(&xy), -0.4, 1e-12), "{}", theil_sen(&xy));
    }

    #[test]
    fn known_trend_is_drift() {
        // 3 repeats × 10 chunks: +0.1 s per 100 calls every 1000 calls, ±2 %
        // noise; the median is about 1.145, so about +8.7 % per 1000 calls.
        let mut rng = SplitMix(7);
        let series: Vec<f64> = (0..30)
            .map(|i| 1.0 * (1.0 + 0.10 * (i as f64 * 100.0) / 1000.0) * (1.0 + 0.02 * rng.normal()))
            .collect();
        let v = Verdict::of_series(&series);
        assert_eq!(v.verdict, Trend::Drift, "{v:?}");
        let slope = v.slope_pct_per_1000_calls.unwrap();
        assert!((7.5..10.0).contains(&slope), "{slope}");
        assert!(
            v.line().starts_with("Drift verdict (extra): DRIFT; slope +"),
            "{}",
            v.line()
        );
    }

    #[test]
    fn small_significant_trend_is_not_drift() {
        // Strictly increasing (p tiny) but only +1 % per 1000 calls.
        let series: Vec<f64> = (0..30).map(|i| 1.0 + 0.001 * i as f64).collect();
        let v = Verdict::of_series(&series);
        assert!(v.p.unwrap() < 1e-6);
        assert_eq!(v.verdict, Trend::NoDrift, "{v:?}");
        assert!(close(v.slope_pct_per_1000_calls.unwrap(), 1.0 / 1.0145, 1e-9));
    }

    #[test]
    fn pure_noise_gives_no_false_alarm_beyond_the_nominal_rate() {
        let mut rng = SplitMix(2026);
        let trials = 2000;
        let (mut p01, mut p05, mut drift) = (0, 0, 0);
        for t in 0..trials {
            let n = 10 + t % 41; // 10..=50 chunks
            let series: Vec<f64> = (0..n).map(|_| 1.0 + 0.05 * rng.normal()).collect();
            let v = Verdict::of_series(&series);
            let p = v.p.unwrap();
            assert!((0.0..=1.0).contains(&p));
            p01 += usize::from(p < 0.01);
            p05 += usize::from(p < 0.05);
            drift += usize::from(v.verdict == Trend::Drift);
        }
        // Nominal 1 % and 5 % (a little less with the continuity correction);
        // binomial sd ≈ 4.4 and 9.7 for 2000 trials.
        assert!(p01 <= 20 + 15, "p<0.01 in {p01} of {trials}");
        assert!((60..=125).contains(&p05), "p<0.05 in {p05} of {trials}");
        assert!(drift <= p01, "{drift}");
    }

    #[test]
    fn constant_series_is_no_drift_without_nan() {
        let v = Verdict::of_series(&[0.5; 12]);
        assert_eq!(v.verdict, Trend::NoDrift);
        assert_eq!(v.mk_s, Some(0));
        assert_eq!(v.mk_var, Some(0.0));
        assert_eq!(v.p, Some(1.0));
        assert_eq!(v.slope_pct_per_1000_calls, Some(0.0));
        let json = serde_json::to_string(&v).unwrap();
        assert!(!json.contains("NaN") && !json.contains("null"), "{json}");
        let back: Verdict = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
        assert_eq!(
            v.line(),
            "Drift verdict (extra): no drift; slope +0.0 % per 1000 calls, Mann-Kendall p=1, 12 chunks"
        );
        // All zeros: no slope in percent, still no NaN.
        let v = Verdict::of_series(&[0.0; 8]);
        assert_eq!(v.verdict, Trend::NoDrift);
        assert_eq!(v.slope_pct_per_1000_calls, None);
        assert!(!serde_json::to_string(&v).unwrap().contains("NaN"));
    }

    #[test]
    fn too_few_chunks() {
        let v = Verdict::of_series(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(v.verdict, Trend::TooFewChunks);
        assert_eq!(v.p, None);
        assert_eq!(
            v.line(),
            "Drift verdict (extra): too few chunks (5 chunks, at least 6 needed)"
        );
        assert_eq!(Verdict::of_series(&[]).chunks, 0);
    }

    #[test]
    fn remainder_chunks_sit_at_their_real_position() {
        use crate::clock::Interval;
        use crate::record::{Chunk, Repeat};
        let chunk = |calls: u64, wall: f64| Chunk {
            calls,
            cost_per_job: 0.0,
            time: Interval {
                wall,
                ..Interval::default()
            },
            extra: None,
        };
        let mut rec = RunRecord::new("t", "s", serde_json::json!({}), crate::LineFormat::para(2, 0.0));
        for _ in 0..2 {
            rec.repeats.push(Repeat {
                chunks: vec![chunk(100, 1.0), chunk(100, 1.0), chunk(50, 0.5), chunk(0, 0.0)],
                calls: 250,
                totals: None,
            });
        }
        let pts = points(&rec);
        let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
        assert_eq!(xs, vec![50.0, 150.0, 225.0, 300.0, 400.0, 475.0]);
        assert!(pts.iter().all(|p| p.1 == 1.0));
        assert_eq!(pts.iter().map(|p| p.1).collect::<Vec<_>>(), rec.chunk_series());
        assert_eq!(Verdict::of_record(&rec).chunks, 6);
    }

    /// SplitMix64 with Box–Muller: deterministic, no dependency.
    struct SplitMix(u64);
    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn uniform(&mut self) -> f64 {
            ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }
}
