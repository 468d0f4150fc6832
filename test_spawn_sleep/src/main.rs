//! `test_spawn_sleep`: workers that are fresh processes, not forks.
//!
//! Port of `test_pool_spawn_sleep.py` (`multiprocessing.Pool` with start
//! method `spawn`, created once per bar()) and, with `--per-call`, of
//! `test_parallel_spawn_sleep.sage` (`@parallel(p_iter='multiprocessing')`,
//! which creates, maps over, closes and joins a new spawned pool in every
//! call).

use clap::Parser;
use cli::args::{int_in, seconds, EXIT_FAILURE};
use std::path::PathBuf;
use std::process::ExitCode;
use test_pool_sleep::{parse_inject, Command, Mode, Settings};

const ABOUT: &str = "A pool of spawned workers (fresh processes), once per bar() or, with --per-call, per call.";

const LONG_ABOUT: &str = "\
A pool of spawned workers (fresh processes), once per bar() or, with --per-call, per call.

Hypothesis under test: what drifts on macOS 15 is fork() of a big parent, not
process creation as such. Spawned workers are this executable started afresh
(posix_spawn where possible): the parent's size does not matter. With a pool
spawned once (test_pool_spawn_sleep.py), calls are only pipe traffic and no
drift is expected; with --per-call (test_parallel_spawn_sleep.sage) every call
spawns, maps over and joins a whole new pool, so each call pays for process
creation; if that cost stays flat call after call, process creation by spawn
does not drift.

The printed lines are byte for byte those of the originals (Pool family chunk
lines; with --per-call the original's per-call lines; IPython's %time block);
extra information is on lines labelled (extra).";

#[derive(Parser, Debug)]
#[command(name = "test_spawn_sleep", version, about = ABOUT, long_about = LONG_ABOUT, after_help = cli::args::after_help(), allow_negative_numbers = true)]
struct Cli {
    /// Calls per bar() (default 1000, timed in chunks of 100; 10 with --per-call, each timed).
    #[arg(long, value_name = "N", value_parser = int_in::<1, 100_000_000>)]
    numcalls: Option<u64>,
    /// Seconds each job sleeps (time.sleep), 0..=3600.
    #[arg(long = "sleep", value_name = "T", default_value = "0.001", value_parser = seconds)]
    sleep: f64,
    /// Workers in the pool, and jobs per call, 1..=1024.
    #[arg(long, alias = "ncpus", value_name = "N", default_value = "8", value_parser = int_in::<1, 1024>)]
    maxworkers: u64,
    /// A new spawned pool for every call (test_parallel_spawn_sleep.sage).
    #[arg(long)]
    per_call: bool,
    /// Jobs return a*a; print the last call's results.
    #[arg(long)]
    check: bool,
    /// Run bar() this many times in this process, each under %time.
    #[arg(long, value_name = "K", default_value = "1", value_parser = int_in::<1, 100_000>)]
    repeat: u64,
    /// Write the run record (parameters, system, every chunk) to this JSON file;
    /// `-` writes it to stdout after the run's lines. A device or FIFO is written
    /// through, a symlink's target replaced; a new file gets 0666 & !umask.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Testing aid: job A misbehaves (KIND: signal, exit, garble, truncate).
    #[arg(long, value_name = "KIND@A", hide = true, value_parser = parse_inject)]
    inject: Option<(Command, u64)>,
    /// Testing aid: an extra line per worker, at pool creation, saying who
    /// its parent is and whether it is a fork of this process or a fresh exec.
    #[arg(long, hide = true)]
    workers: bool,
}

fn main() -> ExitCode {
    // Spawned workers are this executable: serve and exit.
    procpool::enter_worker_role_if_asked(test_pool_sleep::JOBS);
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("test_spawn_sleep: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match cli::args::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return Ok(code),
    };
    let (mode, default_calls) = if cli.per_call {
        // test_parallel_spawn_sleep.sage: "Cost of spawning is prohibitive".
        (Mode::PerCall, 10)
    } else {
        (Mode::Pool(procpool::StartMethod::Spawn), 1000)
    };
    let settings = Settings {
        tool: "test_spawn_sleep",
        mode,
        numcalls: cli.numcalls.unwrap_or(default_calls),
        sleep: cli.sleep,
        workers: cli.maxworkers as usize,
        check: cli.check,
        repeat: cli.repeat,
        json: cli.json,
        inject: cli.inject,
        show_workers: cli.workers,
        map_churn: 0,
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
