//! The pool itself: `n` started workers, `map` over them, and the way
//! down (faults, kill, shutdown). How each worker is started is in
//! [`crate::start`]; what it runs is [`crate::worker`].

use crate::error::{fault_of, os, PoolError, WorkerFault};
use crate::frame::{self, read_exact, write_all, Header, Io, HEADER, MAX_FRAME};
use crate::start::{fork, forkserver, spawn, SpawnVia, StartMethod, Started};
use crate::worker::{self, Buffers};
use crate::Job;
use childpid::ChildPid;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Seconds a reaped worker is given to finish a frame it began, or to be
/// seen dead once its pipe closed: the 2-second fault promise rests on it.
const GRACE: Duration = Duration::from_millis(900);
/// How long the parent waits on one worker's pipe before looking at all.
const LIVENESS: Duration = Duration::from_millis(100);

struct Worker {
    pid: ChildPid,
    req: Option<OwnedFd>,
    rep: Option<OwnedFd>,
    /// Index of the job it is doing.
    busy: Option<usize>,
    /// Known dead (reaped by us, or reported by the forkserver).
    gone: bool,
}

/// A pool of `n` worker processes (see the crate docs).
pub struct Pool {
    workers: Vec<Worker>,
    server: Option<forkserver::Handle>,
    interrupt: Option<fn() -> bool>,
    broken: bool,
    send: Vec<u8>,
    pollfds: Vec<libc::pollfd>,
}

impl Pool {
    /// Starts `n` workers running `job` (CPython's `Pool(processes=n)`),
    /// spawning (for `spawn` and `forkserver`) as CPython does on this
    /// platform ([`SpawnVia::DEFAULT`]). With `fork`, the calling process
    /// must be single-threaded.
    pub fn new(start: StartMethod, n: usize, job: Job) -> Result<Pool, PoolError> {
        Pool::with_spawn_via(start, SpawnVia::DEFAULT, n, job)
    }

    /// As [`Pool::new`], the spawn workers or the forkserver made `via`
    /// `posix_spawn` or `fork` + `exec` (no effect on a `fork` pool).
    pub fn with_spawn_via(start: StartMethod, via: SpawnVia, n: usize, job: Job) -> Result<Pool, PoolError> {
        if n == 0 {
            // A map over no worker could never finish.
            return Err(os("a pool of 0 workers", std::io::ErrorKind::InvalidInput));
        }
        let mut pool = Pool {
            workers: Vec::with_capacity(n),
            server: None,
            interrupt: None,
            broken: false,
            send: Vec::with_capacity(HEADER + 64),
            pollfds: Vec::with_capacity(n),
        };
        // Workers are pushed one by one: if a start fails, the drop reaps
        // those already there.
        let mut bufs: Option<Buffers> = None;
        if start == StartMethod::Forkserver {
            pool.server = Some(forkserver::Handle::start(job.name, via)?);
        }
        for i in 0..n {
            let started = match start {
                StartMethod::Fork => {
                    let bufs = bufs.get_or_insert_with(Buffers::new);
                    fork::start(job.run, &pool.parent_ends(), bufs)?
                }
                StartMethod::Forkserver => pool.server.as_mut().expect("started above").start_worker(i + 1)?,
                StartMethod::Spawn => spawn::start(job.name, via)?,
            };
            pool.push_worker(started);
        }
        Ok(pool)
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// No workers: never true of a pool [`Pool::new`] made (it refuses 0).
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
                .filter_map(|(i, w)| w.busy.map(|job| (job, i)))
                .min()
                .map(|(_, i)| i)
                .expect("a job is pending, so a worker is busy");
            let deadline = Instant::now() + LIVENESS;
            let handled = self.poll_busy(Some(oldest), Some(deadline), inputs, out, &mut next)?;
            done += handled;
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
        worker.busy = Some(job);
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
        let job = worker.busy.expect("only busy workers are polled");
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

    fn shutdown(&mut self) {
        // The sentinel: end-of-file on every request pipe.
        for w in &mut self.workers {
            w.req = None;
            w.rep = None;
        }
        let deadline = Instant::now() + GRACE;
        if let Some(server) = self.server.take() {
            // The server reaps its own workers; it is ours to reap.
            server.stop(deadline);
        } else {
            for w in &mut self.workers {
                if !w.gone {
                    w.pid.reap_by(deadline);
                    w.gone = true;
                }
            }
        }
        self.workers.clear();
    }

    /// The parent's ends of every worker's pipes so far (a forked worker
    /// closes them).
    fn parent_ends(&self) -> Vec<RawFd> {
        let ends = self.workers.iter().flat_map(|w| [&w.req, &w.rep]);
        ends.flatten().map(|f| f.as_raw_fd()).collect()
    }

    fn push_worker(&mut self, Started { pid, req, rep }: Started) {
        frame::set_nonblocking(req.as_raw_fd());
        frame::set_nonblocking(rep.as_raw_fd());
        self.workers.push(Worker {
            pid,
            req: Some(req),
            rep: Some(rep),
            busy: None,
            gone: false,
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
