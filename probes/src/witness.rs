//! The system's own tools as witnesses of the suite's counters: what
//! `vmmap -summary <pid>` (macOS) or `pmap <pid>` (Linux) says of this
//! process's regions, read before the first bar() and after the last.
//!
//! The counters of [`crate::resources`] are the suite's own code; a
//! maintainer will ask what Apple's tools say. `vmmap`'s summary table
//! (`REGION TYPE ... REGION COUNT`) counts the regions of every type,
//! `Mach message` among them (the tag `VM_MEMORY_MACH_MSG` that
//! `mach_msg_regions` counts), and its `TOTAL` row counts them all, the
//! shared-cache submap included, as the suite's region walk does. On Linux
//! the same slot holds the number of mappings plain `pmap <pid>` lists (one
//! line per VMA of `/proc/<pid>/maps`, procps-ng 3.3 and 4.x: its default
//! format, which needs no `smaps` and prints nothing but the lines and a
//! ` total` line; `pmap -X` reads `smaps` and adds headers and footers), so
//! the path runs in CI here.
//!
//! Where the witness is read (`timing::Experiment::repeat`,
//! `ci/compare/harness.py` through `probes_capi`): in the parent, between
//! bar()s, never inside a timed region. Reading it spawns the tool and waits
//! for it, no thread: the forking parent stays single-threaded. The tool's
//! output goes to an unnamed temporary file, not a pipe, so that a tool
//! that stops the process it examines while it reads it (a debugger-style
//! reader of another task may) can never wait on a full pipe that the
//! stopped process should empty.
//!
//! Parsing: [`VmmapTable::parse`] reads the first table whose header starts
//! `REGION TYPE` and has a `COUNT` column, up to its `TOTAL` row: `vmmap
//! -summary` output and the `VM Region Summary` of a crash report alike
//! (the two-column table of crash reports and the eight-column one of
//! `vmmap` itself). The lines above it (`ReadOnly portion of Libraries`,
//! `Writable regions`) and the `MALLOC ZONE` table after it (whose own
//! `TOTAL` row counts zones' regions) are not the region table and are
//! skipped. The fixtures are real published outputs of several macOS
//! releases (`probes/tests/fixtures/witness/README.md`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::sync::atomic::{AtomicU64, Ordering};

/// The tool that witnesses this platform's regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// macOS: `vmmap -summary <pid>` (the spelling of `vmmap(1)`).
    Vmmap,
    /// Linux: `pmap <pid>` (procps-ng).
    Pmap,
}

impl Tool {
    /// This platform's tool: vmmap on macOS, pmap on Linux, none elsewhere.
    pub fn here() -> Option<Tool> {
        if cfg!(target_os = "macos") {
            Some(Tool::Vmmap)
        } else if cfg!(target_os = "linux") {
            Some(Tool::Pmap)
        } else {
            None
        }
    }

    /// `vmmap` or `pmap`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Vmmap => "vmmap",
            Tool::Pmap => "pmap",
        }
    }

    fn args(self, pid: u32) -> Vec<String> {
        match self {
            Tool::Vmmap => vec!["-summary".into(), pid.to_string()],
            Tool::Pmap => vec![pid.to_string()],
        }
    }

    /// The reading in the tool's output.
    pub fn parse(self, text: &str) -> Result<Regions, String> {
        match self {
            Tool::Vmmap => VmmapTable::parse(text)?.regions(),
            Tool::Pmap => parse_pmap(text),
        }
    }
}

/// One reading of the witness.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Regions {
    /// vmmap: the `TOTAL` row's region count; pmap: the mappings listed.
    pub total: u64,
    /// vmmap: the regions of type `Mach message` (with `Mach message
    /// (reserved)`, the same tag without pages yet): what `mach_msg_regions`
    /// counts. Absent for pmap, which has no such type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mach_msg: Option<u64>,
    /// vmmap: the region count of every region type, by vmmap's name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, u64>,
    /// The suite's own counters read at the same moment, right after the
    /// tool ([`crate::resources::map_counts`]: `vm_map_entries`, and on
    /// macOS `mach_msg_regions`), so that the witness is held against the
    /// counters over the very same forks (the chunks' readings start after
    /// the first chunk, whose one-time mappings the witness sees too).
    /// Absent in records made before they were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<u64>,
    /// `mach_msg_regions` at the same moment (macOS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_mach_msg: Option<u64>,
}

impl Regions {
    /// `regions=1234 mach_msg=4` (`mach_msg` on vmmap only): the words of
    /// the harness's `Witness (extra):` line.
    pub fn words(&self) -> String {
        let mut w = format!("regions={}", self.total);
        let named = [
            ("mach_msg", self.mach_msg),
            ("counted", self.counted),
            ("counted_mach_msg", self.counted_mach_msg),
        ];
        for (name, v) in named {
            if let Some(v) = v {
                w += &format!(" {name}={v}");
            }
        }
        w
    }
}

/// The witness of one run: the tool's readings before the first bar() and
/// after the last, and the forks this process made in between. The `witness`
/// field of the run record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Witness {
    /// The tool read.
    pub tool: Tool,
    /// Before the first bar(); absent when the tool refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Regions>,
    /// After the last bar(); absent when the tool refused or the run was
    /// interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Regions>,
    /// Forks of this process between the two readings (every `fork()`,
    /// counted by a `pthread_atfork` handler; a `posix_spawn` is no fork).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forks: Option<u64>,
    /// Why a reading is missing: the tool's one-line refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A witness under way: its reading before the first bar() and the fork
/// count then.
#[derive(Debug)]
pub struct Session {
    witness: Witness,
    forks_before: u64,
}

impl Session {
    /// Reads the tool on this process before the first bar(). `None` on a
    /// platform without a tool; a refusal is kept in
    /// [`Witness::refused`] (for the caller's one line on stderr).
    pub fn before() -> Option<Session> {
        let tool = Tool::here()?;
        count_forks();
        let reading = read(tool, std::process::id());
        let forks_before = forks();
        let (before, refused) = split(reading);
        Some(Session {
            witness: Witness {
                tool,
                before,
                after: None,
                forks: None,
                refused,
            },
            forks_before,
        })
    }

    /// What went wrong before the first bar(), if anything.
    pub fn refused(&self) -> Option<&str> {
        self.witness.refused.as_deref()
    }

    /// Reads the tool after the last bar() (unless `read_after` is false: an
    /// interrupted run, whose user wants it to end, keeps the reading
    /// before alone) and ends the witness. Nothing is read after a refusal
    /// before.
    pub fn after(mut self, read_after: bool) -> Witness {
        let forks = forks() - self.forks_before;
        self.witness.forks = Some(forks);
        if read_after && self.witness.refused.is_none() {
            let (after, refused) = split(read(self.witness.tool, std::process::id()));
            self.witness.after = after;
            self.witness.refused = refused;
        }
        self.witness
    }
}

fn split(reading: Result<Regions, String>) -> (Option<Regions>, Option<String>) {
    match reading {
        Ok(r) => (Some(r), None),
        Err(why) => (None, Some(why)),
    }
}

/// Runs `tool` on `pid` and reads its output: one line saying why not when
/// the tool is missing, refuses (a hardened process, no permission: a
/// non-zero exit) or prints what this parser does not know.
pub fn read(tool: Tool, pid: u32) -> Result<Regions, String> {
    let name = tool.name();
    let file = |what: &str| tempfile::tempfile().map_err(|e| format!("{name}: no temporary file for its {what}: {e}"));
    let (mut out, mut err) = (file("output")?, file("errors")?);
    let dup = |f: &std::fs::File| f.try_clone().map_err(|e| format!("{name}: {e}"));
    let status = std::process::Command::new(name)
        .args(tool.args(pid))
        .stdin(std::process::Stdio::null())
        .stdout(dup(&out)?)
        .stderr(dup(&err)?)
        .status()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{name} not found on the PATH"),
            _ => format!("{name} could not be started: {e}"),
        })?;
    let text = |f: &mut std::fs::File| -> String {
        let mut s = String::new();
        let _ = f.rewind().and_then(|()| f.read_to_string(&mut s));
        s
    };
    if !status.success() {
        let why = text(&mut err);
        let first = why
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        return Err(format!("{name} refused ({status}): {first}"));
    }
    let mut regions = tool
        .parse(&text(&mut out))
        .map_err(|why| format!("{name} output not understood: {why}"))?;
    if pid == std::process::id() {
        (regions.counted, regions.counted_mach_msg) = crate::resources::map_counts();
    }
    Ok(regions)
}

/// Forks of this process since [`count_forks`] was first called.
static FORKS: AtomicU64 = AtomicU64::new(0);

/// The `pthread_atfork` handler in the parent: one more fork.
extern "C" fn one_more_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// Counts every later `fork()` of this process (libc runs `pthread_atfork`
/// handlers on `fork()`, not on `posix_spawn` or a raw `clone`), once.
fn count_forks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a parent-side handler that only adds to an
        // atomic (async-signal-safe); no prepare or child handler, so the
        // forked child runs nothing of ours.
        unsafe { libc::pthread_atfork(None, Some(one_more_fork), None) };
    });
}

/// Forks counted so far (see [`count_forks`]).
fn forks() -> u64 {
    FORKS.load(Ordering::Relaxed)
}

/// The region table of `vmmap`'s summary (or of a crash report's `VM
/// Region Summary`): each region type with its region count, and the
/// `TOTAL` row's count when the text reaches it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VmmapTable {
    /// `(region type, region count)`, in the table's order.
    pub rows: Vec<(String, u64)>,
    /// The `TOTAL` row's count; `None` when the text stops before it (a
    /// pasted excerpt cut short).
    pub total: Option<u64>,
}

impl VmmapTable {
    /// Reads the first `REGION TYPE` table of `text` (see the module doc).
    /// An error names what is missing: no such table, a table without a
    /// `COUNT` column (older crash reports print sizes only), a row that is
    /// not `name value... count`.
    pub fn parse(text: &str) -> Result<VmmapTable, String> {
        let all: Vec<&str> = text.lines().map(str::trim_end).collect();
        // A table's header is a `REGION TYPE` line with a ===== line under
        // it (a crash report's `vmRegionInfo` has a `REGION TYPE` line too,
        // with regions under it).
        let headers: Vec<usize> = (0..all.len().saturating_sub(1))
            .filter(|&k| all[k].trim_start().starts_with("REGION TYPE") && is_rule(all[k + 1]))
            .collect();
        let at = match headers.iter().find(|&&k| all[k].contains("COUNT")) {
            Some(&k) => k,
            None if headers.is_empty() => return Err("no REGION TYPE table".into()),
            None => return Err("its REGION TYPE table has no region COUNT column".into()),
        };
        let columns = all[at + 1].split_whitespace().count();
        let lines = all[at + 2..].iter().copied();
        let values = columns.saturating_sub(1).max(1);
        let mut table = VmmapTable::default();
        let mut in_totals = false;
        for line in lines {
            if is_rule(line) {
                in_totals = true;
                continue;
            }
            if line.trim().is_empty() {
                if in_totals || !table.rows.is_empty() {
                    break;
                }
                continue;
            }
            let (name, count) = row(line, values).ok_or_else(|| format!("not a row of the table: {line:?}"))?;
            if !in_totals {
                table.rows.push((name, count));
            } else if name == "TOTAL" {
                table.total = Some(count);
                break;
            }
        }
        Ok(table)
    }

    /// The witness's reading: the `TOTAL` count, the `Mach message` rows,
    /// every type; an error when the table stops before its `TOTAL` row.
    pub fn regions(&self) -> Result<Regions, String> {
        let total = self.total.ok_or("the REGION TYPE table stops before its TOTAL row")?;
        let mut types = BTreeMap::new();
        for (name, count) in &self.rows {
            *types.entry(name.clone()).or_insert(0) += count;
        }
        Ok(Regions {
            total,
            mach_msg: Some(self.mach_msg()),
            types,
            ..Regions::default()
        })
    }

    /// The `Mach message` rows: `Mach message` and `Mach message
    /// (reserved)` (0 when the table has neither).
    pub fn mach_msg(&self) -> u64 {
        self.rows
            .iter()
            .filter(|(name, _)| name == "Mach message" || name.starts_with("Mach message ("))
            .map(|(_, n)| n)
            .sum()
    }
}

/// `=========== ======= ...` (a Markdown paste may escape the first `=`).
fn is_rule(line: &str) -> bool {
    let l = line.trim().trim_start_matches('\\');
    l.starts_with("===") && l.chars().all(|c| c == '=' || c.is_whitespace())
}

/// `256K`, `12.8G`, `824`, `1840`: a size (bytes, K, M, G, T, P, pages
/// with `-pages`) or a count.
fn is_value(word: &str) -> bool {
    let digits = word.trim_end_matches(['K', 'M', 'G', 'T', 'P']);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && parts
            .next()
            .is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// One row: its name (the words before its `values` values) and its last
/// value, the region count. What follows the count (`see MALLOC ZONE table
/// below`, `reserved VM address space (unallocated)`) is a note.
fn row(line: &str, values: usize) -> Option<(String, u64)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let last = words.iter().rposition(|w| is_value(w))?;
    let first = (last + 1).checked_sub(values).filter(|&f| f >= 1)?;
    if !words[first..=last].iter().all(|w| is_value(w)) {
        return None;
    }
    let count = words[last].parse().ok()?;
    Some((words[..first].join(" "), count))
}

/// Plain `pmap <pid>`: a `PID: command` line, one line per mapping
/// (`address size perms name`), then ` total NNNNK`. The count of mappings;
/// an error without the `total` line (output cut short) or without mappings.
pub fn parse_pmap(text: &str) -> Result<Regions, String> {
    let mut mappings = 0;
    let mut total = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("total"), Some(_)) => total = true,
            (Some(addr), Some(size))
                if addr.len() >= 8 && addr.bytes().all(|b| b.is_ascii_hexdigit()) && size.ends_with('K') =>
            {
                mappings += 1
            }
            _ => {}
        }
    }
    match (mappings, total) {
        (0, _) => Err("no mapping line".into()),
        (_, false) => Err("no total line: the output stops short".into()),
        (n, true) => Ok(Regions {
            total: n,
            ..Regions::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_names_and_counts() {
        assert_eq!(
            row("Memory Tag 253                    32.0G       29 ", 1 + 1),
            Some(("Memory Tag 253".into(), 29))
        );
        assert_eq!(
            row("MALLOC_TINY (empty)               1024K      32K      32K       0K       0K       0K       0K        1         see MALLOC ZONE table below", 8),
            Some(("MALLOC_TINY (empty)".into(), 1))
        );
        assert_eq!(
            row(
                "Stack (reserved)                   544K        1         reserved VM address space (unallocated)",
                2
            ),
            Some(("Stack (reserved)".into(), 1))
        );
        assert_eq!(
            row("TOTAL                              1.7G     1478 ", 2),
            Some(("TOTAL".into(), 1478))
        );
        // A size where the count should be, a row without a name, a cut row.
        assert_eq!(row("MALLOC                           676.2M ", 2), None);
        assert_eq!(row("12K 3", 2), None);
        assert_eq!(row("__AUTH", 2), None);
        assert_eq!(row("MALLOC  1.5G  2.5", 2), None);
    }

    #[test]
    fn values() {
        for v in ["256K", "12.8G", "824", "0K", "1.4T", "3270"] {
            assert!(is_value(v), "{v}");
        }
        for v in ["K", "1.", ".5K", "(unallocated)", "__DATA", "1,2", "16%"] {
            assert!(!is_value(v), "{v}");
        }
    }

    #[test]
    fn refusals_are_one_line() {
        // A tool that is not on the PATH, and one that exits non-zero.
        let no_such = std::process::Command::new("no-such-witness-tool").status();
        assert!(no_such.is_err());
        if Tool::here() == Some(Tool::Pmap) {
            // pmap of a pid that cannot exist (above any pid_max) exits 1.
            let why = read(Tool::Pmap, 999_999_999).unwrap_err();
            assert!(why.starts_with("pmap refused (exit status: "), "{why}");
            assert!(!why.contains('\n'), "{why}");
        }
    }

    #[test]
    fn the_fork_count_counts_forks() {
        count_forks();
        let before = forks();
        // SAFETY: the child calls only _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(0) };
        }
        assert!(pid > 0);
        let mut status = 0;
        // SAFETY: our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        // Other tests of this process may fork meanwhile: at least one more.
        assert!(forks() > before);
    }
}
