#!/usr/bin/env bash
# The proposed CPython fix, tested where the leak lives. Clones
# python/cpython at a release tag, builds it as released (./configure &&
# make, nothing installed), runs under it the stdlib-only reproducer
# (upstream/cpython/fork_repro.py) and the original test_pyparallel_sleep.py
# with the suite's counters read inside the interpreter
# (ci/compare/harness.py --counters, libprobes_capi); then applies
# upstream/cpython/free-thread-count.patch, makes again (only posixmodule.c
# is rebuilt) and runs both once more. The patched build must gain no map
# entry per fork. On macOS the unpatched build is expected to gain about one
# (docs/mechanism.md); if it does not, the run shows nothing and fails too.
# Elsewhere neither build leaks (Linux reads /proc/self/stat), and the run
# checks the steps only.
#
# Usage: ci/cpython-fix.sh [--apply-only] VERSION [OUTDIR]
#   VERSION       3.N.M (the tag v3.N.M) or 3.N (its newest final 3.N.M
#                 tag), N >= 12 (3.11 has no thread count)
#   OUTDIR        where report.md, the transcripts and the build logs go
#                 (default: a temporary directory, removed unless KEEP=1)
#   --apply-only  stop once the tag is cloned and the patch is checked
#                 (git apply --check): no build, no run
# Environment:
#   ORIGINALS     a checkout of burnol-math/irwin (test_pyparallel_sleep.py
#                 is run in place, never copied); needed unless --apply-only
#   CPYTHON_REPO  where to clone from (default https://github.com/python/cpython)
#   NUMCALLS      calls of test_pyparallel_sleep's bar() (default 1000: 10
#                 chunks of 100 calls x NCPUS forks); NCPUS (default 8)
#   REPRO_ARGS    fork_repro.py's arguments (default: none, its own defaults)
#   FIX_BIN       a directory with libprobes_capi and report already built
#                 (default: cargo build --release)
#   MAKE_JOBS     make -j (default: the number of CPUs)
# Exit: 0 the patched build gains no map entry per fork (on macOS: and the
# unpatched one about one); 1 it does, or a step failed (one line naming
# it); 2 bad usage, or no such tag.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
root=$PWD
me=cpython-fix.sh
patch=$root/upstream/cpython/free-thread-count.patch
repro=$root/upstream/cpython/fork_repro.py
harness=$root/ci/compare/harness.py
repo=${CPYTHON_REPO:-https://github.com/python/cpython}
usage() { echo "$me: $1" >&2; exit 2; }
die() { echo "$me: $1" >&2; exit 1; }
say() { echo "$me: $1"; }

apply_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --apply-only) apply_only=1; shift ;;
    --) shift; break ;;
    -*) usage "unknown option $1 (accepted: --apply-only)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || usage "expected VERSION [OUTDIR] (usage: ci/cpython-fix.sh [--apply-only] VERSION [OUTDIR])"
version=$1
[[ $version =~ ^3\.([0-9]+)(\.[0-9]+)?$ ]] \
  || usage "VERSION '$version': expected 3.N or 3.N.M (a CPython release, N >= 12)"
[ "${BASH_REMATCH[1]}" -ge 12 ] || usage "VERSION $version: CPython counts threads after a fork from 3.12 on; expected 3.N or 3.N.M with N >= 12"
N=${NUMCALLS:-1000} W=${NCPUS:-8}
for v in "$N" "$W"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || usage "NUMCALLS and NCPUS must be positive integers (got '$N', '$W')"
done
[ "$N" -ge 200 ] || usage "NUMCALLS $N: at least 200 (two chunks of 100 calls, to count the map entries between them)"
[ -f "$patch" ] || die "no $patch"
if [ "$apply_only" = 0 ]; then
  orig=${ORIGINALS:-}
  [ -n "$orig" ] || usage "ORIGINALS is not set: a checkout of burnol-math/irwin (with test_pyparallel_sleep.py) is needed unless --apply-only"
  orig=$(cd "$orig" 2>/dev/null && pwd) || usage "ORIGINALS=$ORIGINALS: no such directory"
  [ -f "$orig/test_pyparallel_sleep.py" ] || usage "ORIGINALS=$orig: no test_pyparallel_sleep.py there (a checkout of burnol-math/irwin)"
  [ -f "$repro" ] || die "no $repro (the stdlib-only reproducer)"
fi
command -v git >/dev/null || die "git is needed (to clone $repo and apply the patch)"

own_out=0
if [ $# -ge 2 ]; then
  mkdir -p "$2" || usage "OUTDIR $2: cannot be made"
  out=$(cd "$2" && pwd)
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/cpython-fix-out.XXXXXX") || exit 2
  own_out=1
fi
# The source tree and its build (about 0.5 GB) stay out of OUTDIR, which CI
# uploads.
work=$(mktemp -d "${TMPDIR:-/tmp}/cpython-fix.XXXXXX") || exit 2
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "$me: kept $work and $out" >&2
    return
  fi
  rm -rf "$work"
  [ "$own_out" = 0 ] || rm -rf "$out"
}
trap cleanup EXIT
src=$work/cpython

# --- 1. The tag -------------------------------------------------------------
if [[ $version =~ ^3\.[0-9]+$ ]]; then
  refs=$(git ls-remote --tags "$repo" "refs/tags/v$version.*" 2>"$work/ls-remote.err") \
    || die "cannot list the tags of $repo: $(grep -m 1 . "$work/ls-remote.err")"
  # Final releases only (no a/b/rc, no peeled ^{} lines), newest by number.
  tag=$(echo "$refs" | sed -n 's|^[0-9a-f]*[[:space:]]*refs/tags/\(v3\.[0-9]*\.[0-9]*\)$|\1|p' \
    | sort -t. -k3,3n | tail -n 1)
  [ -n "$tag" ] || usage "VERSION $version: no final release tag v$version.M in $repo"
else
  refs=$(git ls-remote --tags "$repo" "refs/tags/v$version" 2>"$work/ls-remote.err") \
    || die "cannot list the tags of $repo: $(grep -m 1 . "$work/ls-remote.err")"
  [ -n "$refs" ] || usage "VERSION $version: no tag v$version in $repo"
  tag=v$version
fi
say "cloning $repo at $tag"
git clone -q --depth 1 --branch "$tag" "$repo" "$src" 2>"$work/clone.err" \
  || die "git clone of $tag from $repo failed: $(grep -m 1 . "$work/clone.err")"
commit=$(git -C "$src" rev-parse HEAD)

# --- 2. The patch applies ----------------------------------------------------
(cd "$src" && git apply --check "$patch") 2>"$work/apply.err" \
  || die "the patch does not apply to $tag ($commit): $(grep -m 1 . "$work/apply.err")"
say "$tag ($commit): the patch applies"
[ "$apply_only" = 0 ] || exit 0

# --- 3. The counters library --------------------------------------------------
if [ -n "${FIX_BIN:-}" ]; then
  bin=$(cd "$FIX_BIN" 2>/dev/null && pwd) || usage "FIX_BIN=$FIX_BIN: no such directory"
else
  cargo build --release -q -p probes_capi -p report || die "cargo build -p probes_capi -p report failed"
  bin=${CARGO_TARGET_DIR:-$root/target}/release
fi
lib=''
for f in "$bin/libprobes_capi.dylib" "$bin/libprobes_capi.so"; do [ -f "$f" ] && lib=$f; done
[ -n "$lib" ] || die "no libprobes_capi in $bin (cargo build --release -p probes_capi)"

# --- 4. Build, run, patch, build, run -----------------------------------------
jobs=${MAKE_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
build() { # LABEL
  local log=$out/build-$1.log
  say "building $tag ($1): ./configure && make -j$jobs (log: $log)"
  (cd "$src" && { [ -f Makefile ] || ./configure; } && make -j"$jobs") >"$log" 2>&1 \
    || die "the $1 build of $tag failed; the end of $log: $(tail -n 3 "$log" | tr '\n' ' ')"
  py=$src/python.exe # macOS (a case-insensitive file system)
  [ -x "$py" ] || py=$src/python
  [ -x "$py" ] || die "the $1 build of $tag made no python or python.exe in $src"
  built=$("$py" -c 'import platform; print(platform.python_version())' 2>&1) \
    || die "the $1 build's python does not start: $built"
  [ "v$built" = "$tag" ] || die "the $1 build says Python $built, not $tag"
  "$py" -c 'import ctypes' 2>/dev/null \
    || die "the $1 build has no ctypes (the harness's --counters needs it): see $log"
}
# Whether the binary calls vm_deallocate (macOS: CPython calls it nowhere
# else, so only the patched posixmodule.c brings it in).
calls_vm_deallocate() {
  [ "$(uname -s)" = Darwin ] || { echo "not checked (not macOS)"; return; }
  if nm -u "$py" 2>/dev/null | grep -q '_vm_deallocate$'; then echo yes; else echo no; fi
}
run_build() { # LABEL
  local t=$out/$1
  say "running fork_repro.py under the $1 build"
  # shellcheck disable=SC2086 # REPRO_ARGS is a word list
  "$py" "$repro" ${REPRO_ARGS:-} >"$t-fork_repro.txt" 2>"$t-fork_repro.err" \
    || die "fork_repro.py under the $1 build failed: $(tail -n 1 "$t-fork_repro.err")"
  say "running test_pyparallel_sleep.py (numcalls=$N, ncpus=$W) under the $1 build, with the counters"
  (cd "$orig" && PYTHONPATH="$orig" PYTHONDONTWRITEBYTECODE=1 "$py" "$harness" py test_pyparallel_sleep \
    --repeat 1 --kw "numcalls=$N" --kw "ncpus=$W" --counters "$lib") \
    >"$t-test_pyparallel_sleep.txt" 2>"$t-test_pyparallel_sleep.err" \
    || die "test_pyparallel_sleep.py under the $1 build failed: $(tail -n 1 "$t-test_pyparallel_sleep.err")"
  "$py" -VV >"$t-version.txt" 2>&1
  calls_vm_deallocate >"$t-vm_deallocate.txt"
}
build unpatched
run_build unpatched
(cd "$src" && git apply "$patch") 2>"$work/apply.err" || die "git apply failed after the check passed: $(grep -m 1 . "$work/apply.err")"
git -C "$src" diff >"$out/applied.diff"
build patched
run_build patched

# --- 5. What grew per fork ------------------------------------------------------
# From a harness transcript: the forks between the first and the last
# "Counters (extra):" line (each follows its chunk line, "... per N x W
# @para ..."), the growth of vm_map_entries and mach_msg_regions per fork
# over them, and the cost per job of the first and last chunk.
per_fork() { # TRANSCRIPT -> "FORKS ENTRIES/FORK MSG/FORK FIRST_COST LAST_COST" or "none"
  awk '
    / @para sleep\(/ {
      split($0, a, " per "); split(a[2], b, " ")
      chunks++; if (chunks > 1) forks += b[1] * b[3]
      cost = $NF; sub(/s\.$/, "", cost); if (chunks == 1) first = cost; last = cost
      next
    }
    /^Counters \(extra\): / {
      v = ""; m = ""
      for (i = 3; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "vm_map_entries") v = kv[2]
        if (kv[1] == "mach_msg_regions") m = kv[2]
      }
      if (!seen) { v0 = v; m0 = m; seen = 1 }
      v1 = v; m1 = m
    }
    END {
      if (chunks < 2 || !forks || v0 == "" || v1 == "") { print "none"; exit }
      printf "%d %+.3f %s %s %s\n", forks, (v1 - v0) / forks,
        (m0 == "" || m1 == "") ? "-" : sprintf("%+.3f", (m1 - m0) / forks), first, last
    }
  ' "$1"
}
# fork_repro.py's last line: "fork_repro: per fork: +1.00 map entries, ...".
repro_per_fork() {
  sed -n 's/^fork_repro: per fork: \([+-][0-9.]*\) map entries.*/\1/p' "$1" | tail -n 1
}
read -r u_forks u_entries u_msg u_first u_last <<EOF
$(per_fork "$out/unpatched-test_pyparallel_sleep.txt")
EOF
read -r p_forks p_entries p_msg p_first p_last <<EOF
$(per_fork "$out/patched-test_pyparallel_sleep.txt")
EOF
[ "$u_forks" != none ] || die "no counter lines in $out/unpatched-test_pyparallel_sleep.txt"
[ "$p_forks" != none ] || die "no counter lines in $out/patched-test_pyparallel_sleep.txt"
u_repro=$(repro_per_fork "$out/unpatched-fork_repro.txt")
p_repro=$(repro_per_fork "$out/patched-fork_repro.txt")
# µs per job per earlier fork, first to last chunk.
slope() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf "%+.4f", (b - a) * 1e6 / f }'; }
above() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x != "-" && x != "" && x + 0 > t) }'; }
below() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x == "-" || x == "" || x + 0 < t) }'; }

failures=''
fail_if() { failures="$failures- $1"$'\n'; }
above "$p_entries" 0.1 && fail_if "the patched build gains $p_entries map entries (vm_map_entries) per fork over $p_forks forks: the patch does not stop the leak"
above "$p_msg" 0.1 && fail_if "the patched build gains $p_msg Mach message regions per fork over $p_forks forks"
above "$p_repro" 0.1 && fail_if "under the patched build fork_repro.py counts $p_repro map entries per fork"
if [ "$(uname -s)" = Darwin ]; then
  system="macOS $(sw_vers -productVersion) ($(sw_vers -buildVersion)) $(uname -m)"
  below "$u_entries" 0.9 && fail_if "the unpatched build gains only $u_entries map entries per fork on this Mac: the leak the patch fixes is not seen, so this run shows nothing (docs/mechanism.md says what that would refute)"
  note="On macOS the unpatched build is expected to gain about +1 map entry and +1 Mach message region per fork, the patched one none."
else
  system="$(uname -s) $(uname -r) $(uname -m)"
  note="Not macOS: neither build is expected to leak here (the count reads /proc/self/stat), so this run checks the steps (clone, patch, build, runs, counters), not the fix."
fi
[ -n "$u_repro" ] || u_repro="not read"
[ -n "$p_repro" ] || p_repro="not read"

# --- 6. The report ---------------------------------------------------------------
{
  echo "# CPython $tag with and without the post-fork thread-count fix"
  echo
  echo "- Machine: $system"
  echo "- Source: $repo at $tag ($commit), built with \`./configure && make\` (nothing installed)"
  echo "- Patch: \`upstream/cpython/free-thread-count.patch\` (applied: \`applied.diff\`)"
  echo "- Runs per build: \`fork_repro.py${REPRO_ARGS:+ $REPRO_ARGS}\` and \`test_pyparallel_sleep.py\` (numcalls=$N, ncpus=$W) through \`ci/compare/harness.py --counters\`"
  echo "- Unpatched: $(head -n 1 "$out/unpatched-version.txt"); calls vm_deallocate: $(cat "$out/unpatched-vm_deallocate.txt")"
  echo "- Patched: $(head -n 1 "$out/patched-version.txt"); calls vm_deallocate: $(cat "$out/patched-vm_deallocate.txt")"
  echo
  echo "| build | map entries per fork | Mach message regions per fork | forks counted | cost per job, first → last chunk (s) | µs per job per earlier fork | fork_repro.py: map entries per fork |"
  echo "|---|---|---|---|---|---|---|"
  echo "| unpatched | $u_entries | $u_msg | $u_forks | $u_first → $u_last | $(slope "$u_first" "$u_last" "$u_forks") | $u_repro |"
  echo "| patched | $p_entries | $p_msg | $p_forks | $p_first → $p_last | $(slope "$p_first" "$p_last" "$p_forks") | $p_repro |"
  echo
  echo "$note"
  echo
  if [ -n "$failures" ]; then echo "**FAIL**:"; printf '%s' "$failures"; else echo "**PASS**: the patched build gains no map entry per fork."; fi
  for b in unpatched patched; do
    echo
    echo "## fork_repro.py, $b"
    echo
    echo '```'
    cat "$out/$b-fork_repro.txt"
    echo '```'
  done
  if [ -x "$bin/report" ] && "$bin/report" --markdown "$out/runs.md" \
    "$out/unpatched-test_pyparallel_sleep.txt" "$out/patched-test_pyparallel_sleep.txt" >/dev/null 2>"$work/report.err"; then
    echo
    echo "## \`report\` on the two transcripts"
    echo
    cat "$out/runs.md"
  else
    echo
    echo "(\`report\` could not read the transcripts: $(tail -n 1 "$work/report.err" 2>/dev/null))"
  fi
} >"$out/report.md"
if [ "$own_out" = 1 ] && [ "${KEEP:-0}" != 1 ]; then
  cat "$out/report.md" # the temporary OUTDIR goes at exit
else
  say "report: $out/report.md"
fi
if [ -n "$failures" ]; then
  printf '%s' "$failures" | sed "s/^- /$me: FAIL: /" >&2
  exit 1
fi
say "PASS: the patched build gains $p_entries map entries per fork (unpatched: $u_entries)"
