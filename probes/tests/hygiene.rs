//! Alone in its test binary: counting fds races with any other test that opens
//! files on another harness thread.

#[test]
fn fd_count_sees_a_new_fd_and_no_children_at_start() {
    let before = probes::hygiene::open_fds();
    let f = std::fs::File::open("/dev/null").unwrap();
    assert_eq!(probes::hygiene::open_fds(), before + 1);
    drop(f);
    assert_eq!(probes::hygiene::open_fds(), before);
    assert_eq!(probes::hygiene::children(), probes::hygiene::Children::None);
}
