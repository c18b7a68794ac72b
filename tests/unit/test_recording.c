/* Unit tests for src/record/varint.c and src/record/recording.c: varint
 * edges, round trips (threads, UTF-8, empty stacks, flags, meta, summary),
 * a recording cut at every byte, files that are not recordings, versions,
 * records of unknown types, corrupt content, write errors, the flush
 * policy, and a recorder killed with SIGKILL.
 *
 * Run as `test_recording --write-seeds DIR` it writes the fuzzer's seed
 * recordings (tests/fuzz/seeds/recording/) instead. */
#include "unit.h"

#include "core/error.h"
#include "core/stacks.h"
#include "record/recording.h"
#include "record/varint.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull
#define SEC 1000000000ull

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ & 3];
    snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
    return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    *len = n;
    return buf;
}

static int spill(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = len ? write(fd, data, len) : 0;
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- fixtures ----------------------------------------------------------- */

static uint32_t str_id(struct stack_table *t, const char *s)
{
    uint32_t id = 0;
    if (stack_table_string(t, s, strlen(s), &id) != 0)
        abort();
    return id;
}

static const char *const func_names[] = {
    "main", "run", "handle_request", "na\xc3\xafve_\xce\xbb", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "\xf0\x9f\x90\x8d_snake", "<module>", "_bootstrap_inner", "compute", "__init__",
};
static const char *const file_names[] = {
    "/srv/app.py", "/home/\xc3\xbc/lib.py", "<frozen importlib._bootstrap>", "",
};

/* A random stack of depth 1..maxdepth, interned as the sampler would. */
static uint32_t random_stack(struct stack_table *t, int maxdepth)
{
    int depth = 1 + (int)(rnd() % (uint64_t)maxdepth);
    uint32_t node = 0;
    for (int d = 0; d < depth; d++) {
        struct stack_frame f;
        f.function = str_id(t, func_names[rnd() % 10]);
        f.file = str_id(t, file_names[rnd() % 4]);
        f.line = (rnd() % 9 == 0) ? -1 : (int32_t)(rnd() % 3000);
        f.firstline = (int32_t)(rnd() % 100);
        uint32_t fid;
        if (stack_table_frame(t, &f, &fid) != 0 || stack_table_node(t, node, fid, &node) != 0)
            abort();
    }
    return node;
}

static struct recording_meta test_meta(void)
{
    struct recording_meta m;
    memset(&m, 0, sizeof m);
    m.pid = 4242;
    snprintf(m.python, sizeof m.python, "3.12.1");
    snprintf(m.command, sizeof m.command, "python3 -m \xc3\xa9t\xc3\xa9 --flag 'a b'");
    m.start_unix_ns = 1700000000123456789ull;
    m.rate_hz = 997;
    return m;
}

/* Samples as written, kept for comparing with what is read back. */
struct kept {
    struct sample s;
    struct sample_thread th[8];
    struct process_info proc;
    struct counters ctr;
};

/* Threads equal; with_mem: memory fields too (a 1.0 file has none). */
static int same_threads(const struct sample *a, const struct sample *b, int with_mem)
{
    if (a->time_ns != b->time_ns || a->pid != b->pid || a->nthreads != b->nthreads)
        return 0;
    for (uint32_t i = 0; i < a->nthreads; i++) {
        const struct sample_thread *x = &a->threads[i], *y = &b->threads[i];
        if (x->tid != y->tid || x->name != y->name || x->stack != y->stack ||
            x->flags != y->flags || x->cpu_ns != y->cpu_ns || x->wall_ns != y->wall_ns)
            return 0;
        if (with_mem && (x->mem_grow != y->mem_grow || x->mem_release != y->mem_release))
            return 0;
    }
    return 1;
}

static int same_sample(const struct sample *a, const struct sample *b)
{
    return same_threads(a, b, 1);
}

static int same_process(const struct process_info *a, const struct process_info *b)
{
    return a->pid == b->pid && a->ppid == b->ppid && strcmp(a->python, b->python) == 0 &&
           strcmp(a->command, b->command) == 0;
}

static int same_counters(const struct counters *a, const struct counters *b)
{
    if (a->valid != b->valid)
        return 0;
    for (int id = 0; id < COUNTER_COUNT; id++)
        if (counters_has(a, (enum counter_id)id) && a->value[id] != b->value[id])
            return 0;
    return 1;
}

/* The reader's dictionary holds the writer's entries with the same ids
 * (it may hold fewer: entries no sample needed yet). */
static int same_dict(const struct stack_table *w, const struct stack_table *r)
{
    if (stack_table_string_count(r) > stack_table_string_count(w) ||
        stack_table_frame_count(r) > stack_table_frame_count(w) ||
        stack_table_node_count(r) > stack_table_node_count(w))
        return 0;
    for (uint32_t i = 0; i < stack_table_string_count(r); i++)
        if (stack_table_str_len(w, i) != stack_table_str_len(r, i) ||
            memcmp(stack_table_str(w, i), stack_table_str(r, i), stack_table_str_len(w, i)) != 0)
            return 0;
    for (uint32_t i = 0; i < stack_table_frame_count(r); i++)
        if (memcmp(stack_table_get_frame(w, i), stack_table_get_frame(r, i),
                   sizeof(struct stack_frame)) != 0)
            return 0;
    for (uint32_t i = 0; i < stack_table_node_count(r); i++)
        if (memcmp(stack_table_get_node(w, i), stack_table_get_node(r, i),
                   sizeof(struct stack_node)) != 0)
            return 0;
    return 1;
}

/* Write n random samples to path; returns the writer's dictionary and
 * fills kept[] (n entries) when given. */
static struct stack_table *write_random(const char *path, int n, int maxdepth, struct kept *kept,
                                        const struct recording_summary *summary, int *err)
{
    struct stack_table *t = stack_table_new();
    struct recording_meta meta = test_meta();
    struct rec_writer *w = NULL;
    *err = rec_writer_open(path, &meta, &w);
    if (*err)
        return t;
    uint32_t names[4] = { 0, str_id(t, "MainThread"), str_id(t, "worker-\xe2\x82\xac"),
                          str_id(t, "") };
    uint64_t time = 0;
    for (int i = 0; i < n && !*err; i++) {
        struct kept k;
        memset(&k, 0, sizeof k);
        /* Mostly forward in time, once in a while a step back. */
        if (i % 97 == 96)
            time -= 3 * MS;
        else
            time += 1 * MS + rnd() % (2 * MS);
        k.s.time_ns = time;
        k.s.pid = (i % 50 == 49) ? 4243 : 4242;
        k.s.nthreads = (uint32_t)(i % 6);      /* 0 to 5 threads */
        for (uint32_t j = 0; j < k.s.nthreads; j++) {
            struct sample_thread *th = &k.th[j];
            th->tid = 1000 + j * 7919;
            th->name = names[j % 4];
            th->stack = (i + (int)j) % 5 == 0 ? 0 : random_stack(t, maxdepth);
            th->flags = (uint32_t)(rnd() & 7);
            th->cpu_ns = (j == 3) ? UINT64_MAX - rnd() % 5 : rnd() % (3 * MS);
            th->wall_ns = rnd() % (3 * MS);
            /* Not from rnd(), so the 1.0 seeds' samples stay what this
             * function writes (test_v1_0_file). */
            th->mem_grow = (uint64_t)(i * 7 + (int)j) % 5 == 0 ? (uint64_t)i * 4096 + j : 0;
            th->mem_release = (i + (int)j) % 7 == 3 ? UINT64_MAX - (uint64_t)i : 0;
        }
        k.s.threads = k.th;
        /* A child process described on its first sample; counters now and
         * then, with some bits set and some not. */
        if (k.s.pid == 4243 && i == 49) {
            k.proc = (struct process_info){ .pid = 4243, .ppid = 4242, .python = "3.13.0" };
            snprintf(k.proc.command, sizeof k.proc.command, "python3 -c 'print(\"\\u00e9\")'");
            k.s.process = &k.proc;
        }
        if (i % 4 == 1) {
            for (int id = 0; id < COUNTER_COUNT; id++)
                if ((i + id) % 3)
                    counters_set(&k.ctr, (enum counter_id)id,
                                 id == 0 ? UINT64_MAX : (uint64_t)i << id);
            k.s.counters = &k.ctr;
        }
        *err = rec_writer_sample(w, t, &k.s);
        if (kept) {
            kept[i] = k;
            kept[i].s.threads = kept[i].th;
            kept[i].s.process = k.s.process ? &kept[i].proc : NULL;
            kept[i].s.counters = k.s.counters ? &kept[i].ctr : NULL;
        }
    }
    int cerr = rec_writer_close(w, summary);
    if (!*err)
        *err = cerr;
    return t;
}

/* ---- varints ------------------------------------------------------------ */

static void test_varint(void)
{
    static const uint64_t values[] = {
        0, 1, 127, 128, 255, 300, 16383, 16384, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
        1ull << 56, (1ull << 63) - 1, 1ull << 63, UINT64_MAX,
    };
    static const size_t sizes[] = { 1, 1, 1, 2, 2, 2, 2, 3, 5, 5, 9, 9, 10, 10 };
    int ok = 1, sizes_ok = 1;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t buf[VARINT_MAX_LEN];
        size_t n = varint_encode(buf, values[i]);
        if (n != sizes[i] || varint_size(values[i]) != n)
            sizes_ok = 0;
        struct vcur c;
        uint64_t back = 0;
        vcur_init(&c, buf, n);
        if (vcur_uvarint(&c, &back) != 0 || back != values[i] || vcur_left(&c) != 0)
            ok = 0;
    }
    CHECK(sizes_ok, "uvarint sizes from 1 to 10 bytes");
    CHECK(ok, "uvarint round trips, 0 to UINT64_MAX");

    static const int64_t svalues[] = { 0, -1, 1, -64, 63, -65, 64, INT32_MIN, INT32_MAX,
                                       INT64_MIN, INT64_MAX };
    ok = 1;
    for (size_t i = 0; i < sizeof svalues / sizeof svalues[0]; i++) {
        struct vbuf b;
        vbuf_init(&b);
        vbuf_put_svarint(&b, svalues[i]);
        struct vcur c;
        int64_t back = 0;
        vcur_init(&c, b.data, b.len);
        if (vcur_svarint(&c, &back) != 0 || back != svalues[i])
            ok = 0;
        vbuf_release(&b);
    }
    CHECK(ok, "svarint round trips, INT64_MIN to INT64_MAX");
    CHECK_INT(zigzag_encode(-1), 1, "zigzag -1 is 1");
    CHECK_INT(zigzag_encode(1), 2, "zigzag 1 is 2");
    CHECK(zigzag_encode(INT64_MIN) == UINT64_MAX, "zigzag INT64_MIN is UINT64_MAX");

    struct vcur c;
    uint64_t v = 77;
    vcur_init(&c, "\x80\x80", 2);
    CHECK_INT(vcur_uvarint(&c, &v), -PT_ERR_TRUNCATED, "a varint cut short is truncated");
    CHECK_INT(v, 77, "... and writes nothing");
    uint8_t u8;
    CHECK_INT(vcur_u8(&c, &u8), -PT_ERR_TRUNCATED, "the error sticks");
    vcur_init(&c, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    CHECK_INT(vcur_uvarint(&c, &v), 0, "ten bytes with a final 1: UINT64_MAX");
    CHECK(v == UINT64_MAX, "... its value");
    vcur_init(&c, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
    CHECK_INT(vcur_uvarint(&c, &v), -PT_ERR_FORMAT, "a tenth byte over 1 overflows");
    vcur_init(&c, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
    CHECK_INT(vcur_uvarint(&c, &v), -PT_ERR_FORMAT, "an eleven-byte varint is refused");
    vcur_init(&c, "\x80\x00", 2);
    CHECK_INT(vcur_uvarint(&c, &v), 0, "a redundant (overlong) zero is accepted");
    CHECK_INT(v, 0, "... as 0");
    uint32_t u32 = 5;
    vcur_init(&c, "\x80\x80\x80\x80\x10", 5);
    CHECK_INT(vcur_u32(&c, &u32), -PT_ERR_FORMAT, "2^32 does not fit a u32");
    CHECK_INT(u32, 5, "... nothing written");
    int32_t s32;
    vcur_init(&c, "\xfe\xff\xff\xff\x0f", 5);
    CHECK_INT(vcur_s32(&c, &s32), 0, "INT32_MAX as an svarint");
    CHECK_INT(s32, INT32_MAX, "... its value");
    vcur_init(&c, "\x80\x80\x80\x80\x10", 5);
    CHECK_INT(vcur_s32(&c, &s32), -PT_ERR_FORMAT, "2^31 does not fit an s32");
    const uint8_t *p;
    vcur_init(&c, "abc", 3);
    CHECK_INT(vcur_bytes(&c, 4, &p), -PT_ERR_TRUNCATED, "more bytes than the range");
    vcur_init(&c, "abc", 3);
    CHECK_INT(vcur_bytes(&c, 3, &p), 0, "exactly the range");
    CHECK_INT(vcur_left(&c), 0, "nothing left");
    vcur_init(&c, NULL, 0);
    CHECK_INT(vcur_u8(&c, &u8), -PT_ERR_TRUNCATED, "an empty range");

    struct vbuf b;
    vbuf_init(&b);
    for (int i = 0; i < 100000; i++)
        vbuf_put_uvarint(&b, (uint64_t)i);
    CHECK(!b.oom && b.len > 100000, "vbuf grows");
    vbuf_consume(&b, 10);
    vcur_init(&c, b.data, b.len);
    CHECK(vcur_uvarint(&c, &v) == 0 && v == 10, "consume drops the front");
    vbuf_release(&b);
}

/* ---- round trips -------------------------------------------------------- */

enum { NSAMPLES = 3000 };

static void test_round_trip(void)
{
    static struct kept kept[NSAMPLES];
    struct recording_summary sum = { NSAMPLES, 5, 7, 3 * SEC + 17, 1, -9, 1,
                                     { 2900, 40, 3, 2, 55 }, 131 };
    const char *path = tmp_path("round.rec");
    int err;
    struct stack_table *t = write_random(path, NSAMPLES, 40, kept, &sum, &err);
    CHECK_INT(err, 0, "wrote 3000 samples");

    struct rec_reader *r = NULL;
    CHECK_INT(rec_reader_open(path, &r), 0, "open the recording");
    if (!r) {
        stack_table_free(t);
        return;
    }
    const struct recording_meta *m = rec_reader_meta(r);
    struct recording_meta want = test_meta();
    CHECK_INT(m->pid, want.pid, "meta pid");
    CHECK_STR(m->python, want.python, "meta python version");
    CHECK_STR(m->command, want.command, "meta command (UTF-8)");
    CHECK(m->start_unix_ns == want.start_unix_ns, "meta start time");
    CHECK_INT(m->rate_hz, want.rate_hz, "meta rate");
    CHECK_INT(rec_reader_summary(r, NULL), 0, "no summary before reading to it");

    int n = 0, same = 1, ret, empty_samples = 0, empty_stacks = 0;
    int procs_ok = 1, nprocs = 0, counters_ok = 1, ncounters = 0, mem = 0;
    struct sample s;
    while ((ret = rec_reader_next(r, &s)) == 1) {
        if (n >= NSAMPLES || !same_sample(&s, &kept[n].s))
            same = 0;
        if (n < NSAMPLES) {
            const struct sample *k = &kept[n].s;
            /* Written: the child's description; the target is described
             * from the metadata before its first sample. */
            if (k->process)
                procs_ok &= s.process && same_process(s.process, k->process);
            else if (n == 0)
                procs_ok &= s.process && s.process->pid == 4242 && s.process->ppid == 0 &&
                            strcmp(s.process->python, "3.12.1") == 0 &&
                            strcmp(s.process->command, test_meta().command) == 0;
            else
                procs_ok &= s.process == NULL;
            nprocs += s.process != NULL;
            if (k->counters)
                counters_ok &= s.counters && same_counters(s.counters, k->counters);
            else
                counters_ok &= s.counters == NULL;
            ncounters += s.counters != NULL;
            for (uint32_t j = 0; j < s.nthreads; j++)
                mem += s.threads[j].mem_grow != 0 || s.threads[j].mem_release != 0;
        }
        if (s.nthreads == 0)
            empty_samples++;
        for (uint32_t j = 0; j < s.nthreads; j++)
            empty_stacks += s.threads[j].stack == 0;
        n++;
    }
    CHECK_INT(ret, 0, "read to the end");
    CHECK_INT(n, NSAMPLES, "every sample read");
    CHECK(same, "every sample as written: times (one going back), pids, threads, flags, weights");
    CHECK(mem > 100, "memory growth and release per thread come back");
    CHECK(procs_ok && nprocs == 2, "process records: the target from the metadata, the child as written");
    CHECK(counters_ok && ncounters == NSAMPLES / 4, "counters: each attached to its sample, valid bits and values");
    CHECK(empty_samples > 0 && empty_stacks > 0, "samples without threads and empty stacks");
    CHECK_INT(rec_reader_truncated(r), 0, "not truncated");
    CHECK(same_dict(t, rec_reader_dict(r)), "dictionary rebuilt with the same ids");
    CHECK_INT(stack_table_node_count(rec_reader_dict(r)), stack_table_node_count(t),
              "every node written");
    struct recording_summary got;
    CHECK_INT(rec_reader_summary(r, &got), 1, "summary present");
    CHECK(got.samples == sum.samples && got.late == sum.late && got.errors == sum.errors &&
          got.duration_ns == sum.duration_ns && got.target_exited == 1 && got.exit_status == -9,
          "summary as written");
    CHECK(got.have_stacks && memcmp(got.stacks, sum.stacks, sizeof sum.stacks) == 0 &&
              got.retries == 131,
          "summary: stacks by kind and re-reads (1.2) as written");
    CHECK_INT(rec_reader_next(r, &s), 0, "the end stays the end");
    rec_reader_close(r);
    rec_reader_close(NULL);

    /* The same bytes through the memory reader. */
    size_t len;
    uint8_t *data = slurp(path, &len);
    CHECK_INT(rec_reader_open_mem(data, len, &r), 0, "open from memory");
    n = 0;
    same = 1;
    while (rec_reader_next(r, &s) == 1)
        same &= n < NSAMPLES && same_sample(&s, &kept[n++].s);
    CHECK(same && n == NSAMPLES, "memory reader reads the same samples");
    rec_reader_close(r);
    free(data);
    stack_table_free(t);
}

static void test_edge_samples(void)
{
    const char *path = tmp_path("edge.rec");
    struct stack_table *t = stack_table_new();
    struct recording_meta meta;
    memset(&meta, 0, sizeof meta);
    /* Meta fields filled to the last byte, no NUL. */
    memset(meta.python, 'p', sizeof meta.python);
    memset(meta.command, 'c', sizeof meta.command);
    struct rec_writer *w;
    CHECK_INT(rec_writer_open(path, &meta, &w), 0, "open a writer");

    static struct sample_thread many[1000];
    uint32_t deep = 0;
    for (int d = 0; d < 2000; d++) {
        struct stack_frame f = { str_id(t, "recurse"), str_id(t, "r.py"), d % 3, 1 };
        uint32_t fid;
        stack_table_frame(t, &f, &fid);
        stack_table_node(t, deep, fid, &deep);
    }
    /* A name bigger than the reader's 64 KiB buffer. */
    size_t biglen = 200000;
    char *bigname = malloc(biglen);
    for (size_t i = 0; i < biglen; i++)
        bigname[i] = (char)('a' + i % 26);
    uint32_t big;
    stack_table_string(t, bigname, biglen, &big);
    for (uint32_t i = 0; i < 1000; i++) {
        many[i].name = i == 999 ? big : 0;
        many[i].tid = i;
        many[i].stack = i % 2 ? deep : 0;
        many[i].flags = SAMPLE_RUNNING | SAMPLE_GIL | SAMPLE_PARTIAL | (1u << 31);
        many[i].cpu_ns = i;
        many[i].wall_ns = UINT64_MAX;
    }
    struct sample s = { .time_ns = 0, .pid = UINT32_MAX, .nthreads = 1000, .threads = many };
    CHECK_INT(rec_writer_sample(w, t, &s), 0, "1000 threads, a 2000-deep stack");
    struct sample none = { .time_ns = UINT64_MAX, .pid = 0, .nthreads = 0, .threads = NULL };
    CHECK_INT(rec_writer_sample(w, t, &none), 0, "no threads, time UINT64_MAX");
    struct sample zero = { .time_ns = 0, .pid = 0, .nthreads = 0, .threads = NULL };
    CHECK_INT(rec_writer_sample(w, t, &zero), 0, "time back to 0");
    CHECK_INT(rec_writer_close(w, NULL), 0, "close without a summary");

    struct rec_reader *r;
    CHECK_INT(rec_reader_open(path, &r), 0, "read it");
    CHECK_INT(strlen(rec_reader_meta(r)->python), sizeof meta.python - 1,
              "a full python field comes back cut to fit with its NUL");
    CHECK_INT(strlen(rec_reader_meta(r)->command), sizeof meta.command - 1, "so does the command");
    struct sample got;
    CHECK_INT(rec_reader_next(r, &got), 1, "first sample");
    CHECK(same_sample(&got, &s), "1000 threads, unknown flag bits kept");
    CHECK_INT(stack_table_get_node(rec_reader_dict(r), got.threads[1].stack)->depth, 2000,
              "the deep stack's depth");
    CHECK(stack_table_str_len(rec_reader_dict(r), got.threads[999].name) == biglen &&
          memcmp(stack_table_str(rec_reader_dict(r), got.threads[999].name), bigname, biglen) == 0,
          "a 200 kB name read through the file buffer");
    free(bigname);
    CHECK_INT(rec_reader_next(r, &got), 1, "second sample");
    CHECK(got.time_ns == UINT64_MAX && got.nthreads == 0, "time UINT64_MAX, no threads");
    CHECK_INT(rec_reader_next(r, &got), 1, "third sample");
    CHECK(got.time_ns == 0, "time wrapped back to 0");
    CHECK_INT(rec_reader_next(r, &got), 0, "end");
    CHECK_INT(rec_reader_summary(r, NULL), 0, "no summary");
    rec_reader_close(r);
    stack_table_free(t);
}

static void test_writer_args(void)
{
    const char *path = tmp_path("args.rec");
    struct recording_meta meta = test_meta();
    struct rec_writer *w;
    CHECK_INT(rec_writer_open(tmp_path("no/such/dir.rec"), &meta, &w), -ENOENT,
              "open in a missing directory: -ENOENT");
    CHECK_INT(rec_writer_open(path, NULL, &w), -EINVAL, "no meta: -EINVAL");
    CHECK_INT(rec_writer_open(path, &meta, &w), 0, "open");
    struct stack_table *t = stack_table_new(), *other = stack_table_new();
    struct sample_thread th = { 1, 0, 5, 0, 0, 0, 0, 0 };
    struct sample s = { .time_ns = 1, .pid = 1, .nthreads = 1, .threads = &th };
    CHECK_INT(rec_writer_sample(w, t, &s), -EINVAL, "a stack not in the table: -EINVAL");
    th.stack = 0;
    th.name = 9;
    CHECK_INT(rec_writer_sample(w, t, &s), -EINVAL, "a name not in the table: -EINVAL");
    th.name = 0;
    s.nthreads = 70000;
    CHECK_INT(rec_writer_sample(w, t, &s), -EINVAL, "more than 65536 threads: -EINVAL");
    s.nthreads = 1;
    CHECK_INT(rec_writer_sample(w, t, &s), 0, "a valid sample after refused ones");
    CHECK_INT(rec_writer_sample(w, other, &s), -EINVAL, "another table: -EINVAL");
    CHECK_INT(rec_writer_flush(w), 0, "flush");
    CHECK_INT(rec_writer_close(w, NULL), 0, "refusals are not sticky");
    CHECK_INT(rec_writer_close(NULL, NULL), 0, "close(NULL)");
    struct rec_reader *r;
    struct sample got;
    rec_reader_open(path, &r);
    CHECK(r && rec_reader_next(r, &got) == 1 && rec_reader_next(r, &got) == 0,
          "only the valid sample was written");
    rec_reader_close(r);
    stack_table_free(t);
    stack_table_free(other);
}

/* ---- truncation --------------------------------------------------------- */

/* Record boundaries found by walking the file independently of the
 * reader: offsets where a record ends, and how many samples end there. */
struct bounds {
    size_t header;
    size_t at[4096];
    int samples[4096];
    int n;
};

static int walk_records(const uint8_t *d, size_t len, struct bounds *b)
{
    struct vcur c;
    uint64_t mlen;
    vcur_init(&c, d + 12, len - 12);
    if (vcur_uvarint(&c, &mlen) != 0)
        return -1;
    b->header = (size_t)(c.p - d) + mlen;
    b->n = 0;
    size_t pos = b->header;
    int samples = 0;
    while (pos < len && b->n < 4096) {
        uint8_t type;
        uint64_t plen;
        vcur_init(&c, d + pos, len - pos);
        if (vcur_u8(&c, &type) != 0 || vcur_uvarint(&c, &plen) != 0)
            return -1;
        pos = (size_t)(c.p - d) + plen;
        samples += type == 4;
        b->at[b->n] = pos;
        b->samples[b->n] = samples;
        b->n++;
    }
    return pos == len ? 0 : -1;
}

static void test_truncation(void)
{
    const char *path = tmp_path("cut-src.rec");
    struct recording_summary sum = { 12, 0, 0, SEC, 0, -1, 0, { 0 }, 0 };
    static struct kept kept[12];
    int err;
    struct stack_table *t = write_random(path, 12, 6, kept, &sum, &err);
    size_t len;
    uint8_t *data = slurp(path, &len);
    static struct bounds b;
    CHECK(err == 0 && data && walk_records(data, len, &b) == 0, "a small recording to cut");
    printf("# %zu bytes, header %zu, %d records\n", len, b.header, b.n);

    int bad_open = 0, errors = 0, wrong_samples = 0, wrong_trunc = 0, boundaries = 0;
    int wrong_attachments = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        struct rec_reader *r = NULL;
        int ret = rec_reader_open_mem(data, cut, &r);
        if (cut < b.header) {
            bad_open += ret != -PT_ERR_FORMAT;
            continue;
        }
        if (ret != 0) {
            bad_open++;
            continue;
        }
        int want = 0, at_boundary = cut == b.header;
        for (int i = 0; i < b.n; i++) {
            if (b.at[i] <= cut)
                want = b.samples[i];
            if (b.at[i] == cut)
                at_boundary = 1;
        }
        boundaries += at_boundary;
        struct sample s;
        int n = 0;
        while ((ret = rec_reader_next(r, &s)) == 1) {
            if (n >= 12 || !same_sample(&s, &kept[n].s))
                wrong_samples++;
            else if ((n == 0) != (s.process != NULL) ||
                     (kept[n].s.counters ? !s.counters || !same_counters(s.counters, kept[n].s.counters)
                                         : s.counters != NULL))
                wrong_attachments++;
            n++;
        }
        errors += ret != 0;
        wrong_samples += n != want;
        wrong_trunc += rec_reader_truncated(r) != !at_boundary;
        rec_reader_close(r);
    }
    CHECK_INT(bad_open, 0, "cut inside the header: -PT_ERR_FORMAT; after it: opens");
    CHECK_INT(errors, 0, "every cut reads without error");
    CHECK_INT(wrong_samples, 0, "every cut reads exactly the samples wholly inside it");
    CHECK_INT(wrong_trunc, 0, "truncated set except at record boundaries");
    CHECK_INT(wrong_attachments, 0, "every cut: whole samples come with their process and counters");
    CHECK_INT(boundaries, b.n + 1, "boundaries seen");

    /* The buffered file reader agrees on a few cuts. */
    int file_ok = 1;
    for (size_t cut = b.header; cut <= len; cut += len / 7 + 1) {
        const char *cpath = tmp_path("cut.rec");
        spill(cpath, data, cut);
        struct rec_reader *r;
        if (rec_reader_open(cpath, &r) != 0) {
            file_ok = 0;
            continue;
        }
        struct sample s;
        int n = 0, ret;
        while ((ret = rec_reader_next(r, &s)) == 1)
            n++;
        int want = 0, at_boundary = cut == b.header;
        for (int i = 0; i < b.n; i++) {
            if (b.at[i] <= cut)
                want = b.samples[i];
            at_boundary |= b.at[i] == cut;
        }
        file_ok &= ret == 0 && n == want && rec_reader_truncated(r) == !at_boundary;
        rec_reader_close(r);
    }
    CHECK(file_ok, "file reader: cut files read a prefix and say truncated");
    free(data);
    stack_table_free(t);
}

/* ---- not recordings, versions, unknown records -------------------------- */

static void test_not_recordings(void)
{
    struct rec_reader *r = NULL;
    const char *text = tmp_path("text.txt");
    const char *msg = "def main():\n    print('this is not a recording')\n";
    spill(text, msg, strlen(msg));
    CHECK_INT(rec_reader_open(text, &r), -PT_ERR_FORMAT, "a text file: -PT_ERR_FORMAT");
    const char *empty = tmp_path("empty");
    spill(empty, "", 0);
    CHECK_INT(rec_reader_open(empty, &r), -PT_ERR_FORMAT, "an empty file: -PT_ERR_FORMAT");
    CHECK_INT(rec_reader_open("/proc/self/exe", &r), -PT_ERR_FORMAT,
              "an ELF file: -PT_ERR_FORMAT");
    const char *magic = tmp_path("magic-only");
    spill(magic, "PYTOPREC", 8);
    CHECK_INT(rec_reader_open(magic, &r), -PT_ERR_FORMAT, "the magic alone: -PT_ERR_FORMAT");
    CHECK_INT(rec_reader_open(tmp_path("missing.rec"), &r), -ENOENT, "a missing file: -ENOENT");
    CHECK_INT(rec_reader_open(tmpdir, &r), -EISDIR, "a directory: -EISDIR");
    CHECK(r == NULL, "no reader from a failed open");
    CHECK_INT(rec_reader_open_mem(NULL, 0, &r), -PT_ERR_FORMAT, "no bytes: -PT_ERR_FORMAT");
}

/* A hand-made recording: header with a given version, then records. */
static void put_header(struct vbuf *b, unsigned major, unsigned minor, int meta_extra)
{
    vbuf_put_bytes(b, "PYTOPREC", 8);
    vbuf_put_u8(b, (uint8_t)major);
    vbuf_put_u8(b, (uint8_t)(major >> 8));
    vbuf_put_u8(b, (uint8_t)minor);
    vbuf_put_u8(b, (uint8_t)(minor >> 8));
    struct vbuf m;
    vbuf_init(&m);
    vbuf_put_uvarint(&m, 77);           /* pid */
    vbuf_put_uvarint(&m, 4);
    vbuf_put_bytes(&m, "3.13", 4);
    vbuf_put_uvarint(&m, 6);
    vbuf_put_bytes(&m, "python", 6);
    vbuf_put_uvarint(&m, 123);          /* start */
    vbuf_put_uvarint(&m, 100);          /* rate */
    if (meta_extra)
        vbuf_put_bytes(&m, "\x05\x06later", 7);
    vbuf_put_uvarint(b, m.len);
    vbuf_put_bytes(b, m.data, m.len);
    vbuf_release(&m);
}

static void put_record(struct vbuf *b, uint8_t type, const struct vbuf *payload)
{
    vbuf_put_u8(b, type);
    vbuf_put_uvarint(b, payload->len);
    vbuf_put_bytes(b, payload->data, payload->len);
}

/* string 1 "f", frame 0 (1, 1, 3, 1), node 1 (0, 0), then a sample of one
 * thread on node 1 (1.0: 6 fields per thread). With extras, as a later
 * minor might write: every record carries trailing fields, records of
 * unknown types sit between them, the sample has 10 fields per thread
 * (memory 4096 grown, 8 released, then two unknown), and a process record
 * and a counters record (rss 1000, gc_count0 7, and counter 40, which
 * this version does not know) come before the sample. */
static void put_body(struct vbuf *b, int extras)
{
    struct vbuf p;
    vbuf_init(&p);
    if (extras) {
        vbuf_put_bytes(&p, "future", 6);
        put_record(b, 99, &p);
        put_record(b, 0, &p);
        p.len = 0;
        put_record(b, 200, &p);     /* empty payload */
    }
    p.len = 0;
    vbuf_put_uvarint(&p, 1);
    vbuf_put_bytes(&p, "f", 1);
    put_record(b, 1, &p);
    p.len = 0;
    vbuf_put_uvarint(&p, 0);
    vbuf_put_uvarint(&p, 1);
    vbuf_put_uvarint(&p, 1);
    vbuf_put_svarint(&p, 3);
    vbuf_put_svarint(&p, 1);
    if (extras)
        vbuf_put_uvarint(&p, 12345);    /* a column, say */
    put_record(b, 2, &p);
    p.len = 0;
    vbuf_put_uvarint(&p, 1);
    vbuf_put_uvarint(&p, 0);
    vbuf_put_uvarint(&p, 0);
    if (extras)
        vbuf_put_uvarint(&p, 1);
    put_record(b, 3, &p);
    if (extras) {
        p.len = 0;
        vbuf_put_uvarint(&p, 77);   /* process: pid, ppid, python, command */
        vbuf_put_uvarint(&p, 1);
        vbuf_put_uvarint(&p, 4);
        vbuf_put_bytes(&p, "3.13", 4);
        vbuf_put_uvarint(&p, 2);
        vbuf_put_bytes(&p, "py", 2);
        vbuf_put_uvarint(&p, 99);   /* a later field */
        put_record(b, 7, &p);
        p.len = 0;
        vbuf_put_uvarint(&p, 1ull << CTR_RSS | 1ull << CTR_GC_COUNT0 | 1ull << 40);
        vbuf_put_uvarint(&p, 1000);
        vbuf_put_uvarint(&p, 7);
        vbuf_put_uvarint(&p, 123456);   /* counter 40's value */
        vbuf_put_uvarint(&p, 5);        /* a later field */
        put_record(b, 6, &p);
    }
    p.len = 0;
    vbuf_put_svarint(&p, 5000);     /* time */
    vbuf_put_uvarint(&p, 77);       /* pid */
    vbuf_put_uvarint(&p, 1);        /* threads */
    vbuf_put_uvarint(&p, extras ? 10 : 6);
    vbuf_put_uvarint(&p, 10);       /* tid */
    vbuf_put_uvarint(&p, 1);        /* name */
    vbuf_put_uvarint(&p, 1);        /* stack */
    vbuf_put_uvarint(&p, 3);        /* flags */
    vbuf_put_uvarint(&p, 400);      /* cpu */
    vbuf_put_uvarint(&p, 500);      /* wall */
    if (extras) {
        vbuf_put_uvarint(&p, 4096);     /* mem_grow */
        vbuf_put_uvarint(&p, 8);        /* mem_release */
        vbuf_put_uvarint(&p, UINT64_MAX);
        vbuf_put_uvarint(&p, 0);
        vbuf_put_bytes(&p, "tail", 4);
    }
    put_record(b, 4, &p);
    if (extras) {
        p.len = 0;
        vbuf_put_bytes(&p, "\x01\x02\x03", 3);
        put_record(b, 250, &p);
    }
    vbuf_release(&p);
}

/* Reads every sample of b; returns how many, and the last one with its
 * first thread copied to *th (the reader's copy goes with the reader). */
static struct process_info last_process;
static struct counters last_counters;

static int read_one_sample(const struct vbuf *b, struct sample *out, struct sample_thread *th)
{
    struct rec_reader *r;
    int err = rec_reader_open_mem(b->data, b->len, &r);
    if (err)
        return err;
    int n = 0, ret;
    struct sample s;
    while ((ret = rec_reader_next(r, &s)) == 1) {
        n++;
        *out = s;
        if (s.nthreads)
            *th = s.threads[0];
        out->threads = th;
        if (s.process)
            last_process = *s.process;
        if (s.counters)
            last_counters = *s.counters;
        out->process = s.process ? &last_process : NULL;
        out->counters = s.counters ? &last_counters : NULL;
    }
    if (ret == 0 && rec_reader_truncated(r))
        ret = -PT_ERR_TRUNCATED;
    rec_reader_close(r);
    return ret < 0 ? ret : n;
}

/* small.rec as the 1.0 writer wrote it (tests/fuzz/seeds/recording/
 * v1.0-small.rec): write_random(3 samples, depth 4) from rng_state 1. */
static const uint8_t v1_0_small[] = {
    0x50, 0x59, 0x54, 0x4f, 0x50, 0x52, 0x45, 0x43, 0x01, 0x00, 0x00, 0x00,
    0x32, 0x92, 0x21, 0x06, 0x33, 0x2e, 0x31, 0x32, 0x2e, 0x31, 0x1d, 0x70,
    0x79, 0x74, 0x68, 0x6f, 0x6e, 0x33, 0x20, 0x2d, 0x6d, 0x20, 0xc3, 0xa9,
    0x74, 0xc3, 0xa9, 0x20, 0x2d, 0x2d, 0x66, 0x6c, 0x61, 0x67, 0x20, 0x27,
    0x61, 0x20, 0x62, 0x27, 0x95, 0x9a, 0x97, 0xec, 0xe3, 0x9f, 0xe7, 0xcb,
    0x17, 0xe5, 0x07, 0x01, 0x0b, 0x01, 0x4d, 0x61, 0x69, 0x6e, 0x54, 0x68,
    0x72, 0x65, 0x61, 0x64, 0x01, 0x0b, 0x02, 0x77, 0x6f, 0x72, 0x6b, 0x65,
    0x72, 0x2d, 0xe2, 0x82, 0xac, 0x04, 0x08, 0x82, 0x80, 0x9b, 0x01, 0x92,
    0x21, 0x00, 0x06, 0x01, 0x0b, 0x03, 0xf0, 0x9f, 0x90, 0x8d, 0x5f, 0x73,
    0x6e, 0x61, 0x6b, 0x65, 0x01, 0x10, 0x04, 0x2f, 0x68, 0x6f, 0x6d, 0x65,
    0x2f, 0xc3, 0xbc, 0x2f, 0x6c, 0x69, 0x62, 0x2e, 0x70, 0x79, 0x01, 0x09,
    0x05, 0x5f, 0x5f, 0x69, 0x6e, 0x69, 0x74, 0x5f, 0x5f, 0x01, 0x1e, 0x06,
    0x3c, 0x66, 0x72, 0x6f, 0x7a, 0x65, 0x6e, 0x20, 0x69, 0x6d, 0x70, 0x6f,
    0x72, 0x74, 0x6c, 0x69, 0x62, 0x2e, 0x5f, 0x62, 0x6f, 0x6f, 0x74, 0x73,
    0x74, 0x72, 0x61, 0x70, 0x3e, 0x02, 0x06, 0x00, 0x03, 0x04, 0x82, 0x05,
    0x42, 0x02, 0x06, 0x01, 0x05, 0x06, 0x92, 0x2e, 0x4c, 0x03, 0x03, 0x01,
    0x00, 0x00, 0x03, 0x03, 0x02, 0x01, 0x01, 0x04, 0x14, 0x82, 0xaa, 0xdc,
    0x02, 0x92, 0x21, 0x01, 0x06, 0xe8, 0x07, 0x00, 0x02, 0x03, 0xa4, 0xdb,
    0x2e, 0xfb, 0xc5, 0x9c, 0x01, 0x01, 0x0a, 0x07, 0x6e, 0x61, 0xc3, 0xaf,
    0x76, 0x65, 0x5f, 0xce, 0xbb, 0x01, 0x0c, 0x08, 0x2f, 0x73, 0x72, 0x76,
    0x2f, 0x61, 0x70, 0x70, 0x2e, 0x70, 0x79, 0x01, 0x0a, 0x09, 0xe6, 0x97,
    0xa5, 0xe6, 0x9c, 0xac, 0xe8, 0xaa, 0x9e, 0x02, 0x07, 0x02, 0x07, 0x08,
    0xe2, 0x0a, 0x84, 0x01, 0x02, 0x06, 0x03, 0x05, 0x06, 0x01, 0xaa, 0x01,
    0x02, 0x06, 0x04, 0x09, 0x08, 0xbc, 0x17, 0x22, 0x03, 0x03, 0x03, 0x00,
    0x02, 0x03, 0x03, 0x04, 0x03, 0x03, 0x03, 0x03, 0x05, 0x00, 0x04, 0x04,
    0x1f, 0xca, 0x97, 0xcd, 0x02, 0x92, 0x21, 0x02, 0x06, 0xe8, 0x07, 0x00,
    0x04, 0x07, 0xaa, 0x9f, 0xa8, 0x01, 0xcc, 0xd9, 0x55, 0xd7, 0x45, 0x01,
    0x05, 0x02, 0xf8, 0x92, 0x75, 0xcb, 0x8c, 0x22, 0x05, 0x09, 0x03, 0x01,
    0x00, 0xc0, 0x8d, 0xb7, 0x01, 0x01, 0x00,
};

static void test_v1_0_file(void)
{
    static struct kept kept[3];
    const char *path = tmp_path("v1.1-small.rec");
    int err;
    rng_state = 1;
    stack_table_free(write_random(path, 3, 4, kept, NULL, &err));
    struct rec_reader *r;
    CHECK_INT(rec_reader_open_mem(v1_0_small, sizeof v1_0_small, &r), 0, "a 1.0 file opens");
    if (!r)
        return;
    CHECK_STR(rec_reader_meta(r)->command, test_meta().command, "... its metadata");
    struct sample s;
    int n = 0, same = 1, bare = 1;
    while (rec_reader_next(r, &s) == 1) {
        same &= n < 3 && same_threads(&s, &kept[n].s, 0);
        for (uint32_t j = 0; j < s.nthreads; j++)
            bare &= s.threads[j].mem_grow == 0 && s.threads[j].mem_release == 0;
        bare &= !s.process && !s.counters;
        n++;
    }
    CHECK(n == 3 && same, "... its samples are what the writer was given");
    CHECK(bare, "... with no memory fields and no attachments");
    struct recording_summary sum;
    CHECK(rec_reader_summary(r, &sum) == 1 && sum.samples == 3 && !rec_reader_truncated(r),
          "... and its summary");
    CHECK(!sum.have_stacks, "... with no stacks by kind (1.2 added them)");
    rec_reader_close(r);
    unlink(path);
}

static void test_versions(void)
{
    struct vbuf b;
    struct sample s;
    struct sample_thread tid;
    vbuf_init(&b);
    put_header(&b, REC_FORMAT_MAJOR, 0, 0);
    put_body(&b, 0);
    CHECK_INT(read_one_sample(&b, &s, &tid), 1, "a hand-made recording reads");
    CHECK(tid.tid == 10 && s.time_ns == 5000 && s.pid == 77, "... its sample");
    CHECK(tid.mem_grow == 0 && tid.mem_release == 0 && !s.process && !s.counters,
          "1.0: six fields per thread, no memory, no attachments");

    b.len = 0;
    put_header(&b, REC_FORMAT_MAJOR, 9, 1);
    put_body(&b, 1);
    CHECK_INT(read_one_sample(&b, &s, &tid), 1,
              "a later minor: unknown records skipped, extra fields ignored");
    CHECK(tid.tid == 10 && tid.wall_ns == 500 && tid.flags == 3 && tid.stack == 1,
          "... and the known fields read right");
    CHECK(tid.mem_grow == 4096 && tid.mem_release == 8, "... memory from 10 fields per thread");
    CHECK(s.process && s.process->pid == 77 && s.process->ppid == 1 &&
          strcmp(s.process->python, "3.13") == 0 && strcmp(s.process->command, "py") == 0,
          "... a process record with a later field");
    CHECK(s.counters && s.counters->valid == (1ull << CTR_RSS | 1ull << CTR_GC_COUNT0) &&
          s.counters->value[CTR_RSS] == 1000 && s.counters->value[CTR_GC_COUNT0] == 7,
          "... counters: an unknown counter skipped, the known ones read");

    b.len = 0;
    put_header(&b, REC_FORMAT_MAJOR + 1, 0, 0);
    put_body(&b, 0);
    CHECK_INT(read_one_sample(&b, &s, &tid), -PT_ERR_FORMAT, "a later major is refused");
    b.len = 0;
    put_header(&b, 0, 0, 0);
    put_body(&b, 0);
    CHECK_INT(read_one_sample(&b, &s, &tid), -PT_ERR_FORMAT, "major 0 is refused");
    b.len = 0;
    put_header(&b, REC_FORMAT_MAJOR + 256, 0, 0);
    put_body(&b, 0);
    CHECK_INT(read_one_sample(&b, &s, &tid), -PT_ERR_FORMAT, "major is 16 bits");

    /* A real file with its major patched. */
    const char *path = tmp_path("major.rec");
    int err;
    stack_table_free(write_random(path, 5, 10, NULL, NULL, &err));
    size_t len;
    uint8_t *data = slurp(path, &len);
    data[8] = REC_FORMAT_MAJOR + 1;
    spill(path, data, len);
    struct rec_reader *r;
    CHECK_INT(rec_reader_open(path, &r), -PT_ERR_FORMAT, "a written file with a future major");
    data[8] = REC_FORMAT_MAJOR;
    data[10] = 200;
    spill(path, data, len);
    CHECK_INT(rec_reader_open(path, &r), 0, "... with a future minor it opens");
    int n = 0;
    while (rec_reader_next(r, &s) == 1)
        n++;
    CHECK_INT(n, 5, "... and reads");
    rec_reader_close(r);
    free(data);
    vbuf_release(&b);
}

/* Corrupt content: each case a valid file with one thing wrong. */
static void test_corrupt(void)
{
    struct vbuf b, p;
    struct sample s;
    struct sample_thread tid;
    vbuf_init(&b);
    vbuf_init(&p);

#define CASE(what, build) do { \
        b.len = 0; \
        put_header(&b, REC_FORMAT_MAJOR, 0, 0); \
        build; \
        CHECK_INT(read_one_sample(&b, &s, &tid), -PT_ERR_FORMAT, what); \
    } while (0)
#define REC(type, fill) (p.len = 0, (void)(fill), put_record(&b, (type), &p))
#define U(v) vbuf_put_uvarint(&p, (v))

    CASE("string with id 0", REC(1, (U(0), vbuf_put_bytes(&p, "x", 1))));
    CASE("string with a skipped id", REC(1, (U(2), vbuf_put_bytes(&p, "x", 1))));
    CASE("string with no id", REC(1, (void)0));
    CASE("frame with an undefined string", REC(2, (U(0), U(5), U(0), U(1), U(1))));
    CASE("frame cut short", REC(2, (U(0), U(0), U(0))));
    CASE("frame line beyond int32", REC(2, (U(0), U(0), U(0), U(1ull << 33), U(0))));
    CASE("node with an undefined frame", REC(3, (U(1), U(0), U(0))));
    CASE("node with an undefined parent",
         (REC(2, (U(0), U(0), U(0), U(1), U(1))), REC(3, (U(1), U(4), U(0)))));
    CASE("node with a wrong id",
         (REC(2, (U(0), U(0), U(0), U(1), U(1))), REC(3, (U(3), U(0), U(0)))));
    CASE("sample on an undefined node", REC(4, (U(0), U(1), U(1), U(6), U(1), U(0), U(9), U(0),
                                               U(0), U(0))));
    CASE("sample with an undefined name", REC(4, (U(0), U(1), U(1), U(6), U(1), U(3), U(0),
                                                 U(0), U(0), U(0))));
    CASE("sample with an absurd thread count", REC(4, (U(0), U(1), U(100000), U(6))));
    CASE("sample claiming more threads than it holds", REC(4, (U(0), U(1), U(1000), U(6),
                                                              U(1), U(0), U(0), U(0))));
    CASE("sample with 5 fields per thread", REC(4, (U(0), U(1), U(1), U(5), U(1), U(0), U(0),
                                                   U(0), U(0))));
    CASE("sample cut inside a thread", REC(4, (U(0), U(1), U(1), U(6), U(1), U(0), U(0))));
    CASE("tid beyond 32 bits", REC(4, (U(0), U(1), U(1), U(6), U(1ull << 40), U(0), U(0),
                                      U(0), U(0), U(0))));
    CASE("summary with target_exited 2", REC(5, (U(1), U(0), U(0), U(0), U(2), U(0))));
    CASE("process cut inside its command", REC(7, (U(5), U(1), U(0), U(9),
                                                  vbuf_put_bytes(&p, "abc", 3))));
    CASE("process without a command", REC(7, (U(5), U(1), U(0))));
    CASE("process pid beyond 32 bits", REC(7, (U(1ull << 35), U(1), U(0), U(0))));
    CASE("counters with fewer values than bits", REC(6, (U(7), U(1), U(2))));
    CASE("counters with a value over 10 bytes",
         REC(6, (U(1), vbuf_put_bytes(&p, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11))));
    CASE("summary cut short", REC(5, (U(1), U(0))));
    CASE("record longer than any record can be",
         (vbuf_put_u8(&b, 1), vbuf_put_uvarint(&b, 1ull << 40)));
    CASE("record length an 11-byte varint",
         (vbuf_put_u8(&b, 1), vbuf_put_bytes(&b, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11)));

    /* After an error, the reader keeps returning it. */
    b.len = 0;
    put_header(&b, REC_FORMAT_MAJOR, 0, 0);
    REC(1, (U(5)));
    put_body(&b, 0);
    struct rec_reader *r;
    rec_reader_open_mem(b.data, b.len, &r);
    CHECK_INT(rec_reader_next(r, &s), -PT_ERR_FORMAT, "a bad record");
    CHECK_INT(rec_reader_next(r, &s), -PT_ERR_FORMAT, "the error sticks");
    rec_reader_close(r);

    /* A big length in a short file is a cut record, not an error, and the
     * file reader does not allocate for it up front. */
    b.len = 0;
    put_header(&b, REC_FORMAT_MAJOR, 0, 0);
    put_body(&b, 0);
    vbuf_put_u8(&b, 1);
    vbuf_put_uvarint(&b, 60u << 20);
    vbuf_put_bytes(&b, "\x05" "abc", 4);
    const char *path = tmp_path("bigcut.rec");
    spill(path, b.data, b.len);
    CHECK_INT(rec_reader_open(path, &r), 0, "a file cut inside a 60 MB record opens");
    int n = 0, ret;
    while ((ret = rec_reader_next(r, &s)) == 1)
        n++;
    CHECK(ret == 0 && n == 1 && rec_reader_truncated(r), "... reads its sample and says truncated");
    rec_reader_close(r);
    unlink(path);

    /* Header damage. */
    b.len = 0;
    put_header(&b, REC_FORMAT_MAJOR, 0, 0);
    b.data[12] = 0x7f;  /* meta longer than the file */
    CHECK_INT(read_one_sample(&b, &s, &tid), -PT_ERR_FORMAT, "meta length past the end");
    b.len = 0;
    vbuf_put_bytes(&b, "PYTOPREC\x01\x00\x00\x00\x03\x01\x00\x00", 16);
    CHECK_INT(read_one_sample(&b, &s, &tid), -PT_ERR_FORMAT, "meta cut inside its fields");
    b.len = 0;
    vbuf_put_bytes(&b, "PYTOPREC\x01\x00\x00\x00\xff\xff\xff\x7f", 16);
    CHECK_INT(read_one_sample(&b, &s, &tid), -PT_ERR_FORMAT, "meta length absurd");
#undef CASE
#undef REC
#undef U
    vbuf_release(&p);
    vbuf_release(&b);
}

/* ---- write errors and flushing ----------------------------------------- */

static void test_write_errors(void)
{
    struct recording_meta meta = test_meta();
    struct stack_table *t = stack_table_new();
    struct rec_writer *w;
    struct sample s = { .time_ns = 1, .pid = 1, .nthreads = 0, .threads = NULL };
    /* The header is written at open, so a full device is reported there. */
    CHECK_INT(rec_writer_open("/dev/full", &meta, &w), -ENOSPC, "open /dev/full: -ENOSPC at once");

    /* A pipe whose reader goes away after the header: EPIPE, not a signal
     * that kills us, and the error sticks. */
    int fds[2];
    if (pipe(fds) == 0) {
        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        CHECK_INT(rec_writer_open_fd(fds[1], &meta, &w), 0, "a writer on a pipe");
        close(fds[0]);
        CHECK_INT(rec_writer_sample(w, t, &s), -EPIPE, "a pipe with no reader: -EPIPE");
        CHECK_INT(rec_writer_sample(w, t, &s), -EPIPE, "the next call reports it too");
        CHECK_INT(rec_writer_flush(w), -EPIPE, "so does flush");
        CHECK_INT(rec_writer_close(w, NULL), -EPIPE, "and close");
        signal(SIGPIPE, old);
    }
    stack_table_free(t);
}

static int count_samples(const char *path)
{
    struct rec_reader *r;
    if (rec_reader_open(path, &r) != 0)
        return -1;
    struct sample s;
    int n = 0;
    while (rec_reader_next(r, &s) == 1)
        n++;
    rec_reader_close(r);
    return n;
}

static void test_flush_policy(void)
{
    const char *path = tmp_path("flush.rec");
    struct recording_meta meta = test_meta();
    struct stack_table *t = stack_table_new();
    struct rec_writer *w;
    rec_writer_open(path, &meta, &w);
    /* The sample-time rule alone, whatever the machine's speed. */
    rec_writer_set_wall_flush(w, 3600 * SEC);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 0, "the header is written at open");
    CHECK_INT(count_samples(path), 0, "a recording with no samples reads back empty");
    struct sample_thread th = { 1, 0, 0, 0, 0, 0, 0, 0 };
    struct sample s = { .time_ns = 0, .pid = 1, .nthreads = 1, .threads = &th };
    th.stack = random_stack(t, 10);
    rec_writer_sample(w, t, &s);
    CHECK_INT(count_samples(path), 1, "the first sample is on disk at once");
    for (int i = 1; i < 50; i++) {
        s.time_ns = (uint64_t)i * 5 * MS;     /* up to 0.245 s */
        th.stack = random_stack(t, 10);
        rec_writer_sample(w, t, &s);
    }
    CHECK_INT(count_samples(path), 1, "later samples wait for 250 ms of sample time");
    s.time_ns = 250 * MS;
    rec_writer_sample(w, t, &s);
    CHECK_INT(count_samples(path), 51, "250 ms after the last flush: all on disk");
    s.time_ns = 250 * MS + 1;
    rec_writer_sample(w, t, &s);
    CHECK_INT(count_samples(path), 51, "the timer restarts at that flush");
    CHECK_INT(rec_writer_flush(w), 0, "an explicit flush");
    CHECK_INT(count_samples(path), 52, "... writes everything");
    /* 64 KiB of samples within a second are flushed without waiting. */
    static struct sample_thread many[512];
    for (int i = 0; i < 512; i++)
        many[i] = (struct sample_thread){ (uint32_t)i, 0, th.stack, 0, 1ull << 62, 1ull << 62, 0, 0 };
    struct sample big = { .time_ns = 250 * MS + 2, .pid = 1, .nthreads = 512, .threads = many };
    for (int i = 0; i < 8; i++)
        rec_writer_sample(w, t, &big);
    CHECK(count_samples(path) > 52, "a buffer over 64 KiB is flushed early");
    CHECK_INT(rec_writer_close(w, NULL), 0, "close");
    CHECK_INT(count_samples(path), 60, "close writes the rest");

    /* By the wall clock: samples whose time stands still (a stalled
     * sampler's) still reach the file once the interval has passed. */
    rec_writer_open(path, &meta, &w);
    rec_writer_set_wall_flush(w, 50 * MS);
    s.time_ns = 0;
    rec_writer_sample(w, t, &s);
    rec_writer_sample(w, t, &s);
    struct timespec pause = { 0, 60 * 1000000L };
    nanosleep(&pause, NULL);
    rec_writer_sample(w, t, &s);
    CHECK_INT(count_samples(path), 3, "50 ms of wall clock later: all on disk, sample time unmoved");
    CHECK_INT(rec_writer_close(w, NULL), 0, "close");
    stack_table_free(t);
}

/* ---- a recorder killed with SIGKILL ------------------------------------- */

static void sleep_until(double t)
{
    double d = t - mono_s();
    if (d <= 0)
        return;
    struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
    nanosleep(&ts, NULL);
}

static void test_sigkill(void)
{
    const char *path = tmp_path("killed.rec");
    double t0 = mono_s();
    pid_t pid = fork();
    if (pid == 0) {
        /* The recorder: a sample every 10 ms of real time, stamped with the
         * real time elapsed, as pytop's sampler would. */
        struct stack_table *t = stack_table_new();
        struct recording_meta meta = test_meta();
        struct rec_writer *w;
        if (rec_writer_open(path, &meta, &w) != 0)
            _exit(2);
        struct sample_thread th[2] = { { 1, 0, 0, SAMPLE_RUNNING, 0, 0, 0, 0 }, { 2, 0, 0, 0, 0, 0, 0, 0 } };
        for (int i = 0;; i++) {
            double el = mono_s() - t0;
            if (el > 30)
                _exit(3);   /* never outlive a lost parent by long */
            th[0].stack = random_stack(t, 20);
            th[1].stack = random_stack(t, 20);
            th[0].wall_ns = th[1].wall_ns = 10 * MS;
            struct sample s = { .time_ns = (uint64_t)(el * 1e9), .pid = 7, .nthreads = 2, .threads = th };
            if (rec_writer_sample(w, t, &s) != 0)
                _exit(4);
            sleep_until(t0 + (i + 1) * 0.010);
        }
    }
    CHECK(pid > 0, "fork a recorder");
    if (pid < 0)
        return;
    sleep_until(t0 + 2.5);
    double killed = mono_s() - t0;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the recorder died of SIGKILL");

    struct rec_reader *r;
    CHECK_INT(rec_reader_open(path, &r), 0, "its file opens");
    if (!r)
        return;
    struct sample s;
    int n = 0, ret, ordered = 1;
    uint64_t last = 0;
    while ((ret = rec_reader_next(r, &s)) == 1) {
        ordered &= n == 0 || s.time_ns >= last;
        last = s.time_ns;
        n++;
    }
    CHECK_INT(ret, 0, "it reads without error");
    CHECK(ordered, "sample times in order");
    double covered = (double)last / 1e9;
    printf("# killed at %.3f s, %d samples read, the last at %.3f s (truncated %d)\n",
           killed, n, covered, rec_reader_truncated(r));
    CHECK(covered >= killed - 1.2, "samples up to 1.2 s before the kill were on disk");
    rec_reader_close(r);
}

/* ---- throughput --------------------------------------------------------- */

static void test_throughput(void)
{
    /* 500 distinct 10-frame stacks over 2 threads, as a steady sampler
     * would see; the stacks are interned beforehand so this measures the
     * writer. */
    struct stack_table *t = stack_table_new();
    uint32_t stacks[500];
    for (int i = 0; i < 500; i++) {
        uint32_t node = 0;
        for (int d = 0; d < 10; d++) {
            struct stack_frame f = { str_id(t, func_names[(i + d) % 10]),
                                     str_id(t, file_names[d % 4]), i * 10 + d, d };
            uint32_t fid;
            stack_table_frame(t, &f, &fid);
            stack_table_node(t, node, fid, &node);
        }
        stacks[i] = node;
    }
    const char *path = tmp_path("speed.rec");
    struct recording_meta meta = test_meta();
    struct rec_writer *w;
    rec_writer_open(path, &meta, &w);
    enum { N = 300000 };
    struct sample_thread th[2] = { { 11, 0, 0, 1, 0, 0, 0, 0 }, { 12, 0, 0, 0, 0, 0, 0, 0 } };
    int errors = 0;
    double start = cpu_s();
    for (int i = 0; i < N; i++) {
        th[0].stack = stacks[rnd() % 500];
        th[1].stack = stacks[rnd() % 500];
        th[0].cpu_ns = 100000 + rnd() % 1000;
        th[0].wall_ns = th[1].wall_ns = 100000;
        struct sample s = { .time_ns = (uint64_t)i * 100000, .pid = 7, .nthreads = 2, .threads = th };
        errors += rec_writer_sample(w, t, &s) != 0;
    }
    errors += rec_writer_close(w, NULL) != 0;
    double secs = cpu_s() - start;
    struct stat st;
    stat(path, &st);
    CHECK_INT(errors, 0, "300000 samples written");
    printf("# writer: %.0f samples/s (2 threads, 10-frame stacks), %.1f bytes/sample\n",
           N / secs, (double)st.st_size / N);
    start = cpu_s();
    CHECK_INT(count_samples(path), N, "and read back");
    printf("# reader: %.0f samples/s\n", N / (cpu_s() - start));
    stack_table_free(t);
}

/* ---- seeds for the fuzzer ----------------------------------------------- */

static int write_seeds(const char *dir)
{
    char path[1024];
    int err;
    struct recording_summary sum = { 3, 1, 0, 3 * MS, 1, 0, 1, { 5, 1, 0, 0, 1 }, 2 };
    rng_state = 1;
    snprintf(path, sizeof path, "%s/small.rec", dir);
    stack_table_free(write_random(path, 3, 4, NULL, &sum, &err));
    if (err)
        return 1;
    snprintf(path, sizeof path, "%s/twelve.rec", dir);
    stack_table_free(write_random(path, 12, 5, NULL, NULL, &err));
    if (err)
        return 1;
    snprintf(path, sizeof path, "%s/processes.rec", dir);
    stack_table_free(write_random(path, 60, 3, NULL, &sum, &err));
    if (err)
        return 1;
    snprintf(path, sizeof path, "%s/header-only.rec", dir);
    struct recording_meta meta = test_meta();
    struct rec_writer *w;
    if (rec_writer_open(path, &meta, &w) != 0 || rec_writer_close(w, &sum) != 0)
        return 1;
    struct vbuf b;
    vbuf_init(&b);
    put_header(&b, REC_FORMAT_MAJOR, 3, 1);
    put_body(&b, 1);
    snprintf(path, sizeof path, "%s/future-minor.rec", dir);
    if (spill(path, b.data, b.len) != 0)
        return 1;
    vbuf_release(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);

    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/pytop-rec-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot make a temporary directory\n");
        return 1;
    }
    UNIT_RUN(test_varint);
    UNIT_RUN(test_round_trip);
    UNIT_RUN(test_edge_samples);
    UNIT_RUN(test_writer_args);
    UNIT_RUN(test_truncation);
    UNIT_RUN(test_not_recordings);
    UNIT_RUN(test_versions);
    UNIT_RUN(test_v1_0_file);
    UNIT_RUN(test_corrupt);
    UNIT_RUN(test_write_errors);
    UNIT_RUN(test_flush_policy);
    UNIT_RUN(test_sigkill);
    UNIT_RUN(test_throughput);

    /* Leave nothing behind. */
    static const char *const files[] = {
        "round.rec", "edge.rec", "args.rec", "cut-src.rec", "cut.rec", "text.txt", "empty",
        "magic-only", "major.rec", "flush.rec", "killed.rec", "speed.rec",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(tmp_path(files[i]));
    rmdir(tmpdir);
    return unit_done();
}
