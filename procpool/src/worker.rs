//! The worker's whole life, the same for the three start methods: read a job
//! frame, run the job function, write the result frame, until the parent
//! closes the request pipe (CPython's `worker()` loop in `multiprocessing/pool.py`
//! reading `None` as its sentinel).
//!
//! In a forked worker this runs in the child of a single-threaded parent: the
//! loop itself only calls `read`, `write`, `poll` and `_exit` and uses buffers
//! allocated by the parent before the fork, so a job function that allocates
//! nothing (the sleep job) keeps the whole path allocation-free.

use crate::fault::{take_spoil, Fault};
use crate::frame::{read_exact, write_all, Header, Io, HEADER, MAX_FRAME};
use crate::JobFn;
use std::os::fd::RawFd;

/// Exit status of a worker whose parent sent something that is not a frame.
pub const EXIT_PROTOCOL: i32 = 70;
/// Exit status of a worker whose job function panicked.
pub const EXIT_PANIC: i32 = 101;
/// Exit status of a worker started for a job name missing from its table.
pub const EXIT_UNKNOWN_JOB: i32 = 71;
/// Status of a result frame whose payload went over [`MAX_FRAME`].
pub const STATUS_TOO_LARGE: i32 = i32::MIN;

/// Buffers of one worker, allocated before it starts.
pub(crate) struct Buffers {
    input: Vec<u8>,
    output: Vec<u8>,
    send: Vec<u8>,
}

impl Buffers {
    pub fn new() -> Buffers {
        // vec![0; n] comes from calloc: the pages are not touched until used.
        Buffers {
            input: vec![0; HEADER + MAX_FRAME],
            output: Vec::with_capacity(MAX_FRAME),
            send: vec![0; HEADER + MAX_FRAME],
        }
    }
}

/// Serves jobs from `req` onto `rep` until EOF; returns the exit status.
pub(crate) fn serve(req: RawFd, rep: RawFd, job: JobFn, bufs: &mut Buffers) -> i32 {
    loop {
        // One read brings the whole frame as a rule (the parent writes it
        // with one write and sends nothing more until it has the result).
        let got = match read_some(req, &mut bufs.input, HEADER) {
            Some(0) => return 0,
            Some(n) => n,
            None => return EXIT_PROTOCOL,
        };
        let hdr: &[u8; HEADER] = match bufs.input[..HEADER].try_into() {
            Ok(h) => h,
            Err(_) => return EXIT_PROTOCOL,
        };
        let Ok(h) = Header::decode(hdr) else {
            return EXIT_PROTOCOL;
        };
        let end = HEADER + h.len as usize;
        if got > end || (got < end && read_exact(req, &mut bufs.input[got..end], None, false) != Io::Done) {
            return EXIT_PROTOCOL;
        }
        let input = &bufs.input[HEADER..end];
        bufs.output.clear();
        let out = &mut bufs.output;
        let status = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(input, out))) {
            Ok(Ok(())) => 0,
            Ok(Err(0)) => -1,
            Ok(Err(code)) => code,
            Err(_) => return EXIT_PANIC,
        };
        if !reply(rep, h.index, status, bufs) {
            return EXIT_PROTOCOL;
        }
    }
}

/// Sends the result of job `index` (or its failure `status`); `false` if the
/// parent cannot be written to. A reply spoiled by [`Fault::Truncate`] is
/// followed by an hour's stall.
fn reply(rep: RawFd, index: u32, status: i32, bufs: &mut Buffers) -> bool {
    let (status, n) = if bufs.output.len() > MAX_FRAME {
        (STATUS_TOO_LARGE, 0)
    } else if status != 0 {
        (status, 0)
    } else {
        (0, bufs.output.len())
    };
    Header {
        index,
        status,
        len: n as u32,
    }
    .encode(&mut bufs.send[..HEADER]);
    bufs.send[HEADER..HEADER + n].copy_from_slice(&bufs.output[..n]);
    let sent = match take_spoil() {
        Some(Fault::Garble) => {
            bufs.send[0] = b'X';
            HEADER + n
        }
        Some(Fault::Truncate) => HEADER / 2,
        _ => HEADER + n,
    };
    if write_all(rep, &bufs.send[..sent], None, false) != Io::Done {
        return false;
    }
    if sent == HEADER / 2 {
        let ts = libc::timespec {
            tv_sec: 3600,
            tv_nsec: 0,
        };
        // SAFETY: nanosleep with a valid timespec (async-signal-safe).
        unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
    }
    true
}

/// Reads at least `min` bytes into `buf` (blocking fd); `Some(0)` on a clean
/// end-of-file, `None` on an error or a partial header at end-of-file.
fn read_some(fd: RawFd, buf: &mut [u8], min: usize) -> Option<usize> {
    let mut got = 0;
    while got < min {
        // SAFETY: reading into the unfilled tail of `buf`.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        match n {
            0 if got == 0 => return Some(0),
            0 => return None,
            n if n > 0 => got += n as usize,
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => return None,
        }
    }
    Some(got)
}

/// What every worker does first: ignore SIGINT (Ctrl-C goes to the whole
/// process group; the parent alone decides when workers stop, as CPython's
/// forkserver does) and take SIGTERM's default action back from the parent's
/// flag handler, which a forked worker inherits.
pub(crate) fn worker_signals() {
    // SAFETY: signal() with SIG_IGN / SIG_DFL is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
}

/// The life of a spawned worker (`--role worker` through the environment):
/// jobs on stdin, results on a private copy of stdout; fd 1 then points to
/// stderr so that a stray print in a job function cannot garble a frame.
pub(crate) fn spawned_worker(job: JobFn) -> ! {
    worker_signals();
    // SAFETY: dup/dup2 of the standard fds this fresh process owns.
    let rep = unsafe { libc::dup(1) };
    // SAFETY: as above.
    if rep < 0 || unsafe { libc::dup2(2, 1) } < 0 {
        std::process::exit(EXIT_PROTOCOL);
    }
    if crate::set_cloexec(rep).is_err() {
        std::process::exit(EXIT_PROTOCOL);
    }
    let mut bufs = Buffers::new();
    let code = serve(0, rep, job, &mut bufs);
    // SAFETY: _exit ends this worker without running anything else.
    unsafe { libc::_exit(code) }
}
