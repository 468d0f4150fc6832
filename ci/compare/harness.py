"""Runs one original script of burnol-math/irwin for ci/compare.sh, as its
author does in an interactive session: import (or Sage's ``load()``) once, then
``%time bar(...)`` REPEAT times in the same process.

The original is read in place, never copied. Three ways in:

``harness.py py MODULE [OPTIONS]``
    ``from MODULE import bar`` (the ``.py`` originals; cwd and PYTHONPATH are
    the originals' directory).
``harness.py driver SCRIPT.sage DRIVER.py``
    Writes a small driver file for a ``.sage`` original; ``python DRIVER.py
    [OPTIONS]`` then does what ``load("SCRIPT.sage")`` does (with the full
    SageMath, ``sage.repl.load.load`` itself; with passagemath, which has no
    ``sage.all``, the same steps: Sage's preparser, then ``exec`` with the
    names the preparsed text uses) and runs ``bar()``. The load happens at the
    driver's top level, so the functions the script defines live in the
    driver's ``__main__`` and pickle by reference, and spawn/forkserver workers
    that re-import the main module find them again; the ``bar()`` loop is
    under ``if __name__ == "__main__":``.
``harness.py exec [OPTIONS] -- PROGRAM [ARGS]``
    Runs a program (the built ``test_openmp_sleep.c``) ``--runs`` times per
    repeat, timing each run.

OPTIONS (``py`` and drivers):
  --mode bars    the script prints its own chunk lines (default)
  --mode chunks  the script prints no timing (test_parallel_sleep.sage): each
                 bar(numcalls=n) is timed and printed as one @para chunk line
                 (the format of the port, test_fork_sleep), n = 100 (the
                 script's default) or the remainder, up to --calls per repeat
  --mode rf      the RealField scripts print no timing: each bar() is timed
                 and printed as one chunk line in test_rf_pool's format
  --repeat K     bar() runs (%time blocks) in this process
  --kw NAME=EXPR keyword argument of bar() (a Sage expression for .sage)
  --set NAME=EXPR  global set before the script is loaded (.sage: the
                 scripts keep an existing ``ncpus``/``maxworkers``)
  --calls N, --ncpus N, --sleep T, --precision B  for the chunk lines
  --counters LIB the suite's C-ABI counter library (libprobes_capi.so or
                 .dylib, built by ``cargo build --release -p probes_capi``):
                 after every chunk line the original prints, one line
                 ``Counters (extra): vm_map_entries=N ...``, read inside this
                 interpreter by the very code the ports use
                 (``probes::resources``), for ``report``'s attribution
  --fork-without-thread-count
                 the control: ``os.fork`` replaced by what it does minus the
                 thread count of CPython >= 3.12 (see ``ForkWithoutThreadCount``)
  --standin-leak after each fork in the parent, one more map entry kept (needs
                 --counters): the Linux stand-in for the macOS leak

Where the counters are read, against the originals' clocks: every original
takes ``delta = time.perf_counter() - start`` before it prints its chunk line
and the next ``start = time.perf_counter()`` after it (test_pyparallel_sleep.py,
test_parallel_sleep_v2.sage, test_executor_sleep.sage, test_pool_*_sleep.py;
test_parallel_spawn_sleep.sage prints `` Cost/ncpus is`` after its ``delta``
and its next ``start`` follows the next ``Now spawning`` line). The reading
happens inside that ``print``, so it falls outside every timed region; in
``--mode chunks`` and ``--mode rf`` the harness reads after its own clock
stops. It does fall inside the ``%time`` block of the bar(): the harness's own
``CPU times``/``Wall time`` lines include it (about 0.1 ms a reading with 30
map entries, 2.4 ms with 5000, on Linux: the cost figures in
docs/experiment.md, section 1).

Before anything else the harness prints one line, ``Harness (extra): Python
3.12.1 (CPython) on Debian GNU/Linux 12 (bookworm), x86_64; cpu: Intel(R)
Xeon(R) CPU @ 2.20GHz; os.fork: real; stand-in leak: off; counters: on`` (on
macOS ``on macOS 15.5, arm64; build: 24F74; cpu: Apple M2; ...``), which
``report`` reads to label the run, to name its machine as a port's record
names it, and to find runs that differ in one factor only.

After every repeat the harness prints IPython's ``%time`` block (``CPU times:``
and ``Wall time:`` lines), which also tells ``report`` where a bar() ends.
"""

import argparse
import ast
import ctypes
import math
import os
import platform
import re
import resource
import subprocess
import sys
import time


def format_time(span):
    """IPython's ``_format_time``: 3 significant digits, s/ms/µs/ns, or
    ``1min 5s`` style from 60 s on."""
    if span >= 60.0:
        parts, left = [], span
        for suffix, length in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
            value = int(left / length)
            if value > 0:
                left = left % length
                parts.append(f"{value}{suffix}")
            if left < 1:
                break
        return " ".join(parts)
    units, scaling = ["s", "ms", "\xb5s", "ns"], [1, 1e3, 1e6, 1e9]
    order = min(-int(math.floor(math.log10(span)) // 3), 3) if span > 0.0 else 3
    return "%.*g %s" % (3, span * scaling[order], units[order])


def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime, r.ru_stime


def out(line=""):
    # Flushed at once: forked workers must not inherit unwritten output.
    print(line, flush=True)


class Timed:
    """``%time``: wall and CPU of this process (``who``) around a block."""

    def __init__(self, who=resource.RUSAGE_SELF):
        self.who = who

    def __enter__(self):
        self.cpu0, self.t0 = cpu(self.who), time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        (u1, s1), (u0, s0) = cpu(self.who), self.cpu0
        u, s = u1 - u0, s1 - s0
        out(f"CPU times: user {format_time(u)}, sys: {format_time(s)}, total: {format_time(u + s)}")
        out(f"Wall time: {format_time(wall)}")
        return False


def para_line(delta, n, ncpus, sleep):
    """The @para chunk line (test_fork_sleep's format, ORIGINALS.md)."""
    return (f"{delta:.3f}s per {n} x {ncpus} @para sleep({sleep:.3f}). "
            f"Cost/ncpus/calls is {(delta / n - sleep) / ncpus:.6f}s.")


def rf_line(delta, n, ncpus, precision):
    """test_rf_pool's chunk line for the RealField scripts."""
    return (f"{delta:.3f}s per {n} x {ncpus} RealField({precision}).sin(). "
            f"Cost/ncpus/calls is {delta / n / ncpus:.6f}s.")


class Counters:
    """The suite's counters (``probes::resources``), read through its C-ABI
    library ``probes_capi``: one implementation for the ports and for the
    originals."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(os.path.abspath(path))
        self.lib.probes_counters_words.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self.lib.probes_counters_words.restype = ctypes.c_ssize_t
        self.lib.probes_standin_leak.argtypes = []
        self.lib.probes_standin_leak.restype = ctypes.c_int
        self.lib.probes_counters_start.argtypes = []
        self.lib.probes_counters_start.restype = None
        self.buf = ctypes.create_string_buffer(8192)

    def line(self):
        """One reading. When the buffer is too small the library keeps the
        reading it took and returns that very one to the retry with the
        size it asked for: a second sample would leave the per-chunk
        counters (faults, switches) with the few microseconds between the
        two calls."""
        n = self.lib.probes_counters_words(self.buf, len(self.buf))
        if n < 0:
            self.buf = ctypes.create_string_buffer(-n)
            n = self.lib.probes_counters_words(self.buf, len(self.buf))
            if n < 0:
                raise OSError(f"probes_counters_words asked for {-n} bytes after a resize")
        return "Counters (extra): " + self.buf.value.decode()

    def start(self):
        """The first reading's per-chunk counts (faults, switches, the rest
        of the machine's CPU) start here, before the original runs."""
        self.lib.probes_counters_start()

    def leak_one_entry(self):
        err = self.lib.probes_standin_leak()
        if err:
            raise OSError(err, "stand-in leak: " + os.strerror(err))


class Witness:
    """The system's own count of this interpreter's regions (macOS ``vmmap
    -summary``, Linux ``pmap``), read on its own pid (``os.getpid()``) before
    the first bar() and after the last, outside every timed region, through
    the suite's library (``probes_witness_words``: ``probes::witness``, the
    parser the ports use). Printed as ``Witness (extra): tool=pmap
    when=before regions=123`` (on macOS also ``mach_msg=4``, the ``Mach
    message`` regions) and ``... when=after regions=923 forks=800``, the
    ``os.fork()`` calls between (``os.register_at_fork``), which ``report``
    reads back. Where the tool is missing or refuses (a hardened interpreter,
    no permission), one line on stderr says so and the run goes on."""

    def __init__(self, opts):
        self.lib, self.forks, self.refused = None, 0, False
        if opts.witness == "off":
            return
        if not opts.counters:
            self.say("off: it is read through the suite's library (--counters LIB)")
            return
        self.lib = ctypes.CDLL(os.path.abspath(opts.counters))
        self.lib.probes_witness_words.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self.lib.probes_witness_words.restype = ctypes.c_ssize_t
        os.register_at_fork(after_in_parent=self.one_more_fork)

    def one_more_fork(self):
        self.forks += 1

    @staticmethod
    def say(why):
        print(f"Witness (extra): {why}; the run goes on without it", file=sys.stderr, flush=True)

    def read(self, when):
        if self.lib is None or self.refused:
            return
        buf = ctypes.create_string_buffer(4096)
        n = self.lib.probes_witness_words(buf, len(buf))
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.lib.probes_witness_words(buf, len(buf))
        text = buf.value.decode(errors="replace")
        if not text.startswith("tool="):
            self.refused = True
            self.say(text)
            return
        tool, _, words = text.partition(" ")
        if when == "before":
            self.forks = 0
            out(f"Witness (extra): {tool} when=before {words}")
        else:
            out(f"Witness (extra): {tool} when=after {words} forks={self.forks}")


# The end of every chunk line of the originals' families (ORIGINALS.md):
# "... Cost/ncpus/calls is 0.001234s." and the spawn script's " Cost/ncpus is".
CHUNK_END = re.compile(r"Cost/\w+(?:/calls)? is -?\d+\.\d+s\.$")


class ChunkTap:
    """``sys.stdout`` while an original runs: everything passes through
    unchanged; after each complete chunk line, one ``Counters (extra):``
    line. The original's own lines stay byte for byte."""

    def __init__(self, stream, counters):
        self.stream, self.counters, self.partial = stream, counters, ""

    def write(self, text):
        n = self.stream.write(text)
        self.partial += text
        if "\n" in self.partial:
            *done, self.partial = self.partial.split("\n")
            for line in done:
                if CHUNK_END.search(line):
                    self.stream.write(self.counters.line() + "\n")
        return n

    def __getattr__(self, name):
        return getattr(self.stream, name)


class ForkWithoutThreadCount:
    """The control: what ``os.fork()`` does (CPython's ``os_fork_impl``,
    Modules/posixmodule.c) minus the thread count that CPython >= 3.12 makes
    in the parent after every fork (``warn_about_fork_with_threads``, which
    on macOS calls ``task_for_pid`` + ``task_threads`` and frees nothing):
    ``PyOS_BeforeFork()``, ``fork()``, then ``PyOS_AfterFork_Child()`` or
    ``PyOS_AfterFork_Parent()`` (which also runs the ``os.register_at_fork``
    hooks). Every call goes through ``ctypes.PyDLL``, which keeps the GIL
    held across the call, as ``os.fork`` holds it. A failed ``fork()`` raises
    ``OSError`` with its errno, as ``os.fork`` does. What it leaves out
    besides the count: the ``os.fork`` audit event and the DeprecationWarning
    for forking a multi-threaded process (and 3.12+'s refusal to fork during
    finalization or from an isolated subinterpreter)."""

    def __init__(self):
        api = ctypes.pythonapi  # PyDLL of this interpreter: GIL held
        libc = ctypes.PyDLL(None, use_errno=True)
        self.before, self.child, self.parent = (
            api.PyOS_BeforeFork, api.PyOS_AfterFork_Child, api.PyOS_AfterFork_Parent)
        for f in (self.before, self.child, self.parent):
            f.argtypes, f.restype = [], None
        self.fork = libc.fork
        self.fork.argtypes, self.fork.restype = [], ctypes.c_int
        self.in_control = False  # inside the parent's PyOS_AfterFork_Parent

    def __call__(self):
        self.before()
        pid = self.fork()
        if pid == 0:
            self.child()
            return 0
        err = ctypes.get_errno()
        self.in_control = True
        try:
            self.parent()
        finally:
            self.in_control = False
        if pid < 0:
            raise OSError(err, os.strerror(err))
        return pid


def sysctl(name):
    """A string sysctl of macOS (``sysctlbyname``), or None."""
    f = ctypes.CDLL(None).sysctlbyname
    f.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                  ctypes.c_void_p, ctypes.c_size_t]
    f.restype = ctypes.c_int
    size = ctypes.c_size_t(0)
    if f(name.encode(), None, ctypes.byref(size), None, 0) != 0 or size.value == 0:
        return None
    buf = ctypes.create_string_buffer(size.value)
    if f(name.encode(), buf, ctypes.byref(size), None, 0) != 0:
        return None
    return buf.value.decode(errors="replace").strip() or None


def machine():
    """``(os_version, arch, build, cpu)``, read where and as the ports'
    records read them (``timing::SystemInfo``, timing/src/system.rs), so that
    ``report`` gives a port and its original on one machine one label:
    macOS's ``kern.osproductversion``, ``kern.osversion`` and
    ``machdep.cpu.brand_string``; elsewhere ``PRETTY_NAME`` of
    /etc/os-release and the first model line of /proc/cpuinfo; ``uname``
    where these are missing, and the arch for a CPU not found."""
    u = os.uname()
    version, build, cpu = None, None, None
    if u.sysname == "Darwin":
        v = sysctl("kern.osproductversion")
        version = f"macOS {v}" if v else None
        build, cpu = sysctl("kern.osversion"), sysctl("machdep.cpu.brand_string")
    else:
        try:
            with open("/etc/os-release", encoding="utf-8", errors="replace") as f:
                for line in f.read().splitlines():
                    if line.startswith("PRETTY_NAME="):
                        version = line[len("PRETTY_NAME="):].strip('"')
                        break
        except OSError:
            pass
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                for line in f.read().splitlines():
                    key, sep, value = line.partition(":")
                    if sep and key.strip() in ("model name", "Model", "cpu model", "Hardware"):
                        cpu = value.strip()
                        break
        except OSError:
            pass
    if version is None:
        version = f"{u.sysname} {u.release}"
    def field(text):  # the harness line's fields are separated by "; "
        return text.replace(";", ",") if text else text
    return field(version), u.machine, field(build), field(cpu or u.machine)


def install(opts):
    """Sets up the options that change the interpreter, before the original
    is imported or loaded (so that every later ``os.fork`` lookup, Sage's
    ``use_fork.py`` and multiprocessing's ``popen_fork.py`` included, finds
    the control), then prints the ``Harness (extra):`` line."""
    counters = Counters(opts.counters) if opts.counters else None
    if opts.standin_leak and counters is None:
        sys.exit("harness: --standin-leak needs --counters LIB")
    control = None
    if opts.fork_without_thread_count:
        control = ForkWithoutThreadCount()
        os.fork = control
    if opts.standin_leak:
        # The stand-in belongs to the step the control removes (the thread
        # count, between fork() and PyOS_AfterFork_Parent), so a fork made by
        # the control leaks nothing: its after_in_parent hook skips it.
        def leak():
            if control is None or not control.in_control:
                counters.leak_one_entry()
        os.register_at_fork(after_in_parent=leak)
    impl = platform.python_implementation()
    version, arch, build, cpu = machine()
    out(f"Harness (extra): Python {platform.python_version()} ({impl}) on {version}, {arch}; "
        + (f"build: {build}; " if build else "")
        + f"cpu: {cpu}; "
        f"os.fork: {'without thread count' if control else 'real'}; "
        f"stand-in leak: {'on' if opts.standin_leak else 'off'}; "
        f"counters: {'on' if counters else 'off'}")
    if counters is not None:
        counters.start()
        sys.stdout = ChunkTap(sys.stdout, counters)


def sizes(calls):
    q, r = divmod(calls, 100)
    return [100] * q + ([r] if r else [])


def load_sage(path, g):
    """What ``load(path)`` does in a Sage session whose globals are ``g``."""
    try:
        import sage.all  # noqa: F401  (the full SageMath)
    except ImportError:
        pass
    else:
        from sage.repl.load import load
        exec("from sage.all import *", g)
        load(path, g)
        return
    # passagemath without sage.all: the preparser turns 0.1 and 100 into
    # RealNumber('0.1') and Integer(100); these are the names that and the
    # scripts use.
    from sage.repl.preparse import preparse_file
    from sage.parallel.decorate import parallel
    from sage.rings.integer import Integer
    from sage.rings.real_mpfr import RealField, create_RealNumber
    g.update(parallel=parallel, Integer=Integer, RealField=RealField,
             RealNumber=create_RealNumber)
    with open(path, encoding="utf-8") as f:
        code = preparse_file(f.read())
    exec(compile(code + "\n", path, "exec"), g)


def evaluator(g, sage):
    if not sage:
        return ast.literal_eval
    from sage.repl.preparse import preparse
    return lambda text: eval(preparse(text), g)


def pairs(items):
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            sys.exit(f"harness: expected NAME=EXPR, got {item!r}")
        yield name, value


def options(argv):
    p = argparse.ArgumentParser(prog="harness.py")
    p.add_argument("--mode", choices=["bars", "chunks", "rf"], default="bars")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--kw", action="append", default=[])
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--ncpus", type=int, default=8)
    p.add_argument("--sleep", type=float, default=0.005)
    p.add_argument("--precision", type=int, default=100)
    p.add_argument("--counters", metavar="LIB")
    p.add_argument("--fork-without-thread-count", action="store_true")
    p.add_argument("--standin-leak", action="store_true")
    p.add_argument("--witness", choices=["on", "off"], default="on",
                   help="vmmap/pmap on this process before the first bar() and after the last (see Witness)")
    return p.parse_args(argv)


def run_bars(bar, opts, ev, prompts):
    """REPEAT times ``%time bar(**kw)``, printing what ``--mode`` asks;
    ``prompt(k)`` is the session's prompt before the k-th input."""
    kw = {k: ev(v) for k, v in pairs(opts.kw)}
    shown = ", ".join(opts.kw)
    witness = Witness(opts)
    witness.read("before")
    for k in range(opts.repeat):
        prompt = prompts(k + 2)
        if opts.mode == "chunks":
            out(f"{prompt}%time for n in {sizes(opts.calls)}: bar(numcalls=n{', ' + shown if shown else ''})")
            with Timed():
                for n in sizes(opts.calls):
                    t = time.perf_counter()
                    bar(numcalls=ev(str(n)), **kw)
                    out(para_line(time.perf_counter() - t, n, opts.ncpus, opts.sleep))
        elif opts.mode == "rf":
            out(f"{prompt}%time bar({shown})")
            with Timed():
                t = time.perf_counter()
                bar(**kw)
                delta = time.perf_counter() - t
                out(rf_line(delta, int(kw.get("numcalls", 100)), opts.ncpus, opts.precision))
        else:
            out(f"{prompt}%time bar({shown})")
            with Timed():
                bar(**kw)
    witness.read("after")


def drive_sage(script, g, argv):
    """Body of a generated driver: called at its top level with its globals."""
    opts = options(argv)
    for name, value in pairs(opts.set):
        g[name] = ast.literal_eval(value)
    if g.get("__name__") == "__main__":
        install(opts)
        out(f"sage: load({os.path.basename(script)!r})")
    load_sage(script, g)
    if g.get("__name__") != "__main__":
        return  # a spawn/forkserver worker re-importing the main module
    run_bars(g["bar"], opts, evaluator(g, True), lambda k: "sage: ")


DRIVER = '''\
# Generated by ci/compare.sh: drives {script!r} as
# `load()` then `%time bar(...)` in a Sage session would (ci/compare/harness.py).
import sys
sys.path.insert(0, {here!r})
import harness as _compare_harness
# At top level, so spawn/forkserver workers, which re-import this module,
# define the script's functions again.
_compare_harness.drive_sage({script!r}, globals(), sys.argv[1:])
'''


def write_driver(script, path):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(path, "w", encoding="utf-8") as f:
        f.write(DRIVER.format(script=os.path.abspath(script), here=here))


def exec_runs(argv):
    """``exec``: time each run of a program; one @para chunk line per run.
    The ``%time`` block after each repeat gives the children's CPU times
    (``time(1)``'s view: the author timed the C original with ``time``)."""
    if "--" not in argv:
        sys.exit("harness: exec needs -- PROGRAM [ARGS]")
    cut = argv.index("--")
    p = argparse.ArgumentParser(prog="harness.py exec")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--calls", type=int, default=100, help="calls one run makes")
    p.add_argument("--ncpus", type=int, default=8)
    p.add_argument("--sleep", type=float, default=0.005)
    opts, cmd = p.parse_args(argv[:cut]), argv[cut + 1:]
    for _ in range(opts.repeat):
        out(f"$ time (for i in {' '.join(str(i + 1) for i in range(opts.runs))}; do {' '.join(cmd)}; done)")
        with Timed(resource.RUSAGE_CHILDREN):
            for _ in range(opts.runs):
                t = time.perf_counter()
                done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
                delta = time.perf_counter() - t
                sys.stdout.write(done.stdout)
                if done.returncode != 0:
                    sys.exit(f"harness: {cmd[0]} exited with status {done.returncode}")
                out(para_line(delta, opts.calls, opts.ncpus, opts.sleep))


def main(argv):
    if len(argv) >= 3 and argv[0] == "driver":
        write_driver(argv[1], argv[2])
    elif len(argv) >= 2 and argv[0] == "py":
        opts = options(argv[2:])
        install(opts)
        out(f"In [1]: from {argv[1]} import bar")
        bar = __import__(argv[1]).bar
        run_bars(bar, opts, ast.literal_eval, lambda k: f"In [{k}]: ")
    elif argv[:1] == ["exec"]:
        exec_runs(argv[1:])
    else:
        sys.exit("usage: harness.py driver SCRIPT DRIVER | py MODULE [OPTIONS] | exec [OPTIONS] -- PROGRAM")


if __name__ == "__main__":
    main(sys.argv[1:])
