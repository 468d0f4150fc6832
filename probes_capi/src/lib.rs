//! `probes::resources` as a C-ABI library (`libprobes_capi.so` /
//! `.dylib`), so that `ci/compare/harness.py` reads *inside an original's
//! own interpreter* the very counters the ports read after every chunk
//! (`docs/experiment.md`). One implementation: the Mach and `/proc` calls stay in
//! `probes` (tested here, type-checked for macOS by the Apple-target clippy);
//! written again in Python they would be code nothing here can check.
//!
//! Three calls, all for the interpreter's main thread, in the parent only:
//! - [`probes_counters_start`]: where the first reading's per-chunk counts
//!   start;
//! - [`probes_counters_words`]: one reading, as `probes::resources::words`;
//! - [`probes_standin_leak`]: the Linux stand-in for CPython's macOS leak,
//!   one more one-page map entry kept for good (`probes::churn`'s
//!   mappings, which cannot merge with their neighbours).
//!
//! And [`probes_witness_words`]: the system's own tool on this process
//! (`probes::witness`: `vmmap -summary` on macOS, `pmap` on Linux), which
//! the harness reads before the first bar() and after the last.

use probes::churn::MapChurn;
use probes::resources::{words, Sampler};
use std::sync::Mutex;

/// The sampler of this process: cumulative counters (faults, switches) are
/// differences from the previous reading, as a port's are per chunk; and
/// the text of a reading that did not fit its buffer, for the retry.
static SAMPLER: Mutex<(Option<Sampler>, Option<String>)> = Mutex::new((None, None));
/// The stand-in leak's pages, never unmapped (the point is that they stay).
static LEAK: Mutex<Option<Kept>> = Mutex::new(None);

/// The leaked pages belong to the process, not to a thread.
struct Kept(MapChurn);
// SAFETY: MapChurn holds only the addresses of private mappings of this
// process; nothing is tied to the thread that made them, and every use is
// under the LEAK mutex.
unsafe impl Send for Kept {}

/// Starts the sampler: the per-reading counters of the first
/// [`probes_counters_words`] (faults, switches, the rest of the machine's
/// CPU use) then count from this call, as a port's count from the start of
/// its first chunk. The harness calls it once, before the original runs;
/// without it the first reading covers next to no time (for the load
/// witness, a few microseconds against clock ticks of 10 ms).
#[no_mangle]
pub extern "C" fn probes_counters_start() {
    let mut state = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
    *state = (Some(Sampler::new()), None);
}

/// Writes one reading into `buf` as NUL-terminated `name=value` words and
/// returns their length, or `-needed` (the length the text needs, NUL
/// included) when `cap` is too small, leaving `buf` as it was. That
/// reading is kept: the next call returns it, without sampling again, once
/// its buffer is large enough, so that a caller who resizes and retries gets
/// the per-chunk counters (faults, switches) of the whole chunk, not of
/// the moment between its two calls.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn probes_counters_words(buf: *mut u8, cap: usize) -> isize {
    let mut state = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
    let (sampler, pending) = &mut *state;
    let text = match pending.take() {
        Some(text) => text,
        None => words(&sampler.get_or_insert_with(Sampler::new).sample()),
    };
    // SAFETY: the caller's buffer, as this function's contract says.
    let n = unsafe { copy_out(&text, buf, cap) };
    if n < 0 {
        *pending = Some(text);
    }
    n
}

/// Copies `text` and a NUL into `buf` and returns its length, or
/// `-needed` (NUL included) when `cap` is too small, leaving `buf` as it was.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
unsafe fn copy_out(text: &str, buf: *mut u8, cap: usize) -> isize {
    let n = text.len();
    if n + 1 > cap {
        return -isize::try_from(n + 1).unwrap_or(isize::MAX);
    }
    // SAFETY: the caller gives cap >= n + 1 writable bytes at buf.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf, n);
        *buf.add(n) = 0;
    }
    n as isize
}

/// Maps one more page that cannot merge with its neighbour, touches it and
/// keeps it: one new map entry per call, as each `os.fork()` leaves one on
/// macOS under the hypothesis. Returns 0, or the errno of a failed `mmap`.
#[no_mangle]
pub extern "C" fn probes_standin_leak() -> libc::c_int {
    let mut leak = LEAK.lock().unwrap_or_else(|e| e.into_inner());
    if leak.is_none() {
        match MapChurn::new(1, 0) {
            Ok(c) => *leak = Some(Kept(c)),
            Err(_) => return libc::ENOMEM,
        }
    }
    match leak.as_mut().map(|k| k.0.before_call()) {
        Some(Ok(())) => 0,
        Some(Err(probes::churn::ChurnError::Mmap { errno, .. })) => errno as libc::c_int,
        _ => libc::ENOMEM,
    }
}

/// Runs the system's witness tool on this process (`probes::witness`:
/// `vmmap -summary` on macOS, `pmap` on Linux) and writes into `buf`, as
/// [`probes_counters_words`] does, either its reading as words, `tool=pmap
/// regions=123` (`mach_msg=4` too on macOS), or one sentence saying why
/// not (the tool missing or refusing, a hardened interpreter). The tool is
/// spawned and waited for: no thread.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn probes_witness_words(buf: *mut u8, cap: usize) -> isize {
    let text = match probes::witness::Tool::here() {
        None => "no witness tool on this OS".to_string(),
        Some(tool) => match probes::witness::read(tool, std::process::id()) {
            Ok(r) => format!("tool={} {}", tool.name(), r.words()),
            Err(why) => why,
        },
    };
    // SAFETY: the caller's buffer, as this function's contract says.
    unsafe { copy_out(&text, buf, cap) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read() -> probes::Reading {
        let mut buf = vec![0u8; 4096];
        // SAFETY: buf holds 4096 writable bytes.
        let n = unsafe { probes_counters_words(buf.as_mut_ptr(), buf.len()) };
        assert!(n > 0, "{n}");
        assert_eq!(buf[n as usize], 0, "NUL-terminated");
        probes::resources::parse_words(std::str::from_utf8(&buf[..n as usize]).unwrap()).unwrap()
    }

    /// One test: the library's state (the sampler, a kept reading) is the
    /// process's, which parallel tests would share.
    #[test]
    fn reads_the_ports_counters_and_leaks_one_entry_per_call() {
        let first = read();
        for _ in 0..50 {
            assert_eq!(probes_standin_leak(), 0);
        }
        let mut small = [7u8; 4];
        // SAFETY: small holds 4 writable bytes.
        let needed = unsafe { probes_counters_words(small.as_mut_ptr(), small.len()) };
        assert!(needed < -4 && small == [7; 4], "too small: {needed}, untouched");
        // More entries after the refused call: the retry still returns the
        // reading the refused call took, with the 50 pages' faults in it.
        for _ in 0..50 {
            assert_eq!(probes_standin_leak(), 0);
        }
        let retried = read();
        assert_eq!(retried.keys().collect::<Vec<_>>(), first.keys().collect::<Vec<_>>());
        let grew = |a: &probes::Reading, b: &probes::Reading| b["vm_map_entries"] as i64 - a["vm_map_entries"] as i64;
        assert!((45..=80).contains(&grew(&first, &retried)), "{first:?} -> {retried:?}");
        if let Some(&faults) = retried.get("minor_faults") {
            assert!(faults >= 50, "the retried reading lost its chunk's faults: {retried:?}");
        }
        let before = read();
        assert!(
            (45..=80).contains(&grew(&retried, &before)),
            "{retried:?} -> {before:?}"
        );
        assert!(
            before["vm_map_entries"] >= 5 && before.contains_key("open_fds"),
            "{before:?}"
        );
        for _ in 0..200 {
            assert_eq!(probes_standin_leak(), 0);
        }
        let after = read();
        // 200 pages that cannot merge: 200 entries, give or take what the
        // test harness's other threads map meanwhile.
        let grew = after["vm_map_entries"] as i64 - before["vm_map_entries"] as i64;
        assert!((190..=260).contains(&grew), "{before:?} -> {after:?}");
    }

    #[test]
    fn the_witness_is_words_or_one_sentence() {
        let witness = || {
            let mut buf = vec![0u8; 4096];
            // SAFETY: buf holds 4096 writable bytes.
            let n = unsafe { probes_witness_words(buf.as_mut_ptr(), buf.len()) };
            assert!(n > 0, "{n}");
            let text = std::str::from_utf8(&buf[..n as usize]).unwrap().to_string();
            assert!(!text.contains('\n'), "{text}");
            text
        };
        let text = witness();
        if probes::witness::Tool::here() == Some(probes::witness::Tool::Pmap) && text.starts_with("tool=") {
            // The suite's count read at the same moment: pmap lists the
            // lines of /proc/PID/maps, so the two are the same, give or
            // take what the test harness's other threads map meanwhile (a
            // thread's stack, a malloc arena): of three readings, one must
            // agree within 5, which a count that reads another map never
            // does.
            let off = |text: &str| {
                let words = probes::resources::parse_words(text.strip_prefix("tool=pmap ").unwrap()).unwrap();
                assert!(words["regions"] >= 5, "{text}");
                words["counted"].abs_diff(words["regions"])
            };
            let readings = [text, witness(), witness()];
            assert!(readings.iter().any(|t| off(t) <= 5), "{readings:?}");
        } else {
            println!("skipped: no pmap here ({text})");
        }
    }
}
