//! `report --paste-block`: the collapsed block that ends a document to
//! paste (`ci/diagnose.sh`'s `diagnose.md`), written from the inputs as
//! `report_read::pasted` reads them back (see there for why the inputs
//! travel gzip-compressed and base64-encoded).

use crate::escape::markdown_text;
use base64::Engine;
use report_read::pasted::{Input, CLOSE, OPEN};
use std::io::Write;

/// The inputs in the block's own layout: for each, a line `N NAME` (its
/// number of lines, then its file name), then its `N` lines.
fn pack(inputs: &[Input]) -> String {
    let mut out = String::new();
    for input in inputs {
        let lines: Vec<&str> = input.text.lines().collect();
        out += &format!("{} {}\n", lines.len(), input.name);
        for line in lines {
            out += line;
            out.push('\n');
        }
    }
    out
}

/// The collapsed block that ends a document to paste: `inputs` gzipped and
/// base64-encoded, in lines of 76 characters, inside a code fence inside
/// `<details>`.
pub fn block(inputs: &[Input]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    gz.write_all(pack(inputs).as_bytes()).expect("gzip into memory");
    let packed = base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip into memory"));
    let names: Vec<String> = inputs.iter().map(|i| markdown_text(&i.name)).collect();
    let mut out = format!(
        "<details><summary>The {} inputs of this report, machine-readable: <code>report</code> reads this \
         document back into its runs (paste it whole)</summary>\n\nInputs: {}.\n\n```text\n{OPEN}\n",
        inputs.len(),
        names.join(", ")
    );
    for line in packed.as_bytes().chunks(76) {
        // base64 is ASCII.
        out += std::str::from_utf8(line).expect("base64 is ASCII");
        out.push('\n');
    }
    out + CLOSE + "\n```\n\n</details>\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use report_read::pasted::documents;

    fn inputs() -> Vec<Input> {
        vec![
            Input::new("a.json", "{\n  \"x\": 0.1,\n  \"y\": [1, 2]\n}\n"),
            Input::new("b.txt", "line one\n\n```\nthree, after an empty line and a fence\n"),
            Input::new("c.txt", "no newline at the end"),
        ]
    }

    #[test]
    fn a_block_reads_back_to_its_inputs_and_its_machine() {
        let given = inputs();
        assert_eq!(given[0].text, r#"{"x":0.1,"y":[1,2]}"#);
        let doc = format!("# Title\n\nMachine: Mac A\n\nprose\n\n{}", block(&given));
        let got = documents(&doc).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].machine.as_deref(), Some("Mac A"));
        let names: Vec<&str> = got[0].inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a.json", "b.txt", "c.txt"]);
        // Texts come back line for line (each ends with one newline).
        assert_eq!(got[0].inputs[0].text, "{\"x\":0.1,\"y\":[1,2]}\n");
        assert_eq!(got[0].inputs[1].text, given[1].text);
        assert_eq!(got[0].inputs[2].text, "no newline at the end\n");
        assert!(documents("no block here\nMachine: X\n").unwrap().is_empty());
    }

    #[test]
    fn a_thread_gives_one_document_per_block_and_a_quoted_copy_counts_once() {
        let one = format!("Machine: Mac A\n{}", block(&inputs()));
        let two = format!("Machine: Mac B\n{}", block(&inputs()[1..]));
        let quoted: String = one.lines().map(|l| format!("> {l}\n")).collect();
        let thread = format!("{one}\nA comment.\n\n{two}\n{quoted}");
        let docs = documents(&thread).unwrap();
        let machines: Vec<_> = docs.iter().map(|d| d.machine.as_deref()).collect();
        assert_eq!(machines, [Some("Mac A"), Some("Mac B")]);
        assert_eq!(docs[1].inputs.len(), 2);
    }

    #[test]
    fn a_cut_or_edited_block_is_an_error_naming_its_line() {
        let whole = format!("Machine: M\n{}", block(&inputs()));
        let cut: String = whole.lines().take(8).map(|l| format!("{l}\n")).collect();
        let e = documents(&cut).unwrap_err().to_string();
        assert!(e.contains("no \"report-runs end\" line"), "{e}");
        let edited = whole.replacen(OPEN, &format!("{OPEN}\n!!!!"), 1);
        let e = format!("{:#}", documents(&edited).unwrap_err());
        assert!(e.starts_with("the block at line "), "{e}");
        assert!(e.contains("not base64"), "{e}");
    }
}
