#!/usr/bin/env bash
# End-to-end test of the witness (probes::witness: the system's own count of
# a process's regions, pmap here, vmmap on macOS) on Linux, where it is pmap:
# - the port: test_fork_sleep --map-churn keeps 2 mappings a call; its
#   record's witness grows as vm_map_entries does, and report's evidence row
#   says "agrees"; the same record with the witness's reading after set back
#   to the one before says "disagrees";
# - an original's interpreter: ci/compare/harness.py --standin-leak (one
#   map entry kept per fork) prints its Witness lines around the bar()s,
#   grown by one region a fork, and report reads them back: "agrees".
# The bar() of the harness run is a small fork loop written here (one fork
# and one wait per job, chunk lines in the @para format), not an original.
# Called by ci/test.sh; a few seconds.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
root=$PWD
fail() { echo "witness: FAIL: $*" >&2; exit 1; }
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "skipped: no $py"; exit 0; }
command -v pmap >/dev/null || { echo "skipped: no pmap"; exit 0; }

cargo build -q -p test_fork_sleep -p report -p probes_capi || fail "cargo build"
bin=${CARGO_TARGET_DIR:-$root/target}/debug
lib=$bin/libprobes_capi.so
[ -f "$lib" ] || fail "no libprobes_capi in $bin"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/witness.XXXXXX") || exit 2
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT
mkdir "$tmp/here"

# The witness cell of the run's row in report --hypothesis's table: its
# sixth (run, predicted leak, the two counters per fork, the mechanism, the
# witness; one machine is named above the table, not in a column).
cell() {
  "$bin/report" --hypothesis "$@" | sed -n '/^## The hypothesis/,/^Mechanism: /p' | grep -E 'fork-per-job' \
    | awk -F' \\| ' '{ c = $6; sub(/ \|$/, "", c); print c }'
}

"$bin/test_fork_sleep" --numcalls 400 --ncpus 2 --sleep 0 --map-churn 2 --witness on --json "$tmp/here/churn.json" >/dev/null \
  || fail "test_fork_sleep --map-churn"
got=$(cell "$tmp/here/churn.json")
[ "$got" = "+1.00 pmap, agrees" ] || fail "the port with --map-churn 2: '$got'"
"$py" - "$tmp/here/churn.json" "$tmp/here/edited.json" <<'PY' || fail "editing the record"
import json, sys
rec = json.load(open(sys.argv[1]))
# The tool's count set back, the counters read with it left as they were.
rec["witness"]["after"]["total"] = rec["witness"]["before"]["total"]
json.dump(rec, open(sys.argv[2], "w"))
PY
got=$(cell "$tmp/here/edited.json")
[ "$got" = "+0.00 pmap, disagrees (vm_map_entries +1.00)" ] || fail "the edited record: '$got'"

cat >"$tmp/forks.py" <<'PY'
import os, time

def bar(numcalls=400, ncpus=2):
    print(f"Using ncpus={ncpus} parallel decorated function")
    for _ in range(numcalls // 100):
        start = time.perf_counter()
        for _ in range(100 * ncpus):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        delta = time.perf_counter() - start
        print(f"{delta:.3f}s per 100 x {ncpus} @para sleep(0.000). "
              f"Cost/ncpus/calls is {delta / 100 / ncpus:.6f}s.")
PY
PYTHONPATH="$tmp" PYTHONDONTWRITEBYTECODE=1 "$py" ci/compare/harness.py py forks --counters "$lib" --standin-leak \
  >"$tmp/here/standin.txt" 2>"$tmp/standin.err" || fail "harness: $(tail -n 1 "$tmp/standin.err")"
grep -q '^Witness (extra): tool=pmap when=before regions=[0-9]* counted=[0-9]*$' "$tmp/here/standin.txt" \
  || fail "no witness before: $(head -n 4 "$tmp/here/standin.txt")"
grep -q '^Witness (extra): tool=pmap when=after regions=[0-9]* counted=[0-9]* forks=800$' "$tmp/here/standin.txt" \
  || fail "no witness after (800 forks): $(tail -n 2 "$tmp/here/standin.txt")"
got=$(cell "$tmp/here/standin.txt")
[ "$got" = "+1.00 pmap, agrees" ] || fail "the harness with the stand-in leak: '$got'"
echo "witness: OK (port --map-churn and harness --stand-in: +1.00 pmap a fork, agrees; edited record: disagrees)"
