//! `--ballast-mb`: the weight of the parent. A Python parent is tens of MiB,
//! a Sage parent hundreds (`test_parallel_sleep_v2.sage` runs in one), and
//! `fork()` copies the page tables of all of it; the ballast lets a small
//! Rust parent be as heavy.

/// Memory the parent allocates, touches and keeps until the end of the run.
pub struct Ballast(Vec<u8>);

/// `--ballast-mb` above the machine's physical memory.
#[derive(Debug, thiserror::Error)]
#[error("--ballast-mb {mb}: more than this machine's physical memory ({phys_mb} MiB)")]
pub struct BallastError {
    pub mb: u64,
    pub phys_mb: u64,
}

impl Ballast {
    /// Checks `mb` against physical memory *before* allocating (an
    /// over-commit would swap or be killed mid-run), then allocates and fills.
    pub fn new(mb: u64) -> Result<Ballast, BallastError> {
        if let Some(phys) = physical_memory() {
            if mb.saturating_mul(1 << 20) > phys {
                return Err(BallastError {
                    mb,
                    phys_mb: phys >> 20,
                });
            }
        }
        let mut bytes = vec![0u8; (mb as usize) << 20];
        fill(&mut bytes);
        Ok(Ballast(bytes))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
        assert_eq!(e.phys_mb, phys >> 20);
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
        for &x in &b.0 {
            seen[x as usize] += 1;
        }
        // Every byte value shows up, none dominates (uniform: 4096 each).
        assert!(seen.iter().all(|&n| (3000..5200).contains(&n)), "{seen:?}");
        // No two 4 KiB pages alike (a page-merging kernel finds nothing to merge).
        let pages: std::collections::HashSet<&[u8]> = b.0.chunks(4096).collect();
        assert_eq!(pages.len(), 256);
    }
}
