#!/usr/bin/env bash
# Tests ci/cpython-fix.sh without CPython, a Mac or the network: its usage
# errors (exit 2, one line naming what is wrong), a tag that is not there, a
# patch that does not apply, a build that fails, and a whole run on a
# stand-in "CPython" whose unpatched build leaks one map entry per fork and
# whose patched build does not (PASS), or still does (FAIL).
#
# The stand-in is a git repository made here, tagged like python/cpython:
# Modules/posixmodule.c is the patch's own pre-image (its context and
# removed lines), `./configure && make` makes a `python` that runs this
# machine's python3, and, while its posixmodule.c has no vm_deallocate (the
# patch not applied), keeps one page after every fork in the parent
# (libprobes_capi's stand-in leak, as ci/compare/harness.py --standin-leak
# does). test_pyparallel_sleep.py is a small fork-per-job bar() written
# here, not the original. Called by ci/test.sh; under a minute.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
root=$PWD
fail() { echo "cpython-fix test: FAIL: $*" >&2; exit 1; }
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "skipped: no $py"; exit 0; }
command -v git >/dev/null || { echo "skipped: no git"; exit 0; }
patch=upstream/cpython/free-thread-count.patch

cargo build -q -p report -p probes_capi || fail "cargo build"
bin=${CARGO_TARGET_DIR:-$root/target}/debug
lib=$bin/libprobes_capi.so
[ -f "$lib" ] || lib=$bin/libprobes_capi.dylib
[ -f "$lib" ] || fail "no libprobes_capi in $bin"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpython-fix-test.XXXXXX") || exit 2
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT

# --- the stand-in CPython repository ---------------------------------------
hunk() { awk 'f && /^[ +-]/ { print } /^@@ /{ f = 1 }' "$patch"; }
# tree DIR IMAGE CONFIGURE_EXIT LEAKS_WHEN_PATCHED
tree() {
  local d=$1
  mkdir -p "$d/Modules" "$d/leak"
  if [ "$2" = pre ]; then
    hunk | awk '/^[ -]/ { print substr($0, 2) }' >"$d/Modules/posixmodule.c"
  else
    hunk | awk '/^[ +]/ { print substr($0, 2) }' >"$d/Modules/posixmodule.c"
  fi
  printf '#!/bin/sh\necho "configure (stand-in)"\n[ %s = 0 ] || { echo "configure: error: the stand-in fails here" >&2; exit 1; }\ncp Makefile.in Makefile\n' "$3" >"$d/configure"
  chmod +x "$d/configure"
  printf 'all:\n\tcp python.in python\n\tchmod +x python\n' >"$d/Makefile.in"
  # The version check and -VV answer for the tag; everything else runs
  # python3, through leak/boot.py while the leak is on.
  cat >"$d/python.in" <<SH
#!/bin/sh
here=\$(cd "\$(dirname "\$0")" && pwd)
version=\$(cat "\$here/VERSION")
case "\$1" in
  -c) [ "\$2" = 'import platform; print(platform.python_version())' ] && { echo "\$version"; exit 0; }
      exec "$py" "\$@" ;;
  -VV) echo "Python \$version (the stand-in of ci/tests/cpython-fix.sh)"; exit 0 ;;
esac
leak=0
if [ $4 = 1 ] || ! grep -q vm_deallocate "\$here/Modules/posixmodule.c"; then leak=1; fi
exec "$py" "\$here/leak/boot.py" "\$leak" "\$@"
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
    lib = ctypes.CDLL("$lib")
    os.register_at_fork(after_in_parent=lambda: lib.probes_standin_leak())
sys.argv = sys.argv[2:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
PY
}
repo=$tmp/cpython.git
git init -q --bare "$repo"
tag() { # TAG IMAGE CONFIGURE_EXIT LEAKS_WHEN_PATCHED
  local d=$tmp/trees/$1 t c
  tree "$d" "$2" "$3" "$4"
  echo "${1#v}" >"$d/VERSION"
  t=$(GIT_INDEX_FILE=$tmp/index git --git-dir="$repo" --work-tree="$d" add -A . && GIT_INDEX_FILE=$tmp/index git --git-dir="$repo" write-tree) || fail "git write-tree"
  rm -f "$tmp/index"
  c=$(GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org \
    git --git-dir="$repo" commit-tree "$t" -m "$1") || fail "git commit-tree"
  git --git-dir="$repo" tag -a -m "$1" "$1" "$c" || fail "git tag $1"
}
tag v3.20.2 pre 0 0
tag v3.20.9 pre 1 0      # its configure fails
tag v3.20.10 pre 0 0     # the newest final 3.20: a fix that works
tag v3.20.11rc1 pre 0 0  # not final: never picked for "3.20"
tag v3.21.0 post 0 0     # already patched: the patch does not apply
tag v3.22.1 pre 0 1      # a "fix" that does not stop the leak

# The originals' directory: a fork-per-job bar() in the @para format.
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
# The stdlib-only reproducer, if the checkout has it, with few forks.
if [ -f upstream/cpython/fork_repro.py ]; then
  repro_args="2 50"
else
  echo "cpython-fix test: no upstream/cpython/fork_repro.py in this checkout: the full runs are skipped"
  repro_args=''
fi

fix() { # EXPECTED_EXIT NAME ARGS...: runs ci/cpython-fix.sh, output in $tmp/NAME.{out,err}
  local want=$1 name=$2 got
  shift 2
  KEEP=0 CPYTHON_REPO="file://$repo" FIX_BIN="$bin" MAKE_JOBS=1 NUMCALLS="${NUMCALLS_T:-200}" NCPUS=2 \
    REPRO_ARGS="$repro_args" ci/cpython-fix.sh "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  got=$?
  [ "$got" = "$want" ] || fail "$name: exit $got, expected $want: $(cat "$tmp/$name.err" "$tmp/$name.out" | head -n 5)"
}
one_line() { # NAME NEEDLE: stderr is one line that says NEEDLE
  [ "$(wc -l <"$tmp/$1.err" | tr -d ' ')" = 1 ] || fail "$1: stderr is not one line: $(cat "$tmp/$1.err")"
  grep -qF -- "$2" "$tmp/$1.err" || fail "$1: stderr does not say '$2': $(cat "$tmp/$1.err")"
}

# Usage errors: exit 2, one line naming what is wrong.
fix 2 no-args;            one_line no-args "expected VERSION [OUTDIR]"
fix 2 bad-version --apply-only 3.x;       one_line bad-version "VERSION '3.x': expected 3.N or 3.N.M"
fix 2 old-version --apply-only 3.11;      one_line old-version "VERSION 3.11: CPython counts threads after a fork from 3.12 on"
fix 2 bad-option --fast 3.20;             one_line bad-option "unknown option --fast (accepted: --apply-only)"
fix 2 no-tag --apply-only 3.20.3;         one_line no-tag "VERSION 3.20.3: no tag v3.20.3 in file://$repo"
fix 2 no-series --apply-only 3.23;        one_line no-series "VERSION 3.23: no final release tag v3.23.M"
fix 2 no-originals 3.20;                  one_line no-originals "ORIGINALS is not set"
ORIGINALS=$tmp/none fix 2 originals-missing 3.20;  one_line originals-missing "ORIGINALS=$tmp/none: no such directory"
ORIGINALS=$tmp fix 2 originals-empty 3.20;         one_line originals-empty "no test_pyparallel_sleep.py there"
NUMCALLS_T=150 ORIGINALS=$tmp/irwin fix 2 few-calls 3.20;  one_line few-calls "NUMCALLS 150: at least 200"
# Steps that fail: exit 1, one line naming the step.
fix 0 series --apply-only 3.20
grep -q 'cloning .* at v3.20.10$' "$tmp/series.out" || fail "3.20 did not pick v3.20.10 (the newest final): $(cat "$tmp/series.out")"
grep -q 'v3.20.10 (.*): the patch applies$' "$tmp/series.out" || fail "series: $(cat "$tmp/series.out")"
fix 1 patch-fails --apply-only 3.21.0;    one_line patch-fails "the patch does not apply to v3.21.0"
fail_repo() { KEEP=0 CPYTHON_REPO="$tmp/nothing" FIX_BIN="$bin" ci/cpython-fix.sh --apply-only 3.20 >/dev/null 2>"$tmp/no-repo.err"; }
fail_repo; [ $? = 1 ] || fail "an unreachable repository: not exit 1"; one_line no-repo "cannot list the tags of $tmp/nothing"

if [ -n "$repro_args" ]; then
  ORIGINALS=$tmp/irwin fix 1 build-fails 3.20.9 "$tmp/out-build"
  grep -qF "the unpatched build of v3.20.9 failed" "$tmp/build-fails.err" \
    && grep -qF "configure: error: the stand-in fails here" "$tmp/build-fails.err" \
    || fail "build-fails: $(cat "$tmp/build-fails.err")"
  # The whole run: the unpatched stand-in leaks +1 entry per fork, the patched none.
  ORIGINALS=$tmp/irwin fix 0 pass 3.20 "$tmp/out-pass"
  r=$tmp/out-pass/report.md
  grep -q '^| unpatched | +1\.000 | [^|]* | 200 | ' "$r" || fail "pass: the unpatched row: $(grep '^| ' "$r")"
  grep -q '^| patched | +0\.000 | [^|]* | 200 | ' "$r" || fail "pass: the patched row: $(grep '^| ' "$r")"
  grep -q '^\*\*PASS\*\*' "$r" || fail "pass: no PASS in the report"
  grep -q 'vm_deallocate' "$tmp/out-pass/applied.diff" || fail "pass: applied.diff has no vm_deallocate"
  grep -q '^fork_repro: ' "$tmp/out-pass/patched-fork_repro.txt" || fail "pass: fork_repro.py printed no summary"
  # fork_repro.py counts /proc/self/maps on Linux (on macOS, vmmap, which
  # may not be allowed to read a runner's python).
  if [ "$(uname -s)" = Linux ]; then
    # About one per fork: its own count is of the whole process, whose
    # interpreter maps and unmaps a few regions of its own meanwhile (+0.98
    # seen here).
    c=$(grep '^| unpatched' "$r" | awk -F' [|] ' '{ c = $NF; sub(/ [|]$/, "", c); print c }')
    awk -v c="$c" 'BEGIN { exit !(c + 0 >= 0.9 && c + 0 <= 1.1) }' \
      || fail "pass: fork_repro.py's count for the unpatched build ($c): $(grep '^| unpatched' "$r")"
  fi
  grep -q 'per 100 x 2 @para' "$tmp/out-pass/patched-test_pyparallel_sleep.txt" || fail "pass: no chunk lines"
  # A patch that does not stop the leak: exit 1, the report says FAIL.
  ORIGINALS=$tmp/irwin fix 1 still-leaks 3.22.1 "$tmp/out-leak"
  grep -qF "FAIL: the patched build gains +1.000 map entries (vm_map_entries) per fork over 200 forks" "$tmp/still-leaks.err" \
    || fail "still-leaks: $(cat "$tmp/still-leaks.err")"
  grep -q '^\*\*FAIL\*\*' "$tmp/out-leak/report.md" || fail "still-leaks: no FAIL in the report"
fi
echo "cpython-fix test: OK (usage errors, missing tag, patch not applying${repro_args:+, build failure, PASS and FAIL runs on a stand-in})"
