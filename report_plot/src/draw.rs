//! Drawing a [`Figure`] on any plotters backend (SVG string or RGB buffer).

use super::axis::Chunks;
use super::legend::{self, Row};
use super::{Figure, Panel, Series, Stroke, View, LEGEND_BG, PLOT_BG};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use report_write::escape::svg_text;
use timing::pyfmt::g;

const WIDTH: u32 = 1200;
const TITLE_HEIGHT: u32 = 56;
const CHART_HEIGHT: u32 = 300;
const LEGEND_ROW: u32 = 20;
/// Where the plotting area starts: margin plus the y label area.
const LEFT: i32 = 10 + 70;
const FONT: &str = "sans-serif";

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Where the legend's text starts and must end (the frame runs from
/// `LEFT` to 10 px before the right edge; the text starts after the line
/// sample).
const LEGEND_TEXT: i32 = LEFT + 54;
pub(super) const LEGEND_TEXT_WIDTH: u32 = WIDTH - 10 - LEGEND_TEXT as u32 - 8;

fn legend_height(panel: &Panel) -> u32 {
    let rows: usize = legend::rows(panel, LEGEND_TEXT_WIDTH).iter().map(Row::height).sum();
    16 + LEGEND_ROW * rows as u32
}

/// Width and height of the whole figure.
pub(super) fn size(figure: &Figure) -> (u32, u32) {
    let panels: u32 = figure.panels.iter().map(|p| CHART_HEIGHT + legend_height(p)).sum();
    (WIDTH, TITLE_HEIGHT + panels.max(40))
}

pub(super) fn figure<DB: DrawingBackend>(figure: &Figure, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title, mut rest) = root.split_vertically(TITLE_HEIGHT);
    // The heading names `--counter`'s value.
    let text = |s: &str, y: i32, size: i32| Text::new(svg_text(s).into_owned(), (LEFT, y), (FONT, size).into_font());
    let what = match &figure.counter {
        None => "Seconds per 100 calls".to_string(),
        Some(name) => format!("The parent's {name} after each chunk"),
    };
    let heading = match figure.panels.first().map(|p| p.view) {
        Some(View::MapEntries) if figure.timing_left_out => format!(
            "The leak's picture only: the timing panel is left out, no run has the {} chunks of 100 calls \
             a verdict needs",
            drift::MIN_CHUNKS
        ),
        Some(View::MapEntries) => format!(
            "First the leak's picture; then {}, chunk after chunk across bar() calls (dotted lines: a new bar())",
            what.to_lowercase()
        ),
        _ => format!("{what}, chunk after chunk across bar() calls (dotted lines: a new bar())"),
    };
    title.draw(&text(&heading, 10, 18))?;
    let key = if figure.panels.iter().any(|p| p.view == View::Chunks) {
        format!(
            "{}; slope per 1000 calls with its 95 % interval, Mann-Kendall p",
            figure.key
        )
    } else {
        figure.key.to_string()
    };
    title.draw(&text(&key, 34, 14))?;
    if figure.panels.is_empty() {
        rest.draw(&text("no chunk to plot", 10, 14))?;
    }
    for panel in &figure.panels {
        let (area, below) = rest.split_vertically(CHART_HEIGHT + legend_height(panel));
        let (chart, legend_area) = area.split_vertically(CHART_HEIGHT);
        match panel.view {
            View::Chunks => draw_chart(panel, figure.counter.as_deref(), &chart)?,
            View::MapEntries => draw_map(panel, &chart)?,
        }
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
        .y_desc(svg_text(counter.unwrap_or("seconds per 100 calls")))
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
        match series.stroke.dashes() {
            Some((dash, gap)) => chart.draw_series(DashedLineSeries::new(xy, dash, gap, style))?,
            None => chart.draw_series(LineSeries::new(xy, style))?,
        };
        let thin = series.colour.stroke_width(1);
        for x in boundaries(series) {
            chart.draw_series(DashedLineSeries::new([(x, 0.0), (x, ymax)], 3, 3, thin))?;
        }
    }
    Ok(())
}

/// The map panel: vm_map_entries gained against forks made, both since
/// the first reading, with the diagonal of one entry per fork. The y axis
/// reaches at least that diagonal's end, so that a clean run lies flat along
/// the bottom instead of filling the panel with its noise.
fn draw_map<DB: DrawingBackend>(panel: &Panel, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let lines: Vec<Vec<(f64, f64)>> = panel
        .series
        .iter()
        .map(|s| s.run.map_growth().unwrap_or_default())
        .collect();
    let all = || lines.iter().flatten();
    let xmax = all().map(|p| p.0).fold(0.0f64, f64::max).max(1.0);
    let ymax = all().map(|p| p.1).fold(xmax, f64::max) * 1.05;
    let ymin = all().map(|p| p.1).fold(0.0f64, f64::min);
    let ymin = if ymin < 0.0 { ymin - 0.05 * (ymax - ymin) } else { 0.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, (FONT, 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(LEFT - 10)
        .build_cartesian_2d(0f64..xmax * 1.02, ymin..ymax)?;
    chart.plotting_area().fill(&PLOT_BG)?;
    chart
        .configure_mesh()
        .x_desc("forks since the first reading")
        .y_desc("vm_map_entries gained")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()?;
    let grey = RGBColor(150, 150, 150);
    chart.draw_series(DashedLineSeries::new(
        [(0.0, 0.0), (xmax, xmax)],
        6,
        4,
        grey.stroke_width(1),
    ))?;
    let note = TextStyle::from((FONT, 12).into_font())
        .color(&grey)
        .pos(Pos::new(HPos::Right, VPos::Bottom));
    chart.draw_series(std::iter::once(Text::new(
        "one entry per fork (a leak)",
        (xmax * 0.97, xmax * 0.97),
        note,
    )))?;
    for (series, xy) in panel.series.iter().zip(lines) {
        let style = series.colour.stroke_width(2);
        match series.stroke.dashes() {
            Some((dash, gap)) => chart.draw_series(DashedLineSeries::new(xy, dash, gap, style))?,
            None => chart.draw_series(LineSeries::new(xy, style))?,
        };
    }
    Ok(())
}

/// A box under the chart, its rows ([`legend::rows`]): an entry is a line
/// sample (in the group's colour and the run's stroke) and its lines of
/// text; the strokes' row a sample of each with its meaning.
fn legend<DB: DrawingBackend>(panel: &Panel, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let (w, h) = area.dim_in_pixel();
    let frame = [(LEFT, 4), (w as i32 - 10, h as i32 - 4)];
    area.draw(&Rectangle::new(frame, LEGEND_BG.filled()))?;
    area.draw(&Rectangle::new(frame, RGBColor(160, 160, 160).stroke_width(1)))?;
    let font = TextStyle::from((FONT, legend::FONT_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let y = |row: i32| 4 + 8 + LEGEND_ROW as i32 * row + LEGEND_ROW as i32 / 2;
    let sample = |x: i32, row: i32, stroke: Stroke, colour: RGBColor| -> DrawResult<DB> {
        for &(a, b) in stroke.sample() {
            area.draw(&PathElement::new(
                [(x + a, y(row)), (x + b, y(row))],
                colour.stroke_width(3),
            ))?;
        }
        Ok(())
    };
    let mut row = 0;
    for r in legend::rows(panel, LEGEND_TEXT_WIDTH) {
        match r {
            Row::Entry { colour, stroke, lines } => {
                sample(LEFT + 10, row, stroke, colour)?;
                for line in lines {
                    area.draw(&Text::new(line, (LEGEND_TEXT, y(row)), font.clone()))?;
                    row += 1;
                }
            }
            Row::More(text) => {
                area.draw(&Text::new(text, (LEGEND_TEXT, y(row)), font.clone()))?;
                row += 1;
            }
            Row::Strokes(strokes) => {
                let mut x = LEFT + 10;
                for (stroke, meaning) in strokes {
                    sample(x, row, stroke, RGBColor(90, 90, 90))?;
                    area.draw(&Text::new(meaning, (x + 44, y(row)), font.clone()))?;
                    x += 44 + legend::text_width(meaning) as i32 + 24;
                }
                row += 1;
            }
        }
    }
    Ok(())
}
