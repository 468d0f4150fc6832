//! `report --upstream cpython|sage`: the runs turned into Markdown ready to
//! file: a CPython issue (title, what happens, the stdlib-only reproducer
//! and its output, the measured rows, where the code is per version, the
//! fix and the evidence that it works) or a comment for sagemath/sage#39960
//! (the cause in three sentences, the Mac rows, the workaround with its
//! limits, a link to the CPython report).
//!
//! Nothing is measured or judged here: which rows, in what order, and what
//! they show are `report_judge::upstream`'s decisions, every number what the
//! tables of `report` compute (the `drift` verdict with its growth per
//! earlier fork, `findings::per_fork`, `findings::predicts_leak`). What is
//! claimed depends on where the rows come from: a report with no row from a
//! Mac says at its top that it is not yet confirmed on macOS and claims
//! nothing for it.
//!
//! The code locations were read in CPython's `Modules/posixmodule.c` of
//! 3.11.11, 3.12.5, 3.13.0, 3.13.15, 3.14.7 and `main` at 001d212d; keep
//! [`LOCATIONS`] to what was checked.

use crate::escape::{markdown_cell as cell, markdown_code, markdown_text as text};
use crate::findings::per_fork;
use crate::markdown::{estimate, first_last};
use report_judge::upstream::{control, forks, from_a_mac, rows, Evidence, MacSummary, Provenance, Row};
use report_judge::Judged;
use report_read::repro;
use report_read::run::{Run, SourceKind};

/// Where CPython counts threads after a fork, per version, as checked in
/// each version's `Modules/posixmodule.c`: (versions, where the calls sit,
/// when it runs). In every version the three callers are `os_fork_impl`,
/// `os_fork1_impl` and `os_forkpty_impl`, in the parent (also when `fork()`
/// failed), and nothing that `task_for_pid()` and `task_threads()` return is
/// deallocated. The 3.13 split is where gh-137109 sits in `Misc/NEWS` of
/// 3.13.15: under 3.13.10.
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
        "`get_number_of_os_threads()`, as in 3.13.10 (gh-137109: PR #141438 on main, #141614 on 3.14)",
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

/// The fix in words: the calls of `upstream/cpython/*.patch`, in their order,
/// which are `probes::postfork`'s `Release::All`.
const FIX: &str = "In the `__APPLE__` branch, `task_threads(mach_task_self(), &threads, &n)` \
    (no `task_for_pid()`: `mach_task_self()` is already a send right to the task), then each of the `n` \
    thread ports `mach_port_deallocate(mach_task_self(), threads[i])`'d and the array \
    `vm_deallocate(mach_task_self(), (vm_address_t)threads, n * sizeof(thread_act_t))`'d with its size.";

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

/// The table of measured rows.
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

/// The plain statement at the top: which rows come from a Mac.
fn provenance(rows: &[Row<'_>], what: &str) -> String {
    let Provenance { mac, other, unknown } = Provenance::of(rows);
    let unknown = if unknown > 0 {
        format!(" ({unknown} of them of an OS the input does not name)")
    } else {
        String::new()
    };
    if rows.is_empty() {
        return format!(
            "> **Not yet confirmed on macOS.** The input holds no fork-per-job run, so this {what} has no \
             row at all and claims nothing for macOS.\n"
        );
    }
    if mac.is_empty() {
        return format!(
            "> **Not yet confirmed on macOS.** None of the {} fork-per-job runs of the input comes from a \
             Mac: they come from \
             {}{unknown}. There CPython counts threads by reading `/proc/self/stat`, which leaks nothing, so \
             these rows test the measuring chain (with a stand-in leak), not the cause, and this {what} claims \
             nothing for macOS. Give `report` a Mac's `ci/diagnose.sh` output (its `diagnose.md`) before \
             posting it.\n",
            rows.len(),
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
        s += &format!(
            " The other {} rows come from {}{unknown}: they test the measuring chain only.",
            other.len(),
            machines_of(&other)
        );
    }
    s + "\n"
}

/// One sentence on the Mac rows: which of those the leak predicts to drift
/// do, and which of those predicted flat stay flat.
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
    let range = match growth_range {
        Some((lo, hi)) => format!(" (+{lo:.3} to +{hi:.3} µs per fork per earlier fork)"),
        None => String::new(),
    };
    // The exact evidence first: map entries per fork against the prediction.
    let mechanism = match refuted.len() {
        0 => format!(
            "On the Macs below, {ok} of the {} runs measured gain the map entries per fork the leak predicts \
             (at least +0.9 where it leaks, at most +0.1 elsewhere){}. ",
            ok,
            if unmeasured > 0 {
                format!("; {unmeasured} not measured")
            } else {
                String::new()
            }
        ),
        n => format!(
            "On the Macs below, {ok} of the {} runs measured gain the map entries per fork the leak predicts, \
             and {n} do not: {}. ",
            ok + n,
            refuted.iter().map(|r| text(r)).collect::<Vec<_>>().join("; ")
        ),
    };
    format!(
        "{mechanism}Their timing: {drifting} of the {} runs that the leak predicts to drift (CPython 3.12+ with the \
         real `os.fork`, the port's `leak`) drift{range}; of the {} predicted flat (CPython 3.11, the control, \
         the port's `off` and `free`), {stay} show no drift and {against} drift.",
        leaky, flat
    )
}

/// The reproducer section: the script, and its output from the input.
fn reproducer(rows: &[Row<'_>]) -> String {
    let mut out = format!(
        "#### Reproducer (stdlib only)\n\n`{}`: forks in batches, one child at a time, with `os.fork` and with \
         a control that skips only the thread count, each in a fresh interpreter, and prints per batch the \
         time per fork, the parent's system time and the map entries each interpreter counts in itself \
         (`task_info(TASK_VM_INFO)` and the `VM_MEMORY_MACH_MSG` regions on macOS, `vmmap -summary` before \
         and after as a witness; `/proc/self/maps` on Linux), then what one more map entry costs a fork \
         there.\n\n<details><summary>fork_repro.py\
         </summary>\n\n```python\n{}\n```\n\n</details>\n\n",
        repro::SCRIPT,
        repro::TEXT.trim_end()
    );
    let ran: Vec<&Row<'_>> = rows.iter().filter(|r| r.run.kind == SourceKind::Reproducer).collect();
    if ran.is_empty() {
        out += "Its output: none among the inputs of this report (run it, save its output and give the file \
                to `report`).\n\n";
        return out;
    }
    out += "Its output on the machines of this report:\n\n| machine | OS, arch | CPython | fork | batches x forks \
            | µs per fork, first batch -> last | µs per fork per earlier fork (95 % CI) | map entries per fork \
            | Mach message regions per fork | verdict |\n|---|---|---|---|---|--:|--:|--:|--:|---|\n";
    for row in ran {
        let r = row.run;
        let per = |p: Option<&report_read::Point>| p.map_or("-".into(), |p| format!("{:.1}", p.cost_per_job * 1e6));
        out += &format!(
            "| {} | {} | {} | {} | {} x {} | {} -> {} | {} | {} | {} | {} |\n",
            cell(row.machine),
            cell(&r.os_arch),
            cell(r.factors.python.as_deref().unwrap_or("-")),
            cell(&report_read::repro::fork_label(r)),
            r.points.len(),
            r.points.first().map_or(0, |p| p.calls),
            per(r.points.first()),
            per(r.points.last()),
            us_per_earlier_fork(r),
            per_fork(r, "vm_map_entries"),
            per_fork(r, "mach_msg_regions"),
            r.verdict().verdict,
        );
    }
    out + "\n"
}

/// The versions of CPython among the Mac rows, `3.11, 3.12`.
fn mac_versions(rows: &[&Row<'_>]) -> String {
    let mut v: Vec<String> = rows.iter().filter_map(|r| r.run.factors.python_minor()).collect();
    v.sort_by_key(|m| m.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>());
    v.dedup();
    text(&v.join(", "))
}

/// The CPython issue, ready to file.
pub fn cpython(runs: &[Run], machines: &[String]) -> String {
    let rows = rows(runs, machines);
    let mac = from_a_mac(&rows);
    let all: Vec<&Row<'_>> = rows.iter().collect();
    let draft = if mac.is_empty() {
        "[draft: not yet confirmed on macOS] "
    } else {
        ""
    };
    let mut out = format!(
        "**Title:** {draft}os.fork() on macOS leaks the thread array and ports of task_threads(): every later \
         fork is slower (CPython 3.12+)\n\n{}\n# Bug report\n\n### Bug description:\n\n",
        provenance(&rows, "report")
    );
    out += "On macOS, CPython 3.12 and later count the process's threads in the parent after every \
            `os.fork()` (and `os.fork1()`, `os.forkpty()`), to warn about forking a multi-threaded process. \
            The count calls `task_for_pid(mach_task_self(), getpid(), &task)` and \
            `task_threads(task, &threads, &n)` and deallocates nothing: the out-of-line thread array, which \
            the kernel allocated in the process's map (tagged `VM_MEMORY_MACH_MSG`), stays mapped, and the \
            send rights to the thread ports and to the task port keep one more user reference each. \
            CPython 3.11 does not count threads; on Linux the count reads `/proc/self/stat` and leaves \
            nothing behind.\n\n";
    out += &if mac.is_empty() {
        "What it should cause (not yet measured on a Mac): one more VM map entry in the parent per fork; \
         `fork()` copies every entry of the parent's map (`vm_map_fork` in XNU's `osfmk/vm/vm_map.c`), so \
         each fork should cost a little more than the one before, and a program that forks once per job \
         (SageMath's `@parallel`, sagemath/sage#39960) should get slower call after call, with the parent's \
         system time and its memory (a page per fork) growing. Expected: about +1 map entry and +1 \
         `mach_msg_regions` per fork under 3.12+, none under 3.11 or with the fork that skips only the \
         count.\n\n"
            .to_string()
    } else {
        format!(
            "What it causes: one more VM map entry in the parent per fork; `fork()` copies every entry of \
             the parent's map (`vm_map_fork` in XNU's `osfmk/vm/vm_map.c`), so each fork costs a little \
             more than the one before, and a program that forks once per job (SageMath's `@parallel`, \
             sagemath/sage#39960) gets slower call after call, with the parent's system time and its \
             memory growing. {}\n\n",
            mac_summary(&mac)
        )
    };
    out += &reproducer(&rows);
    out += "#### Measurements\n\nEvery fork-per-job run of the input: the originals of sagemath/sage#39960 \
            (`test_pyparallel_sleep.py`, a pure-Python emulation of `@parallel`, and Sage's own `@parallel` \
            where Sage ran) under each CPython, with the real `os.fork` and with the control (`os.fork` \
            replaced by `PyOS_BeforeFork()`, `fork()`, then `PyOS_AfterFork_Child()` or \
            `PyOS_AfterFork_Parent()`, through `ctypes`: everything but the thread count), the reproducer, \
            and a Rust port that makes CPython's calls after each fork or not. The growth per earlier fork \
            is the Theil-Sen slope of the time per fork with its 95 % interval; the counters are read in \
            the forking process after every chunk.\n\n";
    out += &if all.is_empty() {
        "No fork-per-job run in the input.\n\n".to_string()
    } else {
        table(&all) + "\n"
    };
    out += "#### Where the code is\n\n`Modules/posixmodule.c`, called from `os_fork_impl`, `os_fork1_impl` \
            and `os_forkpty_impl` in the parent (also when `fork()` failed); in no version is anything that \
            `task_for_pid()` or `task_threads()` returned deallocated.\n\n\
            | CPython | the `__APPLE__` count is in | runs |\n|---|---|---|\n";
    for (versions, place, when) in LOCATIONS {
        out += &format!("| {versions} | {place} | {when} |\n");
    }
    out += "\n";
    out += &format!(
        "#### Proposed fix\n\n{FIX} The patch is in `upstream/cpython/` (`*.patch`) in the repository of the \
         suite that made this report. The same pattern was fixed in htop (#2015), PCP \
         (#2606), psutil (#333) and num_threads (#16).\n\n"
    );
    out += &evidence(&rows);
    let versions = mac_versions(&mac);
    out += &format!(
        "### CPython versions tested on:\n\n{}\n\n### Operating systems tested on:\n\n{}\n",
        if versions.is_empty() {
            "none on macOS yet".into()
        } else {
            versions
        },
        if mac.is_empty() {
            "Linux only (the measuring chain), not yet macOS"
        } else {
            "macOS"
        }
    );
    out
}

/// The evidence that the fix works: the port's `free` rows beside `leak`.
fn evidence(rows: &[Row<'_>]) -> String {
    let mut out = String::from(
        "#### Evidence that the fix works\n\nThe suite's Rust port (`test_fork_sleep`) makes, after every \
         fork, CPython's calls with `--post-fork-check leak` (`task_for_pid` + `task_threads`, nothing \
         freed) and the same calls followed by the patch's three deallocations, in the same order, with \
         `--post-fork-check free`; `off` makes no count.",
    );
    let (shown, mac) = match Evidence::of(rows) {
        Evidence::None => return out + " No such run in the input.\n\n",
        Evidence::NotFromAMac(rows) => (rows, false),
        Evidence::FromAMac(rows) => (rows, true),
    };
    if !mac {
        out += " No such run from a Mac in the input: on Linux both read `/proc/self/stat`, so the rows below \
                say nothing about the fix.";
    } else {
        out += " Fixed means: `free` gains no `mach_msg_regions` per fork and shows no drift where `leak` \
                gains one and drifts.";
    }
    out += "\n\n| machine | OS, arch | post-fork check | verdict | µs per fork per earlier fork (95 % CI) \
            | map entries per fork | mach_msg_regions per fork |\n|---|---|---|---|--:|--:|--:|\n";
    for row in &shown {
        let r = row.run;
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            cell(row.machine),
            cell(os_of(row)),
            cell(r.factors.post_fork_check.as_deref().unwrap_or("-")),
            r.verdict().verdict,
            us_per_earlier_fork(r),
            per_fork(r, "vm_map_entries"),
            per_fork(r, "mach_msg_regions"),
        );
    }
    out + "\n"
}

/// The comment for sagemath/sage#39960.
pub fn sage(runs: &[Run], machines: &[String], cpython_issue: Option<&str>) -> String {
    let rows = rows(runs, machines);
    let mac = from_a_mac(&rows);
    let mut out = provenance(&rows, "comment") + "\n";
    out += if mac.is_empty() {
        "**The likely cause** (read from the sources; not yet measured on a Mac). "
    } else {
        "**The cause.** "
    };
    out += "Since Python 3.12, every `os.fork()` counts the parent's threads afterwards, and on macOS it \
            does so with `task_for_pid()` + `task_threads()` without deallocating the thread array they \
            return (CPython's `Modules/posixmodule.c`). So each fork leaves one more entry in the parent's \
            VM map, and `fork()` copies every entry, so each fork costs a little more than the last. \
            `@parallel` forks once per job (`src/sage/parallel/use_fork.py`), so a session's calls get \
            slower and slower, while a `multiprocessing.Pool`, spawn and threads (which fork once or never) \
            stay flat, and so does Sage on Python 3.11.\n\n";
    if mac.is_empty() {
        out += "**Measured on a Mac:** no row yet.\n\n";
    } else {
        out += &format!("**Measured on a Mac.** {}\n\n{}\n", mac_summary(&mac), table(&mac));
    }
    out += &format!(
        "**A workaround until CPython ships the fix.** In the Sage session, before calling an `@parallel` \
         function, replace `os.fork` by the same steps without the thread count:\n\n```python\n{WORKAROUND}\n\
         ```\n\n{LIMITS} {}\n\n",
        control_verdict(&mac)
    );
    out += &match cpython_issue {
        Some(url) => format!("**Upstream:** reported to CPython: {url}\n"),
        None => "**Upstream:** not yet reported to CPython.\n".to_string(),
    };
    out
}

/// What the Mac rows say of the control, in one sentence.
fn control_verdict(mac: &[&Row<'_>]) -> String {
    let Some((runs, flat)) = control(mac) else {
        return "Not yet shown on a Mac to keep the drift away: check it first (`ci/diagnose.sh` runs it as \
                the control)."
            .into();
    };
    format!("On the Macs above it was run as the control: {flat} of {runs} such runs show no drift.")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fork-per-job original, one map entry per fork when it drifts.
    fn run(python: &str, os_fork: &str, os: &str, drift: bool) -> Run {
        let mut r = crate::findings::tests::run(python, os_fork, false, drift, os);
        // 400 entries a chunk of 100 calls x 4 forks.
        let entries = (0..20).map(|i| 100.0 + if drift { 400.0 * f64::from(i) } else { 0.0 });
        r.counters = vec![("vm_map_entries".into(), entries.collect())];
        r
    }

    #[test]
    fn with_no_mac_row_it_says_so_at_the_top_and_claims_nothing() {
        let linux = "Linux, x86_64";
        let runs = vec![run("3.11.7", "real", linux, false), run("3.12.1", "real", linux, false)];
        let machines = vec!["box".to_string(), "box".to_string()];
        let text = cpython(&runs, &machines);
        let top: Vec<&str> = text.lines().take(3).collect();
        assert!(
            top[0].starts_with("**Title:** [draft: not yet confirmed on macOS]"),
            "{text}"
        );
        assert!(
            top[2].starts_with("> **Not yet confirmed on macOS.** None of the 2 fork-per-job runs of the input"),
            "{text}"
        );
        assert!(
            text.contains("What it should cause (not yet measured on a Mac)"),
            "{text}"
        );
        assert!(!text.contains("On the Macs below"), "{text}");
        assert!(text.contains("none on macOS yet"), "{text}");
        let comment = sage(&runs, &machines, None);
        assert!(comment.starts_with("> **Not yet confirmed on macOS.**"), "{comment}");
        assert!(comment.contains("**Measured on a Mac:** no row yet."), "{comment}");
        assert!(comment.contains("not yet reported to CPython"), "{comment}");
    }

    #[test]
    fn mac_rows_come_first_and_are_named_at_the_top() {
        let mac = "macOS 15.5, arm64";
        let runs = vec![
            run("3.12.1", "real", "Linux, x86_64", false),
            run("3.11.9", "real", mac, false),
            run("3.12.5", "without thread count", mac, false),
            run("3.12.5", "real", mac, true),
        ];
        let machines: Vec<String> = ["box", "M2", "M2", "M2"].map(String::from).to_vec();
        let text = cpython(&runs, &machines);
        assert!(text.starts_with("**Title:** os.fork() on macOS"), "{text}");
        assert!(
            text.contains("> **Rows from a Mac: 3 of 4**, from `M2`. The other 1 rows come from `box`"),
            "{text}"
        );
        assert!(
            text.contains("1 of the 1 runs that the leak predicts to drift")
                && text.contains("2 show no drift and 0 drift"),
            "{text}"
        );
        let order: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| M2 |") || l.starts_with("| box |"))
            .map(|l| l.split(" | ").nth(2).unwrap_or(""))
            .collect();
        assert_eq!(order, ["3.11.9", "3.12.5", "3.12.5", "3.12.1"], "{text}");
        assert!(
            text.contains("| DRIFT | ") && text.contains(" | +1.00 | - | - |"),
            "{text}"
        );
        assert!(
            text.contains("### CPython versions tested on:\n\n3.11, 3.12\n"),
            "{text}"
        );
        let comment = sage(&runs, &machines, Some("https://github.com/python/cpython/issues/1"));
        assert!(comment.contains("1 of 1 such runs show no drift"), "{comment}");
        assert!(
            comment.ends_with("reported to CPython: https://github.com/python/cpython/issues/1\n"),
            "{comment}"
        );
    }

    #[test]
    fn the_reproducers_output_from_a_mac_gets_its_table() {
        // As upstream/cpython/fork_repro.py prints it: os.fork beside the control.
        let mut text = String::from(
            "fork_repro: Python 3.12.5 (CPython) on macOS 15.5 (24F74) arm64; 6 batches of 500 forks\n\
             batch  forks | µs per fork       | parent sys (s)    | map entries       | Mach message regions\n",
        );
        for b in 1..=6u32 {
            text += &format!(
                "{b:>5}    500 | {:>8.1}   1000.0 |    0.100    0.100 | {:>8}      400 | {:>8}        2\n",
                1000.0 + 100.0 * f64::from(b),
                400 + 500 * b,
                2 + 500 * b
            );
        }
        text += "fork_repro: os.fork +1.00 map entries per fork, control +0.00: the thread count leaks\n";
        let runs = repro::parse("repro.txt", &text);
        let machines: Vec<String> = runs.iter().map(|r| r.machine.clone()).collect();
        let issue = cpython(&runs, &machines);
        assert!(
            issue.contains("> **Rows from a Mac: 2 of 2**, from `macOS 15.5 (24F74), arm64`."),
            "{issue}"
        );
        let table = issue
            .split("Its output on the machines of this report:")
            .nth(1)
            .expect(&issue);
        let rows: Vec<&str> = table.lines().filter(|l| l.contains(" x 500 | ")).collect();
        assert_eq!(rows.len(), 2, "{table}");
        // +100 µs per fork a batch of 500 forks: +0.2 per earlier fork.
        assert!(
            rows[0].contains("| 3.12.5 | os.fork | 6 x 500 | 1100.0 -> 1600.0 | +0.2 ("),
            "{}",
            rows[0]
        );
        assert!(rows[0].ends_with("| +1.00 | +1.00 | DRIFT |"), "{}", rows[0]);
        assert!(
            rows[1].contains("| 3.12.5 | control | 6 x 500 | 1000.0 -> 1000.0 | "),
            "{}",
            rows[1]
        );
        assert!(rows[1].ends_with("| +0.00 | +0.00 | no drift |"), "{}", rows[1]);
    }

    #[test]
    fn the_workaround_is_the_control_of_the_docs() {
        let docs = include_str!("../../docs/experiment.md");
        assert!(docs.contains(WORKAROUND), "docs/experiment.md and WORKAROUND differ");
    }
}
