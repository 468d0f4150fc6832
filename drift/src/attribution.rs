//! Drift attribution: which of the parent's counters grew along with the
//! chunk times of a drifting run.
//!
//! The verdict says *whether* a run drifts; `--breakdown` says which system
//! call takes longer. The next question an OS engineer asks is which resource
//! of the parent grows with it: the number of memory regions (jemalloc's
//! maintainers saw macOS `fork()` cost grow with it), resident memory, page
//! tables, threads, descriptors, Mach ports. Each counter is read once per
//! chunk; this module ranks the counters by Kendall's τ between their series
//! and the chunk times.
//!
//! **Association, not proof.** Two things that both grow during a run
//! correlate whatever causes what; `--map-churn` (which grows the region count
//! on purpose) is the control that shows causation.

use crate::stats::kendall_tau;
use crate::verdict::{Trend, Verdict};
use serde::{Deserialize, Serialize};

/// A counter is named when its τ with the chunk times is positive with a
/// two-sided p-value below this, and it grew from the first chunk to the last.
pub const MAX_P: f64 = 0.01;

/// The rule in words, for `--help` and docs/verdict.md.
pub const RULE: &str = "Drift attribution (line after the verdict, DRIFT runs only): the parent's \
counters read after every chunk (memory regions, resident and footprint bytes, page tables, faults and \
context switches per chunk, threads, descriptors, Mach ports) ranked by Kendall's tau with the chunk \
times; a counter is named when tau > 0 with p < 0.01 and it grew. This is association, not proof: \
--map-churn, which grows the region count on purpose, is the control that shows causation.";

/// One counter that grew along with the chunk times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Association {
    /// The counter's name, as in the chunk's `resources`.
    pub counter: String,
    /// Kendall's τ-b with the chunk times.
    pub tau: f64,
    /// Two-sided p-value of τ = 0.
    pub p: f64,
    /// Its value at the first chunk.
    pub first: f64,
    /// Its value at the last chunk.
    pub last: f64,
}

/// The attribution of a run's drift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// Why nothing is ranked: `no drift`, `too few chunks`; absent for a
    /// DRIFT run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none: Option<String>,
    /// The counters that grew with the chunk times, strongest τ first.
    pub grows_with: Vec<Association>,
    /// The other counters looked at, in the order given.
    pub not_with: Vec<String>,
}

impl Attribution {
    /// Attributes `verdict`'s drift: `times` are the chunk times the verdict
    /// looked at, `counters` one series per counter, one value per chunk in
    /// the same order (a series of another length is left out).
    pub fn of(verdict: &Verdict, times: &[f64], counters: &[(String, Vec<f64>)]) -> Attribution {
        let none = match verdict.verdict {
            Trend::Drift => None,
            other => Some(other.to_string()),
        };
        let mut grows_with = Vec::new();
        let mut not_with = Vec::new();
        for (name, values) in counters.iter().filter(|(_, v)| v.len() == times.len()) {
            let k = kendall_tau(times, values);
            let (first, last) = (values[0], values[values.len() - 1]);
            if none.is_none() && k.tau > 0.0 && k.p < MAX_P && last > first {
                grows_with.push(Association {
                    counter: name.clone(),
                    tau: k.tau,
                    p: k.p,
                    first,
                    last,
                });
            } else {
                not_with.push(name.clone());
            }
        }
        // Strongest τ first; counters that rise in step with the times tie
        // on τ (every monotone counter has the same ranks), and then the one
        // that grew most, relative to where it started, comes first.
        let growth = |a: &Association| a.last / a.first.abs().max(f64::MIN_POSITIVE);
        grows_with.sort_by(|a, b| {
            b.tau
                .total_cmp(&a.tau)
                .then(a.p.total_cmp(&b.p))
                .then(growth(b).total_cmp(&growth(a)))
        });
        Attribution {
            none,
            grows_with,
            not_with,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(n: usize) -> Vec<(String, Vec<f64>)> {
        vec![
            ("vm_regions".into(), (0..n).map(|i| 41.0 + 100.0 * i as f64).collect()),
            ("threads".into(), vec![1.0; n]),
            // Grows, but against the chunk times (falls while they rise).
            ("open_fds".into(), (0..n).map(|i| (n - i) as f64).collect()),
            // Wobbles without a trend.
            ("rss_bytes".into(), (0..n).map(|i| (i % 3) as f64).collect()),
        ]
    }

    #[test]
    fn a_drift_is_attributed_to_the_counter_that_grew_with_it() {
        let mut rng = crate::simulate::SplitMix(11);
        let times: Vec<f64> = (0..13)
            .map(|i| 0.25 * (1.0 + 0.3 * i as f64) * (1.0 + 0.02 * rng.normal()))
            .collect();
        let v = Verdict::of_series(&times);
        assert_eq!(v.verdict, Trend::Drift);
        let a = Attribution::of(&v, &times, &counters(13));
        assert_eq!(a.none, None);
        assert_eq!(a.grows_with.len(), 1, "{a:?}");
        let g = &a.grows_with[0];
        assert_eq!(g.counter, "vm_regions");
        assert!(g.tau > 0.9 && g.p < 1e-4, "{g:?}");
        assert_eq!((g.first, g.last), (41.0, 1241.0));
        assert_eq!(a.not_with, vec!["threads", "open_fds", "rss_bytes"]);
    }

    #[test]
    fn no_drift_names_nothing() {
        // 30 chunks wobbling by 2 % with no trend: the interval rules out +5 %.
        let times: Vec<f64> = (0..30).map(|i| [1.0, 1.02, 0.98, 1.01, 0.99][i % 5]).collect();
        let v = Verdict::of_series(&times);
        assert_eq!(v.verdict, Trend::NoDrift, "{v:?}");
        let a = Attribution::of(&v, &times, &counters(30));
        assert_eq!(a.none.as_deref(), Some("no drift"));
        assert!(a.grows_with.is_empty());
        assert_eq!(a.not_with.len(), 4);
        // Eight chunks of 10 % noise cannot rule +5 % out: inconclusive, and
        // nothing is named either.
        let times = vec![1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02];
        let v = Verdict::of_series(&times);
        assert_eq!(v.verdict, Trend::Inconclusive);
        let a = Attribution::of(&v, &times, &counters(8));
        assert_eq!(a.none.as_deref(), Some("inconclusive"));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Attribution>(&json).unwrap(), a);
    }

    #[test]
    fn series_of_another_length_are_left_out() {
        let times: Vec<f64> = (0..8).map(|i| 1.0 + i as f64).collect();
        let v = Verdict::of_series(&times);
        let a = Attribution::of(&v, &times, &counters(7));
        assert!(a.grows_with.is_empty() && a.not_with.is_empty());
    }
}
