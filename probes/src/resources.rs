//! The parent's own resource counters, read after every chunk:
//! the evidence the drift attribution ranks against the chunk times.
//!
//! Why these: `fork(2)` copies the parent's memory map entry by entry with
//! its page tables (`vm_map_fork` in XNU's `osfmk/vm/vm_map.c`, `dup_mmap` in
//! Linux's `kernel/fork.c`), and a parent that dirties pages between forks
//! takes copy-on-write faults. The leading hypothesis (`docs/mechanism.md`)
//! is that CPython ≥ 3.12 leaves one page-sized map entry behind after every
//! `os.fork()` on macOS (the out-of-line thread array of `task_threads`,
//! never deallocated), so each later fork has one more entry to copy. The
//! counters that can see it:
//!
//! - `vm_map_entries`: the entries `fork` walks. macOS: `task_info(TASK_VM_INFO)`'s
//!   `region_count` (XNU `osfmk/kern/task.c` fills it from the map's entry
//!   count), one call. Linux: the lines of `/proc/self/maps` (one line per
//!   VMA; Linux has no second count, so there is no `vm_regions` there).
//! - `mach_msg_regions` (macOS): regions tagged `VM_MEMORY_MACH_MSG`, the tag
//!   the kernel gives out-of-line message memory it maps into a task (XNU
//!   `osfmk/ipc/ipc_kmsg.c`): the leaked arrays themselves.
//! - `task_port_urefs` (macOS): user references on the task's own send
//!   right. `task_for_pid` on one's own pid returns the existing name with one
//!   more reference (XNU `bsd/kern/kern_proc.c`), so this proves the leaking
//!   code ran, not its cost; it stops at `MACH_PORT_UREFS_MAX`.
//! - `vm_regions` and `mach_ports` (macOS) stay for comparison with older
//!   records: the region walk also descends into the shared-cache submap, and
//!   port *names* do not grow with CPython's leak (the same name gets more
//!   references), so neither is evidence of it.
//!
//! Beside them, the load witness (`load_avg_1m_milli`, `other_cpu_permille`:
//! how busy the rest of the machine was, see [`crate::load`]), which tells a
//! drift made by the machine from one made in the process.
//!
//! Every value is a whole number (an integer in the JSON record). Cost: one
//! read of a small `/proc` file, or one `task_info` and one region walk, per
//! chunk, taken after the chunk's clock has stopped, so it costs the chunk
//! nothing (measured: `cargo run --release -p probes --example counter_cost`,
//! figures in `docs/counters.md`). Cumulative counters (faults, context
//! switches) are given per chunk, as the difference from the previous
//! reading: a cumulative count always grows and would correlate with any
//! trend.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One reading: counter name → value. Names are stable (they are the JSON
/// keys of a chunk's `resources` and the names the attribution prints);
/// a counter the platform cannot read is absent. Records written before the
/// counts were integers (`35.0`) still read: see [`read_compat`].
pub type Reading = BTreeMap<String, u64>;

/// Deserializes a chunk's `resources` from a record of any age: integers,
/// or the floats older records wrote (`35.0`), rounded.
pub fn read_compat<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Reading>, D::Error> {
    let old: Option<BTreeMap<String, f64>> = Deserialize::deserialize(d)?;
    Ok(old.map(|m| m.into_iter().map(|(k, v)| (k, v.max(0.0).round() as u64)).collect()))
}

/// Reads the counters after each chunk, turning cumulative ones into
/// per-chunk differences.
#[derive(Debug, Default)]
pub struct Sampler {
    last: Option<Rusage>,
    /// The machine's busy time at the same moment (the load witness).
    load: Option<crate::load::Mark>,
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
        Sampler {
            last: Some(rusage()),
            load: Some(crate::load::Mark::now()),
        }
    }

    /// Marks the start of a chunk: the cumulative counters of the next
    /// [`Sampler::sample`] count from here (one `getrusage`, taken before the
    /// chunk's clock starts).
    pub fn start_chunk(&mut self) {
        self.last = Some(rusage());
        self.load = Some(crate::load::Mark::now());
    }

    /// Reads every counter this platform has.
    pub fn sample(&mut self) -> Reading {
        let mut r = Reading::new();
        let now = rusage();
        let last = self.last.replace(now).unwrap_or(now);
        let mut put = |k: &str, v: Option<u64>| {
            if let Some(v) = v {
                r.insert(k.to_string(), v);
            }
        };
        let since = |now: i64, last: i64| Some(u64::try_from(now - last).unwrap_or(0));
        let mark = crate::load::Mark::now();
        let other_cpu = self.load.replace(mark).and_then(|m| m.other_cpu_permille(&mark));
        put("vm_map_entries", vm_map_entries());
        put("rss_bytes", rss_bytes());
        put("minor_faults", since(now.minflt, last.minflt));
        put("major_faults", since(now.majflt, last.majflt));
        put("voluntary_switches", since(now.nvcsw, last.nvcsw));
        put("involuntary_switches", since(now.nivcsw, last.nivcsw));
        put("threads", threads());
        put("open_fds", Some(crate::hygiene::open_fds() as u64));
        put(crate::load::LOAD_AVG, crate::load::load_avg_1m_milli());
        put(crate::load::OTHER_CPU, other_cpu);
        for (k, v) in platform::extra() {
            put(k, Some(v));
        }
        r
    }
}

/// One series per counter that every reading has, in order (what the drift
/// attribution ranks): a record's chunks, or a transcript's chunk lines with
/// the harness's readings. Empty when the first reading is missing.
pub fn series(readings: &[Option<&Reading>]) -> Vec<(String, Vec<f64>)> {
    let Some(Some(first)) = readings.first() else {
        return Vec::new();
    };
    first
        .keys()
        .filter_map(|k| {
            let s: Option<Vec<f64>> = readings
                .iter()
                .map(|r| r.and_then(|r| r.get(k)).map(|&v| v as f64))
                .collect();
            s.map(|s| (k.clone(), s))
        })
        .collect()
}

/// A reading as the words of one line, `name=value` each, in name order:
/// what `ci/compare/harness.py` prints after an original's chunk line
/// (`Counters (extra): vm_map_entries=412 ...`, from the C-ABI library
/// `probes_capi`) and what `report` reads back with [`parse_words`].
pub fn words(r: &Reading) -> String {
    r.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// The reverse of [`words`]; `None` unless every word is `name=integer`.
pub fn parse_words(text: &str) -> Option<Reading> {
    text.split_whitespace()
        .map(|w| {
            let (k, v) = w.split_once('=')?;
            let ok = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            Some((k.to_string(), v.parse().ok().filter(|_| ok)?))
        })
        .collect()
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

/// Entries of this process's memory map, the ones `fork` copies one by one:
/// the lines of `/proc/self/maps` on Linux, `TASK_VM_INFO`'s `region_count`
/// on macOS (see the module doc).
pub fn vm_map_entries() -> Option<u64> {
    platform::vm_map_entries()
}

/// `vm_map_entries` and, on macOS, `mach_msg_regions` of this process now:
/// the two counters the witness (`crate::witness`) is held against.
pub fn map_counts() -> (Option<u64>, Option<u64>) {
    (vm_map_entries(), platform::mach_msg_regions())
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
    pub fn vm_map_entries() -> Option<u64> {
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

    /// No Mach messages on Linux.
    pub fn mach_msg_regions() -> Option<u64> {
        None
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

    /// `task_info(mach_task_self(), TASK_VM_INFO)`: one call; the kernel
    /// fills as much of the struct as it knows and `region_count` comes early
    /// in every revision of it.
    pub fn vm_map_entries() -> Option<u64> {
        let mut info = mach2::task_info::task_vm_info::default();
        let mut count = (std::mem::size_of::<mach2::task_info::task_vm_info>() / std::mem::size_of::<natural_t>())
            as mach2::message::mach_msg_type_number_t;
        // SAFETY: our own task; info is a task_vm_info and count its size in
        // natural_t units, as the flavor requires.
        let kr = unsafe {
            mach2::task::task_info(
                mach_task_self(),
                mach2::task_info::TASK_VM_INFO,
                (&mut info as *mut mach2::task_info::task_vm_info).cast(),
                &mut count,
            )
        };
        let n = info.region_count;
        (kr == KERN_SUCCESS).then(|| u64::try_from(n).unwrap_or(0))
    }

    /// One `mach_vm_region_recurse` walk: (all regions, into the submaps, as
    /// `vmmap` counts them; the regions tagged `VM_MEMORY_MACH_MSG`).
    fn region_walk() -> (u64, u64) {
        let (mut addr, mut size, mut depth): (mach_vm_address_t, mach_vm_size_t, natural_t) = (0, 0, 0);
        let (mut n, mut mach_msg) = (0u64, 0u64);
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
                return (n, mach_msg); // KERN_INVALID_ADDRESS: past the last region.
            }
            if info.is_submap != 0 {
                depth += 1; // Look inside the submap (the shared cache).
                continue;
            }
            n += 1;
            mach_msg += u64::from(info.user_tag == mach2::vm_statistics::VM_MEMORY_MACH_MSG);
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

    // Neither libc nor mach2 binds mach_port_names or mach_port_get_refs
    // (mach/mach_port.h): the calls that count a task's port names and the
    // user references of one right.
    unsafe extern "C" {
        fn mach_port_get_refs(
            task: mach2::port::mach_port_t,
            name: mach2::port::mach_port_name_t,
            right: mach2::port::mach_port_right_t,
            refs: *mut mach2::vm_types::natural_t,
        ) -> mach2::kern_return::kern_return_t;
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

    /// User references on this task's send right to itself (see the
    /// module doc: +1 per `task_for_pid` of our own pid that is not given back).
    fn task_port_urefs() -> Option<u64> {
        let mut refs = 0;
        // SAFETY: our own task and its own name; refs is an out-pointer to a local.
        let kr = unsafe {
            mach_port_get_refs(
                mach_task_self(),
                mach_task_self(),
                mach2::port::MACH_PORT_RIGHT_SEND,
                &mut refs,
            )
        };
        (kr == KERN_SUCCESS).then_some(u64::from(refs))
    }

    /// The regions tagged `VM_MEMORY_MACH_MSG` (one region walk).
    pub fn mach_msg_regions() -> Option<u64> {
        Some(region_walk().1)
    }

    /// macOS only: the region walk (all regions, and the Mach message ones),
    /// the physical footprint (what Activity Monitor shows as Memory), the
    /// Mach port names and the task port's user references.
    pub fn extra() -> Vec<(&'static str, u64)> {
        let (regions, mach_msg) = region_walk();
        let mut out = vec![("vm_regions", regions), ("mach_msg_regions", mach_msg)];
        if let Some(i) = rusage_info() {
            out.push(("phys_footprint_bytes", i.ri_phys_footprint));
        }
        if let Some(n) = mach_ports() {
            out.push(("mach_ports", n));
        }
        if let Some(n) = task_port_urefs() {
            out.push(("task_port_urefs", n));
        }
        out
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod platform {
    pub fn vm_map_entries() -> Option<u64> {
        None
    }
    pub fn mach_msg_regions() -> Option<u64> {
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
        for key in ["vm_map_entries", "rss_bytes", "minor_faults", "threads", "open_fds"] {
            assert!(before.contains_key(key), "{key} missing: {before:?}");
        }
        #[cfg(target_os = "linux")]
        assert!(
            before["page_table_bytes"] > 0 && !before.contains_key("vm_regions"),
            "one count of the map on Linux: {before:?}"
        );
        #[cfg(target_os = "macos")]
        assert!(
            before["mach_ports"] > 0
                && before["phys_footprint_bytes"] > 0
                && before["vm_regions"] > 0
                && before["task_port_urefs"] > 0
                && before.contains_key("mach_msg_regions"),
            "{before:?}"
        );
        assert!(before["vm_map_entries"] >= 5 && before["threads"] >= 1 && before["open_fds"] >= 3);

        // 64 separate mappings (alternating protections cannot merge, see
        // `churn`), each page touched: map entries up by at least 60, minor
        // faults by at least 32 (the writable half; the rest map the zero page).
        let mut churn = crate::churn::MapChurn::new(64, 1).unwrap();
        churn.before_call().unwrap();
        let after = s.sample();
        assert!(
            after["vm_map_entries"] >= before["vm_map_entries"] + 60,
            "{before:?} -> {after:?}"
        );
        #[cfg(target_os = "macos")]
        assert!(
            after["vm_regions"] >= before["vm_regions"] + 60,
            "{before:?} -> {after:?}"
        );
        assert!(after["minor_faults"] >= 32, "{after:?}");
        drop(churn);
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(s.sample()["open_fds"], after["open_fds"] + 1);
        drop(file);
    }
}

#[cfg(test)]
mod compat_tests {
    use super::*;

    #[derive(Deserialize)]
    struct Chunk {
        #[serde(default, deserialize_with = "read_compat")]
        resources: Option<Reading>,
    }

    #[test]
    fn counts_are_integers_and_old_float_records_still_read() {
        let mut r = Reading::new();
        r.insert("vm_map_entries".into(), 35);
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"vm_map_entries":35}"#);
        let old: Chunk = serde_json::from_str(r#"{"resources":{"vm_regions":35.0,"rss_bytes":4096.0}}"#).unwrap();
        let new: Chunk = serde_json::from_str(r#"{"resources":{"vm_map_entries":36}}"#).unwrap();
        let none: Chunk = serde_json::from_str("{}").unwrap();
        assert_eq!(old.resources.unwrap()["vm_regions"], 35);
        assert_eq!(new.resources.unwrap()["vm_map_entries"], 36);
        assert!(none.resources.is_none());
    }

    #[test]
    fn words_read_back() {
        let mut r = Reading::new();
        r.insert("vm_map_entries".into(), 412);
        r.insert("mach_msg_regions".into(), 3);
        assert_eq!(words(&r), "mach_msg_regions=3 vm_map_entries=412");
        assert_eq!(parse_words(&words(&r)), Some(r));
        assert_eq!(parse_words("vm_map_entries=4.5"), None);
        assert_eq!(parse_words("a b=1"), None);
        assert_eq!(parse_words("x-y=1"), None);
    }
}
