#!/usr/bin/env bash
# Fails when a CI script uses what a stock Mac lacks: macOS runs
# `#!/usr/bin/env bash` with bash 3.2 and has BSD commands
# (docs/development.md). The forbidden constructs and commands, each with a
# line it must catch and one it must pass, are in ci/portability.rules.
#
# Usage: ci/portability.sh              checks ci/**/*.sh and .ci/run
#        ci/portability.sh FILE...      checks these files
#        ci/portability.sh --self-test  proves every rule catches its bad line
#                                       (in scripts made in a temporary
#                                       directory) and passes its good one
# Prints FILE:LINE: WHY for each finding; exits 1 if any, 0 if none, 2 on a
# bad flag. A line that must keep a match carries "# portability: ok REASON".
#
# This script is itself bash 3.2 and BSD-tool clean (it checks itself); it
# uses only indexed arrays, indexed one element at a time.
set -eu
here=$(cd "$(dirname "$0")" && pwd -P)
rules_file=$here/portability.rules

# --- the rules -------------------------------------------------------------
# A rule starts at its why: line; its bad: and ok: lines (one or more each)
# go into flat lists that remember their rule.
n_rules=0 n_bad=0 n_ok=0
why=() re=() bad=() bad_rule=() ok=() ok_rule=()
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "$s"; }
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    'why:'*) why[n_rules]=$(trim "${line#why:}"); n_rules=$((n_rules + 1)) ;;
    're:'*) re[n_rules - 1]=$(trim "${line#re:}") ;;
    'bad:'*) bad[n_bad]=$(trim "${line#bad:}"); bad_rule[n_bad]=$((n_rules - 1)); n_bad=$((n_bad + 1)) ;;
    'ok:'*) ok[n_ok]=$(trim "${line#ok:}"); ok_rule[n_ok]=$((n_rules - 1)); n_ok=$((n_ok + 1)) ;;
  esac
done <"$rules_file"
[ "$n_rules" -gt 0 ] || { echo "portability.sh: no rules in $rules_file" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/portability.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The code of FILE with comments blanked (line numbers kept) and the lines
# marked "# portability: ok" emptied, into $work/code.
strip() {
  awk -v q="'" '
    index($0, "# portability: ok") { print ""; next }
    { sub(/^[ \t]*#.*/, ""); sub("[ \t]+#[^\"" q "]*$", ""); print }
  ' "$1" >"$work/code"
}

# Arrays that may be empty (NAME=(), NAME=($...), NAME=("$@")) expanded as
# ${NAME[@]} or ${NAME[*]} in a script under set -u: bash before 4.4 calls
# that an unbound variable. The guarded form ${NAME[@]+"${NAME[@]}"} passes.
empty_arrays() { # FILE WHY: findings on stdout
  grep -qE '(^|[&;[:space:]])set[[:space:]]+(-[[:alpha:]]*u|-o[[:space:]]+nounset)' "$work/code" || return 0
  grep -oE '(^|[^[:alnum:]_])[[:alpha:]_][[:alnum:]_]*=[(]([)]|"?[$])' "$work/code" \
    | sed -E 's/^[^[:alpha:]_]//; s/=.*//' | sort -u | while IFS= read -r name; do
      sed -E "s/[$][{]${name}[[][@*][]]:?[+]\"[$][{]${name}[[][@*][]][}]\"[}]//g" "$work/code" \
        | grep -nE "[$][{]${name}[[][@*][]]" | cut -d: -f1 | while IFS= read -r n; do
          echo "$1:$n: $2"
        done
    done
}

# Findings of every rule in FILE, on stdout.
scan() {
  strip "$1"
  local i=0
  while [ "$i" -lt "$n_rules" ]; do
    if [ "${re[i]}" = @empty-array ]; then
      empty_arrays "$1" "${why[i]}"
    else
      grep -nE -e "${re[i]}" "$work/code" | cut -d: -f1 | while IFS= read -r n; do
        echo "$1:$n: ${why[i]}"
      done
    fi
    i=$((i + 1))
  done
}

# Every bad line in a one-line script (must be caught, by its rule) and
# every good line (must pass every rule); then this script as a command on
# all bad lines at once (exit 1) and on all good ones (exit 0).
self_test() {
  local i=0 failed=0 out w
  mkdir "$work/t"
  printf '#!/usr/bin/env bash\n' >"$work/t/all-bad.sh"
  printf '#!/usr/bin/env bash\nset -u\n' >"$work/t/all-ok.sh"
  while [ "$i" -lt "$n_bad" ]; do
    w=${why[${bad_rule[i]}]}
    printf '#!/usr/bin/env bash\n%s\n' "${bad[i]}" >"$work/t/bad$i.sh"
    printf '%s\n' "${bad[i]}" >>"$work/t/all-bad.sh"
    out=$(scan "$work/t/bad$i.sh")
    case $out in
      *"bad$i.sh:2: $w"*) ;;
      *) echo "self-test: rule '$w' missed its bad line: ${bad[i]}" >&2; failed=1 ;;
    esac
    i=$((i + 1))
  done
  i=0
  while [ "$i" -lt "$n_ok" ]; do
    w=${why[${ok_rule[i]}]}
    printf '#!/usr/bin/env bash\n%s\n' "${ok[i]}" >"$work/t/ok$i.sh"
    printf '%s\n' "${ok[i]}" >>"$work/t/all-ok.sh"
    out=$(scan "$work/t/ok$i.sh")
    if [ -n "$out" ]; then
      echo "self-test: the good line of rule '$w' was flagged: ${ok[i]}" >&2
      echo "$out" >&2
      failed=1
    fi
    i=$((i + 1))
  done
  out=$("$0" "$work/t/all-bad.sh" 2>&1) && { echo "self-test: a script of every bad line passed" >&2; failed=1; }
  [ "$(printf '%s\n' "$out" | grep -c 'all-bad.sh:')" -ge "$n_rules" ] \
    || { echo "self-test: fewer findings than rules in the all-bad script:" >&2; echo "$out" >&2; failed=1; }
  out=$("$0" "$work/t/all-ok.sh" 2>&1) || { echo "self-test: a script of every good line failed:" >&2; echo "$out" >&2; failed=1; }
  [ "$failed" = 0 ] || exit 1
  echo "portability self-test: $n_rules rules caught each of their $n_bad bad lines and passed their $n_ok good ones"
}

case ${1:-} in
  --self-test) self_test; exit 0 ;;
  -*) echo "portability.sh: unknown flag $1 (accepted: --self-test, or script paths)" >&2; exit 2 ;;
esac

if [ $# -eq 0 ]; then
  cd "$here/.."
  { find ci -type f -name '*.sh'; [ -f .ci/run ] && echo .ci/run; } | sort >"$work/files"
else
  printf '%s\n' "$@" >"$work/files"
fi
while IFS= read -r f; do
  [ -f "$f" ] || { echo "portability.sh: $f: no such file" >&2; exit 2; }
  scan "$f"
done <"$work/files" >"$work/findings"
if [ -s "$work/findings" ]; then
  sort -t: -k1,1 -k2,2n "$work/findings" | uniq
  echo "portability: $(wc -l <"$work/findings" | tr -d ' ') finding(s): a stock Mac has bash 3.2 and BSD tools (see ci/portability.rules)" >&2
  exit 1
fi
echo "portability: $(wc -l <"$work/files" | tr -d ' ') scripts use only bash 3.2 and BSD tools"
