//! What every test file of test_threads_sleep starts from.

/// The binary, in a process group of its own (`testkit::command`), without
/// the caller's `NCPUS`: a test's thread count is its `--ncpus`, or the
/// `NCPUS` it sets itself.
pub fn bin() -> std::process::Command {
    let mut cmd = testkit::command(env!("CARGO_BIN_EXE_test_threads_sleep"));
    cmd.env_remove("NCPUS");
    cmd
}
