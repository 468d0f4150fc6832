//! The Markdown tables.

use crate::escape::markdown_cell as cell;
use report_judge::Judged;
use report_read::run::{BarTimes, Run};
use timing::extra_lines::{count, signed};
use timing::pyfmt::{g, ipython_time};
use timing::{Trend, Verdict};

fn ms(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.3} ms", v * 1e3))
}

fn secs(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3} s"))
}

pub fn slope(v: &Verdict) -> String {
    v.slope_pct_per_1000_calls.map_or("-".into(), |s| format!("{s:+.1} %"))
}

/// `+27.0 % (+24.1 to +30.2)`: the slope and its 95 % interval.
fn slope_ci(v: &Verdict) -> String {
    match (v.slope_pct_per_1000_calls, v.slope_ci_pct_per_1000_calls) {
        (Some(s), Some([lo, hi])) => format!("{s:+.1} % ({lo:+.1} to {hi:+.1})"),
        _ => slope(v),
    }
}

/// `+500 (+425 to +563)`: an estimate with its 95 % interval, three
/// significant digits as the verdict line prints them, or the value alone
/// where both ends of the interval read the same (an interval of one number
/// says nothing); `-` for none.
pub fn estimate(e: Option<drift::Estimate>) -> String {
    e.map_or("-".into(), |e| {
        let (lo, hi) = (signed(e.low), signed(e.high));
        if lo == hi {
            signed(e.value)
        } else {
            format!("{} ({lo} to {hi})", signed(e.value))
        }
    })
}

/// The answer, with what decides an inconclusive one and how an
/// `--until-verdict` run stopped; a run of `%time` blocks with too few of
/// them has "too few points".
fn verdict_cell(run: &Run, v: &Verdict) -> String {
    let mut t = match v.verdict {
        Trend::TooFewChunks if run.is_time_blocks() => "too few points".to_string(),
        trend => trend.to_string(),
    };
    if let Some(more) = v.more_calls {
        t += &format!(" (run longer: about {more} more calls)");
    }
    if let Some(b) = v.busier {
        t += &format!(
            ", but the machine got busier ({:.2} -> {:.2} CPU of other processes)",
            b.other_cpus_first, b.other_cpus_last
        );
    }
    if let Some(s) = v.sequential {
        let how = if s.timed_out { "time up" } else { "decided" };
        t += &format!(
            " (--until-verdict {}: {how} after {} bar())",
            g(s.until_verdict_secs, 6),
            s.bars
        );
    }
    t
}

/// `13.1 s -> 24.1 s` over the bar()s of a run, for one of their times.
pub(crate) fn first_last(bars: &[BarTimes], f: impl Fn(&BarTimes) -> f64) -> String {
    match (bars.first(), bars.last()) {
        (Some(a), Some(b)) => format!("{} -> {}", ipython_time(f(a)), ipython_time(f(b))),
        _ => "-".into(),
    }
}

fn p(v: &Verdict) -> String {
    v.p.map_or("-".into(), |p| g(p, 2))
}

/// `DRIFT (slope +27.0 %, 95 % CI +24.1 to +30.2 %, p=1.3e-14)`: the
/// verdict, slope per 1000 calls with its interval, and p.
pub fn verdict_text(run: &Run) -> String {
    let v = run.verdict();
    let ci = v
        .slope_ci_pct_per_1000_calls
        .map_or(String::new(), |[lo, hi]| format!(", 95 % CI {lo:+.1} to {hi:+.1} %"));
    let answer = match v.verdict {
        Trend::TooFewChunks if run.is_time_blocks() => "too few points".to_string(),
        trend => trend.to_string(),
    };
    format!("{answer} (slope {}{ci}, p={})", slope(&v), p(&v))
}

/// The attribution in a few words: `vm_regions (tau 0.94; 434 -> 4834)`,
/// `none (no drift)`, or `-` where no counter was read; at most `most`
/// counters, then `+N more`.
pub fn attribution_text(run: &Run, most: usize) -> String {
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

/// One row per run: the chunks' verdict with its interval and absolute
/// units, then each bar()'s `%time` first -> last (wall, and the parent's
/// sys and user: the seed's signature is sys growing while user stays flat).
/// When no run is long enough for a verdict (`report_judge::too_short_for_timing`,
/// said once in the report's timing line) the verdict's columns are left
/// out: they would say "too few chunks" on every row.
pub fn runs_table(runs: &[Run]) -> String {
    let timing = !report_judge::too_short_for_timing(runs);
    let verdict_head = if timing {
        " slope per 1000 calls (95 % CI) | µs/job per 1000 calls (95 % CI) \
         | µs/job per earlier fork (95 % CI) | Mann-Kendall p | verdict | grows with |"
    } else {
        ""
    };
    let verdict_align = if timing { "--:|--:|--:|--:|---|---|" } else { "" };
    let mut out = format!(
        "| source | strategy | OS, arch | ncpus | T | median cost/job | first chunk (s/100 calls) \
         | last chunk (s/100 calls) |{verdict_head} wall per bar() first -> last | sys per bar() first -> last \
         | user per bar() first -> last |\n|---|---|---|--:|--:|--:|--:|--:|{verdict_align}--:|--:|--:|\n",
    );
    for r in runs {
        let v = r.verdict();
        let first = r.points.first().map(|p| p.secs_per_100());
        let last = r.points.last().map(|p| p.secs_per_100());
        let growth = v.growth;
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.source),
            cell(&r.strategy),
            cell(&r.os_arch),
            r.ncpus.map_or("-".into(), |n| n.to_string()),
            r.sleep.map_or("-".into(), |t| format!("{t} s")),
            ms(r.median_cost_per_job()),
            secs(first),
            secs(last),
        );
        if timing {
            out += &format!(
                " {} | {} | {} | {} | {} | {} |",
                slope_ci(&v),
                estimate(growth.map(|g| g.us_per_job_per_1000_calls)),
                estimate(growth.and_then(|g| g.us_per_job_per_earlier_fork)),
                p(&v),
                cell(&verdict_cell(r, &v)),
                cell(&attribution_text(r, usize::MAX)),
            );
        }
        out += &format!(
            " {} | {} | {} |\n",
            first_last(&r.bars, |b| b.wall),
            first_last(&r.bars, |b| b.sys),
            first_last(&r.bars, |b| b.user),
        );
    }
    out
}

/// One row per IPython `%prun` table: the time per call of `posix.fork`
/// and of the waits (`posix.wait`, `waitpid`, `wait4` together), in the
/// order of the tables, so that two tables of one session show which call
/// grew. Empty when no run has a table.
pub fn prun_table(runs: &[Run]) -> String {
    let mut out = String::new();
    for r in runs {
        for t in &r.prun {
            let waits = ["posix.wait", "posix.waitpid", "posix.wait4"]
                .iter()
                .filter_map(|f| t.per_call(f))
                .fold((0, 0.0), |(n, secs), (k, per)| (n + k, secs + per * k as f64));
            let fork = t.per_call("posix.fork");
            out += &format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                cell(&r.source),
                t.line,
                fork.map_or("-".into(), |f| f.0.to_string()),
                fork.map_or("-".into(), |f| ipython_time(f.1)),
                if waits.0 > 0 { waits.0.to_string() } else { "-".into() },
                if waits.0 > 0 {
                    ipython_time(waits.1 / waits.0 as f64)
                } else {
                    "-".into()
                },
            );
        }
    }
    if out.is_empty() {
        return out;
    }
    format!(
        "| source | %prun table at line | posix.fork calls | time per fork | wait calls | time per wait |\n\
         |---|--:|--:|--:|--:|--:|\n{out}"
    )
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
