/* How long --native stops a thread, per unwind (bench/native.py measures
 * the sampler's CPU instead). Attaches to PID, then N times: one walk of the
 * Python stacks and one unwind of the first thread, 5 ms apart; prints the
 * median and 90th percentile of the time the thread was stopped (stop to
 * detach) and of the time it took to stop once interrupted.
 *
 *   cd BUILD && gcc -std=c11 -O2 -I. -I../src -include config.h \
 *       ../bench/native_hold.c -o native_hold libpytop.a \
 *       $(pkg-config --libs libelf zlib libunwind-generic) -lstdc++ -lpthread
 *   ./native_hold PID 600
 */
#include "config.h"
#include "python/discover.h"
#include "native/native.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv)
{
    pid_t pid = atoi(argv[1]);
    int n = argc > 2 ? atoi(argv[2]) : 600;
    struct py_target *t;
    if (py_target_open(pid, PY_LAYOUT_AUTO, &t)) return 1;
    struct native_stacks *ns;
    if (native_stacks_new(pid, t->binary, t->version.major, 0, &ns)) return 2;
    struct py_sample s; py_sample_init(&s);
    struct merged_stack m; merged_stack_init(&m);
    double *held = calloc(n, sizeof *held), *lat = calloc(n, sizeof *lat);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (py_walk(&t->walker, &s) || s.nthreads < 1) continue;
        native_stacks_begin_sample(ns);
        struct native_stats a, b; native_stacks_stats(ns, &a);
        struct py_thread *th = &s.threads[0];
        if (native_stacks_thread(ns, th->tid, th->nframes ? &s.frames[th->first_frame] : NULL, th->nframes, NULL, NULL, &m) == 0) {
            native_stacks_stats(ns, &b);
            held[k] = (b.held_ns - a.held_ns) / 1000.0; lat[k] = (b.stop_wait_ns - a.stop_wait_ns) / 1000.0; k++;
        }
        struct timespec ts = {0, 5000000}; nanosleep(&ts, NULL);
    }
    qsort(held, k, sizeof *held, cmp); qsort(lat, k, sizeof *lat, cmp);
    struct native_stats st; native_stacks_stats(ns, &st);
    printf("%s: %d unwinds; stopped median %.1f us (p90 %.1f); interrupt-to-stop median %.1f us (p90 %.1f); %lu mismatches; %zu merged frames\n",
           t->version.text, k, held[k / 2], held[k * 9 / 10], lat[k / 2], lat[k * 9 / 10], st.mismatches, m.n);
    return 0;
}
