//! The interpreter's own fork habits, put into the parent: what a
//! CPython or Sage parent does around each `os.fork()` that this small Rust
//! parent would otherwise not do. The mechanisms are in `probes`
//! (`probes::postfork`, `probes::ballast`); this module holds the flags, the
//! `--parent` presets and the hook the runner calls after each fork.

use clap::ValueEnum;
use cli::args::int_in;
use probes::ballast::{Ballast, BallastError};
use probes::postfork::{self, Release};
use serde_json::{json, Value};

/// `--post-fork-check`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PostForkCheck {
    /// No check (CPython 3.11 and older).
    Off,
    /// Count the threads and release nothing, exactly as CPython ≥ 3.12.
    Leak,
    /// Count the threads, then release the thread array and every port right (the control).
    Free,
}

/// `--parent`'s values: the three habits set from measured parents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// CPython 3.13: --post-fork-check leak --dirty-kib 128 --ballast-regions 14.
    /// Target: about 35 parent minor faults per job on 4 KiB pages, 9 on 16 KiB.
    Python,
    /// Sage 10.6 (Python 3.12): --post-fork-check leak --dirty-kib 332 --ballast-regions 650.
    /// Target: about 86 parent minor faults per job on 4 KiB pages, 22 on 16 KiB.
    Sage,
}

/// The flags. Each defaults to the `--parent` preset's value, else to "not
/// at all"; a flag given explicitly wins over the preset.
#[derive(clap::Args, Clone, Debug)]
pub struct ParentArgs {
    /// After each fork, count the parent's threads as CPython ≥ 3.12 does
    /// [default: off].
    ///
    /// Hypothesis: on macOS CPython ≥ 3.12 calls task_for_pid and task_threads
    /// after every os.fork() and never releases the thread array (a memory
    /// region) nor the port rights; if each fork leaves a region behind, each
    /// later fork has more to copy and fork-per-job drifts. How to read a pair
    /// of runs: on an afflicted Mac, `leak` drifting while `free` and `off`
    /// stay flat says the leak is the cause; the record's vm_map_entries,
    /// mach_msg_regions and task_port_urefs counters show what grows (port
    /// names do not: the same name gains references). On Linux both read
    /// /proc/self/stat (open, fstat, read, close) and nothing leaks, so `leak`
    /// and `free` must agree.
    #[arg(long, value_enum, value_name = "MODE")]
    pub post_fork_check: Option<PostForkCheck>,
    /// After each fork the parent writes one byte in each page of K KiB of its
    /// ballast (or of a buffer of its own), taking copy-on-write faults as an
    /// interpreter does, 0..=1048576 [default: 0].
    #[arg(long, value_name = "K", value_parser = int_in::<0, 1_048_576>)]
    pub dirty_kib: Option<u64>,
    /// Cut the ballast into N mappings that cannot merge (alternating
    /// protections), made before the run: a Sage-shaped address space.
    /// Checked against the system's map limit, 1..=1000000 [default: 1].
    #[arg(long, value_name = "N", value_parser = int_in::<1, 1_000_000>)]
    pub ballast_regions: Option<u64>,
    /// A parent like a measured interpreter, setting the three flags above.
    ///
    /// Measured on Linux: parent minor faults per job CPython 3.13
    /// 35, Sage @parallel 86, this binary 3.5; regions CPython 3.13 49, Sage
    /// 684-691, this binary 35; both run the post-fork check (Python ≥ 3.12).
    /// The presets are in bytes (python 128 KiB, sage 332 KiB dirtied per
    /// job): an interpreter writes the same objects whatever the page size.
    /// So the target for the record's parent_minor_faults_per_job depends on
    /// the page size, which the record keeps (params.page_size): on 4 KiB
    /// pages (Linux x86-64, Intel Macs) python about 35, sage about 86; on
    /// 16 KiB pages (Apple Silicon) a quarter of the pages, python about 9,
    /// sage about 22 (arithmetic, not yet measured on a Mac).
    #[arg(long, value_enum, value_name = "WHO")]
    pub parent: Option<Preset>,
}

/// The flag's spelling of a value (`leak`, `sage`), for the record.
fn name(value: &impl ValueEnum) -> Option<String> {
    value.to_possible_value().map(|p| p.get_name().to_string())
}

/// The three habits, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub check: PostForkCheck,
    pub dirty_kib: u64,
    pub regions: u64,
}

impl ParentArgs {
    pub fn settings(&self) -> Settings {
        let preset = match self.parent {
            None => (PostForkCheck::Off, 0, 1),
            Some(Preset::Python) => (PostForkCheck::Leak, 128, 14),
            Some(Preset::Sage) => (PostForkCheck::Leak, 332, 650),
        };
        Settings {
            check: self.post_fork_check.unwrap_or(preset.0),
            dirty_kib: self.dirty_kib.unwrap_or(preset.1),
            regions: self.ballast_regions.unwrap_or(preset.2),
        }
    }

    /// The record's params for these flags (resolved values).
    pub fn params(&self) -> Value {
        let s = self.settings();
        json!({
            "post_fork_check": name(&s.check),
            "dirty_kib": s.dirty_kib,
            "ballast_regions": s.regions,
            "parent": self.parent.as_ref().and_then(name),
            // The presets are bytes: the page size says how many faults
            // their KiB are (4096 here and on Intel Macs, 16384 on Apple Silicon).
            "page_size": probes::page_size(),
        })
    }
}

/// The parent's habits during the run: its ballast and what it does after
/// each fork.
pub struct Habits {
    check: PostForkCheck,
    ballast: Ballast,
}

impl Habits {
    /// Makes the ballast (`--ballast-mb` in `--ballast-regions` regions,
    /// with `--dirty-kib` pages to write), checked before anything runs.
    pub fn new(args: &ParentArgs, ballast_mb: u64) -> Result<Habits, BallastError> {
        let s = args.settings();
        Ok(Habits {
            check: s.check,
            ballast: Ballast::shaped(ballast_mb, s.regions, s.dirty_kib)?,
        })
    }

    /// In the parent, right after a successful fork: CPython's thread count.
    pub fn post_fork_check(&self) {
        let count = match self.check {
            PostForkCheck::Off => return,
            PostForkCheck::Leak => postfork::thread_count(Release::Nothing),
            PostForkCheck::Free => postfork::thread_count(Release::All),
        };
        std::hint::black_box(count);
    }

    /// Then the pages an interpreter writes between forks.
    pub fn dirty(&mut self) {
        self.ballast.dirty();
    }
}

/// The parent's minor faults per job of every chunk (from the chunk's
/// `resources.minor_faults`), added to the chunk's `extra` as
/// `parent_minor_faults_per_job`: the figure to match against a measured
/// Python (≈ 35) or Sage (≈ 86) parent on 4 KiB pages, a quarter of that on
/// 16 KiB pages (`params.page_size`).
pub fn faults_per_job(record: &mut timing::RunRecord, ncpus: u64) {
    for chunk in record.repeats.iter_mut().flat_map(|r| &mut r.chunks) {
        let faults = chunk
            .resources
            .as_ref()
            .and_then(|r| r.get("minor_faults"))
            .map(|&f| f as f64);
        let (Some(faults), true) = (faults, chunk.calls > 0) else {
            continue;
        };
        let per_job = json!(faults / (chunk.calls * ncpus) as f64);
        match &mut chunk.extra {
            Some(Value::Object(extra)) => {
                extra.insert("parent_minor_faults_per_job".into(), per_job);
            }
            _ => chunk.extra = Some(json!({ "parent_minor_faults_per_job": per_job })),
        }
    }
}
