//! `test_threads_sleep`: port of `test_openmp_sleep.c`, the control of the
//! experiment. Threads never fork; the original showed no drift. The port
//! times what the C original left to `time(1)`, in the same chunk lines as
//! the fork-per-job ports, so that one report compares them.

mod barrier;
mod channel;
mod iteration;
mod rayon_pool;
mod runner;
mod team;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use cli::args::{int_in, seconds, usage};
use cli::{outln, signals};
use iteration::Spawner;
use nix::sys::signal::Signal;
use probes::churn::MapChurn;
use runner::{BodySpec, Runner};
use std::process::ExitCode;
use timing::{Experiment, LineFormat, Outcome};

const ABOUT: &str = "Run NCPUS sleeps per call on a team of threads, as test_openmp_sleep.c does.";

const LONG_ABOUT: &str = "\
Run NCPUS sleeps per call on a team of threads, as test_openmp_sleep.c does.

Hypothesis under test: the drift of SageMath's @parallel on macOS 15 comes from
creating processes (fork) call after call, not from running NCPUS jobs in
parallel as such. Threads never fork, so this control should show no drift on a
machine where test_fork_sleep drifts. --runtime team is what OpenMP does (one
team created once, thread a runs iteration a, a barrier ends each call);
--runtime scoped creates NCPUS fresh threads per call (the thread analogue of
fork-per-job); --runtime rayon uses a work-stealing pool; --runtime channel is
the thread analogue of multiprocessing.Pool (a pool of NCPUS threads per bar(),
fed through a queue).

NCPUS comes from the environment variable NCPUS, else the number of logical
CPUs; --ncpus overrides both. Each job is usleep(T * 1e6) (microseconds,
truncated), as in the C original. Lines are the @para chunk lines of the other
ports and IPython's %time block; extra lines are labelled (extra).";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Runtime {
    /// One team created once, thread a runs iteration a, barrier (OpenMP).
    Team,
    /// A rayon ThreadPool of NCPUS threads, parallel iterator over 0..NCPUS.
    Rayon,
    /// std::thread::scope: NCPUS new threads per call.
    Scoped,
    /// NCPUS threads per bar() fed by a crossbeam-channel queue (Pool.map).
    Channel,
}

impl Runtime {
    /// The name on the command line, in the extra line and the record.
    fn name(self) -> &'static str {
        match self {
            Runtime::Team => "team",
            Runtime::Rayon => "rayon",
            Runtime::Scoped => "scoped",
            Runtime::Channel => "channel",
        }
    }
}

#[derive(Parser, Debug)]
#[command(name = "test_threads_sleep", version, about = ABOUT, long_about = LONG_ABOUT,
    mut_arg("numcalls", |a| a.help("Calls of the parallel region per bar() (default 100), timed in chunks of 100.")),
    mut_arg("check", |a| a.help("Iterations return a*a; print the last call's results (iteration order)."))
)]
struct Cli {
    #[command(flatten)]
    run: cli::args::RunArgs,
    /// Seconds each iteration sleeps (usleep), 0..=3600.
    #[arg(long = "sleep", value_name = "T", default_value = "0.005", value_parser = seconds)]
    sleep: f64,
    /// Threads and iterations per call, 1..=4096 (default: $NCPUS, else logical CPUs).
    #[arg(long, value_name = "N", value_parser = int_in::<1, 4096>)]
    ncpus: Option<u64>,
    /// How the threads are organised.
    #[arg(long, value_enum, default_value_t = Runtime::Team)]
    runtime: Runtime,
    /// Mechanism control: before each call the main thread adds N small
    /// anonymous mappings that cannot merge, touches and keeps them (as
    /// test_fork_sleep --map-churn); threads do not fork, so this should not drift.
    #[arg(long, value_name = "N", default_value = "0", value_parser = int_in::<0, 65536>)]
    map_churn: u64,
    /// Testing aid: iteration A panics (in the first call that runs it).
    #[arg(long, value_name = "A", hide = true)]
    inject_panic: Option<usize>,
    /// Testing aid: creating thread K (1-based; the team's thread 1 is the
    /// main thread) fails with EAGAIN, as under a process limit.
    #[arg(long, value_name = "K", hide = true)]
    inject_spawn_failure: Option<usize>,
    /// Testing aid: the main thread panics after the header, a bug outside
    /// any iteration, whose message the panic hook must not hide.
    #[arg(long, hide = true)]
    inject_bug: bool,
}

/// The original's default `numcalls`.
const NUMCALLS: u64 = 100;

fn main() -> ExitCode {
    cli::args::main("test_threads_sleep", run)
}

/// `NCPUS` from the environment, else the number of logical CPUs
/// (`omp_get_max_threads()`); `--ncpus` overrides both.
fn resolve_ncpus(flag: Option<u64>, env: Option<std::ffi::OsString>) -> Result<usize, String> {
    if let Some(n) = flag {
        return Ok(n as usize);
    }
    match env {
        None => Ok(num_cpus::get().clamp(1, 4096)),
        Some(v) => v
            .to_str()
            .and_then(|s| int_in::<1, 4096>(s).ok())
            .map(|n| n as usize)
            .ok_or_else(|| format!("environment variable NCPUS={v:?}: expected an integer in 1..=4096")),
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    let ncpus = resolve_ncpus(cli.ncpus, std::env::var_os("NCPUS")).map_err(usage)?;
    let runtime = cli.runtime.name();
    let numcalls = cli.run.numcalls(NUMCALLS);
    let params = cli.run.params(
        numcalls,
        serde_json::json!({
            "sleep": cli.sleep, "ncpus": ncpus, "runtime": runtime, "map_churn": cli.map_churn,
        }),
    );
    let line = LineFormat::para(ncpus, cli.sleep);
    let strategy = format!("threads/{runtime}");
    let json = cli.run.json.as_deref();
    let mut exp = Experiment::new("test_threads_sleep", &strategy, params, line, json).map_err(usage)?;
    let mut churn = MapChurn::new(cli.map_churn, numcalls.saturating_mul(cli.run.repeat)).map_err(usage)?;
    // Before any thread exists, so that every thread inherits the handlers.
    signals::catch(&[Signal::SIGINT, Signal::SIGTERM]).context("installing signal handlers")?;
    // A panicking iteration is reported once, as one line, by the caller.
    iteration::install_panic_hook();

    outln!("I am set up to use {ncpus} threads.");
    assert!(!cli.inject_bug, "injected bug outside any iteration");
    let spec = BodySpec {
        usec: (cli.sleep * 1e6) as libc::useconds_t,
        check: cli.run.check,
        panic_at: cli.inject_panic,
    };
    let spawner = Spawner {
        of: ncpus,
        fail_at: cli.inject_spawn_failure,
    };
    let mut runner = match Runner::new(cli.runtime, ncpus, spec, spawner) {
        Ok(runner) => runner,
        Err(e) => return Ok(exp.conclude("test_threads_sleep", &Outcome::Failed(e.to_string()), "threads joined")?),
    };
    let outcome = bars(&mut exp, &mut runner, &mut churn, &cli);
    drop(runner);
    Ok(exp.conclude("test_threads_sleep", &outcome, "threads joined")?)
}

/// The author's session: `repeat` times `%time bar()`, each bar() `numcalls`
/// parallel regions in chunks; stops at the first failure or signal.
fn bars(exp: &mut Experiment, runner: &mut Runner, churn: &mut MapChurn, cli: &Cli) -> Outcome {
    let failed = |e: &dyn std::fmt::Display| Outcome::Failed(e.to_string());
    let numcalls = cli.run.numcalls(NUMCALLS);
    exp.repeat(cli.run.repeat, |b| {
        runner.begin_bar().map_err(|e| failed(&e))?;
        let done = b.chunks(numcalls, |_| {
            Outcome::check_interrupt()?;
            churn.before_call().map_err(|e| failed(&e))?;
            runner.call().map_err(|e| failed(&e))
        });
        runner.end_bar();
        done?;
        if cli.run.check {
            outln!("{}", timing::pyfmt::py_list(&runner.results));
        }
        outln!("{}", runner.stats_line());
        Ok(())
    })
}

cli::cli_is_well_formed!(Cli);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncpus_precedence() {
        assert_eq!(resolve_ncpus(Some(3), Some("5".into())), Ok(3));
        assert_eq!(resolve_ncpus(None, Some("5".into())), Ok(5));
        assert_eq!(resolve_ncpus(None, None), Ok(num_cpus::get().clamp(1, 4096)));
        for bad in ["0", "x", "-2", "5000", ""] {
            let e = resolve_ncpus(None, Some(bad.into())).unwrap_err();
            assert!(e.contains("NCPUS") && e.contains("1..=4096"), "{e}");
        }
        assert_eq!(resolve_ncpus(Some(2), Some("x".into())), Ok(2));
    }
}
