#!/usr/bin/env bash
# Quick but meaningful measurements of every strategy on this machine, for the
# CI matrix and for any user: each binary runs bar() twice in one process
# (12 chunks: enough for a drift verdict) with --json into one folder, then
# `report` turns the folder into a Markdown table and an SVG plot.
# Usage: ci/matrix.sh [OUTDIR]   (default out/local)
# Writes OUTDIR/*.json, *.txt (transcripts), report.md, report.svg; appends the
# table to $GITHUB_STEP_SUMMARY when set, prints it otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-out/local}
mkdir -p "$out"

have() { [ -f "$1/Cargo.toml" ]; }
pkgs=()
for p in test_fork_sleep test_pool_sleep test_spawn_sleep test_threads_sleep test_rf_pool report; do
  have "$p" && pkgs+=(-p "$p")
done
cargo build --release -q ${pkgs[@]+"${pkgs[@]}"}
bin=${CARGO_TARGET_DIR:-target}/release

# run NAME BINARY ARGS...: one measured run, transcript and record in $out.
run() {
  local name=$1 tool=$2
  shift 2
  have "$tool" || { echo "skipped $name: $tool is not in this workspace"; return 0; }
  echo "== $name: $tool $*"
  "$bin/$tool" "$@" --json "$out/$name.json" | tee "$out/$name.txt"
}

common=(--numcalls 600 --repeat 2 --witness on)
# CPython >= 3.12's post-fork thread count (docs/mechanism.md): off, leak (as CPython:
# on macOS nothing is released), free (the control). On an afflicted Mac,
# leak drifting while off and free stay flat says the leak is the cause.
run fork-pipe test_fork_sleep "${common[@]}" --post-fork-check off
run fork-pipe-leak test_fork_sleep "${common[@]}" --post-fork-check leak
run fork-pipe-free test_fork_sleep "${common[@]}" --post-fork-check free
run fork-file test_fork_sleep "${common[@]}" --ipc file
run pool-fork test_pool_sleep "${common[@]}" --start fork
run pool-forkserver test_pool_sleep "${common[@]}" --start forkserver
run executor test_pool_sleep "${common[@]}" --api executor
run pool-spawn test_spawn_sleep "${common[@]}"
run threads-team test_threads_sleep "${common[@]}" --ncpus 8
run rf-fork test_rf_pool "${common[@]}" --start fork
run rf-forkserver test_rf_pool "${common[@]}" --start forkserver
run rf-spawn test_rf_pool "${common[@]}" --start spawn

if have report; then
  "$bin/report" --markdown "$out/report.md" --svg "$out/report.svg" "$out"/*.json
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    { echo "## $(basename "$out")"; echo; cat "$out/report.md"; } >>"$GITHUB_STEP_SUMMARY"
  else
    cat "$out/report.md"
  fi
else
  echo "report is not in this workspace: no table, see the transcripts in $out"
fi
