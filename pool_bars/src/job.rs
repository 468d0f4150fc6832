//! The sleep job the pool workers run: the originals' `foo((a, fT, check))`,
//! `time.sleep(fT)` then `None` or `a**2`.

use procpool::{Fault, Job};

/// Size of a job's payload: `a` (u64), the sleep in ns (u64), check, the
/// injected fault ([`Fault::code`], 0 for none), who-am-I.
pub const JOB_LEN: usize = 19;

/// The faults the sleep job can be given (`--inject KIND@A`): all but
/// `junk`, whose reply the sleep job's caller could not tell from a result.
pub const FAULTS: [Fault; 4] = [Fault::Signal, Fault::Exit, Fault::Garble, Fault::Truncate];

/// `--inject KIND@A` (hidden) of the sleep binaries: job `a` misbehaves.
pub fn parse_inject(s: &str) -> Result<(Fault, u64), String> {
    Fault::parse_at(s, &FAULTS)
}

/// Job `a`: the originals' `foo((a, fT, check))`; `fault` is a
/// [`Fault::code`] or 0.
pub fn encode_job(a: u64, sleep: f64, check: bool, fault: u8) -> [u8; JOB_LEN] {
    let mut b = [0u8; JOB_LEN];
    b[..8].copy_from_slice(&a.to_le_bytes());
    b[8..16].copy_from_slice(&((sleep * 1e9).round() as u64).to_le_bytes());
    b[16] = check as u8;
    b[17] = fault;
    b
}

/// The `--workers` job: answer what `procpool::diag::whoami` answers (pid,
/// parent pid, [`procpool::diag::MARK`]) instead.
pub fn encode_whoami(a: u64) -> [u8; JOB_LEN] {
    let mut b = encode_job(a, 0.0, false, 0);
    b[18] = 1;
    b
}

/// The job function, run in a worker: `time.sleep(fT)` (nanosleep, resumed
/// after a signal as Python does), then `None` or `a**2` (as u128, exact for
/// every `a` the flags allow). Allocation-free: the result fits in the
/// preallocated output buffer.
pub fn sleep_job(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
    let input: &[u8; JOB_LEN] = input.try_into().map_err(|_| 1)?;
    let a = u64::from_le_bytes(input[..8].try_into().map_err(|_| 1)?);
    let ns = u64::from_le_bytes(input[8..16].try_into().map_err(|_| 1)?);
    let check = input[16] != 0;
    if input[18] != 0 {
        return procpool::diag::whoami(input, output);
    }
    if let Some(fault) = Fault::from_code(input[17]) {
        fault.strike();
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
