//! Every bound on an input (`report_read::bounds`), met by inputs made
//! here past it: exit 1 and one line on stderr naming the file, the
//! block's line and the bound, never a silent cut, and no hang on a FIFO
//! without a writer. The bounds are the real ones; the inputs are made in
//! a temporary folder (sparse where they are big, a pasted block of zeros
//! compressed by hand).

use base64::Engine;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;
use testkit::{cargo_bin, command, run_with};

static BIN: LazyLock<&Path> = LazyLock::new(|| cargo_bin!("report"));

fn report() -> Command {
    command(*BIN)
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The one line `cmd` writes on stderr, after checking that it exited 1
/// and wrote nothing on stdout.
fn error_of(cmd: &mut Command) -> String {
    let run = run_with(cmd);
    run.one_line_error(1);
    assert_eq!(run.out, "", "{}", run.err);
    run.err
}

fn error_line(path: &Path, rest: &str) -> String {
    format!("report: {}: {rest}\n", path.display())
}

/// A document as `ci/diagnose.sh` writes it (the block's first line is
/// line 4), holding `gz` as its block's payload.
fn document(dir: &Path, gz: &[u8]) -> PathBuf {
    let payload = base64::engine::general_purpose::STANDARD.encode(gz);
    let lines: Vec<&str> = payload
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let doc = format!(
        "Machine: M\n\n```text\nreport-runs v2 (gzip+base64)\n{}\nreport-runs end\n```\n",
        lines.join("\n")
    );
    let path = dir.join("diag.md");
    std::fs::write(&path, doc).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn a_file_past_64_mib_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.txt");
    std::fs::File::create(&big).unwrap().set_len((64 << 20) + 1).unwrap();
    let err = error_of(report().arg(&big));
    assert_eq!(err, error_line(&big, "more than 64 MiB (the bound on one input)"));
    // The same bytes on standard input, read to the bound.
    let err = error_of(report().arg("-").stdin(std::fs::File::open(&big).unwrap()));
    assert_eq!(
        err,
        "report: standard input: more than 64 MiB (the bound on one input)\n"
    );
}

#[test]
fn a_device_that_never_ends_is_one_line() {
    let err = error_of(report().arg("/dev/zero"));
    assert_eq!(err, "report: /dev/zero: more than 64 MiB (the bound on one input)\n");
}

#[test]
fn a_fifo_without_a_writer_is_one_line_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // The timeout only guards against a hang: it ends the run, which fails.
    assert_cmd::Command::new(*BIN)
        .arg(&fifo)
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1)
        .stdout("")
        .stderr(error_line(
            &fifo,
            "a FIFO with no writer (report reads a FIFO only once something has it open for writing)",
        ));
}

#[test]
fn dash_is_standard_input() {
    let seed = data("seed_sage_parallel_v2.txt");
    let from_file = run_with(report().arg(&seed)).assert_success().to_string();
    let run = run_with(report().arg("-").stdin(std::fs::File::open(&seed).unwrap()));
    let from_stdin = run.assert_success();
    assert!(
        from_stdin.contains("| standard input:1-59 (transcript) |"),
        "{from_stdin}"
    );
    assert_eq!(
        from_stdin.replace("standard input", "seed_sage_parallel_v2.txt"),
        from_file
    );
    // --paste-block reads it once, and its block reads back to the same table.
    let run = run_with(
        report()
            .args(["--paste-block", "-"])
            .stdin(std::fs::File::open(&seed).unwrap()),
    );
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("diag.md");
    std::fs::write(&doc, run.assert_success()).unwrap();
    assert_eq!(run_with(report().arg(&doc)).assert_success(), from_stdin);
}

/// `mib` MiB of zeros as a gzip stream: one MiB compressed with a full
/// flush (which forgets what came before, so the same bytes follow
/// themselves), `mib` times, then the end (an empty last block, the CRC
/// and the length).
fn zeros_gz(mib: usize) -> Vec<u8> {
    let mut deflate = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut one = Vec::with_capacity(1 << 20);
    deflate
        .compress_vec(&vec![0; 1 << 20], &mut one, flate2::FlushCompress::Full)
        .unwrap();
    assert_eq!(deflate.total_in(), 1 << 20);
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut crc = flate2::Crc::new();
    for _ in 0..mib {
        gz.extend_from_slice(&one);
        crc.update(&vec![0; 1 << 20]);
    }
    gz.extend_from_slice(&[3, 0]);
    gz.extend_from_slice(&crc.sum().to_le_bytes());
    gz.extend_from_slice(&crc.amount().to_le_bytes());
    gz
}

#[test]
fn a_block_past_256_mib_unpacked_is_one_line_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let doc = document(dir.path(), &zeros_gz(257));
    let err = error_of(report().arg(&doc));
    assert_eq!(
        err,
        error_line(
            &doc,
            "block at line 4: unpacks to more than 256 MiB (the bound on one pasted block)"
        )
    );
}

#[test]
fn blocks_past_256_mib_unpacked_in_all_are_one_line_naming_the_last() {
    // Three blocks of 100 MiB (unpacked, then counted, 100 KB pasted
    // each): the third takes them past 256 MiB, and none of their inputs
    // is read.
    let dir = tempfile::tempdir().unwrap();
    let block = std::fs::read_to_string(document(dir.path(), &zeros_gz(100))).unwrap();
    let doc = dir.path().join("thread.md");
    let machines = ["Mac A", "Mac B", "Mac C"].map(|m| block.replace("Machine: M", &format!("Machine: {m}")));
    std::fs::write(&doc, machines.concat()).unwrap();
    let err = error_of(report().arg(&doc));
    let third = block.lines().count() * 2 + 4;
    let want = format!(
        "block at line {third}: the blocks up to this one unpack to more than 256 MiB \
         (the bound on the blocks of one input)"
    );
    assert_eq!(err, error_line(&doc, &want));
    // Two of them are within the bound: counted, then read (a line of zeros).
    std::fs::write(&doc, machines[..2].concat()).unwrap();
    let err = error_of(report().arg(&doc));
    let want = "block at line 4: an input's name of more than 1024 characters (the bound on a label)";
    assert_eq!(err, error_line(&doc, want));
}

#[test]
fn more_than_10000_blocks_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let payload = base64::engine::general_purpose::STANDARD.encode(gzip(b""));
    let block = format!("report-runs v2 (gzip+base64)\n{payload}\nreport-runs end\n");
    let doc = dir.path().join("blocks.md");
    std::fs::write(&doc, block.repeat(10_001)).unwrap();
    let err = error_of(report().arg(&doc));
    let want = "block at line 30001: more than 10000 blocks (the bound on the blocks of one input)";
    assert_eq!(err, error_line(&doc, want));
}

#[test]
fn an_input_of_a_block_past_64_mib_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let doc = document(
        dir.path(),
        &gzip(format!("{} \"big.txt\"\nabc\n", (64 << 20) + 1).as_bytes()),
    );
    let err = error_of(report().arg(&doc));
    assert_eq!(
        err,
        error_line(
            &doc,
            "block at line 4: big.txt: more than 64 MiB (the bound on one input)"
        )
    );
}

#[test]
fn more_than_20000_runs_is_one_line() {
    let session = "$ sage\nUsing ncpus=8 parallel decorated function\n\
                   1.131s per 100 x 8 @para sleep(0.001). Cost/ncpus/calls is 0.001289s.\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.txt");
    std::fs::write(&path, session.repeat(3)).unwrap();
    let out = run_with(report().arg(&path)).assert_success().to_string();
    assert!(out.contains("| sessions.txt:7-9 (transcript) |"), "{out}");
    std::fs::write(&path, session.repeat(20_001)).unwrap();
    let err = error_of(report().arg(&path));
    assert_eq!(
        err,
        error_line(&path, "more than 20000 runs (the bound on the runs of one input)")
    );
}

#[test]
fn a_label_past_1024_characters_is_one_line_and_no_picture() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("plot.png");
    // A record's strategy of a mebibyte of words.
    let mut rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("quick-linux/test_fork_sleep.json")).unwrap()).unwrap();
    rec["strategy"] = "a word, ".repeat(1 << 17).into();
    let path = dir.path().join("long.json");
    std::fs::write(&path, rec.to_string()).unwrap();
    let err = error_of(report().arg("--png").arg(&png).arg(&path));
    let n = (1 << 20) + " (test_fork_sleep)".len();
    let want = format!("a strategy of {n} characters, more than 1024 (the bound on a label)");
    assert_eq!(err, error_line(&path, &want));
    assert!(!png.exists());
    // A block's Machine: line, and an input's name in a block.
    let seed = std::fs::read_to_string(data("seed_sage_parallel_v2.txt")).unwrap();
    let packed = format!("{} {:?}\n{seed}\n", seed.len(), "n".repeat(1025));
    let doc = document(dir.path(), &gzip(packed.as_bytes()));
    let err = error_of(report().arg(&doc));
    let want = "block at line 4: an input's name of 1025 characters, more than 1024 (the bound on a label)";
    assert_eq!(err, error_line(&doc, want));
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(
        &doc,
        text.replace("Machine: M", &format!("Machine: {}", "é".repeat(1025))),
    )
    .unwrap();
    let err = error_of(report().arg(&doc));
    let want = "line 1: a Machine: line of 1025 characters, more than 1024 (the bound on a label)";
    assert_eq!(err, error_line(&doc, want));
}
