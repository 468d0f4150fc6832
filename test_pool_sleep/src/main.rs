//! `test_pool_sleep`: a pool of long-lived workers, created once per bar().
//!
//! Port of `test_pool_fork_sleep.py` (`multiprocessing.Pool`, start method
//! `fork`, `pool.map` per call) and, with `--api executor`, of
//! `test_executor_sleep.sage` (`ProcessPoolExecutor` in a fork context). The
//! pool is `procpool`, with the real start mechanisms (`--start`).

use clap::{Parser, ValueEnum};
use cli::args::int_in;
use pool_bars::{Mode, Settings};
use procpool::StartMethod;
use std::process::ExitCode;

const ABOUT: &str = "A pool of long-lived workers (fork, forkserver or spawn), mapped over again and again.";

const LONG_ABOUT: &str = "\
A pool of long-lived workers (fork, forkserver or spawn), mapped over again and again.

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
#[command(name = "test_pool_sleep", version, about = ABOUT, long_about = LONG_ABOUT,
    mut_arg("numcalls", |a| a.help("Calls of pool.map per bar() (default 1000), timed in chunks of 100.")),
    mut_arg("check", |a| a.help("Jobs return a*a; print the results (the last call's, or after every chunk with --api executor)."))
)]
struct Cli {
    #[command(flatten)]
    run: cli::args::RunArgs,
    #[command(flatten)]
    pool: pool_bars::PoolArgs,
    /// Mechanism control: before each call the parent adds N small anonymous
    /// mappings that cannot merge, touches and keeps them (as test_fork_sleep
    /// --map-churn); a pool does not fork per call, so this should not drift.
    #[arg(long, value_name = "N", default_value = "0", value_parser = int_in::<0, 65536>)]
    map_churn: u64,
    /// multiprocessing start method of the pool.
    #[arg(long, value_enum, default_value_t = StartMethod::Fork)]
    start: StartMethod,
    /// Which original: multiprocessing.Pool or ProcessPoolExecutor.
    #[arg(long, value_enum, default_value_t = Api::Pool)]
    api: Api,
}

fn main() -> ExitCode {
    // Spawned workers and the forkserver are this executable: serve and exit.
    procpool::enter_worker_role_if_asked(pool_bars::JOBS);
    cli::args::main("test_pool_sleep", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    let mode = match cli.api {
        Api::Pool => Mode::Pool(cli.start),
        Api::Executor => Mode::Executor(cli.start),
    };
    let numcalls = cli.run.numcalls(1000);
    let settings = Settings::new("test_pool_sleep", mode, numcalls, cli.run, cli.pool, cli.map_churn);
    pool_bars::run(&settings)
}

cli::cli_is_well_formed!(Cli);
