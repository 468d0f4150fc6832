//! The verdict of one run: the `drift` crate's, the same code that gives
//! the verdict line at the end of every run of the suite, reached with the
//! run's own jobs per call and stopping rule, and with the load witness
//! where the run has the machine's counters.
//!
//! A trait on [`Run`] (the run model is the reading room's), so that a
//! judged run reads `run.verdict()` wherever it is used.

use drift::{Attribution, Judge};
use report_read::Run;
use timing::Verdict;

/// What is judged of one run.
pub trait Judged {
    /// How the verdict is reached: jobs per call (`ncpus`) for the slope in
    /// µs per job, per earlier fork for the fork-per-job strategies, and
    /// the last look's p of an `--until-verdict` record, as the run's own
    /// verdict line did.
    fn judge(&self) -> Judge;

    /// The verdict, with the load witness where the run has the machine's
    /// counters (records and the harness's transcripts alike).
    fn verdict(&self) -> Verdict;

    /// The drift attribution (see the `drift` crate): `None` where no
    /// counter was read (transcripts, older records).
    fn attribution(&self) -> Option<Attribution>;
}

impl Judged for Run {
    fn judge(&self) -> Judge {
        Judge {
            max_p: self
                .until_verdict
                .map_or(drift::MAX_P, |s| drift::sequential::max_p(s.looks)),
            jobs_per_call: self.ncpus.filter(|_| !self.is_time_blocks()),
            fork_per_job: self.is_fork_per_job(),
        }
    }

    fn verdict(&self) -> Verdict {
        let mut v = Verdict::judge(&self.xy(), &self.judge());
        v.sequential = self.until_verdict;
        let times: Vec<f64> = self.points.iter().map(|p| p.secs_per_100()).collect();
        v.busier = timing::record::busier(&times, &self.counters);
        v
    }

    fn attribution(&self) -> Option<Attribution> {
        if self.counters.is_empty() {
            return None;
        }
        let times: Vec<f64> = self.points.iter().map(|p| p.secs_per_100()).collect();
        Some(Attribution::of(&self.verdict(), &times, &self.counters))
    }
}

/// Whether no run of `runs` is long enough for a timing verdict (each has
/// fewer chunks than `drift::MIN_CHUNKS`), as `ci/diagnose.sh --quick`'s
/// runs of two chunks: then only the mechanism (the map entries per fork,
/// exact after two readings) can be judged, and the symptom needs longer
/// runs. `false` when no run has a chunk.
pub fn too_short_for_timing(runs: &[Run]) -> bool {
    let timed: Vec<&Run> = runs.iter().filter(|r| !r.points.is_empty()).collect();
    !timed.is_empty() && timed.iter().all(|r| r.verdict().verdict == drift::Trend::TooFewChunks)
}
