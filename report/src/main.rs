//! `report`: Markdown table and SVG plot, with drift verdicts, of any mix of
//! JSON records of this suite and transcripts of the originals.
//!
//! The command line and the wiring only: the inputs are read into runs by
//! `report_read`, judged by `report_judge` and written by `report_write`
//! (the pictures by `report_plot`).

use clap::Parser;
use cli::args::{usage, Stop};
use cli::sink::Sink;
use report_plot as plot;
use report_read::{bounds, load_all, load_read, once_each, pasted, Run};
use report_write::{escape, upstream};
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
/// The interpreter and OS are read where a transcript prints them (banners, the compare
/// harness's first line, an OS named in the prose before a session).
///
/// Findings: see the rule after the options.
///
/// Cost model: a calibration among the inputs (test_fork_sleep --calibrate --json FILE, or
/// fork_repro.py's `fork cost:` lines) prices every fork-per-job run of the same machine: map
/// entries per fork × what one more entry costs a fork there predicts the growth in µs per job
/// per earlier fork, held against the measured one (the leak accounts for the drift when their
/// ratio is within 0.5-2; docs/model.md). Runs too short for a verdict get what a full session
/// of 3 x 1000 calls would show. A run of a machine without a calibration is "not calibrated".
///
/// Many machines, one table: a document that ends with a pasted block (--paste-block;
/// ci/diagnose.sh ends diagnose.md with one) is read back into the runs of its inputs, and only
/// those: give it one diagnose.md, several, or the whole text of an issue thread where several
/// were pasted (its raw Markdown, e.g. `gh issue view N --comments`; quoted replies too). Each
/// block is one machine, named by the last `Machine:` line before it (the document's header), in
/// --hypothesis and --upstream; a block in a quoted reply by the `Machine:` line in the same quote,
/// or it is the block it copies, or it is set apart, never the replier's. Every input is bounded
/// (64 MiB read, 256 MiB unpacked from its blocks, 10,000 blocks, 20,000 runs, labels of 1,024
/// characters): past a bound, one line and exit 1. Output of upstream/cpython/fork_repro.py is read as the
/// reproducer's runs (one point per batch).
#[derive(Parser, Debug)]
#[command(version, after_help = format!("{}\n\n{}\n\n{}", report_judge::findings::RULE, report_judge::witness::RULE, cli::args::after_help()), allow_negative_numbers = true)]
struct Cli {
    /// JSON records, calibrations, transcripts, the reproducer's output, pasted documents (any
    /// mix); `-` is standard input, a FIFO is read only once its writer has it open.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Write the Markdown table here instead of stdout (a device or FIFO is
    /// written through, a symlink's target replaced; `-` is stdout).
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
    /// Write an SVG plot: first vm_map_entries against forks (fork-per-job runs that read the
    /// counters: a leak is a diagonal, a clean run flat), then seconds per 100 calls against
    /// chunk index, one panel per kind of strategy (left out when no run has the chunks a
    /// verdict needs), one line per run: its colour what ran (script or port, interpreter), its
    /// style how os.fork ran (real, control, stand-in); one legend entry per colour with the
    /// verdicts, at most 12 (same rules as --markdown).
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
    /// Write the same plot as PNG (what an issue comment on GitHub displays).
    #[arg(long, value_name = "PATH")]
    png: Option<PathBuf>,
    /// Plot this resource counter of the parent against chunk index instead of
    /// the chunk times (records of this suite and transcripts of the compare harness:
    /// vm_map_entries, rss_bytes, minor_faults, threads, open_fds; page_table_bytes on Linux;
    /// mach_msg_regions, task_port_urefs, vm_regions, mach_ports, phys_footprint_bytes on macOS;
    /// the load witness load_avg_1m_milli and other_cpu_permille on both).
    /// The drift attribution ranks these counters; association, not proof.
    #[arg(long, value_name = "NAME")]
    counter: Option<String>,
    /// Inputs come in pairs ORIGINAL PORT: also print a side-by-side table (first run of each).
    #[arg(long)]
    pairs: bool,
    /// Open with the leak's picture (vm_map_entries against forks, one line of blocks per
    /// fork-per-job run that read the counters) and one table answering the hypothesis across
    /// machines: one row per fork-per-job run, the machine as its record, the compare harness's
    /// line or its pasted document's `Machine:` line names it (OS, version, build, arch, CPU; the
    /// folder its input came from only where none does; named once above the table when all
    /// rows share it), with the predicted leak, the map entries and mach_msg_regions per fork and
    /// the mechanism's judgement, then the verdict, slope and the symptom's (left out when no run
    /// is long enough for a verdict), and one line on the mechanism across all runs: confirmed
    /// only with a Mac's runs; off macOS, the measuring chain and no real leak, macOS untested.
    #[arg(long)]
    hypothesis: bool,
    /// Write Markdown ready to file instead of the tables: `cpython`, an issue for CPython whose
    /// first screen is a title, five lines (affected versions, symptom, map entries per fork
    /// unpatched and patched, the ask, the command to reproduce), one table of the Mac rows (the
    /// patched build beside the unpatched, the control beside os.fork) and the diff of
    /// upstream/cpython/*.patch, with the rest folded below (what happens, the reproducer
    /// upstream/cpython/fork_repro.py and its output, every fork-per-job row, where the code is
    /// per CPython version, the fix's evidence, the workaround); `sage`, a comment for
    /// sagemath/sage#39960 (the cause, the Mac rows and the patched build's, the workaround and its
    /// limits). Either says which rows come from a Mac; with none, that it is not yet confirmed on
    /// macOS, claiming nothing for it. A run's build is its fork_repro output's `build:` line.
    #[arg(long, value_enum, value_name = "TARGET")]
    upstream: Option<Upstream>,
    /// With --upstream sage: the CPython issue to link (its URL).
    #[arg(long, value_name = "URL", requires = "upstream")]
    cpython_issue: Option<String>,
    /// Print only the collapsed, machine-readable block of the inputs (each input's text, JSON
    /// records compacted, gzip + base64 so that a diagnosis fits in one issue comment), for the
    /// end of a document to paste: ci/diagnose.sh ends diagnose.md with it.
    #[arg(long, conflicts_with_all = ["upstream", "pairs", "hypothesis", "markdown", "svg", "png"])]
    paste_block: bool,
}

/// What `--upstream` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Upstream {
    /// An issue for python/cpython.
    Cpython,
    /// A comment for sagemath/sage#39960.
    Sage,
}

/// `--paste-block`: the inputs' texts, read as `report` reads them.
fn paste_block(inputs: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut block = Vec::new();
    for path in inputs {
        // Each input must be one `report` reads: a block of unreadable
        // inputs would fail only when read back.
        // Read once: `-` (standard input) cannot be read twice.
        let (name, text) = bounds::read_input(path)?;
        load_read(path, &name, &text)?;
        block.push(pasted::Input::new(&name, &text));
    }
    cli::out!("{}", report_write::paste_block::block(&block));
    Ok(ExitCode::SUCCESS)
}

/// `--pairs`: the first run of each input, two by two (ORIGINAL PORT); an
/// input that holds no run (a calibration record) cannot be one of a pair.
fn pairs_of(paths: &[PathBuf], per_input: &[Vec<Run>]) -> Result<Vec<(Run, Run)>, String> {
    let first = |k: usize| {
        per_input[k].first().cloned().ok_or_else(|| {
            format!(
                "--pairs: {} holds no run (a calibration record); --pairs takes runs only",
                escape::terminal(&bounds::name_of(&paths[k]))
            )
        })
    };
    (0..per_input.len() / 2)
        .map(|k| Ok((first(2 * k)?, first(2 * k + 1)?)))
        .collect()
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::args::parse::<Cli>()?;
    if cli.paste_block {
        return paste_block(&cli.inputs);
    }
    if cli.pairs && cli.inputs.len() % 2 != 0 {
        let n = cli.inputs.len();
        return Err(usage(format!(
            "--pairs needs an even number of inputs (ORIGINAL PORT ...), got {n}"
        )));
    }
    // Checked before any input is read, as --json of the binaries.
    let sink = |flag, path: &Option<PathBuf>| path.as_deref().map(|p| Sink::new(flag, p)).transpose();
    let outputs = (
        sink("--markdown", &cli.markdown),
        sink("--svg", &cli.svg),
        sink("--png", &cli.png),
    );
    let (markdown, svg, png) = match outputs {
        (Ok(m), Ok(s), Ok(p)) => (m, s, p),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Err(usage(e)),
    };
    let inputs = load_all(&cli.inputs)?;
    let calibrations = report_read::calibrations(&inputs);
    let per_input: Vec<Vec<Run>> = inputs.into_iter().map(|i| i.runs).collect();
    let pairs = match cli.pairs.then(|| pairs_of(&cli.inputs, &per_input)).transpose() {
        Ok(p) => p,
        Err(e) => return Err(usage(e)),
    };
    // With --pairs the picture pairs each original with its port, input by
    // input; otherwise it draws each run once, as the tables count them.
    let pairs_figure = cli
        .pairs
        .then(|| plot::Figure::new(&per_input, true, cli.counter.as_deref()));
    let (runs, machines) = once_each(&cli.inputs, per_input);
    let figure =
        pairs_figure.unwrap_or_else(|| plot::Figure::new(std::slice::from_ref(&runs), false, cli.counter.as_deref()));
    if let Some(target) = cli.upstream {
        let text = match target {
            Upstream::Cpython => upstream::cpython(&runs, &machines, &calibrations),
            Upstream::Sage => upstream::sage(&runs, &machines, &calibrations, cli.cpython_issue.as_deref()),
        };
        match &markdown {
            Some(sink) => sink.write(text.as_bytes())?,
            None => cli::out!("{text}"),
        }
        return finish(&figure, svg.as_ref(), png.as_ref());
    }
    let tables = report_write::tables(&runs, &machines, pairs.as_deref(), cli.hypothesis, &calibrations);
    match &markdown {
        Some(sink) => {
            sink.write(tables.text.as_bytes())?;
            // The Findings on the terminal too: they are the answer.
            cli::out!("{}", tables.findings);
        }
        // A closed stdout (`report ... | head -1`) ends quietly, exit 0.
        None => cli::out!("{}", tables.text),
    }
    finish(&figure, svg.as_ref(), png.as_ref())
}

/// The plots, then the exit code (a failed stdout is a failure).
fn finish(figure: &plot::Figure, svg: Option<&Sink>, png: Option<&Sink>) -> anyhow::Result<ExitCode> {
    if let Some(sink) = svg {
        sink.write(figure.svg()?.as_bytes())?;
    }
    if let Some(sink) = png {
        sink.write(&figure.png()?)?;
    }
    if let Some(e) = cli::output::error() {
        eprintln!("report: standard output: {e}");
        return Ok(ExitCode::from(cli::args::EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    cli::args::main("report", || run().map_err(cleaned))
}

/// An error as stderr gets it: it may name an input (its file name, a
/// block's input) or quote one, so it is written cleaned
/// ([`escape::terminal`]), a usage error still a usage error.
fn cleaned(err: anyhow::Error) -> anyhow::Error {
    match err.downcast_ref::<Stop>() {
        Some(Stop::Exit(_)) => err,
        Some(Stop::Usage(why)) => usage(escape::terminal(why)),
        None => anyhow::anyhow!("{}", escape::terminal(&format!("{err:#}"))),
    }
}

cli::cli_is_well_formed!(Cli);
