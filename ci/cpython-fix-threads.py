"""Checks, under a CPython >= 3.12, that os.fork()'s post-fork thread count
still works, through what it is for: the DeprecationWarning about forking a
multi-threaded process. Run by ci/cpython-fix.sh under each build.

The warning's text carries no count ("This process (pid=P) is
multi-threaded, use of fork() may lead to deadlocks in the child.": CPython's
Modules/posixmodule.c, warn_about_fork_with_threads, 3.12 to main), so the
count is checked where it decides: with one thread, os.fork() must not warn;
with two, it must warn, naming the parent's pid. The second thread is started
with _thread.start_new_thread, which the threading module does not know
about, so only the OS count (task_threads() on macOS, /proc/self/stat on
Linux) can see it: a count that fails (CPython then falls back to the
threading module's one thread) gives no warning, one that overcounts warns
with a single thread.

Prints one line, "thread-count check: ok: ..." (exit 0) or
"thread-count check: FAIL: ..." (exit 1).
"""

import _thread
import os
import re
import sys
import warnings

WARNING = r"This process \(pid={pid}\) is multi-threaded, use of fork\(\) may lead to deadlocks in the child\."


def fork_warnings():
    """The DeprecationWarnings of one os.fork() in the parent; the child
    leaves at once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
    os.waitpid(pid, 0)
    return [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def main():
    if sys.version_info < (3, 12):
        print(f"thread-count check: FAIL: Python {sys.version.split()[0]} has no post-fork thread count (3.12 and later)")
        return 1
    alone = fork_warnings()
    if alone:
        print(f"thread-count check: FAIL: with 1 thread os.fork() warned: {alone[0]!r} (the count is too high)")
        return 1
    # A second thread unknown to the threading module, parked on a lock
    # until the fork is done.
    started, release = _thread.allocate_lock(), _thread.allocate_lock()
    started.acquire()
    release.acquire()

    def parked():
        started.release()
        release.acquire()

    _thread.start_new_thread(parked, ())
    started.acquire()
    try:
        two = fork_warnings()
    finally:
        release.release()
    expected = re.compile(WARNING.format(pid=os.getpid()))
    if not two:
        print("thread-count check: FAIL: with 2 threads (one unknown to threading) os.fork() gave no "
              "DeprecationWarning (the OS count did not see the second thread)")
        return 1
    if not any(expected.fullmatch(m) for m in two):
        print(f"thread-count check: FAIL: with 2 threads os.fork() warned {two[0]!r}, not "
              f"{WARNING.format(pid=os.getpid())!r}")
        return 1
    print(f"thread-count check: ok: 1 thread, no warning; 2 threads (one unknown to threading), "
          f"{two[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
