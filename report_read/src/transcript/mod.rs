//! Plain-text transcripts of the originals (ORIGINALS.md), as a user pastes
//! them from a terminal, an issue comment or a Markdown document: chunk lines
//! of every family, the spawn script's per-call lines, the `Using ...` /
//! `Setting ...` headers and IPython's `%time` blocks. Everything else
//! (prompts, banners, prose, `--check` lists, our own `(extra)` lines) adds
//! no point.
//!
//! A document is one run per interpreter *session* (the `session` module says what
//! ends one) and, within a session, per mechanism: a change of line family,
//! `ncpus`, `sleep(T)`, start method or executor starts a new run. Each bar()
//! of a run (a `Using ...` header, a prompt, or chunk lines after a `Wall
//! time:` line) is one repeat. Each run's source names the file and the
//! line range it came from.

mod builder;
mod lines;
mod session;

use crate::run::Run;
use lines::Line;

/// Parses a transcript; `file` names the source in the table. An empty result
/// means no line of any original was found. It stops past
/// [`MAX_RUNS`](crate::bounds::MAX_RUNS) runs (the input is refused then), so
/// that what it keeps is bounded.
pub fn parse(file: &str, text: &str) -> Vec<Run> {
    let mut session = session::Session::default();
    let mut builder = builder::Builder::default();
    let mut in_fence = false;
    // An OS named in prose once a session is under way: the next session's.
    let mut next_os = None;
    for (k, raw) in text.lines().enumerate() {
        if builder.ended() > crate::bounds::MAX_RUNS {
            break;
        }
        let line = lines::classify(raw, in_fence);
        if line == Line::Fence {
            in_fence = !in_fence;
            continue;
        }
        if let Line::OsMention(os) = &line {
            if session.os().is_some() {
                next_os = Some(os.clone());
            }
        }
        if session.ends_at(&line) {
            builder.end_session();
            session = session::Session::default().with_os(next_os.take());
        }
        session.note(&line);
        builder.feed(k + 1, line, &session);
    }
    builder.finish(file)
}
