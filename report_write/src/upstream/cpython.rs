//! The CPython issue. Its first screen is what a triager reads: a title,
//! five lines (the versions affected, the symptom, the map entries per
//! fork unpatched and patched, the ask, the one command to reproduce), one
//! table of the Mac rows with the patched build beside the unpatched and
//! the control beside the real `os.fork`, then the diff itself. All the
//! rest (the mechanism, the reproducer and its output, every row, where the
//! code is per version, the fix's evidence, the workaround) is folded in
//! `<details>` below it.

use super::{
    entries_per_fork, estimate, mac_summary, provenance, run_sentence, table, us_per_earlier_fork, FIXED_ELSEWHERE,
    LIMITS, LOCATIONS, WORKAROUND,
};
use crate::escape::{markdown_cell as cell, markdown_text as text};
use crate::findings::per_fork;
use report_judge::upstream::{
    forks, from_a_mac, pairs, patched, rows, unpatched, Build, Evidence, Headline, Pair, Row,
};
use report_judge::Judged;
use report_read::run::{Run, SourceKind};
use report_read::{repro, Calibration};
use timing::pyfmt::thousands;

/// The patch, as it would be sent (`upstream/cpython/`, the one `*.patch`).
pub const PATCH: &str = include_str!("../../../upstream/cpython/free-thread-count.patch");

/// The issue's title, under 80 characters with its draft mark.
pub const TITLE: &str = "os.fork() on macOS leaks task_threads() memory: every fork gets slower";

/// The branches the fix is for (upstream/cpython/README.md, checked
/// 2026-12-06): `main` and the bugfix branches.
const BRANCHES: &str = "`main` and the bugfix branches (3.15, 3.14)";

/// The most rows of the first screen's table, which must fit on it.
const SCREEN_ROWS: usize = 12;

/// The fix in words: the calls of [`PATCH`], in their order, which are
/// `probes::postfork`'s `Release::All`.
const FIX: &str = "In the `__APPLE__` branch, `task_threads(mach_task_self(), &threads, &n)` \
    (no `task_for_pid()`: `mach_task_self()` is already a send right to the task), then each of the `n` \
    thread ports `mach_port_deallocate(mach_task_self(), threads[i])`'d and the array \
    `vm_deallocate(mach_task_self(), (vm_address_t)threads, n * sizeof(thread_act_t))`'d with its size.";

/// µs: one decimal from 100 µs up, three significant digits below.
fn us(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        timing::pyfmt::g(x, 3)
    }
}

/// µs per fork of the first point and the last.
fn first_to_last(run: &Run) -> Option<(f64, f64)> {
    Some((
        run.points.first()?.cost_per_job * 1e6,
        run.points.last()?.cost_per_job * 1e6,
    ))
}

fn us_cell(run: Option<&Run>) -> String {
    run.and_then(first_to_last)
        .map_or("-".into(), |(a, b)| format!("{} → {}", us(a), us(b)))
}

fn entries_cell(run: Option<&Run>) -> String {
    run.and_then(entries_per_fork).unwrap_or_else(|| "-".into())
}

/// The five lines under the title.
fn five_lines(mac: &[&Row<'_>]) -> String {
    let h = Headline::of(mac);
    let measured: Vec<String> = {
        let mut v: Vec<String> = unpatched(mac)
            .iter()
            .filter_map(|r| r.run.factors.python_minor())
            .collect();
        v.sort_by_key(|m| m.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>());
        v.dedup();
        v
    };
    let measured = if mac.is_empty() {
        " (read in the sources; not yet measured on a Mac)".to_string()
    } else if measured.is_empty() {
        String::new()
    } else {
        format!(" (measured on a Mac: {})", text(&measured.join(", ")))
    };
    let mut out = format!(
        "- **Affected:** macOS, CPython 3.12 and later, `main` included{measured}; not 3.11, which counts no \
         threads after a fork, nor Linux, which reads `/proc/self/stat`.\n"
    );
    out += &match h.symptom.and_then(|r| Some((r, first_to_last(r)?))) {
        Some((r, (first, last))) => format!(
            "- **Symptom:** each `os.fork()` is slower than the one before: {} µs per fork at first, {} µs \
             after {} forks ({}, CPython {}, {}).\n",
            us(first),
            us(last),
            thousands(forks(r)),
            text(what(r)),
            text(r.factors.python.as_deref().unwrap_or("-")),
            text(&r.os_arch)
        ),
        None if mac.is_empty() => "- **Symptom:** each `os.fork()` slower than the one before, as the parent's \
                                   map gains an entry per fork (not yet timed on a Mac).\n"
            .into(),
        None => "- **Symptom:** each `os.fork()` slower than the one before, as the parent's map gains an entry \
                 per fork (no Mac run of CPython's `os.fork` in the input shows it).\n"
            .into(),
    };
    let mut leak = Vec::new();
    let mut ported = false;
    if let Some(e) = h.symptom.and_then(entries_per_fork) {
        leak.push(format!("{e} VM map entry per fork unpatched"));
    } else if let Some(e) = h.port_leak.and_then(entries_per_fork) {
        leak.push(format!(
            "{e} VM map entry per fork with CPython's calls in a port of the fork loop"
        ));
        ported = true;
    }
    if let Some(e) = h.patched.and_then(entries_per_fork) {
        leak.push(format!("{e} patched (the diff below applied to the same commit)"));
    } else if let Some(e) = h.port_free.and_then(entries_per_fork) {
        let port = if ported { "" } else { " in a port of the fork loop" };
        leak.push(format!("{e} with the diff's calls{port}"));
    }
    if let Some(e) = h.control.and_then(entries_per_fork) {
        leak.push(format!("{e} for the control, `os.fork` without the thread count"));
    }
    out += &if leak.is_empty() {
        "- **Leak:** one VM map entry per fork expected (the thread array `task_threads()` returns); not yet \
         counted on a Mac.\n"
            .to_string()
    } else {
        format!("- **Leak:** {}.\n", leak.join(", "))
    };
    out += &format!(
        "- **Ask:** release what `task_threads()` returns in `Modules/posixmodule.c` (each thread port, then \
         the array): the diff below, for {BRANCHES}.\n"
    );
    out + "- **Reproduce:** `python3 fork_repro.py` (stdlib only, below); its last line gives the map entries \
           per fork of `os.fork` and of the control.\n"
}

/// What ran, in a cell or a sentence: `fork_repro.py`, `Sage @parallel, …`.
fn what(run: &Run) -> &str {
    report_judge::upstream::what_ran(run)
}

/// The first screen's table: the Mac rows of CPython, unpatched beside
/// patched, each setup's control after its real `os.fork`.
fn screen_table(mac: &[&Row<'_>]) -> String {
    let all = pairs(mac);
    if all.is_empty() {
        return if mac.is_empty() {
            "No row from a Mac in the input: `ci/cpython-fix.sh main` on a Mac runs the reproducer under \
             an unpatched and a patched build.\n"
                .into()
        } else {
            "No run of CPython itself among the Mac rows (only the port's; below).\n".into()
        };
    }
    let machines: Vec<&str> = all.iter().map(|p| p.machine).collect();
    let several = machines.iter().any(|m| *m != machines[0]);
    let mut out = String::from(
        "| on a Mac | fork | unpatched: µs per fork, first → last | unpatched: map entries per fork \
         | patched: µs per fork, first → last | patched: map entries per fork |\n\
         |---|---|--:|--:|--:|--:|\n",
    );
    for p in all.iter().take(SCREEN_ROWS) {
        let Pair {
            machine,
            what,
            python,
            control,
            unpatched,
            patched,
        } = p;
        let setup = if several {
            format!("{machine}: {what}, CPython {python}")
        } else {
            format!("{what}, CPython {python}")
        };
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(&setup),
            if *control { "control" } else { "`os.fork`" },
            us_cell(*unpatched),
            entries_cell(*unpatched),
            us_cell(*patched),
            entries_cell(*patched),
        );
    }
    if all.len() > SCREEN_ROWS {
        out += &format!("\n{} more in the table of every row below.\n", all.len() - SCREEN_ROWS);
    }
    out
}

/// A folded section: its summary, then its Markdown.
fn folded(summary: &str, body: &str) -> String {
    format!(
        "<details><summary>{summary}</summary>\n\n{}\n\n</details>\n\n",
        body.trim_end()
    )
}

/// What happens, in words, with what the Mac rows show.
fn what_happens(mac: &[&Row<'_>]) -> String {
    let mut out = String::from(
        "On macOS, CPython 3.12 and later count the process's threads in the parent after every \
         `os.fork()` (and `os.fork1()`, `os.forkpty()`), to warn about forking a multi-threaded process. \
         The count calls `task_for_pid(mach_task_self(), getpid(), &task)` and \
         `task_threads(task, &threads, &n)` and deallocates nothing: the out-of-line thread array, which \
         the kernel allocated in the process's map (tagged `VM_MEMORY_MACH_MSG`), stays mapped, and the \
         send rights to the thread ports and to the task port keep one more user reference each. \
         CPython 3.11 does not count threads; on Linux the count reads `/proc/self/stat` and leaves \
         nothing behind.\n\n",
    );
    out += "So the parent's VM map gains one entry per fork, and `fork()` copies every entry of the \
            parent's map (`vm_map_fork` in XNU's `osfmk/vm/vm_map.c`): each fork costs a little more than \
            the one before, and a program that forks once per job (SageMath's `@parallel`, \
            sagemath/sage#39960) gets slower call after call, with the parent's system time and its memory \
            growing.";
    if mac.is_empty() {
        return out + " None of this is measured on a Mac yet.\n";
    }
    let summary = mac_summary(&unpatched(mac));
    if !summary.is_empty() {
        out += &format!("\n\n{summary}");
    }
    let fixed = patched(mac);
    if !fixed.is_empty() {
        let lines: Vec<String> = fixed.iter().map(|r| run_sentence(r)).collect();
        out += &format!("\n\nUnder the patched build: {}", lines.join(" "));
    }
    out + "\n"
}

/// The reproducer: the script, and its output from the input.
fn reproducer(rows: &[Row<'_>]) -> String {
    let mut out = format!(
        "`{}`: forks in batches, one child at a time, with `os.fork` and with a control that skips only the \
         thread count, each in a fresh interpreter, and prints per batch the time per fork, the parent's \
         system time and the map entries each interpreter counts in itself (`task_info(TASK_VM_INFO)` and \
         the `VM_MEMORY_MACH_MSG` regions on macOS, `vmmap -summary` before and after as a witness; \
         `/proc/self/maps` on Linux), then what one more map entry costs a fork there. \
         `--build-label TEXT` prints the build it ran on in its output.\n\n```python\n{}\n```\n\n",
        repro::SCRIPT.rsplit('/').next().unwrap_or(repro::SCRIPT),
        repro::TEXT.trim_end()
    );
    let ran: Vec<&Row<'_>> = rows.iter().filter(|r| r.run.kind == SourceKind::Reproducer).collect();
    if ran.is_empty() {
        return out + "Its output: none among the inputs of this report.\n";
    }
    out += "Its output on the machines of this report:\n\n| machine | OS, arch | CPython | fork | batches x forks \
            | µs per fork, first batch -> last | µs per fork per earlier fork (95 % CI) | map entries per fork \
            | Mach message regions per fork | verdict |\n|---|---|---|---|---|--:|--:|--:|--:|---|\n";
    for row in ran {
        let r = row.run;
        out += &format!(
            "| {} | {} | {} | {} | {} x {} | {} | {} | {} | {} | {} |\n",
            cell(row.machine),
            cell(&r.os_arch),
            cell(r.factors.python.as_deref().unwrap_or("-")),
            cell(&repro::fork_label(r)),
            r.points.len(),
            r.points.first().map_or(0, |p| p.calls),
            first_to_last(r).map_or("-".into(), |(a, b)| format!("{} -> {}", us(a), us(b))),
            us_per_earlier_fork(r),
            per_fork(r, "vm_map_entries"),
            per_fork(r, "mach_msg_regions"),
            r.verdict().verdict,
        );
    }
    out
}

/// Every row, with the method, the provenance and a sentence per Mac run
/// (with its cost model where its machine's calibration is among the
/// inputs, fork_repro.py's own `fork cost:` line among them).
fn measurements(rows: &[Row<'_>], mac: &[&Row<'_>], calibrations: &[Calibration]) -> String {
    let all: Vec<&Row<'_>> = rows.iter().collect();
    let mut out = provenance(rows, "report") + "\n";
    out += "Every fork-per-job run of the input: the originals of sagemath/sage#39960 \
            (`test_pyparallel_sleep.py`, a pure-Python emulation of `@parallel`, and Sage's own `@parallel` \
            where Sage ran) under each CPython, with the real `os.fork` and with the control (`os.fork` \
            replaced by `PyOS_BeforeFork()`, `fork()`, then `PyOS_AfterFork_Child()` or \
            `PyOS_AfterFork_Parent()`, through `ctypes`: everything but the thread count), the reproducer, \
            and a Rust port that makes CPython's calls after each fork or not. The growth per earlier fork \
            is the Theil-Sen slope of the time per fork with its 95 % interval; the counters are read in \
            the forking process after every chunk.\n\n";
    if all.is_empty() {
        return out + "No fork-per-job run in the input.\n";
    }
    out += &table(&all);
    if !mac.is_empty() {
        out += "\n";
        for row in mac {
            let cost = report_judge::model::model(row.run, row.machine, calibrations);
            let cost = cost.map_or(String::new(), |c| format!(" {}", crate::model::sentence(&c)));
            out += &format!("- {}{cost}\n", run_sentence(row));
        }
    }
    out
}

/// Where the count is, per CPython version.
fn where_the_code_is() -> String {
    let mut out = String::from(
        "`Modules/posixmodule.c`, called from `os_fork_impl`, `os_fork1_impl` and `os_forkpty_impl` in the \
         parent (also when `fork()` failed); in no version is anything that `task_for_pid()` or \
         `task_threads()` returned deallocated.\n\n| CPython | the `__APPLE__` count is in | runs |\n|---|---|---|\n",
    );
    for (versions, place, when) in LOCATIONS {
        out += &format!("| {versions} | {place} | {when} |\n");
    }
    out
}

/// The fix in words, why the simpler call, where the pattern was fixed
/// before, and its evidence: the patched build, then the port's rows.
fn the_fix(rows: &[Row<'_>]) -> String {
    let mut out = format!(
        "{FIX} `proc_pidinfo(getpid(), PROC_PIDTASKINFO, …)` and its `pti_threadnum` would allocate nothing, \
         but `libproc.h` is not on iOS, which compiles this code too. The same missing deallocations were \
         fixed in {FIXED_ELSEWHERE}.\n\n"
    );
    if rows.iter().any(|r| Build::of(r.run).is_patched()) {
        out += "Its evidence from CPython itself: the table at the top, one commit of python/cpython built \
                with and without the diff, each running the reproducer (the runner that builds them passes only \
                when `test_os`, `test_fork1`, `test_threading` and a check of the thread count's warning also \
                pass under the patched build).\n\n";
    }
    out += "A Rust port of the fork loop (`test_fork_sleep`) makes, after every fork, CPython's calls with \
            `--post-fork-check leak` (`task_for_pid` + `task_threads`, nothing freed) and the same calls \
            followed by the patch's deallocations, in the same order, with `--post-fork-check free`; `off` \
            makes no count.";
    let (shown, mac) = match Evidence::of(rows) {
        Evidence::None => return out + " No run of the port in the input.\n",
        Evidence::NotFromAMac(rows) => (rows, false),
        Evidence::FromAMac(rows) => (rows, true),
    };
    out += if mac {
        " Fixed means: `free` gains no `mach_msg_regions` per fork and shows no drift where `leak` gains one \
         and drifts."
    } else {
        " No such run from a Mac in the input: on Linux both read `/proc/self/stat`, so the rows below say \
         nothing about the fix."
    };
    out += "\n\n| machine | OS, arch | post-fork check | verdict | µs per fork per earlier fork (95 % CI) \
            | map entries per fork | mach_msg_regions per fork |\n|---|---|---|---|--:|--:|--:|\n";
    for row in &shown {
        let r = row.run;
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            cell(row.machine),
            cell(super::os_of(row)),
            cell(r.factors.post_fork_check.as_deref().unwrap_or("-")),
            r.verdict().verdict,
            estimate(r.verdict().growth.and_then(|g| g.us_per_job_per_earlier_fork)),
            per_fork(r, "vm_map_entries"),
            per_fork(r, "mach_msg_regions"),
        );
    }
    out
}

/// The CPython issue, ready to file; `calibrations` price its Mac runs.
pub fn cpython(runs: &[Run], machines: &[String], calibrations: &[Calibration]) -> String {
    let rows = rows(runs, machines);
    let mac = from_a_mac(&rows);
    let draft = if mac.is_empty() { "[draft] " } else { "" };
    let mut out = format!("**Title:** {draft}{TITLE}\n\n");
    if mac.is_empty() {
        out += &provenance(&rows, "report");
        out += "\n";
    }
    out += &five_lines(&mac);
    out += "\n";
    out += &screen_table(&mac);
    out += &format!(
        "\nThe fix, against `main` (its line numbers are 3.13.15's; on `main` it applies at an offset):\n\n\
         ```diff\n{}\n```\n\n",
        PATCH.trim_end()
    );
    out += &folded("What happens", &what_happens(&mac));
    out += &folded(
        "Reproducer: <code>fork_repro.py</code> and its output",
        &reproducer(&rows),
    );
    out += &folded(
        "Measurements: every fork-per-job row",
        &measurements(&rows, &mac, calibrations),
    );
    out += &folded("Where the code is, per CPython version", &where_the_code_is());
    out += &folded("The fix, and its evidence", &the_fix(&rows));
    out += &folded(
        "A workaround until a release has the fix",
        &format!("```python\n{WORKAROUND}\n```\n\n{LIMITS}"),
    );
    let versions: Vec<String> = {
        let mut v: Vec<String> = mac.iter().filter_map(|r| r.run.factors.python_minor()).collect();
        v.sort_by_key(|m| m.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>());
        v.dedup();
        v
    };
    out += &format!(
        "### CPython versions tested on:\n\n{}\n\n### Operating systems tested on:\n\n{}\n",
        if versions.is_empty() {
            "none on macOS yet".to_string()
        } else {
            text(&versions.join(", "))
        },
        if mac.is_empty() {
            "Linux only (the measuring chain), not yet macOS"
        } else {
            "macOS"
        }
    );
    out
}

#[cfg(test)]
mod tests;
