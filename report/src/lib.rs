//! `report`: reads JSON records of this suite and transcripts of the
//! originals, and writes a Markdown table and an SVG/PNG plot with the drift
//! verdict of every run (issue 6). The verdict is the `drift` crate's, the
//! same code that gives the verdict line at the end of every run.

pub mod findings;
pub mod mapgrowth;
pub mod markdown;
pub mod plot;
pub mod run;
pub mod transcript;

pub use run::{Point, Run, SourceKind, StrategyKind};

use anyhow::{bail, Context};
use std::path::Path;

/// Reads one input: a JSON record when it starts with `{`, else a transcript.
pub fn load(path: &Path) -> anyhow::Result<Vec<Run>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let name = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    if text.trim_start().starts_with('{') {
        let rec: timing::RunRecord = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a run record of this suite", path.display()))?;
        return Ok(vec![Run::from_record(&format!("{name} (json)"), &rec)]);
    }
    let runs = transcript::parse(&name, &text);
    if runs.is_empty() {
        bail!(
            "{}: no line of any original found (neither a JSON record nor a transcript)",
            path.display()
        );
    }
    Ok(runs)
}
