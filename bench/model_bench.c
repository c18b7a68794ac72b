/* Memory and speed of the rolling model (src/model/model.h) and of the
 * stack dictionary (src/core/stacks.h) on synthetic samples.
 *
 * Built by bench/run.py against a build's libpytop.a:
 *   cc -O2 -std=c11 -Isrc -include BUILD/config.h \
 *      bench/model_bench.c BUILD/libpytop.a -lelf -lz -lpthread -o model_bench
 *
 * Usage: model_bench [million|long|limits]...   (all three by default)
 *
 *  million  1,000,000 samples x 4 threads, 1 ms apart, over 1,000 distinct
 *           stacks of depth 20, default config (window 10 s, retention
 *           300 s) and retention 60 s.
 *  long     a simulated 10-minute run at 1 kHz with 10 threads: 600,000
 *           samples x 10 threads, time advancing 1 ms a sample, each thread
 *           over 500 of the stacks (5,000 (thread, stack) pairs); peak and
 *           final memory with the default config and with retention 60 s,
 *           and with the default config when resident memory moves at
 *           every sample (one thread a sample credited with 4 KiB of
 *           growth or release, in turn), the most memory entries the
 *           sampler makes with one process.
 *  limits   the dictionary filled to every STACKS_MAX_* bound.
 *
 * Output: one "key value" line per figure, for run.py to parse. */
#include "core/sample.h"
#include "core/stacks.h"
#include "model/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MS 1000000ull
#define SEC 1000000000ull

#define NFRAMES 200
#define NSTACKS 1000
#define DEPTH 20

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)(((rng * 0x2545F4914F6CDD1Dull) >> 33) % n);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "model_bench: %s failed (%d)\n", what, rc);
    exit(1);
}

/* NSTACKS distinct call paths of exactly DEPTH frames over NFRAMES frames. */
static struct stack_table *make_dict(uint32_t *stacks)
{
    struct stack_table *t = stack_table_new();
    if (!t)
        die("stack_table_new", -ENOMEM);
    uint32_t file;
    int rc = stack_table_string(t, "bench/app.py", 12, &file);
    if (rc)
        die("stack_table_string", rc);
    uint32_t frames[NFRAMES];
    for (int i = 0; i < NFRAMES; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "function_%d", i);
        struct stack_frame f;
        if ((rc = stack_table_string(t, name, (size_t)n, &f.function)) != 0)
            die("stack_table_string", rc);
        f.file = file;
        f.line = 10 * i + 3;
        f.firstline = 10 * i;
        if ((rc = stack_table_frame(t, &f, &frames[i])) != 0)
            die("stack_table_frame", rc);
    }
    for (int s = 0; s < NSTACKS; s++) {
        /* A shared trunk of 5 frames (like main() -> run() -> ...), then
         * random frames: distinct paths that still share prefixes. */
        uint32_t node = 0;
        for (int d = 0; d < DEPTH; d++) {
            uint32_t fr = d < 5 ? frames[d] : frames[rnd(NFRAMES)];
            if ((rc = stack_table_node(t, node, fr, &node)) != 0)
                die("stack_table_node", rc);
        }
        stacks[s] = node;
    }
    /* The leaves are distinct (a repeat would make this a smaller test). */
    for (int a = 0; a < NSTACKS; a++)
        for (int b = a + 1; b < NSTACKS; b++)
            if (stacks[a] == stacks[b])
                die("distinct stacks", -EINVAL);
    return t;
}

struct run_result {
    size_t peak, final, at_half;
    uint64_t samples, window_samples, dropped;
    double seconds;
    double cpu_seconds;         /* this thread's CPU time: steadier on a shared machine */
};

/* nsamples samples of nthreads threads, 1 ms apart; thread j uses the
 * stacks [j * spread, j * spread + per_thread) modulo NSTACKS. With mem,
 * sample i credits 4 KiB to thread i % nthreads, growth on odd samples
 * and release on even ones. */
static struct run_result run_model(const struct stack_table *t, const uint32_t *stacks,
                                   uint64_t retention_ns, uint32_t nthreads,
                                   uint64_t nsamples, uint32_t per_thread, uint32_t spread,
                                   int mem)
{
    struct model_config cfg = { .window_ns = 10 * SEC, .retention_ns = retention_ns };
    struct model *m = model_new(&cfg, t);
    if (!m)
        die("model_new", -ENOMEM);
    struct sample_thread th[64];
    struct run_result r;
    memset(&r, 0, sizeof r);
    struct model_totals tot;
    double t0 = now_s(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (uint64_t i = 1; i <= nsamples; i++) {
        for (uint32_t j = 0; j < nthreads; j++) {
            uint32_t k = (j * spread + rnd(per_thread)) % NSTACKS;
            th[j] = (struct sample_thread){ .tid = 1000 + j, .name = 0, .stack = stacks[k],
                                            .flags = SAMPLE_RUNNING, .cpu_ns = 700000,
                                            .wall_ns = MS };
        }
        if (mem) {
            struct sample_thread *credited = &th[i % nthreads];
            if (i % 2)
                credited->mem_grow = 4096;
            else
                credited->mem_release = 4096;
        }
        struct sample s = { .time_ns = i * MS, .pid = 1, .nthreads = nthreads, .threads = th };
        int rc = model_add(m, &s);
        if (rc)
            die("model_add", rc);
        /* model_totals is O(1): track the peak at every sample. */
        model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
        if (tot.memory_bytes > r.peak)
            r.peak = tot.memory_bytes;
        if (i == nsamples / 2)
            r.at_half = tot.memory_bytes;
    }
    r.seconds = now_s() - t0;
    r.cpu_seconds = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    r.final = tot.memory_bytes;
    r.samples = tot.samples;
    r.window_samples = tot.window_samples;
    r.dropped = model_ring_dropped(m);
    model_free(m);
    return r;
}

static void report(const char *key, const struct run_result *r, uint32_t nthreads)
{
    printf("%s.peak_bytes %zu\n", key, r->peak);
    printf("%s.final_bytes %zu\n", key, r->final);
    printf("%s.half_bytes %zu\n", key, r->at_half);
    printf("%s.samples %llu\n", key, (unsigned long long)r->samples);
    printf("%s.window_samples %llu\n", key, (unsigned long long)r->window_samples);
    printf("%s.dropped %llu\n", key, (unsigned long long)r->dropped);
    printf("%s.seconds %.3f\n", key, r->seconds);
    printf("%s.ns_per_sample %.1f\n", key, r->seconds * 1e9 / (double)r->samples);
    printf("%s.ns_per_entry %.1f\n", key, r->seconds * 1e9 / (double)r->samples / nthreads);
    printf("%s.cpu_ns_per_sample %.1f\n", key, r->cpu_seconds * 1e9 / (double)r->samples);
    fflush(stdout);
}

static void dict_report(const char *key, const struct stack_table *t)
{
    printf("%s.dict_bytes %zu\n", key, stack_table_memory(t));
    printf("%s.dict_strings %u\n", key, stack_table_string_count(t));
    printf("%s.dict_frames %u\n", key, stack_table_frame_count(t));
    printf("%s.dict_nodes %u\n", key, stack_table_node_count(t));
}

static void bench_million(void)
{
    uint32_t stacks[NSTACKS];
    struct stack_table *t = make_dict(stacks);
    dict_report("million", t);
    struct run_result r = run_model(t, stacks, 300 * SEC, 4, 1000000, NSTACKS, 0, 0);
    report("million.default", &r, 4);
    r = run_model(t, stacks, 60 * SEC, 4, 1000000, NSTACKS, 0, 0);
    report("million.ret60", &r, 4);
    stack_table_free(t);
}

static void bench_long(void)
{
    uint32_t stacks[NSTACKS];
    struct stack_table *t = make_dict(stacks);
    dict_report("long", t);
    /* 10 threads x 500 stacks each, offset by 100: 5,000 pairs. */
    struct run_result r = run_model(t, stacks, 300 * SEC, 10, 600000, 500, 100, 0);
    report("long.default", &r, 10);
    r = run_model(t, stacks, 60 * SEC, 10, 600000, 500, 100, 0);
    report("long.ret60", &r, 10);
    r = run_model(t, stacks, 300 * SEC, 10, 600000, 500, 100, 1);
    report("long.mem", &r, 10);
    stack_table_free(t);
}

/* Fill the dictionary to each bound: strings (count and bytes), frames,
 * nodes; then try one more of each and expect -ENOSPC. */
static void bench_limits(void)
{
    double t0 = now_s();
    struct stack_table *t = stack_table_new();
    if (!t)
        die("stack_table_new", -ENOMEM);
    /* Strings: STACKS_MAX_STRINGS of them, sized so their bytes stay just
     * under STACKS_MAX_STRING_BYTES; both bounds are then nearly reached. */
    size_t per = STACKS_MAX_STRING_BYTES / STACKS_MAX_STRINGS - 1;   /* 63 */
    char buf[256];
    memset(buf, 'x', sizeof buf);
    uint32_t n = 1, id;   /* "" is string 0 */
    int rc = 0;
    while (n < STACKS_MAX_STRINGS) {
        int k = snprintf(buf, sizeof buf, "%u_", n);
        buf[k] = 'x';
        rc = stack_table_string(t, buf, per, &id);
        if (rc)
            break;
        n++;
    }
    printf("limits.strings_added %u\n", stack_table_string_count(t));
    printf("limits.string_rc %d\n", rc);
    printf("limits.after_strings_bytes %zu\n", stack_table_memory(t));
    rc = stack_table_string(t, "one more", 8, &id);
    printf("limits.string_over_rc %d\n", rc);
    /* Frames: (string i, string i+1, line) over the strings. */
    uint32_t nstr = stack_table_string_count(t);
    uint32_t nf = 0;
    for (uint32_t i = 0; nf < STACKS_MAX_FRAMES; i++) {
        struct stack_frame f = { .function = 1 + i % (nstr - 1), .file = 1 + (i / 7) % (nstr - 1),
                                 .line = (int32_t)(i / 1000), .firstline = 1 };
        rc = stack_table_frame(t, &f, &id);
        if (rc)
            break;
        nf = stack_table_frame_count(t);
    }
    printf("limits.frames_added %u\n", stack_table_frame_count(t));
    printf("limits.frame_rc %d\n", rc);
    printf("limits.after_frames_bytes %zu\n", stack_table_memory(t));
    /* Nodes: chains of 64 frames, each chain a new path. */
    uint32_t nfr = stack_table_frame_count(t);
    uint32_t node = 0, i = 0;
    for (; i < 4 * STACKS_MAX_NODES; i++) {
        uint32_t child;
        /* Chains start at the root every 64 nodes; after the frames wrap
         * round, an offset keeps every (parent, frame) new. */
        rc = stack_table_node(t, (i % 64) ? node : 0, (i + i / nfr) % nfr, &child);
        if (rc)
            break;
        node = child;
    }
    printf("limits.nodes_added %u\n", stack_table_node_count(t));
    printf("limits.node_rc %d\n", rc);
    dict_report("limits", t);
    printf("limits.seconds %.2f\n", now_s() - t0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("limits.maxrss_bytes %ld\n", (long)ru.ru_maxrss * 1024);
    fflush(stdout);
    stack_table_free(t);
}

int main(int argc, char **argv)
{
    int all = argc < 2;
    for (int i = 1; i < argc || all; i++) {
        const char *what = all ? NULL : argv[i];
        if (all || !strcmp(what, "million"))
            bench_million();
        if (all || !strcmp(what, "long"))
            bench_long();
        if (all || !strcmp(what, "limits"))
            bench_limits();
        if (!all && strcmp(what, "million") && strcmp(what, "long") && strcmp(what, "limits")) {
            fprintf(stderr, "usage: model_bench [million|long|limits]...\n");
            return 2;
        }
        if (all)
            break;
    }
    return 0;
}
