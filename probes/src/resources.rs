//! The parent's own resource counters, read after every chunk (issue 13):
//! the evidence the drift attribution ranks against the chunk times.
//!
//! Why these: `fork(2)` copies the parent's memory map entry by entry with
//! its page tables (jemalloc's maintainers saw macOS `fork()` cost grow with
//! the number of regions), CPython ≥ 3.12 leaks Mach memory and port rights
//! after every `os.fork()` on macOS, and a parent that dirties pages between
//! forks takes copy-on-write faults. Each counter stands for one of these.
//!
//! Cost: one read of a small `/proc` file or one Mach walk per chunk, taken
//! after the chunk's clock has stopped, so it costs the chunk nothing.
//! Cumulative counters (faults, context switches) are given per chunk, as the
//! difference from the previous reading: a cumulative count always grows and
//! would correlate with any trend.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One reading: counter name → value. Names are stable (they are the JSON
/// keys of a chunk's `resources` and the names the attribution prints);
/// a counter the platform cannot read is absent.
pub type Reading = BTreeMap<String, f64>;

/// Reads the counters after each chunk, turning cumulative ones into
/// per-chunk differences.
#[derive(Debug, Default)]
pub struct Sampler {
    last: Option<Rusage>,
}

/// The `getrusage(RUSAGE_SELF)` counts we keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Rusage {
    minflt: i64,
    majflt: i64,
    nvcsw: i64,
    nivcsw: i64,
}

impl Sampler {
    /// A sampler whose first per-chunk differences count from now.
    pub fn new() -> Sampler {
        Sampler { last: Some(rusage()) }
    }

    /// Marks the start of a chunk: the cumulative counters of the next
    /// [`Sampler::sample`] count from here (one `getrusage`, taken before the
    /// chunk's clock starts).
    pub fn start_chunk(&mut self) {
        self.last = Some(rusage());
    }

    /// Reads every counter this platform has.
    pub fn sample(&mut self) -> Reading {
        let mut r = Reading::new();
        let now = rusage();
        let last = self.last.replace(now).unwrap_or(now);
        let mut put = |k: &str, v: Option<f64>| {
            if let Some(v) = v {
                r.insert(k.to_string(), v);
            }
        };
        put("vm_regions", vm_regions().map(|v| v as f64));
        put("rss_bytes", rss_bytes().map(|v| v as f64));
        put("minor_faults", Some((now.minflt - last.minflt) as f64));
        put("major_faults", Some((now.majflt - last.majflt) as f64));
        put("voluntary_switches", Some((now.nvcsw - last.nvcsw) as f64));
        put("involuntary_switches", Some((now.nivcsw - last.nivcsw) as f64));
        put("threads", threads().map(|v| v as f64));
        put("open_fds", Some(crate::hygiene::open_fds() as f64));
        for (k, v) in platform::extra() {
            put(k, Some(v as f64));
        }
        r
    }
}

fn rusage() -> Rusage {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    Rusage {
        minflt: u.ru_minflt as i64,
        majflt: u.ru_majflt as i64,
        nvcsw: u.ru_nvcsw as i64,
        nivcsw: u.ru_nivcsw as i64,
    }
}

/// Memory regions (mappings) of this process: the lines of
/// `/proc/self/maps` on Linux, the regions a `mach_vm_region_recurse` walk
/// visits on macOS (what `vmmap` counts).
pub fn vm_regions() -> Option<u64> {
    platform::vm_regions()
}

/// Resident memory of this process, bytes.
pub fn rss_bytes() -> Option<u64> {
    platform::rss_bytes()
}

/// Threads of this process.
pub fn threads() -> Option<u64> {
    platform::threads()
}

#[cfg(target_os = "linux")]
mod platform {
    pub fn vm_regions() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/maps").ok()?;
        Some(text.lines().count() as u64)
    }

    pub fn rss_bytes() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * crate::page_size() as u64)
    }

    fn status_field(status: &str, key: &str) -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    }

    pub fn threads() -> Option<u64> {
        status_field(&std::fs::read_to_string("/proc/self/status").ok()?, "Threads:")
    }

    /// Linux only: the page tables' size (`VmPTE`), which `fork()` copies.
    pub fn extra() -> Vec<(&'static str, u64)> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status_field(&status, "VmPTE:")
            .map(|kib| vec![("page_table_bytes", kib * 1024)])
            .unwrap_or_default()
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use mach2::kern_return::KERN_SUCCESS;
    use mach2::traps::mach_task_self;
    use mach2::vm::mach_vm_region_recurse;
    use mach2::vm_region::vm_region_submap_info_64;
    use mach2::vm_types::{mach_vm_address_t, mach_vm_size_t, natural_t};

    pub fn vm_regions() -> Option<u64> {
        let (mut addr, mut size, mut depth): (mach_vm_address_t, mach_vm_size_t, natural_t) = (0, 0, 0);
        let mut n = 0u64;
        loop {
            let mut info = vm_region_submap_info_64::default();
            let mut count = vm_region_submap_info_64::count();
            // SAFETY: our own task; info and count describe a buffer of the
            // submap flavor's size, as the call requires.
            let kr = unsafe {
                mach_vm_region_recurse(
                    mach_task_self(),
                    &mut addr,
                    &mut size,
                    &mut depth,
                    (&mut info as *mut vm_region_submap_info_64).cast(),
                    &mut count,
                )
            };
            if kr != KERN_SUCCESS {
                return Some(n); // KERN_INVALID_ADDRESS: past the last region.
            }
            if info.is_submap != 0 {
                depth += 1; // Look inside the submap (the shared cache).
                continue;
            }
            n += 1;
            addr = addr.saturating_add(size);
        }
    }

    /// `proc_pid_rusage(RUSAGE_INFO_V4)`: one call for resident size and
    /// footprint (hyperfine reads its counters the same way).
    fn rusage_info() -> Option<libc::rusage_info_v4> {
        // SAFETY: a plain C struct of integers: all zeros is a valid value.
        let mut info: libc::rusage_info_v4 = unsafe { std::mem::zeroed() };
        // SAFETY: our own pid; the buffer is a rusage_info_v4, as the flavor says.
        let rc = unsafe {
            libc::proc_pid_rusage(
                libc::getpid(),
                libc::RUSAGE_INFO_V4,
                (&mut info as *mut libc::rusage_info_v4).cast(),
            )
        };
        (rc == 0).then_some(info)
    }

    pub fn rss_bytes() -> Option<u64> {
        rusage_info().map(|i| i.ri_resident_size)
    }

    pub fn threads() -> Option<u64> {
        // SAFETY: a plain C struct of integers: all zeros is a valid value.
        let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        // SAFETY: our own pid; the buffer has the size we pass.
        let got = unsafe {
            libc::proc_pidinfo(
                libc::getpid(),
                libc::PROC_PIDTASKINFO,
                0,
                (&mut info as *mut libc::proc_taskinfo).cast(),
                size,
            )
        };
        (got == size).then_some(info.pti_threadnum.max(0) as u64)
    }

    // Neither libc nor mach2 binds mach_port_names (mach/mach_port.h); it is
    // the one call that counts a task's port names.
    unsafe extern "C" {
        fn mach_port_names(
            task: mach2::port::mach_port_t,
            names: *mut *mut mach2::port::mach_port_name_t,
            names_count: *mut mach2::message::mach_msg_type_number_t,
            types: *mut *mut mach2::port::mach_port_type_t,
            types_count: *mut mach2::message::mach_msg_type_number_t,
        ) -> mach2::kern_return::kern_return_t;
    }

    /// Number of Mach port names of this task; both arrays the kernel maps
    /// into us are given back at once (the duty CPython forgets for
    /// `task_threads`).
    fn mach_ports() -> Option<u64> {
        let (mut names, mut ncount) = (std::ptr::null_mut(), 0);
        let (mut types, mut tcount) = (std::ptr::null_mut(), 0);
        // SAFETY: our own task; out-pointers to locals.
        let kr = unsafe { mach_port_names(mach_task_self(), &mut names, &mut ncount, &mut types, &mut tcount) };
        if kr != KERN_SUCCESS {
            return None;
        }
        let elt = std::mem::size_of::<mach2::port::mach_port_name_t>() as u64;
        // SAFETY: the two arrays were allocated in our task by the call above.
        unsafe {
            mach2::vm::mach_vm_deallocate(mach_task_self(), names as u64, u64::from(ncount) * elt);
            mach2::vm::mach_vm_deallocate(mach_task_self(), types as u64, u64::from(tcount) * elt);
        }
        Some(u64::from(ncount))
    }

    /// macOS only: the physical footprint (what Activity Monitor shows as
    /// Memory) and the Mach port names.
    pub fn extra() -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        if let Some(i) = rusage_info() {
            out.push(("phys_footprint_bytes", i.ri_phys_footprint));
        }
        if let Some(n) = mach_ports() {
            out.push(("mach_ports", n));
        }
        out
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod platform {
    pub fn vm_regions() -> Option<u64> {
        None
    }
    pub fn rss_bytes() -> Option<u64> {
        None
    }
    pub fn threads() -> Option<u64> {
        None
    }
    pub fn extra() -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    fn counters_are_read_and_move_with_the_process() {
        let _one = crate::regions_lock();
        let mut s = Sampler::new();
        let before = s.sample();
        for key in ["vm_regions", "rss_bytes", "minor_faults", "threads", "open_fds"] {
            assert!(before.contains_key(key), "{key} missing: {before:?}");
        }
        #[cfg(target_os = "linux")]
        assert!(before["page_table_bytes"] > 0.0, "{before:?}");
        #[cfg(target_os = "macos")]
        assert!(
            before["mach_ports"] > 0.0 && before["phys_footprint_bytes"] > 0.0,
            "{before:?}"
        );
        assert!(before["vm_regions"] >= 5.0 && before["threads"] >= 1.0 && before["open_fds"] >= 3.0);

        // 64 separate mappings (alternating protections cannot merge, see
        // `churn`), each page touched: regions up by at least 60, minor
        // faults by at least 32 (the writable half; the rest map the zero page).
        let mut churn = crate::churn::MapChurn::new(64, 1).unwrap();
        churn.before_call().unwrap();
        let after = s.sample();
        assert!(
            after["vm_regions"] >= before["vm_regions"] + 60.0,
            "{before:?} -> {after:?}"
        );
        assert!(after["minor_faults"] >= 32.0, "{after:?}");
        drop(churn);
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(s.sample()["open_fds"], after["open_fds"] + 1.0);
        drop(file);
    }
}
