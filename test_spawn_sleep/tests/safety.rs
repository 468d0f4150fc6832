//! Ctrl-C and a closed stdout during `--per-call` (a new spawned pool in
//! every call): the pool of the call in flight is stopped and reaped.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::process::{Command, Stdio};
use testkit::{
    args, assert_no_orphans, cargo_bin, command, lock, read_lines_until, read_record,
    with_stdout_closed_after_first_line,
};

/// An endless `--per-call` run, with its record at `json`.
fn per_call(json: &std::path::Path) -> Command {
    let mut cmd = command(cargo_bin!("test_spawn_sleep"));
    cmd.args(args("--per-call --numcalls 100000 --maxworkers 2 --sleep 0.05 --json"))
        .arg(json);
    cmd
}

#[test]
fn ctrl_c_during_per_call_stops_with_130_and_the_record() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let mut child = per_call(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    // The header, then the first call's line: the second call is under way.
    let (_out, _) = read_lines_until(&mut child, 2, |_| true);
    // Ctrl-C at the terminal: the whole group, the call's workers included.
    kill(Pid::from_raw(-pgid), Signal::SIGINT).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{err}");
    assert!(err.starts_with("test_spawn_sleep: interrupted after "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_no_orphans(pgid);
    let v = read_record(&json);
    assert_eq!(v["interrupted"], true);
    assert!(v["repeats"][0]["calls"].as_u64().unwrap() >= 1);
}

#[test]
fn a_closed_stdout_during_per_call_is_exit_0_and_no_message() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let r = with_stdout_closed_after_first_line(&mut per_call(&json));
    assert_eq!(r.out, "Using ncpus=2 parallel decorated function\n");
    r.assert().success().stderr("");
    assert_eq!(read_record(&json)["interrupted"], true);
}
