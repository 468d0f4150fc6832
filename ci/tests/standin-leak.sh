#!/usr/bin/env bash
# End-to-end test of the decisive experiment's chain, on Linux, where CPython
# leaks nothing: ci/compare/harness.py's --standin-leak keeps one map entry
# per fork (the stand-in for the macOS leak), its --counters reads the
# suite's counters inside the interpreter (libprobes_capi), and `report`
# attributes and concludes. Checks: with the real os.fork and the stand-in, a
# fork-per-job bar() drifts and grows vm_map_entries by about 1 per fork;
# with the control (--fork-without-thread-count) the stand-in leaks nothing:
# vm_map_entries flat; the Findings' mechanism confirmed; a failed
# fork raises the same OSError (EAGAIN) from the control as from os.fork. The
# bar() is a small fork-per-job loop written here (one pipe and one fork per
# job, at most NCPUS alive, chunk lines in the @para format), not an original.
# Called by ci/test.sh; about half a minute.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
root=$PWD
fail() { echo "standin-leak: FAIL: $*" >&2; exit 1; }
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "skipped: no $py"; exit 0; }

cargo build -q -p report -p probes_capi || fail "cargo build"
bin=${CARGO_TARGET_DIR:-$root/target}/debug
lib=$bin/libprobes_capi.so
[ -f "$lib" ] || lib=$bin/libprobes_capi.dylib
[ -f "$lib" ] || fail "no libprobes_capi in $bin"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/standin-leak.XXXXXX") || exit 2
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT
cat >"$tmp/forkjobs.py" <<'PY'
import os, time

def bar(numcalls=1000, ncpus=4, chunk=25):
    print(f"Using ncpus={ncpus} parallel decorated function")
    for _ in range(numcalls // chunk):
        start = time.perf_counter()
        for _ in range(chunk):
            alive = {}
            for _ in range(ncpus):
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(r)
                    os.write(w, b"x")
                    os._exit(0)
                os.close(w)
                alive[pid] = r
            while alive:
                pid, _ = os.wait()
                r = alive.pop(pid)
                os.read(r, 1)
                os.close(r)
        delta = time.perf_counter() - start
        print(f"{delta:.3f}s per {chunk} x {ncpus} @para sleep(0.000). "
              f"Cost/ncpus/calls is {delta / chunk / ncpus:.6f}s.")
PY
run() { # NAME HARNESS_OPTIONS...
  local name=$1
  shift
  PYTHONPATH="$tmp" PYTHONDONTWRITEBYTECODE=1 "$py" ci/compare/harness.py py forkjobs \
    --counters "$lib" "$@" >"$tmp/$name.txt" 2>"$tmp/$name.err" \
    || fail "$name: $(tail -n 1 "$tmp/$name.err")"
}
run real --standin-leak
run control --standin-leak --fork-without-thread-count
"$bin/report" "$tmp/real.txt" "$tmp/control.txt" >"$tmp/report.md" || fail "report"

# 1000 calls x 4 forks: 40 chunks, each followed by its counters; the
# stand-in ends with 4000 more map entries, enough for fork's copying to
# stand well above this machine's noise.
[ "$(grep -c '^Counters (extra): ' "$tmp/real.txt")" = 40 ] || fail "40 counter lines expected: $(head -c 600 "$tmp/real.txt")"
grep -q '^Harness (extra): Python .* os.fork: without thread count; stand-in leak: on;' "$tmp/control.txt" \
  || fail "the control's harness line: $(head -n 1 "$tmp/control.txt")"
# The Findings rows: | value | source | predicted leak | vm_map_entries per fork |
# mach_msg_regions per fork | mechanism | witness per fork | verdict | slope | symptom |
row() { grep "^| $1 | $2" "$tmp/report.md" | head -n 1; }
real=$(row real real.txt) control=$(row 'without thread count' control.txt)
[ -n "$real" ] && [ -n "$control" ] || fail "no Findings rows: $(cat "$tmp/report.md")"
field() { echo "$1" | awk -F'|' -v k="$2" '{ gsub(/^ +| +$/, "", $(k + 1)); print $(k + 1) }'; }
[ "$(field "$real" 8)" = DRIFT ] || fail "the stand-in leak does not drift: $real"
per_fork=$(field "$real" 4)
awk -v x="$per_fork" 'BEGIN { exit !(x >= 0.9 && x <= 1.1) }' || fail "vm_map_entries per fork $per_fork, not about +1: $real"
# The control leaks nothing (the counter, exactly). Its timing is not
# asserted: 40 chunks of 0.3 s are at the mercy of the machine's load (a run
# here came out DRIFT +87 % with four builds running, and with the load at 10
# its last chunk was 0.46 s against the leaky run's 0.70 s), while the counts
# are exact; the rule that turns verdicts into a conclusion is unit-tested in
# report_write/src/findings/tests.rs (the rule: report_judge/src/findings.rs).
[ "$(field "$control" 4)" = "+0.00" ] || fail "the control leaks map entries: $control"
# The exact evidence decides first: both rows' map entries as predicted.
[ "$(field "$real" 6)" = "as predicted" ] && [ "$(field "$control" 6)" = "as predicted" ] \
  || fail "mechanism per row: $real / $control"
# Off macOS the stand-in's leak and no real one is "as predicted off macOS"
# ("confirmed" needs a Mac's runs).
grep -Eq '^Mechanism: \*\*(confirmed|as predicted off macOS \(the stand-in leaks)' "$tmp/report.md" || fail "no confirmed mechanism: $(cat "$tmp/report.md")"
[ "$(field "$real" 3)" = yes ] && [ "$(field "$control" 3)" = no ] || fail "predicted leaks: $real / $control"
grep "real.txt.*DRIFT" "$tmp/report.md" | grep -q 'vm_map_entries (tau' || fail "not attributed to vm_map_entries"
# The control's failed fork raises what os.fork raises: the OSError of the
# errno (EAGAIN under a process limit of 1; as root the test drops to nobody,
# whom the limit binds).
cat >"$tmp/forkfail.py" <<'PY'
import errno, os, resource, sys
sys.path.insert(0, sys.argv[1])
import harness
control = harness.ForkWithoutThreadCount()
resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
if os.getuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
for fork in (os.fork, control):
    try:
        pid = fork()
    except OSError as e:
        print(type(e).__name__, e.errno == errno.EAGAIN)
    else:
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print("forked")
PY
failed=$("$py" "$tmp/forkfail.py" "$root/ci/compare" 2>&1)
case $failed in
  $'BlockingIOError True\nBlockingIOError True') ;;
  *) fail "a failed fork: os.fork then the control said: $failed" ;;
esac
# The harness's reading after a buffer resize: the retry gets the reading
# the refused call took (with the faults of the 300 pages touched before
# it), not a second sample of the moment between the two calls.
cat >"$tmp/resize.py" <<'PY'
import ctypes, sys
sys.path.insert(0, sys.argv[1])
import harness
counters = harness.Counters(sys.argv[2])
def reading():
    words = counters.line().split(": ", 1)[1].split()
    return {k: int(v) for k, v in (w.split("=") for w in words)}
first = reading()
for _ in range(300):
    counters.leak_one_entry()
counters.buf = ctypes.create_string_buffer(8)
after = reading()
print(len(counters.buf) > 8, after["minor_faults"] >= 300,
      after["vm_map_entries"] - first["vm_map_entries"] >= 290)
PY
resized=$("$py" "$tmp/resize.py" "$root/ci/compare" "$lib" 2>&1)
[ "$resized" = "True True True" ] || fail "the harness's reading after a buffer resize (resized, whole chunk's faults, the leak's entries): $resized"
echo "standin-leak: OK (real os.fork + stand-in: DRIFT, $per_fork vm_map_entries per fork; control: flat)"
