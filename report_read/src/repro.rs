//! The output of `upstream/cpython/fork_repro.py`, the stdlib-only
//! reproducer of the CPython report, as runs: one per `fork_repro:` header,
//! one point per batch (its forks as the calls, one job per call), and the
//! map entries it counted after each batch as the counters `vm_map_entries`
//! (`/proc/self/maps` lines on Linux, `vmmap --summary`'s TOTAL region count
//! on macOS) and `mach_msg_regions` (its "Mach message" row, macOS only).
//! So a reproducer's run gets the verdict, the growth per earlier fork and
//! the counters per fork the same way as a port's or an original's.

use crate::run::{Factors, Os, Point, Run, SourceKind, StrategyKind};
use regex::Regex;
use std::sync::OnceLock;

/// The reproducer's path in the repository, which its runs are named after.
pub const SCRIPT: &str = "upstream/cpython/fork_repro.py";

/// The script itself, for a report that quotes it.
pub const TEXT: &str = include_str!("../../upstream/cpython/fork_repro.py");

/// The strategy of its runs: fork per job, one child at a time.
pub const STRATEGY: &str = "fork-per-job (fork_repro.py)";

struct Patterns {
    header: Regex,
    batch: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        header: Regex::new(r"^fork_repro: Python (\S+) \((\w+)\) on (.+) (\S+); \d+ batches of \d+ forks$")
            .expect("valid regex"),
        batch: Regex::new(
            r"^batch \d+/\d+: (\d+) forks in (\d+\.\d+) s, \d+\.\d+ us per fork, parent sys \d+\.\d+ s, map entries (\d+|-)(?:, Mach message regions (\d+|-))?$",
        )
        .expect("valid regex"),
    })
}

/// One run under way: the run, its counters so far (`None` once a batch
/// had no count), and its first and last line.
struct Open {
    run: Run,
    entries: Option<Vec<f64>>,
    regions: Option<Vec<f64>>,
    first: usize,
    last: usize,
}

impl Open {
    fn finish(mut self, file: &str) -> Run {
        let counters = [("vm_map_entries", self.entries), ("mach_msg_regions", self.regions)];
        self.run.counters = counters
            .into_iter()
            .filter_map(|(name, values)| values.filter(|v| !v.is_empty()).map(|v| (name.to_string(), v)))
            .collect();
        self.run.source = format!("{file}:{}-{} (fork_repro.py)", self.first, self.last);
        self.run
    }
}

/// A number of the batch line, `None` for `-` (not counted).
fn count(m: Option<regex::Match<'_>>) -> Option<f64> {
    m.and_then(|m| m.as_str().parse().ok())
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
/// it holds no `fork_repro:` header.
pub fn parse(file: &str, text: &str) -> Vec<Run> {
    let p = patterns();
    let mut runs = Vec::new();
    let mut open: Option<Open> = None;
    for (k, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(c) = p.header.captures(line) {
            runs.extend(open.take().map(|o| o.finish(file)));
            let factors = Factors {
                python: Some(c[1].to_string()),
                os_fork: Some("real".into()),
                ..Factors::default()
            };
            let (os, arch) = (&c[3], &c[4]);
            let run = Run {
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
            };
            open = Some(Open {
                run,
                entries: Some(Vec::new()),
                regions: Some(Vec::new()),
                first: k + 1,
                last: k + 1,
            });
        } else if let (Some(c), Some(o)) = (p.batch.captures(line), open.as_mut()) {
            let (Ok(forks), Ok(wall)) = (c[1].parse::<u64>(), c[2].parse::<f64>()) else {
                continue;
            };
            o.run.points.push(Point {
                repeat: 0,
                calls: forks,
                wall,
                cost_per_job: wall / forks.max(1) as f64,
            });
            push(&mut o.entries, count(c.get(3)));
            push(&mut o.regions, count(c.get(4)));
            o.last = k + 1;
        } else if let Some(o) = open.as_mut() {
            if line.starts_with("fork_repro: per fork:") {
                o.last = k + 1;
            }
        }
    }
    runs.extend(open.map(|o| o.finish(file)));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Printed by the script on this Linux machine (CPython 3.12.1), then
    /// edited to stand for a Mac where each fork leaves one entry.
    const LINUX: &str = "fork_repro: Python 3.12.1 (CPython) on Linux x86_64; 6 batches of 200 forks
batch 1/6: 200 forks in 0.419 s, 2096.8 us per fork, parent sys 0.030 s, map entries 59
batch 2/6: 200 forks in 0.659 s, 3292.7 us per fork, parent sys 0.030 s, map entries 59
batch 3/6: 200 forks in 0.443 s, 2214.9 us per fork, parent sys 0.020 s, map entries 59
batch 4/6: 200 forks in 0.468 s, 2341.9 us per fork, parent sys 0.030 s, map entries 59
batch 5/6: 200 forks in 0.280 s, 1400.0 us per fork, parent sys 0.030 s, map entries 59
batch 6/6: 200 forks in 0.134 s, 670.8 us per fork, parent sys 0.020 s, map entries 59
fork_repro: per fork: +0.00 map entries
";

    fn mac() -> String {
        let mut out = String::from("some prose\nfork_repro: Python 3.13.3 (CPython) on macOS 15.5 (24F74) arm64; 6 batches of 200 forks\nvmmap --summary before:\n  TOTAL 1 2 3 500\n");
        for b in 1..=6 {
            out += &format!(
                "batch {b}/6: 200 forks in {:.3} s, 1.0 us per fork, parent sys 0.100 s, map entries {}, Mach message regions {}\n",
                0.2 + 0.02 * f64::from(b),
                500 + 200 * b,
                3 + 200 * b
            );
        }
        out + "fork_repro: per fork: +1.00 map entries, +1.00 Mach message regions\n"
    }

    #[test]
    fn reads_batches_counters_and_the_machine() {
        let runs = parse("linux.txt", LINUX);
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.kind, SourceKind::Reproducer);
        assert_eq!(r.source, "linux.txt:1-8 (fork_repro.py)");
        assert_eq!(r.points.len(), 6);
        assert_eq!((r.points[1].calls, r.points[1].wall), (200, 0.659));
        assert_eq!(r.counter("vm_map_entries"), Some(&[59.0; 6][..]));
        assert_eq!(r.counter("mach_msg_regions"), None);
        assert_eq!(r.os_arch, "Linux, x86_64");
        assert_eq!(r.factors.python.as_deref(), Some("3.12.1"));
        assert_eq!(r.strategy, "fork-per-job (fork_repro.py) @python3.12");

        let runs = parse("mac.txt", &mac());
        let r = &runs[0];
        assert_eq!(r.source, "mac.txt:2-11 (fork_repro.py)");
        assert_eq!(r.machine, "macOS 15.5 (24F74), arm64");
        // What is judged and written of it: report_write/tests/read_then_written.rs.
    }

    #[test]
    fn a_batch_without_a_count_drops_that_counter() {
        let text = LINUX.replace("map entries 59\nbatch 4", "map entries -\nbatch 4");
        let r = &parse("x", &text)[0];
        assert_eq!(r.counter("vm_map_entries"), None);
        assert!(parse("x", "no reproducer here\nbatch 1/6: 200 forks in 0.1 s").is_empty());
    }
}
