//! The load witness's statistic: did the chunks get slower because the
//! machine got busier?
//!
//! The verdict assumes chunk times vary independently, so a machine whose
//! load rises during the run reads as drift (measured here: a run with no
//! leak at all went DRIFT +14 % per 1000 calls when another process
//! started). Every chunk records how much CPU the rest of the machine used
//! during it (`probes::load`); this module decides whether that explains the
//! chunk times. The rule is [`RULE`]: the chunk times rise *with* the rest of
//! the machine's CPU (Kendall's τ > 0, p < 0.01, as the attribution asks of
//! any counter) and that CPU use rose by at least [`MIN_RISE_CPUS`] of a CPU
//! from the first third of the run to the last (medians of the thirds, so a
//! single busy chunk does not count). The load average is reported beside it
//! but never decided on: it includes the run's own processes, and a run
//! alone on a quiet machine lifts it from 0 towards 1 or 2 in its first
//! minute.
//!
//! A verdict with this note is not wrong, only not to be trusted on its own:
//! the run's timing is undecided and the counters (map entries per fork)
//! decide, which no load can blur.

use crate::stats::{kendall_tau, median, MIN_CHUNKS};
use serde::{Deserialize, Serialize};

/// The rise of the rest of the machine's CPU use, first third to last, that
/// counts as "busier": a quarter of a CPU.
pub const MIN_RISE_CPUS: f64 = 0.25;
/// τ between chunk times and the machine's CPU use must have p below this.
pub const MAX_P: f64 = 0.01;

/// The rule in words, for `--help` and docs/verdict.md.
pub const RULE: &str = "Load witness: every chunk also records the 1-minute load average and the CPU \
time the rest of the machine used during it (all CPUs' busy time less this run's own). When the chunk \
times rise with the latter (Kendall tau > 0, p < 0.01) and it rose by at least 0.25 CPU from the first \
third of the run to the last, the verdict line and the record say that the machine got busier during \
the run, and the run's timing counts as undecided: confirm it on a quiet machine.";

/// The machine got busier during the run, and the chunk times rose with it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Busier {
    /// The rest of the machine's CPU use, in CPUs: median of the first third
    /// of the chunks.
    pub other_cpus_first: f64,
    /// The same, last third.
    pub other_cpus_last: f64,
    /// Kendall's τ between the chunk times and that CPU use.
    pub tau: f64,
    /// Its two-sided p-value.
    pub p: f64,
    /// The 1-minute load average at the first chunk and at the last, when
    /// the chunks recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<[f64; 2]>,
}

impl Busier {
    /// The note for `times` (the chunk times, in the verdict's order) given
    /// the rest of the machine's CPU use per chunk in thousandths of a CPU
    /// and the load average per chunk in thousandths: `None` when the rule
    /// does not hold, there are too few chunks, or a series has another
    /// length.
    pub fn of(times: &[f64], other_cpu_permille: &[f64], load_milli: Option<&[f64]>) -> Option<Busier> {
        let n = times.len();
        if n < MIN_CHUNKS || other_cpu_permille.len() != n {
            return None;
        }
        let k = kendall_tau(times, other_cpu_permille);
        let third = n / 3;
        let cpus = |s: &[f64]| median(s.to_vec()) / 1000.0;
        let (first, last) = (
            cpus(&other_cpu_permille[..third]),
            cpus(&other_cpu_permille[n - third..]),
        );
        if !(k.tau > 0.0 && k.p < MAX_P && last - first >= MIN_RISE_CPUS) {
            return None;
        }
        let load = load_milli
            .filter(|l| l.len() == n)
            .map(|l| [l[0] / 1000.0, l[n - 1] / 1000.0]);
        Some(Busier {
            other_cpus_first: first,
            other_cpus_last: last,
            tau: k.tau,
            p: k.p,
            load,
        })
    }
}

impl std::fmt::Display for Busier {
    /// `the machine got busier during the run (load 0.40 -> 3.10; other
    /// processes 0.02 -> 0.95 CPU, Kendall tau 0.71 with the chunk times)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the machine got busier during the run (")?;
        if let Some([a, b]) = self.load {
            write!(f, "load {a:.2} -> {b:.2}; ")?;
        }
        write!(
            f,
            "other processes {:.2} -> {:.2} CPU, Kendall tau {:.2} with the chunk times)",
            self.other_cpus_first, self.other_cpus_last, self.tau
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::SplitMix;

    #[test]
    fn a_hog_started_half_way_explains_the_rise() {
        // 20 chunks; from chunk 10 on, another process takes a CPU and the
        // chunks get 40 % slower.
        let mut rng = SplitMix(3);
        let other: Vec<f64> = (0..20)
            .map(|i| if i < 10 { 30.0 } else { 980.0 } + 20.0 * rng.normal())
            .collect();
        let times: Vec<f64> = (0..20)
            .map(|i| if i < 10 { 1.0 } else { 1.4 } * (1.0 + 0.02 * rng.normal()))
            .collect();
        let load: Vec<f64> = (0..20).map(|i| 400.0 + 150.0 * f64::from(i)).collect();
        let b = Busier::of(&times, &other, Some(&load)).expect("busier");
        assert!(b.other_cpus_first < 0.1 && b.other_cpus_last > 0.9, "{b:?}");
        assert!(b.tau > 0.4 && b.p < MAX_P, "{b:?}");
        assert_eq!(b.load, Some([0.4, 3.25]));
        assert_eq!(
            b.to_string(),
            format!(
                "the machine got busier during the run (load 0.40 -> 3.25; other processes {:.2} -> {:.2} CPU, \
                 Kendall tau {:.2} with the chunk times)",
                b.other_cpus_first, b.other_cpus_last, b.tau
            )
        );
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Busier>(&json).unwrap(), b);
    }

    #[test]
    fn a_drift_of_the_process_on_a_quiet_machine_is_not_explained() {
        // The chunk times rise steadily (a leak); the rest of the machine
        // stays at a few percent of a CPU, with noise that happens to rise
        // a little: no note.
        let mut rng = SplitMix(4);
        let times: Vec<f64> = (0..20).map(|i| 1.0 + 0.05 * f64::from(i)).collect();
        let other: Vec<f64> = (0..20)
            .map(|i| 20.0 + 3.0 * f64::from(i) + 10.0 * rng.normal())
            .collect();
        assert_eq!(Busier::of(&times, &other, None), None);
        // A busy machine whose load does not follow the chunk times (busy
        // at the start, quiet at the end, the chunks slower at the end): no note.
        let other: Vec<f64> = (0..20).map(|i| if i < 10 { 900.0 } else { 20.0 }).collect();
        assert_eq!(Busier::of(&times, &other, None), None);
        // Too few chunks, or a series of another length.
        assert_eq!(Busier::of(&times[..5], &other[..5], None), None);
        assert_eq!(Busier::of(&times, &other[..19], None), None);
    }

    #[test]
    fn one_busy_chunk_is_not_a_busier_machine() {
        // A single chunk with a CPU of others (a cron job) and slower: the
        // thirds' medians do not move.
        let mut times = vec![1.0; 18];
        let mut other = vec![20.0; 18];
        times[17] = 1.5;
        other[17] = 1000.0;
        for (i, t) in times.iter_mut().enumerate() {
            *t += 0.001 * (i % 3) as f64;
        }
        assert_eq!(Busier::of(&times, &other, None), None);
    }
}
