#include "config.h"

#include "record/recording.h"

#include "core/error.h"
#include "core/vec.h"
#include "record/varint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The byte layout is described in docs/recording.md; keep the two in step. */

static const uint8_t rec_magic[8] = { 'P', 'Y', 'T', 'O', 'P', 'R', 'E', 'C' };
#define REC_FIXED_HEADER 12         /* magic, major u16le, minor u16le */
#define REC_MAX_META (1u << 20)
/* Big enough for the largest string a stack_table holds, small enough that
 * a corrupt length cannot make a reader allocate without bound. */
#define REC_MAX_RECORD (STACKS_MAX_STRING_BYTES + 64u)
#define REC_MAX_THREADS 65536u
#define REC_THREAD_FIELDS_1_0 6     /* tid name stack flags cpu_ns wall_ns */
#define REC_THREAD_FIELDS 8         /* ... mem_grow mem_release (1.1) */
#define REC_MAX_THREAD_FIELDS 64
_Static_assert(COUNTER_COUNT < 64, "a counters record has one mask of 64 bits");

enum rec_type {
    REC_STRING = 1,
    REC_FRAME = 2,
    REC_NODE = 3,
    REC_SAMPLE = 4,
    REC_SUMMARY = 5,
    REC_COUNTERS = 6,               /* the next sample's process counters (1.1) */
    REC_PROCESS = 7,                /* the next sample's process: pid, ppid, python, command (1.1) */
};

/* A flush at least this often, in sample time and by the wall clock, so a
 * recorder killed with SIGKILL loses a quarter of a second of samples
 * plus however long the sampler was kept from running: sample time alone
 * stalls when samples are late on a busy machine. */
#define FLUSH_INTERVAL_NS 250000000ull
#define FLUSH_BYTES (64u << 10)

/* ---- writer ------------------------------------------------------------- */

struct rec_writer {
    int fd;
    int err;                        /* first error, sticky */
    struct vbuf buf;
    const struct stack_table *dict; /* the table of the first sample */
    /* Dictionary entries below these were written. */
    uint32_t strings_done, frames_done, nodes_done;
    uint64_t last_time_ns;          /* previous sample, for time deltas */
    uint64_t flush_time_ns;         /* sample time of the last flush */
    uint64_t flush_wall_ns;         /* monotonic clock at the last flush */
    uint64_t flush_every_wall_ns;   /* FLUSH_INTERVAL_NS, unless a test says */
    uint64_t samples;
    struct process_info target;     /* from the metadata: who meta.pid is */
    uint32_t *described;            /* pids with a process record, sorted */
    size_t ndescribed, described_cap;
};

static void set_err(struct rec_writer *w, int err)
{
    if (!w->err)
        w->err = err;
}

/* A record is [type u8][length uvarint][payload]. The length is unknown
 * until the payload is written, so one byte is kept for it and the payload
 * moved up in the rare case it needs more. */
static size_t record_begin(struct vbuf *b, uint8_t type)
{
    vbuf_put_u8(b, type);
    vbuf_put_u8(b, 0);
    return b->len;
}

static void record_end(struct vbuf *b, size_t start)
{
    if (b->oom)
        return;
    size_t plen = b->len - start;
    size_t n = varint_size(plen);
    if (n > 1) {
        if (vbuf_reserve(b, n - 1) != 0)
            return;
        memmove(b->data + start + n - 1, b->data + start, plen);
        b->len += n - 1;
    }
    varint_encode(b->data + start - 1, plen);
}

static void write_all(struct rec_writer *w)
{
    size_t off = 0;
    while (!w->err && off < w->buf.len) {
        ssize_t n = write(w->fd, w->buf.data + off, w->buf.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            set_err(w, -errno);
        } else if (n == 0) {
            set_err(w, -EIO);
        } else {
            off += (size_t)n;
        }
    }
    /* After an error the rest is dropped: the file is already damaged,
     * and keeping it would grow the buffer without bound. */
    w->buf.len = 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void writer_flush(struct rec_writer *w)
{
    if (w->buf.oom)
        set_err(w, -ENOMEM);
    write_all(w);
    w->flush_time_ns = w->last_time_ns;
    w->flush_wall_ns = mono_ns();
}

static size_t bounded_len(const char *s, size_t max)
{
    const char *nul = memchr(s, '\0', max);
    return nul ? (size_t)(nul - s) : max;
}

static void put_meta(struct vbuf *b, const struct recording_meta *m)
{
    struct vbuf meta;
    vbuf_init(&meta);
    size_t plen = bounded_len(m->python, sizeof m->python);
    size_t clen = bounded_len(m->command, sizeof m->command);
    vbuf_put_uvarint(&meta, m->pid);
    vbuf_put_uvarint(&meta, plen);
    vbuf_put_bytes(&meta, m->python, plen);
    vbuf_put_uvarint(&meta, clen);
    vbuf_put_bytes(&meta, m->command, clen);
    vbuf_put_uvarint(&meta, m->start_unix_ns);
    vbuf_put_uvarint(&meta, m->rate_hz);

    vbuf_put_bytes(b, rec_magic, sizeof rec_magic);
    vbuf_put_u8(b, REC_FORMAT_MAJOR & 0xff);
    vbuf_put_u8(b, REC_FORMAT_MAJOR >> 8);
    vbuf_put_u8(b, REC_FORMAT_MINOR & 0xff);
    vbuf_put_u8(b, REC_FORMAT_MINOR >> 8);
    vbuf_put_uvarint(b, meta.len);
    vbuf_put_bytes(b, meta.data, meta.len);
    if (meta.oom)
        b->oom = 1;
    vbuf_release(&meta);
}

int rec_writer_open_fd(int fd, const struct recording_meta *meta, struct rec_writer **out)
{
    if (fd < 0 || !meta || !out)
        return -EINVAL;
    struct rec_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->fd = fd;
    w->flush_every_wall_ns = FLUSH_INTERVAL_NS;
    w->target.pid = meta->pid;
    memcpy(w->target.python, meta->python, sizeof w->target.python);
    w->target.python[sizeof w->target.python - 1] = '\0';
    snprintf(w->target.command, sizeof w->target.command, "%.*s",
             (int)bounded_len(meta->command, sizeof meta->command), meta->command);
    vbuf_init(&w->buf);
    if (vbuf_reserve(&w->buf, FLUSH_BYTES + 4096) != 0) {
        free(w);
        return -ENOMEM;
    }
    /* "" and the root exist in every table: they are never written. */
    w->strings_done = 1;
    w->nodes_done = 1;
    /* The header goes out at once: a recorder killed before its first
     * sample still leaves a valid, empty recording. */
    put_meta(&w->buf, meta);
    if (w->buf.oom) {
        vbuf_release(&w->buf);
        free(w);
        return -ENOMEM;
    }
    writer_flush(w);
    if (w->err) {
        int err = w->err;
        vbuf_release(&w->buf);
        free(w);
        return err;
    }
    *out = w;
    return 0;
}

int rec_writer_open(const char *path, const struct recording_meta *meta,
                    struct rec_writer **out)
{
    if (!path || !meta || !out)
        return -EINVAL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int err = rec_writer_open_fd(fd, meta, out);
    if (err)
        close(fd);
    return err;
}

/* Every entry added to the table since the last sample. Ids are appended
 * in order, so writing strings, then frames, then nodes puts each entry
 * after everything it refers to. */
static void put_dictionary(struct rec_writer *w, const struct stack_table *d)
{
    struct vbuf *b = &w->buf;
    uint32_t ns = stack_table_string_count(d);
    for (uint32_t id = w->strings_done; id < ns; id++) {
        size_t start = record_begin(b, REC_STRING);
        vbuf_put_uvarint(b, id);
        vbuf_put_bytes(b, stack_table_str(d, id), stack_table_str_len(d, id));
        record_end(b, start);
    }
    w->strings_done = ns;
    uint32_t nf = stack_table_frame_count(d);
    for (uint32_t id = w->frames_done; id < nf; id++) {
        const struct stack_frame *f = stack_table_get_frame(d, id);
        size_t start = record_begin(b, REC_FRAME);
        vbuf_put_uvarint(b, id);
        vbuf_put_uvarint(b, f->function);
        vbuf_put_uvarint(b, f->file);
        vbuf_put_svarint(b, f->line);
        vbuf_put_svarint(b, f->firstline);
        record_end(b, start);
    }
    w->frames_done = nf;
    uint32_t nn = stack_table_node_count(d);
    for (uint32_t id = w->nodes_done; id < nn; id++) {
        const struct stack_node *n = stack_table_get_node(d, id);
        size_t start = record_begin(b, REC_NODE);
        vbuf_put_uvarint(b, id);
        vbuf_put_uvarint(b, n->parent);
        vbuf_put_uvarint(b, n->frame);
        record_end(b, start);
    }
    w->nodes_done = nn;
}

/* Index of pid in the sorted described list, or where it would go. */
static size_t described_find(const struct rec_writer *w, uint32_t pid)
{
    return vec_u32_lower_bound(w->described, w->ndescribed, pid);
}

/* Remember that pid has a process record: 0, or -ENOMEM. */
static int described_add(struct rec_writer *w, uint32_t pid)
{
    size_t i = described_find(w, pid);
    if (i < w->ndescribed && w->described[i] == pid)
        return 0;
    uint32_t *d = vec_grow(w->described, &w->described_cap, w->ndescribed + 1, sizeof *d, 8);
    if (!d)
        return -ENOMEM;
    w->described = d;
    memmove(w->described + i + 1, w->described + i, (w->ndescribed - i) * sizeof *w->described);
    w->described[i] = pid;
    w->ndescribed++;
    return 0;
}

static int described(const struct rec_writer *w, uint32_t pid)
{
    size_t i = described_find(w, pid);
    return i < w->ndescribed && w->described[i] == pid;
}

static void put_text(struct vbuf *b, const char *s, size_t max)
{
    size_t n = bounded_len(s, max);
    vbuf_put_uvarint(b, n);
    vbuf_put_bytes(b, s, n);
}

static void put_process(struct vbuf *b, const struct process_info *p)
{
    size_t start = record_begin(b, REC_PROCESS);
    vbuf_put_uvarint(b, p->pid);
    vbuf_put_uvarint(b, p->ppid);
    put_text(b, p->python, sizeof p->python);
    put_text(b, p->command, sizeof p->command);
    record_end(b, start);
}

/* Only the counters this version knows: a reader skips the rest. */
static void put_counters(struct vbuf *b, const struct counters *c)
{
    uint64_t valid = c->valid & ((1ull << COUNTER_COUNT) - 1);
    size_t start = record_begin(b, REC_COUNTERS);
    vbuf_put_uvarint(b, valid);
    for (int id = 0; id < COUNTER_COUNT; id++)
        if (valid >> id & 1)
            vbuf_put_uvarint(b, c->value[id]);
    record_end(b, start);
}

/* Every pid gets a process record before its first sample: the sample's
 * own description, or for the recorded process what the metadata says,
 * or just the pid. A later description is written again. */
static int put_attachments(struct rec_writer *w, const struct sample *s)
{
    struct process_info only_pid;
    const struct process_info *p = s->process;
    if (!p && !described(w, s->pid)) {
        if (s->pid == w->target.pid) {
            p = &w->target;
        } else {
            memset(&only_pid, 0, sizeof only_pid);
            only_pid.pid = s->pid;
            p = &only_pid;
        }
    }
    if (p) {
        if (described_add(w, p->pid) != 0 || described_add(w, s->pid) != 0)
            return -ENOMEM;
        put_process(&w->buf, p);
    }
    if (s->counters)
        put_counters(&w->buf, s->counters);
    return 0;
}

int rec_writer_sample(struct rec_writer *w, const struct stack_table *dict,
                      const struct sample *s)
{
    if (!w)
        return -EINVAL;
    if (w->err)
        return w->err;
    if (!dict || !s || (s->nthreads && !s->threads) || s->nthreads > REC_MAX_THREADS)
        return -EINVAL;
    if (w->dict && w->dict != dict)
        return -EINVAL;
    /* Refuse what a reader would refuse, before writing anything. */
    uint32_t ns = stack_table_string_count(dict), nn = stack_table_node_count(dict);
    for (uint32_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].name >= ns || s->threads[i].stack >= nn)
            return -EINVAL;
    w->dict = dict;

    put_dictionary(w, dict);
    if (put_attachments(w, s) != 0) {
        set_err(w, -ENOMEM);
        return w->err;
    }
    struct vbuf *b = &w->buf;
    size_t start = record_begin(b, REC_SAMPLE);
    vbuf_put_svarint(b, (int64_t)(s->time_ns - w->last_time_ns));
    vbuf_put_uvarint(b, s->pid);
    vbuf_put_uvarint(b, s->nthreads);
    vbuf_put_uvarint(b, REC_THREAD_FIELDS);
    for (uint32_t i = 0; i < s->nthreads; i++) {
        const struct sample_thread *t = &s->threads[i];
        vbuf_put_uvarint(b, t->tid);
        vbuf_put_uvarint(b, t->name);
        vbuf_put_uvarint(b, t->stack);
        vbuf_put_uvarint(b, t->flags);
        vbuf_put_uvarint(b, t->cpu_ns);
        vbuf_put_uvarint(b, t->wall_ns);
        vbuf_put_uvarint(b, t->mem_grow);
        vbuf_put_uvarint(b, t->mem_release);
    }
    record_end(b, start);
    w->last_time_ns = s->time_ns;

    /* The first sample is flushed at once, so the file is a readable
     * recording as soon as there is something to read. Sample time going
     * backwards counts as time passed. */
    if (w->samples++ == 0 || b->len >= FLUSH_BYTES || b->oom ||
        s->time_ns - w->flush_time_ns >= FLUSH_INTERVAL_NS ||
        mono_ns() - w->flush_wall_ns >= w->flush_every_wall_ns)
        writer_flush(w);
    return w->err;
}

void rec_writer_set_wall_flush(struct rec_writer *w, uint64_t every_ns)
{
    if (w)
        w->flush_every_wall_ns = every_ns ? every_ns : FLUSH_INTERVAL_NS;
}

int rec_writer_flush(struct rec_writer *w)
{
    if (!w)
        return -EINVAL;
    if (!w->err)
        writer_flush(w);
    return w->err;
}

int rec_writer_close(struct rec_writer *w, const struct recording_summary *summary)
{
    if (!w)
        return 0;
    if (!w->err && summary) {
        struct vbuf *b = &w->buf;
        size_t start = record_begin(b, REC_SUMMARY);
        vbuf_put_uvarint(b, summary->samples);
        vbuf_put_uvarint(b, summary->late);
        vbuf_put_uvarint(b, summary->errors);
        vbuf_put_uvarint(b, summary->duration_ns);
        vbuf_put_uvarint(b, summary->target_exited ? 1 : 0);
        vbuf_put_svarint(b, summary->exit_status);
        if (summary->have_stacks) {
            for (int k = 0; k < STACK_KINDS; k++)
                vbuf_put_uvarint(b, summary->stacks[k]);
            vbuf_put_uvarint(b, summary->retries);
        }
        record_end(b, start);
    }
    if (!w->err)
        writer_flush(w);
    if (close(w->fd) != 0 && errno != EINTR)
        set_err(w, -errno);
    int err = w->err;
    vbuf_release(&w->buf);
    free(w->described);
    free(w);
    return err;
}

/* ---- reader ------------------------------------------------------------- */

#define READ_CHUNK (64u << 10)

struct rec_reader {
    int fd;                         /* -1 when reading memory */
    uint8_t *own;                   /* the buffer, for a file */
    const uint8_t *data;            /* bytes [pos, len) are unread */
    size_t pos, len, cap;
    int eof;
    int err;                        /* sticky */
    int truncated;
    struct stack_table *dict;
    struct recording_meta meta;
    struct recording_summary summary;
    int has_summary;
    struct sample_thread *threads;
    uint32_t threads_cap;
    uint64_t time_ns;               /* the previous sample's */
    /* Attachments read for the next sample; handed out with it. */
    struct process_info process;
    struct counters counters;
    int has_process, has_counters;
};

/* Make need unread bytes available if the file has them: 0 when they
 * are, 1 when the input ends first, or -errno. The buffer grows only as
 * bytes arrive, so a corrupt length in a short file costs nothing. */
static int reader_fill(struct rec_reader *r, size_t need)
{
    while (r->len - r->pos < need) {
        if (r->fd < 0 || r->eof)
            return 1;
        if (r->cap - r->len < READ_CHUNK / 4) {
            size_t unread = r->len - r->pos;
            if (r->pos > 0) {
                memmove(r->own, r->own + r->pos, unread);
                r->pos = 0;
                r->len = unread;
            }
            if (r->cap - r->len < READ_CHUNK / 4) {
                uint8_t *p = realloc(r->own, r->cap * 2);
                if (!p)
                    return -ENOMEM;
                r->own = p;
                r->cap *= 2;
            }
            r->data = r->own;
        }
        ssize_t n = read(r->fd, r->own + r->len, r->cap - r->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            r->eof = 1;
        r->len += (size_t)n;
    }
    return 0;
}

static void copy_field(char *dst, size_t size, const uint8_t *src, size_t n)
{
    if (n > size - 1)
        n = size - 1;   /* longer than this build keeps: cut */
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int parse_meta(struct recording_meta *m, const uint8_t *p, size_t n)
{
    struct vcur c;
    vcur_init(&c, p, n);
    uint64_t plen = 0, clen = 0;
    const uint8_t *python = NULL, *command = NULL;
    memset(m, 0, sizeof *m);
    /* The lengths are checked against n before they become a size_t. */
    vcur_u32(&c, &m->pid);
    if (vcur_uvarint(&c, &plen) == 0 && plen <= n)
        vcur_bytes(&c, (size_t)plen, &python);
    if (vcur_uvarint(&c, &clen) == 0 && clen <= n)
        vcur_bytes(&c, (size_t)clen, &command);
    vcur_uvarint(&c, &m->start_unix_ns);
    vcur_u32(&c, &m->rate_hz);
    if (c.err || !python || !command)
        return -PT_ERR_FORMAT;
    copy_field(m->python, sizeof m->python, python, plen);
    copy_field(m->command, sizeof m->command, command, clen);
    return 0;
}

static int reader_header(struct rec_reader *r)
{
    int got = reader_fill(r, REC_FIXED_HEADER + VARINT_MAX_LEN);
    if (got < 0)
        return got;
    if (r->len - r->pos < REC_FIXED_HEADER)
        return -PT_ERR_FORMAT;
    const uint8_t *h = r->data + r->pos;
    if (memcmp(h, rec_magic, sizeof rec_magic) != 0)
        return -PT_ERR_FORMAT;
    unsigned major = h[8] | (unsigned)h[9] << 8;
    if (major != REC_FORMAT_MAJOR)
        return -PT_ERR_FORMAT;
    struct vcur c;
    vcur_init(&c, h + REC_FIXED_HEADER, r->len - r->pos - REC_FIXED_HEADER);
    uint64_t mlen;
    if (vcur_uvarint(&c, &mlen) != 0 || mlen > REC_MAX_META)
        return -PT_ERR_FORMAT;
    /* A file may spell the length with redundant bytes: use what it used. */
    size_t hlen = (size_t)(c.p - h);
    got = reader_fill(r, hlen + mlen);
    if (got < 0)
        return got;
    if (got > 0)
        return -PT_ERR_FORMAT;   /* cut inside the header: nothing to read */
    h = r->data + r->pos;
    int err = parse_meta(&r->meta, h + hlen, (size_t)mlen);
    if (err)
        return err;
    r->pos += hlen + mlen;
    return 0;
}

static int reader_start(struct rec_reader *r, struct rec_reader **out)
{
    r->dict = stack_table_new();
    if (!r->dict) {
        rec_reader_close(r);
        return -ENOMEM;
    }
    int err = reader_header(r);
    if (err) {
        rec_reader_close(r);
        return err;
    }
    *out = r;
    return 0;
}

int rec_reader_open(const char *path, struct rec_reader **out)
{
    if (!path || !out)
        return -EINVAL;
    struct rec_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int err = -errno;
        free(r);
        return err;
    }
    r->cap = READ_CHUNK;
    r->own = malloc(r->cap);
    if (!r->own) {
        rec_reader_close(r);
        return -ENOMEM;
    }
    r->data = r->own;
    return reader_start(r, out);
}

int rec_reader_open_mem(const void *data, size_t len, struct rec_reader **out)
{
    if ((!data && len) || !out)
        return -EINVAL;
    struct rec_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->fd = -1;
    r->data = data;
    r->len = len;
    r->cap = len;
    r->eof = 1;
    return reader_start(r, out);
}

const struct recording_meta *rec_reader_meta(const struct rec_reader *r)
{
    return r ? &r->meta : NULL;
}

const struct stack_table *rec_reader_dict(const struct rec_reader *r)
{
    return r ? r->dict : NULL;
}

int rec_reader_truncated(const struct rec_reader *r)
{
    return r ? r->truncated : 0;
}

int rec_reader_summary(const struct rec_reader *r, struct recording_summary *out)
{
    if (!r || !r->has_summary)
        return 0;
    if (out)
        *out = r->summary;
    return 1;
}

void rec_reader_close(struct rec_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->own);
    free(r->threads);
    stack_table_free(r->dict);
    free(r);
}

/* A table refusing an entry means the file is corrupt: our writers never
 * exceed the bounds a reader's table has. Only memory is not the file's
 * fault. */
static int dict_error(int err)
{
    return err == -ENOMEM ? err : -PT_ERR_FORMAT;
}

static int read_string(struct rec_reader *r, struct vcur *c)
{
    uint32_t id;
    const uint8_t *s;
    size_t n;
    if (vcur_u32(c, &id) != 0)
        return -PT_ERR_FORMAT;
    vcur_rest(c, &s, &n);
    int err = stack_table_add_string(r->dict, id, (const char *)s, n);
    return err ? dict_error(err) : 0;
}

static int read_frame(struct rec_reader *r, struct vcur *c)
{
    uint32_t id;
    struct stack_frame f;
    vcur_u32(c, &id);
    vcur_u32(c, &f.function);
    vcur_u32(c, &f.file);
    vcur_s32(c, &f.line);
    vcur_s32(c, &f.firstline);
    if (c->err)
        return -PT_ERR_FORMAT;
    int err = stack_table_add_frame(r->dict, id, &f);
    return err ? dict_error(err) : 0;
}

static int read_node(struct rec_reader *r, struct vcur *c)
{
    uint32_t id, parent, frame;
    vcur_u32(c, &id);
    vcur_u32(c, &parent);
    vcur_u32(c, &frame);
    if (c->err)
        return -PT_ERR_FORMAT;
    int err = stack_table_add_node(r->dict, id, parent, frame);
    return err ? dict_error(err) : 0;
}

static int read_summary(struct rec_reader *r, struct vcur *c)
{
    struct recording_summary s;
    memset(&s, 0, sizeof s);
    uint64_t exited;
    int64_t status;
    vcur_uvarint(c, &s.samples);
    vcur_uvarint(c, &s.late);
    vcur_uvarint(c, &s.errors);
    vcur_uvarint(c, &s.duration_ns);
    vcur_uvarint(c, &exited);
    vcur_svarint(c, &status);
    if (c->err || exited > 1 || status < INT32_MIN || status > INT32_MAX)
        return -PT_ERR_FORMAT;
    s.target_exited = (int)exited;
    s.exit_status = (int)status;
    /* 1.2: stacks by kind, then re-reads (absent before). */
    if (vcur_left(c) > 0) {
        for (int k = 0; k < STACK_KINDS; k++)
            vcur_uvarint(c, &s.stacks[k]);
        vcur_uvarint(c, &s.retries);
        if (c->err)
            return -PT_ERR_FORMAT;
        s.have_stacks = 1;
    }
    r->summary = s;
    r->has_summary = 1;
    return 0;
}

static int read_text(struct vcur *c, char *dst, size_t size)
{
    uint64_t n;
    const uint8_t *p = NULL;
    if (vcur_uvarint(c, &n) != 0 || n > vcur_left(c) || vcur_bytes(c, (size_t)n, &p) != 0)
        return -PT_ERR_FORMAT;
    copy_field(dst, size, p, (size_t)n);
    return 0;
}

static int read_process(struct rec_reader *r, struct vcur *c)
{
    struct process_info p;
    memset(&p, 0, sizeof p);
    vcur_u32(c, &p.pid);
    vcur_u32(c, &p.ppid);
    if (c->err || read_text(c, p.python, sizeof p.python) != 0 ||
        read_text(c, p.command, sizeof p.command) != 0)
        return -PT_ERR_FORMAT;
    r->process = p;
    r->has_process = 1;
    return 0;
}

/* Values come in the order of the mask's bits; those of counters this
 * version does not know (a later one's) are read and dropped. */
static int read_counters(struct rec_reader *r, struct vcur *c)
{
    struct counters k;
    uint64_t valid;
    memset(&k, 0, sizeof k);
    if (vcur_uvarint(c, &valid) != 0)
        return -PT_ERR_FORMAT;
    for (unsigned id = 0; id < 64; id++) {
        uint64_t v;
        if (!(valid >> id & 1))
            continue;
        if (vcur_uvarint(c, &v) != 0)
            return -PT_ERR_FORMAT;
        if (id < COUNTER_COUNT)
            counters_set(&k, (enum counter_id)id, v);
    }
    r->counters = k;
    r->has_counters = 1;
    return 0;
}

static int read_sample(struct rec_reader *r, struct vcur *c, struct sample *out)
{
    int64_t dt;
    uint32_t pid, nthreads, nfields;
    vcur_svarint(c, &dt);
    vcur_u32(c, &pid);
    vcur_u32(c, &nthreads);
    vcur_u32(c, &nfields);
    if (c->err || nthreads > REC_MAX_THREADS || nfields < REC_THREAD_FIELDS_1_0 ||
        nfields > REC_MAX_THREAD_FIELDS)
        return -PT_ERR_FORMAT;
    /* Each field takes a byte at least: a count the record cannot hold is
     * refused before anything is allocated for it. */
    if ((uint64_t)nthreads * nfields > vcur_left(c))
        return -PT_ERR_FORMAT;
    if (nthreads > r->threads_cap) {
        uint32_t cap = r->threads_cap ? r->threads_cap : 16;
        while (cap < nthreads)
            cap *= 2;
        struct sample_thread *p = realloc(r->threads, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        r->threads = p;
        r->threads_cap = cap;
    }
    uint32_t nstrings = stack_table_string_count(r->dict);
    uint32_t nnodes = stack_table_node_count(r->dict);
    for (uint32_t i = 0; i < nthreads; i++) {
        struct sample_thread *t = &r->threads[i];
        vcur_u32(c, &t->tid);
        vcur_u32(c, &t->name);
        vcur_u32(c, &t->stack);
        vcur_u32(c, &t->flags);
        vcur_uvarint(c, &t->cpu_ns);
        vcur_uvarint(c, &t->wall_ns);
        t->mem_grow = t->mem_release = 0;   /* 1.0 has no memory fields */
        if (nfields > 6)
            vcur_uvarint(c, &t->mem_grow);
        if (nfields > 7)
            vcur_uvarint(c, &t->mem_release);
        /* Fields a later minor version added. */
        for (uint32_t k = REC_THREAD_FIELDS; k < nfields; k++) {
            uint64_t skip;
            vcur_uvarint(c, &skip);
        }
        if (c->err || t->name >= nstrings || t->stack >= nnodes)
            return -PT_ERR_FORMAT;
    }
    r->time_ns += (uint64_t)dt;
    out->time_ns = r->time_ns;
    out->pid = pid;
    out->nthreads = nthreads;
    out->threads = r->threads;
    out->process = r->has_process ? &r->process : NULL;
    out->counters = r->has_counters ? &r->counters : NULL;
    r->has_process = r->has_counters = 0;
    return 1;
}

/* One record: 1 with a sample, 0 for another kind, 2 at the end, or < 0. */
static int reader_record(struct rec_reader *r, struct sample *out)
{
    int got = reader_fill(r, 1 + VARINT_MAX_LEN);
    if (got < 0)
        return got;
    size_t avail = r->len - r->pos;
    if (avail == 0)
        return 2;
    struct vcur c;
    vcur_init(&c, r->data + r->pos, avail);
    uint8_t type;
    uint64_t plen;
    vcur_u8(&c, &type);
    int err = vcur_uvarint(&c, &plen);
    if (err == -PT_ERR_TRUNCATED) {
        r->truncated = 1;   /* the file ends inside a record header */
        return 2;
    }
    if (err || plen > REC_MAX_RECORD)
        return -PT_ERR_FORMAT;
    size_t hlen = (size_t)(c.p - (r->data + r->pos));
    got = reader_fill(r, hlen + (size_t)plen);
    if (got < 0)
        return got;
    if (got > 0) {
        r->truncated = 1;
        return 2;
    }
    const uint8_t *payload = r->data + r->pos + hlen;
    r->pos += hlen + (size_t)plen;
    vcur_init(&c, payload, (size_t)plen);
    /* Bytes after the fields a record type has in this version are
     * ignored: later minor versions may append fields. */
    switch (type) {
    case REC_STRING: return read_string(r, &c);
    case REC_FRAME: return read_frame(r, &c);
    case REC_NODE: return read_node(r, &c);
    case REC_SAMPLE: return read_sample(r, &c, out);
    case REC_SUMMARY: return read_summary(r, &c);
    case REC_COUNTERS: return read_counters(r, &c);
    case REC_PROCESS: return read_process(r, &c);
    default: return 0;      /* unknown: skipped */
    }
}

int rec_reader_next(struct rec_reader *r, struct sample *out)
{
    if (!r || !out)
        return -EINVAL;
    if (r->err)
        return r->err;
    for (;;) {
        struct sample s;
        int ret = reader_record(r, &s);
        if (ret < 0) {
            r->err = ret;
            return ret;
        }
        if (ret == 2)
            return 0;
        if (ret == 1) {
            *out = s;
            return 1;
        }
    }
}
