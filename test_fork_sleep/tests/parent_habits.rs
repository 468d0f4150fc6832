//! The interpreter's fork habits put into the parent.
//! `--post-fork-check leak` and `free` each add one read of
//! `/proc/self/stat` per job (counted by the test from the kernel's own
//! `/proc/<pid>/io` `syscr`, read while the finished binary is still a
//! zombie), `--dirty-kib 64` raises the parent's minor faults per job by at
//! least 16 (4 KiB pages), `--ballast-regions 500` gives at least 500 more
//! regions; all keep the hygiene and the printed lines. The first two
//! count from Linux's `/proc` and layout and skip elsewhere; the regions and
//! presets run on macOS too.

use regex::Regex;
use std::process::Stdio;
use testkit::{assert_no_orphans, assert_usage_error, cargo_bin, command, lock};

const CHUNK_RE: &str =
    r"^\d+\.\d{3}s per (\d+) x (\d+) @para sleep\((\d+\.\d{3})\)\. Cost/ncpus/calls is -?\d+\.\d{6}s\.$";

/// Runs the binary with `args` and `--json`; returns its stdout, its record
/// and (Linux) its read system calls (`syscr`), read after it exited and
/// before it is reaped. Address-space randomisation is off for the run (as `setarch
/// -R`): where the parent's hot data falls decides whether it straddles one
/// page or two, which moves its faults by about one per job from one run to
/// the next; without randomisation two runs have the same layout, so their
/// fault counts can be compared to the fault.
fn run(args: &[&str]) -> (String, serde_json::Value, Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    // Spawned by hand, not by testkit's `run`: the count is read from the
    // zombie, before the wait that reaps it.
    let mut cmd = command(cargo_bin!("test_fork_sleep"));
    #[cfg(target_os = "linux")]
    // SAFETY: between fork and exec the closure makes one system call
    // (personality), which is async-signal-safe, and allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong);
            Ok(())
        })
    };
    let mut child = cmd
        .args(args)
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let syscr = if cfg!(target_os = "linux") {
        Some(syscr_of_zombie(&child))
    } else {
        None
    };
    let pgid = child.id() as i32;
    let status = child.wait_with_output().unwrap();
    assert_no_orphans(pgid);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let record = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (out, record, syscr)
}

/// The read system calls of `child` once it has exited, before it is reaped.
fn syscr_of_zombie(child: &std::process::Child) -> u64 {
    // SAFETY: an all-zero siginfo_t is a valid value to be filled in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // Wait for the exit but leave the zombie: its /proc/<pid>/io stays readable.
    // SAFETY: the pid of our own child; info is a valid out-pointer.
    let rc = unsafe { libc::waitid(libc::P_PID, child.id(), &mut info, libc::WEXITED | libc::WNOWAIT) };
    assert_eq!(rc, 0);
    let io = std::fs::read_to_string(format!("/proc/{}/io", child.id())).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("syscr in /proc/<pid>/io")
}

/// Median over the chunks of the record of `f(chunk)`.
fn median(record: &serde_json::Value, f: impl Fn(&serde_json::Value) -> f64) -> f64 {
    let mut v: Vec<f64> = record["repeats"][0]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(f)
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn faults_per_job(c: &serde_json::Value) -> f64 {
    c["extra"]["parent_minor_faults_per_job"]
        .as_f64()
        .expect("faults per job recorded")
}

fn assert_original_lines(out: &str, calls: &[&str]) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Using ncpus=2 parallel decorated function");
    let re = Regex::new(CHUNK_RE).unwrap();
    let ns: Vec<&str> = lines[1..=calls.len()]
        .iter()
        .map(|l| re.captures(l).unwrap_or_else(|| panic!("{l}")).get(1).unwrap().as_str())
        .collect();
    assert_eq!(ns, calls);
    assert!(lines[calls.len() + 1].starts_with("CPU times: user "), "{out}");
}

const BASE: [&str; 7] = ["--numcalls", "200", "--ncpus", "2", "--sleep", "0", "--hygiene"];

#[test]
fn leak_and_free_each_read_proc_self_stat_once_per_job() {
    if !cfg!(target_os = "linux") {
        println!("skipped: counts read system calls in /proc/<pid>/io, which only Linux has");
        return;
    }
    let _g = lock();
    let jobs = 400;
    let with = |mode: &str| {
        let mut args = BASE.to_vec();
        args.extend(["--post-fork-check", mode]);
        let (out, record, syscr) = run(&args);
        assert_original_lines(&out, &["100", "100"]);
        assert_eq!(record["params"]["post_fork_check"], mode);
        syscr.unwrap()
    };
    let off = with("off");
    for mode in ["leak", "free"] {
        let extra = with(mode) as i64 - off as i64;
        // One read per job; a few reads of /proc files sized by the run
        // (the resource sampling after each chunk) may differ by a handful.
        assert!(
            (jobs - 8..=jobs + 8).contains(&extra),
            "{mode}: {extra} more reads for {jobs} jobs"
        );
    }
}

#[test]
fn dirty_kib_64_adds_at_least_16_minor_faults_per_job() {
    if !cfg!(target_os = "linux") {
        println!("skipped: faults per job move with the address-space layout, which only Linux lets a test fix (personality)");
        return;
    }
    let _g = lock();
    // The children sleep 5 ms: a page the parent writes right after a fork
    // is still shared with a live child, so the write is a copy-on-write
    // fault (with `--sleep 0` a child may be gone first, and then no fault).
    let base = ["--numcalls", "200", "--ncpus", "2", "--sleep", "0.005", "--hygiene"];
    let (_, r0, _) = run(&base);
    let mut args = base.to_vec();
    args.extend(["--dirty-kib", "64"]);
    let (out, r64, _) = run(&args);
    assert_original_lines(&out, &["100", "100"]);
    // The median chunk of each run (a chunk may take a few faults of its
    // own, say a page of the heap), in whole faults: 16 pages a job.
    let median = |r: &serde_json::Value| {
        let chunks = r["repeats"][0]["chunks"].as_array().unwrap();
        assert!(chunks.iter().all(|c| faults_per_job(c) > 0.0));
        let mut f: Vec<u64> = chunks
            .iter()
            .map(|c| c["resources"]["minor_faults"].as_f64().unwrap() as u64)
            .collect();
        f.sort_unstable();
        f[f.len() / 2]
    };
    let (f0, f64_) = (median(&r0), median(&r64));
    let jobs = 100 * 2;
    // At least 15 of the 16 pages: one of them may be a page the parent
    // writes after each fork anyway (its hot data), whose fault the base
    // run already counts; which page that is depends on the binary's layout
    // (seen: +16.0 per job with one build, +15.5 with the next).
    assert!(f64_ >= f0 + 15 * jobs, "per chunk of {jobs} jobs: {f0} -> {f64_}");
    assert_eq!(r64["params"]["dirty_kib"], 64);
}

#[test]
fn ballast_regions_500_gives_500_more_regions() {
    let _g = lock();
    let regions = |c: &serde_json::Value| c["resources"]["vm_map_entries"].as_f64().unwrap();
    let with = |n: &'static str| {
        let mut args = BASE.to_vec();
        args.extend(["--ballast-regions", n]);
        run(&args)
    };
    let (_, r1, _) = with("1");
    let (out, r500, _) = with("500");
    assert_original_lines(&out, &["100", "100"]);
    assert!(median(&r500, regions) >= median(&r1, regions) + 500.0);
}

#[test]
fn presets_set_the_three_and_explicit_flags_win() {
    let _g = lock();
    let mut args = BASE.to_vec();
    args.extend(["--parent", "sage", "--dirty-kib", "8"]);
    let (out, r, _) = run(&args);
    assert_original_lines(&out, &["100", "100"]);
    let p = &r["params"];
    assert_eq!(
        (
            &p["parent"],
            &p["post_fork_check"],
            &p["dirty_kib"],
            &p["ballast_regions"]
        ),
        (&"sage".into(), &"leak".into(), &8.into(), &650.into())
    );
    // The page size the KiB are counted in, as this process sees it.
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    assert!(page >= 4096, "{page}");
    assert_eq!(p["page_size"], page);
}

#[test]
fn ballast_regions_past_the_map_limit_is_refused_before_the_run() {
    let err = assert_usage_error(
        cargo_bin!("test_fork_sleep"),
        &["--ballast-regions", "1000000", "--numcalls", "1"],
        "--ballast-regions",
    );
    assert!(err.starts_with("test_fork_sleep: --ballast-regions 1000000: "), "{err}");
}
