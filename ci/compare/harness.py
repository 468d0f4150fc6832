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

After every repeat the harness prints IPython's ``%time`` block (``CPU times:``
and ``Wall time:`` lines), which also tells ``report`` where a bar() ends.
"""

import argparse
import ast
import math
import os
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
    return p.parse_args(argv)


def run_bars(bar, opts, ev, prompts):
    """REPEAT times ``%time bar(**kw)``, printing what ``--mode`` asks;
    ``prompt(k)`` is the session's prompt before the k-th input."""
    kw = {k: ev(v) for k, v in pairs(opts.kw)}
    shown = ", ".join(opts.kw)
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


def drive_sage(script, g, argv):
    """Body of a generated driver: called at its top level with its globals."""
    opts = options(argv)
    for name, value in pairs(opts.set):
        g[name] = ast.literal_eval(value)
    if g.get("__name__") == "__main__":
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
        out(f"In [1]: from {argv[1]} import bar")
        bar = __import__(argv[1]).bar
        run_bars(bar, opts, ast.literal_eval, lambda k: f"In [{k}]: ")
    elif argv[:1] == ["exec"]:
        exec_runs(argv[1:])
    else:
        sys.exit("usage: harness.py driver SCRIPT DRIVER | py MODULE [OPTIONS] | exec [OPTIONS] -- PROGRAM")


if __name__ == "__main__":
    main(sys.argv[1:])
