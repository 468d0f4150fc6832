//! `report --upstream cpython|sage`: the runs turned into Markdown ready to
//! file: a CPython issue ([`cpython`]: one screen a triager reads first,
//! then the rest folded) or a comment for sagemath/sage#39960 ([`sage`]:
//! the cause in three sentences, the Mac rows, the workaround with its
//! limits, a link to the CPython report).
//!
//! Nothing is measured or judged here: which rows, in what order, and what
//! they show are `report_judge::upstream`'s decisions, every number what the
//! tables of `report` compute (the `drift` verdict with its growth per
//! earlier fork, `findings::per_fork`, `findings::predicts_leak`). What is
//! claimed depends on where the rows come from: a text with no row from a
//! Mac says at its top that it is not yet confirmed on macOS and claims
//! nothing for it.
//!
//! Two rules hold for every sentence: a clause with nothing to say (a count
//! of zero, an interval of one number) is left out, and a reference to
//! another project is written `owner/repo#N` (a bare `#N` would link to an
//! issue of the project the text is filed in).
//!
//! The code locations were read in CPython's `Modules/posixmodule.c` of
//! 3.11.11, 3.12.5, 3.13.0, 3.13.15, 3.14.7 and `main` at 001d212d; keep
//! [`LOCATIONS`] to what was checked.

mod cpython;
mod sage;

pub use cpython::cpython;
pub use sage::sage;

use crate::escape::{markdown_cell as cell, markdown_code, markdown_text as text};
use crate::findings::per_fork;
use crate::markdown::{estimate, first_last};
use report_judge::upstream::{forks, what_ran, MacSummary, Provenance, Row};
use report_judge::Judged;
use report_read::repro;
use report_read::run::{Run, SourceKind};

/// Where CPython counts threads after a fork, per version, as checked in
/// each version's `Modules/posixmodule.c`: (versions, where the calls sit,
/// when it runs). In every version the three callers are `os_fork_impl`,
/// `os_fork1_impl` and `os_forkpty_impl`, in the parent (also when `fork()`
/// failed), and nothing that `task_for_pid()` and `task_threads()` return is
/// deallocated. The 3.13 split is where gh-137109 sits in `Misc/NEWS` of
/// 3.13.15: under 3.13.10. CPython's own pull requests are `GH-N`, as its
/// commit messages write them.
pub const LOCATIONS: [(&str, &str, &str); 5] = [
    ("3.11 (checked: 3.11.11)", "none: no thread count after a fork", "-"),
    (
        "3.12 (checked: 3.12.5)",
        "`warn_about_fork_with_threads()` (gh-100228)",
        "before `PyOS_AfterFork_Parent()`",
    ),
    (
        "3.13.0 to 3.13.9 (checked: 3.13.0)",
        "`warn_about_fork_with_threads()`",
        "after `PyOS_AfterFork_Parent()`",
    ),
    (
        "3.13.10 and later (checked: 3.13.15)",
        "`get_number_of_os_threads()`, since the gh-137109 refactor; its count is then passed to \
         `warn_about_fork_with_threads()`",
        "before `PyOS_AfterFork_Parent()`",
    ),
    (
        "3.14 (checked: 3.14.7) and `main` (checked: 001d212d)",
        "`get_number_of_os_threads()`, as in 3.13.10 (gh-137109: GH-141438 on `main`, GH-141614 on 3.14)",
        "before `PyOS_AfterFork_Parent()`",
    ),
];

/// The control as a Sage user types it (`docs/experiment.md`, section 3):
/// `os.fork` replaced by the same steps without the thread count.
pub const WORKAROUND: &str = r#"import ctypes, os
_api, _libc = ctypes.pythonapi, ctypes.PyDLL(None, use_errno=True)
def _fork():
    _api.PyOS_BeforeFork()
    pid = _libc.fork()
    if pid == 0:
        _api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    _api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, os.strerror(err))
    return pid
os.fork = _fork"#;

/// The limits of [`WORKAROUND`], in one paragraph.
const LIMITS: &str = "Its limits: it skips `os.fork`'s audit event and its DeprecationWarning for forking a \
    multi-threaded process (the hazard stays: a child of a multi-threaded parent may deadlock), and \
    CPython 3.12+'s refusal to fork during finalization or from an isolated subinterpreter; it replaces \
    `os.fork` for the whole session, `multiprocessing`'s fork start method included. It is a stop-gap \
    until a CPython release ships the deallocations.";

/// Where the same missing deallocations were fixed (docs/mechanism.md),
/// each `owner/repo#N`.
const FIXED_ELSEWHERE: &str = "htop-dev/htop#2015, performancecopilot/pcp#2606, giampaolo/psutil#178 and \
    giampaolo/psutil#333, benfred/remoteprocess#3, jhpratt/num_threads#16 and dotnet/runtime#70338";

/// What the run did after each fork, in words.
fn after_fork(run: &Run) -> String {
    let f = &run.factors;
    if let Some(check) = &f.post_fork_check {
        return match check.as_str() {
            "leak" => "CPython's count, nothing freed (`--post-fork-check leak`)".into(),
            "free" => "the count, then the fix's deallocations (`--post-fork-check free`)".into(),
            _ => "no count (`--post-fork-check off`)".into(),
        };
    }
    let mut s = match f.os_fork.as_deref() {
        Some("without thread count") => "the control: `os.fork` without the thread count".to_string(),
        Some(_) => "`os.fork`".to_string(),
        None => "-".to_string(),
    };
    if f.standin_leak == Some(true) {
        s += " + the Linux stand-in leak";
    }
    s
}

/// The OS of a row: a record's own system label (with the macOS build)
/// where the machine column does not already show it.
fn os_of<'a>(row: &Row<'a>) -> &'a str {
    let r = row.run;
    if r.kind == SourceKind::Record && !r.machine.is_empty() && r.machine != row.machine {
        &r.machine
    } else {
        &r.os_arch
    }
}

/// `+16.0 KiB` per fork of the parent's footprint, where read.
fn footprint(run: &Run) -> String {
    run.growth_per_fork("phys_footprint_bytes")
        .filter(|&(_, forks)| forks > 0)
        .map_or("-".into(), |(b, _)| format!("{:+.1} KiB", b / 1024.0))
}

fn us_per_earlier_fork(run: &Run) -> String {
    estimate(run.verdict().growth.and_then(|g| g.us_per_job_per_earlier_fork))
}

/// The map entries a run gains per fork, `None` where not counted.
fn entries_per_fork(run: &Run) -> Option<String> {
    Some(per_fork(run, "vm_map_entries")).filter(|v| v != "-")
}

/// The table of every measured row.
fn table(rows: &[&Row<'_>]) -> String {
    let mut out = String::from(
        "| machine | OS, arch | CPython | run | after each fork | forks | verdict \
         | µs per fork per earlier fork (95 % CI) | map entries per fork | mach_msg_regions per fork \
         | footprint per fork | parent sys per bar() first -> last |\n\
         |---|---|---|---|---|--:|---|--:|--:|--:|--:|--:|\n",
    );
    for row in rows {
        let r = row.run;
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(row.machine),
            cell(os_of(row)),
            cell(r.factors.python.as_deref().unwrap_or("- (port)")),
            cell(&format!("{} ({})", r.base, r.source)),
            after_fork(r),
            forks(r),
            r.verdict().verdict,
            us_per_earlier_fork(r),
            per_fork(r, "vm_map_entries"),
            per_fork(r, "mach_msg_regions"),
            footprint(r),
            first_last(&r.bars, |b| b.sys),
        );
    }
    out
}

/// One sentence on one Mac run, under the table of every row: its build
/// and what it shows. The place for anything more to say of a single run.
fn run_sentence(row: &Row<'_>) -> String {
    let r = row.run;
    let mut s = format!("`{}`", text(what_ran(r)));
    if let Some(python) = &r.factors.python {
        s += &format!(", CPython {}", text(python));
    }
    s += &format!(", {}", after_fork(r));
    if let Some(build) = repro::build(r) {
        s += &format!(", build `{}`", text(build));
    }
    s += &format!(": {} over {} forks", r.verdict().verdict, forks(r));
    if let Some(e) = entries_per_fork(r) {
        s += &format!(", {e} map entries per fork");
    }
    s + "."
}

/// The machines of `rows`, each once, in order.
fn machines_of(rows: &[&Row<'_>]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for row in rows {
        if !names.contains(&row.machine) {
            names.push(row.machine);
        }
    }
    names.iter().map(|n| markdown_code(n)).collect::<Vec<_>>().join(", ")
}

/// `1 row comes` / `3 rows come`.
fn rows_come(n: usize) -> String {
    if n == 1 {
        "row comes".into()
    } else {
        format!("{n} rows come")
    }
}

/// The plain statement of which rows come from a Mac.
fn provenance(rows: &[Row<'_>], what: &str) -> String {
    let Provenance { mac, other, unknown } = Provenance::of(rows);
    let unknown = match unknown {
        0 => String::new(),
        n if n == other.len() => " (of an OS the input does not name)".into(),
        n => format!(" ({n} of them of an OS the input does not name)"),
    };
    if rows.is_empty() {
        return format!(
            "> **Not yet confirmed on macOS.** The input holds no fork-per-job run, so this {what} has no \
             row at all and claims nothing for macOS.\n"
        );
    }
    if mac.is_empty() {
        let runs = match rows.len() {
            1 => "The one fork-per-job run of the input does not come".to_string(),
            n => format!("None of the {n} fork-per-job runs of the input comes"),
        };
        return format!(
            "> **Not yet confirmed on macOS.** {runs} from a Mac: they come from {}{unknown}. Off macOS \
             CPython counts threads without Mach calls (on Linux by reading `/proc/self/stat`), which leaks \
             nothing, so these rows test the \
             measuring chain (with a stand-in leak), not the cause, and this {what} claims nothing for macOS. \
             Give `report` a Mac's `ci/diagnose.sh` output (its `diagnose.md`) before posting it.\n",
            machines_of(&other)
        );
    }
    let mut s = format!(
        "> **Rows from a Mac: {} of {}**, from {}.",
        mac.len(),
        rows.len(),
        machines_of(&mac)
    );
    if !other.is_empty() {
        let other_rows = if other.len() == 1 {
            "The other row comes".to_string()
        } else {
            format!("The other {}", rows_come(other.len()))
        };
        s += &format!(
            " {other_rows} from {}{unknown}: they test the measuring chain only.",
            machines_of(&other)
        );
    }
    s + "\n"
}

/// `N runs` with the verb for them: `1 run drifts`, `2 runs drift`.
fn counted(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Sentences on the Mac rows of CPython as it is (and the port): which of
/// those the leak predicts to drift do, and which of those predicted flat
/// stay flat; first the exact evidence, the map entries per fork against
/// the prediction. Each clause only where it has runs to count.
fn mac_summary(rows: &[&Row<'_>]) -> String {
    let MacSummary {
        leaky,
        drifting,
        growth_range,
        flat,
        stay,
        against,
        ok,
        refuted,
        unmeasured,
    } = MacSummary::of(rows);
    let mut out = String::new();
    // The exact evidence first: map entries per fork against the prediction.
    let measured = ok + refuted.len();
    if measured > 0 {
        let not = if unmeasured > 0 {
            format!("; {} not measured", counted(unmeasured, "run", "runs"))
        } else {
            String::new()
        };
        out += &if refuted.is_empty() {
            format!(
                "On the Macs below, {} gain the map entries per fork the leak predicts (at least +0.9 where it \
                 leaks, at most +0.1 elsewhere){not}. ",
                match measured {
                    1 => "the one run measured".to_string(),
                    2 => "both runs measured".to_string(),
                    n => format!("all {n} runs measured"),
                }
            )
        } else {
            let as_predicted = match ok {
                0 => String::new(),
                n => {
                    format!("{n} of the {measured} runs measured gain the map entries per fork the leak predicts, and ")
                }
            };
            format!(
                "On the Macs below, {as_predicted}{} not: {}{not}. ",
                counted(refuted.len(), "does", "do"),
                refuted.iter().map(|r| text(r)).collect::<Vec<_>>().join("; ")
            )
        };
    }
    let mut timing = Vec::new();
    if leaky > 0 {
        let range = match growth_range {
            Some((lo, hi)) if format!("{lo:.3}") == format!("{hi:.3}") => {
                format!(" (+{lo:.3} µs per fork per earlier fork)")
            }
            Some((lo, hi)) => format!(" (+{lo:.3} to +{hi:.3} µs per fork per earlier fork)"),
            None => String::new(),
        };
        let those = "that the leak predicts to drift (CPython 3.12+ with the real `os.fork`, the port's `leak`)";
        timing.push(match drifting {
            0 if leaky == 1 => format!("the one run {those} does not drift"),
            0 => format!("none of the {leaky} runs {those} drifts"),
            d if d == leaky && leaky == 1 => format!("the one run {those} drifts{range}"),
            2 if leaky == 2 => format!("both runs {those} drift{range}"),
            d if d == leaky => format!("all {leaky} runs {those} drift{range}"),
            d => format!("{d} of the {leaky} runs {those} drift{range}"),
        });
    }
    if flat > 0 {
        let those = "predicted flat (CPython 3.11, the control, the port's `off` and `free`)";
        let what = match (stay, against) {
            (s, 0) if s == flat => "show no drift".to_string(),
            (0, a) if a == flat => "drift".to_string(),
            (s, 0) => format!("{s} show no drift"),
            (0, a) => format!("{a} drift"),
            (s, a) => format!("{s} show no drift and {a} drift"),
        };
        timing.push(match (flat, stay + against == flat) {
            (1, _) if stay == 1 => format!("the one run {those} shows no drift"),
            (1, _) if against == 1 => format!("the one run {those} drifts"),
            (2, true) if stay == 2 || against == 2 => format!("both runs {those} {what}"),
            (_, true) if stay == flat || against == flat => format!("all {flat} runs {those} {what}"),
            _ => format!("of the {flat} runs {those}, {what}"),
        });
    }
    if !timing.is_empty() {
        out += &format!("Their timing: {}.", timing.join("; "));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use timing::extra_lines::signed;

    /// A fork-per-job original, one map entry per fork when it drifts.
    pub(crate) fn run(python: &str, os_fork: &str, os: &str, drift: bool) -> Run {
        let mut r = crate::findings::tests::run(python, os_fork, false, drift, os);
        // 400 entries a chunk of 100 calls x 4 forks.
        let entries = (0..20).map(|i| 100.0 + if drift { 400.0 * f64::from(i) } else { 0.0 });
        r.counters = vec![("vm_map_entries".into(), entries.collect())];
        r
    }

    /// A clause with nothing to say: a count of zero before a verb, or an
    /// interval whose ends read the same.
    /// A clause with nothing to say in the prose of `text` (its fenced
    /// code left out): a count of zero before a verb, or an interval whose
    /// ends read the same.
    pub(crate) fn empty_clause(text: &str) -> Option<String> {
        const AFTER_ZERO: [&str; 8] = ["show", "shows", "drift", "drifts", "predicted", "of", "do", "such"];
        let prose: String = text.split("```").step_by(2).collect::<Vec<_>>().join(" ");
        let words: Vec<&str> = prose.split_whitespace().collect();
        words
            .windows(3)
            .find(|w| {
                let bare = |s: &str| s.trim_matches(|c: char| "(),;.:".contains(c)).to_string();
                let same = w[1] == "to" && bare(w[0]) == bare(w[2]);
                let zero = bare(w[0]) == "0" && AFTER_ZERO.contains(&bare(w[1]).as_str());
                same || zero
            })
            .map(|w| w.join(" "))
    }

    #[test]
    fn an_interval_of_one_number_is_the_number() {
        let e = |value, low, high| drift::Estimate { value, low, high };
        assert_eq!(estimate(Some(e(0.2, 0.2, 0.2))), signed(0.2));
        assert_eq!(
            estimate(Some(e(0.2, 0.1, 0.3))),
            format!("{} ({} to {})", signed(0.2), signed(0.1), signed(0.3))
        );
        assert_eq!(estimate(None), "-");
    }

    #[test]
    fn the_workaround_is_the_control_of_the_docs() {
        let docs = include_str!("../../../docs/experiment.md");
        assert!(docs.contains(WORKAROUND), "docs/experiment.md and WORKAROUND differ");
    }

    #[test]
    fn the_references_elsewhere_are_those_of_the_docs() {
        let docs = include_str!("../../../docs/mechanism.md")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            docs.contains(FIXED_ELSEWHERE),
            "docs/mechanism.md and FIXED_ELSEWHERE differ"
        );
    }
}
