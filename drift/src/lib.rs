//! The statistics of the suite, and nothing else: whether a run's chunk times
//! drift ([`Verdict`], Theil–Sen slope with Sen's interval and Mann–Kendall
//! test; [`sequential`], the stopping rule of `--until-verdict`;
//! [`simulate`], the seeded series that measure both) and which of the
//! parent's counters grew along with them ([`Attribution`], Kendall's τ),
//! and whether the machine's own load explains them ([`load`]).
//!
//! It knows no record, no clock and no printing: `timing` feeds it the chunk
//! times and counter series of a run and prints the lines; `report` feeds it
//! the chunks it reads back from records and transcripts.

#![warn(missing_docs)]

pub mod attribution;
pub mod load;
pub mod sequential;
pub mod simulate;
pub mod stats;
pub mod verdict;

pub use attribution::{Association, Attribution};
pub use load::Busier;
pub use verdict::{chunk_points, Estimate, Growth, Judge, Trend, Verdict, MAX_P, MIN_CHUNKS, MIN_SLOPE_PCT, RULE};
