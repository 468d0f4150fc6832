//! Plain-text transcripts of the originals (ORIGINALS.md), as a user pastes
//! them from a terminal or an issue comment: chunk lines of every family,
//! the spawn script's per-call lines, the `Using ...` / `Setting ...` headers
//! and IPython's `%time` blocks. Everything else (prompts, banners, `--check`
//! lists, our own `(extra)` lines) is ignored.
//!
//! A file is one run; each bar() in it (a `Using ...` header, or chunk lines
//! after a `Wall time:` line) is one repeat. A change of line family starts a
//! new run in the same file.

use crate::run::{Point, Run, SourceKind};
use regex::Regex;
use std::sync::OnceLock;

#[derive(Clone, Debug, PartialEq)]
enum Family {
    /// `@para sleep`, label `ncpus` (@parallel) or `maxworkers` (executor).
    Para(String),
    Pool,
    RealField(u32),
    /// test_parallel_spawn_sleep.sage: one line per call.
    SpawnPerCall,
}

struct Patterns {
    para: Regex,
    pool: Regex,
    real_field: Regex,
    spawn: Regex,
    spawn_cost: Regex,
    using_ncpus: Regex,
    using_maxworkers: Regex,
    using_executor: Regex,
    start_method: Regex,
    openmp: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("valid pattern");
        const NUM: &str = r"(-?\d+\.\d+)";
        Patterns {
            para: re(&format!(
                r"^{NUM}s per (\d+) x (\d+) @para sleep\({NUM}\)\. Cost/(ncpus|maxworkers)/calls is {NUM}s\.$"
            )),
            pool: re(&format!(
                r"^{NUM}s per (\d+) x (\d+) sleep\({NUM}\)\. Cost/maxworkers/calls is {NUM}s\.$"
            )),
            real_field: re(&format!(
                r"^{NUM}s per (\d+) x (\d+) RealField\((\d+)\)\.sin\(\)\. Cost/ncpus/calls is {NUM}s\.$"
            )),
            spawn: re(&format!(
                r"^Now spawning @parallelized sleep\({NUM}\) on (\d+) workers\.\s+{NUM}s\.$"
            )),
            spawn_cost: re(&format!(r"^Cost/ncpus is {NUM}s\.$")),
            using_ncpus: re(r"^Using ncpus=(\d+) parallel decorated function$"),
            using_maxworkers: re(r"^Using maxworkers=(\d+) parallel decorated function$"),
            using_executor: re(r"^Using maxworkers=(\d+) as max_workers for ProcessPoolExecutor$"),
            start_method: re(r"^Setting multiprocessing start method to '(\w+)'$"),
            openmp: re(r"^I am set up to use (\d+) threads\.$"),
        }
    })
}

/// What a header line says about the run that follows.
#[derive(Clone, Debug, Default)]
struct Context {
    start_method: Option<String>,
    executor: bool,
    openmp: Option<usize>,
}

struct Builder {
    file: String,
    sage: bool,
    runs: Vec<Run>,
    current: Option<(Family, Run)>,
    ctx: Context,
    /// A `Wall time:` or `Using ...` line closed the current bar().
    bar_closed: bool,
    repeat: usize,
}

impl Builder {
    fn strategy(&self, family: &Family) -> String {
        let method = self.ctx.start_method.as_deref();
        match family {
            Family::Para(label) if label == "maxworkers" || self.ctx.executor => {
                format!("ProcessPoolExecutor/{}", method.unwrap_or("fork"))
            }
            Family::Para(_) if self.sage => "fork-per-job (Sage @parallel)".into(),
            Family::Para(_) => "fork-per-job (@parallel)".into(),
            Family::Pool => format!("pool/{}", method.unwrap_or("?")),
            Family::RealField(p) => format!("pool/{} RealField({p})", method.unwrap_or("?")),
            Family::SpawnPerCall => "pool-per-call/spawn (Sage @parallel p_iter=multiprocessing)".into(),
        }
    }

    fn push(&mut self, family: Family, ncpus: usize, sleep: Option<f64>, point: (u64, f64, f64)) {
        let same = matches!(&self.current, Some((f, _)) if *f == family);
        if !same {
            self.close_run();
            let run = Run {
                source: String::new(),
                kind: SourceKind::Transcript,
                strategy: self.strategy(&family),
                os_arch: "unknown".into(),
                ncpus: Some(ncpus),
                sleep,
                points: Vec::new(),
            };
            self.current = Some((family, run));
            self.repeat = 0;
        } else if self.bar_closed {
            self.repeat += 1;
        }
        self.bar_closed = false;
        let (calls, wall, cost_per_job) = point;
        let repeat = self.repeat;
        if let Some((_, run)) = &mut self.current {
            run.points.push(Point {
                repeat,
                calls,
                wall,
                cost_per_job,
            });
        }
    }

    fn close_bar(&mut self) {
        if self.current.as_ref().is_some_and(|(_, r)| !r.points.is_empty()) {
            self.bar_closed = true;
        }
    }

    fn close_run(&mut self) {
        if let Some((_, run)) = self.current.take() {
            self.runs.push(run);
        }
        self.bar_closed = false;
    }
}

/// Parses a transcript; `file` names the source in the table. An empty result
/// means no line of any original was found.
pub fn parse(file: &str, text: &str) -> Vec<Run> {
    let p = patterns();
    let mut b = Builder {
        file: file.to_string(),
        sage: text
            .lines()
            .any(|l| l.trim_start().starts_with("sage:") || l.contains("SageMath version")),
        runs: Vec::new(),
        current: None,
        ctx: Context::default(),
        bar_closed: false,
        repeat: 0,
    };
    let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    let int = |s: &str| s.parse::<u64>().unwrap_or(0);
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(c) = p.para.captures(line) {
            let n = int(&c[2]);
            if n > 0 {
                let fam = Family::Para(c[5].to_string());
                b.push(fam, int(&c[3]) as usize, Some(num(&c[4])), (n, num(&c[1]), num(&c[6])));
            }
        } else if let Some(c) = p.pool.captures(line) {
            let n = int(&c[2]);
            if n > 0 {
                b.push(
                    Family::Pool,
                    int(&c[3]) as usize,
                    Some(num(&c[4])),
                    (n, num(&c[1]), num(&c[5])),
                );
            }
        } else if let Some(c) = p.real_field.captures(line) {
            let n = int(&c[2]);
            if n > 0 {
                let fam = Family::RealField(int(&c[4]) as u32);
                b.push(fam, int(&c[3]) as usize, None, (n, num(&c[1]), num(&c[5])));
            }
        } else if let Some(c) = p.spawn.captures(line) {
            // One call per line: a "chunk" of 1 call. The cost is the
            // original's formula `(delta - T)/ncpus`, replaced by the printed
            // figure when the ` Cost/ncpus is` line follows.
            let (t, w, delta) = (num(&c[1]), int(&c[2]) as usize, num(&c[3]));
            b.push(
                Family::SpawnPerCall,
                w,
                Some(t),
                (1, delta, (delta - t) / w.max(1) as f64),
            );
        } else if let Some(c) = p.spawn_cost.captures(line) {
            if let Some((Family::SpawnPerCall, run)) = &mut b.current {
                if let Some(last) = run.points.last_mut() {
                    last.cost_per_job = num(&c[1]);
                }
            }
        } else if line.starts_with("Wall time:") || p.using_ncpus.is_match(line) || p.using_maxworkers.is_match(line) {
            b.close_bar();
        } else if p.using_executor.is_match(line) {
            b.close_bar();
            b.ctx.executor = true;
        } else if let Some(c) = p.start_method.captures(line) {
            b.close_bar();
            b.ctx.start_method = Some(c[1].to_string());
        } else if let Some(c) = p.openmp.captures(line) {
            b.ctx.openmp = Some(int(&c[1]) as usize);
        }
    }
    b.close_run();
    if b.runs.is_empty() {
        if let Some(threads) = b.ctx.openmp {
            // test_openmp_sleep.c prints no timing of its own.
            b.runs.push(Run {
                source: String::new(),
                kind: SourceKind::Transcript,
                strategy: "OpenMP thread team".into(),
                os_arch: "unknown".into(),
                ncpus: Some(threads),
                sleep: None,
                points: Vec::new(),
            });
        }
    }
    let many = b.runs.len() > 1;
    for (k, run) in b.runs.iter_mut().enumerate() {
        run.source = if many {
            format!("{}#{} (transcript)", b.file, k + 1)
        } else {
            format!("{} (transcript)", b.file)
        };
    }
    b.runs
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(r.source, "t.txt (transcript)");
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
        assert_eq!(runs[0].source, "mix#1 (transcript)");
        assert_eq!(runs[1].source, "mix#2 (transcript)");
        assert!(parse("none", "hello\nsage: 1+1\n2\n").is_empty());
    }
}
