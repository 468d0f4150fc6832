//! Many Macs, one table: a document meant to be pasted into an issue comment
//! (`ci/diagnose.sh`'s `diagnose.md`) ends with its inputs in one collapsed
//! block, and `report` reads a pasted document (or several, or the whole
//! text of an issue thread) back into the same runs, one machine per block.
//!
//! The block holds each input as it was given to `report` (its file name and
//! its text: a JSON record compacted to one line, a transcript verbatim), so
//! reading back goes through the very loaders that read the files
//! ([`crate::load_text`]); nothing is serialized a second way. This is the
//! reading half; the block is written by `report_write::paste_block`, whose
//! layout `unpack` reads. The inputs
//! travel gzip-compressed and base64-encoded: a diagnosis has some 20 JSON
//! records (80 KB compacted on Linux, more on macOS with its extra counters)
//! beside its tables, and an issue comment on GitHub takes at most 65,536
//! characters; compressed and encoded, the 29 inputs of a short Linux
//! diagnosis take 17 KB (docs/report.md).
//!
//! The machine of a block is the last `Machine:` line before it: the header
//! `ci/diagnose.sh` writes at the top of its document. Quoted replies (`> `
//! before every line) are read as well, and a block quoted again in a reply
//! (the same machine, the same inputs) counts once.

use anyhow::{bail, Context};
use base64::Engine;
use std::io::Read;

/// The first line of a block's payload (inside its code fence).
pub const OPEN: &str = "report-runs v1 (gzip+base64)";
/// Its last line.
pub const CLOSE: &str = "report-runs end";

/// More than any diagnosis holds once unpacked: a block that claims more is
/// not one of ours.
const MAX_UNPACKED: u64 = 256 << 20;

/// One input of a block: its file name and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub name: String,
    pub text: String,
}

impl Input {
    /// An input as it goes into a block: a JSON record on one line (its
    /// values unchanged: serde_json writes each float so that it reads back
    /// to the same bits), anything else as it is.
    pub fn new(name: &str, text: &str) -> Input {
        let compact = text
            .trim_start()
            .starts_with('{')
            .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
            .flatten()
            .map(|v| v.to_string());
        Input {
            name: name.to_string(),
            text: compact.unwrap_or_else(|| text.to_string()),
        }
    }
}

/// One pasted block: the machine its document names, and its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The last `Machine:` line before the block, `None` when there is none.
    pub machine: Option<String>,
    pub inputs: Vec<Input>,
}

/// The inputs of a block's unpacked text, in the layout of
/// `report_write::paste_block` (for each input a line `N NAME`, then its
/// `N` lines).
fn unpack(text: &str) -> anyhow::Result<Vec<Input>> {
    let mut lines = text.lines();
    let mut inputs = Vec::new();
    while let Some(head) = lines.next() {
        let Some((n, name)) = head
            .split_once(' ')
            .and_then(|(n, name)| Some((n.parse::<usize>().ok()?, name)))
        else {
            bail!("not an input's first line: {head:?}");
        };
        let body: Vec<&str> = lines.by_ref().take(n).collect();
        if body.len() < n {
            bail!("{name}: {n} lines announced, {} found", body.len());
        }
        let mut text = body.join("\n");
        text.push('\n');
        inputs.push(Input {
            name: name.to_string(),
            text,
        });
    }
    Ok(inputs)
}

/// A line without the quote marks of a reply (`> `, `>> `) and the spaces
/// around it.
fn unquoted(line: &str) -> &str {
    let mut s = line.trim();
    while let Some(rest) = s.strip_prefix('>') {
        s = rest.trim_start();
    }
    s
}

/// Every block in `text`, in order, with the machine its document names;
/// empty when `text` holds none. A block that cannot be read (cut off,
/// edited inside) is an error naming its line.
pub fn documents(text: &str) -> anyhow::Result<Vec<Document>> {
    let mut out: Vec<Document> = Vec::new();
    let mut machine: Option<String> = None;
    let mut lines = text.lines().enumerate();
    while let Some((k, raw)) = lines.next() {
        let line = unquoted(raw);
        if let Some(m) = line.strip_prefix("Machine:") {
            machine = Some(m.trim().to_string());
            continue;
        }
        if line != OPEN {
            continue;
        }
        let mut payload = String::new();
        let mut closed = false;
        for (_, raw) in lines.by_ref() {
            let line = unquoted(raw);
            if line == CLOSE {
                closed = true;
                break;
            }
            payload += line;
        }
        let at = k + 1;
        if !closed {
            bail!("the block at line {at} has no {CLOSE:?} line: was it pasted whole?");
        }
        let inputs = read(&payload).with_context(|| format!("the block at line {at} cannot be read"))?;
        let doc = Document {
            machine: machine.clone(),
            inputs,
        };
        if !out.contains(&doc) {
            out.push(doc);
        }
    }
    Ok(out)
}

/// A block's payload back into its inputs.
fn read(payload: &str) -> anyhow::Result<Vec<Input>> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .context("not base64")?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .take(MAX_UNPACKED)
        .read_to_string(&mut text)
        .context("not gzip-compressed text")?;
    unpack(&text)
}
