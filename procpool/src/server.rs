//! The forkserver: CPython's `multiprocessing.forkserver`, reduced to its
//! mechanism. The server is this executable started once (spawned, so it is
//! small and clean: it never ran the parent's code). The parent asks it for a
//! worker by sending the worker's two pipe ends over a Unix socket with
//! `SCM_RIGHTS`; the server forks, the child serves jobs on those pipes, the
//! server answers with the new pid and later with its exit status. The
//! parent's side is [`crate::start::forkserver`].
//!
//! CPython keeps one server for the parent's whole life and listens on a Unix
//! socket in a temp dir; ours lives as long as its pool and talks over a
//! `socketpair`, which leaves no file behind.
//!
//! A fork that fails in the server (`EAGAIN` at the user's process limit) is
//! answered with its errno, never with a pid: the parent's run ends with
//! [`PoolError::ForkWorker`](crate::PoolError::ForkWorker). For the tests,
//! the hidden variable [`FAIL_FORK_ENV`]`=N` makes the server's `N`th fork
//! (counting from 1) report `EAGAIN` without forking.

use crate::frame::{self, read_exact, Io};
use crate::worker::{self, Buffers};
use crate::JobFn;
use childpid::{ChildPid, Forked};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::IoSliceMut;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Size of every message between the parent and the server: tag, pid, kind,
/// code (i32 LE each).
pub(crate) const MSG: usize = 16;
/// Parent to server: fork a worker on the two fds attached.
pub(crate) const TAG_FORK: u32 = 1;
/// Server to parent: the new worker's pid.
pub(crate) const TAG_PID: u32 = 2;
/// Server to parent: a worker was reaped (kind 0: exit code, 1: signal).
pub(crate) const TAG_EXIT: u32 = 3;
/// Server to parent: the fork failed; the errno is in the last field.
pub(crate) const TAG_FORK_ERR: u32 = 4;
/// Parent to server: SIGKILL every worker not reaped yet.
pub(crate) const TAG_KILL: u32 = 5;

/// Testing aid (hidden): `N` makes the forkserver's `N`th fork (from 1)
/// fail with `EAGAIN` without forking, as at the user's process limit.
pub const FAIL_FORK_ENV: &str = "PROCPOOL_FORKSERVER_FAIL_FORK";

/// One message: `(tag, pid, kind, code)`.
pub(crate) fn encode(tag: u32, pid: i32, kind: i32, code: i32) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    m[..4].copy_from_slice(&tag.to_le_bytes());
    m[4..8].copy_from_slice(&pid.to_le_bytes());
    m[8..12].copy_from_slice(&kind.to_le_bytes());
    m[12..].copy_from_slice(&code.to_le_bytes());
    m
}

/// The inverse of [`encode`].
pub(crate) fn decode(m: &[u8; MSG]) -> (u32, i32, i32, i32) {
    let w = |i: usize| [m[i], m[i + 1], m[i + 2], m[i + 3]];
    (
        u32::from_le_bytes(w(0)),
        i32::from_le_bytes(w(4)),
        i32::from_le_bytes(w(8)),
        i32::from_le_bytes(w(12)),
    )
}

/// Write end of the server's self-pipe, for its SIGCHLD handler.
static SELF_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = SELF_PIPE.load(Ordering::SeqCst);
    let b = 0u8;
    // SAFETY: write is async-signal-safe; the pipe is non-blocking.
    unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// What woke the server up.
struct Wake {
    /// The socket has a message (or was closed).
    request: bool,
    /// A worker changed state (the self-pipe).
    children: bool,
}

/// The server's state: its socket (stdin), self-pipe and live workers.
struct Server {
    sock: RawFd,
    self_r: RawFd,
    self_w: RawFd,
    job: JobFn,
    /// The workers' buffers, allocated once: every fork gets a copy.
    bufs: Buffers,
    live: Vec<ChildPid>,
    /// [`FAIL_FORK_ENV`], and the forks counted so far.
    fail_fork: Option<u64>,
    forks: u64,
}

/// The server's whole life (`PROCPOOL_ROLE=forkserver`); stdin is the socket.
pub(crate) fn run(job: JobFn) -> ! {
    worker::worker_signals();
    let Some((self_r, self_w)) = install_sigchld_pipe() else {
        std::process::exit(worker::EXIT_PROTOCOL);
    };
    let mut server = Server {
        sock: 0,
        self_r,
        self_w,
        job,
        bufs: Buffers::new(),
        live: Vec::new(),
        fail_fork: std::env::var(FAIL_FORK_ENV).ok().and_then(|n| n.parse().ok()),
        forks: 0,
    };
    server.serve();
    server.reap_all();
    std::process::exit(0)
}

/// A non-blocking close-on-exec self-pipe whose write end the SIGCHLD
/// handler writes to, so that `poll` wakes up when a worker dies.
fn install_sigchld_pipe() -> Option<(RawFd, RawFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe with a valid 2-int array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return None;
    }
    for fd in fds {
        frame::set_nonblocking(fd);
        crate::set_cloexec(fd).ok()?;
    }
    SELF_PIPE.store(fds[1], Ordering::SeqCst);
    // SAFETY: a zeroed sigaction with a handler that only calls write.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigchld as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_NOCLDSTOP;
        libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut());
    }
    Some((fds[0], fds[1]))
}

impl Server {
    /// Answers the parent until it closes the socket (or the socket fails).
    fn serve(&mut self) {
        while let Some(wake) = self.wait() {
            if wake.children {
                self.drain_self_pipe();
                reap_any_exited_child(&mut self.live, self.sock);
            }
            if !wake.request {
                continue;
            }
            match self.recv_request() {
                Request::Again => continue,
                Request::Closed => break, // the parent closed the socket: the pool is being dropped
                Request::Message(tag, fds) => self.handle(tag, fds),
            }
        }
    }

    /// Waits for the socket or the self-pipe; `None` if `poll` fails.
    fn wait(&self) -> Option<Wake> {
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut p = [pollfd(self.sock), pollfd(self.self_r)];
        // SAFETY: two valid pollfds.
        if unsafe { libc::poll(p.as_mut_ptr(), 2, -1) } < 0 {
            return (Errno::last() == Errno::EINTR).then_some(Wake {
                request: false,
                children: false,
            });
        }
        Some(Wake {
            request: p[0].revents != 0,
            children: p[1].revents != 0,
        })
    }

    fn drain_self_pipe(&self) {
        let mut junk = [0u8; 64];
        // SAFETY: reading into a local buffer.
        while unsafe { libc::read(self.self_r, junk.as_mut_ptr().cast(), junk.len()) } > 0 {}
    }

    /// Reads one message and the fds attached to it.
    fn recv_request(&self) -> Request {
        let mut data = [0u8; MSG];
        let mut space = nix::cmsg_space!([RawFd; 2]);
        let mut iov = [IoSliceMut::new(&mut data)];
        let (bytes, fds) = match recvmsg::<()>(self.sock, &mut iov, Some(&mut space), MsgFlags::empty()) {
            Err(Errno::EINTR) => return Request::Again,
            Err(_) => return Request::Closed,
            Ok(m) => {
                let mut fds: Vec<RawFd> = Vec::new();
                for c in m.cmsgs().into_iter().flatten() {
                    if let ControlMessageOwned::ScmRights(got) = c {
                        fds.extend(got);
                    }
                }
                (m.bytes, fds)
            }
        };
        if bytes == 0 || (bytes < MSG && read_exact(self.sock, &mut data[bytes..], None, false) != Io::Done) {
            close_all(&fds);
            return Request::Closed;
        }
        Request::Message(decode(&data).0, fds)
    }

    /// Acts on one message: a kill order, or a fork with its two fds.
    fn handle(&mut self, tag: u32, fds: Vec<RawFd>) {
        if tag == TAG_KILL {
            // Reaped first, so that only unreaped workers (alive or zombies,
            // their pids still ours) are signalled.
            reap_any_exited_child(&mut self.live, self.sock);
            for pid in &self.live {
                let _ = pid.kill(Signal::SIGKILL);
            }
        }
        if tag != TAG_FORK || fds.len() != 2 {
            close_all(&fds);
            return;
        }
        self.fork_worker(fds[0], fds[1]);
        close_all(&fds);
    }

    /// Forks a worker on `req` and `rep` and tells the parent its pid, or
    /// the errno of the failed fork (never a pid then).
    fn fork_worker(&mut self, req: RawFd, rep: RawFd) {
        self.forks += 1;
        let forked = if self.fail_fork == Some(self.forks) {
            Err(Errno::EAGAIN)
        } else {
            // SAFETY: the server is single-threaded (it never starts a thread),
            // so the child's allocator and locks are consistent. The child closes
            // the socket and self-pipe (close), resets SIGCHLD (signal), runs
            // the worker loop on buffers allocated before (read, write, poll) and
            // the job function, then leaves with _exit without returning here.
            unsafe { childpid::fork() }
        };
        match forked {
            Ok(Forked::Child) => self.child(req, rep),
            Ok(Forked::Parent(child)) => {
                self.live.push(child);
                send(self.sock, &encode(TAG_PID, child.as_raw(), 0, 0));
            }
            Err(errno) => send(self.sock, &encode(TAG_FORK_ERR, 0, 0, errno as i32)),
        }
    }

    /// The forked worker's whole life.
    fn child(&mut self, req: RawFd, rep: RawFd) -> ! {
        // SAFETY: close and signal are async-signal-safe.
        unsafe {
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            libc::close(self.sock);
            libc::close(self.self_r);
            libc::close(self.self_w);
        }
        let code = worker::serve(req, rep, self.job, &mut self.bufs);
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(code) }
    }

    /// The parent is gone or closed the pool: the workers see end-of-file on
    /// their request pipes and leave; reap them, kill the slow ones.
    fn reap_all(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.live.is_empty() {
            reap_any_exited_child(&mut self.live, self.sock);
            if Instant::now() >= deadline {
                for pid in &self.live {
                    let _ = pid.kill(Signal::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One read on the socket.
enum Request {
    /// Interrupted by a signal: poll again.
    Again,
    /// End of file or a broken message: stop serving.
    Closed,
    /// A message's tag and the fds that came with it.
    Message(u32, Vec<RawFd>),
}

/// Closes fds received from the parent (the worker, if any, has its copies).
fn close_all(fds: &[RawFd]) {
    for &fd in fds {
        // SAFETY: closing fds we received and own.
        unsafe { libc::close(fd) };
    }
}

/// A sweep over *any* child of the server (`waitpid(-1, WNOHANG)`): its
/// only children are its workers. A reaped pid is dropped from `live` and
/// reported to the parent; it is never signalled (it may already be reused).
fn reap_any_exited_child(live: &mut Vec<ChildPid>, sock: RawFd) {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                live.retain(|p| p.as_pid() != pid);
                send(sock, &encode(TAG_EXIT, pid.as_raw(), 0, code));
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                live.retain(|p| p.as_pid() != pid);
                send(sock, &encode(TAG_EXIT, pid.as_raw(), 1, sig as i32));
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => continue,
        }
    }
}

/// Best effort: the parent may be gone (EPIPE; SIGPIPE is ignored by the
/// Rust runtime).
fn send(sock: RawFd, msg: &[u8; MSG]) {
    let _ = frame::write_all(sock, msg, None, false);
}
