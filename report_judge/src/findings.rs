//! Findings: runs that differ in one factor only, side by side, and what
//! they allow about the leading hypothesis (docs/mechanism.md: CPython >=
//! 3.12 leaves one map entry behind after every `os.fork()` on macOS, and
//! every later fork copies the bigger map).
//!
//! The factors: the port's `--post-fork-check` (off, leak, free), the
//! CPython version, the real `os.fork` against the control (the harness's
//! fork without the thread count), and the harness's stand-in leak. Two
//! runs are compared only when everything else is the same: where they come
//! from (record or transcript), strategy, OS and arch, ncpus, sleep and the
//! other factors.
//!
//! The hypothesis predicts two things of every run, judged apart because
//! one is exact and the other is not. Which runs leak: a fork-per-job run
//! when (it runs on macOS, CPython >= 3.12, with the real `os.fork`) or
//! (with the stand-in leak and the real `os.fork`), or, for the port, with
//! `--post-fork-check leak` on macOS.
//!
//! - **Mechanism** (exact, whatever the machine's load): a leaking run gains
//!   at least [`LEAK_PER_FORK`] map entries (`vm_map_entries`) per fork, any
//!   other at most [`CLEAN_PER_FORK`], counted between the first and the last
//!   reading over at least [`MIN_FORKS`] forks. A group is **confirmed** when
//!   every run does as predicted, **refuted** when one does not (named, with
//!   its number, whatever the timing says), **not measured** when a run has
//!   no counters, too few forks or no prediction.
//! - **Symptom** (timing, which a busy machine can blur): the leaking runs
//!   drift and no other does. **Not reproduced** when nothing drifts,
//!   **consistent** when exactly the predicted runs drift (saying which runs
//!   predicted flat are only inconclusive), **inconsistent** otherwise
//!   (naming the runs), **undecided** when a run has too few chunks, a run
//!   predicted to drift is inconclusive, the machine got busier with a run's
//!   chunk times (the load witness, `drift::load`), or the OS or interpreter
//!   is not known.
//!
//! The mechanism confirmed with the symptom inconsistent because a leaking
//! run does not drift is a finding of its own, said in one sentence: the
//! entries grow, but the forks did not get measurably slower.
//!
//! Association is not proof: the control rows are what can refute.

use crate::markdown::{cell, slope};
use crate::run::{Run, SourceKind};
use drift::Trend;

/// One factor of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Factor {
    PostForkCheck,
    Python,
    OsFork,
    StandinLeak,
}

const FACTORS: [Factor; 4] = [
    Factor::PostForkCheck,
    Factor::Python,
    Factor::OsFork,
    Factor::StandinLeak,
];

impl Factor {
    fn name(self) -> &'static str {
        match self {
            Factor::PostForkCheck => "post-fork check (port)",
            Factor::Python => "CPython version",
            Factor::OsFork => "real os.fork vs the control",
            Factor::StandinLeak => "stand-in leak",
        }
    }

    /// The run's value of this factor, `None` where it does not apply.
    fn value(self, run: &Run) -> Option<String> {
        let f = &run.factors;
        match self {
            Factor::PostForkCheck => f.post_fork_check.clone(),
            Factor::Python => f.python_minor(),
            Factor::OsFork => f.os_fork.clone(),
            Factor::StandinLeak => f.standin_leak.map(|s| if s { "on" } else { "off" }.to_string()),
        }
    }
}

/// A leaking run gains at least this many map entries per fork.
pub const LEAK_PER_FORK: f64 = 0.9;
/// A run that leaks nothing gains at most this many.
pub const CLEAN_PER_FORK: f64 = 0.1;
/// Fewer forks than this between the first and the last reading measure
/// nothing: a few entries that come and go (malloc arenas, a thread stack)
/// would move the figure by more than the margins above.
pub const MIN_FORKS: u64 = 100;

/// The rule in words, for `report --help`.
pub const RULE: &str = "Findings (first, on the terminal too): runs that differ in one factor only \
(the port's --post-fork-check, the CPython version, the real os.fork vs the control without the thread \
count, the stand-in leak), side by side. The hypothesis (docs/mechanism.md) says a fork-per-job run leaks \
one map entry per fork when it runs on macOS under CPython >= 3.12 with the real os.fork, or with the \
stand-in leak and the real os.fork, or (the port) with --post-fork-check leak on macOS. Two judgements \
per group. Mechanism, exact whatever the load: every leaking run gains at least +0.9 vm_map_entries per \
fork and every other at most +0.1, over at least 100 forks: 'confirmed'; a run that does not: 'refuted' \
(named, with its number, whatever the timing says); no counters, too few forks or no prediction: 'not \
measured'. Symptom, the timing: 'not reproduced' when nothing drifts, 'consistent' when exactly the \
leaking runs drift, 'inconsistent' otherwise (naming the runs), 'undecided' when a verdict is missing, a \
run predicted to drift is inconclusive, the machine got busier with a run's chunk times (the load \
witness), or the OS or interpreter is unknown. Entries growing as predicted in a run that does not \
drift is said in one sentence. Association is not proof: the control rows are what can refute.";

/// What the map entries of a group say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Every run gains the entries per fork the hypothesis predicts.
    Confirmed,
    /// Some run does not: which, with its number.
    Refuted(String),
    /// Some run cannot say: which, and why.
    NotMeasured(String),
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mechanism::Confirmed => f.write_str("confirmed (map entries per fork as predicted in every run)"),
            Mechanism::Refuted(why) => write!(f, "refuted ({why})"),
            Mechanism::NotMeasured(why) => write!(f, "not measured ({why})"),
        }
    }
}

/// What the timing of a group says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conclusion {
    /// The runs that drift are exactly the ones the hypothesis says leak.
    Consistent,
    /// Consistent, but a run that should stay flat is inconclusive: which.
    ConsistentBut(String),
    /// Not so: which runs go against it.
    Inconsistent(String),
    /// No run drifts.
    NotReproduced,
    /// A verdict or a prediction is missing, or the load explains it: why.
    Undecided(String),
}

impl std::fmt::Display for Conclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conclusion::Consistent => f.write_str("consistent with the hypothesis"),
            Conclusion::ConsistentBut(why) => write!(f, "consistent with the hypothesis ({why})"),
            Conclusion::Inconsistent(why) => write!(f, "inconsistent with the hypothesis ({why})"),
            Conclusion::NotReproduced => f.write_str("not reproduced (nothing drifts)"),
            Conclusion::Undecided(why) => write!(f, "undecided ({why})"),
        }
    }
}

/// Runs of one setup that differ in one factor.
#[derive(Debug)]
pub struct Finding<'a> {
    factor: Factor,
    /// The setup they share, in words.
    setup: String,
    /// (factor value, run), in the order of the inputs.
    runs: Vec<(String, &'a Run)>,
    /// What the map entries allow.
    pub mechanism: Mechanism,
    /// What the timing allows.
    pub conclusion: Conclusion,
}

impl Finding<'_> {
    /// The one sentence for a hypothesis right on the mechanism and wrong
    /// on the symptom: entries grow as predicted in runs that do not drift.
    pub fn entries_without_drift(&self) -> Option<String> {
        if self.mechanism != Mechanism::Confirmed {
            return None;
        }
        let quiet: Vec<String> = self
            .runs
            .iter()
            .filter(|(_, r)| predicts_leak(r) == Some(true) && r.verdict().verdict == Trend::NoDrift)
            .map(|(v, r)| format!("{v} ({} per fork)", per_fork(r, "vm_map_entries")))
            .collect();
        (!quiet.is_empty()).then(|| {
            format!(
                "The mechanism holds without the symptom: {} gains map entries as predicted and does not \
                 drift, so here the extra entries did not make its forks measurably slower.",
                quiet.join(", ")
            )
        })
    }
}

/// Whether the OS is macOS: `None` when not known.
pub(crate) fn on_macos(run: &Run) -> Option<bool> {
    let os = run.os_arch.to_ascii_lowercase();
    if os.is_empty() || os == "unknown" {
        return None;
    }
    Some(os.contains("macos") || os.contains("darwin"))
}

/// The hypothesis' prediction for one run: does it leak a map entry per fork?
/// `None` when it cannot say (OS or interpreter unknown).
pub fn predicts_leak(run: &Run) -> Option<bool> {
    if !run.is_fork_per_job() {
        return Some(false); // a pool or a team forks once per worker, not per call
    }
    let f = &run.factors;
    if let Some(check) = &f.post_fork_check {
        return Some(check == "leak" && on_macos(run)?);
    }
    let control = f.os_fork.as_deref() == Some("without thread count");
    if control {
        return Some(false); // the control leaks nothing, stand-in included
    }
    if f.standin_leak == Some(true) {
        return Some(true);
    }
    match (on_macos(run), f.counts_threads_after_fork()) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// One run's map entries against the prediction: `Ok(())` as predicted,
/// `Err(Mechanism::…)` naming the run as `value`.
fn mechanism_of(value: &str, run: &Run) -> Result<(), Mechanism> {
    let Some(leaks) = predicts_leak(run) else {
        return Err(Mechanism::NotMeasured(format!(
            "{value}: OS or interpreter not known, so no prediction"
        )));
    };
    let Some((growth, forks)) = run.growth_per_fork("vm_map_entries") else {
        return Err(Mechanism::NotMeasured(format!("{value}: no map entry counter")));
    };
    if forks < MIN_FORKS {
        return Err(Mechanism::NotMeasured(format!(
            "{value}: {forks} forks between the first and the last reading, at least {MIN_FORKS} needed"
        )));
    }
    match leaks {
        true if growth < LEAK_PER_FORK => Err(Mechanism::Refuted(format!(
            "{value} gains {growth:+.2} map entries per fork over {forks} forks, predicted at least +{LEAK_PER_FORK}"
        ))),
        false if growth > CLEAN_PER_FORK => Err(Mechanism::Refuted(format!(
            "{value} gains {growth:+.2} map entries per fork over {forks} forks, predicted at most +{CLEAN_PER_FORK}"
        ))),
        _ => Ok(()),
    }
}

/// The group's mechanism: refuted if any run goes against it (all such runs
/// named), else not measured if any run cannot say, else confirmed.
fn mechanism(members: &[(String, &Run)]) -> Mechanism {
    let (mut refuted, mut unmeasured) = (Vec::new(), Vec::new());
    for (value, run) in members {
        match mechanism_of(value, run) {
            Err(Mechanism::Refuted(why)) => refuted.push(why),
            Err(Mechanism::NotMeasured(why)) => unmeasured.push(why),
            _ => {}
        }
    }
    if !refuted.is_empty() {
        Mechanism::Refuted(refuted.join("; "))
    } else if !unmeasured.is_empty() {
        Mechanism::NotMeasured(unmeasured.join("; "))
    } else {
        Mechanism::Confirmed
    }
}

/// Every group of runs that differ in exactly one factor (at least two
/// values of it), in the order of their first run.
pub fn findings(runs: &[Run]) -> Vec<Finding<'_>> {
    let mut out = Vec::new();
    for factor in FACTORS {
        let mut groups: Vec<(String, Vec<(String, &Run)>)> = Vec::new();
        for run in runs.iter().filter(|r| !r.points.is_empty()) {
            let Some(value) = factor.value(run) else { continue };
            let setup = setup(run, factor);
            match groups.iter_mut().find(|(s, _)| *s == setup) {
                Some((_, members)) => members.push((value, run)),
                None => groups.push((setup, vec![(value, run)])),
            }
        }
        for (setup, members) in groups {
            let mut values: Vec<&str> = members.iter().map(|(v, _)| v.as_str()).collect();
            values.sort_unstable();
            values.dedup();
            if values.len() < 2 {
                continue;
            }
            out.push(Finding {
                factor,
                setup,
                mechanism: mechanism(&members),
                conclusion: conclude(&members),
                runs: members,
            });
        }
    }
    out
}

/// What two runs must share to be compared on `factor`, in words.
fn setup(run: &Run, factor: Factor) -> String {
    let kind = match run.kind {
        SourceKind::Record => "port",
        SourceKind::Transcript => "original",
        SourceKind::Reproducer => "reproducer",
    };
    let others: Vec<String> = FACTORS
        .iter()
        .filter(|&&f| f != factor)
        .filter_map(|f| f.value(run).map(|v| format!("{}: {v}", f.name())))
        .collect();
    let mut s = format!(
        "{kind}, {}, {}, ncpus {}, T {}",
        run.base,
        run.os_arch,
        run.ncpus.map_or("-".into(), |n| n.to_string()),
        run.sleep.map_or("-".into(), |t| format!("{t} s")),
    );
    if !others.is_empty() {
        s += &format!(", {}", others.join(", "));
    }
    s
}

/// One run's timing against the prediction.
enum Symptom {
    /// As predicted (a leaking run drifts, another does not).
    AsPredicted,
    /// Predicted flat and inconclusive: goes against nothing, shows nothing.
    FlatUnsure,
    /// Against the prediction, in words.
    Against(&'static str),
    /// Cannot be judged, and why.
    Undecided(String),
}

fn symptom_of(run: &Run) -> Symptom {
    let v = run.verdict();
    if v.verdict == Trend::TooFewChunks {
        return Symptom::Undecided(v.verdict.to_string());
    }
    if v.busier.is_some() {
        return Symptom::Undecided("the machine got busier during the run: confirm on a quiet machine".into());
    }
    let Some(leaks) = predicts_leak(run) else {
        return Symptom::Undecided("OS or interpreter not known, so no prediction".into());
    };
    match (leaks, v.verdict) {
        (true, Trend::NoDrift) => Symptom::Against("should drift and does not"),
        (false, Trend::Drift) => Symptom::Against("drifts and should not"),
        (true, Trend::Inconclusive) => Symptom::Undecided("should drift and is inconclusive: run it longer".into()),
        (false, Trend::Inconclusive) => Symptom::FlatUnsure,
        _ => Symptom::AsPredicted,
    }
}

fn conclude(members: &[(String, &Run)]) -> Conclusion {
    let mut against = Vec::new();
    let mut unsure = Vec::new();
    for (value, run) in members {
        match symptom_of(run) {
            Symptom::Undecided(why) => return Conclusion::Undecided(format!("{value}: {why}")),
            Symptom::Against(why) => against.push(format!("{value} {why}")),
            Symptom::FlatUnsure => unsure.push(value.as_str()),
            Symptom::AsPredicted => {}
        }
    }
    let any_drift = members.iter().any(|(_, r)| r.verdict().verdict == Trend::Drift);
    if !against.is_empty() {
        Conclusion::Inconsistent(against.join("; "))
    } else if !any_drift {
        Conclusion::NotReproduced
    } else if unsure.is_empty() {
        Conclusion::Consistent
    } else {
        // A run that should stay flat and is inconclusive goes against
        // nothing, but is not shown flat either: said in the conclusion.
        Conclusion::ConsistentBut(format!("{} inconclusive, not shown flat", unsure.join(", ")))
    }
}

/// [`Run::growth_per_fork`] as a cell: `+1.00`, or `-` (no counter, no fork).
pub(crate) fn per_fork(run: &Run, counter: &str) -> String {
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

/// The fork-per-job runs among `runs` whose map entries are as predicted,
/// those against (each in words, named by its strategy label), and how
/// many cannot say.
pub(crate) fn mechanism_counts<'a>(runs: impl Iterator<Item = &'a Run>) -> (usize, Vec<String>, usize) {
    let (mut ok, mut against, mut unmeasured) = (0, Vec::new(), 0);
    for run in runs.filter(|r| r.is_fork_per_job() && !r.points.is_empty()) {
        match mechanism_of(&run.strategy, run) {
            Ok(()) => ok += 1,
            Err(Mechanism::Refuted(why)) => against.push(why),
            Err(_) => unmeasured += 1,
        }
    }
    (ok, against, unmeasured)
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
                "| {value} | {} | {} | {} |\n",
                cell(&run.source),
                mechanism_cells(run),
                symptom_cells(run)
            );
        }
        out += &format!("\nMechanism: **{}**.\n", f.mechanism);
        out += &format!("Symptom: **{}**.\n", f.conclusion);
        if let Some(s) = f.entries_without_drift() {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::run::{Factors, Point, StrategyKind};

    /// A fork-per-job run of 20 chunks of 100 calls x 4 forks (also for the
    /// tests of `upstream`).
    pub(crate) fn run(python: &str, os_fork: &str, standin: bool, drift: bool, os: &str) -> Run {
        let points = (0..20)
            .map(|i| Point {
                repeat: 0,
                calls: 100,
                wall: if drift {
                    1.0 + 0.05 * f64::from(i)
                } else {
                    1.0 + 0.001 * f64::from(i % 3)
                },
                cost_per_job: 0.0,
            })
            .collect();
        // The stand-in keeps one entry per fork, but not under the control.
        let leaks = standin && os_fork == "real";
        let entries = (0..20)
            .map(|i| 100.0 + if leaks { 400.0 * f64::from(i) } else { 0.0 })
            .collect();
        Run {
            source: format!("{python} {os_fork} {standin}"),
            kind: SourceKind::Transcript,
            base: "fork-per-job (pure-Python @parallel emulation)".into(),
            strategy_kind: StrategyKind::ForkPerJob,
            strategy: String::new(),
            factors: Factors {
                python: Some(python.into()),
                os_fork: Some(os_fork.into()),
                standin_leak: Some(standin),
                post_fork_check: None,
            },
            os_arch: os.into(),
            ncpus: Some(4),
            sleep: Some(0.001),
            points,
            counters: vec![("vm_map_entries".into(), entries)],
            ..Run::default()
        }
    }

    #[test]
    fn groups_runs_that_differ_in_one_factor_and_concludes() {
        let linux = "Linux x86_64";
        let runs = vec![
            run("3.11.7", "real", false, false, linux),
            run("3.12.1", "real", false, false, linux),
            run("3.12.1", "without thread count", false, false, linux),
            run("3.12.1", "real", true, true, linux),
            run("3.12.1", "without thread count", true, false, linux),
        ];
        let f = findings(&runs);
        let got: Vec<(Factor, usize, &Conclusion)> =
            f.iter().map(|f| (f.factor, f.runs.len(), &f.conclusion)).collect();
        assert_eq!(
            got,
            vec![
                // 3.11 vs 3.12, nothing leaks on Linux: nothing drifts.
                (Factor::Python, 2, &Conclusion::NotReproduced),
                (Factor::OsFork, 2, &Conclusion::NotReproduced),
                // With the stand-in: real drifts, the control does not.
                (Factor::OsFork, 2, &Conclusion::Consistent),
                (Factor::StandinLeak, 2, &Conclusion::Consistent),
                // Under the control the stand-in leaks nothing either.
                (Factor::StandinLeak, 2, &Conclusion::NotReproduced),
            ]
        );
        // Every run's map entries as predicted: the stand-in's +1 per fork,
        // the others flat.
        assert!(f.iter().all(|f| f.mechanism == Mechanism::Confirmed), "{f:?}");
        let text = section(&runs);
        assert!(text.starts_with("## Findings"), "{text}");
        // 400 entries a chunk of 100 calls x 4 forks: +1 per fork.
        assert!(
            text.contains("| on | 3.12.1 real true | yes | +1.00 | - | as predicted | - | DRIFT | "),
            "{text}"
        );
        assert!(text.contains("\nMechanism: **confirmed (map entries per fork as predicted in every run)**.\nSymptom: **consistent with the hypothesis**.\n"), "{text}");
    }

    /// `run` as a Mac's: the same counters, the OS of a macOS record.
    fn on_mac(mut r: Run) -> Run {
        r.os_arch = "macOS 15.5 (24F74), arm64".into();
        r
    }

    #[test]
    fn a_run_predicted_to_leak_that_gains_nothing_refutes_the_mechanism_whatever_the_timing() {
        // CPython 3.12 on a Mac with the real os.fork must leak; here its
        // entries stay flat, though it drifts as the hypothesis says.
        let runs = vec![
            on_mac(run("3.11.9", "real", false, false, "")),
            on_mac(run("3.12.5", "real", false, true, "")),
        ];
        let f = findings(&runs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].conclusion, Conclusion::Consistent, "the timing alone agrees");
        assert_eq!(
            f[0].mechanism,
            Mechanism::Refuted("3.12 gains +0.00 map entries per fork over 7600 forks, predicted at least +0.9".into())
        );
        let text = section(&runs);
        assert!(
            text.contains("| **against** (at least +0.9 predicted) | - | DRIFT |"),
            "{text}"
        );
        assert!(text.contains("Mechanism: **refuted (3.12 gains +0.00"), "{text}");
        // And a run predicted clean that gains one per fork: the control.
        let leaking = run("3.12.5", "real", true, false, "").counters;
        let mut control = on_mac(run("3.12.5", "without thread count", false, false, ""));
        control.counters = leaking.clone();
        let mut real = on_mac(run("3.12.5", "real", false, true, ""));
        real.counters = leaking;
        let runs = vec![real, control];
        let f = findings(&runs);
        assert!(
            matches!(&f[0].mechanism, Mechanism::Refuted(w) if w.starts_with("without thread count gains +1.00") && w.ends_with("predicted at most +0.1")),
            "{:?}",
            f[0].mechanism
        );
        // No counters, or too few forks: not measured.
        let mut blind = runs.clone();
        for r in &mut blind {
            r.counters.clear();
        }
        assert!(
            matches!(findings(&blind)[0].mechanism, Mechanism::NotMeasured(ref w) if w.contains("no map entry counter"))
        );
        let mut short = runs;
        for r in &mut short {
            r.points.truncate(1);
            r.counters[0].1.truncate(1);
        }
        assert!(matches!(findings(&short)[0].mechanism, Mechanism::NotMeasured(ref w) if w.contains("0 forks")));
    }

    #[test]
    fn a_quick_check_too_short_for_timing_gets_the_mechanism_columns_only() {
        // Two chunks of 100 calls x 4 forks: 400 forks between the readings.
        let short = |mut r: Run| {
            r.points.truncate(2);
            r.counters[0].1.truncate(2);
            r
        };
        let runs = vec![
            short(run("3.12.1", "real", true, false, "Linux x86_64")),
            short(run("3.12.1", "without thread count", true, false, "Linux x86_64")),
        ];
        let table = hypothesis_table(&runs, &["here".into(), "here".into()]);
        assert!(!table.contains("| verdict |"), "{table}");
        assert!(
            table.contains("| here | Linux x86_64 |  | yes | +1.00 | - | as predicted | - |\n"),
            "{table}"
        );
        assert!(
            table.contains(": confirmed.\n\nNo run is long enough for a timing verdict"),
            "{table}"
        );
        assert_eq!(findings(&runs)[0].mechanism, Mechanism::Confirmed);
    }

    #[test]
    fn entries_as_predicted_without_the_drift_is_said_in_one_sentence() {
        // The stand-in leaks one entry per fork, but its run does not drift.
        let runs = vec![
            run("3.12.1", "real", true, false, "Linux x86_64"),
            run("3.12.1", "without thread count", true, false, "Linux x86_64"),
        ];
        let f2 = findings(&runs);
        assert_eq!(f2[0].mechanism, Mechanism::Confirmed);
        assert_eq!(
            f2[0].conclusion,
            Conclusion::Inconsistent("real should drift and does not".into())
        );
        assert_eq!(
            f2[0].entries_without_drift().as_deref(),
            Some(
                "The mechanism holds without the symptom: real (+1.00 per fork) gains map entries as predicted \
                 and does not drift, so here the extra entries did not make its forks measurably slower."
            )
        );
        assert!(section(&runs).contains("The mechanism holds without the symptom"));
        // Not said when the mechanism itself is not as predicted: the
        // stand-in's entries flat.
        let mut flat = runs;
        flat[0].counters[0].1 = vec![100.0; 20];
        let f = findings(&flat);
        assert!(matches!(f[0].mechanism, Mechanism::Refuted(_)));
        assert_eq!(f[0].entries_without_drift(), None);
    }

    #[test]
    fn a_drift_the_load_witness_explains_is_undecided_not_inconsistent() {
        let linux = "Linux x86_64";
        // The control drifts (it should not) while the rest of the machine
        // went from nothing to a whole CPU, in step with its chunk times.
        let mut busy = run("3.12.1", "without thread count", false, true, linux);
        busy.counters.push((
            probes::load::OTHER_CPU.into(),
            (0..20).map(|i| 10.0 + 60.0 * f64::from(i)).collect(),
        ));
        let runs = vec![run("3.12.1", "real", false, false, linux), busy.clone()];
        let f = findings(&runs);
        assert_eq!(
            f[0].conclusion,
            Conclusion::Undecided(
                "without thread count: the machine got busier during the run: confirm on a quiet machine".into()
            )
        );
        // The map entries still decide: flat, as predicted.
        assert_eq!(f[0].mechanism, Mechanism::Confirmed);
        // The same drift on a quiet machine goes against the hypothesis.
        busy.counters.pop();
        busy.counters.push((probes::load::OTHER_CPU.into(), vec![10.0; 20]));
        let runs = vec![run("3.12.1", "real", false, false, linux), busy];
        assert_eq!(
            findings(&runs)[0].conclusion,
            Conclusion::Inconsistent("without thread count drifts and should not".into())
        );
    }

    #[test]
    fn a_drift_the_hypothesis_does_not_predict_is_inconsistent() {
        let mac = "macOS 15.5, arm64";
        let runs = vec![
            run("3.12.5", "real", false, true, mac),
            run("3.12.5", "without thread count", false, true, mac),
        ];
        let f = findings(&runs);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].conclusion,
            Conclusion::Inconsistent("without thread count drifts and should not".into())
        );
        let runs = vec![
            run("3.11.9", "real", false, false, mac),
            run("3.12.5", "real", false, true, mac),
        ];
        assert_eq!(findings(&runs)[0].conclusion, Conclusion::Consistent);
        // Unknown OS: no prediction.
        let runs = vec![
            run("3.11.9", "real", false, false, "unknown"),
            run("3.12.5", "real", false, true, "unknown"),
        ];
        assert!(matches!(findings(&runs)[0].conclusion, Conclusion::Undecided(_)));
        let table = hypothesis_table(&runs, &["macos-15-arm64".into(), "macos-15-arm64".into()]);
        // The OS is unknown here: the prediction is "?".
        assert!(
            table.contains("| macos-15-arm64 | unknown |  | ? | +0.00 | - | no prediction | - | DRIFT | +"),
            "{table}"
        );
        assert!(
            table.ends_with(
                "\nMechanism: 1 of 1 measured fork-per-job runs gain the map entries per fork the hypothesis \
                 predicts (at least +0.9 when it leaks, at most +0.1 otherwise); 1 not measured: confirmed where \
                 measured.\n\n"
            ),
            "{table}"
        );
        assert_eq!(
            table.lines().filter(|l| l.starts_with("| macos-15-arm64 |")).count(),
            2,
            "{table}"
        );
        // Runs of different setups are not compared.
        let runs = vec![
            run("3.11.9", "real", false, false, mac),
            run("3.12.5", "real", false, true, "Linux"),
        ];
        assert!(findings(&runs).is_empty());
    }
}
