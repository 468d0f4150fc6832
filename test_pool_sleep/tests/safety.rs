//! Issue 11 end to end for the pool binary: a closed stdout ends the run
//! quietly (workers and forkserver reaped, record kept), and the open-file
//! limit is checked before the pool exists.

mod common;

use common::{assert_no_orphans, bin, lock};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

#[test]
fn a_closed_stdout_ends_the_run_quietly_with_exit_0_and_the_record() {
    let _g = lock();
    for (start, api) in [("fork", "pool"), ("forkserver", "pool"), ("fork", "executor")] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("run.json");
        let mut child = bin("test_pool_sleep")
            .args([
                "--start",
                start,
                "--api",
                api,
                "--numcalls",
                "100000000",
                "--maxworkers",
                "2",
            ])
            .args(["--sleep", "0", "--json"])
            .arg(&json)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let mut first = String::new();
        // `| head -1`: one line read, then the pipe closed.
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let code = child.wait().unwrap().code();
        assert_no_orphans(pgid);
        let want = match api {
            "pool" => format!("Setting multiprocessing start method to '{start}'\n"),
            _ => "Using maxworkers=2 as max_workers for ProcessPoolExecutor\n".to_string(),
        };
        assert_eq!(first, want);
        assert_eq!((code, err.as_str()), (Some(0), ""), "{start} {api}");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["interrupted"], true, "{start} {api}");
        assert_eq!(v["failure"], serde_json::Value::Null);
    }
}

#[test]
fn a_hard_open_file_limit_too_low_for_the_pool_is_exit_2_before_it_starts() {
    let _g = lock();
    let mut c = bin("test_pool_sleep");
    c.args(["--maxworkers", "100", "--numcalls", "1", "--sleep", "0"]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs before exec.
    unsafe {
        c.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 64, 64)
                .map_err(std::io::Error::from)
        });
    }
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "the pool started: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    let re = regex::Regex::new(
        r"^test_pool_sleep: --maxworkers 100 needs about \d+ open files, more than the hard limit of 64 \(ulimit -Hn\); lower --maxworkers or raise the limit\n$",
    )
    .unwrap();
    assert!(re.is_match(&err), "{err}");
}
