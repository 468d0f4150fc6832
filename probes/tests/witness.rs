//! The witness parsers on real published outputs (`tests/fixtures/witness/`,
//! sources in its README): the exact counts of each sample, and the Linux
//! path end to end on this process.

use probes::witness::{parse_pmap, Tool, VmmapTable};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/witness/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The table of a fixture, checked for what every complete table holds: its
/// rows add up to its `TOTAL` row.
fn table(name: &str) -> VmmapTable {
    let t = VmmapTable::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Some(total) = t.total {
        assert_eq!(
            t.rows.iter().map(|r| r.1).sum::<u64>(),
            total,
            "{name}: rows against TOTAL"
        );
    }
    t
}

fn count(t: &VmmapTable, name: &str) -> Option<u64> {
    t.rows.iter().find(|r| r.0 == name).map(|r| r.1)
}

#[test]
fn vmmap_summary_macos_14_with_a_mach_message_row() {
    let t = table("vmmap-summary-macos14.1.1-clion.txt");
    assert_eq!((t.rows.len(), t.total, t.mach_msg()), (44, Some(12542), 9));
    assert_eq!(t.rows[0], ("Accelerate framework".to_string(), 1));
    assert_eq!(count(&t, "VM_ALLOCATE"), Some(5911));
    assert_eq!(count(&t, "VM_ALLOCATE (reserved)"), Some(2));
    assert_eq!(count(&t, "MALLOC_TINY (empty)"), Some(1));
    assert_eq!(count(&t, "unused but dirty shlib __DATA"), Some(244));
    // Neither the lines above the table nor the MALLOC ZONE table after it
    // (whose TOTAL is 91) are rows.
    assert!(t
        .rows
        .iter()
        .all(|r| !r.0.contains("Zone") && !r.0.contains("Writable")));
    let r = Tool::Vmmap
        .parse(&fixture("vmmap-summary-macos14.1.1-clion.txt"))
        .unwrap();
    assert_eq!((r.total, r.mach_msg, r.types["Mach message"]), (12542, Some(9), 9));
    assert_eq!(r.words(), "regions=12542 mach_msg=9");
}

#[test]
fn vmmap_summary_macos_26_without_a_mach_message_row() {
    let t = table("vmmap-summary-macos26.4.1-llama-server.txt");
    assert_eq!((t.rows.len(), t.total, t.mach_msg()), (36, Some(3270), 0));
    assert_eq!(count(&t, "owned unmapped (graphics)"), Some(18));
    assert_eq!(count(&t, "__AUTH"), Some(259));
    assert_eq!(count(&t, "Memory Tag 22"), Some(1));
    assert_eq!(count(&t, "DefaultMallocZone_0x106d1c000"), None);
    assert_eq!(
        Tool::Vmmap
            .parse(&fixture("vmmap-summary-macos26.4.1-llama-server.txt"))
            .unwrap()
            .mach_msg,
        Some(0)
    );
}

#[test]
fn crash_report_tables() {
    let t = table("crash-report-macos15.4-zim.txt");
    assert_eq!((t.rows.len(), t.total, t.mach_msg()), (21, Some(1478), 0));
    assert_eq!(count(&t, "page table in kernel"), Some(1));
    assert_eq!(count(&t, "__FONT_DATA"), Some(1));
    let t = table("crash-report-dylib_dobby_hook.txt");
    assert_eq!((t.rows.len(), t.total), (9, Some(56)));
    assert_eq!(count(&t, "dyld private memory"), Some(4));
    // A crash report names a faulting region under a `REGION TYPE` line of
    // its own, before the summary: not the table.
    let with_region_info = format!(
        "      REGION TYPE                    START - END         [ VSIZE] PRT/MAX SHRMOD  REGION DETAIL\n\
         \x20     MALLOC_NANO              600000000000-600020000000 [512.0M] rw-/rwx SM=PRV\n\n{}",
        fixture("crash-report-macos15.4-zim.txt")
    );
    assert_eq!(VmmapTable::parse(&with_region_info).unwrap().total, Some(1478));
}

#[test]
fn quotes_cut_short_keep_their_rows_but_give_no_reading() {
    let t = table("crash-report-nwb-guide-cut.txt");
    assert_eq!((t.rows.len(), t.total, t.mach_msg()), (21, None, 5));
    assert_eq!(count(&t, "Memory Tag 253"), Some(29));
    assert!(t.regions().unwrap_err().contains("TOTAL"));
    // `Mach message (reserved)`: the same tag, no page yet; counted as
    // `mach_msg_regions` counts it.
    let t = table("crash-report-twinejs-mach-message-reserved-cut.txt");
    assert_eq!((t.rows.len(), t.total, t.mach_msg()), (22, None, 2));
}

#[test]
fn tables_without_counts_or_without_a_table_are_refused() {
    let e = VmmapTable::parse(&fixture("crash-report-osx-zfs-no-counts.txt")).unwrap_err();
    assert!(e.contains("no region COUNT column"), "{e}");
    let e = Tool::Vmmap.parse("vmmap: no process\n").unwrap_err();
    assert!(e.contains("no REGION TYPE table"), "{e}");
}

#[test]
fn pmap_counts_its_mapping_lines() {
    let text = fixture("pmap-debian12-procps4.0.2-sleep.txt");
    let r = parse_pmap(&text).unwrap();
    assert_eq!((r.total, r.mach_msg), (37, None));
    assert_eq!(r.words(), "regions=37");
    let cut: String = text.lines().take(20).map(|l| format!("{l}\n")).collect();
    assert!(parse_pmap(&cut).unwrap_err().contains("total"));
    assert!(parse_pmap("1234:   sleep 5\n").is_err());
}

#[test]
fn pmap_of_this_process_counts_its_maps() {
    if Tool::here() != Some(Tool::Pmap) || std::process::Command::new("pmap").arg("-V").output().is_err() {
        println!("skipped: no pmap here");
        return;
    }
    // The test harness's threads map too: the two counts are read close
    // together, not at once.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap().lines().count() as i64;
    let r = probes::witness::read(Tool::Pmap, std::process::id()).unwrap();
    assert!(
        (r.total as i64 - maps).abs() <= 8,
        "pmap {} against /proc/self/maps {maps}",
        r.total
    );
}
