use super::*;
use crate::upstream::sage;
use crate::upstream::tests::{empty_clause, run};

/// The text before the first `<details>`.
fn first_screen(text: &str) -> &str {
    &text[..text.find("<details>").unwrap_or(text.len())]
}

#[test]
fn with_no_mac_row_it_says_so_at_the_top_and_claims_nothing() {
    let linux = "Linux, x86_64";
    let runs = vec![run("3.11.7", "real", linux, false), run("3.12.1", "real", linux, false)];
    let machines = vec!["box".to_string(), "box".to_string()];
    let text = cpython(&runs, &machines, &[]);
    let top: Vec<&str> = text.lines().take(3).collect();
    assert_eq!(top[0], format!("**Title:** [draft] {TITLE}"), "{text}");
    assert!(top[0].chars().count() - "**Title:** ".len() < 80, "{}", top[0]);
    assert!(
        top[2].starts_with("> **Not yet confirmed on macOS.** None of the 2 fork-per-job runs of the input"),
        "{text}"
    );
    let screen = first_screen(&text);
    assert!(
        screen.contains("(read in the sources; not yet measured on a Mac)"),
        "{screen}"
    );
    assert!(screen.contains("(not yet timed on a Mac)"), "{screen}");
    assert!(screen.contains("not yet counted on a Mac"), "{screen}");
    assert!(screen.contains("No row from a Mac in the input"), "{screen}");
    assert!(!text.contains("On the Macs below"), "{text}");
    assert!(text.contains("None of this is measured on a Mac yet."), "{text}");
    assert!(text.contains("none on macOS yet"), "{text}");
    assert_eq!(empty_clause(&text), None, "{text}");
    let comment = sage(&runs, &machines, &[], None);
    assert!(comment.starts_with("> **Not yet confirmed on macOS.**"), "{comment}");
    assert!(comment.contains("**Measured on a Mac:** no row yet."), "{comment}");
    assert!(comment.contains("not yet reported to CPython"), "{comment}");
}

#[test]
fn mac_rows_come_first_and_are_named() {
    let mac = "macOS 15.5, arm64";
    let runs = vec![
        run("3.12.1", "real", "Linux, x86_64", false),
        run("3.11.9", "real", mac, false),
        run("3.12.5", "without thread count", mac, false),
        run("3.12.5", "real", mac, true),
    ];
    let machines: Vec<String> = ["box", "M2", "M2", "M2"].map(String::from).to_vec();
    let text = cpython(&runs, &machines, &[]);
    assert!(text.starts_with(&format!("**Title:** {TITLE}\n")), "{text}");
    assert!(
        text.contains("> **Rows from a Mac: 3 of 4**, from `M2`. The other row comes from `box`"),
        "{text}"
    );
    assert!(
        text.contains("the one run that the leak predicts to drift")
            && text.contains(
                "both runs predicted flat (CPython 3.11, the control, the port's `off` and `free`) show no drift"
            ),
        "{text}"
    );
    assert_eq!(empty_clause(&text), None, "{text}");
    // The first screen: the Mac's originals, the control after os.fork,
    // nothing patched (so `-`), the Linux row only below.
    let screen = first_screen(&text);
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| on a Mac"))
        .collect();
    assert_eq!(rows.len(), 3, "{screen}");
    assert!(rows[0].contains(", CPython 3.11.9 | `os.fork` |"), "{}", rows[0]);
    assert!(rows[1].contains(", CPython 3.12.5 | `os.fork` |"), "{}", rows[1]);
    assert!(rows[1].ends_with("| +1.00 | - | - |"), "{}", rows[1]);
    assert!(rows[2].contains(", CPython 3.12.5 | control |"), "{}", rows[2]);
    assert!(!screen.contains("3.12.1"), "{screen}");
    assert!(
        screen.contains("- **Leak:** +1.00 VM map entry per fork unpatched, +0.00 for the control"),
        "{screen}"
    );
    assert!(!screen.contains("patched ("), "{screen}");
    // Below: every row, Mac rows first.
    let order: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| M2 |") || l.starts_with("| box |"))
        .map(|l| l.split(" | ").nth(2).unwrap_or(""))
        .collect();
    assert_eq!(order, ["3.11.9", "3.12.5", "3.12.5", "3.12.1"], "{text}");
    assert!(
        text.contains("| DRIFT | ") && text.contains(" | +1.00 | - | - |"),
        "{text}"
    );
    assert!(
        text.contains("### CPython versions tested on:\n\n3.11, 3.12\n"),
        "{text}"
    );
    let comment = sage(
        &runs,
        &machines,
        &[],
        Some("https://github.com/python/cpython/issues/1"),
    );
    assert!(comment.contains("the one such run shows no drift"), "{comment}");
    assert!(!comment.contains("**With the fix.**"), "{comment}");
    assert_eq!(empty_clause(&comment), None, "{comment}");
    assert!(
        comment.ends_with("reported to CPython: https://github.com/python/cpython/issues/1\n"),
        "{comment}"
    );
}

/// As upstream/cpython/fork_repro.py prints it on a Mac: os.fork beside
/// the control, `leak` entries per fork of os.fork, under `label`.
fn repro_output(label: Option<&str>, leak: u32) -> String {
    let mut text =
        String::from("fork_repro: Python 3.12.5 (CPython) on macOS 15.5 (24F74) arm64; 6 batches of 500 forks\n");
    if let Some(label) = label {
        text += &format!("fork_repro: build: {label}\n");
    }
    text += "batch  forks | µs per fork       | parent sys (s)    | map entries       | Mach message regions\n";
    for b in 1..=6u32 {
        text += &format!(
            "{b:>5}    500 | {:>8.1}   1000.0 |    0.100    0.100 | {:>8}      400 | {:>8}        2\n",
            1000.0 + f64::from(leak) * 100.0 * f64::from(b),
            400 + leak * 500 * b,
            2 + leak * 500 * b
        );
    }
    text + &format!("fork_repro: os.fork +{leak}.00 map entries per fork, control +0.00: done\n")
}

#[test]
fn the_reproducers_output_from_a_mac_gets_its_table() {
    let runs = repro::parse("repro.txt", &repro_output(None, 1));
    let machines: Vec<String> = runs.iter().map(|r| r.machine.clone()).collect();
    let issue = cpython(&runs, &machines, &[]);
    assert!(
        issue.contains("> **Rows from a Mac: 2 of 2**, from `macOS 15.5 (24F74), arm64`."),
        "{issue}"
    );
    let table = issue
        .split("Its output on the machines of this report:")
        .nth(1)
        .expect(&issue);
    let rows: Vec<&str> = table.lines().filter(|l| l.contains(" x 500 | ")).collect();
    assert_eq!(rows.len(), 2, "{table}");
    // +100 µs per fork a batch of 500 forks: +0.2 per earlier fork, the
    // interval of these exact points one number, so the number alone.
    assert!(
        rows[0].contains("| 3.12.5 | os.fork | 6 x 500 | 1100.0 -> 1600.0 | +0.2 |"),
        "{}",
        rows[0]
    );
    assert!(rows[0].ends_with("| +1.00 | +1.00 | DRIFT |"), "{}", rows[0]);
    assert!(
        rows[1].contains("| 3.12.5 | control | 6 x 500 | 1000.0 -> 1000.0 | "),
        "{}",
        rows[1]
    );
    assert!(rows[1].ends_with("| +0.00 | +0.00 | no drift |"), "{}", rows[1]);
    assert!(
        first_screen(&issue).contains(
            "1100.0 µs per fork at first, 1600.0 µs after 3,000 forks (fork_repro.py, CPython 3.12.5, macOS 15.5 (24F74), arm64)"
        ),
        "{issue}"
    );
    assert_eq!(empty_clause(&issue), None, "{issue}");
}

#[test]
fn a_patched_build_is_told_from_the_unpatched_one() {
    let mut text = repro_output(Some("unpatched, python/cpython main at 1a2b3c4"), 1);
    text += &repro_output(Some("patched, python/cpython main at 1a2b3c4"), 0);
    let runs = repro::parse("fix.txt", &text);
    assert_eq!(runs.len(), 4);
    let machines: Vec<String> = runs.iter().map(|r| r.machine.clone()).collect();
    let issue = cpython(&runs, &machines, &[]);
    let screen = first_screen(&issue);
    assert!(
        screen.contains("- **Leak:** +1.00 VM map entry per fork unpatched, +0.00 patched (the diff below applied"),
        "{screen}"
    );
    let rows: Vec<&str> = screen.lines().filter(|l| l.starts_with("| fork_repro.py")).collect();
    assert_eq!(
        rows,
        [
            "| fork_repro.py, CPython 3.12.5 | `os.fork` | 1100.0 → 1600.0 | +1.00 | 1000.0 → 1000.0 | +0.00 |",
            "| fork_repro.py, CPython 3.12.5 | control | 1000.0 → 1000.0 | +0.00 | 1000.0 → 1000.0 | +0.00 |",
        ],
        "{screen}"
    );
    // The patched os.fork gains nothing, as the fix means: not counted
    // against the leak's prediction for CPython as it is.
    assert!(!issue.contains("do not:") && !issue.contains("does not:"), "{issue}");
    assert!(
        issue.contains("both runs measured gain the map entries per fork the leak predicts"),
        "{issue}"
    );
    assert!(issue.contains("Its evidence from CPython itself"), "{issue}");
    let comment = sage(&runs, &machines, &[], None);
    assert!(
        comment.contains(
            "**With the fix.** CPython 3.12.5 with the patch proposed to CPython applied: `os.fork` gains +0.00 map \
             entries per fork where the same CPython without it gains +1.00; its time per fork: no drift over 3000 forks."
        ),
        "{comment}"
    );
    assert_eq!(empty_clause(&comment), None, "{comment}");
}

#[test]
fn the_patch_inline_is_the_one_patch_of_upstream_cpython() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../upstream/cpython");
    let patches: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".patch"))
        .collect();
    assert_eq!(
        patches,
        ["free-thread-count.patch"],
        "PATCH names the one patch of {}",
        dir.display()
    );
    let issue = cpython(&[], &[], &[]);
    assert!(
        issue.contains(&format!("```diff\n{}\n```\n", PATCH.trim_end())),
        "{issue}"
    );
    assert!(
        issue.find("```diff").unwrap() < issue.find("<details>").unwrap(),
        "{issue}"
    );
}

#[test]
fn with_only_the_ports_rows_from_a_mac_the_leak_line_says_so() {
    let mac = "macOS 15.5, arm64";
    let port = |check: &str, drift: bool| {
        let mut r = run("3.12.5", "real", mac, drift);
        r.factors.python = None;
        r.factors.os_fork = None;
        r.factors.post_fork_check = Some(check.into());
        r
    };
    let runs = vec![port("leak", true), port("free", false)];
    let machines: Vec<String> = ["M2", "M2"].map(String::from).to_vec();
    let text = cpython(&runs, &machines, &[]);
    let screen = first_screen(&text);
    assert!(
        screen.contains(
            "- **Leak:** +1.00 VM map entry per fork with CPython's calls in a port of the fork loop, +0.00 with \
             the diff's calls.\n"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("(no Mac run of CPython's `os.fork` in the input shows it)"),
        "{screen}"
    );
    assert!(
        screen.contains("No run of CPython itself among the Mac rows"),
        "{screen}"
    );
    assert_eq!(empty_clause(&text), None, "{text}");
}
