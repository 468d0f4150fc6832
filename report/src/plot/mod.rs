//! The plot: seconds per 100 calls against the chunk index across repeats,
//! one panel per kind of strategy, as SVG or PNG (an issue comment on GitHub
//! shows PNG).
//!
//! A 5 ms thread chunk and a 5 s Sage chunk cannot share a linear axis, so
//! each kind of strategy (fork per job, pools, a pool per call, thread
//! teams, RealField) gets its own panel with its own absolute scale. The x
//! axis counts chunks (integer ticks); a dotted line in a run's colour marks
//! where its next bar() starts. Legends sit under their panel, outside the
//! plotting area, and each entry ends with the run's drift verdict. An
//! original and its port share a colour, the original solid, the port dashed.
//! With `--counter NAME` the y axis is one of the parent's resource counters
//! (`vm_regions`, `rss_bytes`, ...) instead, to see what grew with the times.

mod axis;
mod draw;

use crate::run::{Run, SourceKind};
use anyhow::{anyhow, Context};
use plotters::prelude::*;

/// The plotting area's background: tests find the panels by it.
pub const PLOT_BG: RGBColor = RGBColor(248, 248, 248);
/// The legend box's background: tests find the legends by it.
pub const LEGEND_BG: RGBColor = RGBColor(255, 255, 242);

/// Tableau 10, reordered so that neighbours differ most.
const COLOURS: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(89, 161, 79),
    RGBColor(225, 87, 89),
    RGBColor(176, 122, 161),
    RGBColor(156, 117, 95),
    RGBColor(255, 157, 167),
    RGBColor(118, 183, 178),
    RGBColor(186, 176, 172),
    RGBColor(237, 201, 72),
];

/// Kinds of strategy, one panel each, in this order.
const PANELS: [&str; 6] = [
    "Fork per job (@parallel, its pure-Python emulation, their ports)",
    "Process pools (multiprocessing.Pool, ProcessPoolExecutor)",
    "A new pool per call (spawn)",
    "Thread teams (OpenMP and its port)",
    "RealField(100).sin() on a pool",
    "Other",
];

/// One run as drawn.
pub struct Series {
    pub run: Run,
    pub colour: RGBColor,
    pub dashed: bool,
}

pub struct Panel {
    pub title: &'static str,
    pub series: Vec<Series>,
}

pub struct Figure {
    pub panels: Vec<Panel>,
    /// What solid and dashed mean here.
    pub key: &'static str,
    /// `--counter NAME`: the y axis is this resource counter of the parent
    /// (read after every chunk), not seconds per 100 calls; runs without it
    /// are left out.
    pub counter: Option<String>,
}

impl Series {
    /// The y values, one per chunk: seconds per 100 calls, or the counter.
    pub fn ys(&self, counter: Option<&str>) -> Vec<f64> {
        match counter {
            None => self.run.points.iter().map(|p| p.secs_per_100()).collect(),
            Some(name) => self.run.counter(name).map(<[f64]>::to_vec).unwrap_or_default(),
        }
    }
}

/// The panel of a run, from its strategy label (transcripts and records
/// name strategies differently: `fork-per-job (Sage @parallel)`,
/// `fork-per-job/pipe (test_fork_sleep)`, `threads/team (...)`).
fn panel_of(run: &Run) -> usize {
    let s = run.strategy.as_str();
    if s.contains("thread") || s.contains("OpenMP") {
        3
    } else if s.contains("RealField") || run.sleep.is_none() {
        4
    } else if s.starts_with("fork-per-job") {
        0
    } else if s.starts_with("pool-per-call") {
        2
    } else if s.starts_with("pool/") || s.starts_with("ProcessPoolExecutor") || s.starts_with("executor/") {
        1
    } else {
        5
    }
}

impl Figure {
    /// `per_input`: the runs of each input, in order. With `pairs`, inputs
    /// come as ORIGINAL PORT: run k of an original and run k of its port
    /// share a colour, the port dashed. Otherwise every run has its own
    /// colour, and JSON records (ports) are dashed, transcripts solid.
    /// Runs with no chunk (test_openmp_sleep.c prints no timing) are left out.
    pub fn new(per_input: &[Vec<Run>], pairs: bool, counter: Option<&str>) -> Figure {
        let mut colours: Vec<(usize, usize)> = Vec::new();
        let mut panels: Vec<Panel> = PANELS
            .iter()
            .map(|title| Panel {
                title,
                series: Vec::new(),
            })
            .collect();
        for (input, runs) in per_input.iter().enumerate() {
            let shown = |r: &Run| !r.points.is_empty() && counter.is_none_or(|c| r.counter(c).is_some());
            for (k, run) in runs.iter().enumerate().filter(|(_, r)| shown(r)) {
                let (tag, dashed) = if pairs {
                    ((input / 2, k), input % 2 == 1)
                } else {
                    ((input, k), run.kind == SourceKind::Record)
                };
                let colour = match colours.iter().position(|t| *t == tag) {
                    Some(c) => c,
                    None => {
                        colours.push(tag);
                        colours.len() - 1
                    }
                };
                panels[panel_of(run)].series.push(Series {
                    run: run.clone(),
                    colour: COLOURS[colour % COLOURS.len()],
                    dashed,
                });
            }
        }
        panels.retain(|p| !p.series.is_empty());
        let key = if pairs {
            "solid: the original, dashed: its port (same colour)"
        } else {
            "solid: a transcript, dashed: a JSON record of this suite"
        };
        Figure {
            panels,
            key,
            counter: counter.map(str::to_string),
        }
    }

    /// The plot as an SVG document.
    pub fn svg(&self) -> anyhow::Result<String> {
        register_font()?;
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, draw::size(self)).into_drawing_area();
            draw::figure(self, &root).map_err(|e| anyhow!("SVG plot: {e}"))?;
            root.present().map_err(|e| anyhow!("SVG plot: {e}"))?;
        }
        Ok(out)
    }

    /// The plot as a PNG image (8-bit RGB).
    pub fn png(&self) -> anyhow::Result<Vec<u8>> {
        register_font()?;
        let (w, h) = draw::size(self);
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            draw::figure(self, &root).map_err(|e| anyhow!("PNG plot: {e}"))?;
            root.present().map_err(|e| anyhow!("PNG plot: {e}"))?;
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("PNG plot")?;
        writer.write_image_data(&rgb).context("PNG plot")?;
        writer.finish().context("PNG plot")?;
        Ok(out)
    }
}

/// The font of every text, embedded (DejaVu Sans) so that the PNG needs no
/// system font on Linux or macOS; the SVG names `sans-serif` and leaves the
/// rendering to the viewer, but plotters measures its text with this font.
fn register_font() -> anyhow::Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the embedded font does not load"))
    }
}

#[cfg(test)]
mod tests;
