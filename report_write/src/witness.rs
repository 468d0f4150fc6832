//! The witness in words: the Findings cell of a run's witness
//! ([`report_judge::witness::growth`], which holds the rule).

use report_judge::witness::growth;
use report_read::Run;

/// The Findings cell: `+1.00 pmap, agrees`, `+1.00 (Mach message +1.00)
/// vmmap, disagrees (vm_map_entries +0.00)`, `vmmap refused`, or `-`.
pub fn cell(run: &Run) -> String {
    let Some(g) = growth(run) else {
        return match &run.witness {
            Some(w) if w.refused.is_some() => format!("{} refused", w.tool.name()),
            _ => "-".into(),
        };
    };
    let mut text = format!("{:+.2}", g.regions);
    if let Some(m) = g.mach_msg {
        text += &format!(" (Mach message {m:+.2})");
    }
    text += &format!(" {}", g.tool.name());
    match g.agrees {
        Some(true) => text + ", agrees",
        Some(false) => {
            let counted: Vec<String> = g.counters.iter().map(|(n, v)| format!("{n} {v:+.2}")).collect();
            format!("{text}, disagrees ({})", counted.join(", "))
        }
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probes::witness::{Regions, Tool, Witness};
    use report_read::run::Point;

    /// A fork-per-job run of `chunks` chunks of 100 calls x 4 forks whose
    /// vm_map_entries grow by `counted` a fork, and whose witness grew by
    /// `seen` regions in all.
    fn run(chunks: u32, counted: f64, seen: u64, mach_msg: Option<(u64, u64)>) -> Run {
        let regions = |total, m: Option<u64>| Regions {
            total,
            mach_msg: m,
            ..Regions::default()
        };
        Run {
            ncpus: Some(4),
            points: (0..chunks)
                .map(|_| Point {
                    repeat: 0,
                    calls: 100,
                    wall: 1.0,
                    cost_per_job: 0.0,
                })
                .collect(),
            counters: vec![(
                "vm_map_entries".into(),
                (0..chunks).map(|i| 50.0 + 400.0 * counted * f64::from(i + 1)).collect(),
            )],
            witness: Some(Witness {
                tool: if mach_msg.is_some() { Tool::Vmmap } else { Tool::Pmap },
                before: Some(regions(40, mach_msg.map(|m| m.0))),
                after: Some(regions(40 + seen, mach_msg.map(|m| m.1))),
                forks: Some(u64::from(chunks) * 400),
                refused: None,
            }),
            ..Run::default()
        }
    }

    #[test]
    fn agree_within_one_region_per_hundred_forks() {
        // 10 chunks: 4000 forks; the counter +1 per fork; the witness saw
        // 4000 regions more (+1.00), then 3961 (+0.99), then 3950 (+0.9875).
        assert_eq!(cell(&run(10, 1.0, 4000, None)), "+1.00 pmap, agrees");
        assert_eq!(growth(&run(10, 1.0, 3961, None)).unwrap().agrees, Some(true));
        assert_eq!(
            cell(&run(10, 1.0, 3950, None)),
            "+0.99 pmap, disagrees (vm_map_entries +1.00)"
        );
        // Nothing grows: both flat; a witness that grew while the counter did not.
        assert_eq!(cell(&run(10, 0.0, 3, None)), "+0.00 pmap, agrees");
        assert_eq!(
            cell(&run(10, 0.0, 4000, None)),
            "+1.00 pmap, disagrees (vm_map_entries +0.00)"
        );
    }

    #[test]
    fn the_counters_kept_with_the_readings_compare_over_the_same_forks() {
        // A Sage-like session: 32 one-time mappings in the first chunk, then
        // nothing per fork. The chunks' readings (after each chunk) miss the
        // 32; the witness spans them: +0.02 a fork over 1600 forks, which
        // against the chunks' +0.00 reads as a disagreement...
        let mut r = run(4, 0.0, 32, None);
        assert_eq!(cell(&r), "+0.02 pmap, disagrees (vm_map_entries +0.00)");
        // ... but the counters read with the witness saw the same 32: agree.
        let w = r.witness.as_mut().unwrap();
        w.before.as_mut().unwrap().counted = Some(200);
        w.after.as_mut().unwrap().counted = Some(232);
        assert_eq!(cell(&r), "+0.02 pmap, agrees");
        // And a witness that sees a leak the counters read with it do not.
        let w = r.witness.as_mut().unwrap();
        w.after.as_mut().unwrap().total = 40 + 1600;
        assert_eq!(cell(&r), "+1.00 pmap, disagrees (vm_map_entries +0.02)");
    }

    #[test]
    fn mach_message_regions_are_compared_too() {
        let mut r = run(10, 1.0, 4000, Some((3, 4003)));
        r.counters.push((
            "mach_msg_regions".into(),
            (1..=10).map(|i| 400.0 * f64::from(i)).collect(),
        ));
        assert_eq!(cell(&r), "+1.00 (Mach message +1.00) vmmap, agrees");
        // The regions agree, the Mach message ones do not.
        r.witness.as_mut().unwrap().after.as_mut().unwrap().mach_msg = Some(3);
        assert_eq!(
            cell(&r),
            "+1.00 (Mach message +0.00) vmmap, disagrees (vm_map_entries +1.00, mach_msg_regions +1.00)"
        );
    }

    #[test]
    fn what_cannot_be_compared_says_so() {
        // No counters (a transcript without --counters): the growth alone.
        let mut r = run(10, 1.0, 4000, None);
        r.counters.clear();
        assert_eq!(cell(&r), "+1.00 pmap");
        // One chunk: no counter growth either.
        assert_eq!(growth(&run(1, 1.0, 400, None)).unwrap().agrees, None);
        // A refusal, no witness.
        let mut r = run(10, 1.0, 4000, None);
        let w = r.witness.as_mut().unwrap();
        (w.tool, w.before, w.after, w.refused) = (
            Tool::Vmmap,
            None,
            None,
            Some("vmmap refused (exit status: 1): x".into()),
        );
        assert_eq!(cell(&r), "vmmap refused");
        r.witness = None;
        assert_eq!(cell(&r), "-");
    }
}
