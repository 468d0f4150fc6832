#!/usr/bin/env bash
# Benchmark (not a test): per-call cost of test_rf_pool (RealField(100).sin()
# on 8 pool workers) for each start method, and, when a Python with SageMath's
# RealField is at hand, of the Python originals on the same machine.
#
# Usage: ci/bench-rf.sh [NUMCALLS [ROUNDS]]   (defaults 1000 3)
# Python originals: set SAGE_PYTHON to a python that can import
# sage.rings.real_mpfr (e.g. a venv with `pip install passagemath-modules`) and
# ORIGINALS_DIR to a checkout of burnol-math/irwin; its scripts
# test_pool_{fork,forkserver,spawn}_RF.py are run in place (PYTHONPATH, no
# bytecode written), never copied; they are never part of this repository.
#
# Per call = the whole bar() (pool creation included, as %time bar() sees it)
# divided by NUMCALLS; the median over ROUNDS interleaved rounds. Reference:
# real Sage took 1.20 s for 1000 calls with the fork pool on 2-core Linux;
# the goal is at most a third of the Python fork pool's per-call cost.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=ci/bench/lib.sh
. ci/bench/lib.sh
numcalls=${1:-1000} rounds=${2:-3}
orig=${ORIGINALS_DIR:-}
bench_workdir

cargo build --release -q -p test_rf_pool
bin=${CARGO_TARGET_DIR:-target}/release/test_rf_pool
starts=(fork forkserver spawn)

have_py=
if [ -n "${SAGE_PYTHON:-}" ] && [ -f "$orig/test_pool_fork_RF.py" ] \
  && "$SAGE_PYTHON" -c 'import sage.rings.real_mpfr' 2>/dev/null; then
  have_py=1
fi

# Wall seconds of each bar() of a run record.
bar_walls() { python3 -c 'import json,sys; [print(r["totals"]["wall"]) for r in json.load(open(sys.argv[1]))["repeats"]]' "$1"; }

for round in $(seq "$rounds"); do
  for m in "${starts[@]}"; do
    "$bin" --start "$m" --numcalls "$numcalls" --json "$work/rs-$m-$round.json" >/dev/null
    bar_walls "$work/rs-$m-$round.json" >>"$work/rs-$m.txt"
    if [ -n "$have_py" ]; then
      (cd "$work" && PYTHONPATH="$orig" PYTHONDONTWRITEBYTECODE=1 "$SAGE_PYTHON" -c "
import time, sys
import test_pool_${m}_RF as t
s = time.perf_counter(); t.bar(numcalls=$numcalls); print(time.perf_counter() - s, file=sys.stderr)
" 2>>"$work/py-$m.txt" >/dev/null)
    fi
  done
done

# per_call rs|py METHOD: median whole bar() / NUMCALLS of the Rust port or
# of the Python original ("nan" when not run); bash 3.2 has no associative
# arrays, so it is read from the transcripts each time.
per_call() {
  if [ "$1" = py ] && [ -z "$have_py" ]; then echo nan; return; fi
  { grep -E '^[0-9.e-]+$' "$work/$1-$2.txt" || true; } | median_of | awk -v n="$numcalls" '{printf "%.6f", $1/n}'
}

echo "## RealField(100).sin() on a pool of 8: per-call cost (whole bar() / $numcalls calls, median of $rounds rounds)"
echo
echo "| start method | test_rf_pool (s/call) | Python original (s/call) | ratio Rust / Python fork |"
echo "|---|---|---|---|"
py_fork=$(per_call py fork)
for m in "${starts[@]}"; do
  rs=$(per_call rs "$m")
  ratio=$(awk -v a="$rs" -v b="$py_fork" 'BEGIN { if (b+0>0) printf "%.3f", a/b; else print "-" }')
  echo "| $m | $rs | $(per_call py "$m") | $ratio |"
done
echo
awk -v a="$(per_call rs fork)" 'BEGIN { printf "Reference: real Sage, fork pool, 2-core Linux: 0.001200 s/call; test_rf_pool fork / that = %.3f (goal <= 0.333)\n", a/0.0012 }'
[ -n "$have_py" ] || echo "(Python originals not run: set SAGE_PYTHON to a python that imports sage.rings.real_mpfr and ORIGINALS_DIR to a checkout of burnol-math/irwin)"
