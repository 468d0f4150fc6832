//! The leak's picture in text, which opens the `--hypothesis` report as the
//! map panel opens the plot: one line per fork-per-job run that read the
//! counters, its `vm_map_entries` gained against the forks it made
//! ([`Run::map_growth`]), drawn with block characters. The scale is the
//! hypothesis' leak: a full block is one entry per fork made by the end of
//! the run, so a leak climbs from `▁` to `█` (the plot's diagonal) and a
//! clean run stays on the floor, on a terminal and in a pasted comment
//! alike.

use crate::escape::terminal;
use report_read::Run;

/// Blocks per line: steps of equal forks.
const STEPS: usize = 32;
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The section (Markdown): empty when no run has the picture.
pub fn section(runs: &[Run]) -> String {
    let rows: Vec<(String, f64, &Run)> = runs
        .iter()
        .filter_map(|r| Some((line(&r.map_growth()?)?, r.entries_per_fork()?, r)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## The leak's picture: vm_map_entries against forks\n\n\
         One line per fork-per-job run that read the counters: the map entries gained since the first \
         reading, at equal steps of the forks made since; a full block is one entry per fork made by \
         the end (the hypothesis' leak: a ramp from ▁ to █), a clean run stays at ▁.\n\n```text\n",
    );
    for (blocks, per_fork, run) in rows {
        // Inside the fence nothing is markup, and a label, which starts no
        // line, cannot close it: only the unseen characters matter.
        let (strategy, source) = (terminal(&run.strategy), terminal(&run.source));
        out += &format!("{blocks} {per_fork:+6.2}/fork  {strategy} | {source}\n");
    }
    out + "```\n\n"
}

/// The blocks of one run's `(forks, gained)` readings: at each of
/// [`STEPS`] equal steps of the forks, the gain read there (linear between
/// readings) over the forks of the whole run. `None` without forks.
fn line(xy: &[(f64, f64)]) -> Option<String> {
    let total = xy.last()?.0;
    if total <= 0.0 {
        return None;
    }
    let at = |x: f64| -> f64 {
        let k = xy.iter().position(|p| p.0 >= x).unwrap_or(xy.len() - 1);
        if k == 0 {
            return xy[0].1;
        }
        let ((x0, y0), (x1, y1)) = (xy[k - 1], xy[k]);
        if x1 > x0 {
            y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        } else {
            y1
        }
    };
    let blocks = (1..=STEPS)
        .map(|j| {
            let share = at(total * j as f64 / STEPS as f64) / total;
            let level = (share * (BLOCKS.len() - 1) as f64).round();
            BLOCKS[level.clamp(0.0, (BLOCKS.len() - 1) as f64) as usize]
        })
        .collect();
    Some(blocks)
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn a_leak_climbs_and_a_clean_run_stays_on_the_floor() {
        let leak: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64 * 800.0, k as f64 * 800.0)).collect();
        let clean: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64 * 800.0, (k % 3) as f64)).collect();
        let half: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64 * 800.0, k as f64 * 400.0)).collect();
        let leak = line(&leak).unwrap();
        assert_eq!(leak.chars().count(), 32);
        assert!(leak.starts_with('▁') && leak.ends_with('█'), "{leak}");
        let levels: Vec<char> = leak.chars().collect();
        assert!(levels.windows(2).all(|w| w[0] <= w[1]), "{leak}");
        assert_eq!(line(&clean).unwrap(), "▁".repeat(32));
        // Half an entry per fork ends half way up.
        assert!(line(&half).unwrap().ends_with('▅'), "{}", line(&half).unwrap());
        assert_eq!(line(&[(0.0, 0.0)]), None);
    }
}
