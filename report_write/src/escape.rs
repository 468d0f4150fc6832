//! Every escape of what came from an input, once per format, applied where
//! the text is written: a string read from an input (a label, a machine, a
//! file name, a judgement's reason naming a run) goes out through one of
//! these and through nothing written by hand elsewhere. An input may be a
//! stranger's paste, so each format gets text that cannot act on it: no
//! terminal escape sequence, no broken table, no HTML, no invalid XML.
//!
//! | format | function | what is changed |
//! |---|---|---|
//! | terminal, stderr | [`terminal`] | the [unseen](#unseen-characters) characters, shown escaped |
//! | Markdown table cell | [`markdown_cell`] | the unseen ones, and `\` `` ` `` `\|` `<` `&` `[` backslash-escaped |
//! | Markdown sentence (Findings, `--upstream`) | [`markdown_text`] | the same as a cell |
//! | Markdown code span | [`markdown_code`] | the unseen ones; a fence longer than any run of backticks inside |
//! | SVG/PNG text (through plotters) | [`svg_text`] | the unseen ones (plotters escapes `&<>"'` itself) |
//!
//! # Unseen characters
//!
//! Control characters (C0, DEL, C1: ESC starts a terminal's escape
//! sequences, BEL rings, NUL and most C0 are forbidden in XML 1.0, a newline
//! ends a table row), the bidirectional controls (U+061C, U+200E, U+200F,
//! U+202A to U+202E, U+2066 to U+2069: they reorder what follows on screen,
//! "Trojan Source") and the noncharacters U+FFFE and U+FFFF (forbidden in
//! XML). They are shown, never dropped, so that a reader sees that a label
//! holds one: `\t`, `\n`, `\r`; `\x1b` for the other controls up to U+00FF
//! (ESC, BEL `\x07`, NUL `\x00`, DEL `\x7f`, C1 `\x9b`); `\u{202e}` for the
//! others. The form is printable ASCII without a Markdown meaning (a
//! backslash before a letter is no escape in CommonMark), so it passes
//! every format unchanged and cleaning twice changes nothing. It is for a
//! reader, not to be read back: a literal backslash stays as it is on the
//! terminal.
//!
//! # Markdown
//!
//! The tables (GitHub's) and the sentences of `report`, Findings and the
//! `--upstream` texts take labels inline, and one function serves both: a
//! sentence may land in a cell. What would end a cell or a row (`|`, a
//! newline), open a code span or fence (`` ` ``), an HTML tag, comment or
//! entity (`<`, `&`), a link or an image (`[`), or undo an escape (`\`
//! itself, so that `a\|` cannot become `a\\|`) is backslash-escaped,
//! CommonMark's own way, which reads on a terminal as well (`\<details>`).
//! Left as they are: `>`, which opens nothing without a `<` before it
//! (and is in the cells' own `434 -> 4834`), and emphasis (`*`, `_`, `~`),
//! which changes the look of a label, never the structure around it (`_`
//! is in every counter's name). Block syntax (`#`, `>`, `-` at the start
//! of a line) cannot start: a label never begins a line in these writers
//! and holds no newline.

use std::borrow::Cow;

/// Whether `c` is never written as it is ([module docs](self)).
fn unseen(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// The visible form of an [`unseen`] character.
fn push_shown(out: &mut String, c: char) {
    use std::fmt::Write;
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        // Writing into a String cannot fail.
        c if u32::from(c) <= 0xFF => write!(out, "\\x{:02x}", u32::from(c)).expect("into a String"),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)).expect("into a String"),
    }
}

/// `s` with every character for which `escape` gives a replacement
/// replaced, borrowed when none has one.
fn replace(s: &str, escape: impl Fn(char, &mut String) -> bool) -> Cow<'_, str> {
    let mut scratch = String::new();
    let Some(first) = s.char_indices().find(|&(_, c)| escape(c, &mut scratch)).map(|(i, _)| i) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if !escape(c, &mut out) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// For the terminal and stderr (an error naming an input's file): the
/// unseen characters shown escaped (`\x1b`, `\n`, `\u{202e}`).
pub fn terminal(s: &str) -> Cow<'_, str> {
    replace(s, |c, out| {
        let hit = unseen(c);
        if hit {
            push_shown(out, c);
        }
        hit
    })
}

/// For a Markdown table cell: the unseen characters shown escaped, and
/// `\` `` ` `` `|` `<` `&` `[` backslash-escaped (module docs: what each
/// would open or end).
pub fn markdown_cell(s: &str) -> String {
    replace(s, |c, out| match c {
        '\\' | '`' | '|' | '<' | '&' | '[' => {
            out.push('\\');
            out.push(c);
            true
        }
        c if unseen(c) => {
            push_shown(out, c);
            true
        }
        _ => false,
    })
    .into_owned()
}

/// For what came from an input inside a Markdown sentence (a run's name in
/// Findings' reasons, a machine in `--upstream`): the escape of a cell, as
/// the same characters matter there and a sentence may land in a cell.
pub fn markdown_text(s: &str) -> String {
    markdown_cell(s)
}

/// `s` as a Markdown code span, fences included (`` `M2` ``): inside one
/// nothing is markup, so only the unseen characters are shown escaped, and
/// the fence is one backtick more than the longest run of them in `s`
/// (padded with a space where `s` starts or ends with one), as CommonMark
/// reads a span. Not for a table cell, where `|` would still end the cell.
pub fn markdown_code(s: &str) -> String {
    let s = terminal(s);
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// For a text of the plot, as handed to plotters: the unseen characters
/// shown escaped, which leaves only characters XML 1.0 allows. The markup
/// characters are plotters' to escape: its SVG backend writes `&` `<` `>`
/// `"` `'` of every text and attribute as entities (`escape_and_push` in
/// plotters-svg's `svg.rs`), so escaping them here would show `&amp;`; the
/// tests parse the SVG of hostile labels to hold it to that.
pub fn svg_text(s: &str) -> Cow<'_, str> {
    terminal(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of hostile label, as each format writes it.
    const LABELS: [(&str, &str, &str); 10] = [
        (
            "ESC \x1b[31mred\x1b[0m",
            "ESC \\x1b[31mred\\x1b[0m",
            "ESC \\x1b\\[31mred\\x1b\\[0m",
        ),
        (
            "BEL \x07 NUL \x00 DEL \x7f",
            "BEL \\x07 NUL \\x00 DEL \\x7f",
            "BEL \\x07 NUL \\x00 DEL \\x7f",
        ),
        ("C1 CSI \u{9b}1m", "C1 CSI \\x9b1m", "C1 CSI \\x9b1m"),
        (
            "two\nlines\r\n\tend",
            "two\\nlines\\r\\n\\tend",
            "two\\nlines\\r\\n\\tend",
        ),
        ("a | b", "a | b", "a \\| b"),
        ("```\nfence", "```\\nfence", "\\`\\`\\`\\nfence"),
        ("<details><summary>x", "<details><summary>x", "\\<details>\\<summary>x"),
        (
            "<script>alert(1)</script>",
            "<script>alert(1)</script>",
            "\\<script>alert(1)\\</script>",
        ),
        (
            "&amp; and \\| [a](b)",
            "&amp; and \\| [a](b)",
            "\\&amp; and \\\\\\| \\[a](b)",
        ),
        (
            "abc\u{202e}fed\u{2066}\u{200f}",
            "abc\\u{202e}fed\\u{2066}\\u{200f}",
            "abc\\u{202e}fed\\u{2066}\\u{200f}",
        ),
    ];

    #[test]
    fn the_terminal_sees_every_unseen_character_escaped_and_nothing_else_changed() {
        for (label, shown, _) in LABELS {
            assert_eq!(terminal(label), shown, "{label:?}");
            assert!(!terminal(label).chars().any(unseen), "{label:?}");
        }
        assert!(matches!(
            terminal("macOS 15.5 (24F74), arm64, Apple M2 ✓"),
            Cow::Borrowed(_)
        ));
        assert_eq!(terminal("\u{FFFE}\u{FFFF}\u{061C}"), "\\u{fffe}\\u{ffff}\\u{61c}");
        // Cleaning twice changes nothing.
        for (label, shown, _) in LABELS {
            assert_eq!(terminal(&terminal(label)), shown);
        }
    }

    #[test]
    fn a_markdown_cell_cannot_end_its_row_or_open_markup() {
        for (label, _, cell) in LABELS {
            assert_eq!(markdown_cell(label), cell, "{label:?}");
        }
        // What would end the cell, the row or an escape is never left bare:
        // every `|` `<` `&` `` ` `` `[` follows an escaping backslash.
        for (label, _, _) in LABELS {
            let cell = markdown_cell(label);
            let mut chars = cell.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => assert!(chars.next().is_some(), "{cell}"),
                    '|' | '<' | '&' | '`' | '[' | '\n' | '\r' => panic!("bare {c:?} in {cell}"),
                    _ => {}
                }
            }
        }
        // Labels as the suite writes them are unchanged.
        for label in [
            "fork-per-job/pipe (test_fork_sleep) post-fork-check=leak",
            "macOS 15.5 (24F74), arm64, Apple M2",
            "seed_sage_parallel_v2.txt:1-59 (transcript)",
            "%time blocks only (one point per bar(), taken as 1000 calls)",
            "vm_regions (tau 0.94; 434 -> 4834)",
        ] {
            assert_eq!(markdown_cell(label), label);
            assert_eq!(markdown_text(label), label);
        }
    }

    #[test]
    fn a_code_span_is_fenced_around_any_backticks() {
        assert_eq!(markdown_code("M2"), "`M2`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("```x"), "```` ```x ````");
        assert_eq!(markdown_code("<details>\x1b"), "`<details>\\x1b`");
        assert_eq!(markdown_code("a\nb"), "`a\\nb`");
    }

    #[test]
    fn plot_text_holds_only_what_xml_allows() {
        let xml_char = |c: char| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}') || c > '\u{FFFF}'
        };
        for (label, shown, _) in LABELS {
            assert_eq!(svg_text(label), shown);
            assert!(svg_text(label).chars().all(xml_char), "{label:?}");
        }
        assert!(svg_text("\u{FFFF}\u{1}").chars().all(xml_char));
    }
}
