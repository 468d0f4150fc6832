//! `report`: reads JSON records of this suite, transcripts of the originals,
//! the output of the CPython reproducer and pasted documents holding any of
//! these, and writes a Markdown table and an SVG/PNG plot with the drift
//! verdict of every run. The verdict is the `drift` crate's, the same code
//! that gives the verdict line at the end of every run.

pub mod findings;
pub mod mapgrowth;
pub mod markdown;
pub mod pasted;
pub mod plot;
pub mod repro;
pub mod run;
pub mod transcript;
pub mod upstream;
pub mod witness;

pub use run::{Point, Run, SourceKind, StrategyKind};

use anyhow::{bail, Context};
use std::path::Path;

/// What one input file gave.
#[derive(Clone, Debug)]
pub struct Input {
    pub runs: Vec<Run>,
    /// The runs came from pasted documents (`pasted`): each run's
    /// `machine` is its document's.
    pub pasted: bool,
}

/// Reads one input file's runs (see [`load_input`]).
pub fn load(path: &Path) -> anyhow::Result<Vec<Run>> {
    Ok(load_input(path)?.runs)
}

/// Reads one input file: a document with pasted blocks (`pasted`) gives the
/// runs of every input in its blocks, each labelled with its block's
/// machine (and nothing else of the document is read); any other file is
/// one input ([`load_text`]).
pub fn load_input(path: &Path) -> anyhow::Result<Input> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let name = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let documents = pasted::documents(&text).with_context(|| format!("{}", path.display()))?;
    if documents.is_empty() {
        let runs = load_text(&name, &text).with_context(|| format!("{}", path.display()))?;
        return Ok(Input { runs, pasted: false });
    }
    let mut runs = Vec::new();
    for (k, doc) in documents.iter().enumerate() {
        let machine = doc
            .machine
            .clone()
            .unwrap_or_else(|| format!("{name}, block {} (no Machine: line)", k + 1));
        for input in &doc.inputs {
            let got = load_text(&input.name, &input.text)
                .with_context(|| format!("{}: block {}: {}", path.display(), k + 1, input.name))?;
            runs.extend(got.into_iter().map(|r| Run {
                machine: machine.clone(),
                ..r
            }));
        }
    }
    Ok(Input { runs, pasted: true })
}

/// One input's text, `name` its file name: a JSON record when it starts
/// with `{`, the reproducer's output (`repro`), else a transcript.
pub fn load_text(name: &str, text: &str) -> anyhow::Result<Vec<Run>> {
    if text.trim_start().starts_with('{') {
        let rec: timing::RunRecord = serde_json::from_str(text).context("not a run record of this suite")?;
        return Ok(vec![Run::from_record(&format!("{name} (json)"), &rec)]);
    }
    let runs = repro::parse(name, text);
    if !runs.is_empty() {
        return Ok(runs);
    }
    let runs = transcript::parse(name, text);
    if runs.is_empty() {
        bail!("no line of any original found (neither a JSON record nor a transcript)");
    }
    Ok(runs)
}
