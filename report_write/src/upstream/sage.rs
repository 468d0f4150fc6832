//! The comment for sagemath/sage#39960: the cause in three sentences, the
//! Mac rows, the patched build's numbers where the input has them, the
//! workaround with its limits, the CPython issue.

use super::{entries_per_fork, mac_summary, provenance, table, LIMITS, WORKAROUND};
use crate::escape::markdown_text as text;
use report_judge::upstream::{control, forks, from_a_mac, rows, unpatched, Headline, Row};
use report_judge::Judged;
use report_read::run::Run;
use report_read::Calibration;

/// The comment for sagemath/sage#39960; `calibrations` say how much of the
/// Mac's drift the leak explains.
pub fn sage(runs: &[Run], machines: &[String], calibrations: &[Calibration], cpython_issue: Option<&str>) -> String {
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
        out += &format!(
            "**Measured on a Mac.** {}\n\n{}\n",
            mac_summary(&unpatched(&mac)),
            table(&mac)
        );
        if let Some(fixed) = with_the_fix(&mac) {
            out += &format!("{fixed}\n\n");
        }
        if let Some(explained) = explained(&mac, calibrations) {
            out += &format!("{explained}\n\n");
        }
    }
    out += &format!(
        "**A workaround until CPython ships the fix.** In the Sage session, before calling an `@parallel` \
         function, replace `os.fork` by the same steps without the thread count:\n\n```python\n{WORKAROUND}\n\
         ```\n\n{LIMITS} {}\n\n",
        control_verdict(&unpatched(&mac))
    );
    out += &match cpython_issue {
        Some(url) => format!("**Upstream:** reported to CPython: {url}\n"),
        None => "**Upstream:** not yet reported to CPython.\n".to_string(),
    };
    out
}

/// The patched build's numbers beside the unpatched, where the input has a
/// run of CPython with the fix applied; `None` otherwise.
fn with_the_fix(mac: &[&Row<'_>]) -> Option<String> {
    let h = Headline::of(mac);
    let fixed = h.patched?;
    let mut s = format!(
        "**With the fix.** CPython {} with the patch proposed to CPython applied: ",
        text(fixed.factors.python.as_deref().unwrap_or("-"))
    );
    match entries_per_fork(fixed) {
        Some(e) => {
            s += &format!("`os.fork` gains {e} map entries per fork");
            let same = h.symptom.filter(|r| r.factors.python == fixed.factors.python);
            if let Some(e) = same.and_then(entries_per_fork) {
                s += &format!(" where the same CPython without it gains {e}");
            }
        }
        None => s += "its map entries were not counted",
    }
    Some(format!(
        "{s}; its time per fork: {} over {} forks.",
        fixed.verdict().verdict,
        forks(fixed)
    ))
}

/// How much of the drift of the Mac's leaking run the leak explains (its
/// cost model, `crate::model`), where its machine's calibration is among
/// the inputs; `None` otherwise (nothing is said of an uncalibrated one).
fn explained(mac: &[&Row<'_>], calibrations: &[Calibration]) -> Option<String> {
    let run = Headline::of(mac).symptom?;
    let row = mac.iter().find(|r| std::ptr::eq(r.run, run))?;
    match report_judge::model::model(run, row.machine, calibrations)? {
        report_judge::model::Cost::NotCalibrated => None,
        c => Some(format!(
            "**How much of it the leak explains.** {}",
            crate::model::sentence(&c)
        )),
    }
}

/// What the Mac rows say of the control, in one sentence.
fn control_verdict(mac: &[&Row<'_>]) -> String {
    let Some((runs, flat)) = control(mac) else {
        return "Not yet shown on a Mac to keep the drift away: check it first (`ci/diagnose.sh` runs it as \
                the control)."
            .into();
    };
    let said = match (runs, flat) {
        (1, 1) => "the one such run shows no drift".to_string(),
        (1, _) => "the one such run drifts".to_string(),
        (n, f) if f == n => format!("all {n} such runs show no drift"),
        (n, 0) => format!("all {n} such runs drift"),
        (n, f) => format!("{f} of {n} such runs show no drift"),
    };
    format!("On the Macs above it was run as the control: {said}.")
}
