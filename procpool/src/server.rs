//! The forkserver: CPython's `multiprocessing.forkserver`, reduced to its
//! mechanism. The server is this executable started once (spawned, so it is
//! small and clean: it never ran the parent's code). The parent asks it for a
//! worker by sending the worker's two pipe ends over a Unix socket with
//! `SCM_RIGHTS`; the server forks, the child serves jobs on those pipes, the
//! server answers with the new pid and later with its exit status.
//!
//! CPython keeps one server for the parent's whole life and listens on a Unix
//! socket in a temp dir; ours lives as long as its pool and talks over a
//! `socketpair`, which leaves no file behind.
//!
//! A fork that fails in the server (`EAGAIN` at the user's process limit) is
//! answered with its errno, never with a pid: the parent's run ends with
//! [`PoolError::ForkWorker`]. For the tests, the hidden variable
//! [`FAIL_FORK_ENV`]`=N` makes the server's `N`th fork (counting from 1)
//! report `EAGAIN` without forking.

use crate::frame::{self, read_exact, Io};
use crate::worker::{self, Buffers};
use crate::{os, JobFn, PoolError};
use childpid::{ChildPid, Forked};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::socket::{recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned};
use nix::sys::socket::{MsgFlags, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

const MSG: usize = 16;
const TAG_FORK: u32 = 1;
const TAG_PID: u32 = 2;
const TAG_EXIT: u32 = 3;
/// The fork failed; the errno is in the last field.
const TAG_FORK_ERR: u32 = 4;
/// Parent to server: SIGKILL every worker not reaped yet.
const TAG_KILL: u32 = 5;

/// Testing aid (hidden): `N` makes the forkserver's `N`th fork (from 1)
/// fail with `EAGAIN` without forking, as at the user's process limit.
pub const FAIL_FORK_ENV: &str = "PROCPOOL_FORKSERVER_FAIL_FORK";

fn encode(tag: u32, pid: i32, kind: i32, code: i32) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    m[..4].copy_from_slice(&tag.to_le_bytes());
    m[4..8].copy_from_slice(&pid.to_le_bytes());
    m[8..12].copy_from_slice(&kind.to_le_bytes());
    m[12..].copy_from_slice(&code.to_le_bytes());
    m
}

fn decode(m: &[u8; MSG]) -> (u32, i32, i32, i32) {
    let w = |i: usize| [m[i], m[i + 1], m[i + 2], m[i + 3]];
    (
        u32::from_le_bytes(w(0)),
        i32::from_le_bytes(w(4)),
        i32::from_le_bytes(w(8)),
        i32::from_le_bytes(w(12)),
    )
}

/// The parent's side of a running forkserver.
pub(crate) struct Handle {
    pub pid: ChildPid,
    sock: Option<OwnedFd>,
    /// Exit statuses the server reported, not yet asked for (raw pids: they
    /// are only compared with the workers' [`ChildPid`]s, never signalled).
    exits: Vec<(i32, WaitStatus)>,
}

impl Handle {
    /// Spawns this executable as the forkserver, its stdin one end of a
    /// Unix socket pair.
    pub fn start(job: &str) -> Result<Handle, PoolError> {
        use std::process::{Command, Stdio};
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::empty())
            .map_err(|e| os("socketpair", e))?;
        frame::set_cloexec(ours.as_raw_fd());
        frame::set_cloexec(theirs.as_raw_fd());
        let exe = std::env::current_exe().map_err(|e| os("current_exe", e))?;
        let child = Command::new(exe)
            .env(crate::ROLE_ENV, "forkserver")
            .env(crate::JOB_ENV, job)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| os("spawning the forkserver", e))?;
        let pid = crate::spawned_pid(child, "spawning the forkserver")?;
        frame::set_nonblocking(ours.as_raw_fd());
        Ok(Handle {
            pid,
            sock: Some(ours),
            exits: Vec::new(),
        })
    }

    fn fd(&self) -> RawFd {
        self.sock.as_ref().map_or(-1, |s| s.as_raw_fd())
    }

    /// Hands the pipe ends of worker number `worker` (from 1) to the server;
    /// returns the worker's pid, or the errno of the server's failed fork.
    pub fn fork_worker(&mut self, worker: usize, req_r: OwnedFd, rep_w: OwnedFd) -> Result<ChildPid, PoolError> {
        let msg = encode(TAG_FORK, 0, 0, 0);
        let fds = [req_r.as_raw_fd(), rep_w.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        loop {
            match sendmsg::<()>(self.fd(), &[IoSlice::new(&msg)], &cmsg, MsgFlags::empty(), None) {
                Ok(n) if n == MSG => break,
                Ok(_) => return Err(os("sendmsg to the forkserver", std::io::Error::other("short send"))),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => {
                    let _ = frame::wait_fd(self.fd(), libc::POLLOUT, Some(Instant::now() + Duration::from_secs(1)));
                }
                Err(e) => return Err(os("sendmsg to the forkserver", e)),
            }
        }
        // The server has its own copies now.
        drop((req_r, rep_w));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.recv(deadline)? {
                (TAG_PID, pid, _, _) => {
                    return ChildPid::new(pid)
                        .ok_or_else(|| os("the forkserver", std::io::Error::other(format!("reported pid {pid}"))))
                }
                (TAG_FORK_ERR, _, _, errno) => return Err(PoolError::ForkWorker { worker, errno }),
                _ => continue,
            }
        }
    }

    /// Asks the server to SIGKILL its workers: it is their parent, so only it
    /// knows which are not reaped yet (a reaped worker's pid may already be
    /// another process's). Best effort: a server that is gone has no workers.
    pub fn kill_workers(&mut self) {
        let msg = encode(TAG_KILL, 0, 0, 0);
        let _ = frame::write_all(self.fd(), &msg, Some(Instant::now() + Duration::from_secs(1)), false);
    }

    /// Reads one message; exit reports are stored on the way.
    fn recv(&mut self, deadline: Instant) -> Result<(u32, i32, i32, i32), PoolError> {
        let mut m = [0u8; MSG];
        match read_exact(self.fd(), &mut m, Some(deadline), false) {
            Io::Done => {}
            other => {
                return Err(os(
                    "reading from the forkserver",
                    std::io::Error::other(format!("{other:?}")),
                ))
            }
        }
        let msg = decode(&m);
        if msg.0 == TAG_EXIT {
            let pid = Pid::from_raw(msg.1);
            let status = if msg.2 == 0 {
                WaitStatus::Exited(pid, msg.3)
            } else {
                WaitStatus::Signaled(pid, Signal::try_from(msg.3).unwrap_or(Signal::SIGKILL), false)
            };
            self.exits.push((msg.1, status));
        }
        Ok(msg)
    }

    /// The exit status of worker `pid` as the server reports it, waiting
    /// until `deadline`.
    pub fn exit_status(&mut self, pid: ChildPid, deadline: Instant) -> Option<WaitStatus> {
        loop {
            if let Some(i) = self.exits.iter().position(|&(p, _)| p == pid.as_raw()) {
                return Some(self.exits.swap_remove(i).1);
            }
            if self.recv(deadline).is_err() {
                return None;
            }
        }
    }

    /// Closes the socket (the server's sentinel), then reaps the server,
    /// killing it and `workers` if it is not gone by the deadline.
    pub fn stop(mut self, workers: &[ChildPid], deadline: Instant) {
        self.sock = None;
        // The server reaps its workers first: give it twice the grace.
        let deadline = deadline + (deadline - Instant::now().min(deadline)) + Duration::from_millis(200);
        loop {
            match self.pid.waitpid(Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                _ => return,
            }
            if Instant::now() >= deadline {
                for w in workers {
                    let _ = w.kill(Signal::SIGKILL);
                }
                self.pid.kill_and_reap();
                return;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

/// Write end of the server's self-pipe, for its SIGCHLD handler.
static SELF_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = SELF_PIPE.load(Ordering::SeqCst);
    let b = 0u8;
    // SAFETY: write is async-signal-safe; the pipe is non-blocking.
    unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// The server's whole life (`PROCPOOL_ROLE=forkserver`); stdin is the socket.
pub(crate) fn run(job: JobFn) -> ! {
    worker::worker_signals();
    let sock: RawFd = 0;
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe with a valid 2-int array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        std::process::exit(worker::EXIT_PROTOCOL);
    }
    let (self_r, self_w) = (fds[0], fds[1]);
    for fd in fds {
        frame::set_nonblocking(fd);
        frame::set_cloexec(fd);
    }
    SELF_PIPE.store(self_w, Ordering::SeqCst);
    // SAFETY: a zeroed sigaction with a handler that only calls write.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigchld as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_NOCLDSTOP;
        libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut());
    }
    let mut bufs = Buffers::new();
    let mut live: Vec<ChildPid> = Vec::new();
    let fail_fork: Option<u64> = std::env::var(FAIL_FORK_ENV).ok().and_then(|n| n.parse().ok());
    let mut forks = 0u64;
    loop {
        let mut p = [
            libc::pollfd {
                fd: sock,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self_r,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        if unsafe { libc::poll(p.as_mut_ptr(), 2, -1) } < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            break;
        }
        if p[1].revents != 0 {
            let mut junk = [0u8; 64];
            // SAFETY: reading into a local buffer.
            while unsafe { libc::read(self_r, junk.as_mut_ptr().cast(), junk.len()) } > 0 {}
            reap_any_exited_child(&mut live, sock);
        }
        if p[0].revents == 0 {
            continue;
        }
        let mut data = [0u8; MSG];
        let mut space = nix::cmsg_space!([RawFd; 2]);
        let mut iov = [IoSliceMut::new(&mut data)];
        let (bytes, got) = match recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Err(_) => break,
            Ok(m) => {
                let mut got: Vec<RawFd> = Vec::new();
                if let Ok(cmsgs) = m.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            got.extend(fds);
                        }
                    }
                }
                (m.bytes, got)
            }
        };
        if bytes == 0 {
            break; // the parent closed the socket: the pool is being dropped
        }
        if bytes < MSG && read_exact(sock, &mut data[bytes..], None, false) != Io::Done {
            break;
        }
        let (tag, ..) = decode(&data);
        if tag == TAG_KILL {
            // Reaped first, so that only unreaped workers (alive or zombies,
            // their pids still ours) are signalled.
            reap_any_exited_child(&mut live, sock);
            for pid in &live {
                let _ = pid.kill(Signal::SIGKILL);
            }
        }
        if tag != TAG_FORK || got.len() != 2 {
            for fd in got {
                // SAFETY: closing fds we received and own.
                unsafe { libc::close(fd) };
            }
            continue;
        }
        forks += 1;
        let forked = if fail_fork == Some(forks) {
            Err(Errno::EAGAIN)
        } else {
            // SAFETY: the server is single-threaded (it never starts a thread),
            // so the child's allocator and locks are consistent. The child closes
            // the socket and self-pipe (close), resets SIGCHLD (signal), runs
            // the worker loop on buffers allocated above (read, write, poll) and
            // the job function, then leaves with _exit without returning here.
            unsafe { childpid::fork() }
        };
        match forked {
            Ok(Forked::Child) => {
                // SAFETY: close and signal are async-signal-safe.
                unsafe {
                    libc::signal(libc::SIGCHLD, libc::SIG_DFL);
                    libc::close(sock);
                    libc::close(self_r);
                    libc::close(self_w);
                }
                let code = worker::serve(got[0], got[1], job, &mut bufs);
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(code) }
            }
            Ok(Forked::Parent(child)) => {
                for fd in got {
                    // SAFETY: the worker has its copies; closing ours.
                    unsafe { libc::close(fd) };
                }
                live.push(child);
                send(sock, &encode(TAG_PID, child.as_raw(), 0, 0));
            }
            Err(errno) => {
                for fd in got {
                    // SAFETY: closing fds we received and own.
                    unsafe { libc::close(fd) };
                }
                // Never a pid: the errno, for the parent's one-line cause.
                send(sock, &encode(TAG_FORK_ERR, 0, 0, errno as i32));
            }
        }
    }
    // The parent is gone or closed the pool: the workers see end-of-file on
    // their request pipes and leave; reap them, kill the slow ones.
    let deadline = Instant::now() + Duration::from_secs(1);
    while !live.is_empty() {
        reap_any_exited_child(&mut live, sock);
        if Instant::now() >= deadline {
            for pid in &live {
                let _ = pid.kill(Signal::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::process::exit(0)
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
