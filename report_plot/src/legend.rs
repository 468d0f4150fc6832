//! The legends, bounded. One entry per group of runs ([`Series::group`]):
//! a run alone in its group gets its source, label and verdict (or map
//! entries per fork); the compare harness's runs of one script get one
//! entry, each run's result named by its variant (`real +0.00, stand-in
//! +1.00`), and a last row keys the strokes. So seventeen runs of a
//! diagnosis are a handful of entries.
//!
//! Whatever the input, a legend has at most [`MAX_ENTRIES`] entries, then
//! one `+k more` row; an entry at most [`MAX_LINES`] lines, the last cut
//! with an ellipsis; and only its first [`MAX_CHARS`] characters are laid
//! out (so that a label of a megabyte costs what one of a line does). The
//! picture's size is bounded with them: every run is still in the report's
//! tables.

use super::{Panel, Series, Stroke, View};
use plotters::prelude::IntoFont;
use report_judge::Judged;
use report_write::escape::svg_text;
use report_write::markdown::{attribution_text, slope, verdict_text};

/// Entries per legend before `+k more`.
pub(super) const MAX_ENTRIES: usize = 12;
/// Lines per entry.
pub(super) const MAX_LINES: usize = 2;
/// Characters of an entry laid out; past them, an ellipsis.
pub(super) const MAX_CHARS: usize = 300;
/// The legend's text size.
pub(super) const FONT_SIZE: i32 = 14;

/// One row of a legend.
pub(super) enum Row {
    /// A line sample in the group's colour and its text, in lines.
    Entry {
        colour: plotters::style::RGBColor,
        stroke: Stroke,
        lines: Vec<String>,
    },
    /// `+k more`: the groups left out.
    More(String),
    /// The strokes of the panel and what each means.
    Strokes(Vec<(Stroke, &'static str)>),
}

impl Row {
    /// Lines the row takes.
    pub(super) fn height(&self) -> usize {
        match self {
            Row::Entry { lines, .. } => lines.len(),
            Row::More(_) | Row::Strokes(_) => 1,
        }
    }
}

/// The rows of `panel`'s legend, each text fitted to `width` pixels.
pub(super) fn rows(panel: &Panel, width: u32) -> Vec<Row> {
    let mut groups: Vec<(&str, Vec<&Series>)> = Vec::new();
    for s in &panel.series {
        match groups.iter_mut().find(|(g, _)| *g == s.group) {
            Some((_, members)) => members.push(s),
            None => groups.push((&s.group, vec![s])),
        }
    }
    let mut rows: Vec<Row> = groups
        .iter()
        .take(MAX_ENTRIES)
        .map(|(group, members)| {
            let (stroke, text) = match members[..] {
                [one] if !one.grouped => (one.stroke, alone(panel.view, one)),
                _ => (Stroke::Solid, together(panel.view, group, members)),
            };
            Row::Entry {
                colour: members[0].colour,
                stroke,
                lines: fit(&svg_text(&text), width),
            }
        })
        .collect();
    if groups.len() > MAX_ENTRIES {
        let left: usize = groups[MAX_ENTRIES..].iter().map(|(_, m)| m.len()).sum();
        rows.push(Row::More(format!(
            "+{} more ({left} runs; every run is in the report's tables)",
            groups.len() - MAX_ENTRIES
        )));
    }
    let mut strokes: Vec<(Stroke, &'static str)> = Vec::new();
    for s in &panel.series {
        if !strokes.contains(&(s.stroke, s.variant)) {
            strokes.push((s.stroke, s.variant));
        }
    }
    strokes.sort();
    if strokes.iter().any(|(s, _)| *s != Stroke::Solid) {
        rows.push(Row::Strokes(strokes));
    }
    rows
}

/// The entry of a run alone in its group: `source | label | verdict`, or
/// its map entries per fork in the map panel.
fn alone(view: View, series: &Series) -> String {
    let run = &series.run;
    match view {
        View::MapEntries => format!(
            "{} | {} | {} vm_map_entries per fork",
            run.source,
            run.strategy,
            per_fork(series)
        ),
        View::Chunks => match attribution_text(run, 1).as_str() {
            "-" => format!("{} | {} | {}", run.source, run.strategy, verdict_text(run)),
            grows => format!(
                "{} | {} | {} | grows with: {grows}",
                run.source,
                run.strategy,
                verdict_text(run)
            ),
        },
    }
}

/// The entry of a group: its name, then each run's result by its variant.
fn together(view: View, group: &str, members: &[&Series]) -> String {
    let mut members = members.to_vec();
    members.sort_by_key(|s| s.stroke);
    let results: Vec<String> = members
        .iter()
        .map(|s| match view {
            View::MapEntries => format!("{} {}", s.variant, per_fork(s)),
            View::Chunks => {
                let v = s.run.verdict();
                format!("{} {} ({})", s.variant, v.verdict, slope(&v))
            }
        })
        .collect();
    let unit = match view {
        View::MapEntries => " vm_map_entries per fork",
        View::Chunks => " (slope per 1000 calls)",
    };
    format!("{group}: {}{unit}", results.join(", "))
}

fn per_fork(series: &Series) -> String {
    series
        .run
        .entries_per_fork()
        .map_or_else(|| "-".to_string(), |g| format!("{g:+.2}"))
}

/// Width in pixels of `text` in the legend's font (0 when the font cannot
/// lay it out, which the embedded font always can).
pub(super) fn text_width(text: &str) -> u32 {
    ("sans-serif", FONT_SIZE)
        .into_font()
        .box_size(text)
        .map_or(0, |(w, _)| w)
}

/// `text` in at most [`MAX_LINES`] lines of at most `width` pixels, broken
/// at spaces (a word wider than a line is broken where it must), of its
/// first [`MAX_CHARS`] characters; what does not fit ends the last line
/// with an ellipsis.
pub(super) fn fit(text: &str, width: u32) -> Vec<String> {
    let mut cut = false;
    let head: String = text
        .chars()
        .enumerate()
        .filter_map(|(i, c)| {
            cut |= i >= MAX_CHARS;
            (i < MAX_CHARS).then_some(c)
        })
        .collect();
    let mut lines = wrap(&head, width);
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        cut = true;
    }
    if cut {
        if let Some(last) = lines.last_mut() {
            *last = ellipsis(last, width);
        }
    }
    lines
}

/// `line` with `…` at its end, shortened to fit `width` pixels.
fn ellipsis(line: &str, width: u32) -> String {
    let mut kept = line.trim_end().to_string();
    loop {
        let candidate = format!("{kept}…");
        if kept.is_empty() || text_width(&candidate) <= width {
            return candidate;
        }
        kept.pop();
    }
}

/// `text` in lines of at most `width` pixels, broken at spaces; a word
/// wider than a line is broken between characters.
pub(super) fn wrap(text: &str, width: u32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word;
        while text_width(rest) > width {
            // The longest head that fits, of one character at least.
            let mut end = 0;
            for (i, c) in rest.char_indices() {
                if end > 0 && text_width(&rest[..i + c.len_utf8()]) > width {
                    break;
                }
                end = i + c.len_utf8();
            }
            lines.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        line = rest.to_string();
    }
    lines.push(line);
    lines
}
