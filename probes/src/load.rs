//! The load witness: how busy the rest of the machine was during a chunk.
//!
//! The drift verdict assumes chunk times vary independently; a machine that
//! gets busier during the run (a browser tab, a build, a backup) makes the
//! chunks slower one after the other, and the verdict says DRIFT although
//! nothing in the process grew. Measured here: a `test_fork_sleep` run with
//! no leak went from 0.25 to 0.35 s per 100 calls when another process
//! started, DRIFT +14 % per 1000 calls. So every chunk also records two
//! counters of the machine, read by the same [`crate::Sampler`] as the rest:
//!
//! - `load_avg_1m_milli`: the 1-minute load average (`getloadavg(3)`, on
//!   both systems) in thousandths. It includes this run's own processes: a
//!   run alone on a quiet machine lifts it from about 0 towards 1 to 2 in its
//!   first minute, whatever it does, so it is shown, never decided on.
//! - `other_cpu_permille`: the CPU time the *rest* of the machine used since
//!   the previous reading, in thousandths of one CPU (1000 = one core busy
//!   the whole time): all CPUs' busy time less this process's own and its
//!   reaped children's (`getrusage` `RUSAGE_SELF` + `RUSAGE_CHILDREN`), over
//!   the wall time since the previous reading. Busy time is Linux's
//!   `/proc/stat` first line (user, nice, system, irq, softirq, steal; guest
//!   time is inside user) and macOS's `host_statistics(HOST_CPU_LOAD_INFO)`
//!   (user, system, nice), both in clock ticks of `sysconf(_SC_CLK_TCK)`
//!   (XNU `osfmk/kern/host.c` sums the processors' tick counts).
//!
//! What `other_cpu_permille` cannot tell apart: work the kernel does for
//! this run outside its own accounting (Linux `kswapd`, macOS's memory
//! compressor and `kernel_task` when a leak pushes memory out) counts as
//! the rest of the machine; so do the children of a pool that are not
//! reaped until it closes. A leak heavy enough to page is then reported as
//! "the machine got busier", which errs on the side of "confirm on a quiet
//! machine", never of a false DRIFT. The statistic that turns these series
//! into that sentence is `drift::load`.
//!
//! Resolution: one clock tick (10 ms at 100 Hz) of the machine's busy time
//! per reading, so about ±0.1 CPU over a chunk of 0.1 s; the rule in
//! `drift::load` asks for a rise of a quarter of a CPU.

use std::time::Instant;

/// The key of the 1-minute load average, in thousandths, in a reading.
pub const LOAD_AVG: &str = "load_avg_1m_milli";
/// The key of the rest of the machine's CPU use, in thousandths of a CPU.
pub const OTHER_CPU: &str = "other_cpu_permille";

/// What one reading needs to know of the previous one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    at: Instant,
    /// All CPUs' busy time so far, µs (`None` where it cannot be read).
    busy_us: Option<u64>,
    /// This process's and its reaped children's CPU time so far, µs.
    own_us: u64,
}

impl Mark {
    pub(crate) fn now() -> Mark {
        Mark {
            at: Instant::now(),
            busy_us: platform::machine_busy_ticks().map(|t| t.saturating_mul(1_000_000) / clock_ticks_per_sec()),
            own_us: own_cpu_us(),
        }
    }

    /// The rest of the machine's CPU use between `self` and `now`, in
    /// thousandths of a CPU; `None` when the busy time cannot be read or
    /// no time passed.
    pub(crate) fn other_cpu_permille(&self, now: &Mark) -> Option<u64> {
        let wall_us = now.at.duration_since(self.at).as_micros();
        let busy = now.busy_us?.checked_sub(self.busy_us?)?;
        let own = now.own_us.saturating_sub(self.own_us);
        let other = u128::from(busy.saturating_sub(own));
        (wall_us > 0).then(|| u64::try_from(other * 1000 / wall_us).unwrap_or(u64::MAX))
    }
}

/// The 1-minute load average in thousandths (`getloadavg(3)`).
pub fn load_avg_1m_milli() -> Option<u64> {
    let mut avg = [0f64; 1];
    // SAFETY: one double of room, and we ask for one.
    let n = unsafe { libc::getloadavg(avg.as_mut_ptr(), 1) };
    (n == 1 && avg[0].is_finite() && avg[0] >= 0.0).then(|| (avg[0] * 1000.0).round() as u64)
}

fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// User + system CPU time of this process and of its reaped children, µs.
fn own_cpu_us() -> u64 {
    let us = |who| {
        // SAFETY: getrusage fills the zeroed struct we pass.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a rusage.
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64;
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    us(libc::RUSAGE_SELF) + us(libc::RUSAGE_CHILDREN)
}

#[cfg(target_os = "linux")]
mod platform {
    /// The first line of `/proc/stat` (`cpu  user nice system idle iowait
    /// irq softirq steal guest guest_nice`, in clock ticks): every field but
    /// idle, iowait and the guest ones (already inside user and nice).
    pub fn machine_busy_ticks() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        busy_of(stat.lines().next()?)
    }

    pub(super) fn busy_of(line: &str) -> Option<u64> {
        let mut f = line.split_whitespace();
        if f.next()? != "cpu" {
            return None;
        }
        let v: Vec<u64> = f.map(|x| x.parse().ok()).collect::<Option<_>>()?;
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        (v.len() >= 4).then(|| at(0) + at(1) + at(2) + at(5) + at(6) + at(7))
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use mach2::kern_return::KERN_SUCCESS;

    /// `host_statistics(HOST_CPU_LOAD_INFO)`: every processor's ticks in
    /// user, system and nice (idle left out). `mach_host_self()` hands out
    /// one more user reference to the host port on every call: it is given
    /// back, or this very probe would leak the way CPython's thread count
    /// does.
    pub fn machine_busy_ticks() -> Option<u64> {
        // SAFETY: no preconditions; returns a send right we must release.
        let host = unsafe { mach2::mach_init::mach_host_self() };
        let mut info = libc::host_cpu_load_info { cpu_ticks: [0; 4] };
        let mut count = libc::HOST_CPU_LOAD_INFO_COUNT;
        // SAFETY: info is a host_cpu_load_info and count its size in
        // natural_t units, as the flavor requires.
        let kr = unsafe {
            libc::host_statistics(
                host,
                libc::HOST_CPU_LOAD_INFO,
                (&mut info as *mut libc::host_cpu_load_info).cast(),
                &mut count,
            )
        };
        // SAFETY: the send right mach_host_self gave us, released once.
        unsafe { mach2::mach_port::mach_port_deallocate(mach2::traps::mach_task_self(), host) };
        let t = info.cpu_ticks.map(u64::from);
        (kr == KERN_SUCCESS).then(|| {
            t[libc::CPU_STATE_USER as usize] + t[libc::CPU_STATE_SYSTEM as usize] + t[libc::CPU_STATE_NICE as usize]
        })
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod platform {
    pub fn machine_busy_ticks() -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn proc_stat_busy_time_leaves_idle_and_guest_out() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let line = "cpu  100 2 30 9000 50 4 5 6 70 1";
        assert_eq!(platform::busy_of(line), Some(100 + 2 + 30 + 4 + 5 + 6));
        assert_eq!(
            platform::busy_of("cpu0 1 2 3 4"),
            None,
            "a single CPU's line is not the total"
        );
        assert_eq!(platform::busy_of("cpu  1 x 3 4"), None);
        // Old kernels: four fields.
        assert_eq!(platform::busy_of("cpu 1 2 3 4"), Some(6));
    }

    #[test]
    fn the_rest_of_the_machine_is_its_busy_time_less_ours() {
        let a = Mark {
            at: Instant::now(),
            busy_us: Some(1_000_000),
            own_us: 500_000,
        };
        let later = |busy: u64, own: u64| Mark {
            at: a.at + std::time::Duration::from_millis(500),
            busy_us: Some(busy),
            own_us: own,
        };
        // 0.5 s of wall: 0.75 s busy in all, 0.25 s of it ours: 1 CPU of others.
        assert_eq!(a.other_cpu_permille(&later(1_750_000, 750_000)), Some(1000));
        // Ours alone (the busy time is ours): nobody else.
        assert_eq!(a.other_cpu_permille(&later(1_400_000, 900_000)), Some(0));
        // Tick rounding can make ours exceed the machine's: clamped at 0.
        assert_eq!(a.other_cpu_permille(&later(1_100_000, 900_000)), Some(0));
        // No busy time (an unknown platform): no value.
        let blind = Mark {
            busy_us: None,
            ..later(0, 0)
        };
        assert_eq!(a.other_cpu_permille(&blind), None);
        // No time passed: no value.
        assert_eq!(a.other_cpu_permille(&a), None);
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    fn the_machine_is_read_and_our_own_spin_counts_as_ours() {
        let a = Mark::now();
        let t0 = Instant::now();
        let mut x = 0u64;
        while t0.elapsed().as_millis() < 200 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let b = Mark::now();
        assert!(b.own_us >= a.own_us + 100_000, "our own CPU time grows: {a:?} -> {b:?}");
        assert!(
            b.busy_us.unwrap() >= a.busy_us.unwrap() + 100_000,
            "the machine's busy time includes ours"
        );
        assert!(a.other_cpu_permille(&b).is_some());
        assert!(load_avg_1m_milli().is_some());
    }
}
