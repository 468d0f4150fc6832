//! A forkserver whose fork of a worker fails (issue 11, section 1): the run
//! ends with exit 1 and one line naming the worker and the errno, and no
//! process other than the run's own is signalled. Before the fix the failed
//! fork's pid `-1` reached `kill(-1, SIGKILL)`, which kills every process of
//! the user: each test keeps a sentinel process of that same user and checks
//! that it is still alive afterwards.

mod common;

use common::*;
use std::process::{Child, Stdio};

const LINE: &str = "test_pool_sleep: forkserver could not fork worker 2: Resource temporarily unavailable\n";

/// `sleep 30`, killed and reaped by the test once it was checked.
fn sentinel(cmd: &mut std::process::Command) -> Child {
    cmd.arg("30").stdin(Stdio::null()).spawn().unwrap()
}

fn assert_alive_then_stop(mut s: Child) {
    // try_wait, not kill(pid, 0): a SIGKILLed child stays a zombie until reaped.
    assert!(matches!(s.try_wait(), Ok(None)), "the sentinel process was killed");
    s.kill().unwrap();
    s.wait().unwrap();
}

#[test]
fn failed_fork_in_the_forkserver_is_one_line_and_harms_nobody() {
    let _g = lock();
    let s = sentinel(&mut std::process::Command::new("sleep"));
    let child = bin("test_pool_sleep")
        .args([
            "--start",
            "forkserver",
            "--maxworkers",
            "4",
            "--numcalls",
            "200",
            "--sleep",
            "0",
        ])
        .env("PROCPOOL_FORKSERVER_FAIL_FORK", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let out = child.wait_with_output().unwrap();
    // The worker forked before the failure and the server are gone too.
    assert_no_orphans(pgid);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err, LINE);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("Cost/"), "no chunk ran without its pool: {stdout}");
    assert_alive_then_stop(s);
}

/// The real thing, when the tests run as root on Linux: the run and the
/// sentinel belong to `nobody`, whose process limit (`RLIMIT_NPROC`) leaves
/// room for the run and its forkserver only, so the server's first fork of a
/// worker fails with `EAGAIN`.
#[test]
fn process_limit_of_a_plain_user_is_one_line_and_harms_nobody() {
    // SAFETY: geteuid has no preconditions.
    if !cfg!(target_os = "linux") || unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root on Linux to run as nobody under RLIMIT_NPROC");
        return;
    }
    let _g = lock();
    let nobody = 65534;
    let as_nobody = |cmd: &mut std::process::Command, nproc: Option<u64>| {
        use std::os::unix::process::CommandExt;
        // SAFETY: the pre-exec hook calls only setrlimit, setgroups, setgid
        // and setuid, all async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let ok = |r: libc::c_int| {
                    if r == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                };
                if let Some(n) = nproc {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    ok(libc::setrlimit(libc::RLIMIT_NPROC, &lim))?;
                }
                ok(libc::setgroups(0, std::ptr::null()))?;
                ok(libc::setgid(nobody))?;
                ok(libc::setuid(nobody))
            })
        };
    };
    let mut cmd = std::process::Command::new("sleep");
    as_nobody(&mut cmd, None);
    let s = sentinel(&mut cmd);
    // Room for what nobody runs now (the sentinel included), the run and
    // its forkserver: not one worker more.
    let limit = processes_of(nobody) + 2;
    let mut run = bin("test_pool_sleep");
    run.args([
        "--start",
        "forkserver",
        "--maxworkers",
        "4",
        "--numcalls",
        "200",
        "--sleep",
        "0",
    ])
    .current_dir("/")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    as_nobody(&mut run, Some(limit));
    let child = run.spawn().unwrap();
    let pgid = child.id() as i32;
    let out = child.wait_with_output().unwrap();
    assert_no_orphans(pgid);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "test_pool_sleep: forkserver could not fork worker 1: Resource temporarily unavailable\n"
    );
    assert_alive_then_stop(s);
}

/// Processes whose owner is `uid` (the owner of their `/proc` entry).
fn processes_of(uid: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .count() as u64
}
