//! The `forkserver` start method, parent's side: the [`Handle`] of a
//! running server ([`crate::server`]), which forks every worker. The parent
//! makes each worker's pipes and hands the worker's ends to the server over
//! a Unix socket with `SCM_RIGHTS`; the server answers with the new pid, or
//! with the errno of a fork that failed, and later with the worker's exit
//! status.

use super::{cloexec_pipe, spawn, SpawnVia, Started};
use crate::error::{os, PoolError};
use crate::frame::{self, read_exact, Io};
use crate::server::{decode, encode, MSG, TAG_EXIT, TAG_FORK, TAG_FORK_ERR, TAG_KILL, TAG_PID};
use childpid::ChildPid;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::socket::{sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The parent's side of a running forkserver.
pub(crate) struct Handle {
    pub pid: ChildPid,
    sock: Option<OwnedFd>,
    /// Exit statuses the server reported, not yet asked for (raw pids: they
    /// are only compared with the workers' [`ChildPid`]s, never signalled).
    exits: Vec<(i32, WaitStatus)>,
}

impl Handle {
    /// Spawns this executable as the forkserver (`via`), its stdin one end
    /// of a Unix socket pair.
    pub fn start(job: &str, via: SpawnVia) -> Result<Handle, PoolError> {
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::empty())
            .map_err(|e| os("socketpair", e))?;
        for fd in [&ours, &theirs] {
            crate::set_cloexec(fd.as_raw_fd()).map_err(|e| os("ioctl(FIOCLEX)", e))?;
        }
        let pid = spawn::exec_self(via, "forkserver", job, theirs, None, "spawning the forkserver")?;
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

    /// Makes the pipes of worker number `worker` (from 1) and has the server
    /// fork it.
    pub fn start_worker(&mut self, worker: usize) -> Result<Started, PoolError> {
        let (req_r, req_w) = cloexec_pipe()?;
        let (rep_r, rep_w) = cloexec_pipe()?;
        let pid = self.fork_worker(worker, req_r, rep_w)?;
        Ok(Started {
            pid,
            req: req_w,
            rep: rep_r,
        })
    }

    /// Hands the pipe ends of worker number `worker` (from 1) to the server;
    /// returns the worker's pid, or the errno of the server's failed fork.
    fn fork_worker(&mut self, worker: usize, req_r: OwnedFd, rep_w: OwnedFd) -> Result<ChildPid, PoolError> {
        let msg = encode(TAG_FORK, 0, 0, 0);
        let fds = [req_r.as_raw_fd(), rep_w.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        // A server that takes nothing for this long is stuck: an error, not a hang.
        let send_by = Instant::now() + Duration::from_secs(10);
        loop {
            match sendmsg::<()>(self.fd(), &[IoSlice::new(&msg)], &cmsg, MsgFlags::empty(), None) {
                Ok(n) if n == MSG => break,
                Ok(_) => return Err(os("sendmsg to the forkserver", std::io::Error::other("short send"))),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) if Instant::now() >= send_by => {
                    return Err(os("sendmsg to the forkserver", std::io::ErrorKind::TimedOut))
                }
                Err(Errno::EAGAIN) => {
                    let _ = frame::wait_fd(self.fd(), libc::POLLOUT, Some(send_by));
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
    /// killing it if it is not gone by the deadline. Its workers are the
    /// server's children, not ours: we never signal them (their pids may be
    /// reaped and reused by then); they have end-of-file on their request
    /// pipes and leave on their own, and a live server kills and reaps
    /// stragglers itself.
    pub fn stop(mut self, deadline: Instant) {
        self.sock = None;
        // The server reaps its workers first: give it twice the grace.
        let deadline = deadline + (deadline - Instant::now().min(deadline)) + Duration::from_millis(200);
        loop {
            match self.pid.waitpid(Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                _ => return,
            }
            if Instant::now() >= deadline {
                self.pid.kill_and_reap();
                return;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}
