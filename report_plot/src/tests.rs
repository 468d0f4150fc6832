//! Tests of the figure's layout helpers.

use super::axis::ticks;
use super::draw::{boundaries, LEGEND_TEXT_WIDTH};
use super::legend::{fit, rows, text_width, wrap, Row, MAX_CHARS, MAX_ENTRIES, MAX_LINES};
use super::{panel_of, Figure, Series, Stroke, View};
use report_read::run::{Factors, Point, Run, SourceKind, StrategyKind};

fn run(strategy: &str, sleep: Option<f64>, repeats: &[usize], kind: SourceKind) -> Run {
    let points = repeats
        .iter()
        .enumerate()
        .flat_map(|(k, &n)| {
            (0..n).map(move |_| Point {
                repeat: k,
                calls: 100,
                wall: 0.1,
                cost_per_job: 0.0,
            })
        })
        .collect();
    Run {
        source: "s".into(),
        kind,
        strategy: strategy.into(),
        os_arch: "unknown".into(),
        ncpus: Some(2),
        sleep,
        points,
        counters: Vec::new(),
        ..Run::default()
    }
}

/// `run` drawn alone in its group, solid.
fn alone(run: Run) -> Series {
    Series {
        group: run.source.clone(),
        run,
        colour: super::COLOURS[0],
        stroke: Stroke::Solid,
        variant: "real",
        grouped: false,
    }
}

#[test]
fn ticks_are_integers_and_few() {
    assert_eq!(ticks(2), vec![1.0, 2.0]);
    assert_eq!(ticks(10), (1..=10).map(f64::from).collect::<Vec<_>>());
    assert_eq!(ticks(30), vec![1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]);
    for n in [1, 7, 13, 50, 99, 2000] {
        let t = ticks(n);
        assert!(
            t.len() <= 13 && t.iter().all(|x| x.fract() == 0.0 && *x >= 1.0 && *x <= n as f64),
            "{n}: {t:?}"
        );
    }
}

#[test]
fn bar_boundaries_sit_between_chunks() {
    let r = run("fork-per-job/pipe (t)", Some(0.001), &[3, 2, 1], SourceKind::Record);
    assert_eq!(boundaries(&alone(r)), vec![3.5, 5.5]);
}

/// The chunk panel's title of a run (as `Figure::new` places it).
fn panel_title(run: &Run) -> &'static str {
    super::PANELS[panel_of(run)].1
}

const FORK: &str = "Fork per job (@parallel, its pure-Python emulation, their ports)";
const POOLS: &str = "Process pools (multiprocessing.Pool, ProcessPoolExecutor)";
const PER_CALL: &str = "A new pool per call (spawn)";
const THREADS: &str = "Thread teams (OpenMP and its port)";
const REAL_FIELD: &str = "RealField(100).sin() on a pool";

#[test]
fn every_record_of_the_suite_goes_to_the_panel_of_its_kind() {
    use timing::{LineFormat, RunRecord};
    let para = LineFormat::para(8, 0.001);
    let pool = LineFormat::Pool {
        workers: 8,
        sleep: 0.001,
    };
    let executor = LineFormat::Para {
        workers: 8,
        sleep: 0.001,
        label: "maxworkers".into(),
    };
    let rf = LineFormat::RealField {
        workers: 8,
        precision: 100,
    };
    let none = serde_json::json!({});
    // Every strategy field a binary writes (test_fork_sleep's ipc::Kind,
    // pool_bars' Settings::strategy, test_threads_sleep's runtimes,
    // test_rf_pool's pools), with the parameters that change the label.
    let mut records = vec![
        ("test_fork_sleep", "fork-per-job/pipe", none.clone(), &para, FORK),
        ("test_fork_sleep", "fork-per-job/file", none.clone(), &para, FORK),
        ("test_spawn_sleep", "pool-per-call/spawn", none.clone(), &para, PER_CALL),
        ("test_spawn_sleep", "pool/spawn", none.clone(), &pool, POOLS),
    ];
    for check in ["off", "leak", "free"] {
        for parent in [None, Some("sage")] {
            let params = serde_json::json!({"post_fork_check": check, "parent": parent});
            records.push(("test_fork_sleep", "fork-per-job/pipe", params, &para, FORK));
        }
    }
    for method in ["fork", "forkserver", "spawn"] {
        let pool_strategy: &'static str = Box::leak(format!("pool/{method}").into_boxed_str());
        let executor_strategy: &'static str = Box::leak(format!("executor/{method}").into_boxed_str());
        records.push(("test_pool_sleep", pool_strategy, none.clone(), &pool, POOLS));
        records.push(("test_pool_sleep", executor_strategy, none.clone(), &executor, POOLS));
        records.push(("test_rf_pool", pool_strategy, none.clone(), &rf, REAL_FIELD));
    }
    for runtime in ["team", "rayon", "scoped", "channel"] {
        let strategy: &'static str = Box::leak(format!("threads/{runtime}").into_boxed_str());
        records.push(("test_threads_sleep", strategy, none.clone(), &para, THREADS));
    }
    for (tool, strategy, params, line, panel) in records {
        let rec = RunRecord::new(tool, strategy, params, line.clone());
        let run = Run::from_record("r", &rec);
        assert_eq!(panel_title(&run), panel, "{tool} {}", run.strategy);
    }
}

#[test]
fn every_original_as_the_compare_harness_prints_it_goes_to_the_panel_of_its_kind() {
    use timing::LineFormat;
    let harness = |fork: &str, standin: &str| {
        format!(
            "Harness (extra): Python 3.12.1 (CPython) on Debian GNU/Linux 12 (bookworm), x86_64; cpu: x; \
             os.fork: {fork}; stand-in leak: {standin}; counters: on\n"
        )
    };
    let para = |label: &str| {
        let l = LineFormat::Para {
            workers: 8,
            sleep: 0.001,
            label: label.into(),
        };
        format!("{}\n{}\n", l.chunk_line(0.7, 100), l.chunk_line(0.8, 100))
    };
    let pool = || {
        let l = LineFormat::Pool {
            workers: 8,
            sleep: 0.001,
        };
        format!("{}\n{}\n", l.chunk_line(0.2, 100), l.chunk_line(0.2, 100))
    };
    let rf = || {
        let l = LineFormat::RealField {
            workers: 8,
            precision: 100,
        };
        format!("{}\n", l.chunk_line(0.2, 100))
    };
    let timed = "CPU times: user 1 s, sys: 2 s, total: 3 s\nWall time: 4 s\n";
    let mut originals: Vec<(String, &str)> = Vec::new();
    // test_pyparallel_sleep.py under each variant of compare.sh: the real
    // os.fork, the control, the stand-in leak, the stand-in under the control.
    for (fork, standin) in [
        ("real", "off"),
        ("without thread count", "off"),
        ("real", "on"),
        ("without thread count", "on"),
    ] {
        originals.push((
            format!(
                "{}In [1]: from test_pyparallel_sleep import bar\nIn [2]: %time bar(numcalls=200)\n\
                 Using ncpus=8 parallel decorated function\n{}{timed}",
                harness(fork, standin),
                para("ncpus")
            ),
            FORK,
        ));
    }
    for fork in ["real", "without thread count"] {
        originals.push((
            format!(
                "{}sage: load('test_parallel_sleep_v2.sage')\nsage: %time bar(numcalls=200)\n\
                 Using ncpus=8 parallel decorated function\n{}{timed}",
                harness(fork, "off"),
                para("ncpus")
            ),
            FORK,
        ));
        originals.push((
            format!(
                "{}sage: load('test_parallel_sleep.sage')\nsage: %time for n in [100, 100]: bar(numcalls=n)\n{}{timed}",
                harness(fork, "off"),
                para("ncpus")
            ),
            FORK,
        ));
    }
    for method in ["fork", "spawn"] {
        originals.push((
            format!(
                "{}In [1]: from test_pool_{method}_sleep import bar\nIn [2]: %time bar(numcalls=200)\n\
                 Setting multiprocessing start method to '{method}'\nUsing maxworkers=8 parallel decorated function\n{}{timed}",
                harness("real", "off"),
                pool()
            ),
            POOLS,
        ));
    }
    originals.push((
        format!(
            "{}sage: load('test_executor_sleep.sage')\nsage: %time bar(numcalls=200)\n\
             Using maxworkers=8 as max_workers for ProcessPoolExecutor\n{}{timed}",
            harness("real", "off"),
            para("maxworkers")
        ),
        POOLS,
    ));
    originals.push((
        format!(
            "{}sage: load('test_parallel_spawn_sleep.sage')\nsage: %time bar(numcalls=2)\n\
             Using ncpus=8 parallel decorated function\n\
             Now spawning @parallelized sleep(0.001) on 8 workers. 0.900s.\n Cost/ncpus is 0.112375s.\n\
             Now spawning @parallelized sleep(0.001) on 8 workers. 0.950s.\n Cost/ncpus is 0.118625s.\n{timed}",
            harness("real", "off")
        ),
        PER_CALL,
    ));
    for method in ["fork", "spawn", "forkserver"] {
        originals.push((
            format!(
                "{}In [1]: from test_pool_{method}_RF import bar\nIn [2]: %time bar(numcalls=100, ncpus=8)\n\
                 Setting multiprocessing start method to '{method}'\n{}{timed}",
                harness("real", "off"),
                rf()
            ),
            REAL_FIELD,
        ));
    }
    originals.push((
        format!(
            "{}sage: load('test_pool_fork_RF.sage')\nsage: %time bar(numcalls=100, ncpus=8)\n\
             Setting multiprocessing start method to 'fork'\n{}{timed}",
            harness("real", "off"),
            rf()
        ),
        REAL_FIELD,
    ));
    originals.push((
        format!(
            "$ time (for i in 1 2; do /tmp/out/test_openmp_sleep; done)\nI am set up to use 8 threads.\n{}\n\
             I am set up to use 8 threads.\n{}\n{timed}",
            LineFormat::para(8, 0.005).chunk_line(0.6, 100),
            LineFormat::para(8, 0.005).chunk_line(0.6, 100)
        ),
        THREADS,
    ));
    // The seed's pasted sessions: Sage's @parallel and IPython's emulation.
    originals.push((
        format!(
            "sage: %time bar()\nUsing ncpus=8 parallel decorated function\n{}",
            para("ncpus")
        ),
        FORK,
    ));
    for (text, panel) in &originals {
        let runs = report_read::transcript::parse("t", text);
        assert_eq!(runs.len(), 1, "{text}\n{runs:#?}");
        assert!(!runs[0].points.is_empty(), "{text}");
        assert_eq!(panel_title(&runs[0]), *panel, "{}\n{text}", runs[0].strategy);
    }
    // The control rows sit with their originals, whatever their labels say.
    let control = report_read::transcript::parse("c", &originals[1].0).remove(0);
    assert!(
        control.strategy.ends_with("fork without thread count"),
        "{}",
        control.strategy
    );
    assert_eq!(panel_title(&control), FORK);
}

#[test]
fn the_map_panel_comes_first_with_the_fork_per_job_runs_that_read_the_counters() {
    let with_entries = |strategy: &str, step: f64, kind: SourceKind| {
        let mut r = run(strategy, Some(0.001), &[6], kind);
        r.strategy_kind = StrategyKind::ForkPerJob;
        r.counters = vec![(
            "vm_map_entries".into(),
            (0..6).map(|i| 300.0 + step * f64::from(i)).collect(),
        )];
        r
    };
    let leak = with_entries(
        "fork-per-job (a) @python3.12, stand-in leak",
        200.0,
        SourceKind::Transcript,
    );
    let control = with_entries(
        "fork-per-job (a) @python3.12, fork without thread count, stand-in leak",
        0.0,
        SourceKind::Transcript,
    );
    let mut pool = with_entries("pool/fork", 0.0, SourceKind::Record);
    pool.strategy_kind = StrategyKind::Pool;
    let mut bare = run("fork-per-job (b)", Some(0.001), &[6], SourceKind::Transcript);
    bare.strategy_kind = StrategyKind::ForkPerJob;
    let inputs = vec![vec![leak.clone(), control.clone()], vec![pool], vec![bare]];
    let fig = Figure::new(&inputs, false, None);
    let titles: Vec<&str> = fig.panels.iter().map(|p| p.title).collect();
    assert_eq!(titles, [super::MAP_PANEL, FORK, POOLS]);
    let map = &fig.panels[0];
    assert_eq!(map.view, View::MapEntries);
    let names: Vec<&str> = map.series.iter().map(|s| s.run.strategy.as_str()).collect();
    assert_eq!(names, [leak.strategy.as_str(), control.strategy.as_str()]);
    // 100 calls x 2 forks a chunk: 200 entries a chunk is one per fork.
    assert_eq!(
        leak.map_growth().unwrap(),
        [
            (0.0, 0.0),
            (200.0, 200.0),
            (400.0, 400.0),
            (600.0, 600.0),
            (800.0, 800.0),
            (1000.0, 1000.0)
        ]
    );
    assert_eq!(leak.entries_per_fork(), Some(1.0));
    assert_eq!(control.entries_per_fork(), Some(0.0));
    // Each run keeps its chunk panel's colour there.
    for s in &map.series {
        let same = fig.panels[1]
            .series
            .iter()
            .find(|t| t.run.strategy == s.run.strategy)
            .unwrap();
        assert_eq!((s.colour, s.stroke), (same.colour, same.stroke));
    }
    // No run with the counter: no map panel.
    let fig = Figure::new(
        &[vec![run("fork-per-job (b)", Some(0.001), &[4], SourceKind::Record)]],
        false,
        None,
    );
    assert!(fig.panels.iter().all(|p| p.view == View::Chunks));
}

#[test]
fn long_legend_entries_wrap_to_the_legend_box_and_are_cut_with_an_ellipsis() {
    super::register_font().unwrap();
    let mut long = run(
        "fork-per-job (pure-Python @parallel emulation) @python3.12, fork without thread count, stand-in leak",
        Some(0.001),
        &[30],
        SourceKind::Transcript,
    );
    long.source = "test_pyparallel_sleep.py@python3.12+standin+control.txt:1-95 (transcript)".into();
    long.strategy_kind = StrategyKind::ForkPerJob;
    let fig = Figure::new(&[vec![long.clone()]], false, None);
    let [Row::Entry { lines, .. }] = &rows(&fig.panels[0], LEGEND_TEXT_WIDTH)[..] else {
        panic!("one entry")
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| text_width(l) <= LEGEND_TEXT_WIDTH), "{lines:?}");
    // Nothing lost: the lines joined are the one entry.
    assert!(lines
        .join(" ")
        .starts_with(&format!("{} | {} | ", long.source, long.strategy)));
    assert!(!lines[1].ends_with('…'), "{lines:?}");
    assert_eq!(wrap("short", LEGEND_TEXT_WIDTH), ["short"]);
    // A label of a megabyte, of words or of one word: two lines at most,
    // the last ending with an ellipsis, of a few hundred characters.
    for label in ["word ".repeat(200_000), "x".repeat(1 << 20)] {
        let lines = fit(&label, LEGEND_TEXT_WIDTH);
        assert_eq!(lines.len(), MAX_LINES, "{lines:?}");
        assert!(lines[1].ends_with('…'), "{lines:?}");
        assert!(lines.iter().all(|l| text_width(l) <= LEGEND_TEXT_WIDTH), "{lines:?}");
        assert!(lines.iter().map(|l| l.chars().count()).sum::<usize>() <= MAX_CHARS + 1);
    }
}

/// A run of the compare harness: `test_pyparallel_sleep.py` under
/// `python`, with the real os.fork or the control, the stand-in or not, of
/// `chunks` chunks whose map entries grow by `per_fork` a fork.
fn harness_run(python: &str, control: bool, standin: bool, chunks: usize) -> Run {
    let factors = Factors {
        python: Some(python.into()),
        os_fork: Some(if control { "without thread count" } else { "real" }.into()),
        standin_leak: Some(standin),
        post_fork_check: None,
    };
    let base = "fork-per-job (pure-Python @parallel emulation)";
    let mut r = run(
        &format!("{base}{}", factors.label()),
        Some(0.001),
        &[chunks],
        SourceKind::Transcript,
    );
    r.source = format!("{python} {control} {standin}");
    r.base = base.into();
    r.factors = factors;
    r.strategy_kind = StrategyKind::ForkPerJob;
    let per_fork = if standin && !control { 200.0 } else { 0.0 };
    r.counters = vec![(
        "vm_map_entries".into(),
        (0..chunks).map(|i| 300.0 + per_fork * i as f64).collect(),
    )];
    r
}

#[test]
fn the_harness_runs_of_a_script_share_a_colour_and_an_entry_told_apart_by_their_line() {
    super::register_font().unwrap();
    let mut runs = Vec::new();
    for python in ["3.11.7", "3.12.1", "3.13.0"] {
        // In no order: the legend names them real, control, stand-in, both.
        for (control, standin) in [(true, true), (false, false), (false, true), (true, false)] {
            runs.push(harness_run(python, control, standin, 2));
        }
    }
    let fig = Figure::new(&[runs], false, None);
    // Two chunks a run: the leak's picture only, the timing left out.
    assert!(fig.timing_left_out);
    assert_eq!(fig.panels.len(), 1);
    let map = &fig.panels[0];
    assert_eq!(map.view, View::MapEntries);
    assert_eq!(map.series.len(), 12);
    let colours = |python: &str| {
        let mut c: Vec<_> = map
            .series
            .iter()
            .filter(|s| s.run.factors.python.as_deref() == Some(python))
            .map(|s| s.colour)
            .collect();
        c.dedup();
        c
    };
    assert_eq!(colours("3.12.1").len(), 1);
    assert_ne!(colours("3.11.7"), colours("3.12.1"));
    let strokes: Vec<Stroke> = map.series[..4].iter().map(|s| s.stroke).collect();
    assert_eq!(
        strokes,
        [Stroke::LongDash, Stroke::Solid, Stroke::Dashed, Stroke::Dotted]
    );
    // One entry per interpreter, then the strokes' key.
    let legend = rows(map, LEGEND_TEXT_WIDTH);
    assert_eq!(legend.len(), 4, "three entries and the strokes");
    let Row::Entry { lines, .. } = &legend[1] else {
        panic!("an entry")
    };
    assert_eq!(
        lines.join(" "),
        "fork-per-job (pure-Python @parallel emulation) @python3.12: real +0.00, control +0.00, stand-in \
         +1.00, stand-in + control +0.00 vm_map_entries per fork"
    );
    let Row::Strokes(key) = &legend[3] else {
        panic!("the strokes")
    };
    assert_eq!(
        key.iter().map(|k| k.1).collect::<Vec<_>>(),
        ["real", "control", "stand-in", "stand-in + control"]
    );
    // Six chunks: the timing panel is drawn.
    let long: Vec<Run> = (0..2).map(|k| harness_run("3.12.1", k == 1, false, 6)).collect();
    let fig = Figure::new(&[long], false, None);
    assert!(!fig.timing_left_out);
    assert_eq!(fig.panels.len(), 2);
    // Two chunks and --counter: the counter's panels, as asked.
    let short: Vec<Run> = (0..2).map(|k| harness_run("3.12.1", k == 1, false, 2)).collect();
    assert_eq!(Figure::new(&[short], false, Some("vm_map_entries")).panels.len(), 2);
}

#[test]
fn a_legend_has_a_dozen_entries_then_k_more() {
    super::register_font().unwrap();
    let runs: Vec<Run> = (0..500)
        .map(|i| {
            let mut r = harness_run(&format!("3.{i}.0"), false, false, 2);
            r.source = format!("run {i}");
            r
        })
        .collect();
    let fig = Figure::new(&[runs], false, None);
    let legend = rows(&fig.panels[0], LEGEND_TEXT_WIDTH);
    assert_eq!(legend.len(), MAX_ENTRIES + 1);
    let Row::More(more) = &legend[MAX_ENTRIES] else {
        panic!("+k more")
    };
    assert_eq!(more, "+488 more (488 runs; every run is in the report's tables)");
}

#[test]
fn originals_and_ports_share_a_colour() {
    let of_kind = |s, source, strategy_kind| Run {
        strategy_kind,
        ..run(s, Some(0.001), &[2], source)
    };
    let (orig, port) = (SourceKind::Transcript, SourceKind::Record);
    let (fork, pool) = (StrategyKind::ForkPerJob, StrategyKind::Pool);
    let inputs = vec![
        vec![of_kind("fork-per-job (Sage @parallel)", orig, fork)],
        vec![of_kind("fork-per-job/pipe (test_fork_sleep)", port, fork)],
        vec![of_kind("pool/fork", orig, pool)],
        vec![of_kind("pool/fork (test_pool_sleep)", port, pool)],
    ];
    let fig = Figure::new(&inputs, true, None);
    assert_eq!(fig.panels.len(), 2);
    for p in &fig.panels {
        let [a, b] = &p.series[..] else { panic!("two series") };
        assert_eq!(
            (a.colour, a.stroke, b.colour, b.stroke),
            (a.colour, Stroke::Solid, a.colour, Stroke::Dashed)
        );
    }
    assert_ne!(fig.panels[0].series[0].colour, fig.panels[1].series[0].colour);
    // Without --pairs every run of a panel has its own colour; a run the
    // compare harness did not make is solid, record or transcript.
    let fig = Figure::new(&inputs, false, None);
    let all: Vec<&Series> = fig.panels.iter().flat_map(|p| &p.series).collect();
    assert!(all.iter().all(|s| s.stroke == Stroke::Solid));
    for p in &fig.panels {
        for (i, a) in p.series.iter().enumerate() {
            assert!(p.series[i + 1..].iter().all(|b| b.colour != a.colour));
        }
    }
}
