//! `report`'s reading room: JSON records of this suite, transcripts of the
//! originals, the output of the CPython reproducer and pasted documents
//! holding any of these, read into runs ([`Run`]): bytes in, runs out.
//! Every bound on an input and every rejection of one belongs here; nothing
//! here judges a run or formats output.
//!
//! Imports: the shared crates (`drift`, `timing`, `probes`) and none of
//! `report_judge` or `report_write`, which import this one (write -> judge
//! -> read). The run model ([`Run`], [`Point`], [`SourceKind`],
//! [`StrategyKind`]) is `report_run`'s, below the three rooms, re-exported
//! here as [`run`]: were it in the judging room, reading would have to
//! import judging. What a run says about itself (its points, counters,
//! growth of a counter per fork) is there too; its verdict is judged in
//! `report_judge`.

pub mod bounds;
pub mod calibration;
pub mod pasted;
pub mod repro;
pub use report_run as run;
pub mod same_run;
pub mod transcript;

pub use calibration::Calibration;
pub use run::{Os, Point, Run, SourceKind, StrategyKind};

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// What one input file gave.
#[derive(Clone, Debug)]
pub struct Input {
    pub runs: Vec<Run>,
    /// The runs came from pasted documents (`pasted`): each run's
    /// `machine` is its document's.
    pub pasted: bool,
    /// The fork-cost calibrations it held (a `--calibrate --json` record,
    /// fork_repro.py's `fork cost:` lines), machines named as its runs'.
    pub calibrations: Vec<Calibration>,
}

/// Reads one input file's runs (see [`load_input`]).
pub fn load(path: &Path) -> anyhow::Result<Vec<Run>> {
    Ok(load_input(path)?.runs)
}

/// Reads one input file (`-`: standard input), within the bounds of
/// `bounds`: a document with pasted blocks (`pasted`) gives the runs of
/// every input in its blocks, each labelled with its block's machine (and
/// nothing else of the document is read); any other file is one input
/// ([`load_text`]).
pub fn load_input(path: &Path) -> anyhow::Result<Input> {
    let (name, text) = bounds::read_input(path)?;
    load_read(path, &name, &text)
}

/// [`load_input`] of an input already read ([`bounds::read_input`]):
/// `name` its file name, `text` its text.
pub fn load_read(path: &Path, name: &str, text: &str) -> anyhow::Result<Input> {
    let file = || bounds::shown(path);
    let blocks = pasted::blocks(text).with_context(file)?;
    let mut runs = Vec::new();
    if blocks.is_empty() {
        let got = load_text(name, text).with_context(file)?;
        bounds::add_runs(&mut runs, got).with_context(file)?;
        let calibrations = calibrations_of(name, text).with_context(file)?;
        return Ok(Input {
            runs,
            pasted: false,
            calibrations,
        });
    }
    pasted::unpacked(&blocks).with_context(file)?;
    let mut calibrations = Vec::new();
    for (k, block) in blocks.iter().enumerate() {
        let machine = match &block.machine {
            Some(m) => m.clone(),
            None if block.quoted => format!(
                "{name}, block at line {} (quoted in a reply, no Machine: line in the quote)",
                block.line
            ),
            None => format!("{name}, block {} (no Machine: line)", k + 1),
        };
        block
            .each_input(|input| {
                let got = load_text(&input.name, &input.text)?;
                let got = got.into_iter().map(|r| Run {
                    machine: machine.clone(),
                    ..r
                });
                bounds::add_runs(&mut runs, got.collect())?;
                // A calibration pasted in a block is its document's
                // machine's, as the block's runs are.
                let got = calibrations_of(&input.name, &input.text)?;
                calibrations.extend(got.into_iter().map(|c| Calibration {
                    machine: machine.clone(),
                    ..c
                }));
                Ok(())
            })
            .with_context(file)?;
    }
    Ok(Input {
        runs,
        pasted: true,
        calibrations,
    })
}

/// One input's text, `name` its file name: a JSON record when it starts
/// with `{` (a calibration record holds no run: it is read by
/// [`calibration::parse`]), the reproducer's output (`repro`), else a
/// transcript.
pub fn load_text(name: &str, text: &str) -> anyhow::Result<Vec<Run>> {
    if calibration::is_record(text) {
        return Ok(Vec::new());
    }
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

/// The calibrations of one input's text: a calibration record's, or the
/// `fork cost:` lines of fork_repro.py's output.
fn calibrations_of(name: &str, text: &str) -> anyhow::Result<Vec<Calibration>> {
    Ok(match calibration::parse(name, text)? {
        Some(c) => vec![c],
        None => repro::fork_costs(name, text),
    })
}

/// Every input, in the order given ([`load_input`]).
pub fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    paths.iter().map(|p| load_input(p)).collect()
}

/// The calibrations of every input, in the order given.
pub fn calibrations(inputs: &[Input]) -> Vec<Calibration> {
    inputs.iter().flat_map(|i| i.calibrations.iter().cloned()).collect()
}

/// The runs of [`load_all`], each input once, with the machine each run
/// names (`machines[i]` for `runs[i]`).
///
/// An input given twice (a port record paired with several originals by
/// `--pairs`) is one run: one row, one member of a Finding. The machine is
/// the one a run names (its record's system, the compare harness's line, a
/// pasted document's `Machine:` line); the folder it came from only where
/// it names none.
///
/// A port's transcript given beside its record (`*.json test_*.txt`) is
/// one run too: the transcript's runs that print a record's run are left
/// out, the record's kept (`same_run`).
pub fn once_each(paths: &[PathBuf], per_input: Vec<Vec<Run>>) -> (Vec<Run>, Vec<String>) {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    let mut machines: Vec<String> = Vec::new();
    for (path, input) in paths.iter().zip(per_input) {
        let same = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if !seen.contains(&same) {
            let folder = same.parent().and_then(|p| p.file_name());
            let folder = folder.map_or_else(|| ".".into(), |f| f.to_string_lossy().into_owned());
            machines.extend(input.iter().map(|r| match r.machine.as_str() {
                "" | "unknown" => format!("unknown (folder {folder})"),
                m => m.to_string(),
            }));
            seen.push(same);
            runs.extend(input);
        }
    }
    let keep = same_run::kept(&runs);
    let mut keep_machine = keep.iter();
    machines.retain(|_| *keep_machine.next().unwrap_or(&true));
    let mut keep_run = keep.iter();
    runs.retain(|_| *keep_run.next().unwrap_or(&true));
    (runs, machines)
}
