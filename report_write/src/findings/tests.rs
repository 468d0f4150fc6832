use super::*;
use report_judge::findings::{Factor, Reach};
use report_read::run::{Factors, Os, Point, SourceKind, StrategyKind};

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
        os: Os::of_name(os),
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
    let got: Vec<(Factor, usize, &Conclusion)> = f.iter().map(|f| (f.factor, f.runs.len(), &f.conclusion)).collect();
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
    let text = section(&runs, &here(&runs), &[]);
    assert!(text.starts_with("## Findings"), "{text}");
    // 400 entries a chunk of 100 calls x 4 forks: +1 per fork.
    assert!(
        text.contains("| on | 3.12.1 real true | yes | +1.00 | - | as predicted | - | DRIFT | "),
        "{text}"
    );
    // Off macOS "confirmed" is not said: the stand-in shows the counting
    // works, and no real run is predicted to leak.
    assert!(f.iter().all(|f| matches!(f.reach, Reach::OffMac { .. })), "{f:?}");
    assert!(
        text.contains(
            "\nMechanism: **as predicted off macOS (the stand-in leaks its entry per fork, no real run leaks; \
             macOS untested)**.\nSymptom: **consistent with the hypothesis**.\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "\nMechanism: **as predicted off macOS (no run leaks, and none is predicted to here; macOS \
             untested)**.\n"
        ),
        "{text}"
    );
    assert!(!text.contains("confirmed"), "{text}");
    // The same runs on a Mac: confirmed.
    let mac: Vec<Run> = runs.into_iter().map(on_mac).collect();
    let f = findings(&mac);
    assert!(f.iter().any(|f| f.reach == Reach::Mac), "{f:?}");
    let text = section(&mac, &here(&mac), &[]);
    assert!(
        text.contains("\nMechanism: **confirmed (map entries per fork as predicted in every run)**.\n"),
        "{text}"
    );
}

/// `run` as a Mac's: the same counters, the OS of a macOS record.
fn on_mac(mut r: Run) -> Run {
    r.os_arch = "macOS 15.5 (24F74), arm64".into();
    r.os = Os::MacOs;
    r
}

/// One machine's name for each of `runs`.
fn here(runs: &[Run]) -> Vec<String> {
    vec!["here".to_string(); runs.len()]
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
    let text = section(&runs, &here(&runs), &[]);
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
        r.strategy = format!(
            "{} {}",
            r.factors.os_fork.clone().unwrap(),
            r.factors.standin_leak.unwrap()
        );
        r
    };
    let runs = vec![
        short(run("3.12.1", "real", true, false, "Linux x86_64")),
        short(run("3.12.1", "without thread count", true, false, "Linux x86_64")),
    ];
    assert!(too_short_for_timing(&runs));
    let table = hypothesis_table(&runs, &here(&runs));
    assert!(!table.contains("| verdict |"), "{table}");
    assert!(
        table.contains("| real true | yes | +1.00 | - | as predicted | - |\n"),
        "{table}"
    );
    // On Linux only the stand-in leaks: the measuring chain, not macOS.
    assert!(
        table.contains(
            "otherwise). No run here is from a Mac: the measuring chain works (the run predicted to leak, \
             the stand-in's, gains its entry per fork) and no real run leaked, as predicted off macOS; the \
             macOS half (CPython's os.fork leaving an entry behind per fork) is untested until a Mac runs \
             it.\n\nTiming: not judged. No run has the 6 chunks"
        ),
        "{table}"
    );
    assert!(!table.contains("confirmed"), "{table}");
    assert_eq!(findings(&runs)[0].mechanism, Mechanism::Confirmed);
    // The Findings of a quick check: the mechanism's columns only, and no
    // "too few chunks" anywhere; the timing is said once, in the table.
    let text = section(&runs, &here(&runs), &[]);
    assert!(
        text.contains("| real os.fork vs the control | run | predicted leak |"),
        "{text}"
    );
    assert!(!text.contains("| verdict |") && !text.contains("Symptom:"), "{text}");
    let both = table + &text + &crate::markdown::runs_table(&runs);
    assert!(!both.contains("too few chunks"), "{both}");
    assert_eq!(both.lines().filter(|l| l.contains("Timing")).count(), 1, "{both}");
    // The same runs edited to stand for a Mac's: confirmed.
    let mac: Vec<Run> = runs.into_iter().map(on_mac).collect();
    let table = hypothesis_table(&mac, &here(&mac));
    assert!(table.contains("otherwise): confirmed.\n"), "{table}");
}

#[test]
fn one_machine_is_named_once_and_machines_that_differ_in_columns() {
    let linux = "Linux x86_64";
    let runs = vec![
        run("3.12.1", "real", false, false, linux),
        run("3.12.1", "without thread count", false, false, linux),
    ];
    let one = vec!["Debian 12, x86_64, AMD EPYC".to_string(); 2];
    let table = hypothesis_table(&runs, &one);
    assert!(
        table.contains("\n\nOne machine: Debian 12, x86_64, AMD EPYC (every run below).\n\n| run | predicted leak |"),
        "{table}"
    );
    assert_eq!(table.matches("AMD EPYC").count(), 1, "{table}");
    let text = section(&runs, &one, &[]);
    assert!(text.starts_with("## Findings\n\nOne machine: Debian 12, x86_64, AMD EPYC (every run below).\n"));
    assert_eq!(text.matches("AMD EPYC").count(), 1, "{text}");
    assert!(!text.contains(linux), "the heading leaves the OS to the line: {text}");
    // Two machines: each row names its machine and OS.
    let two = vec!["Mac A".to_string(), "Mac B".to_string()];
    let table = hypothesis_table(&runs, &two);
    assert!(!table.contains("One machine"), "{table}");
    assert!(table.contains("| machine | OS, arch | run |"), "{table}");
    assert!(table.contains("| Mac A | Linux x86_64 | "), "{table}");
    assert!(table.contains("| Mac B | Linux x86_64 | "), "{table}");
    // And the Findings name where each group ran.
    let mut other = runs.clone();
    for r in &mut other {
        r.machine = "Mac B".into();
    }
    let all: Vec<Run> = runs.into_iter().chain(other).collect();
    let machines = vec!["Mac A".into(), "Mac A".into(), "Mac B".into(), "Mac B".into()];
    let text = section(&all, &machines, &[]);
    assert!(!text.contains("One machine"), "{text}");
    assert!(text.contains(", Mac B\n"), "{text}");
    assert!(
        text.contains(&format!(", {linux}\n")),
        "a run that names no machine: its OS: {text}"
    );
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
        entries_without_drift(&f2[0]).as_deref(),
        Some(
            "The mechanism holds without the symptom: real (+1.00 per fork) gains map entries as predicted \
             and does not drift, so here the extra entries did not make its forks measurably slower."
        )
    );
    assert!(section(&runs, &here(&runs), &[]).contains("The mechanism holds without the symptom"));
    // Not said when the mechanism itself is not as predicted: the
    // stand-in's entries flat.
    let mut flat = runs;
    flat[0].counters[0].1 = vec![100.0; 20];
    let f = findings(&flat);
    assert!(matches!(f[0].mechanism, Mechanism::Refuted(_)));
    assert_eq!(entries_without_drift(&f[0]), None);
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
    // Named a Mac by its machine's label, but its OS is unknown: the
    // prediction is "?", and nothing is confirmed (no run is from a Mac).
    let table = hypothesis_table(&runs, &["macos-15-arm64".into(), "macos-15-arm64".into()]);
    assert!(
        table.contains("\n|  | ? | +0.00 | - | no prediction | - | DRIFT | +"),
        "{table}"
    );
    assert!(
        table.ends_with(
            "\nMechanism: 1 of 1 measured fork-per-job runs gain the map entries per fork the hypothesis \
             predicts (at least +0.9 when it leaks, at most +0.1 otherwise); 1 not measured. No run here is \
             from a Mac, and none was predicted to leak: no run leaked, as predicted off macOS, but nothing \
             here shows that the counting would see a leak (the compare harness's stand-in leak does: \
             STANDIN=1 ci/diagnose.sh); the macOS half (CPython's os.fork leaving an entry behind per fork) \
             is untested until a Mac runs it.\n\n"
        ),
        "{table}"
    );

    // Runs of different setups are not compared.
    let runs = vec![
        run("3.11.9", "real", false, false, mac),
        run("3.12.5", "real", false, true, "Linux"),
    ];
    assert!(findings(&runs).is_empty());
}
