//! `report`'s judging room: what the runs allow, as typed judgements. The
//! verdict of every run (`drift`'s, [`Judged`]), Findings (the one rule
//! that sets runs differing in one factor side by side and judges the
//! mechanism and the symptom, `findings`), the witness against the counters
//! (`witness`), and what `--upstream` decides to say (`upstream`). Nothing
//! here lays out text for output: tables, cells and sentences are
//! `report_write`'s.
//!
//! Two things in words stay here, on purpose. The rules' own wording for
//! `--help` (`findings::RULE`, `witness::RULE`) sits beside the margins it
//! states, so that whoever changes a margin sees the sentence that quotes
//! it. And a judgement that goes against the hypothesis or cannot be made
//! carries its reason as a sentence naming the run (`Mechanism::Refuted`,
//! `Conclusion::Undecided`, ...): what came from an input in it is cleaned
//! where it is written, in `report_write`.
//!
//! Imports: `report_read` (the run model) and the shared crates (`drift`,
//! `timing`, `probes`); never `report_write`, which imports this one
//! (write -> judge -> read).

pub mod findings;
pub mod model;
pub mod upstream;
pub mod verdict;
pub mod witness;

pub use verdict::{too_short_for_timing, Judged};
