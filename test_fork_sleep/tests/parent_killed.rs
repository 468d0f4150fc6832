//! The parent killed with SIGKILL (no chance to clean up): its fork-per-job
//! children must not linger beyond their own sleep plus 1 s. Its own test
//! binary: the test makes itself a child subreaper (Linux), so that the
//! orphans become its children and can be reaped and counted; on macOS they
//! go to launchd and keep their process group, which is what the test watches.

use testkit::cargo_bin;

#[test]
fn children_of_a_killed_parent_leave_within_their_sleep_plus_one_second() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::time::{Duration, Instant};
    use testkit::{become_child_subreaper, command, read_lines_until, wait_for_group_to_empty};

    become_child_subreaper();
    let sleep = 1.0;
    let mut child = command(cargo_bin!("test_fork_sleep"))
        .args(["--numcalls", "1000", "--ncpus", "4", "--sleep", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let (_header, _) = read_lines_until(&mut child, 1, |_| true);
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
    assert!(
        wait_for_group_to_empty(pgid, killed + limit),
        "children still there {:?} after the parent's death",
        killed.elapsed()
    );
}
