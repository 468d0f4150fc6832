//! `--ballast-regions`: alone in its test binary, because it maps and unmaps
//! hundreds of regions, which would upset the region counts of other tests
//! running on other harness threads.

use probes::ballast::Ballast;

#[test]
fn regions_are_separate_mappings_and_past_the_limit_refused() {
    let before = probes::churn::current_mappings();
    let b = Ballast::shaped(1, 300, 0).unwrap();
    assert_eq!(b.regions(), 300);
    assert!(b.len() >= 1 << 20, "{}", b.len());
    if let (Some(before), Some(after)) = (before, probes::churn::current_mappings()) {
        // The other test maps and unmaps 8 meanwhile.
        assert!(after >= before + 290, "{before} -> {after}");
    }
    drop(b);
    let limit = probes::churn::map_limit().limit;
    let e = Ballast::shaped(0, limit, 0).err().expect("refused");
    assert!(
        e.to_string().starts_with(&format!("--ballast-regions {limit}: ")),
        "{e}"
    );
}

#[test]
fn a_split_ballast_dirties_its_read_write_regions_only() {
    let page = probes::page_size();
    // 8 regions of one page, 4 of them writable: 4 pages to dirty, no buffer
    // of its own needed (a fifth page would need one).
    let mut b = Ballast::shaped(0, 8, 4 * page as u64 / 1024).unwrap();
    assert_eq!(b.dirty_pages(), 4);
    assert_eq!(b.len(), 8 * page);
    b.dirty();
    b.dirty();
}
