//! Findings in words: the Findings section, the table that answers the
//! hypothesis machine by machine and the mechanism's line, written from the
//! judgements of `report_judge::findings` (which holds the rule, the
//! predictions and the margins); nothing is judged here.

use crate::escape::{markdown_cell as cell, markdown_text as text};
use crate::markdown::slope;
use drift::Trend;
use report_judge::findings::{
    findings, mechanism_counts, mechanism_of, predicts_leak, symptom_of, Conclusion, Finding, Mechanism, Symptom,
    CLEAN_PER_FORK, LEAK_PER_FORK, MIN_FORKS,
};
use report_judge::Judged;
use report_read::Run;

#[cfg(test)]
pub(crate) mod tests;

/// What the map entries of a group say, in words.
pub fn mechanism_text(m: &Mechanism) -> String {
    match m {
        Mechanism::Confirmed => "confirmed (map entries per fork as predicted in every run)".to_string(),
        Mechanism::Refuted(why) => format!("refuted ({})", text(why)),
        Mechanism::NotMeasured(why) => format!("not measured ({})", text(why)),
    }
}

/// What the timing of a group says, in words.
pub fn conclusion_text(c: &Conclusion) -> String {
    match c {
        Conclusion::Consistent => "consistent with the hypothesis".to_string(),
        Conclusion::ConsistentBut(why) => format!("consistent with the hypothesis ({})", text(why)),
        Conclusion::Inconsistent(why) => format!("inconsistent with the hypothesis ({})", text(why)),
        Conclusion::NotReproduced => "not reproduced (nothing drifts)".to_string(),
        Conclusion::Undecided(why) => format!("undecided ({})", text(why)),
    }
}

/// The one sentence for a hypothesis right on the mechanism and wrong
/// on the symptom: entries grow as predicted in runs that do not drift
/// ([`Finding::leaks_without_drift`]).
pub fn entries_without_drift(finding: &Finding<'_>) -> Option<String> {
    let quiet: Vec<String> = finding
        .leaks_without_drift()
        .into_iter()
        .map(|(v, r)| format!("{} ({} per fork)", text(v), per_fork(r, "vm_map_entries")))
        .collect();
    (!quiet.is_empty()).then(|| {
        format!(
            "The mechanism holds without the symptom: {} gains map entries as predicted and does not \
             drift, so here the extra entries did not make its forks measurably slower.",
            quiet.join(", ")
        )
    })
}

/// [`Run::growth_per_fork`] as a cell: `+1.00`, or `-` (no counter, no fork).
pub fn per_fork(run: &Run, counter: &str) -> String {
    run.growth_per_fork(counter)
        .filter(|&(_, forks)| forks > 0)
        .map_or("-".into(), |(g, _)| format!("{g:+.2}"))
}

/// The mechanism's columns of one run's evidence, in both tables.
fn mechanism_header(unit: &str) -> String {
    format!("predicted leak | vm_map_entries {unit} | mach_msg_regions {unit} | mechanism | witness {unit}")
}
const MECHANISM_ALIGN: &str = "---|--:|--:|---|---|";
/// The symptom's columns, after the mechanism's.
const SYMPTOM_HEADER: &str = "verdict | slope per 1000 calls | symptom";
const SYMPTOM_ALIGN: &str = "---|--:|---|";

/// One run's mechanism cells: what the hypothesis predicts for it, the
/// growth of the leak's counters, whether that is as predicted, and what
/// the system's own tool saw (`crate::witness`: vmmap on macOS, pmap on
/// Linux).
fn mechanism_cells(run: &Run) -> String {
    let leak = match predicts_leak(run) {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    };
    let judged = match mechanism_of("", run) {
        Ok(()) => "as predicted".to_string(),
        Err(Mechanism::Refuted(_)) if predicts_leak(run) == Some(true) => {
            format!("**against** (at least +{LEAK_PER_FORK} predicted)")
        }
        Err(Mechanism::Refuted(_)) => format!("**against** (at most +{CLEAN_PER_FORK} predicted)"),
        Err(_) if run.counter("vm_map_entries").is_none() => "not measured".into(),
        Err(_) if predicts_leak(run).is_none() => "no prediction".into(),
        Err(_) => format!("not measured (under {MIN_FORKS} forks)"),
    };
    format!(
        "{leak} | {} | {} | {judged} | {}",
        per_fork(run, "vm_map_entries"),
        per_fork(run, "mach_msg_regions"),
        cell(&crate::witness::cell(run)),
    )
}

/// One run's symptom cells: its verdict and slope, and whether that is as
/// predicted.
fn symptom_cells(run: &Run) -> String {
    let v = run.verdict();
    let symptom = match symptom_of(run) {
        Symptom::AsPredicted => "as predicted".to_string(),
        Symptom::FlatUnsure => "not shown flat".into(),
        Symptom::Against(why) => format!("**against** ({why})"),
        Symptom::Undecided(why) => format!("undecided ({why})"),
    };
    format!("{} | {} | {symptom}", v.verdict, slope(&v))
}

/// One line for the top of a report: how many fork-per-job runs gain the
/// map entries per fork the hypothesis predicts, and which do not.
pub fn mechanism_line(runs: &[Run]) -> String {
    let (ok, against, unmeasured) = mechanism_counts(runs.iter());
    let measured = ok + against.len();
    let mut line = format!(
        "Mechanism: {ok} of {measured} measured fork-per-job runs gain the map entries per fork the \
         hypothesis predicts (at least +{LEAK_PER_FORK} when it leaks, at most +{CLEAN_PER_FORK} otherwise)"
    );
    if unmeasured > 0 {
        line += &format!("; {unmeasured} not measured");
    }
    if against.is_empty() {
        line += match (measured, unmeasured) {
            (0, _) => ".",
            (_, 0) => ": confirmed.",
            _ => ": confirmed where measured.",
        };
    } else {
        let against: Vec<String> = against.iter().map(|a| text(a)).collect();
        line += &format!(": refuted by {}.", against.join("; "));
    }
    line
}

/// The Findings section (Markdown, which reads as well on a terminal):
/// empty when no runs differ in one factor only.
pub fn section(runs: &[Run]) -> String {
    let found = findings(runs);
    if found.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Findings\n\nRuns that differ in one factor only, side by side; the mechanism (map entries per \
         fork, exact) and the symptom (the timing) are judged apart, by the rule in `report --help`.\n",
    );
    for f in &found {
        let unit = if f.runs.iter().all(|(_, r)| r.is_fork_per_job()) {
            "per fork"
        } else {
            "per job"
        };
        out += &format!("\n### {}: {}\n\n", f.factor.name(), cell(&f.setup));
        out += &format!(
            "| {} | run | {} | {SYMPTOM_HEADER} |\n|---|---|{MECHANISM_ALIGN}{SYMPTOM_ALIGN}\n",
            f.factor.name(),
            mechanism_header(unit)
        );
        for (value, run) in &f.runs {
            out += &format!(
                "| {} | {} | {} | {} |\n",
                cell(value),
                cell(&run.source),
                mechanism_cells(run),
                symptom_cells(run)
            );
        }
        out += &format!("\nMechanism: **{}**.\n", mechanism_text(&f.mechanism));
        out += &format!("Symptom: **{}**.\n", conclusion_text(&f.conclusion));
        if let Some(s) = entries_without_drift(f) {
            out += &format!("{s}\n");
        }
    }
    out + "\n"
}

/// One table that answers the hypothesis across machines: one row per
/// fork-per-job run (originals per CPython, the control, the stand-in, the
/// port's `--post-fork-check off|leak|free`), machine first, with what the
/// hypothesis predicts for it, the growth of the leak's counters per fork
/// and the mechanism's judgement, then its verdict and slope and the
/// symptom's. `machines[i]` names the machine of `runs[i]`.
pub fn hypothesis_table(runs: &[Run], machines: &[String]) -> String {
    let mut rows: Vec<(&String, &Run)> = machines
        .iter()
        .zip(runs)
        .filter(|(_, r)| r.is_fork_per_job() && !r.points.is_empty())
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    // Runs too short for any timing verdict (`ci/diagnose.sh --quick`):
    // the symptom's columns would say "too few chunks" on every row.
    let timing = rows.iter().any(|(_, r)| r.verdict().verdict != Trend::TooFewChunks);
    let (head, align) = if timing {
        (format!(" {SYMPTOM_HEADER} |"), SYMPTOM_ALIGN)
    } else {
        (String::new(), "")
    };
    let mut out = format!(
        "## The hypothesis, machine by machine\n\n| machine | OS, arch | run | {} |{head}\n|---|---|---|{MECHANISM_ALIGN}{align}\n",
        mechanism_header("per fork")
    );
    for (machine, run) in &rows {
        out += &format!(
            "| {} | {} | {} | {} |",
            cell(machine),
            cell(&run.os_arch),
            cell(&run.strategy),
            mechanism_cells(run)
        );
        if timing {
            out += &format!(" {} |", symptom_cells(run));
        }
        out += "\n";
    }
    out += &format!("\n{}\n", mechanism_line(runs));
    if !timing && !rows.is_empty() {
        out += "\nNo run is long enough for a timing verdict (6 chunks of 100 calls at least): the symptom \
                is not judged here.\n";
    }
    out + "\n"
}
