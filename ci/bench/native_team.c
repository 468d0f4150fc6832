/* Minimal native thread team for ci/bench-threads.sh: NCPUS-1 worker threads
 * created once plus the main thread as member 0, member a runs iteration a
 * (usleep), a start and an end barrier per call (mutex + condvar, as macOS
 * has no pthread_barrier). Prints @para chunk lines.
 * Usage: native_team NUMCALLS NCPUS T */
#include <pthread.h>
#include <unistd.h>

#include "native.h"

typedef struct { pthread_mutex_t m; pthread_cond_t c; int n, waiting; unsigned long gen; } barrier_t;
static void barrier_wait(barrier_t *b) {
    pthread_mutex_lock(&b->m);
    unsigned long gen = b->gen;
    if (++b->waiting == b->n) { b->waiting = 0; b->gen++; pthread_cond_broadcast(&b->c); }
    else while (gen == b->gen) pthread_cond_wait(&b->c, &b->m);
    pthread_mutex_unlock(&b->m);
}
static barrier_t start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
static barrier_t end = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
static useconds_t usec;
static volatile int stop;

static void *member(void *arg) {
    (void)arg;
    for (;;) {
        barrier_wait(&start);
        if (stop) return NULL;
        usleep(usec);
        barrier_wait(&end);
    }
}
int main(int argc, char **argv) {
    struct native_args args = native_args(argc, argv, 100, 0.005);
    long numcalls = args.numcalls;
    int ncpus = args.ncpus;
    double T = args.T;
    usec = (useconds_t)(T * 1000000);
    start.n = end.n = ncpus;
    pthread_t *t = calloc(ncpus, sizeof *t);
    for (int a = 1; a < ncpus; a++) pthread_create(&t[a], NULL, member, NULL);
    printf("I am set up to use %d threads.\n", ncpus);
    for (long done = 0; done < numcalls;) {
        long n = numcalls - done >= 100 ? 100 : numcalls - done;
        double s = now();
        for (long c = 0; c < n; c++) { barrier_wait(&start); usleep(usec); barrier_wait(&end); }
        double delta = now() - s;
        chunk_line(delta, n, ncpus, T, "@para ", "ncpus");
        done += n;
    }
    stop = 1;
    barrier_wait(&start);
    for (int a = 1; a < ncpus; a++) pthread_join(t[a], NULL);
    return 0;
}
