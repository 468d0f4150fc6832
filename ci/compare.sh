#!/usr/bin/env bash
# Side by side: each original script of burnol-math/irwin that can run here,
# and its Rust port with the same parameters, then one Markdown table via
# `report --pairs` (per-job cost of each, their ratio, both drift verdicts) and
# the table of every run.
#
# Usage: ci/compare.sh ORIGINALS_DIR [OUTDIR]
#   ORIGINALS_DIR  a checkout holding the original scripts (read only: they are
#                  run in place with PYTHONPATH/cwd = ORIGINALS_DIR, never copied,
#                  and no __pycache__ is written there)
#   OUTDIR         where transcripts, JSON records, compare.md and compare.svg go
#                  (default: a temporary directory, removed at the end unless
#                  KEEP=1)
# Environment: NUMCALLS (default 300), REPEAT (bar() runs per process, default 2),
#   NCPUS (default 8, the originals' default; the pool scripts have 8 built in).
#
# What cannot run here is named and skipped: .sage scripts without `sage`, the
# RealField scripts unless `${SAGE_PYTHON:-python3} -c 'import sage.rings.real_mpfr'` works,
# ports whose binary is not (yet) in this workspace or lacks a flag.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
root=$PWD

orig=${1:?usage: ci/compare.sh ORIGINALS_DIR [OUTDIR]}
orig=$(cd "$orig" && pwd) || { echo "compare.sh: $1: no such directory" >&2; exit 2; }
N=${NUMCALLS:-300} K=${REPEAT:-2} W=${NCPUS:-8}
for v in "$N" "$K" "$W"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: NUMCALLS, REPEAT, NCPUS must be positive integers" >&2; exit 2; }
done

if [ -n "${2:-}" ]; then
  out=$2
  mkdir -p "$out"
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
  [ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$out"' EXIT
fi

skipped=()
skip() { skipped+=("$1: $2"); echo "skip: $1: $2" >&2; }

# Ports: build only the binaries this workspace has.
have_port() { grep -q "\"$1\"" "$root/Cargo.toml" && [ -d "$root/$1" ]; }
ports=()
for p in report test_fork_sleep test_pool_sleep test_spawn_sleep test_threads_sleep test_rf_pool; do
  have_port "$p" && ports+=(-p "$p")
done
if ! have_port report; then echo "compare.sh: the report binary is not in this workspace" >&2; exit 1; fi
cargo build --release -q "${ports[@]}" || { echo "compare.sh: cargo build failed" >&2; exit 1; }
bin=${CARGO_TARGET_DIR:-$root/target}/release

have_sage=0; command -v sage >/dev/null 2>&1 && have_sage=1
# The RealField originals need SageMath's RealField: SAGE_PYTHON names a python
# that has it (e.g. a venv with passagemath-modules), else python3 is tried.
sage_py=${SAGE_PYTHON:-python3}
have_rf=0; "$sage_py" -c 'import sage.rings.real_mpfr' >/dev/null 2>&1 && have_rf=1

pairs=()   # ORIGINAL_TRANSCRIPT PORT_JSON ...

# run_original NAME CMD...: runs CMD in ORIGINALS_DIR, transcript to OUT/NAME.txt.
run_original() {
  local name=$1; shift
  echo "== $name" >&2
  (cd "$orig" && PYTHONPATH="$orig${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 "$@") \
    >"$out/$name.txt" 2>"$out/$name.err"
}

# run_port NAME BINARY ARGS...: the port with --json OUT/NAME.json; skipped
# when the binary is missing or its --help lacks one of the flags.
run_port() {
  local name=$1 b=$2; shift 2
  if [ ! -x "$bin/$b" ]; then skip "$name" "port $b is not in this workspace yet"; return 1; fi
  local help a
  help=$("$bin/$b" --help 2>/dev/null)
  for a in "$@"; do
    if [[ $a == --* ]] && ! grep -q -- "${a%%=*}" <<<"$help"; then
      skip "$name" "port $b has no ${a%%=*} flag"; return 1
    fi
  done
  echo "== $name ($b $*)" >&2
  "$bin/$b" "$@" --json "$out/$name.json" >"$out/$name.txt" 2>"$out/$name.err"
}

# pair ORIGINAL_SCRIPT PORT_NAME PORT_BIN PORT_ARGS... -- ORIGINAL_CMD...
pair() {
  local script=$1 pname=$2 pbin=$3; shift 3
  local pargs=()
  while [ "$1" != -- ]; do pargs+=("$1"); shift; done
  shift
  if [ ! -f "$orig/$script" ]; then skip "$script" "not in $orig"; return; fi
  run_port "$pname" "$pbin" "${pargs[@]}" || return
  if ! run_original "$script" "$@"; then
    skip "$script" "the original failed: $(tail -n 1 "$out/$script.err")"
    return
  fi
  pairs+=("$out/$script.txt" "$out/$pname.json")
}

py_bars() { # MODULE ARGS: K times bar(ARGS) in one interpreter, as the author does
  python3 -c "from $1 import bar
for _ in range($K): bar($2)"
}

pair test_pyparallel_sleep.py fork_pipe test_fork_sleep --numcalls "$N" --ncpus "$W" --repeat "$K" -- \
  py_bars test_pyparallel_sleep "numcalls=$N, ncpus=$W"
pair test_pool_fork_sleep.py pool_fork test_pool_sleep --numcalls "$N" --maxworkers 8 --start fork --repeat "$K" -- \
  py_bars test_pool_fork_sleep "numcalls=$N"
pair test_pool_spawn_sleep.py pool_spawn test_spawn_sleep --numcalls "$N" --maxworkers 8 --repeat "$K" -- \
  py_bars test_pool_spawn_sleep "numcalls=$N"

sage_bars() { # SCRIPT ARGS
  sage -c "load('$orig/$1')
for _ in range($K): bar($2)"
}
if [ $have_sage = 1 ]; then
  pair test_parallel_sleep_v2.sage fork_file test_fork_sleep --numcalls "$N" --ncpus "$W" --ipc file --repeat "$K" -- \
    sage_bars test_parallel_sleep_v2.sage "numcalls=$N"
  pair test_executor_sleep.sage executor test_pool_sleep --numcalls "$N" --maxworkers 8 --api executor --repeat "$K" -- \
    sage_bars test_executor_sleep.sage "numcalls=$N"
  pair test_parallel_spawn_sleep.sage spawn_per_call test_spawn_sleep --per-call --numcalls 10 --ncpus "$W" --repeat "$K" -- \
    sage_bars test_parallel_spawn_sleep.sage "numcalls=10, ncpus=$W"
else
  for s in test_parallel_sleep_v2.sage test_executor_sleep.sage test_parallel_spawn_sleep.sage test_pool_fork_RF.sage; do
    skip "$s" "no sage command here"
  done
fi
skip test_parallel_sleep.sage "prints no timing of its own (the author used %time)"
skip test_openmp_sleep.c "prints no timing of its own (the author used time(1))"

# The RealField originals print no timing: the harness times each bar() and
# prints one line in our RealField format (so each bar() is one chunk).
rf_bars() { # MODULE
  "$sage_py" -c "import time
from $1 import bar
for _ in range($K):
    t = time.perf_counter(); bar(numcalls=$N, ncpus=$W); d = time.perf_counter() - t
    print(f'{d:.3f}s per $N x $W RealField(100).sin(). Cost/ncpus/calls is {d/$N/$W:.6f}s.')"
}
for m in fork spawn forkserver; do
  s=test_pool_${m}_RF.py
  if [ $have_rf = 1 ]; then
    pair "$s" "rf_$m" test_rf_pool --numcalls "$N" --ncpus "$W" --start "$m" --repeat "$K" -- rf_bars "test_pool_${m}_RF"
  else
    skip "$s" "$sage_py cannot import sage.rings.real_mpfr (set SAGE_PYTHON)"
  fi
done

if [ ${#pairs[@]} -eq 0 ]; then
  echo "compare.sh: nothing could run (see the skips above)" >&2
  exit 1
fi
"$bin/report" --pairs --markdown "$out/compare.md" --svg "$out/compare.svg" "${pairs[@]}" || exit 1
{
  echo "## Originals vs ports (numcalls=$N, repeat=$K, ncpus=$W) on $(uname -sm)"
  echo
  cat "$out/compare.md"
  if [ ${#skipped[@]} -gt 0 ]; then
    echo
    echo "Skipped:"
    printf -- '- %s\n' "${skipped[@]}"
  fi
} | tee "$out/summary.md"
echo "(transcripts, records and compare.svg in $out$([ -n "${2:-}" ] || [ "${KEEP:-0}" = 1 ] || echo ', removed now: KEEP=1 keeps them'))" >&2
