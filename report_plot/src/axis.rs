//! The x axis: chunks counted from 1, with integer ticks only.
//!
//! plotters' f64 axis picks "nice" ticks such as 2.5, and its integer axis
//! cannot place a bar() boundary between two chunks (x.5), hence this small
//! axis: f64 positions, integer key points.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use std::ops::Range;

/// Chunks `1..=n`, drawn from 0.5 to n + 0.5.
pub(super) struct Chunks(pub usize);

impl Ranged for Chunks {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let Range { start, end } = self.range();
        let share = (value - start) / (end - start);
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        ticks(self.0)
    }

    fn range(&self) -> Range<f64> {
        0.5..self.0 as f64 + 0.5
    }
}

impl ValueFormatter<f64> for Chunks {
    fn format_ext(&self, value: &f64) -> String {
        format!("{value:.0}")
    }
}

/// Integer chunk ticks 1..=n, every 1, 2, 5, 10, 20, 50... chunks (at most
/// 12 steps), and chunk 1 unless that crowds chunk 2.
pub(super) fn ticks(n: usize) -> Vec<f64> {
    let step = [1, 2, 5]
        .iter()
        .flat_map(|m| (0..8).map(move |e| m * 10usize.pow(e)))
        .filter(|s| n / s <= 12)
        .min()
        .unwrap_or(1);
    (1..=n)
        .filter(|i| i % step == 0 || (*i == 1 && step != 2))
        .map(|i| i as f64)
        .collect()
}
