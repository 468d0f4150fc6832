//! The forked child's whole life ([`run`]), and the fixed binary record it
//! sends back.
//!
//! In the original (`test_pyparallel_sleep.py`) the child runs `foo`, pickles
//! `(True, result)` and writes it to its pipe, then `os._exit(0)`. Here the
//! child may only call async-signal-safe functions (`close`, `nanosleep`,
//! `open`, `dup2`, `getpid`, `write`, `raise`, `pause`, `_exit`): no
//! allocation, no `println!`, no panic path. Everything it needs is prepared by
//! the parent before `fork()`.
//!
//! A child that cannot write its result (`ENOSPC` on a full disk with
//! `--ipc file`) says why through its exit status: `110 + errno` for an errno
//! in `1..=145`, `110` for any other ([`write_failed_status`]); the parent
//! turns it back into "could not write its result: No space left on device"
//! ([`write_failure`]). No other exit of a child uses 110..=255 (the `exit`
//! fault is 3, a Rust panic would be 101).

use crate::fault::{Fault, SAY};
use crate::ipc::{Ipc, JobEnd};
use crate::sigsafe::write_all;

/// Size of the record a child sends: magic, tag, value (little-endian).
pub const RECORD_LEN: usize = 16;
const MAGIC: [u8; 4] = *b"TFS1";
const TAG_NONE: u32 = 0;
const TAG_VALUE: u32 = 1;

/// `foo(a, fT, check)` returns `None`, or `a**2` with `check`.
pub fn record(value: Option<u64>) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r[..4].copy_from_slice(&MAGIC);
    let (tag, v) = match value {
        None => (TAG_NONE, 0),
        Some(v) => (TAG_VALUE, v),
    };
    r[4..8].copy_from_slice(&tag.to_le_bytes());
    r[8..].copy_from_slice(&v.to_le_bytes());
    r
}

/// The parent's `pickle.loads`: `Err` names what is wrong with the bytes.
pub fn parse(bytes: &[u8]) -> Result<Option<u64>, &'static str> {
    if bytes.is_empty() {
        return Err("sent no result");
    }
    if bytes.len() != RECORD_LEN {
        return Err(if bytes.len() < RECORD_LEN {
            "sent a short result"
        } else {
            "sent a result too long"
        });
    }
    if bytes[..4] != MAGIC {
        return Err("sent a garbled result");
    }
    let tag = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    let v = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
    match tag {
        TAG_NONE => Ok(None),
        TAG_VALUE => Ok(Some(v)),
        _ => Err("sent a garbled result"),
    }
}

/// What the parent prepares for one job before its fork: all the child
/// needs, so that the child computes nothing that could allocate.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// The job's argument (`a` in `foo(a, fT, check)`).
    pub a: u64,
    /// `fT`, as `nanosleep` takes it.
    pub sleep: libc::timespec,
    pub check: bool,
    pub fault: Option<Fault>,
}

/// The child's whole life after `os.fork()`, as in the original: close the
/// read end (or, for Sage's protocol, send stdout to `<pid>.out`), run
/// `foo`, write the result, `os._exit(0)`. Only async-signal-safe calls;
/// never returns, so no destructor runs in the child.
pub fn run(ipc: &Ipc, end: &JobEnd, job: Job) -> ! {
    ipc.child_open(end);
    let mut status = 0;
    if let Some(rec) = self::job(job.a, job.sleep, job.check, job.fault) {
        let rec = &rec[..sent_len(job.fault)];
        status = ipc
            .child_send(end, rec, job.fault)
            .map_or_else(write_failed_status, |()| 0);
    }
    // SAFETY: _exit is async-signal-safe; no atexit handlers, no flush.
    unsafe { libc::_exit(status) }
}

/// `time.sleep(fT)`: `nanosleep`, resumed after a signal as Python does.
pub fn sleep(t: libc::timespec) {
    let mut req = t;
    let mut rem = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: both pointers are to live stack values.
    while unsafe { libc::nanosleep(&req, &mut rem) } == -1 {
        req = rem;
    }
}

/// Exit status for "could not write its result", carrying `errno` (see the
/// module doc).
pub const fn write_failed_status(errno: i32) -> i32 {
    if errno >= 1 && errno <= 145 {
        110 + errno
    } else {
        110
    }
}

/// The parent's reading of a child's exit status: `Some(why)` when the child
/// reported a failed result write ([`write_failed_status`]).
pub fn write_failure(status: i32) -> Option<String> {
    match status {
        110 => Some("error out of range".into()),
        111..=255 => Some(childpid::errno_text(status - 110)),
        _ => None,
    }
}

/// The job of every original: sleep `t`, answer `None` or `a*a`, then misbehave
/// if asked to. Returns the record to send, or `None` when the fault already
/// decided the child's fate.
pub fn job(a: u64, t: libc::timespec, check: bool, fault: Option<Fault>) -> Option<[u8; RECORD_LEN]> {
    match fault {
        Some(Fault::Hang) => loop {
            // SAFETY: pause is async-signal-safe.
            unsafe { libc::pause() };
        },
        Some(Fault::Signal) => {
            // SAFETY: raise is async-signal-safe (no pid involved at all).
            unsafe { libc::raise(libc::SIGKILL) };
            None
        }
        Some(Fault::Exit) => {
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(3) }
        }
        _ => {
            sleep(t);
            if fault == Some(Fault::Say) {
                let _ = write_all(1, SAY);
            }
            let mut rec = record(check.then(|| a.wrapping_mul(a)));
            match fault {
                Some(Fault::Short) => rec[5..].fill(0xff),
                Some(Fault::Garble) => rec = [0x5a; RECORD_LEN],
                _ => {}
            }
            Some(rec)
        }
    }
}

/// Length of the record a faulty child actually sends (`short` sends 5 bytes).
pub fn sent_len(fault: Option<Fault>) -> usize {
    if fault == Some(Fault::Short) {
        5
    } else {
        RECORD_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_garbage() {
        assert_eq!(parse(&record(None)), Ok(None));
        assert_eq!(parse(&record(Some(81))), Ok(Some(81)));
        assert_eq!(parse(&record(Some(u64::MAX))), Ok(Some(u64::MAX)));
        assert!(parse(&[]).is_err());
        assert!(parse(&record(None)[..5]).is_err());
        assert!(parse(&[0x5a; RECORD_LEN]).is_err());
        let mut bad_tag = record(None);
        bad_tag[4] = 9;
        assert!(parse(&bad_tag).is_err());
    }

    #[test]
    fn write_errno_round_trips_through_the_exit_status() {
        for errno in [libc::EPERM, libc::EIO, libc::ENOSPC, libc::EROFS, libc::EDQUOT] {
            let status = write_failed_status(errno);
            assert!((111..=255).contains(&status), "{errno}: {status}");
            assert_eq!(write_failure(status), Some(childpid::errno_text(errno)));
        }
        assert_eq!(
            write_failure(write_failed_status(libc::ENOSPC)).unwrap(),
            "No space left on device"
        );
        assert_eq!(write_failed_status(0), 110);
        assert_eq!(write_failed_status(146), 110);
        assert!(write_failure(110).is_some());
        // The other exits of a child keep their meaning.
        for status in [0, 1, 3, 101, 109] {
            assert_eq!(write_failure(status), None, "{status}");
        }
    }
}
