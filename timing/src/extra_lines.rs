//! The suite's own lines after the originals' output, labelled `(extra)`:
//! the drift verdict and its attribution (the statistics are the `drift`
//! crate's; this module only words them). Humans read them; nothing parses
//! them (the record holds the numbers).

use crate::pyfmt::g;
use drift::{Attribution, Trend, Verdict, MIN_CHUNKS};

/// `Drift verdict (extra): no drift; slope +0.8 % per 1000 calls, Mann-Kendall p=0.42, 10 chunks`.
pub fn verdict_line(v: &Verdict) -> String {
    match v.verdict {
        Trend::TooFewChunks => format!(
            "Drift verdict (extra): too few chunks ({} chunks, at least {MIN_CHUNKS} needed)",
            v.chunks
        ),
        trend => {
            let slope = v
                .slope_pct_per_1000_calls
                .map_or("n/a".to_string(), |s| format!("{s:+.1} %"));
            let p = v.p.map_or("n/a".to_string(), |p| g(p, 2));
            format!(
                "Drift verdict (extra): {trend}; slope {slope} per 1000 calls, Mann-Kendall p={p}, {} chunks",
                v.chunks
            )
        }
    }
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
            "Drift verdict (extra): no drift; slope +0.0 % per 1000 calls, Mann-Kendall p=1, 12 chunks"
        );
        let v = Verdict::of_series(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            verdict_line(&v),
            "Drift verdict (extra): too few chunks (5 chunks, at least 6 needed)"
        );
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
