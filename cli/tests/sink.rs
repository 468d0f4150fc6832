//! `cli::sink`, the writer behind `--json` of every binary and `report`'s
//! `--markdown` / `--svg`: devices and FIFOs written through, symlinks
//! followed, the umask respected, regular files replaced whole.
//!
//! Its own test binary, and every test takes [`lock`]: the umask is
//! process-wide, and a test that sets it must not change the mode of a file
//! another test is creating.

use cli::sink::Sink;
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

static UMASK: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    UMASK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with the umask set to `mask`, restoring it after.
fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask has no preconditions; tests that create files hold the lock.
    let old = unsafe { libc::umask(mask as libc::mode_t) };
    let out = f();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    out
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_new_file_gets_0666_masked_by_the_umask() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    for (mask, want) in [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)] {
        let path = dir.path().join(format!("new-{mask:o}.json"));
        with_umask(mask, || {
            let sink = Sink::new("--json", &path).unwrap();
            sink.write(b"{}\n").unwrap();
        });
        assert_eq!(mode(&path), want, "umask {mask:o}");
        assert_eq!(fs::read(&path).unwrap(), b"{}\n");
    }
    // Only the files written: no probe, no temporary file left.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn an_existing_file_is_replaced_whole_and_keeps_its_mode() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    fs::write(&path, vec![b'x'; 10_000]).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let ino = fs::metadata(&path).unwrap().ino();
    // A umask that would give 0600 to a new file: the old mode must win.
    with_umask(0o077, || Sink::new("--json", &path).unwrap().write(b"short\n")).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"short\n", "no tail of the old content");
    assert_eq!(mode(&path), 0o640);
    // A new inode: renamed into place (atomic), not truncated and rewritten.
    assert_ne!(fs::metadata(&path).unwrap().ino(), ino);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_symlink_is_followed_and_stays_a_link() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let target = sub.join("target.json");
    fs::write(&target, "old content, longer than the new one\n").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o604)).unwrap();
    // link2 -> link1 -> sub/target.json, both relative to their own directory.
    let link1 = dir.path().join("link1.json");
    let link2 = dir.path().join("link2.json");
    std::os::unix::fs::symlink("sub/target.json", &link1).unwrap();
    std::os::unix::fs::symlink("link1.json", &link2).unwrap();
    Sink::new("--json", &link2).unwrap().write(b"new\n").unwrap();
    for link in [&link1, &link2] {
        assert!(fs::symlink_metadata(link).unwrap().file_type().is_symlink());
    }
    assert_eq!(fs::read_link(&link2).unwrap(), Path::new("link1.json"));
    assert_eq!(fs::read(&target).unwrap(), b"new\n");
    assert_eq!(mode(&target), 0o604);
    // The temporary file was made in the target's directory, and is gone.
    assert_eq!(fs::read_dir(&sub).unwrap().count(), 1);

    // A dangling link names the file to create.
    let dangling = dir.path().join("dangling.json");
    std::os::unix::fs::symlink("sub/created.json", &dangling).unwrap();
    with_umask(0o022, || Sink::new("--json", &dangling).unwrap().write(b"{}\n")).unwrap();
    assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(sub.join("created.json")).unwrap(), b"{}\n");
    assert_eq!(mode(&sub.join("created.json")), 0o644);
}

#[test]
fn a_fifo_is_written_through_to_its_reader_and_not_opened_before() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("record.fifo");
    mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    // No reader yet: a check that opened the FIFO for writing would block
    // here (and hand a reader an empty record). A thread, so that such a bug
    // fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    let f = fifo.clone();
    std::thread::spawn(move || tx.send(Sink::new("--json", &f)).unwrap());
    let sink = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("Sink::new blocked on a FIFO without a reader")
        .unwrap();
    let f = fifo.clone();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        fs::File::open(&f).unwrap().read_to_end(&mut got).unwrap();
        got
    });
    let record = br#"{"schema": 1}"#.repeat(10_000); // more than a pipe buffer
    sink.write(&record).unwrap();
    // Before joining: a replaced FIFO would leave the reader waiting forever.
    assert!(
        fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
        "still a FIFO"
    );
    assert_eq!(reader.join().unwrap(), record);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_device_node_is_written_through_not_replaced() {
    let _g = lock();
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid != 0 {
        println!("skipped: creating a device node needs root (mknod); running as uid {uid}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("null");
    // The same device as /dev/null (char 1:3 on Linux; makedev differs on macOS).
    let rdev = fs::metadata("/dev/null").unwrap().rdev();
    nix::sys::stat::mknod(
        &dev,
        nix::sys::stat::SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        rdev as _,
    )
    .unwrap();
    Sink::new("--json", &dev).unwrap().write(b"{}\n").unwrap();
    let md = fs::symlink_metadata(&dev).unwrap();
    assert!(md.file_type().is_char_device(), "the device was replaced: {md:?}");
    assert_eq!(md.rdev(), rdev);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_full_device_is_one_error_naming_the_path() {
    let _g = lock();
    let full = Path::new("/dev/full");
    if !full.exists() {
        println!("skipped: no /dev/full on this system (Linux has it)");
        return;
    }
    let sink = Sink::new("--json", full).unwrap();
    let e = sink.write(b"{}\n").unwrap_err();
    assert_eq!(e.to_string(), "--json /dev/full: No space left on device (os error 28)");
    assert!(fs::metadata(full).unwrap().file_type().is_char_device());
}

#[test]
fn directories_sockets_and_missing_directories_are_refused_up_front() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let e = Sink::new("--svg", dir.path()).unwrap_err();
    assert!(e.to_string().ends_with(": is a directory, expected a file path"), "{e}");
    let e = Sink::new("--json", &dir.path().join("no/such/dir/run.json")).unwrap_err();
    assert!(e.to_string().contains("cannot create a file in"), "{e}");
    let sock = dir.path().join("s.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let e = Sink::new("--markdown", &sock).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("--markdown {}: is a socket, not a file", sock.display())
    );
    // A loop of links.
    let a = dir.path().join("a");
    std::os::unix::fs::symlink("b", &a).unwrap();
    std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
    assert!(Sink::new("--json", &a).is_err());
}

#[test]
fn dash_is_stdout_and_needs_no_check() {
    let sink = Sink::new("--json", Path::new("-")).unwrap();
    assert!(sink.is_stdout());
    // (What it writes, after the run's lines, is checked end to end with
    // `test_fork_sleep --json -`.)
}
