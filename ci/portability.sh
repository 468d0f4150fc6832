#!/usr/bin/env bash
# Fails when a CI script uses what a stock Mac lacks: macOS runs
# `#!/usr/bin/env bash` with bash 3.2 and has BSD commands
# (docs/development.md). ci/portability.rules holds the rules (each with a
# line it must catch and one it must pass) and, for each BSD command the
# scripts call, the options macOS's own manual page gives it; any other
# option, short or long, is a finding, and so is a command a stock Mac
# lacks. ci/portability.awk does every check in one pass.
#
# Usage: ci/portability.sh              checks ci/**/*.sh and .ci/run
#        ci/portability.sh FILE...      checks these files
#        ci/portability.sh --self-test  proves every rule catches its bad lines
#                                       and passes its good ones, and that a
#                                       line of every option of every command's
#                                       table passes (in scripts made in a
#                                       temporary directory)
# Prints FILE:LINE: WHY for each finding; exits 1 if any, 0 if none, 2 on a
# bad flag. A line that must keep a match carries "# portability: ok REASON".
#
# This script is itself bash 3.2 and BSD-tool clean (it checks itself); it
# uses only indexed arrays, indexed one element at a time.
set -eu
here=$(cd "$(dirname "$0")" && pwd -P)
rules_file=$here/portability.rules
checker=$here/portability.awk

work=$(mktemp -d "${TMPDIR:-/tmp}/portability.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Every finding in the files named in $work/files, on stdout, unsorted.
check() { # LISTFILE
  local list=() f
  while IFS= read -r f; do list[${#list[@]}]=$f; done <"$1"
  [ "${#list[@]}" -gt 0 ] || return 0
  awk -v rules="$rules_file" -f "$checker" ${list[@]+"${list[@]}"}
}

# Every bad line in a script of its own (its rule must name its line), every
# good line (no rule may flag it), a line of every option of every command's
# table (neither @options nor @order may flag it), all in one run of the
# checker; then this script as a command on all bad lines at once (exit 1)
# and on all good ones (exit 0).
self_test() {
  local n_rules=0 n_bad=0 n_ok=0 n_gen=0 failed=0 why='' line key val i out findings
  local bad=() bad_why=() ok=() nl='{NL}' newline=$'\n' mark='# <-' lines ln k rest gline
  local w_options='' w_order=''
  while IFS= read -r line || [ -n "$line" ]; do
    key=${line%%:*}
    val=${line#*:}
    val=${val#"${val%%[![:space:]]*}"}
    case $key in
      why) why=$val; n_rules=$((n_rules + 1)) ;;
      re)
        [ "$val" = @options ] && w_options=$why
        [ "$val" = @order ] && w_order=$why
        ;;
      bad) bad[n_bad]=$val; bad_why[n_bad]=$why; n_bad=$((n_bad + 1)) ;;
      ok) ok[n_ok]=$val; n_ok=$((n_ok + 1)) ;;
    esac
  done <"$rules_file"
  [ -n "$w_options" ] && [ -n "$w_order" ] || { echo "self-test: no @options or @order rule in $rules_file" >&2; exit 1; }
  mkdir "$work/t"
  printf '#!/usr/bin/env bash\n' >"$work/t/all-bad.sh"
  printf '#!/usr/bin/env bash\nset -u\n' >"$work/t/all-ok.sh"
  i=0
  while [ "$i" -lt "$n_bad" ]; do
    lines=${bad[i]//"$nl"/$newline}
    printf '#!/usr/bin/env bash\n%s\n' "$lines" >"$work/t/bad$i.sh"
    printf '%s\n' "$lines" >>"$work/t/all-bad.sh"
    echo "$work/t/bad$i.sh" >>"$work/list"
    i=$((i + 1))
  done
  i=0
  while [ "$i" -lt "$n_ok" ]; do
    lines=${ok[i]//"$nl"/$newline}
    printf '#!/usr/bin/env bash\n%s\n' "$lines" >"$work/t/ok$i.sh"
    printf '%s\n' "$lines" >>"$work/t/all-ok.sh"
    echo "$work/t/ok$i.sh" >>"$work/list"
    i=$((i + 1))
  done
  awk -v rules="$rules_file" -v gen=1 -f "$checker" >"$work/gen"
  while IFS= read -r gline; do
    printf '#!/usr/bin/env bash\n%s\n' "$gline" >"$work/t/gen$n_gen.sh"
    echo "$work/t/gen$n_gen.sh" >>"$work/list"
    n_gen=$((n_gen + 1))
  done <"$work/gen"
  findings=$(check "$work/list")

  i=0
  while [ "$i" -lt "$n_bad" ]; do
    # The expected line: the one ending in "# <-", else the first.
    ln=2 rest=${bad[i]}
    case $rest in
      *"$mark"*)
        rest=${rest%%"$mark"*}
        k=2
        while :; do
          case $rest in *"$nl"*) rest=${rest#*"$nl"}; k=$((k + 1)) ;; *) break ;; esac
        done
        ln=$k
        ;;
    esac
    case $findings in
      *"/bad$i.sh:$ln: ${bad_why[i]}"*) ;;
      *) echo "self-test: rule '${bad_why[i]}' missed its bad line (line $ln): ${bad[i]}" >&2; failed=1 ;;
    esac
    i=$((i + 1))
  done
  i=0
  while [ "$i" -lt "$n_ok" ]; do
    case $findings in
      *"/ok$i.sh:"*)
        echo "self-test: a good line was flagged: ${ok[i]}" >&2
        printf '%s\n' "$findings" | grep -F "/ok$i.sh:" >&2
        failed=1
        ;;
    esac
    i=$((i + 1))
  done
  i=0
  while [ "$i" -lt "$n_gen" ]; do
    case $findings in
      *"/gen$i.sh:2: $w_options"* | *"/gen$i.sh:2: $w_order"*)
        echo "self-test: an option of a command's own table was flagged: $(sed -n 2p "$work/t/gen$i.sh")" >&2
        printf '%s\n' "$findings" | grep -F "/gen$i.sh:" >&2
        failed=1
        ;;
    esac
    i=$((i + 1))
  done
  out=$("$0" "$work/t/all-bad.sh" 2>&1) && { echo "self-test: a script of every bad line passed" >&2; failed=1; }
  [ "$(printf '%s\n' "$out" | grep -c 'all-bad.sh:')" -ge "$n_rules" ] \
    || { echo "self-test: fewer findings than rules in the all-bad script:" >&2; echo "$out" >&2; failed=1; }
  out=$("$0" "$work/t/all-ok.sh" 2>&1) || { echo "self-test: a script of every good line failed:" >&2; echo "$out" >&2; failed=1; }
  [ "$failed" = 0 ] || exit 1
  echo "portability self-test: $n_rules rules caught each of their $n_bad bad lines and passed their $n_ok good ones;" \
    "$(grep -c '^tool:' "$rules_file") commands' tables passed $n_gen lines of every option they give"
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
done <"$work/files"
check "$work/files" | sort -t: -k1,1 -k2,2n | uniq >"$work/findings"
if [ -s "$work/findings" ]; then
  cat "$work/findings"
  echo "portability: $(wc -l <"$work/findings" | tr -d ' ') finding(s): a stock Mac has bash 3.2 and BSD tools (see ci/portability.rules)" >&2
  exit 1
fi
echo "portability: $(wc -l <"$work/files" | tr -d ' ') scripts use only bash 3.2 and BSD tools"
