//! `report`'s writing room: runs and judgements in, text out. The terminal
//! and Markdown tables (`markdown`, `findings`, `witness`, `mapgrowth`), the
//! upstream texts (`upstream`) and the pasted
//! block (`paste_block`). Every escape of what came from an input is in
//! [`escape`], once per format. Nothing here parses an input or judges a
//! run: the runs are `report_read`'s, the judgements `report_judge`'s.
//!
//! Imports: `report_judge`, `report_read` and the shared crates (`drift`,
//! `timing`, `probes`); neither of those two imports this one (write ->
//! judge -> read).

pub mod escape;
pub mod findings;
pub mod mapgrowth;
pub mod markdown;
pub mod model;
pub mod paste_block;
pub mod upstream;
pub mod witness;

use report_read::{Calibration, Run};

/// The text of `report` without `--upstream`: the Findings (opened with
/// the leak's picture and the hypothesis table under `--hypothesis`), then
/// the side-by-side table of `--pairs`, the runs' table and the `%prun`
/// tables. `findings` is the Findings alone, for the terminal when the
/// whole goes to a file.
pub struct Tables {
    pub findings: String,
    pub text: String,
}

/// [`Tables`] of `runs` (`machines[i]` names the machine of `runs[i]`);
/// `pairs` the runs of `--pairs`; `calibrations` the machines' fork costs,
/// for the cost model (its section follows the hypothesis table, or opens
/// the Findings).
pub fn tables(
    runs: &[Run],
    machines: &[String],
    pairs: Option<&[(Run, Run)]>,
    hypothesis: bool,
    calibrations: &[Calibration],
) -> Tables {
    let mut text = String::new();
    if let Some(pairs) = pairs {
        text += &markdown::pairs_table(pairs);
        text += "\n";
    }
    let mut found = model::section(runs, machines, calibrations) + &findings::section(runs, machines, calibrations);
    if hypothesis {
        // The hypothesis table ends with the timing line of runs too short
        // for a verdict.
        found = mapgrowth::section(runs) + &findings::hypothesis_table(runs, machines) + &found;
    } else if report_judge::too_short_for_timing(runs) {
        found = format!("{}\n{found}", findings::timing_line());
    }
    text = format!("{found}{text}");
    text += &markdown::runs_table(runs);
    let prun = markdown::prun_table(runs);
    if !prun.is_empty() {
        text += &format!("\n{prun}");
    }
    Tables { findings: found, text }
}
