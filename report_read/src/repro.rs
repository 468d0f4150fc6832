//! The output of `upstream/cpython/fork_repro.py`, the stdlib-only
//! reproducer of the CPython report, as runs. One output (from its
//! `fork_repro: Python …` line to its answer line) holds two runs, each made
//! in an interpreter of its own: the real `os.fork` and the control (a fork
//! that skips only the thread count, the factor `os_fork` = `without thread
//! count`, as the harness's control). Its table has one row per batch, each
//! run's column giving the point (the batch's forks as the calls, one job per
//! call) and the counters `vm_map_entries` (`task_info(TASK_VM_INFO)`'s
//! `region_count` on macOS, `/proc/self/maps` lines on Linux) and
//! `mach_msg_regions` (regions tagged `VM_MEMORY_MACH_MSG`, macOS only),
//! counted inside the interpreter after the batch; its `witness, RUN:` line
//! (macOS: `vmmap -summary` before the first batch and after the last, with
//! the count read at the same moment) is the run's witness. So a run gets
//! the verdict, the growth per earlier fork and the counters per fork as a
//! port's or an original's does. A `fork_repro: build: TEXT` line (the
//! script's `--build-label`, as `ci/cpython-fix.sh` passes `unpatched, …`)
//! goes into both runs' labels, so that the runs of two builds are told
//! apart and never compared as one setup; its first word, as that script
//! writes it, says which build ([`Build`]: `patched` or `unpatched`).
//!
//! Its `fork cost:` lines (what one more map entry costs the parent's
//! `fork()` on that machine) are read apart, by [`fork_costs`], as the
//! machine's calibration (`crate::calibration`).

use crate::calibration::Calibration;
use crate::run::{Factors, Os, Point, Run, SourceKind, StrategyKind};
use drift::Estimate;
use probes::witness::{Regions, Tool, Witness};
use regex::Regex;
use std::sync::OnceLock;

/// The reproducer's path in the repository, which its runs are named after.
pub const SCRIPT: &str = "upstream/cpython/fork_repro.py";

/// The script itself, for a report that quotes it.
pub const TEXT: &str = include_str!("../../upstream/cpython/fork_repro.py");

/// The strategy of its runs: fork per job, one child at a time.
pub const STRATEGY: &str = "fork-per-job (fork_repro.py)";

/// The os.fork factor of its two columns, in the table's order.
const FORKS: [&str; 2] = ["real", "without thread count"];

struct Patterns {
    header: Regex,
    build: Regex,
    row: Regex,
    witness: Regex,
    refused: Regex,
    answer: Regex,
    cost: Regex,
    points: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        header: Regex::new(
            r"^fork_repro: Python (\S+) \((\w+)\)(?: \(build [^)]*\))? on (.+) (\S+); \d+ batches of \d+ forks$",
        )
        .expect("valid regex"),
        build: Regex::new(r"^fork_repro: build: (.+)$").expect("valid regex"),
        // `    3    200 |   812.3   790.1 |  0.120  0.118 |  612  598 |  5  4`:
        // the batch, its forks, then four pairs (os.fork, control).
        row: Regex::new(r"^(\d+)\s+(\d+) \|(.*)$").expect("valid regex"),
        witness: Regex::new(
            r"^witness, (os\.fork|control): vmmap -summary regions (\d+) -> (\d+) \(Mach message (\d+) -> (\d+)\); in-process map entries (\d+|-) -> (\d+|-) \(Mach message regions (\d+|-) -> (\d+|-)\)$",
        )
        .expect("valid regex"),
        refused: Regex::new(
            r"^witness, (os\.fork|control): vmmap -summary (?:gave no count \((.*)\)|not read); the in-process count stands$",
        )
        .expect("valid regex"),
        answer: Regex::new(
            r"^fork_repro: os\.fork (?:([+-]\d+\.\d\d) map entries per fork, control (?:([+-]\d+\.\d\d)|not run \(([^)]*)\)): (.+)|map entries not counted \((.*)\))$",
        )
        .expect("valid regex"),
        cost: Regex::new(
            r"^fork cost: ([+-]\d+\.\d+) (?:µs|us) per extra map entry \(95 % (-?\d+\.\d+)[–-](-?\d+\.\d+)\), (-?[\d,]+)[–-](-?[\d,]+) entries, fork\(\) in the parent$",
        )
        .expect("valid regex"),
        points: Regex::new(r"^fork cost points \(.*\): ((?:-?\d+:\d+(?:\.\d+)? ?)+)$").expect("valid regex"),
    })
}

/// One output under way: its two runs, their counters so far (`None` once a
/// batch had no count), and its first and last line.
struct Open {
    runs: [Run; 2],
    entries: [Option<Vec<f64>>; 2],
    regions: [Option<Vec<f64>>; 2],
    /// `vmmap -summary` before the first batch and after the last (macOS).
    witness: [Option<Witness>; 2],
    first: usize,
    last: usize,
}

impl Open {
    fn new(c: &regex::Captures<'_>, line: usize) -> Open {
        let (os, arch) = (&c[3], &c[4]);
        let run = |os_fork: &str| {
            let factors = Factors {
                python: Some(c[1].to_string()),
                os_fork: Some(os_fork.into()),
                ..Factors::default()
            };
            Run {
                kind: SourceKind::Reproducer,
                strategy_kind: StrategyKind::ForkPerJob,
                strategy: format!("{STRATEGY}{}", factors.label()),
                base: STRATEGY.into(),
                factors,
                os_arch: format!("{os}, {arch}"),
                os: Os::of_name(os),
                machine: format!("{os}, {arch}"),
                ncpus: Some(1),
                ..Run::default()
            }
        };
        Open {
            runs: FORKS.map(run),
            entries: [Some(Vec::new()), Some(Vec::new())],
            regions: [Some(Vec::new()), Some(Vec::new())],
            witness: [None, None],
            first: line,
            last: line,
        }
    }

    /// `--build-label TEXT`: part of both runs' labels and setups.
    fn build(&mut self, label: &str) {
        for r in &mut self.runs {
            r.base = with_build(STRATEGY, label);
            r.strategy = format!("{}{}", r.base, r.factors.label());
        }
    }

    /// One table row: `cells` the four groups after the batch and its forks.
    fn row(&mut self, forks: u64, cells: &[&str]) {
        let pairs: Vec<Vec<&str>> = cells.iter().map(|c| c.split_whitespace().collect()).collect();
        if pairs.len() != 4 || pairs.iter().any(|p| p.len() != 2) {
            return;
        }
        let columns = self.runs.iter_mut().zip(&mut self.entries).zip(&mut self.regions);
        for (k, ((run, entries), regions)) in columns.enumerate() {
            let Ok(us) = pairs[0][k].parse::<f64>() else {
                continue; // this run did not run (the control without ctypes.pythonapi)
            };
            run.points.push(Point {
                repeat: 0,
                calls: forks,
                wall: us * forks as f64 / 1e6,
                cost_per_job: us / 1e6,
            });
            push(entries, pairs[2][k].parse().ok());
            push(regions, pairs[3][k].parse().ok());
        }
    }

    /// A `witness, RUN: …` line: the readings, or the refusal.
    fn witness(&mut self, c: &regex::Captures<'_>, refused: bool) {
        let k = usize::from(&c[1] == "control");
        let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u64>().ok());
        let reading = |total: usize, mach_msg: usize, counted: usize, counted_mach_msg: usize| {
            Some(Regions {
                total: n(total)?,
                mach_msg: n(mach_msg),
                counted: n(counted),
                counted_mach_msg: n(counted_mach_msg),
                ..Regions::default()
            })
        };
        self.witness[k] = Some(if refused {
            Witness {
                tool: Tool::Vmmap,
                before: None,
                after: None,
                forks: None,
                refused: Some(c.get(2).map_or("not read", |m| m.as_str()).to_string()),
            }
        } else {
            Witness {
                tool: Tool::Vmmap,
                before: reading(2, 4, 6, 8),
                after: reading(3, 5, 7, 9),
                forks: None,
                refused: None,
            }
        });
    }

    fn finish(self, file: &str) -> Vec<Run> {
        let (first, last) = (self.first, self.last);
        self.runs
            .into_iter()
            .zip(self.entries)
            .zip(self.regions)
            .zip(self.witness)
            .filter(|(((r, _), _), _)| !r.points.is_empty())
            .map(|(((mut run, entries), regions), witness)| {
                // The readings span every fork of the run.
                let forks = run.points.iter().map(|p| p.calls).sum();
                run.witness = witness.map(|w| Witness {
                    forks: w.before.as_ref().and(Some(forks)),
                    ..w
                });
                let counters = [("vm_map_entries", entries), ("mach_msg_regions", regions)];
                run.counters = counters
                    .into_iter()
                    .filter_map(|(name, values)| values.filter(|v| !v.is_empty()).map(|v| (name.to_string(), v)))
                    .collect();
                let which = if run.factors.os_fork.as_deref() == Some(FORKS[0]) {
                    "os.fork"
                } else {
                    "control"
                };
                run.source = format!("{file}:{first}-{last} (fork_repro.py {which})");
                run
            })
            .collect()
    }
}

/// The build a run's output names: the reproducer's `--build-label TEXT`
/// and a transcript's `Build (extra): TEXT` (as `ci/cpython-fix.sh` passes
/// `unpatched, REPO REF at COMMIT` or `patched, …`), the end of its setup's
/// name ([`with_build`]); `None` for a run without one.
pub fn build(run: &Run) -> Option<&str> {
    let (head, label) = run.base.split_once("build: ")?;
    (head.ends_with(", ") || head.ends_with(" (")).then_some(())?;
    label.strip_suffix(')')
}

/// A setup's name with its build: `fork-per-job (SCRIPT)` becomes
/// `fork-per-job (SCRIPT, build: TEXT)`, so that two builds are two setups.
pub fn with_build(base: &str, build: &str) -> String {
    match base.strip_suffix(')') {
        Some(open) => format!("{open}, build: {build})"),
        None => format!("{base} (build: {build})"),
    }
}

/// The CPython build a run ran on, as its output names it. Only
/// `ci/cpython-fix.sh` builds CPython, and it labels what runs under each
/// build (`fork_repro.py --build-label "unpatched, …"` or `"patched, …"`,
/// and a `Build (extra): …` line before the originals' output): a label
/// whose first word is `patched` is the patched build; any other run ran on
/// CPython as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// No label, or one that is neither: an interpreter as found (a
    /// release, a distribution's, a build of one's own).
    AsFound,
    /// `ci/cpython-fix.sh`'s build from the same commit without the patch.
    Unpatched,
    /// The same commit with `upstream/cpython/*.patch` applied.
    Patched,
}

impl Build {
    pub fn of(run: &Run) -> Build {
        let first = build(run).and_then(|l| l.split([',', ' ']).next());
        match first {
            Some("patched") => Build::Patched,
            Some("unpatched") => Build::Unpatched,
            _ => Build::AsFound,
        }
    }

    pub fn is_patched(self) -> bool {
        self == Build::Patched
    }
}

/// A reproducer run's fork in a table cell: `os.fork` or `control`, and
/// the build its output names (`--build-label`).
pub fn fork_label(run: &Run) -> String {
    let fork = if run.factors.os_fork.as_deref() == Some(FORKS[1]) {
        "control"
    } else {
        "os.fork"
    };
    match build(run) {
        Some(build) => format!("{fork}, build: {build}"),
        None => fork.to_string(),
    }
}

/// Appends a batch's count, or drops the series when the batch has none.
fn push(series: &mut Option<Vec<f64>>, value: Option<f64>) {
    match value {
        Some(v) => {
            if let Some(s) = series {
                s.push(v);
            }
        }
        None => *series = None,
    }
}

/// The reproducer's runs in `text` (`file` names their source); empty when
/// it holds no `fork_repro:` header. It stops past
/// [`MAX_RUNS`](crate::bounds::MAX_RUNS) runs (the input is refused then).
pub fn parse(file: &str, text: &str) -> Vec<Run> {
    let p = patterns();
    let mut runs = Vec::new();
    let mut open: Option<Open> = None;
    for (k, raw) in text.lines().enumerate() {
        if runs.len() > crate::bounds::MAX_RUNS {
            break;
        }
        let line = raw.trim();
        if let Some(c) = p.header.captures(line) {
            runs.extend(open.take().into_iter().flat_map(|o| o.finish(file)));
            open = Some(Open::new(&c, k + 1));
            continue;
        }
        let Some(o) = open.as_mut() else {
            continue;
        };
        if let Some(c) = p.build.captures(line) {
            o.build(&c[1]);
        } else if let Some(c) = p.witness.captures(line) {
            o.witness(&c, false);
        } else if let Some(c) = p.refused.captures(line) {
            o.witness(&c, true);
        } else if let Some(c) = p.row.captures(line) {
            if let Ok(forks) = c[2].parse::<u64>() {
                o.row(forks, &c[3].split('|').collect::<Vec<_>>());
                o.last = k + 1;
            }
        } else if p.answer.is_match(line) {
            o.last = k + 1;
            runs.extend(open.take().into_iter().flat_map(|o| o.finish(file)));
        }
    }
    runs.extend(open.into_iter().flat_map(|o| o.finish(file)));
    runs
}

/// The `fork cost:` measurements in `text`, each with its `fork cost
/// points` and the machine of the output it belongs to.
pub fn fork_costs(file: &str, text: &str) -> Vec<Calibration> {
    let p = patterns();
    let (mut out, mut machine): (Vec<Calibration>, String) = (Vec::new(), String::new());
    let int = |s: &str| s.replace(',', "").parse::<i64>().ok();
    for (k, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(c) = p.header.captures(line) {
            machine = format!("{}, {}", &c[3], &c[4]);
        } else if let Some(c) = p.cost.captures(line) {
            let (Ok(us), Ok(low), Ok(high), Some(lo), Some(hi)) =
                (c[1].parse(), c[2].parse(), c[3].parse(), int(&c[4]), int(&c[5]))
            else {
                continue;
            };
            out.push(Calibration {
                source: format!("{file}:{} (fork_repro.py fork cost)", k + 1),
                machine: machine.clone(),
                us_per_entry: Estimate { value: us, low, high },
                entries: (lo as f64, hi as f64),
                points: Vec::new(),
            });
        } else if let (Some(c), Some(cost)) = (p.points.captures(line), out.last_mut()) {
            cost.points = c[1]
                .split_whitespace()
                .filter_map(|pt| pt.split_once(':'))
                .filter_map(|(x, us)| Some((x.parse().ok()?, us.parse().ok()?)))
                .collect();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Printed by the script here (CPython 3.13.0, Linux), its batches cut
    /// to 6 and its fork cost points to three.
    const LINUX: &str = "fork_repro: Python 3.13.0 (CPython) on Linux x86_64; 6 batches of 200 forks
counted: map entries, as the lines of /proc/self/maps, inside each interpreter after each batch
batch  forks | µs per fork       | parent sys (s)    | map entries       | Mach message regions
             |  os.fork  control |  os.fork  control |  os.fork  control |  os.fork  control
    1    200 |   4091.9   4786.7 |    0.100    0.100 |      110      110 |        -        -
    2    200 |   3979.0   4355.9 |    0.100    0.120 |      110      110 |        -        -
    3    200 |   3472.4   4167.3 |    0.100    0.100 |      110      110 |        -        -
    4    200 |   3791.8   5060.4 |    0.100    0.120 |      110      110 |        -        -
    5    200 |   4368.7   3900.0 |    0.140    0.100 |      110      110 |        -        -
    6    200 |   4666.9   4370.5 |    0.150    0.100 |      110      110 |        -        -
µs per fork, first batch → last: os.fork 4091.9 → 4666.9, control 4786.7 → 4370.5
slope (Theil-Sen over the batches), µs per fork per 1000 forks: os.fork +754.5, control +233.1
map entries per fork: os.fork +0.00, control +0.00
fork cost: +3.82 µs per extra map entry (95 % 3.54–4.11), 0–16,000 entries, fork() in the parent
fork cost points (µs per fork() in the parent, median by extra map entries; the control's fork): 0:424.6 8000:33382.9 16000:60234.7
fork cost check: +16,000 map entries counted for 16,000 pages (within 1 %)
fork_repro: os.fork +0.00 map entries per fork, control +0.00: no leak here
";

    /// A Mac where each os.fork leaves one entry and the control none, as
    /// the script prints it, with a build label; without the control's
    /// columns when `control` is false (no ctypes.pythonapi).
    fn mac(control: bool) -> String {
        let mut out = String::from(
            "some prose\nfork_repro: Python 3.13.3 (CPython) (build heads/3.13-dirty:1a2b3c4) on macOS 15.5 (24F74) arm64; 6 batches of 200 forks\n\
             fork_repro: build: unpatched, python/cpython v3.13.3 at 1a2b3c4\n\
             witness, os.fork: vmmap -summary regions 612 -> 1812 (Mach message 4 -> 1204); in-process map entries 598 -> 1798 (Mach message regions 4 -> 1204)\n\
             witness, control: vmmap -summary gave no count (exit 1: vmmap cannot examine process 123 [hardened]); the in-process count stands\n\
             batch  forks | µs per fork       | parent sys (s)    | map entries       | Mach message regions\n\
             |  os.fork  control |  os.fork  control |  os.fork  control |  os.fork  control\n",
        );
        let c = |v: &str| if control { v.to_string() } else { "-".to_string() };
        for b in 1..=6 {
            out += &format!(
                "{b:>5} {:>6} | {:>8.1} {:>8} | {:>8.3} {:>8} | {:>8} {:>8} | {:>8} {:>8}\n",
                200,
                1000.0 + 100.0 * f64::from(b),
                c("900.0"),
                0.1,
                c("0.090"),
                598 + 200 * b,
                c("590"),
                4 + 200 * b,
                c("4")
            );
        }
        let ctl = if control {
            "+0.00"
        } else {
            "not run (no ctypes.pythonapi)"
        };
        let what = if control {
            "the thread count leaks"
        } else {
            "os.fork leaks; without the control, the thread count is not told from the rest"
        };
        out + &format!("fork_repro: os.fork +1.00 map entries per fork, control {ctl}: {what}\nlater prose\n")
    }

    #[test]
    fn reads_both_runs_their_counters_and_the_machine() {
        let runs = parse("linux.txt", LINUX);
        assert_eq!(runs.len(), 2);
        let (real, control) = (&runs[0], &runs[1]);
        assert_eq!(real.kind, SourceKind::Reproducer);
        assert_eq!(real.source, "linux.txt:1-17 (fork_repro.py os.fork)");
        assert_eq!(control.source, "linux.txt:1-17 (fork_repro.py control)");
        assert_eq!(real.points.len(), 6);
        assert_eq!(real.points[1].calls, 200);
        // 3979.0 µs per fork × 200 forks.
        assert!((real.points[1].wall - 0.7958).abs() < 1e-12, "{:?}", real.points[1]);
        assert!((control.points[1].cost_per_job - 4355.9e-6).abs() < 1e-12);
        assert_eq!(real.counter("vm_map_entries"), Some(&[110.0; 6][..]));
        assert_eq!(real.counter("mach_msg_regions"), None);
        assert_eq!(real.os_arch, "Linux, x86_64");
        assert_eq!(real.factors.python.as_deref(), Some("3.13.0"));
        assert_eq!(real.strategy, "fork-per-job (fork_repro.py) @python3.13");
        assert_eq!(
            control.strategy,
            "fork-per-job (fork_repro.py) @python3.13, fork without thread count"
        );
        assert_eq!(control.base, real.base);

        let runs = parse("mac.txt", &mac(true));
        let (real, control) = (&runs[0], &runs[1]);
        assert_eq!(real.source, "mac.txt:2-14 (fork_repro.py os.fork)");
        assert_eq!(real.machine, "macOS 15.5 (24F74), arm64");
        assert_eq!(
            real.strategy,
            "fork-per-job (fork_repro.py, build: unpatched, python/cpython v3.13.3 at 1a2b3c4) @python3.13"
        );
        assert_eq!(build(real), Some("unpatched, python/cpython v3.13.3 at 1a2b3c4"));
        assert_eq!(build(control), build(real));
        assert_eq!(build(&parse("linux.txt", LINUX)[0]), None);
        let w = real.witness.as_ref().expect("the vmmap witness");
        assert_eq!(w.forks, Some(1200));
        let (b, a) = (w.before.as_ref().unwrap(), w.after.as_ref().unwrap());
        assert_eq!(
            (b.total, b.mach_msg, b.counted, b.counted_mach_msg),
            (612, Some(4), Some(598), Some(4))
        );
        assert_eq!(
            (a.total, a.mach_msg, a.counted, a.counted_mach_msg),
            (1812, Some(1204), Some(1798), Some(1204))
        );
        let refused = control.witness.as_ref().expect("the control's refusal");
        assert_eq!(
            refused.refused.as_deref(),
            Some("exit 1: vmmap cannot examine process 123 [hardened]")
        );
        assert_eq!((refused.before.as_ref(), refused.forks), (None, None));
        // What is judged and written of it: report_write/tests/read_then_written.rs.
    }

    #[test]
    fn the_build_is_the_first_word_of_the_label() {
        let of = |label: &str| {
            let text = mac(true).replacen("unpatched, python/cpython v3.13.3 at 1a2b3c4", label, 1);
            Build::of(&parse("x", &text)[0])
        };
        assert_eq!(of("patched, python/cpython main at 1a2b3c4"), Build::Patched);
        assert_eq!(of("unpatched, python/cpython v3.13.3 at 1a2b3c4"), Build::Unpatched);
        // Only a label that says it is patched is: CPython as found otherwise.
        assert_eq!(of("patched-by-hand"), Build::AsFound);
        assert_eq!(of("my patched build"), Build::AsFound);
        assert_eq!(Build::of(&parse("x", LINUX)[0]), Build::AsFound);
        assert!(Build::Patched.is_patched() && !Build::Unpatched.is_patched());
    }

    #[test]
    fn a_control_not_run_is_no_run_and_a_batch_without_a_count_drops_that_counter() {
        let runs = parse("x", &mac(false));
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].factors.os_fork.as_deref(), Some("real"));
        assert_eq!(runs[0].points.len(), 6);
        // +200 entries a batch of 200 forks (per fork: report_write's tests).
        let entries = runs[0].counter("vm_map_entries").expect("the counter");
        assert_eq!(entries[entries.len() - 1] - entries[0], 1000.0);

        let text = LINUX.replacen("|      110      110 |", "|        -      110 |", 1);
        let runs = parse("x", &text);
        assert_eq!(runs[0].counter("vm_map_entries"), None);
        assert_eq!(runs[1].counter("vm_map_entries").map(<[f64]>::len), Some(6));
        assert!(parse("x", "no reproducer here\n    1    200 | 1.0 2.0 | 0.1 0.1 | 5 5 | - -").is_empty());
    }

    #[test]
    fn two_outputs_in_one_text_are_four_runs() {
        let text = format!("{LINUX}{}", mac(true));
        let runs = parse("both.txt", &text);
        assert_eq!(runs.len(), 4);
        assert_eq!(runs[2].source, "both.txt:19-31 (fork_repro.py os.fork)");
    }

    #[test]
    fn the_fork_cost_and_its_points() {
        let costs = fork_costs("linux.txt", LINUX);
        assert_eq!(
            costs,
            [Calibration {
                source: "linux.txt:14 (fork_repro.py fork cost)".into(),
                machine: "Linux, x86_64".into(),
                us_per_entry: Estimate {
                    value: 3.82,
                    low: 3.54,
                    high: 4.11
                },
                entries: (0.0, 16000.0),
                points: vec![(0.0, 424.6), (8000.0, 33382.9), (16000.0, 60234.7)],
            }]
        );
        // As printed to a stdout that cannot show µs and en dashes.
        let ascii = "fork cost: +0.62 us per extra map entry (95 % -0.05-0.66), 0-16,000 entries, fork() in the parent";
        let c = &fork_costs("a", ascii)[0];
        assert_eq!(
            (c.us_per_entry.value, c.us_per_entry.low, c.us_per_entry.high, c.entries),
            (0.62, -0.05, 0.66, (0.0, 16000.0))
        );
        assert!(c.points.is_empty() && c.machine.is_empty());
        assert!(fork_costs("x", "fork cost: not measured (too few samples)").is_empty());
    }
}
