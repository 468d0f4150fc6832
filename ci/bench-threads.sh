#!/usr/bin/env bash
# Benchmark (not a test) of test_threads_sleep's runtimes, two tables:
#  1. median Cost/ncpus/calls (per-chunk figures) next to a minimal native C
#     team (ci/bench/native_team.c), 3 interleaved rounds;
#  2. whole process, the OpenMP original's shape (100 calls, T=0.005, NCPUS
#     threads), PAIRS interleaved runs: wall time minus the 0.5 s of sleeping
#     (bash's `time`, ms resolution), median of each contender's ratio to the
#     OpenMP original in the same pair.
# Goals (the thread team's budget): --runtime team at most 1.15x the native team (table 1)
# and at most 1.1x the OpenMP original's overhead (table 2).
# Usage: ci/bench-threads.sh [NUMCALLS [NCPUS [T]]]   (defaults 1000 8 0.005)
# Environment: ORIGINALS_DIR, a directory holding test_openmp_sleep.c (kept
# outside the repository): when set and $OMP_CC (default gcc) has OpenMP,
# the original is built in a temporary directory and is a contender.
# PAIRS (default 11): runs per contender in table 2.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=ci/bench/lib.sh
. ci/bench/lib.sh
numcalls=${1:-1000} ncpus=${2:-8} T=${3:-0.005}
pairs=${PAIRS:-11}
bench_workdir
cargo build --release -q -p test_threads_sleep
cc -O2 -pthread -o "$work/native_team" ci/bench/native_team.c
bin=target/release/test_threads_sleep
runtimes="team rayon scoped channel"

omp=
if [ -n "${ORIGINALS_DIR:-}" ]; then
  src="$ORIGINALS_DIR/test_openmp_sleep.c"
  if [ ! -f "$src" ]; then
    echo "note: $src not found; the OpenMP original is left out" >&2
  elif "${OMP_CC:-gcc}" -O2 -fopenmp -o "$work/test_openmp_sleep" "$src" 2>"$work/omp.err"; then
    omp="$work/test_openmp_sleep"
  else
    echo "note: ${OMP_CC:-gcc} -fopenmp could not build $src; the OpenMP original is left out" >&2
  fi
fi

# Table 1: per-chunk figures.
for _ in 1 2 3; do
  "$work/native_team" "$numcalls" "$ncpus" "$T" >>"$work/native.txt"
  for rt in $runtimes; do
    "$bin" --runtime "$rt" --numcalls "$numcalls" --ncpus "$ncpus" --sleep "$T" >>"$work/$rt.txt"
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b+0>0 && a!="nan") printf "%.2f", a/b; else print "-" }'; }
native=$(median <"$work/native.txt")
echo "## thread team: median Cost/ncpus/calls ($numcalls calls x $ncpus threads, T=$T, 3 interleaved rounds)"
echo
echo "| contender | median cost/job (s) | ratio to native team |"
echo "|---|---|---|"
echo "| native C team (threads + barrier) | $native | 1.00 |"
for rt in $runtimes; do
  c=$(median <"$work/$rt.txt")
  echo "| test_threads_sleep --runtime $rt | $c | $(ratio "$c" "$native") |"
done
rayon_shared=$(grep -o 'one thread: [0-9]*' "$work/rayon.txt" | awk '{s+=$3} END {print s+0}')
echo
echo "rayon: calls in which two or more sleeps ran on one thread: $rayon_shared of $((numcalls * 3))"

# Table 2: whole process, 100 calls x NCPUS threads x usleep(5 ms), as the
# OpenMP original runs. Prints the wall time of "$@" in seconds.
wall() {
  local TIMEFORMAT=%3R
  { time "$@" >/dev/null 2>&1; } 2>"$work/wall"
  cat "$work/wall"
}
contenders="native team channel"
[ -n "$omp" ] && contenders="omp $contenders"
i=0
while [ "$i" -lt "$pairs" ]; do
  for k in $contenders; do
    case $k in
      omp) w=$(wall env NCPUS="$ncpus" "$omp") ;;
      native) w=$(wall "$work/native_team" 100 "$ncpus" 0.005) ;;
      *) w=$(wall "$bin" --runtime "$k" --numcalls 100 --ncpus "$ncpus" --sleep 0.005) ;;
    esac
    awk -v w="$w" 'BEGIN { printf "%.6f\n", w - 0.5 }' >>"$work/over_$k.txt"
  done
  i=$((i + 1))
done
ref=native
[ -n "$omp" ] && ref=omp
echo
echo "## whole process: 100 calls x $ncpus threads x usleep(5 ms), overhead = wall - 0.5 s ($pairs interleaved runs)"
echo
echo "| contender | median overhead (s) | median ratio to $ref (same pair) |"
echo "|---|---|---|"
for k in $contenders; do
  case $k in
    omp) label="OpenMP original (${OMP_CC:-gcc} -O2 -fopenmp)" ;;
    native) label="native C team" ;;
    *) label="test_threads_sleep --runtime $k" ;;
  esac
  m=$(median_of <"$work/over_$k.txt")
  r=$(paste "$work/over_$k.txt" "$work/over_$ref.txt" | awk '$2 > 0 { printf "%.6f\n", $1 / $2 }' | median_of)
  echo "| $label | $m | $(awk -v r="$r" 'BEGIN { if (r == "nan") print "-"; else printf "%.2f", r }') |"
done
