#!/usr/bin/env python3
"""Each os.fork() of CPython 3.12+ on macOS leaves one VM map entry behind.

After every fork the parent counts its threads with task_for_pid() and
task_threads() (Modules/posixmodule.c) and never deallocates the thread
array, the thread ports or the task port. The array stays mapped: one more
map entry per fork, which every later fork() copies, so forks get slower.

This script forks BATCHES x FORKS children, one at a time (the child calls
os._exit(0) at once, the parent waits for it), and prints after each batch
its time, the time per fork, the parent's system time and the parent's map
entries, counted between batches, outside the timed part: on macOS from
`vmmap --summary` of itself (TOTAL and "Mach message" region counts), on
Linux from /proc/self/maps. Stdlib only.

Expected on macOS: CPython 3.11 flat; 3.12+ about +1 map entry and +1
"Mach message" region per fork, the time per fork growing with them.
Linux leaks nothing (it reads /proc/self/stat).

Usage: python3 fork_repro.py [BATCHES [FORKS]]    (default: 20 batches of 500)
"""
import os
import platform
import re
import subprocess
import sys
import time


def vmmap_rows():
    """The header, "Mach message" and TOTAL rows of `vmmap --summary` of
    this process, or a one-line reason why there are none."""
    try:
        out = subprocess.run(["vmmap", "--summary", str(os.getpid())],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        return [f"vmmap --summary failed: {e}"]
    return [r for r in out.splitlines()
            if r.startswith(("REGION TYPE", "Mach message", "TOTAL"))]


def last_int(rows, prefix):
    """The last number (the region count) of the first row named prefix."""
    for r in rows:
        if r.startswith(prefix) and not r.startswith(prefix + ","):
            m = re.search(r"(\d+)\s*$", r)
            return int(m.group(1)) if m else None
    return None


def counts():
    """(map entries, Mach message regions) of this process; None: unknown."""
    if sys.platform == "darwin":
        rows = vmmap_rows()
        return last_int(rows, "TOTAL"), last_int(rows, "Mach message")
    if os.path.exists("/proc/self/maps"):
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f), None
    return None, None


def show(n):
    return "-" if n is None else str(n)


def main():
    args = sys.argv[1:]
    batches = int(args[0]) if args else 20
    forks = int(args[1]) if len(args) > 1 else 500
    system = platform.system()
    if platform.mac_ver()[0]:
        build = subprocess.run(["sw_vers", "-buildVersion"], capture_output=True, text=True).stdout.strip()
        system = f"macOS {platform.mac_ver()[0]} ({build or '?'})"
    print(f"fork_repro: Python {platform.python_version()} ({platform.python_implementation()}) "
          f"on {system} {platform.machine()}; {batches} batches of {forks} forks", flush=True)
    if sys.platform == "darwin":
        print("vmmap --summary before:", *vmmap_rows(), sep="\n  ")
    elif not os.path.exists("/proc/self/maps"):
        print("map entries: not counted here (neither vmmap nor /proc/self/maps)")
    first, first_msg = counts()
    for b in range(1, batches + 1):
        start, sys0 = time.perf_counter(), os.times().system
        for _ in range(forks):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        secs, parent_sys = time.perf_counter() - start, os.times().system - sys0
        entries, msg = counts()
        line = (f"batch {b}/{batches}: {forks} forks in {secs:.3f} s, {secs / forks * 1e6:.1f} us per fork, "
                f"parent sys {parent_sys:.3f} s, map entries {show(entries)}")
        if sys.platform == "darwin":
            line += f", Mach message regions {show(msg)}"
        print(line, flush=True)
    if sys.platform == "darwin":
        print("vmmap --summary after:", *vmmap_rows(), sep="\n  ")
    per_fork = [f"{(b - a) / (batches * forks):+.2f} {what}" for a, b, what in
                ((first, entries, "map entries"), (first_msg, msg, "Mach message regions")) if None not in (a, b)]
    print(f"fork_repro: per fork: {', '.join(per_fork) or 'map entries not counted'}")


if __name__ == "__main__":
    main()
