#!/usr/bin/env bash
# Tests upstream/cpython/fork_repro.py, the one file a CPython triager runs:
# - its ctypes layouts against XNU's headers, its Theil-Sen interval against
#   scipy's, its answer line against the regex its readers use
#   (ci/tests/fork_repro_layout.py, no fork), under every interpreter found;
# - the script itself under every CPython 3.8+ found (pyenv's versions, then
#   python3.N and python3 on PATH; "skipped: ..." for the rest), with few
#   forks: the first line, the table, the answer as the last line ("no leak
#   here" on Linux), 3.11's line about the missing thread count, bad
#   arguments (exit 2 and argparse's usage), the control missing (a
#   sitecustomize that deletes ctypes.pythonapi: one line says so, os.fork
#   still counts), --build-label and the older positional spelling;
# - once, the fork cost (its line, its points, its check within 1 % on
#   Linux), and a stdout that cannot show µs.
# Called by ci/test.sh; about 30 s here (the fork cost is 10 s of it).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
fail() { echo "fork-repro test: FAIL: $*" >&2; exit 1; }
script=upstream/cpython/fork_repro.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fork-repro-test.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
# The answer line's regex (fixed with ci/cpython-fix.sh and report), in ERE.
answer='^fork_repro: os[.]fork [+-][0-9]+[.][0-9][0-9] map entries per fork, control ([+-][0-9]+[.][0-9][0-9]|not run [(][^)]*[)]): .+$'
linux=0
[ "$(uname -s)" = Linux ] && linux=1

# The interpreters: each path once.
found=$tmp/found
: >"$found"
for py in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
  [ -x "$py" ] && echo "$py" >>"$found"
done
for n in 8 9 10 11 12 13 14 15; do
  p=$(command -v "python3.$n" 2>/dev/null) && echo "$p" >>"$found"
done
p=$(command -v python3 2>/dev/null) && echo "$p" >>"$found"
[ -s "$found" ] || { echo "skipped: no python3"; exit 0; }

seen=$tmp/seen
: >"$seen"
ran=0
last='' newest=0
while read -r py; do
  real=$("$py" -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null) || {
    echo "skipped: $py does not run"
    continue
  }
  grep -qxF "$real" "$seen" && continue
  echo "$real" >>"$seen"
  version=$("$py" -c 'import platform, sys; print(platform.python_version(), platform.python_implementation(), "%d %d" % sys.version_info[:2])')
  read -r v impl major minor <<<"$version"
  if [ "$major" -lt 3 ] || { [ "$major" = 3 ] && [ "$minor" -lt 8 ]; }; then
    echo "skipped: $py is Python $v, older than the script's 3.8"
    continue
  fi
  "$py" ci/tests/fork_repro_layout.py >"$tmp/unit.out" 2>&1 || fail "$py: $(tail -n 20 "$tmp/unit.out")"

  # The run: few forks, no fork cost.
  out=$tmp/run.out
  "$py" "$script" --batches 3 --forks 20 --no-calibrate >"$out" 2>"$tmp/run.err" \
    || fail "$py: exit $?: $(cat "$tmp/run.err")"
  head -n 1 "$out" | grep -qE "^fork_repro: Python $v [(]${impl}[)]( [(]build [^)]*[)])? on .+ [^ ]+; 3 batches of 20 forks\$" \
    || fail "$py: first line: $(head -n 1 "$out")"
  [ "$(grep -cE '^ +[123] +20 [|]' "$out")" = 3 ] || fail "$py: not 3 table rows: $(cat "$out")"
  grep -q '^batch  forks |' "$out" || fail "$py: no table header: $(cat "$out")"
  tail -n 1 "$out" | grep -qE "$answer" || fail "$py: last line: $(tail -n 1 "$out")"
  grep -q 'first batch .* last: os.fork [0-9.]* .* [0-9.]*, control [0-9.]* ' "$out" || fail "$py: no first -> last line: $(cat "$out")"
  grep -q '^slope (Theil-Sen over the batches), .* per fork per 1000 forks: os.fork [+-][0-9.]*, control [+-][0-9.]*$' "$out" \
    || fail "$py: no slope line: $(cat "$out")"
  if [ "$impl" = CPython ] && [ "$minor" -lt 12 ]; then
    grep -qF "3.$minor: os.fork counts no threads (added in 3.12)" "$out" || fail "$py: no line about 3.$minor: $(cat "$out")"
  fi
  if [ "$linux" = 1 ]; then
    tail -n 1 "$out" | grep -q ': no leak here$' || fail "$py: Linux leaks?: $(tail -n 1 "$out")"
    # Counted in both interpreters: numbers in both map entry columns.
    grep -E '^ +1 +20 [|]' "$out" | awk -F'[|]' '{ split($4, m, " "); exit !(m[1] ~ /^[0-9]+$/ && m[2] ~ /^[0-9]+$/) }' \
      || fail "$py: map entries not counted: $(cat "$out")"
  fi

  # Bad arguments: exit 2, argparse's short usage and the flag named.
  for bad in "--forks 0" "--batches x" "--batches 1" "--bogus" "4 20 --batches 4"; do
    # shellcheck disable=SC2086 # each case is several words
    "$py" "$script" $bad >"$tmp/bad.out" 2>"$tmp/bad.err"
    got=$?
    [ "$got" = 2 ] || fail "$py $bad: exit $got, expected 2"
    [ -s "$tmp/bad.out" ] && fail "$py $bad: wrote to stdout: $(cat "$tmp/bad.out")"
    head -n 1 "$tmp/bad.err" | grep -q '^usage: fork_repro.py ' || fail "$py $bad: no usage: $(cat "$tmp/bad.err")"
    tail -n 1 "$tmp/bad.err" | grep -q '^fork_repro.py: error: ' || fail "$py $bad: $(cat "$tmp/bad.err")"
  done
  "$py" "$script" --batches 1 2>"$tmp/bad.err"
  grep -qF "argument --batches: expected an integer from 2 to 1000, got '1'" "$tmp/bad.err" \
    || fail "$py --batches 1: the flag and its range are not named"

  # No ctypes.pythonapi (as PyPy): one line says so, os.fork still counts.
  mkdir -p "$tmp/nocapi"
  printf 'import ctypes\ndel ctypes.pythonapi\n' >"$tmp/nocapi/sitecustomize.py"
  PYTHONPATH=$tmp/nocapi "$py" "$script" --batches 2 --forks 10 --no-calibrate >"$out" 2>"$tmp/run.err" \
    || fail "$py without ctypes.pythonapi: exit $?: $(cat "$tmp/run.err")"
  grep -qxF 'control: not run: no ctypes.pythonapi in this interpreter; the os.fork run still counts' "$out" \
    || fail "$py without ctypes.pythonapi: $(cat "$out")"
  tail -n 1 "$out" | grep -qE '^fork_repro: os[.]fork [+-][0-9.]+ map entries per fork, control not run [(]no ctypes[.]pythonapi[)]: ' \
    || fail "$py without ctypes.pythonapi: last line: $(tail -n 1 "$out")"

  # --build-label, and the older spelling BATCHES FORKS.
  "$py" "$script" 2 10 --no-calibrate --build-label 'unpatched, python/cpython main at 1a2b3c4' >"$out" 2>&1 \
    || fail "$py --build-label: $(cat "$out")"
  [ "$(sed -n 2p "$out")" = 'fork_repro: build: unpatched, python/cpython main at 1a2b3c4' ] \
    || fail "$py --build-label: second line: $(sed -n 2p "$out")"
  head -n 1 "$out" | grep -q '; 2 batches of 10 forks$' || fail "$py 2 10: $(head -n 1 "$out")"
  echo "fork-repro test: Python $v ($py): layouts, table, answer, usage errors, no pythonapi, build label: OK"
  ran=$((ran + 1))
  if [ $((major * 100 + minor)) -gt "$newest" ]; then
    last=$py newest=$((major * 100 + minor))
  fi
done <"$found"
[ "$ran" -gt 0 ] || { echo "skipped: no CPython 3.8 or later"; exit 0; }

# The fork cost, once (the newest interpreter); then a stdout that cannot show µs.
out=$tmp/cal.out
PYTHONIOENCODING=utf-8 "$last" "$script" --batches 2 --forks 10 >"$out" 2>"$tmp/run.err" \
  || fail "fork cost: exit $?: $(cat "$tmp/run.err")"
grep -qE '^fork cost: [+-][0-9]+[.][0-9][0-9] µs per extra map entry [(]95 % -?[0-9]+[.][0-9][0-9]–-?[0-9]+[.][0-9][0-9][)], -?[0-9,]+–[0-9,]+ entries, fork[(][)] in the parent$' "$out" \
  || fail "fork cost line: $(cat "$out")"
grep -qE '^fork cost points [(]µs per fork[(][)] in the parent, median by extra map entries; [^)]*[)]: (-?[0-9]+:[0-9.]+ ?){9}$' "$out" \
  || fail "fork cost points: $(grep '^fork cost points' "$out")"
tail -n 1 "$out" | grep -qE "$answer" || fail "fork cost: the answer is not the last line: $(tail -n 2 "$out")"
if [ "$linux" = 1 ]; then
  grep -qE '^fork cost check: [+][0-9,]+ map entries counted for 16,000 pages [(]within 1 %[)]$' "$out" \
    || fail "fork cost check: $(grep '^fork cost' "$out")"
  # The range is what the counter saw, the interpreter's own mappings
  # beside the pages (one more or less, a malloc arena): within 1 %.
  top=$(sed -n 's/^fork cost: .*, 0–\([0-9,]*\) entries, .*/\1/p' "$out" | tr -d ,)
  [ -n "$top" ] && [ "$top" -ge 15840 ] && [ "$top" -le 16160 ] || fail "fork cost range: $(grep '^fork cost:' "$out")"
fi
PYTHONIOENCODING=ascii "$last" "$script" --batches 2 --forks 10 --no-calibrate >"$out" 2>"$tmp/run.err" \
  || fail "ascii stdout: exit $?: $(cat "$tmp/run.err")"
grep -q '^us per fork, first batch -> last: ' "$out" || fail "ascii stdout: $(cat "$out")"
echo "fork-repro test: OK ($ran interpreters; the fork cost and an ASCII stdout with $last)"
