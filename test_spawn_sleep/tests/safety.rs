//! Ctrl-C and a closed stdout during `--per-call` (a new spawned pool in
//! every call): the pool of the call in flight is stopped and reaped.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::Mutex;

/// One pool at a time: each test checks its process group is empty after.
static POOLS: Mutex<()> = Mutex::new(());

fn start(json: &std::path::Path) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("test_spawn_sleep"))
        .process_group(0)
        .args([
            "--per-call",
            "--numcalls",
            "100000",
            "--maxworkers",
            "2",
            "--sleep",
            "0.05",
            "--json",
        ])
        .arg(json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn assert_no_orphans(pgid: i32) {
    for _ in 0..50 {
        if kill(Pid::from_raw(-pgid), None) == Err(nix::errno::Errno::ESRCH) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("processes left in group {pgid}");
}

fn record(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn ctrl_c_during_per_call_stops_with_130_and_the_record() {
    let _g = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut child = start(&json);
    let pgid = child.id() as i32;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..2 {
        // The header, then the first call's line: the second call is under way.
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0);
    }
    // Ctrl-C at the terminal: the whole group, the call's workers included.
    kill(Pid::from_raw(-pgid), Signal::SIGINT).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{err}");
    assert!(err.starts_with("test_spawn_sleep: interrupted after "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_no_orphans(pgid);
    let v = record(&json);
    assert_eq!(v["interrupted"], true);
    assert!(v["repeats"][0]["calls"].as_u64().unwrap() >= 1);
}

#[test]
fn a_closed_stdout_during_per_call_is_exit_0_and_no_message() {
    let _g = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut child = start(&json);
    let pgid = child.id() as i32;
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "Using ncpus=2 parallel decorated function\n");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!((child.wait().unwrap().code(), err.as_str()), (Some(0), ""));
    assert_no_orphans(pgid);
    assert_eq!(record(&json)["interrupted"], true);
}
