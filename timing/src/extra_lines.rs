//! The suite's own lines after the originals' output, labelled `(extra)`:
//! the drift verdict and its attribution (the statistics are the `drift`
//! crate's; this module only words them). Humans read them; nothing parses
//! them (the record holds the numbers).

use crate::pyfmt::g;
use drift::{Attribution, Trend, Verdict, MIN_CHUNKS};

/// `Drift verdict (extra): DRIFT; slope +30.7 % per 1000 calls (95 % CI +26.1 to +34.6 %),
/// +500 µs per job per 1000 calls (95 % CI +425 to +563), +0.0625 µs per job per earlier fork
/// (95 % CI ...), Mann-Kendall p=8.3e-05, 10 chunks`, then for an inconclusive verdict `; run longer: about
/// 900 more calls`, and with `--until-verdict` how it stopped.
pub fn verdict_line(v: &Verdict) -> String {
    match v.verdict {
        Trend::TooFewChunks => format!(
            "Drift verdict (extra): too few chunks ({} chunks, at least {MIN_CHUNKS} needed){}",
            v.chunks,
            until_text(v)
        ),
        trend => {
            let p = v.p.map_or("n/a".to_string(), |p| g(p, 2));
            let mut line = format!(
                "Drift verdict (extra): {trend}{}; slope {}{}, Mann-Kendall p={p}{}, {} chunks",
                busier_text(v),
                slope_text(v),
                growth_text(v).map_or(String::new(), |t| format!(", {t}")),
                needed_text(v),
                v.chunks
            );
            if let Some(more) = v.more_calls {
                line += &format!("; run longer: about {more} more calls");
            }
            line + &until_text(v)
        }
    }
}

/// `, but the machine got busier during the run (load 0.40 -> 3.10; ...):
/// confirm on a quiet machine` when the load witness explains the chunk
/// times (`drift::load`), else nothing.
pub fn busier_text(v: &Verdict) -> String {
    v.busier
        .map_or(String::new(), |b| format!(", but {b}: confirm on a quiet machine"))
}

/// `+27.0 % per 1000 calls (95 % CI +24.1 to +30.2 %)`.
pub fn slope_text(v: &Verdict) -> String {
    let Some(s) = v.slope_pct_per_1000_calls else {
        return "n/a per 1000 calls".into();
    };
    match v.slope_ci_pct_per_1000_calls {
        Some([lo, hi]) => format!("{s:+.1} % per 1000 calls (95 % CI {lo:+.1} to {hi:+.1} %)"),
        None => format!("{s:+.1} % per 1000 calls"),
    }
}

/// `+500 µs per job per 1000 calls (95 % CI +425 to +563), +0.0625 µs per
/// job per earlier fork (95 % CI +0.0531 to +0.0703)`; `None` without jobs per call.
pub fn growth_text(v: &Verdict) -> Option<String> {
    let gr = v.growth?;
    let e = gr.us_per_job_per_1000_calls;
    let mut t = format!(
        "{} µs per job per 1000 calls (95 % CI {} to {})",
        signed(e.value),
        signed(e.low),
        signed(e.high)
    );
    if let Some(f) = gr.us_per_job_per_earlier_fork {
        t += &format!(
            ", {} µs per job per earlier fork (95 % CI {} to {})",
            signed(f.value),
            signed(f.low),
            signed(f.high)
        );
    }
    Some(t)
}

/// `+500`, `-2431`, `-0.0625`: three significant digits (whole numbers
/// from 100 up, never an exponent there) with a sign.
pub fn signed(x: f64) -> String {
    let s = if x.abs() >= 100.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        g(x, 3)
    };
    if x >= 0.0 {
        format!("+{s}")
    } else {
        s
    }
}

/// ` (needed < 0.00068)` when DRIFT needed less than p < 0.01 (a later look
/// of `--until-verdict`).
fn needed_text(v: &Verdict) -> String {
    match v.max_p {
        Some(m) if m < drift::MAX_P => format!(" (needed < {})", g(m, 2)),
        _ => String::new(),
    }
}

/// `; --until-verdict 60: decided after 3 bar() (3 looks)` or `; ...: time
/// up after 12 bar() (12 looks)`.
fn until_text(v: &Verdict) -> String {
    let Some(s) = v.sequential else {
        return String::new();
    };
    let how = if s.timed_out { "time up" } else { "decided" };
    format!(
        "; --until-verdict {}: {how} after {} bar() ({} looks)",
        g(s.until_verdict_secs, 6),
        s.bars,
        s.looks
    )
}

/// `Drift attribution (extra): chunk time grows with vm_regions (Kendall tau
/// 0.94, p 3e-12; 41 -> 1241); not with rss_bytes, threads, open_fds`, or
/// `Drift attribution (extra): none (no drift)`.
pub fn attribution_line(a: &Attribution) -> String {
    if let Some(why) = &a.none {
        return format!("Drift attribution (extra): none ({why})");
    }
    let grows = if a.grows_with.is_empty() {
        "chunk time grows with none of the counters".to_string()
    } else {
        let each: Vec<String> = a
            .grows_with
            .iter()
            .map(|s| {
                format!(
                    "{} (Kendall tau {:.2}, p {}; {} -> {})",
                    s.counter,
                    s.tau,
                    g(s.p, 1),
                    count(s.first),
                    count(s.last)
                )
            })
            .collect();
        format!("chunk time grows with {}", each.join(", "))
    };
    if a.not_with.is_empty() {
        format!("Drift attribution (extra): {grows}")
    } else {
        format!("Drift attribution (extra): {grows}; not with {}", a.not_with.join(", "))
    }
}

/// A counter's value: whole numbers in full (`14991360`), others as `%g`.
pub fn count(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        g(v, 6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drift::Association;

    #[test]
    fn verdict_lines() {
        let v = Verdict::of_series(&[0.5; 12]);
        assert_eq!(
            verdict_line(&v),
            "Drift verdict (extra): no drift; slope +0.0 % per 1000 calls (95 % CI +0.0 to +0.0 %), \
             Mann-Kendall p=1, 12 chunks"
        );
        // The seed's first Sage bar(), 8 jobs per call, fork per job. Slope
        // and interval as scipy.stats.theilslopes(y, [50, 150, ...]) gives
        // them: 30.72 % (26.11 to 34.56), 500 µs (425 to 562.5), 0.0625 µs.
        let y = [1.131, 1.154, 1.209, 1.251, 1.267, 1.337, 1.394, 1.427, 1.442, 1.450];
        let judge = drift::Judge {
            jobs_per_call: Some(8),
            fork_per_job: true,
            ..drift::Judge::default()
        };
        let mut v = Verdict::judge(&drift::verdict::series_points(&y), &judge);
        assert_eq!(
            verdict_line(&v),
            "Drift verdict (extra): DRIFT; slope +30.7 % per 1000 calls (95 % CI +26.1 to +34.6 %), \
             +500 µs per job per 1000 calls (95 % CI +425 to +563), \
             +0.0625 µs per job per earlier fork (95 % CI +0.0531 to +0.0703), \
             Mann-Kendall p=8.3e-05, 10 chunks"
        );
        v.sequential = Some(drift::sequential::Stop {
            until_verdict_secs: 60.0,
            bars: 1,
            looks: 1,
            timed_out: false,
        });
        assert!(verdict_line(&v).ends_with(", 10 chunks; --until-verdict 60: decided after 1 bar() (1 looks)"));
        let v = Verdict::of_series(&[1.0, 1.1, 0.9, 1.0, 1.3, 0.7, 1.0, 1.0]);
        let line = verdict_line(&v);
        assert!(
            line.starts_with("Drift verdict (extra): inconclusive; slope "),
            "{line}"
        );
        assert!(
            line.contains(", 8 chunks; run longer: about ") && line.ends_with(" more calls"),
            "{line}"
        );
        let v = Verdict::of_series(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            verdict_line(&v),
            "Drift verdict (extra): too few chunks (5 chunks, at least 6 needed)"
        );
        // The load witness explains the rise: said right after the answer.
        let times: Vec<f64> = (0..12)
            .map(|i| if i < 6 { 1.0 } else { 1.5 } + 0.001 * f64::from(i))
            .collect();
        let other: Vec<f64> = (0..12)
            .map(|i| if i < 6 { 20.0 } else { 990.0 } + f64::from(i))
            .collect();
        let load: Vec<f64> = (0..12).map(|i| 400.0 + 250.0 * f64::from(i)).collect();
        let counters = vec![
            (probes::load::OTHER_CPU.to_string(), other),
            (probes::load::LOAD_AVG.to_string(), load),
        ];
        let mut v = Verdict::of_series(&times);
        v.busier = crate::record::busier(&times, &counters);
        assert!(
            verdict_line(&v).starts_with(
                "Drift verdict (extra): DRIFT, but the machine got busier during the run (load 0.40 -> 3.15; \
                 other processes 0.02 -> 1.00 CPU, Kendall tau "
            ),
            "{}",
            verdict_line(&v)
        );
        assert!(verdict_line(&v).contains(" with the chunk times): confirm on a quiet machine; slope +"));
        let v = Verdict::of_series(&(0..30).map(|i| 1.0 + 0.01 * i as f64).collect::<Vec<_>>());
        assert!(
            verdict_line(&v).starts_with("Drift verdict (extra): DRIFT; slope +"),
            "{}",
            verdict_line(&v)
        );
    }

    #[test]
    fn attribution_lines() {
        let a = Attribution {
            none: None,
            grows_with: vec![Association {
                counter: "vm_regions".into(),
                tau: 0.9412,
                p: 3.2e-12,
                first: 41.0,
                last: 1241.0,
            }],
            not_with: vec!["rss_bytes".into(), "threads".into(), "open_fds".into()],
        };
        assert_eq!(
            attribution_line(&a),
            "Drift attribution (extra): chunk time grows with vm_regions (Kendall tau 0.94, p 3e-12; \
             41 -> 1241); not with rss_bytes, threads, open_fds"
        );
        let none = Attribution {
            none: Some("no drift".into()),
            grows_with: vec![],
            not_with: vec!["vm_regions".into()],
        };
        assert_eq!(attribution_line(&none), "Drift attribution (extra): none (no drift)");
    }
}
