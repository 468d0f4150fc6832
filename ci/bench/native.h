/* Shared by the native yardsticks of the ci/bench*.sh scripts (native_fork.c,
 * native_team.c, native_pool.c): the clock, the command line and the chunk
 * line, written once so that the three time and print alike and the scripts
 * read them like the Rust binaries. */
#ifndef NATIVE_H
#define NATIVE_H
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Usage: NAME [NUMCALLS [NCPUS [T]]]; an argument left out takes the
 * default given (NCPUS: 8, as the originals). */
struct native_args { long numcalls; int ncpus; double T; };
static inline struct native_args native_args(int argc, char **argv, long numcalls, double T) {
    struct native_args a;
    a.numcalls = argc > 1 ? atol(argv[1]) : numcalls;
    a.ncpus = argc > 2 ? atoi(argv[2]) : 8;
    a.T = argc > 3 ? atof(argv[3]) : T;
    return a;
}

/* One chunk line: `marker` is "@para " for the @parallel family and "" for
 * multiprocessing.Pool's; `per` names the workers ("ncpus", "maxworkers"). */
static inline void chunk_line(double delta, long n, int workers, double T, const char *marker, const char *per) {
    printf("%.3fs per %ld x %d %ssleep(%.3f). Cost/%s/calls is %.6fs.\n", delta, n, workers, marker, T, per,
           (delta / n - T) / workers);
    fflush(stdout);
}
#endif
