//! Thread creation that fails (issue: a silent exit 101 under a process
//! limit) and panics that are bugs: one line and exit 1 for the first, the
//! normal panic message for the second.

use assert_cmd::Command;

fn bin() -> Command {
    let mut c = Command::cargo_bin("test_threads_sleep").unwrap();
    c.env_remove("NCPUS");
    c
}

const RUNTIMES: [&str; 4] = ["team", "rayon", "scoped", "channel"];

#[test]
fn a_thread_that_cannot_be_created_is_one_line_and_exit_1() {
    for rt in RUNTIMES {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        let out = bin()
            .args(["--runtime", rt, "--ncpus", "8", "--numcalls", "5", "--sleep", "0"])
            .args(["--inject-spawn-failure", "3", "--json", p.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{rt}: {err}");
        assert_eq!(
            err, "test_threads_sleep: cannot create thread 3 of 8: Resource temporarily unavailable\n",
            "{rt}"
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.starts_with("I am set up to use 8 threads.\n"), "{rt}: {stdout}");
        assert!(!stdout.contains(" @para "), "{rt}: no call ran: {stdout}");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(
            v["failure"], "cannot create thread 3 of 8: Resource temporarily unavailable",
            "{rt}"
        );
    }
}

#[test]
fn a_panic_outside_iterations_prints_normally() {
    let out = bin()
        .args(["--ncpus", "2", "--numcalls", "1", "--inject-bug"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(101), "{err}");
    assert!(err.contains("panicked at"), "{err}");
    assert!(err.contains("injected bug outside any iteration"), "{err}");
}

/// A real process limit: as root, the binary runs under a uid of its own
/// (no other process has it) with `RLIMIT_NPROC` 3, so the kernel lets it
/// have three tasks: the main thread and threads 2 and 3 of the team.
#[cfg(target_os = "linux")]
#[test]
fn rlimit_nproc_stops_the_team_at_thread_4() {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root to run the binary under another uid");
        return;
    }
    let uid = 61_000 + std::process::id() % 4000;
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("test_threads_sleep"));
    cmd.args(["--ncpus", "8", "--numcalls", "5", "--sleep", "0"])
        .env_remove("NCPUS")
        .uid(uid)
        .gid(uid);
    // SAFETY: setrlimit is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 3,
                rlim_max: 3,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            println!("skipped: cannot run under uid {uid}: {e}");
            return;
        }
    };
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "test_threads_sleep: cannot create thread 4 of 8: Resource temporarily unavailable\n"
    );
}
