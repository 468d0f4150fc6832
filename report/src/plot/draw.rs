//! Drawing a [`Figure`] on any plotters backend (SVG string or RGB buffer).

use super::axis::Chunks;
use super::{Figure, Panel, Series, LEGEND_BG, PLOT_BG};
use crate::markdown::{attribution_text, verdict_text};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use timing::pyfmt::g;

const WIDTH: u32 = 1200;
const TITLE_HEIGHT: u32 = 56;
const CHART_HEIGHT: u32 = 300;
const LEGEND_ROW: u32 = 20;
/// Where the plotting area starts: margin plus the y label area.
const LEFT: i32 = 10 + 70;
const FONT: &str = "sans-serif";

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn legend_height(panel: &Panel) -> u32 {
    16 + LEGEND_ROW * panel.series.len() as u32
}

/// Width and height of the whole figure.
pub(super) fn size(figure: &Figure) -> (u32, u32) {
    let panels: u32 = figure.panels.iter().map(|p| CHART_HEIGHT + legend_height(p)).sum();
    (WIDTH, TITLE_HEIGHT + panels.max(40))
}

pub(super) fn figure<DB: DrawingBackend>(figure: &Figure, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title, mut rest) = root.split_vertically(TITLE_HEIGHT);
    let text = |s: &str, y: i32, size: i32| Text::new(s.to_string(), (LEFT, y), (FONT, size).into_font());
    let what = match &figure.counter {
        None => "Seconds per 100 calls".to_string(),
        Some(name) => format!("The parent's {name} after each chunk"),
    };
    let heading = format!("{what}, chunk after chunk across bar() calls (dotted lines: a new bar())");
    title.draw(&text(&heading, 10, 18))?;
    let key = format!(
        "{}; slope per 1000 calls with its 95 % interval, Mann-Kendall p",
        figure.key
    );
    title.draw(&text(&key, 34, 14))?;
    if figure.panels.is_empty() {
        rest.draw(&text("no chunk to plot", 10, 14))?;
    }
    for panel in &figure.panels {
        let (area, below) = rest.split_vertically(CHART_HEIGHT + legend_height(panel));
        let (chart, legend_area) = area.split_vertically(CHART_HEIGHT);
        draw_chart(panel, figure.counter.as_deref(), &chart)?;
        legend(panel, &legend_area)?;
        rest = below;
    }
    Ok(())
}

/// Where each bar() after the first starts: between its first chunk and
/// the chunk before it (x counts chunks from 1).
pub(super) fn boundaries(series: &Series) -> Vec<f64> {
    let points = &series.run.points;
    (1..points.len())
        .filter(|&i| points[i].repeat != points[i - 1].repeat)
        .map(|i| i as f64 + 0.5)
        .collect()
}

fn draw_chart<DB: DrawingBackend>(
    panel: &Panel,
    counter: Option<&str>,
    area: &DrawingArea<DB, Shift>,
) -> DrawResult<DB> {
    let n = panel
        .series
        .iter()
        .map(|s| s.run.points.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let ymax = panel
        .series
        .iter()
        .flat_map(|s| s.ys(counter))
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max);
    let ymax = if ymax > 0.0 { ymax * 1.08 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, (FONT, 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(LEFT - 10)
        .build_cartesian_2d(Chunks(n), 0f64..ymax)?;
    chart.plotting_area().fill(&PLOT_BG)?;
    chart
        .configure_mesh()
        .x_desc("chunk (100 calls)")
        .y_desc(counter.unwrap_or("seconds per 100 calls"))
        .y_label_formatter(&|y| match counter {
            // Counts: whole numbers in full (a tick of 1200 regions, not 1.2e+03).
            Some(_) if y.fract() == 0.0 => format!("{y:.0}"),
            _ => g(*y, 3),
        })
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()?;
    for series in &panel.series {
        let style = series.colour.stroke_width(2);
        let xy = series
            .ys(counter)
            .into_iter()
            .enumerate()
            .map(|(i, y)| ((i + 1) as f64, y));
        if series.dashed {
            chart.draw_series(DashedLineSeries::new(xy, 9, 5, style))?;
        } else {
            chart.draw_series(LineSeries::new(xy, style))?;
        }
        let thin = series.colour.stroke_width(1);
        for x in boundaries(series) {
            chart.draw_series(DashedLineSeries::new([(x, 0.0), (x, ymax)], 3, 3, thin))?;
        }
    }
    Ok(())
}

/// A box under the chart, one row per run: a line sample (solid or
/// dashed, in the run's colour) and `source | strategy | verdict`.
fn legend<DB: DrawingBackend>(panel: &Panel, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let (w, h) = area.dim_in_pixel();
    let frame = [(LEFT, 4), (w as i32 - 10, h as i32 - 4)];
    area.draw(&Rectangle::new(frame, LEGEND_BG.filled()))?;
    area.draw(&Rectangle::new(frame, RGBColor(160, 160, 160).stroke_width(1)))?;
    let font = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, series) in panel.series.iter().enumerate() {
        let y = 4 + 8 + LEGEND_ROW as i32 * k as i32 + LEGEND_ROW as i32 / 2;
        let style = series.colour.stroke_width(3);
        let dashes: &[(i32, i32)] = if series.dashed {
            &[(0, 8), (13, 21), (26, 34)]
        } else {
            &[(0, 34)]
        };
        for &(a, b) in dashes {
            area.draw(&PathElement::new([(LEFT + 10 + a, y), (LEFT + 10 + b, y)], style))?;
        }
        let run = &series.run;
        let label = match attribution_text(run, 1).as_str() {
            "-" => format!("{} | {} | {}", run.source, run.strategy, verdict_text(run)),
            grows => format!(
                "{} | {} | {} | grows with: {grows}",
                run.source,
                run.strategy,
                verdict_text(run)
            ),
        };
        area.draw(&Text::new(label, (LEFT + 54, y), font.clone()))?;
    }
    Ok(())
}
