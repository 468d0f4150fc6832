//! No process left behind: every binary is started in its own process group
//! ([`crate::command`]), so that after it exits, any process still in the
//! group is a worker, child or forkserver it failed to reap.

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// Waits until `deadline` for process group `pgid` to be empty, reaping
/// the members that are this process's children (orphans that came to a
/// [`become_child_subreaper`] test); false if the group is still there.
///
/// Only a group, `-pgid` with `pgid > 0` from a successful spawn, is ever
/// named: never 0 or -1.
pub fn wait_for_group_to_empty(pgid: i32, deadline: Instant) -> bool {
    assert!(pgid > 0, "not a process group: {pgid}");
    let group = Pid::from_raw(-pgid);
    loop {
        while let Ok(status) = waitpid(group, Some(WaitPidFlag::WNOHANG)) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
        if kill(group, None) == Err(Errno::ESRCH) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Panics if process group `pgid` is not empty within a second.
///
/// A worker that got end-of-file, or a child that got SIGKILL, may need a
/// moment to be gone from the group; one that is still there after a second
/// is an orphan.
pub fn assert_no_orphans(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(1);
    assert!(
        wait_for_group_to_empty(pgid, deadline),
        "processes left in group {pgid}"
    );
}

/// Makes this test process the reaper of the orphans of its descendants
/// (Linux `PR_SET_CHILD_SUBREAPER`), so that the children of a killed
/// binary become its own and can be counted and reaped. Only for a test
/// alone in its binary: every orphan of the process comes to it.
///
/// Elsewhere (macOS has no `prctl`) it does nothing: the orphans go to
/// launchd, which reaps them, and they keep their process group, which is
/// what [`wait_for_group_to_empty`] watches (`kill(-pgid, 0)`).
pub fn become_child_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) sets one flag of this process and
    // touches no memory.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0);
}
