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
//! The same mappings, of the leak's own kind, are what `test_fork_sleep
//! --calibrate` adds to time one more map entry's cost to `fork()`
//! ([`MapChurn::leak_like`], [`Shape::Leak`]): there every page is written
//! (the kernel writes the thread array it maps out), the read-only ones
//! before they are made read-only, and on macOS each mapping carries the tag
//! of the leaked arrays, `VM_MEMORY_MACH_MSG` (20, `mach/vm_statistics.h`),
//! given to `mmap` as its fd argument `VM_MAKE_TAG(20)` with `MAP_ANON`
//! (the tag alone does not keep neighbours apart: all of them carry it).
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
    #[error("{flag}: {call} of mapping {index} failed: {errno}")]
    Mmap {
        /// The flag that asked for the mappings (`--map-churn`, `--calibrate`).
        flag: &'static str,
        /// The call that failed: `mmap`, or the `mprotect` of a written page.
        call: &'static str,
        /// 0-based number of the mapping that failed, counted over the run.
        index: usize,
        /// What the call set.
        errno: nix::errno::Errno,
    },
}

/// What each mapping of a [`MapChurn`] is like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `--map-churn`'s stand-in: untagged; a read-write page is touched by a
    /// write, a read-only one by a read (on Linux that maps the shared zero
    /// page and gives the mapping no anonymous memory of its own).
    StandIn,
    /// The leak's kind (`--calibrate`): every page written, so each mapping
    /// holds a resident private page as a leaked thread array does; the
    /// read-only ones are mapped read-write, written, then `mprotect`ed to
    /// read-only. On macOS tagged `VM_MEMORY_MACH_MSG`, as the leaked arrays
    /// are (`mach/vm_statistics.h`; XNU's `osfmk/ipc/ipc_kmsg.c` maps them
    /// with that tag), so `mach_msg_regions` counts them too.
    Leak,
}

impl Shape {
    /// `mmap`'s fd argument for an anonymous mapping of this shape: `-1`, or
    /// on macOS for [`Shape::Leak`] `VM_MAKE_TAG(VM_MEMORY_MACH_MSG)`
    /// (`mach/vm_statistics.h`: with `MAP_ANON` the fd carries the tag).
    fn mmap_fd(self) -> libc::c_int {
        #[cfg(target_os = "macos")]
        if self == Shape::Leak {
            // SAFETY: VM_MAKE_TAG only shifts its argument.
            return unsafe { libc::VM_MAKE_TAG(mach2::vm_statistics::VM_MEMORY_MACH_MSG as u8) } as libc::c_int;
        }
        -1
    }
}

/// The growing set of mappings. Dropping it unmaps them.
#[derive(Debug)]
pub struct MapChurn {
    n_per_call: u64,
    shape: Shape,
    /// The flag the one-line errors name.
    flag: &'static str,
    /// Testing aid ([`MapChurn::merging`]): every mapping read-write.
    one_protection: bool,
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
            shape: Shape::StandIn,
            flag: "--map-churn",
            one_protection: false,
            page: crate::page_size(),
            maps: Vec::with_capacity(usize::try_from(total).unwrap_or(0)),
        })
    }

    /// Mappings of the leak's kind ([`Shape::Leak`]) for `test_fork_sleep
    /// --calibrate`, grown and shrunk with [`MapChurn::resize`]; room for
    /// `capacity` of them is reserved in the bookkeeping (the caller checks
    /// the system's limit with [`room_for`] and names its own flag in the
    /// refusal). Errors name `flag`.
    pub fn leak_like(capacity: usize, flag: &'static str) -> MapChurn {
        MapChurn {
            n_per_call: 0,
            shape: Shape::Leak,
            flag,
            one_protection: false,
            page: crate::page_size(),
            maps: Vec::with_capacity(capacity),
        }
    }

    /// What each mapping is like.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Testing aid: every mapping made from now on is read-write, so that
    /// neighbours may merge into one entry (what a check of the count must
    /// catch: `test_fork_sleep --calibrate` refuses to time them).
    #[doc(hidden)]
    pub fn merging(mut self) -> MapChurn {
        self.one_protection = true;
        self
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
        let n = usize::try_from(self.n_per_call).unwrap_or(usize::MAX);
        self.resize(self.maps.len().saturating_add(n))
    }

    /// Grows or shrinks the set to `n` mappings: new ones are made and
    /// touched one by one as [`MapChurn::before_call`] makes them, the last
    /// made are unmapped first (so a shrunk set is the first `n` made, and
    /// the next one made takes the place of the last unmapped, between
    /// neighbours of the other protection).
    pub fn resize(&mut self, n: usize) -> Result<(), ChurnError> {
        while self.maps.len() > n {
            if let Some(p) = self.maps.pop() {
                // SAFETY: p was returned by mmap with length `page` and is
                // unmapped once, here (it left the set).
                unsafe { libc::munmap(p.as_ptr().cast(), self.page) };
            }
        }
        while self.maps.len() < n {
            let p = self.map_one(self.maps.len())?;
            // Capacity was reserved for every planned mapping; a push beyond
            // it (a caller making more than announced) only reallocates.
            self.maps.push(p);
        }
        Ok(())
    }

    /// Makes and touches the `index`-th mapping (see [`Shape`]).
    fn map_one(&self, index: usize) -> Result<NonNull<u8>, ChurnError> {
        let fail = |call, errno| ChurnError::Mmap {
            flag: self.flag,
            call,
            index,
            errno,
        };
        let prot = if self.one_protection {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            protection(index)
        };
        let leak = self.shape == Shape::Leak;
        // The leak's kind maps every page writable first, to write it.
        let first = if leak { libc::PROT_READ | libc::PROT_WRITE } else { prot };
        // SAFETY: a fresh private anonymous mapping at an address of the
        // kernel's choice; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                self.page,
                first,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                self.shape.mmap_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(fail("mmap", nix::errno::Errno::last()));
        }
        let Some(p) = NonNull::new(p.cast::<u8>()) else {
            return Err(fail("mmap", nix::errno::Errno::EINVAL));
        };
        if first & libc::PROT_WRITE != 0 {
            // SAFETY: p is the start of a readable and writable page we own.
            unsafe { p.as_ptr().write_volatile(1) };
        } else {
            // SAFETY: p is the start of a readable page we own.
            std::hint::black_box(unsafe { p.as_ptr().read_volatile() });
        }
        // SAFETY: p is the start of the one page mapped above, ours alone.
        if first != prot && unsafe { libc::mprotect(p.as_ptr().cast(), self.page, prot) } != 0 {
            let errno = nix::errno::Errno::last();
            // SAFETY: as above; it never joined the set, so it is unmapped once.
            unsafe { libc::munmap(p.as_ptr().cast(), self.page) };
            return Err(fail("mprotect", errno));
        }
        Ok(p)
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

    #[test]
    fn the_leaks_kind_is_written_kept_apart_and_resized_from_the_end() {
        let _one = crate::regions_lock();
        let mut leak = MapChurn::leak_like(600, "--calibrate");
        assert_eq!(leak.shape(), Shape::Leak);
        let before = current_mappings();
        leak.resize(500).unwrap();
        assert_eq!(leak.added(), 500);
        for p in &leak.maps {
            // SAFETY: every mapping is one readable page from p.
            assert_eq!(unsafe { p.as_ptr().read_volatile() }, 1, "every page written");
        }
        if let (Some(before), Some(now)) = (before, current_mappings()) {
            // One entry each: none merged (other test threads may map a
            // little meanwhile, hence the margin).
            assert!(now >= before + 490 && now <= before + 510, "{before} -> {now}");
        }
        let first: Vec<_> = leak.maps[..200].to_vec();
        leak.resize(200).unwrap();
        assert_eq!(leak.maps, first, "the last made go first");
        leak.resize(300).unwrap();
        assert_eq!(leak.added(), 300);
        if let (Some(before), Some(now)) = (before, current_mappings()) {
            assert!(now >= before + 290 && now <= before + 310, "{before} -> {now}");
        }
        #[cfg(target_os = "macos")]
        assert!(
            crate::resources::map_counts().1.is_some_and(|m| m >= 300),
            "tagged Mach message memory"
        );
    }
}
