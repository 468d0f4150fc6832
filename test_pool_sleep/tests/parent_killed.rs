//! The parent killed with SIGKILL (no chance to clean up): the pool's
//! workers and the forkserver must leave within 2 s (they see end-of-file on
//! their pipes). Its own test binary: the test makes itself a child
//! subreaper (Linux), so that the orphans become its children and can be
//! reaped and counted.

#[cfg(target_os = "linux")]
#[test]
fn workers_and_forkserver_of_a_killed_parent_leave_within_2_s() {
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) has no memory effects.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0);
    for start in ["fork", "forkserver", "spawn"] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("test_pool_sleep"))
            .process_group(0)
            .args([
                "--start",
                start,
                "--workers",
                "--numcalls",
                "100000000",
                "--maxworkers",
                "2",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut line, mut workers) = (String::new(), 0);
        while workers < 2 {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "{start}: output ended early");
            workers += usize::from(line.starts_with("(extra) worker"));
        }
        kill(Pid::from_raw(pgid), Signal::SIGKILL).unwrap();
        let killed = Instant::now();
        child.wait().unwrap();
        assert_eq!(kill(Pid::from_raw(-pgid), None), Ok(()), "{start}: no worker was alive");
        loop {
            while let Ok(s) = waitpid(Pid::from_raw(-pgid), Some(WaitPidFlag::WNOHANG)) {
                if s == WaitStatus::StillAlive {
                    break;
                }
            }
            if kill(Pid::from_raw(-pgid), None) == Err(nix::errno::Errno::ESRCH) {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(2),
                "{start}: workers still there after 2 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(not(target_os = "linux"))]
#[test]
fn workers_and_forkserver_of_a_killed_parent_leave_within_2_s() {
    println!("skipped: needs a child subreaper (prctl, Linux) to see the orphans");
}
