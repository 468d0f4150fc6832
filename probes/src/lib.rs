//! The suite's mechanism probes: what the parent carries and what grows in
//! it, kept apart from the timing (`timing`) and the statistics (`drift`).
//!
//! - [`churn`]: `--map-churn N`, the address-space growth control;
//! - [`ballast`]: `--ballast-mb`, the weight of a Python or Sage parent, and
//!   its shape (`--ballast-regions`) and the pages it dirties (`--dirty-kib`);
//! - [`postfork`]: `--post-fork-check`, CPython ≥ 3.12's thread count after
//!   every fork (on macOS, with its leak);
//! - [`hygiene`]: fd and child counts, the baseline every call returns to;
//! - [`witness`]: what the system's own tools (`vmmap` on macOS, `pmap` on
//!   Linux) say of the parent's regions, before the first bar() and after
//!   the last;
//! - [`resources`]: the parent's counters (memory regions, resident memory,
//!   faults, switches, threads, descriptors; page tables on Linux, footprint
//!   and Mach ports on macOS) read after every chunk;
//! - [`load`]: the load witness among them: the load average and the CPU
//!   the rest of the machine used during each chunk.

#![warn(missing_docs)]

pub mod ballast;
pub mod churn;
pub mod hygiene;
pub mod load;
pub mod postfork;
pub mod resources;
pub mod witness;

pub use resources::{Reading, Sampler};

/// The system's page size (16 KiB on Apple Silicon, 4 KiB on most Linux).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

/// Linux `vm.max_map_count` (`/proc/sys/vm/max_map_count`); `None` where
/// there is no such file (macOS, a Linux without /proc).
pub fn max_map_count() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Tests that map, unmap or count this process's regions run one at a time:
/// the harness runs tests on parallel threads of one process, and one test's
/// mappings would move another's counts.
#[cfg(test)]
pub(crate) fn regions_lock() -> std::sync::MutexGuard<'static, ()> {
    static REGIONS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    REGIONS.lock().unwrap_or_else(|e| e.into_inner())
}
