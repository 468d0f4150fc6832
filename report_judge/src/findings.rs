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
//!   every run does as predicted (and, in words, only where a Mac's runs are
//!   among them: [`Reach`]), **refuted** when one does not (named, with
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

use crate::verdict::Judged;
use drift::Trend;
use report_read::run::{Os, Run, SourceKind};

/// One factor of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
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
    /// The factor in words (the heading of its Findings).
    pub fn name(self) -> &'static str {
        match self {
            Factor::PostForkCheck => "post-fork check (port)",
            Factor::Python => "CPython version",
            Factor::OsFork => "real os.fork vs the control",
            Factor::StandinLeak => "stand-in leak",
        }
    }

    /// The run's value of this factor, `None` where it does not apply.
    pub fn value(self, run: &Run) -> Option<String> {
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
fork and every other at most +0.1, over at least 100 forks: 'confirmed' with a Mac's runs among them (by \
the runs' own OS), 'as predicted off macOS' without (only the stand-in leaks there: the measuring chain \
works, macOS untested); a run that does not: 'refuted' \
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

/// What runs whose map entries went as predicted can show, by the OS they
/// ran on ([`Os`], as the run model knows it; never the words of a label
/// or of a pasted `Machine:` line). The hypothesis' claim is about macOS:
/// only a Mac's runs can confirm it. Off macOS no real run is predicted to
/// leak, and the runs that are (the stand-in's) show that the measuring
/// chain, counter to table, sees a leak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// At least one of them ran on macOS: the mechanism is confirmed or not.
    Mac,
    /// None ran on macOS; `predicted_leaks` of them were predicted to leak
    /// (off macOS, only the stand-in is), and did.
    OffMac { predicted_leaks: usize },
}

/// The [`Reach`] of `runs`, over those whose map entries are as
/// predicted ([`mechanism_of`]).
pub fn reach<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Reach {
    let ok: Vec<&Run> = runs.into_iter().filter(|r| mechanism_of("", r).is_ok()).collect();
    if ok.iter().any(|r| on_macos(r) == Some(true)) {
        Reach::Mac
    } else {
        Reach::OffMac {
            predicted_leaks: ok.iter().filter(|r| predicts_leak(r) == Some(true)).count(),
        }
    }
}

/// Runs of one setup that differ in one factor.
#[derive(Debug)]
pub struct Finding<'a> {
    pub factor: Factor,
    /// The setup they share, in words, but for where they ran: `os_arch`
    /// and `machine`.
    pub setup: String,
    /// The OS and arch they share (`Run::os_arch`).
    pub os_arch: String,
    /// The machine they share (`Run::machine`, empty where nothing names it).
    pub machine: String,
    /// What the runs whose map entries are as predicted can show.
    pub reach: Reach,
    /// (factor value, run), in the order of the inputs.
    pub runs: Vec<(String, &'a Run)>,
    /// What the map entries allow.
    pub mechanism: Mechanism,
    /// What the timing allows.
    pub conclusion: Conclusion,
}

impl<'a> Finding<'a> {
    /// A hypothesis right on the mechanism and wrong on the symptom: the
    /// members predicted to leak that do not drift, when the mechanism is
    /// confirmed (empty otherwise).
    pub fn leaks_without_drift(&self) -> Vec<&(String, &'a Run)> {
        if self.mechanism != Mechanism::Confirmed {
            return Vec::new();
        }
        self.runs
            .iter()
            .filter(|(_, r)| predicts_leak(r) == Some(true) && r.verdict().verdict == Trend::NoDrift)
            .collect()
    }
}

/// Whether the run ran on macOS ([`Run::os`]): `None` when not known.
pub fn on_macos(run: &Run) -> Option<bool> {
    match run.os {
        Os::MacOs => Some(true),
        Os::Other => Some(false),
        Os::Unknown => None,
    }
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
pub fn mechanism_of(value: &str, run: &Run) -> Result<(), Mechanism> {
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
        // Keyed by the setup in words and where the runs ran.
        type Key = (String, String, String);
        let mut groups: Vec<(Key, Vec<(String, &Run)>)> = Vec::new();
        for run in runs.iter().filter(|r| !r.points.is_empty()) {
            let Some(value) = factor.value(run) else { continue };
            let key = (setup(run, factor), run.os_arch.clone(), run.machine.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push((value, run)),
                None => groups.push((key, vec![(value, run)])),
            }
        }
        for ((setup, os_arch, machine), members) in groups {
            let mut values: Vec<&str> = members.iter().map(|(v, _)| v.as_str()).collect();
            values.sort_unstable();
            values.dedup();
            if values.len() < 2 {
                continue;
            }
            out.push(Finding {
                factor,
                setup,
                os_arch,
                machine,
                reach: reach(members.iter().map(|(_, r)| *r)),
                mechanism: mechanism(&members),
                conclusion: conclude(&members),
                runs: members,
            });
        }
    }
    out
}

/// What two runs must share to be compared on `factor`, in words, but for
/// where they ran (the OS and the machine, kept apart in [`Finding`]).
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
        "{kind}, {}, ncpus {}, T {}",
        run.base,
        run.ncpus.map_or("-".into(), |n| n.to_string()),
        run.sleep.map_or("-".into(), |t| format!("{t} s")),
    );
    if !others.is_empty() {
        s += &format!(", {}", others.join(", "));
    }
    s
}

/// One run's timing against the prediction.
pub enum Symptom {
    /// As predicted (a leaking run drifts, another does not).
    AsPredicted,
    /// Predicted flat and inconclusive: goes against nothing, shows nothing.
    FlatUnsure,
    /// Against the prediction, in words.
    Against(&'static str),
    /// Cannot be judged, and why.
    Undecided(String),
}

/// One run's timing against the prediction ([`Symptom`]).
pub fn symptom_of(run: &Run) -> Symptom {
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

/// The fork-per-job runs among `runs` whose map entries are as predicted,
/// those against (each in words, named by its strategy label), and how
/// many cannot say.
pub fn mechanism_counts<'a>(runs: impl Iterator<Item = &'a Run>) -> (usize, Vec<String>, usize) {
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
