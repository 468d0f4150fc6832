//! `test_spawn_sleep`: workers that are fresh processes, not forks.
//!
//! Port of `test_pool_spawn_sleep.py` (`multiprocessing.Pool` with start
//! method `spawn`, created once per bar()) and, with `--per-call`, of
//! `test_parallel_spawn_sleep.sage` (`@parallel(p_iter='multiprocessing')`,
//! which creates, maps over, closes and joins a new spawned pool in every
//! call).

use clap::Parser;
use pool_bars::{Mode, Settings};
use std::process::ExitCode;

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
#[command(name = "test_spawn_sleep", version, about = ABOUT, long_about = LONG_ABOUT,
    mut_arg("numcalls", |a| a.help("Calls per bar() (default 1000, timed in chunks of 100; 10 with --per-call, each timed).")),
    mut_arg("check", |a| a.help("Jobs return a*a; print the last call's results (input order, as pool.map).")),
)]
struct Cli {
    #[command(flatten)]
    run: cli::args::RunArgs,
    #[command(flatten)]
    pool: pool_bars::PoolArgs,
    /// A new spawned pool for every call (test_parallel_spawn_sleep.sage).
    #[arg(long)]
    per_call: bool,
}

fn main() -> ExitCode {
    // Spawned workers and the forkserver are this executable: serve and exit.
    procpool::enter_worker_role_if_asked(pool_bars::JOBS);
    cli::args::main("test_spawn_sleep", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    let (mode, default_calls) = if cli.per_call {
        // test_parallel_spawn_sleep.sage: "Cost of spawning is prohibitive".
        (Mode::PerCall, 10)
    } else {
        (Mode::Pool(procpool::StartMethod::Spawn), 1000)
    };
    let numcalls = cli.run.numcalls(default_calls);
    let settings = Settings::new("test_spawn_sleep", mode, numcalls, cli.run, cli.pool, 0);
    pool_bars::run(&settings)
}

cli::cli_is_well_formed!(Cli);
