#!/usr/bin/env bash
# Tests ci/cpython-fix.sh without CPython, a Mac or the network, on a
# stand-in repository tagged and branched like python/cpython:
# - its arguments: main, 3.N (a branch head), 3.N.M (a tag), release (the
#   newest final tag); bad ones exit 2 with one line, a missing branch or tag
#   too; a repository that cannot be reached exits 1;
# - its PASS rule: a whole run passes, and each part that fails is named on
#   a line of its own (the reproducer, CPython's tests, the thread-count
#   check), on "Linux" and on a "Mac" (uname, sw_vers and nm stand-ins);
# - a build that fails: its config.log and the end of its log reach OUTDIR
#   and report.md;
# - the transcripts say which build they ran on (fork_repro.py's
#   --build-label, with the commit);
# - the harness runs with ORIGINALS (a stand-in leak of one map entry per
#   fork in the unpatched build, libprobes_capi's, as --standin-leak does);
# - ci/cpython-fix-threads.py itself, under the real CPythons this machine
#   has: it passes on 3.12+, fails on 3.11, and fails where the OS thread
#   count cannot be read (/proc hidden, when unshare may).
#
# The stand-in's Modules/posixmodule.c is the patch's own pre-image (or
# post-image), `./configure && make` makes a `python` script that answers
# as the contract of each program says: fork_repro.py's lines (its last
# line the answer: +1.00 map entries per fork unpatched, +0.00 patched),
# the thread-count check's line, regrtest's exit; STUB_* variables make one
# part fail. Called by ci/test.sh; a few seconds.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
root=$PWD
fail() { echo "cpython-fix test: FAIL: $*" >&2; exit 1; }
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "skipped: no $py"; exit 0; }
command -v git >/dev/null || { echo "skipped: no git"; exit 0; }
py=$(command -v "$py")
patch=upstream/cpython/free-thread-count.patch

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpython-fix-test.XXXXXX") || exit 2
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT

# --- the stand-in CPython repository ---------------------------------------
hunk() { awk 'f && /^[ +-]/ { print } /^@@ /{ f = 1 }' "$patch"; }
tree() { # DIR IMAGE CONFIGURE_EXIT VERSION
  local d=$1
  mkdir -p "$d/Modules" "$d/leak"
  if [ "$2" = pre ]; then
    hunk | awk '/^[ -]/ { print substr($0, 2) }' >"$d/Modules/posixmodule.c"
  else
    hunk | awk '/^[ +]/ { print substr($0, 2) }' >"$d/Modules/posixmodule.c"
  fi
  echo "$4" >"$d/VERSION"
  printf '#!/bin/sh\necho "configure (stand-in)" | tee config.log\n[ %s = 0 ] || { echo "configure: error: the stand-in fails here" | tee -a config.log >&2; exit 1; }\ncp Makefile.in Makefile\n' "$3" >"$d/configure"
  chmod +x "$d/configure"
  printf 'all:\n\tcp python.in python\n\tchmod +x python\n' >"$d/Makefile.in"
  cat >"$d/python.in" <<SH
#!/bin/sh
# The stand-in interpreter: patched when its posixmodule.c calls vm_deallocate.
here=\$(cd "\$(dirname "\$0")" && pwd)
version=\$(cat "\$here/VERSION")
patched=0
grep -q vm_deallocate "\$here/Modules/posixmodule.c" && patched=1
case "\$1" in
  -c) [ "\$2" = 'import platform; print(platform.python_version())' ] && { echo "\$version"; exit 0; }
      exec "$py" "\$@" ;;
  -VV) echo "Python \$version (the stand-in of ci/tests/cpython-fix.sh)"; exit 0 ;;
  -m) shift; echo "\$*" >"\$here/regrtest.args"
      echo "== stand-in regrtest: \$*"
      if [ "\$patched" = 1 ] && [ "\${STUB_TESTS_FAIL:-0}" = 1 ]; then echo "test_os failed (stand-in)"; echo "== Tests result: FAILURE =="; exit 2; fi
      echo "== Tests result: SUCCESS =="; exit 0 ;;
  */fork_repro.py)
      shift; label=''
      while [ \$# -gt 0 ]; do [ "\$1" = --build-label ] && { label=\$2; shift; }; shift; done
      echo "fork_repro: Python \$version (CPython) on \$(uname -s) \$(uname -m); 2 batches of 50 forks"
      [ -z "\$label" ] || echo "fork_repro: build: \$label"
      if [ "\${STUB_NOT_COUNTED:-0}" = 1 ]; then
        echo "fork_repro: os.fork map entries not counted (vmmap: not permitted)"
        [ "\$(uname -s)" != Darwin ] || exit 1; exit 0
      fi
      [ "\${STUB_REPRO_GARBAGE:-0}" = 0 ] || { echo "Traceback (most recent call last):"; echo "oops" >&2; exit 1; }
      leaks=1
      [ "\$patched" = 0 ] || leaks=\${STUB_PATCHED_LEAKS:-0}
      [ "\$patched" = 1 ] || [ "\${STUB_UNPATCHED_FLAT:-0}" = 0 ] || leaks=0
      if [ "\$leaks" = 1 ]; then
        echo "fork_repro: os.fork +1.00 map entries per fork, control +0.00: the thread count leaks"
      else
        echo "fork_repro: os.fork +0.00 map entries per fork, control +0.00: no leak"
      fi
      exit 0 ;;
  */cpython-fix-threads.py)
      if [ "\$patched" = 1 ] && [ "\${STUB_THREADS_BROKEN:-0}" = 1 ]; then
        echo "thread-count check: FAIL: with 2 threads (one unknown to threading) os.fork() gave no DeprecationWarning (stand-in)"; exit 1
      fi
      echo "thread-count check: ok: stand-in"; exit 0 ;;
esac
# The harness (ORIGINALS): the real python3, with the stand-in leak while
# unpatched.
exec "$py" "\$here/leak/boot.py" \$((1 - patched)) "\$@"
SH
  # os.fork without CPython's own thread count (the harness's control), so
  # that a real CPython >= 3.12 on macOS leaks nothing of its own here; the
  # stand-in leak, after every fork in the parent, when asked.
  cat >"$d/leak/boot.py" <<PY
import ctypes, os, runpy, sys
sys.path.insert(0, "$root/ci/compare")
import harness
os.fork = harness.ForkWithoutThreadCount()
if sys.argv[1] == "1":
    lib = ctypes.CDLL(os.environ["STUB_LIB"])
    os.register_at_fork(after_in_parent=lambda: lib.probes_standin_leak())
sys.argv = sys.argv[2:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
PY
}
repo=$tmp/cpython.git
git init -q --bare "$repo"
commit() { # REF IMAGE CONFIGURE_EXIT VERSION -> the commit
  local d=$tmp/trees/$1 t
  tree "$d" "$2" "$3" "$4"
  t=$(GIT_INDEX_FILE=$tmp/index git --git-dir="$repo" --work-tree="$d" add -A . && GIT_INDEX_FILE=$tmp/index git --git-dir="$repo" write-tree) || fail "git write-tree"
  rm -f "$tmp/index"
  GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org \
    git --git-dir="$repo" commit-tree "$t" -m "$1" || fail "git commit-tree"
}
tag() { git --git-dir="$repo" tag -a -m "$1" "$1" "$(commit "$@")" || fail "git tag $1"; }
branch() { git --git-dir="$repo" branch "$1" "$(commit "$@")" || fail "git branch $1"; }
branch main pre 0 3.30.0a0
branch 3.20 pre 0 3.20.11+
branch 3.21 post 0 3.21.1+   # already patched: the patch does not apply
tag v3.20.2 pre 0 3.20.2
tag v3.20.9 pre 1 3.20.9     # its configure fails
tag v3.20.10 pre 0 3.20.10
tag v3.21.0 post 0 3.21.0    # the newest final release
tag v3.21.1rc1 pre 0 3.21.1rc1 # not final: never picked for "release"
main_sha=$(git --git-dir="$repo" rev-parse main) || fail "rev-parse main"
name=file://${repo%.git}

# A "Mac": uname, sw_vers and nm answering as macOS does.
mkdir -p "$tmp/mac"
cat >"$tmp/mac/uname" <<'SH'
#!/bin/sh
case "$1" in -s) echo Darwin ;; -m) echo arm64 ;; -r) echo 24.5.0 ;; *) echo Darwin ;; esac
SH
cat >"$tmp/mac/sw_vers" <<'SH'
#!/bin/sh
case "$1" in -productVersion) echo 15.5 ;; -buildVersion) echo 24F74 ;; esac
SH
cat >"$tmp/mac/nm" <<'SH'
#!/bin/sh
grep -q vm_deallocate "$(dirname "$2")/Modules/posixmodule.c" && echo "                 U _vm_deallocate"
exit 0
SH
chmod +x "$tmp/mac/uname" "$tmp/mac/sw_vers" "$tmp/mac/nm"

fix() { # EXPECTED_EXIT NAME ARGS...: runs ci/cpython-fix.sh, output in $tmp/NAME.{out,err}
  local want=$1 name=$2 got
  shift 2
  KEEP=0 CPYTHON_REPO="file://$repo" JOBS=${JOBS:-1} ci/cpython-fix.sh "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  got=$?
  [ "$got" = "$want" ] || fail "$name: exit $got, expected $want: $(cat "$tmp/$name.err" "$tmp/$name.out" | head -n 8)"
}
one_line() { # NAME NEEDLE: stderr is one line that says NEEDLE
  [ "$(wc -l <"$tmp/$1.err" | tr -d ' ')" = 1 ] || fail "$1: stderr is not one line: $(cat "$tmp/$1.err")"
  grep -qF -- "$2" "$tmp/$1.err" || fail "$1: stderr does not say '$2': $(cat "$tmp/$1.err")"
}
fails() { # NAME NEEDLE...: stderr is exactly one "FAIL: NEEDLE..." line per NEEDLE, in order
  local name=$1 got
  shift
  got=$(sed -n 's/^cpython-fix\.sh: FAIL: //p' "$tmp/$name.err")
  [ "$(echo "$got" | grep -c .)" = $# ] && [ "$(grep -vc '^cpython-fix\.sh: FAIL: ' "$tmp/$name.err")" = 0 ] \
    || fail "$name: expected $# FAIL line(s), stderr: $(cat "$tmp/$name.err")"
  for needle in "$@"; do
    echo "$got" | head -n 1 | grep -qF -- "$needle" || fail "$name: the FAIL line '$(echo "$got" | head -n 1)' does not say '$needle'"
    got=$(echo "$got" | sed 1d)
  done
  grep -q '^\*\*FAIL\*\*' "$tmp/out-$name/report.md" || fail "$name: report.md has no FAIL"
}

# --- arguments -------------------------------------------------------------
fix 2 no-args;                           one_line no-args "expected REF [OUTDIR]"
fix 2 bad-ref --apply-only 3.x;          one_line bad-ref "REF '3.x': expected main, 3.N (a branch), 3.N.M (a release tag) or release"
fix 2 bad-name --apply-only mian;        one_line bad-name "REF 'mian': expected main"
fix 2 zero --apply-only 3.012;           one_line zero "REF '3.012': expected"
fix 2 old-branch --apply-only 3.11;      one_line old-branch "REF 3.11: CPython counts threads after a fork from 3.12 on"
fix 2 old-tag --apply-only 3.11.9;       one_line old-tag "REF 3.11.9: CPython counts threads after a fork from 3.12 on"
fix 2 bad-option --fast main;            one_line bad-option "unknown option --fast (accepted: --apply-only)"
fix 2 too-many main a b;                 one_line too-many "expected REF [OUTDIR]"
fix 2 no-branch --apply-only 3.23;       one_line no-branch "REF 3.23: no branch 3.23 in file://$repo"
fix 2 no-tag --apply-only 3.20.3;        one_line no-tag "REF 3.20.3: no tag v3.20.3 in file://$repo"
JOBS=x fix 2 bad-jobs --apply-only main; one_line bad-jobs "JOBS 'x': expected a positive integer"
ORIGINALS=$tmp/none fix 2 originals-missing main; one_line originals-missing "ORIGINALS=$tmp/none: no such directory"
ORIGINALS=$tmp fix 2 originals-empty main;        one_line originals-empty "no test_pyparallel_sleep.py there"
KEEP=0 CPYTHON_REPO="$tmp/nothing" ci/cpython-fix.sh --apply-only main >/dev/null 2>"$tmp/no-repo.err"
[ $? = 1 ] || fail "an unreachable repository: not exit 1"; one_line no-repo "cannot list the refs of $tmp/nothing"
# What each REF clones, and the commit recorded.
fix 0 main --apply-only main "$tmp/out-main"
grep -q "cloning .* at main$" "$tmp/main.out" || fail "main: $(cat "$tmp/main.out")"
grep -qF "main ($main_sha): the patch applies" "$tmp/main.out" || fail "main: the head's commit not said: $(cat "$tmp/main.out")"
[ "$(cat "$tmp/out-main/source.txt")" = "$name main $main_sha" ] || fail "main: source.txt: $(cat "$tmp/out-main/source.txt")"
fix 0 branch --apply-only 3.20;          grep -q 'cloning .* at 3.20$' "$tmp/branch.out" || fail "3.20: $(cat "$tmp/branch.out")"
fix 0 tag --apply-only 3.20.10;          grep -q 'cloning .* at v3.20.10$' "$tmp/tag.out" || fail "3.20.10: $(cat "$tmp/tag.out")"
fix 1 release --apply-only release;      grep -q 'cloning .* at v3.21.0$' "$tmp/release.out" || fail "release did not pick v3.21.0 (the newest final): $(cat "$tmp/release.out")"
one_line release "the patch does not apply to v3.21.0"
fix 1 patched-branch --apply-only 3.21;  one_line patched-branch "the patch does not apply to 3.21 ("

# --- whole runs ---------------------------------------------------------------
fix 0 pass main "$tmp/out-pass"
o=$tmp/out-pass
grep -q '^\*\*PASS\*\*' "$o/report.md" || fail "pass: no PASS in report.md"
tail -n 1 "$tmp/pass.out" | grep -qF "PASS: under the patched build os.fork gains +0.00 map entries per fork (unpatched: +1.00)" \
  || fail "pass: the last line: $(tail -n 1 "$tmp/pass.out")"
short=$(echo "$main_sha" | cut -c 1-10)
for b in unpatched patched; do
  [ "$(sed -n 2p "$o/$b-fork_repro.txt")" = "fork_repro: build: $b, $name main at $short" ] \
    || fail "pass: $b-fork_repro.txt does not say its build: $(head -n 2 "$o/$b-fork_repro.txt")"
  for f in fork_repro.txt thread-count.txt version.txt vm_deallocate.txt; do [ -s "$o/$b-$f" ] || fail "pass: no $b-$f"; done
  [ -s "$o/build-$b.log" ] || fail "pass: no build-$b.log"
done
for f in source.txt applied.diff patched-regrtest.txt; do [ -s "$o/$f" ] || fail "pass: no $f"; done
grep -q 'vm_deallocate' "$o/applied.diff" || fail "pass: applied.diff has no vm_deallocate"
[ "$(cat "$tmp/trees/main/regrtest.args" 2>/dev/null)" = "" ] || fail "the stand-in tree itself was run"
grep -qF "== stand-in regrtest: test test_os test_fork1 test_threading -j1" "$o/patched-regrtest.txt" \
  || fail "pass: CPython's tests not run as expected: $(head -n 1 "$o/patched-regrtest.txt")"
grep -q '^| patched | +0.00 | ok: stand-in | passed |$' "$o/report.md" || fail "pass: the patched row: $(grep '^| patched' "$o/report.md")"
grep -q '^| unpatched | +1.00 | ok: stand-in | not run |$' "$o/report.md" || fail "pass: the unpatched row: $(grep '^| unpatched' "$o/report.md")"
# Each part that fails is named, one line each.
STUB_PATCHED_LEAKS=1 fix 1 leaks main "$tmp/out-leaks"
fails leaks "reproducer: under the patched build os.fork gains +1.00 map entries per fork (at most +0.10 expected)"
STUB_TESTS_FAIL=1 fix 1 tests main "$tmp/out-tests"
fails tests "test_os test_fork1 test_threading: failed under the patched build (exit 2; patched-regrtest.txt: == Tests result: FAILURE ==)"
STUB_THREADS_BROKEN=1 fix 1 threads 3.20 "$tmp/out-threads"
fails threads "thread-count check: under the patched build: thread-count check: FAIL: with 2 threads"
STUB_PATCHED_LEAKS=1 STUB_TESTS_FAIL=1 STUB_THREADS_BROKEN=1 fix 1 all 3.20.10 "$tmp/out-all"
fails all "reproducer: under the patched build" "test_os test_fork1 test_threading: failed" "thread-count check: under the patched build"
STUB_REPRO_GARBAGE=1 fix 1 garbage main "$tmp/out-garbage"
fails garbage "reproducer: under the unpatched build fork_repro.py gave no answer (exit 1; its last line: 'Traceback (most recent call last):'; stderr: oops)" \
  "reproducer: under the patched build fork_repro.py gave no answer"
STUB_NOT_COUNTED=1 fix 1 not-counted main "$tmp/out-not-counted"
fails not-counted "reproducer: under the unpatched build fork_repro.py counted no map entries (vmmap: not permitted)" \
  "reproducer: under the patched build fork_repro.py counted no map entries"
# On a "Mac": the unpatched build must show the leak.
PATH="$tmp/mac:$PATH" fix 0 mac main "$tmp/out-mac"
grep -qF -- "- Machine: macOS 15.5 (24F74) arm64" "$tmp/out-mac/report.md" || fail "mac: $(grep Machine "$tmp/out-mac/report.md")"
[ "$(cat "$tmp/out-mac/patched-vm_deallocate.txt") $(cat "$tmp/out-mac/unpatched-vm_deallocate.txt")" = "yes no" ] \
  || fail "mac: calls vm_deallocate: patched $(cat "$tmp/out-mac/patched-vm_deallocate.txt"), unpatched $(cat "$tmp/out-mac/unpatched-vm_deallocate.txt")"
PATH="$tmp/mac:$PATH" STUB_UNPATCHED_FLAT=1 fix 1 mac-flat main "$tmp/out-mac-flat"
fails mac-flat "reproducer: under the unpatched build os.fork gains only +0.00 map entries per fork on this Mac (at least +0.90 expected)"
STUB_UNPATCHED_FLAT=1 fix 0 linux-flat main "$tmp/out-linux-flat" # not a Mac: no leak expected
PATH="$tmp/mac:$PATH" STUB_NOT_COUNTED=1 fix 1 mac-not-counted main "$tmp/out-mac-not-counted"
fails mac-not-counted "reproducer: under the unpatched build fork_repro.py counted no map entries" "reproducer: under the patched build fork_repro.py counted no map entries"
# A build that fails: its config.log and the end of its log in OUTDIR and report.md.
fix 1 build-fails 3.20.9 "$tmp/out-build"
one_line build-fails "the unpatched build of v3.20.9 failed; the end of $tmp/out-build/build-unpatched.log: "
grep -qF "configure: error: the stand-in fails here" "$tmp/build-fails.err" || fail "build-fails: $(cat "$tmp/build-fails.err")"
grep -qF "configure: error: the stand-in fails here" "$tmp/out-build/build-unpatched-config.log" || fail "build-fails: no config.log in OUTDIR: $(ls "$tmp/out-build")"
r=$tmp/out-build/report.md
grep -q '^\*\*FAIL\*\*: the unpatched build of v3.20.9 failed' "$r" && grep -qF '## The end of `build-unpatched.log`' "$r" \
  && grep -qF '## The end of its config.log (`build-unpatched-config.log`)' "$r" \
  && [ "$(grep -c 'configure: error: the stand-in fails here' "$r")" = 3 ] && head -n 1 "$r" | grep -qF 'CPython v3.20.9 with' || fail "build-fails: report.md: $(cat "$r")"

# --- with ORIGINALS: test_pyparallel_sleep.py through the harness -------------
cargo build -q -p report -p probes_capi || fail "cargo build"
bin=${CARGO_TARGET_DIR:-$root/target}/debug
lib=$bin/libprobes_capi.so
[ -f "$lib" ] || lib=$bin/libprobes_capi.dylib
[ -f "$lib" ] || fail "no libprobes_capi in $bin"
mkdir -p "$tmp/irwin"
cat >"$tmp/irwin/test_pyparallel_sleep.py" <<'PY'
import os, time

def bar(numcalls=200, ncpus=2):
    print(f"Using ncpus={ncpus} parallel decorated function")
    for _ in range(numcalls // 100):
        start = time.perf_counter()
        for _ in range(100):
            alive = []
            for _ in range(ncpus):
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                alive.append(pid)
            for pid in alive:
                os.waitpid(pid, 0)
        delta = time.perf_counter() - start
        print(f"{delta:.3f}s per 100 x {ncpus} @para sleep(0.000). "
              f"Cost/ncpus/calls is {delta / 100 / ncpus:.6f}s.")
PY
NUMCALLS=150 ORIGINALS=$tmp/irwin fix 2 few-calls main; one_line few-calls "NUMCALLS 150: at least 200"
STUB_LIB=$lib FIX_BIN=$bin NUMCALLS=200 NCPUS=2 ORIGINALS=$tmp/irwin fix 0 originals main "$tmp/out-orig"
r=$tmp/out-orig/report.md
grep -q '^| unpatched | +1\.000 | [^|]* | 200 | ' "$r" || fail "originals: the unpatched row: $(grep '^| ' "$r")"
grep -q '^| patched | +0\.000 | [^|]* | 200 | ' "$r" || fail "originals: the patched row: $(grep '^| ' "$r")"
grep -q 'per 100 x 2 @para' "$tmp/out-orig/patched-test_pyparallel_sleep.txt" || fail "originals: no chunk lines"
for b in unpatched patched; do
  [ "$(head -n 1 "$tmp/out-orig/$b-test_pyparallel_sleep.txt")" = "Build (extra): $b, $name main at $short" ] \
    || fail "originals: $b-test_pyparallel_sleep.txt does not say its build first: $(head -n 1 "$tmp/out-orig/$b-test_pyparallel_sleep.txt")"
done
grep -qF '## `report` on the two test_pyparallel_sleep.py transcripts' "$r" || fail "originals: report could not read the transcripts: $(grep -F '(`report`' "$r")"

# --- the thread-count check itself, under real CPythons -----------------------
checked=''
for v in /root/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/bin/python3.1[2-9] "$py"; do
  [ -x "$v" ] || continue
  "$v" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null || continue
  got=$("$v" ci/cpython-fix-threads.py) || fail "the thread-count check under $v: $got"
  echo "$got" | grep -qE '^thread-count check: ok: 1 thread, no warning; 2 threads \(one unknown to threading\), .This process \(pid=[0-9]+\) is multi-threaded, use of fork\(\) may lead to deadlocks in the child\..$' \
    || fail "the thread-count check under $v: $got"
  checked="$checked $("$v" -c 'import platform; print(platform.python_version())')"
  # Where the OS count cannot be read (/proc hidden), it must fail.
  if unshare -m true 2>/dev/null; then
    got=$(unshare -m sh -c 'mount -t tmpfs none /proc && exec "$0" ci/cpython-fix-threads.py' "$v") \
      && fail "the thread-count check passed with /proc hidden under $v: $got"
    echo "$got" | grep -qF "thread-count check: FAIL: with 2 threads (one unknown to threading) os.fork() gave no DeprecationWarning" \
      || fail "the thread-count check with /proc hidden under $v: $got"
    checked="$checked (and failing with /proc hidden)"
  fi
  break
done
for v in /root/.pyenv/versions/3.11*/bin/python3 /usr/bin/python3.11; do
  [ -x "$v" ] || continue
  got=$("$v" ci/cpython-fix-threads.py) && fail "the thread-count check passed under $v (3.11: no thread count): $got"
  echo "$got" | grep -q '^thread-count check: FAIL: Python 3\.11\.[0-9]* has no post-fork thread count' || fail "under $v: $got"
  checked="$checked, failing under 3.11"
  break
done
[ -n "$checked" ] || checked=" skipped (no CPython 3.11 or 3.12+ here)"
echo "cpython-fix test: OK (arguments main, 3.N, 3.N.M, release and bad ones; PASS and each FAIL named, on Linux and a stand-in Mac; a failed build's config.log; build labels; the harness with ORIGINALS; the thread-count check under CPython$checked)"
