//! `--calibrate`: what one more map entry of the leak's kind costs `fork()`
//! in the parent, on this machine.
//!
//! Why: a run's counters say how many map entries each fork left behind
//! (`vm_map_entries`), its verdict how fast the cost per job grew (µs per job
//! per earlier fork). If the leak is the drift, the second is the first times
//! what one entry costs a fork; this measures that cost, so that `report` can
//! predict a run's drift from its count and compare.
//!
//! How: the parent adds extra entries of the leak's kind
//! (`probes::churn::MapChurn::leak_like`: each its own one-page private
//! mapping, written so it is resident, neighbours of alternating protections
//! so none merges, tagged Mach message memory on macOS), at 9 counts from 0
//! to `--calibrate-max` in equal steps, visited up and down again and again
//! ([`Sweep`]: a slow drift of the machine then weighs on every count alike), and times
//! only `fork()` itself at each: from the call to its return in the parent.
//! The child `_exit`s at once; waiting for it is outside the timed part (its
//! exit runs on another core and is not what a later fork of the parent
//! pays). The counters (`probes::resources`) check at every visit that the
//! map really has that many more entries, within 1 %. The slope is Theil–Sen
//! over every timed fork (`drift::stats`), with Sen's 95 % interval; the
//! record keeps the median at every count, because the cost need not be
//! linear in every kernel.
//!
//! Time: visits go on until every count has [`FORKS_PER_COUNT`] forks, or
//! [`BUDGET_SECS`] have passed after the first sweep up (which always runs
//! to the end: it is the range).

use anyhow::{bail, Context};
use childpid::Forked;
use cli::args::usage;
use probes::churn::{self, MapChurn};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use timing::calibration::{CalibrationRecord, Verified};

/// `--calibrate-max`'s default: the range, about what a session of
/// the seed reaches (24,000 forks leave 24,000 entries; 16,000 is past the
/// start of every drift it shows).
pub const DEFAULT_MAX: u64 = 16_000;
/// Steps between 0 and the largest count: 9 counts.
const STEPS: u64 = 8;
/// Forks timed at each visit of a count.
const FORKS_PER_VISIT: u32 = 3;
/// Forks wanted at every count before the calibration stops: three round
/// trips (162 forks in all; about 4 s on Linux here).
pub const FORKS_PER_COUNT: u32 = 18;
/// Seconds of visits after which no new one starts (the first sweep up
/// excepted): with the mapping and the last visit, the whole stays under 10 s.
pub const BUDGET_SECS: f64 = 7.0;

/// The whole of `test_fork_sleep --calibrate`: measures, prints the one
/// line, writes `--json` if asked. `merge` is the testing aid
/// `--calibrate-merge` (extra entries that merge, which the check refuses).
pub fn run(max: u64, merge: bool, json: Option<&Path>) -> anyhow::Result<ExitCode> {
    if let Err((current, lim)) = churn::room_for(max) {
        return Err(usage(format!(
            "--calibrate-max {max}: {max} new mappings plus the {current} present and {} spare would \
             pass {} = {}; lower --calibrate-max",
            churn::HEADROOM,
            lim.source,
            lim.limit
        )));
    }
    let sink = json.map(timing::record::JsonSink::new).transpose().map_err(usage)?;
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let start = Instant::now();
    let counts: Vec<u64> = (0..=STEPS).map(|i| max * i / STEPS).collect();
    let mut cal = Calibration::new(&counts, merge)?;
    // An untimed fork first: the parent's own first-fork costs (faulting in
    // the fork path) are no entry's.
    cal.fork_once()?;
    // The first sweep up (the first visit of every count) always runs.
    for (k, i) in Sweep::new(counts.len()).enumerate() {
        let done = cal.forks.iter().all(|&f| f >= FORKS_PER_COUNT);
        if k >= counts.len() && (done || start.elapsed().as_secs_f64() > BUDGET_SECS) {
            break;
        }
        cal.visit(i)?;
    }
    let record = cal.record(max, started_unix, start.elapsed().as_secs_f64());
    drop(cal);
    cli::outln!("{}", record.line());
    if let Some(sink) = sink {
        sink.write(&record)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The counts' order: up, then down, again and again (0 1 … 8 8 7 … 0 0 1
/// …): every count is visited twice per round trip, once on the way up and
/// once on the way down, so that a steady drift of the machine during the
/// calibration falls on every count alike.
struct Sweep {
    n: usize,
    k: usize,
}

impl Sweep {
    fn new(n: usize) -> Sweep {
        Sweep { n, k: 0 }
    }
}

impl Iterator for Sweep {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.n < 2 {
            return None;
        }
        let at = self.k % (2 * self.n);
        self.k += 1;
        Some(if at < self.n { at } else { 2 * self.n - 1 - at })
    }
}

/// The extra entries, the counters' baseline and what was timed so far.
struct Calibration {
    counts: Vec<u64>,
    extra: MapChurn,
    /// `vm_map_entries` and (macOS) `mach_msg_regions` with no extra entry.
    baseline: (u64, Option<u64>),
    /// What they grew by at the largest count, at its last visit.
    at_max: (u64, Option<u64>),
    /// `(extra entries, µs in fork(), µs until reaped)` of every timed fork.
    samples: Vec<(f64, f64, f64)>,
    /// Forks timed at each count.
    forks: Vec<u32>,
}

impl Calibration {
    fn new(counts: &[u64], merge: bool) -> anyhow::Result<Calibration> {
        let max = counts.last().copied().unwrap_or(0);
        let capacity = usize::try_from(max).context("--calibrate-max: too large for this system")?;
        let baseline = read_counts()?;
        let visits_bound = counts.len() * (FORKS_PER_COUNT as usize + 2 * FORKS_PER_VISIT as usize);
        let extra = MapChurn::leak_like(capacity, "--calibrate");
        Ok(Calibration {
            counts: counts.to_vec(),
            extra: if merge { extra.merging() } else { extra },
            baseline,
            at_max: (0, None),
            // Reserved up front, so that bookkeeping maps nothing mid-run.
            samples: Vec::with_capacity(visits_bound * 2),
            forks: vec![0; counts.len()],
        })
    }

    /// One visit of count `i`: the extra entries made (or unmapped) to that
    /// count, checked with the counters, then [`FORKS_PER_VISIT`] forks timed.
    fn visit(&mut self, i: usize) -> anyhow::Result<()> {
        let n = self.counts[i];
        self.extra.resize(n as usize)?;
        let (entries, mach_msg) = read_counts()?;
        let added = entries.saturating_sub(self.baseline.0);
        check("vm_map_entries", n, added)?;
        let added_msg = match (mach_msg, self.baseline.1) {
            (Some(now), Some(base)) => {
                let added = now.saturating_sub(base);
                check("mach_msg_regions", n, added)?;
                Some(added)
            }
            _ => None,
        };
        if i == self.counts.len() - 1 {
            self.at_max = (added, added_msg);
        }
        for _ in 0..FORKS_PER_VISIT {
            let (fork, reaped) = self.fork_once()?;
            self.samples.push((n as f64, fork, reaped));
        }
        self.forks[i] += FORKS_PER_VISIT;
        Ok(())
    }

    /// One fork, timed in the parent from the call to its return there;
    /// the child is reaped after that clock stopped. Microseconds, and
    /// microseconds from the call until the child was reaped.
    fn fork_once(&mut self) -> anyhow::Result<(f64, f64)> {
        let t0 = Instant::now();
        // SAFETY: this process is single-threaded (test_fork_sleep starts no
        // thread), so the child starts with consistent state; the child calls
        // only _exit (async-signal-safe) and never returns, so no destructor
        // and no allocation runs in it.
        let pid = match unsafe { childpid::fork() } {
            Err(e) => bail!("--calibrate: fork with {} extra entries: {e}", self.extra.added()),
            // SAFETY: _exit ends the child at once, as the contract of fork asks.
            Ok(Forked::Child) => unsafe { libc::_exit(0) },
            Ok(Forked::Parent(pid)) => pid,
        };
        let us = t0.elapsed().as_secs_f64() * 1e6;
        loop {
            match pid.waitpid(None) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("--calibrate: waitpid {pid}: {e}"),
                Ok(_) => return Ok((us, t0.elapsed().as_secs_f64() * 1e6)),
            }
        }
    }

    /// The record: the median and minimum at every count, the slope over
    /// every fork (`timing::calibration`), the counters' check.
    fn record(&self, max: u64, started_unix: f64, elapsed: f64) -> CalibrationRecord {
        let mut verified = vec![Verified {
            counter: "vm_map_entries".into(),
            baseline: self.baseline.0,
            added: self.at_max.0,
        }];
        if let (Some(baseline), Some(added)) = (self.baseline.1, self.at_max.1) {
            verified.push(Verified {
                counter: "mach_msg_regions".into(),
                baseline,
                added,
            });
        }
        CalibrationRecord::new(&self.samples, max, &entry_words(), verified, started_unix, elapsed)
    }
}

/// `vm_map_entries` and, on macOS, `mach_msg_regions` now; an error where
/// the map cannot be counted (the entries cannot be verified).
fn read_counts() -> anyhow::Result<(u64, Option<u64>)> {
    match probes::resources::map_counts() {
        (Some(entries), mach_msg) => Ok((entries, mach_msg)),
        (None, _) => bail!("--calibrate: cannot count this process's map entries here, so cannot verify them"),
    }
}

/// The added entries must be `n` within 1 % (at 0 there is nothing to
/// verify: the baseline itself moves by an entry or two as the allocator
/// maps and unmaps).
fn check(counter: &str, n: u64, added: u64) -> anyhow::Result<()> {
    if n > 0 && added.abs_diff(n) * 100 > n {
        bail!(
            "--calibrate: {n} extra allocations added {added} to {counter}, not {n} within 1 %: \
             they merged, or the counter does not see them"
        );
    }
    Ok(())
}

/// What one extra entry is, for the record.
fn entry_words() -> String {
    let tag = if cfg!(target_os = "macos") {
        ", tagged VM_MEMORY_MACH_MSG (20) as the leaked thread arrays"
    } else {
        ""
    };
    format!(
        "one private anonymous mapping of one page ({} bytes), written so it is resident, \
         neighbours of alternating protections (read-write, read-only) so none merges{tag}",
        probes::page_size()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_visited_up_and_down() {
        let order: Vec<usize> = Sweep::new(3).take(9).collect();
        assert_eq!(order, [0, 1, 2, 2, 1, 0, 0, 1, 2]);
        assert_eq!(Sweep::new(1).next(), None);
    }

    #[test]
    fn the_count_check_allows_one_percent() {
        assert!(check("vm_map_entries", 16000, 16000).is_ok());
        assert!(check("vm_map_entries", 16000, 16160).is_ok());
        assert!(check("vm_map_entries", 16000, 15840).is_ok());
        let e = check("vm_map_entries", 16000, 8000).unwrap_err().to_string();
        assert!(
            e.starts_with("--calibrate: 16000 extra allocations added 8000 to vm_map_entries"),
            "{e}"
        );
        assert!(check("vm_map_entries", 16000, 16161).is_err());
        assert!(check("vm_map_entries", 0, 0).is_ok());
    }
}
