//! The system's own tool beside the suite's counters: a run's witness
//! (`probes::witness`: macOS `vmmap -summary`, Linux `pmap`, read before the
//! first bar() and after the last, by the port or by
//! `ci/compare/harness.py` inside an original's interpreter) as growth per
//! fork, set beside the counters' growth per fork, and whether the two
//! agree.
//!
//! The rule: they agree when the witness's regions grow per fork as
//! `vm_map_entries` does, and (vmmap) its `Mach message` regions as
//! `mach_msg_regions` do, within one region per hundred forks (0.01 per
//! fork; over a run of fewer than a hundred forks, one region), both
//! counted over the same forks (each reading of the witness keeps the
//! counters read at the same moment), in the unit Findings uses (per fork
//! for the fork-per-job strategies, per job for the others).

use probes::witness::Tool;
use report_read::Run;

/// The rule in words, for `report --help` (after the Findings rule).
pub const RULE: &str = "Witness (the column after the mechanism's): the system's own count of the \
process's regions (vmmap -summary on macOS, with its Mach message regions; pmap on Linux), read before the \
first bar() and after the last, as growth per fork; it agrees when it grows as vm_map_entries (and \
mach_msg_regions), read at the same two moments, do, within one region per hundred forks.";

/// A run's witness as growth per fork.
#[derive(Clone, Debug, PartialEq)]
pub struct Growth {
    /// The tool read.
    pub tool: Tool,
    /// Regions (vmmap's `TOTAL`, pmap's mappings) per fork.
    pub regions: f64,
    /// vmmap's `Mach message` regions per fork.
    pub mach_msg: Option<f64>,
    /// Whether it agrees with the counters; `None` when the run has none of
    /// the counters to compare with (or too few chunks for their growth).
    pub agrees: Option<bool>,
    /// The counter values compared, for the text: `(name, per fork)`.
    pub counters: Vec<(&'static str, f64)>,
}

/// The witness's growth per fork beside the counters'; `None` without both
/// readings (no witness, a refusal, an interrupted run) or without a job.
///
/// Over the same forks where it can: a reading of the witness keeps the
/// suite's own `vm_map_entries` (and `mach_msg_regions`) read at the same
/// moment, so the two grow over the very same window; a record made before
/// that falls back to the chunks' readings, which start after the first
/// chunk (whose one-time mappings, a Sage session's first `@parallel` call
/// for one, only the witness then sees).
pub fn growth(run: &Run) -> Option<Growth> {
    let w = run.witness.as_ref()?;
    let (before, after) = (w.before.as_ref()?, w.after.as_ref()?);
    let ncpus = run.ncpus? as u64;
    let jobs: u64 = run.points.iter().map(|p| p.calls * ncpus).sum();
    if jobs == 0 {
        return None;
    }
    let per = |a: u64, b: u64| (b as f64 - a as f64) / jobs as f64;
    let regions = per(before.total, after.total);
    let mach_msg = before.mach_msg.zip(after.mach_msg).map(|(a, b)| per(a, b));
    let tolerance = (1.0 / jobs as f64).max(0.01) + 1e-9;
    let same_window = [
        before.counted.zip(after.counted).map(|(a, b)| per(a, b)),
        before
            .counted_mach_msg
            .zip(after.counted_mach_msg)
            .map(|(a, b)| per(a, b)),
    ];
    let mut counters = Vec::new();
    let mut agrees = None;
    let pairs = [("vm_map_entries", Some(regions)), ("mach_msg_regions", mach_msg)];
    for ((name, seen), same) in pairs.into_iter().zip(same_window) {
        let chunks = || run.growth_per_fork(name).filter(|&(_, n)| n > 0).map(|(g, _)| g);
        if let (Some(seen), Some(counted)) = (seen, same.or_else(chunks)) {
            counters.push((name, counted));
            agrees = Some(agrees.unwrap_or(true) && (seen - counted).abs() <= tolerance);
        }
    }
    Some(Growth {
        tool: w.tool,
        regions,
        mach_msg,
        agrees,
        counters,
    })
}
