//! The SVG plot: seconds per 100 calls against the chunk index across
//! repeats, one line (one SVG `polyline`) per run.

use crate::run::Run;
use plotters::prelude::*;
use std::path::Path;

/// The plot as SVG text (`path` names `--svg` in messages; the caller writes
/// the text through [`timing::sink`]).
pub fn svg(runs: &[Run], path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    draw(runs, path, &mut text)?;
    Ok(text)
}

fn draw(runs: &[Run], path: &Path, text: &mut String) -> anyhow::Result<()> {
    let n = runs.iter().map(|r| r.points.len()).max().unwrap_or(0).max(2);
    let ymax = runs
        .iter()
        .flat_map(|r| r.points.iter().map(|p| p.secs_per_100()))
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max);
    let ymax = if ymax > 0.0 { ymax * 1.05 } else { 1.0 };
    let root = SVGBackend::with_string(text, (960, 600)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("--svg {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Seconds per 100 calls, chunk after chunk across repeats",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..(n - 1) as f64, 0f64..ymax)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("chunk index (all repeats in order)")
        .y_desc("seconds per 100 calls")
        .draw()
        .map_err(|e| err(&e))?;
    for (k, run) in runs.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let label = format!("{} - {} - {}", run.source, run.strategy, run.verdict().verdict);
        chart
            .draw_series(LineSeries::new(
                run.points.iter().enumerate().map(|(i, p)| (i as f64, p.secs_per_100())),
                color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(label)
            // A filled square, not a line, so that every polyline is a run.
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    if !runs.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
