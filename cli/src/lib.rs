//! The process conventions every binary of the suite keeps, written once (in
//! the manner of ripgrep's `grep-cli`):
//!
//! - [`args`]: clap parsing where bad input is one line and exit 2, value
//!   parsers with their ranges, and the `after_help` rules;
//! - [`signals`]: SIGINT / SIGTERM (and SIGALRM for timeouts) as flags,
//!   without `SA_RESTART`, so a blocked `wait` returns and children are reaped;
//! - [`output`]: the run's lines on stdout, where a closed stdout ends the run
//!   quietly (exit 0) instead of panicking;
//! - [`sink`]: output files (`--json`, `report --svg`) that never replace a
//!   device, FIFO or symlink and respect the umask;
//! - [`limits`]: the open-file limit raised, or the run refused, before it starts.
//!
//! Exit codes: 0 done (or stdout closed), 1 failed run, 2 bad input, 128 + n
//! stopped by signal n (130, 143).

#![warn(missing_docs)]

pub mod args;
pub mod limits;
pub mod output;
pub mod signals;
pub mod sink;

pub use args::{EXIT_FAILURE, EXIT_USAGE};
