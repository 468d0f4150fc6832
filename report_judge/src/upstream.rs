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
