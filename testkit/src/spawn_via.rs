//! procpool's `--spawn-via posix-spawn|fork-exec`, the two ways its binaries
//! start a fresh process (a forkserver or a spawned worker): each path must
//! serve the jobs and be recorded, and a failed `execve` on either must be
//! one line. One helper per property, for every binary built on procpool.

use crate::{args, command, one_line, read_record, run_with, stdout_of};
use predicates::prelude::*;
use std::path::Path;

/// The values of `--spawn-via`.
pub const SPAWN_PATHS: [&str; 2] = ["posix-spawn", "fork-exec"];

/// Runs `bin` with the arguments of `line` ([`args`]) plus `--workers` and
/// `--json`, once per path of [`SPAWN_PATHS`]. Each run must exit 0, print
/// worker lines whose workers have `parent` ("this process", "the forkserver")
/// and the memory of a fresh exec, and record the path in its params.
/// Returns each run's stdout, for the caller's own checks.
pub fn assert_both_spawn_paths_serve(bin: &Path, line: &str, parent: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for via in SPAWN_PATHS {
        let json = dir.path().join(format!("{via}.json"));
        let mut cmd = command(bin);
        cmd.args(["--spawn-via", via, "--workers"]).args(args(line));
        let out = stdout_of(cmd.arg("--json").arg(&json));
        for worker in crate::lines::worker_lines(&out) {
            assert!(worker.contains(&format!("parent {parent}")), "{via}: {worker}");
            assert!(worker.ends_with("memory of a fresh exec"), "{via}: {worker}");
        }
        assert_eq!(read_record(&json)["params"]["spawn_via"], via, "{line}");
        outs.push(out);
    }
    outs
}

/// Runs `bin` with the arguments of `line` once per path of [`SPAWN_PATHS`],
/// its `execve` pointed at no file (the hidden `PROCPOOL_EXEC_PATH`): each
/// run must fail with exit 1 and exactly the line `want`.
pub fn assert_failed_exec_is_one_line(bin: &Path, line: &str, want: &str) {
    for via in SPAWN_PATHS {
        let r = run_with(
            command(bin)
                .args(["--spawn-via", via])
                .args(args(line))
                .env("PROCPOOL_EXEC_PATH", "/nonexistent/procpool-exec"),
        );
        r.assert()
            .append_context("case", format!("{via} {line}"))
            .code(1)
            .stderr(one_line().and(predicate::eq(want)));
    }
}
