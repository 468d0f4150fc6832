#!/usr/bin/env bash
# Side by side: every original script of burnol-math/irwin that can run here,
# and its Rust port with the same parameters, then one Markdown table via
# `report --pairs` (one row per original file: per-job cost of each, their
# ratio, both drift verdicts), the table of every run, and what could not run
# with the reason.
#
# Usage: ci/compare.sh ORIGINALS_DIR [OUTDIR]
#   ORIGINALS_DIR  a checkout holding the original scripts (read only: they are
#                  run in place with PYTHONPATH/cwd = ORIGINALS_DIR, never copied,
#                  and no __pycache__ is written there)
#   OUTDIR         where transcripts (ORIGINAL.txt; ORIGINAL.txt.failed for an
#                  original that failed), JSON records of the ports,
#                  the generated drivers, the built C original, compare.md,
#                  compare.svg and summary.md go (default: a temporary
#                  directory, removed at the end unless KEEP=1)
# Environment:
#   NUMCALLS (default 300), REPEAT (bar() runs per process, default 2),
#   NCPUS (default 8, the originals' default; the pool scripts have 8 built in)
#   SAGE_PYTHON  a python that has passagemath (pip install passagemath-modules
#                passagemath-repl), for the .sage and RealField originals when
#                no full `sage` is here (default: python3)
#   CC           C compiler for test_openmp_sleep.c (default: cc)
#   COMPARE_BIN  a directory holding already built ports: no cargo build
#   FORK_ONLY=1  only the originals that fork once per job (the ones the
#                leading hypothesis says leak): test_pyparallel_sleep.py under
#                every python3.N (with the control and STANDIN's runs) and
#                test_parallel_sleep_v2.sage (with its control), beside their
#                port; builds only report, probes_capi and test_fork_sleep.
#                What `ci/diagnose.sh --quick` runs.
#   STANDIN=1    also run test_pyparallel_sleep.py with the harness's
#                --standin-leak (one map entry kept per fork: the Linux
#                stand-in for the macOS leak), with the real os.fork and the
#                control, under every python3.N
#
# How each original runs (ci/compare/harness.py does the Python side):
# - test_pyparallel_sleep.py under every python3.N on the PATH (rows labelled
#   ORIGINAL@python3.N: CPython 3.12+ does more work after each fork), and,
#   under every CPython >= 3.12, once more with the control (the harness's
#   --fork-without-thread-count; transcript ORIGINAL@python3.N+control); the
#   other .py sleep scripts under python3.
# - Every Python original reads the suite's counters in its own process after
#   each chunk line (the harness's --counters with libprobes_capi, built here),
#   so `report` attributes an original's drift as it does a port's, and prints
#   Findings for runs that differ in one factor (CPython version, the control,
#   the stand-in leak).
# - .sage: the @parallel ones also with the control when Sage's Python is
#   3.12 or later; with the full SageMath when `sage -c 'import sage.all'` works (`sage
#   -python` runs a driver that calls Sage's load()); otherwise under
#   SAGE_PYTHON when it imports sage.parallel.decorate and sage.repl.preparse:
#   a driver generated in OUTDIR preparses the script and executes it as load()
#   does, then runs bar().
# - test_parallel_sleep.sage and the RealField scripts print no timing: the
#   harness times each bar() and prints a chunk line in the port's format.
# - test_openmp_sleep.c is built into OUTDIR with OpenMP and run
#   max(1, NUMCALLS/100) times per repeat (it makes 100 calls), each run timed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
root=$PWD
harness=$root/ci/compare/harness.py

orig=${1:?usage: ci/compare.sh ORIGINALS_DIR [OUTDIR]}
orig=$(cd "$orig" 2>/dev/null && pwd) || { echo "compare.sh: $1: no such directory" >&2; exit 2; }
N=${NUMCALLS:-300} K=${REPEAT:-2} W=${NCPUS:-8}
for v in "$N" "$K" "$W"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: NUMCALLS, REPEAT, NCPUS must be positive integers" >&2; exit 2; }
done

outdir=${2:-}
if [ -n "$outdir" ]; then
  out=$outdir
  mkdir -p "$out" || exit 2
  out=$(cd "$out" && pwd)
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX") || exit 2
  [ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$out"' EXIT
fi
SECONDS=0

# Lists are newline-separated strings (bash 3.2: no empty-array expansion
# under set -u).
skipped=''      # "ORIGINAL: reason" lines
unusable=''     # interpreters found on the PATH that do not run
ran=''          # "ORIGINAL <- port command" lines
pairs=''        # ORIGINAL_TRANSCRIPT and PORT_JSON lines, alternating
ports_done=' '  # port records already made in this run (reused)
skip() { skipped="$skipped- $1: $2"$'\n'; echo "skip: $1: $2" >&2; }

# Ports: build only the binaries this workspace has.
have_port() { grep -q "\"$1\"" "$root/Cargo.toml" && [ -d "$root/$1" ]; }
if [ -n "${COMPARE_BIN:-}" ]; then
  bin=$(cd "$COMPARE_BIN" && pwd) || exit 2
else
  set --
  ports="test_pool_sleep test_spawn_sleep test_threads_sleep test_rf_pool"
  [ "${FORK_ONLY:-0}" = 1 ] && ports=''
  for p in report probes_capi test_fork_sleep $ports; do
    have_port "$p" && set -- "$@" -p "$p"
  done
  have_port report || { echo "compare.sh: the report binary is not in this workspace" >&2; exit 1; }
  cargo build --release -q "$@" || { echo "compare.sh: cargo build failed" >&2; exit 1; }
  bin=${CARGO_TARGET_DIR:-$root/target}/release
fi
[ -x "$bin/report" ] || { echo "compare.sh: no report binary in $bin" >&2; exit 1; }
# The counters inside the originals' interpreters (ci/compare/harness.py --counters).
counters=''
for f in "$bin/libprobes_capi.so" "$bin/libprobes_capi.dylib"; do [ -f "$f" ] && counters=$f; done
[ -n "$counters" ] || echo "compare.sh: no libprobes_capi in $bin: the originals run without counters" >&2
# Options every harness run gets: an array, as the library's path may hold
# blanks (a checkout in "My Drive" or iCloud Drive).
hopts=()
[ -z "$counters" ] || hopts=(--counters "$counters")

# --- Interpreters -----------------------------------------------------------
first_line() { grep -m 1 . "$1" | cut -c1-200; }

# Every python3.N on the PATH (the first of each name), by version.
python_names() {
  local d f n seen=' '
  local IFS=:
  for d in $PATH; do
    [ -n "$d" ] || continue
    for f in "$d"/python3.*; do
      n=${f##*/}
      [[ $n =~ ^python3\.[0-9]+$ ]] && [ -x "$f" ] || continue
      case $seen in *" $n "*) continue ;; esac
      seen="$seen$n "
      echo "$n"
    done
  done | sort -t. -k2,2n
}
pythons=''
for n in $(python_names); do
  if "$n" -c 'import sys' >"$out/.probe" 2>&1; then
    pythons="$pythons $n"
  else
    unusable="$unusable- $n ($(command -v "$n")): $(first_line "$out/.probe")"$'\n'
  fi
done
if [ -z "$pythons" ]; then # no python3.N on the PATH: python3, labelled by version
  v=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) && pythons=" python3:$v"
fi
rm -f "$out/.probe"

# SageMath: the full one, else a python with passagemath (SAGE_PYTHON).
sage_py=${SAGE_PYTHON:-python3}
sage_mode=none
if command -v sage >/dev/null 2>&1 && sage -c 'import sage.all' >/dev/null 2>&1; then
  sage_mode=full
elif "$sage_py" -c 'import sage.parallel.decorate, sage.repl.preparse' >/dev/null 2>&1; then
  sage_mode=passagemath
fi
sage_python() { # the python that has Sage
  if [ $sage_mode = full ]; then sage -python "$@"; else "$sage_py" "$@"; fi
}
have_rf=0
if [ $sage_mode = full ] || "$sage_py" -c 'import sage.rings.real_mpfr' >/dev/null 2>&1; then have_rf=1; fi
sage_why=''
[ $sage_mode != none ] || sage_why="no SageMath here: neither \`sage -c 'import sage.all'\` nor $sage_py importing sage.parallel.decorate and sage.repl.preparse works (set SAGE_PYTHON to a python with passagemath-modules and passagemath-repl)"

# --- Running ----------------------------------------------------------------
# run_original LABEL CMD...: CMD in ORIGINALS_DIR, transcript OUT/LABEL.txt.
run_original() {
  local label=$1 t0=$SECONDS
  shift
  echo "== $label" >&2
  (cd "$orig" && PYTHONPATH="$orig${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 "$@") \
    >"$out/$label.txt" 2>"$out/$label.err"
  local rc=$?
  echo "   $((SECONDS - t0)) s" >&2
  return $rc
}

# run_port NAME BINARY ARGS...: the port with --json OUT/NAME.json, once per
# NAME in a run; fails (with the reason in $why) when the binary is missing
# or its --help lacks one of the flags.
run_port() {
  local name=$1 b=$2 help a
  shift 2
  case $ports_done in *" $name "*) return 0 ;; esac
  if [ ! -x "$bin/$b" ]; then why="port $b is not in this workspace yet"; return 1; fi
  help=$("$bin/$b" --help 2>/dev/null)
  for a in "$@"; do
    if [[ $a == --* ]] && ! grep -q -- "${a%%=*}" <<<"$help"; then
      why="port $b has no ${a%%=*} flag"; return 1
    fi
  done
  # The system's own count of the port's regions (vmmap, pmap) beside the
  # counters, as the harness reads it for the originals.
  if grep -q -- --witness <<<"$help"; then set -- "$@" --witness on; fi
  echo "== $name ($b $*)" >&2
  if ! "$bin/$b" "$@" --json "$out/$name.json" >"$out/$name.txt" 2>"$out/$name.err"; then
    why="port $b $* failed: $(first_line "$out/$name.err")"; return 1
  fi
  ports_done="$ports_done$name "
}

# pair LABEL SCRIPT PORT_NAME PORT_BIN PORT_ARGS... -- ORIGINAL_CMD...
pair() {
  local label=$1 script=$2 pname=$3 pbin=$4 pcmd
  shift 4
  pcmd="$pbin"
  while [ "$1" != -- ]; do pcmd="$pcmd $1"; shift; done
  shift
  if [ ! -f "$orig/$script" ]; then skip "$label" "not in $orig"; return; fi
  # shellcheck disable=SC2086 # pcmd is words without blanks inside
  if ! run_port "$pname" $pcmd; then skip "$label" "$why"; return; fi
  if ! run_original "$label" "$@"; then
    skip "$label" "the original failed: $(tail -n 1 "$out/$label.err")"
    # Out of the way of the inputs ci/diagnose.sh and ci/cross-report.sh
    # collect (test_*.py*.txt): a failed run may hold no line report reads.
    mv "$out/$label.txt" "$out/$label.txt.failed"
    return
  fi
  pairs="$pairs$out/$label.txt"$'\n'"$out/$pname.json"$'\n'
  ran="$ran- $label ← $pcmd"$'\n'
}

py_run() { # PYTHON MODULE HARNESS_OPTIONS...
  local py=$1 m=$2
  shift 2
  "$py" "$harness" py "$m" ${hopts[@]+"${hopts[@]}"} "$@"
}
# at_least_312 PYTHON: CPython 3.12 or later (it counts threads after each fork).
at_least_312() { "$@" -c 'import sys; sys.exit(not (sys.implementation.name == "cpython" and sys.version_info >= (3, 12)))' 2>/dev/null; }

# 1. The pure-Python emulation of @parallel, under every python3.N; the
#    control under every CPython >= 3.12; the stand-in leak with STANDIN=1.
variants="real"
[ "${STANDIN:-0}" = 1 ] && [ -n "$counters" ] && variants="$variants standin standin+control"
[ "${STANDIN:-0}" = 1 ] && [ -z "$counters" ] && skip "test_pyparallel_sleep.py+standin" "no libprobes_capi (the stand-in leak maps its pages through it)"
for p in $pythons; do
  py=${p%%:*} label=${p%%:*}
  [ "$py" = python3 ] && label=python${p#*:}
  vs=$variants
  at_least_312 "$py" && vs="$vs control"
  for v in $vs; do
    case $v in
      real) suffix='' extra='' ;;
      control) suffix=+control extra=--fork-without-thread-count ;;
      standin) suffix=+standin extra=--standin-leak ;;
      standin+control) suffix=+standin+control extra='--standin-leak --fork-without-thread-count' ;;
    esac
    # shellcheck disable=SC2086 # extra holds no blanks inside a word
    pair "test_pyparallel_sleep.py@$label$suffix" test_pyparallel_sleep.py \
      test_fork_sleep test_fork_sleep --numcalls "$N" --ncpus "$W" --repeat "$K" -- \
      py_run "$py" test_pyparallel_sleep --repeat "$K" --kw "numcalls=$N" --kw "ncpus=$W" $extra
  done
done
[ -n "$pythons" ] || skip test_pyparallel_sleep.py "no python3 here"

# FORK_ONLY=1: the one fork-per-job .sage original below, nothing else.
fork_only=${FORK_ONLY:-0}
# 2. The Pool scripts (8 workers built in).
[ "$fork_only" = 1 ] || pair test_pool_fork_sleep.py test_pool_fork_sleep.py \
  test_pool_sleep-start-fork test_pool_sleep --numcalls "$N" --maxworkers 8 --start fork --repeat "$K" -- \
  py_run python3 test_pool_fork_sleep --repeat "$K" --kw "numcalls=$N"
[ "$fork_only" = 1 ] || pair test_pool_spawn_sleep.py test_pool_spawn_sleep.py \
  test_spawn_sleep test_spawn_sleep --numcalls "$N" --maxworkers 8 --repeat "$K" -- \
  py_run python3 test_pool_spawn_sleep --repeat "$K" --kw "numcalls=$N"

# 3. The .sage scripts, through a driver generated in OUTDIR.
sage_run() { # SCRIPT HARNESS_OPTIONS...
  local s=$1
  shift
  sage_python "$harness" driver "$orig/$s" "$out/drive_${s%.sage}.py" &&
    sage_python "$out/drive_${s%.sage}.py" ${hopts[@]+"${hopts[@]}"} "$@"
}
sage_pair() { # SCRIPT PORT_NAME PORT_BIN PORT_ARGS... -- HARNESS_OPTIONS...
  local s=$1 pname=$2 pwords='' label=$1
  shift 2
  case " $* " in *" --fork-without-thread-count "*) label=$s+control ;; esac
  if [ -n "$sage_why" ]; then
    if [ -f "$orig/$s" ]; then skip "$label" "$sage_why"; else skip "$label" "not in $orig"; fi
    return
  fi
  while [ "$1" != -- ]; do pwords="$pwords $1"; shift; done
  shift
  # shellcheck disable=SC2086 # port words hold no blanks
  pair "$label" "$s" "$pname" $pwords -- sage_run "$s" "$@"
}
q=$((N / 100)); [ $q -gt 0 ] || q=1
# Sage's @parallel forks with os.fork(): the control too where its Python counts threads.
sage_312=0
[ $sage_mode = full ] && at_least_312 sage -python && sage_312=1
[ $sage_mode = passagemath ] && at_least_312 "$sage_py" && sage_312=1
for v in real control; do
  [ $v = real ] || [ $sage_312 = 1 ] || continue
  c=''; [ $v = control ] && c=--fork-without-thread-count
  # shellcheck disable=SC2086 # c holds no blanks
  sage_pair test_parallel_sleep_v2.sage test_fork_sleep-ipc-file test_fork_sleep \
    --numcalls "$N" --ncpus "$W" --ipc file --repeat "$K" -- \
    --repeat "$K" --set "ncpus=$W" --kw "numcalls=$N" $c
  [ "$fork_only" = 1 ] && continue
  # shellcheck disable=SC2086 # c holds no blanks
  sage_pair test_parallel_sleep.sage test_fork_sleep-ipc-file-sleep-0.005 test_fork_sleep \
    --numcalls "$N" --ncpus 8 --sleep 0.005 --ipc file --repeat "$K" -- \
    --repeat "$K" --mode chunks --calls "$N" --ncpus 8 --sleep 0.005 $c
done
if [ "$fork_only" = 1 ]; then
  skipped="$skipped- the pool, spawn, RealField and OpenMP originals: FORK_ONLY=1"$'\n'
else
sage_pair test_executor_sleep.sage test_pool_sleep-api-executor test_pool_sleep \
  --numcalls "$N" --maxworkers 8 --api executor --repeat "$K" -- \
  --repeat "$K" --kw "numcalls=$N"
sage_pair test_parallel_spawn_sleep.sage test_spawn_sleep-per-call test_spawn_sleep \
  --per-call --numcalls 10 --maxworkers "$W" --repeat "$K" -- \
  --repeat "$K" --kw numcalls=10 --kw "ncpus=$W"

# 4. The RealField scripts (the harness times each bar()).
rf_opts="--mode rf --repeat $K --kw numcalls=$N --kw ncpus=$W --ncpus $W --precision 100"
for m in fork spawn forkserver; do
  s=test_pool_${m}_RF.py
  if [ $have_rf = 0 ]; then
    skip "$s" "$sage_py cannot import sage.rings.real_mpfr (set SAGE_PYTHON)"; continue
  fi
  # shellcheck disable=SC2086 # rf_opts holds no blanks
  pair "$s" "$s" "test_rf_pool-start-$m" test_rf_pool --numcalls "$N" --ncpus "$W" --start "$m" --repeat "$K" -- \
    sage_python "$harness" py "test_pool_${m}_RF" ${hopts[@]+"${hopts[@]}"} $rf_opts
done
# shellcheck disable=SC2086 # rf_opts holds no blanks
sage_pair test_pool_fork_RF.sage test_rf_pool-start-fork test_rf_pool \
  --numcalls "$N" --ncpus "$W" --start fork --repeat "$K" -- $rf_opts

# 5. The C + OpenMP original, built into OUTDIR, each run timed.
build_openmp() { # OUTPUT: compile test_openmp_sleep.c, errors in OUTPUT.err
  "${CC:-cc}" -O2 -fopenmp -o "$1" "$orig/test_openmp_sleep.c" 2>"$1.err" && return 0
  [ "$(uname -s)" = Darwin ] || return 1
  # Apple's clang: OpenMP through the preprocessor and Homebrew's libomp.
  local pre
  for pre in "$(brew --prefix libomp 2>/dev/null)" /opt/homebrew/opt/libomp /usr/local/opt/libomp; do
    [ -n "$pre" ] && [ -d "$pre" ] && break
  done
  [ -d "$pre" ] || { echo "no Homebrew libomp (brew install libomp)" >"$1.err"; return 1; }
  "${CC:-clang}" -O2 -Xpreprocessor -fopenmp -I"$pre/include" -o "$1" "$orig/test_openmp_sleep.c" \
    -L"$pre/lib" -lomp 2>"$1.err"
}
omp_run() { NCPUS=$W python3 "$harness" exec --repeat "$K" --runs "$q" --calls 100 --ncpus "$W" --sleep 0.005 -- "$out/test_openmp_sleep"; }
if [ ! -f "$orig/test_openmp_sleep.c" ]; then
  skip test_openmp_sleep.c "not in $orig"
elif ! build_openmp "$out/test_openmp_sleep"; then
  skip test_openmp_sleep.c "cannot build with OpenMP here: $(first_line "$out/test_openmp_sleep.err")"
else
  pair test_openmp_sleep.c test_openmp_sleep.c test_threads_sleep-runtime-team test_threads_sleep \
    --runtime team --numcalls $((q * 100)) --ncpus "$W" --sleep 0.005 --repeat "$K" -- omp_run
fi
fi # FORK_ONLY

# --- Summary ----------------------------------------------------------------
if [ -z "$pairs" ]; then
  echo "compare.sh: nothing could run (see the skips above)" >&2
  exit 1
fi
set --
while IFS= read -r f; do [ -n "$f" ] && set -- "$@" "$f"; done <<<"$pairs"
"$bin/report" --pairs --markdown "$out/compare.md" --svg "$out/compare.svg" "$@" || exit 1
case $sage_mode in
  full) sage_note="full SageMath (sage)" ;;
  passagemath) sage_note="$("$sage_py" -c 'import importlib.metadata as m; print("passagemath", m.version("passagemath-modules"))' 2>/dev/null || echo "$sage_py")" ;;
  *) sage_note="none" ;;
esac
{
  echo "## Originals vs ports (numcalls=$N, repeat=$K, ncpus=$W) on $(uname -sm)"
  echo
  echo "Sage: $sage_note; python3: $(python3 -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo none)"
  echo
  cat "$out/compare.md"
  echo
  echo "Ran (original ← port):"
  printf '%s' "$ran"
  if [ -n "$skipped" ]; then
    echo
    echo "Could not run:"
    printf '%s' "$skipped"
  fi
  if [ -n "$unusable" ]; then
    echo
    echo "Interpreters on the PATH that do not run (no row):"
    printf '%s' "$unusable"
  fi
  echo
  echo "Elapsed: $SECONDS s"
} | tee "$out/summary.md"
echo "(transcripts, records and compare.svg in $out$([ -n "$outdir" ] || [ "${KEEP:-0}" = 1 ] || echo ', removed now: KEEP=1 keeps them'))" >&2
