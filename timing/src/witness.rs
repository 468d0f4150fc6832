//! The system's own tools as witnesses of the counters (`probes::witness`),
//! read once per run by [`crate::Experiment::repeat`]: before the first
//! bar() and after the last, outside every timed region, into the record's
//! `witness` (`--witness off` skips it). Where the tool is missing or
//! refuses, one line on stderr says so and the run goes on:
//! `Witness (extra): vmmap refused (exit status: 1): ...; the run goes on without it`.

use crate::Outcome;
use probes::witness::{Session, Witness};

/// The reading before the first bar(); `None` where the platform has no
/// tool. A refusal is said on stderr.
pub(crate) fn before() -> Option<Session> {
    let session = Session::before()?;
    if let Some(why) = session.refused() {
        say(why);
    }
    Some(session)
}

/// The reading after the last bar() of a run that ended with `outcome`:
/// not read after SIGINT or SIGTERM (the user wants the run to end; the
/// reading before stays). A refusal now is said on stderr.
pub(crate) fn after(session: Session, outcome: &Outcome) -> Witness {
    let stopped = matches!(outcome, Outcome::Interrupted(sig) if *sig != libc::SIGPIPE);
    let refused_before = session.refused().is_some();
    let witness = session.after(!stopped);
    if let (false, Some(why)) = (refused_before, &witness.refused) {
        say(why);
    }
    witness
}

fn say(why: &str) {
    eprintln!("Witness (extra): {why}; the run goes on without it");
}
