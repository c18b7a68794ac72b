/* Fuzz the asyncio task reader (src/python/asyncio_tasks.c) on 3.14 and
 * 3.15 layouts: build a fake thread state whose task list holds a few
 * tasks, each with a coroutine awaiting a chain of coroutines (the last
 * awaiting a future), one task running on the thread's stack; then let the
 * input overwrite bytes and pointers inside those objects, and let the
 * first bytes stand for an .AsyncioDebug section when they decode as one.
 *
 * Input: version bit and shape (tasks, chain length), then 4-byte records
 * (object, offset, value): value overwrites one byte, or with the top bit
 * of the object byte, an 8-byte word gets the address of another object
 * (plus the value's low bits), making lists and chains loop, cross and
 * point into the middle of things. Invariants: no crash or sanitizer
 * report; tasks and chains within their bounds; every chain frame has a
 * code object or an error, and names are NUL-terminated; a running task
 * placed on a thread lies within that thread's frames. */
#include "config.h"

#include "../unit/fake_python.h"

#include "core/error.h"
#include "python/asyncio_tasks.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define MAX_OBJS 64
#define STACK_SLOTS 8
#define TS_SIZE 1024
#define IS_SIZE 1024

static void fail(void)
{
    __builtin_trap();
}

struct world {
    struct fake_py fp;
    struct py_aio_layout al;
    uint64_t objs[MAX_OBJS];
    size_t sizes[MAX_OBJS];
    size_t nobjs;
    uint64_t tstate, interp;
    uint64_t running_frame;
};

static uint64_t obj(struct world *w, size_t size)
{
    uint64_t a = fake_alloc(&w->fp, size, FAKE_OBJ_OTHER);
    if (a && w->nobjs < MAX_OBJS) {
        w->objs[w->nobjs] = a;
        w->sizes[w->nobjs++] = size;
    }
    return a;
}

/* A type object named name (tp_name at 24 points to the text). */
static uint64_t type_named(struct world *w, const char *name)
{
    uint64_t t = obj(w, 512), text = obj(w, 32);
    if (!t || !text)
        return 0;
    fake_put(&w->fp, text, name, strlen(name) + 1);
    fake_put_u64(&w->fp, t + 24, text);
    return t;
}

/* A coroutine suspended at code, whose stack top (at the layout's depth)
 * is awaited. */
static uint64_t coro(struct world *w, uint64_t ctype, uint64_t code, uint64_t awaited, int state)
{
    const struct py_layout *l = &w->fp.lay;
    const struct py_aio_layout *al = &w->al;
    size_t size = (size_t)al->gen_iframe + (size_t)al->frame_localsplus + 8 * STACK_SLOTS;
    uint64_t c = obj(w, size);
    if (!c)
        return 0;
    uint64_t f = c + (uint64_t)al->gen_iframe;
    fake_put_u64(&w->fp, c + (uint64_t)l->object_type, ctype);
    fake_put_u8(&w->fp, c + (uint64_t)al->gen_frame_state, (uint8_t)state);
    fake_put_u64(&w->fp, f + (uint64_t)l->frame_code, code | 1);   /* a tagged reference */
    fake_put_u64(&w->fp, f + (uint64_t)l->frame_instr, code + (uint64_t)l->code_code_adaptive + 4);
    fake_put_u8(&w->fp, f + (uint64_t)l->frame_owner, FAKE_OWNED_BY_GENERATOR);
    uint64_t sp = f + (uint64_t)al->frame_localsplus + 8 * (uint64_t)al->frame_yf_depth;
    fake_put_u64(&w->fp, f + (uint64_t)al->frame_stackpointer, sp);
    fake_put_u64(&w->fp, sp - 8 * (uint64_t)al->frame_yf_depth, awaited);
    return c;
}

static int build(struct world *w, uint8_t shape)
{
    const struct py_layout *l = &w->fp.lay;
    const struct py_aio_layout *al = &w->al;
    uint64_t codes[3];
    for (int i = 0; i < 3; i++)
        codes[i] = fake_code_lines(&w->fp, "c", "C.c", "/a.py", 10 * i + 1, 16, 2);
    uint64_t ctype = type_named(w, "coroutine"), ttype = type_named(w, "_asyncio.Task"),
             ftype = type_named(w, "_asyncio.Future");
    w->tstate = obj(w, TS_SIZE);
    w->interp = obj(w, IS_SIZE);
    if (!codes[2] || !ctype || !ttype || !ftype || !w->tstate || !w->interp)
        return -1;
    /* Empty lists point at themselves. */
    uint64_t head = w->tstate + (uint64_t)al->ts_tasks_head;
    fake_put_u64(&w->fp, head, head);
    fake_put_u64(&w->fp, head + 8, head);
    uint64_t ihead = w->interp + (uint64_t)al->is_tasks_head;
    fake_put_u64(&w->fp, ihead, ihead);
    fake_put_u64(&w->fp, ihead + 8, ihead);

    unsigned ntasks = 1 + (shape & 3), chain = 1 + ((shape >> 2) & 3);
    uint64_t prev = head;
    for (unsigned t = 0; t < ntasks; t++) {
        uint64_t fut = obj(w, 64);
        if (!fut)
            return -1;
        fake_put_u64(&w->fp, fut + (uint64_t)l->object_type, ftype);
        uint64_t awaited = fut;
        int running = t == 0;
        for (unsigned k = 0; k < chain; k++)
            awaited = coro(w, ctype, codes[k % 3], awaited,
                           running && k + 1 == chain ? al->state_executing : al->state_suspended_max);
        uint64_t task = obj(w, (size_t)al->task_size);
        char name[8] = { 't', (char)('0' + t), 0 };
        uint64_t str = fake_str(&w->fp, name);
        if (!awaited || !task || !str)
            return -1;
        if (running)
            w->running_frame = awaited + (uint64_t)al->gen_iframe;
        fake_put_u64(&w->fp, task + (uint64_t)l->object_type, ttype);
        fake_put_u64(&w->fp, task + (uint64_t)al->task_name, str);
        fake_put_u64(&w->fp, task + (uint64_t)al->task_coro, awaited);
        uint64_t node = task + (uint64_t)al->task_node;
        fake_put_u64(&w->fp, prev, node);
        fake_put_u64(&w->fp, node + 8, prev);
        prev = node;
    }
    fake_put_u64(&w->fp, prev, head);
    fake_put_u64(&w->fp, head + 8, prev);
    return w->fp.failed ? -1 : 0;
}

static void mutate(struct world *w, const uint8_t *r)
{
    if (!w->nobjs)
        return;
    size_t i = (r[0] & 0x7f) % w->nobjs;
    size_t off = r[1] % w->sizes[i];
    uint8_t *p = fake_local(&w->fp, w->objs[i], w->sizes[i]);
    if (!p)
        return;
    if (r[0] & 0x80) {
        off &= ~(size_t)7;
        if (off + 8 > w->sizes[i])
            return;
        uint64_t v = w->objs[r[2] % w->nobjs] + (r[3] & 0xf8);
        memcpy(p + off, &v, 8);
    } else {
        p[off] = r[3];
    }
}

static void check(const struct py_aio_tasks *t, const struct py_sample *s)
{
    if (t->ntasks > PY_AIO_MAX_TASKS || t->nframes > t->cap_frames || t->ntasks > t->cap_tasks)
        fail();
    for (size_t i = 0; i < t->ntasks; i++) {
        const struct py_aio_task *k = &t->tasks[i];
        if (memchr(k->name, 0, sizeof k->name) == NULL ||
            memchr(k->awaits_task, 0, sizeof k->awaits_task) == NULL)
            fail();
        if (k->running && k->nframes)
            fail();
        if (k->nframes > PY_AIO_MAX_CHAIN || k->first_frame + k->nframes > t->nframes)
            fail();
        for (size_t j = 0; j < k->nframes; j++) {
            const struct py_frame *f = &t->frames[k->first_frame + j];
            if (!f->code && !f->error)
                fail();
            if (f->code) {
                volatile size_t sink = strlen(f->code->name) + strlen(f->code->filename);
                (void)sink;
            }
        }
        if (k->thread >= 0 && ((size_t)k->thread >= s->nthreads ||
                               k->depth > s->threads[k->thread].nframes || !k->running))
            fail();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 2)
        return 0;
    int minor = (d[0] & 1) ? 15 : 14;
    const struct py_layout *lay = py_layout_for(3, minor);
    const struct py_aio_layout *al = py_aio_layout_for(3, minor);
    if (!lay || !al)
        return 0;
    struct world *w = calloc(1, sizeof *w);
    if (!w)
        return 0;
    w->al = *al;
    /* Lists inside the small fake thread and interpreter states. */
    w->al.ts_tasks_head = 64;
    w->al.is_tasks_head = 128;
    struct py_walker walker;
    struct py_aio_reader r;
    struct py_aio_tasks tasks;
    struct py_sample s;
    py_aio_tasks_init(&tasks);
    py_sample_init(&s);
    if (fake_py_init(&w->fp, lay) != 0) {
        free(w);
        return 0;
    }
    int ok = build(w, d[1]) == 0 && fake_walker_init(&w->fp, &walker) == 0;
    if (ok && py_aio_reader_init(&r, 3, minor, 0, 0, NULL) == 0) {
        r.l = w->al;
        /* The input's start, read as a section: its fields replace the
         * table's when it decodes as one (the objects were built by the
         * table, so this mostly tests the decoder and reading wrong
         * offsets). */
        struct py_aio_layout from = r.l;
        if (n >= 2 + 104 && (d[0] & 2) && py_aio_layout_from_section(&from, d + 2, 104) == 0) {
            if (from.task_size < 24 || from.task_size > 4096)
                fail();
            r.l = from;
            r.l.ts_tasks_head = 64;
            r.l.is_tasks_head = 128;
        }
        for (size_t i = 2; i + 4 <= n; i += 4)
            mutate(w, d + i);
        /* One thread: its innermost frame is the running task's. */
        struct py_thread th = { .tstate = w->tstate, .interp = w->interp, .nframes = 2 };
        struct py_frame fr[2];
        memset(fr, 0, sizeof fr);
        fr[0].addr = w->running_frame;
        fr[1].addr = w->running_frame + 8;
        s.threads = &th;
        s.nthreads = 1;
        s.frames = fr;
        s.nframes = 2;
        if (py_aio_read(&r, &walker, &s, &tasks) == 0)
            check(&tasks, &s);
        if (walker.mem != &w->fp.mem.base)
            fail();                  /* the walker's own source back */
        s.threads = NULL;
        s.frames = NULL;
        py_aio_reader_release(&r);
    }
    if (ok)
        py_walker_release(&walker);
    py_aio_tasks_release(&tasks);
    fake_py_release(&w->fp);
    free(w);
    return 0;
}
