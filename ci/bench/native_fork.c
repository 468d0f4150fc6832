/* Minimal native fork-per-job loop: the same system calls as test_fork_sleep
 * --ipc pipe (per job os.pipe() as CPython makes it: pipe2(O_CLOEXEC) on
 * Linux, pipe() then ioctl(FIOCLEX) x2 on macOS, see os_pipe_impl in
 * Modules/posixmodule.c and set_inheritable in Python/fileutils.c; fork; child nanosleep, write
 * 16 bytes, _exit; parent wait for any child, read to EOF, close), with no
 * runtime at all. Prints @para chunk lines so ci/bench.sh parses one format.
 * Usage: native_fork NUMCALLS NCPUS T */
#ifdef __linux__
#define _GNU_SOURCE /* pipe2 */
#endif
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "native.h"

/* os.pipe(): both ends close-on-exec, in CPython's system calls. */
static int os_pipe(int p[2]) {
#ifdef __linux__
    return pipe2(p, O_CLOEXEC);
#else
    if (pipe(p) != 0) return -1;
    if (ioctl(p[0], FIOCLEX) != 0 || ioctl(p[1], FIOCLEX) != 0) return -1;
    return 0;
#endif
}

int main(int argc, char **argv) {
    struct native_args args = native_args(argc, argv, 1000, 0.001);
    long numcalls = args.numcalls;
    int ncpus = args.ncpus;
    double T = args.T;
    struct timespec t = {(time_t)T, (long)((T - (time_t)T) * 1e9)};
    pid_t *pids = calloc(ncpus, sizeof *pids);
    int *fds = calloc(ncpus, sizeof *fds);
    printf("Using ncpus=%d parallel decorated function\n", ncpus);
    for (long done = 0; done < numcalls;) {
        long n = numcalls - done >= 100 ? 100 : numcalls - done;
        double start = now();
        for (long c = 0; c < n; c++) {
            int live = 0, next = 0;
            for (;;) {
                while (live < ncpus && next < ncpus) {
                    int p[2];
                    if (os_pipe(p) != 0) { perror("pipe"); return 1; }
                    pid_t pid = fork();
                    if (pid == 0) {
                        char rec[16] = "TFS1";
                        close(p[0]);
                        nanosleep(&t, NULL);
                        write(p[1], rec, sizeof rec);
                        _exit(0);
                    }
                    close(p[1]);
                    pids[live] = pid;
                    fds[live] = p[0];
                    live++;
                    next++;
                }
                if (live == 0) break;
                pid_t done_pid = wait(NULL);
                for (int i = 0; i < live; i++) {
                    if (pids[i] == done_pid) {
                        char buf[4096];
                        while (read(fds[i], buf, sizeof buf) > 0) {}
                        close(fds[i]);
                        pids[i] = pids[live - 1];
                        fds[i] = fds[live - 1];
                        live--;
                        break;
                    }
                }
            }
        }
        double delta = now() - start;
        chunk_line(delta, n, ncpus, T, "@para ", "ncpus");
        done += n;
    }
    return 0;
}
