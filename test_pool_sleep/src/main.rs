//! `test_pool_sleep`: a pool of long-lived workers, created once per bar().
//!
//! Port of `test_pool_fork_sleep.py` (`multiprocessing.Pool`, start method
//! `fork`, `pool.map` per call) and, with `--api executor`, of
//! `test_executor_sleep.sage` (`ProcessPoolExecutor` in a fork context). The
//! pool is `procpool`, with the real start mechanisms (`--start`).

use clap::{Parser, ValueEnum};
use cli::args::{int_in, seconds};
use pool_bars::{parse_inject, Mode, Settings};
use procpool::{Fault, SpawnVia, StartMethod};
use std::process::ExitCode;

const ABOUT: &str = "A pool of long-lived workers (fork or forkserver), mapped over again and again.";

const LONG_ABOUT: &str = "\
A pool of long-lived workers (fork or forkserver), mapped over again and again.

Hypothesis under test: on macOS 15 the slowdown of SageMath's @parallel comes
from forking a fresh child per job; a pool whose workers are forked once and
then reused (multiprocessing.Pool with 'fork' or 'forkserver', or a
ProcessPoolExecutor) does not drift, because after creation each call is only
pipe reads and writes, no fork, no exit, no wait. This binary is
test_pool_fork_sleep.py (and with --api executor test_executor_sleep.sage)
without an interpreter: if its chunk lines stay flat across --repeat while
test_fork_sleep drifts, the per-job fork is to blame.

The printed lines are byte for byte those of the originals (Pool family chunk
lines, or @para family with Cost/maxworkers/calls for --api executor, and
IPython's %time block); extra information is on lines labelled (extra).";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Api {
    /// multiprocessing.Pool.map (test_pool_fork_sleep.py): m grows per chunk.
    Pool,
    /// ProcessPoolExecutor.map (test_executor_sleep.sage): m grows per call.
    Executor,
}

#[derive(Parser, Debug)]
#[command(name = "test_pool_sleep", version, about = ABOUT, long_about = LONG_ABOUT, after_help = cli::args::after_help(), allow_negative_numbers = true,
    mut_arg("numcalls", |a| a.help("Calls of pool.map per bar() (default 1000), timed in chunks of 100.")),
    mut_arg("check", |a| a.help("Jobs return a*a; print the results (the last call's, or after every chunk with --api executor)."))
)]
struct Cli {
    #[command(flatten)]
    run: cli::args::RunArgs,
    /// Seconds each job sleeps (time.sleep), 0..=3600.
    #[arg(long = "sleep", value_name = "T", default_value = "0.001", value_parser = seconds)]
    sleep: f64,
    /// Workers in the pool, and jobs per call, 1..=1024.
    #[arg(long, alias = "ncpus", value_name = "N", default_value = "8", value_parser = int_in::<1, 1024>)]
    maxworkers: u64,
    /// Mechanism control: before each call the parent adds N small anonymous
    /// mappings that cannot merge, touches and keeps them (as test_fork_sleep
    /// --map-churn); a pool does not fork per call, so this should not drift.
    #[arg(long, value_name = "N", default_value = "0", value_parser = int_in::<0, 65536>)]
    map_churn: u64,
    /// multiprocessing start method of the pool.
    #[arg(long, value_enum, default_value_t = StartMethod::Fork)]
    start: StartMethod,
    /// How spawn workers and the forkserver are made (default: CPython's way
    /// on this platform).
    #[arg(long, value_enum, default_value_t = SpawnVia::DEFAULT)]
    spawn_via: SpawnVia,
    /// Which original: multiprocessing.Pool or ProcessPoolExecutor.
    #[arg(long, value_enum, default_value_t = Api::Pool)]
    api: Api,
    /// Testing aid: job A misbehaves (KIND: signal, exit, garble, truncate).
    #[arg(long, value_name = "KIND@A", hide = true, value_parser = parse_inject)]
    inject: Option<(Fault, u64)>,
    /// Testing aid: an extra line per worker, at pool creation, saying who
    /// its parent is and whether it is a fork of this process or a fresh exec.
    #[arg(long, hide = true)]
    workers: bool,
}

fn main() -> ExitCode {
    // Spawned workers and the forkserver are this executable: serve and exit.
    procpool::enter_worker_role_if_asked(pool_bars::JOBS);
    cli::args::main("test_pool_sleep", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    let start = cli.start;
    let settings = Settings {
        tool: "test_pool_sleep",
        mode: match cli.api {
            Api::Pool => Mode::Pool(start),
            Api::Executor => Mode::Executor(start),
        },
        numcalls: cli.run.numcalls(1000),
        sleep: cli.sleep,
        workers: cli.maxworkers as usize,
        check: cli.run.check,
        repeat: cli.run.repeat,
        json: cli.run.json,
        inject: cli.inject,
        spawn_via: cli.spawn_via,
        show_workers: cli.workers,
        map_churn: cli.map_churn,
    };
    pool_bars::run(&settings)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
