//! `test_fork_sleep`: the fork-per-job reproducer.
//!
//! A line-by-line port of `test_pyparallel_sleep.py` (E. Costa's pure-Python
//! emulation of SageMath's `@parallel`, the reproducer that drifts on macOS 15)
//! and, with `--ipc file`, of the result protocol of Sage's real fork backend
//! (`test_parallel_sleep_v2.sage`). Read it next to the Python script: `bar()`
//! below is its `bar()`; [`runner`] is its `_runner` (spawn children up to
//! ncpus, wait for any, read its result, close); [`child::run`] is what its
//! child does after `os.fork()`; [`ipc`] is `os.pipe()` (or Sage's files).
//! The rest are hooks the runner calls: [`breakdown`], [`timeout`],
//! [`hygiene`], [`fault`], and [`parent`] (the interpreter's own fork
//! habits: CPython's post-fork thread count, pages dirtied, regions).
//! [`calibrate`] (`--calibrate`) is no run: it times `fork()` alone at
//! counts of extra map entries, what one entry costs a fork here.

mod breakdown;
mod calibrate;
mod child;
mod fault;
mod hygiene;
mod ipc;
mod parent;
mod runner;
mod sigsafe;
mod timeout;

use anyhow::Context;
use clap::Parser;
use cli::args::{int_in, positive_seconds, seconds, usage};
use cli::{outln, signals};
use fault::Fault;
use nix::sys::signal::Signal;
use probes::churn::MapChurn;
use runner::Parallel;
use std::process::ExitCode;
use timing::{CallIndex, Experiment, LineFormat, Outcome};

const ABOUT: &str = "Fork one child per job, at most NCPUS alive, as SageMath's @parallel does.";

const LONG_ABOUT: &str = "\
Fork one child per job, at most NCPUS alive, as SageMath's @parallel does.

Hypothesis under test: on macOS 15 (Apple Silicon) a process that calls a
fork-per-job parallel function again and again gets slower call after call, and
the extra time is the parent's system time, spent in the kernel's fork/wait
path; Python and Sage are only bystanders. This binary makes exactly the system
calls of test_pyparallel_sleep.py (per job: os.pipe(), which is pipe2(O_CLOEXEC)
on Linux and pipe() then ioctl(FIOCLEX) x2 on macOS; fork; then wait for any child, read its pipe to EOF, close) with a parent of a few
MiB, no interpreter and no garbage collector. If its chunk lines grow across
--repeat on your machine, the drift is in the OS; if they stay flat while the
Python script drifts, it is in what the Python parent carries (--ballast-mb
emulates that).

The printed lines are byte for byte those of the original (chunk lines of the
@para family, IPython's %time block); extra information is on extra lines
labelled (extra).

--calibrate runs no bar(): it measures what one more map entry of the leak's
kind costs fork() in the parent on this machine (see --calibrate), the number
that turns a run's count of entries per fork into a predicted drift.";

#[derive(Parser, Debug)]
#[command(name = "test_fork_sleep", version, about = ABOUT, long_about = LONG_ABOUT,
    mut_arg("numcalls", |a| a.help("Calls of the parallel function per bar() (default 1000), timed in chunks of 100."))
)]
struct Cli {
    #[command(flatten)]
    run: cli::args::RunArgs,
    /// Seconds each job sleeps (time.sleep), 0..=3600.
    #[arg(long = "sleep", value_name = "T", default_value = "0.001", value_parser = seconds)]
    sleep: f64,
    /// Jobs per call, and children alive at most, 1..=4096.
    #[arg(long, value_name = "N", default_value = "8", value_parser = int_in::<1, 4096>)]
    ncpus: u64,
    /// How results travel back from the children.
    #[arg(long, value_enum, default_value_t = ipc::Kind::Pipe)]
    ipc: ipc::Kind,
    /// MiB the parent allocates and touches before the first call (a Python
    /// parent is tens of MiB, a Sage parent hundreds), 0..=65536.
    #[arg(long, value_name = "M", default_value = "0", value_parser = int_in::<0, 65536>)]
    ballast_mb: u64,
    /// Kill a child alive longer than S seconds and fail the run (Sage's timeout).
    #[arg(long, value_name = "S", value_parser = positive_seconds)]
    timeout: Option<f64>,
    /// Extra line per chunk: mean microseconds in fork(), waiting, reading, and
    /// the children's mean lifetime.
    #[arg(long)]
    breakdown: bool,
    /// Mechanism control: before each call add N small anonymous mappings that
    /// cannot merge, touch and keep them, so the parent's map grows call after
    /// call (fork copies it). Refused up front past the system's map limit.
    #[arg(long, value_name = "N", default_value = "0", value_parser = int_in::<0, 65536>)]
    map_churn: u64,
    /// Check after every call that the fd count and the child count are back
    /// to their baseline (and, with --ipc file, no temp dir is left); fail on a leak.
    #[arg(long)]
    hygiene: bool,
    #[command(flatten)]
    parent: parent::ParentArgs,
    /// Measure what one more map entry costs fork() here, print one line
    /// (with --json PATH, write its record), and run nothing else.
    ///
    /// Hypothesis measured: every map entry the parent has makes each of its
    /// later fork() calls longer by a fixed cost (fork copies the map entry
    /// by entry), so a leak of one entry per fork makes the cost per job grow
    /// by that cost per earlier fork. The entries added are of the leak's
    /// kind: each its own private one-page mapping, written so it is
    /// resident, neighbours of alternating protections so that none merges,
    /// tagged Mach message memory (VM_MEMORY_MACH_MSG) on macOS as CPython's
    /// leaked thread arrays are. Only fork() in the parent is timed (the child
    /// exits at once and is reaped outside the clock), at 9 counts from 0 to
    /// --calibrate-max, visited up and down; the counters check at each count
    /// that the map has that many more entries (within 1 %, else exit 1).
    /// The line gives the Theil-Sen slope in µs per extra entry with its 95 %
    /// interval; the record keeps the median fork time at every count (the
    /// cost need not be linear). At most about 10 s. Only --json and
    /// --calibrate-max go with it.
    #[arg(long, conflicts_with_all = RUN_FLAGS)]
    calibrate: bool,
    /// With --calibrate: the largest count of extra map entries, 1000..=1000000
    /// (checked against the system's map limit).
    #[arg(long, value_name = "N", default_value_t = calibrate::DEFAULT_MAX,
        value_parser = int_in::<1000, 1_000_000>, requires = "calibrate")]
    calibrate_max: u64,
    /// Testing aid for --calibrate: the extra entries all read-write, so that
    /// neighbours merge and the count check must fail the calibration.
    #[arg(long, hide = true, requires = "calibrate")]
    calibrate_merge: bool,
    /// Testing aid: job A misbehaves (KIND: signal, exit, short, garble, hang, leakfd, enospc, say).
    #[arg(long, value_name = "KIND@A", hide = true, value_parser = fault::parse)]
    inject: Option<(Fault, u64)>,
}

/// The flags of a run, which mean nothing to `--calibrate` (every flag but
/// `--json` and `--calibrate-max`; a test keeps the list whole).
const RUN_FLAGS: [&str; 18] = [
    "numcalls",
    "check",
    "repeat",
    "until_verdict",
    "witness",
    "sleep",
    "ncpus",
    "ipc",
    "ballast_mb",
    "timeout",
    "breakdown",
    "map_churn",
    "hygiene",
    "post_fork_check",
    "dirty_kib",
    "ballast_regions",
    "parent",
    "inject",
];

/// The original's default `numcalls`.
const NUMCALLS: u64 = 1000;

fn main() -> ExitCode {
    cli::args::main("test_fork_sleep", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    if cli.calibrate {
        return calibrate::run(cli.calibrate_max, cli.calibrate_merge, cli.run.json.as_deref());
    }
    let numcalls = cli.run.numcalls(NUMCALLS);
    let mut own = serde_json::json!({
        "sleep": cli.sleep, "ncpus": cli.ncpus, "ipc": cli.ipc.name(),
        "ballast_mb": cli.ballast_mb, "timeout": cli.timeout, "breakdown": cli.breakdown,
        "map_churn": cli.map_churn,
    });
    if let (Some(own), serde_json::Value::Object(habits)) = (own.as_object_mut(), cli.parent.params()) {
        own.extend(habits);
    }
    let params = cli.run.params(numcalls, own);
    let line = LineFormat::para(cli.ncpus as usize, cli.sleep);
    let json = cli.run.json.as_deref();
    let mut exp = Experiment::new("test_fork_sleep", cli.ipc.strategy(), params, line, json).map_err(usage)?;
    signals::catch(&[Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM]).context("installing signal handlers")?;

    // The parent's weight and shape: allocated and touched, kept to the end.
    let habits = parent::Habits::new(&cli.parent, cli.ballast_mb).map_err(usage)?;
    let churn = MapChurn::new(cli.map_churn, numcalls.saturating_mul(cli.run.repeat)).map_err(usage)?;
    cli::limits::ensure_room("--ncpus", cli.ncpus, 0).map_err(usage)?;
    let mut parallel = Parallel::new(&cli, churn, habits);
    let outcome = exp.repeat(cli.run.repeat, |b| bar(b, &cli, &mut parallel));
    parent::faults_per_job(&mut exp.record, cli.ncpus);
    Ok(exp.conclude("test_fork_sleep", &outcome, "children killed and reaped")?)
}

/// The original's `bar(numcalls, T, ncpus, check)`.
fn bar(b: &mut timing::Bar<'_>, cli: &Cli, parallel: &mut Parallel) -> Result<(), Outcome> {
    outln!("Using ncpus={} parallel decorated function", cli.ncpus);
    parallel.baseline();
    let ncpus = cli.ncpus;
    // Oddity of the original, kept: `m` (the first job's argument) grows by
    // ncpus after each *chunk*, not after each call, and restarts at 0 in
    // every bar(); only --check shows it.
    let stats = parallel.breakdown.clone();
    let call = |i: CallIndex| parallel.call(i.chunk * ncpus);
    if cli.breakdown {
        b.chunks_with_extra(cli.run.numcalls(NUMCALLS), call, || stats.take_line())?;
    } else {
        b.chunks(cli.run.numcalls(NUMCALLS), call)?;
    }
    if cli.run.check {
        // Only the last call's results, in completion order, as a Python list.
        outln!("{}", timing::pyfmt::py_list(&parallel.results));
    }
    Ok(())
}

cli::cli_is_well_formed!(Cli);

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every flag but --json and --calibrate-max is refused beside
    /// --calibrate: a flag added to the runs later must join [`RUN_FLAGS`].
    #[test]
    fn calibrate_goes_with_no_run_flag() {
        let cmd = Cli::command();
        let others: Vec<&str> = cmd
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .filter(|id| {
                ![
                    "calibrate",
                    "calibrate_max",
                    "calibrate_merge",
                    "json",
                    "help",
                    "version",
                ]
                .contains(id)
            })
            .collect();
        let mut listed = RUN_FLAGS.to_vec();
        listed.sort_unstable();
        let mut others = others.clone();
        others.sort_unstable();
        assert_eq!(listed, others);
    }
}
