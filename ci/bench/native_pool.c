/* Minimal native process pool, the yardstick of ci/bench-pools.sh: n workers
 * forked once, each with a request and a reply pipe; per call one 16-byte job
 * (a, sleep in ns) written to every worker, then every reply read in order.
 * Prints Pool-family chunk lines so that the bench script reads it like ours.
 * Usage: native_pool NUMCALLS N T */
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "native.h"

static int full(ssize_t (*op)(int, void *, size_t), int fd, void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t k = op(fd, (char *)buf + done, len - done);
        if (k <= 0) return -1;
        done += (size_t)k;
    }
    return 0;
}
static ssize_t wr(int fd, void *b, size_t n) { return write(fd, b, n); }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: native_pool NUMCALLS N T\n"); return 2; }
    long numcalls = atol(argv[1]);
    int n = atoi(argv[2]);
    double T = atof(argv[3]);
    int *req = calloc(n, sizeof(int)), *rep = calloc(n, sizeof(int));
    pid_t *pid = calloc(n, sizeof(pid_t));
    for (int i = 0; i < n; i++) {
        int q[2], r[2];
        if (pipe(q) || pipe(r)) { perror("pipe"); return 1; }
        pid[i] = fork();
        if (pid[i] == 0) {
            for (int j = 0; j < i; j++) { close(req[j]); close(rep[j]); }
            close(q[1]); close(r[0]);
            uint64_t job[2];
            while (full(read, q[0], job, sizeof job) == 0) {
                struct timespec ts = { (time_t)(job[1] / 1000000000u), (long)(job[1] % 1000000000u) };
                while (nanosleep(&ts, &ts) == -1) {}
                uint64_t res = job[0] * job[0];
                if (full(wr, r[1], &res, sizeof res)) break;
            }
            _exit(0);
        }
        close(q[0]); close(r[1]);
        req[i] = q[1]; rep[i] = r[0];
    }
    long q = numcalls / 100, rem = numcalls % 100;
    uint64_t m = 0, ns = (uint64_t)(T * 1e9 + 0.5);
    for (long c = 0; c <= q; c++) {
        long calls = c < q ? 100 : rem;
        if (calls == 0) break;
        double start = now();
        for (long k = 0; k < calls; k++) {
            for (int i = 0; i < n; i++) {
                uint64_t job[2] = { m + (uint64_t)i, ns };
                if (full(wr, req[i], job, sizeof job)) { perror("write"); return 1; }
            }
            for (int i = 0; i < n; i++) {
                uint64_t res;
                if (full(read, rep[i], &res, sizeof res)) { perror("read"); return 1; }
            }
        }
        double delta = now() - start;
        chunk_line(delta, calls, n, T, "", "maxworkers");
        m += (uint64_t)n;
    }
    for (int i = 0; i < n; i++) close(req[i]);
    for (int i = 0; i < n; i++) waitpid(pid[i], NULL, 0);
    return 0;
}
