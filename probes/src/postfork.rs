//! `--post-fork-check`: what CPython ≥ 3.12 does in the parent right after
//! every successful `os.fork()`: it counts the process's threads, to warn
//! about forking a multi-threaded process (`Modules/posixmodule.c`,
//! `get_number_of_os_threads`, called by `os_fork_impl` before
//! `PyOS_AfterFork_Parent`; 3.11 has no such step).
//!
//! - On Linux it reads `/proc/self/stat` with stdio (`fopen`, `fread` of at
//!   most 159 bytes, `fclose`: the system calls `open`, `fstat`, `read`,
//!   `close`) and takes field 20. Nothing is left behind.
//! - On macOS it calls `task_for_pid(mach_task_self(), getpid(), &task)` and
//!   `task_threads(task, &threads, &n)`, and releases nothing: not the
//!   thread array (memory the kernel maps into the caller: a new region each
//!   time), not the send right of each thread, not the extra reference on the
//!   task port. Releasing them is the caller's duty (`vm_deallocate` and
//!   `mach_port_deallocate`; the same leak was fixed in giampaolo/psutil#178,
//!   benfred/remoteprocess#3, htop-dev/htop#2015, jhpratt/num_threads#16).
//!
//! The hypothesis this tests (`docs/mechanism.md`): if every fork leaves a
//! region and port rights behind, each later fork has more to copy, and the parent's
//! system time grows call after call, only for strategies that fork per call.
//! [`Release::Nothing`] is CPython's leak; [`Release::All`] is the proposed
//! fix (`upstream/cpython/`), which counts the threads of `mach_task_self()`
//! directly and frees everything. On Linux both make the same calls.

/// What to give back after counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Nothing, exactly as CPython does (`--post-fork-check leak`).
    Nothing,
    /// The proposed CPython fix (`--post-fork-check free`): the threads of
    /// `mach_task_self()`, each send right and the array given back.
    All,
}

/// The parent's thread count, read the way CPython reads it after a fork;
/// `None` when the platform calls fail (CPython then falls back to the
/// `threading` module's count). Allocates nothing.
pub fn thread_count(release: Release) -> Option<u64> {
    platform::thread_count(release)
}

#[cfg(target_os = "linux")]
mod platform {
    use super::Release;

    /// `fopen("/proc/self/stat", "r")`, `fread(buf, 1, 159, f)`, `fclose(f)`
    /// as their system calls, then field 20 (`num_threads`). The release
    /// mode changes nothing: nothing leaks here.
    pub fn thread_count(_release: Release) -> Option<u64> {
        // SAFETY: a NUL-terminated path; open has no other precondition.
        let fd = unsafe { libc::open(c"/proc/self/stat".as_ptr(), libc::O_RDONLY) };
        if fd < 0 {
            return None;
        }
        // stdio sizes its buffer with fstat, then reads one buffer's worth.
        // SAFETY: an all-zero stat is a valid value; fd is ours.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fd is open; st is a valid out-pointer.
        unsafe { libc::fstat(fd, &mut st) };
        let mut buf = [0u8; 1024];
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        // SAFETY: closing the fd opened above, once.
        unsafe { libc::close(fd) };
        let line = &buf[..usize::try_from(n).ok()?.min(159)];
        field_20(line)
    }

    /// CPython's `strtok_r(line, " ")` walk to the 20th field, `atoi`.
    pub(super) fn field_20(line: &[u8]) -> Option<u64> {
        let field = line.split(|&b| b == b' ').filter(|f| !f.is_empty()).nth(19)?;
        let digits = field.iter().take_while(|b| b.is_ascii_digit());
        Some(digits.fold(0u64, |v, &d| v * 10 + u64::from(d - b'0')))
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use super::Release;
    use mach2::kern_return::KERN_SUCCESS;
    use mach2::mach_port::mach_port_deallocate;
    use mach2::mach_types::{thread_act_array_t, thread_act_t};
    use mach2::message::mach_msg_type_number_t;
    use mach2::port::{mach_port_t, MACH_PORT_NULL};
    use mach2::task::task_threads;
    use mach2::traps::{mach_task_self, task_for_pid};

    /// [`Release::Nothing`]: CPython's calls as released (3.12 to 3.15 and
    /// `main`), `task_for_pid` on our own pid, then `task_threads` of that
    /// task, and nothing given back.
    ///
    /// [`Release::All`]: the proposed CPython fix
    /// (`upstream/cpython/free-thread-count.patch`), call for call:
    /// `task_threads(mach_task_self())`, then each thread port
    /// (`mach_port_deallocate`) and the array (`vm_deallocate`, `n ×
    /// sizeof(thread_act_t)` bytes) given back. The patch and this branch
    /// must make the same calls in the same order, so that
    /// `--post-fork-check free` measures what the patch does; change one,
    /// change the other (`ci/tests/cpython-patch.sh` compares them).
    pub fn thread_count(release: Release) -> Option<u64> {
        // SAFETY: mach_task_self reads this task's own port name.
        let me = unsafe { mach_task_self() };
        let mut threads: thread_act_array_t = std::ptr::null_mut();
        let mut n: mach_msg_type_number_t = 0;
        if release == Release::Nothing {
            let mut task: mach_port_t = MACH_PORT_NULL;
            // SAFETY: our own task and pid; task is a valid out-pointer.
            if unsafe { task_for_pid(me, libc::getpid(), &mut task) } != KERN_SUCCESS {
                return None;
            }
            // SAFETY: task is a send right we hold; out-pointers to locals.
            let got = unsafe { task_threads(task, &mut threads, &mut n) } == KERN_SUCCESS;
            return got.then_some(u64::from(n));
        }
        // The patch: the calling task's own port, no task_for_pid.
        // SAFETY: me is our task's send right; out-pointers to locals.
        if unsafe { task_threads(me, &mut threads, &mut n) } != KERN_SUCCESS {
            return None;
        }
        for i in 0..n as usize {
            // SAFETY: task_threads returned n thread ports in threads.
            unsafe { mach_port_deallocate(me, *threads.add(i)) };
        }
        let bytes = n as usize * std::mem::size_of::<thread_act_t>();
        // SAFETY: the array the kernel mapped into this task for us, with
        // its size; nothing reads it after this.
        unsafe { libc::vm_deallocate(me, threads as libc::vm_address_t, bytes as libc::vm_size_t) };
        Some(u64::from(n))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod platform {
    pub fn thread_count(_release: super::Release) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    fn counts_this_process_threads_either_way() {
        let seen = crate::resources::threads().expect("threads readable");
        for release in [Release::Nothing, Release::All] {
            let n = thread_count(release).expect("the post-fork check reads a count");
            // Other test threads may come and go meanwhile.
            assert!(n >= 1 && n.abs_diff(seen) <= 16, "{n} vs {seen}");
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn field_20_as_cpython_reads_it() {
        let line = b"123 (a b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 7 0 99";
        // "(a" and "b)" are two fields for strtok, as for CPython.
        assert_eq!(platform::field_20(line), Some(16));
        assert_eq!(platform::field_20(b"1 2 3"), None);
    }
}
