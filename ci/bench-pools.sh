#!/usr/bin/env bash
# Benchmark (not a test): median Cost/maxworkers/calls of test_pool_sleep for
# each start method (and test_spawn_sleep), next to a minimal native C pool
# (ci/bench/native_pool.c: n forked workers over pipes) and to Python's
# multiprocessing.Pool running the same jobs, all in one run on this machine;
# plus the cost of one call of test_spawn_sleep --per-call (a new spawned pool
# per call), each spawn path (--spawn-via posix-spawn and fork-exec: CPython
# uses the second on macOS, the first's vfork-like clone on Linux).
# Goals: within 1.3x of the native pool, at most 1/4 of Python's.
# Usage: ci/bench-pools.sh [NUMCALLS [MAXWORKERS [T]]]   (defaults 1000 8 0.001)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=ci/bench/lib.sh
. ci/bench/lib.sh
numcalls=${1:-1000} workers=${2:-8} T=${3:-0.001}
bench_workdir

cargo build --release -q -p test_pool_sleep -p test_spawn_sleep
cc -O2 -o "$work/native_pool" ci/bench/native_pool.c

# Python's multiprocessing.Pool, the mechanism of test_pool_fork_sleep.py
# (pool.map of maxworkers sleeps per call, chunks of 100), our own code.
py_pool() {
  python3 -c '
import multiprocessing as mp, sys, time
if __name__ == "__main__":
    method, numcalls, w, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    mp.set_start_method(method, force=True)
    q, r = divmod(numcalls, 100)
    with mp.Pool(processes=w) as pool:
        for n in [100] * q + ([r] if r else []):
            start = time.perf_counter()
            for _ in range(n):
                # time.sleep itself is the job: a builtin pickles by name, so
                # spawn and forkserver workers find it without a __main__ file.
                pool.map(time.sleep, [T] * w)
            delta = time.perf_counter() - start
            print(f"{delta:.3f}s per {n} x {w} sleep({T:.3f}). Cost/maxworkers/calls is {(delta/n - T)/w:.6f}s.")
' "$@"
}

pool=target/release/test_pool_sleep
spawn=target/release/test_spawn_sleep
args=(--numcalls "$numcalls" --maxworkers "$workers" --sleep "$T")
have_py=0
command -v python3 >/dev/null && have_py=1
# Interleave the runs (3 rounds) so that machine noise hits every contender alike.
for _ in 1 2 3; do
  "$work/native_pool" "$numcalls" "$workers" "$T" >>"$work/native.txt"
  "$pool" "${args[@]}" --start fork >>"$work/fork.txt"
  "$pool" "${args[@]}" --start forkserver >>"$work/forkserver.txt"
  "$spawn" "${args[@]}" >>"$work/spawn.txt"
  for via in posix-spawn fork-exec; do
    "$spawn" "${args[@]}" --spawn-via "$via" >>"$work/spawn_$via.txt"
    "$spawn" --per-call --numcalls 10 --maxworkers "$workers" --sleep "$T" --spawn-via "$via" >>"$work/percall_$via.txt"
  done
  "$pool" "${args[@]}" --api executor >>"$work/executor.txt"
  "$spawn" --per-call --numcalls 10 --maxworkers "$workers" --sleep "$T" >>"$work/percall.txt"
  if [ "$have_py" = 1 ]; then
    for m in fork forkserver spawn; do
      py_pool "$m" "$numcalls" "$workers" "$T" >>"$work/py_$m.txt"
    done
  fi
done
# Median cost per job of contender $1 (bash 3.2 has no associative arrays).
cost() { median_in "$work/$1.txt"; }
# Median seconds per call of a --per-call transcript.
per_call() { grep -o 'workers\. [0-9.]*s\.' "$1" | sed 's/workers\. //; s/s\.$//' | median_of; }
percall=$(per_call "$work/percall.txt")
percall_cost=$(grep -oE 'Cost/ncpus is -?[0-9.]*s' "$work/percall.txt" | sed 's/.* is //; s/s$//' | median_of)
native=$(cost native)

echo "## Worker pools: median Cost/maxworkers/calls ($numcalls calls x $workers jobs, T=$T, 3 interleaved rounds)"
echo
echo "| contender | median cost/job (s) | / native pool | / Python Pool (same method) |"
echo "|---|---|---|---|"
row() { local c; c=$(cost "$2"); echo "| $1 | $c | $(ratio "$c" "$native") | ${3:--} |"; }
row "native C pool (n forked workers, pipes)" native
row "test_pool_sleep --start fork" fork "$(ratio "$(cost fork)" "$(cost py_fork)")"
row "test_pool_sleep --start forkserver" forkserver "$(ratio "$(cost forkserver)" "$(cost py_forkserver)")"
row "test_spawn_sleep (spawned pool)" spawn "$(ratio "$(cost spawn)" "$(cost py_spawn)")"
row "test_spawn_sleep --spawn-via posix-spawn" spawn_posix-spawn
row "test_spawn_sleep --spawn-via fork-exec" spawn_fork-exec
row "test_pool_sleep --api executor (fork)" executor
row "Python multiprocessing.Pool, fork" py_fork
row "Python multiprocessing.Pool, forkserver" py_forkserver
row "Python multiprocessing.Pool, spawn" py_spawn
echo
echo "test_spawn_sleep --per-call (new spawned pool of $workers per call): median $percall s per call, Cost/ncpus $percall_cost s"
for via in posix-spawn fork-exec; do
  echo "test_spawn_sleep --per-call --spawn-via $via: median $(per_call "$work/percall_$via.txt") s per call"
done
