//! Calibrations: what one more map entry of the leak's kind costs the
//! parent's `fork()` on one machine, as `test_fork_sleep --calibrate --json`
//! records it (`timing::calibration`) or `upstream/cpython/fork_repro.py`
//! prints it (its `fork cost:` and `fork cost points` lines, read with its
//! output by `repro::fork_costs`). One type for both, so that the cost model
//! (`report_judge::model`) reads either beside the runs of the same
//! machine.

use drift::Estimate;
use timing::calibration::{CalibrationRecord, Kind};

/// One machine's fork cost per extra map entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// `calibration.json (fork calibration)`, `FILE:LINE (fork_repro.py fork cost)`.
    pub source: String,
    /// The machine as the runs measured on it name it (`Run::machine`, or a
    /// pasted document's `Machine:` line): a calibration predicts only the
    /// runs whose machine is the same, to the letter.
    pub machine: String,
    /// µs per extra map entry, Theil–Sen with Sen's 95 % interval.
    pub us_per_entry: Estimate,
    /// Extra map entries, the least and the most measured.
    pub entries: (f64, f64),
    /// `(extra map entries, median µs of fork() in the parent)`, in
    /// increasing order of entries; empty where only the slope was given.
    pub points: Vec<(f64, f64)>,
}

impl Calibration {
    /// A `--calibrate --json` record's calibration, its machine named as
    /// the runs of the same machine name theirs (`run::machine_of`).
    pub fn from_record(source: &str, rec: &CalibrationRecord) -> Calibration {
        Calibration {
            source: source.to_string(),
            machine: crate::run::machine_of(&rec.system),
            us_per_entry: rec.us_per_entry,
            entries: (0.0, rec.entries_max as f64),
            points: rec.points.iter().map(|p| (p.entries as f64, p.median_us)).collect(),
        }
    }

    /// µs that each extra entry costs a fork between `lo` and `hi` extra
    /// entries: the Theil–Sen slope of the measured points over that range
    /// (from the last point at or below `lo` to the first at or above
    /// `hi`: the cost need not be linear, so a run is priced at the counts
    /// it reached, and a median slope is not moved by one disturbed point),
    /// else the calibration's slope where the points do not cover the range
    /// or it is too short to read (under 1 % of what was measured). The
    /// interval is the slope's, scaled to the range's. `true` when the
    /// points covered the range.
    pub fn cost_over(&self, lo: f64, hi: f64) -> (Estimate, bool) {
        let e = self.us_per_entry;
        let span = (self.entries.1 - self.entries.0).max(1.0);
        let p = &self.points;
        let first = p.iter().rposition(|q| q.0 <= lo);
        let last = p.iter().position(|q| q.0 >= hi);
        let ranged = match (first, last) {
            (Some(a), Some(b)) if b > a && hi - lo > 0.01 * span => Some(drift::stats::theil_sen(&p[a..=b])),
            _ => None,
        };
        match ranged {
            Some(c) if e.value > 0.0 && c.is_finite() => (e.scaled(c / e.value), true),
            _ => (e, false),
        }
    }
}

/// The calibration of one input's text, `name` its file name, when it is
/// a calibration record; `None` for any other text (fork_repro.py's
/// `fork cost:` lines are read with its output, `repro::fork_costs`). A
/// record that says it is a calibration but does not parse as one is an
/// error.
pub fn parse(name: &str, text: &str) -> anyhow::Result<Option<Calibration>> {
    if !is_record(text) {
        return Ok(None);
    }
    let rec: CalibrationRecord =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("not a calibration record of this suite: {e}"))?;
    Ok(Some(Calibration::from_record(
        &format!("{name} (fork calibration)"),
        &rec,
    )))
}

/// Whether `text` is a calibration record (`test_fork_sleep --calibrate
/// --json`): a JSON object whose `kind` is `fork-calibration`, wherever the
/// field is (a pasted block compacts a record, its keys in another order).
pub fn is_record(text: &str) -> bool {
    // A `kind` other than the calibration's does not parse as its `Kind`.
    #[derive(serde::Deserialize)]
    struct Head {
        kind: Option<Kind>,
    }
    text.trim_start().starts_with('{') && serde_json::from_str::<Head>(text).is_ok_and(|h| h.kind.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(points: Vec<(f64, f64)>) -> Calibration {
        Calibration {
            source: "c".into(),
            machine: "m".into(),
            us_per_entry: Estimate {
                value: 2.0,
                low: 1.0,
                high: 3.0,
            },
            entries: (0.0, 16000.0),
            points,
        }
    }

    #[test]
    fn the_cost_is_read_over_the_range_a_run_reached() {
        // Convex: 1 µs an entry up to 8,000, 3 µs beyond.
        let c = cal(vec![(0.0, 100.0), (8000.0, 8100.0), (16000.0, 32100.0)]);
        let (low, covered) = c.cost_over(0.0, 4000.0);
        assert!(covered);
        assert_eq!((low.value, low.low, low.high), (1.0, 0.5, 1.5));
        assert_eq!(c.cost_over(8000.0, 16000.0).0.value, 3.0);
        assert_eq!(c.cost_over(0.0, 16000.0).0.value, 2.0);
        // Beyond the points, or too short a range: the slope.
        assert_eq!(c.cost_over(0.0, 20000.0), (c.us_per_entry, false));
        assert_eq!(c.cost_over(0.0, 100.0), (c.us_per_entry, false));
        assert_eq!(cal(Vec::new()).cost_over(0.0, 8000.0), (c.us_per_entry, false));
    }

    #[test]
    fn a_record_is_told_by_its_kind() {
        assert!(is_record("{\"kind\":\"fork-calibration\",\"schema\":1}"));
        assert!(is_record("{\"a\":1,\"kind\":\"fork-calibration\"}"));
        assert!(is_record("{\n  \"kind\": \"fork-calibration\"}"));
        assert!(!is_record("{\"tool\":\"test_fork_sleep\"}"));
        assert!(!is_record("fork cost: +1.0 µs"));
        let err = parse("c.json", "{\"kind\":\"fork-calibration\"}").unwrap_err();
        assert!(
            err.to_string().starts_with("not a calibration record of this suite: "),
            "{err}"
        );
    }
}
