//! The machine metadata of every record (`timing::system`): every field
//! filled, and on Linux each checked against a source read here, not through
//! the code under test.

use timing::system::SystemInfo;

#[test]
fn collect_fills_every_field() {
    let s = SystemInfo::collect();
    assert!(!s.os.is_empty() && !s.kernel.is_empty() && !s.arch.is_empty());
    assert!(!s.os_version.is_empty() && !s.cpu_model.is_empty());
    assert!(s.logical_cores >= 1 && s.physical_cores >= 1);
    assert!(s.physical_cores <= s.logical_cores, "{s:?}");
    assert!(s.page_size >= 4096 && s.page_size.is_power_of_two(), "{}", s.page_size);
}

/// On Linux each field is checked against a source read here, not
/// through the code under test.
#[cfg(target_os = "linux")]
#[test]
fn linux_fields_match_the_system() {
    let s = SystemInfo::collect();
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

#[cfg(target_os = "linux")]
#[test]
fn linux_fields_are_read_and_macos_ones_are_absent() {
    let s = SystemInfo::collect();
    if std::path::Path::new("/proc/sys/vm/max_map_count").exists() {
        assert!(s.max_map_count.is_some_and(|n| n > 0), "{:?}", s.max_map_count);
    }
    if std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
        let thp = s.transparent_hugepages.as_deref();
        assert!(matches!(thp, Some("always" | "madvise" | "never")), "{thp:?}");
    }
    assert_eq!(s.os_build, None);
    assert_eq!((s.performance_cores, s.efficiency_cores, s.rosetta), (None, None, None));
}

#[test]
fn records_without_the_newer_fields_still_read() {
    let old = r#"{"os":"Darwin","os_version":"macOS 15.4.1","kernel":"24.4.0",
        "arch":"arm64","cpu_model":"Apple M2","logical_cores":8,"physical_cores":8}"#;
    let s: SystemInfo = serde_json::from_str(old).unwrap();
    assert_eq!(s.cpu_model, "Apple M2");
    assert_eq!(
        (s.page_size, s.os_build, s.rosetta, s.max_map_count),
        (0, None, None, None)
    );
    let new = SystemInfo::collect();
    let back: SystemInfo = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
    assert_eq!(back, new);
}
