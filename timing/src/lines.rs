//! The printed lines of the originals, byte for byte (ORIGINALS.md, "Chunk
//! line formats"), and IPython's `%time` block.

use crate::clock::Interval;
use crate::pyfmt::{fixed, ipython_time};
use serde::{Deserialize, Serialize};

/// Which family of chunk line a binary prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum LineFormat {
    /// `@parallel` (fork per job), `test_pyparallel_sleep.py`,
    /// `test_parallel_sleep_v2.sage`; with `label = "maxworkers"` the
    /// `ProcessPoolExecutor` of `test_executor_sleep.sage`.
    /// `{delta:.3f}s per {n} x {w} @para sleep({T:.3f}). Cost/{label}/calls is {(delta/n - T)/w:.6f}s.`
    Para {
        /// `ncpus` or `maxworkers`: the jobs of one call, the `x {w}`.
        workers: usize,
        /// `T`, the seconds each job sleeps.
        sleep: f64,
        /// The word in `Cost/{label}/calls`: `ncpus` for `@parallel`,
        /// `maxworkers` for the executor.
        label: String,
    },
    /// `multiprocessing.Pool`, `test_pool_fork_sleep.py`, `test_pool_spawn_sleep.py`:
    /// as `Para` without `@para`, label `maxworkers`.
    Pool {
        /// `maxworkers`: the pool's size and the jobs of one call.
        workers: usize,
        /// `T`, the seconds each job sleeps.
        sleep: f64,
    },
    /// No original prints timing for the RealField scripts; ours is
    /// `{delta:.3f}s per {n} x {w} RealField({p}).sin(). Cost/ncpus/calls is {delta/n/w:.6f}s.`
    RealField {
        /// `ncpus`: the pool's size and the jobs of one call.
        workers: usize,
        /// The `RealField` precision in bits (the scripts' `precision=100`).
        precision: u32,
    },
}

impl LineFormat {
    /// The `@parallel` line of `test_pyparallel_sleep.py` and
    /// `test_parallel_sleep_v2.sage`, label `ncpus`: the common case, so it
    /// gets a shorthand.
    pub fn para(ncpus: usize, sleep: f64) -> Self {
        LineFormat::Para {
            workers: ncpus,
            sleep,
            label: "ncpus".into(),
        }
    }

    /// The jobs per call, whatever the family calls it (`ncpus`,
    /// `maxworkers`).
    pub fn workers(&self) -> usize {
        match self {
            LineFormat::Para { workers, .. }
            | LineFormat::Pool { workers, .. }
            | LineFormat::RealField { workers, .. } => *workers,
        }
    }

    /// The per-job overhead each family prints: `(delta/n - T)/w` for the sleep
    /// families, `delta/n/w` for RealField.
    pub fn cost_per_job(&self, delta: f64, n: u64) -> f64 {
        let n = n as f64;
        match self {
            LineFormat::Para { workers, sleep, .. } | LineFormat::Pool { workers, sleep } => {
                (delta / n - sleep) / *workers as f64
            }
            LineFormat::RealField { workers, .. } => delta / n / *workers as f64,
        }
    }

    /// The chunk line for a chunk of `n` calls that took `delta` seconds.
    pub fn chunk_line(&self, delta: f64, n: u64) -> String {
        let d = fixed(delta, 3);
        let cost = fixed(self.cost_per_job(delta, n), 6);
        match self {
            LineFormat::Para { workers, sleep, label } => format!(
                "{d}s per {n} x {workers} @para sleep({}). Cost/{label}/calls is {cost}s.",
                fixed(*sleep, 3)
            ),
            LineFormat::Pool { workers, sleep } => format!(
                "{d}s per {n} x {workers} sleep({}). Cost/maxworkers/calls is {cost}s.",
                fixed(*sleep, 3)
            ),
            LineFormat::RealField { workers, precision } => {
                format!("{d}s per {n} x {workers} RealField({precision}).sin(). Cost/ncpus/calls is {cost}s.")
            }
        }
    }
}

/// `test_parallel_spawn_sleep.sage` times every call and prints, before it,
/// `Now spawning @parallelized sleep({T:.3f}) on {ncpus} workers.` with
/// `end=" "` and `flush=True`: this text (trailing space included, no newline).
pub fn per_call_prefix(sleep: f64, ncpus: usize) -> String {
    format!(
        "Now spawning @parallelized sleep({}) on {ncpus} workers. ",
        fixed(sleep, 3)
    )
}

/// ... and after the call `{delta:.3f}s.\n Cost/ncpus is {(delta - T)/ncpus:.6f}s.`:
/// this text, the embedded newline included (print's own newline not).
pub fn per_call_suffix(delta: f64, sleep: f64, ncpus: usize) -> String {
    format!(
        "{}s.\n Cost/ncpus is {}s.",
        fixed(delta, 3),
        fixed((delta - sleep) / ncpus as f64, 6)
    )
}

/// IPython's `%time` output for one bar(), then our extra, labelled line with
/// the reaped children's CPU times (`RUSAGE_CHILDREN`), which `%time` does not
/// show although forked workers do the work there.
pub fn time_block(i: &Interval) -> [String; 3] {
    let f = ipython_time;
    [
        format!(
            "CPU times: user {}, sys: {}, total: {}",
            f(i.own.user),
            f(i.own.sys),
            f(i.own.total())
        ),
        format!("Wall time: {}", f(i.wall)),
        format!(
            "Children CPU times (extra, RUSAGE_CHILDREN): user {}, sys: {}, total: {}",
            f(i.children.user),
            f(i.children.sys),
            f(i.children.total())
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::CpuTimes;

    #[test]
    fn para_line_reproduces_the_seed_transcript() {
        // First line of the seed's Sage transcript: delta is only known to the
        // printed precision, so pick a value that rounds the same way.
        let l = LineFormat::para(8, 0.001);
        assert_eq!(
            l.chunk_line(1.1312, 100),
            "1.131s per 100 x 8 @para sleep(0.001). Cost/ncpus/calls is 0.001289s."
        );
        assert_eq!(
            l.chunk_line(0.05, 7),
            "0.050s per 7 x 8 @para sleep(0.001). Cost/ncpus/calls is 0.000768s."
        );
    }

    #[test]
    fn other_families() {
        let cases = [
            (
                LineFormat::Pool {
                    workers: 8,
                    sleep: 0.001,
                },
                0.2654,
                "0.265s per 100 x 8 sleep(0.001). Cost/maxworkers/calls is 0.000207s.",
            ),
            (
                LineFormat::Para {
                    workers: 8,
                    sleep: 0.001,
                    label: "maxworkers".into(),
                },
                0.3,
                "0.300s per 100 x 8 @para sleep(0.001). Cost/maxworkers/calls is 0.000250s.",
            ),
            (
                LineFormat::RealField {
                    workers: 8,
                    precision: 100,
                },
                0.16,
                "0.160s per 100 x 8 RealField(100).sin(). Cost/ncpus/calls is 0.000200s.",
            ),
        ];
        for (format, delta, line) in cases {
            assert_eq!(format.chunk_line(delta, 100), line);
        }
    }

    #[test]
    fn per_call_lines() {
        let line = per_call_prefix(0.001, 8) + &per_call_suffix(0.2345, 0.001, 8);
        assert_eq!(
            line,
            "Now spawning @parallelized sleep(0.001) on 8 workers. 0.234s.\n Cost/ncpus is 0.029187s."
        );
        // The per-call cost is the Para family's cost of a chunk of one call.
        assert_eq!(
            LineFormat::para(8, 0.001).cost_per_job(0.2345, 1),
            (0.2345 - 0.001) / 8.0
        );
    }

    #[test]
    fn time_block_format() {
        let i = Interval {
            wall: 13.1,
            own: CpuTimes { user: 0.398, sys: 9.75 },
            children: CpuTimes { user: 1.0, sys: 2.0 },
        };
        let [a, b, c] = time_block(&i);
        assert_eq!(a, "CPU times: user 398 ms, sys: 9.75 s, total: 10.1 s");
        assert_eq!(b, "Wall time: 13.1 s");
        assert_eq!(
            c,
            "Children CPU times (extra, RUSAGE_CHILDREN): user 1 s, sys: 2 s, total: 3 s"
        );
    }
}
