#!/usr/bin/env bash
# Joins the JSON records of many machines (the CI matrix's artifacts, or
# records users sent in) and the originals' transcripts from ci/compare.sh
# (test_*.py*.txt, test_*.sage*.txt) into one report: first the leak's
# picture and the table that answers the hypothesis, one row per machine (as
# each record's system and each transcript's harness line name it) and
# fork-per-job run, then the Findings, the table of every run and one plot.
# Usage: ci/cross-report.sh INDIR OUTDIR   (INDIR is searched recursively)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
in=${1:?usage: ci/cross-report.sh INDIR OUTDIR} out=${2:?usage: ci/cross-report.sh INDIR OUTDIR}
mkdir -p "$out"
# Bash 3.2 has no mapfile: one path per line, read in a loop.
records=()
while IFS= read -r f; do
  records+=("$f")
done < <(find "$in" -type f \( -name '*.json' -o -name 'test_*.py*.txt' -o -name 'test_*.sage*.txt' \) | sort)
if [ ${#records[@]} -eq 0 ]; then
  echo "no JSON records or transcripts under $in" | tee "$out/report.md"
  exit 0
fi
cargo build --release -q -p report
"${CARGO_TARGET_DIR:-target}/release/report" --hypothesis --markdown "$out/report.md" --svg "$out/report.svg" --png "$out/report.png" \
  ${records[@]+"${records[@]}"} >/dev/null
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  { echo "## Cross-machine report (${#records[@]} runs)"; echo; cat "$out/report.md"; } >>"$GITHUB_STEP_SUMMARY"
else
  cat "$out/report.md"
fi
