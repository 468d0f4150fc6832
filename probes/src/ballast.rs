//! `--ballast-mb`: the weight of the parent. A Python parent is tens of MiB,
//! a Sage parent hundreds (`test_parallel_sleep_v2.sage` runs in one), and
//! `fork()` copies the page tables of all of it; the ballast lets a small
//! Rust parent be as heavy.
//!
//! Two more habits of an interpreter's parent live here (its fork habits), because
//! they are made of the same memory:
//!
//! - `--ballast-regions N`: how many regions, not how many bytes. `fork()`
//!   copies the memory map entry by entry; a Sage parent has 684 to 691
//!   regions, a CPython 3.13 one 49, this binary 35. The ballast is one
//!   mapping cut into `N` regions that cannot merge, by alternating read-write
//!   and read-only protections (the trick of [`crate::churn`]), made once
//!   before the run, so the address space is Sage-shaped without growing.
//! - `--dirty-kib K`: pages written between forks. After a fork every page
//!   the parent writes takes a copy-on-write fault; an interpreter writes many
//!   (reference counts, the allocator, the garbage collector): measured 35
//!   minor faults per job for CPython 3.13, 86 for Sage, 3.5 for this binary.
//!   [`Ballast::dirty`] writes one byte in each page of `K` KiB of the
//!   ballast's writable pages (or of a buffer of its own when the ballast has
//!   too few), once per job, right after its fork.

use crate::churn;
use std::ptr::NonNull;
/// Memory the parent allocates, touches and keeps until the end of the run.
pub struct Ballast {
    /// `--ballast-regions 1`: one heap allocation (the allocator maps a
    /// large one as one region).
    heap: Vec<u8>,
    /// `--ballast-regions N > 1`: one mapping cut into `N` regions.
    split: Option<Split>,
    /// `--dirty-kib`'s own buffer, when the ballast has too few writable pages.
    own: Vec<u8>,
    /// One byte in each page that [`Ballast::dirty`] writes.
    targets: Vec<*mut u8>,
}

/// One anonymous mapping of `regions` regions of `region` bytes each.
struct Split {
    ptr: NonNull<u8>,
    region: usize,
    regions: usize,
}

/// A ballast this machine cannot hold.
#[derive(Debug, thiserror::Error)]
pub enum BallastError {
    /// `--ballast-mb` above the machine's physical memory.
    #[error("--ballast-mb {mb}: more than this machine's physical memory ({phys_mb} MiB)")]
    Memory {
        /// The `--ballast-mb` asked for.
        mb: u64,
        /// The machine's physical memory in MiB: a ballast above it would
        /// swap, and the timing would measure the disk.
        phys_mb: u64,
    },
    /// `--ballast-regions` past the system's limit on mappings.
    #[error(
        "--ballast-regions {n}: {n} mappings plus the {current} present and {spare} spare \
         would pass {what} = {limit}; lower --ballast-regions",
        spare = churn::HEADROOM
    )]
    Regions {
        /// The `--ballast-regions` asked for.
        n: u64,
        /// Mappings the process has now (libraries, stacks, heap).
        current: u64,
        /// The limit they would pass, from [`churn::map_limit`].
        limit: u64,
        /// Where the limit comes from (`vm.max_map_count`, or the suite's
        /// cap on macOS), so the message says which knob it is.
        what: &'static str,
    },
    /// The system refused to map or split the ballast although the limit
    /// check passed (memory exhausted, or a limit the check cannot see).
    #[error("--ballast-regions {n}: mmap or mprotect failed: {errno}")]
    Map {
        /// The `--ballast-regions` asked for.
        n: u64,
        /// What `mmap` or `mprotect` set.
        errno: nix::errno::Errno,
    },
}

impl Ballast {
    /// `mb` MiB in one region, nothing dirtied: `--ballast-mb` alone.
    pub fn new(mb: u64) -> Result<Ballast, BallastError> {
        Ballast::shaped(mb, 1, 0)
    }

    /// `mb` MiB cut into `regions` regions (each at least one page), with
    /// `dirty_kib` KiB of pages for [`Ballast::dirty`]. Checks memory and the
    /// map limit *before* allocating (an over-commit would swap or be killed
    /// mid-run), then allocates and fills.
    pub fn shaped(mb: u64, regions: u64, dirty_kib: u64) -> Result<Ballast, BallastError> {
        if let Some(phys) = physical_memory() {
            if mb.saturating_mul(1 << 20) > phys {
                return Err(BallastError::Memory {
                    mb,
                    phys_mb: phys >> 20,
                });
            }
        }
        let mut ballast = Ballast {
            heap: Vec::new(),
            split: None,
            own: Vec::new(),
            targets: Vec::new(),
        };
        if regions > 1 {
            if let Err((current, lim)) = churn::room_for(regions) {
                return Err(BallastError::Regions {
                    n: regions,
                    current,
                    limit: lim.limit,
                    what: lim.source,
                });
            }
            ballast.split = Some(Split::new(mb, regions)?);
        } else {
            ballast.heap = vec![0u8; (mb as usize) << 20];
            fill(&mut ballast.heap);
        }
        ballast.aim(dirty_kib);
        Ok(ballast)
    }

    /// Bytes of ballast (the dirty buffer aside).
    pub fn len(&self) -> usize {
        self.heap.len() + self.split.as_ref().map_or(0, |s| s.region * s.regions)
    }

    /// No ballast bytes at all (`--ballast-mb 0`, the default, with a single
    /// region): the parent has only its own weight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Regions the ballast is cut into (0 when empty).
    pub fn regions(&self) -> usize {
        match &self.split {
            Some(s) => s.regions,
            None => usize::from(!self.heap.is_empty()),
        }
    }

    /// Chooses the pages [`Ballast::dirty`] writes: `kib` KiB of the
    /// ballast's writable pages, the rest from a buffer of its own.
    fn aim(&mut self, kib: u64) {
        let page = crate::page_size();
        let pages = usize::try_from(kib.saturating_mul(1024))
            .unwrap_or(usize::MAX)
            .div_ceil(page);
        let mut writable: Vec<*mut u8> = match &self.split {
            Some(s) => s.writable_pages(page).take(pages).collect(),
            None => (0..self.heap.len() / page)
                .take(pages)
                .map(|i| self.heap[i * page..].as_mut_ptr())
                .collect(),
        };
        let missing = pages - writable.len();
        if missing > 0 {
            // One page more, and the targets start at a page boundary: no
            // target shares its page with other heap data that the parent
            // writes anyway (that page would fault without --dirty-kib too).
            self.own = vec![0u8; (missing + 1) * page];
            fill(&mut self.own);
            let skip = self.own.as_ptr().align_offset(page);
            writable.extend((0..missing).map(|i| self.own[skip + i * page..].as_mut_ptr()));
        }
        self.targets = writable;
    }

    /// `--dirty-kib`: writes one byte in each chosen page, as an
    /// interpreter's parent does between forks. Call it in the parent right
    /// after each fork: every write is then a copy-on-write fault.
    pub fn dirty(&mut self) {
        for &p in &self.targets {
            // SAFETY: p points into a writable page of `heap`, `own` or the
            // split's read-write regions, all owned by self and never moved
            // or unmapped while self lives.
            unsafe { p.write_volatile(p.read_volatile().wrapping_add(1)) };
        }
    }

    /// Pages [`Ballast::dirty`] writes.
    pub fn dirty_pages(&self) -> usize {
        self.targets.len()
    }
}

impl Split {
    /// One read-write mapping of `regions` regions of
    /// `max(page, mb MiB / regions)` bytes, filled, then every other region
    /// made read-only: the kernel splits the mapping into `regions` entries.
    fn new(mb: u64, regions: u64) -> Result<Split, BallastError> {
        let page = crate::page_size();
        let err = |errno| BallastError::Map { n: regions, errno };
        let n = usize::try_from(regions).map_err(|_| err(nix::errno::Errno::ENOMEM))?;
        let per = usize::try_from((mb << 20) / regions).unwrap_or(usize::MAX);
        let region = per.div_ceil(page).max(1) * page;
        let len = region.checked_mul(n).ok_or(err(nix::errno::Errno::ENOMEM))?;
        // SAFETY: a fresh private anonymous mapping at an address of the
        // kernel's choice; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(err(nix::errno::Errno::last()));
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or(err(nix::errno::Errno::EINVAL))?;
        let split = Split {
            ptr,
            region,
            regions: n,
        };
        // SAFETY: the mapping is len bytes, read-write, owned by `split`.
        fill(unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) });
        for i in (1..n).step_by(2) {
            // SAFETY: region i lies inside the mapping made above.
            let rc = unsafe { libc::mprotect(ptr.as_ptr().add(i * region).cast(), region, churn::protection(i)) };
            if rc != 0 {
                return Err(err(nix::errno::Errno::last()));
            }
        }
        Ok(split)
    }

    /// The first byte of every page of the read-write regions.
    fn writable_pages(&self, page: usize) -> impl Iterator<Item = *mut u8> + '_ {
        (0..self.regions)
            .filter(|&i| churn::protection(i) & libc::PROT_WRITE != 0)
            .flat_map(move |i| (0..self.region / page).map(move |k| i * self.region + k * page))
            .map(|off| {
                // SAFETY: every offset is inside the mapping.
                unsafe { self.ptr.as_ptr().add(off) }
            })
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        // SAFETY: the mapping made in Split::new, unmapped once, here.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.region * self.regions) };
    }
}

/// Pseudo-random bytes (xorshift64), touching every page. Not one repeated
/// byte: macOS compresses idle memory (and Linux may, with zswap or KSM
/// merging identical pages), so a uniform ballast would shrink to almost
/// nothing and the parent would not really weigh what the flag says.
fn fill(bytes: &mut [u8]) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for word in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes()[..word.len()]);
    }
}

/// Physical memory in bytes (`sysconf`, on Linux and macOS alike).
pub fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && size > 0).then(|| pages as u64 * size as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_physical_memory_is_refused_before_allocating() {
        let phys = physical_memory().expect("sysconf knows the memory size");
        assert!(phys >= 64 << 20, "{phys}");
        let mb = (phys >> 20) + 1;
        let e = Ballast::new(mb).err().expect("refused");
        assert!(matches!(e, BallastError::Memory { phys_mb, .. } if phys_mb == phys >> 20));
        assert_eq!(
            e.to_string(),
            format!(
                "--ballast-mb {mb}: more than this machine's physical memory ({} MiB)",
                phys >> 20
            )
        );
    }

    #[test]
    fn the_fill_does_not_repeat() {
        let b = Ballast::new(1).unwrap();
        assert_eq!(b.len(), 1 << 20);
        let mut seen = [0u32; 256];
        for &x in &b.heap {
            seen[x as usize] += 1;
        }
        // Every byte value shows up, none dominates (uniform: 4096 each).
        assert!(seen.iter().all(|&n| (3000..5200).contains(&n)), "{seen:?}");
        // No two 4 KiB pages alike (a page-merging kernel finds nothing to merge).
        let pages: std::collections::HashSet<&[u8]> = b.heap.chunks(4096).collect();
        assert_eq!(pages.len(), 256);
    }

    #[test]
    fn dirty_writes_its_pages_in_the_ballast_or_its_own_buffer() {
        let _one = crate::regions_lock();
        let page = crate::page_size();
        // 64 KiB of 1 MiB of ballast: all in the ballast.
        let mut b = Ballast::shaped(1, 1, 64).unwrap();
        assert_eq!(b.dirty_pages(), (64 * 1024usize).div_ceil(page));
        assert!(b.own.is_empty());
        let before = b.heap[0];
        b.dirty();
        assert_eq!(b.heap[0], before.wrapping_add(1));
        // No ballast: a buffer of its own.
        let mut b = Ballast::shaped(0, 1, 64).unwrap();
        assert_eq!(b.own.len(), (b.dirty_pages() + 1) * page);
        b.dirty();
    }
}
