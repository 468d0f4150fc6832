//! `report`'s pictures, a part of its writing room (`report_write` holds the
//! words: every escape and every verdict's wording used here is its). The
//! plot: first the leak's own picture, the parent's `vm_map_entries`
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
//! run's colour marks where its next bar() starts. When no run has the
//! chunks a timing verdict needs (`ci/diagnose.sh --quick`: two chunks a
//! run) and the leak's picture has runs, the chunk panels are left out
//! (two points a line show nothing) and the heading says why; with
//! `--counter NAME` they stay, as asked.
//!
//! Colour and line: a run's colour is what ran (the script or the port,
//! the interpreter, the machine), its line how `os.fork` ran under the
//! compare harness (solid the real one, dashed the stand-in leak, dotted
//! the control, long dashes the stand-in under the control), so that a
//! diagnosis of seventeen runs is a handful of colours. Legends sit under
//! their panel, outside the plotting area, one entry per colour (a run
//! alone in its colour: its source, label and verdict; several: each line's
//! result by its line style), then a row that keys the line styles. With
//! `--pairs` an original and its port share a colour, the original solid,
//! the port dashed, one entry each. Every legend is bounded (`legend`):
//! at most a dozen entries then `+k more`, each of at most two lines cut
//! with an ellipsis, so that neither a label of a megabyte nor five hundred
//! runs make the picture bigger than a dozen entries do. A run keeps its
//! colour in the map panel. With `--counter NAME` the y axis of the chunk
//! panels is one of the parent's resource counters (`vm_regions`,
//! `rss_bytes`, ...) instead, to see what grew with the times.

mod axis;
mod draw;
mod legend;

use anyhow::{anyhow, Context};
use plotters::prelude::*;
use report_read::run::{Factors, Run, StrategyKind};

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

/// How a run's line is drawn, in the order legends name them (the real
/// os.fork, the control, the stand-in, both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stroke {
    Solid,
    Dotted,
    Dashed,
    LongDash,
}

impl Stroke {
    /// The stroke of a run without `--pairs`: how `os.fork` ran under the
    /// compare harness (its factors, read from the harness's first line),
    /// with its name; a run the harness did not make is drawn solid.
    fn of_variant(run: &Run) -> (Stroke, &'static str) {
        let control = run.factors.os_fork.as_deref() == Some("without thread count");
        match (run.factors.standin_leak == Some(true), control) {
            (false, false) => (Stroke::Solid, "real"),
            (true, false) => (Stroke::Dashed, "stand-in"),
            (false, true) => (Stroke::Dotted, "control"),
            (true, true) => (Stroke::LongDash, "stand-in + control"),
        }
    }

    /// `(from, to)` pixel pieces of the legend's 34 px sample.
    pub(crate) fn sample(self) -> &'static [(i32, i32)] {
        match self {
            Stroke::Solid => &[(0, 34)],
            Stroke::Dashed => &[(0, 8), (13, 21), (26, 34)],
            Stroke::Dotted => &[(0, 2), (6, 8), (12, 14), (18, 20), (24, 26), (30, 32)],
            Stroke::LongDash => &[(0, 15), (20, 34)],
        }
    }

    /// Dash and gap in pixels of the plotted line (`None`: solid).
    pub(crate) fn dashes(self) -> Option<(u32, u32)> {
        match self {
            Stroke::Solid => None,
            Stroke::Dashed => Some((9, 5)),
            Stroke::Dotted => Some((2, 4)),
            Stroke::LongDash => Some((20, 6)),
        }
    }
}

/// One run as drawn.
pub struct Series {
    pub run: Run,
    pub colour: RGBColor,
    pub stroke: Stroke,
    /// The stroke's meaning (`real`, `stand-in`; `original`, `port`).
    pub variant: &'static str,
    /// Runs of one group share a colour and one legend entry: the group's
    /// name (with the machine when the figure has several), or, for a run
    /// of its own, a key of its own.
    pub group: String,
    /// The group is the compare harness's runs of one script, told apart
    /// by their stroke; otherwise the run is alone in its group.
    pub grouped: bool,
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
    /// What colours and strokes mean here.
    pub key: &'static str,
    /// The chunk panels were left out: no run has the chunks a timing
    /// verdict needs (`report_judge::too_short_for_timing`).
    pub timing_left_out: bool,
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

/// The group of a run drawn without `--pairs`: the compare harness's runs
/// of one script under one interpreter (and machine) are one group, told
/// apart by their stroke; any other run is a group of its own.
/// `id` names the run uniquely (sources can repeat: one file name pasted
/// from two machines).
fn group_of(run: &Run, id: String) -> (String, bool) {
    let f = &run.factors;
    if f.os_fork.is_none() && f.standin_leak.is_none() {
        return (id, false);
    }
    let python = Factors {
        python: f.python.clone(),
        ..Factors::default()
    };
    let base = if run.base.is_empty() { &run.strategy } else { &run.base };
    (format!("{base}{}", python.label()), true)
}

impl Figure {
    /// `per_input`: the runs of each input, in order. With `pairs`, inputs
    /// come as ORIGINAL PORT: run k of an original and run k of its port
    /// share a colour, the port dashed. Otherwise a colour per group
    /// ([`Series::group`]) in the order the groups come, and a stroke per
    /// variant ([`Stroke`]). The map panel comes first when a run has its
    /// picture, each run in its colour and stroke of the chunk panels,
    /// which are left out when no run has the chunks a timing verdict
    /// needs (unless `counter` asks for them).
    /// Runs with no chunk (test_openmp_sleep.c prints no timing) are left out.
    pub fn new(per_input: &[Vec<Run>], pairs: bool, counter: Option<&str>) -> Figure {
        let all: Vec<Run> = per_input
            .iter()
            .flatten()
            .filter(|r| !r.points.is_empty())
            .cloned()
            .collect();
        let mut machines: Vec<&str> = all.iter().map(|r| r.machine.as_str()).collect();
        machines.sort_unstable();
        machines.dedup();
        let several_machines = machines.len() > 1;
        let mut groups: Vec<(String, bool)> = Vec::new();
        let mut pair_tags: Vec<(usize, usize)> = Vec::new();
        let mut chunk_panels: Vec<Vec<Series>> = (0..PANELS.len()).map(|_| Vec::new()).collect();
        let mut map: Vec<Series> = Vec::new();
        for (input, runs) in per_input.iter().enumerate() {
            for (k, run) in runs.iter().enumerate().filter(|(_, r)| !r.points.is_empty()) {
                let (colour, stroke, variant, group, grouped) = if pairs {
                    let tag = (input / 2, k);
                    if !pair_tags.contains(&tag) {
                        pair_tags.push(tag);
                    }
                    let n = pair_tags.iter().position(|t| *t == tag).unwrap_or(0);
                    let (stroke, variant) = if input % 2 == 1 {
                        (Stroke::Dashed, "port")
                    } else {
                        (Stroke::Solid, "original")
                    };
                    (n, stroke, variant, format!("{input}:{k}"), false)
                } else {
                    let (mut group, grouped) = group_of(run, format!("{input}:{k}"));
                    if grouped && several_machines && !run.machine.is_empty() {
                        group = format!("{group} ({})", run.machine);
                    }
                    let key = (group.clone(), grouped);
                    let n = groups.iter().position(|g| *g == key).unwrap_or_else(|| {
                        groups.push(key);
                        groups.len() - 1
                    });
                    let (stroke, variant) = Stroke::of_variant(run);
                    (n, stroke, variant, group, grouped)
                };
                let series = || Series {
                    run: run.clone(),
                    colour: COLOURS[colour % COLOURS.len()],
                    stroke,
                    variant,
                    group: group.clone(),
                    grouped,
                };
                if counter.is_none_or(|c| run.counter(c).is_some()) {
                    chunk_panels[panel_of(run)].push(series());
                }
                if run.map_growth().is_some() {
                    map.push(series());
                }
            }
        }
        let timing_left_out = counter.is_none() && !map.is_empty() && report_judge::too_short_for_timing(&all);
        let mut panels = vec![Panel {
            title: MAP_PANEL,
            view: View::MapEntries,
            series: map,
        }];
        if !timing_left_out {
            for ((_, title), series) in PANELS.iter().zip(chunk_panels) {
                panels.push(Panel {
                    title,
                    view: View::Chunks,
                    series,
                });
            }
        }
        panels.retain(|p| !p.series.is_empty());
        let key = if pairs {
            "solid: the original, dashed: its port (same colour)"
        } else {
            "colour: what ran (script or port, interpreter); line: solid the real os.fork, dashed the stand-in \
             leak, dotted the control, long dashes both"
        };
        Figure {
            panels,
            key,
            timing_left_out,
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
