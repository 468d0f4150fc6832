//! What the sleep pool ports share (`test_pool_sleep`, `test_spawn_sleep`):
//! the sleep job the pool workers run (the originals' `foo`, [`job`]), and
//! bar() for the three shapes of the originals (`bars.rs`):
//!
//! - [`Mode::Pool`]: `test_pool_fork_sleep.py` / `test_pool_spawn_sleep.py`, a
//!   `multiprocessing.Pool` created once per bar(), `pool.map` per call, `m`
//!   growing by `maxworkers` per *chunk*;
//! - [`Mode::Executor`]: `test_executor_sleep.sage`, a `ProcessPoolExecutor`
//!   (fork context) created once per bar(), `m` growing per *call*, results
//!   printed after every chunk with `check`;
//! - [`Mode::PerCall`]: `test_parallel_spawn_sleep.sage`, Sage's
//!   `p_iter='multiprocessing'`, a **new** spawned pool for every call.
//!
//! [`stop`] (how a signal or a pool error ends a bar) is shared with
//! `test_rf_pool` too.

#![warn(missing_docs)]

mod bars;
pub mod job;
pub mod stop;

pub use job::{decode_result, encode_job, parse_inject, sleep_job, JOBS, JOB_LEN};

use cli::args::usage;
use cli::args::RunArgs;
use cli::signals;
use probes::churn::MapChurn;
use procpool::{Fault, SpawnVia, StartMethod};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use timing::{Experiment, LineFormat};

/// Which original bar() to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `multiprocessing.Pool` once per bar(), started this way.
    Pool(StartMethod),
    /// `ProcessPoolExecutor` once per bar(), started this way.
    Executor(StartMethod),
    /// A new spawned pool for every call.
    PerCall,
}

/// Everything bar() needs, from the flags.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The binary's name, for its lines and record.
    pub tool: &'static str,
    /// Which original bar().
    pub mode: Mode,
    /// Calls per bar().
    pub numcalls: u64,
    /// Seconds each job sleeps.
    pub sleep: f64,
    /// Workers in the pool, and jobs per call.
    pub workers: usize,
    /// Jobs return `a*a`, printed.
    pub check: bool,
    /// bar() runs, each under `%time`.
    pub repeat: u64,
    /// `--until-verdict SECONDS`.
    pub until_verdict: Option<f64>,
    /// `--json PATH`.
    pub json: Option<PathBuf>,
    /// `--inject KIND@A` (hidden): job `a` misbehaves.
    pub inject: Option<(Fault, u64)>,
    /// `--spawn-via`: how spawn workers and the forkserver are made.
    pub spawn_via: SpawnVia,
    /// `--workers` (hidden): an extra line per worker saying who started it.
    pub show_workers: bool,
    /// `--map-churn N`: mappings the parent adds before each call.
    pub map_churn: u64,
}

/// The flags every pool binary of sleeps has (test_pool_sleep,
/// test_spawn_sleep), flattened into their `Cli`.
#[derive(clap::Args, Clone, Debug)]
pub struct PoolArgs {
    /// Seconds each job sleeps (time.sleep), 0..=3600.
    #[arg(long = "sleep", value_name = "T", default_value = "0.001", value_parser = cli::args::seconds)]
    pub sleep: f64,
    /// Workers in the pool, and jobs per call, 1..=1024.
    #[arg(long, alias = "ncpus", value_name = "N", default_value = "8", value_parser = cli::args::int_in::<1, 1024>)]
    pub maxworkers: u64,
    /// How spawn workers and the forkserver are made (default: CPython's way
    /// on this platform: fork-exec on macOS, posix-spawn elsewhere).
    #[arg(long, value_enum, default_value_t = SpawnVia::DEFAULT)]
    pub spawn_via: SpawnVia,
    /// Testing aid: job A misbehaves (KIND: signal, exit, garble, truncate).
    #[arg(long, value_name = "KIND@A", hide = true, value_parser = parse_inject)]
    pub inject: Option<(Fault, u64)>,
    /// Testing aid: an extra line per worker, at pool creation, saying who
    /// its parent is and whether it is a fork of this process or a fresh exec.
    #[arg(long, hide = true)]
    pub workers: bool,
}

impl Settings {
    /// The settings of a run of `tool` from its flags; `numcalls` is the
    /// resolved `--numcalls` (the defaults differ by original).
    pub fn new(
        tool: &'static str,
        mode: Mode,
        numcalls: u64,
        run: RunArgs,
        pool: PoolArgs,
        map_churn: u64,
    ) -> Settings {
        Settings {
            tool,
            mode,
            numcalls,
            sleep: pool.sleep,
            workers: pool.maxworkers as usize,
            check: run.check,
            repeat: run.repeat,
            until_verdict: run.until_verdict,
            json: run.json,
            inject: pool.inject,
            spawn_via: pool.spawn_via,
            show_workers: pool.workers,
            map_churn,
        }
    }

    pub(crate) fn strategy(&self) -> String {
        match self.mode {
            Mode::Pool(m) => format!("pool/{m}"),
            Mode::Executor(m) => format!("executor/{m}"),
            Mode::PerCall => "pool-per-call/spawn".into(),
        }
    }

    pub(crate) fn line_format(&self) -> LineFormat {
        match self.mode {
            Mode::Pool(_) => LineFormat::Pool {
                workers: self.workers,
                sleep: self.sleep,
            },
            Mode::Executor(_) => LineFormat::Para {
                workers: self.workers,
                sleep: self.sleep,
                label: "maxworkers".into(),
            },
            Mode::PerCall => LineFormat::para(self.workers, self.sleep),
        }
    }

    /// Job `a`, with its fault under `--inject`.
    pub(crate) fn job(&self, a: u64) -> [u8; JOB_LEN] {
        encode_job(a, self.sleep, self.check, Fault::code_for(self.inject, a))
    }
}

/// Runs every bar() and ends the run: the exit code (0, 1, 2, 130, 143).
pub fn run(s: &Settings) -> anyhow::Result<ExitCode> {
    let mut params = serde_json::json!({
        "numcalls": s.numcalls, "sleep": s.sleep, "maxworkers": s.workers, "check": s.check,
        "repeat": s.repeat, "mode": format!("{:?}", s.mode).to_lowercase(), "map_churn": s.map_churn,
        "spawn_via": s.spawn_via.name(),
    });
    if let Some(secs) = s.until_verdict {
        // Where timing::Experiment takes --until-verdict from.
        params["until_verdict"] = secs.into();
    }
    let mut exp = Experiment::new(s.tool, &s.strategy(), params, s.line_format(), s.json.as_deref()).map_err(usage)?;
    let mut churn = MapChurn::new(s.map_churn, s.numcalls.saturating_mul(s.repeat)).map_err(usage)?;
    let servers = match s.mode {
        Mode::Pool(m) | Mode::Executor(m) => u64::from(m == procpool::StartMethod::Forkserver),
        Mode::PerCall => 0,
    };
    cli::limits::ensure_room("--maxworkers", s.workers as u64, servers).map_err(usage)?;
    signals::catch(&[nix::sys::signal::Signal::SIGINT, nix::sys::signal::Signal::SIGTERM])?;
    procpool::diag::MARK.store(u64::from(std::process::id()) | 1 << 40, Ordering::SeqCst);
    let outcome = exp.repeat(s.repeat, |b| match s.mode {
        Mode::Pool(m) => bars::pool_bar(b, s, m, &mut churn),
        Mode::Executor(m) => bars::executor_bar(b, s, m, &mut churn),
        Mode::PerCall => bars::per_call_bar(b, s, &mut churn),
    });
    Ok(exp.conclude(s.tool, &outcome, "workers stopped and reaped")?)
}
