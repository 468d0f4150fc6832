//! Tests of the transcript parser (`report_read::transcript`): line
//! families, repeats, sessions.
use report_read::transcript::parse;
use report_read::SourceKind;
use timing::LineFormat;

#[test]
fn para_family_with_repeats_prompts_and_time_blocks() {
    // Lines made by timing's own formatter, so parser and printer agree.
    let l = LineFormat::para(8, 0.001);
    let text = format!(
        "In [2]: for _ in range(2):\n   ...:     %time bar()\n   ...: \n\
         Using ncpus=8 parallel decorated function\n{}\n{}\n{}\n\
         CPU times: user 226 ms, sys: 6.92 s, total: 7.14 s\nWall time: 9.85 s\n\
         Children CPU times (extra, RUSAGE_CHILDREN): user 1 s, sys: 2 s, total: 3 s\n\
         Using ncpus=8 parallel decorated function\n{}\n[None, None]\n\
         CPU times: user 1 s, sys: 2 s, total: 3 s\nWall time: 4 s\n\
         Drift verdict (extra): no drift; slope +0.8 % per 1000 calls, Mann-Kendall p=0.42, 10 chunks\n",
        l.chunk_line(0.675, 100),
        l.chunk_line(0.738, 100),
        l.chunk_line(0.05, 7),
        l.chunk_line(1.405, 100),
    );
    let runs = parse("t.txt", &text);
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r.source, "t.txt:1-15 (transcript)");
    assert_eq!(r.kind, SourceKind::Transcript);
    assert_eq!(r.strategy, "fork-per-job (@parallel)");
    assert_eq!((r.ncpus, r.sleep), (Some(8), Some(0.001)));
    assert_eq!(r.repeats(), 2);
    let calls: Vec<u64> = r.points.iter().map(|p| p.calls).collect();
    assert_eq!(calls, vec![100, 100, 7, 100]);
    assert_eq!(r.points.iter().map(|p| p.repeat).collect::<Vec<_>>(), vec![0, 0, 0, 1]);
    assert_eq!(r.points[0].wall, 0.675);
    assert_eq!(r.points[0].cost_per_job, 0.000719); // as printed: (0.00675 - 0.001)/8 rounded
    assert_eq!(r.points[2].cost_per_job, 0.000768);
    // Prompts, %time blocks, check lists and extra lines add nothing.
    assert_eq!(r.points.len(), 4);
}

#[test]
fn sage_prompt_marks_sage() {
    let text = "sage: %time bar()\nUsing ncpus=8 parallel decorated function\n\
                1.131s per 100 x 8 @para sleep(0.001). Cost/ncpus/calls is 0.001289s.\n";
    assert_eq!(parse("s", text)[0].strategy, "fork-per-job (Sage @parallel)");
}

#[test]
fn executor_family() {
    let l = LineFormat::Para {
        workers: 8,
        sleep: 0.001,
        label: "maxworkers".into(),
    };
    let text = format!(
        "Using maxworkers=8 as max_workers for ProcessPoolExecutor\n{}\n[0, 1, 4]\n{}\n",
        l.chunk_line(0.3, 100),
        l.chunk_line(0.31, 100)
    );
    let r = &parse("e", &text)[0];
    assert_eq!(r.strategy, "ProcessPoolExecutor/fork");
    assert_eq!(r.points.len(), 2);
    assert_eq!(r.points[1].cost_per_job, 0.000262);
}

#[test]
fn pool_family_with_start_method() {
    let l = LineFormat::Pool {
        workers: 8,
        sleep: 0.001,
    };
    let text = format!(
        "Setting multiprocessing start method to 'spawn'\nUsing maxworkers=8 parallel decorated function\n{}\n{}\n",
        l.chunk_line(0.2654, 100),
        l.chunk_line(0.1, 50)
    );
    let r = &parse("p", &text)[0];
    assert_eq!(r.strategy, "pool/spawn");
    assert_eq!((r.ncpus, r.sleep), (Some(8), Some(0.001)));
    assert_eq!(r.points.iter().map(|p| p.calls).collect::<Vec<_>>(), vec![100, 50]);
    assert_eq!(r.points[0].wall, 0.265);
    assert_eq!(r.points[0].cost_per_job, 0.000207);
}

#[test]
fn real_field_family() {
    let l = LineFormat::RealField {
        workers: 2,
        precision: 100,
    };
    let text = format!(
        "Setting multiprocessing start method to 'forkserver'\n{}\n",
        l.chunk_line(0.16, 100)
    );
    assert_eq!(
        l.chunk_line(0.16, 100),
        "0.160s per 100 x 2 RealField(100).sin(). Cost/ncpus/calls is 0.000800s."
    );
    let r = &parse("rf", &text)[0];
    assert_eq!(r.strategy, "pool/forkserver RealField(100)");
    assert_eq!((r.ncpus, r.sleep), (Some(2), None));
    assert_eq!(r.points[0].cost_per_job, 0.0008);
}

#[test]
fn spawn_per_call_lines() {
    // test_parallel_spawn_sleep.sage prints the header with end=" ", then
    // `{delta:.3f}s.\n Cost/ncpus is {..:.6f}s.`
    let text = "Using ncpus=8 parallel decorated function\n\
                Now spawning @parallelized sleep(0.001) on 8 workers. 0.900s.\n Cost/ncpus is 0.112375s.\n\
                Now spawning @parallelized sleep(0.001) on 8 workers. 0.950s.\n Cost/ncpus is 0.118625s.\n\
                Now spawning @parallelized sleep(0.001) on 8 workers. ";
    let runs = parse("sp", text);
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert!(r.strategy.starts_with("pool-per-call/spawn"), "{}", r.strategy);
    assert_eq!(r.points.len(), 2, "an unfinished call is not a point");
    assert_eq!(r.points[1].calls, 1);
    assert_eq!(r.points[1].wall, 0.95);
    assert_eq!(r.points[1].cost_per_job, 0.118625);
    assert_eq!(r.points[1].secs_per_100(), 95.0);
}

#[test]
fn openmp_header_only_and_family_change() {
    let r = &parse("omp", "I am set up to use 4 threads.\n")[0];
    assert_eq!(
        (r.strategy.as_str(), r.ncpus, r.points.len()),
        ("OpenMP thread team", Some(4), 0)
    );
    let pool = LineFormat::Pool {
        workers: 2,
        sleep: 0.001,
    };
    let para = LineFormat::para(2, 0.001);
    let text = format!("{}\n{}\n", pool.chunk_line(0.2, 100), para.chunk_line(0.3, 100));
    let runs = parse("mix", &text);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].source, "mix:1-1 (transcript)");
    assert_eq!(runs[1].source, "mix:2-2 (transcript)");
    assert!(parse("none", "hello\nsage: 1+1\n2\n").is_empty());
}

/// `n` chunk lines of the @para family, growing, as bar() prints them.
fn bar_lines(ncpus: usize, sleep: f64, n: usize, start: f64) -> String {
    let l = LineFormat::para(ncpus, sleep);
    let mut out = format!("Using ncpus={ncpus} parallel decorated function\n");
    for k in 0..n {
        out += &l.chunk_line(start + 0.01 * k as f64, 100);
        out += "\n";
    }
    out + "CPU times: user 398 ms, sys: 9.75 s, total: 10.1 s\nWall time: 13.1 s\n"
}

const SAGE_BANNER: &str = "┌──────────────────────────────────────────────┐\n\
                           │ SageMath version 10.6, Release Date: 2025-03-31 │\n\
                           └──────────────────────────────────────────────┘\n";

#[test]
fn two_sage_sessions_of_one_family_are_two_runs() {
    let bar = bar_lines(8, 0.001, 3, 1.1);
    let session = format!("$ sage\n{SAGE_BANNER}sage: load(\"test_parallel_sleep_v2.sage\")\n\nsage: %time bar()\n{bar}sage: %time bar()\n{bar}sage:\n");
    let text = format!("{session}{session}");
    let runs = parse("two.txt", &text);
    assert_eq!(runs.len(), 2, "{runs:#?}");
    // 21 lines per session: `$ sage` to the second `Wall time:` (line 20).
    assert_eq!(runs[0].source, "two.txt:1-20 (transcript)");
    assert_eq!(runs[1].source, "two.txt:22-41 (transcript)");
    for r in &runs {
        assert_eq!(r.strategy, "fork-per-job (Sage @parallel, test_parallel_sleep_v2.sage)");
        assert_eq!((r.repeats(), r.points.len()), (2, 6));
    }
}

#[test]
fn one_session_with_several_bars_is_one_run() {
    let bar = bar_lines(8, 0.001, 2, 1.1);
    // Reloading the same script (to reset it) keeps the session.
    let text = format!(
        "sage: load(\"test_parallel_sleep_v2.sage\")\nsage: %time bar()\n{bar}sage: bar()\n{bar}\
         sage: load('./test_parallel_sleep_v2.sage')\nsage: %time bar()\n{bar}"
    );
    let runs = parse("one", &text);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].repeats(), 3);
    assert_eq!(
        runs[0].points.iter().map(|p| p.repeat).collect::<Vec<_>>(),
        vec![0, 0, 1, 1, 2, 2]
    );
}

#[test]
fn each_session_mark_starts_a_new_run() {
    let bar = bar_lines(8, 0.001, 2, 0.7);
    let emulation = "fork-per-job (pure-Python @parallel emulation)";
    let cases: Vec<(&str, String, [&str; 2])> = vec![
        (
            "In [1] again",
            format!("In [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\n{bar}In [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\n{bar}"),
            [emulation, emulation],
        ),
        (
            "prompt style",
            format!("sage: bar()\n{bar}In [5]: bar()\n{bar}"),
            ["fork-per-job (Sage @parallel)", "fork-per-job (@parallel)"],
        ),
        (
            "another script",
            format!("In [1]: %run test_pyparallel_sleep.py\nIn [2]: bar()\n{bar}In [3]: exec(open('my_parallel.py').read())\nIn [4]: bar()\n{bar}"),
            [emulation, "fork-per-job (@parallel)"],
        ),
        (
            "shell",
            format!("user@mac irwin % python3 -i test_pyparallel_sleep.py\n>>> bar()\n{bar}>>> ^D\n(venv) ~/irwin$ ipython\nIn [1]: bar()\n{bar}"),
            [emulation, "fork-per-job (@parallel)"],
        ),
        (
            "banner",
            format!("{bar}Python 3.13.3 (v3.13.3:6280bb54784, Apr  8 2025) [Clang 15.0.0]\n{bar}"),
            ["fork-per-job (@parallel)", "fork-per-job (@parallel) @python3.13"],
        ),
        (
            "sleep(T)",
            format!("sage: bar()\n{bar}sage: bar(T=0.002)\n{}", bar_lines(8, 0.002, 2, 0.7)),
            ["fork-per-job (Sage @parallel)", "fork-per-job (Sage @parallel)"],
        ),
    ];
    for (what, text, labels) in cases {
        let runs = parse("m", &text);
        assert_eq!(runs.len(), 2, "{what}: {runs:#?}");
        assert_eq!([runs[0].strategy.as_str(), runs[1].strategy.as_str()], labels, "{what}");
        assert!(runs.iter().all(|r| r.points.len() == 2), "{what}");
    }
    // Not marks: an import that loads no experiment, a prompt going on.
    let text = format!(
        "In [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\n{bar}In [3]: import os\nIn [4]: bar()\n{bar}"
    );
    assert_eq!(parse("m", &text).len(), 1);
}

#[test]
fn markdown_document_with_prose_between_transcripts() {
    let bar = bar_lines(8, 0.001, 2, 1.1);
    let text = format!(
        "# Drift with @parallel\n\nSome prose about `Using ncpus=8 parallel decorated function`, and $ signs.\n\n\
         ```text\n$ sage\n{SAGE_BANNER}sage: load(\"test_parallel_sleep_v2.sage\")\nsage: %time bar()\n{bar}sage:\n```\n\n\
         More prose: the pure Python reproducer, with Python 3.13:\n\n\
         ```text\nIn [1]: from test_pyparallel_sleep import bar\n\nIn [2]: %time bar()\n{bar}```\n\n\
         ## Plain output, pasted twice\n\n```\n{bar}```\n\nThen again, after a heading:\n\n## Second\n\n```\n{bar}```\n"
    );
    let runs = parse("doc.md", &text);
    let got: Vec<(&str, &str, usize)> = runs
        .iter()
        .map(|r| (r.source.as_str(), r.strategy.as_str(), r.points.len()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "doc.md:6-16 (transcript)",
                "fork-per-job (Sage @parallel, test_parallel_sleep_v2.sage)",
                2
            ),
            (
                "doc.md:23-30 (transcript)",
                "fork-per-job (pure-Python @parallel emulation)",
                2
            ),
            ("doc.md:36-40 (transcript)", "fork-per-job (@parallel)", 2),
            ("doc.md:48-52 (transcript)", "fork-per-job (@parallel)", 2),
        ]
    );
}

#[test]
fn prose_alone_does_not_split_a_session() {
    // A session pasted in two blocks with a comment between them: prose is
    // no session mark (a heading is), so the second block is another bar().
    let bar = bar_lines(8, 0.001, 2, 1.1);
    let text = format!(
        "```\nsage: %time bar()\n{bar}```\n\nThe second call was slower:\n\n```\nsage: %time bar()\n{bar}```\n"
    );
    let runs = parse("blocks.md", &text);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].repeats(), runs[0].source.as_str()),
        (2, "blocks.md:2-18 (transcript)")
    );
}

#[test]
fn interpreter_and_os_are_read_where_printed() {
    let bar = bar_lines(8, 0.001, 6, 0.5);
    // As in the seed: prose naming the OS, then a session; more prose naming
    // another OS while the first session is open, then the next session.
    let text = format!(
        "There are some surprises on my macOS 15.4.1 Sequoia.\n$ sage\n\
         │ SageMath version 10.6, Release Date: 2025-03-31 │\n\
         │ Using Python 3.12.5. Type \"help()\" for help. │\n\
         sage: load(\"test_parallel_sleep_v2.sage\")\n{bar}\
         Here is with macOS 15.5 and Python 3.13:\n$ ipython\n\
         Python 3.13.3 (v3.13.3:6280bb54784, Apr  8 2025, 10:47:54) [Clang 15.0.0 (clang-1500.3.9.4)]\n\
         In [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\n{bar}\
         Harness (extra): Python 3.12.1 (CPython) on Linux x86_64; os.fork: without thread count; stand-in leak: on; counters: on\n\
         In [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\n{bar}"
    );
    let runs = parse("seed", &text);
    assert_eq!(runs.len(), 3, "{runs:#?}");
    assert_eq!(runs[0].factors.python.as_deref(), Some("3.12.5"));
    assert_eq!(runs[0].os_arch, "macOS 15.4.1 (from the text)");
    assert_eq!(runs[1].factors.python.as_deref(), Some("3.13.3"));
    assert_eq!(runs[1].os_arch, "macOS 15.5 (from the text)");
    // An older harness line: `on Linux x86_64`, which is also its machine.
    assert_eq!(runs[2].os_arch, "Linux x86_64");
    assert_eq!(runs[2].machine, "Linux x86_64");
    assert_eq!(runs[0].machine, "");
    assert_eq!(
        runs[2].strategy,
        "fork-per-job (pure-Python @parallel emulation) @python3.12, fork without thread count, stand-in leak"
    );
    assert_eq!(runs[2].factors.standin_leak, Some(true));
    // A plain python's banner names its platform.
    let runs = parse(
        "p",
        &format!("Python 3.11.7 (main, Jan  1 2024) [GCC 12.2.0] on linux\n>>> bar()\n{bar}"),
    );
    assert_eq!(
        (runs[0].os_arch.as_str(), runs[0].factors.python.as_deref()),
        ("Linux", Some("3.11.7"))
    );
}

#[test]
fn the_harness_line_names_the_machine_as_a_record_does() {
    let bar = bar_lines(8, 0.001, 2, 0.5);
    let session =
        |harness: &str| format!("{harness}\nIn [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\n{bar}");
    let text = session(
        "Harness (extra): Python 3.12.1 (CPython) on Debian GNU/Linux 12 (bookworm), x86_64; \
         cpu: Intel(R) Xeon(R) CPU @ 2.20GHz; os.fork: real; stand-in leak: off; counters: on",
    ) + &session(
        "Harness (extra): Python 3.13.3 (CPython) on macOS 15.5, arm64; build: 24F74; cpu: Apple M2; \
         os.fork: without thread count; stand-in leak: off; counters: on",
    );
    let runs = parse("h", &text);
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0].os_arch, "Debian GNU/Linux 12 (bookworm), x86_64");
    assert_eq!(
        runs[0].machine,
        "Debian GNU/Linux 12 (bookworm), x86_64, Intel(R) Xeon(R) CPU @ 2.20GHz"
    );
    assert_eq!(runs[1].os_arch, "macOS 15.5, arm64");
    assert_eq!(runs[1].machine, "macOS 15.5 (24F74), arm64, Apple M2");
    assert_eq!(runs[1].factors.os_fork.as_deref(), Some("without thread count"));
    // The OS the predictions turn on: macOS by the harness's version.
    assert_eq!(
        (runs[0].os, runs[1].os),
        (report_read::Os::Other, report_read::Os::MacOs)
    );
    // The same machine as a record of a port names it (the record's
    // `system`: os_version, os_build, arch, cpu_model).
    let mut rec = timing::RunRecord::new(
        "test_fork_sleep",
        "fork-per-job/pipe",
        serde_json::json!({}),
        LineFormat::para(8, 0.001),
    );
    rec.system.os = "Darwin".into();
    rec.system.os_version = "macOS 15.5".into();
    rec.system.os_build = Some("24F74".into());
    rec.system.arch = "arm64".into();
    rec.system.cpu_model = "Apple M2".into();
    let port = report_read::Run::from_record("p", &rec);
    assert_eq!(port.os, report_read::Os::MacOs, "uname -s of the record");
    assert_eq!(
        (port.os_arch.as_str(), port.machine.as_str()),
        (runs[1].os_arch.as_str(), runs[1].machine.as_str())
    );
}

#[test]
fn the_two_sage_parallel_originals_are_named_by_script() {
    let bar = bar_lines(8, 0.005, 2, 0.5);
    let text = format!(
        "sage: load('test_parallel_sleep_v2.sage')\nsage: %time bar()\n{bar}\
         sage: load('test_parallel_sleep.sage')\nsage: %time for n in [100, 100]: bar(numcalls=n)\n{bar}"
    );
    let labels: Vec<String> = parse("s", &text).into_iter().map(|r| r.strategy).collect();
    assert_eq!(
        labels,
        [
            "fork-per-job (Sage @parallel, test_parallel_sleep_v2.sage)",
            "fork-per-job (Sage @parallel, test_parallel_sleep.sage)"
        ]
    );
}

#[test]
fn the_harness_counters_follow_their_chunks() {
    let mut text = String::from(
        "Harness (extra): Python 3.12.1 (CPython) on Linux x86_64; os.fork: real; stand-in leak: on; counters: on\n",
    );
    text += "In [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\nUsing ncpus=4 parallel decorated function\n";
    for i in 0..6 {
        text += &format!("0.500s per 100 x 4 @para sleep(0.001). Cost/ncpus/calls is 0.001000s.\nCounters (extra): open_fds=5 vm_map_entries={}\n", 100 + 400 * i);
    }
    let runs = parse("h", &text);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].counter("vm_map_entries"),
        Some(&[100.0, 500.0, 900.0, 1300.0, 1700.0, 2100.0][..])
    );
    assert_eq!(runs[0].counter("open_fds").map(<[f64]>::len), Some(6));
    // A chunk without its reading: no series (the attribution needs one per chunk).
    let cut = text.replace("Counters (extra): open_fds=5 vm_map_entries=900\n", "");
    assert!(parse("h", &cut)[0].counters.is_empty());
}

#[test]
fn a_build_line_before_the_harness_names_the_build_of_its_session() {
    // As ci/cpython-fix.sh writes the originals' output under each build.
    let bar = bar_lines(8, 0.001, 2, 0.5);
    let harness = "Harness (extra): Python 3.15.0a2+ (CPython) on macOS 15.5, arm64; build: 24F74; cpu: Apple M2; \
                   os.fork: real; stand-in leak: off; counters: on\n\
                   In [1]: from test_pyparallel_sleep import bar\nIn [2]: bar()\n";
    let runs = |label: &str| parse("t", &format!("Build (extra): {label}\n{harness}{bar}"));
    let patched = runs("patched, python/cpython main at 1a2b3c4");
    let unpatched = runs("unpatched, python/cpython main at 1a2b3c4");
    assert_eq!(
        patched[0].base,
        "fork-per-job (pure-Python @parallel emulation, build: patched, python/cpython main at 1a2b3c4)"
    );
    assert_eq!(
        patched[0].source,
        format!("t:1-{} (transcript)", 4 + bar.lines().count())
    );
    assert_eq!(
        report_read::repro::Build::of(&patched[0]),
        report_read::repro::Build::Patched
    );
    assert_eq!(
        report_read::repro::Build::of(&unpatched[0]),
        report_read::repro::Build::Unpatched
    );
    assert_ne!(patched[0].strategy, unpatched[0].strategy);
    // Two such outputs one after the other: each session its own build.
    let both = parse(
        "t",
        &format!("Build (extra): unpatched, x\n{harness}{bar}Build (extra): patched, x\n{harness}{bar}"),
    );
    let builds: Vec<_> = both.iter().map(report_read::repro::Build::of).collect();
    assert_eq!(
        builds,
        [report_read::repro::Build::Unpatched, report_read::repro::Build::Patched],
        "{both:#?}"
    );
    // Without the line: CPython as found, the setup's name as before.
    let found = parse("t", &format!("{harness}{bar}"));
    assert_eq!(found[0].base, "fork-per-job (pure-Python @parallel emulation)");
    assert_eq!(
        report_read::repro::Build::of(&found[0]),
        report_read::repro::Build::AsFound
    );
}
