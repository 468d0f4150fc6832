//! `--map-churn N`: a mechanism control. Before each call the parent adds `N`
//! new one-page anonymous mappings that cannot merge with their neighbours,
//! touches each once and keeps them, so that its address space grows call
//! after call.
//!
//! Why: `fork(2)` copies the parent's memory map, one entry (VMA on Linux,
//! vm_map_entry on macOS) at a time, with its page tables. jemalloc's
//! maintainers saw macOS `fork()` cost grow with the number of mappings; a
//! SageMath session (test_parallel_sleep_v2.sage) or a Python one
//! (test_pyparallel_sleep.py) maps more and more as it runs. If fork-per-job
//! drifts with churn while a pool or a thread team (which do not fork per call)
//! with the same churn does not, the number of mappings is a sufficient cause.
//!
//! How mappings are kept apart: the kernel merges an anonymous mapping with an
//! adjacent one of the same protection. Successive mappings alternate
//! `PROT_READ | PROT_WRITE` and `PROT_READ`; as the kernel places each new
//! mapping next to the previous one, no two neighbours share a protection. A
//! read-write page is touched by a write, a read-only one by a read (which maps
//! the shared zero page): either way the page gets a page-table entry that
//! `fork()` must copy.
//!
//! The run is refused before it starts when the mappings would pass the
//! system's limit: `vm.max_map_count` on Linux (`/proc/sys/vm/max_map_count`,
//! else its default [`LINUX_DEFAULT_MAX_MAP_COUNT`]); macOS has no such sysctl
//! and no small fixed limit, so [`MACOS_CAP`] bounds the run instead (the
//! Linux default, to keep runs comparable across systems).

use std::ptr::NonNull;

/// Linux's default `vm.max_map_count`, used when `/proc` cannot be read.
pub const LINUX_DEFAULT_MAX_MAP_COUNT: u64 = 65530;
/// Our cap on systems without `vm.max_map_count` (macOS): the Linux default.
pub const MACOS_CAP: u64 = 65530;
/// Mappings kept free for everything else (libraries, stacks, allocator,
/// pipes' buffers, a pool's threads).
pub const HEADROOM: u64 = 1024;

/// The limit on the number of mappings and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapLimit {
    /// Mappings one process may have.
    pub limit: u64,
    /// Where [`MapLimit::limit`] comes from, in words for the one-line
    /// refusal: `vm.max_map_count`, its default, or the suite's cap.
    pub source: &'static str,
}

/// The system's limit on the mappings of one process.
pub fn map_limit() -> MapLimit {
    if cfg!(target_os = "linux") {
        if let Some(limit) = crate::max_map_count() {
            return MapLimit {
                limit,
                source: "vm.max_map_count",
            };
        }
        return MapLimit {
            limit: LINUX_DEFAULT_MAX_MAP_COUNT,
            source: "vm.max_map_count default (/proc unreadable)",
        };
    }
    MapLimit {
        limit: MACOS_CAP,
        source: "the suite's cap (no vm.max_map_count on this system)",
    }
}

/// Mappings of this process now: its map entries (see
/// [`crate::resources::vm_map_entries`]); `None` where they cannot be counted.
pub fn current_mappings() -> Option<u64> {
    crate::resources::vm_map_entries()
}

/// Room for `new` more mappings under the system's limit, with
/// [`HEADROOM`] to spare: `Err((current, limit))` when there is none.
/// `--map-churn` and `--ballast-regions` are both checked with it before the
/// run.
pub fn room_for(new: u64) -> Result<(), (u64, MapLimit)> {
    let lim = map_limit();
    let current = current_mappings().unwrap_or(0);
    let needed = new.saturating_add(current).saturating_add(HEADROOM);
    if new > 0 && needed > lim.limit {
        return Err((current, lim));
    }
    Ok(())
}

/// The protection of the `index`-th of a row of mappings that must not
/// merge: read-write and read-only alternate, so no two neighbours share one.
pub fn protection(index: usize) -> libc::c_int {
    if index & 1 == 0 {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    }
}

/// A `--map-churn` the run cannot carry through: refused before it starts,
/// or, rarely, an `mmap` that fails during it.
#[derive(Debug, thiserror::Error)]
pub enum ChurnError {
    /// All the mappings of the run together would pass the system's limit;
    /// found before the run, not after hours of it.
    #[error(
        "--map-churn {n}: {n} x {calls} calls = {total} new mappings plus the {current} present \
         and {HEADROOM} spare would pass {what} = {limit}; lower --map-churn, --numcalls or --repeat"
    )]
    OverLimit {
        /// The `--map-churn` asked for: mappings added before each call.
        n: u64,
        /// Calls of the whole run (`--numcalls` times `--repeat`).
        calls: u64,
        /// `n * calls`, the mappings the run would add.
        total: u64,
        /// Mappings the process has now.
        current: u64,
        /// The limit they would pass, from [`map_limit`].
        limit: u64,
        /// Where the limit comes from ([`MapLimit::source`]).
        what: &'static str,
    },
    /// The kernel refused a mapping during the run although the limit check
    /// passed (memory exhausted, or a limit the check cannot see).
    #[error("--map-churn: mmap of mapping {index} failed: {errno}")]
    Mmap {
        /// 0-based number of the mapping that failed, counted over the run.
        index: usize,
        /// What `mmap` set.
        errno: nix::errno::Errno,
    },
}

/// The growing set of mappings. Dropping it unmaps them.
#[derive(Debug)]
pub struct MapChurn {
    n_per_call: u64,
    page: usize,
    /// Start of every mapping (one page each), in the order made.
    maps: Vec<NonNull<u8>>,
}

impl MapChurn {
    /// Checks that `n_per_call * total_calls` more mappings fit under the
    /// system limit (see the module doc) and reserves the bookkeeping up
    /// front, so that `before_call` never reallocates. `n_per_call = 0` is a
    /// no-op churn.
    pub fn new(n_per_call: u64, total_calls: u64) -> Result<MapChurn, ChurnError> {
        let total = n_per_call.saturating_mul(total_calls);
        if let Err((current, lim)) = room_for(total) {
            return Err(ChurnError::OverLimit {
                n: n_per_call,
                calls: total_calls,
                total,
                current,
                limit: lim.limit,
                what: lim.source,
            });
        }
        Ok(MapChurn {
            n_per_call,
            page: crate::page_size(),
            maps: Vec::with_capacity(usize::try_from(total).unwrap_or(0)),
        })
    }

    /// The `--map-churn` value: mappings added by each
    /// [`before_call`](MapChurn::before_call).
    pub fn n_per_call(&self) -> u64 {
        self.n_per_call
    }

    /// Bytes of each mapping: the system's page size (16 KiB on Apple
    /// Silicon), so that each mapping is one page and one map entry.
    pub fn page_size(&self) -> usize {
        self.page
    }

    /// Mappings added so far.
    pub fn added(&self) -> usize {
        self.maps.len()
    }

    /// Adds `n_per_call` mappings, touching each once. Call it in the parent
    /// before each call (never in a forked child).
    pub fn before_call(&mut self) -> Result<(), ChurnError> {
        for _ in 0..self.n_per_call {
            let index = self.maps.len();
            let prot = protection(index);
            let writable = prot & libc::PROT_WRITE != 0;
            // SAFETY: a fresh private anonymous mapping at an address of the
            // kernel's choice; nothing else refers to it.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    self.page,
                    prot,
                    libc::MAP_PRIVATE | libc::MAP_ANON,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(ChurnError::Mmap {
                    index,
                    errno: nix::errno::Errno::last(),
                });
            }
            let Some(p) = NonNull::new(p.cast::<u8>()) else {
                return Err(ChurnError::Mmap {
                    index,
                    errno: nix::errno::Errno::EINVAL,
                });
            };
            if writable {
                // SAFETY: p is the start of a readable and writable page we own.
                unsafe { p.as_ptr().write_volatile(1) };
            } else {
                // SAFETY: p is the start of a readable page we own.
                std::hint::black_box(unsafe { p.as_ptr().read_volatile() });
            }
            // Capacity was reserved in `new` for every planned mapping; a
            // push beyond it (a caller making more calls than announced) only
            // reallocates.
            self.maps.push(p);
        }
        Ok(())
    }
}

impl Drop for MapChurn {
    fn drop(&mut self) {
        for p in self.maps.drain(..) {
            // SAFETY: p was returned by mmap with length `page` and is unmapped
            // once, here.
            unsafe { libc::munmap(p.as_ptr().cast(), self.page) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_runs_over_the_limit_before_mapping_anything() {
        let _one = crate::regions_lock();
        let lim = map_limit();
        assert!(lim.limit > 0);
        let err = MapChurn::new(lim.limit, 2).unwrap_err().to_string();
        assert!(err.starts_with(&format!("--map-churn {}: ", lim.limit)), "{err}");
        assert!(err.contains(lim.source), "{err}");
        assert!(MapChurn::new(u64::MAX, u64::MAX).is_err(), "overflow is over the limit");
        // No churn is always fine.
        let mut none = MapChurn::new(0, u64::MAX).unwrap();
        none.before_call().unwrap();
        assert_eq!(none.added(), 0);
    }

    #[test]
    fn mappings_grow_call_after_call_and_go_on_drop() {
        let _one = crate::regions_lock();
        let mut churn = MapChurn::new(100, 5).unwrap();
        let Some(before) = current_mappings() else {
            // Neither /proc/self/maps nor a Mach walk: only the bookkeeping
            // can be checked.
            println!("skipped the region count: this system cannot list a process's mappings");
            churn.before_call().unwrap();
            assert_eq!(churn.added(), 100);
            return;
        };
        let mut counts = vec![before];
        for _ in 0..5 {
            churn.before_call().unwrap();
            counts.push(current_mappings().unwrap());
        }
        assert_eq!(churn.added(), 500);
        // Each call adds about 100 entries to the map. Other test threads
        // may map or unmap a little meanwhile, hence the margin.
        for w in counts.windows(2) {
            assert!(w[1] >= w[0] + 80, "mappings per call: {counts:?}");
        }
        assert!(counts[5] >= counts[0] + 450, "{counts:?}");
        drop(churn);
        let after = current_mappings().unwrap();
        assert!(after + 400 <= counts[5], "unmapped on drop: {after} vs {counts:?}");
    }

    #[test]
    fn each_mapping_is_one_page_of_the_systems_size() {
        let _one = crate::regions_lock();
        let mut churn = MapChurn::new(2, 1).unwrap();
        assert_eq!(churn.page_size(), crate::page_size());
        churn.before_call().unwrap();
        for p in &churn.maps {
            assert_eq!(p.as_ptr() as usize % churn.page_size(), 0, "page-aligned");
            // SAFETY: the mapping is one readable page from p (both are
            // readable); its last byte is inside it.
            std::hint::black_box(unsafe { p.as_ptr().add(churn.page_size() - 1).read_volatile() });
        }
    }
}
