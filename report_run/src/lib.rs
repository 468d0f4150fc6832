//! One run, whatever it came from: a JSON record of this suite or a transcript
//! of an original pasted from a terminal. The model that `report`'s three
//! rooms speak: `report_read` makes runs, `report_judge` judges them,
//! `report_write` and `report_plot` write them; a crate below all of them,
//! so that none imports another to name a run (`report_read` re-exports it
//! as `report_read::run`).

use drift::sequential::Stop;
use timing::{LineFormat, RunRecord};

/// The label of a run made only of IPython `%time` blocks (no chunk line):
/// one point per block, each block taken as one bar() of 1000 calls (the
/// originals' default `numcalls`, and the `test(1000)` of the Sage issue),
/// so that its slope "per 1000 calls" is per block.
pub const TIME_BLOCKS: &str = "%time blocks only (one point per bar(), taken as 1000 calls)";

/// The label of a session that held only `%prun` tables.
pub const PRUN_ONLY: &str = "%prun tables only";

/// One `%time bar()`: its wall time and the parent's CPU times, as IPython's
/// `%time` prints them (`CPU times: user X, sys: Y, total: Z`, `Wall time:
/// W`) or a record's `totals` hold them. The seed's signature is `sys`
/// growing bar() after bar() while `user` stays flat.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarTimes {
    pub wall: f64,
    pub user: f64,
    pub sys: f64,
}

/// The time per call of the process-making functions of one IPython
/// `%prun` table (rows `{built-in method posix.fork}`, `posix.wait`,
/// `posix.waitpid`): tottime / ncalls. Two tables of one session show
/// which call grew.
#[derive(Clone, Debug, PartialEq)]
pub struct PrunTable {
    /// 1-based line of the table's header.
    pub line: usize,
    /// `(function, ncalls, tottime seconds)`, in the table's order.
    pub rows: Vec<(String, u64, f64)>,
}

impl PrunTable {
    /// Seconds per call of `function` (`posix.fork`), if the table has it.
    pub fn per_call(&self, function: &str) -> Option<(u64, f64)> {
        let (n, t) = self
            .rows
            .iter()
            .filter(|r| r.0 == function)
            .fold((0, 0.0), |(n, t), r| (n + r.1, t + r.2));
        (n > 0).then(|| (n, t / n as f64))
    }
}

/// Where a run came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SourceKind {
    /// A `--json` record of one of our binaries.
    #[default]
    Record,
    /// Printed output of an original (or of a port), parsed line by line.
    Transcript,
    /// The output of `upstream/cpython/fork_repro.py`, the stdlib-only
    /// reproducer for a CPython report (`report_read::repro`).
    Reproducer,
}

/// One chunk: `calls` calls that took `wall` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// 0-based bar() (repeat) the chunk belongs to.
    pub repeat: usize,
    pub calls: u64,
    pub wall: f64,
    /// The per-job cost as the line printed it (or the record stored it).
    pub cost_per_job: f64,
}

impl Point {
    pub fn secs_per_100(&self) -> f64 {
        self.wall * 100.0 / self.calls as f64
    }
}

/// What a run was made under besides its strategy: the factors that
/// Findings set side by side (see `findings`). `None` where the source does
/// not say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Factors {
    /// The interpreter's version (`3.12.5`), from a banner or the harness line.
    pub python: Option<String>,
    /// `real`, or `without thread count` (the harness's control).
    pub os_fork: Option<String>,
    /// The harness's stand-in leak.
    pub standin_leak: Option<bool>,
    /// test_fork_sleep's `--post-fork-check` (`off`, `leak`, `free`).
    pub post_fork_check: Option<String>,
}

impl Factors {
    /// `@python3.12, fork without thread count, stand-in leak` for a
    /// transcript's row (nothing for what is not known or the default).
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.python_minor() {
            parts.push(format!("@python{v}"));
        }
        if let Some(f) = self.os_fork.as_deref().filter(|&f| f != "real") {
            parts.push(format!("fork {f}"));
        }
        if self.standin_leak == Some(true) {
            parts.push("stand-in leak".into());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" {}", parts.join(", "))
        }
    }

    /// `3.12` of `3.12.5`.
    pub fn python_minor(&self) -> Option<String> {
        let v = self.python.as_deref()?;
        let mut it = v.split('.');
        Some(format!("{}.{}", it.next()?, it.next()?))
    }

    /// Whether the interpreter is CPython 3.12 or later (which counts threads
    /// after every `os.fork()`); `None` when the version is not known.
    pub fn counts_threads_after_fork(&self) -> Option<bool> {
        let minor = self.python_minor()?;
        let (major, minor) = minor.split_once('.')?;
        Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?) >= (3, 12))
    }
}

/// What a run is, whatever its label says: the plot's panel and the
/// per-fork rules follow it, never words of the label (the control's label
/// `… fork without thread count` names threads, and is a fork-per-job run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StrategyKind {
    /// One `fork()` per job: Sage's `@parallel`, its pure-Python emulation,
    /// test_fork_sleep.
    ForkPerJob,
    /// A process pool made once (`multiprocessing.Pool`,
    /// `ProcessPoolExecutor`, their ports).
    Pool,
    /// A new pool per call (the spawn script, test_spawn_sleep --per-call).
    PoolPerCall,
    /// Threads in one process (test_openmp_sleep.c, test_threads_sleep).
    ThreadTeam,
    /// `RealField(100).sin()` on a pool (test_pool_*_RF.py, test_rf_pool).
    RealField,
    /// Not known (`%time` blocks or `%prun` tables only).
    #[default]
    Unknown,
}

impl StrategyKind {
    /// The kind of a record's `strategy` field (`fork-per-job/pipe`,
    /// `pool/fork`, `executor/spawn`, `pool-per-call/spawn`,
    /// `threads/team`: the first word is the kind, the rest the variant)
    /// with its chunk line format (test_rf_pool's pools print RealField
    /// lines).
    pub fn of_record(strategy: &str, line_format: &LineFormat) -> StrategyKind {
        if matches!(line_format, LineFormat::RealField { .. }) {
            return StrategyKind::RealField;
        }
        match strategy.split('/').next().unwrap_or_default() {
            "fork-per-job" => StrategyKind::ForkPerJob,
            "pool" | "executor" => StrategyKind::Pool,
            "pool-per-call" => StrategyKind::PoolPerCall,
            "threads" => StrategyKind::ThreadTeam,
            _ => StrategyKind::Unknown,
        }
    }
}

/// The OS a run ran on, as its source names it: what the hypothesis'
/// predictions turn on (its claim is about macOS), so judged from this,
/// never from the words of a label or a pasted `Machine:` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Os {
    /// Nothing names it (a bare transcript).
    #[default]
    Unknown,
    /// macOS: a record's `system.os` is `Darwin`; the compare harness and
    /// the reproducer write `macOS 15.5`, a banner `on darwin`, prose
    /// `macOS 15.4.1`.
    MacOs,
    /// Any other OS a source names (`Linux`, `Debian GNU/Linux 12
    /// (bookworm)`, a BSD).
    Other,
}

impl Os {
    /// The OS of a name as the sources write it (`uname -s`, the harness's
    /// or the reproducer's version, a banner's platform, an OS named in
    /// prose): empty or `unknown` is not known.
    pub fn of_name(name: &str) -> Os {
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        if lower.is_empty() || lower == "unknown" {
            Os::Unknown
        } else if lower.starts_with("macos") || lower.starts_with("darwin") || lower.starts_with("mac os") {
            Os::MacOs
        } else {
            Os::Other
        }
    }
}

/// The machine a run ran on, in words, from the compare harness's first
/// line: `macOS 15.5 (24F74), arm64, Apple M2`, `Debian GNU/Linux 12
/// (bookworm), x86_64, Intel(R) Xeon(R) CPU @ 2.20GHz`, as
/// [`Run::from_record`] names a record's `system` (the unit test below holds
/// the two to one rule), so that a port and its original run on one machine
/// carry one label. The harness, like `timing::SystemInfo`, gives the arch
/// for a CPU it cannot name.
pub fn machine_label(os_version: &str, build: Option<&str>, arch: &str, cpu: Option<&str>) -> String {
    let build = build.map_or(String::new(), |b| format!(" ({b})"));
    format!("{os_version}{build}, {arch}, {}", cpu.unwrap_or(arch))
}

/// The machine a record of this suite names (a run's or a calibration's,
/// by one rule, so that a calibration is held against the runs of its
/// machine): the OS version (else its name), the build, the architecture
/// and the CPU model.
pub fn machine_of(sys: &timing::system::SystemInfo) -> String {
    let os = if sys.os_version.is_empty() {
        &sys.os
    } else {
        &sys.os_version
    };
    let build = sys.os_build.as_deref().map_or(String::new(), |b| format!(" ({b})"));
    format!("{os}{build}, {}, {}", sys.arch, sys.cpu_model)
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// `FILE (json)` for a record, `FILE:FIRST-LAST (transcript)` for a run of a transcript.
    pub source: String,
    pub kind: SourceKind,
    /// The row's label: [`Run::base`] and what sets this run apart.
    pub strategy: String,
    /// The strategy alone, without the factors (what Findings group by).
    pub base: String,
    /// What the run is (the plot's panel): from a record's `strategy`
    /// field, or from what a transcript's session shows.
    pub strategy_kind: StrategyKind,
    pub factors: Factors,
    /// `Linux x86_64` style; `unknown` for transcripts.
    pub os_arch: String,
    /// The OS as the source names it ([`Os`]), read with `os_arch`.
    pub os: Os,
    /// The machine it ran on, as a label (`macOS 15.5 (24F74), arm64, Apple
    /// M2`): a record's `system`; a pasted document's `Machine:` line for
    /// every run read from it; empty where nothing says.
    pub machine: String,
    pub ncpus: Option<usize>,
    /// Sleep per job in seconds (`None` for RealField).
    pub sleep: Option<f64>,
    pub points: Vec<Point>,
    /// The parent's resource counters, one value per point, by name (records
    /// of this suite only; empty for transcripts).
    pub counters: Vec<(String, Vec<f64>)>,
    /// Every finished bar()'s `%time` (a record's totals, a transcript's
    /// blocks), in order.
    pub bars: Vec<BarTimes>,
    /// The `%prun` tables of a transcript's session, in order.
    pub prun: Vec<PrunTable>,
    /// How an `--until-verdict` record stopped (its verdict is judged by
    /// the same rule).
    pub until_verdict: Option<Stop>,
    /// The system's own count of the regions before the first bar() and
    /// after the last (a record's `witness`, a transcript's `Witness
    /// (extra):` lines); see `report_judge::witness`.
    pub witness: Option<probes::witness::Witness>,
}

/// A record's strategy label without its factor: `strategy (tool)`, then
/// the parent's shape (`--parent`); and with it: test_fork_sleep's
/// `--post-fork-check leak|free`, so that `off`, `leak` and `free` get rows
/// of their own.
fn labels(rec: &RunRecord) -> (String, String, Option<String>) {
    let mut base = format!("{} ({})", rec.strategy, rec.tool);
    let p = &rec.params;
    if let Some(parent) = p["parent"].as_str() {
        base += &format!(" parent={parent}");
    }
    let check = match p["post_fork_check"].as_str() {
        Some(c) => Some(c.to_string()),
        None if rec.tool == "test_fork_sleep" => Some("off".to_string()),
        None => None,
    };
    let label = match check.as_deref().filter(|&c| c != "off") {
        Some(c) => {
            let (head, parent) = base
                .split_once(" parent=")
                .map_or((base.as_str(), None), |(h, p)| (h, Some(p)));
            let mut l = format!("{head} post-fork-check={c}");
            if let Some(parent) = parent {
                l += &format!(" parent={parent}");
            }
            l
        }
        None => base.clone(),
    };
    (label, base, check)
}

impl Run {
    pub fn from_record(source: &str, rec: &RunRecord) -> Run {
        let sleep = match &rec.line_format {
            LineFormat::Para { sleep, .. } | LineFormat::Pool { sleep, .. } => Some(*sleep),
            LineFormat::RealField { .. } => None,
        };
        let points = rec
            .repeats
            .iter()
            .enumerate()
            .flat_map(|(k, r)| {
                r.chunks.iter().filter(|c| c.calls > 0).map(move |c| Point {
                    repeat: k,
                    calls: c.calls,
                    wall: c.time.wall,
                    cost_per_job: c.cost_per_job,
                })
            })
            .collect();
        let arch = &rec.system.arch;
        let os = if rec.system.os_version.is_empty() {
            &rec.system.os
        } else {
            &rec.system.os_version
        };
        let (strategy, base, post_fork_check) = labels(rec);
        let bars = rec
            .repeats
            .iter()
            .filter_map(|r| r.totals)
            .map(|t| BarTimes {
                wall: t.wall,
                user: t.own.user,
                sys: t.own.sys,
            })
            .collect();
        let sys = &rec.system;
        Run {
            source: source.to_string(),
            kind: SourceKind::Record,
            strategy,
            base,
            strategy_kind: StrategyKind::of_record(&rec.strategy, &rec.line_format),
            factors: Factors {
                post_fork_check,
                ..Factors::default()
            },
            os_arch: format!("{os}, {arch}"),
            os: match Os::of_name(&sys.os) {
                Os::Unknown => Os::of_name(&sys.os_version),
                known => known,
            },
            machine: machine_of(sys),
            ncpus: Some(rec.line_format.workers()),
            sleep,
            points,
            counters: rec.counter_series(),
            bars,
            prun: Vec::new(),
            until_verdict: rec.verdict.as_ref().and_then(|v| v.sequential),
            witness: rec.witness.clone(),
        }
    }

    /// One `fork()` per job (by its kind, never by words in its label): the
    /// runs the hypothesis says leak an entry per fork, and the only ones
    /// judged per fork.
    pub fn is_fork_per_job(&self) -> bool {
        self.strategy_kind == StrategyKind::ForkPerJob
    }

    /// A run of `%time` blocks only ([`TIME_BLOCKS`]).
    pub fn is_time_blocks(&self) -> bool {
        self.strategy == TIME_BLOCKS
    }

    /// `(position in calls, seconds per 100 calls)`, as
    /// [`timing::RunRecord::points`] places the chunks of a record.
    pub fn xy(&self) -> Vec<(f64, f64)> {
        drift::chunk_points(self.points.iter().map(|p| (p.calls, p.wall)))
    }

    /// `(forks since the first reading, gained since it)` of counter `name`
    /// after every chunk: readings come after each chunk, and a chunk makes
    /// `calls x ncpus` forks (fork per job) or jobs (other strategies).
    /// `None` where the run has no such counter.
    pub fn since_first_reading(&self, name: &str) -> Option<Vec<(f64, f64)>> {
        let (values, ncpus) = (self.counter(name)?, self.ncpus? as u64);
        let mut forks = 0u64;
        let xy = self
            .points
            .iter()
            .zip(values)
            .enumerate()
            .map(|(k, (p, v))| {
                if k > 0 {
                    forks += p.calls * ncpus;
                }
                (forks as f64, v - values[0])
            })
            .collect();
        Some(xy)
    }

    /// Growth of counter `name` per fork (per job for the strategies that
    /// do not fork per job) between the first and the last reading, with
    /// the forks between them (`(0.0, 0)` with a single reading); `None`
    /// where the run has no such counter.
    pub fn growth_per_fork(&self, name: &str) -> Option<(f64, u64)> {
        let &(forks, gained) = self.since_first_reading(name)?.last()?;
        Some(if forks > 0.0 {
            (gained / forks, forks as u64)
        } else {
            (0.0, 0)
        })
    }

    /// The leak's picture: [`Run::since_first_reading`] of `vm_map_entries`
    /// for a fork-per-job run with two readings or more. A leak of one entry
    /// per fork is the diagonal `y = x`, a clean run the line `y = 0`.
    /// `None` for other runs.
    pub fn map_growth(&self) -> Option<Vec<(f64, f64)>> {
        let xy = self.since_first_reading("vm_map_entries")?;
        (self.is_fork_per_job() && xy.len() >= 2).then_some(xy)
    }

    /// vm_map_entries gained per fork between the first and the last
    /// reading of the leak's picture ([`Run::map_growth`]).
    pub fn entries_per_fork(&self) -> Option<f64> {
        self.map_growth()?;
        self.growth_per_fork("vm_map_entries")
            .filter(|&(_, n)| n > 0)
            .map(|(g, _)| g)
    }

    /// The values of counter `name`, one per point, if this run has it.
    pub fn counter(&self, name: &str) -> Option<&[f64]> {
        self.counters.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    pub fn repeats(&self) -> usize {
        self.points.last().map_or(0, |p| p.repeat + 1)
    }

    /// Median of the chunks' per-job costs.
    pub fn median_cost_per_job(&self) -> Option<f64> {
        let m = drift::stats::median(self.points.iter().map(|p| p.cost_per_job).collect());
        m.is_finite().then_some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_fork_check_runs_get_labels_of_their_own() {
        let rec = |params| {
            RunRecord::new(
                "test_fork_sleep",
                "fork-per-job/pipe",
                params,
                LineFormat::para(8, 0.001),
            )
        };
        let label = |params| Run::from_record("x", &rec(params)).strategy;
        let base = Run::from_record("x", &rec(serde_json::json!({"post_fork_check": "leak"}))).base;
        assert_eq!(base, "fork-per-job/pipe (test_fork_sleep)");
        let plain = "fork-per-job/pipe (test_fork_sleep)";
        assert_eq!(label(serde_json::json!({})), plain);
        assert_eq!(label(serde_json::json!({"post_fork_check": "off"})), plain);
        assert_eq!(
            label(serde_json::json!({"post_fork_check": "leak"})),
            format!("{plain} post-fork-check=leak")
        );
        assert_eq!(
            label(serde_json::json!({"post_fork_check": "free", "parent": "sage"})),
            format!("{plain} post-fork-check=free parent=sage")
        );
    }

    #[test]
    fn the_os_is_read_from_what_the_sources_write() {
        assert_eq!(Os::of_name("Darwin"), Os::MacOs);
        assert_eq!(Os::of_name("macOS 15.5 (24F74)"), Os::MacOs);
        assert_eq!(Os::of_name("macOS 15.4.1 (from the text)"), Os::MacOs);
        assert_eq!(Os::of_name("Linux"), Os::Other);
        assert_eq!(Os::of_name("Debian GNU/Linux 12 (bookworm), x86_64"), Os::Other);
        assert_eq!(Os::of_name("unknown"), Os::Unknown);
        assert_eq!(Os::of_name(""), Os::Unknown);
    }

    #[test]
    fn a_record_and_the_harness_name_a_machine_by_one_rule() {
        let mut rec = RunRecord::new(
            "test_fork_sleep",
            "fork-per-job/pipe",
            serde_json::json!({}),
            LineFormat::para(8, 0.001),
        );
        let s = &mut rec.system;
        (s.os_version, s.arch, s.cpu_model, s.os_build) = (
            "macOS 15.5".into(),
            "arm64".into(),
            "Apple M2".into(),
            Some("24F74".into()),
        );
        rec.system.os = "Darwin".into();
        let mac = Run::from_record("x", &rec);
        assert_eq!(mac.os, Os::MacOs);
        assert_eq!(mac.machine, "macOS 15.5 (24F74), arm64, Apple M2");
        assert_eq!(
            mac.machine,
            machine_label("macOS 15.5", Some("24F74"), "arm64", Some("Apple M2"))
        );
        let s = &mut rec.system;
        (s.os_version, s.arch, s.cpu_model, s.os_build) = (
            "Debian GNU/Linux 12 (bookworm)".into(),
            "x86_64".into(),
            "x86_64".into(),
            None,
        );
        rec.system.os = "Linux".into();
        let linux = Run::from_record("x", &rec);
        assert_eq!(linux.os, Os::Other);
        assert_eq!(linux.machine, "Debian GNU/Linux 12 (bookworm), x86_64, x86_64");
        assert_eq!(
            linux.machine,
            machine_label("Debian GNU/Linux 12 (bookworm)", None, "x86_64", None)
        );
        assert_eq!(linux.os_arch, "Debian GNU/Linux 12 (bookworm), x86_64");
    }
}
