//! `test_fork_sleep`: the fork-per-job reproducer.
//!
//! A line-by-line port of `test_pyparallel_sleep.py` (E. Costa's pure-Python
//! emulation of SageMath's `@parallel`, the reproducer that drifts on macOS 15)
//! and, with `--ipc file`, of the result protocol of Sage's real fork backend
//! (`test_parallel_sleep_v2.sage`). Read it next to the Python script: `bar()`
//! below is its `bar()`, `Parallel::call` is its `_runner`, `child::job` is
//! its `foo` in the child.

mod child;
mod file_ipc;

use anyhow::Context;
use child::Fault;
use childpid::{ChildPid, Forked};
use clap::{Parser, ValueEnum};
use cli::args::{int_in, positive_seconds, seconds, usage};
use cli::{outln, signals};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{wait, WaitStatus};
use nix::unistd::pipe;
use probes::ballast::Ballast;
use probes::churn::MapChurn;
use probes::hygiene;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use timing::{CallIndex, Experiment, LineFormat, Outcome};

const ABOUT: &str = "Fork one child per job, at most NCPUS alive, as SageMath's @parallel does.";

const LONG_ABOUT: &str = "\
Fork one child per job, at most NCPUS alive, as SageMath's @parallel does.

Hypothesis under test: on macOS 15 (Apple Silicon) a process that calls a
fork-per-job parallel function again and again gets slower call after call, and
the extra time is the parent's system time, spent in the kernel's fork/wait
path; Python and Sage are only bystanders. This binary makes exactly the system
calls of test_pyparallel_sleep.py (per job: pipe, fcntl(FD_CLOEXEC) x2, fork;
then wait for any child, read its pipe to EOF, close) with a parent of a few
MiB, no interpreter and no garbage collector. If its chunk lines grow across
--repeat on your machine, the drift is in the OS; if they stay flat while the
Python script drifts, it is in what the Python parent carries (--ballast-mb
emulates that).

The printed lines are byte for byte those of the original (chunk lines of the
@para family, IPython's %time block); extra information is on extra lines
labelled (extra).";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Ipc {
    /// One pipe per job, as test_pyparallel_sleep.py.
    Pipe,
    /// Sage's own protocol: per-call temp dir, <pid>.out and <pid>.sobj files.
    File,
}

#[derive(Parser, Debug)]
#[command(
    name = "test_fork_sleep",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
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
    #[arg(long, value_enum, default_value_t = Ipc::Pipe)]
    ipc: Ipc,
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
    /// Testing aid: job A misbehaves (KIND: signal, exit, short, garble, hang, leakfd, enospc, say).
    #[arg(long, value_name = "KIND@A", hide = true, value_parser = child::parse_fault)]
    inject: Option<(Fault, u64)>,
}

/// The original's default `numcalls`.
const NUMCALLS: u64 = 1000;

fn main() -> ExitCode {
    cli::args::main("test_fork_sleep", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    let strategy = match cli.ipc {
        Ipc::Pipe => "fork-per-job/pipe",
        Ipc::File => "fork-per-job/file",
    };
    let numcalls = cli.run.numcalls(NUMCALLS);
    let params = cli.run.params(
        numcalls,
        serde_json::json!({
            "sleep": cli.sleep, "ncpus": cli.ncpus, "ipc": format!("{:?}", cli.ipc).to_lowercase(),
            "ballast_mb": cli.ballast_mb, "timeout": cli.timeout, "breakdown": cli.breakdown,
            "map_churn": cli.map_churn,
        }),
    );
    let line = LineFormat::para(cli.ncpus as usize, cli.sleep);
    let json = cli.run.json.as_deref();
    let mut exp = Experiment::new("test_fork_sleep", strategy, params, line, json).map_err(usage)?;
    signals::catch(&[Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM]).context("installing signal handlers")?;

    // The parent's weight: allocated and touched, kept to the end.
    let ballast = Ballast::new(cli.ballast_mb).map_err(usage)?;
    let churn = MapChurn::new(cli.map_churn, numcalls.saturating_mul(cli.run.repeat)).map_err(usage)?;
    cli::limits::ensure_open_files("--ncpus", cli.ncpus).map_err(usage)?;
    let mut par = Parallel::new(&cli, churn);
    let outcome = exp.repeat(cli.run.repeat, |b| bar(b, &cli, &mut par));
    std::hint::black_box(&ballast);
    Ok(exp.conclude("test_fork_sleep", &outcome, "children killed and reaped")?)
}

/// The original's `bar(numcalls, T, ncpus, check)`.
fn bar(b: &mut timing::Bar<'_>, cli: &Cli, par: &mut Parallel) -> Result<(), Outcome> {
    outln!("Using ncpus={} parallel decorated function", cli.ncpus);
    par.baseline();
    let ncpus = cli.ncpus;
    // Oddity of the original, kept: `m` (the first job's argument) grows by
    // ncpus after each *chunk*, not after each call, and restarts at 0 in
    // every bar(); only --check shows it.
    let stats = par.breakdown.clone();
    let call = |i: CallIndex| par.call(i.chunk * ncpus);
    if cli.breakdown {
        b.chunks_with_extra(cli.run.numcalls(NUMCALLS), call, || stats.take_line())?;
    } else {
        b.chunks(cli.run.numcalls(NUMCALLS), call)?;
    }
    if cli.run.check {
        // Only the last call's results, in completion order, as a Python list.
        outln!("{}", timing::pyfmt::py_list(&par.results));
    }
    Ok(())
}

/// One live child: `active[pid] = r_fd` in the original.
struct Live {
    pid: ChildPid,
    /// Read end of its pipe (`--ipc pipe`).
    fd: Option<OwnedFd>,
    a: u64,
    born: Instant,
}

/// The `@parallel(ncpus)` decorator's `_runner`, with its buffers kept across
/// calls so that a call allocates nothing.
struct Parallel {
    ncpus: usize,
    sleep: libc::timespec,
    check: bool,
    ipc: Ipc,
    timeout: Option<f64>,
    inject: Option<(Fault, u64)>,
    hygiene: Option<(usize, u64)>,
    live: Vec<Live>,
    results: Vec<Option<u64>>,
    breakdown: breakdown::Shared,
    /// `--map-churn`: grows before every call (a no-op at 0).
    churn: MapChurn,
}

impl Parallel {
    fn new(cli: &Cli, churn: MapChurn) -> Parallel {
        let ncpus = cli.ncpus as usize;
        Parallel {
            ncpus,
            sleep: libc::timespec {
                tv_sec: cli.sleep.trunc() as libc::time_t,
                tv_nsec: (cli.sleep.fract() * 1e9).round().min(999_999_999.0) as libc::c_long,
            },
            check: cli.run.check,
            ipc: cli.ipc,
            timeout: cli.timeout,
            inject: cli.inject,
            hygiene: cli.hygiene.then_some((0, 0)),
            live: Vec::with_capacity(ncpus),
            results: Vec::with_capacity(ncpus),
            breakdown: breakdown::Shared::new(cli.breakdown),
            churn,
        }
    }

    /// `--hygiene`: the fd count at the start of a bar() is the baseline.
    fn baseline(&mut self) {
        if let Some(h) = &mut self.hygiene {
            *h = (hygiene::open_fds(), 0);
        }
    }

    /// One call: `list(foo((a, fT, check) for a in range(m, m+ncpus)))`.
    fn call(&mut self, m: u64) -> Result<(), Outcome> {
        if let Some(sig) = signals::interrupted() {
            return Err(Outcome::Interrupted(sig as i32));
        }
        self.churn.before_call().map_err(|e| fail(e.to_string()))?;
        self.results.clear();
        let dir = match self.ipc {
            Ipc::Pipe => None,
            Ipc::File => {
                Some(file_ipc::CallDir::new().map_err(|e| fail(format!("creating the call's temp dir: {e}")))?)
            }
        };
        let res = self.run_jobs(m, dir.as_ref());
        // Sage's `finally:` (and our rule for the pipe too): no child survives a
        // call, whatever happened; then the directory goes.
        self.kill_and_reap_all();
        let dir_path = dir
            .as_ref()
            .filter(|_| self.hygiene.is_some())
            .map(|d| d.path().to_path_buf());
        drop(dir);
        res?;
        self.check_hygiene(dir_path)
    }

    fn run_jobs(&mut self, m: u64, dir: Option<&file_ipc::CallDir>) -> Result<(), Outcome> {
        let mut next = m;
        let end = m + self.ncpus as u64;
        loop {
            // ---------- spawn up to ncpus workers ----------
            while self.live.len() < self.ncpus && next < end {
                let a = next;
                next += 1;
                self.spawn(a, dir)?;
            }
            if self.live.is_empty() {
                return Ok(());
            }
            // ---------- reap one finished child ----------
            self.reap_one(dir)?;
        }
    }

    /// `r_fd, w_fd = os.pipe(); pid = os.fork()`.
    fn spawn(&mut self, a: u64, dir: Option<&file_ipc::CallDir>) -> Result<(), Outcome> {
        let fault = self.inject.filter(|&(_, at)| at == a).map(|(f, _)| f);
        let pipe_fds = match self.ipc {
            Ipc::Pipe => Some(cloexec_pipe().map_err(|e| fail(format!("job {a}: pipe: {e}")))?),
            Ipc::File => None,
        };
        let t0 = self.breakdown.clock();
        // SAFETY: this process is single-threaded (no thread is ever started in
        // test_fork_sleep), so the child starts with consistent state. The child
        // calls only async-signal-safe functions until _exit: close (the read
        // end), open/dup2/close (--ipc file stdout), nanosleep, getpid, raise or
        // pause (fault injection), open/write/close, _exit (its status may
        // carry the errno of a failed write). It never returns, so no
        // destructor runs in it.
        let forked = unsafe { childpid::fork() };
        self.breakdown.add_fork(t0);
        match forked {
            Err(e) => Err(fail(format!("job {a}: fork: {e}"))),
            Ok(Forked::Child) => {
                if let Some((r, _)) = &pipe_fds {
                    // SAFETY: closing the child's copy of the read end.
                    unsafe { libc::close(r.as_raw_fd()) };
                }
                if let Some(d) = dir {
                    d.child_redirect_stdout();
                }
                let mut status = 0;
                if let Some(rec) = child::job(a, self.sleep, self.check, fault) {
                    let rec = &rec[..child::sent_len(fault)];
                    let written = match (&pipe_fds, dir) {
                        (Some((_, w)), _) => child::write_result(w.as_raw_fd(), rec, fault),
                        (None, Some(d)) => d.child_save(rec, fault),
                        (None, None) => Ok(()),
                    };
                    status = written.map_or_else(child::write_failed_status, |()| 0);
                }
                // SAFETY: _exit is async-signal-safe; no atexit handlers, no flush.
                unsafe { libc::_exit(status) }
            }
            Ok(Forked::Parent(child)) => {
                // os.close(w_fd); active[pid] = r_fd
                let fd = pipe_fds.map(|(r, w)| {
                    drop(w);
                    r
                });
                if fault == Some(Fault::LeakFd) {
                    if let Some(fd) = &fd {
                        // SAFETY: dup of an open fd; the copy is deliberately leaked.
                        unsafe { libc::dup(fd.as_raw_fd()) };
                    }
                }
                self.live.push(Live {
                    pid: child,
                    fd,
                    a,
                    born: Instant::now(),
                });
                Ok(())
            }
        }
    }

    /// `done_pid, _ = os.wait()`, then read that child's result to EOF.
    fn reap_one(&mut self, dir: Option<&file_ipc::CallDir>) -> Result<(), Outcome> {
        let t0 = self.breakdown.clock();
        let status = loop {
            if let Some(sig) = signals::interrupted() {
                return Err(Outcome::Interrupted(sig as i32));
            }
            self.arm_timeout()?;
            let status = wait();
            self.disarm_timeout();
            match status {
                Ok(s) => break s,
                Err(Errno::EINTR) => continue, // a signal: checked at the top
                Err(e) => return Err(fail(format!("wait: {e}"))),
            }
        };
        self.breakdown.add_wait(t0);
        let Some(pid) = status.pid() else { return Ok(()) };
        // wait() is for *any* child; one that is not a known ChildPid (none
        // should exist) is ignored, as Sage does, and never signalled.
        let Some(i) = self.live.iter().position(|l| l.pid.as_pid() == pid) else {
            return Ok(());
        };
        let done = self.live.swap_remove(i);
        self.breakdown.add_lifetime(done.born);

        let t1 = self.breakdown.clock();
        let mut data = [0u8; 64];
        let len = match (&done.fd, dir) {
            (Some(fd), _) => read_to_eof(fd, &mut data),
            (None, Some(d)) => {
                let bytes = d.collect(pid.as_raw());
                let n = bytes.len().min(data.len());
                data[..n].copy_from_slice(&bytes[..n]);
                bytes.len()
            }
            (None, None) => 0,
        };
        drop(done.fd); // os.close(r_fd)
        self.breakdown.add_read(t1);

        // Formatted only on a fault: the success path allocates nothing.
        let who = || format!("job {} (pid {})", done.a, pid);
        match status {
            WaitStatus::Exited(_, 0) => {}
            WaitStatus::Exited(_, code) => {
                return Err(fail(match child::write_failure(code) {
                    Some(why) => format!("{} could not write its result: {why}", who()),
                    None => format!("{} exited with status {code}", who()),
                }))
            }
            WaitStatus::Signaled(_, sig, _) => return Err(fail(format!("{} was killed by signal {sig}", who()))),
            other => return Err(fail(format!("{} stopped unexpectedly: {other:?}", who()))),
        }
        match child::parse(&data[..len.min(data.len())]) {
            Ok(v) if len == child::RECORD_LEN => {
                self.results.push(v);
                Ok(())
            }
            Ok(_) => Err(fail(format!("{} sent a result too long", who()))),
            Err(why) => Err(fail(format!("{} {why}", who()))),
        }
    }

    /// Sage's `alarm(timeout - (now - oldest))` before `os.wait()`.
    fn arm_timeout(&mut self) -> Result<(), Outcome> {
        let Some(limit) = self.timeout else { return Ok(()) };
        let Some(oldest) = self.live.iter().min_by_key(|l| l.born) else {
            return Ok(());
        };
        let left = limit - oldest.born.elapsed().as_secs_f64();
        if left <= 0.0 {
            let (a, pid) = (oldest.a, oldest.pid);
            return Err(fail(format!(
                "job {a} (pid {pid}) timed out after {limit} s; killed with SIGKILL"
            )));
        }
        set_alarm(left.max(1e-6));
        Ok(())
    }

    fn disarm_timeout(&self) {
        if self.timeout.is_some() {
            set_alarm(0.0);
            signals::take(Signal::SIGALRM);
        }
    }

    /// Kill and reap every live child, close their pipes.
    fn kill_and_reap_all(&mut self) {
        for l in self.live.drain(..) {
            l.pid.kill_and_reap();
        }
    }

    fn check_hygiene(&mut self, dir: Option<PathBuf>) -> Result<(), Outcome> {
        let Some((base, calls)) = &mut self.hygiene else {
            return Ok(());
        };
        *calls += 1;
        if let Some(dir) = dir.filter(|d| d.exists()) {
            return Err(fail(format!(
                "hygiene: temp dir {} left after call {calls}",
                dir.display()
            )));
        }
        let fds = hygiene::open_fds();
        if fds != *base {
            return Err(fail(format!(
                "hygiene: {fds} fds open after call {calls}, baseline {base}"
            )));
        }
        match hygiene::children() {
            hygiene::Children::None => Ok(()),
            other => Err(fail(format!("hygiene: children left after call {calls}: {other:?}"))),
        }
    }
}

fn fail(why: String) -> Outcome {
    Outcome::Failed(why)
}

/// `os.pipe()`: CPython makes both ends non-inheritable. On macOS it does so
/// with `pipe()` then `fcntl(FD_CLOEXEC)` on each end (there is no `pipe2`);
/// we make those same calls on every OS.
fn cloexec_pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let (r, w) = pipe()?;
    fcntl(r.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    fcntl(w.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok((r, w))
}

/// `while chunk := os.read(r_fd, 4096): data += chunk`. Returns the total
/// length; the first `buf.len()` bytes are kept.
fn read_to_eof(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut chunk = [0u8; 4096];
    let mut total = 0;
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut chunk) {
            Ok(0) => return total,
            Ok(n) => {
                if total < buf.len() {
                    let k = n.min(buf.len() - total);
                    buf[total..total + k].copy_from_slice(&chunk[..k]);
                }
                total += n;
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return total,
        }
    }
}

/// `setitimer(ITIMER_REAL)`; 0 disarms. SIGALRM (no SA_RESTART) interrupts `wait()`.
fn set_alarm(secs: f64) {
    let tv = libc::timeval {
        tv_sec: secs.trunc() as libc::time_t,
        tv_usec: (secs.fract() * 1e6) as libc::suseconds_t,
    };
    let it = libc::itimerval {
        it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
        it_value: tv,
    };
    // SAFETY: valid itimerval, null old value.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}

mod breakdown {
    //! `--breakdown`: where a job's time goes in the parent. In sage#39960 a
    //! profile showed `posix.fork` itself going from 1.30 s to 2.20 s per 1000
    //! forks; this line shows which part grows here.
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Instant;

    #[derive(Default)]
    struct Sums {
        fork: Cell<f64>,
        wait: Cell<f64>,
        read: Cell<f64>,
        life: Cell<f64>,
        jobs: Cell<u64>,
    }

    /// Shared between the call closure and the chunk-line hook; `None` when off,
    /// so that a plain run reads no clock at all.
    #[derive(Clone)]
    pub struct Shared(Option<Rc<Sums>>);

    fn add(cell: &Cell<f64>, t0: Option<Instant>) {
        if let Some(t0) = t0 {
            cell.set(cell.get() + t0.elapsed().as_secs_f64());
        }
    }

    impl Shared {
        pub fn new(on: bool) -> Shared {
            Shared(on.then(Rc::default))
        }
        pub fn clock(&self) -> Option<Instant> {
            self.0.as_ref().map(|_| Instant::now())
        }
        pub fn add_fork(&self, t0: Option<Instant>) {
            if let Some(s) = &self.0 {
                add(&s.fork, t0);
                s.jobs.set(s.jobs.get() + 1);
            }
        }
        pub fn add_wait(&self, t0: Option<Instant>) {
            if let Some(s) = &self.0 {
                add(&s.wait, t0);
            }
        }
        pub fn add_read(&self, t0: Option<Instant>) {
            if let Some(s) = &self.0 {
                add(&s.read, t0);
            }
        }
        pub fn add_lifetime(&self, born: Instant) {
            if let Some(s) = &self.0 {
                add(&s.life, Some(born));
            }
        }

        /// The chunk's extra line and JSON value; resets the sums.
        pub fn take_line(&self) -> Option<(String, serde_json::Value)> {
            let s = self.0.as_ref()?;
            let jobs = s.jobs.replace(0).max(1) as f64;
            let us = |c: &Cell<f64>| c.replace(0.0) / jobs * 1e6;
            let (fork, wait, read, life) = (us(&s.fork), us(&s.wait), us(&s.read), us(&s.life));
            let line = format!(
                "Breakdown (extra): per job fork {fork:.1} us, wait {wait:.1} us, read {read:.1} us; child lifetime {life:.1} us ({jobs} jobs)"
            );
            let value = serde_json::json!({
                "jobs": jobs, "fork_us": fork, "wait_us": wait, "read_us": read, "child_lifetime_us": life,
            });
            Some((line, value))
        }
    }
}

cli::cli_is_well_formed!(Cli);
