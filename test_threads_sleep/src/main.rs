//! `test_threads_sleep`: port of `test_openmp_sleep.c`, the control of the
//! experiment. Threads never fork; the original showed no drift. The port
//! times what the C original left to `time(1)`, in the same chunk lines as
//! the fork-per-job ports, so that one report compares them.

mod team;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use cli::args::{int_in, seconds, EXIT_USAGE};
use cli::{outln, signals};
use nix::sys::signal::Signal;
use probes::churn::MapChurn;
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
fork-per-job); --runtime rayon uses a work-stealing pool.

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
}

#[derive(Parser, Debug)]
#[command(
    name = "test_threads_sleep",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = cli::args::after_help(),
    allow_negative_numbers = true
)]
struct Cli {
    /// Calls of the parallel region per bar(), timed in chunks of 100.
    #[arg(long, value_name = "N", default_value = "100", value_parser = int_in::<1, 100_000_000>)]
    numcalls: u64,
    /// Seconds each iteration sleeps (usleep), 0..=3600.
    #[arg(long = "sleep", value_name = "T", default_value = "0.005", value_parser = seconds)]
    sleep: f64,
    /// Threads and iterations per call, 1..=4096 (default: $NCPUS, else logical CPUs).
    #[arg(long, value_name = "N", value_parser = int_in::<1, 4096>)]
    ncpus: Option<u64>,
    /// Iterations return a*a; print the last call's results (iteration order).
    #[arg(long)]
    check: bool,
    /// Run bar() this many times in this process, each under %time.
    #[arg(long, value_name = "K", default_value = "1", value_parser = int_in::<1, 100_000>)]
    repeat: u64,
    /// How the threads are organised.
    #[arg(long, value_enum, default_value_t = Runtime::Team)]
    runtime: Runtime,
    /// Mechanism control: before each call the main thread adds N small
    /// anonymous mappings that cannot merge, touches and keeps them (as
    /// test_fork_sleep --map-churn); threads do not fork, so this should not drift.
    #[arg(long, value_name = "N", default_value = "0", value_parser = int_in::<0, 65536>)]
    map_churn: u64,
    /// Write the run record (parameters, system, every chunk) to this JSON file;
    /// `-` writes it to stdout after the run's lines. A device or FIFO is written
    /// through, a symlink's target replaced; a new file gets 0666 & !umask.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Testing aid: iteration A panics (in the first call that runs it).
    #[arg(long, value_name = "A", hide = true)]
    inject_panic: Option<usize>,
}

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
    let ncpus = match resolve_ncpus(cli.ncpus, std::env::var_os("NCPUS")) {
        Ok(n) => n,
        Err(msg) => {
            eprintln!("test_threads_sleep: {msg}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let runtime = format!("{:?}", cli.runtime).to_lowercase();
    let params = serde_json::json!({
        "numcalls": cli.numcalls, "sleep": cli.sleep, "ncpus": ncpus, "check": cli.check,
        "repeat": cli.repeat, "runtime": runtime, "map_churn": cli.map_churn,
    });
    let line = LineFormat::para(ncpus, cli.sleep);
    let strategy = format!("threads/{runtime}");
    let mut exp = match Experiment::new("test_threads_sleep", &strategy, params, line, cli.json.as_deref()) {
        Ok(exp) => exp,
        Err(e) => {
            eprintln!("test_threads_sleep: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let mut churn = match MapChurn::new(cli.map_churn, cli.numcalls.saturating_mul(cli.repeat)) {
        Ok(churn) => churn,
        Err(e) => {
            eprintln!("test_threads_sleep: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    // Before any thread exists, so that every thread inherits the handlers.
    signals::catch(&[Signal::SIGINT, Signal::SIGTERM]).context("installing signal handlers")?;
    // A panicking iteration is reported once, as one line, by the caller.
    std::panic::set_hook(Box::new(|_| {}));

    outln!("I am set up to use {ncpus} threads.");
    let mut runner = Runner::new(cli.runtime, ncpus, &cli);
    let outcome = exp.repeat(cli.repeat, |b| {
        runner.stats = Stats::default();
        b.chunks(cli.numcalls, |_| {
            churn.before_call().map_err(|e| Outcome::Failed(e.to_string()))?;
            runner.call()
        })?;
        if cli.check {
            outln!("{}", timing::pyfmt::py_list(&runner.results));
        }
        outln!("{}", runner.stats_line());
        Ok(())
    });
    drop(runner);
    Ok(exp.conclude("test_threads_sleep", &outcome, "threads joined")?)
}

/// A process-unique number for the calling thread, given at its first
/// iteration: tells which thread ran what, and how many threads ever ran one.
fn thread_uid() -> usize {
    thread_local!(static UID: usize = THREADS_SEEN.fetch_add(1, Ordering::Relaxed));
    UID.with(|u| *u)
}

/// How many threads have run an iteration since the process started.
static THREADS_SEEN: AtomicUsize = AtomicUsize::new(0);

/// Per bar(): how the iterations were spread over threads.
#[derive(Default)]
struct Stats {
    calls: u64,
    /// Calls in which two or more iterations ran on one thread.
    shared_calls: u64,
    /// Every thread that ran an iteration in this bar().
    threads: HashSet<usize>,
    /// Thread of each iteration in the first call, and whether it never changed.
    first: Vec<usize>,
    stable: bool,
}

struct Runner {
    runtime: Runtime,
    ncpus: usize,
    body: Arc<team::Body>,
    team: Option<team::Team>,
    pool: Option<rayon::ThreadPool>,
    results: Vec<Option<u64>>,
    /// Thread uid of each iteration of the current call.
    ran_on: Arc<Vec<AtomicUsize>>,
    stats: Stats,
}

impl Runner {
    fn new(runtime: Runtime, ncpus: usize, cli: &Cli) -> Runner {
        let usec = (cli.sleep * 1e6) as libc::useconds_t;
        let check = cli.check;
        let ran_on: Arc<Vec<AtomicUsize>> = Arc::new((0..ncpus).map(|_| AtomicUsize::new(usize::MAX)).collect());
        let inject = cli.inject_panic.map(|a| (a, std::sync::atomic::AtomicBool::new(false)));
        let seen = Arc::clone(&ran_on);
        // foo(a, T): usleep((unsigned int)(T * 1000000)).
        let body: Arc<team::Body> = Arc::new(move |a: usize| {
            seen[a].store(thread_uid(), Ordering::Relaxed);
            if let Some((at, done)) = &inject {
                if *at == a && !done.swap(true, Ordering::SeqCst) {
                    panic!("injected panic");
                }
            }
            // SAFETY: usleep has no memory preconditions.
            unsafe { libc::usleep(usec) };
            check.then(|| (a as u64) * (a as u64))
        });
        let team = (runtime == Runtime::Team).then(|| team::Team::new(ncpus));
        let pool = (runtime == Runtime::Rayon).then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(ncpus)
                .build()
                .expect("creating the rayon pool")
        });
        Runner {
            runtime,
            ncpus,
            body,
            team,
            pool,
            results: Vec::with_capacity(ncpus),
            ran_on,
            stats: Stats::default(),
        }
    }

    /// One parallel region over `a` in `0..ncpus`.
    fn call(&mut self) -> Result<(), Outcome> {
        if let Some(sig) = signals::interrupted() {
            return Err(Outcome::Interrupted(sig as i32));
        }
        let body = &self.body;
        let res = match self.runtime {
            Runtime::Team => self
                .team
                .as_ref()
                .expect("team")
                .region(Arc::clone(body), &mut self.results),
            Runtime::Rayon => {
                let pool = self.pool.as_ref().expect("pool");
                let n = self.ncpus;
                let mut outcomes = Vec::with_capacity(n);
                pool.install(|| {
                    (0..n)
                        .into_par_iter()
                        .map(|a| {
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(a)))
                                .map_err(|p| (a, team::panic_message(&*p)))
                        })
                        .collect_into_vec(&mut outcomes)
                });
                self.results.clear();
                outcomes.into_iter().try_for_each(|r| r.map(|v| self.results.push(v)))
            }
            Runtime::Scoped => std::thread::scope(|s| {
                let handles: Vec<_> = (0..self.ncpus).map(|a| s.spawn(move || body(a))).collect();
                self.results.clear();
                let mut failed = None;
                for (a, h) in handles.into_iter().enumerate() {
                    match h.join() {
                        Ok(v) => self.results.push(v),
                        Err(p) => failed = failed.or(Some((a, team::panic_message(&*p)))),
                    }
                }
                failed.map_or(Ok(()), Err)
            }),
        };
        res.map_err(|(a, msg)| Outcome::Failed(format!("iteration {a} panicked: {msg}")))?;
        self.record_threads();
        Ok(())
    }

    fn record_threads(&mut self) {
        let uids: Vec<usize> = self
            .ran_on
            .iter()
            .map(|u| u.swap(usize::MAX, Ordering::Relaxed))
            .collect();
        let s = &mut self.stats;
        let distinct: HashSet<usize> = uids.iter().copied().collect();
        if distinct.len() < uids.len() {
            s.shared_calls += 1;
        }
        s.threads.extend(distinct);
        if s.calls == 0 {
            s.first = uids;
            s.stable = true;
        } else if s.first != uids {
            s.stable = false;
        }
        s.calls += 1;
    }

    fn stats_line(&self) -> String {
        let s = &self.stats;
        format!(
            "Threads (extra): runtime {}, {} distinct threads ran iterations in {} calls ({} in this process so far); calls with two or more sleeps on one thread: {}; iteration-to-thread map {}",
            format!("{:?}", self.runtime).to_lowercase(),
            s.threads.len(),
            s.calls,
            THREADS_SEEN.load(Ordering::Relaxed),
            s.shared_calls,
            if s.stable { "fixed" } else { "varied" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

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
