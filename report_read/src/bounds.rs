//! Every bound on what `report` reads, each far above any real report, so
//! that whatever is pasted into it (a comment copied from GitHub, a forwarded
//! mail, `/dev/zero`) costs at most a stated amount of memory and time.
//! Past a bound, the input is an error of one line naming the file, the
//! block's line (for a pasted block) and the bound: never a silent cut. A
//! label too long is rejected, not cut: a cut label could name two runs
//! alike, and no real label comes near the bound.
//!
//! What is kept is bounded too: a pasted block is unpacked one input at a
//! time, and each input is read into runs before the next is unpacked
//! (`pasted`), so the peak memory is about one input's text plus the runs.
//!
//! Inputs that are not regular files are read to their end, bounded: `-` is
//! standard input; a device (`/dev/zero`) ends at the bound; a FIFO is opened
//! without waiting for a writer and, when no process has it open for
//! writing, is one line, not a hang. A FIFO is thus read only when its
//! writer opened it first (`report <(cmd)`, `cmd > fifo &` started before).

use crate::run::Run;
use anyhow::{bail, Context};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Bytes read from one input file (and bytes of one input inside a pasted
/// block, which was a file): 64 MiB. A `diagnose.md` is some 40 KB, a
/// record of a long macOS run a few MB, a whole issue thread with a
/// hundred pasted diagnoses under 10 MB.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Bytes one pasted block unpacks to: 256 MiB. A diagnosis's block unpacks
/// to under 1 MB (29 inputs, docs/report.md); gzip can expand about
/// 1,000-fold, so a block that fits in a comment could otherwise claim
/// gigabytes.
pub const MAX_BLOCK_UNPACKED: u64 = 256 << 20;

/// Bytes all the pasted blocks of one input file unpack to together: 256
/// MiB, as one block. What is kept of a text (its runs' points) takes up to
/// 1.5 times the room of the text (a chunk line of 75 bytes is a point of
/// some 100), so this bounds what a file of many blocks keeps to a few
/// hundred MB; a thread of a hundred diagnoses unpacks to under 100 MB
/// (copies quoted again are not unpacked).
pub const MAX_UNPACKED: u64 = 256 << 20;

/// Pasted blocks in one input file, quoted copies included: 10,000. A
/// thread of a hundred diagnoses holds a hundred, a few hundred with the
/// copies quoted in replies.
pub const MAX_BLOCKS: usize = 10_000;

/// Runs read from one input file, every block of it together: 20,000. A
/// diagnosis gives some 30 runs; a thread of a hundred of them 3,000.
pub const MAX_RUNS: usize = 20_000;

/// Characters of one label (a `Machine:` line, an input's name, a
/// strategy, a source, an OS, an interpreter, a counter's name, a `%prun`
/// row, a witness's refusal or region type): 1,024.
/// The longest real one is a machine's label (`macOS 15.5 (24F74), arm64,
/// Apple M2 Max`, some 40 characters) or a file name (at most 255 bytes
/// on the file systems of Linux and macOS) in a source.
pub const MAX_LABEL: usize = 1024;

/// `n` bytes as the bounds' messages name them (`64 MiB`).
pub fn size(n: u64) -> String {
    format!("{} MiB", n >> 20)
}

/// The error past [`MAX_INPUT_BYTES`].
pub fn too_big() -> anyhow::Error {
    anyhow::anyhow!("more than {} (the bound on one input)", size(MAX_INPUT_BYTES))
}

/// An input's name (its file name; `-` for standard input) and its text,
/// read with the bound of [`MAX_INPUT_BYTES`]. Not UTF-8 is read lossily.
pub fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    let bytes = read_bytes(path).with_context(|| shown(path))?;
    let name = name_of(path);
    // Valid UTF-8 is not copied.
    let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok((name, text))
}

/// The name of the input at `path`, as a run's source and a pasted block
/// name it: its file name (`standard input` for `-`).
pub fn name_of(path: &Path) -> String {
    match path.file_name() {
        _ if path.as_os_str() == "-" => shown(path),
        Some(n) => n.to_string_lossy().into_owned(),
        None => shown(path),
    }
}

/// `path` as an error names it: `standard input` for `-`.
pub fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "standard input".into();
    }
    path.display().to_string()
}

fn read_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        return bounded(std::io::stdin().lock(), MAX_INPUT_BYTES);
    }
    // Non-blocking, so that opening a FIFO does not wait for a writer.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() {
        if meta.len() > MAX_INPUT_BYTES {
            return Err(too_big());
        }
        return bounded(file, meta.len());
    }
    // A device or a FIFO: the first read says whether anything writes.
    let mut first = vec![0; 64 << 10];
    let got = loop {
        match file.read(&mut first) {
            Ok(n) => break Some(n),
            // A writer, nothing written yet.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break None,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if got == Some(0) {
        if meta.file_type().is_fifo() {
            bail!("a FIFO with no writer (report reads a FIFO only once something has it open for writing)");
        }
        return Ok(Vec::new());
    }
    first.truncate(got.unwrap_or(0));
    // From here on, wait for the writer as a blocking read does.
    nix::fcntl::fcntl(
        file.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )?;
    let mut all = Vec::with_capacity(MAX_INPUT_BYTES as usize + 1);
    all.extend(first);
    file.take(MAX_INPUT_BYTES + 1 - all.len() as u64)
        .read_to_end(&mut all)?;
    if all.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    Ok(all)
}

/// All of `r` up to [`MAX_INPUT_BYTES`], an error past it (one byte more
/// is read, no more). Room for `expected` bytes and one is made at once, so
/// that the bytes are never copied while read (only what is read is
/// touched, in memory).
fn bounded(r: impl Read, expected: u64) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(expected.min(MAX_INPUT_BYTES) as usize + 1);
    r.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// An error when `label` (what `what` names) is longer than [`MAX_LABEL`].
pub fn check_label(what: &str, label: &str) -> anyhow::Result<()> {
    let n = label.chars().count();
    if n > MAX_LABEL {
        bail!("{what} of {n} characters, more than {MAX_LABEL} (the bound on a label)");
    }
    Ok(())
}

/// Every label of a run within [`MAX_LABEL`].
pub fn check_run(run: &Run) -> anyhow::Result<()> {
    let f = &run.factors;
    let labels = [
        ("a source", Some(&run.source)),
        ("a strategy", Some(&run.strategy)),
        ("a strategy", Some(&run.base)),
        ("an OS", Some(&run.os_arch)),
        ("a machine", Some(&run.machine)),
        ("an interpreter", f.python.as_ref()),
        ("a way of forking", f.os_fork.as_ref()),
        ("a post-fork check", f.post_fork_check.as_ref()),
    ];
    for (what, label) in labels {
        if let Some(label) = label {
            check_label(what, label)?;
        }
    }
    for (name, _) in &run.counters {
        check_label("a counter's name", name)?;
    }
    for table in &run.prun {
        for (function, ..) in &table.rows {
            check_label("a %prun row", function)?;
        }
    }
    if let Some(w) = &run.witness {
        if let Some(why) = &w.refused {
            check_label("a witness's refusal", why)?;
        }
        for regions in [&w.before, &w.after].into_iter().flatten() {
            for name in regions.types.keys() {
                check_label("a region type", name)?;
            }
        }
    }
    Ok(())
}

/// Adds `got` to `runs`, each checked ([`check_run`]), an error past
/// [`MAX_RUNS`].
pub fn add_runs(runs: &mut Vec<Run>, got: Vec<Run>) -> anyhow::Result<()> {
    for run in &got {
        check_run(run)?;
    }
    if runs.len() + got.len() > MAX_RUNS {
        bail!("more than {MAX_RUNS} runs (the bound on the runs of one input)");
    }
    runs.extend(got);
    Ok(())
}
