//! Chunk lines into runs: one run per session and mechanism, one repeat per
//! bar(), and the line range each run came from.

use super::lines::{ChunkLine, Family, Line, WitnessLine};
use super::session::Session;
use crate::run::{BarTimes, Os, Point, PrunTable, Run, SourceKind, StrategyKind, PRUN_ONLY, TIME_BLOCKS};

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
    /// The harness's witness: its reading before the run's first bar(),
    /// then the one after its last.
    witness: Option<probes::witness::Witness>,
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
    /// The `CPU times:` line of the `%time` block under way: user, sys, line.
    cpu: Option<(f64, f64, usize)>,
    /// A chunk line came since the last bar() ended: a `%time` block now
    /// belongs to the open run.
    chunks_in_bar: bool,
    /// `%time` blocks with no chunk line in their bar(): a run of whole
    /// bar()s of this session ([`TIME_BLOCKS`]), with its line range.
    timed: Option<(Run, usize, usize)>,
    /// This session's `%prun` tables, the last one still filling, and the
    /// last line of a row.
    prun: Vec<PrunTable>,
    prun_last: usize,
    /// The harness's `Witness (extra): ... when=before` line, for the
    /// session's next run.
    witness_before: Option<WitnessLine>,
}

impl Builder {
    /// The runs ended so far.
    pub fn ended(&self) -> usize {
        self.runs.len()
    }

    /// Takes one classified line (number `at`, 1-based) of `session`.
    pub fn feed(&mut self, at: usize, line: Line, session: &Session) {
        match line {
            Line::Chunk(chunk) => self.chunk(at, chunk, session),
            Line::SpawnCost(cost) => self.spawn_cost(at, cost),
            Line::CpuTimes { user, sys } => self.cpu = Some((user, sys, at)),
            Line::WallTime(wall) => {
                self.time_block(at, wall);
                self.close_bar();
            }
            Line::PrunHeader => self.prun.push(PrunTable {
                line: at,
                rows: Vec::new(),
            }),
            Line::PrunRow {
                function,
                ncalls,
                tottime,
            } => {
                if self.prun.is_empty() {
                    self.prun.push(PrunTable {
                        line: at,
                        rows: Vec::new(),
                    });
                }
                if let Some(table) = self.prun.last_mut() {
                    table.rows.push((function, ncalls, tottime));
                }
                self.prun_last = at;
            }
            Line::OpenMp(threads) => {
                self.openmp = Some((threads, at));
                self.mark.get_or_insert(at);
            }
            Line::Using { .. } | Line::StartMethod(_) | Line::Prompt { .. } => {
                self.close_bar();
                self.mark.get_or_insert(at);
            }
            Line::Shell { .. } | Line::Banner(..) | Line::Harness { .. } | Line::Build(_) => {
                self.mark.get_or_insert(at);
            }
            Line::Witness(w) => self.witness(at, w),
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

    /// A session ended: its run is complete. Its `%prun` tables go with
    /// its last run (a run of their own when it had none).
    pub fn end_session(&mut self) {
        let tables = std::mem::take(&mut self.prun);
        if !tables.is_empty() {
            let first = tables[0].line;
            if let Some(open) = &mut self.current {
                open.run.prun.extend(tables);
                open.last = open.last.max(self.prun_last);
            } else if let Some((run, _, last)) = &mut self.timed {
                run.prun.extend(tables);
                *last = (*last).max(self.prun_last);
            } else {
                let mut run = transcript_run(PRUN_ONLY, None, None);
                run.prun = tables;
                self.runs.push((run, first, self.prun_last));
            }
        }
        self.close_run();
        if let Some(timed) = self.timed.take() {
            self.runs.push(timed);
        }
        self.mark = None;
        self.cpu = None;
        self.witness_before = None;
    }

    /// The harness reads the witness before the first bar() (kept for the
    /// run that starts next) and after the last (the open run's, when it
    /// also had the reading before: both span the same bar()s).
    fn witness(&mut self, at: usize, w: WitnessLine) {
        if !w.after {
            self.witness_before = Some(w);
            return;
        }
        if let Some(open) = &mut self.current {
            if let Some(witness) = open.witness.as_mut().filter(|o| o.tool == w.tool && o.after.is_none()) {
                witness.after = Some(w.regions);
                witness.forks = w.forks;
                open.last = at;
            }
        }
    }

    /// `Wall time:` ends a `%time` block: the bar() of the open run when
    /// chunk lines came in it, else one point of this session's run of
    /// whole bar()s. A block needs both its lines to count.
    fn time_block(&mut self, at: usize, wall: Option<f64>) {
        let cpu = self.cpu.take();
        let (Some(wall), Some((user, sys, from))) = (wall, cpu) else {
            if let Some(open) = &mut self.current {
                open.last = at;
            }
            return;
        };
        let bar = BarTimes { wall, user, sys };
        match &mut self.current {
            Some(open) if self.chunks_in_bar => {
                open.run.bars.push(bar);
                open.last = at;
            }
            _ => {
                let (run, _, last) = self
                    .timed
                    .get_or_insert_with(|| (transcript_run(TIME_BLOCKS, None, None), from, at));
                run.points.push(Point {
                    repeat: run.bars.len(),
                    calls: 1000,
                    wall,
                    cost_per_job: f64::NAN,
                });
                run.bars.push(bar);
                *last = at;
            }
        }
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
                let witness = self.witness_before.take().map(|w| probes::witness::Witness {
                    tool: w.tool,
                    before: Some(w.regions),
                    after: None,
                    forks: None,
                    refused: None,
                });
                self.current.insert(Open {
                    key,
                    run: transcript_run("", Some(chunk.ncpus), chunk.sleep),
                    repeat: 0,
                    readings: Vec::new(),
                    witness,
                    first: mark.unwrap_or(at),
                    last: at,
                })
            }
        };
        (open.run.strategy_kind, open.run.base) = session.strategy(&chunk.family);
        if let Some(build) = session.build() {
            open.run.base = crate::repro::with_build(&open.run.base, build);
        }
        open.run.factors = session.factors();
        open.run.strategy = format!("{}{}", open.run.base, open.run.factors.label());
        open.run.os_arch = session.os().unwrap_or_else(|| "unknown".into());
        open.run.os = Os::of_name(&open.run.os_arch);
        open.run.machine = session.machine().unwrap_or_default();
        open.last = at;
        open.readings.push(None);
        self.chunks_in_bar = true;
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
        self.chunks_in_bar = false;
    }

    fn close_run(&mut self) {
        if let Some(mut open) = self.current.take() {
            open.run.counters =
                probes::resources::series(&open.readings.iter().map(Option::as_ref).collect::<Vec<_>>());
            open.run.witness = open.witness.filter(|w| w.after.is_some());
            self.runs.push((open.run, open.first, open.last));
        }
        self.bar_closed = false;
    }

    /// The runs, each with its source `FILE:FIRST-LAST (transcript)`. A file
    /// with only test_openmp_sleep.c's header (it prints no timing) is one
    /// run with no chunk.
    pub fn finish(mut self, file: &str) -> Vec<Run> {
        self.end_session();
        if self.runs.is_empty() {
            if let Some((threads, at)) = self.openmp {
                let mut run = transcript_run("OpenMP thread team", Some(threads), None);
                run.strategy_kind = StrategyKind::ThreadTeam;
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

/// An empty run of a transcript.
fn transcript_run(strategy: &str, ncpus: Option<usize>, sleep: Option<f64>) -> Run {
    Run {
        source: String::new(),
        kind: SourceKind::Transcript,
        strategy: strategy.into(),
        os_arch: "unknown".into(),
        ncpus,
        sleep,
        points: Vec::new(),
        counters: Vec::new(),
        bars: Vec::new(),
        prun: Vec::new(),
        until_verdict: None,
        ..Run::default()
    }
}
