//! A pool of long-lived worker processes with `multiprocessing.Pool.map`
//! semantics, started the three ways CPython can start them.
//!
//! `test_pool_fork_sleep.py`, `test_pool_spawn_sleep.py`,
//! `test_executor_sleep.sage` and the `test_pool_*_RF.py` scripts all create a
//! pool of `n` workers once and then map a batch of jobs over it again and
//! again; the results come back in input order. What differs is how a worker
//! comes to life, and that is what this crate reproduces with the real
//! mechanism ([`StartMethod`]):
//!
//! - `fork`: the parent forks the `n` workers once, when the pool is created,
//!   each with its own request and reply pipe (CPython's `fork` context);
//! - `forkserver`: a small server process is started once by spawning this
//!   same executable in a hidden role; every worker is forked *by the server*;
//!   the parent hands each worker's pipe ends to the server over a Unix
//!   socket with `SCM_RIGHTS` (CPython's `forkserver` context);
//! - `spawn`: every worker is a fresh process, this executable started with
//!   [`std::process::Command`] (`posix_spawn` where it can) in a hidden role,
//!   talking over its stdin and stdout (CPython's `spawn` context).
//!
//! # Using it from a binary
//!
//! The job function is chosen by the binary that owns the pool. Since the
//! forkserver and spawn workers are this executable started again, the
//! binary lists its jobs in a table and its `main` must begin with one line,
//! before parsing flags or starting any thread:
//!
//! ```no_run
//! fn square(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
//!     let a = u64::from_le_bytes(input.try_into().map_err(|_| 1)?);
//!     output.extend_from_slice(&(a * a).to_le_bytes());
//!     Ok(())
//! }
//! const JOBS: &[procpool::Job] = &[procpool::Job { name: "square", run: square }];
//!
//! fn main() {
//!     procpool::enter_worker_role_if_asked(JOBS); // never returns in a worker
//!     let mut pool = procpool::Pool::new(procpool::StartMethod::Forkserver, 4, JOBS[0]).unwrap();
//!     let inputs: Vec<[u8; 8]> = (0..4u64).map(u64::to_le_bytes).collect();
//!     let results = pool.map(&inputs).unwrap(); // in input order
//!     assert_eq!(results[3], 9u64.to_le_bytes());
//! }
//! ```
//!
//! A job is a byte payload of at most [`MAX_FRAME`] bytes; so is its result,
//! of any length up to that (an exact MPFR value fits). A job function
//! returns `Err(code)` to fail its job; the parent gets
//! [`PoolError::JobFailed`].
//!
//! # Faults
//!
//! CPython's Pool hangs forever when a worker dies mid-job. Here a worker that
//! dies, closes its pipe or sends a garbled or truncated frame makes `map`
//! return a [`PoolError::Worker`] naming the job, the pid and the cause (exit
//! status or signal) within 2 seconds; the optional [`Pool::set_job_timeout`]
//! turns a hung job into the same error. After an error the pool is broken:
//! every worker is killed and reaped at once.
//!
//! A worker that cannot be started (the forkserver's `fork()` failing at the
//! user's process limit) makes [`Pool::new`] return
//! [`PoolError::ForkWorker`] with the errno; pids are [`childpid::ChildPid`]s,
//! so a failed fork's `-1` can never reach `kill`.
//!
//! # Shutdown
//!
//! Dropping the pool closes the request pipes (the workers' end-of-file is
//! their sentinel), reaps every worker (killing those that do not leave within
//! a second) and stops the forkserver, which reaps its own workers. No fd,
//! zombie or orphan is left: the pool's fds are close-on-exec, and a worker
//! whose parent dies sees end-of-file and exits. Workers ignore SIGINT, so a
//! Ctrl-C at the terminal reaches the parent alone, which decides (through
//! [`Pool::set_interrupt_check`]) to stop and drop the pool.
//!
//! A fork worker inherits every fd of its parent that is not this pool's
//! (close-on-exec does not act without exec); if another pool is alive when a
//! fork pool is created, that pool's workers no longer see end-of-file when
//! it is dropped and are killed after the grace delay instead. Create fork
//! pools first, or one pool at a time, as the binaries of this suite do.

mod frame;
mod server;
mod worker;

pub use frame::MAX_FRAME;
#[doc(hidden)]
pub use server::FAIL_FORK_ENV;
pub use worker::{sabotage_next_reply, Sabotage, EXIT_PANIC, EXIT_PROTOCOL, EXIT_UNKNOWN_JOB};

use childpid::{ChildPid, Forked};
use frame::{read_exact, write_all, Header, Io, HEADER};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::pipe;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// A job function: reads its job's payload, appends its result to `output`
/// (empty on entry, capacity [`MAX_FRAME`]), or fails with a non-zero code.
/// It runs inside a worker process, never in the parent.
pub type JobFn = fn(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32>;

/// A job function and the name by which a re-executed worker finds it in its
/// table (see [`enter_worker_role_if_asked`]).
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub name: &'static str,
    pub run: JobFn,
}

/// How the workers are started (`multiprocessing.set_start_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartMethod {
    Fork,
    Forkserver,
    Spawn,
}

impl StartMethod {
    pub const ALL: [StartMethod; 3] = [StartMethod::Fork, StartMethod::Forkserver, StartMethod::Spawn];

    /// CPython's name: `fork`, `forkserver`, `spawn`.
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Forkserver => "forkserver",
            StartMethod::Spawn => "spawn",
        }
    }
}

impl std::fmt::Display for StartMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for StartMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StartMethod::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("expected one of fork, forkserver, spawn, got '{s}'"))
    }
}

/// Why a worker failed its job.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkerFault {
    #[error("exited with status {0}")]
    Exited(i32),
    #[error("was killed by signal {0}")]
    Signaled(String),
    #[error("closed its pipe without a result")]
    ClosedPipe,
    #[error("sent a garbled frame ({0})")]
    Garbled(&'static str),
    #[error("sent a truncated frame")]
    Truncated,
    #[error("timed out after {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    #[error("could not be reached: {0}")]
    Io(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A worker died, hung or garbled its reply while doing job `job`
    /// (the index in the batch given to `map`).
    #[error("job {job} (pid {pid}) {fault}")]
    Worker { job: usize, pid: i32, fault: WorkerFault },
    /// The job function returned `Err(code)`.
    #[error("job {job} (pid {pid}) failed in its job function with code {code}")]
    JobFailed { job: usize, pid: i32, code: i32 },
    #[error("job {job}: {len} bytes is over the frame limit of {MAX_FRAME} bytes")]
    TooLarge { job: usize, len: usize },
    /// A signal interrupted the wait and the interrupt check said stop.
    #[error("interrupted by a signal")]
    Interrupted,
    #[error("the pool is broken by an earlier error")]
    Broken,
    /// The forkserver's `fork()` of worker number `worker` (from 1) failed
    /// with `errno` (`EAGAIN` at the user's process limit).
    #[error("forkserver could not fork worker {worker}: {}", childpid::errno_text(*.errno))]
    ForkWorker { worker: usize, errno: i32 },
    #[error("{what}: {err}")]
    Os { what: String, err: std::io::Error },
}

fn os(what: impl Into<String>, err: impl Into<std::io::Error>) -> PoolError {
    PoolError::Os {
        what: what.into(),
        err: err.into(),
    }
}

/// Environment variable naming the hidden role of a re-executed worker.
pub const ROLE_ENV: &str = "PROCPOOL_ROLE";
/// Environment variable naming the job function of a re-executed worker.
pub const JOB_ENV: &str = "PROCPOOL_JOB";

/// The first line of `main` in every binary that owns a pool: when this
/// process was started as a spawn worker or as the forkserver, serve (the
/// job is looked up by name in `jobs`) and exit; otherwise return at once.
///
/// It must run before any thread is started, since the forkserver forks.
pub fn enter_worker_role_if_asked(jobs: &[Job]) {
    let Some(role) = std::env::var_os(ROLE_ENV) else { return };
    let name = std::env::var(JOB_ENV).unwrap_or_default();
    // SAFETY (of remove_var): still single-threaded, at the top of main.
    std::env::remove_var(ROLE_ENV);
    std::env::remove_var(JOB_ENV);
    let Some(job) = jobs.iter().find(|j| j.name == name) else {
        eprintln!("procpool worker: no job named '{name}' in this executable");
        std::process::exit(EXIT_UNKNOWN_JOB);
    };
    match role.to_str() {
        Some("worker") => worker::spawned_worker(job.run),
        Some("forkserver") => server::run(job.run),
        _ => {
            eprintln!("procpool: unknown role {role:?}");
            std::process::exit(EXIT_UNKNOWN_JOB);
        }
    }
}

/// Seconds a reaped worker is given to finish a frame it began, or to be
/// seen dead once its pipe closed: the 2-second fault promise rests on it.
const GRACE: Duration = Duration::from_millis(900);
/// How long the parent waits on one worker's pipe before looking at all.
const LIVENESS: Duration = Duration::from_millis(100);

struct Worker {
    pid: ChildPid,
    req: Option<OwnedFd>,
    rep: Option<OwnedFd>,
    /// Job index and when it was sent.
    busy: Option<(usize, Instant)>,
    /// Known dead (reaped by us, or reported by the forkserver).
    gone: bool,
    /// Forked by the forkserver: the server reaps it, not us.
    server_child: bool,
}

/// A pool of `n` worker processes (see the crate docs).
pub struct Pool {
    start: StartMethod,
    job: Job,
    workers: Vec<Worker>,
    server: Option<server::Handle>,
    timeout: Option<Duration>,
    interrupt: Option<fn() -> bool>,
    broken: bool,
    send: Vec<u8>,
    pollfds: Vec<libc::pollfd>,
}

impl Pool {
    /// Starts `n` workers running `job` (CPython's `Pool(processes=n)`).
    /// With `fork`, the calling process must be single-threaded.
    pub fn new(start: StartMethod, n: usize, job: Job) -> Result<Pool, PoolError> {
        let mut pool = Pool {
            start,
            job,
            workers: Vec::with_capacity(n),
            server: None,
            timeout: None,
            interrupt: None,
            broken: false,
            send: Vec::with_capacity(HEADER + 64),
            pollfds: Vec::with_capacity(n),
        };
        match start {
            StartMethod::Fork => pool.start_fork(n)?,
            StartMethod::Forkserver => {
                pool.server = Some(server::Handle::start(job.name)?);
                for _ in 0..n {
                    pool.start_via_server()?;
                }
            }
            StartMethod::Spawn => {
                for _ in 0..n {
                    pool.start_spawned()?;
                }
            }
        }
        Ok(pool)
    }

    pub fn start_method(&self) -> StartMethod {
        self.start
    }

    pub fn job(&self) -> Job {
        self.job
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The workers' pids, in worker order.
    pub fn pids(&self) -> Vec<i32> {
        self.workers.iter().map(|w| w.pid.as_raw()).collect()
    }

    /// The forkserver's pid (forkserver pools only).
    pub fn server_pid(&self) -> Option<i32> {
        self.server.as_ref().map(|s| s.pid.as_raw())
    }

    /// A job running longer than this fails the map with
    /// [`WorkerFault::TimedOut`]; `None` (the default) waits forever, as
    /// CPython does.
    pub fn set_job_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Called when a signal interrupts the wait for results: `true` makes
    /// `map` return [`PoolError::Interrupted`] (for example
    /// `|| cli::signals::interrupted().is_some()`); without it the wait
    /// goes on.
    pub fn set_interrupt_check(&mut self, check: fn() -> bool) {
        self.interrupt = Some(check);
    }

    /// `pool.map(job, inputs)`: every input to some idle worker, the results
    /// in input order.
    pub fn map<I: AsRef<[u8]>>(&mut self, inputs: &[I]) -> Result<Vec<Vec<u8>>, PoolError> {
        let mut out = Vec::with_capacity(inputs.len());
        self.map_into(inputs, &mut out)?;
        Ok(out)
    }

    /// As [`Pool::map`], reusing the vectors of `out` (resized to
    /// `inputs.len()`): a steady map allocates nothing.
    pub fn map_into<I: AsRef<[u8]>>(&mut self, inputs: &[I], out: &mut Vec<Vec<u8>>) -> Result<(), PoolError> {
        if self.broken {
            return Err(PoolError::Broken);
        }
        if let Some((job, i)) = inputs.iter().enumerate().find(|(_, i)| i.as_ref().len() > MAX_FRAME) {
            return Err(PoolError::TooLarge {
                job,
                len: i.as_ref().len(),
            });
        }
        out.resize_with(inputs.len(), Vec::new);
        let res = self.map_inner(inputs, out);
        if res.is_err() {
            self.broken = true;
            self.kill_all();
        }
        res
    }

    fn map_inner<I: AsRef<[u8]>>(&mut self, inputs: &[I], out: &mut [Vec<u8>]) -> Result<(), PoolError> {
        let mut next = 0;
        let mut done = 0;
        for w in 0..self.workers.len() {
            if next == inputs.len() {
                break;
            }
            self.send(w, next, inputs[next].as_ref())?;
            next += 1;
        }
        while done < inputs.len() {
            // Wait on the oldest job's pipe alone, as a native pool blocks in
            // read on its workers in order: results that are ready by then
            // cost no extra wakeup of the parent. Every LIVENESS at most, and
            // after each result while jobs are pending, all busy pipes are
            // swept without waiting: a dead worker is seen at once and an idle
            // worker gets the next job (Pool.map's shared task queue).
            let oldest = self
                .workers
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.busy.map(|(job, _)| (job, i)))
                .min()
                .map(|(_, i)| i)
                .expect("a job is pending, so a worker is busy");
            let mut deadline = Instant::now() + LIVENESS;
            if let (Some(t), Some((_, since))) = (self.timeout, self.workers[oldest].busy) {
                deadline = deadline.min(since + t);
            }
            let handled = self.poll_busy(Some(oldest), Some(deadline), inputs, out, &mut next)?;
            done += handled;
            if handled == 0 {
                self.check_timeouts()?;
            }
            if handled == 0 || next < inputs.len() {
                done += self.poll_busy(None, None, inputs, out, &mut next)?;
            }
        }
        Ok(())
    }

    /// Polls the pipe of worker `only`, or of every busy worker without
    /// waiting (`deadline` None); receives every result that is there and
    /// hands the freed worker the next job. Returns the results received.
    fn poll_busy<I: AsRef<[u8]>>(
        &mut self,
        only: Option<usize>,
        deadline: Option<Instant>,
        inputs: &[I],
        out: &mut [Vec<u8>],
        next: &mut usize,
    ) -> Result<usize, PoolError> {
        self.pollfds.clear();
        for (i, w) in self.workers.iter().enumerate() {
            if let (Some(_), Some(rep), true) = (w.busy, &w.rep, only.is_none() || only == Some(i)) {
                self.pollfds.push(libc::pollfd {
                    fd: rep.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        let timeout = match deadline {
            None => 0,
            Some(d) => frame::poll_timeout(Some(d)),
        };
        // SAFETY: pollfds is a valid array of its length.
        let r = unsafe { libc::poll(self.pollfds.as_mut_ptr(), self.pollfds.len() as libc::nfds_t, timeout) };
        if r < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                if self.interrupt.is_some_and(|check| check()) {
                    return Err(PoolError::Interrupted);
                }
                return Ok(0);
            }
            return Err(os("poll", err));
        }
        let mut handled = 0;
        for k in 0..self.pollfds.len() {
            let p = self.pollfds[k];
            if p.revents == 0 {
                continue;
            }
            let w = self
                .workers
                .iter()
                .position(|w| w.rep.as_ref().is_some_and(|f| f.as_raw_fd() == p.fd))
                .expect("polled fds belong to workers");
            self.receive(w, out)?;
            handled += 1;
            if *next < inputs.len() {
                self.send(w, *next, inputs[*next].as_ref())?;
                *next += 1;
            }
        }
        Ok(handled)
    }

    fn check_timeouts(&mut self) -> Result<(), PoolError> {
        let Some(t) = self.timeout else { return Ok(()) };
        for w in &self.workers {
            if let Some((job, since)) = w.busy {
                if since.elapsed() >= t {
                    return Err(PoolError::Worker {
                        job,
                        pid: w.pid.as_raw(),
                        fault: WorkerFault::TimedOut(t),
                    });
                }
            }
        }
        Ok(())
    }

    fn send(&mut self, w: usize, job: usize, input: &[u8]) -> Result<(), PoolError> {
        self.send.clear();
        self.send.resize(HEADER, 0);
        Header {
            index: job as u32,
            status: 0,
            len: input.len() as u32,
        }
        .encode(&mut self.send);
        self.send.extend_from_slice(input);
        let worker = &mut self.workers[w];
        let fd = worker.req.as_ref().map_or(-1, |f| f.as_raw_fd());
        let pid = worker.pid.as_raw();
        worker.busy = Some((job, Instant::now()));
        match write_all(fd, &self.send, Some(Instant::now() + GRACE), false) {
            Io::Done => Ok(()),
            Io::Eof => {
                let fault = self.death_cause(w);
                Err(PoolError::Worker { job, pid, fault })
            }
            Io::TimedOut(_) => Err(PoolError::Worker {
                job,
                pid,
                fault: WorkerFault::Io("its request pipe stayed full".into()),
            }),
            other => Err(PoolError::Worker {
                job,
                pid,
                fault: WorkerFault::Io(format!("write: {other:?}")),
            }),
        }
    }

    fn receive(&mut self, w: usize, out: &mut [Vec<u8>]) -> Result<(), PoolError> {
        let worker = &self.workers[w];
        let (job, _) = worker.busy.expect("only busy workers are polled");
        let pid = worker.pid.as_raw();
        let fd: RawFd = worker.rep.as_ref().map_or(-1, |f| f.as_raw_fd());
        let deadline = Some(Instant::now() + GRACE);
        let fail = |fault| PoolError::Worker { job, pid, fault };
        // One read brings header and payload of a small result (poll said
        // the pipe is readable, so it does not block).
        let mut first = [0u8; 4096];
        // SAFETY: reading into a local buffer.
        let n = unsafe { libc::read(fd, first.as_mut_ptr().cast(), first.len()) };
        let got = match n {
            0 => {
                let fault = self.death_cause(w);
                return Err(fail(fault));
            }
            n if n > 0 => n as usize,
            _ => 0, // EAGAIN or EINTR: the reads below poll until the deadline
        };
        if got < HEADER {
            match read_exact(fd, &mut first[got..HEADER], deadline, false) {
                Io::Done => {}
                Io::Eof if got == 0 => {
                    let fault = self.death_cause(w);
                    return Err(fail(fault));
                }
                Io::Eof | Io::Short(_) | Io::TimedOut(_) => return Err(fail(WorkerFault::Truncated)),
                other => return Err(fail(WorkerFault::Io(format!("read: {other:?}")))),
            }
        }
        let hdr: &[u8; HEADER] = first[..HEADER].try_into().expect("HEADER bytes");
        let h = Header::decode(hdr).map_err(|why| fail(WorkerFault::Garbled(why)))?;
        if h.index as usize != job {
            return Err(fail(WorkerFault::Garbled("result for another job")));
        }
        let len = h.len as usize;
        let have = got.max(HEADER) - HEADER;
        if have > len {
            return Err(fail(WorkerFault::Garbled("bytes after the frame")));
        }
        let buf = &mut out[job];
        buf.clear();
        buf.extend_from_slice(&first[HEADER..HEADER + have]);
        buf.resize(len, 0);
        match read_exact(fd, &mut buf[have..], deadline, false) {
            Io::Done => {}
            Io::Eof | Io::Short(_) | Io::TimedOut(_) => return Err(fail(WorkerFault::Truncated)),
            other => return Err(fail(WorkerFault::Io(format!("read: {other:?}")))),
        }
        self.workers[w].busy = None;
        match h.status {
            0 => Ok(()),
            worker::STATUS_TOO_LARGE => Err(PoolError::TooLarge {
                job,
                len: MAX_FRAME + 1,
            }),
            code => Err(PoolError::JobFailed { job, pid, code }),
        }
    }

    /// The worker's pipe closed: find out how it died (waiting at most
    /// [`GRACE`]).
    fn death_cause(&mut self, w: usize) -> WorkerFault {
        let pid = self.workers[w].pid;
        if let Some(server) = &mut self.server {
            return match server.exit_status(pid, Instant::now() + GRACE) {
                Some(status) => {
                    self.workers[w].gone = true;
                    fault_of(status)
                }
                None => WorkerFault::ClosedPipe,
            };
        }
        let deadline = Instant::now() + GRACE;
        loop {
            match pid.waitpid(Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => {
                    self.workers[w].gone = true;
                    return fault_of(status);
                }
                Err(e) => return WorkerFault::Io(format!("waitpid: {e}")),
            }
            if Instant::now() >= deadline {
                return WorkerFault::ClosedPipe;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// After an error: SIGKILL every worker still there (they are reaped by
    /// the drop, or by the forkserver, which also does the killing of its own).
    fn kill_all(&mut self) {
        if let Some(server) = &mut self.server {
            server.kill_workers();
            return;
        }
        for w in &self.workers {
            if !w.gone {
                let _ = w.pid.kill(Signal::SIGKILL);
            }
        }
    }

    /// Closes the pool now: what drop does.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // The sentinel: end-of-file on every request pipe.
        for w in &mut self.workers {
            w.req = None;
            w.rep = None;
        }
        let deadline = Instant::now() + GRACE;
        if let Some(server) = self.server.take() {
            // The server reaps its own workers; it is ours to reap.
            let pids: Vec<ChildPid> = self.workers.iter().filter(|w| !w.gone).map(|w| w.pid).collect();
            server.stop(&pids, deadline);
        } else {
            for w in &mut self.workers {
                if !w.gone && !w.server_child {
                    w.pid.reap_by(deadline);
                    w.gone = true;
                }
            }
        }
        self.workers.clear();
    }

    fn start_fork(&mut self, n: usize) -> Result<(), PoolError> {
        let mut bufs = worker::Buffers::new();
        // The parent's ends of every earlier worker's pipes: each child closes
        // them, so that a request pipe's only writer is the parent.
        let mut theirs: Vec<RawFd> = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let (req_r, req_w) = cloexec_pipe()?;
            let (rep_r, rep_w) = cloexec_pipe()?;
            theirs.push(req_w.as_raw_fd());
            theirs.push(rep_r.as_raw_fd());
            // SAFETY: the caller of Pool::new guarantees that this process is
            // single-threaded (the binaries create fork pools before any
            // thread exists), so the child starts with a consistent copy of
            // the allocator and of every lock, exactly as CPython's fork Pool
            // relies on. The child closes inherited fds (close), sets signal
            // dispositions (signal), then runs the worker loop (read, write,
            // poll on buffers allocated above) and the job function, and
            // leaves with _exit: it never returns into the parent's code, no
            // destructor or atexit handler runs in it. The sleep job allocates
            // nothing; a job that allocates (MPFR in test_rf_pool) does so in
            // a single-threaded child with a consistent allocator.
            match unsafe { childpid::fork() } {
                Err(e) => return Err(os("fork", e)),
                Ok(Forked::Child) => {
                    for &fd in &theirs {
                        // SAFETY: close is async-signal-safe.
                        unsafe { libc::close(fd) };
                    }
                    worker::worker_signals();
                    let code = worker::serve(req_r.as_raw_fd(), rep_w.as_raw_fd(), self.job.run, &mut bufs);
                    // SAFETY: _exit is async-signal-safe; nothing is flushed.
                    unsafe { libc::_exit(code) }
                }
                Ok(Forked::Parent(child)) => {
                    drop((req_r, rep_w));
                    self.push_worker(child, req_w, rep_r);
                }
            }
        }
        Ok(())
    }

    fn start_spawned(&mut self) -> Result<(), PoolError> {
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().map_err(|e| os("current_exe", e))?;
        let mut child = Command::new(exe)
            .env(ROLE_ENV, "worker")
            .env(JOB_ENV, self.job.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| os("spawning a worker", e))?;
        let req: OwnedFd = child.stdin.take().expect("piped stdin").into();
        let rep: OwnedFd = child.stdout.take().expect("piped stdout").into();
        let pid = spawned_pid(child, "spawning a worker")?;
        self.push_worker(pid, req, rep);
        Ok(())
    }

    fn start_via_server(&mut self) -> Result<(), PoolError> {
        let (req_r, req_w) = cloexec_pipe()?;
        let (rep_r, rep_w) = cloexec_pipe()?;
        let server = self.server.as_mut().expect("forkserver started");
        let pid = server.fork_worker(self.workers.len() + 1, req_r, rep_w)?;
        self.push_worker(pid, req_w, rep_r);
        Ok(())
    }

    fn push_worker(&mut self, pid: ChildPid, req: OwnedFd, rep: OwnedFd) {
        frame::set_nonblocking(req.as_raw_fd());
        frame::set_nonblocking(rep.as_raw_fd());
        self.workers.push(Worker {
            pid,
            req: Some(req),
            rep: Some(rep),
            busy: None,
            gone: false,
            server_child: self.start == StartMethod::Forkserver,
        });
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if self.broken {
            self.kill_all();
        }
        self.shutdown();
    }
}

/// `os.pipe()`: both ends close-on-exec (pipe + fcntl: no pipe2 on macOS).
fn cloexec_pipe() -> Result<(OwnedFd, OwnedFd), PoolError> {
    let (r, w) = pipe().map_err(|e| os("pipe", e))?;
    frame::set_cloexec(r.as_raw_fd());
    frame::set_cloexec(w.as_raw_fd());
    Ok((r, w))
}

fn fault_of(status: WaitStatus) -> WorkerFault {
    match status {
        WaitStatus::Exited(_, code) => WorkerFault::Exited(code),
        WaitStatus::Signaled(_, sig, _) => WorkerFault::Signaled(sig.as_str().to_string()),
        other => WorkerFault::Io(format!("unexpected wait status {other:?}")),
    }
}

/// The [`ChildPid`] of a spawned child, which we reap ourselves (dropping a
/// std `Child` neither kills nor waits). A pid that does not fit (never seen)
/// is an error, the child killed and reaped through `Child`.
fn spawned_pid(mut child: std::process::Child, what: &str) -> Result<ChildPid, PoolError> {
    ChildPid::of(&child).ok_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        os(what, std::io::Error::other(format!("pid {} out of range", child.id())))
    })
}

/// Diagnostic job for tests: where does the worker run?
pub mod diag {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A value the parent sets before creating a pool: a forked worker sees
    /// it, a spawned one (a fresh exec) sees 0.
    pub static MARK: AtomicU64 = AtomicU64::new(0);

    /// Job function: answers `pid`, `ppid` (u32 LE each) and [`MARK`] (u64 LE).
    pub fn whoami(_input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
        output.extend_from_slice(&(std::process::id()).to_le_bytes());
        output.extend_from_slice(&(nix::unistd::getppid().as_raw() as u32).to_le_bytes());
        output.extend_from_slice(&MARK.load(Ordering::SeqCst).to_le_bytes());
        Ok(())
    }

    /// Decodes [`whoami`]'s answer: `(pid, ppid, mark)`.
    pub fn decode(b: &[u8]) -> Option<(u32, u32, u64)> {
        let b: &[u8; 16] = b.try_into().ok()?;
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut m = [0u8; 8];
        m.copy_from_slice(&b[8..]);
        Some((w(0), w(4), u64::from_le_bytes(m)))
    }
}
