//! Findings: runs that differ in one factor only, side by side, and the one
//! conclusion their verdicts allow about the leading hypothesis
//! (`shared/MECHANISM.md`: CPython >= 3.12 leaves one map entry behind after
//! every `os.fork()` on macOS, and every later fork copies the bigger map).
//!
//! The factors: the port's `--post-fork-check` (off, leak, free), the
//! CPython version, the real `os.fork` against the control (the harness's
//! fork without the thread count), and the harness's stand-in leak. Two
//! runs are compared only when everything else is the same: where they come
//! from (record or transcript), strategy, OS and arch, ncpus, sleep and the
//! other factors.
//!
//! The rule, per run, is what the hypothesis predicts: a fork-per-job run
//! leaks one entry per fork when (it runs on macOS, CPython >= 3.12, with
//! the real `os.fork`) or (with the stand-in leak and the real `os.fork`),
//! or, for the port, with `--post-fork-check leak` on macOS; it then drifts,
//! and a run that leaks nothing does not. A group's conclusion:
//! - **not reproduced** when no run drifts;
//! - **consistent** when the runs that drift are exactly the ones predicted
//!   (saying so when a run predicted flat is only inconclusive);
//! - **inconsistent** otherwise (a run drifts that should not, or a leaking
//!   one does not), naming the runs;
//! - **undecided** when a run has too few chunks for a verdict, a run
//!   predicted to drift is inconclusive, or the OS or the interpreter it ran
//!   under is not known.
//!
//! Association is not proof: the conclusion says which way the rows point;
//! the control rows are what can refute.

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

/// The conclusion of one group.
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
    /// A verdict or a prediction is missing: why.
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
    /// What the rows allow.
    pub conclusion: Conclusion,
}

/// Whether the OS is macOS: `None` when not known.
fn on_macos(run: &Run) -> Option<bool> {
    let os = run.os_arch.to_ascii_lowercase();
    if os.is_empty() || os == "unknown" {
        return None;
    }
    Some(os.contains("macos") || os.contains("darwin"))
}

/// The hypothesis' prediction for one run: does it leak a map entry per fork?
/// `None` when it cannot say (OS or interpreter unknown).
pub fn predicts_leak(run: &Run) -> Option<bool> {
    if !run.base.starts_with("fork-per-job") {
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
            let conclusion = conclude(&members);
            out.push(Finding {
                factor,
                setup,
                runs: members,
                conclusion,
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

fn conclude(members: &[(String, &Run)]) -> Conclusion {
    let mut against = Vec::new();
    let mut unsure = Vec::new();
    let mut any_drift = false;
    for (value, run) in members {
        let trend = run.verdict().verdict;
        if trend == Trend::TooFewChunks {
            return Conclusion::Undecided(format!("{value}: {trend}"));
        }
        let Some(leaks) = predicts_leak(run) else {
            return Conclusion::Undecided(format!("{value}: OS or interpreter not known, so no prediction"));
        };
        any_drift |= trend == Trend::Drift;
        match (leaks, trend) {
            (true, Trend::NoDrift) => against.push(format!("{value} should drift and does not")),
            (false, Trend::Drift) => against.push(format!("{value} drifts and should not")),
            (true, Trend::Inconclusive) => {
                return Conclusion::Undecided(format!("{value} should drift and is inconclusive: run it longer"))
            }
            (false, Trend::Inconclusive) => unsure.push(value.as_str()),
            _ => {}
        }
    }
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

/// Growth of a counter per fork (fork-per-job: calls x ncpus forks a
/// chunk) or per job (other strategies) between the first and the last
/// reading: `+1.00`, or `-` where the run has no such counter.
fn per_fork(run: &Run, counter: &str) -> String {
    let (Some(values), Some(ncpus)) = (run.counter(counter), run.ncpus) else {
        return "-".into();
    };
    // Readings come after each chunk: the jobs between the first and the
    // last reading are those of every chunk but the first.
    let jobs: u64 = run.points.iter().skip(1).map(|p| p.calls * ncpus as u64).sum();
    match (values.first(), values.last()) {
        (Some(a), Some(b)) if jobs > 0 => format!("{:+.2}", (b - a) / jobs as f64),
        _ => "-".into(),
    }
}

/// The columns of one run's evidence, in both tables.
fn evidence_header(unit: &str) -> String {
    format!("predicted leak | verdict | slope per 1000 calls | vm_map_entries {unit} | mach_msg_regions {unit}")
}
const EVIDENCE_ALIGN: &str = "---|---|--:|--:|--:|";

/// One run's evidence: what the hypothesis predicts for it, its verdict and
/// slope, and the growth of the leak's counters.
fn evidence(run: &Run) -> String {
    let v = run.verdict();
    let leak = match predicts_leak(run) {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    };
    format!(
        "{leak} | {} | {} | {} | {}",
        v.verdict,
        slope(&v),
        per_fork(run, "vm_map_entries"),
        per_fork(run, "mach_msg_regions")
    )
}

/// The Findings section (Markdown, which reads as well on a terminal):
/// empty when no runs differ in one factor only.
pub fn section(runs: &[Run]) -> String {
    let found = findings(runs);
    if found.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Findings\n\nRuns that differ in one factor only, side by side; the conclusion follows the \
         rule in `report --help` (what the leading hypothesis predicts for each run).\n",
    );
    for f in &found {
        let unit = if f.runs.iter().all(|(_, r)| r.base.starts_with("fork-per-job")) {
            "per fork"
        } else {
            "per job"
        };
        out += &format!("\n### {}: {}\n\n", f.factor.name(), cell(&f.setup));
        out += &format!(
            "| {} | run | {} |\n|---|---|{EVIDENCE_ALIGN}\n",
            f.factor.name(),
            evidence_header(unit)
        );
        for (value, run) in &f.runs {
            out += &format!("| {value} | {} | {} |\n", cell(&run.source), evidence(run));
        }
        out += &format!("\nConclusion: **{}**.\n", f.conclusion);
    }
    out + "\n"
}

/// One table that answers the hypothesis across machines: one row per
/// fork-per-job run (originals per CPython, the control, the stand-in, the
/// port's `--post-fork-check off|leak|free`), machine first, with what the
/// hypothesis predicts for it, its verdict and slope, and the growth of the
/// leak's counters per fork. `machines[i]` names the machine of `runs[i]`
/// (`report --hypothesis`: the folder the input came from).
pub fn hypothesis_table(runs: &[Run], machines: &[String]) -> String {
    let mut rows: Vec<(&String, &Run)> = machines
        .iter()
        .zip(runs)
        .filter(|(_, r)| r.base.starts_with("fork-per-job") && !r.points.is_empty())
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = format!(
        "## The hypothesis, machine by machine\n\n| machine | OS, arch | run | {} |\n|---|---|---|{EVIDENCE_ALIGN}\n",
        evidence_header("per fork")
    );
    for (machine, run) in rows {
        out += &format!(
            "| {} | {} | {} | {} |\n",
            cell(machine),
            cell(&run.os_arch),
            cell(&run.strategy),
            evidence(run)
        );
    }
    out + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Factors, Point};

    fn run(python: &str, os_fork: &str, standin: bool, drift: bool, os: &str) -> Run {
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
        let entries = (0..20)
            .map(|i| 100.0 + if standin { 400.0 * f64::from(i) } else { 0.0 })
            .collect();
        Run {
            source: format!("{python} {os_fork} {standin}"),
            kind: SourceKind::Transcript,
            base: "fork-per-job (pure-Python @parallel emulation)".into(),
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
        let text = section(&runs);
        assert!(text.starts_with("## Findings"), "{text}");
        assert!(text.contains("| on | 3.12.1 real true | yes | DRIFT | "), "{text}");
        // 400 entries a chunk of 100 calls x 4 forks: +1 per fork.
        assert!(text.contains(" | +1.00 | - |"), "{text}");
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
            table.contains("| macos-15-arm64 | unknown |  | ? | DRIFT | +"),
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
