//! The chunk loop of every original and IPython's `%time` around bar().
//!
//! The originals do `q, r = divmod(numcalls, 100)`, time each of the `q` chunks
//! of 100 calls with `time.perf_counter()` and print a line, then the same for
//! the `r` remaining calls when `r > 0`. The author runs bar() several times in
//! one session (`for _ in range(5): %time bar()`): the drift shows across
//! repeats, so one [`Experiment`] holds every repeat of one process.

use crate::clock::{Interval, Snapshot};
use crate::lines::{time_block, LineFormat};
use crate::record::{seal, Chunk, JsonSink, RecordError, Repeat, RunRecord};
use std::path::Path;
use std::process::ExitCode;

/// Where a call stands in bar().
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallIndex {
    /// 0-based chunk number in this bar() (the originals' `m` grows with it).
    pub chunk: u64,
    /// 0-based call number in this bar().
    pub call: u64,
}

/// `q, r = divmod(numcalls, 100)`: `q` chunks of 100 calls, then one of `r`.
pub fn chunk_sizes(numcalls: u64) -> impl Iterator<Item = u64> {
    let (q, r) = (numcalls / 100, numcalls % 100);
    std::iter::repeat_n(100, q as usize).chain((r > 0).then_some(r))
}

/// How a run ended, for the record and the exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every call of every repeat was done (or stdout closed, which
    /// [`Experiment::finish`] records as an interruption).
    Completed,
    /// SIGINT or SIGTERM (the number); the exit code is 128 + it.
    Interrupted(i32),
    /// One-line cause.
    Failed(String),
}

/// One process's run: every `%time bar()` of the author's session, the
/// record they fill in, and where it is written. Created before any worker
/// exists, so a bad `--json` path costs nothing.
pub struct Experiment {
    /// The record so far. Public so a binary can add what only it knows
    /// (test_fork_sleep's faults per job) before [`Experiment::finish`].
    pub record: RunRecord,
    line: LineFormat,
    json: Option<JsonSink>,
    /// The parent's counters, read after every chunk (`probes::resources`).
    resources: probes::Sampler,
    /// What reading them cost in the current bar(): taken out of its `%time`
    /// totals, which hold the original's work alone (the walk of the regions
    /// grows with what `--map-churn` adds).
    probe_cost: Interval,
    /// `--until-verdict SECONDS`, from the params (`cli::args::RunArgs::params`).
    until_verdict: Option<f64>,
    /// How an `--until-verdict` run stopped, for its verdict.
    stop: Option<drift::sequential::Stop>,
    /// `--witness on`, from the params: [`Experiment::repeat`] reads the
    /// system's tool before the first bar() and after the last.
    witness: bool,
}

/// One bar() in progress.
pub struct Bar<'a> {
    exp: &'a mut Experiment,
}

impl Outcome {
    /// Before each call of every strategy: `Err(Interrupted)` once a SIGINT
    /// or SIGTERM has come (or stdout has closed), so that the caller stops,
    /// reaps what it started and keeps what it has.
    pub fn check_interrupt() -> Result<(), Outcome> {
        match cli::signals::interrupted() {
            Some(sig) => Err(Outcome::Interrupted(sig as i32)),
            None => Ok(()),
        }
    }
}

impl Experiment {
    /// Checks `--json` before anything runs.
    pub fn new(
        tool: &str,
        strategy: &str,
        params: serde_json::Value,
        line: LineFormat,
        json: Option<&Path>,
    ) -> Result<Experiment, RecordError> {
        let json = json.map(JsonSink::new).transpose()?;
        let until_verdict = params["until_verdict"].as_f64();
        let witness = params["witness"].as_str() == Some("on");
        let record = RunRecord::new(tool, strategy, params, line.clone());
        Ok(Experiment {
            record,
            line,
            json,
            resources: probes::Sampler::new(),
            probe_cost: Interval::default(),
            until_verdict,
            stop: None,
            witness,
        })
    }

    /// One `%time bar()`: runs `body`, then prints the `%time` block. On error
    /// (a fault or an interruption) no block is printed, as in IPython, but the
    /// chunks done so far stay in the record.
    pub fn bar<E>(&mut self, body: impl FnOnce(&mut Bar<'_>) -> Result<(), E>) -> Result<(), E> {
        self.record.repeats.push(Repeat::default());
        self.probe_cost = Interval::default();
        let start = Snapshot::now();
        body(&mut Bar { exp: self })?;
        let totals = Snapshot::stop().since(&start).less(&self.probe_cost);
        for l in time_block(&totals) {
            cli::outln!("{l}");
        }
        self.current().totals = Some(totals);
        Ok(())
    }

    fn current(&mut self) -> &mut Repeat {
        self.record.repeats.last_mut().expect("bar() pushed a repeat")
    }

    /// Ends the run: stores the outcome, prints the drift verdict as one
    /// extra line after the last `%time` block (see the `drift` crate; also
    /// on an interrupted run, on the chunks done, but not on a failed one:
    /// the verdict of a run that broke down is noise; its record keeps the
    /// `failure`) and writes `--json` if asked. A run whose stdout closed is
    /// recorded as interrupted, even if its calls were all done: its lines
    /// were lost.
    pub fn finish(mut self, outcome: &Outcome) -> Result<RunRecord, RecordError> {
        match outcome {
            Outcome::Completed => self.record.interrupted = cli::output::closed(),
            Outcome::Interrupted(_) => self.record.interrupted = true,
            Outcome::Failed(why) => self.record.failure = Some(why.clone()),
        }
        if let (Outcome::Interrupted(_), Some(e)) = (outcome, cli::output::error()) {
            self.record.failure = Some(format!("standard output: {e}"));
        }
        seal(&mut self.record, self.stop);
        match (&self.record.verdict, outcome) {
            (_, Outcome::Failed(_)) | (None, _) => {}
            (Some(v), _) => {
                cli::outln!("{}", crate::extra_lines::verdict_line(v));
                if let Some(a) = &v.attribution {
                    cli::outln!("{}", crate::extra_lines::attribution_line(a));
                }
            }
        }
        if let Some(sink) = &self.json {
            sink.write(&self.record)?;
        }
        Ok(self.record)
    }

    /// The author's session, `for _ in range(repeat): %time bar()`: runs
    /// `body` as bar() `repeat` times and stops at the first failure or
    /// interruption, which it returns. With `--until-verdict SECONDS` (in
    /// the params), as the seed's author did by hand: bar() again and again,
    /// at least `repeat` times, until the stopping rule of
    /// [`drift::sequential`] decides or the time is up. With `--witness
    /// on` (in the params), the system's own tool reads this process's
    /// regions before the first bar() and after the last, outside every
    /// timed region, into the record's `witness` (see `probes::witness`).
    pub fn repeat(&mut self, repeat: u64, body: impl FnMut(&mut Bar<'_>) -> Result<(), Outcome>) -> Outcome {
        let witness = if self.witness { crate::witness::before() } else { None };
        let outcome = self.bars(repeat, body);
        self.record.witness = witness.map(|w| crate::witness::after(w, &outcome));
        outcome
    }

    /// The bar()s of [`Experiment::repeat`].
    fn bars(&mut self, repeat: u64, mut body: impl FnMut(&mut Bar<'_>) -> Result<(), Outcome>) -> Outcome {
        let Some(secs) = self.until_verdict else {
            for _ in 0..repeat {
                if let Err(stop) = self.bar(&mut body) {
                    return stop;
                }
            }
            return Outcome::Completed;
        };
        let start = std::time::Instant::now();
        let mut stop = drift::sequential::Stop::new(secs);
        loop {
            let bar_start = std::time::Instant::now();
            let done = self.bar(&mut body);
            let last_bar = bar_start.elapsed().as_secs_f64();
            let points = self.record.points();
            let judge = self.record.judge(Some(&stop));
            let end = stop.after_bar(&points, &judge, repeat, start.elapsed().as_secs_f64(), last_bar);
            self.stop = Some(stop);
            if let Err(outcome) = done {
                return outcome;
            }
            if end {
                return Outcome::Completed;
            }
        }
    }

    /// Ends the run as every binary of the suite does: [`Experiment::finish`],
    /// then one line on stderr for an interruption (with `cleanup`, what was
    /// done to the workers) or a failure, and the exit code: 0, 128 + signal
    /// (130, 143), or 1. A closed stdout (`SIGPIPE`, see [`cli::output`])
    /// is 0 with no message, as ripgrep; stdout failing otherwise is 1.
    pub fn conclude(self, tool: &str, outcome: &Outcome, cleanup: &str) -> Result<ExitCode, RecordError> {
        let record = self.finish(outcome)?;
        Ok(match outcome {
            Outcome::Completed | Outcome::Interrupted(libc::SIGPIPE) => match cli::output::error() {
                None => ExitCode::SUCCESS,
                Some(e) => {
                    eprintln!("{tool}: standard output: {e}; {cleanup}");
                    ExitCode::from(cli::args::EXIT_FAILURE)
                }
            },
            Outcome::Interrupted(sig) => {
                let done: u64 = record.repeats.iter().map(|r| r.calls).sum();
                eprintln!("{tool}: interrupted after {done} calls; {cleanup}");
                ExitCode::from(cli::signals::exit_code(*sig))
            }
            Outcome::Failed(why) => {
                eprintln!("{tool}: {why}");
                ExitCode::from(cli::args::EXIT_FAILURE)
            }
        })
    }
}

impl Bar<'_> {
    /// The chunk loop: `call` once per call, a chunk line after each chunk.
    pub fn chunks<E>(&mut self, numcalls: u64, call: impl FnMut(CallIndex) -> Result<(), E>) -> Result<(), E> {
        self.chunks_with_extra(numcalls, call, || None)
    }

    /// As [`Bar::chunks`]; after each chunk line `extra` may return one more,
    /// clearly labelled line and a JSON value stored with the chunk.
    pub fn chunks_with_extra<E>(
        &mut self,
        numcalls: u64,
        mut call: impl FnMut(CallIndex) -> Result<(), E>,
        mut extra: impl FnMut() -> Option<(String, serde_json::Value)>,
    ) -> Result<(), E> {
        let mut index = CallIndex { chunk: 0, call: 0 };
        for n in chunk_sizes(numcalls) {
            self.exp.resources.start_chunk();
            let start = Snapshot::now();
            for _ in 0..n {
                call(index)?;
                index.call += 1;
                self.exp.current().calls += 1;
            }
            let time = Snapshot::stop().since(&start);
            cli::outln!("{}", self.exp.line.chunk_line(time.wall, n));
            let extra = extra().map(|(line, value)| {
                cli::outln!("{line}");
                value
            });
            self.push_chunk(n, time, extra);
            index.chunk += 1;
        }
        Ok(())
    }
}

impl Bar<'_> {
    /// The per-call loop of `test_parallel_spawn_sleep.sage`: no chunks;
    /// before each call `before()` is printed without a newline and flushed,
    /// after it `after(delta)` and a newline. Each call is recorded as a chunk
    /// of one call (its `cost_per_job` is the family's cost for `n = 1`).
    pub fn each_call<E>(
        &mut self,
        numcalls: u64,
        mut before: impl FnMut() -> String,
        mut call: impl FnMut(CallIndex) -> Result<(), E>,
        mut after: impl FnMut(f64) -> String,
    ) -> Result<(), E> {
        for k in 0..numcalls {
            cli::out!("{}", before());
            self.exp.resources.start_chunk();
            let start = Snapshot::now();
            call(CallIndex { chunk: k, call: k })?;
            let time = Snapshot::stop().since(&start);
            cli::outln!("{}", after(time.wall));
            self.exp.current().calls += 1;
            self.push_chunk(1, time, None);
        }
        Ok(())
    }

    /// Records a finished chunk of `calls` calls with its family's cost per job.
    fn push_chunk(&mut self, calls: u64, time: Interval, extra: Option<serde_json::Value>) {
        let cost_per_job = self.exp.line.cost_per_job(time.wall, calls);
        let t0 = Snapshot::now();
        let resources = Some(self.exp.resources.sample());
        self.exp.probe_cost = self.exp.probe_cost.plus(&Snapshot::stop().since(&t0));
        self.exp.current().chunks.push(Chunk {
            calls,
            cost_per_job,
            time,
            extra,
            resources,
        });
    }
}
