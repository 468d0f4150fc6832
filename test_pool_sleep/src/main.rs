//! `test_pool_sleep`: a pool of long-lived workers, created once per bar().
//!
//! Port of `test_pool_fork_sleep.py` (`multiprocessing.Pool`, start method
//! `fork`, `pool.map` per call) and, with `--api executor`, of
//! `test_executor_sleep.sage` (`ProcessPoolExecutor` in a fork context). The
//! pool is `procpool`, with the real start mechanisms (`--start`).

use clap::{Parser, ValueEnum};
use cli::args::{int_in, seconds, EXIT_FAILURE};
use std::path::PathBuf;
use std::process::ExitCode;
use test_pool_sleep::{parse_inject, Command, Mode, Settings};

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
enum Start {
    /// Workers forked from this process once, at pool creation.
    Fork,
    /// Workers forked by a server process spawned once (SCM_RIGHTS hand-over).
    Forkserver,
    /// Workers are fresh processes of this executable (see also test_spawn_sleep).
    Spawn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Api {
    /// multiprocessing.Pool.map (test_pool_fork_sleep.py): m grows per chunk.
    Pool,
    /// ProcessPoolExecutor.map (test_executor_sleep.sage): m grows per call.
    Executor,
}

#[derive(Parser, Debug)]
#[command(name = "test_pool_sleep", version, about = ABOUT, long_about = LONG_ABOUT, after_help = cli::args::after_help(), allow_negative_numbers = true)]
struct Cli {
    /// Calls of pool.map per bar(), timed in chunks of 100.
    #[arg(long, value_name = "N", default_value = "1000", value_parser = int_in::<1, 100_000_000>)]
    numcalls: u64,
    /// Seconds each job sleeps (time.sleep), 0..=3600.
    #[arg(long = "sleep", value_name = "T", default_value = "0.001", value_parser = seconds)]
    sleep: f64,
    /// Workers in the pool, and jobs per call, 1..=1024.
    #[arg(long, alias = "ncpus", value_name = "N", default_value = "8", value_parser = int_in::<1, 1024>)]
    maxworkers: u64,
    /// Jobs return a*a; print the results (the last call's, or after every chunk with --api executor).
    #[arg(long)]
    check: bool,
    /// Run bar() this many times in this process, each under %time.
    #[arg(long, value_name = "K", default_value = "1", value_parser = int_in::<1, 100_000>)]
    repeat: u64,
    /// Mechanism control: before each call the parent adds N small anonymous
    /// mappings that cannot merge, touches and keeps them (as test_fork_sleep
    /// --map-churn); a pool does not fork per call, so this should not drift.
    #[arg(long, value_name = "N", default_value = "0", value_parser = int_in::<0, 65536>)]
    map_churn: u64,
    /// Write the run record (parameters, system, every chunk) to this JSON file;
    /// `-` writes it to stdout after the run's lines. A device or FIFO is written
    /// through, a symlink's target replaced; a new file gets 0666 & !umask.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// multiprocessing start method of the pool.
    #[arg(long, value_enum, default_value_t = Start::Fork)]
    start: Start,
    /// Which original: multiprocessing.Pool or ProcessPoolExecutor.
    #[arg(long, value_enum, default_value_t = Api::Pool)]
    api: Api,
    /// Testing aid: job A misbehaves (KIND: signal, exit, garble, truncate).
    #[arg(long, value_name = "KIND@A", hide = true, value_parser = parse_inject)]
    inject: Option<(Command, u64)>,
    /// Testing aid: an extra line per worker, at pool creation, saying who
    /// its parent is and whether it is a fork of this process or a fresh exec.
    #[arg(long, hide = true)]
    workers: bool,
}

fn main() -> ExitCode {
    // Spawned workers and the forkserver are this executable: serve and exit.
    procpool::enter_worker_role_if_asked(test_pool_sleep::JOBS);
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("test_pool_sleep: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match cli::args::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return Ok(code),
    };
    let start = match cli.start {
        Start::Fork => procpool::StartMethod::Fork,
        Start::Forkserver => procpool::StartMethod::Forkserver,
        Start::Spawn => procpool::StartMethod::Spawn,
    };
    let settings = Settings {
        tool: "test_pool_sleep",
        mode: match cli.api {
            Api::Pool => Mode::Pool(start),
            Api::Executor => Mode::Executor(start),
        },
        numcalls: cli.numcalls,
        sleep: cli.sleep,
        workers: cli.maxworkers as usize,
        check: cli.check,
        repeat: cli.repeat,
        json: cli.json,
        inject: cli.inject,
        show_workers: cli.workers,
        map_churn: cli.map_churn,
    };
    test_pool_sleep::run(&settings)
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
