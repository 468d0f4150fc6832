//! `test_rf_pool`: port of `test_pool_fork_RF.py` (and `.sage`),
//! `test_pool_forkserver_RF.py` and `test_pool_spawn_RF.py`.
//!
//! Each bar() prints `Setting multiprocessing start method to '<m>'`, creates
//! one pool of `ncpus` workers (procpool, with the real start mechanism), and
//! does `numcalls` times `pool.map(worker, [(a, data[a], precision) for a in
//! range(ncpus)])`, the worker computing `RealField(precision)(data).sin()`
//! with MPFR. With `--check` the last results are printed as Sage prints
//! them, after the pool is closed (the original prints after its `with`
//! block). The originals print no timing: the chunk lines
//! (`LineFormat::RealField`) and the `%time` block are what the author's
//! `%time bar()` and the sleep tests give, so that the three start methods
//! can be compared and drift seen across `--repeat`.

use clap::Parser;
use cli::args::{int_in, usage};
use cli::{outln, signals};
use pool_bars::stop::{interrupted, outcome_of};
use procpool::{Fault, Pool, SpawnVia, StartMethod};
use rug::Float;
use std::process::ExitCode;
use test_rf_pool::{
    encode_job, hex_list, parse_data, parse_inject, sage_list, JOBS, JOB_LEN, MAX_PRECISION, MIN_PRECISION,
};
use timing::{Experiment, LineFormat, Outcome};

const TOOL: &str = "test_rf_pool";

const ABOUT: &str = "RealField(precision).sin() (MPFR) mapped over a fork, forkserver or spawn pool, again and again.";

const LONG_ABOUT: &str = "\
RealField(precision).sin() (MPFR) mapped over a fork, forkserver or spawn pool, again and again.

Port of test_pool_fork_RF.py / .sage, test_pool_forkserver_RF.py and
test_pool_spawn_RF.py: one multiprocessing.Pool(processes=ncpus) per bar(),
numcalls calls of pool.map over a in 0..ncpus, each job computing
RealField(precision)(data[a]).sin() (MPFR, round to nearest) and sending the
exact value back.

Hypothesis under test: the call-after-call slowdown seen on macOS 15 with
SageMath's @parallel comes from forking a fresh child per job, not from the
work the jobs do nor from MPFR in forked processes: a pool of long-lived
workers doing a real floating-point job, started by fork (children of this big
process), forkserver (children of a small clean server) or spawn (fresh
executables), stays flat across --repeat. If one start method drifts and the
others do not, what differs is how the workers came to life.

The originals print no timing; this port adds the chunk lines
'{delta:.3f}s per {n} x {ncpus} RealField({precision}).sin(). Cost/ncpus/calls is {delta/n/ncpus:.6f}s.'
and IPython's %time block after every bar(). --check prints the last results
exactly as Sage prints a list of RealField numbers.";

fn precision(s: &str) -> Result<u64, String> {
    int_in::<{ MIN_PRECISION as u64 }, { MAX_PRECISION as u64 }>(s)
        .map_err(|e| format!("{e} (bits of RealField; the maximum keeps one exact result within a pool frame)"))
}

/// `--data` as one value (a newtype, so that clap does not take it for a
/// repeated flag).
#[derive(Clone, Debug)]
struct DataList(Vec<f64>);

fn data_list(s: &str) -> Result<DataList, String> {
    parse_data(s).map(DataList)
}

#[derive(Parser, Debug)]
#[command(name = TOOL, version, about = ABOUT, long_about = LONG_ABOUT,
    mut_arg("numcalls", |a| a.help("Calls of pool.map per bar() (default 100), timed in chunks of 100.")),
    mut_arg("check", |a| a.help("Print the last call's results as Sage prints a list of RealField numbers."))
)]
struct Cli {
    /// multiprocessing start method of the pool.
    #[arg(long, value_enum, default_value_t = StartMethod::Fork)]
    start: StartMethod,
    /// How spawn workers and the forkserver are made (default: CPython's way
    /// on this platform).
    #[arg(long, value_enum, default_value_t = SpawnVia::DEFAULT)]
    spawn_via: SpawnVia,
    #[command(flatten)]
    run: cli::args::RunArgs,
    /// Workers in the pool, and jobs per call (a in 0..ncpus takes data[a]); at most the number of --data values.
    #[arg(long, value_name = "N", default_value = "8", value_parser = int_in::<1, 1024>)]
    ncpus: u64,
    /// Bits of RealField(precision), 2..=200000.
    #[arg(long, value_name = "BITS", default_value = "100", value_parser = precision)]
    precision: u64,
    /// The originals' data_list: comma-separated floats (Python float syntax).
    #[arg(
        long,
        value_name = "X,Y,...",
        default_value = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8",
        value_parser = data_list,
        allow_hyphen_values = true
    )]
    data: DataList,
    /// Testing aid: an extra line with the last results' exact base-16 MPFR digits.
    #[arg(long, hide = true)]
    hex: bool,
    /// Testing aid: job A misbehaves (KIND: signal, exit, garble, truncate, junk).
    #[arg(long, value_name = "KIND@A", hide = true, value_parser = parse_inject)]
    inject: Option<(Fault, u64)>,
}

/// Everything bar() needs.
struct Settings {
    start: StartMethod,
    spawn_via: SpawnVia,
    numcalls: u64,
    ncpus: usize,
    precision: u32,
    data: Vec<f64>,
    check: bool,
    hex: bool,
    inject: Option<(Fault, u64)>,
}

impl Settings {
    /// `[(a, data_list[a], precision) for a in range(ncpus)]`: the same
    /// inputs for every call (no `m` offset in the RF originals).
    fn jobs(&self) -> Vec<[u8; JOB_LEN]> {
        (0..self.ncpus as u64)
            .map(|a| {
                encode_job(
                    a,
                    self.data[a as usize],
                    self.precision,
                    Fault::code_for(self.inject, a),
                )
            })
            .collect()
    }
}

/// The RealField originals' default `numcalls`.
const NUMCALLS: u64 = 100;

fn main() -> ExitCode {
    // Spawned workers and the forkserver are this executable: serve and exit.
    procpool::enter_worker_role_if_asked(JOBS);
    cli::args::main(TOOL, run)
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    if cli.ncpus as usize > cli.data.0.len() {
        // The original fails with an IndexError on data_list[a].
        let (n, len) = (cli.ncpus, cli.data.0.len());
        return Err(usage(format!(
            "--ncpus {n} needs at least {n} --data values, got {len}: lower --ncpus to at most {len} or give more --data values"
        )));
    }
    let numcalls = cli.run.numcalls(NUMCALLS);
    let s = Settings {
        start: cli.start,
        spawn_via: cli.spawn_via,
        numcalls,
        ncpus: cli.ncpus as usize,
        precision: cli.precision as u32,
        data: cli.data.0,
        check: cli.run.check,
        hex: cli.hex,
        inject: cli.inject,
    };
    let params = cli.run.params(
        numcalls,
        serde_json::json!({
            "start": s.start.name(), "spawn_via": s.spawn_via.name(), "ncpus": s.ncpus, "precision": s.precision,
            "data": s.data.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        }),
    );
    let line = LineFormat::RealField {
        workers: s.ncpus,
        precision: s.precision,
    };
    let json = cli.run.json.as_deref();
    let mut exp = Experiment::new(TOOL, &format!("pool/{}", s.start), params, line, json).map_err(usage)?;
    let servers = u64::from(s.start == procpool::StartMethod::Forkserver);
    cli::limits::ensure_room("--ncpus", s.ncpus as u64, servers).map_err(usage)?;
    signals::catch(&[nix::sys::signal::Signal::SIGINT, nix::sys::signal::Signal::SIGTERM])?;
    let outcome = exp.repeat(cli.run.repeat, |b| bar(b, &s));
    Ok(exp.conclude(TOOL, &outcome, "workers stopped and reaped")?)
}

/// One bar() of the originals.
fn bar(b: &mut timing::Bar<'_>, s: &Settings) -> Result<(), Outcome> {
    outln!("Setting multiprocessing start method to '{}'", s.start);
    let jobs = s.jobs();
    let mut out = Vec::with_capacity(s.ncpus);
    // The parent's copies of the results, parsed after every call as
    // pickle.loads does in the original.
    let mut results: Vec<Float> = (0..s.ncpus).map(|_| Float::new(s.precision)).collect();
    let fds = probes::hygiene::open_fds();
    {
        // `with mp.Pool(processes=ncpus) as pool:` — closed (workers reaped)
        // before the results are printed.
        let mut pool = Pool::with_spawn_via(s.start, s.spawn_via, s.ncpus, JOBS[0]).map_err(|e| outcome_of(e, 0))?;
        pool.set_interrupt_check(interrupted);
        b.chunks(s.numcalls, |_| {
            Outcome::check_interrupt()?;
            pool.map_into(&jobs, &mut out).map_err(|e| outcome_of(e, 0))?;
            for (a, (r, into)) in out.iter().zip(results.iter_mut()).enumerate() {
                if !test_rf_pool::decode_result(r, into) {
                    return Err(Outcome::Failed(format!(
                        "job {a} sent a result that is not an exact RealField({}) value ({} bytes)",
                        s.precision,
                        r.len()
                    )));
                }
            }
            Ok(())
        })?;
    }
    // Hygiene: the closed pool leaves no fd, zombie or live child behind.
    let (fds_after, kids) = (probes::hygiene::open_fds(), probes::hygiene::children());
    if fds_after != fds || kids != probes::hygiene::Children::None {
        return Err(Outcome::Failed(format!(
            "the closed pool left {} fds open (before {fds}) and children {kids:?}",
            fds_after
        )));
    }
    if s.check {
        outln!("{}", sage_list(&results));
    }
    if s.hex {
        outln!("(extra) exact results, MPFR base-16 digits: {}", hex_list(&results));
    }
    Ok(())
}

cli::cli_is_well_formed!(Cli);
