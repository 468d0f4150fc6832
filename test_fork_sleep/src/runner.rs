//! The `@parallel(ncpus)` decorator's `_runner` from `test_pyparallel_sleep.py`:
//! spawn children up to `ncpus`, wait for any, read its result, close; again
//! until every job of the call is done. Its buffers are kept across calls, so
//! that a call allocates nothing.
//!
//! The hooks it calls are each in their own module: [`crate::ipc`] (the pipe,
//! or Sage's files), [`crate::breakdown`] (`--breakdown` clocks),
//! [`crate::timeout`] (`--timeout`), [`crate::hygiene`] (`--hygiene`) and
//! [`crate::fault`] (`--inject`).

use crate::breakdown;
use crate::child::{self, Job};
use crate::fault::{self, Fault};
use crate::hygiene::Hygiene;
use crate::ipc::{Ipc, JobEnd};
use crate::parent::Habits;
use crate::timeout::Timeout;
use crate::Cli;
use childpid::{ChildPid, Forked};
use nix::errno::Errno;
use nix::sys::wait::{wait, WaitStatus};
use probes::churn::MapChurn;
use std::time::Instant;
use timing::Outcome;

/// One live child: `active[pid] = r_fd` in the original.
struct Live {
    pid: ChildPid,
    /// Its end of the channel (the read end of its pipe).
    end: JobEnd,
    a: u64,
    born: Instant,
}

/// The `_runner`, with what it keeps from call to call.
pub struct Parallel {
    ncpus: usize,
    sleep: libc::timespec,
    check: bool,
    ipc: Ipc,
    timeout: Timeout,
    inject: Option<(Fault, u64)>,
    hygiene: Hygiene,
    live: Vec<Live>,
    /// The last call's results, in completion order (`--check` prints them).
    pub results: Vec<Option<u64>>,
    pub breakdown: breakdown::Shared,
    /// `--map-churn`: grows before every call (a no-op at 0).
    churn: MapChurn,
    /// The ballast, and what the parent does after each fork (the
    /// interpreter's fork habits, `parent.rs`).
    habits: Habits,
}

impl Parallel {
    pub fn new(cli: &Cli, churn: MapChurn, habits: Habits) -> Parallel {
        let ncpus = cli.ncpus as usize;
        Parallel {
            ncpus,
            sleep: libc::timespec {
                tv_sec: cli.sleep.trunc() as libc::time_t,
                tv_nsec: (cli.sleep.fract() * 1e9).round().min(999_999_999.0) as libc::c_long,
            },
            check: cli.run.check,
            ipc: Ipc::new(cli.ipc),
            timeout: Timeout(cli.timeout),
            inject: cli.inject,
            hygiene: Hygiene::new(cli.hygiene),
            live: Vec::with_capacity(ncpus),
            results: Vec::with_capacity(ncpus),
            breakdown: breakdown::Shared::new(cli.breakdown),
            churn,
            habits,
        }
    }

    /// Start of a bar(): the `--hygiene` baseline.
    pub fn baseline(&mut self) {
        self.hygiene.baseline();
    }

    /// One call: `list(foo((a, fT, check) for a in range(m, m+ncpus)))`.
    pub fn call(&mut self, m: u64) -> Result<(), Outcome> {
        Outcome::check_interrupt()?;
        self.churn.before_call().map_err(|e| fail(e.to_string()))?;
        self.results.clear();
        self.ipc.open_call().map_err(fail)?;
        let res = self.run_jobs(m);
        // Sage's `finally:` (and our rule for the pipe too): no child survives a
        // call, whatever happened; then the directory goes.
        for l in self.live.drain(..) {
            l.pid.kill_and_reap();
        }
        let dir = self.ipc.close_call();
        res?;
        self.hygiene.check(dir.as_deref()).map_err(fail)
    }

    /// The `while True:` of `_runner`.
    fn run_jobs(&mut self, m: u64) -> Result<(), Outcome> {
        let mut next = m;
        let end = m + self.ncpus as u64;
        loop {
            while self.live.len() < self.ncpus && next < end {
                self.spawn(next)?;
                next += 1;
            }
            if self.live.is_empty() {
                return Ok(());
            }
            self.reap_one()?;
        }
    }

    /// `r_fd, w_fd = os.pipe(); pid = os.fork()`; the parent keeps the read end.
    fn spawn(&mut self, a: u64) -> Result<(), Outcome> {
        let fault = fault::for_job(self.inject, a);
        let job = Job {
            a,
            sleep: self.sleep,
            check: self.check,
            fault,
        };
        let mut end = self.ipc.open_job().map_err(|e| fail(format!("job {a}: pipe: {e}")))?;
        let t0 = self.breakdown.clock();
        // SAFETY: this process is single-threaded (no thread is ever started in
        // test_fork_sleep), so the child starts with consistent state. The child
        // (child::run) calls only async-signal-safe functions until _exit: close
        // (the read end), open/dup2/close (--ipc file stdout), nanosleep, getpid,
        // raise or pause (fault injection), open/write/close, _exit (its status
        // may carry the errno of a failed write). It never returns, so no
        // destructor runs in it.
        let pid = match unsafe { childpid::fork() } {
            Err(e) => return Err(fail(format!("job {a}: fork: {e}"))),
            Ok(Forked::Child) => child::run(&self.ipc, &end, job),
            Ok(Forked::Parent(pid)) => pid,
        };
        // What CPython's posix.fork does before it returns (part of the
        // breakdown's fork time), then the pages an interpreter writes.
        self.habits.post_fork_check();
        self.breakdown.add_fork(t0);
        self.habits.dirty();
        Ipc::parent_keep(&mut end); // os.close(w_fd)
        if fault == Some(Fault::LeakFd) {
            end.leak_fd();
        }
        let born = Instant::now();
        self.live.push(Live { pid, end, a, born });
        Ok(())
    }

    /// `done_pid, _ = os.wait()`, then read that child's result to EOF.
    fn reap_one(&mut self) -> Result<(), Outcome> {
        let t0 = self.breakdown.clock();
        let status = self.wait_any()?;
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
        let len = self.ipc.receive(done.end, pid.as_raw(), &mut data);
        self.breakdown.add_read(t1);
        let value = judge(status, &data[..len.min(data.len())], len)
            .map_err(|why| fail(format!("job {} (pid {pid}) {why}", done.a)))?;
        self.results.push(value);
        Ok(())
    }

    /// `os.wait()`, retried after a signal, under the `--timeout` alarm.
    fn wait_any(&mut self) -> Result<WaitStatus, Outcome> {
        loop {
            Outcome::check_interrupt()?;
            // Only with --timeout: a plain run scans nothing before wait().
            let oldest = self.timeout.0.and(self.live.iter().min_by_key(|l| l.born));
            if let Some(oldest) = oldest {
                if let Err(limit) = self.timeout.arm(oldest.born) {
                    let (a, pid) = (oldest.a, oldest.pid);
                    return Err(fail(format!(
                        "job {a} (pid {pid}) timed out after {limit} s; killed with SIGKILL"
                    )));
                }
            }
            let status = wait();
            self.timeout.disarm();
            match status {
                Ok(s) => return Ok(s),
                Err(Errno::EINTR) => continue, // a signal: checked at the top
                Err(e) => return Err(fail(format!("wait: {e}"))),
            }
        }
    }
}

/// The parent's `pickle.loads` of a reaped child's result, with its exit
/// status: the value, or why the job failed (formatted only on a fault: the
/// success path allocates nothing).
fn judge(status: WaitStatus, data: &[u8], len: usize) -> Result<Option<u64>, String> {
    match status {
        WaitStatus::Exited(_, 0) => {}
        WaitStatus::Exited(_, code) => {
            return Err(match child::write_failure(code) {
                Some(why) => format!("could not write its result: {why}"),
                None => format!("exited with status {code}"),
            })
        }
        WaitStatus::Signaled(_, sig, _) => return Err(format!("was killed by signal {sig}")),
        other => return Err(format!("stopped unexpectedly: {other:?}")),
    }
    match child::parse(data) {
        Ok(v) if len == child::RECORD_LEN => Ok(v),
        Ok(_) => Err("sent a result too long".into()),
        Err(why) => Err(why.into()),
    }
}

fn fail(why: String) -> Outcome {
    Outcome::Failed(why)
}
