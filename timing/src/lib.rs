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
//! - [`sink`]: files the user names for output (`--json`, `report`'s
//!   `--markdown` and `--svg`): devices and FIFOs written through, symlinks
//!   followed, the umask respected, `-` for stdout;
//! - [`output`]: stdout for the run's lines (`outln!`), a closed pipe ending
//!   the run quietly;
//! - [`limits`], [`ballast`]: open-file and memory limits checked before the
//!   run, and the parent's `--ballast-mb`;
//! - [`system`]: OS, kernel, CPU and cores for the record;
//! - [`churn`]: `--map-churn N`, the address-space growth control;
//! - [`cli`], [`signals`], [`hygiene`]: one-line usage errors, Ctrl-C as a
//!   flag, fd and child counts.

pub mod ballast;
pub mod churn;
pub mod cli;
pub mod clock;
pub mod experiment;
pub mod extra_lines;
pub mod hygiene;
pub mod limits;
pub mod lines;
pub mod output;
pub mod pyfmt;
pub mod record;
pub mod signals;
pub mod sink;
pub mod system;

pub use drift::{Trend, Verdict};
pub use experiment::{chunk_sizes, Bar, CallIndex, Experiment, Outcome};
pub use lines::LineFormat;
pub use record::{Chunk, Repeat, RunRecord};
