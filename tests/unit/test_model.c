/* Unit tests for src/model: own and total per function, recursion, CPU and
 * wall weights, the sliding window and its ring, filters, the call tree,
 * lines, reset, determinism, threads, memory over a long run, a
 * randomized cross-check against a brute-force recount of the samples, and
 * a step-by-step one of the ring's side words (times, wide values, memory)
 * through ring limits, window changes and resets. */
#include "unit.h"

#include "core/stacks.h"
#include "model/model.h"
#include "model/phases.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define MS 1000000ull
#define SEC 1000000000ull

/* ---- fixtures ----------------------------------------------------------- */

static uint32_t str_id(struct stack_table *t, const char *s)
{
    uint32_t id = 0;
    if (stack_table_string(t, s, strlen(s), &id) != 0)
        abort();
    return id;
}

static uint32_t frame_id(struct stack_table *t, const char *fn, const char *file, int line,
                         int firstline)
{
    struct stack_frame f = { str_id(t, fn), str_id(t, file), line, firstline };
    uint32_t id = 0;
    if (stack_table_frame(t, &f, &id) != 0)
        abort();
    return id;
}

/* A stack from frame ids, root first; n may be 0 (the empty stack). */
static uint32_t stack_of(struct stack_table *t, const uint32_t *frames, size_t n)
{
    uint32_t node = 0;
    for (size_t i = 0; i < n; i++)
        if (stack_table_node(t, node, frames[i], &node) != 0)
            abort();
    return node;
}

#define STACK(t, ...) stack_of((t), (const uint32_t[]){ __VA_ARGS__ }, \
                               sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))

/* One sample with one thread. */
static int add1(struct model *m, uint64_t time, uint32_t tid, uint32_t stack, uint32_t flags,
                uint64_t cpu, uint64_t wall)
{
    struct sample_thread th = { tid, 0, stack, flags, cpu, wall, 0, 0 };
    struct sample s = { .time_ns = time, .pid = 1, .nthreads = 1, .threads = &th };
    return model_add(m, &s);
}

static struct model *new_model(const struct stack_table *t, uint64_t window, uint64_t retention)
{
    struct model_config cfg = { window, retention };
    struct model *m = model_new(&cfg, t);
    if (!m)
        abort();
    return m;
}

static const char *frame_function(const struct stack_table *t, uint32_t frame)
{
    const struct stack_frame *f = stack_table_get_frame(t, frame);
    return f ? stack_table_str(t, f->function) : "";
}

/* The row for function name (and line, when line >= 0), or NULL. */
static const struct model_function_row *fn_find(const struct stack_table *t,
                                                const struct model_function_row *rows,
                                                size_t n, const char *name, int line)
{
    for (size_t i = 0; i < n; i++) {
        const struct stack_frame *f = stack_table_get_frame(t, rows[i].frame);
        if (strcmp(frame_function(t, rows[i].frame), name) == 0 && (line < 0 || f->line == line))
            return &rows[i];
    }
    return NULL;
}

static const struct model_node_row *node_find(const struct model_node_row *rows, size_t n,
                                              uint32_t node)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].node == node)
            return &rows[i];
    return NULL;
}

static const struct model_thread_row *thread_find(const struct model_thread_row *rows,
                                                  size_t n, uint32_t tid)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].tid == tid)
            return &rows[i];
    return NULL;
}

static struct model_function_row *functions(const struct model *m, enum model_range r,
                                            enum model_weight w, const struct model_filter *f,
                                            int by_line, size_t *n)
{
    struct model_function_row *rows = NULL;
    if (model_functions(m, r, w, f, by_line, &rows, n) != 0)
        abort();
    return rows;
}

static struct model_node_row *tree(const struct model *m, enum model_range r,
                                   enum model_weight w, const struct model_filter *f, size_t *n)
{
    struct model_node_row *rows = NULL;
    if (model_tree(m, r, w, f, &rows, n) != 0)
        abort();
    return rows;
}

static struct model_thread_row *threads(const struct model *m, enum model_range r, size_t *n)
{
    struct model_thread_row *rows = NULL;
    if (model_threads(m, r, &rows, n) != 0)
        abort();
    return rows;
}

static struct stack_weight *stacks(const struct model *m, enum model_range r,
                                   const struct model_filter *f, size_t *n)
{
    struct stack_weight *rows = NULL;
    if (model_stacks(m, r, f, &rows, n) != 0)
        abort();
    return rows;
}

static uint64_t stacks_samples(const struct model *m, enum model_range r,
                               const struct model_filter *f)
{
    size_t n;
    struct stack_weight *rows = stacks(m, r, f, &n);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += rows[i].samples;
    free(rows);
    return sum;
}

/* ---- own and total ------------------------------------------------------ */

static void test_nested(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fmain = frame_id(t, "main", "app.py", 10, 1);
    uint32_t fa = frame_id(t, "a", "app.py", 20, 18);
    uint32_t fb = frame_id(t, "b", "lib.py", 5, 3);
    uint32_t fc = frame_id(t, "c", "lib.py", 9, 8);
    uint32_t s_ab = STACK(t, fmain, fa, fb), s_a = STACK(t, fmain, fa), s_c = STACK(t, fmain, fc);
    struct model *m = new_model(t, 0, 0);

    for (int i = 0; i < 3; i++)
        add1(m, (uint64_t)(i + 1) * MS, 7, s_ab, SAMPLE_RUNNING, 10, 10);
    add1(m, 4 * MS, 7, s_a, SAMPLE_RUNNING, 10, 10);
    add1(m, 5 * MS, 7, s_c, SAMPLE_RUNNING, 10, 10);
    add1(m, 6 * MS, 7, s_c, SAMPLE_RUNNING, 10, 10);

    size_t n;
    struct model_function_row *rows = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &n);
    CHECK_INT(n, 4, "nested: four functions");
    const struct model_function_row *r;
    r = fn_find(t, rows, n, "main", -1);
    CHECK(r && r->own_samples == 0 && r->total_samples == 6 && r->total_ns == 60 && r->own_ns == 0,
          "nested: main own 0, total everything");
    r = fn_find(t, rows, n, "a", -1);
    CHECK(r && r->own_samples == 1 && r->total_samples == 4 && r->own_ns == 10 && r->total_ns == 40,
          "nested: a own 1, total 4 (itself and under b)");
    r = fn_find(t, rows, n, "b", -1);
    CHECK(r && r->own_samples == 3 && r->total_samples == 3 && r->own_ns == 30,
          "nested: b own = total = 3");
    r = fn_find(t, rows, n, "c", -1);
    CHECK(r && r->own_samples == 2 && r->total_samples == 2, "nested: c own = total = 2");
    uint64_t own = 0;
    for (size_t i = 0; i < n; i++)
        own += rows[i].own_ns;
    CHECK_INT(own, 60, "nested: own times add up to the total");
    free(rows);

    /* The empty stack counts in totals, as a row of its own. */
    add1(m, 7 * MS, 7, 0, 0, 0, 10);
    rows = functions(m, MODEL_TOTAL, MODEL_WALL, NULL, 0, &n);
    r = fn_find(t, rows, n, "main", -1);
    CHECK(n == 5 && r && r->total_ns == 60, "nested: an empty stack adds no function's time");
    r = NULL;
    for (size_t i = 0; i < n; i++)
        if (rows[i].frame == MODEL_FRAME_NONE)
            r = &rows[i];
    CHECK(r && r->own_ns == 10 && r->total_ns == 10 && r->own_samples == 1,
          "nested: the empty stack is the no-frame row (MODEL_FRAME_NONE)");
    free(rows);
    struct model_totals tot;
    model_totals(m, MODEL_TOTAL, MODEL_WALL, &tot);
    CHECK(tot.samples == 7 && tot.wall_ns == 70 && tot.cpu_ns == 60,
          "nested: totals count the empty stack");
    model_free(m);
    stack_table_free(t);
}

static void test_recursion(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fmain = frame_id(t, "main", "r.py", 3, 1);
    uint32_t ff = frame_id(t, "fib", "r.py", 7, 6);
    uint32_t ff2 = frame_id(t, "fib", "r.py", 8, 6);    /* another line, same function */
    uint32_t fg = frame_id(t, "g", "r.py", 12, 11);
    uint32_t deep = STACK(t, fmain, ff, ff2, ff, ff2, ff, fg);
    uint32_t leaf = STACK(t, fmain, ff, ff2, ff);
    struct model *m = new_model(t, 0, 0);
    for (int i = 0; i < 4; i++)
        add1(m, (uint64_t)(i + 1) * MS, 1, deep, SAMPLE_RUNNING, 5, 5);
    add1(m, 5 * MS, 1, leaf, SAMPLE_RUNNING, 5, 5);
    add1(m, 6 * MS, 1, leaf, SAMPLE_RUNNING, 5, 5);

    size_t n;
    struct model_function_row *rows = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &n);
    const struct model_function_row *r = fn_find(t, rows, n, "fib", -1);
    CHECK_INT(n, 3, "recursion: main, fib, g");
    CHECK(r && r->total_samples == 6 && r->total_ns == 30,
          "recursion: fib's total counts each sample once");
    CHECK(r && r->own_samples == 2 && r->own_ns == 10, "recursion: fib's own is the leaf samples");
    CHECK(r && r->frame == ff, "recursion: the lowest frame id stands for fib");
    free(rows);

    rows = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 1, &n);
    const struct model_function_row *l7 = fn_find(t, rows, n, "fib", 7);
    const struct model_function_row *l8 = fn_find(t, rows, n, "fib", 8);
    CHECK_INT(n, 4, "recursion by line: fib splits in two");
    CHECK(l7 && l7->total_samples == 6 && l7->own_samples == 2,
          "recursion by line: line 7 counted once per stack");
    CHECK(l8 && l8->total_samples == 6 && l8->own_samples == 0,
          "recursion by line: line 8 counted once per stack");
    free(rows);
    model_free(m);
    stack_table_free(t);
}

/* Deeper than the query walk's cap (4096): nothing breaks, the tree still
 * takes the whole path, and recursion still counts once. */
static void test_deep(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fa = frame_id(t, "ping", "deep.py", 2, 1), fb = frame_id(t, "pong", "deep.py", 6, 5);
    uint32_t node = 0;
    for (int d = 0; d < 5000; d++)
        if (stack_table_node(t, node, d % 2 ? fb : fa, &node) != 0)
            abort();
    struct model *m = new_model(t, 0, 0);
    add1(m, 1 * MS, 1, node, 0, 3, 3);
    add1(m, 2 * MS, 1, node, 0, 3, 3);
    size_t n;
    struct model_function_row *rows = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &n);
    const struct model_function_row *pong = fn_find(t, rows, n, "pong", -1);
    CHECK(n == 2 && pong && pong->own_samples == 2 && pong->total_samples == 2 &&
          fn_find(t, rows, n, "ping", -1)->total_ns == 6, "deep: each function once per stack");
    free(rows);
    struct model_node_row *tr = tree(m, MODEL_TOTAL, MODEL_CPU, NULL, &n);
    CHECK(n == 5001 && node_find(tr, n, 0)->total_ns == 6 && node_find(tr, n, 1)->total_samples == 2,
          "deep: the tree holds the whole path");
    free(tr);
    struct model_filter f = { .tid = 0, .text = "deep.py" };
    CHECK_INT(stacks_samples(m, MODEL_TOTAL, &f), 2, "deep: filters see it");
    model_free(m);
    stack_table_free(t);
}

static void test_by_line(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fmain = frame_id(t, "main", "l.py", 30, 28);
    uint32_t w1 = frame_id(t, "work", "l.py", 12, 10);
    uint32_t w2 = frame_id(t, "work", "l.py", 14, 10);
    uint32_t other = frame_id(t, "work", "other.py", 12, 10);  /* same name, other file */
    struct model *m = new_model(t, 0, 0);
    uint32_t s1 = STACK(t, fmain, w1), s2 = STACK(t, fmain, w2), s3 = STACK(t, fmain, other);
    add1(m, 1 * MS, 1, s1, 0, 1, 1);
    add1(m, 2 * MS, 1, s2, 0, 1, 1);
    add1(m, 3 * MS, 1, s2, 0, 1, 1);
    add1(m, 4 * MS, 1, s3, 0, 1, 1);

    size_t n;
    struct model_function_row *rows = functions(m, MODEL_TOTAL, MODEL_WALL, NULL, 0, &n);
    CHECK_INT(n, 3, "by function: work in l.py is one row, work in other.py another");
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].frame == w1 && rows[i].own_samples == 3)
            found = 1;
    CHECK(found, "by function: both lines of work add up, shown by its first frame");
    free(rows);

    rows = functions(m, MODEL_TOTAL, MODEL_WALL, NULL, 1, &n);
    CHECK_INT(n, 4, "by line: one row per line");
    const struct model_function_row *a = NULL, *b = NULL;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].frame == w1)
            a = &rows[i];
        if (rows[i].frame == w2)
            b = &rows[i];
    }
    CHECK(a && a->own_samples == 1 && a->own_ns == 1, "by line: line 12 has one sample");
    CHECK(b && b->own_samples == 2 && b->own_ns == 2, "by line: line 14 has two");
    free(rows);
    model_free(m);
    stack_table_free(t);
}

/* ---- weights ------------------------------------------------------------ */

static void test_cpu_wall(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t busy = STACK(t, frame_id(t, "spin", "w.py", 2, 1));
    uint32_t idle = STACK(t, frame_id(t, "sleep", "w.py", 6, 5));
    struct model *m = new_model(t, 0, 0);
    for (int i = 1; i <= 100; i++) {
        struct sample_thread th[2] = {
            { 1, 0, busy, SAMPLE_RUNNING | SAMPLE_GIL, 1 * MS, 1 * MS, 0, 0 },
            { 2, 0, idle, 0, 0, 1 * MS, 0, 0 },
        };
        struct sample s = { .time_ns = (uint64_t)i * MS, .pid = 1, .nthreads = 2, .threads = th };
        model_add(m, &s);
    }
    size_t n;
    struct model_function_row *cpu = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &n);
    const struct model_function_row *sl = fn_find(t, cpu, n, "sleep", -1);
    const struct model_function_row *sp = fn_find(t, cpu, n, "spin", -1);
    CHECK(sl && sl->own_ns == 0 && sl->own_samples == 100,
          "cpu: the sleeping thread's function has samples but no cpu");
    CHECK(sp && sp->own_ns == 100 * MS, "cpu: the busy thread's function has all the cpu");
    free(cpu);
    struct model_function_row *wall = functions(m, MODEL_TOTAL, MODEL_WALL, NULL, 0, &n);
    sl = fn_find(t, wall, n, "sleep", -1);
    sp = fn_find(t, wall, n, "spin", -1);
    CHECK(sl && sl->own_ns == 100 * MS && sp && sp->own_ns == 100 * MS,
          "wall: both threads have full wall time");
    free(wall);

    struct model_totals tot;
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK(tot.cpu_ns == 100 * MS && tot.wall_ns == 200 * MS, "totals: cpu and wall");
    struct model_thread_row *tr = threads(m, MODEL_TOTAL, &n);
    const struct model_thread_row *t1 = thread_find(tr, n, 1), *t2 = thread_find(tr, n, 2);
    CHECK(t1 && t1->running == 100 && t1->gil == 100 && t1->cpu_ns == 100 * MS,
          "threads: the busy thread ran with the GIL");
    CHECK(t2 && t2->running == 0 && t2->gil == 0 && t2->cpu_ns == 0 && t2->wall_ns == 100 * MS,
          "threads: the sleeping thread did not");
    free(tr);

    size_t nn;
    struct model_node_row *c = tree(m, MODEL_TOTAL, MODEL_CPU, NULL, &nn);
    const struct model_node_row *root = node_find(c, nn, 0);
    const struct model_node_row *idle_row = node_find(c, nn, idle);
    CHECK(root && root->total_ns == 100 * MS && root->total_samples == 200,
          "tree cpu: the root's total is the cpu total");
    CHECK(idle_row && idle_row->self_ns == 0 && idle_row->self_samples == 100,
          "tree cpu: the idle stack has samples and no cpu");
    free(c);
    model_free(m);
    stack_table_free(t);
}

/* A thread that ran a burst and waits now: its CPU time is carried to
 * the stack it had on the CPU (SAMPLE_CARRY), counting no sample. */
static void test_carry(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t work = STACK(t, frame_id(t, "work", "b.py", 2, 1));
    uint32_t nap = STACK(t, frame_id(t, "nap", "b.py", 6, 5));
    struct model *m = new_model(t, 2 * SEC, 10 * SEC);
    for (int i = 1; i <= 10; i++) {
        struct sample_thread th[2] = {
            { 1, 0, nap, SAMPLE_RUNNING, 0, 10 * MS, 0, 0 },
            { 1, 0, work, SAMPLE_CARRY, 2 * MS, 0, 4096, 0 },
        };
        struct sample s = { .time_ns = (uint64_t)i * 500 * MS, .pid = 1, .nthreads = 2, .threads = th };
        CHECK_INT(model_add(m, &s), 0, "carry: added");
    }
    size_t n;
    struct model_function_row *cpu = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &n);
    const struct model_function_row *w = fn_find(t, cpu, n, "work", -1);
    const struct model_function_row *z = fn_find(t, cpu, n, "nap", -1);
    CHECK(w && w->own_ns == 20 * MS && w->own_samples == 0 && w->own_grow == 10 * 4096,
          "carry: work has the CPU time and memory, and no samples");
    CHECK(z && z->own_ns == 0 && z->own_samples == 10, "carry: nap has the samples, no CPU time");
    free(cpu);
    struct model_thread_row *tr = threads(m, MODEL_TOTAL, &n);
    const struct model_thread_row *t1 = thread_find(tr, n, 1);
    CHECK(t1 && t1->samples == 10 && t1->running == 10 && t1->cpu_ns == 20 * MS &&
          t1->wall_ns == 100 * MS && t1->last_stack == nap,
          "carry: the thread counts each sample once; its last stack is where it is");
    free(tr);
    /* The window (2 s) holds the last 4 samples with their carried time. */
    cpu = functions(m, MODEL_WINDOW, MODEL_CPU, NULL, 0, &n);
    w = fn_find(t, cpu, n, "work", -1);
    CHECK(w && w->own_ns == 8 * MS, "carry: the window subtracts carried time as it leaves");
    free(cpu);
    size_t ns;
    struct stack_weight *rows = NULL;
    CHECK_INT(model_stacks(m, MODEL_TOTAL, NULL, &rows, &ns), 0, "carry: stacks");
    uint64_t work_cpu = 0;
    for (size_t i = 0; i < ns; i++)
        if (rows[i].stack == work)
            work_cpu += rows[i].cpu_ns;
    CHECK(work_cpu == 20 * MS, "carry: exports see the carried time");
    free(rows);
    model_free(m);
    stack_table_free(t);
}

/* ---- the window ---------------------------------------------------------- */

static void test_window(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t s = STACK(t, frame_id(t, "tick", "t.py", 1, 1));
    struct model *m = new_model(t, 10 * SEC, 60 * SEC);
    struct model_totals tot;
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.samples == 0 && tot.last_ns == 0 && tot.window_samples == 0,
          "window: empty model has empty totals");

    for (int i = 1; i <= 30; i++)
        add1(m, (uint64_t)i * SEC, 1, s, SAMPLE_RUNNING, (uint64_t)i, 1);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK_INT(tot.window_samples, 10, "window: (20 s, 30 s] holds ten samples");
    CHECK_INT(tot.window_start_ns, 20 * SEC, "window: starts at 20 s");
    CHECK_INT(tot.cpu_ns, 21 + 22 + 23 + 24 + 25 + 26 + 27 + 28 + 29 + 30,
              "window: cpu of exactly the samples at 21..30 s");
    CHECK(tot.first_ns == 1 * SEC && tot.last_ns == 30 * SEC && tot.samples == 30,
          "window: first, last and sample count");
    CHECK_INT(stacks_samples(m, MODEL_WINDOW, NULL), 10, "window: stacks hold ten samples");
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK_INT(tot.cpu_ns, 30 * 31 / 2, "since start: every sample kept");
    CHECK_INT(stacks_samples(m, MODEL_TOTAL, NULL), 30, "since start: stacks hold thirty");

    /* The start is open: at 30 s + 1 ns the sample at 21 s is still in,
     * and at 31 s it is out. */
    add1(m, 30 * SEC + 1, 1, s, 0, 0, 0);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.window_samples == 11 && tot.cpu_ns == 255, "window: 21 s still in at 30 s + 1 ns");
    add1(m, 31 * SEC, 1, s, 0, 0, 0);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK_INT(tot.window_samples, 11, "window: 21 s left exactly at 31 s");
    CHECK_INT(tot.cpu_ns, 255 - 21, "window: its cpu left too");

    /* Set the window: recomputed from the ring. */
    model_set_window(m, 5 * SEC);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(model_window(m) == 5 * SEC && tot.window_samples == 6 &&
          tot.cpu_ns == 27 + 28 + 29 + 30, "set_window 5 s: samples after 26 s");
    model_set_window(m, 25 * SEC);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.window_samples == 26 && tot.cpu_ns == 30 * 31 / 2 - 21,
          "set_window 25 s: samples at 7..30 s come back from the ring");
    model_set_window(m, 3600 * SEC);
    CHECK_INT(model_window(m), 60 * SEC, "set_window: clamped to the retention");
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK_INT(tot.window_samples, 32, "set_window 60 s: everything");

    /* Past the retention, old samples are gone even for a wide window. */
    for (int i = 31; i <= 100; i++)
        add1(m, (uint64_t)i * SEC, 1, s, 0, 1, 1);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK_INT(tot.window_samples, 60, "retention: the window holds (40 s, 100 s]");
    model_set_window(m, 10 * SEC);
    model_set_window(m, 60 * SEC);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK_INT(tot.window_samples, 60, "retention: shrinking and widening gives the same");
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK_INT(tot.samples, 102, "retention: since start keeps all 102");

    /* A window of zero holds nothing. */
    model_set_window(m, 0);
    add1(m, 101 * SEC, 1, s, 0, 1, 1);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.window_samples == 0 && tot.cpu_ns == 0 &&
          stacks_samples(m, MODEL_WINDOW, NULL) == 0, "window 0: empty");
    model_free(m);
    stack_table_free(t);
}

static void test_time_and_errors(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t s = STACK(t, frame_id(t, "f", "e.py", 1, 1));
    struct model *m = new_model(t, 10 * SEC, 60 * SEC);
    struct model_totals before, after;

    add1(m, 5 * SEC, 1, s, 0, 1, 1);
    /* A stack id the dictionary doesn't have is refused, and nothing changes. */
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &before);
    struct sample_thread th[2] = { { 1, 0, s, 0, 1, 1, 0, 0 }, { 2, 0, 9999, 0, 1, 1, 0, 0 } };
    struct sample bad = { .time_ns = 6 * SEC, .pid = 1, .nthreads = 2, .threads = th };
    CHECK_INT(model_add(m, &bad), -EINVAL, "errors: unknown stack refused");
    struct sample none = { .time_ns = 6 * SEC, .pid = 1, .nthreads = 2, .threads = NULL };
    CHECK_INT(model_add(m, &none), -EINVAL, "errors: threads missing refused");
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &after);
    CHECK(after.samples == before.samples && after.cpu_ns == before.cpu_ns &&
          after.last_ns == 5 * SEC, "errors: a refused sample changes nothing");

    /* A sample without threads counts as a sample. */
    struct sample empty = { .time_ns = 7 * SEC, .pid = 1, .nthreads = 0, .threads = NULL };
    CHECK_INT(model_add(m, &empty), 0, "no threads: accepted");
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &after);
    CHECK(after.samples == 2 && after.window_samples == 2 && after.last_ns == 7 * SEC,
          "no threads: counted in the window");

    /* Time going backwards is taken as the latest time. */
    add1(m, 3 * SEC, 1, s, 0, 1, 1);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &after);
    CHECK(after.last_ns == 7 * SEC && after.window_samples == 3 && after.cpu_ns == 2,
          "backwards time: clamped to the latest");
    add1(m, 17 * SEC, 1, s, 0, 1, 1);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &after);
    CHECK(after.window_samples == 1 && after.cpu_ns == 1,
          "backwards time: left the window with the sample it was clamped to");
    model_free(m);
    stack_table_free(t);
}

/* ---- the ring's bound ----------------------------------------------------- */

static void test_ring_overflow(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t sa = STACK(t, frame_id(t, "a", "o.py", 1, 1));
    uint32_t sb = STACK(t, frame_id(t, "b", "o.py", 5, 5));
    struct model *m = new_model(t, 60 * SEC, 60 * SEC);
    model_set_ring_limit(m, 50);
    for (int i = 1; i <= 100; i++) {
        struct sample_thread th[2] = {
            { 1, 0, sa, SAMPLE_RUNNING, (uint64_t)i, 1, 0, 0 },
            { 2, 0, sb, 0, 0, 1, 0, 0 },
        };
        struct sample s = { .time_ns = (uint64_t)i * MS, .pid = 1, .nthreads = 2, .threads = th };
        model_add(m, &s);
    }
    struct model_totals w, tot;
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &w);
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK_INT(model_ring_dropped(m), 150, "overflow: 150 of 200 entries dropped early");
    CHECK_INT(w.window_samples, 25, "overflow: the window holds the last 25 samples");
    CHECK_INT(w.cpu_ns, (76 + 100) * 25 / 2, "overflow: window cpu is theirs exactly");
    CHECK_INT(w.wall_ns, 50, "overflow: window wall is theirs exactly");
    CHECK_INT(w.window_start_ns, 75 * MS, "overflow: the window says where it really starts");
    CHECK(tot.samples == 100 && tot.cpu_ns == 100 * 101 / 2 && tot.wall_ns == 200,
          "overflow: since-start totals keep everything");
    CHECK_INT(stacks_samples(m, MODEL_WINDOW, NULL), 50, "overflow: window stacks match");
    CHECK_INT(stacks_samples(m, MODEL_TOTAL, NULL), 200, "overflow: total stacks match");
    size_t n;
    struct model_thread_row *tr = threads(m, MODEL_WINDOW, &n);
    CHECK(n == 2 && thread_find(tr, n, 1)->samples == 25 && thread_find(tr, n, 2)->samples == 25,
          "overflow: window thread counts match");
    free(tr);
    /* Recomputing from the ring gives the same window. */
    model_set_window(m, 60 * SEC);
    struct model_totals w2;
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &w2);
    CHECK(w2.window_samples == w.window_samples && w2.cpu_ns == w.cpu_ns &&
          w2.wall_ns == w.wall_ns, "overflow: set_window recomputes the same");

    /* Lowering the limit drops at once; odd limits split samples. */
    model_set_ring_limit(m, 7);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &w);
    CHECK(model_ring_dropped(m) == 193 && w.wall_ns == 7 && w.window_samples == 3,
          "overflow: a lower limit drops the oldest at once");
    model_free(m);
    stack_table_free(t);
}

/* ---- filters -------------------------------------------------------------- */

static void test_filters(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fmain = frame_id(t, "main", "app.py", 10, 1);
    uint32_t fget = frame_id(t, "get", "http/client.py", 40, 30);
    uint32_t fparse = frame_id(t, "parse", "json/decoder.py", 5, 1);
    uint32_t fwork = frame_id(t, "work", "app.py", 20, 19);
    uint32_t s1 = STACK(t, fmain, fget), s2 = STACK(t, fmain, fwork, fparse),
             s3 = STACK(t, fmain, fwork);
    struct model *m = new_model(t, 0, 0);
    for (int i = 1; i <= 10; i++) {
        struct sample_thread th[3] = {
            { 100, 0, s1, 0, 0, 10, 0, 0 },
            { 200, 0, s2, SAMPLE_RUNNING, 10, 10, 0, 0 },
            { 300, 0, s3, SAMPLE_RUNNING, 10, 10, 0, 0 },
        };
        struct sample s = { .time_ns = (uint64_t)i * MS, .pid = 1, .nthreads = 3, .threads = th };
        model_add(m, &s);
    }
    size_t n;
    struct model_filter f = { .tid = 200, .text = NULL };
    struct model_function_row *rows = functions(m, MODEL_TOTAL, MODEL_WALL, &f, 0, &n);
    CHECK(n == 3 && fn_find(t, rows, n, "parse", -1) && !fn_find(t, rows, n, "get", -1),
          "tid filter: only thread 200's functions");
    CHECK(fn_find(t, rows, n, "main", -1)->total_samples == 10, "tid filter: main counts 10");
    free(rows);
    CHECK_INT(stacks_samples(m, MODEL_TOTAL, &f), 10, "tid filter: stacks");

    /* A function name: the stacks through it, with every function on them. */
    f = (struct model_filter){ .tid = 0, .text = "work" };
    rows = functions(m, MODEL_TOTAL, MODEL_WALL, &f, 0, &n);
    CHECK(n == 3 && fn_find(t, rows, n, "parse", -1) && fn_find(t, rows, n, "work", -1) &&
          fn_find(t, rows, n, "main", -1)->total_samples == 20,
          "text filter: stacks through work, with their callers and callees");
    CHECK(fn_find(t, rows, n, "work", -1)->own_samples == 10 &&
          fn_find(t, rows, n, "work", -1)->total_samples == 20, "text filter: work's own and total");
    free(rows);

    /* A file name substring. */
    f = (struct model_filter){ .tid = 0, .text = "json/" };
    rows = functions(m, MODEL_TOTAL, MODEL_WALL, &f, 0, &n);
    CHECK(n == 3 && fn_find(t, rows, n, "main", -1)->total_samples == 10,
          "text filter: by file, one stack");
    free(rows);
    CHECK_INT(stacks_samples(m, MODEL_TOTAL, &f), 10, "text filter: stacks by file");

    size_t nn;
    struct model_node_row *tr = tree(m, MODEL_TOTAL, MODEL_WALL, &f, &nn);
    CHECK(nn == 4 && node_find(tr, nn, 0)->total_samples == 10 && node_find(tr, nn, s2) &&
          !node_find(tr, nn, s1) && node_find(tr, nn, s3)->self_samples == 0,
          "text filter: the tree shows the matching path only");
    free(tr);

    /* Case-sensitive; no match gives nothing; "" is no filter. */
    f = (struct model_filter){ .tid = 0, .text = "WORK" };
    rows = functions(m, MODEL_TOTAL, MODEL_WALL, &f, 0, &n);
    CHECK_INT(n, 0, "text filter: case-sensitive");
    free(rows);
    f = (struct model_filter){ .tid = 100, .text = "json" };
    CHECK_INT(stacks_samples(m, MODEL_TOTAL, &f), 0, "filters: tid and text together");
    f = (struct model_filter){ .tid = 0, .text = "" };
    CHECK_INT(stacks_samples(m, MODEL_TOTAL, &f), 30, "text filter: empty is none");
    model_free(m);
    stack_table_free(t);
}

/* ---- the tree -------------------------------------------------------------- */

static void check_tree(const struct stack_table *t, const struct model *m, enum model_range r,
                       enum model_weight w, const char *what)
{
    size_t n;
    struct model_node_row *rows = tree(m, r, w, NULL, &n);
    struct model_totals tot;
    model_totals(m, r, w, &tot);
    uint64_t self = 0, self_samples = 0;
    int sums_ok = 1;
    for (size_t i = 0; i < n; i++) {
        self += rows[i].self_ns;
        self_samples += rows[i].self_samples;
        /* total = self + the totals of the children */
        uint64_t kids = 0, kid_samples = 0;
        for (size_t j = 0; j < n; j++) {
            const struct stack_node *sn = stack_table_get_node(t, rows[j].node);
            if (rows[j].node != 0 && sn->parent == rows[i].node) {
                kids += rows[j].total_ns;
                kid_samples += rows[j].total_samples;
            }
        }
        if (rows[i].total_ns != rows[i].self_ns + kids ||
            rows[i].total_samples != rows[i].self_samples + kid_samples)
            sums_ok = 0;
    }
    const struct model_node_row *root = node_find(rows, n, 0);
    uint64_t want = w == MODEL_CPU ? tot.cpu_ns : tot.wall_ns;
    char msg[128];
    snprintf(msg, sizeof msg, "tree %s: self sums to the total", what);
    CHECK(self == want && self_samples == stacks_samples(m, r, NULL), msg);
    snprintf(msg, sizeof msg, "tree %s: the root's total is the total", what);
    CHECK(root && root->total_ns == want, msg);
    snprintf(msg, sizeof msg, "tree %s: each total is self plus the children's", what);
    CHECK(sums_ok, msg);
    free(rows);
}

static void test_tree(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t f[6];
    for (int i = 0; i < 6; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%d", i);
        f[i] = frame_id(t, name, "tree.py", i * 10, i * 10);
    }
    uint32_t st[] = {
        STACK(t, f[0]), STACK(t, f[0], f[1]), STACK(t, f[0], f[1], f[2]),
        STACK(t, f[0], f[1], f[3]), STACK(t, f[0], f[4], f[5]), STACK(t, f[4], f[1]), 0,
    };
    struct model *m = new_model(t, 5 * MS, 0);
    for (int i = 0; i < 20; i++) {
        struct sample_thread th[2] = {
            { 1, 0, st[i % 7], 0, (uint64_t)i, 3, 0, 0 },
            { 2, 0, st[(i * 3) % 7], 0, 2, (uint64_t)i * 2, 0, 0 },
        };
        struct sample s = { .time_ns = (uint64_t)i * MS, .pid = 1, .nthreads = 2, .threads = th };
        model_add(m, &s);
    }
    check_tree(t, m, MODEL_TOTAL, MODEL_CPU, "total cpu");
    check_tree(t, m, MODEL_TOTAL, MODEL_WALL, "total wall");
    check_tree(t, m, MODEL_WINDOW, MODEL_CPU, "window cpu");
    check_tree(t, m, MODEL_WINDOW, MODEL_WALL, "window wall");
    model_free(m);
    stack_table_free(t);
}

/* ---- reset, threads ------------------------------------------------------ */

static void test_reset(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t s = STACK(t, frame_id(t, "f", "x.py", 1, 1));
    struct model *m = new_model(t, 10 * SEC, 60 * SEC);
    struct model_totals empty, tot;
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &empty);
    for (int i = 0; i < 10000; i++)
        add1(m, (uint64_t)i * MS, (uint32_t)(i % 50) + 1, s, 0, 1, 1);
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK(tot.memory_bytes > empty.memory_bytes, "reset: memory grew while fed");
    uint32_t nodes = stack_table_node_count(t);
    model_set_window(m, 20 * SEC);
    model_reset(m);
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK(tot.samples == 0 && tot.cpu_ns == 0 && tot.first_ns == 0 && tot.last_ns == 0 &&
          tot.window_samples == 0, "reset: totals are zero");
    CHECK_INT(tot.memory_bytes, empty.memory_bytes, "reset: memory back to an empty model's");
    size_t n;
    struct model_thread_row *tr = threads(m, MODEL_TOTAL, &n);
    free(tr);
    CHECK_INT(n, 0, "reset: no threads");
    struct model_function_row *fr = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &n);
    free(fr);
    CHECK_INT(n, 0, "reset: no functions");
    CHECK(stack_table_node_count(t) == nodes && model_window(m) == 20 * SEC,
          "reset: dictionary and window setting kept");
    add1(m, 100 * SEC, 1, s, 0, 5, 5);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.first_ns == 100 * SEC && tot.samples == 1 && tot.window_samples == 1 &&
          tot.cpu_ns == 5, "reset: fed again from scratch");
    model_free(m);
    model_free(NULL);
    stack_table_free(t);
}

static void test_threads(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t name_a = str_id(t, "MainThread"), name_b = str_id(t, "worker-1"),
             name_c = str_id(t, "worker-renamed");
    uint32_t s1 = STACK(t, frame_id(t, "loop", "th.py", 3, 1));
    uint32_t s2 = STACK(t, frame_id(t, "job", "th.py", 9, 8));
    struct model *m = new_model(t, 10 * SEC, 60 * SEC);
    for (int i = 1; i <= 30; i++) {
        struct sample_thread th[2] = {
            { 1, name_a, s1, SAMPLE_RUNNING, 1, 1, 0, 0 },
            { 2, i < 3 ? name_b : (i == 4 ? name_c : 0), i % 2 ? s1 : s2,
              i == 3 ? SAMPLE_GIL_WAIT | SAMPLE_GIL_KNOWN : SAMPLE_GIL_KNOWN, 0, 1, 0, 0 },
        };
        /* Thread 2 ends after 5 s. */
        struct sample s = { .time_ns = (uint64_t)i * SEC, .pid = 1, .nthreads = i <= 5 ? 2 : 1, .threads = th };
        model_add(m, &s);
    }
    size_t n;
    struct model_thread_row *tr = threads(m, MODEL_TOTAL, &n);
    const struct model_thread_row *a = thread_find(tr, n, 1), *b = thread_find(tr, n, 2);
    CHECK(n == 2 && a && b, "threads: both since the start");
    CHECK(b && b->last_seen_ns == 5 * SEC && b->samples == 5 && b->last_stack == s1,
          "threads: the ended thread's last sample");
    CHECK(b && b->name == name_c, "threads: latest non-zero name kept");
    CHECK(b && b->gil_wait == 1 && b->gil == 0, "threads: its one sample waiting for the GIL");
    CHECK(a && a->last_seen_ns == 30 * SEC && a->name == name_a && a->running == 30 &&
          a->last_flags == SAMPLE_RUNNING, "threads: the live thread");
    CHECK(a && a->gil_wait == 0, "threads: the live thread never waited for the GIL");
    free(tr);
    tr = threads(m, MODEL_WINDOW, &n);
    CHECK(n == 1 && tr[0].tid == 1 && tr[0].samples == 10, "threads: the ended one left the window");
    free(tr);

    /* It comes back. */
    struct sample_thread back = { 2, 0, s2, 0, 0, 1, 0, 0 };
    struct sample s = { .time_ns = 31 * SEC, .pid = 1, .nthreads = 1, .threads = &back };
    model_add(m, &s);
    tr = threads(m, MODEL_WINDOW, &n);
    b = thread_find(tr, n, 2);
    CHECK(n == 2 && b && b->samples == 1 && b->last_seen_ns == 31 * SEC && b->name == name_c,
          "threads: back in the window, name remembered");
    free(tr);

    struct thread_label *labels = NULL;
    CHECK(model_thread_labels(m, &labels, &n) == 0 && n == 2 &&
          ((labels[0].tid == 1 && labels[0].name == name_a && labels[1].name == name_c) ||
           (labels[1].tid == 1 && labels[1].name == name_a && labels[0].name == name_c)),
          "thread labels: every thread with its name");
    free(labels);
    model_free(m);
    stack_table_free(t);
}

/* ---- determinism and the brute-force cross-check ------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

struct rs_entry {
    uint64_t time;
    uint32_t tid, node, flags, first;
    uint64_t cpu, wall;
    uint32_t pid, held;         /* held: some thread of its sample held the GIL */
    uint64_t grow, release;
};

static uint64_t rs_weight(const struct rs_entry *e, enum model_weight w)
{
    switch (w) {
    case MODEL_WALL: return e->wall;
    case MODEL_MEM_GROW: return e->grow;
    case MODEL_MEM_RELEASE: return e->release;
    default: return e->cpu;
    }
}

/* A random dictionary: 30 frames, ten functions of three lines each, and
 * nstacks random paths through them (repeats make recursion). */
static void random_dict(struct stack_table *t, uint32_t *stk, int nstacks)
{
    static const char *fns[] = { "alpha", "beta", "gamma", "delta", "eps" };
    static const char *files[] = { "one.py", "two.py" };
    uint32_t fr[30];
    for (int i = 0; i < 30; i++)
        fr[i] = frame_id(t, fns[i % 5], files[(i / 5) % 2], 10 + i / 10, 1 + (i % 5 == 4));
    for (int i = 0; i < nstacks; i++) {
        uint32_t path[12];
        int depth = (int)rnd(12);
        for (int d = 0; d < depth; d++)
            path[d] = fr[rnd(30)];
        stk[i] = stack_of(t, path, (size_t)depth);
    }
}

/* Feed n random samples to every model in ms[], keeping the entries. */
static size_t random_feed(struct model **ms, int nm, const uint32_t *stk, int nstacks, int n,
                          struct rs_entry *out, uint64_t *time)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        struct sample_thread th[4];
        uint32_t nt = rnd(5), held = 0;
        /* Two processes: threads 1-3 are process 1's, 4-6 process 2's. */
        uint32_t pid = 1 + rnd(2);
        *time += rnd(4) == 0 ? 0 : rnd(200) * MS;   /* repeats and gaps */
        for (uint32_t j = 0; j < nt; j++) {
            /* Now and then CPU or wall time over 32 bits (a long gap). */
            uint64_t wide = rnd(16) ? 0 : (uint64_t)1 << 32;
            th[j] = (struct sample_thread){
                (pid - 1) * 3 + rnd(3) + 1, 0, stk[rnd((uint32_t)nstacks)], rnd(8),
                rnd(1000) + (rnd(2) ? wide : 0), rnd(1000) + 1 + wide,
                rnd(3) ? 0 : rnd(100000), rnd(4) ? 0 : rnd(100000),
            };
            held |= (th[j].flags & SAMPLE_GIL) != 0;
        }
        for (uint32_t j = 0; j < nt; j++)
            out[k++] = (struct rs_entry){ *time, th[j].tid, th[j].stack, th[j].flags, j == 0,
                                          th[j].cpu_ns, th[j].wall_ns, pid, held,
                                          th[j].mem_grow, th[j].mem_release };
        if (nt == 0)
            out[k++] = (struct rs_entry){ *time, 0, UINT32_MAX, 0, 1, 0, 0, pid, 0, 0, 0 };
        struct sample s = { .time_ns = *time, .pid = pid, .nthreads = nt, .threads = th };
        for (int j = 0; j < nm; j++)
            model_add(ms[j], &s);
    }
    return k;
}

static int same_results(const struct model *a, const struct model *b)
{
    int same = 1;
    for (int r = 0; r < 2; r++) {
        enum model_range range = r ? MODEL_TOTAL : MODEL_WINDOW;
        for (int w = 0; w < 2; w++) {
            enum model_weight weight = w ? MODEL_WALL : MODEL_CPU;
            struct model_filter f = { .tid = 0, .text = w ? "beta" : NULL };
            for (int bl = 0; bl < 2; bl++) {
                size_t na, nb;
                struct model_function_row *ra = functions(a, range, weight, &f, bl, &na);
                struct model_function_row *rb = functions(b, range, weight, &f, bl, &nb);
                same &= na == nb && (na == 0 || memcmp(ra, rb, na * sizeof *ra) == 0);
                free(ra);
                free(rb);
            }
            size_t na, nb;
            struct model_node_row *ta = tree(a, range, weight, &f, &na);
            struct model_node_row *tb = tree(b, range, weight, &f, &nb);
            same &= na == nb && (na == 0 || memcmp(ta, tb, na * sizeof *ta) == 0);
            free(ta);
            free(tb);
        }
        size_t na, nb;
        struct stack_weight *sa = stacks(a, range, NULL, &na), *sb = stacks(b, range, NULL, &nb);
        same &= na == nb && (na == 0 || memcmp(sa, sb, na * sizeof *sa) == 0);
        free(sa);
        free(sb);
        struct model_thread_row *ta = threads(a, range, &na), *tb = threads(b, range, &nb);
        same &= na == nb && (na == 0 || memcmp(ta, tb, na * sizeof *ta) == 0);
        free(ta);
        free(tb);
        struct model_totals xa, xb;
        model_totals(a, range, MODEL_CPU, &xa);
        model_totals(b, range, MODEL_CPU, &xb);
        same &= memcmp(&xa, &xb, sizeof xa) == 0;
        struct model_process_row *pa = NULL, *pb = NULL;
        same &= model_processes(a, range, &pa, &na) == 0 && model_processes(b, range, &pb, &nb) == 0 &&
                na == nb && memcmp(pa, pb, na * sizeof *pa) == 0;
        free(pa);
        free(pb);
        struct model_gil ga, gb;
        model_gil(a, range, 0, &ga);
        model_gil(b, range, 0, &gb);
        same &= memcmp(&ga, &gb, sizeof ga) == 0;
    }
    return same;
}

static void test_determinism(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t stk[60];
    rng_state = 42;
    random_dict(t, stk, 60);
    struct model *ms[2] = { new_model(t, 2 * SEC, 20 * SEC), new_model(t, 2 * SEC, 20 * SEC) };
    struct rs_entry *log = malloc(4000 * 5 * sizeof *log);
    uint64_t time = 0;
    random_feed(ms, 2, stk, 60, 4000, log, &time);
    CHECK(same_results(ms[0], ms[1]), "determinism: same samples, same answers");
    model_set_window(ms[0], 7 * SEC);
    model_set_window(ms[1], 7 * SEC);
    random_feed(ms, 2, stk, 60, 1000, log, &time);
    CHECK(same_results(ms[0], ms[1]), "determinism: after set_window too");
    free(log);
    model_free(ms[0]);
    model_free(ms[1]);
    stack_table_free(t);
}

/* The brute-force recount: entries idx >= first and in the window. */
struct brute {
    const struct stack_table *t;
    const struct rs_entry *log;
    size_t n, first;
    uint64_t last, window;
    uint32_t tid;
    const char *text;
    uint8_t *sel;               /* brute_prepare: entry i selected */
    uint32_t pid;
};

static int brute_in(const struct brute *b, const struct rs_entry *e, size_t i)
{
    return i >= b->first && b->last - e->time < b->window;
}

static int brute_path_matches(const struct brute *b, uint32_t node)
{
    if (!b->text)
        return 1;
    while (node) {
        const struct stack_node *sn = stack_table_get_node(b->t, node);
        const struct stack_frame *f = stack_table_get_frame(b->t, sn->frame);
        if (strstr(stack_table_str(b->t, f->function), b->text) ||
            strstr(stack_table_str(b->t, f->file), b->text))
            return 1;
        node = sn->parent;
    }
    return 0;
}

static void brute_prepare(struct brute *b)
{
    free(b->sel);
    b->sel = malloc(b->n ? b->n : 1);
    for (size_t i = 0; i < b->n; i++) {
        const struct rs_entry *e = &b->log[i];
        b->sel[i] = e->node != UINT32_MAX && brute_in(b, e, i) && (!b->tid || e->tid == b->tid) &&
                    (!b->pid || e->pid == b->pid) && brute_path_matches(b, e->node);
    }
}

static int brute_selected(const struct brute *b, size_t i)
{
    return b->sel[i];
}

/* Does frame a have the key of frame k (same function, or same line when
 * by_line)? */
static int same_key(const struct stack_table *t, uint32_t a, uint32_t k, int by_line)
{
    if (by_line)
        return a == k;
    const struct stack_frame *fa = stack_table_get_frame(t, a), *fk = stack_table_get_frame(t, k);
    return fa->function == fk->function && fa->file == fk->file && fa->firstline == fk->firstline;
}

static int brute_check_functions(const struct brute *b, const struct model *m,
                                 enum model_weight w, int by_line)
{
    struct model_filter f = { .pid = b->pid, .tid = b->tid, .text = b->text };
    size_t n;
    struct model_function_row *rows = functions(m, MODEL_WINDOW, w, &f, by_line, &n);
    uint32_t nframes = stack_table_frame_count(b->t);
    /* key[frame]: the lowest frame id with its key */
    uint32_t *key = malloc(nframes * sizeof *key), *minf = malloc(nframes * sizeof *minf);
    uint32_t *seen = calloc(nframes, sizeof *seen);
    uint64_t *own = calloc(nframes, sizeof *own), *total = calloc(nframes, sizeof *total);
    uint64_t *own_s = calloc(nframes, sizeof *own_s), *total_s = calloc(nframes, sizeof *total_s);
    uint64_t *own_g = calloc(nframes, sizeof *own_g), *total_g = calloc(nframes, sizeof *total_g);
    uint64_t *own_r = calloc(nframes, sizeof *own_r), *total_r = calloc(nframes, sizeof *total_r);
    for (uint32_t k = 0; k < nframes; k++) {
        key[k] = k;
        minf[k] = UINT32_MAX;
        for (uint32_t j = 0; j < k && key[k] == k; j++)
            if (same_key(b->t, j, k, by_line))
                key[k] = key[j];
    }
    /* Empty stacks: one row of their own (MODEL_FRAME_NONE). */
    uint64_t none[4] = { 0, 0, 0, 0 };
    int none_seen = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!brute_selected(b, i))
            continue;
        const struct rs_entry *e = &b->log[i];
        uint64_t wt = rs_weight(e, w);
        if (e->node == 0) {
            none_seen = 1;
            none[0] += wt;
            none[1]++;
            none[2] += e->grow;
            none[3] += e->release;
            continue;
        }
        int leaf = 1;
        for (uint32_t node = e->node; node; leaf = 0) {
            const struct stack_node *sn = stack_table_get_node(b->t, node);
            uint32_t k = key[sn->frame];
            if (leaf) {
                own[k] += wt;
                own_s[k]++;
                own_g[k] += e->grow;
                own_r[k] += e->release;
            }
            if (seen[k] != i + 1) {
                seen[k] = (uint32_t)i + 1;
                total[k] += wt;
                total_s[k]++;
                total_g[k] += e->grow;
                total_r[k] += e->release;
            }
            if (sn->frame < minf[k])
                minf[k] = sn->frame;
            node = sn->parent;
        }
    }
    int ok = 1;
    size_t keys = 0;
    for (uint32_t k = 0; k < nframes; k++) {
        if (!total_s[k])
            continue;
        keys++;
        const struct model_function_row *r = NULL;
        for (size_t i = 0; i < n; i++)
            if (rows[i].frame < nframes && key[rows[i].frame] == k)
                r = &rows[i];
        if (!r || r->own_ns != own[k] || r->total_ns != total[k] || r->own_samples != own_s[k] ||
            r->total_samples != total_s[k] || r->frame != minf[k] || r->own_grow != own_g[k] ||
            r->total_grow != total_g[k] || r->own_release != own_r[k] ||
            r->total_release != total_r[k])
            ok = 0;
    }
    if (none_seen) {
        keys++;
        const struct model_function_row *r = NULL;
        for (size_t i = 0; i < n; i++)
            if (rows[i].frame == MODEL_FRAME_NONE)
                r = &rows[i];
        if (!r || r->own_ns != none[0] || r->total_ns != none[0] || r->own_samples != none[1] ||
            r->total_samples != none[1] || r->own_grow != none[2] || r->total_grow != none[2] ||
            r->own_release != none[3] || r->total_release != none[3])
            ok = 0;
    }
    if (keys != n)
        ok = 0;
    free(key);
    free(minf);
    free(seen);
    free(own);
    free(total);
    free(own_s);
    free(total_s);
    free(own_g);
    free(total_g);
    free(own_r);
    free(total_r);
    free(rows);
    return ok;
}

static int brute_check_tree(const struct brute *b, const struct model *m, enum model_weight w)
{
    struct model_filter f = { .pid = b->pid, .tid = b->tid, .text = b->text };
    size_t n;
    struct model_node_row *rows = tree(m, MODEL_WINDOW, w, &f, &n);
    uint32_t nodes = stack_table_node_count(b->t);
    uint64_t *self = calloc(nodes, sizeof *self), *total = calloc(nodes, sizeof *total);
    uint64_t *self_s = calloc(nodes, sizeof *self_s), *total_s = calloc(nodes, sizeof *total_s);
    for (size_t i = 0; i < b->n; i++) {
        if (!brute_selected(b, i))
            continue;
        const struct rs_entry *e = &b->log[i];
        uint64_t wt = rs_weight(e, w);
        self[e->node] += wt;
        self_s[e->node]++;
        for (uint32_t node = e->node;; node = stack_table_get_node(b->t, node)->parent) {
            total[node] += wt;
            total_s[node]++;
            if (!node)
                break;
        }
    }
    int ok = 1;
    size_t live = 0;
    for (uint32_t k = 0; k < nodes; k++) {
        const struct model_node_row *r = node_find(rows, n, k);
        if (total_s[k]) {
            live++;
            if (!r || r->self_ns != self[k] || r->total_ns != total[k] ||
                r->self_samples != self_s[k] || r->total_samples != total_s[k])
                ok = 0;
        }
    }
    if (live != n)
        ok = 0;
    free(self);
    free(total);
    free(self_s);
    free(total_s);
    free(rows);
    return ok;
}

static int brute_check_stacks_threads(const struct brute *b, const struct model *m)
{
    struct model_filter f = { .pid = b->pid, .tid = b->tid, .text = b->text };
    size_t n;
    struct stack_weight *rows = stacks(m, MODEL_WINDOW, &f, &n);
    int ok = 1;
    size_t matched = 0;
    for (size_t r = 0; r < n; r++) {
        struct stack_weight want = { .pid = rows[r].pid, .tid = rows[r].tid,
                                     .stack = rows[r].stack };
        if (want.pid != (want.tid - 1) / 3 + 1)
            ok = 0;
        for (size_t i = 0; i < b->n; i++) {
            const struct rs_entry *e = &b->log[i];
            if (!brute_selected(b, i) || e->tid != want.tid || e->node != want.stack)
                continue;
            want.samples++;
            want.running += (e->flags & SAMPLE_RUNNING) != 0;
            want.gil += (e->flags & SAMPLE_GIL) != 0;
            want.cpu_ns += e->cpu;
            want.wall_ns += e->wall;
            want.mem_grow += e->grow;
            want.mem_release += e->release;
        }
        const struct stack_weight *got = &rows[r];
        if (want.samples != got->samples || want.running != got->running ||
            want.gil != got->gil || want.cpu_ns != got->cpu_ns || want.wall_ns != got->wall_ns ||
            want.mem_grow != got->mem_grow || want.mem_release != got->mem_release)
            ok = 0;
        matched += want.samples;
    }
    size_t selected = 0;
    for (size_t i = 0; i < b->n; i++)
        selected += brute_selected(b, i);
    if (matched != selected)
        ok = 0;
    free(rows);

    if (!b->tid && !b->text && !b->pid) {
        struct model_thread_row *tr = threads(m, MODEL_WINDOW, &n);
        for (uint32_t tid = 1; tid <= 6; tid++) {
            uint64_t samples = 0, cpu = 0, running = 0, grow = 0, release = 0;
            for (size_t i = 0; i < b->n; i++) {
                const struct rs_entry *e = &b->log[i];
                if (brute_selected(b, i) && e->tid == tid) {
                    samples++;
                    cpu += e->cpu;
                    running += (e->flags & SAMPLE_RUNNING) != 0;
                    grow += e->grow;
                    release += e->release;
                }
            }
            const struct model_thread_row *r = thread_find(tr, n, tid);
            if (samples ? !r || r->samples != samples || r->cpu_ns != cpu ||
                              r->running != running || r->mem_grow != grow ||
                              r->mem_release != release || r->pid != (tid - 1) / 3 + 1
                        : r != NULL)
                ok = 0;
        }
        free(tr);
        /* totals */
        struct model_totals tot;
        model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
        uint64_t cpu = 0, wall = 0, nsamples = 0, grow = 0, release = 0;
        /* Per process: samples, samples with a GIL holder, CPU time. */
        uint64_t ps[3] = { 0 }, ph[3] = { 0 }, pc[3] = { 0 };
        for (size_t i = 0; i < b->n; i++) {
            const struct rs_entry *e = &b->log[i];
            if (brute_in(b, e, i)) {
                cpu += e->cpu;
                wall += e->wall;
                nsamples += e->first;
                grow += e->grow;
                release += e->release;
                ps[e->pid] += e->first;
                ph[e->pid] += e->first && e->held;
                pc[e->pid] += e->cpu;
            }
        }
        if (tot.cpu_ns != cpu || tot.wall_ns != wall || tot.window_samples != nsamples ||
            tot.mem_grow != grow || tot.mem_release != release)
            ok = 0;
        struct model_process_row *pr = NULL;
        if (model_processes(m, MODEL_WINDOW, &pr, &n) != 0)
            return 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t pid = pr[i].info.pid;
            struct model_gil g;
            model_gil(m, MODEL_WINDOW, pid, &g);
            if (pid < 1 || pid > 2 || pr[i].samples != ps[pid] || pr[i].cpu_ns != pc[pid] ||
                g.samples != ps[pid] || g.held != ph[pid] || g.none != ps[pid] - ph[pid])
                ok = 0;
        }
        free(pr);
        struct model_gil all;
        model_gil(m, MODEL_WINDOW, 0, &all);
        if (all.samples != nsamples || all.held != ph[1] + ph[2])
            ok = 0;
    }
    return ok;
}

static void test_random_crosscheck(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t stk[40];
    rng_state = 7;
    random_dict(t, stk, 40);
    const int nsamples = 1500;
    struct rs_entry *log = malloc((size_t)nsamples * 5 * sizeof *log);
    int all_ok = 1, rounds = 0;
    for (int round = 0; round < 12; round++) {
        uint64_t retention = (1 + rnd(30)) * SEC;
        struct model *m = new_model(t, (1 + rnd(10)) * SEC, retention);
        size_t limit = round % 3 == 2 ? 50 + rnd(400) : MODEL_RING_MAX;
        if (limit != MODEL_RING_MAX)
            model_set_ring_limit(m, limit);
        uint64_t time = rnd(1000) * MS;
        size_t n = random_feed(&m, 1, stk, 40, nsamples, log, &time);
        /* Check after the stream, then after random window changes. */
        for (int k = 0; k < 4; k++) {
            if (k)
                model_set_window(m, rnd(2) ? rnd((uint32_t)(retention / MS) + 1) * MS
                                           : retention * 2);
            struct brute b = { t, log, n, 0, time, model_window(m), 0, NULL, NULL, 0 };
            /* what the ring still holds: the last `limit` entries */
            b.first = n > limit ? n - limit : 0;
            brute_prepare(&b);
            int ok = brute_check_stacks_threads(&b, m);
            static const enum model_weight weights[] = { MODEL_CPU, MODEL_WALL, MODEL_MEM_GROW,
                                                         MODEL_MEM_RELEASE };
            for (int w = 0; w < 4; w++) {
                ok &= brute_check_tree(&b, m, weights[w]);
                for (int bl = 0; bl < 2; bl++)
                    ok &= brute_check_functions(&b, m, weights[w], bl);
            }
            b.tid = rnd(7);
            b.pid = rnd(3);
            b.text = rnd(2) ? (rnd(2) ? "two" : "gam") : NULL;
            brute_prepare(&b);
            ok &= brute_check_stacks_threads(&b, m);
            ok &= brute_check_tree(&b, m, weights[rnd(4)]);
            ok &= brute_check_functions(&b, m, weights[rnd(4)], (int)rnd(2));
            if (!ok)
                printf("# mismatch: round %d step %d window %" PRIu64 " limit %zu\n", round, k,
                       b.window, limit);
            all_ok &= ok;
            rounds++;
            free(b.sel);
        }
        /* since-start: nothing is ever dropped */
        struct brute all = { t, log, n, 0, time, UINT64_MAX, 0, NULL, NULL, 0 };
        brute_prepare(&all);
        uint64_t cpu = 0;
        for (size_t i = 0; i < n; i++)
            cpu += log[i].cpu;
        struct model_totals tot;
        model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
        all_ok &= tot.cpu_ns == cpu && tot.samples == (uint64_t)nsamples;
        size_t ns;
        struct stack_weight *rows = stacks(m, MODEL_TOTAL, NULL, &ns);
        uint64_t sum = 0;
        for (size_t i = 0; i < ns; i++)
            sum += rows[i].samples;
        size_t real = 0;
        for (size_t i = 0; i < n; i++)
            real += brute_selected(&all, i);
        all_ok &= sum == real;
        free(all.sel);
        free(rows);
        model_free(m);
    }
    char msg[96];
    snprintf(msg, sizeof msg, "cross-check: %d random windows match a brute-force recount", rounds);
    CHECK(all_ok, msg);
    free(log);
    stack_table_free(t);
}

/* ---- the side ring, step by step ------------------------------------------ */

/* What one ring entry added, for a recount after every sample. */
struct step_entry {
    uint64_t time, cpu, wall, grow, release;
    uint32_t pid, first, held;
};

struct step_log {
    struct step_entry *v;
    size_t n;
    size_t first;               /* the oldest entry the ring can still hold */
    int limited;                /* the ring limit has pushed entries out */
};

/* The window's totals, processes, GIL and stacks recounted from the log,
 * against the model's. */
static int step_check(const struct model *m, const struct step_log *lg)
{
    struct model_totals tot;
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    uint64_t last = tot.last_ns, window = model_window(m);
    uint64_t cpu = 0, wall = 0, grow = 0, release = 0, samples = 0;
    uint64_t ps[3] = { 0 }, pc[3] = { 0 }, ph[3] = { 0 };
    for (size_t i = lg->first; i < lg->n; i++) {
        const struct step_entry *e = &lg->v[i];
        if (last - e->time >= window)
            continue;
        cpu += e->cpu;
        wall += e->wall;
        grow += e->grow;
        release += e->release;
        samples += e->first;
        ps[e->pid] += e->first;
        ph[e->pid] += e->first && e->held;
        pc[e->pid] += e->cpu;
    }
    uint64_t start = last > window ? last - window : 0;
    if (lg->limited && lg->first && lg->v[lg->first - 1].time > start)
        start = lg->v[lg->first - 1].time;
    int ok = tot.cpu_ns == cpu && tot.wall_ns == wall && tot.mem_grow == grow &&
             tot.mem_release == release && tot.window_samples == samples &&
             tot.window_start_ns == start;
    struct model_process_row *pr = NULL;
    size_t n;
    if (model_processes(m, MODEL_WINDOW, &pr, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t pid = pr[i].info.pid;
        struct model_gil g;
        model_gil(m, MODEL_WINDOW, pid, &g);
        ok &= pid >= 1 && pid <= 2 && pr[i].samples == ps[pid] && pr[i].cpu_ns == pc[pid] &&
              g.held == ph[pid];
    }
    free(pr);
    struct stack_weight *sw = stacks(m, MODEL_WINDOW, NULL, &n);
    uint64_t sg = 0, sr = 0, sc = 0;
    for (size_t i = 0; i < n; i++) {
        sg += sw[i].mem_grow;
        sr += sw[i].mem_release;
        sc += sw[i].cpu_ns;
    }
    free(sw);
    return ok && sg == grow && sr == release && sc == cpu;
}

/* One random sample of pid 1 or 2 with 0-4 of the threads 7-10 (the same
 * tids in both processes: tid reuse), CPU and wall times sometimes over
 * 32 bits, memory on about a third of the threads, repeated times; logged
 * with the time the model takes it at. */
static void step_feed(struct model *m, struct step_log *lg, const uint32_t *stk, uint64_t *time,
                      size_t limit)
{
    struct sample_thread th[4];
    uint32_t nt = rnd(5), pid = 1 + rnd(2), held = 0;
    uint64_t given = *time;
    switch (rnd(6)) {
    case 0: break;                                      /* the same time again */
    case 1: given = *time > SEC ? *time - SEC : 0; break;   /* older: taken at the latest */
    case 2: given = *time += 3 * SEC + rnd(2000) * MS; break;   /* a gap */
    default: given = *time += rnd(300) * MS; break;
    }
    for (uint32_t j = 0; j < nt; j++) {
        uint64_t cpu = rnd(8) ? rnd(1000000) : (uint64_t)UINT32_MAX + rnd(3) - 1;
        uint64_t wall = rnd(8) ? rnd(1000000) + 1 : (uint64_t)UINT32_MAX + rnd(3);
        uint64_t grow = rnd(3) ? 0 : rnd(1u << 20);
        uint64_t release = rnd(4) ? 0 : ((uint64_t)1 << 40) + rnd(5);
        th[j] = (struct sample_thread){ 7 + j, 0, stk[rnd(6)], rnd(4), cpu, wall, grow, release };
        held |= (th[j].flags & SAMPLE_GIL) != 0;
    }
    for (uint32_t j = 0; j < (nt ? nt : 1); j++) {
        struct step_entry e = { *time, 0, 0, 0, 0, pid, j == 0, held };
        if (nt) {
            e.cpu = th[j].cpu_ns;
            e.wall = th[j].wall_ns;
            e.grow = th[j].mem_grow;
            e.release = th[j].mem_release;
        }
        lg->v[lg->n++] = e;
        if (lg->n - lg->first > limit) {
            lg->first = lg->n - limit;
            lg->limited = 1;
        }
    }
    struct sample s = { .time_ns = given, .pid = pid, .nthreads = nt, .threads = th };
    model_add(m, &s);
}

static void test_side_ring(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t stk[6];
    rng_state = 2026;
    random_dict(t, stk, 6);
    struct model *m = new_model(t, 2 * SEC, 5 * SEC);
    struct model_totals empty, tot;
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &empty);
    const int nsamples = 20000;
    struct step_log lg = { malloc((size_t)nsamples * 4 * sizeof *lg.v), 0, 0, 0 };
    static const size_t limits[] = { MODEL_RING_MAX, 1, 3, 7, 40, 1000 };
    size_t limit = MODEL_RING_MAX, steps = 0, failed = 0, with_limit = 0, resets = 0;
    uint64_t time = 0;
    for (int i = 0; i < nsamples; i++) {
        if (i % 97 == 96) {
            /* A new ring limit: entries over it go at once. */
            limit = limits[rnd(6)];
            model_set_ring_limit(m, limit);
            if (lg.n - lg.first > limit) {
                lg.first = lg.n - limit;
                lg.limited = 1;
            }
        }
        if (i % 37 == 36)
            model_set_window(m, rnd(4) ? (1 + rnd(1500)) * MS : 10 * SEC);
        if (i % 4999 == 4998) {
            model_reset(m);
            model_set_ring_limit(m, limit);
            lg.n = lg.first = 0;
            lg.limited = 0;
            time = 0;
            model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
            failed += tot.memory_bytes != empty.memory_bytes;
            resets++;
        }
        step_feed(m, &lg, stk, &time, limit);
        int ok = step_check(m, &lg);
        if (!ok && failed++ < 3)
            printf("# side ring: mismatch at sample %d (limit %zu, window %" PRIu64 ")\n", i,
                   limit, model_window(m));
        steps++;
        with_limit += lg.limited;
    }
    char msg[128];
    snprintf(msg, sizeof msg,
             "side ring: %zu steps (%zu after limit drops, %zu resets) match a recount",
             steps, with_limit, resets);
    CHECK(failed == 0, msg);
    CHECK(model_ring_dropped(m) > 0 && with_limit > 1000, "side ring: the limit pushed entries out");

    /* Memory deltas of entries pushed out by the limit leave the window
     * with them; the newest keep theirs. */
    model_reset(m);
    model_set_ring_limit(m, MODEL_RING_MAX);
    model_set_window(m, 5 * SEC);
    for (uint32_t i = 1; i <= 4; i++) {
        struct sample_thread th[3] = {
            { 1, 0, stk[1], 0, 1, 1, 0, 0 },
            { 2, 0, stk[2], 0, 1, 1, 100 * i, 0 },      /* memory on the 2nd of 3 */
            { 3, 0, stk[3], 0, 1, 1, 0, i },
        };
        struct sample s = { .time_ns = i * SEC, .pid = 1, .nthreads = 3, .threads = th };
        model_add(m, &s);
    }
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.mem_grow == 1000 && tot.mem_release == 10 && tot.window_samples == 4,
          "side ring: all four samples' memory in the window");
    model_set_ring_limit(m, 7);     /* keeps the 3rd entry of sample 2 on */
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.mem_grow == 700 && tot.mem_release == 9 && tot.window_samples == 2 &&
          tot.cpu_ns == 7 && tot.window_start_ns == 2 * SEC,
          "side ring: a lower limit takes the memory of the entries it drops");
    model_set_window(m, 5 * SEC);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.mem_grow == 700 && tot.mem_release == 9 && tot.cpu_ns == 7,
          "side ring: set_window recounts the same from a ring whose head has no time");
    model_set_window(m, 1500 * MS);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.mem_grow == 700 && tot.mem_release == 7 && tot.cpu_ns == 6,
          "side ring: a window that starts just after the head leaves it out");
    model_set_window(m, 5 * SEC);
    /* Retention (5 s) then takes them by the time they share with their
     * sample, the head's included. */
    struct sample later = { .time_ns = 7 * SEC, .pid = 1 };
    model_add(m, &later);
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.mem_grow == 300 + 400 && tot.mem_release == 3 + 4 && tot.cpu_ns == 6,
          "side ring: entries leave by retention at their sample's time");
    model_reset(m);
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK_INT(tot.memory_bytes, empty.memory_bytes, "side ring: reset frees both rings");
    free(lg.v);
    model_free(m);
    stack_table_free(t);
}

/* ---- a long run ------------------------------------------------------------ */

/* One million samples at 1 kHz with 4 threads over 1000 distinct stacks,
 * retention 60 s: the ring settles at 240,000 entries, so the footprint
 * must settle too, under the bound in docs/model.md. */
static void test_long_run(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fr[50];
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof name, "fn%d", i);
        fr[i] = frame_id(t, name, "long.py", i, i);
    }
    uint32_t stk[1000];
    rng_state = 99;
    for (int i = 0; i < 1000; i++) {
        uint32_t path[20];
        for (int d = 0; d < 20; d++)
            path[d] = fr[rnd(50)];
        stk[i] = stack_of(t, path, 1 + rnd(20));
    }
    struct model *m = new_model(t, 10 * SEC, 60 * SEC);
    size_t mid = 0, peak = 0;
    struct model_totals tot;
    for (int i = 1; i <= 1000000; i++) {
        struct sample_thread th[4];
        for (uint32_t j = 0; j < 4; j++)
            th[j] = (struct sample_thread){ 100 + j, 0, stk[rnd(1000)], SAMPLE_RUNNING, 500000,
                                            1000000, 0, 0 };
        struct sample s = { .time_ns = (uint64_t)i * MS, .pid = 1, .nthreads = 4, .threads = th };
        model_add(m, &s);
        if (i % 100000 == 0) {
            model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
            if (tot.memory_bytes > peak)
                peak = tot.memory_bytes;
            if (i == 500000)
                mid = tot.memory_bytes;
        }
    }
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    /* docs/model.md: 16 B per ring entry, 8 B per sample time (no memory
     * changes here), 192 KiB of blocks, 171 B per (thread, stack) pair in
     * each of two maps, 220 B per thread, 600 B per process, and the model
     * itself: here 240,000 entries of 60,000 samples, 4,000 pairs, 4
     * threads, 1 process. */
    size_t bound = 240000 * 16 + 60000 * 8 + 192 * 1024 + 2 * 4000 * 171 + 4 * 220 + 600 + 512;
    printf("# 1M samples x 4 threads: %zu bytes (%.1f MiB), peak %zu, bound %zu\n",
           tot.memory_bytes, tot.memory_bytes / 1048576.0, peak, bound);
    CHECK(tot.samples == 1000000 && tot.window_samples == 10000,
          "long run: a million samples, ten seconds of them in the window");
    CHECK(peak <= bound, "long run: memory stays under the documented bound");
    CHECK(tot.memory_bytes <= mid + 65536, "long run: memory stopped growing after retention");
    CHECK_INT(model_ring_dropped(m), 0, "long run: nothing dropped early");
    model_free(m);
    stack_table_free(t);
}

/* ---- memory attribution, processes, GIL, counters ----------------------- */

/* One sample of one process with up to four threads. */
struct th_spec {
    uint32_t tid, stack, flags;
    uint64_t cpu, grow, release;
};

static int add_proc(struct model *m, uint64_t time, uint32_t pid, const struct th_spec *ts,
                    uint32_t n, const struct process_info *info, const struct counters *c)
{
    struct sample_thread th[4];
    for (uint32_t i = 0; i < n; i++)
        th[i] = (struct sample_thread){ .tid = ts[i].tid, .stack = ts[i].stack,
                                        .flags = ts[i].flags, .cpu_ns = ts[i].cpu,
                                        .wall_ns = 1, .mem_grow = ts[i].grow,
                                        .mem_release = ts[i].release };
    struct sample s = { .time_ns = time, .pid = pid, .nthreads = n, .threads = th,
                        .process = info, .counters = c };
    return model_add(m, &s);
}

static void test_memory(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fmain = frame_id(t, "main", "m.py", 1, 1);
    uint32_t falloc = frame_id(t, "alloc", "m.py", 10, 9);
    uint32_t ffree = frame_id(t, "release", "m.py", 20, 19);
    uint32_t s_alloc = STACK(t, fmain, falloc);
    uint32_t s_rec = STACK(t, fmain, falloc, falloc);   /* alloc calls itself */
    uint32_t s_free = STACK(t, fmain, ffree);
    struct model *m = new_model(t, 2 * SEC, 60 * SEC);
    /* t=1: alloc grows 1000; t=2: the recursion grows 300 and releases 7;
     * t=3: release gives back 500; t=4: alloc grows 40. */
    add_proc(m, 1 * SEC, 5, &(struct th_spec){ 1, s_alloc, 0, 10, 1000, 0 }, 1, NULL, NULL);
    add_proc(m, 2 * SEC, 5, &(struct th_spec){ 1, s_rec, 0, 10, 300, 7 }, 1, NULL, NULL);
    add_proc(m, 3 * SEC, 5, &(struct th_spec){ 1, s_free, 0, 10, 0, 500 }, 1, NULL, NULL);
    add_proc(m, 4 * SEC, 5, &(struct th_spec){ 1, s_alloc, 0, 10, 40, 0 }, 1, NULL, NULL);

    size_t n;
    struct model_function_row *rows = functions(m, MODEL_TOTAL, MODEL_MEM_GROW, NULL, 0, &n);
    const struct model_function_row *a = fn_find(t, rows, n, "alloc", -1);
    const struct model_function_row *mn = fn_find(t, rows, n, "main", -1);
    const struct model_function_row *rl = fn_find(t, rows, n, "release", -1);
    CHECK(a && a->own_ns == 1340 && a->total_ns == 1340 && a->own_grow == 1340 &&
          a->total_grow == 1340 && a->own_release == 7 && a->total_release == 7,
          "memory: alloc's growth, recursion counted once, release apart");
    CHECK(mn && mn->own_ns == 0 && mn->total_ns == 1340 && mn->total_release == 507 &&
          mn->own_release == 0, "memory: main's total growth and release");
    CHECK(rl && rl->own_ns == 0 && rl->own_release == 500 && rl->total_release == 500,
          "memory: release's own release, no growth");
    free(rows);
    rows = functions(m, MODEL_TOTAL, MODEL_MEM_RELEASE, NULL, 0, &n);
    rl = fn_find(t, rows, n, "release", -1);
    CHECK(rl && rl->own_ns == 500 && rl->total_ns == 500, "memory: release as the weight");
    free(rows);
    rows = functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &n);
    a = fn_find(t, rows, n, "alloc", -1);
    CHECK(a && a->own_ns == 30 && a->own_grow == 1340, "memory: filled whatever the weight");
    free(rows);

    struct model_totals tot;
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    CHECK(tot.mem_grow == 1340 && tot.mem_release == 507, "memory: totals since start");
    /* The window (2 s) holds t=3 and t=4 only. */
    model_totals(m, MODEL_WINDOW, MODEL_CPU, &tot);
    CHECK(tot.mem_grow == 40 && tot.mem_release == 500, "memory: the window subtracts what left");
    rows = functions(m, MODEL_WINDOW, MODEL_MEM_GROW, NULL, 0, &n);
    a = fn_find(t, rows, n, "alloc", -1);
    CHECK(a && a->own_ns == 40 && a->total_release == 0, "memory: alloc over the window");
    free(rows);
    struct model_node_row *tr = tree(m, MODEL_TOTAL, MODEL_MEM_RELEASE, NULL, &n);
    const struct model_node_row *root = node_find(tr, n, 0);
    CHECK(root && root->total_ns == 507, "memory: the tree weighs release too");
    free(tr);
    struct model_thread_row *th = threads(m, MODEL_WINDOW, &n);
    CHECK(n == 1 && th[0].mem_grow == 40 && th[0].mem_release == 500 && th[0].pid == 5,
          "memory: the thread row's window amounts and pid");
    free(th);
    struct stack_weight *sw = stacks(m, MODEL_TOTAL, NULL, &n);
    uint64_t g = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        g += sw[i].mem_grow;
        r += sw[i].mem_release;
    }
    CHECK(g == 1340 && r == 507 && n == 3 && sw[0].pid == 5, "memory: stacks carry it");
    free(sw);
    model_free(m);
    stack_table_free(t);
}

static void test_processes(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t s_a = STACK(t, frame_id(t, "serve", "a.py", 3, 1));
    uint32_t s_b = STACK(t, frame_id(t, "crunch", "b.py", 7, 5));
    struct model *m = new_model(t, 5 * SEC, 60 * SEC);
    struct process_info parent = { .pid = 100, .ppid = 0, .python = "3.12.1" };
    snprintf(parent.command, sizeof parent.command, "python3 app.py");
    struct process_info child = { .pid = 200, .ppid = 100, .python = "3.12.1" };
    snprintf(child.command, sizeof child.command, "python3 worker.py");
    for (int i = 1; i <= 10; i++) {
        struct th_spec p[2] = { { 1, s_a, SAMPLE_GIL, 5, 0, 0 }, { 2, s_a, 0, 1, 0, 0 } };
        add_proc(m, (uint64_t)i * SEC, 100, p, i <= 6 ? 2 : 1, i == 1 ? &parent : NULL, NULL);
        if (i >= 4) {
            struct th_spec c = { 3, s_b, i % 2 ? SAMPLE_GIL : 0, 7, 0, 0 };
            /* The child is described on its third sample only. */
            add_proc(m, (uint64_t)i * SEC, 200, &c, 1, i == 6 ? &child : NULL, NULL);
        }
    }
    size_t n;
    struct model_process_row *pr = NULL;
    CHECK(model_processes(m, MODEL_TOTAL, &pr, &n) == 0 && n == 2, "processes: two seen");
    CHECK(pr[0].info.pid == 100 && strcmp(pr[0].info.command, "python3 app.py") == 0 &&
          pr[0].samples == 10 && pr[0].cpu_ns == 56 && pr[0].threads == 1 &&
          pr[0].first_ns == 1 * SEC && pr[0].last_ns == 10 * SEC,
          "processes: the parent, first seen first");
    CHECK(pr[1].info.pid == 200 && pr[1].info.ppid == 100 &&
          strcmp(pr[1].info.command, "python3 worker.py") == 0 && pr[1].samples == 7 &&
          pr[1].cpu_ns == 49 && pr[1].first_ns == 4 * SEC,
          "processes: the child, described by a later sample");
    free(pr);
    CHECK(model_processes(m, MODEL_WINDOW, &pr, &n) == 0 && n == 2 && pr[0].samples == 5 &&
          pr[0].cpu_ns == 26 && pr[1].samples == 5 && pr[1].cpu_ns == 35,
          "processes: window counts");
    free(pr);

    struct model_filter f = { .pid = 200 };
    struct model_function_row *rows = functions(m, MODEL_TOTAL, MODEL_CPU, &f, 0, &n);
    CHECK(n == 1 && fn_find(t, rows, n, "crunch", -1) && rows[0].own_ns == 49,
          "pid filter: functions of the child only");
    free(rows);
    struct stack_weight *sw = stacks(m, MODEL_TOTAL, &f, &n);
    CHECK(n == 1 && sw[0].pid == 200 && sw[0].tid == 3, "pid filter: stacks");
    free(sw);
    struct model_node_row *tr = tree(m, MODEL_TOTAL, MODEL_CPU, &f, &n);
    CHECK(node_find(tr, n, 0) && node_find(tr, n, 0)->total_ns == 49, "pid filter: tree");
    free(tr);
    struct model_thread_row *thr = NULL;
    CHECK(model_threads_filtered(m, MODEL_TOTAL, &f, &thr, &n) == 0 && n == 1 && thr[0].tid == 3 &&
          thr[0].pid == 200, "pid filter: threads");
    free(thr);
    f = (struct model_filter){ .pid = 100, .tid = 3 };
    rows = functions(m, MODEL_TOTAL, MODEL_CPU, &f, 0, &n);
    CHECK(n == 0, "pid filter: a thread of another process matches nothing");
    free(rows);
    f = (struct model_filter){ .pid = 999 };
    sw = stacks(m, MODEL_TOTAL, &f, &n);
    CHECK(n == 0, "pid filter: an unknown pid matches nothing");
    free(sw);
    struct thread_label *tl = NULL;
    CHECK(model_thread_labels(m, &tl, &n) == 0 && n == 3 && tl[0].pid == 100 &&
          tl[2].pid == 200 && tl[2].tid == 3, "thread labels carry the pid");
    free(tl);

    /* GIL: the parent's thread 1 holds it in every sample; the child's
     * thread in samples 5, 7, 9. */
    struct model_gil g;
    model_gil(m, MODEL_TOTAL, 100, &g);
    CHECK(g.samples == 10 && g.held == 10 && g.none == 0 && g.holder_tid == 1,
          "gil: the parent's holder");
    model_gil(m, MODEL_TOTAL, 200, &g);
    CHECK(g.samples == 7 && g.held == 3 && g.none == 4 && g.holder_tid == 0,
          "gil: the child held it in 3 of 7, not in its latest");
    model_gil(m, MODEL_WINDOW, 200, &g);
    CHECK(g.samples == 5 && g.held == 2 && g.none == 3, "gil: the child over the window");
    model_gil(m, MODEL_TOTAL, 0, &g);
    CHECK(g.samples == 17 && g.held == 13 && g.none == 4 && g.holder_tid == 0,
          "gil: all processes; the latest sample (the child's) had no holder");
    model_gil(m, MODEL_TOTAL, 4242, &g);
    CHECK(g.samples == 0 && g.held == 0 && g.none == 0, "gil: an unknown pid");

    /* A sample with no thread still counts, as a sample without holder. */
    add_proc(m, 11 * SEC, 300, NULL, 0, NULL, NULL);
    CHECK(model_processes(m, MODEL_TOTAL, &pr, &n) == 0 && n == 3 && pr[2].info.pid == 300 &&
          pr[2].info.command[0] == '\0' && pr[2].samples == 1 && pr[2].threads == 0,
          "processes: a pid without info gets one with just the pid");
    free(pr);
    model_gil(m, MODEL_WINDOW, 300, &g);
    CHECK(g.samples == 1 && g.none == 1, "gil: an empty sample holds nothing");

    model_reset(m);
    CHECK(model_processes(m, MODEL_TOTAL, &pr, &n) == 0 && n == 0, "reset: no process");
    free(pr);
    model_gil(m, MODEL_TOTAL, 0, &g);
    CHECK(g.samples == 0 && g.holder_tid == 0, "reset: no GIL samples");
    model_free(m);
    stack_table_free(t);
}

static struct counters counters_at(uint64_t i)
{
    struct counters c = { 0 };
    counters_set(&c, CTR_RSS, 1000 + (i * 7919) % 1000);     /* up and down */
    counters_set(&c, CTR_MINFLT_TOTAL, i);                   /* a running total */
    if (i % 3 == 0)
        counters_set(&c, CTR_GC_COUNT0, i);                  /* only sometimes read */
    return c;
}

static void test_counters(void)
{
    struct stack_table *t = stack_table_new();
    struct model *m = new_model(t, 10 * SEC, 1000 * SEC);
    struct model *twin = new_model(t, 10 * SEC, 1000 * SEC);
    struct counters c;
    size_t n;
    struct model_counter_point *pts = NULL;
    int sorted = 1, bounded = 1;
    for (uint64_t i = 1; i <= 10000; i++) {
        c = counters_at(i);
        if (i == 5)
            c.valid |= 1ull << 63;      /* a counter this build does not know */
        add_proc(m, i * MS, 7, NULL, 0, NULL, &c);
        add_proc(twin, i * MS, 7, NULL, 0, NULL, &c);
        if (i % 997 == 0 || i == 4096 || i == 4097) {
            CHECK(model_counters(m, 0, 0, &pts, &n) == 0, "counters: query");
            bounded &= n <= MODEL_COUNTERS_MAX && n > 0 && pts[n - 1].time_ns == i * MS;
            for (size_t k = 1; k < n; k++)
                sorted &= pts[k - 1].time_ns < pts[k].time_ns;
            if (i == 4096)
                CHECK(n == 4096, "counters: 4096 points kept as they came");
            if (i == 4097)
                CHECK(n == 2049 && pts[0].time_ns == 2 * MS &&
                      pts[0].c.value[CTR_RSS] == (counters_at(1).value[CTR_RSS] >
                                                  counters_at(2).value[CTR_RSS]
                                                  ? counters_at(1).value[CTR_RSS]
                                                  : counters_at(2).value[CTR_RSS]) &&
                      pts[0].c.value[CTR_MINFLT_TOTAL] == 2 &&
                      pts[1].c.value[CTR_GC_COUNT0] == 3 && counters_has(&pts[1].c, CTR_GC_COUNT0) &&
                      !counters_has(&pts[0].c, CTR_GC_COUNT0),
                      "counters: thinned by halves, the newer time, larger values, valid bits merged");
            free(pts);
        }
    }
    CHECK(bounded && sorted, "counters: at most MODEL_COUNTERS_MAX points, oldest first, newest kept");
    CHECK(model_counters(m, 7, 0, &pts, &n) == 0, "counters: by pid");
    int unknown_bit = 0;
    for (size_t k = 0; k < n; k++)
        unknown_bit |= (pts[k].c.valid >> COUNTER_COUNT) != 0;
    CHECK(!unknown_bit, "counters: bits past COUNTER_COUNT are not kept");
    size_t tn;
    struct model_counter_point *tp = NULL;
    CHECK(model_counters(twin, 7, 0, &tp, &tn) == 0 && tn == n &&
          memcmp(tp, pts, n * sizeof *pts) == 0, "counters: the same samples give the same history");
    free(tp);
    uint64_t from = pts[n / 2].time_ns;
    free(pts);
    CHECK(model_counters(m, 7, from, &pts, &n) == 0 && n > 0 && pts[0].time_ns == from,
          "counters: from a time on");
    free(pts);
    CHECK(model_counters(m, 8, 0, &pts, &n) == 0 && n == 0, "counters: an unknown pid has none");
    free(pts);

    /* Retention 10 s: points a second apart, the last ten stay. */
    struct model *r = new_model(t, 5 * SEC, 10 * SEC);
    for (uint64_t i = 1; i <= 30; i++) {
        c = counters_at(i);
        add_proc(r, i * SEC, 9, NULL, 0, NULL, i % 2 ? &c : NULL);
    }
    CHECK(model_counters(r, 9, 0, &pts, &n) == 0 && n == 5 && pts[0].time_ns == 21 * SEC &&
          pts[4].time_ns == 29 * SEC, "counters: points older than the retention go");
    free(pts);
    model_reset(r);
    CHECK(model_counters(r, 0, 0, &pts, &n) == 0 && n == 0, "counters: reset forgets them");
    free(pts);

    /* Many processes: histories beyond the bound replace the stalest. */
    for (uint32_t pid = 1; pid <= 100; pid++) {
        c = counters_at(pid);
        add_proc(r, 100 * SEC + pid * MS, pid, NULL, 0, NULL, &c);
    }
    size_t with = 0;
    for (uint32_t pid = 1; pid <= 100; pid++) {
        CHECK(model_counters(r, pid, 0, &pts, &n) == 0, "counters: query by pid");
        with += n > 0;
        free(pts);
    }
    CHECK(model_counters(r, 100, 0, &pts, &n) == 0 && n == 1, "counters: the newest process has its point");
    free(pts);
    CHECK(with == 64, "counters: at most 64 processes keep a history");
    struct model_totals tot, empty;
    model_totals(r, MODEL_TOTAL, MODEL_CPU, &tot);
    model_reset(r);
    model_totals(r, MODEL_TOTAL, MODEL_CPU, &empty);
    CHECK(tot.memory_bytes > empty.memory_bytes + 64 * 64 * sizeof(struct model_counter_point),
          "counters: their memory is counted");
    model_free(r);
    model_free(m);
    model_free(twin);
    stack_table_free(t);
}

/* ---- start-up and shutdown named (launch mode) --------------------------- */

/* The root frame's function of a stack, or "" for the empty one. */
static const char *root_name(const struct stack_table *t, uint32_t node)
{
    const char *name = "";
    while (node) {
        const struct stack_node *n = stack_table_get_node(t, node);
        name = frame_function(t, n->frame);
        node = n->parent;
    }
    return name;
}

/* One sample of the main thread (tid 100) and a worker (tid 101). */
static uint32_t phase_step(struct phase_labels *pl, struct stack_table *t, uint32_t main_stack,
                           uint32_t flags, uint32_t *worker_out)
{
    struct sample_thread th[2] = { { 100, 0, main_stack, flags, 1, 1, 0, 0 },
                                   { 101, 0, 0, 0, 1, 1, 0, 0 } };
    struct sample s = { .time_ns = 1, .pid = 100, .nthreads = 2, .threads = th };
    struct sample out;
    phase_labels_apply(pl, t, &s, &out);
    if (worker_out)
        *worker_out = out.threads[1].stack;
    return out.threads[0].stack;
}

static void test_phases(void)
{
    struct stack_table *t = stack_table_new();
    static const char cmd[] = "/usr/bin/python3\0-s\0/home/u/app.py\0--fast";
    struct phase_labels pl;
    phase_labels_init(&pl, 100, cmd, sizeof cmd);
    uint32_t imp = frame_id(t, "_find_and_load", "<frozen importlib._bootstrap>", 1, 1);
    uint32_t site = frame_id(t, "<module>", "/usr/lib/python2.7/site.py", 1, 1);
    uint32_t mod = frame_id(t, "<module>", "app.py", 3, 1);
    uint32_t work = frame_id(t, "work", "app.py", 9, 8);
    uint32_t gen = frame_id(t, "pipe", "app.py", 20, 19);
    uint32_t shut = frame_id(t, "_shutdown", "/usr/lib/python3.12/threading.py", 1, 1);
    uint32_t worker;

    uint32_t got = phase_step(&pl, t, 0, 0, &worker);
    CHECK_STR(root_name(t, got), "<start-up>", "start-up: an empty main thread is <start-up>");
    CHECK_INT(worker, 0, "start-up: other threads are left as they are");
    got = phase_step(&pl, t, STACK(t, imp, work), 0, NULL);
    CHECK_STR(root_name(t, got), "<start-up>", "start-up: an import from C is under <start-up>");
    const struct stack_node *n = stack_table_get_node(t, got);
    CHECK(n && n->frame == work && n->depth == 3, "start-up: the frames read stay, under the label");
    got = phase_step(&pl, t, STACK(t, site, work), 0, NULL);
    CHECK_STR(root_name(t, got), "<start-up>", "start-up: 2.7's site <module> is start-up");
    CHECK_INT(pl.phase, PHASE_STARTUP, "start-up: still starting");

    uint32_t main_stack = STACK(t, mod, work);
    got = phase_step(&pl, t, main_stack, 0, NULL);
    CHECK_INT(got, main_stack, "main: the main module's stacks are left as they are");
    CHECK_INT(pl.phase, PHASE_MAIN, "main: begun at the program's own root");
    got = phase_step(&pl, t, STACK(t, gen), 0, NULL);
    CHECK_INT(pl.phase, PHASE_MAIN, "main: a stack cut at a generator does not end it");
    got = phase_step(&pl, t, 0, 0, NULL);
    CHECK_INT(got, 0, "main: one empty read stays <no Python frame>");
    got = phase_step(&pl, t, main_stack, 0, NULL);
    got = phase_step(&pl, t, 0, SAMPLE_PARTIAL, NULL);
    got = phase_step(&pl, t, 0, SAMPLE_PARTIAL, NULL);
    CHECK_INT(pl.phase, PHASE_MAIN, "main: failed reads do not end it");

    got = phase_step(&pl, t, STACK(t, shut), 0, NULL);
    CHECK_INT(pl.phase, PHASE_SHUTDOWN, "shutdown: begun at threading._shutdown");
    CHECK_STR(root_name(t, got), "<shutdown>", "shutdown: _shutdown under <shutdown>");
    got = phase_step(&pl, t, 0, 0, &worker);
    CHECK_STR(root_name(t, got), "<shutdown>", "shutdown: an empty main thread is <shutdown>");
    CHECK_INT(worker, 0, "shutdown: other threads are left as they are");
    phase_labels_release(&pl);

    /* Two empty reads in a row once the main module ran: shutdown. */
    phase_labels_init(&pl, 100, cmd, sizeof cmd);
    phase_step(&pl, t, main_stack, 0, NULL);
    phase_step(&pl, t, 0, 0, NULL);
    got = phase_step(&pl, t, 0, 0, NULL);
    CHECK_STR(root_name(t, got), "<shutdown>", "shutdown: two empty reads in a row");
    /* Another process's samples are not the launched program's. */
    struct sample_thread th = { 100, 0, 0, 0, 1, 1, 0, 0 };
    struct sample s = { .time_ns = 1, .pid = 200, .nthreads = 1, .threads = &th }, out;
    phase_labels_apply(&pl, t, &s, &out);
    CHECK_INT(out.threads[0].stack, 0, "another process is left as it is");
    phase_labels_release(&pl);

    /* python -m: runpy, frozen from 3.11, runs the main module. */
    uint32_t runpy = frame_id(t, "_run_module_as_main", "<frozen runpy>", 173, 173);
    phase_labels_init(&pl, 100, cmd, sizeof cmd);
    phase_step(&pl, t, STACK(t, imp, work), 0, NULL);
    got = phase_step(&pl, t, STACK(t, runpy, work), 0, NULL);
    CHECK_INT(pl.phase, PHASE_MAIN, "main: python -m runs under runpy's _run_module_as_main");
    phase_labels_release(&pl);

    /* A main script in a lib/python directory, named on the command line. */
    static const char cmd2[] = "python\0/opt/lib/python3/tool.py";
    uint32_t tool = frame_id(t, "<module>", "/opt/lib/python3/tool.py", 1, 1);
    phase_labels_init(&pl, 100, cmd2, sizeof cmd2);
    got = phase_step(&pl, t, STACK(t, tool, work), 0, NULL);
    CHECK_INT(pl.phase, PHASE_MAIN, "main: a script the command names, wherever it lives");
    phase_labels_release(&pl);
    stack_table_free(t);
}

int main(void)
{
    UNIT_RUN(test_nested);
    UNIT_RUN(test_recursion);
    UNIT_RUN(test_deep);
    UNIT_RUN(test_by_line);
    UNIT_RUN(test_cpu_wall);
    UNIT_RUN(test_carry);
    UNIT_RUN(test_window);
    UNIT_RUN(test_time_and_errors);
    UNIT_RUN(test_ring_overflow);
    UNIT_RUN(test_filters);
    UNIT_RUN(test_tree);
    UNIT_RUN(test_reset);
    UNIT_RUN(test_threads);
    UNIT_RUN(test_determinism);
    UNIT_RUN(test_random_crosscheck);
    UNIT_RUN(test_side_ring);
    UNIT_RUN(test_long_run);
    UNIT_RUN(test_memory);
    UNIT_RUN(test_processes);
    UNIT_RUN(test_counters);
    UNIT_RUN(test_phases);
    return unit_done();
}
