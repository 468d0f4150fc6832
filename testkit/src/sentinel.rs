//! Do no harm: a process of the test's own user that a run must leave alone.
//! A failed fork's pid `-1` that reached `kill(-1, SIGKILL)` would kill
//! every process of the user, this one included.

use std::process::{Child, Command, Stdio};

/// `sleep 30`, checked alive and then stopped by the test; stopped and
/// reaped on drop too (a failed assertion leaves nothing behind).
pub struct Sentinel(Child);

impl Sentinel {
    /// `sleep 30` as this test's user.
    pub fn start() -> Sentinel {
        Sentinel::start_as(Command::new("sleep"))
    }

    /// `sleep 30` from `sleep`, a `Command::new("sleep")` the caller has
    /// prepared (to run as another user, say).
    pub fn start_as(mut sleep: Command) -> Sentinel {
        Sentinel(sleep.arg("30").stdin(Stdio::null()).spawn().unwrap())
    }

    /// Panics if the sentinel was killed, else stops it.
    pub fn assert_alive_then_stop(mut self) {
        // try_wait, not kill(pid, 0): a SIGKILLed child stays a zombie until reaped.
        assert!(matches!(self.0.try_wait(), Ok(None)), "the sentinel process was killed");
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
