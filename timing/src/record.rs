//! The run record (`--json PATH`): parameters, machine, every chunk and every
//! repeat, written once the run ends, interrupted or not.

use crate::clock::{peak_rss_bytes, Interval};
use crate::lines::LineFormat;
use crate::system::SystemInfo;
use cli::sink::{Sink, SinkError};
use drift::{Attribution, Judge, Verdict};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bumped whenever a field changes meaning.
pub const SCHEMA: u32 = 1;

/// Everything one process measured, as `--json` writes it and `report` reads
/// it back: enough to compare runs across machines without the transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// [`SCHEMA`] when written, so that a reader can tell an old record.
    pub schema: u32,
    /// The binary: `test_fork_sleep`, ...
    pub tool: String,
    /// The suite's version (the workspace's, which every crate shares) that
    /// wrote the record.
    pub version: String,
    /// What dispatches the jobs: `fork-per-job/pipe`, `pool/forkserver`, ...
    pub strategy: String,
    /// Every flag of the run, as the binary names them.
    pub params: serde_json::Value,
    /// The chunk line family with its workers and `T`: `report` takes the
    /// run's worker count and sleep from here, as from a transcript's lines.
    pub line_format: LineFormat,
    /// The machine and OS, read once at the start of the run.
    pub system: SystemInfo,
    /// Seconds since the Unix epoch at the start of the run.
    pub started_unix: f64,
    /// One entry per `%time bar()`, in order: the drift shows across them.
    pub repeats: Vec<Repeat>,
    /// The run was stopped by SIGINT or SIGTERM; `repeats` holds what was done.
    pub interrupted: bool,
    /// One-line cause when the run failed (dead worker, timeout).
    pub failure: Option<String>,
    /// Peak resident set size of the parent, bytes.
    pub peak_rss_bytes: u64,
    /// The drift verdict on the whole run, filled in by `Experiment::finish`
    /// (absent in records written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// What the system's own tool (macOS `vmmap -summary`, Linux `pmap`)
    /// counted of this process's regions before the first bar() and after
    /// the last, and the forks between (`probes::witness`); absent with
    /// `--witness off` and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<probes::witness::Witness>,
}

/// One bar() of the run (one `%time bar()` of the author's session).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Repeat {
    /// Every chunk that was timed, the last one possibly cut short.
    pub chunks: Vec<Chunk>,
    /// Calls completed, including those of an unfinished last chunk.
    pub calls: u64,
    /// The whole bar(), as `%time` measures it; absent when the bar() did not
    /// finish.
    pub totals: Option<Interval>,
}

/// One printed chunk line's measurements (up to 100 calls).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// Calls in this chunk: 100, or the remainder `r` of
    /// `divmod(numcalls, 100)`.
    pub calls: u64,
    /// The printed per-job cost of this chunk (family formula, seconds).
    pub cost_per_job: f64,
    /// Wall and CPU times of the chunk, flattened into the chunk's own
    /// JSON object (`wall`, `self`, `children`).
    #[serde(flatten)]
    pub time: Interval,
    /// Binary-specific extra measurements of this chunk (for example the
    /// `--breakdown` of test_fork_sleep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
    /// The parent's counters read after the chunk's clock stopped (see
    /// `probes::resources`; cumulative ones are this chunk's share).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "probes::resources::read_compat"
    )]
    pub resources: Option<probes::Reading>,
}

impl RunRecord {
    /// An empty record stamped with the start time and the machine
    /// ([`SystemInfo::collect`], which starts no thread, so this is safe
    /// in a parent that will fork).
    pub fn new(tool: &str, strategy: &str, params: serde_json::Value, line_format: LineFormat) -> Self {
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        RunRecord {
            schema: SCHEMA,
            tool: tool.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            strategy: strategy.into(),
            params,
            line_format,
            system: SystemInfo::collect(),
            started_unix,
            repeats: Vec::new(),
            interrupted: false,
            failure: None,
            peak_rss_bytes: 0,
            verdict: None,
            witness: None,
        }
    }

    /// `(position in calls, seconds per 100 calls)` of every non-empty chunk,
    /// in order across repeats: the points the drift verdict looks at. The
    /// position is the middle of the chunk counted from the first call of the
    /// run, so a remainder chunk of `r < 100` calls sits where it really is.
    pub fn points(&self) -> Vec<(f64, f64)> {
        drift::chunk_points(
            self.repeats
                .iter()
                .flat_map(|r| &r.chunks)
                .map(|c| (c.calls, c.time.wall)),
        )
    }

    /// One series per resource counter that every non-empty chunk has, in the
    /// order of [`RunRecord::points`]: what the drift attribution ranks.
    pub fn counter_series(&self) -> Vec<(String, Vec<f64>)> {
        let readings: Vec<Option<&probes::Reading>> = self
            .repeats
            .iter()
            .flat_map(|r| &r.chunks)
            .filter(|c| c.calls > 0)
            .map(|c| c.resources.as_ref())
            .collect();
        probes::resources::series(&readings)
    }

    /// Seconds per 100 calls of every complete chunk, in order across repeats:
    /// the series a drift verdict looks at.
    pub fn chunk_series(&self) -> Vec<f64> {
        self.repeats
            .iter()
            .flat_map(|r| &r.chunks)
            .filter(|c| c.calls > 0)
            .map(|c| c.time.wall * 100.0 / c.calls as f64)
            .collect()
    }
}

/// `--json PATH` that cannot be written (see [`cli::sink`]).
pub type RecordError = SinkError;

/// Where `--json` goes: a [`Sink`], checked when created, so that an
/// unwritable path fails before the experiment, not after an hour of it.
#[derive(Debug)]
pub struct JsonSink(Sink);

impl JsonSink {
    /// Checks `path` now, under the flag name `--json`.
    pub fn new(path: &Path) -> Result<JsonSink, RecordError> {
        Sink::new("--json", path).map(JsonSink)
    }

    /// The path as given on `--json` (`-` for standard output).
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes the record (a [`RunRecord`], or a
    /// [`crate::calibration::CalibrationRecord`]) by the rules of
    /// [`cli::sink`]: a regular file is replaced atomically, a device or FIFO
    /// written through, `-` is stdout.
    pub fn write(&self, record: &impl Serialize) -> Result<(), RecordError> {
        let mut bytes = serde_json::to_vec_pretty(record).map_err(|e| SinkError {
            flag: "--json",
            path: self.0.path().to_path_buf(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        self.0.write(&bytes)
    }
}

impl RunRecord {
    /// How this run's verdict is reached: jobs per call from the line
    /// format (the slope in µs per job), per earlier fork for the
    /// `fork-per-job/...` strategies, and the p-value of the last look of
    /// `--until-verdict` (`stop`), else p < 0.01.
    pub fn judge(&self, stop: Option<&drift::sequential::Stop>) -> Judge {
        Judge {
            max_p: stop.map_or(drift::MAX_P, |s| drift::sequential::max_p(s.looks)),
            jobs_per_call: Some(self.line_format.workers()),
            fork_per_job: self.strategy.starts_with("fork-per-job"),
        }
    }
}

/// Fills in what is only known at the end: peak RSS, the drift verdict (by
/// the rule of `--until-verdict` when `stop` says how it stopped) and, when
/// the chunks carry resource counters, its attribution.
pub(crate) fn seal(record: &mut RunRecord, stop: Option<drift::sequential::Stop>) {
    record.peak_rss_bytes = peak_rss_bytes();
    let points = record.points();
    let mut verdict = Verdict::judge(&points, &record.judge(stop.as_ref()));
    verdict.sequential = stop;
    let counters = record.counter_series();
    if !counters.is_empty() {
        let times: Vec<f64> = points.iter().map(|p| p.1).collect();
        verdict.attribution = Some(Attribution::of(&verdict, &times, &counters));
        verdict.busier = busier(&times, &counters);
    }
    record.verdict = Some(verdict);
}

/// The load witness of a run (`drift::load`): `times` the chunk times the
/// verdict looked at, `counters` the series read with them (a record's
/// chunks, or a transcript's `Counters (extra):` lines), where the machine's
/// counters of `probes::load` are found by name. `None` when the machine
/// did not get busier with the chunk times, or was not measured.
pub fn busier(times: &[f64], counters: &[(String, Vec<f64>)]) -> Option<drift::Busier> {
    let series = |name: &str| counters.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice());
    drift::Busier::of(times, series(probes::load::OTHER_CPU)?, series(probes::load::LOAD_AVG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        let sink = JsonSink::new(&path).unwrap();
        let mut rec = RunRecord::new("t", "s", serde_json::json!({"ncpus": 8}), LineFormat::para(8, 0.001));
        rec.repeats.push(Repeat {
            chunks: vec![Chunk {
                calls: 100,
                cost_per_job: 1e-4,
                time: Interval::default(),
                extra: None,
                resources: None,
            }],
            calls: 100,
            totals: Some(Interval::default()),
        });
        seal(&mut rec, None);
        sink.write(&rec).unwrap();
        let back: RunRecord = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back, rec);
        // Only the record is left in the directory: no probe, no temporary file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn records_without_a_verdict_still_parse() {
        let mut rec = RunRecord::new("t", "s", serde_json::json!({}), LineFormat::para(8, 0.001));
        let json = serde_json::to_string(&rec).unwrap();
        assert!(!json.contains("verdict"));
        let back: RunRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.verdict, None);
        seal(&mut rec, None);
        let json = serde_json::to_string(&rec).unwrap();
        assert!(json.contains(r#""verdict":{"verdict":"too few chunks""#), "{json}");
        let back: RunRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.verdict, rec.verdict);
    }

    #[test]
    fn remainder_chunks_sit_at_their_real_position() {
        let chunk = |calls: u64, wall: f64| Chunk {
            calls,
            cost_per_job: 0.0,
            time: Interval {
                wall,
                ..Interval::default()
            },
            extra: None,
            resources: None,
        };
        let mut rec = RunRecord::new("t", "s", serde_json::json!({}), LineFormat::para(2, 0.0));
        for _ in 0..2 {
            rec.repeats.push(Repeat {
                chunks: vec![chunk(100, 1.0), chunk(100, 1.0), chunk(50, 0.5), chunk(0, 0.0)],
                calls: 250,
                totals: None,
            });
        }
        let pts = rec.points();
        let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
        assert_eq!(xs, vec![50.0, 150.0, 225.0, 300.0, 400.0, 475.0]);
        assert!(pts.iter().all(|p| p.1 == 1.0));
        assert_eq!(pts.iter().map(|p| p.1).collect::<Vec<_>>(), rec.chunk_series());
        seal(&mut rec, None);
        assert_eq!(rec.verdict.map(|v| v.chunks), Some(6));
    }

    #[test]
    fn unwritable_paths_are_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        assert!(JsonSink::new(dir.path()).is_err());
        assert!(JsonSink::new(&dir.path().join("no/such/dir/run.json")).is_err());
    }
}
