//! System metadata for the run record: enough to tell two machines apart in a
//! cross-machine report (the drift was seen only on macOS 15, Apple Silicon).

use serde::{Deserialize, Serialize};

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
    pub cpu_model: String,
    pub logical_cores: usize,
    pub physical_cores: usize,
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
        }
    }
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
    fn collect_fills_every_field() {
        let s = super::SystemInfo::collect();
        assert!(!s.os.is_empty() && !s.kernel.is_empty() && !s.arch.is_empty());
        assert!(!s.os_version.is_empty() && !s.cpu_model.is_empty());
        assert!(s.logical_cores >= 1 && s.physical_cores >= 1);
        assert!(s.physical_cores <= s.logical_cores, "{s:?}");
    }

    /// On Linux each field is checked against a source read here, not
    /// through the code under test.
    #[cfg(target_os = "linux")]
    #[test]
    fn linux_fields_match_the_system() {
        let s = super::SystemInfo::collect();
        assert_eq!(s.os, "Linux");
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(s.kernel, release.trim());
        assert!(
            s.arch == std::env::consts::ARCH || (s.arch == "arm64" && std::env::consts::ARCH == "aarch64"),
            "{s:?}"
        );
        if let Ok(text) = std::fs::read_to_string("/etc/os-release") {
            let pretty = text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="));
            if let Some(p) = pretty {
                assert_eq!(s.os_version, p.trim_matches('"'));
            }
        }
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        if let Some(model) = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")) {
            assert_eq!(s.cpu_model, model.trim_start_matches([' ', '\t', ':']).trim());
        }
        // Logical CPUs the scheduler lets us use: at most the online ones.
        let online = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
        assert!(
            s.logical_cores >= 1 && s.logical_cores <= online,
            "{} vs {online}",
            s.logical_cores
        );
    }
}
