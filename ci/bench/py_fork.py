"""Our own Python fork-per-job loop with the mechanism of test_pyparallel_sleep.py
(os.pipe, os.fork, pickle, os.wait, read to EOF), for ci/bench.sh: the cost of
the Python emulation on this machine without needing the original script.
Usage: python3 py_fork.py NUMCALLS NCPUS T"""
import os, pickle, sys, time

def call(ncpus, T, m):
    active, out, nxt = {}, [], m
    while True:
        while len(active) < ncpus and nxt < m + ncpus:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                time.sleep(T)
                os.write(w, pickle.dumps((True, None), protocol=pickle.HIGHEST_PROTOCOL))
                os.close(w)
                os._exit(0)
            os.close(w)
            active[pid] = r
            nxt += 1
        if not active:
            return out
        pid, _ = os.wait()
        r = active.pop(pid)
        data = b""
        while chunk := os.read(r, 4096):
            data += chunk
        os.close(r)
        out.append(pickle.loads(data)[1])

numcalls, ncpus, T = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
print(f"Using ncpus={ncpus} parallel decorated function")
done = 0
while done < numcalls:
    n = min(100, numcalls - done)
    start = time.perf_counter()
    for _ in range(n):
        call(ncpus, T, 0)
    delta = time.perf_counter() - start
    print(f"{delta:.3f}s per {n} x {ncpus} @para sleep({T:.3f}). Cost/ncpus/calls is {(delta/n - T)/ncpus:.6f}s.", flush=True)
    done += n
