#!/usr/bin/env bash
# Benchmark (not a test): median Cost/ncpus/calls of test_threads_sleep's
# runtimes next to a minimal native C team (ci/bench/native_team.c), in one
# run, interleaved 3 times. Usage: ci/bench-threads.sh [NUMCALLS [NCPUS [T]]]
# (defaults 1000 8 0.005: the C original's T, more calls for a stable median).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=ci/bench/lib.sh
. ci/bench/lib.sh
numcalls=${1:-1000} ncpus=${2:-8} T=${3:-0.005}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p test_threads_sleep
cc -O2 -pthread -o "$work/native_team" ci/bench/native_team.c
bin=target/release/test_threads_sleep
for _ in 1 2 3; do
  "$work/native_team" "$numcalls" "$ncpus" "$T" >>"$work/native.txt"
  for rt in team rayon scoped; do
    "$bin" --runtime "$rt" --numcalls "$numcalls" --ncpus "$ncpus" --sleep "$T" >>"$work/$rt.txt"
  done
done
native=$(median <"$work/native.txt")
echo "## thread team: median Cost/ncpus/calls ($numcalls calls x $ncpus threads, T=$T, 3 interleaved rounds)"
echo
echo "| contender | median cost/job (s) | ratio to native team |"
echo "|---|---|---|"
echo "| native C team (threads + barrier) | $native | 1.00 |"
for rt in team rayon scoped; do
  c=$(median <"$work/$rt.txt")
  shared=$(grep -o 'one thread: [0-9]*' "$work/$rt.txt" | awk '{s+=$3} END {print s+0}')
  echo "| test_threads_sleep --runtime $rt | $c | $(awk -v a="$c" -v b="$native" 'BEGIN { if (b+0>0) printf "%.2f", a/b; else print "-" }') |"
  [ "$rt" = rayon ] && rayon_shared=$shared
done
echo
echo "rayon: calls in which two or more sleeps ran on one thread: ${rayon_shared:-0} of $((numcalls * 3))"
