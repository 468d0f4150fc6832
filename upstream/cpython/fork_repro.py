#!/usr/bin/env python3
"""Each os.fork() of CPython 3.12+ on macOS leaves one VM map entry behind.

After every fork the parent counts its threads with task_for_pid() and
task_threads() (Modules/posixmodule.c) and never deallocates the thread
array, the thread ports or the task port. The array stays mapped (a page
the kernel tags VM_MEMORY_MACH_MSG): one more map entry per fork, which
every later fork() copies, so forks get slower. Linux reads /proc/self/stat
instead and leaks nothing.

What it runs, each in a fresh interpreter of its own (this file re-run by
sys.executable), so that neither inherits the other's map:

  os.fork   BATCHES x FORKS forks with os.fork(), one child at a time (the
            child calls os._exit(0) at once, the parent waits for it);
  control   the same with a fork that skips only the thread count:
            PyOS_BeforeFork(), fork(), then PyOS_AfterFork_Child() or
            PyOS_AfterFork_Parent(), through ctypes.pythonapi (the GIL held,
            as os.fork holds it). Not run where the interpreter has no
            ctypes.pythonapi (PyPy): one line says so, os.fork still counts;
  fork cost (the calibration, --no-calibrate skips it) what one more map
            entry costs the parent's fork() call here: N one-page private
            mmap pages of alternating protections (so that no two merge into
            one entry), each written so it is resident, and on macOS tagged
            VM_MEMORY_MACH_MSG as the leaked arrays are, at N = 0 to 16,000;
            only the parent's fork() call is timed (the child's exit runs on
            another core); the slope is Theil-Sen's with Sen's 95 % interval
            (Kendall's variance with ties, as scipy.stats.theilslopes),
            written small (theil_sen below) to stay in the standard library;
            the pages are counted, and the count must add them within 1 %.

After each batch, outside its clock, each interpreter counts its own map
entries: on macOS task_info(TASK_VM_INFO)'s region_count (the entries
vm_map_fork copies) and, with a mach_vm_region_recurse walk, the regions
tagged VM_MEMORY_MACH_MSG; on Linux the lines of /proc/self/maps. On macOS
`vmmap -summary` of each interpreter, read once before its first batch and
once after its last, is printed beside the count as a witness: where vmmap
is missing or may not read the interpreter (a hardened python.org build),
one line says so and the count stands.

Output: one table (per batch: us per fork, the parent's system time, map
entries, Mach message regions; os.fork beside the control), the us per fork
of the first and the last batch and the Theil-Sen slope per 1000 forks, the
fork cost, and as the LAST line the answer, for people and programs:

  fork_repro: os.fork +1.00 map entries per fork, control +0.00: the thread count leaks

the map entries each run gained per fork, from the count before its first
batch to the count after its last. A run at +0.90 or more leaks one entry
per fork; at +0.10 or less it leaks nothing; in between is "unclear". So:
os.fork leaks, control clean: "the thread count leaks"; both clean: "no
leak here" (CPython 3.11, Linux, a fixed CPython); both leak: "both leak, so
not the thread count alone". Where nothing could be counted the last line
is "fork_repro: os.fork map entries not counted (REASON)".

Expected on macOS: CPython 3.11 (no thread count) flat; 3.12+ os.fork +1 map
entry and +1 Mach message region per fork, its time per fork growing with
them, the control flat. Linux: no leak here.

Defaults: 10 batches of 200 forks per interpreter. A Mac forks a small
Python in about 1 ms at worst, so the two runs take about 5 s and the fork
cost at most 10 s, under 30 s with the four vmmap readings; 2,000 forks
leave 2,000 entries behind, more than double a small interpreter's map,
which is plain in the count and in the time per fork.

Usage: python3 fork_repro.py [--batches B] [--forks F] [--no-calibrate]
                             [--build-label TEXT]
  (the older spelling `fork_repro.py [BATCHES [FORKS]]` still works).
--build-label is for runs that compare builds (patched and unpatched
CPython): its text is printed as `fork_repro: build: TEXT` under the first
line so that the outputs are told apart.

Exit status: 0 done (whatever the answer); 2 bad arguments; 1 when an
interpreter failed, or on macOS when nothing could be counted.
Standard library only; Python 3.8 or later.
"""
import argparse
import ctypes
import mmap
import os
import platform
import re
import subprocess
import sys
import time

THIS = os.path.abspath(__file__)

# The answer's thresholds, map entries per fork (docstring).
LEAKS, CLEAN = 0.9, 0.1

# ---------------------------------------------------------------------------
# XNU's constants and layouts (apple-oss-distributions/xnu), for ctypes.
# The sizes and offsets are these headers' numbers, which a test of the
# reproducer's own checks on any OS.

KERN_SUCCESS = 0  # osfmk/mach/kern_return.h
# osfmk/mach/task_info.h: "#define TASK_VM_INFO            22".
TASK_VM_INFO = 22
# osfmk/mach/vm_statistics.h: "#define VM_MEMORY_MACH_MSG 20", the tag of
# out-of-line message memory the kernel maps into a task (the thread array
# of task_threads); "#define VM_MAKE_TAG(tag) ((tag) << 24)", the tag an
# anonymous mmap() carries in its fd argument.
VM_MEMORY_MACH_MSG = 20


def vm_make_tag(tag):
    return tag << 24


class TaskVmInfoRev0(ctypes.Structure):
    """struct task_vm_info of osfmk/mach/task_info.h up to its last field of
    revision 0 (compressed_lifetime): the header declares it inside
    "#pragma pack(push, 4)" with virtual_size (mach_vm_size_t, 8 bytes) at
    0, region_count ("integer_t region_count; /* number of memory regions
    */") at 8, page_size at 12, then 16 mach_vm_size_t. The kernel
    (osfmk/kern/task.c, task_info) refuses "if (*task_info_count <
    TASK_VM_INFO_REV0_COUNT)" and fills only the revisions the count holds,
    so this prefix and that count are enough. The header's chain:
    TASK_VM_INFO_COUNT = sizeof / sizeof(natural_t) = 89 words (revision 6),
    REV5 = REV6 - 2, REV4 = REV5 - 1, REV3 = REV4 - 2, REV2 = REV3 - 42,
    REV1 = REV2 - 4, REV0 = REV1 - 2 = 36 words = 144 bytes, this struct."""
    _layout_ = "ms"  # _pack_ means MSVC's rules; said so, Python 3.14 asks
    _pack_ = 4
    _fields_ = [
        ("virtual_size", ctypes.c_uint64),
        ("region_count", ctypes.c_int32),
        ("page_size", ctypes.c_int32),
    ] + [(name, ctypes.c_uint64) for name in (
        "resident_size", "resident_size_peak", "device", "device_peak",
        "internal", "internal_peak", "external", "external_peak", "reusable",
        "reusable_peak", "purgeable_volatile_pmap", "purgeable_volatile_resident",
        "purgeable_volatile_virtual", "compressed", "compressed_peak",
        "compressed_lifetime")]


# osfmk/mach/task_info.h: TASK_VM_INFO_REV0_COUNT, 36 natural_t (above).
TASK_VM_INFO_REV0_COUNT = ctypes.sizeof(TaskVmInfoRev0) // 4


class VmRegionSubmapInfo64(ctypes.Structure):
    """struct vm_region_submap_info_64 of osfmk/mach/vm_region.h, inside its
    "#pragma pack(push, 4)": so the 8-byte offset (memory_object_offset_t,
    unsigned long long in memory_object_types.h) sits at 12, not 16, user_tag
    at 20, is_submap (boolean_t, 4 bytes) at 48, and the struct is 76 bytes:
    VM_REGION_SUBMAP_INFO_COUNT_64 = VM_REGION_SUBMAP_INFO_V2_COUNT_64 =
    sizeof / sizeof(natural_t) = 19."""
    _layout_ = "ms"
    _pack_ = 4
    _fields_ = [
        ("protection", ctypes.c_int32),        # vm_prot_t
        ("max_protection", ctypes.c_int32),    # vm_prot_t
        ("inheritance", ctypes.c_uint32),      # vm_inherit_t
        ("offset", ctypes.c_uint64),           # memory_object_offset_t
        ("user_tag", ctypes.c_uint32),
        ("pages_resident", ctypes.c_uint32),
        ("pages_shared_now_private", ctypes.c_uint32),
        ("pages_swapped_out", ctypes.c_uint32),
        ("pages_dirtied", ctypes.c_uint32),
        ("ref_count", ctypes.c_uint32),
        ("shadow_depth", ctypes.c_uint16),
        ("external_pager", ctypes.c_uint8),
        ("share_mode", ctypes.c_uint8),
        ("is_submap", ctypes.c_int32),         # boolean_t
        ("behavior", ctypes.c_int32),          # vm_behavior_t
        ("object_id", ctypes.c_uint32),        # vm32_object_id_t
        ("user_wired_count", ctypes.c_uint16),
        ("pages_reusable", ctypes.c_uint32),
        ("object_id_full", ctypes.c_uint64),   # vm_object_id_t
    ]


VM_REGION_SUBMAP_INFO_COUNT_64 = ctypes.sizeof(VmRegionSubmapInfo64) // 4


class MapCounter:
    """This process's map entries and, on macOS, its regions tagged
    VM_MEMORY_MACH_MSG. read() gives (entries, mach_msg), None where not
    counted; `why` says why nothing is counted (None when it works)."""

    def __init__(self):
        self.why, self.mach = None, sys.platform == "darwin"
        if self.mach:
            try:
                self._mach_init()
            except (OSError, AttributeError, ValueError) as e:
                self.why = "the Mach calls are not reachable through ctypes: %s" % e
                return
        elif not os.path.exists("/proc/self/maps"):
            self.why = "neither Mach's task_info nor /proc/self/maps on %s" % sys.platform
            return
        if self.read()[0] is None:
            self.why = "the first count failed (%s)" % (
                "task_info(TASK_VM_INFO)" if self.mach else "reading /proc/self/maps")

    def _mach_init(self):
        libc = ctypes.CDLL(None)
        # libsyscall/mach/mach/mach_init.h: "extern mach_port_t
        # mach_task_self_; #define mach_task_self() mach_task_self_": read
        # the global, as the macro does, rather than trap for a new
        # reference on every count.
        self.task = ctypes.c_uint32.in_dll(libc, "mach_task_self_").value
        u32p, u64p = ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint64)
        # kern_return_t task_info(task_name_t, task_flavor_t, task_info_t,
        # mach_msg_type_number_t *): a port and natural_t are 32-bit.
        self.task_info = libc.task_info
        self.task_info.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p, u32p]
        self.task_info.restype = ctypes.c_int
        # kern_return_t mach_vm_region_recurse(vm_map_read_t, mach_vm_address_t *,
        # mach_vm_size_t *, natural_t *nesting_depth, vm_region_recurse_info_t,
        # mach_msg_type_number_t *infoCnt) (mach/mach_vm.h, from mach_vm.defs).
        self.recurse = libc.mach_vm_region_recurse
        self.recurse.argtypes = [ctypes.c_uint32, u64p, u64p, u32p, ctypes.c_void_p, u32p]
        self.recurse.restype = ctypes.c_int

    def read(self):
        if self.why is not None:
            return None, None
        if not self.mach:
            try:
                with open("/proc/self/maps", "rb") as f:
                    return f.read().count(b"\n"), None
            except OSError:
                return None, None
        info = TaskVmInfoRev0()
        count = ctypes.c_uint32(TASK_VM_INFO_REV0_COUNT)
        kr = self.task_info(self.task, TASK_VM_INFO, ctypes.byref(info), ctypes.byref(count))
        entries = info.region_count if kr == KERN_SUCCESS else None
        return entries, self._mach_msg_regions()

    def _mach_msg_regions(self):
        """One walk of the task's own map: the leaked arrays are entries of
        it (ipc_kmsg_copyout_ool_ports_descriptor allocates them in the
        task's map), so a submap (the shared cache) is stepped over, not
        entered: nesting depth 0 before every call, as the kernel writes
        back the depth it returned, and the count reset to
        VM_REGION_SUBMAP_INFO_COUNT_64 before every call, as the kernel
        writes back the count it filled."""
        addr, size, depth = ctypes.c_uint64(0), ctypes.c_uint64(0), ctypes.c_uint32(0)
        info, count = VmRegionSubmapInfo64(), ctypes.c_uint32(0)
        n = 0
        for _ in range(10000000):
            depth.value, count.value = 0, VM_REGION_SUBMAP_INFO_COUNT_64
            kr = self.recurse(self.task, ctypes.byref(addr), ctypes.byref(size), ctypes.byref(depth),
                              ctypes.byref(info), ctypes.byref(count))
            if kr != KERN_SUCCESS:
                return n  # KERN_INVALID_ADDRESS: past the last region
            if not info.is_submap and info.user_tag == VM_MEMORY_MACH_MSG:
                n += 1
            if size.value == 0:
                return None
            addr.value += size.value
        return None


def vmmap_summary():
    """(regions, Mach message regions) from the TOTAL and "Mach message"
    rows of `vmmap -summary` of this process, or (None, reason)."""
    try:
        p = subprocess.run(["vmmap", "-summary", str(os.getpid())], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, errors="replace", timeout=120)
    except FileNotFoundError:
        return None, "vmmap not found"
    except (OSError, subprocess.SubprocessError) as e:
        return None, "vmmap failed: %s" % e
    rows = p.stdout.splitlines()

    def last_int(prefix):
        for r in rows:
            if r.startswith(prefix) and not r.startswith(prefix + ","):
                m = re.search(r"(\d+)\s*$", r)
                return int(m.group(1)) if m else None
        return None

    total, msg = last_int("TOTAL"), last_int("Mach message")
    if p.returncode != 0 or total is None:
        said = [line.strip() for line in (p.stderr + p.stdout).splitlines() if line.strip()]
        return None, "exit %d: %s" % (p.returncode, said[0][:160] if said else "no output")
    return (total, msg if msg is not None else 0), None


class Unavailable(Exception):
    pass


class ForkWithoutThreadCount:
    """The control: what os.fork() does (os_fork_impl, Modules/posixmodule.c)
    minus CPython 3.12+'s thread count in the parent: PyOS_BeforeFork(),
    fork(), then PyOS_AfterFork_Child() in the child or
    PyOS_AfterFork_Parent() in the parent (which also runs the
    os.register_at_fork hooks), every call through a ctypes.PyDLL, which
    holds the GIL across the call as os.fork does. Left out besides the
    count: the os.fork audit event and the DeprecationWarning about forking
    a multi-threaded process (this process has one thread)."""

    def __init__(self):
        api = getattr(ctypes, "pythonapi", None)
        if api is None:
            raise Unavailable("no ctypes.pythonapi")
        fns = []
        for name in ("PyOS_BeforeFork", "PyOS_AfterFork_Child", "PyOS_AfterFork_Parent"):
            try:
                f = getattr(api, name)
            except AttributeError:
                raise Unavailable("no %s in ctypes.pythonapi" % name)
            f.argtypes, f.restype = [], None
            fns.append(f)
        self.before, self.child, self.parent = fns
        try:
            self.fork = ctypes.PyDLL(None, use_errno=True).fork
        except (OSError, AttributeError) as e:
            raise Unavailable("no fork() through ctypes: %s" % e)
        self.fork.argtypes, self.fork.restype = [], ctypes.c_int

    def __call__(self):
        self.before()
        pid = self.fork()
        if pid == 0:
            self.child()
            return 0
        err = ctypes.get_errno()
        self.parent()
        if pid < 0:
            raise OSError(err, os.strerror(err))
        return pid


def say(*words):
    """One line out, flushed at once: a child interpreter's line to the
    parent, the parent's to the user (a forked child must not inherit
    unwritten output, and the user sees each line as it comes)."""
    print(*words, flush=True)


def dash(n):
    return "-" if n is None else str(n)


def one_line(text, limit=200):
    """Text from outside (a reason, a label) on one line, bounded,
    parentheses made brackets so the answer line's regex holds."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()
    text = text.replace("(", "[").replace(")", "]")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def child_run(mode, batches, forks):
    """A run in this fresh interpreter: its lines (`say`) are read back by
    `collect`."""
    fork = os.fork
    if mode == "control":
        try:
            fork = ForkWithoutThreadCount()
        except Unavailable as e:
            say("unavailable", one_line(e))
            return 0
    counter = MapCounter()
    if counter.why:
        say("nocount", one_line(counter.why))
    witness(counter, "before")
    e, m = counter.read()
    say("count0", dash(e), dash(m))
    for b in range(1, batches + 1):
        start, sys0 = time.perf_counter(), os.times().system
        for _ in range(forks):
            pid = fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        secs, parent_sys = time.perf_counter() - start, os.times().system - sys0
        e, m = counter.read()
        say("batch", b, "%.6f" % secs, "%.3f" % parent_sys, dash(e), dash(m))
    witness(counter, "after")
    return 0


def witness(counter, when):
    """macOS only: vmmap -summary of this interpreter, with the in-process
    count read just before it."""
    if sys.platform != "darwin":
        return
    e, m = counter.read()
    got, why = vmmap_summary()
    if got is None:
        say("witness", when, "no", one_line(why))
    else:
        say("witness", when, "ok", got[0], got[1], dash(e), dash(m))


# The calibration: extra entries at these counts, forks timed at each.
LEVELS = (0, 2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000)
SAMPLES, LEVEL_SECS, MIN_SAMPLES = 25, 0.9, 5


def child_calibrate():
    """The fork cost of one more map entry in this fresh interpreter: the
    samples `cal X US` (X the extra entries counted, US one fork() call
    in the parent) and the checks `calcheck PAGES ADDED ADDED_MACH_MSG`."""
    try:
        fork, kind = ForkWithoutThreadCount(), "the control's fork"
    except Unavailable:
        fork, kind = os.fork, "os.fork"
    say("calfork", kind)
    counter = MapCounter()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mmap_, mprotect, munmap = libc.mmap, libc.mprotect, libc.munmap
    except (OSError, AttributeError) as e:
        say("calstop", one_line("no mmap through ctypes: %s" % e))
        return 0
    mmap_.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int64]
    mmap_.restype = ctypes.c_void_p
    mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    failed = ctypes.c_void_p(-1).value  # MAP_FAILED
    page = mmap.PAGESIZE
    rw = mmap.PROT_READ | mmap.PROT_WRITE
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANON
    # macOS: an anonymous mmap's fd carries "(some) Mach VM allocation
    # flags", its tag among them (bsd/kern/kern_mman.c, mmap), so the pages
    # are tagged as the leaked arrays are.
    tag = vm_make_tag(VM_MEMORY_MACH_MSG) if sys.platform == "darwin" else -1
    pages = []
    base = counter.read()[0]
    try:
        for level in LEVELS:
            before = counter.read()
            while len(pages) < level:
                p = mmap_(None, page, rw, flags, tag, 0)
                if p is None or p == failed:
                    say("calstop", one_line("mmap of page %d: %s" % (len(pages) + 1, os.strerror(ctypes.get_errno()))))
                    return 0
                pages.append(p)
                ctypes.memset(p, 1, 1)  # written: resident, as the kernel's copy-out is
                if len(pages) % 2 == 0 and mprotect(p, page, mmap.PROT_READ) != 0:
                    say("calstop", one_line("mprotect: %s" % os.strerror(ctypes.get_errno())))
                    return 0
            after = counter.read()
            if level:
                say("calcheck", level - LEVELS[LEVELS.index(level) - 1],
                    *[dash(None if a is None or b is None else a - b) for a, b in zip(after, before)])
            x = level if base is None or after[0] is None else after[0] - base
            pid = fork()  # untimed: the first fork after writing
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            t_level = time.perf_counter()
            for k in range(SAMPLES):
                t0 = time.perf_counter()
                pid = fork()
                if pid == 0:
                    os._exit(0)
                us = (time.perf_counter() - t0) * 1e6
                os.waitpid(pid, 0)
                say("cal", x, "%.2f" % us)
                if k + 1 >= MIN_SAMPLES and time.perf_counter() - t_level > LEVEL_SECS:
                    break
    finally:
        for p in pages:
            munmap(p, page)
    return 0


# ---------------------------------------------------------------------------
# The parent: runs the children, then one table and the answer.

class Result:
    """What one child interpreter said."""

    def __init__(self, name):
        self.name, self.failed, self.unavailable, self.nocount = name, None, None, None
        self.count0, self.batches, self.witness = (None, None), [], {}
        self.samples, self.checks, self.calfork, self.calstop = [], [], None, None

    def per_fork(self, k):
        """Counter k (0 map entries, 1 Mach message regions) gained per fork."""
        if not self.batches or self.count0[k] is None or self.batches[-1][2 + k] is None:
            return None
        forks = sum(b[4] for b in self.batches)
        return (self.batches[-1][2 + k] - self.count0[k]) / forks


def num(word):
    return None if word == "-" else int(word)


def collect(name, mode, opts):
    """Runs `mode` in a fresh interpreter and reads its lines back."""
    r = Result(name)
    if not sys.executable:
        r.failed = "no sys.executable to start a fresh interpreter with"
        return r
    cmd = [sys.executable, THIS, "--child", mode, "--batches", str(opts.batches), "--forks", str(opts.forks)]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           errors="replace")
    except OSError as e:
        r.failed = "cannot start %s: %s" % (sys.executable, e)
        return r
    if p.returncode != 0:
        said = [line for line in p.stderr.splitlines() if line.strip()]
        r.failed = "its interpreter exited with %d: %s" % (p.returncode, one_line(said[-1] if said else "no message"))
    elif p.stderr:
        sys.stderr.write(p.stderr)
    for line in p.stdout.splitlines():
        w = line.split()
        if not w:
            continue
        rest = line.split(None, 1)[1] if len(w) > 1 else ""
        if w[0] == "unavailable":
            r.unavailable = rest
        elif w[0] == "nocount":
            r.nocount = rest
        elif w[0] == "count0":
            r.count0 = (num(w[1]), num(w[2]))
        elif w[0] == "batch":
            r.batches.append((float(w[2]), float(w[3]), num(w[4]), num(w[5]), opts.forks))
        elif w[0] == "witness":
            r.witness[w[1]] = (w[3:7] if w[2] == "ok" else line.split(None, 3)[3])
        elif w[0] == "cal":
            r.samples.append((float(w[1]), float(w[2])))
        elif w[0] == "calcheck":
            r.checks.append((int(w[1]), num(w[2]), num(w[3])))
        elif w[0] == "calfork":
            r.calfork = rest
        elif w[0] == "calstop":
            r.calstop = rest
    return r


def median(v):
    v = sorted(v)
    n = len(v)
    return float("nan") if n == 0 else (v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2)


def theil_sen(points):
    """(slope, low, high): the Theil-Sen slope (the median of the pairwise
    slopes, pairs with equal x left out) and Sen's (1968) 95 % interval, as
    scipy.stats.theilslopes: C = 1.96 sqrt(Var S), Var S Kendall's with the
    ties of x and of y taken out, the interval the sorted slopes at
    round((N - C) / 2) - 1 and round((N + C) / 2), clamped. None with no
    pair."""
    slopes = sorted((yj - yi) / (xj - xi) for i, (xi, yi) in enumerate(points)
                    for xj, yj in points[i + 1:] if xj != xi)
    if not slopes:
        return None

    def v0(t):
        return t * (t - 1) * (2 * t + 5)

    def tied(values):
        counts = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        return sum(v0(t) for t in counts.values() if t > 1)

    n = len(points)
    var = max((v0(n) - tied([p[0] for p in points]) - tied([p[1] for p in points])) / 18.0, 0.0)
    c = 1.959963984540054 * var ** 0.5
    last = len(slopes) - 1
    hi = min(max(int(round((len(slopes) + c) / 2)), 0), last)
    lo = min(max(int(round((len(slopes) - c) / 2)) - 1, 0), last)
    return median(slopes), slopes[lo], slopes[hi]


def signed(v):
    s = "%+.2f" % v
    return "+0.00" if s == "-0.00" else s


def system_name():
    if sys.platform != "darwin":
        return platform.system() or sys.platform
    build = None
    try:
        f = ctypes.CDLL(None).sysctlbyname
        f.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
                      ctypes.c_size_t]
        size = ctypes.c_size_t(64)
        buf = ctypes.create_string_buffer(64)
        if f(b"kern.osversion", buf, ctypes.byref(size), None, 0) == 0:
            build = buf.value.decode(errors="replace")
    except (OSError, AttributeError):
        pass
    return "macOS %s (%s)" % (platform.mac_ver()[0] or "?", build or "?")


def header(opts):
    impl = platform.python_implementation()
    rev = platform.python_build()[0]
    build = " (build %s)" % one_line(rev, 80) if ":" in rev else ""
    say("fork_repro: Python %s (%s)%s on %s %s; %d batches of %d forks"
        % (platform.python_version(), impl, build, system_name(), platform.machine() or "?",
           opts.batches, opts.forks))
    if opts.build_label is not None:
        say("fork_repro: build: %s" % one_line(opts.build_label))


def table(real, control, forks, g):
    """The per-batch table, os.fork beside the control, and its last lines."""
    mu = g["us"]
    cols = ("%s per fork" % mu, "parent sys (s)", "map entries", "Mach message regions")
    say(("batch  forks |" + "|".join(" %-17s " % c for c in cols)).rstrip())
    say(("             |" + "|".join(" %8s %8s " % ("os.fork", "control") for _ in cols)).rstrip())
    for k in range(max(len(real.batches), len(control.batches))):
        cells = []
        for fmt, i in (("%.1f", "us"), ("%.3f", 1), ("%d", 2), ("%d", 3)):
            pair = []
            for r in (real, control):
                b = r.batches[k] if k < len(r.batches) else None
                v = None if b is None else (b[0] / b[4] * 1e6 if i == "us" else b[i])
                pair.append("-" if v is None else fmt % v)
            cells.append(" %8s %8s " % tuple(pair))
        say(("%5d %6d |%s" % (k + 1, forks, "|".join(cells))).rstrip())

    def ends(r):
        if not r.batches:
            return "not run"
        first, last = (b[0] / b[4] * 1e6 for b in (r.batches[0], r.batches[-1]))
        return "%.1f %s %.1f" % (first, g["arrow"], last)

    def slope(r):
        # x: the forks made before the middle of the batch.
        pts, done = [], 0
        for b in r.batches:
            pts.append((done + b[4] / 2.0, b[0] / b[4] * 1e6))
            done += b[4]
        fit = theil_sen(pts)
        return "-" if fit is None else "%+.1f" % (fit[0] * 1000)

    say("%s per fork, first batch %s last: os.fork %s, control %s" % (mu, g["arrow"], ends(real), ends(control)))
    say("slope (Theil-Sen over the batches), %s per fork per 1000 forks: os.fork %s, control %s"
        % (mu, slope(real), slope(control) if control.batches else "not run"))
    per = []
    for k, what in ((0, "map entries"), (1, "Mach message regions")):
        a, b = real.per_fork(k), control.per_fork(k)
        if a is not None or b is not None:
            ctl = signed(b) if b is not None else "-" if control.batches else "not run"
            per.append("%s per fork: os.fork %s, control %s" % (what, "-" if a is None else signed(a), ctl))
    if per:
        say("; ".join(per))


def show_witness(r):
    if sys.platform != "darwin" or r.failed or r.unavailable:
        return
    b, a = r.witness.get("before"), r.witness.get("after")
    for got in (b, a):
        if isinstance(got, str):
            say("witness, %s: vmmap -summary gave no count (%s); the in-process count stands" % (r.name, got))
            return
    if b is None or a is None:
        say("witness, %s: vmmap -summary not read; the in-process count stands" % r.name)
        return
    say("witness, %s: vmmap -summary regions %s -> %s (Mach message %s -> %s); "
          "in-process map entries %s -> %s (Mach message regions %s -> %s)"
          % (r.name, b[0], a[0], b[1], a[1], b[2], a[2], b[3], a[3]))


def calibration(cal, g):
    """The fork cost lines."""
    if cal.failed:
        say("fork cost: not measured (%s)" % cal.failed)
        return
    if cal.calstop:
        say("fork cost: stopped early (%s)" % cal.calstop)
    fit = theil_sen(cal.samples)
    if fit is None:
        say("fork cost: not measured (too few samples)")
        return
    xs = sorted(set(x for x, _ in cal.samples))
    say("fork cost: %s %s per extra map entry (95 %% %.2f%s%.2f), %s%s%s entries, fork() in the parent"
          % (signed(fit[0]), g["us"], fit[1], g["dash"], fit[2], format(int(xs[0]), ","), g["dash"],
             format(int(xs[-1]), ",")))
    points = " ".join("%d:%.1f" % (x, median([us for xx, us in cal.samples if xx == x])) for x in xs)
    say("fork cost points (%s per fork() in the parent, median by extra map entries; %s): %s"
          % (g["us"], cal.calfork or "os.fork", points))
    pages = sum(c[0] for c in cal.checks)
    added = [c[1] for c in cal.checks]
    if not pages:
        return
    if None in added:
        say("fork cost check: the map entries were not counted, so %s pages are taken as %s entries"
              % (format(pages, ","), format(pages, ",")))
        return
    got = sum(added)
    verdict = "within 1 %" if abs(got - pages) <= 0.01 * pages else \
        "not within 1 %: pages merged or went uncounted; the cost is per counted entry"
    msg = [c[2] for c in cal.checks]
    extra = "" if None in msg else ", %s of them Mach message regions" % format(sum(msg), ",")
    say("fork cost check: %s map entries counted for %s pages%s (%s)"
          % (format(got, "+,"), format(pages, ","), extra, verdict))


def answer(real, control):
    """The last line, and the exit status."""
    darwin = sys.platform == "darwin"
    if real.failed or real.nocount or real.per_fork(0) is None:
        why = real.failed or real.nocount or "no count after the batches"
        say("fork_repro: os.fork map entries not counted (%s)" % one_line(why))
        return 1 if darwin or real.failed else 0
    a = real.per_fork(0)
    b = None if (control.failed or control.unavailable) else control.per_fork(0)
    if b is None:
        why = control.unavailable or (control.failed and "it failed") or "its map entries not counted"
        ctl = "not run (%s)" % one_line(why)
    else:
        ctl = signed(b)

    def kind(v):
        return None if v is None else "leak" if v >= LEAKS else "clean" if v <= CLEAN else "unclear"

    ka, kb = kind(a), kind(b)
    if "unclear" in (ka, kb):
        what = "unclear (between +%.2f and +%.2f map entries per fork)" % (CLEAN, LEAKS)
    elif ka == "clean" and kb in ("clean", None):
        what = "no leak here"
    elif ka == "clean":
        what = "only the control leaks, unexpected"
    elif kb == "clean":
        what = "the thread count leaks"
    elif kb == "leak":
        what = "both leak, so not the thread count alone"
    else:
        what = "os.fork leaks; without the control, the thread count is not told from the rest"
    say("fork_repro: os.fork %s map entries per fork, control %s: %s" % (signed(a), ctl, what))
    return 1 if control.failed else 0


def glyphs():
    """µs and the dashes where stdout can show them, ASCII where not."""
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "\u00b5\u2013\u2192".encode(enc)
        return {"us": "\u00b5s", "dash": "\u2013", "arrow": "\u2192"}
    except (UnicodeError, LookupError):
        return {"us": "us", "dash": "-", "arrow": "->"}


def bounded(lo, hi):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise argparse.ArgumentTypeError("expected an integer from %d to %d, got %r" % (lo, hi, text))
        return v
    return parse


def options(argv):
    p = argparse.ArgumentParser(
        prog="fork_repro.py",
        description="Counts the map entries each os.fork() leaves behind (CPython 3.12+ on macOS), beside a "
                    "control fork that skips only the thread count; see the docstring of this file.")
    p.add_argument("--batches", type=bounded(2, 1000), metavar="N", help="batches per run (2 to 1000; default 10)")
    p.add_argument("--forks", type=bounded(1, 100000), metavar="N", help="forks per batch (1 to 100000; default 200)")
    p.add_argument("--no-calibrate", action="store_true", help="skip the fork cost per extra map entry")
    p.add_argument("--build-label", metavar="TEXT",
                   help="for runs that compare builds: printed as 'fork_repro: build: TEXT' under the first line")
    p.add_argument("old_batches", nargs="?", type=bounded(2, 1000), metavar="BATCHES",
                   help="the older spelling of --batches")
    p.add_argument("old_forks", nargs="?", type=bounded(1, 100000), metavar="FORKS",
                   help="the older spelling of --forks")
    p.add_argument("--child", choices=["real", "control", "calibrate"], help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    for flag, new, old, default in (("--batches", "batches", "old_batches", 10), ("--forks", "forks", "old_forks", 200)):
        if getattr(opts, new) is not None and getattr(opts, old) is not None:
            p.error("%s and %s given both ways" % (flag, old.split("_")[1].upper()))
        setattr(opts, new, getattr(opts, new) or getattr(opts, old) or default)
    return opts


def main(argv):
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    opts = options(argv)
    if opts.child == "calibrate":
        return child_calibrate()
    if opts.child:
        return child_run(opts.child, opts.batches, opts.forks)
    g = glyphs()
    header(opts)
    counter = MapCounter()
    if sys.platform == "darwin":
        how = "task_info(TASK_VM_INFO).region_count, and Mach message regions by a mach_vm_region_recurse walk"
    else:
        how = "the lines of /proc/self/maps"
    say("counted: map entries, as %s, inside each interpreter after each batch%s"
          % (how, "" if counter.why is None else " (not here: %s)" % counter.why))
    if platform.python_implementation() == "CPython" and sys.version_info < (3, 12):
        say("%d.%d: os.fork counts no threads (added in 3.12), so os.fork and the control should both stay flat"
              % sys.version_info[:2])
    real = collect("os.fork", "real", opts)
    control = collect("control", "control", opts)
    if control.unavailable:
        say("control: not run: %s in this interpreter; the os.fork run still counts" % control.unavailable)
    for r in (real, control):
        if r.failed:
            say("%s: failed: %s" % (r.name, r.failed))
        elif r.nocount:
            say("%s: map entries not counted: %s" % (r.name, r.nocount))
    for r in (real, control):
        show_witness(r)
    table(real, control, opts.forks, g)
    if not opts.no_calibrate:
        calibration(collect("fork cost", "calibrate", opts), g)
    sys.stdout.flush()
    return answer(real, control)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # stdout closed (| head): end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
