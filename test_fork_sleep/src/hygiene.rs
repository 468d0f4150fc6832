//! `--hygiene`: after every call the fd count and the child count are back
//! to their baseline (and, with `--ipc file`, the call's directory is gone);
//! a leak fails the run. A leaked fd, a zombie or an orphan could itself
//! cause drift (see `probes::hygiene`).

use probes::hygiene;
use std::path::Path;

/// The baseline of one bar() and the calls checked; `None` when off.
pub struct Hygiene(Option<(usize, u64)>);

impl Hygiene {
    pub fn new(on: bool) -> Hygiene {
        Hygiene(on.then_some((0, 0)))
    }

    /// The fd count at the start of a bar() is the baseline.
    pub fn baseline(&mut self) {
        if let Some(h) = &mut self.0 {
            *h = (hygiene::open_fds(), 0);
        }
    }

    /// After a call: `Err` names the leak. `dir` is the call's directory,
    /// which must be gone.
    pub fn check(&mut self, dir: Option<&Path>) -> Result<(), String> {
        let Some((base, calls)) = &mut self.0 else {
            return Ok(());
        };
        *calls += 1;
        if let Some(dir) = dir.filter(|d| d.exists()) {
            return Err(format!("hygiene: temp dir {} left after call {calls}", dir.display()));
        }
        let fds = hygiene::open_fds();
        if fds != *base {
            return Err(format!("hygiene: {fds} fds open after call {calls}, baseline {base}"));
        }
        match hygiene::children() {
            hygiene::Children::None => Ok(()),
            other => Err(format!("hygiene: children left after call {calls}: {other:?}")),
        }
    }
}
