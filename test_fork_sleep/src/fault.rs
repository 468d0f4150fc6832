//! Fault injection for the tests (`--inject KIND@A`, hidden): job `A`
//! misbehaves in a chosen way, so that the tests can check that every fault
//! ends the run with one line naming it, and no child or fd left behind.
//! The child's faults are played in [`crate::child::job`]; the parent's one
//! (`leakfd`) in the runner, through [`crate::ipc::JobEnd::leak_fd`].

/// Fault injection for the tests (`--inject KIND@A`, hidden): job `a` misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The child kills itself with SIGKILL before answering.
    Signal,
    /// The child exits with status 3 without answering.
    Exit,
    /// The child writes 5 bytes only.
    Short,
    /// The child writes 16 bytes of garbage.
    Garble,
    /// The child never finishes (pause forever): only `--timeout` ends it.
    Hang,
    /// The *parent* forgets to close this job's pipe: `--hygiene` must see it.
    LeakFd,
    /// The child's write of its result fails with `ENOSPC`, as on a full
    /// disk with `--ipc file` (the file is created, nothing is written).
    NoSpace,
    /// The child prints [`SAY`] on its stdout, then answers normally (with
    /// `--ipc file` the parent echoes it, as Sage does).
    Say,
}

/// What `--inject say@A` prints from the child.
pub const SAY: &[u8] = b"(child stdout) hello from a job\n";

/// Parses `KIND@A` for `--inject`.
pub fn parse(s: &str) -> Result<(Fault, u64), String> {
    let err =
        || "expected KIND@A with KIND in signal|exit|short|garble|hang|leakfd|enospc|say and A a job index".to_string();
    let (kind, a) = s.split_once('@').ok_or_else(err)?;
    let a = a.parse().map_err(|_| err())?;
    let kind = match kind {
        "signal" => Fault::Signal,
        "exit" => Fault::Exit,
        "short" => Fault::Short,
        "garble" => Fault::Garble,
        "hang" => Fault::Hang,
        "leakfd" => Fault::LeakFd,
        "enospc" => Fault::NoSpace,
        "say" => Fault::Say,
        _ => return Err(err()),
    };
    Ok((kind, a))
}

/// The fault of job `a`, if `--inject` names it.
pub fn for_job(inject: Option<(Fault, u64)>, a: u64) -> Option<Fault> {
    inject.filter(|&(_, at)| at == a).map(|(f, _)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_syntax() {
        assert_eq!(parse("signal@3"), Ok((Fault::Signal, 3)));
        assert_eq!(parse("leakfd@0"), Ok((Fault::LeakFd, 0)));
        assert_eq!(parse("enospc@1"), Ok((Fault::NoSpace, 1)));
        assert!(parse("boom@1").is_err());
        assert!(parse("signal").is_err());
    }
}
