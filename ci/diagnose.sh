#!/usr/bin/env bash
# One command for a Mac user (or anyone) who wants to send the answer back:
# the suite's ports (ci/matrix.sh) and the real originals beside them under
# every CPython 3.11+ this machine has, with the control and the counters
# read inside the interpreter (ci/compare.sh), then one report, Findings
# first, ready to paste into a comment: OUTDIR/diagnose.md and diagnose.png.
#
# Usage: ci/diagnose.sh [--quick] [ORIGINALS_DIR] [OUTDIR]
#   --quick        about a minute: the exact evidence only, the map entries
#                  per fork (load-proof), not the timing. Under every CPython
#                  3.11+ found, test_pyparallel_sleep.py for 200 calls (1600
#                  forks, two chunks: 800 forks between their readings) with
#                  the counters, with the real os.fork and, on 3.12+, the
#                  control; the same for Sage's @parallel
#                  (test_parallel_sleep_v2.sage) with passagemath; the port
#                  with --post-fork-check off, leak and free. Builds only
#                  report, probes_capi and test_fork_sleep (no GMP/MPFR).
#                  The report opens with the mechanism table and its
#                  one-line conclusion; the timing (the symptom) needs the
#                  full run.
#   ORIGINALS_DIR  a checkout of burnol-math/irwin; when not given, it is
#                  cloned (git clone --depth 1) into OUTDIR/irwin
#   OUTDIR         default: out/diagnose (out/diagnose-quick with --quick)
# Environment: NUMCALLS (default 600), REPEAT (default 2), as for
#   ci/compare.sh; SAGE_PYTHON, a python with passagemath (found among the
#   interpreters when not set); STANDIN=1 adds the Linux stand-in leak runs.
#
# Interpreters looked for, first of each python3.N (N >= 11) wins: the PATH,
# python.org's /Library/Frameworks/Python.framework/Versions/*/bin, Homebrew
# (/opt/homebrew/bin, /usr/local/bin), pyenv (~/.pyenv/versions/*/bin), uv
# (~/.local/share/uv/python/*/bin). Bash 3.2 and BSD tools.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
root=$PWD
SECONDS=0
quick=0
if [ "${1:-}" = --quick ]; then quick=1; shift; fi
case ${1:-} in -*) echo "diagnose.sh: unknown option $1 (accepted: --quick)" >&2; exit 2 ;; esac
if [ $quick = 1 ]; then
  N=${NUMCALLS:-200} K=${REPEAT:-1}
else
  N=${NUMCALLS:-600} K=${REPEAT:-2}
fi
for v in "$N" "$K"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "diagnose.sh: NUMCALLS and REPEAT must be positive integers" >&2; exit 2; }
done
orig=${1:-}
out=${2:-out/diagnose}
[ $quick = 1 ] && out=${2:-out/diagnose-quick}
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)

# --- The originals ----------------------------------------------------------
if [ -z "$orig" ]; then
  orig=$out/irwin
  if [ ! -d "$orig/.git" ]; then
    echo "diagnose: fetching the originals: git clone --depth 1 https://github.com/burnol-math/irwin $orig"
    git clone -q --depth 1 https://github.com/burnol-math/irwin "$orig" \
      || { echo "diagnose.sh: could not clone burnol-math/irwin; give a checkout as ORIGINALS_DIR" >&2; exit 1; }
  fi
fi
[ -f "$orig/test_pyparallel_sleep.py" ] || { echo "diagnose.sh: $orig holds no test_pyparallel_sleep.py: not a checkout of burnol-math/irwin" >&2; exit 2; }

# --- Interpreters: a folder of links python3.N -> the first one found ---------
links=$out/pythons
rm -rf "$links" && mkdir -p "$links" || exit 2
found=''
consider() { # PATH_OF_A_PYTHON3.N
  local f=$1 n minor
  n=${f##*/}
  [[ $n =~ ^python3\.([0-9]+)$ ]] || return 0
  minor=${BASH_REMATCH[1]}
  [ "$minor" -ge 11 ] && [ -x "$f" ] && [ ! -e "$links/$n" ] || return 0
  "$f" -c 'import sys' >/dev/null 2>&1 || return 0
  ln -s "$f" "$links/$n" && found="$found $n"
}
IFS=: read -r -a path_dirs <<<"$PATH"
for d in ${path_dirs[@]+"${path_dirs[@]}"} /Library/Frameworks/Python.framework/Versions/*/bin \
  /opt/homebrew/bin /usr/local/bin "$HOME"/.pyenv/versions/*/bin "$HOME"/.local/share/uv/python/*/bin; do
  [ -d "$d" ] || continue
  for f in "$d"/python3.*; do consider "$f"; done
done
[ -n "$found" ] || { echo "diagnose.sh: no CPython 3.11 or later found (install one from python.org, Homebrew, pyenv or uv)" >&2; exit 1; }
versions=''
for n in $found; do versions="$versions $n=$("$links/$n" -c 'import platform; print(platform.python_version())')"; done
if [ -z "${SAGE_PYTHON:-}" ]; then
  for n in $found; do
    if "$links/$n" -c 'import sage.parallel.decorate, sage.repl.preparse' >/dev/null 2>&1; then
      SAGE_PYTHON=$links/$n
      break
    fi
  done
fi

# --- What will run, and how long it should take -----------------------------
count=0 # test_pyparallel_sleep.py runs: real, the control on 3.12+, STANDIN's two
for n in $found; do
  count=$((count + 1))
  "$links/$n" -c 'import sys; sys.exit(sys.version_info < (3, 12))' && count=$((count + 1))
  [ "${STANDIN:-0}" = 1 ] && count=$((count + 2))
done
sage_line="Sage: ${SAGE_PYTHON:-none found (the .sage and RealField originals are skipped; set SAGE_PYTHON to a python with passagemath)}"
bin=${CARGO_TARGET_DIR:-$root/target}/release
if [ $quick = 1 ]; then
  steps=5
  sage_seconds=0
  [ -n "${SAGE_PYTHON:-}" ] && sage_seconds=30
  cat <<EOF
diagnose --quick: will run, on $(uname -sm), the exact evidence only (map entries per fork):
  1. cargo build --release -p report -p probes_capi -p test_fork_sleep (a few minutes the first time)
  2. test_pyparallel_sleep.py for $N calls under$versions ($count runs, with the control under 3.12+)
     $sage_line
  3. the port, test_fork_sleep --post-fork-check off, leak and free, $N calls each
  4. the fork cost of one more map entry here (test_fork_sleep --calibrate, at most 10 s)
  5. report: $out/diagnose.md and diagnose.png, the mechanism table first, then
     what a full session would show on this machine
  Expect about $((30 + count * 5 + sage_seconds)) s after the build; progress below.
EOF
else
  steps=4
  sage_minutes=0
  [ -n "${SAGE_PYTHON:-}" ] && sage_minutes=10
  cat <<EOF
diagnose: will run, on $(uname -sm):
  1. ci/matrix.sh: the ports, every strategy (12 runs; --post-fork-check off, leak, free among them)
  2. ci/compare.sh $orig: the originals beside their ports, NUMCALLS=$N REPEAT=$K,
     test_pyparallel_sleep.py under$versions ($count runs, with the control under 3.12+)
     $sage_line
  3. the fork cost of one more map entry here (test_fork_sleep --calibrate, at most 10 s)
  4. report: $out/diagnose.md and diagnose.png, the mechanism table and Findings first,
     then how much of each run's drift its leak explains
  Expect about $((3 + count * N * K / 600 + sage_minutes)) minutes (more on a busy machine); progress below.
EOF
fi

# --- Running ------------------------------------------------------------------
step() { echo "diagnose: [$1/$steps] $2 ($((SECONDS / 60)) min $((SECONDS % 60)) s so far)"; }
if [ $quick = 1 ]; then
  step 1 "building only what the quick check needs"
  t0=$SECONDS
  cargo build --release -q -p report -p probes_capi -p test_fork_sleep \
    || { echo "diagnose.sh: cargo build failed" >&2; exit 1; }
  built="the build took $((SECONDS - t0)) s"
  echo "diagnose: $built"
  step 2 "the fork-per-job originals (ci/compare.sh with FORK_ONLY=1)"
else
  built=''
  step 1 "the ports (ci/matrix.sh)"
  ci/matrix.sh "$out" >"$out/matrix.log" 2>&1 || echo "diagnose: ci/matrix.sh failed (see $out/matrix.log); going on" >&2
  grep '^== ' "$out/matrix.log" | sed 's/^/  /'
  step 2 "the originals (ci/compare.sh)"
fi
# --quick: compare.sh runs only the fork-per-job originals, with the ports
# just built (COMPARE_BIN: no second build).
compare_bin=''
[ $quick = 1 ] && compare_bin=$bin
PATH="$links:$PATH" SAGE_PYTHON=${SAGE_PYTHON:-} NUMCALLS=$N REPEAT=$K FORK_ONLY=$quick COMPARE_BIN=$compare_bin \
  ci/compare.sh "$orig" "$out" >"$out/compare.log" 2>&1 &
pid=$!
# compare.sh writes "== LABEL" when a run starts: show each as it comes.
shown=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 5
  # grep -c prints 0 itself (and fails) when nothing matched yet: no "|| echo 0".
  now=$(grep -c '^== ' "$out/compare.log" 2>/dev/null)
  [[ $now =~ ^[0-9]+$ ]] || now=0
  if [ "$now" -gt "$shown" ]; then
    grep '^== ' "$out/compare.log" | sed -n "$((shown + 1)),${now}p" | sed "s/^/  ($((SECONDS / 60)) min) /"
    shown=$now
  fi
done
wait "$pid" || echo "diagnose: ci/compare.sh failed (see $out/compare.log); reporting what ran" >&2
if [ $quick = 1 ]; then
  # The port's `off` run is compare.sh's test_fork_sleep.json, beside the
  # original; `leak` and `free` here, with the same parameters.
  step 3 "the port: --post-fork-check leak and free"
  for c in leak free; do
    "$bin/test_fork_sleep" --numcalls "$N" --ncpus 8 --repeat "$K" --post-fork-check "$c" --witness on \
      --json "$out/test_fork_sleep-post-fork-check-$c.json" >"$out/test_fork_sleep-post-fork-check-$c.txt" 2>&1 \
      || echo "diagnose: test_fork_sleep --post-fork-check $c failed (see $out/test_fork_sleep-post-fork-check-$c.txt)" >&2
  done
fi

# One calibration for the machine (docs/model.md): what one more map entry
# costs fork() here, up to the 24,000 entries a full session of 3 x 1000
# calls of 8 jobs reaches, so that report prices every run with it.
step $((steps - 1)) "the fork cost of one more map entry (test_fork_sleep --calibrate)"
"$bin/test_fork_sleep" --calibrate --calibrate-max 24000 --json "$out/calibration.json" >"$out/calibration.txt" 2>&1 \
  && sed 's/^/  /' "$out/calibration.txt" \
  || { echo "diagnose: test_fork_sleep --calibrate failed (see $out/calibration.txt); the report says 'not calibrated'" >&2; rm -f "$out/calibration.json"; }

step "$steps" "the report"
set --
for f in "$out"/*.json "$out"/test_*.py*.txt "$out"/test_*.sage*.txt; do [ -f "$f" ] && set -- "$@" "$f"; done
[ $# -gt 0 ] || { echo "diagnose.sh: nothing ran (see $out/*.log)" >&2; exit 1; }
{
  if [ $quick = 1 ]; then
    echo "# Drift diagnosis, quick check (map entries per fork): $(uname -sm)"
  else
    echo "# Drift diagnosis: $(uname -sm)"
  fi
  echo
  if command -v sw_vers >/dev/null 2>&1; then
    echo "Machine: macOS $(sw_vers -productVersion) ($(sw_vers -buildVersion)), $(sysctl -n machdep.cpu.brand_string 2>/dev/null || uname -m), $(sysctl -n hw.ncpu 2>/dev/null) CPUs"
  else
    echo "Machine: $(uname -srm), $(getconf _NPROCESSORS_ONLN 2>/dev/null) CPUs"
  fi
  echo "Interpreters:$versions; Sage: ${SAGE_PYTHON:-none}"
  echo "Parameters: NUMCALLS=$N REPEAT=$K; run time $((SECONDS / 60)) min $((SECONDS % 60)) s${built:+ ($built)}"
  echo
  if [ $quick = 1 ]; then
    cat <<EOF
This quick check measures the mechanism only: how many VM map entries each
fork leaves behind, which no load on the machine can change. Its runs are
two chunks long, too short for a timing verdict: the full
\`ci/diagnose.sh\` (20 to 30 minutes) adds the symptom, whether the leaking
runs really get slower call after call and the others do not.

EOF
  fi
  "$bin/report" --hypothesis --png "$out/diagnose.png" "$@" || report_failed=1
  sed -n '/^Could not run:/,$p' "$out/summary.md" 2>/dev/null
  # Last, the inputs in one collapsed block: `report` reads a pasted
  # diagnose.md (or many, or a whole issue thread) back into these runs, one
  # machine per document, named by its Machine: line above.
  echo
  "$bin/report" --paste-block "$@" || report_failed=1
} >"$out/diagnose.md"
if [ -n "${report_failed:-}" ]; then
  echo "diagnose.sh: report failed on the runs in $out (its message is above); $out/diagnose.md is incomplete" >&2
  exit 1
fi
echo "diagnose: done in $((SECONDS / 60)) min $((SECONDS % 60)) s: $out/diagnose.md (paste it into a comment, with diagnose.png)"
