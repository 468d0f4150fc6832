//! What `test_pool_sleep` and `test_spawn_sleep` share: the sleep job the
//! pool workers run (the originals' `foo`), and bar() for the three shapes of
//! the originals:
//!
//! - [`Mode::Pool`]: `test_pool_fork_sleep.py` / `test_pool_spawn_sleep.py`, a
//!   `multiprocessing.Pool` created once per bar(), `pool.map` per call, `m`
//!   growing by `maxworkers` per *chunk*;
//! - [`Mode::Executor`]: `test_executor_sleep.sage`, a `ProcessPoolExecutor`
//!   (fork context) created once per bar(), `m` growing per *call*, results
//!   printed after every chunk with `check`;
//! - [`Mode::PerCall`]: `test_parallel_spawn_sleep.sage`, Sage's
//!   `p_iter='multiprocessing'`, a **new** spawned pool for every call.

use cli::args::usage;
use cli::{outln, signals};
use probes::churn::MapChurn;
use procpool::{Job, Pool, PoolError, StartMethod};
use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use timing::pyfmt::py_list;
use timing::{CallIndex, Experiment, LineFormat, Outcome};

/// Size of a job's payload: `a` (u64), the sleep in ns (u64), check, command.
pub const JOB_LEN: usize = 18;

/// What a job does besides sleeping (commands other than `Run` are testing aids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Command {
    Run = 0,
    /// Answer pid, parent pid and [`MARK`] (`--workers`).
    WhoAmI = 1,
    /// The worker kills itself with SIGKILL (`--inject signal@A`).
    Signal = 2,
    /// The worker exits with status 3 (`--inject exit@A`).
    Exit = 3,
    /// The reply's magic is corrupted (`--inject garble@A`).
    Garble = 4,
    /// Half a header is sent, then the worker stalls (`--inject truncate@A`).
    Truncate = 5,
}

/// Job `a`: the originals' `foo((a, fT, check))`.
pub fn encode_job(a: u64, sleep: f64, check: bool, cmd: Command) -> [u8; JOB_LEN] {
    let mut b = [0u8; JOB_LEN];
    b[..8].copy_from_slice(&a.to_le_bytes());
    b[8..16].copy_from_slice(&((sleep * 1e9).round() as u64).to_le_bytes());
    b[16] = check as u8;
    b[17] = cmd as u8;
    b
}

/// A value the parent sets before creating pools: a worker forked from the
/// parent sees it, a fresh exec (spawn, forkserver) sees 0.
pub static MARK: AtomicU64 = AtomicU64::new(0);

/// The job function, run in a worker: `time.sleep(fT)` (nanosleep, resumed
/// after a signal as Python does), then `None` or `a**2` (as u128, exact for
/// every `a` the flags allow). Allocation-free: the result fits in the
/// preallocated output buffer.
pub fn sleep_job(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
    let input: &[u8; JOB_LEN] = input.try_into().map_err(|_| 1)?;
    let a = u64::from_le_bytes(input[..8].try_into().map_err(|_| 1)?);
    let ns = u64::from_le_bytes(input[8..16].try_into().map_err(|_| 1)?);
    let check = input[16] != 0;
    match input[17] {
        1 => {
            output.extend_from_slice(&std::process::id().to_le_bytes());
            output.extend_from_slice(&(nix::unistd::getppid().as_raw() as u32).to_le_bytes());
            output.extend_from_slice(&MARK.load(Ordering::SeqCst).to_le_bytes());
            return Ok(());
        }
        2 => {
            // SAFETY: raising a signal on this worker.
            unsafe { libc::raise(libc::SIGKILL) };
        }
        // SAFETY: _exit leaves the worker at once.
        3 => unsafe { libc::_exit(3) },
        4 => procpool::Fault::Garble.strike(),
        5 => procpool::Fault::Truncate.strike(),
        _ => {}
    }
    let mut req = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    let mut rem = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid timespecs; resumed with the remainder after EINTR.
    while unsafe { libc::nanosleep(&req, &mut rem) } == -1 {
        req = rem;
    }
    if check {
        output.extend_from_slice(&(a as u128 * a as u128).to_le_bytes());
    }
    Ok(())
}

/// The job table: `procpool::enter_worker_role_if_asked(JOBS)` first in main.
pub const JOBS: &[Job] = &[Job {
    name: "sleep",
    run: sleep_job,
}];

/// A result as the original's list shows it: `None` or `a**2`.
pub fn decode_result(r: &[u8]) -> Option<u128> {
    r.try_into().ok().map(u128::from_le_bytes)
}

/// `--inject KIND@A` (hidden): job `a` misbehaves.
pub fn parse_inject(s: &str) -> Result<(Command, u64), String> {
    let err = || "expected KIND@A with KIND in signal|exit|garble|truncate and A a job argument".to_string();
    let (kind, a) = s.split_once('@').ok_or_else(err)?;
    let a = a.parse().map_err(|_| err())?;
    let kind = match kind {
        "signal" => Command::Signal,
        "exit" => Command::Exit,
        "garble" => Command::Garble,
        "truncate" => Command::Truncate,
        _ => return Err(err()),
    };
    Ok((kind, a))
}

/// Which original bar() to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pool(StartMethod),
    Executor(StartMethod),
    PerCall,
}

/// Everything bar() needs, from the flags.
#[derive(Clone, Debug)]
pub struct Settings {
    pub tool: &'static str,
    pub mode: Mode,
    pub numcalls: u64,
    pub sleep: f64,
    pub workers: usize,
    pub check: bool,
    pub repeat: u64,
    pub json: Option<PathBuf>,
    pub inject: Option<(Command, u64)>,
    /// `--workers` (hidden): an extra line per worker saying who started it.
    pub show_workers: bool,
    /// `--map-churn N`: mappings the parent adds before each call.
    pub map_churn: u64,
}

impl Settings {
    fn strategy(&self) -> String {
        match self.mode {
            Mode::Pool(m) => format!("pool/{m}"),
            Mode::Executor(m) => format!("executor/{m}"),
            Mode::PerCall => "pool-per-call/spawn".into(),
        }
    }

    fn line_format(&self) -> LineFormat {
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

    fn job(&self, a: u64) -> [u8; JOB_LEN] {
        let cmd = match self.inject {
            Some((cmd, at)) if at == a => cmd,
            _ => Command::Run,
        };
        encode_job(a, self.sleep, self.check, cmd)
    }
}

/// Runs every bar() and ends the run: the exit code (0, 1, 2, 130, 143).
pub fn run(s: &Settings) -> anyhow::Result<ExitCode> {
    let params = serde_json::json!({
        "numcalls": s.numcalls, "sleep": s.sleep, "maxworkers": s.workers, "check": s.check,
        "repeat": s.repeat, "mode": format!("{:?}", s.mode).to_lowercase(), "map_churn": s.map_churn,
    });
    let mut exp = Experiment::new(s.tool, &s.strategy(), params, s.line_format(), s.json.as_deref()).map_err(usage)?;
    let mut churn = MapChurn::new(s.map_churn, s.numcalls.saturating_mul(s.repeat)).map_err(usage)?;
    cli::limits::ensure_open_files("--maxworkers", s.workers as u64).map_err(usage)?;
    signals::catch(&[nix::sys::signal::Signal::SIGINT, nix::sys::signal::Signal::SIGTERM])?;
    MARK.store(u64::from(std::process::id()) | 1 << 40, Ordering::SeqCst);
    let outcome = exp.repeat(s.repeat, |b| match s.mode {
        Mode::Pool(m) => pool_bar(b, s, m, &mut churn),
        Mode::Executor(m) => executor_bar(b, s, m, &mut churn),
        Mode::PerCall => per_call_bar(b, s, &mut churn),
    });
    Ok(exp.conclude(s.tool, &outcome, "workers stopped and reaped")?)
}

fn interrupted() -> bool {
    signals::interrupted().is_some()
}

/// What happens in the parent before every call: a stop on Ctrl-C, and the
/// `--map-churn` mappings (a no-op without the flag).
fn before_call(churn: &mut MapChurn) -> Result<(), Outcome> {
    if let Some(sig) = signals::interrupted() {
        return Err(Outcome::Interrupted(sig as i32));
    }
    churn.before_call().map_err(|e| Outcome::Failed(e.to_string()))
}

/// A pool error as a one-line cause naming the job by its argument `a`.
fn outcome_of(e: PoolError, m: u64) -> Outcome {
    // A Ctrl-C reaches the whole process group: a worker that died of it is
    // part of the interruption, not a fault.
    if let Some(sig) = signals::interrupted() {
        return Outcome::Interrupted(sig as i32);
    }
    let cause = match e {
        PoolError::Interrupted => {
            return Outcome::Interrupted(signals::interrupted().map_or(libc::SIGINT, |s| s as i32));
        }
        PoolError::Worker { job, pid, fault } => format!("job {} (pid {pid}) {fault}", m + job as u64),
        PoolError::JobFailed { job, pid, code } => {
            format!(
                "job {} (pid {pid}) failed in its job function with code {code}",
                m + job as u64
            )
        }
        other => other.to_string(),
    };
    Outcome::Failed(cause)
}

fn new_pool(s: &Settings, m: StartMethod) -> Result<Pool, Outcome> {
    let mut pool = Pool::new(m, s.workers, JOBS[0]).map_err(|e| outcome_of(e, 0))?;
    pool.set_interrupt_check(interrupted);
    if s.show_workers {
        show_workers(&mut pool)?;
    }
    Ok(pool)
}

/// `--workers`: one extra line per worker, from the worker itself.
fn show_workers(pool: &mut Pool) -> Result<(), Outcome> {
    let jobs: Vec<_> = (0..pool.len() as u64)
        .map(|a| encode_job(a, 0.0, false, Command::WhoAmI))
        .collect();
    let res = pool.map(&jobs).map_err(|e| outcome_of(e, 0))?;
    let me = std::process::id();
    let mark = MARK.load(Ordering::SeqCst);
    for r in res {
        let b: [u8; 16] = r[..]
            .try_into()
            .map_err(|_| Outcome::Failed("bad --workers answer".into()))?;
        let pid = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let ppid = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let their_mark = u64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
        let parent = if ppid == me {
            "this process".to_string()
        } else if Some(ppid as i32) == pool.server_pid() {
            format!("the forkserver {ppid}")
        } else {
            format!("process {ppid}")
        };
        let memory = if their_mark == mark {
            "a fork of this process"
        } else {
            "a fresh exec"
        };
        outln!("(extra) worker pid {pid}: parent {parent}, memory of {memory}");
    }
    Ok(())
}

fn results_list(out: &[Vec<u8>]) -> String {
    py_list(&out.iter().map(|r| decode_result(r)).collect::<Vec<_>>())
}

/// bar() of `test_pool_fork_sleep.py` / `test_pool_spawn_sleep.py`.
fn pool_bar(b: &mut timing::Bar<'_>, s: &Settings, method: StartMethod, churn: &mut MapChurn) -> Result<(), Outcome> {
    outln!("Setting multiprocessing start method to '{method}'");
    outln!("Using maxworkers={} parallel decorated function", s.workers);
    let w = s.workers as u64;
    let mut inputs = Vec::with_capacity(s.workers);
    let mut out = Vec::with_capacity(s.workers);
    {
        // `with mp.Pool(processes=maxworkers) as pool:` — the pool is closed
        // (workers reaped) before the results are printed.
        let mut pool = new_pool(s, method)?;
        b.chunks(s.numcalls, |i: CallIndex| {
            before_call(churn)?;
            // Oddity of the original, kept: `m` grows by maxworkers after each
            // *chunk*, so the 100 calls of a chunk map the same arguments.
            let m = i.chunk * w;
            inputs.clear();
            inputs.extend((m..m + w).map(|a| s.job(a)));
            pool.map_into(&inputs, &mut out).map_err(|e| outcome_of(e, m))
        })?;
    }
    if s.check {
        // The last call's results, in input order (pool.map).
        outln!("{}", results_list(&out));
    }
    Ok(())
}

/// bar() of `test_executor_sleep.sage`.
fn executor_bar(
    b: &mut timing::Bar<'_>,
    s: &Settings,
    method: StartMethod,
    churn: &mut MapChurn,
) -> Result<(), Outcome> {
    outln!("Using maxworkers={} as max_workers for ProcessPoolExecutor", s.workers);
    let w = s.workers as u64;
    let mut inputs = Vec::with_capacity(s.workers);
    let out = RefCell::new(Vec::with_capacity(s.workers));
    let mut pool = new_pool(s, method)?;
    let call = |i: CallIndex| {
        before_call(churn)?;
        // Here `m` grows by maxworkers after every *call*, as in the original.
        let m = i.call * w;
        inputs.clear();
        inputs.extend((m..m + w).map(|a| s.job(a)));
        pool.map_into(&inputs, &mut out.borrow_mut())
            .map_err(|e| outcome_of(e, m))
    };
    // With check, the original prints the last call's results after every
    // chunk line (`list(executor.map(...))`, input order).
    let after_chunk = || {
        s.check.then(|| {
            let out = out.borrow();
            let values: Vec<Option<String>> = out.iter().map(|r| decode_result(r).map(|v| v.to_string())).collect();
            (results_list(&out), serde_json::json!({ "results": values }))
        })
    };
    b.chunks_with_extra(s.numcalls, call, after_chunk)
}

/// bar() of `test_parallel_spawn_sleep.sage`: every call creates a spawned
/// pool, maps, closes and joins it (Sage's `parallel_iter` with
/// `p_iter='multiprocessing'`), and all of that is in the call's time.
fn per_call_bar(b: &mut timing::Bar<'_>, s: &Settings, churn: &mut MapChurn) -> Result<(), Outcome> {
    outln!("Using ncpus={} parallel decorated function", s.workers);
    let w = s.workers as u64;
    let inputs: Vec<_> = (0..w).map(|a| s.job(a)).collect();
    let mut out = Vec::with_capacity(s.workers);
    b.each_call(
        s.numcalls,
        || timing::lines::per_call_prefix(s.sleep, s.workers),
        |_| {
            before_call(churn)?;
            // Sage maps with imap_unordered (completion order); the order
            // only shows with --check, which the original does not have.
            // The pool is closed and joined (dropped) inside the call's time.
            let res = new_pool(s, StartMethod::Spawn)
                .and_then(|mut pool| pool.map_into(&inputs, &mut out).map_err(|e| outcome_of(e, 0)));
            if res.is_err() {
                // End the pending "Now spawning ..." line.
                outln!();
            }
            res
        },
        |delta| timing::lines::per_call_suffix(delta, s.sleep, s.workers),
    )?;
    if s.check {
        outln!("{}", results_list(&out));
    }
    Ok(())
}
