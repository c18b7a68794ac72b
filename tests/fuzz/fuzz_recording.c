/* libFuzzer target for the recording reader: the input is a recording
 * file. Besides not crashing, what the reader accepts must keep the
 * invariants the model and exports rely on:
 *  - errors are only -PT_ERR_FORMAT or -ENOMEM, and stick;
 *  - meta strings are NUL-terminated inside their fields;
 *  - every dictionary entry refers to earlier ones: frames to strings,
 *    nodes to frames and a lower parent, with depth = parent's + 1;
 *  - every sample has at most 65536 threads, names and stacks in range;
 *  - a process attachment's strings are NUL-terminated in their fields,
 *    and a counters attachment has no bit past COUNTER_COUNT.
 * Then whatever was read is written again with the writer (to a memfd) and
 * read back: the samples (with their attachments), meta and summary must
 * come back the same. The writer describes every pid before its first
 * sample, so the copy may carry process records the input lacked. */
#include "config.h"

#include "core/error.h"
#include "core/stacks.h"
#include "record/recording.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define MAX_THREADS 65536u

struct checked {
    uint32_t frames, nodes;     /* entries below these were checked */
};

static void check_dict(const struct stack_table *t, struct checked *c)
{
    uint32_t ns = stack_table_string_count(t), nf = stack_table_frame_count(t);
    uint32_t nn = stack_table_node_count(t);
    if (ns < 1 || nn < 1 || stack_table_str_len(t, 0) != 0)
        abort();
    for (; c->frames < nf; c->frames++) {
        const struct stack_frame *f = stack_table_get_frame(t, c->frames);
        if (!f || f->function >= ns || f->file >= ns)
            abort();
    }
    if (c->nodes == 0) {
        const struct stack_node *root = stack_table_get_node(t, 0);
        if (root->parent != 0 || root->depth != 0)
            abort();
        c->nodes = 1;
    }
    for (; c->nodes < nn; c->nodes++) {
        const struct stack_node *node = stack_table_get_node(t, c->nodes);
        if (!node || node->parent >= c->nodes || node->frame >= nf ||
            node->depth != stack_table_get_node(t, node->parent)->depth + 1)
            abort();
    }
}

static void check_sample(const struct stack_table *t, const struct sample *s)
{
    if (s->nthreads > MAX_THREADS || (s->nthreads && !s->threads))
        abort();
    for (uint32_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].name >= stack_table_string_count(t) ||
            s->threads[i].stack >= stack_table_node_count(t))
            abort();
    if (s->process && (!memchr(s->process->python, '\0', sizeof s->process->python) ||
                       !memchr(s->process->command, '\0', sizeof s->process->command)))
        abort();
    if (s->counters && (s->counters->valid >> COUNTER_COUNT) != 0)
        abort();
}

static int same_process(const struct process_info *a, const struct process_info *b)
{
    return a->pid == b->pid && a->ppid == b->ppid && strcmp(a->python, b->python) == 0 &&
           strcmp(a->command, b->command) == 0;
}

static int same_counters(const struct counters *a, const struct counters *b)
{
    if (!a || !b)
        return a == b;
    if (a->valid != b->valid)
        return 0;
    for (int id = 0; id < COUNTER_COUNT; id++)
        if ((a->valid >> id & 1) && a->value[id] != b->value[id])
            return 0;
    return 1;
}

static int same_sample(const struct sample *a, const struct sample *b)
{
    if (a->time_ns != b->time_ns || a->pid != b->pid || a->nthreads != b->nthreads)
        return 0;
    for (uint32_t i = 0; i < a->nthreads; i++)
        if (memcmp(&a->threads[i], &b->threads[i], sizeof a->threads[i]) != 0)
            return 0;
    if (a->process && (!b->process || !same_process(a->process, b->process)))
        return 0;
    return same_counters(a->counters, b->counters);
}

static int memfd = -1;

/* Write every sample r has, with its dictionary, to the memfd. Returns the
 * bytes written, or -1 when the input had errors (nothing to compare). */
static long rewrite(struct rec_reader *r)
{
    if (memfd < 0)
        memfd = memfd_create("fuzz_recording", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, 0) != 0 || lseek(memfd, 0, SEEK_SET) != 0)
        abort();
    int fd = dup(memfd);
    struct rec_writer *w;
    if (fd < 0 || rec_writer_open_fd(fd, rec_reader_meta(r), &w) != 0)
        abort();
    struct sample s;
    int ret;
    while ((ret = rec_reader_next(r, &s)) == 1)
        if (rec_writer_sample(w, rec_reader_dict(r), &s) != 0)
            abort();   /* the writer must take whatever the reader gave */
    struct recording_summary sum;
    int has_summary = rec_reader_summary(r, &sum);
    if (rec_writer_close(w, has_summary ? &sum : NULL) != 0)
        abort();
    if (ret < 0)
        return -1;
    struct stat st;
    if (fstat(memfd, &st) != 0)
        abort();
    return (long)st.st_size;
}

static void round_trip(const uint8_t *d, size_t n)
{
    struct rec_reader *a, *b;
    if (rec_reader_open_mem(d, n, &a) != 0)
        return;
    long len = rewrite(a);
    rec_reader_close(a);
    if (len <= 0)
        return;
    uint8_t *copy = malloc((size_t)len);
    if (!copy || pread(memfd, copy, (size_t)len, 0) != len)
        abort();
    if (rec_reader_open_mem(d, n, &a) != 0 || rec_reader_open_mem(copy, (size_t)len, &b) != 0)
        abort();
    const struct recording_meta *ma = rec_reader_meta(a), *mb = rec_reader_meta(b);
    if (ma->pid != mb->pid || strcmp(ma->python, mb->python) != 0 ||
        strcmp(ma->command, mb->command) != 0 || ma->start_unix_ns != mb->start_unix_ns ||
        ma->rate_hz != mb->rate_hz)
        abort();
    struct sample sa, sb;
    int ra, rb;
    do {
        ra = rec_reader_next(a, &sa);
        rb = rec_reader_next(b, &sb);
        if (ra != rb || (ra == 1 && !same_sample(&sa, &sb)))
            abort();
    } while (ra == 1);
    if (rec_reader_truncated(b))
        abort();
    struct recording_summary xa, xb;
    int ha = rec_reader_summary(a, &xa), hb = rec_reader_summary(b, &xb);
    if (ha != hb || (ha && memcmp(&xa, &xb, sizeof xa) != 0))
        abort();
    /* The rewritten dictionary is the original up to its last sample's. */
    const struct stack_table *ta = rec_reader_dict(a), *tb = rec_reader_dict(b);
    if (stack_table_node_count(tb) > stack_table_node_count(ta))
        abort();
    for (uint32_t i = 0; i < stack_table_node_count(tb); i++)
        if (memcmp(stack_table_get_node(ta, i), stack_table_get_node(tb, i),
                   sizeof(struct stack_node)) != 0)
            abort();
    for (uint32_t i = 0; i < stack_table_string_count(tb); i++)
        if (stack_table_str_len(ta, i) != stack_table_str_len(tb, i) ||
            memcmp(stack_table_str(ta, i), stack_table_str(tb, i), stack_table_str_len(ta, i)))
            abort();
    rec_reader_close(a);
    rec_reader_close(b);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    struct rec_reader *r;
    int err = rec_reader_open_mem(d, n, &r);
    if (err) {
        if (err != -PT_ERR_FORMAT && err != -ENOMEM)
            abort();
        return 0;
    }
    const struct recording_meta *m = rec_reader_meta(r);
    if (!memchr(m->python, '\0', sizeof m->python) || !memchr(m->command, '\0', sizeof m->command))
        abort();
    struct checked c = { 0, 0 };
    struct sample s;
    int ret;
    uint64_t samples = 0;
    while ((ret = rec_reader_next(r, &s)) == 1) {
        check_dict(rec_reader_dict(r), &c);
        check_sample(rec_reader_dict(r), &s);
        samples++;
    }
    check_dict(rec_reader_dict(r), &c);
    if (ret < 0) {
        if (ret != -PT_ERR_FORMAT && ret != -ENOMEM)
            abort();
        if (rec_reader_next(r, &s) != ret)
            abort();   /* errors stick */
    } else if (rec_reader_next(r, &s) != 0) {
        abort();       /* so does the end */
    }
    int t = rec_reader_truncated(r);
    if (t != 0 && t != 1)
        abort();
    rec_reader_close(r);
    if (samples > 0 || ret == 0)
        round_trip(d, n);
    return 0;
}
