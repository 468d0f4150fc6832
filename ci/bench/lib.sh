# shellcheck shell=bash
# Shared by the ci/bench*.sh scripts (sourced, not run). Bash 3.2 and BSD
# tools (ci/portability.sh checks it): no associative arrays, so each bench
# keeps one transcript file per contender and reads its median with
# `median_in`.

# Median of the numbers on stdin, printed with 6 decimals ("nan" if none).
median_of() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit} m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.6f", m}'; }

# Median of the "Cost/.../calls is X s." figures of a transcript on stdin.
median() { grep -oE 'calls is -?[0-9.]*s' | sed 's/calls is //; s/s$//' | median_of; }

# median_in FILE: `median` of a transcript file, "nan" when it is missing or
# empty (a contender that could not run here).
median_in() { if [ -s "$1" ]; then median <"$1"; else echo nan; fi; }

# ratio A B: A/B with 2 decimals, "-" when B is not a positive number or A is nan.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b+0>0 && a!="nan") printf "%.2f", a/b; else print "-" }'; }

# bench_workdir: sets $work to a new temporary directory, removed when the
# script exits (the bench's EXIT trap: a bench sets no other).
bench_workdir() {
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
}
