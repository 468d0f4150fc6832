//! `report`'s outputs follow the suite's safety rules: a closed stdout
//! ends it quietly, `--markdown` / `--svg` go through `cli::sink`
//! (symlinks followed, devices written through, checked before any input is
//! read).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use testkit::{cargo_bin, run_with};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn report() -> Command {
    testkit::command(cargo_bin!("report"))
}

#[test]
fn a_closed_stdout_is_exit_0_and_no_message() {
    let mut child = report()
        .arg(data("seed_sage_parallel_v2.txt"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `report ... | head -0`: the reader is gone before the table is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "");
}

#[test]
fn markdown_through_a_symlink_replaces_the_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("table.md");
    std::fs::write(&target, "old\n".repeat(1000)).unwrap();
    let link = dir.path().join("link.md");
    std::os::unix::fs::symlink("table.md", &link).unwrap();
    run_with(
        report()
            .arg(data("seed_sage_parallel_v2.txt"))
            .arg("--markdown")
            .arg(&link),
    )
    .assert_success();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.starts_with("| source |") && !text.contains("old"), "{text}");
}

#[test]
fn unwritable_outputs_fail_before_reading_inputs_and_a_full_device_after() {
    // Checked first: the input does not even exist, the output error wins.
    let err = testkit::assert_usage_error(
        cargo_bin!("report"),
        &["/no/such/input.txt", "--svg", "/no/such/dir/plot.svg"],
        "--svg",
    );
    assert!(
        err.starts_with("report: --svg /no/such/dir/plot.svg: cannot create a file in /no/such/dir"),
        "{err}"
    );
    if !std::path::Path::new("/dev/full").exists() {
        println!("skipped the /dev/full case: not on this system (Linux has it)");
        return;
    }
    let r = run_with(
        report()
            .arg(data("seed_sage_parallel_v2.txt"))
            .args(["--markdown", "/dev/full"]),
    );
    r.assert().code(1);
    assert_eq!(
        r.err,
        "report: --markdown /dev/full: No space left on device (os error 28)\n"
    );
}
