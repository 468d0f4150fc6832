//! System metadata for the run record: enough to tell two machines apart in a
//! cross-machine report (the drift was seen only on macOS 15, Apple Silicon).

use serde::{Deserialize, Serialize};

/// The machine a record was made on: a drift seen on one machine and not on
/// another is only comparable if the record says which was which.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// `uname -s`: `Linux`, `Darwin`.
    pub os: String,
    /// Marketing version: `macOS 15.4.1`, `Debian GNU/Linux 12 (bookworm)`.
    pub os_version: String,
    /// `uname -r`.
    pub kernel: String,
    /// `uname -m`: `x86_64`, `arm64`, `aarch64`.
    pub arch: String,
    /// The CPU's name (`machdep.cpu.brand_string` on macOS, `model name` of
    /// `/proc/cpuinfo` on Linux), or the architecture where neither exists.
    pub cpu_model: String,
    /// Logical CPUs: the originals' default `ncpus=8` is more than a 2-core
    /// machine has, which changes what a call costs.
    pub logical_cores: usize,
    /// Physical cores (fewer than logical ones with SMT).
    pub physical_cores: usize,
    // The fields below came later: `serde(default)` keeps older records
    // readable (0 / null there means "not recorded").
    /// Bytes per VM page (`sysconf(_SC_PAGESIZE)`): 16384 on Apple Silicon,
    /// 4096 on most others. fork() copies page tables, so it is part of what
    /// is measured.
    #[serde(default)]
    pub page_size: u64,
    /// macOS build (`kern.osversion`, e.g. `24E263`): two machines on one
    /// marketing version can differ. `None` off macOS.
    #[serde(default)]
    pub os_build: Option<String>,
    /// Performance cores (`hw.perflevel0.logicalcpu`) on macOS with more than
    /// one kind of core; `None` elsewhere.
    #[serde(default)]
    pub performance_cores: Option<u32>,
    /// Efficiency cores (`hw.perflevel1.logicalcpu`), as above.
    #[serde(default)]
    pub efficiency_cores: Option<u32>,
    /// The process runs translated by Rosetta 2 (`sysctl.proc_translated`):
    /// an x86-64 build on Apple Silicon measures the translator too. `None`
    /// off macOS.
    #[serde(default)]
    pub rosetta: Option<bool>,
    /// Linux `vm.max_map_count`, the limit `--map-churn` runs against.
    #[serde(default)]
    pub max_map_count: Option<u64>,
    /// Linux transparent huge pages setting, the bracketed word of
    /// `/sys/kernel/mm/transparent_hugepage/enabled` (`always`, `madvise`,
    /// `never`): huge pages change what fork() copies.
    #[serde(default)]
    pub transparent_hugepages: Option<String>,
}

impl SystemInfo {
    /// Reads the machine. Never spawns a thread or a process (the parent of a
    /// fork-per-job run must stay single-threaded and uncluttered).
    pub fn collect() -> SystemInfo {
        let (os, kernel, arch) = match nix::sys::utsname::uname() {
            Ok(u) => (
                u.sysname().to_string_lossy().into_owned(),
                u.release().to_string_lossy().into_owned(),
                u.machine().to_string_lossy().into_owned(),
            ),
            Err(_) => (
                std::env::consts::OS.into(),
                String::new(),
                std::env::consts::ARCH.into(),
            ),
        };
        SystemInfo {
            os_version: os_version().unwrap_or_else(|| format!("{os} {kernel}")),
            cpu_model: cpu_model().unwrap_or_else(|| arch.clone()),
            os,
            kernel,
            arch,
            logical_cores: num_cpus::get(),
            physical_cores: num_cpus::get_physical(),
            page_size: page_size() as u64,
            os_build: os_build(),
            performance_cores: perflevel_cores(0),
            efficiency_cores: perflevel_cores(1),
            rosetta: rosetta(),
            max_map_count: max_map_count(),
            transparent_hugepages: transparent_hugepages(),
        }
    }
}

pub use probes::{max_map_count, page_size};

fn transparent_hugepages() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    bracketed(&std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?)
}

/// The selected word of a sysfs choice list: `always [madvise] never` gives
/// `madvise`.
fn bracketed(text: &str) -> Option<String> {
    let (_, rest) = text.split_once('[')?;
    let (word, _) = rest.split_once(']')?;
    Some(word.trim().to_string()).filter(|w| !w.is_empty())
}

#[cfg(target_os = "macos")]
fn sysctl_string(name: &str) -> Option<String> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 256];
    let mut len = buf.len();
    // SAFETY: buf and len describe a valid writable buffer; a null new value.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let s = &buf[..len.min(buf.len())];
    let s = s.split(|&b| b == 0).next().unwrap_or(s);
    Some(String::from_utf8_lossy(s).trim().to_string()).filter(|s| !s.is_empty())
}

/// An integer sysctl (`int` in the kernel); `Err(errno)` when it fails
/// (`ENOENT`: no such name on this machine).
#[cfg(target_os = "macos")]
fn sysctl_int(name: &str) -> Result<i32, nix::errno::Errno> {
    let cname = std::ffi::CString::new(name).map_err(|_| nix::errno::Errno::EINVAL)?;
    let mut value: i32 = 0;
    let mut len = std::mem::size_of::<i32>();
    // SAFETY: value and len describe a valid writable i32; a null new value.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            (&mut value as *mut i32).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(value)
}

#[cfg(target_os = "macos")]
fn os_build() -> Option<String> {
    sysctl_string("kern.osversion")
}

/// Logical cores of performance level `level` (0 = performance, 1 =
/// efficiency); `None` on Macs with one kind of core (Intel).
#[cfg(target_os = "macos")]
fn perflevel_cores(level: u32) -> Option<u32> {
    let n = sysctl_int(&format!("hw.perflevel{level}.logicalcpu")).ok()?;
    u32::try_from(n).ok()
}

/// Apple's documented test: `sysctl.proc_translated` is 1 under Rosetta, 0
/// for a native process, and absent (`ENOENT`) on Intel Macs (native).
#[cfg(target_os = "macos")]
fn rosetta() -> Option<bool> {
    match sysctl_int("sysctl.proc_translated") {
        Ok(v) => Some(v == 1),
        Err(nix::errno::Errno::ENOENT) => Some(false),
        Err(_) => None,
    }
}

#[cfg(not(target_os = "macos"))]
fn os_build() -> Option<String> {
    None
}

#[cfg(not(target_os = "macos"))]
fn perflevel_cores(_level: u32) -> Option<u32> {
    None
}

#[cfg(not(target_os = "macos"))]
fn rosetta() -> Option<bool> {
    None
}

#[cfg(target_os = "macos")]
fn os_version() -> Option<String> {
    sysctl_string("kern.osproductversion").map(|v| format!("macOS {v}"))
}

#[cfg(target_os = "macos")]
fn cpu_model() -> Option<String> {
    sysctl_string("machdep.cpu.brand_string")
}

#[cfg(not(target_os = "macos"))]
fn os_version() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

#[cfg(not(target_os = "macos"))]
fn cpu_model() -> Option<String> {
    // /proc may be absent (containers, BSD): the caller falls back to the arch.
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| matches!(k.trim(), "model name" | "Model" | "cpu model" | "Hardware"))
        .map(|(_, v)| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn bracketed_picks_the_selected_word() {
        assert_eq!(super::bracketed("always [madvise] never\n").as_deref(), Some("madvise"));
        assert_eq!(super::bracketed("[always] madvise never").as_deref(), Some("always"));
        assert_eq!(super::bracketed("always madvise never"), None);
        assert_eq!(super::bracketed("always [] never"), None);
    }
}
