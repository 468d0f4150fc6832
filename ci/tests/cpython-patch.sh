#!/usr/bin/env bash
# Checks the proposed CPython fix (upstream/cpython/free-thread-count.patch)
# without a Mac and without CPython's sources:
# 1. what the patched code calls: the macOS branch of the patch's own text
#    after the change (its context and added lines) is compiled here with
#    stand-ins for the Mach calls that log each call, and run for a task of
#    3 threads (held in a larger buffer, so that a loop past n shows) and
#    for a task_threads() that fails. Expected: task_threads() of
#    mach_task_self() (no task_for_pid()), each of the 3 thread ports given
#    back, then the array with its size in bytes (3 x 4); after a failed
#    task_threads(), nothing given back and a count of 0.
# 2. that probes::postfork's Release::All (probes/src/postfork.rs) makes the
#    same calls in the same order, which is what lets the port's
#    --post-fork-check free stand for the patch, and that its
#    Release::Nothing makes the calls the patch removes.
# 3. that git apply reads the patch: applied to its own pre-image (its
#    context and removed lines, as a file), it gives its post-image.
# Called by ci/test.sh; a second or so.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
fail() { echo "cpython-patch: FAIL: $*" >&2; exit 1; }
patch=upstream/cpython/free-thread-count.patch
postfork=probes/src/postfork.rs
[ -f "$patch" ] || fail "no $patch"
command -v "${CC:-cc}" >/dev/null || { echo "skipped: no C compiler (${CC:-cc})"; exit 0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpython-patch.XXXXXX") || exit 2
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$tmp"' EXIT

[ "$(grep -c '^@@ ' "$patch")" = 1 ] || fail "$patch: one hunk expected, found $(grep -c '^@@ ' "$patch")"
# Nothing but the diff: CPython's commit message is a file of its own.
[ "$(head -n 1 "$patch")" = "diff --git a/Modules/posixmodule.c b/Modules/posixmodule.c" ] \
  || fail "$patch: the first line is not the diff header: $(head -n 1 "$patch")"
# The hunk's lines: ' ' context, '-' removed, '+' added.
hunk() { awk 'f && /^[ +-]/ { print } /^@@ /{ f = 1 }' "$patch"; }
hunk | awk '/^[ -]/ { print substr($0, 2) }' >"$tmp/pre.c"
hunk | awk '/^[ +]/ { print substr($0, 2) }' >"$tmp/post.c"

# 1. The patched macOS branch, compiled with logging stand-ins: the lines
# before its #if (the count's declaration) and those between the #if and
# the #elif of Linux.
guard='#if defined(__APPLE__) && defined(HAVE_GETPID)'
grep -qxF "$guard" "$tmp/post.c" || fail "the hunk has no '$guard' line: $(head -n 3 "$tmp/post.c")"
grep -q '^#elif defined(__linux__)' "$tmp/post.c" || fail "the hunk no longer ends in the macOS branch: $(tail -n 3 "$tmp/post.c")"
{
  cat <<'C'
#include <stdio.h>
typedef unsigned int mach_port_t;
typedef mach_port_t thread_t;
typedef mach_port_t thread_act_t;
typedef thread_t *thread_array_t;
typedef unsigned int mach_msg_type_number_t;
typedef int kern_return_t;
typedef unsigned long vm_address_t;
typedef unsigned long vm_size_t;
typedef long Py_ssize_t;
#define KERN_SUCCESS 0
/* 3 threads, then one more port that is not the caller's to give back. */
static thread_t threads[4] = {0x203, 0x303, 0x403, 0x503};
static int threads_fail;
static mach_port_t mach_task_self(void) { return 0x103; }
static int getpid(void) { return 42; }
static kern_return_t task_for_pid(mach_port_t self, int pid, mach_port_t *task) {
    printf("task_for_pid %#x %d\n", self, pid); *task = 0x603; return KERN_SUCCESS;
}
static kern_return_t task_threads(mach_port_t task, thread_array_t *a, mach_msg_type_number_t *n) {
    printf("task_threads %#x\n", task);
    if (threads_fail) return 5;
    *a = threads; *n = 3; return KERN_SUCCESS;
}
static kern_return_t mach_port_deallocate(mach_port_t space, mach_port_t name) {
    printf("mach_port_deallocate %#x %#x\n", space, name); return KERN_SUCCESS;
}
static kern_return_t vm_deallocate(mach_port_t task, vm_address_t addr, vm_size_t size) {
    printf("vm_deallocate %#x %s %lu\n", task, addr == (vm_address_t)threads ? "array" : "elsewhere", size);
    return KERN_SUCCESS;
}
static Py_ssize_t count(void) {
C
  awk -v guard="$guard" '$0 == guard { on = 1; next } /^#elif defined\(__linux__\)/ { exit } { print }' "$tmp/post.c"
  cat <<'C'
    (void)task_for_pid; (void)getpid;
    return num_python_threads;
}
int main(void) {
    printf("count %ld\n", (long)count());
    threads_fail = 1;
    printf("count %ld\n", (long)count());
    return 0;
}
C
} >"$tmp/calls.c"
"${CC:-cc}" -std=c11 -Wall -Werror -o "$tmp/calls" "$tmp/calls.c" 2>"$tmp/cc.err" \
  || fail "the patched block does not compile with the stand-ins: $(head -n 5 "$tmp/cc.err")"
"$tmp/calls" >"$tmp/calls.log" || fail "the stand-in run failed"
expected='task_threads 0x103
mach_port_deallocate 0x103 0x203
mach_port_deallocate 0x103 0x303
mach_port_deallocate 0x103 0x403
vm_deallocate 0x103 array 12
count 3
task_threads 0x103
count 0'
[ "$(cat "$tmp/calls.log")" = "$expected" ] || fail "the patched block calls, for 3 threads then a failed task_threads():
$(cat "$tmp/calls.log")
expected:
$expected"

# 2. probes::postfork's macOS thread_count: Release::Nothing's block makes
# the calls the patch removes (task_for_pid, then task_threads of that
# task); the rest of the function (Release::All) the patch's calls, in its
# order (consecutive repeats of the loop's call folded into one), with the
# thread ports given back in a loop and the array's size counted in
# thread_act_t.
fn=$(awk '/^#\[cfg\(target_os = "macos"\)\]/ { mac = 1 } mac && /pub fn thread_count/ { on = 1 }
  on { print; depth += gsub(/\{/, "{"); depth -= gsub(/\}/, "}"); if (depth == 0) exit }' "$postfork")
[ -n "$fn" ] || fail "no macOS thread_count in $postfork"
split=$(echo "$fn" | awk '/if release == Release::Nothing \{/ { on = 1 }
  on { print "N " $0; depth += gsub(/\{/, "{"); depth -= gsub(/\}/, "}"); if (depth == 0) on = 0; next }
  { print "A " $0 }')
calls() { grep -oE '(task_for_pid|task_threads|mach_port_deallocate|vm_deallocate)[(]' | sed 's/[(]$//' | uniq | tr '\n' ' '; }
nothing=$(echo "$split" | sed -n 's/^N //p' | calls)
all=$(echo "$split" | sed -n 's/^A //p' | grep -v '^ *use ' | calls)
c_calls=$(sed -n '1,/^count /p' "$tmp/calls.log" | grep -v '^count ' | grep -oE '^[a-z_]+ ' | uniq | tr -d ' ' | tr '\n' ' ')
removed=$(hunk | sed -n 's/^-//p' | calls)
[ "$nothing" = "task_for_pid task_threads " ] || fail "$postfork's Release::Nothing calls: '$nothing'; CPython's unpatched code calls task_for_pid task_threads"
[ "$removed" = "task_for_pid task_threads " ] || fail "the patch's removed lines call '$removed', not task_for_pid task_threads"
[ "$all" = "$c_calls" ] || fail "$postfork's Release::All calls: '$all'; the patch calls: '$c_calls' (they must stay the same)"
echo "$split" | sed -n 's/^A //p' | grep -q 'task_threads(me,' || fail "$postfork: Release::All does not count the threads of mach_task_self() (task_threads(me, ...))"
echo "$split" | sed -n 's/^A //p' | awk '/for / { loop = 1 } /mach_port_deallocate/ { print (loop ? "in a loop" : "no loop"); exit }' \
  | grep -q 'in a loop' || fail "$postfork: the thread ports are not given back in a loop"
echo "$split" | sed -n 's/^A //p' | grep -q 'size_of::<thread_act_t>()' || fail "$postfork: the array's size is not n x size_of::<thread_act_t>()"

# 3. git apply reads it: pre-image -> post-image.
if command -v git >/dev/null; then
  mkdir -p "$tmp/tree/Modules"
  cp "$tmp/pre.c" "$tmp/tree/Modules/posixmodule.c"
  (cd "$tmp/tree" && git apply "$OLDPWD/$patch") 2>"$tmp/apply.err" || fail "git apply on the patch's own pre-image: $(cat "$tmp/apply.err")"
  cmp -s "$tmp/tree/Modules/posixmodule.c" "$tmp/post.c" || fail "git apply did not give the patch's post-image"
fi
echo "cpython-patch: OK (the patch calls ${c_calls% }, as probes::postfork's Release::All does)"
