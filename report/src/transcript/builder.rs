//! Chunk lines into runs: one run per session and mechanism, one repeat per
//! bar(), and the line range each run came from.

use super::lines::{ChunkLine, Family, Line};
use super::session::Session;
use crate::run::{Point, Run, SourceKind};

/// What must stay the same for chunk lines to belong to one run.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    family: Family,
    ncpus: usize,
    sleep_bits: Option<u64>,
    mechanism: (Option<String>, bool, bool),
}

struct Open {
    key: Key,
    run: Run,
    repeat: usize,
    /// The harness's counters after each point (`Counters (extra):`).
    readings: Vec<Option<probes::Reading>>,
    /// 1-based line range.
    first: usize,
    last: usize,
}

#[derive(Default)]
pub(super) struct Builder {
    runs: Vec<(Run, usize, usize)>,
    current: Option<Open>,
    /// A `Wall time:`, `Using ...` or prompt line closed the current bar().
    bar_closed: bool,
    /// First line of the material (prompt, banner, header) that leads to the
    /// next chunk line, so that a run's range starts at its session's start.
    mark: Option<usize>,
    /// test_openmp_sleep.c's header: threads and line.
    openmp: Option<(usize, usize)>,
}

impl Builder {
    /// Takes one classified line (number `at`, 1-based) of `session`.
    pub fn feed(&mut self, at: usize, line: Line, session: &Session) {
        match line {
            Line::Chunk(chunk) => self.chunk(at, chunk, session),
            Line::SpawnCost(cost) => self.spawn_cost(at, cost),
            Line::WallTime => {
                self.close_bar();
                if let Some(open) = &mut self.current {
                    open.last = at;
                }
            }
            Line::OpenMp(threads) => {
                self.openmp = Some((threads, at));
                self.mark.get_or_insert(at);
            }
            Line::Using { .. } | Line::StartMethod(_) | Line::Prompt { .. } => {
                self.close_bar();
                self.mark.get_or_insert(at);
            }
            Line::Shell { .. } | Line::Banner(..) | Line::Harness { .. } => {
                self.mark.get_or_insert(at);
            }
            Line::Counters(reading) => {
                if let Some(open) = &mut self.current {
                    if let Some(last) = open.readings.last_mut() {
                        *last = Some(reading);
                        open.last = at;
                    }
                }
            }
            Line::PythonVersion(_) | Line::OsMention(_) | Line::Heading | Line::Fence | Line::Other => {}
        }
    }

    /// A session ended: its run is complete.
    pub fn end_session(&mut self) {
        self.close_run();
        self.mark = None;
    }

    fn chunk(&mut self, at: usize, chunk: ChunkLine, session: &Session) {
        let key = Key {
            family: chunk.family.clone(),
            ncpus: chunk.ncpus,
            sleep_bits: chunk.sleep.map(f64::to_bits),
            mechanism: session.mechanism(),
        };
        let bar_closed = std::mem::take(&mut self.bar_closed);
        let mark = self.mark.take();
        let open = match &mut self.current {
            Some(open) if open.key == key => {
                open.repeat += usize::from(bar_closed);
                open
            }
            _ => {
                self.close_run();
                self.current.insert(Open {
                    key,
                    run: Run {
                        source: String::new(),
                        kind: SourceKind::Transcript,
                        strategy: String::new(),
                        os_arch: "unknown".into(),
                        ncpus: Some(chunk.ncpus),
                        sleep: chunk.sleep,
                        points: Vec::new(),
                        counters: Vec::new(),
                        ..Run::default()
                    },
                    repeat: 0,
                    readings: Vec::new(),
                    first: mark.unwrap_or(at),
                    last: at,
                })
            }
        };
        open.run.base = session.strategy(&chunk.family);
        open.run.factors = session.factors();
        open.run.strategy = format!("{}{}", open.run.base, open.run.factors.label());
        open.run.os_arch = session.os().unwrap_or_else(|| "unknown".into());
        open.last = at;
        open.readings.push(None);
        open.run.points.push(Point {
            repeat: open.repeat,
            calls: chunk.calls,
            wall: chunk.wall,
            cost_per_job: chunk.cost_per_job,
        });
    }

    /// The spawn script prints the cost of a call on the line after it.
    fn spawn_cost(&mut self, at: usize, cost: f64) {
        if let Some(open) = &mut self.current {
            if open.key.family == Family::SpawnPerCall {
                if let Some(last) = open.run.points.last_mut() {
                    last.cost_per_job = cost;
                    open.last = at;
                }
            }
        }
    }

    fn close_bar(&mut self) {
        if self.current.is_some() {
            self.bar_closed = true;
        }
    }

    fn close_run(&mut self) {
        if let Some(mut open) = self.current.take() {
            open.run.counters = series(&open.readings);
            self.runs.push((open.run, open.first, open.last));
        }
        self.bar_closed = false;
    }

    /// The runs, each with its source `FILE:FIRST-LAST (transcript)`. A file
    /// with only test_openmp_sleep.c's header (it prints no timing) is one
    /// run with no chunk.
    pub fn finish(mut self, file: &str) -> Vec<Run> {
        self.close_run();
        if self.runs.is_empty() {
            if let Some((threads, at)) = self.openmp {
                let run = Run {
                    source: String::new(),
                    kind: SourceKind::Transcript,
                    strategy: "OpenMP thread team".into(),
                    os_arch: "unknown".into(),
                    ncpus: Some(threads),
                    sleep: None,
                    points: Vec::new(),
                    counters: Vec::new(),
                    ..Run::default()
                };
                self.runs.push((run, at, at));
            }
        }
        self.runs
            .into_iter()
            .map(|(mut run, first, last)| {
                run.source = format!("{file}:{first}-{last} (transcript)");
                run
            })
            .collect()
    }
}

/// One series per counter that every point has a reading of (the harness
/// reads after each chunk line); none when a point has no reading.
fn series(readings: &[Option<probes::Reading>]) -> Vec<(String, Vec<f64>)> {
    let Some(Some(first)) = readings.first() else {
        return Vec::new();
    };
    first
        .keys()
        .filter_map(|k| {
            let s: Option<Vec<f64>> = readings
                .iter()
                .map(|r| r.as_ref().and_then(|r| r.get(k)).map(|&v| v as f64))
                .collect();
            s.map(|s| (k.clone(), s))
        })
        .collect()
}
