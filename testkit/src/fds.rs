//! Another process's open fds, counted by the test itself: a check of a
//! binary's hygiene must not rest on the binary's own counter.

/// The number of open fds of process `pid`, or `None` where this system
/// cannot tell (the caller skips its check then).
///
/// Linux: the entries of `/proc/<pid>/fd`. macOS has no `/proc`: there the
/// kernel lists them, `proc_pidinfo(PROC_PIDLISTFDS)`.
pub fn open_fds_of(pid: u32) -> Option<usize> {
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        return Some(dir.count());
    }
    listed_by_the_kernel(pid)
}

#[cfg(target_vendor = "apple")]
fn listed_by_the_kernel(pid: u32) -> Option<usize> {
    let entry = std::mem::size_of::<libc::proc_fdinfo>();
    // Room for 4096 fds more than the size asked first: the process may open
    // some between the two calls.
    // SAFETY: a null buffer of size 0 asks for the size needed; no memory is written.
    let needed = unsafe { libc::proc_pidinfo(pid as libc::c_int, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    if needed <= 0 {
        return None;
    }
    let mut buf: Vec<libc::proc_fdinfo> = Vec::with_capacity(needed as usize / entry + 4096);
    let bytes = (buf.capacity() * entry) as libc::c_int;
    // SAFETY: the kernel writes at most `bytes` bytes into `buf`'s capacity.
    let got = unsafe {
        libc::proc_pidinfo(
            pid as libc::c_int,
            libc::PROC_PIDLISTFDS,
            0,
            buf.as_mut_ptr().cast(),
            bytes,
        )
    };
    (got > 0).then(|| got as usize / entry)
}

#[cfg(not(target_vendor = "apple"))]
fn listed_by_the_kernel(_pid: u32) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_child_holds_the_fds_it_inherited() {
        let _g = crate::lock();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let fds = super::open_fds_of(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        // stdin, stdout and stderr at least.
        assert!(fds.is_some_and(|n| n >= 3), "{fds:?}");
    }
}
