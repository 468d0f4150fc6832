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
//! layout ([`OPEN`]) [`Block::each_input`] reads. The inputs travel
//! gzip-compressed and base64-encoded: a diagnosis has some 20 JSON
//! records (80 KB compacted on Linux, more on macOS with its extra counters)
//! beside its tables, and an issue comment on GitHub takes at most 65,536
//! characters; compressed and encoded, the 29 inputs of a short Linux
//! diagnosis take 17 KB (docs/report.md).
//!
//! The machine of a block is the last `Machine:` line before it: the header
//! `ci/diagnose.sh` writes at the top of its document. Quoted replies (`> `
//! before every line, as GitHub quotes) are read as well, each quote as the
//! comment it quotes: a block in a quote belongs to the last `Machine:` line
//! before it in the same quote (at the same depth), never to one outside
//! it; a block quoted again (the same payload, the same machine or none
//! named in the quote) counts once, as the block it copies; a quoted block
//! whose quote names no machine and that copies no block of the text is
//! set apart, its machine a line saying so (`crate::load_input`). A blank
//! line ends a quote, as in Markdown.
//!
//! Every bound is `crate::bounds`': at most [`MAX_BLOCKS`] blocks; a block
//! is unpacked one input at a time ([`Block::each_input`]), never more than
//! [`MAX_BLOCK_UNPACKED`] bytes (and [`MAX_UNPACKED`] for all the blocks of
//! an input), each input at most [`MAX_INPUT_BYTES`].

use crate::bounds::{
    check_label, size, too_big, MAX_BLOCKS, MAX_BLOCK_UNPACKED, MAX_INPUT_BYTES, MAX_LABEL, MAX_UNPACKED,
};
use anyhow::{bail, Context};
use base64::Engine;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

/// The first line of a block's payload (inside its code fence), as
/// `report_write::paste_block` writes it: for each input a line `BYTES
/// NAME` (its length in bytes, its file name as a JSON string, so that any
/// name reads back), then its text, then a newline.
pub const OPEN: &str = "report-runs v2 (gzip+base64)";
/// The first line of a block written before names were quoted and texts
/// counted in bytes: for each input a line `N NAME`, then its `N` lines
/// (still read: such blocks are pasted in threads).
pub const OPEN_V1: &str = "report-runs v1 (gzip+base64)";
/// Its last line.
pub const CLOSE: &str = "report-runs end";

/// Bytes of an input's first line: its length and its name, quoted (at
/// most 6 bytes for a character, `\u0001`).
const MAX_HEAD: u64 = 6 * MAX_LABEL as u64 + 32;

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

/// One pasted block, not yet unpacked: where it is, the machine it belongs
/// to, and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The line of its first line ([`OPEN`]), from 1.
    pub line: usize,
    /// The last `Machine:` line before it at its own quote depth (in the
    /// same quote for a quoted block), `None` when there is none.
    pub machine: Option<String>,
    /// It is in a quoted reply.
    pub quoted: bool,
    version: u8,
    payload: Rc<str>,
}

/// One pasted block unpacked: the machine its document names, and its
/// inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub machine: Option<String>,
    pub inputs: Vec<Input>,
}

/// A line without the quote marks of a reply (`> `, `>> `) and the spaces
/// around it, and how many marks it had.
fn unquoted(line: &str) -> (usize, &str) {
    let mut s = line.trim();
    let mut depth = 0;
    while let Some(rest) = s.strip_prefix('>') {
        s = rest.trim_start();
        depth += 1;
    }
    (depth, s)
}

/// Every block in `text`, in order, each once: a copy of an earlier block
/// (the same payload, under the same machine or where either names none)
/// counts as that block, which takes the copy's machine if it had none.
/// Empty when `text` holds none. A block cut off is an error naming
/// its line, as a block's `Machine:` line past [`MAX_LABEL`].
pub fn blocks(text: &str) -> anyhow::Result<Vec<Block>> {
    let mut out: Vec<Block> = Vec::new();
    // Where each payload is in `out` (a copy is found without comparing
    // payloads again).
    let mut seen: HashMap<(u8, Rc<str>), Vec<usize>> = HashMap::new();
    let mut found = 0;
    // The machines named so far (its depth of quote marks, its line, its
    // label), at most one a depth, the deepest last: at depth 0 outside any
    // quote, at each other depth in the quote under way.
    let mut named: Vec<(usize, usize, String)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((k, raw)) = lines.next() {
        let (depth, line) = unquoted(raw);
        // A quote ends where a line has fewer marks (depth 0 never ends).
        while named.last().is_some_and(|&(d, ..)| d > depth) {
            named.pop();
        }
        if let Some(m) = line.strip_prefix("Machine:") {
            if named.last().is_some_and(|&(d, ..)| d == depth) {
                named.pop();
            }
            named.push((depth, k + 1, m.trim().to_string()));
            continue;
        }
        let version = match line {
            OPEN => 2,
            OPEN_V1 => 1,
            _ => continue,
        };
        let mut payload = String::new();
        let mut closed = false;
        for (_, raw) in lines.by_ref() {
            let (_, line) = unquoted(raw);
            if line == CLOSE {
                closed = true;
                break;
            }
            payload += line;
        }
        let at = k + 1;
        if !closed {
            bail!("block at line {at}: no {CLOSE:?} line: was it pasted whole?");
        }
        found += 1;
        if found > MAX_BLOCKS {
            bail!("block at line {at}: more than {MAX_BLOCKS} blocks (the bound on the blocks of one input)");
        }
        let machine = match named.last() {
            Some((d, line, m)) if *d == depth => {
                check_label("a Machine: line", m).with_context(|| format!("line {line}"))?;
                Some(m.clone())
            }
            _ => None,
        };
        let payload: Rc<str> = payload.into();
        let copies = seen.entry((version, payload.clone())).or_default();
        let copied = copies.iter().find(|&&i| {
            let theirs = &out[i].machine;
            machine.is_none() || theirs.is_none() || *theirs == machine
        });
        if let Some(&i) = copied {
            if out[i].machine.is_none() {
                out[i].machine = machine;
            }
            continue;
        }
        copies.push(out.len());
        out.push(Block {
            line: at,
            machine,
            quoted: depth > 0,
            version,
            payload,
        });
    }
    Ok(out)
}

/// Every block in `text` unpacked, all inputs held: for tests and small
/// texts (`crate::load_input` reads one input at a time).
pub fn documents(text: &str) -> anyhow::Result<Vec<Document>> {
    let mut out = Vec::new();
    let blocks = blocks(text)?;
    unpacked(&blocks)?;
    for block in blocks {
        let mut inputs = Vec::new();
        block.each_input(|input| {
            inputs.push(input);
            Ok(())
        })?;
        out.push(Document {
            machine: block.machine,
            inputs,
        });
    }
    Ok(out)
}

impl Block {
    /// The payload, base64-decoded (still gzip-compressed).
    fn gz(&self) -> anyhow::Result<Vec<u8>> {
        let gz = base64::engine::general_purpose::STANDARD.decode(&*self.payload);
        gz.context("not base64")
            .with_context(|| format!("block at line {}", self.line))
    }

    /// The bytes the block unpacks to, counted, none kept; an error past
    /// [`MAX_BLOCK_UNPACKED`].
    fn unpacked(&self) -> anyhow::Result<u64> {
        let gz = self.gz()?;
        let bytes = flate2::read::GzDecoder::new(gz.as_slice()).take(MAX_BLOCK_UNPACKED + 1);
        let n = std::io::copy(&mut { bytes }, &mut std::io::sink()).context("not gzip-compressed text");
        match n {
            Ok(n) if n <= MAX_BLOCK_UNPACKED => Ok(n),
            Ok(_) => Err(anyhow::anyhow!(
                "unpacks to more than {} (the bound on one pasted block)",
                size(MAX_BLOCK_UNPACKED)
            )),
            Err(e) => Err(e),
        }
        .with_context(|| format!("block at line {}", self.line))
    }

    /// Unpacks the block one input at a time, each given to `each` before
    /// the next is unpacked; an error names the block's line and, past a
    /// bound, the bound. The input's blocks are counted first (the function `unpacked`).
    pub fn each_input(&self, mut each: impl FnMut(Input) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let gz = self.gz()?;
        let mut r = BufReader::new(flate2::read::GzDecoder::new(gz.as_slice()).take(MAX_BLOCK_UNPACKED + 1));
        if self.version == 1 {
            unpack_v1(&mut r, &mut each)
        } else {
            unpack_v2(&mut r, &mut each)
        }
        .with_context(|| format!("block at line {}", self.line))
    }
}

/// Checks what `blocks` (one input's) unpack to, counted before any input
/// of them is read (so that a block past a bound is refused whatever its
/// inputs are): each at most [`MAX_BLOCK_UNPACKED`], all together at most
/// [`MAX_UNPACKED`].
pub fn unpacked(blocks: &[Block]) -> anyhow::Result<()> {
    let mut all = 0;
    for block in blocks {
        all += block.unpacked()?;
        if all > MAX_UNPACKED {
            bail!(
                "block at line {}: the blocks up to this one unpack to more than {} (the bound on the blocks of one input)",
                block.line,
                size(MAX_UNPACKED)
            );
        }
    }
    Ok(())
}

/// The next line of `r` without its line end, at most `max` bytes (`None`
/// past them); `Ok(None)` at the end.
fn line(r: &mut impl BufRead, max: u64) -> anyhow::Result<Option<Option<Vec<u8>>>> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(max + 2)
        .read_until(b'\n', &mut buf)
        .context("not gzip-compressed text")?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(Some((buf.len() as u64 <= max).then_some(buf)))
}

/// An input's first line: its count (of bytes or lines) and its name.
fn head(r: &mut impl BufRead, quoted: bool) -> anyhow::Result<Option<(u64, String)>> {
    let Some(head) = line(r, MAX_HEAD)? else {
        return Ok(None);
    };
    let Some(head) = head else {
        bail!("an input's name of more than {MAX_LABEL} characters (the bound on a label)");
    };
    let head = String::from_utf8_lossy(&head);
    let parsed = head.split_once(' ').and_then(|(n, name)| {
        let name = if quoted {
            serde_json::from_str::<String>(name).ok()?
        } else {
            name.to_string()
        };
        Some((n.parse::<u64>().ok()?, name))
    });
    let Some((n, name)) = parsed else {
        bail!("not an input's first line: {head:?}");
    };
    check_label("an input's name", &name)?;
    Ok(Some((n, name)))
}

/// The inputs of a block of [`OPEN`].
fn unpack_v2(r: &mut impl BufRead, each: &mut impl FnMut(Input) -> anyhow::Result<()>) -> anyhow::Result<()> {
    while let Some((n, name)) = head(r, true)? {
        if n > MAX_INPUT_BYTES {
            return Err(too_big()).context(name);
        }
        let mut text = Vec::with_capacity(n as usize);
        r.by_ref()
            .take(n)
            .read_to_end(&mut text)
            .context("not gzip-compressed text")?;
        let mut end = [0u8; 1];
        if text.len() as u64 != n || r.read(&mut end)? != 1 || end[0] != b'\n' {
            bail!("{name}: {n} bytes announced, {} found", text.len());
        }
        let text = String::from_utf8(text).with_context(|| format!("{name}: not UTF-8"))?;
        each(Input {
            name: name.clone(),
            text,
        })
        .context(name)?;
    }
    Ok(())
}

/// The inputs of a block of [`OPEN_V1`].
fn unpack_v1(r: &mut impl BufRead, each: &mut impl FnMut(Input) -> anyhow::Result<()>) -> anyhow::Result<()> {
    while let Some((n, name)) = head(r, false)? {
        let mut text = String::new();
        for found in 0..n {
            let Some(got) = line(r, MAX_INPUT_BYTES)? else {
                bail!("{name}: {n} lines announced, {found} found");
            };
            let Some(mut got) = got.filter(|l| (text.len() + l.len()) as u64 <= MAX_INPUT_BYTES) else {
                return Err(too_big()).context(name);
            };
            if got.last() == Some(&b'\r') {
                got.pop();
            }
            text += &String::from_utf8(got).with_context(|| format!("{name}: not UTF-8"))?;
            text.push('\n');
        }
        each(Input {
            name: name.clone(),
            text,
        })
        .context(name)?;
    }
    Ok(())
}
