use report_judge::Judged;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::LazyLock;
use testkit::{
    assert_help_mentions, assert_usage_error, cargo_bin, command, one_line, predicate, run, run_with,
    PredicateBooleanExt,
};
use timing::clock::Interval;
use timing::{Chunk, LineFormat, Repeat, RunRecord};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("report"));

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn report() -> Command {
    command(*BIN)
}

/// What `cmd` printed on stdout, after checking that it succeeded.
fn stdout_of(cmd: &mut Command) -> String {
    run_with(cmd).assert_success().to_string()
}

/// Cells of the table row whose first cell starts with `source`.
fn row(table: &str, source: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {source}")))
        .unwrap_or_else(|| panic!("no row for {source} in\n{table}"));
    line.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn both_seed_transcripts_are_drift() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("seed.svg");
    let table = stdout_of(
        report()
            .arg(data("seed_sage_parallel_v2.txt"))
            .arg(data("seed_ipython_pyparallel.txt"))
            .arg("--svg")
            .arg(&svg),
    );
    let sage = row(&table, "seed_sage_parallel_v2.txt:1-59 (transcript)");
    let py = row(&table, "seed_ipython_pyparallel.txt:1-76 (transcript)");
    assert_eq!(sage.len(), 17);
    assert_eq!(sage[12], "DRIFT", "{table}");
    // A transcript carries no resource counter: nothing to attribute.
    assert_eq!(sage[13], "-", "{table}");
    assert_eq!(py[12], "DRIFT", "{table}");
    // The slope with its 95 % interval (Sen's), which excludes 0.
    assert_eq!(sage[8], "+27.0 % (+25.7 to +30.3)", "{table}");
    assert_eq!(py[8], "+34.5 % (+33.4 to +35.4)", "{table}");
    // In absolute units: about +0.1 µs per job per earlier fork
    // (docs/mechanism.md: 1.289 -> 3.600 ms over 24,000 forks).
    let per_fork = |cell: &str| -> f64 { cell.split(' ').next().unwrap().parse().unwrap() };
    for (name, r) in [("sage", &sage), ("py", &py)] {
        let f = per_fork(&r[10]);
        assert!((0.05..0.2).contains(&f), "{name}: {} per earlier fork", r[10]);
    }
    // The parent's sys time per bar() grows while user stays flat.
    assert_eq!(sage[14], "13.1 s -> 24.1 s", "{table}");
    assert_eq!(sage[15], "9.75 s -> 20 s", "{table}");
    assert_eq!(sage[16], "398 ms -> 424 ms", "{table}");
    // The banners name the interpreters (Sage's "Using Python 3.12.5.", IPython's "Python 3.13.3 (...)").
    assert_eq!(
        sage[1],
        "fork-per-job (Sage @parallel, test_parallel_sleep_v2.sage) @python3.12"
    );
    assert_eq!(py[1], "fork-per-job (pure-Python @parallel emulation) @python3.13");
    assert_eq!((sage[3].as_str(), sage[4].as_str()), ("8", "0.001 s"));
    // First and last chunk of each transcript, seconds per 100 calls.
    assert_eq!((sage[6].as_str(), sage[7].as_str()), ("1.131 s", "2.980 s"));
    assert_eq!((py[6].as_str(), py[7].as_str()), ("0.675 s", "5.034 s"));

    // The SVG is well-formed XML with one run line (a polyline of width 2)
    // per run, with one vertex per chunk (30 and 50 chunks).
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("valid XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let lines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .collect();
    assert_eq!(lines.len(), 2);
    let vertices: Vec<usize> = lines
        .iter()
        .map(|n| n.attribute("points").unwrap().split_whitespace().count())
        .collect();
    assert_eq!(vertices, vec![30, 50]);
    assert_ne!(lines[0].attribute("stroke"), lines[1].attribute("stroke"));
}

fn record(walls: &[&[f64]]) -> RunRecord {
    let mut rec = RunRecord::new(
        "test_fork_sleep",
        "fork-per-job/pipe",
        serde_json::json!({"ncpus": 2}),
        LineFormat::para(2, 0.001),
    );
    for bar in walls {
        rec.repeats.push(Repeat {
            chunks: bar
                .iter()
                .map(|&w| Chunk {
                    calls: 100,
                    cost_per_job: LineFormat::para(2, 0.001).cost_per_job(w, 100),
                    time: Interval {
                        wall: w,
                        ..Interval::default()
                    },
                    extra: None,
                    resources: None,
                })
                .collect(),
            calls: 100 * bar.len() as u64,
            totals: Some(Interval::default()),
        });
    }
    rec
}

#[test]
fn json_records_round_trip_into_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let flat = dir.path().join("flat.json");
    let rising = dir.path().join("rising.json");
    let flat_rec = record(&[&[0.2, 0.21, 0.2, 0.19, 0.2], &[0.2, 0.21, 0.19, 0.2, 0.2]]);
    let rising_rec = record(&[&[0.2, 0.22, 0.24, 0.26, 0.28], &[0.30, 0.32, 0.34, 0.36, 0.38]]);
    std::fs::write(&flat, serde_json::to_string_pretty(&flat_rec).unwrap()).unwrap();
    std::fs::write(&rising, serde_json::to_string_pretty(&rising_rec).unwrap()).unwrap();
    // The library reads back exactly the chunks written.
    let runs = report_read::load(&rising).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].kind, report_read::SourceKind::Record);
    assert_eq!(runs[0].repeats(), 2);
    let walls: Vec<f64> = runs[0].points.iter().map(|p| p.wall).collect();
    assert_eq!(walls, vec![0.2, 0.22, 0.24, 0.26, 0.28, 0.30, 0.32, 0.34, 0.36, 0.38]);
    let judge = rising_rec.judge(None);
    assert_eq!(runs[0].verdict(), timing::Verdict::judge(&rising_rec.points(), &judge));

    let md = dir.path().join("table.md");
    assert_eq!(
        stdout_of(report().args([&flat, &rising]).arg("--markdown").arg(&md)),
        ""
    );
    let table = std::fs::read_to_string(&md).unwrap();
    let f = row(&table, "flat.json (json)");
    let r = row(&table, "rising.json (json)");
    assert_eq!(f[1], "fork-per-job/pipe (test_fork_sleep)");
    assert_eq!(
        f[2],
        format!("{}, {}", flat_rec.system.os_version, flat_rec.system.arch)
    );
    assert_eq!(f[12], "no drift", "{table}");
    assert_eq!(f[8], "+0.0 % (-10.0 to +0.0)", "{table}");
    assert_eq!(r[12], "DRIFT");
    assert_eq!((r[6].as_str(), r[7].as_str()), ("0.200 s", "0.380 s"));
    // Median cost per job: (0.29 s/100 - 0.001)/2 = 0.95 ms.
    assert_eq!(r[5], "0.950 ms");
}

#[test]
fn pairs_give_a_side_by_side_table() {
    let dir = tempfile::tempdir().unwrap();
    let port = dir.path().join("port.json");
    let rec = record(&[&[0.675, 0.676, 0.674, 0.675, 0.677, 0.675]]);
    std::fs::write(&port, serde_json::to_string(&rec).unwrap()).unwrap();
    let table = stdout_of(
        report()
            .arg("--pairs")
            .arg(data("seed_ipython_pyparallel.txt"))
            .arg(&port),
    );
    let pair = row(&table, "seed_ipython_pyparallel.txt:1-76 (transcript) | port.json");
    assert_eq!(pair[1], "port.json (json)");
    assert!(pair[5].starts_with("DRIFT (slope +"), "{table}");
    assert!(pair[6].starts_with("no drift"), "{table}");
    assert_eq!(pair[2], "3.132 ms");
}

#[test]
fn user_errors_are_one_line() {
    let err = run(*BIN, &["/no/such/file.txt"]).one_line_error(1).to_string();
    assert!(err.starts_with("report: /no/such/file.txt"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello\n").unwrap();
    let junk = junk.to_str().unwrap();
    run(*BIN, &[junk])
        .assert()
        .code(1)
        .stderr(one_line().and(predicate::str::contains("no line of any original")));
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"schema\": 1}").unwrap();
    run(*BIN, &[bad_json.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(one_line().and(predicate::str::contains("not a run record")));

    assert_usage_error(*BIN, &["--pairs", junk], "--pairs needs an even number");
    assert_usage_error(*BIN, &["--bogus"], "--bogus");
    assert_usage_error(*BIN, &[], "<INPUTS>");
}

#[test]
fn help_states_the_rule() {
    assert_help_mentions(*BIN, &["DRIFT when p < 0.01", "fork-per-job"]);
}

/// An SVG rect as (x0, y0, x1, y1).
type Rect = (f64, f64, f64, f64);

fn rects_filled(doc: &roxmltree::Document, colour: plotters::style::RGBColor) -> Vec<Rect> {
    let hex = format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2);
    doc.descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(hex.as_str()))
        .map(|n| {
            let a = |k: &str| n.attribute(k).unwrap().parse::<f64>().unwrap();
            (a("x"), a("y"), a("x") + a("width"), a("y") + a("height"))
        })
        .collect()
}

fn intersects(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

fn vertices(n: &roxmltree::Node) -> Vec<(f64, f64)> {
    n.attribute("points")
        .unwrap()
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// Runs `report` on both seed transcripts, a fork-per-job record and a pool
/// record, with `--svg` and `--png`; returns the SVG text and the PNG path.
fn plot_four_runs(dir: &std::path::Path) -> (String, PathBuf) {
    let fork = dir.join("fork.json");
    let fork_rec = record(&[&[0.2, 0.21, 0.2], &[0.2, 0.2, 0.21]]);
    std::fs::write(&fork, serde_json::to_string(&fork_rec).unwrap()).unwrap();
    let mut pool_rec = record(&[&[0.12, 0.13, 0.12, 0.125, 0.12, 0.13]]);
    pool_rec.strategy = "pool/fork".into();
    pool_rec.line_format = LineFormat::Pool {
        workers: 2,
        sleep: 0.001,
    };
    let pool = dir.join("pool.json");
    std::fs::write(&pool, serde_json::to_string(&pool_rec).unwrap()).unwrap();
    let (svg, png) = (dir.join("p.svg"), dir.join("p.png"));
    stdout_of(
        report()
            .arg(data("seed_sage_parallel_v2.txt"))
            .arg(data("seed_ipython_pyparallel.txt"))
            .args([&fork, &pool])
            .arg("--svg")
            .arg(&svg)
            .arg("--png")
            .arg(&png),
    );
    (std::fs::read_to_string(&svg).unwrap(), png)
}

#[test]
fn plot_has_a_panel_per_strategy_legends_outside_and_a_path_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let (text, png) = plot_four_runs(dir.path());
    let doc = roxmltree::Document::parse(&text).expect("valid XML");

    // Two panels (fork per job, pools), each with its legend box, and no
    // legend box touches any plotting area.
    let plots = rects_filled(&doc, report_plot::PLOT_BG);
    let legends = rects_filled(&doc, report_plot::LEGEND_BG);
    assert_eq!((plots.len(), legends.len()), (2, 2), "{plots:?} {legends:?}");
    for l in &legends {
        assert!(
            plots.iter().all(|p| !intersects(*l, *p)),
            "legend {l:?} over a plot {plots:?}"
        );
    }

    // Every run has its own path (width 2) in a colour of its own within
    // its panel, inside that panel's plotting area, solid (one polyline,
    // one vertex per chunk): none of them is the compare harness's stand-in
    // or control, which are dashed or dotted.
    let data_lines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .collect();
    let inside = |p: (f64, f64, f64, f64), (x, y): (f64, f64)| {
        x >= p.0 - 1.0 && x <= p.2 + 1.0 && y >= p.1 - 1.0 && y <= p.3 + 1.0
    };
    // (panel, colour) of each path, in drawing order, once each.
    let mut runs: Vec<(usize, &str)> = Vec::new();
    for n in &data_lines {
        let panel = plots.iter().position(|p| vertices(n).iter().all(|v| inside(*p, *v)));
        let panel = panel.unwrap_or_else(|| panic!("a path outside every plotting area: {:?}", vertices(n)));
        let key = (panel, n.attribute("stroke").unwrap());
        if !runs.contains(&key) {
            runs.push(key);
        }
    }
    assert_eq!(runs.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 0, 0, 1], "{runs:?}");
    let pieces: Vec<Vec<_>> = runs
        .iter()
        .map(|&(panel, c)| {
            data_lines
                .iter()
                .filter(|n| n.attribute("stroke") == Some(c) && inside(plots[panel], vertices(n)[0]))
                .collect()
        })
        .collect();
    assert_eq!((vertices(pieces[0][0]).len(), vertices(pieces[1][0]).len()), (30, 50));
    assert_eq!(
        pieces.iter().map(Vec::len).collect::<Vec<_>>(),
        [1, 1, 1, 1],
        "transcripts and records alike are solid"
    );

    // The verdict is in each legend entry.
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    let entry = |needle: &str| labels.iter().find(|t| t.contains(needle)).copied().unwrap_or("");
    // A long entry wraps onto the next line of the legend: read whole, it
    // ends with the verdict.
    let sage = labels
        .iter()
        .position(|t| t.starts_with("seed_sage_parallel_v2.txt:1-59"))
        .unwrap();
    assert!(
        format!("{} {}", labels[sage], labels[sage + 1])
            .ends_with("| DRIFT (slope +27.0 %, 95 % CI +25.7 to +30.3 %, p=1.3e-14)"),
        "{labels:?}"
    );
    assert!(entry("fork.json").contains("| inconclusive (slope"), "{labels:?}");
    png_matches(&png, &doc, runs[0].1);
}

/// The PNG has the SVG's size and shows the run drawn in `colour` (`#RRGGBB`).
fn png_matches(png: &std::path::Path, svg: &roxmltree::Document, colour: &str) {
    let decoder = png::Decoder::new(std::fs::File::open(png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let root = svg.root_element();
    assert_eq!(info.width.to_string(), root.attribute("width").unwrap());
    assert_eq!(info.height.to_string(), root.attribute("height").unwrap());
    let hex = colour.trim_start_matches('#');
    let rgb: Vec<u8> = (0..3)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(buf.chunks(3).filter(|px| *px == rgb.as_slice()).count() > 100);
}

#[test]
fn the_seeds_drifts_are_caught_within_600_calls() {
    // The first 600 calls (6 chunks) of each seed transcript alone.
    for (file, first) in [
        ("seed_sage_parallel_v2.txt", "1.131s per 100"),
        ("seed_ipython_pyparallel.txt", "0.675s per 100"),
    ] {
        let runs = report_read::load(&data(file)).unwrap();
        let pts = runs[0].xy();
        assert!(std::fs::read_to_string(data(file)).unwrap().contains(first));
        let v = timing::Verdict::of_points(&pts[..6]);
        assert_eq!(v.verdict, timing::Trend::Drift, "{file}: {v:?}");
        assert!(v.slope_ci_pct_per_1000_calls.unwrap()[0] > 0.0, "{file}");
    }
}

#[test]
fn a_comment_of_time_blocks_alone_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("comment.md");
    let mut text = String::from("Confirmed here, Sage 10.4 on macOS 15.1:\n\n```\n");
    for (k, (w, s)) in ["5.1 s", "6.3 s", "7.6 s", "8.8 s", "10.2 s", "11.3 s"]
        .iter()
        .zip(["3.2 s", "4.4 s", "5.7 s", "6.9 s", "8.1 s", "9.4 s"])
        .enumerate()
    {
        text += &format!("sage: %time test(1000)\nCPU times: user 21{k} ms, sys: {s}, total: {s}\nWall time: {w}\n");
    }
    text += "```\n";
    std::fs::write(&path, text).unwrap();
    let table = stdout_of(report().arg(&path));
    let r = row(&table, "comment.md:5-21 (transcript)");
    assert_eq!(r[1], report_read::run::TIME_BLOCKS);
    assert_eq!(r[12], "DRIFT", "{table}");
    assert_eq!((r[14].as_str(), r[15].as_str()), ("5.1 s -> 11.3 s", "3.2 s -> 9.4 s"));
    assert_eq!(r[16], "210 ms -> 215 ms");
}

/// A test_fork_sleep record with `--post-fork-check CHECK`, edited to stand
/// for a Mac's (its system says macOS), whose `vm_map_entries` grow by
/// `per_fork` per fork (2 forks a call).
fn mac_record(check: &str, per_fork: u64) -> RunRecord {
    let mut rec = record(&[&[0.2, 0.21, 0.2, 0.19, 0.2, 0.2, 0.21, 0.19, 0.2, 0.2]]);
    rec.params = serde_json::json!({"ncpus": 2, "post_fork_check": check});
    rec.system.os = "Darwin".into();
    rec.system.os_version = "macOS 15.5".into();
    rec.system.arch = "arm64".into();
    for (i, c) in rec.repeats[0].chunks.iter_mut().enumerate() {
        let mut r = probes::Reading::new();
        r.insert("vm_map_entries".into(), 400 + per_fork * 200 * i as u64);
        r.insert("mach_msg_regions".into(), 3 + per_fork * 200 * i as u64);
        c.resources = Some(r);
    }
    rec
}

#[test]
fn the_map_entries_decide_the_mechanism_whatever_the_timing() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, rec: &RunRecord| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(rec).unwrap()).unwrap();
        p
    };
    // As this Linux machine made them: `leak` reads /proc and leaks nothing.
    // On a Mac that is a refutation, though no run drifts either.
    let off = write("off.json", &mac_record("off", 0));
    let leak = write("leak.json", &mac_record("leak", 0));
    let free = write("free.json", &mac_record("free", 0));
    let text = stdout_of(report().args([&off, &leak, &free]).arg("--hypothesis"));
    assert!(
        text.contains(
            "Mechanism: **refuted (leak gains +0.00 map entries per fork over 1800 forks, predicted at least +0.9)**."
        ),
        "{text}"
    );
    assert!(
        text.contains("Symptom: **inconsistent with the hypothesis (leak should drift and does not)**."),
        "{text}"
    );
    assert!(
        text.contains("refuted by fork-per-job/pipe (test_fork_sleep) post-fork-check=leak gains +0.00"),
        "the one-line summary names the run: {text}"
    );
    // One entry per fork under `leak`, as the hypothesis says of a Mac:
    // confirmed, and the entries without the drift are said in one sentence.
    let leak = write("leak.json", &mac_record("leak", 1));
    let text = stdout_of(report().args([&off, &leak, &free]).arg("--hypothesis"));
    assert!(
        text.contains("Mechanism: **confirmed (map entries per fork as predicted in every run)**."),
        "{text}"
    );
    assert!(
        text.contains("The mechanism holds without the symptom: leak (+1.00 per fork)"),
        "{text}"
    );
    let leak_row = text
        .lines()
        .find(|l| l.starts_with("| ") && l.contains("post-fork-check=leak"))
        .expect("a hypothesis row for leak");
    assert!(
        leak_row.contains("| yes | +1.00 | +1.00 | as predicted | - | no drift |"),
        "{leak_row}"
    );
    assert!(text.contains(": confirmed.\n"), "{text}");
}
