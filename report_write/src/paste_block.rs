//! `report --paste-block`: the collapsed block that ends a document to
//! paste (`ci/diagnose.sh`'s `diagnose.md`), written from the inputs as
//! `report_read::pasted` reads them back (see there for why the inputs
//! travel gzip-compressed and base64-encoded).

use crate::escape::markdown_text;
use base64::Engine;
use report_read::pasted::{Input, CLOSE, OPEN};
use std::io::Write;

/// The inputs in the block's own layout (`report_read::pasted::OPEN`):
/// for each, a line `BYTES NAME` (its text's length in bytes, then its file
/// name as a JSON string, which holds any name on one line), then its text
/// as it is, then a newline.
fn pack(inputs: &[Input]) -> String {
    let mut out = String::new();
    for input in inputs {
        // A string always serializes.
        let name = serde_json::to_string(&input.name).expect("a string as JSON");
        out += &format!("{} {name}\n", input.text.len());
        out += &input.text;
        out.push('\n');
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
        // Texts come back byte for byte.
        for (got, given) in got[0].inputs.iter().zip(&given) {
            assert_eq!(got.text, given.text);
        }
        assert!(documents("no block here\nMachine: X\n").unwrap().is_empty());
    }

    #[test]
    fn any_name_and_any_line_end_read_back() {
        let name = "a\nb\r\u{1b}[31m|`x`\u{7}\u{0} \"q\" 12 c.txt";
        let given = vec![Input::new(name, "one\r\ntwo\rthree\n\n"), Input::new("", "")];
        let got = documents(&block(&given)).unwrap();
        assert_eq!(got[0].inputs, given);
    }

    #[test]
    fn a_block_of_the_first_layout_still_reads_back() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"2 a b.txt\nline one\nline two\r\n1 c.json\n{}\n")
            .unwrap();
        let payload = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let doc = format!("Machine: M\n```\nreport-runs v1 (gzip+base64)\n{payload}\n{CLOSE}\n```\n");
        let got = documents(&doc).unwrap();
        let read: Vec<(&str, &str)> = got[0]
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.text.as_str()))
            .collect();
        assert_eq!(read, [("a b.txt", "line one\nline two\n"), ("c.json", "{}\n")]);
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
    fn a_quoted_block_takes_the_machine_of_its_own_quote_at_its_depth() {
        let quote = |text: &str, marks: &str| -> String { text.lines().map(|l| format!("{marks} {l}\n")).collect() };
        let a = format!("Machine: Mac A\n{}", block(&inputs()));
        let c = block(&inputs()[1..]);
        // B quotes a reply that quoted A; a blank line ends the quote, so C's
        // block quoted after it names no machine (B's is outside the quote).
        let thread = format!(
            "Machine: Mac B\n> Machine: Mac Q\n{}>\n> text\n\n{}",
            quote(&a, ">>"),
            quote(&c, ">")
        );
        let blocks = report_read::pasted::blocks(&thread).unwrap();
        let got: Vec<_> = blocks.iter().map(|b| (b.machine.as_deref(), b.quoted)).collect();
        assert_eq!(got, [(Some("Mac A"), true), (None, true)]);
    }

    #[test]
    fn a_cut_or_edited_block_is_an_error_naming_its_line() {
        let whole = format!("Machine: M\n{}", block(&inputs()));
        let cut: String = whole.lines().take(8).map(|l| format!("{l}\n")).collect();
        let e = documents(&cut).unwrap_err().to_string();
        assert!(e.contains("no \"report-runs end\" line"), "{e}");
        let edited = whole.replacen(OPEN, &format!("{OPEN}\n!!!!"), 1);
        let e = format!("{:#}", documents(&edited).unwrap_err());
        assert!(e.starts_with("block at line "), "{e}");
        assert!(e.contains("not base64"), "{e}");
    }
}
