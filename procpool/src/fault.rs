//! Fault injection, for the tests of every pool binary: the hidden
//! `--inject KIND@A` makes job `a` misbehave in one of the ways a real
//! worker can (die, exit, garble or cut its reply, answer nonsense), so that
//! the tests can check that each becomes a one-line cause, exit 1, and no
//! worker left behind.
//!
//! The parent puts the fault in the job's payload ([`Fault::code`]); the job
//! function, in the worker, reads it back ([`Fault::from_code`]) and calls
//! [`Fault::strike`] first thing.

use std::sync::atomic::{AtomicU8, Ordering};

/// How a job misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The worker kills itself with SIGKILL (`signal`).
    Signal,
    /// The worker exits with status 3 (`exit`).
    Exit,
    /// The reply's frame magic is corrupted (`garble`).
    Garble,
    /// Half a frame header is sent, then the worker stalls (`truncate`).
    Truncate,
    /// A well-framed reply that the parent's decoding must refuse (`junk`);
    /// the job function makes it, since only the job knows its format.
    Junk,
}

/// What the worker does to its next reply (0: nothing, else a [`Fault::code`]).
static SPOIL: AtomicU8 = AtomicU8::new(0);

impl Fault {
    /// Every fault, in the order of the `--inject` help.
    pub const ALL: [Fault; 5] = [Fault::Signal, Fault::Exit, Fault::Garble, Fault::Truncate, Fault::Junk];

    /// Its `KIND` in `--inject KIND@A`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Signal => "signal",
            Fault::Exit => "exit",
            Fault::Garble => "garble",
            Fault::Truncate => "truncate",
            Fault::Junk => "junk",
        }
    }

    /// Its byte in a job payload (never 0, which is "no fault").
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    /// The inverse of [`Fault::code`]; `None` for 0 or an unknown byte.
    pub fn from_code(code: u8) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The fault of `job` (a job argument) under `--inject`: the byte for
    /// its payload, 0 if it behaves.
    pub fn code_for(inject: Option<(Fault, u64)>, job: u64) -> u8 {
        match inject {
            Some((fault, at)) if at == job => fault.code(),
            _ => 0,
        }
    }

    /// Parses `KIND@A` (the value of `--inject`), `KIND` among `kinds`.
    pub fn parse_at(s: &str, kinds: &[Fault]) -> Result<(Fault, u64), String> {
        let names: Vec<&str> = kinds.iter().map(|f| f.name()).collect();
        let err = || format!("expected KIND@A with KIND in {} and A a job argument", names.join("|"));
        let (kind, a) = s.split_once('@').ok_or_else(err)?;
        let a = a.parse().map_err(|_| err())?;
        let fault = kinds.iter().copied().find(|f| f.name() == kind).ok_or_else(err)?;
        Ok((fault, a))
    }

    /// Called by a job function inside a worker, before its work: `Signal`
    /// and `Exit` do not return; `Garble` and `Truncate` spoil the reply of
    /// the current job; `Junk` is left to the job function.
    pub fn strike(self) {
        match self {
            // SAFETY: raising a signal on this worker.
            Fault::Signal => unsafe {
                libc::raise(libc::SIGKILL);
            },
            // SAFETY: _exit leaves the worker at once.
            Fault::Exit => unsafe { libc::_exit(3) },
            Fault::Garble | Fault::Truncate => SPOIL.store(self.code(), Ordering::SeqCst),
            Fault::Junk => {}
        }
    }
}

/// The fault the worker must do to the reply it is about to send (and
/// forget it): `Garble`, `Truncate` or `None`.
pub(crate) fn take_spoil() -> Option<Fault> {
    Fault::from_code(SPOIL.swap(0, Ordering::SeqCst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_parse_names_the_kinds() {
        for f in Fault::ALL {
            assert_eq!(Fault::from_code(f.code()), Some(f));
            assert_eq!(Fault::parse_at(&format!("{}@7", f.name()), &Fault::ALL), Ok((f, 7)));
        }
        assert_eq!(Fault::from_code(0), None);
        let four = &Fault::ALL[..4];
        assert_eq!(
            Fault::parse_at("junk@3", four),
            Err("expected KIND@A with KIND in signal|exit|garble|truncate and A a job argument".into())
        );
        assert!(Fault::parse_at("exit@", four).is_err());
        assert!(Fault::parse_at("exit", four).is_err());
        assert_eq!(Fault::code_for(Some((Fault::Exit, 2)), 2), Fault::Exit.code());
        assert_eq!(Fault::code_for(Some((Fault::Exit, 2)), 3), 0);
    }
}
