#!/usr/bin/env bash
# The proposed CPython fix, tested where the leak lives. Clones
# python/cpython (main, a 3.N branch or a release tag, the commit recorded),
# builds it as it is (./configure && make, nothing installed) and runs under
# it the stdlib-only reproducer (upstream/cpython/fork_repro.py, told which
# build it runs on) and the thread-count check (ci/cpython-fix-threads.py);
# then applies upstream/cpython/free-thread-count.patch, makes again (only
# posixmodule.c is rebuilt) and runs them once more, with CPython's own tests
# of what the patch touches (test_os, test_fork1, test_threading). With
# ORIGINALS set, test_pyparallel_sleep.py runs under each build too, with the
# suite's counters read inside the interpreter (ci/compare/harness.py
# --counters, libprobes_capi).
#
# PASS needs all of: under the patched build fork_repro.py counts at most
# +0.10 map entries per os.fork; CPython's tests pass; the thread-count
# check passes (os.fork() warns with 2 threads, not with 1). On macOS the
# unpatched build must also gain at least +0.90 per fork (the leak the patch
# fixes, docs/mechanism.md). A reproducer that counted nothing fails the run
# (fork_repro.py says so on macOS when vmmap may not read the process; it
# always counts on Linux). Elsewhere neither build leaks (Linux reads
# /proc/self/stat), and the run checks the steps, the tests and the thread
# count only. FAIL names each part that failed,
# one line each.
#
# Usage: ci/cpython-fix.sh [--apply-only] REF [OUTDIR]
#   REF           main (the head of main), 3.N (the head of the branch 3.N),
#                 3.N.M (the tag v3.N.M), N >= 12 (3.11 has no thread
#                 count), or release (the newest final tag v3.N.M)
#   OUTDIR        where report.md, the transcripts and the build logs go
#                 (default: a temporary directory, removed unless KEEP=1)
#   --apply-only  stop once REF is cloned and the patch is checked
#                 (git apply --check): no build, no run
# Environment:
#   CPYTHON_REPO  where to clone from (default https://github.com/python/cpython)
#   JOBS          make -j and the tests' -j (default: the number of CPUs)
#   REPRO_ARGS    fork_repro.py's arguments (default: none, its own defaults)
#   ORIGINALS     a checkout of burnol-math/irwin: test_pyparallel_sleep.py
#                 is run in place (never copied) under each build; unset: not
#                 run. NUMCALLS (default 1000: 10 chunks of 100 calls x NCPUS
#                 forks) and NCPUS (default 8) for it; FIX_BIN, a directory
#                 with libprobes_capi and report already built (default:
#                 cargo build --release)
# Output (OUTDIR): report.md; source.txt (REPO REF COMMIT); for each build B
# (unpatched, patched): B-fork_repro.txt (fork_repro.py's stdout, its second
# line "fork_repro: build: B, REPO REF at SHORT"), B-thread-count.txt,
# B-version.txt, B-vm_deallocate.txt, build-B.log (build-B-config.log when
# the build failed); patched-regrtest.txt; applied.diff; with ORIGINALS,
# B-test_pyparallel_sleep.txt (its first line "Build (extra): B, REPO REF at
# SHORT", then the harness's transcript) and runs.md.
# Exit: 0 PASS; 1 FAIL, or a step failed (one line naming it); 2 bad usage,
# or no such branch or tag.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
root=$PWD
me=cpython-fix.sh
patch=$root/upstream/cpython/free-thread-count.patch
repro=$root/upstream/cpython/fork_repro.py
threads_check=$root/ci/cpython-fix-threads.py
harness=$root/ci/compare/harness.py
repo=${CPYTHON_REPO:-https://github.com/python/cpython}
tests='test_os test_fork1 test_threading'
usage() { echo "$me: $1" >&2; exit 2; }
say() { echo "$me: $1"; }
out='' report_written=0
die() {
  echo "$me: $1" >&2
  # A step that failed still leaves a report (CI puts it in the step summary).
  if [ -n "$out" ] && [ "$report_written" = 0 ]; then
    { echo "# CPython ${what:-$ref} with and without the post-fork thread-count fix"; echo; echo "**FAIL**: $1"
      [ -z "${2:-}" ] || cat "$2"; } >"$out/report.md"
  fi
  exit 1
}

apply_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --apply-only) apply_only=1; shift ;;
    --) shift; break ;;
    -*) usage "unknown option $1 (accepted: --apply-only)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || usage "expected REF [OUTDIR] (usage: ci/cpython-fix.sh [--apply-only] main|3.N|3.N.M|release [OUTDIR])"
ref=$1
case $ref in
  main | release) ;;
  *)
    [[ $ref =~ ^3\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$ ]] \
      || usage "REF '$ref': expected main, 3.N (a branch), 3.N.M (a release tag) or release, N >= 12"
    [ "${BASH_REMATCH[1]}" -ge 12 ] || usage "REF $ref: CPython counts threads after a fork from 3.12 on; expected main, 3.N or 3.N.M with N >= 12, or release"
    ;;
esac
if [ -n "${ORIGINALS:-}" ] && [ "$apply_only" = 0 ]; then
  N=${NUMCALLS:-1000} W=${NCPUS:-8}
  for v in "$N" "$W"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || usage "NUMCALLS and NCPUS must be positive integers (got '$N', '$W')"
  done
  [ "$N" -ge 200 ] || usage "NUMCALLS $N: at least 200 (two chunks of 100 calls, to count the map entries between them)"
  orig=$(cd "$ORIGINALS" 2>/dev/null && pwd) || usage "ORIGINALS=$ORIGINALS: no such directory"
  [ -f "$orig/test_pyparallel_sleep.py" ] || usage "ORIGINALS=$orig: no test_pyparallel_sleep.py there (a checkout of burnol-math/irwin)"
else
  orig=''
fi
jobs=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || usage "JOBS '$jobs': expected a positive integer"
for f in "$patch" "$repro" "$threads_check"; do [ -f "$f" ] || die "no $f"; done
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
  if [ "$own_out" = 1 ]; then
    [ ! -f "$out/report.md" ] || cat "$out/report.md" # the temporary OUTDIR goes now
    rm -rf "$out"
  fi
}
trap cleanup EXIT
src=$work/cpython
# The repository as a label: owner/name on GitHub, else the address.
name=$(echo "$repo" | sed -e 's|^https://github\.com/||' -e 's|\.git$||')

# --- 1. What to clone ------------------------------------------------------
# `git ls-remote` of PATTERN into $work/refs (a failure to list is a step
# that failed; an empty list, no such ref, is the caller's usage error).
remote() { # OPTION PATTERN
  git ls-remote "$1" "$repo" "$2" >"$work/refs" 2>"$work/ls-remote.err" \
    || die "cannot list the refs of $repo: $(grep -m 1 . "$work/ls-remote.err")"
}
if [ "$ref" = release ]; then
  # Final releases only (no a/b/rc, no peeled ^{} lines), newest by number.
  remote --tags 'refs/tags/v3.*'
  what=$(sed -n 's|^[0-9a-f]*[[:space:]]*refs/tags/\(v3\.[0-9]*\.[0-9]*\)$|\1|p' "$work/refs" \
    | sort -t. -k2,2n -k3,3n | tail -n 1)
  [ -n "$what" ] || usage "REF release: no final release tag v3.N.M in $repo"
elif [[ $ref =~ ^3\.[0-9]+\.[0-9]+$ ]]; then
  remote --tags "refs/tags/v$ref"
  [ -s "$work/refs" ] || usage "REF $ref: no tag v$ref in $repo"
  what=v$ref
else
  remote --heads "refs/heads/$ref"
  [ -s "$work/refs" ] || usage "REF $ref: no branch $ref in $repo"
  what=$ref
fi
say "cloning $repo at $what"
git clone -q --depth 1 --branch "$what" "$repo" "$src" 2>"$work/clone.err" \
  || die "git clone of $what from $repo failed: $(grep -m 1 . "$work/clone.err")"
commit=$(git -C "$src" rev-parse HEAD)
short=$(git -C "$src" rev-parse --short=10 HEAD)
echo "$name $what $commit" >"$out/source.txt"

# --- 2. The patch applies ----------------------------------------------------
(cd "$src" && git apply --check "$patch") 2>"$work/apply.err" \
  || die "the patch does not apply to $what ($commit): $(grep -m 1 . "$work/apply.err")"
say "$what ($commit): the patch applies"
if [ "$apply_only" = 1 ]; then
  report_written=1 # nothing to report
  exit 0
fi

# --- 3. The counters library (ORIGINALS only) ----------------------------------
lib='' bin=''
if [ -n "$orig" ]; then
  if [ -n "${FIX_BIN:-}" ]; then
    bin=$(cd "$FIX_BIN" 2>/dev/null && pwd) || usage "FIX_BIN=$FIX_BIN: no such directory"
  else
    cargo build --release -q -p probes_capi -p report || die "cargo build -p probes_capi -p report failed"
    bin=${CARGO_TARGET_DIR:-$root/target}/release
  fi
  for f in "$bin/libprobes_capi.dylib" "$bin/libprobes_capi.so"; do [ -f "$f" ] && lib=$f; done
  [ -n "$lib" ] || die "no libprobes_capi in $bin (cargo build --release -p probes_capi)"
fi

# --- 4. Build, run, patch, build, run -----------------------------------------
# A failed build: its config.log beside its log, and the end of both in the
# report (and so in CI's step summary).
build_failed() { # LABEL
  local log=$out/build-$1.log tail=$work/build-tail.md
  [ ! -f "$src/config.log" ] || cp "$src/config.log" "$out/build-$1-config.log"
  {
    echo
    echo "## The end of \`build-$1.log\`"
    echo
    echo '```'
    tail -n 40 "$log"
    echo '```'
    if [ -f "$src/config.log" ]; then
      echo
      echo "## The end of its config.log (\`build-$1-config.log\`)"
      echo
      echo '```'
      tail -n 20 "$src/config.log"
      echo '```'
    fi
  } >"$tail"
  die "the $1 build of $what failed; the end of $log: $(tail -n 3 "$log" | tr '\n' ' ')" "$tail"
}
build() { # LABEL
  local log=$out/build-$1.log
  say "building $what ($1): ./configure && make -j$jobs (log: $log)"
  (cd "$src" && { [ -f Makefile ] || ./configure; } && make -j"$jobs") >"$log" 2>&1 || build_failed "$1"
  py=$src/python.exe # macOS (a case-insensitive file system)
  [ -x "$py" ] || py=$src/python
  [ -x "$py" ] || die "the $1 build of $what made no python or python.exe in $src"
  built=$("$py" -c 'import platform; print(platform.python_version())' 2>&1) \
    || die "the $1 build's python does not start: $built"
  case $what in
    v*) [ "v$built" = "$what" ] || die "the $1 build says Python $built, not $what" ;;
    3.*) case $built in "$what".*) ;; *) die "the $1 build says Python $built, not $what.x" ;; esac ;;
  esac
  if [ -n "$orig" ]; then
    "$py" -c 'import ctypes' 2>/dev/null \
      || die "the $1 build has no ctypes (the harness's --counters needs it): see $log"
  fi
}
# Whether the binary calls vm_deallocate (macOS: CPython calls it nowhere
# else, so only the patched posixmodule.c brings it in).
calls_vm_deallocate() {
  [ "$(uname -s)" = Darwin ] || { echo "not checked (not macOS)"; return; }
  if nm -u "$py" 2>/dev/null | grep -q '_vm_deallocate$'; then echo yes; else echo no; fi
}
run_build() { # LABEL
  local t=$out/$1 label="$1, $name $what at $short"
  say "running fork_repro.py under the $1 build"
  # fork_repro.py exits 1 when it counted nothing on macOS: its last line
  # says so, and the verdict below reads it.
  # shellcheck disable=SC2086 # REPRO_ARGS is a word list
  "$py" "$repro" ${REPRO_ARGS:-} --build-label "$label" >"$t-fork_repro.txt" 2>"$t-fork_repro.err"
  echo $? >"$work/$1-fork_repro.rc"
  say "running the thread-count check under the $1 build"
  "$py" "$threads_check" >"$t-thread-count.txt" 2>&1
  echo $? >"$work/$1-thread-count.rc"
  if [ -n "$orig" ]; then
    say "running test_pyparallel_sleep.py (numcalls=$N, ncpus=$W) under the $1 build, with the counters"
    # The build on a labelled line of its own, first: report reads it as the build.
    echo "Build (extra): $label" >"$t-test_pyparallel_sleep.txt"
    (cd "$orig" && PYTHONPATH="$orig" PYTHONDONTWRITEBYTECODE=1 "$py" "$harness" py test_pyparallel_sleep \
      --repeat 1 --kw "numcalls=$N" --kw "ncpus=$W" --counters "$lib") \
      >>"$t-test_pyparallel_sleep.txt" 2>"$t-test_pyparallel_sleep.err" \
      || die "test_pyparallel_sleep.py under the $1 build failed: $(tail -n 1 "$t-test_pyparallel_sleep.err")"
  fi
  "$py" -VV >"$t-version.txt" 2>&1
  calls_vm_deallocate >"$t-vm_deallocate.txt"
}
build unpatched
run_build unpatched
(cd "$src" && git apply "$patch") 2>"$work/apply.err" || die "git apply failed after the check passed: $(grep -m 1 . "$work/apply.err")"
git -C "$src" diff >"$out/applied.diff"
build patched
run_build patched
say "running $tests under the patched build (-j$jobs)"
# shellcheck disable=SC2086 # tests is a word list
(cd "$src" && "$py" -m test $tests -j"$jobs") >"$out/patched-regrtest.txt" 2>&1
regrtest_rc=$?

# --- 5. The verdict ---------------------------------------------------------------
mac=0
[ "$(uname -s)" = Darwin ] && mac=1
failures=''
fail_if() { failures="$failures- $1"$'\n'; }
above() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x != "" && x + 0 > t) }'; }
below() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x != "" && x + 0 < t) }'; }

# fork_repro.py's answer, its last line: "os.fork +1.00 map entries per
# fork, control +0.00: ..." or "os.fork map entries not counted (why)".
answer='^fork_repro: os\.fork ([+-][0-9]+\.[0-9][0-9]) map entries per fork, control (([+-][0-9]+\.[0-9][0-9])|not run \(([^)]*)\)): (.+)$'
nothing='^fork_repro: os\.fork map entries not counted \((.*)\)$'
repro_entries() { # LABEL -> value: the count, or "not counted (why)"; fails the run if unreadable
  local last
  last=$(tail -n 1 "$out/$1-fork_repro.txt" 2>/dev/null)
  if [[ $last =~ $answer ]]; then
    value=${BASH_REMATCH[1]}
  elif [[ $last =~ $nothing ]]; then
    value="not counted (${BASH_REMATCH[1]})"
    fail_if "reproducer: under the $1 build fork_repro.py counted no map entries (${BASH_REMATCH[1]}): a run that counted nothing shows nothing"
  else
    value="no answer"
    fail_if "reproducer: under the $1 build fork_repro.py gave no answer (exit $(cat "$work/$1-fork_repro.rc"); its last line: '$last'; stderr: $(tail -n 1 "$out/$1-fork_repro.err" 2>/dev/null))"
  fi
}
repro_entries unpatched
r_unpatched=$value
repro_entries patched
r_patched=$value
[[ $r_patched =~ ^[+-] ]] && above "$r_patched" 0.10 \
  && fail_if "reproducer: under the patched build os.fork gains $r_patched map entries per fork (at most +0.10 expected): the patch does not stop the leak"
[ "$mac" = 1 ] && [[ $r_unpatched =~ ^[+-] ]] && below "$r_unpatched" 0.90 \
  && fail_if "reproducer: under the unpatched build os.fork gains only $r_unpatched map entries per fork on this Mac (at least +0.90 expected): the leak the patch fixes is not seen, so this run shows nothing (docs/mechanism.md says what that would refute)"
[ "$regrtest_rc" = 0 ] \
  || fail_if "$tests: failed under the patched build (exit $regrtest_rc; patched-regrtest.txt: $(grep -v '^$' "$out/patched-regrtest.txt" | tail -n 1))"
if [ "$(cat "$work/patched-thread-count.rc")" != 0 ]; then
  also=''
  [ "$(cat "$work/unpatched-thread-count.rc")" = 0 ] || also=' (the unpatched build fails it too)'
  fail_if "thread-count check: under the patched build: $(tail -n 1 "$out/patched-thread-count.txt")$also"
fi

# test_pyparallel_sleep.py's counters, from a harness transcript: the forks
# between the first and the last "Counters (extra):" line (each follows its
# chunk line, "... per N x W @para ..."), the growth of vm_map_entries and
# mach_msg_regions per fork over them, and the cost per job of the first
# and last chunk.
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
# µs per job per earlier fork, first to last chunk.
slope() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf "%+.4f", (b - a) * 1e6 / f }'; }
if [ -n "$orig" ]; then
  read -r u_forks u_entries u_msg u_first u_last <<EOF
$(per_fork "$out/unpatched-test_pyparallel_sleep.txt")
EOF
  read -r p_forks p_entries p_msg p_first p_last <<EOF
$(per_fork "$out/patched-test_pyparallel_sleep.txt")
EOF
  [ "$u_forks" != none ] || die "no counter lines in $out/unpatched-test_pyparallel_sleep.txt"
  [ "$p_forks" != none ] || die "no counter lines in $out/patched-test_pyparallel_sleep.txt"
  above "$p_entries" 0.1 && fail_if "test_pyparallel_sleep.py: the patched build gains $p_entries map entries (vm_map_entries) per fork over $p_forks forks: the patch does not stop the leak"
  [ "$p_msg" != - ] && above "$p_msg" 0.1 && fail_if "test_pyparallel_sleep.py: the patched build gains $p_msg Mach message regions per fork over $p_forks forks"
  [ "$mac" = 1 ] && below "$u_entries" 0.9 && fail_if "test_pyparallel_sleep.py: the unpatched build gains only $u_entries map entries per fork on this Mac: the leak the patch fixes is not seen"
fi
if [ "$mac" = 1 ]; then
  system="macOS $(sw_vers -productVersion) ($(sw_vers -buildVersion)) $(uname -m)"
  note="On macOS the unpatched build is expected to gain about +1 map entry per fork, the patched one none."
else
  system="$(uname -s) $(uname -r) $(uname -m)"
  note="Not macOS: neither build is expected to leak here (the count reads /proc/self/stat), so this run checks the steps, CPython's tests and the thread count, not the fix."
fi

# --- 6. The report ---------------------------------------------------------------
{
  echo "# CPython $what with and without the post-fork thread-count fix"
  echo
  echo "- Machine: $system"
  echo "- Source: $name $what at $commit, built with \`./configure && make -j$jobs\` (nothing installed)"
  echo "- Patch: \`upstream/cpython/free-thread-count.patch\` (applied: \`applied.diff\`)"
  echo "- Unpatched: $(head -n 1 "$out/unpatched-version.txt"); calls vm_deallocate: $(cat "$out/unpatched-vm_deallocate.txt")"
  echo "- Patched: $(head -n 1 "$out/patched-version.txt"); calls vm_deallocate: $(cat "$out/patched-vm_deallocate.txt")"
  echo
  echo "| build | fork_repro.py: map entries per os.fork | thread-count check | $tests |"
  echo "|---|---|---|---|"
  echo "| unpatched | $r_unpatched | $(tail -n 1 "$out/unpatched-thread-count.txt" | sed 's/^thread-count check: //' | tr '|' '/') | not run |"
  echo "| patched | $r_patched | $(tail -n 1 "$out/patched-thread-count.txt" | sed 's/^thread-count check: //' | tr '|' '/') | $([ "$regrtest_rc" = 0 ] && echo passed || echo "failed (exit $regrtest_rc)") |"
  if [ -n "$orig" ]; then
    echo
    echo "test_pyparallel_sleep.py (numcalls=$N, ncpus=$W) through \`ci/compare/harness.py --counters\`:"
    echo
    echo "| build | map entries per fork | Mach message regions per fork | forks counted | cost per job, first → last chunk (s) | µs per job per earlier fork |"
    echo "|---|---|---|---|---|---|"
    echo "| unpatched | $u_entries | $u_msg | $u_forks | $u_first → $u_last | $(slope "$u_first" "$u_last" "$u_forks") |"
    echo "| patched | $p_entries | $p_msg | $p_forks | $p_first → $p_last | $(slope "$p_first" "$p_last" "$p_forks") |"
  fi
  echo
  echo "$note"
  echo
  if [ -n "$failures" ]; then echo "**FAIL**:"; printf '%s' "$failures"; else echo "**PASS**: under the patched build os.fork gains $r_patched map entries per fork (unpatched: $r_unpatched), $tests pass and the thread count works."; fi
  for b in unpatched patched; do
    echo
    echo "## fork_repro.py, $b"
    echo
    echo '```'
    cat "$out/$b-fork_repro.txt"
    echo '```'
  done
  if [ -n "$orig" ]; then
    if [ -x "$bin/report" ] && "$bin/report" --markdown "$out/runs.md" \
      "$out/unpatched-test_pyparallel_sleep.txt" "$out/patched-test_pyparallel_sleep.txt" >/dev/null 2>"$work/report.err"; then
      echo
      echo "## \`report\` on the two test_pyparallel_sleep.py transcripts"
      echo
      cat "$out/runs.md"
    else
      echo
      echo "(\`report\` could not read the transcripts: $(tail -n 1 "$work/report.err" 2>/dev/null))"
    fi
  fi
} >"$out/report.md"
report_written=1
[ "$own_out" = 1 ] || say "report: $out/report.md"
if [ -n "$failures" ]; then
  printf '%s' "$failures" | sed "s/^- /$me: FAIL: /" >&2
  exit 1
fi
say "PASS: under the patched build os.fork gains $r_patched map entries per fork (unpatched: $r_unpatched); $tests pass; the thread count works"
