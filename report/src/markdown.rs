//! The Markdown tables.

use crate::run::Run;
use timing::extra_lines::count;
use timing::pyfmt::g;
use timing::Verdict;

fn ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.3} ms", v * 1e3))
}

fn secs(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3} s"))
}

pub(crate) fn slope(v: &Verdict) -> String {
    v.slope_pct_per_1000_calls.map_or("-".into(), |s| format!("{s:+.1} %"))
}

fn p(v: &Verdict) -> String {
    v.p.map_or("-".into(), |p| g(p, 2))
}

/// `DRIFT (slope +27.0 %, p=1.3e-14)`: the verdict, slope per 1000 calls and p.
pub(crate) fn verdict_text(run: &Run) -> String {
    let v = run.verdict();
    format!("{} (slope {}, p={})", v.verdict, slope(&v), p(&v))
}

/// The attribution in a few words: `vm_regions (tau 0.94; 434 -> 4834)`,
/// `none (no drift)`, or `-` where no counter was read; at most `most`
/// counters, then `+N more`.
pub(crate) fn attribution_text(run: &Run, most: usize) -> String {
    let Some(a) = run.attribution() else {
        return "-".into();
    };
    if let Some(why) = &a.none {
        return format!("none ({why})");
    }
    if a.grows_with.is_empty() {
        return "no counter".into();
    }
    let more = a.grows_with.len().saturating_sub(most);
    let named = a
        .grows_with
        .iter()
        .take(most)
        .map(|s| {
            format!(
                "{} (tau {:.2}; {} -> {})",
                s.counter,
                s.tau,
                count(s.first),
                count(s.last)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        format!("{named} +{more} more")
    } else {
        named
    }
}

/// Escapes the one character that breaks a Markdown table cell.
pub(crate) fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// One row per run.
pub fn runs_table(runs: &[Run]) -> String {
    let mut out = String::from(
        "| source | strategy | OS, arch | ncpus | T | median cost/job | first chunk (s/100 calls) \
         | last chunk (s/100 calls) | slope per 1000 calls | Mann-Kendall p | verdict | grows with |\n\
         |---|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|\n",
    );
    for r in runs {
        let v = r.verdict();
        let first = r.points.first().map(|p| p.secs_per_100());
        let last = r.points.last().map(|p| p.secs_per_100());
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&r.source),
            cell(&r.strategy),
            cell(&r.os_arch),
            r.ncpus.map_or("-".into(), |n| n.to_string()),
            r.sleep.map_or("-".into(), |t| format!("{t} s")),
            ms(r.median_cost_per_job()),
            secs(first),
            secs(last),
            slope(&v),
            p(&v),
            v.verdict,
            cell(&attribution_text(r, usize::MAX)),
        );
    }
    out
}

/// Side by side: each original with its port (`ci/compare.sh`).
pub fn pairs_table(pairs: &[(Run, Run)]) -> String {
    let mut out = String::from(
        "| original | port | original cost/job | port cost/job | ratio port/original \
         | original verdict | port verdict |\n|---|---|--:|--:|--:|---|---|\n",
    );
    for (o, r) in pairs {
        let (co, cr) = (o.median_cost_per_job(), r.median_cost_per_job());
        let ratio = match (co, cr) {
            (Some(a), Some(b)) if a > 0.0 => format!("{:.2}", b / a),
            _ => "-".into(),
        };
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&o.source),
            cell(&r.source),
            ms(co),
            ms(cr),
            ratio,
            cell(&verdict_text(o)),
            cell(&verdict_text(r)),
        );
    }
    out
}
