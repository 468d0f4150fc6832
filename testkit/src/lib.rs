//! Helpers shared by the integration tests of several crates: the
//! properties every binary of the suite must have, each written once.
//!
//! - [`lock`]: the process-wide lock that tests which fork, or count fds and
//!   children, hold.
//! - [`run`], [`run_with`], [`run_timed`]: start a binary in its own process
//!   group, check that it left no process behind ([`assert_no_orphans`]),
//!   and hand its exit code, stdout and stderr to assert_cmd ([`Run::assert`]).
//! - [`assert_help_mentions`]: `--help` exits 0 and says what it must.
//! - [`assert_usage_error`]: a bad flag is exit 2 with one line on stderr
//!   naming it, and nothing on stdout.
//! - [`lines`]: the originals' line formats as regexes, and
//!   [`lines::assert_time_block`] for IPython's `%time` block.
//! - [`nobody`]: a binary run as the user `nobody` from a copy it can
//!   reach, wherever the checkout is; or the reason it cannot be.
//! - [`Sentinel`]: a process of the same user that a run must not kill.
//! - [`open_fds_of`], [`threads_of`]: another process's open fds and
//!   threads, counted by the test (from `/proc` or the kernel), not by the
//!   binary's own counter.
//! - [`spawn_via`]: procpool's two ways to start a fresh process, checked
//!   on any binary built on it.
//! - [`args`], [`run_str`]: a test's arguments written on one line.
//!
//! Binaries are named by path, `cargo_bin!("<name>")` (assert_cmd's, re-exported
//! here), which Cargo sets for the integration tests of the crate that builds
//! them. What assert_cmd does (the lookup, the checks of exit code and
//! streams, with `predicates`) is not written again here: testkit keeps only
//! what it does not do (the process group, the orphan and fd checks, the
//! sentinel, the locks).

#![warn(missing_docs)]

mod fds;
pub mod lines;
mod lock;
pub mod nobody;
mod orphans;
mod process;
mod sentinel;
pub mod spawn_via;
mod threads;

pub use assert_cmd::cargo::cargo_bin;
pub use fds::open_fds_of;
pub use lock::lock;
pub use orphans::{assert_no_orphans, become_child_subreaper, wait_for_group_to_empty};
pub use predicates::prelude::{predicate, Predicate, PredicateBooleanExt, PredicateNameExt, PredicateStrExt};
pub use process::{
    args, assert_help_mentions, assert_usage_error, assert_usage_error_with, command, limit_open_files,
    limit_processes, one_line, read_lines_until, read_record, run, run_str, run_timed, run_with, spawn_piped,
    stdout_of, wait_for_end, with_stdout_closed_after_first_line, Run,
};
pub use sentinel::Sentinel;
pub use threads::threads_of;
