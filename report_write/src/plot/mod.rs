//! The plot: first the leak's own picture, the parent's `vm_map_entries`
//! against the forks it made (one line per fork-per-job run that read the
//! counters: a leak of one entry per fork is a diagonal, a clean run a flat
//! line), then seconds per 100 calls against the chunk index across repeats,
//! one panel per kind of strategy, as SVG or PNG (an issue comment on GitHub
//! shows PNG).
//!
//! A 5 ms thread chunk and a 5 s Sage chunk cannot share a linear axis, so
//! each kind of strategy (fork per job, pools, a pool per call, thread
//! teams, RealField) gets its own panel with its own absolute scale. The
//! panel follows what the run is ([`StrategyKind`]), never words of its
//! label. The x axis counts chunks (integer ticks); a dotted line in a
//! run's colour marks where its next bar() starts. Legends sit under their
//! panel, outside the plotting area, one entry per run (wrapped to the
//! legend's width), each ending with the run's drift verdict. An original
//! and its port share a colour, the original solid, the port dashed; a run
//! keeps its colour in the map panel. With `--counter NAME` the y axis of
//! the chunk panels is one of the parent's resource counters (`vm_regions`,
//! `rss_bytes`, ...) instead, to see what grew with the times.

mod axis;
mod draw;

use anyhow::{anyhow, Context};
use plotters::prelude::*;
use report_read::run::{Run, SourceKind, StrategyKind};

/// The plotting area's background: tests find the panels by it.
pub const PLOT_BG: RGBColor = RGBColor(248, 248, 248);
/// The legend box's background: tests find the legends by it.
pub const LEGEND_BG: RGBColor = RGBColor(255, 255, 242);

/// Tableau 20, the strong colour of each pair first, reordered so that
/// neighbours differ most: a diagnosis puts a dozen fork-per-job runs in
/// one panel.
const COLOURS: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(199, 199, 199),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

/// The map panel's title.
pub const MAP_PANEL: &str = "The leak's picture: vm_map_entries against forks (fork per job; grey: one entry per fork)";

/// The chunk panels, one per kind of strategy, in this order.
const PANELS: [(StrategyKind, &str); 6] = [
    (
        StrategyKind::ForkPerJob,
        "Fork per job (@parallel, its pure-Python emulation, their ports)",
    ),
    (
        StrategyKind::Pool,
        "Process pools (multiprocessing.Pool, ProcessPoolExecutor)",
    ),
    (StrategyKind::PoolPerCall, "A new pool per call (spawn)"),
    (StrategyKind::ThreadTeam, "Thread teams (OpenMP and its port)"),
    (StrategyKind::RealField, "RealField(100).sin() on a pool"),
    (StrategyKind::Unknown, "Other"),
];

/// One run as drawn.
pub struct Series {
    pub run: Run,
    pub colour: RGBColor,
    pub dashed: bool,
}

/// What a panel plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Seconds per 100 calls (or the `--counter`) against the chunk index.
    Chunks,
    /// vm_map_entries gained against forks made, both since the first
    /// reading ([`Run::map_growth`]).
    MapEntries,
}

pub struct Panel {
    pub title: &'static str,
    pub view: View,
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

/// The chunk panel of a run: the one of its kind.
fn panel_of(run: &Run) -> usize {
    PANELS
        .iter()
        .position(|(kind, _)| *kind == run.strategy_kind)
        .unwrap_or(PANELS.len() - 1)
}

impl Figure {
    /// `per_input`: the runs of each input, in order. With `pairs`, inputs
    /// come as ORIGINAL PORT: run k of an original and run k of its port
    /// share a colour, the port dashed. Otherwise JSON records (ports) are
    /// dashed, transcripts solid, and the runs of a panel get its colours in
    /// turn. The map panel comes first when a run has its picture, each run
    /// in the colour it has in its chunk panel.
    /// Runs with no chunk (test_openmp_sleep.c prints no timing) are left out.
    pub fn new(per_input: &[Vec<Run>], pairs: bool, counter: Option<&str>) -> Figure {
        // A run is (input, k); with --pairs its colour is that of its pair.
        type Id = (usize, usize);
        let mut pair_tags: Vec<Id> = Vec::new();
        let mut chunk_panels: Vec<Vec<(Id, &Run, bool)>> = vec![Vec::new(); PANELS.len()];
        let mut map: Vec<(Id, &Run, bool)> = Vec::new();
        for (input, runs) in per_input.iter().enumerate() {
            for (k, run) in runs.iter().enumerate().filter(|(_, r)| !r.points.is_empty()) {
                let dashed = if pairs {
                    input % 2 == 1
                } else {
                    run.kind == SourceKind::Record
                };
                if pairs && !pair_tags.contains(&(input / 2, k)) {
                    pair_tags.push((input / 2, k));
                }
                if counter.is_none_or(|c| run.counter(c).is_some()) {
                    chunk_panels[panel_of(run)].push(((input, k), run, dashed));
                }
                if run.map_growth().is_some() {
                    map.push(((input, k), run, dashed));
                }
            }
        }
        let pair_colour = |(input, k): Id| pair_tags.iter().position(|t| *t == (input / 2, k)).unwrap_or(0);
        // The colour of each run of a chunk panel: its pair's, or the next
        // of its panel.
        let mut colour_of: Vec<(Id, usize)> = Vec::new();
        for members in &chunk_panels {
            for (n, (id, _, _)) in members.iter().enumerate() {
                colour_of.push((*id, if pairs { pair_colour(*id) } else { n }));
            }
        }
        let series = |members: Vec<(Id, &Run, bool)>| -> Vec<Series> {
            members
                .into_iter()
                .enumerate()
                .map(|(n, (id, run, dashed))| {
                    let chunk_colour = colour_of.iter().find(|(i, _)| *i == id).map(|(_, c)| *c);
                    let c = chunk_colour.unwrap_or(if pairs { pair_colour(id) } else { n });
                    Series {
                        run: run.clone(),
                        colour: COLOURS[c % COLOURS.len()],
                        dashed,
                    }
                })
                .collect()
        };
        let mut panels = vec![Panel {
            title: MAP_PANEL,
            view: View::MapEntries,
            series: series(map),
        }];
        for ((_, title), members) in PANELS.iter().zip(chunk_panels) {
            panels.push(Panel {
                title,
                view: View::Chunks,
                series: series(members),
            });
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
