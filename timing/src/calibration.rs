//! The fork-cost calibration record (`test_fork_sleep --calibrate --json
//! PATH`): what one more map entry of the leak's kind costs `fork()` in the
//! parent on the machine it was measured on, as points and as a slope.
//!
//! Why a record of its own: a run's record says how many map entries each
//! fork left behind and how fast the cost per job grew; this one says what
//! an entry costs a fork here, so that a reader (`report`) can turn the one
//! into a predicted drift and hold it against the other. A reader tells the
//! two apart by [`CalibrationRecord::kind`] (`"fork-calibration"`; a
//! [`crate::RunRecord`] has no `kind`), and holds a calibration against the
//! runs of the same machine by [`CalibrationRecord::system`], written as runs
//! write theirs ([`SystemInfo::collect`]).
//!
//! The cost of an entry need not be the same at every count (a kernel's map
//! may be a list, a tree, or change shape with size), so the record keeps the
//! median fork time at every count measured ([`CalibrationRecord::points`]),
//! and [`CalibrationRecord::fork_us_at`] reads the cost at the counts a run
//! reached from them; the slope ([`CalibrationRecord::us_per_entry`]) is the
//! one-line summary.

use crate::pyfmt::{fixed, thousands, three_digits};
use crate::system::SystemInfo;
use drift::Estimate;
use serde::{Deserialize, Serialize};

/// Bumped whenever a field of [`CalibrationRecord`] changes meaning.
pub const SCHEMA: u32 = 1;

/// What a calibration record is: the value of its `kind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// `"fork-calibration"`: `fork()`'s cost per extra map entry.
    #[serde(rename = "fork-calibration")]
    ForkCalibration,
}

/// What `test_fork_sleep --calibrate` measured, as `--json` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRecord {
    /// Always [`Kind::ForkCalibration`] (`"fork-calibration"`): what tells
    /// this record from a run's (a [`crate::RunRecord`] has no `kind`, and
    /// this record has no `repeats`, so neither parses as the other).
    pub kind: Kind,
    /// [`SCHEMA`] when written.
    pub schema: u32,
    /// The binary that measured: `test_fork_sleep`.
    pub tool: String,
    /// The suite's version that wrote the record.
    pub version: String,
    /// The machine and OS, as a run records them: a calibration predicts
    /// only the runs of the same machine.
    pub system: SystemInfo,
    /// Seconds since the Unix epoch at the start of the calibration.
    pub started_unix: f64,
    /// What was timed, in words: `fork() in the parent` (from the call to
    /// its return in the parent; the child `_exit`s at once, and waiting for
    /// it is outside the timed part: a child's exit runs on another core
    /// and is not what a later fork pays).
    pub timed: String,
    /// What one extra entry is, in words: the allocation each adds (one
    /// private page, written, neighbours of alternating protection; tagged
    /// Mach message memory on macOS).
    pub entry: String,
    /// The largest count of extra entries (`--calibrate-max`); the counts
    /// measured are `0..=entries_max` in equal steps.
    pub entries_max: u64,
    /// One point per count of extra entries, in increasing order of
    /// `entries`.
    pub points: Vec<CalibrationPoint>,
    /// Theil–Sen slope of every timed fork's duration on its count of extra
    /// entries, microseconds per extra entry, with Sen's 95 % interval
    /// (`drift::stats`).
    pub us_per_entry: Estimate,
    /// The same slope for the time from the call of `fork()` until the child
    /// was reaped: the fork, the child's `_exit` with the teardown of its
    /// copy of the map, and the wait. Not the cost a later fork pays on a
    /// machine with cores to spare, but the one a run pays when its children
    /// exit on the cores its parent needs (8 children on 2 cores), so that a
    /// model can say which of the two a run's drift matches.
    pub until_reaped_us_per_entry: Estimate,
    /// Forks timed in all (over every point).
    pub forks: u64,
    /// The counter that verified the entries (`vm_map_entries`), its value
    /// with no extra entry, and on macOS `mach_msg_regions` too.
    pub verified: Vec<Verified>,
    /// Seconds the calibration took, mapping and waiting included.
    pub elapsed_secs: f64,
}

/// The forks timed at one count of extra entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPoint {
    /// Extra entries the parent had while these forks were timed.
    pub entries: u64,
    /// Forks timed at this count.
    pub forks: u32,
    /// Their median duration, microseconds.
    pub median_us: f64,
    /// Their shortest, microseconds (the least disturbed by the machine).
    pub min_us: f64,
    /// The median time from the call of `fork()` until the child was
    /// reaped, microseconds (see
    /// [`CalibrationRecord::until_reaped_us_per_entry`]).
    pub until_reaped_median_us: f64,
}

/// One counter's check that the entries were really there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verified {
    /// The counter (`probes::resources`): `vm_map_entries`, or on macOS
    /// `mach_msg_regions`.
    pub counter: String,
    /// Its value with no extra entry.
    pub baseline: u64,
    /// How much it grew at the largest count (which was `entries_max`).
    pub added: u64,
}

impl CalibrationRecord {
    /// The record of `samples`, `(extra entries, µs in fork(), µs until
    /// reaped)` of every timed fork: their median and minimum at every count,
    /// and their Theil–Sen slopes with Sen's 95 % interval (`drift::stats`);
    /// stamped with the machine and the time `started_unix`.
    pub fn new(
        samples: &[(f64, f64, f64)],
        entries_max: u64,
        entry: &str,
        verified: Vec<Verified>,
        started_unix: f64,
        elapsed_secs: f64,
    ) -> CalibrationRecord {
        let mut counts: Vec<f64> = samples.iter().map(|s| s.0).collect();
        counts.sort_by(f64::total_cmp);
        counts.dedup();
        let points = counts
            .into_iter()
            .map(|n| {
                let at: Vec<&(f64, f64, f64)> = samples.iter().filter(|s| s.0 == n).collect();
                let us: Vec<f64> = at.iter().map(|s| s.1).collect();
                CalibrationPoint {
                    entries: n as u64,
                    forks: us.len() as u32,
                    min_us: us.iter().copied().fold(f64::INFINITY, f64::min),
                    median_us: drift::stats::median(us),
                    until_reaped_median_us: drift::stats::median(at.iter().map(|s| s.2).collect()),
                }
            })
            .collect();
        let fork: Vec<(f64, f64)> = samples.iter().map(|s| (s.0, s.1)).collect();
        let reaped: Vec<(f64, f64)> = samples.iter().map(|s| (s.0, s.2)).collect();
        CalibrationRecord {
            kind: Kind::ForkCalibration,
            schema: SCHEMA,
            tool: "test_fork_sleep".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            system: SystemInfo::collect(),
            started_unix,
            timed: "fork() in the parent".into(),
            entry: entry.into(),
            entries_max,
            forks: samples.len() as u64,
            points,
            us_per_entry: slope(&fork),
            until_reaped_us_per_entry: slope(&reaped),
            verified,
            elapsed_secs,
        }
    }

    /// `fork cost: +0.623 µs per extra map entry (95 % 0.580–0.660),
    /// 0–16,000 entries, fork() in the parent`: the slope to three
    /// significant digits, its interval to as many decimals.
    pub fn line(&self) -> String {
        let e = self.us_per_entry;
        let decimals = three_digits(e.value);
        let sign = if e.value >= 0.0 { "+" } else { "" };
        format!(
            "fork cost: {sign}{} µs per extra map entry (95 % {}–{}), 0–{} entries, {}",
            fixed(e.value, decimals),
            fixed(e.low, decimals),
            fixed(e.high, decimals),
            thousands(self.entries_max),
            self.timed
        )
    }

    /// The median fork time, microseconds, with `entries` extra entries:
    /// read from the points, linearly between the two around it; `None`
    /// outside the range measured (the cost need not be linear, so it is
    /// not extrapolated). The cost of the entries a run added between two
    /// counts is `fork_us_at(b) − fork_us_at(a)`.
    pub fn fork_us_at(&self, entries: f64) -> Option<f64> {
        let p = &self.points;
        let i = p.iter().position(|q| q.entries as f64 >= entries)?;
        let hi = &p[i];
        if hi.entries as f64 == entries {
            return Some(hi.median_us);
        }
        let lo = p.get(i.checked_sub(1)?)?;
        let t = (entries - lo.entries as f64) / (hi.entries as f64 - lo.entries as f64);
        Some(lo.median_us + t * (hi.median_us - lo.median_us))
    }
}

/// Theil–Sen slope of `points` with Sen's 95 % interval.
fn slope(points: &[(f64, f64)]) -> Estimate {
    let value = drift::stats::theil_sen(points);
    let (low, high) = drift::stats::sen_interval(points, drift::stats::Z_975).unwrap_or((value, value));
    Estimate { value, low, high }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CalibrationRecord {
        let samples: Vec<(f64, f64, f64)> = [0.0, 1000.0, 2000.0]
            .iter()
            .flat_map(|&x| {
                [
                    (x, 100.0 + 0.5 * x, 200.0 + x),
                    (x, 101.0 + 0.5 * x + x * x / 1e4, 201.0 + x),
                    (x, 99.0 + 0.5 * x, 199.0 + x),
                ]
            })
            .collect();
        let verified = vec![Verified {
            counter: "vm_map_entries".into(),
            baseline: 40,
            added: 2000,
        }];
        CalibrationRecord::new(&samples, 2000, "one page", verified, 0.0, 1.0)
    }

    #[test]
    fn the_line_names_slope_interval_range_and_what_was_timed() {
        let r = record();
        assert_eq!(r.us_per_entry.value, 0.5);
        assert_eq!(r.until_reaped_us_per_entry.value, 1.0);
        assert_eq!(r.points[2].until_reaped_median_us, 2200.0);
        assert!(r.us_per_entry.low <= 0.5 && r.us_per_entry.high >= 0.5);
        assert_eq!(r.forks, 9);
        assert!(
            r.line()
                .starts_with("fork cost: +0.500 µs per extra map entry (95 % 0."),
            "{}",
            r.line()
        );
        assert!(
            r.line().ends_with("), 0–2,000 entries, fork() in the parent"),
            "{}",
            r.line()
        );
    }

    #[test]
    fn the_cost_at_a_count_is_read_from_the_points_never_extrapolated() {
        let r = record();
        let medians: Vec<(u64, u32, f64, f64)> = r
            .points
            .iter()
            .map(|p| (p.entries, p.forks, p.median_us, p.min_us))
            .collect();
        assert_eq!(
            medians,
            [(0, 3, 100.0, 99.0), (1000, 3, 600.0, 599.0), (2000, 3, 1100.0, 1099.0)]
        );
        assert_eq!(r.fork_us_at(0.0), Some(100.0));
        assert_eq!(r.fork_us_at(500.0), Some(350.0));
        assert_eq!(r.fork_us_at(1500.0), Some(850.0));
        assert_eq!(r.fork_us_at(2000.0), Some(1100.0));
        assert_eq!(r.fork_us_at(2001.0), None);
        assert_eq!(r.fork_us_at(-1.0), None);
    }

    #[test]
    fn round_trips_and_is_told_from_a_run_record() {
        let r = record();
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.starts_with(r#"{"kind":"fork-calibration""#), "{json}");
        let back: CalibrationRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<crate::RunRecord>(&json).is_err());
        let run = crate::RunRecord::new("t", "s", serde_json::json!({}), crate::LineFormat::para(8, 0.001));
        let run = serde_json::to_string(&run).unwrap();
        assert!(serde_json::from_str::<CalibrationRecord>(&run).is_err());
    }
}
