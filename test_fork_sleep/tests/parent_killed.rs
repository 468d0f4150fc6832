//! The parent killed with SIGKILL (no chance to clean up): its fork-per-job
//! children must not linger beyond their own sleep plus 1 s. Its own test
//! binary: the test makes itself a child subreaper (Linux), so that the
//! orphans become its children and can be reaped and counted.

#[cfg(target_os = "linux")]
#[test]
fn children_of_a_killed_parent_leave_within_their_sleep_plus_one_second() {
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) has no memory effects.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0);
    let sleep = 1.0;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("test_fork_sleep"))
        .process_group(0)
        .args(["--numcalls", "1000", "--ncpus", "4", "--sleep", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let mut header = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut header)
        .unwrap();
    // The first call's 4 children are forked right after the header.
    std::thread::sleep(Duration::from_millis(300));
    kill(Pid::from_raw(pgid), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    child.wait().unwrap();
    assert_eq!(
        kill(Pid::from_raw(-pgid), None),
        Ok(()),
        "no child was alive: the test proves nothing"
    );
    let limit = Duration::from_secs_f64(sleep + 1.0);
    loop {
        // Reap the orphans that came to us.
        while let Ok(s) = waitpid(Pid::from_raw(-pgid), Some(WaitPidFlag::WNOHANG)) {
            if s == WaitStatus::StillAlive {
                break;
            }
        }
        if kill(Pid::from_raw(-pgid), None) == Err(nix::errno::Errno::ESRCH) {
            break;
        }
        assert!(
            killed.elapsed() < limit,
            "children still there {:?} after the parent's death",
            killed.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(not(target_os = "linux"))]
#[test]
fn children_of_a_killed_parent_leave_within_their_sleep_plus_one_second() {
    println!("skipped: needs a child subreaper (prctl, Linux) to see the orphans");
}
