//! Another process's threads, counted by the test from outside: a check that
//! a runtime keeps one pool must not rest on the binary's own count.

/// The number of threads of process `pid`, or `None` once it is gone or
/// where this system cannot tell.
///
/// Linux: the entries of `/proc/<pid>/task`. macOS has no `/proc`: there the
/// kernel's task record says, `proc_pidinfo(PROC_PIDTASKINFO)`.
pub fn threads_of(pid: u32) -> Option<usize> {
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        return Some(dir.count());
    }
    counted_by_the_kernel(pid)
}

#[cfg(target_vendor = "apple")]
fn counted_by_the_kernel(pid: u32) -> Option<usize> {
    let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
    // SAFETY: proc_taskinfo is plain integers, for which all zeroes is a value.
    let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel writes at most `size` bytes into `info`.
    let got = unsafe {
        libc::proc_pidinfo(
            pid as libc::c_int,
            libc::PROC_PIDTASKINFO,
            0,
            (&mut info as *mut libc::proc_taskinfo).cast(),
            size,
        )
    };
    (got == size).then_some(info.pti_threadnum as usize)
}

#[cfg(not(target_vendor = "apple"))]
fn counted_by_the_kernel(_pid: u32) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sleeping_child_has_one_thread_and_none_once_reaped() {
        let _g = crate::lock();
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let threads = super::threads_of(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        if cfg!(any(target_os = "linux", target_vendor = "apple")) {
            assert_eq!(threads, Some(1));
        }
        assert_eq!(super::threads_of(child.id()), None, "reaped: no such process");
    }
}
