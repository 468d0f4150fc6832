//! Findings in words: the Findings section, the table that answers the
//! hypothesis machine by machine and the mechanism's line, written from the
//! judgements of `report_judge::findings` (which holds the rule, the
//! predictions and the margins); nothing is judged here.

use crate::escape::{markdown_cell as cell, markdown_text as text};
use crate::markdown::slope;
use report_judge::findings::{
    findings, mechanism_counts, mechanism_of, predicts_leak, reach, symptom_of, Conclusion, Finding, Mechanism, Reach,
    Symptom, CLEAN_PER_FORK, LEAK_PER_FORK, MIN_FORKS,
};
use report_judge::{too_short_for_timing, Judged};
use report_read::{Calibration, Run};

#[cfg(test)]
pub(crate) mod tests;

/// What the map entries of a group say, in words: "confirmed" only where
/// a Mac's runs are among them ([`Reach`]).
pub fn mechanism_text(m: &Mechanism, reach: Reach) -> String {
    match (m, reach) {
        (Mechanism::Confirmed, Reach::Mac) => "confirmed (map entries per fork as predicted in every run)".to_string(),
        (Mechanism::Confirmed, Reach::OffMac { predicted_leaks: 0 }) => {
            "as predicted off macOS (no run leaks, and none is predicted to here; macOS untested)".to_string()
        }
        (Mechanism::Confirmed, Reach::OffMac { .. }) => {
            "as predicted off macOS (the stand-in leaks its entry per fork, no real run leaks; macOS untested)"
                .to_string()
        }
        (Mechanism::Refuted(why), _) => format!("refuted ({})", text(why)),
        (Mechanism::NotMeasured(why), _) => format!("not measured ({})", text(why)),
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
/// map entries per fork the hypothesis predicts, which do not, and what
/// that shows where they ran ([`Reach`]): "confirmed" only with a Mac's
/// runs; off macOS, that the measuring chain works (the stand-in leaks) and
/// no real run leaked, as predicted there, the macOS half untested.
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
    if !against.is_empty() {
        return line
            + &format!(
                ": refuted by {}.",
                against.iter().map(|a| text(a)).collect::<Vec<String>>().join("; ")
            );
    }
    if measured == 0 {
        return line + ".";
    }
    let judged = runs.iter().filter(|r| r.is_fork_per_job() && !r.points.is_empty());
    let untested = "the macOS half (CPython's os.fork leaving an entry behind per fork) is untested until a \
                    Mac runs it";
    match reach(judged) {
        Reach::Mac if unmeasured == 0 => line + ": confirmed.",
        Reach::Mac => line + ": confirmed where measured.",
        Reach::OffMac { predicted_leaks: 0 } => format!(
            "{line}. No run here is from a Mac, and none was predicted to leak: no run leaked, as predicted \
             off macOS, but nothing here shows that the counting would see a leak (the compare harness's \
             stand-in leak does: STANDIN=1 ci/diagnose.sh); {untested}."
        ),
        Reach::OffMac { predicted_leaks } => {
            let standin = if predicted_leaks == 1 {
                "the run predicted to leak, the stand-in's, gains its entry per fork".to_string()
            } else {
                format!("the {predicted_leaks} runs predicted to leak, the stand-in's, gain their entry per fork")
            };
            format!(
                "{line}. No run here is from a Mac: the measuring chain works ({standin}) and no real run \
                 leaked, as predicted off macOS; {untested}."
            )
        }
    }
}

/// The one line of a report whose runs are all too short for a timing
/// verdict ([`too_short_for_timing`]), which replaces the symptom's columns
/// of every row, and the picture's timing panel.
pub fn timing_line() -> String {
    format!(
        "Timing: not judged. No run has the {} chunks of 100 calls a timing verdict needs, so this report \
         shows the mechanism only (no symptom columns, and no timing panel in a picture: two points a line \
         show nothing); the symptom, whether the leaking runs get slower call after call, needs the full \
         run (`ci/diagnose.sh` without `--quick`).\n",
        drift::MIN_CHUNKS
    )
}

/// The machine every run of `rows` ran on (`machines[i]` names the machine
/// of the i-th), when they share one.
fn one_machine<'m>(mut machines: impl Iterator<Item = &'m String>) -> Option<&'m String> {
    let first = machines.next()?;
    machines.all(|m| m == first).then_some(first)
}

/// The line that names the one machine above a table (never starting
/// `Machine:`, which names a pasted block's machine).
fn machine_line(machine: &str) -> String {
    format!("One machine: {} (every run below).\n\n", cell(machine))
}

/// The Findings section (Markdown, which reads as well on a terminal):
/// empty when no runs differ in one factor only. `machines[i]` names the
/// machine of `runs[i]`: one machine is named once, above the groups;
/// machines that differ are named in each group's heading. Runs all too
/// short for a timing verdict get the mechanism's columns only. With
/// `calibrations`, each group ends with the cost model's sentence of every
/// run it prices (`crate::model`).
pub fn section(runs: &[Run], machines: &[String], calibrations: &[Calibration]) -> String {
    let found = findings(runs);
    if found.is_empty() {
        return String::new();
    }
    let timing = !too_short_for_timing(runs);
    let mut out = String::from("## Findings\n\n");
    let timed = machines.iter().zip(runs).filter(|(_, r)| !r.points.is_empty());
    let one = one_machine(timed.map(|(m, _)| m));
    if let Some(machine) = one {
        out += &machine_line(machine);
    }
    out += if timing {
        "Runs that differ in one factor only, side by side; the mechanism (map entries per fork, exact) \
         and the symptom (the timing) are judged apart, by the rule in `report --help`.\n"
    } else {
        "Runs that differ in one factor only, side by side: the mechanism (map entries per fork, exact), \
         by the rule in `report --help`.\n"
    };
    let (symptom_head, symptom_align) = if timing {
        (format!(" {SYMPTOM_HEADER} |"), SYMPTOM_ALIGN)
    } else {
        (String::new(), "")
    };
    for f in &found {
        let unit = if f.runs.iter().all(|(_, r)| r.is_fork_per_job()) {
            "per fork"
        } else {
            "per job"
        };
        let place = match (one, f.machine.is_empty()) {
            (Some(_), _) => String::new(),
            (None, true) => format!(", {}", f.os_arch),
            (None, false) => format!(", {}", f.machine),
        };
        out += &format!(
            "\n### {}: {}\n\n",
            f.factor.name(),
            cell(&format!("{}{place}", f.setup))
        );
        out += &format!(
            "| {} | run | {} |{symptom_head}\n|---|---|{MECHANISM_ALIGN}{symptom_align}\n",
            f.factor.name(),
            mechanism_header(unit)
        );
        for (value, run) in &f.runs {
            out += &format!("| {} | {} | {} |", cell(value), cell(&run.source), mechanism_cells(run));
            if timing {
                out += &format!(" {} |", symptom_cells(run));
            }
            out += "\n";
        }
        out += &format!("\nMechanism: **{}**.\n", mechanism_text(&f.mechanism, f.reach));
        if timing {
            out += &format!("Symptom: **{}**.\n", conclusion_text(&f.conclusion));
        }
        if let Some(s) = entries_without_drift(f) {
            out += &format!("{s}\n");
        }
        if !calibrations.is_empty() {
            let members: Vec<(&Run, &String)> = f
                .runs
                .iter()
                .filter_map(|(_, r)| Some((*r, &machines[runs.iter().position(|x| std::ptr::eq(x, *r))?])))
                .collect();
            out += &crate::model::lines(&members, calibrations);
        }
    }
    out + "\n"
}

/// One table that answers the hypothesis across machines: one row per
/// fork-per-job run (originals per CPython, the control, the stand-in, the
/// port's `--post-fork-check off|leak|free`), with what the hypothesis
/// predicts for it, the growth of the leak's counters per fork and the
/// mechanism's judgement, then its verdict and slope and the symptom's
/// (left out, with [`timing_line`] instead, when no run is long enough for
/// a verdict). `machines[i]` names the machine of `runs[i]`: one machine is
/// named once, in a line above the table; machines that differ, in the
/// first two columns of every row.
pub fn hypothesis_table(runs: &[Run], machines: &[String]) -> String {
    let mut rows: Vec<(&String, &Run)> = machines
        .iter()
        .zip(runs)
        .filter(|(_, r)| r.is_fork_per_job() && !r.points.is_empty())
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    // Runs too short for any timing verdict (`ci/diagnose.sh --quick`):
    // the symptom's columns would say "too few chunks" on every row.
    let timing = !too_short_for_timing(runs);
    let (head, align) = if timing {
        (format!(" {SYMPTOM_HEADER} |"), SYMPTOM_ALIGN)
    } else {
        (String::new(), "")
    };
    let one = one_machine(rows.iter().map(|(m, _)| *m));
    let mut out = String::from("## The hypothesis, machine by machine\n\n");
    match one {
        Some(machine) => {
            out += &machine_line(machine);
            out += &format!(
                "| run | {} |{head}\n|---|{MECHANISM_ALIGN}{align}\n",
                mechanism_header("per fork")
            );
        }
        None => {
            out += &format!(
                "| machine | OS, arch | run | {} |{head}\n|---|---|---|{MECHANISM_ALIGN}{align}\n",
                mechanism_header("per fork")
            );
        }
    }
    for (machine, run) in &rows {
        if one.is_none() {
            out += &format!("| {} | {} ", cell(machine), cell(&run.os_arch));
        }
        out += &format!("| {} | {} |", cell(&run.strategy), mechanism_cells(run));
        if timing {
            out += &format!(" {} |", symptom_cells(run));
        }
        out += "\n";
    }
    out += &format!("\n{}\n", mechanism_line(runs));
    if !timing {
        out += &format!("\n{}", timing_line());
    }
    out + "\n"
}
