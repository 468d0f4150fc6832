//! What every test file of test_threads_sleep starts from.

use testkit::cargo_bin;

/// The binary, in a process group of its own (`testkit::command`), without
/// the caller's `NCPUS`: a test's thread count is its `--ncpus`, or the
/// `NCPUS` it sets itself.
pub fn bin() -> std::process::Command {
    let mut cmd = testkit::command(cargo_bin!("test_threads_sleep"));
    cmd.env_remove("NCPUS");
    cmd
}
