//! The parent killed with SIGKILL (no chance to clean up): the pool's
//! workers and the forkserver must leave within 2 s (they see end-of-file on
//! their pipes). Its own test binary: the test makes itself a child
//! subreaper (Linux), so that the orphans become its children and can be
//! reaped and counted; on macOS they go to launchd and keep their process
//! group, which is what the test watches.

use testkit::cargo_bin;

#[test]
fn workers_and_forkserver_of_a_killed_parent_leave_within_2_s() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::time::{Duration, Instant};
    use testkit::{args, become_child_subreaper, command, read_lines_until, wait_for_group_to_empty};

    become_child_subreaper();
    for start in ["fork", "forkserver", "spawn"] {
        let mut child = command(cargo_bin!("test_pool_sleep"))
            .args(["--start", start])
            .args(args("--workers --numcalls 100000000 --maxworkers 2"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let (_out, _) = read_lines_until(&mut child, 2, |l| l.starts_with("(extra) worker"));
        kill(Pid::from_raw(pgid), Signal::SIGKILL).unwrap();
        let killed = Instant::now();
        child.wait().unwrap();
        assert_eq!(kill(Pid::from_raw(-pgid), None), Ok(()), "{start}: no worker was alive");
        assert!(
            wait_for_group_to_empty(pgid, killed + Duration::from_secs(2)),
            "{start}: workers still there after 2 s"
        );
    }
}
