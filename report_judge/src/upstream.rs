//! What `report --upstream cpython|sage` decides to say, as typed values:
//! which rows it shows and in what order, whether they come from a Mac,
//! what the Mac rows show of the leak's predictions, and what the control
//! and the port's `--post-fork-check` rows allow. The words are
//! `report_write::upstream`'s.
//!
//! Nothing is measured here: every number is what the tables of `report`
//! compute (the `drift` verdict with its growth per earlier fork, the
//! growth of a counter per fork, [`predicts_leak`]).

use crate::findings::{mechanism_counts, on_macos, predicts_leak};
use crate::verdict::Judged;
use drift::Trend;
use report_read::run::{Run, SourceKind};

/// The CPython build a run ran on, as its input names it.
pub use report_read::repro::Build;

/// One fork-per-job run of the input, with the machine it ran on.
pub struct Row<'a> {
    pub machine: &'a str,
    pub run: &'a Run,
    /// `Some(true)` on macOS, `None` when the OS is not known.
    pub mac: Option<bool>,
}

/// The fork-per-job runs with chunks, Mac rows first, then by machine and
/// by what sets each run apart (originals, reproducer, port; CPython
/// version; the real `os.fork` before the control).
pub fn rows<'a>(runs: &'a [Run], machines: &'a [String]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = machines
        .iter()
        .zip(runs)
        .filter(|(_, r)| r.is_fork_per_job() && !r.points.is_empty())
        .map(|(m, r)| Row {
            machine: m,
            run: r,
            mac: on_macos(r),
        })
        .collect();
    rows.sort_by_key(|row| {
        let r = row.run;
        let kind = match r.kind {
            SourceKind::Transcript => 0,
            SourceKind::Reproducer => 1,
            SourceKind::Record => 2,
        };
        let version = r.factors.python_minor().map(|v| {
            let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            (it.next().unwrap_or(0), it.next().unwrap_or(0))
        });
        let check = match r.factors.post_fork_check.as_deref() {
            Some("off") => 0,
            Some("leak") => 1,
            Some(_) => 2,
            None => 0,
        };
        (
            row.mac != Some(true),
            row.machine.to_string(),
            kind,
            r.base.clone(),
            version,
            r.factors.os_fork.as_deref() != Some("real"),
            r.factors.standin_leak,
            check,
        )
    });
    rows
}

/// The rows that come from a Mac, in order.
pub fn from_a_mac<'r, 'a>(rows: &'r [Row<'a>]) -> Vec<&'r Row<'a>> {
    rows.iter().filter(|r| r.mac == Some(true)).collect()
}

/// The rows of CPython as it is (not the patched build): those the leak's
/// predictions are about.
pub fn unpatched<'r, 'a>(rows: &[&'r Row<'a>]) -> Vec<&'r Row<'a>> {
    rows.iter()
        .copied()
        .filter(|r| !Build::of(r.run).is_patched())
        .collect()
}

/// The rows of the patched build.
pub fn patched<'r, 'a>(rows: &[&'r Row<'a>]) -> Vec<&'r Row<'a>> {
    rows.iter().copied().filter(|r| Build::of(r.run).is_patched()).collect()
}

/// What ran, as the run's setup names it without the build: `fork_repro.py`,
/// `Sage @parallel, test_parallel_sleep_v2.sage`, `test_fork_sleep`.
pub fn what_ran(run: &Run) -> &str {
    let inner = run
        .base
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map_or(run.base.as_str(), |(inner, _)| inner);
    inner.split(", build: ").next().unwrap_or(inner)
}

/// The control: `os.fork` without the thread count.
pub fn is_control(run: &Run) -> bool {
    run.factors.os_fork.as_deref() == Some("without thread count")
}

/// One line of the first screen's table: one setup on one Mac (what ran,
/// the CPython version, the real `os.fork` or the control), its runs on
/// CPython as it is and on the patched build.
pub struct Pair<'a> {
    pub machine: &'a str,
    pub what: &'a str,
    pub python: &'a str,
    pub control: bool,
    pub unpatched: Option<&'a Run>,
    pub patched: Option<&'a Run>,
}

/// The Mac rows of CPython itself (the reproducer and the originals; not
/// the port, not a stand-in leak), paired by setup: the patched build
/// beside the unpatched, each setup's control after its real `os.fork`.
/// The first run of a setup and build stands for it.
pub fn pairs<'a>(mac: &[&Row<'a>]) -> Vec<Pair<'a>> {
    let mut out: Vec<Pair<'a>> = Vec::new();
    for row in mac {
        let r = row.run;
        let (Some(python), Some(_)) = (r.factors.python.as_deref(), r.factors.os_fork.as_deref()) else {
            continue;
        };
        if r.factors.post_fork_check.is_some() || r.factors.standin_leak == Some(true) {
            continue;
        }
        let (what, control) = (what_ran(r), is_control(r));
        let at = out
            .iter()
            .position(|p| p.machine == row.machine && p.what == what && p.python == python && p.control == control);
        let pair = match at {
            Some(k) => &mut out[k],
            None => {
                out.push(Pair {
                    machine: row.machine,
                    what,
                    python,
                    control,
                    unpatched: None,
                    patched: None,
                });
                out.last_mut().expect("just pushed")
            }
        };
        let slot = if Build::of(r).is_patched() {
            &mut pair.patched
        } else {
            &mut pair.unpatched
        };
        slot.get_or_insert(r);
    }
    // The rows come sorted (each control after its real os.fork); the
    // reproducer's first, as the first lines quote it.
    out.sort_by_key(|p| p.unpatched.or(p.patched).map(|r| r.kind) != Some(SourceKind::Reproducer));
    out
}

/// What the first lines of the CPython issue state, from the Mac rows: the
/// run that shows the symptom (CPython as it is, the real `os.fork`, the
/// leak predicted; the reproducer's first), the map entries per fork it
/// gains, the patched build's run of the same setup, and its control.
pub struct Headline<'a> {
    pub symptom: Option<&'a Run>,
    pub patched: Option<&'a Run>,
    pub control: Option<&'a Run>,
    /// The port's `--post-fork-check leak` and `free` from a Mac, for where
    /// no CPython build of that kind ran.
    pub port_leak: Option<&'a Run>,
    pub port_free: Option<&'a Run>,
}

impl<'a> Headline<'a> {
    pub fn of(mac: &[&Row<'a>]) -> Headline<'a> {
        let pairs = pairs(mac);
        let leaky = |r: &&Run| predicts_leak(r) == Some(true) && r.points.len() >= 2;
        let real = || pairs.iter().filter(|p| !p.control);
        // The reproducer first, then the originals; among them the run
        // with a patched build beside it.
        let pick = real().filter(|p| p.unpatched.filter(leaky).is_some()).min_by_key(|p| {
            (
                p.unpatched.map(|r| r.kind) != Some(SourceKind::Reproducer),
                p.patched.is_none(),
            )
        });
        let symptom = pick.and_then(|p| p.unpatched);
        let control = pick.and_then(|p| {
            pairs
                .iter()
                .find(|c| c.control && (c.machine, c.what, c.python) == (p.machine, p.what, p.python))
                .and_then(|c| c.unpatched)
        });
        let patched = pick.and_then(|p| p.patched).or_else(|| real().find_map(|p| p.patched));
        let port = |check: &str| {
            mac.iter()
                .map(|r| r.run)
                .find(|r| r.factors.post_fork_check.as_deref() == Some(check))
        };
        Headline {
            symptom,
            patched,
            control,
            port_leak: port("leak"),
            port_free: port("free"),
        }
    }
}

/// Forks the run made: calls x jobs per call.
pub fn forks(run: &Run) -> u64 {
    let per_call = run.ncpus.unwrap_or(1) as u64;
    run.points.iter().map(|p| p.calls * per_call).sum()
}

/// Which rows come from a Mac, and which do not (how many of those of an
/// OS the input does not name): what the top of a text states.
pub struct Provenance<'r, 'a> {
    pub mac: Vec<&'r Row<'a>>,
    pub other: Vec<&'r Row<'a>>,
    pub unknown: usize,
}

impl<'r, 'a> Provenance<'r, 'a> {
    pub fn of(rows: &'r [Row<'a>]) -> Provenance<'r, 'a> {
        let mac = from_a_mac(rows);
        let other: Vec<&Row<'_>> = rows.iter().filter(|r| r.mac != Some(true)).collect();
        let unknown = other.iter().filter(|r| r.mac.is_none()).count();
        Provenance { mac, other, unknown }
    }
}

/// What the Mac rows show: which of those the leak predicts to drift do,
/// and which of those predicted flat stay flat; and first the exact
/// evidence, the map entries per fork against the prediction.
pub struct MacSummary {
    /// Runs the leak predicts to drift, and how many of them drift.
    pub leaky: usize,
    pub drifting: usize,
    /// The growth per earlier fork of those that drift, lowest and highest
    /// (µs per fork per earlier fork).
    pub growth_range: Option<(f64, f64)>,
    /// Runs predicted flat, how many show no drift, how many drift.
    pub flat: usize,
    pub stay: usize,
    pub against: usize,
    /// The mechanism: runs as predicted, those against (in words), and
    /// those that cannot say ([`mechanism_counts`]).
    pub ok: usize,
    pub refuted: Vec<String>,
    pub unmeasured: usize,
}

impl MacSummary {
    pub fn of(rows: &[&Row<'_>]) -> MacSummary {
        let judged: Vec<(Option<bool>, Trend, &Run)> = rows
            .iter()
            .map(|r| (predicts_leak(r.run), r.run.verdict().verdict, r.run))
            .collect();
        let leaky: Vec<&(Option<bool>, Trend, &Run)> = judged.iter().filter(|j| j.0 == Some(true)).collect();
        let flat: Vec<&(Option<bool>, Trend, &Run)> = judged.iter().filter(|j| j.0 == Some(false)).collect();
        let drifting = leaky.iter().filter(|j| j.1 == Trend::Drift).count();
        let growth: Vec<f64> = leaky
            .iter()
            .filter(|j| j.1 == Trend::Drift)
            .filter_map(|j| j.2.verdict().growth?.us_per_job_per_earlier_fork.map(|e| e.value))
            .collect();
        let growth_range = growth
            .iter()
            .copied()
            .reduce(f64::min)
            .zip(growth.iter().copied().reduce(f64::max));
        let (ok, refuted, unmeasured) = mechanism_counts(rows.iter().map(|r| r.run));
        MacSummary {
            leaky: leaky.len(),
            drifting,
            growth_range,
            flat: flat.len(),
            stay: flat.iter().filter(|j| j.1 == Trend::NoDrift).count(),
            against: flat.iter().filter(|j| j.1 == Trend::Drift).count(),
            ok,
            refuted,
            unmeasured,
        }
    }
}

/// The control among the Mac rows (`os.fork` without the thread count):
/// how many such runs, how many show no drift; `None` when there is none.
pub fn control(mac: &[&Row<'_>]) -> Option<(usize, usize)> {
    let control: Vec<&&Row<'_>> = mac
        .iter()
        .filter(|r| r.run.factors.os_fork.as_deref() == Some("without thread count"))
        .collect();
    if control.is_empty() {
        return None;
    }
    let flat = control
        .iter()
        .filter(|r| r.run.verdict().verdict == Trend::NoDrift)
        .count();
    Some((control.len(), flat))
}

/// The port's `--post-fork-check` rows that are the fix's evidence.
pub enum Evidence<'r, 'a> {
    /// No such run in the input.
    None,
    /// None from a Mac: these rows (on Linux both read `/proc/self/stat`)
    /// say nothing about the fix.
    NotFromAMac(Vec<&'r Row<'a>>),
    /// The rows from a Mac.
    FromAMac(Vec<&'r Row<'a>>),
}

impl<'r, 'a> Evidence<'r, 'a> {
    pub fn of(rows: &'r [Row<'a>]) -> Evidence<'r, 'a> {
        let checks: Vec<&Row<'_>> = rows
            .iter()
            .filter(|r| r.run.factors.post_fork_check.is_some())
            .collect();
        let mac: Vec<&Row<'_>> = checks.iter().copied().filter(|r| r.mac == Some(true)).collect();
        if checks.is_empty() {
            Evidence::None
        } else if mac.is_empty() {
            Evidence::NotFromAMac(checks)
        } else {
            Evidence::FromAMac(mac)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(base: &str) -> Run {
        Run {
            base: base.into(),
            ..Run::default()
        }
    }

    #[test]
    fn what_ran_is_the_setup_without_the_build() {
        assert_eq!(
            what_ran(&labelled("fork-per-job (fork_repro.py, build: patched, x)")),
            "fork_repro.py"
        );
        assert_eq!(
            what_ran(&labelled("fork-per-job (Sage @parallel, test_parallel_sleep_v2.sage)")),
            "Sage @parallel, test_parallel_sleep_v2.sage"
        );
        assert_eq!(
            what_ran(&labelled("fork-per-job/pipe (test_fork_sleep)")),
            "test_fork_sleep"
        );
    }
}
