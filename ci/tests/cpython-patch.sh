#!/usr/bin/env bash
# Checks the proposed CPython fix (upstream/cpython/free-thread-count.patch)
# without a Mac and without CPython's sources:
# 1. what the patched code calls: the patch's own text after the change (its
#    context and added lines) is compiled here with stand-ins for the Mach
#    calls that log each call, and run for a task of 3 threads and for a
#    task_threads() that fails. Expected: each thread port given back, then
#    the array with its size in bytes, then the task port; after a failed
#    task_threads(), the task port only.
# 2. that probes::postfork's Release::All (probes/src/postfork.rs) makes the
#    same calls in the same order, which is what lets the port's
#    --post-fork-check free stand for the patch (the patch's vm_deallocate is
#    libsyscall's call of mach_vm_deallocate).
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
# The hunk's lines: ' ' context, '-' removed, '+' added.
hunk() { awk 'f && /^[ +-]/ { print } /^@@ /{ f = 1 }' "$patch"; }
hunk | awk '/^[ -]/ { print substr($0, 2) }' >"$tmp/pre.c"
hunk | awk '/^[ +]/ { print substr($0, 2) }' >"$tmp/post.c"

# 1. The patched block, compiled with logging stand-ins. The hunk starts
# inside `if (task_for_pid(...) == KERN_SUCCESS) {`, after the declarations
# of the array and its count, and its macOS part ends before `#elif`.
grep -q '^#elif defined(__linux__)' "$tmp/post.c" || fail "the hunk no longer ends in the macOS branch: $(tail -n 3 "$tmp/post.c")"
{
  cat <<'C'
#include <stdio.h>
typedef unsigned int mach_port_t;
typedef mach_port_t thread_t;
typedef thread_t *thread_array_t;
typedef unsigned int mach_msg_type_number_t;
typedef int kern_return_t;
typedef unsigned long vm_address_t;
typedef unsigned long vm_size_t;
typedef long Py_ssize_t;
#define KERN_SUCCESS 0
static thread_t threads[3] = {0x203, 0x303, 0x403};
static int threads_fail;
static kern_return_t task_for_pid(mach_port_t self, int pid, mach_port_t *task) {
    (void)self; (void)pid; *task = 0x103; return KERN_SUCCESS;
}
static kern_return_t task_threads(mach_port_t task, thread_array_t *a, mach_msg_type_number_t *n) {
    (void)task;
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
    Py_ssize_t num_python_threads = 0;
    mach_port_t macos_self = 0x103;
    mach_port_t macos_task;
    if (task_for_pid(macos_self, 42, &macos_task) == KERN_SUCCESS) {
        thread_array_t macos_threads;
        mach_msg_type_number_t macos_n_threads;
C
  sed -n '/^#elif defined(__linux__)/q; p' "$tmp/post.c"
  cat <<'C'
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
expected='mach_port_deallocate 0x103 0x203
mach_port_deallocate 0x103 0x303
mach_port_deallocate 0x103 0x403
vm_deallocate 0x103 array 12
mach_port_deallocate 0x103 0x103
count 3
mach_port_deallocate 0x103 0x103
count 0'
[ "$(cat "$tmp/calls.log")" = "$expected" ] || fail "the patched block calls, for 3 threads then a failed task_threads():
$(cat "$tmp/calls.log")
expected:
$expected"

# 2. The same calls, in the same order, in probes::postfork's Release::All
# block (consecutive repeats of the loop's call folded into one).
rust_calls=$(awk '
  /if release == Release::All \{/ { on = 1 }
  on { print; depth += gsub(/\{/, "{"); depth -= gsub(/\}/, "}"); if (depth == 0) exit }
' "$postfork" | grep -oE '(mach_port_deallocate|mach_vm_deallocate|vm_deallocate)[(]' \
  | sed -e 's/[(]$//' -e 's/^mach_vm_deallocate$/vm_deallocate/' | tr '\n' ' ')
c_calls=$(grep -oE '^(mach_port_deallocate|vm_deallocate) ' "$tmp/calls.log" | head -n 5 | uniq | tr -d ' ' | tr '\n' ' ')
[ -n "$rust_calls" ] || fail "no Release::All block with deallocations found in $postfork"
[ "$rust_calls" = "$c_calls" ] || fail "$postfork's Release::All calls: $rust_calls; the patch calls: $c_calls (they must stay the same)"
awk '/if release == Release::All \{/ { on = 1 } on && /for / { loop = 1 } on && /mach_port_deallocate/ { print (loop ? "in a loop" : "no loop"); exit }' "$postfork" \
  | grep -q 'in a loop' || fail "$postfork: the thread ports are not given back in a loop"

# 3. git apply reads it: pre-image -> post-image.
if command -v git >/dev/null; then
  mkdir -p "$tmp/tree/Modules"
  cp "$tmp/pre.c" "$tmp/tree/Modules/posixmodule.c"
  (cd "$tmp/tree" && git apply "$OLDPWD/$patch") 2>"$tmp/apply.err" || fail "git apply on the patch's own pre-image: $(cat "$tmp/apply.err")"
  cmp -s "$tmp/tree/Modules/posixmodule.c" "$tmp/post.c" || fail "git apply did not give the patch's post-image"
fi
echo "cpython-patch: OK (the patch gives back ${c_calls% }, as probes::postfork's Release::All does)"
