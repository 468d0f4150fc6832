//! What several of `report`'s test files share: the quick run of
//! `tests/data/quick-linux` edited to stand for a Mac's.

use std::path::{Path, PathBuf};

/// `tests/data/quick-linux`: what `ci/diagnose.sh --quick` wrote here.
pub fn quick_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/quick-linux")
}

/// The quick run's files whose names `keep` accepts, sorted, copied to
/// `dir` edited to stand for a Mac's: each record's system says macOS
/// (`Darwin`, `macOS 15.5`, arm64), each harness line `on macOS 15.5, arm64`.
pub fn quick_as_a_mac(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(quick_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| keep(p.file_name().unwrap().to_str().unwrap()))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = if name.ends_with(".json") {
            let mut rec: timing::RunRecord = serde_json::from_str(&text).unwrap();
            rec.system.os = "Darwin".into();
            rec.system.os_version = "macOS 15.5".into();
            rec.system.arch = "arm64".into();
            serde_json::to_string(&rec).unwrap()
        } else {
            text.replace("on Debian GNU/Linux 12 (bookworm), x86_64;", "on macOS 15.5, arm64;")
        };
        let copy = dir.join(&name);
        std::fs::write(&copy, text).unwrap();
        out.push(copy);
    }
    out
}
