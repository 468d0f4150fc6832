//! The lines the originals print, as regexes: what the binaries' output is
//! checked against. The formats themselves are `timing::lines`'
//! (`LineFormat`); these are written from the originals' transcripts
//! (ORIGINALS.md), independently of that code.

use regex::Regex;
use std::sync::LazyLock;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// A chunk line of `@parallel` (`test_pyparallel_sleep.py`,
/// `test_parallel_sleep_v2.sage`, and the C/OpenMP originals). Captures: the
/// calls, the workers, the sleep.
pub static PARA: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^\d+\.\d{3}s per (\d+) x (\d+) @para sleep\((\d+\.\d{3})\)\. Cost/ncpus/calls is -?\d+\.\d{6}s\.$")
});

/// A chunk line of the `ProcessPoolExecutor` of `test_executor_sleep.sage`:
/// as [`PARA`], labelled `maxworkers`.
pub static EXECUTOR: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^\d+\.\d{3}s per (\d+) x (\d+) @para sleep\((\d+\.\d{3})\)\. Cost/maxworkers/calls is -?\d+\.\d{6}s\.$")
});

/// A chunk line of `multiprocessing.Pool` (`test_pool_fork_sleep.py`,
/// `test_pool_spawn_sleep.py`): without `@para`, labelled `maxworkers`.
pub static POOL: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^\d+\.\d{3}s per (\d+) x (\d+) sleep\((\d+\.\d{3})\)\. Cost/maxworkers/calls is -?\d+\.\d{6}s\.$")
});

/// The first line of IPython's `%time` block.
pub static CPU_TIMES: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^CPU times: user [0-9.e+]+ (s|ms|µs|ns), sys: [0-9.e+]+ (s|ms|µs|ns), total: [0-9.e+]+ (s|ms|µs|ns)$")
});

/// The second line of IPython's `%time` block.
pub static WALL_TIME: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^Wall time: ([0-9.e+]+ (s|ms|µs|ns)|(\d+(d|h|min|s) ?)+)$"));

/// Our extra third line of the `%time` block: the children's CPU time.
pub static CHILDREN_TIMES: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^Children CPU times \(extra, RUSAGE_CHILDREN\): user .+, sys: .+, total: .+$"));

/// The extra line a pool worker prints for `--workers` (`pool_bars`): its
/// pid, its parent (this process, the forkserver, or another process: a
/// bug the caller's own check catches) and where its memory came from.
pub static WORKER: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^\(extra\) worker pid \d+: parent (this process|the forkserver \d+|process \d+), memory of (a fork of this process|a fresh exec)$",
    )
});

/// The worker lines of `out` (a run with `--workers`), after checking that
/// there is at least one and that each is a [`WORKER`] line.
pub fn worker_lines(out: &str) -> Vec<&str> {
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("(extra) worker")).collect();
    assert!(!lines.is_empty(), "no worker line: {out}");
    for line in &lines {
        assert!(WORKER.is_match(line), "not a worker line: {line}");
    }
    lines
}

/// `lines` are a `%time` block: CPU times, wall time, children's CPU times.
pub fn assert_time_block(lines: &[&str]) {
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (line, format) in lines.iter().zip([&CPU_TIMES, &WALL_TIME, &CHILDREN_TIMES]) {
        assert!(format.is_match(line), "not a %time line: {line}");
    }
}

/// The calls of each chunk line, after checking that every line is one of
/// `format` ([`PARA`], [`EXECUTOR`], [`POOL`]) for `workers` workers and
/// `sleep(0)`.
pub fn chunk_sizes(format: &Regex, lines: &[&str], workers: &str) -> Vec<u64> {
    lines
        .iter()
        .map(|line| {
            let c = format
                .captures(line)
                .unwrap_or_else(|| panic!("not a chunk line: {line}"));
            assert_eq!((&c[2], &c[3]), (workers, "0.000"), "{line}");
            c[1].parse().unwrap()
        })
        .collect()
}

/// The `--check` line of a call that mapped `range(from, from + n)`: the
/// squares, printed as a Python list.
pub fn squares(from: u64, n: u64) -> String {
    let v: Vec<String> = (from..from + n).map(|a| (a * a).to_string()).collect();
    format!("[{}]", v.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_regexes_match_the_originals_lines() {
        // Lines of the formats ORIGINALS.md gives, and its %time example.
        let para = "1.131s per 100 x 8 @para sleep(0.000). Cost/ncpus/calls is 0.001413s.";
        assert_eq!(chunk_sizes(&PARA, &[para], "8"), [100]);
        let pool = "0.412s per 20 x 2 sleep(0.001). Cost/maxworkers/calls is 0.001560s.";
        assert!(POOL.is_match(pool) && !PARA.is_match(pool) && !EXECUTOR.is_match(pool));
        assert!(EXECUTOR.is_match("0.412s per 100 x 2 @para sleep(0.001). Cost/maxworkers/calls is -0.000060s."));
        assert_time_block(&[
            "CPU times: user 398 ms, sys: 9.75 s, total: 10.1 s",
            "Wall time: 1min 5s",
            "Children CPU times (extra, RUSAGE_CHILDREN): user 1 s, sys: 2 s, total: 3 s",
        ]);
        assert!(WALL_TIME.is_match("Wall time: 13.1 s"));
        assert_eq!(squares(6, 3), "[36, 49, 64]");
        let workers = "(extra) worker pid 12: parent the forkserver 11, memory of a fresh exec\n\
                       (extra) worker pid 13: parent this process, memory of a fork of this process";
        assert_eq!(worker_lines(workers).len(), 2);
    }
}
