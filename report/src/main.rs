//! `report`: Markdown table and SVG plot, with drift verdicts, of any mix of
//! JSON records of this suite and transcripts of the originals.

use anyhow::Context;
use clap::Parser;
use report::{load, markdown, plot, Run};
use std::path::PathBuf;
use std::process::ExitCode;

/// Tables and plots the runs of the suite and of the originals, with a drift verdict for each.
///
/// Hypothesis under test: on an afflicted system (macOS 15, Apple Silicon) fork-per-job
/// dispatch (@parallel) gets slower call after call, while pools and thread teams do not.
/// Inputs are JSON records (`--json` of any binary of the suite) or plain-text transcripts
/// of the original scripts as pasted from a terminal (chunk lines, `Using ...` headers,
/// IPython's `%time` blocks; prompts, prose and other lines are ignored). A transcript or
/// Markdown document is one run per interpreter session (a shell prompt, banner, `In [1]:`
/// again, another prompt style, script or header, a heading); each bar() in it is one repeat.
#[derive(Parser, Debug)]
#[command(version, after_help = timing::verdict::RULE, allow_negative_numbers = true)]
struct Cli {
    /// JSON records and/or transcripts.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Write the Markdown table here instead of stdout.
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
    /// Write an SVG plot of seconds per 100 calls against chunk index: one panel per kind of
    /// strategy, one line per run, its verdict in the legend.
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
    /// Write the same plot as PNG (what an issue comment on GitHub displays).
    #[arg(long, value_name = "PATH")]
    png: Option<PathBuf>,
    /// Inputs come in pairs ORIGINAL PORT: also print a side-by-side table (first run of each).
    #[arg(long)]
    pairs: bool,
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match timing::cli::parse::<Cli>() {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if cli.pairs && cli.inputs.len() % 2 != 0 {
        eprintln!(
            "error: --pairs needs an even number of inputs (ORIGINAL PORT ...), got {}",
            cli.inputs.len()
        );
        return Ok(ExitCode::from(timing::cli::EXIT_USAGE));
    }
    let mut per_input: Vec<Vec<Run>> = Vec::new();
    for path in &cli.inputs {
        per_input.push(load(path)?);
    }
    let mut text = String::new();
    if cli.pairs {
        let pairs: Vec<(Run, Run)> = per_input
            .chunks(2)
            .map(|two| (two[0][0].clone(), two[1][0].clone()))
            .collect();
        text += &markdown::pairs_table(&pairs);
        text += "\n";
    }
    let figure = plot::Figure::new(&per_input, cli.pairs);
    let runs: Vec<Run> = per_input.into_iter().flatten().collect();
    text += &markdown::runs_table(&runs);
    match &cli.markdown {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("--markdown {}", path.display()))?,
        None => print!("{text}"),
    }
    if let Some(path) = &cli.svg {
        std::fs::write(path, figure.svg()?).with_context(|| format!("--svg {}", path.display()))?;
    }
    if let Some(path) = &cli.png {
        std::fs::write(path, figure.png()?).with_context(|| format!("--png {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("report: {e:#}");
            ExitCode::from(timing::cli::EXIT_FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
