//! Diagnostic job for tests: where does the worker run?

use std::sync::atomic::{AtomicU64, Ordering};

/// A value the parent sets before creating a pool: a forked worker sees
/// it, a spawned one (a fresh exec) sees 0.
pub static MARK: AtomicU64 = AtomicU64::new(0);

/// Job function: answers `pid`, `ppid` (u32 LE each) and [`MARK`] (u64 LE).
pub fn whoami(_input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
    output.extend_from_slice(&(std::process::id()).to_le_bytes());
    output.extend_from_slice(&(nix::unistd::getppid().as_raw() as u32).to_le_bytes());
    output.extend_from_slice(&MARK.load(Ordering::SeqCst).to_le_bytes());
    Ok(())
}

/// Decodes [`whoami`]'s answer: `(pid, ppid, mark)`.
pub fn decode(b: &[u8]) -> Option<(u32, u32, u64)> {
    let b: &[u8; 16] = b.try_into().ok()?;
    let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut m = [0u8; 8];
    m.copy_from_slice(&b[8..]);
    Some((w(0), w(4), u64::from_le_bytes(m)))
}
