#!/usr/bin/env bash
# Build prerequisites of the workspace: a Rust toolchain, a C compiler, and m4
# (the bundled GMP/MPFR build of `rug`, used by test_rf_pool, runs m4).
# Installs what it can (apt-get on Debian/Ubuntu; nothing is needed on macOS,
# whose command line tools ship m4 and clang); otherwise says what to install.
set -euo pipefail

need=()
command -v cargo >/dev/null || { echo "ci/prereq.sh: install Rust (https://rustup.rs), then re-run" >&2; exit 1; }
command -v cc >/dev/null || need+=(gcc)
command -v m4 >/dev/null || need+=(m4)
command -v make >/dev/null || need+=(make)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(uname -s)" = Darwin ]; then
  echo "ci/prereq.sh: missing ${need[*]}: run 'xcode-select --install', then re-run" >&2
  exit 1
fi
if command -v apt-get >/dev/null; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "ci/prereq.sh: missing ${need[*]}: run 'apt-get install ${need[*]}' as root, then re-run" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "ci/prereq.sh: installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
    || { "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null; }
  exit 0
fi
# Neither macOS nor apt-get: say what to install (the exact line below is
# what the issue of test_rf_pool asks for when m4 or the compiler is missing).
if [[ " ${need[*]} " == *" m4 "* || " ${need[*]} " == *" gcc "* ]]; then
  echo "install m4 (GNU m4) and a C compiler, then re-run" >&2
else
  echo "ci/prereq.sh: missing ${need[*]}: install it with your package manager, then re-run" >&2
fi
exit 1
