//! Every escape of what came from an input, once per format, applied where
//! the text is written: a string read from an input (a label, a machine, a
//! file name) goes out through one of these and through nothing written by
//! hand elsewhere.
//!
//! - Markdown table cells: [`markdown_cell`].
//! - The terminal and stderr: none yet (strings are written as read).
//! - XML (the SVG's text): none yet beyond what `plotters` does.

/// Escapes the one character that breaks a Markdown table cell.
pub fn markdown_cell(s: &str) -> String {
    s.replace('|', "\\|")
}
