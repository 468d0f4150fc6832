//! One run read twice: a port's JSON record and the transcript of what the
//! port printed while writing it (`test_fork_sleep --json r.json > r.txt`,
//! as `ci/compare.sh` and `ci/diagnose.sh` keep both). A user who globs
//! everything a run wrote (`*.json test_*.txt`) gives both; they are one
//! run, counted once, and the record's is kept: it names its tool, its
//! machine and its parameters, and it holds the counters.
//!
//! The rule: a transcript's run prints a record's run when both have the
//! same jobs per call (`ncpus`) and sleep, the same chunks (as many, in the
//! same bar()s, of the same calls), every chunk's wall time as the
//! transcript prints it (`%.3fs`, the originals' format) within half a
//! millisecond of the record's, and every bar()'s `%time` (wall, user and
//! sys, which IPython's format prints to three significant digits) within
//! half a percent of the record's. Chunk times to the millisecond and the
//! bar()s' three CPU times are a signature no other run shares; the file
//! names are not looked at (a transcript may be renamed, or pasted).

use crate::run::{BarTimes, Run, SourceKind};

/// Whether `transcript` is the printed output of the run of `record` (the
/// rule above).
pub fn prints(transcript: &Run, record: &Run) -> bool {
    let (t, r) = (transcript, record);
    t.kind == SourceKind::Transcript
        && r.kind == SourceKind::Record
        && !t.points.is_empty()
        && t.ncpus == r.ncpus
        && same_sleep(t.sleep, r.sleep)
        && t.points.len() == r.points.len()
        && t.points
            .iter()
            .zip(&r.points)
            .all(|(a, b)| a.repeat == b.repeat && a.calls == b.calls && (a.wall - b.wall).abs() <= 0.0005 + 1e-9)
        && (t.bars.is_empty() || t.bars.len() == r.bars.len())
        && t.bars.iter().zip(&r.bars).all(|(a, b)| same_bar(a, b))
}

fn same_sleep(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 0.0005,
        (None, None) => true,
        _ => false,
    }
}

/// `%time`'s three significant digits: half a percent, and half a
/// microsecond for times that round to nothing.
fn same_bar(a: &BarTimes, b: &BarTimes) -> bool {
    let near = |x: f64, y: f64| (x - y).abs() <= 0.005 * y.abs() + 5e-7;
    near(a.wall, b.wall) && near(a.user, b.user) && near(a.sys, b.sys)
}

/// Keeps every run of `runs` but the transcripts' runs that print a
/// record's run among them (`keep[i]` for `runs[i]`).
pub fn kept(runs: &[Run]) -> Vec<bool> {
    runs.iter().map(|t| !runs.iter().any(|r| prints(t, r))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use timing::clock::Interval;
    use timing::{Chunk, LineFormat, Repeat, RunRecord};

    /// A test_fork_sleep record of two chunks and what the binary printed
    /// while writing it (the originals' lines and our `(extra)` lines).
    fn record_and_its_transcript() -> (Run, String) {
        let mut rec = RunRecord::new(
            "test_fork_sleep",
            "fork-per-job/pipe",
            serde_json::json!({"ncpus": 8}),
            LineFormat::para(8, 0.001),
        );
        let line = LineFormat::para(8, 0.001);
        let walls = [0.458_312, 0.491_04];
        rec.repeats.push(Repeat {
            chunks: walls
                .iter()
                .map(|&w| Chunk {
                    calls: 100,
                    cost_per_job: line.cost_per_job(w, 100),
                    time: Interval {
                        wall: w,
                        ..Interval::default()
                    },
                    extra: None,
                    resources: None,
                })
                .collect(),
            calls: 200,
            totals: Some(Interval {
                wall: 0.949_2,
                own: timing::clock::CpuTimes {
                    user: 51e-6,
                    sys: 0.256_1,
                },
                ..Interval::default()
            }),
        });
        let text = format!(
            "Using ncpus=8 parallel decorated function\n{}\n{}\n\
             CPU times: user 51 µs, sys: 256 ms, total: 256 ms\nWall time: 949 ms\n\
             Drift verdict (extra): too few chunks (2 chunks, at least 6 needed)\n",
            line.chunk_line(walls[0], 100),
            line.chunk_line(walls[1], 100)
        );
        (Run::from_record("r.json (json)", &rec), text)
    }

    #[test]
    fn a_ports_transcript_prints_its_record_and_nothing_else() {
        let (record, text) = record_and_its_transcript();
        let printed = crate::transcript::parse("r.txt", &text).remove(0);
        assert!(prints(&printed, &record));
        assert_eq!(kept(&[record.clone(), printed.clone()]), [true, false]);
        // Alone, the transcript is kept (nothing else has its run).
        assert_eq!(kept(std::slice::from_ref(&printed)), [true]);
        // Another run: one chunk 2 ms off, or another bar() time.
        let mut other = printed.clone();
        other.points[1].wall += 0.002;
        assert!(!prints(&other, &record));
        let mut other = printed.clone();
        other.bars[0].sys *= 1.02;
        assert!(!prints(&other, &record));
        let mut other = printed.clone();
        other.ncpus = Some(4);
        assert!(!prints(&other, &record));
        // Never a record against a record, or a transcript against one.
        assert!(!prints(&record, &record));
        assert!(!prints(&printed, &printed));
    }
}
