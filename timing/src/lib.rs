//! Everything about measuring, printing and recording, written once for the
//! five reproducers of the suite (see the workspace README).
//!
//! - [`experiment`]: the originals' chunk loop (`divmod(numcalls, 100)`) and
//!   IPython's `%time` around each bar(), repeated in one process;
//! - [`lines`]: the chunk line of each family, byte-identical to the originals;
//! - [`extra_lines`]: the drift verdict and attribution lines (statistics in `drift`);
//! - [`pyfmt`]: Python's `.3f` / `%g` and IPython's `_format_time`;
//! - [`clock`]: `perf_counter` and `getrusage` (self and children);
//! - [`record`]: the JSON run record;
//! - [`calibration`]: the record of `test_fork_sleep --calibrate`, fork()'s
//!   cost per extra map entry on the machine it was measured on;
//! - [`system`]: OS, kernel, CPU and cores for the record;
//! - `witness`: the system's own count of the regions (vmmap, pmap) before
//!   the first bar() and after the last (`probes::witness`).
//!
//! It does not hold the statistics (`drift`), the mechanism probes (`probes`)
//! or the process conventions (`cli`: arguments, signals, stdout, output
//! files).

#![warn(missing_docs)]

pub mod calibration;
pub mod clock;
pub mod experiment;
pub mod extra_lines;
pub mod lines;
pub mod pyfmt;
pub mod record;
pub mod system;
mod witness;

pub use drift::{Trend, Verdict};
pub use experiment::{chunk_sizes, Bar, CallIndex, Experiment, Outcome};
pub use lines::LineFormat;
pub use record::{Chunk, Repeat, RunRecord};
