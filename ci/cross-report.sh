#!/usr/bin/env bash
# Joins the JSON records of many machines (the CI matrix's artifacts, or
# records users sent in) into one table and one plot.
# Usage: ci/cross-report.sh INDIR OUTDIR   (INDIR is searched recursively)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
in=${1:?usage: ci/cross-report.sh INDIR OUTDIR} out=${2:?usage: ci/cross-report.sh INDIR OUTDIR}
mkdir -p "$out"
# Bash 3.2 has no mapfile: one path per line, read in a loop.
records=()
while IFS= read -r f; do
  records+=("$f")
done < <(find "$in" -name '*.json' -type f | sort)
if [ ${#records[@]} -eq 0 ]; then
  echo "no JSON records under $in" | tee "$out/report.md"
  exit 0
fi
cargo build --release -q -p report
target/release/report --markdown "$out/report.md" --svg "$out/report.svg" ${records[@]+"${records[@]}"}
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  { echo "## Cross-machine report (${#records[@]} runs)"; echo; cat "$out/report.md"; } >>"$GITHUB_STEP_SUMMARY"
else
  cat "$out/report.md"
fi
