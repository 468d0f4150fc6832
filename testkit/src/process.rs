//! Running a binary of the suite as a test sees it: in its own process group,
//! with no process left behind, and its exit code, stdout and stderr checked
//! by `assert_cmd`'s [`Assert`].
//!
//! assert_cmd runs a `Command` itself and never shows the child's pid, so the
//! process group and the orphan check after the exit are ours: we spawn and
//! wait, then hand the `Output` to assert_cmd (`Assert::new`, as its
//! `OutputAssertExt` does). Every failed check then prints the arguments, the
//! exit status, stdout and stderr.

use crate::assert_no_orphans;
use assert_cmd::assert::Assert;
use nix::sys::resource::{setrlimit, Resource};
use predicates::prelude::*;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary at `bin` (`assert_cmd::cargo::cargo_bin!("<name>")`), to be
/// started in a process group of its own: after it exits, any process left
/// in the group is an orphan (a worker, child or forkserver it failed to
/// reap).
pub fn command(bin: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.process_group(0);
    cmd
}

/// What a finished run left: its exit code (-1 if a signal ended it) and its
/// output, as text for the checks that read it line by line, and as
/// assert_cmd's [`Assert`] ([`Run::assert`]) for the checks of exit code,
/// stdout and stderr.
#[derive(Debug)]
pub struct Run {
    /// The exit status, or -1 if a signal ended the run.
    pub code: i32,
    /// All of stdout (for [`with_stdout_closed_after_first_line`], the first line).
    pub out: String,
    /// All of stderr.
    pub err: String,
    status: ExitStatus,
    what: String,
}

impl Run {
    /// `what` names the run in a failed check: its arguments.
    fn new(what: String, status: ExitStatus, out: String, err: String) -> Run {
        Run {
            code: status.code().unwrap_or(-1),
            out,
            err,
            status,
            what,
        }
    }

    /// assert_cmd's checks on this run: `.code(2)`, `.success()`,
    /// `.stdout(predicate)`, `.stderr(..)`; a failure shows the arguments,
    /// the status and both streams.
    pub fn assert(&self) -> Assert {
        let output = Output {
            status: self.status,
            stdout: self.out.clone().into_bytes(),
            stderr: self.err.clone().into_bytes(),
        };
        Assert::new(output).append_context("args", self.what.clone())
    }

    /// The run's stdout, after checking that it exited 0.
    pub fn assert_success(&self) -> &str {
        self.assert().success();
        &self.out
    }

    /// The run's stderr, after checking that it failed with `code` and wrote
    /// exactly one line there (the suite's rule for a user error or a failed
    /// worker), and no panic.
    pub fn one_line_error(&self, code: i32) -> &str {
        self.assert().code(code).stderr(one_line());
        &self.err
    }
}

/// The arguments of `cmd`, as a failed check names the run.
fn args_of(cmd: &Command) -> String {
    format!("{:?}", cmd.get_args().collect::<Vec<_>>())
}

/// The stderr of a user error or a failed worker: one line, ending in a
/// newline, with no panic in it.
pub fn one_line() -> impl Predicate<str> {
    predicate::function(|err: &str| err.lines().count() == 1 && err.ends_with('\n'))
        .fn_name("one line ending in a newline")
        .and(predicate::str::contains("panicked").not())
}

/// Runs `bin args` to its end (see [`run_with`]).
pub fn run(bin: impl AsRef<OsStr>, args: &[&str]) -> Run {
    run_with(command(bin).args(args))
}

/// The words of `line`, split at white space: a test's arguments written on
/// one line, as at a shell prompt (`"--numcalls 100 --ncpus 2 --sleep 0"`),
/// instead of one string per line of a slice. No quoting: an argument that
/// may hold a space (a path) is passed on its own.
pub fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// [`run`] with the arguments written on one line ([`args`]).
pub fn run_str(bin: impl AsRef<OsStr>, line: &str) -> Run {
    run(bin, &args(line))
}

/// Runs `cmd` to its end as [`run_with`] does, checks that it exited 0, and
/// returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let run = run_with(cmd);
    run.assert_success();
    run.out
}

/// Starts `cmd` (made by [`command`]) with stdout and stderr piped: a run
/// the test reads while it goes on ([`read_lines_until`]), signals, or waits
/// for.
pub fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Runs `cmd` (made by [`command`], so in its own process group) to its end
/// with stdout and stderr piped, then checks that its group is empty.
pub fn run_with(cmd: &mut Command) -> Run {
    let child = spawn_piped(cmd);
    let pgid = child.id() as i32;
    let out = child.wait_with_output().unwrap();
    assert_no_orphans(pgid);
    let text = |bytes| String::from_utf8(bytes).unwrap();
    Run::new(args_of(cmd), out.status, text(out.stdout), text(out.stderr))
}

/// As [`run`], and the time from the first line on stdout (the run has
/// begun) to the exit: a fault in the first calls must end the run within a
/// bound, which the caller asserts.
pub fn run_timed(bin: impl AsRef<OsStr>, args: &[&str]) -> (Run, Duration) {
    let mut cmd = command(bin);
    let mut child = spawn_piped(cmd.args(args));
    let pgid = child.id() as i32;
    let mut stderr = child.stderr.take().unwrap();
    // Read beside stdout: a long stderr must not block the binary.
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    stdout.read_line(&mut out).unwrap();
    let begun = Instant::now();
    stdout.read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    let elapsed = begun.elapsed();
    assert_no_orphans(pgid);
    (Run::new(args_of(&cmd), status, out, err.join().unwrap()), elapsed)
}

/// `cmd | head -1`: starts `cmd` (stdout and stderr piped), reads its first
/// line, closes the pipe, then waits for the exit and checks that no process
/// is left. The returned [`Run::out`] is that first line.
pub fn with_stdout_closed_after_first_line(cmd: &mut Command) -> Run {
    let mut child = spawn_piped(cmd);
    let pgid = child.id() as i32;
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the read end of the pipe is closed.
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert_no_orphans(pgid);
    Run::new(args_of(cmd), status, first, err)
}

/// Reads `child`'s stdout (piped) until `count` lines satisfy `wanted`, so
/// that the run is known to be under way (the header printed, a chunk done,
/// the workers up); panics if it ends first. Returns the reader, to be kept
/// open while the run goes on (a closed stdout ends it), and the last line
/// read.
pub fn read_lines_until(
    child: &mut Child,
    count: usize,
    wanted: impl Fn(&str) -> bool,
) -> (BufReader<ChildStdout>, String) {
    let mut out = BufReader::new(child.stdout.take().expect("stdout piped"));
    let (mut line, mut seen) = (String::new(), 0);
    while seen < count {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "output ended early");
        seen += usize::from(wanted(&line));
    }
    (out, line)
}

/// The end of a run started by [`spawn_piped`] whose stdout a test has been
/// reading ([`read_lines_until`]) and has, say, signalled: reads the rest of
/// stdout and all of stderr, waits for the exit, and checks that its process
/// group is empty. [`Run::out`] is the stdout read here, after `stdout`'s
/// buffer.
pub fn wait_for_end(child: Child, mut stdout: BufReader<ChildStdout>) -> Run {
    let pgid = child.id() as i32;
    // Read beside stderr: neither pipe may fill up and block the binary.
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let output = child.wait_with_output().unwrap();
    assert_no_orphans(pgid);
    Run::new(
        "a run read while it went on".into(),
        output.status,
        rest.join().unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// `ulimit -Sn soft -Hn hard` for the binary `cmd` starts, only.
pub fn limit_open_files(cmd: &mut Command, soft: u64, hard: u64) {
    limit(cmd, Resource::RLIMIT_NOFILE, soft, hard);
}

/// `ulimit -u n` (soft and hard) for the binary `cmd` starts, only: the
/// processes and threads its user may have (`RLIMIT_NPROC`, counted over
/// every process of the user, so a test gives the binary a uid of its own).
/// Through `libc`: nix has no `RLIMIT_NPROC` on macOS.
pub fn limit_processes(cmd: &mut Command, n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n as libc::rlim_t,
        rlim_max: n as libc::rlim_t,
    };
    // SAFETY: the hook runs between fork and exec (after any uid change) and
    // calls only setrlimit, which is async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NPROC, &lim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

fn limit(cmd: &mut Command, resource: Resource, soft: u64, hard: u64) {
    // SAFETY: the hook runs between fork and exec (after any uid change) and
    // calls only setrlimit, which is async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || setrlimit(resource, soft, hard).map_err(std::io::Error::from));
    }
}

/// The run record (`--json PATH`) a binary wrote.
pub fn read_record(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `bin --help` exits 0 and its stdout holds every one of `wanted` (the
/// hypothesis a binary tests, its rule, a flag's documentation).
pub fn assert_help_mentions(bin: impl AsRef<OsStr>, wanted: &[&str]) {
    let mut assert = run(bin, &["--help"]).assert().success();
    for text in wanted {
        assert = assert.stdout(predicate::str::contains(*text));
    }
}

/// `bin args` is a usage error: exit 2, nothing on stdout (the experiment
/// never started), and one line on stderr that contains `needle` (the flag,
/// or its accepted range). Returns that line, for further checks.
pub fn assert_usage_error(bin: impl AsRef<OsStr>, args: &[&str], needle: &str) -> String {
    assert_usage_error_with(command(bin).args(args), needle)
}

/// As [`assert_usage_error`], for a command with its own environment.
pub fn assert_usage_error_with(cmd: &mut Command, needle: &str) -> String {
    let run = run_with(cmd);
    run.assert()
        .code(2)
        .stdout(predicate::str::is_empty().name("nothing: the experiment never started"))
        .stderr(one_line().and(predicate::str::contains(needle)));
    run.err
}
