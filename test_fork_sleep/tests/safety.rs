//! End-to-end tests of test_fork_sleep's safety rules: a closed stdout, unusual
//! `--json` targets, the limits checked before the run (open files,
//! `--ballast-mb`), and properties checked from outside the binary (its fds
//! counted by the test itself, the children's CPU time, the child's stdout echoed).

use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::sync::LazyLock;
use testkit::{
    args, assert_help_mentions, assert_no_orphans, cargo_bin, command, limit_open_files, lock, open_fds_of, predicate,
    read_record, run_str, run_with, with_stdout_closed_after_first_line, PredicateNameExt,
};

/// The binary under test (assert_cmd's lookup).
static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("test_fork_sleep"));

#[test]
fn a_closed_stdout_ends_the_run_quietly_with_exit_0_and_the_record() {
    let _g = lock();
    for ipc in ["pipe", "file"] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("run.json");
        let mut c = command(*BIN);
        c.env("TMPDIR", dir.path());
        c.args(["--numcalls", "1000000", "--ncpus", "2", "--sleep", "0", "--ipc", ipc]);
        c.arg("--json").arg(&json);
        let r = with_stdout_closed_after_first_line(&mut c);
        assert_eq!(r.out, "Using ncpus=2 parallel decorated function\n");
        r.assert().append_context("case", ipc.to_string()).success().stderr("");
        let v = read_record(&json);
        assert_eq!(v["interrupted"], true, "{ipc}");
        assert_eq!(v["failure"], serde_json::Value::Null);
        assert!(v["repeats"][0]["calls"].as_u64().unwrap() < 1_000_000);
        // Only the record: the interrupted call's temp dir is gone too.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "{ipc}");
    }
}

#[test]
fn json_dash_writes_the_record_to_stdout_after_the_lines() {
    let _g = lock();
    let r = run_str(*BIN, "--numcalls 100 --ncpus 2 --sleep 0 --json -");
    r.assert_success();
    let lines: Vec<&str> = r.out.lines().collect();
    let start = lines.iter().position(|l| *l == "{").expect("a JSON object");
    // Header, one chunk, the %time block (3 lines), the verdict and its
    // attribution: then the record.
    assert_eq!(start, 7, "{}", r.out);
    assert!(lines[5].starts_with("Drift verdict (extra): "), "{}", lines[5]);
    assert_eq!(lines[6], "Drift attribution (extra): none (too few chunks)");
    let v: serde_json::Value = serde_json::from_str(&lines[start..].join("\n")).unwrap();
    assert_eq!(v["tool"], "test_fork_sleep");
    assert_eq!(v["repeats"][0]["calls"], 100);
}

#[test]
fn json_on_a_full_device_is_exit_1_with_one_line_and_the_lines_kept() {
    let _g = lock();
    if !std::path::Path::new("/dev/full").exists() {
        println!("skipped: no /dev/full on this system (Linux has it)");
        return;
    }
    let r = run_str(*BIN, "--numcalls 100 --ncpus 2 --sleep 0 --json /dev/full");
    r.assert().code(1);
    assert_eq!(
        r.err,
        "test_fork_sleep: --json /dev/full: No space left on device (os error 28)\n"
    );
    assert_eq!(r.out.lines().count(), 7, "{}", r.out);
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());
}

#[test]
fn json_into_a_fifo_reaches_a_reader_that_comes_after_the_start() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("record.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut c = command(*BIN);
    c.args(args("--numcalls 200 --ncpus 2 --sleep 0 --json"));
    c.arg(&fifo);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pgid = child.id() as i32;
    // Opened only now, after the start: the check before the run did not open it.
    let mut text = String::new();
    std::fs::File::open(&fifo).unwrap().read_to_string(&mut text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_orphans(pgid);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["repeats"][0]["calls"], 200);
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// `--ncpus` more than the user's process limit leaves: exit 2 before the
/// run, naming the flag, what it needs and the room. Run as `nobody` (a user
/// of its own, whose limit the test can lower; root is never limited).
#[test]
fn the_process_limit_refuses_the_run_before_it_starts() {
    let nobody = match testkit::nobody::Nobody::new(*BIN) {
        Ok(n) => n,
        Err(why) => return println!("skipped: {why}"),
    };
    let _g = lock();
    let mut c = nobody.command(Some(8));
    c.args(args("--numcalls 1 --ncpus 64 --sleep 0"));
    let r = run_with(&mut c);
    assert_eq!(r.code, 2, "{r:?}");
    r.assert().stdout("");
    let re = regex::Regex::new(
        r"^test_fork_sleep: --ncpus 64 needs 64 processes, more than the \d+ this user can still start \(ulimit -u 8 minus [1-9]\d* running\); lower --ncpus or raise the limit\n$",
    )
    .unwrap();
    assert!(re.is_match(&r.err), "{}", r.err);
}

#[test]
fn the_open_file_limit_is_raised_or_the_run_refused_before_it_starts() {
    let _g = lock();
    // 100 children alive at once (each sleeps 0.3 s): 100 pipes, more than a
    // soft limit of 64, which is raised.
    let mut c = command(*BIN);
    c.args(args("--numcalls 1 --ncpus 100 --sleep 0.3"));
    limit_open_files(&mut c, 64, 4096);
    let r = run_with(&mut c);
    r.assert_success();
    let first = r.out.lines().next().unwrap();
    let re =
        regex::Regex::new(r"^\(extra\) open-file limit raised from 64 to (\d+) for --ncpus 100 \(about 2 per child\)$")
            .unwrap();
    let to: u64 = re.captures(first).expect(first)[1].parse().unwrap();
    assert!((216..300).contains(&to), "{to}");
    assert_eq!(
        r.out.lines().nth(1),
        Some("Using ncpus=100 parallel decorated function")
    );

    // The hard limit itself is too low: exit 2 naming the flag and the limit.
    let mut c = command(*BIN);
    c.args(args("--numcalls 1 --ncpus 100 --sleep 0"));
    limit_open_files(&mut c, 64, 64);
    let r = run_with(&mut c);
    r.assert().code(2).stdout("");
    let re = regex::Regex::new(
        r"^test_fork_sleep: --ncpus 100 needs about \d+ open files, more than the hard limit of 64 \(ulimit -Hn\); lower --ncpus or raise the limit\n$",
    )
    .unwrap();
    assert!(re.is_match(&r.err), "{}", r.err);

    // Enough already: no extra line.
    let r = run_str(*BIN, "--numcalls 1 --ncpus 2 --sleep 0");
    assert_eq!(r.out.lines().next(), Some("Using ncpus=2 parallel decorated function"));
}

#[test]
fn ballast_above_physical_memory_is_refused_and_below_it_is_resident() {
    let _g = lock();
    let phys_mb = probes::ballast::physical_memory().unwrap() >> 20;
    if phys_mb < 65536 {
        let r = run_str(*BIN, "--ballast-mb 65536 --numcalls 1");
        r.assert()
            .code(2)
            .stdout(predicate::str::is_empty().name("allocated and ran"));
        assert_eq!(
            r.err,
            format!("test_fork_sleep: --ballast-mb 65536: more than this machine's physical memory ({phys_mb} MiB)\n")
        );
    } else {
        println!("skipped the refusal: {phys_mb} MiB of memory, more than the flag's maximum of 65536");
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut c = command(*BIN);
    c.args(args("--ballast-mb 64 --numcalls 10 --ncpus 2 --sleep 0 --json"));
    c.arg(&json);
    let r = run_with(&mut c);
    r.assert_success();
    // Without ballast the parent's peak is a few MiB: the 64 MiB were touched.
    let rss = read_record(&json)["peak_rss_bytes"].as_u64().unwrap();
    assert!(rss >= 64 << 20, "{rss}");
}

#[test]
fn file_ipc_echoes_the_childs_stdout_in_the_parent() {
    let _g = lock();
    let r = run_str(*BIN, "--ipc file --inject say@1 --numcalls 3 --ncpus 2 --sleep 0");
    r.assert_success();
    let lines: Vec<&str> = r.out.lines().collect();
    // Job 1 runs in the first call only (m grows per chunk, one chunk here:
    // a in 0..2 every call): echoed three times, before the chunk line.
    assert_eq!(lines[0], "Using ncpus=2 parallel decorated function");
    assert_eq!(lines[1..4], ["(child stdout) hello from a job"; 3]);
    assert!(lines[4].starts_with("0.0"), "{}", lines[4]);
}

#[test]
fn children_cpu_times_are_counted_after_a_run_with_work() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut c = command(*BIN);
    c.args(args("--numcalls 300 --ncpus 4 --sleep 0 --json"));
    c.arg(&json);
    let r = run_with(&mut c);
    r.assert_success();
    let v = read_record(&json);
    let children = &v["repeats"][0]["totals"]["children"];
    let total = children["user"].as_f64().unwrap() + children["sys"].as_f64().unwrap();
    // 1200 forked children, each mapping and unmapping its copy of the parent.
    assert!(total > 0.0, "RUSAGE_CHILDREN after 1200 children: {children}");
    let sum: f64 = v["repeats"][0]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["children"]["user"].as_f64().unwrap() + c["children"]["sys"].as_f64().unwrap())
        .sum();
    assert!(sum > 0.0 && sum <= total + 1e-3, "{sum} vs {total}");
}

#[test]
fn fds_read_from_proc_stay_at_baseline_and_see_a_leak() {
    let _g = lock();
    // Counted by the test (`/proc`, or the kernel's list on macOS), not by
    // the binary's own counter.
    if open_fds_of(std::process::id()).is_none() {
        println!("skipped: this system cannot list another process's fds");
        return;
    }
    // Without a leak the count may differ only by the pipes of the call in
    // flight (ncpus = 2 read ends, and one pair being made); leakfd@10 leaks
    // one fd per call of chunk 5 (`m` = 2 x chunk), between the two samples.
    for (inject, leaks) in [(None, false), (Some("leakfd@10"), true)] {
        let mut c = command(*BIN);
        c.args(args("--numcalls 100000 --ncpus 2 --sleep 0.0002"));
        if let Some(i) = inject {
            c.args(["--inject", i]);
        }
        let mut child = c.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let pid = child.id();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        lines.next().unwrap().unwrap(); // header
        lines.next().unwrap().unwrap(); // chunk 0 done
        let first = open_fds_of(pid).unwrap();
        for _ in 0..9 {
            lines.next().unwrap().unwrap(); // chunks 1..=9 done
        }
        let later = open_fds_of(pid).unwrap();
        kill(Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGINT).unwrap();
        drop(lines);
        child.wait().unwrap();
        assert_no_orphans(pid as i32);
        if leaks {
            assert!(later >= first + 100 - 4, "leak not seen: {first} then {later}");
        } else {
            assert!(later <= first + 4, "fds grew from {first} to {later}");
        }
    }
}

#[test]
fn a_failed_run_prints_no_verdict_and_its_record_keeps_the_failure() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut c = command(*BIN);
    c.args(args("--numcalls 700 --ncpus 2 --sleep 0 --inject exit@12 --json"));
    c.arg(&json);
    let r = run_with(&mut c);
    r.assert().code(1);
    // Chunks 0..=5 done (a = 2 x chunk), the fault in chunk 6: enough chunks
    // for a verdict, which a failed run must not print.
    assert_eq!(
        r.out.lines().filter(|l| l.contains(" per 100 x 2 ")).count(),
        6,
        "{}",
        r.out
    );
    assert!(!r.out.contains("Drift verdict"), "{}", r.out);
    let v = read_record(&json);
    assert!(v["failure"].as_str().unwrap().contains("exited with status 3"), "{v}");
}

#[test]
fn help_documents_json_dash() {
    assert_help_mentions(*BIN, &["`-` writes it to stdout after the run's lines"]);
}
