#!/usr/bin/env bash
# Test of ci/compare.sh's plumbing that needs no originals, no SageMath and no
# OpenMP: a fake originals directory whose twelve scripts print chunk lines of
# each family (fake bar()s that sleep a little), a fake `sage` package (the
# preparser, @parallel, Integer, RealField) for the .sage route, a fake C
# compiler, and fake interpreters on the PATH (python3.99 runs, python3.98 does
# not). Checks: one row per original file (test_pyparallel_sleep.py once per
# runnable python3.N, labelled), nothing skipped, the broken interpreter
# listed, ORIGINALS_DIR untouched; then, with a fake full SageMath, that
# Sage's load() is used and a missing and a failing original are listed with
# their reasons; and that FORK_ONLY=1 runs the fork-per-job originals only.
# Called by ci/test.sh; about half a minute.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
root=$PWD
fail() { echo "compare-plumbing: FAIL: $*" >&2; exit 1; }

cargo build -q -p report -p probes_capi -p test_fork_sleep -p test_pool_sleep -p test_spawn_sleep \
  -p test_threads_sleep -p test_rf_pool || fail "cargo build"
built=${CARGO_TARGET_DIR:-$root/target}/debug
[ -f "$built/libprobes_capi.so" ] || [ -f "$built/libprobes_capi.dylib" ] || fail "no libprobes_capi in $built"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare plumbing.XXXXXX") || exit 2
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT
# Every run below is made from a checkout under a path with blanks (in "My
# Drive" or iCloud Drive): a copy of ci/ and of Cargo.toml, the crates linked;
# the ports, the counters library and the originals under such paths too.
suite="$tmp/My Drive/the suite" bin="$tmp/My Drive/built ports"
mkdir -p "$suite" && cp -R ci Cargo.toml "$suite/" && ln -s "$built" "$bin" || fail "copying ci/"
for p in report probes_capi test_fork_sleep test_pool_sleep test_spawn_sleep test_threads_sleep test_rf_pool; do
  ln -s "$root/$p" "$suite/$p" || fail "linking $p"
done
o="$tmp/the originals" fake=$tmp/fake fb=$tmp/bin
mkdir -p "$o" "$fake/sage/parallel" "$fake/sage/repl" "$fake/sage/rings" "$fb"

# --- fake sage package (passagemath-like: no sage.all) ---
for d in sage sage/parallel sage/repl sage/rings; do : >"$fake/$d/__init__.py"; done
cat >"$fake/sage/repl/preparse.py" <<'EOF'
def preparse_file(text):
    return "PREPARSED = True\n" + text
def preparse(text):
    return text
EOF
cat >"$fake/sage/parallel/decorate.py" <<'EOF'
def parallel(ncpus=None, p_iter=None):
    def deco(f):
        def run(args):
            for a in args:
                yield ((a, {}), f(*a))
        return run
    return deco
EOF
echo 'Integer = int' >"$fake/sage/rings/integer.py"
printf 'def RealField(p):\n    return float\ncreate_RealNumber = float\n' >"$fake/sage/rings/real_mpfr.py"

# --- fake originals: chunk lines of each family ---
para='print(f"{d:.3f}s per {n} x {w} @para sleep({T:.3f}). Cost/{lab}/calls is {(d/n - T)/w:.6f}s.")'
pool='print(f"{d:.3f}s per {n} x {w} sleep({T:.3f}). Cost/maxworkers/calls is {(d/n - T)/w:.6f}s.")'
chunks() { # FAMILY_LINE: a bar() body that times q chunks of sleeps
  cat <<EOF
    import time
    q, r = divmod(numcalls, 100)
    for n in [100] * q + ([r] if r else []):
        d = 0.2 * n / 100  # as if each call took 2 ms
        $1
EOF
}
{ echo 'def bar(numcalls=1000, T=0.001, ncpus=8, check=False):'
  echo '    w, lab = ncpus, "ncpus"; print(f"Using ncpus={ncpus} parallel decorated function")'
  chunks "$para"; } >"$o/test_pyparallel_sleep.py"
for m in fork spawn; do
  { echo 'def bar(numcalls=1000, T=0.001, check=False):'
    echo "    w = 8; print(\"Setting multiprocessing start method to '$m'\")"
    echo '    print(f"Using maxworkers={w} parallel decorated function")'
    chunks "$pool"; } >"$o/test_pool_${m}_sleep.py"
done
{ echo 'assert PREPARSED and parallel and RealNumber and Integer'
  echo 'print("loader:", globals().get("LOADER", "preparse+exec"))'
  echo 'ncpus = 8'
  echo 'def bar(numcalls=1000, T=0.001):'
  echo '    w, lab = ncpus, "ncpus"; print(f"Using ncpus={ncpus} parallel decorated function")'
  chunks "$para"; } >"$o/test_parallel_sleep_v2.sage"
{ echo 'def bar(numcalls=1000, T=0.001, maxworkers=8):'
  echo '    w, lab = maxworkers, "maxworkers"'
  echo '    print(f"Using maxworkers={w} as max_workers for ProcessPoolExecutor")'
  chunks "$para"; } >"$o/test_executor_sleep.sage"
cat >"$o/test_parallel_sleep.sage" <<'EOF'
import time
ncpus = 8
@parallel(ncpus=ncpus)
def foo(a, T):
    time.sleep(0.0008)  # 8 in a row: a call takes more than T
def bar(numcalls=100, T=0.005):
    for i in range(numcalls):
        list(foo((a, T) for a in range(ncpus)))
EOF
cat >"$o/test_parallel_spawn_sleep.sage" <<'EOF'
import time
def bar(numcalls=10, T=0.001, ncpus=8):
    print(f"Using ncpus={ncpus} parallel decorated function")
    for _ in range(numcalls):
        print(f"Now spawning @parallelized sleep({T:.3f}) on {ncpus} workers.", end=" ")
        d = 0.01
        print(f"{d:.3f}s.\n Cost/ncpus is {(d - T)/ncpus:.6f}s.")
EOF
for m in fork spawn forkserver; do
  printf 'import time\nfrom sage.rings.real_mpfr import RealField\ndef bar(numcalls=100, ncpus=8, precision=100, check=False):\n    print("Setting multiprocessing start method to %s")\n    time.sleep(0.05)\n' "'$m'" >"$o/test_pool_${m}_RF.py"
done
printf 'import time\ndef bar(numcalls=100, ncpus=8, precision=100, check=False):\n    RealField(precision)\n    print("Setting multiprocessing start method to %s")\n    time.sleep(0.05)\n' "'fork'" >"$o/test_pool_fork_RF.sage"
echo '/* fake: the fake compiler below turns this into a shell script */' >"$o/test_openmp_sleep.c"

# --- fake tools on the PATH ---
cat >"$fb/cc" <<'EOF'
#!/bin/sh
# fake C compiler: writes the "program" named by -o
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
printf '#!/bin/sh\necho "I am set up to use ${NCPUS:-2} threads."\nsleep 0.6\n' >"$out" && chmod +x "$out"
EOF
printf '#!/bin/sh\nexit 1\n' >"$fb/sage"
printf '#!/bin/sh\necho "pyenv: python3.98: command not found" >&2\nexit 127\n' >"$fb/python3.98"
ln -s "$(python3 -c 'import sys; print(sys.executable)')" "$fb/python3.99"
chmod +x "$fb/cc" "$fb/sage" "$fb/python3.98"
find "$o" | sort >"$tmp/before"

# --- 1. everything runs ---
t0=$SECONDS
PATH="$fb:$PATH" PYTHONPATH="$fake" SAGE_PYTHON=python3 CC="$fb/cc" COMPARE_BIN="$bin" \
  NUMCALLS=150 REPEAT=2 "$suite/ci/compare.sh" "$o" "$tmp/out" >"$tmp/summary" 2>"$tmp/log" \
  || { cat "$tmp/log" "$tmp/summary"; fail "compare.sh exit status $?"; }
find "$o" | sort >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" || fail "ORIGINALS_DIR changed: $(diff "$tmp/before" "$tmp/after")"
table=$(sed -n '/^| original | port |/,/^$/p' "$tmp/summary" | sed '1,2d;/^$/d')
for s in test_pool_fork_sleep.py test_pool_spawn_sleep.py test_parallel_sleep_v2.sage \
  test_parallel_sleep.sage test_executor_sleep.sage test_parallel_spawn_sleep.sage \
  test_pool_fork_RF.py test_pool_spawn_RF.py test_pool_forkserver_RF.py test_pool_fork_RF.sage test_openmp_sleep.c; do
  # report names a transcript run FILE:FIRST-LAST (its lines in the file).
  [ "$(grep -cE "^\| $s\.txt:[0-9]+-[0-9]+ \(transcript\) \| " <<<"$table")" = 1 ] || { echo "$table"; fail "not exactly one row for $s"; }
done
grep -qE '^\| test_pyparallel_sleep\.py@python3\.99\.txt:[0-9]+-[0-9]+ \(transcript\) \| test_fork_sleep\.json \(json\) \|' <<<"$table" \
  || { echo "$table"; fail "no row for test_pyparallel_sleep.py under python3.99"; }
py_rows=$(grep -c '^| test_pyparallel_sleep.py@python3\.[0-9]*\.txt' <<<"$table")
[ "$(grep -c '^|' <<<"$table")" = $((11 + py_rows)) ] || { echo "$table"; fail "rows other than one per original"; }
grep -q '^Could not run' "$tmp/summary" && { cat "$tmp/summary"; fail "something was skipped"; }
grep -q '^- python3.98 (.*): pyenv: python3.98: command not found$' "$tmp/summary" \
  || { cat "$tmp/summary"; fail "the broken python3.98 is not listed"; }
# Every row has both costs, a ratio and two verdicts (DRIFT among them: a
# loaded machine makes a port's short run drift).
while IFS= read -r row; do
  [[ $row =~ ^\|[^|]+\|[^|]+\|\ [0-9.]+\ ms\ \|\ [0-9.]+\ ms\ \|\ [0-9.]+\ \|\ [a-zA-Z].*\|\ [a-zA-Z].*\|$ ]] \
    || fail "incomplete row: $row"
done <<<"$table"
# The harness-timed originals: one chunk line per bar() / per run, in the port's format.
[ "$(grep -c '@para sleep(0.005)' "$tmp/out/test_parallel_sleep.sage.txt")" = 4 ] \
  || fail "test_parallel_sleep.sage: not 2 x (100 + 50) chunk lines"
[ "$(grep -c '^I am set up to use 8 threads.$' "$tmp/out/test_openmp_sleep.c.txt")" = 2 ] \
  || fail "test_openmp_sleep.c: not one run per repeat"
[ "$(grep -c 'x 8 RealField(100).sin()' "$tmp/out/test_pool_fork_RF.sage.txt")" = 2 ] \
  || fail "test_pool_fork_RF.sage: not one chunk line per bar()"
grep -q "^sage: load('test_parallel_sleep_v2.sage')$" "$tmp/out/test_parallel_sleep_v2.sage.txt" \
  || fail "the .sage scripts do not go through the driver"
grep -q "^loader: preparse+exec$" "$tmp/out/test_parallel_sleep_v2.sage.txt" \
  || fail "without sage.all the driver does not preparse and exec"
[ "$(grep -c '^Counters (extra): ' "$tmp/out/test_pyparallel_sleep.py@python3.99.txt")" = 4 ] \
  || fail "the originals read no counters through $bin (a path with blanks)"
echo "compare-plumbing: all twelve originals ran ($((SECONDS - t0)) s)"

# --- 2. a full SageMath (sage.all, Sage's load()); a missing and a failing
# original are listed with the reason ---
cat >"$fb/sage" <<'EOF'
#!/bin/sh
# fake full SageMath: sage -c CODE, sage -python ARGS
case $1 in -c) exec python3 -c "$2" ;; -python) shift; exec python3 "$@" ;; esac
exit 2
EOF
cat >"$fake/sage/all.py" <<'EOF'
from sage.parallel.decorate import parallel
from sage.rings.integer import Integer
from sage.rings.real_mpfr import RealField, create_RealNumber as RealNumber
EOF
cat >"$fake/sage/repl/load.py" <<'EOF'
from sage.repl.preparse import preparse_file
def load(filename, globals, attach=False):
    globals["LOADER"] = "sage.repl.load"
    with open(filename) as f:
        exec(preparse_file(f.read()) + "\n", globals)
EOF
rm "$o/test_pool_spawn_sleep.py"
echo 'raise ValueError("broken on purpose")' >>"$o/test_executor_sleep.sage"
PATH="$fb:$PATH" PYTHONPATH="$fake" SAGE_PYTHON=python3 CC=/nonexistent/cc COMPARE_BIN="$bin" \
  NUMCALLS=20 REPEAT=1 "$suite/ci/compare.sh" "$o" "$tmp/out2" >"$tmp/summary2" 2>"$tmp/log2" \
  || { cat "$tmp/log2"; fail "compare.sh exit status $? with two originals missing"; }
for want in "- test_pool_spawn_sleep.py: not in $o" \
  "- test_executor_sleep.sage: the original failed: ValueError: broken on purpose" \
  "- test_openmp_sleep.c: cannot build with OpenMP here: "; do
  grep -qF -- "$want" "$tmp/summary2" || { cat "$tmp/summary2"; fail "missing: $want"; }
done
grep -q "^loader: sage.repl.load$" "$tmp/out2/test_parallel_sleep_v2.sage.txt" \
  || fail "with sage.all the driver does not call Sage's load()"
rows=$(sed -n '/^| original | port |/,/^$/p' "$tmp/summary2" | grep -c '^| test_')
[ "$rows" = $((8 + py_rows)) ] || { cat "$tmp/summary2"; fail "expected $((8 + py_rows)) rows, got $rows"; }

# --- 3. FORK_ONLY=1 (what ci/diagnose.sh --quick runs): the fork-per-job
# originals only, each beside the port ---
PATH="$fb:$PATH" PYTHONPATH="$fake" SAGE_PYTHON=python3 COMPARE_BIN="$bin" FORK_ONLY=1 \
  NUMCALLS=200 REPEAT=1 ci/compare.sh "$o" "$tmp/out3" >"$tmp/summary3" 2>"$tmp/log3" \
  || { cat "$tmp/log3"; fail "compare.sh FORK_ONLY=1 exit status $?"; }
rows=$(sed -n '/^| original | port |/,/^$/p' "$tmp/summary3" | grep '^| test_')
[ "$(grep -c . <<<"$rows")" = $((1 + py_rows)) ] || { cat "$tmp/summary3"; fail "FORK_ONLY=1: not the $py_rows python rows and test_parallel_sleep_v2.sage"; }
grep -q '^| test_parallel_sleep_v2\.sage\.txt' <<<"$rows" || fail "FORK_ONLY=1 without Sage's @parallel: $rows"
grep -qF -- "- the pool, spawn, RealField and OpenMP originals: FORK_ONLY=1" "$tmp/summary3" \
  || { cat "$tmp/summary3"; fail "FORK_ONLY=1 does not say what it left out"; }
echo "compare-plumbing: OK ($((SECONDS - t0)) s)"

# --- 3. ci/diagnose.sh end to end, from the checkout with blanks: the ports
# (a fake ci/matrix.sh: one real port), the originals (the real
# ci/compare.sh, started 8 s late: the progress loop's first look finds an
# empty log), the report. Checks: no shell error, a progress line, the PNG,
# and one machine and one OS label (named from the records, not after the
# folder) on every row of the hypothesis table. A fake cargo: the ports were
# built above, and the release directory is that build. ---
cat >"$suite/ci/matrix.sh" <<'EOF'
#!/usr/bin/env bash
# fake ci/matrix.sh: one short run of one port
echo "== fork-pipe: test_fork_sleep (fake)"
"$CARGO_TARGET_DIR/release/test_fork_sleep" --numcalls 200 --ncpus 2 --repeat 1 --json "$1/fork-pipe.json"
EOF
mv "$suite/ci/compare.sh" "$suite/ci/compare-real.sh"
printf '#!/usr/bin/env bash\nsleep 8\nexec "$(dirname "$0")/compare-real.sh" "$@"\n' >"$suite/ci/compare.sh"
mkdir -p "$tmp/nocargo" && printf '#!/bin/sh\n# fake cargo: built already\nexit 0\n' >"$tmp/nocargo/cargo"
chmod +x "$suite/ci/matrix.sh" "$suite/ci/compare.sh" "$tmp/nocargo/cargo"
mkdir -p "$tmp/My Drive/target" "$tmp/home dir" && ln -s "$built" "$tmp/My Drive/target/release"
diag="$tmp/My Drive/diagnose out"
HOME="$tmp/home dir" PATH="$tmp/nocargo:$fb:$PATH" PYTHONPATH="$fake" SAGE_PYTHON=python3 CC="$fb/cc" \
  CARGO_TARGET_DIR="$tmp/My Drive/target" NUMCALLS=20 REPEAT=1 "$suite/ci/diagnose.sh" "$o" "$diag" >"$tmp/log3" 2>&1 \
  || { cat "$tmp/log3"; fail "diagnose.sh exit status $?"; }
grep -E 'expected|syntax error|No such file|command not found' "$tmp/log3" && { cat "$tmp/log3"; fail "diagnose.sh printed a shell error"; }
grep -q '^  ([0-9]* min) == test_pyparallel_sleep.py@python3.99$' "$tmp/log3" || { cat "$tmp/log3"; fail "no progress line"; }
[ "$(head -c 4 "$diag/diagnose.png" | od -An -c | tr -d ' ')" = 211PNG ] || fail "no diagnose.png"
# The hypothesis table: one machine for the port and the originals, named
# once above the table ("One machine: ..."), from the records (OS, arch,
# CPU), not after the folder; its rows hold no machine column.
rows=$(awk '/^## The hypothesis, machine by machine/ { on = 1; next } on && /^[|]/ { n++; if (n > 2) print; next } n { exit }' "$diag/diagnose.md")
[ "$(grep -c . <<<"$rows")" -ge 3 ] || { cat "$diag/diagnose.md"; fail "fewer than 3 rows in the hypothesis table"; }
grep -q 'fork-per-job/pipe (test_fork_sleep)' <<<"$rows" && grep -q 'pure-Python @parallel emulation' <<<"$rows" \
  || { echo "$rows"; fail "the hypothesis table lacks the port or the original"; }
machine=$(awk '/^## The hypothesis, machine by machine/ { on = 1; next } on && /^One machine: / { print; exit } on && /^[|]/ { exit }' "$diag/diagnose.md")
case $machine in
  "One machine: "*folder*|"") cat "$diag/diagnose.md"; fail "the hypothesis table does not name its one machine from the records: '$machine'" ;;
esac
case $machine in
  *unknown* | *"diagnose out"*) fail "the machine is not named from the records: $machine" ;;
  *", $(uname -m)"*) ;;
  *) fail "the machine label lacks the arch: $machine" ;;
esac
# One calibration of this machine (its record among the inputs), which
# prices every row: the cost model's table, no row "not calibrated", and
# the short runs' full session predicted.
[ -s "$diag/calibration.json" ] || { cat "$tmp/log3"; fail "diagnose.sh wrote no calibration.json"; }
grep -q '^  fork cost: +[0-9.]* µs per extra map entry (95 % .*), 0–24,000 entries, fork() in the parent$' "$tmp/log3" \
  || { cat "$tmp/log3"; fail "diagnose.sh did not show the calibration line"; }
grep -q '^## Cost model$' "$diag/diagnose.md" || { cat "$diag/diagnose.md"; fail "no cost model in diagnose.md"; }
grep -q 'not calibrated' "$diag/diagnose.md" && { cat "$diag/diagnose.md"; fail "a row of this machine is not calibrated"; }
grep -q '^### What a full session would show (3 × 1000 calls of bar())$' "$diag/diagnose.md" \
  || { cat "$diag/diagnose.md"; fail "no full session predicted from the short runs"; }
echo "compare-plumbing: diagnose.sh from a path with blanks, the one machine named once: ${machine#One machine: } ($((SECONDS - t0)) s)"
