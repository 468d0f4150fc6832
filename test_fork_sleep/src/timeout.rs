//! `--timeout S`: Sage's `alarm(timeout - (now - oldest))` before each
//! `os.wait()`, so that a hung child fails the run instead of hanging it.
//! SIGALRM is caught without `SA_RESTART`, so it interrupts `wait()`.
//!
//! The timer repeats every [`REARM`] after its first expiry: if the first
//! SIGALRM lands between arming and `wait()` entering the kernel (its handler
//! only sets a flag), the next one still interrupts the `wait()`, so a run
//! whose children all hang cannot block for ever.

use cli::signals;
use nix::sys::signal::Signal;
use std::time::Instant;

/// How often an expired timer fires again until `wait()` returns (10 ms).
pub const REARM: libc::suseconds_t = 10_000;

/// The limit on a child's life, if any.
#[derive(Clone, Copy, Debug)]
pub struct Timeout(pub Option<f64>);

impl Timeout {
    /// Before `wait()`: arms the timer for the oldest live child, `born`
    /// then; `Err(limit)` when that child is already over the limit.
    pub fn arm(self, born: Instant) -> Result<(), f64> {
        let Some(limit) = self.0 else { return Ok(()) };
        let left = limit - born.elapsed().as_secs_f64();
        if left <= 0.0 {
            return Err(limit);
        }
        set_alarm(left.max(1e-6));
        Ok(())
    }

    /// After `wait()` returned: disarms the timer and forgets its signal.
    pub fn disarm(self) {
        if self.0.is_some() {
            set_alarm(0.0);
            signals::take(Signal::SIGALRM);
        }
    }
}

/// `setitimer(ITIMER_REAL)`, repeating every [`REARM`] after the first
/// expiry; 0 disarms.
fn set_alarm(secs: f64) {
    let tv = libc::timeval {
        tv_sec: secs.trunc() as libc::time_t,
        tv_usec: (secs.fract() * 1e6) as libc::suseconds_t,
    };
    let every = if secs > 0.0 { REARM } else { 0 };
    let it = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: every,
        },
        it_value: tv,
    };
    // SAFETY: valid itimerval, null old value.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}
