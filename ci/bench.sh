#!/usr/bin/env bash
# Benchmark (not a test): median Cost/ncpus/calls of test_fork_sleep (both
# --ipc) next to a minimal native C loop making the same system calls and to a
# Python loop with the mechanism of test_pyparallel_sleep.py, all in one run on
# this machine. Also the parent's peak RSS without ballast.
# Usage: ci/bench.sh [NUMCALLS [NCPUS [T]]]   (defaults 1000 8 0.001)
# Other benches: ci/bench-*.sh (pools, threads, RealField), run when present.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=ci/bench/lib.sh
. ci/bench/lib.sh
numcalls=${1:-1000} ncpus=${2:-8} T=${3:-0.001}
bench_workdir

cargo build --release -q -p test_fork_sleep
cc -O2 -o "$work/native_fork" ci/bench/native_fork.c

bin=target/release/test_fork_sleep
# Interleave the runs (3 rounds) so that machine noise hits every contender alike.
for round in 1 2 3; do
  "$work/native_fork" "$numcalls" "$ncpus" "$T" >>"$work/native.txt"
  "$bin" --numcalls "$numcalls" --ncpus "$ncpus" --sleep "$T" --json "$work/pipe$round.json" >>"$work/pipe.txt"
  "$bin" --numcalls "$numcalls" --ncpus "$ncpus" --sleep "$T" --ipc file >>"$work/file.txt"
  if command -v python3 >/dev/null; then
    python3 ci/bench/py_fork.py "$numcalls" "$ncpus" "$T" >>"$work/python.txt"
  fi
done
# Median cost per job of contender $1 (bash 3.2 has no associative arrays).
cost() { median_in "$work/$1.txt"; }
rss=$(grep -ho '"peak_rss_bytes": [0-9]*' "$work"/pipe*.json | awk '{if ($2>m) m=$2} END {printf "%.1f", m/1048576}')

echo "## fork per job: median Cost/ncpus/calls ($numcalls calls x $ncpus jobs, T=$T, 3 interleaved rounds)"
echo
echo "| contender | median cost/job (s) | ratio to native |"
echo "|---|---|---|"
native=$(cost native)
for k in native pipe file python; do
  c=$(cost "$k")
  label=$k
  case $k in
    native) label="native C loop (same system calls)";;
    pipe) label="test_fork_sleep --ipc pipe";;
    file) label="test_fork_sleep --ipc file";;
    python) label="Python emulation (py_fork.py)";;
  esac
  echo "| $label | $c | $(ratio "$c" "$native") |"
done
echo
echo "Parent peak RSS (test_fork_sleep --ipc pipe, no ballast): $rss MiB"
awk -v p="$(cost pipe)" -v py="$(cost python)" 'BEGIN { if (py+0>0) printf "pipe / Python emulation: %.2f\n", p/py }'

for extra in ci/bench-*.sh; do
  if [ -x "$extra" ]; then echo; "$extra"; fi
done
