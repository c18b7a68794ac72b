/* The asyncio task reader on fake 3.14 and 3.15 structures: tasks found
 * through a thread's list, a running one placed on the thread's stack, a
 * waiting one's await chain innermost first, a torn list, and the
 * .AsyncioDebug section decoder against the tables. */
#include "config.h"

#include "fake_python.h"
#include "unit.h"

#include "core/error.h"
#include "python/asyncio_tasks.h"

#include <stdlib.h>

struct world {
    struct fake_py fp;
    struct py_aio_layout al;
    uint64_t ctype, ttype, tstate, interp, codes[3];
};

static uint64_t type_named(struct world *w, const char *name)
{
    uint64_t t = fake_alloc(&w->fp, 512, FAKE_OBJ_TYPE), text = fake_alloc(&w->fp, 32, FAKE_OBJ_OTHER);
    fake_put(&w->fp, text, name, strlen(name) + 1);
    fake_put_u64(&w->fp, t + 24, text);
    return t;
}

static uint64_t coro(struct world *w, uint64_t code, uint64_t awaited, int state)
{
    const struct py_layout *l = &w->fp.lay;
    const struct py_aio_layout *al = &w->al;
    uint64_t c = fake_alloc(&w->fp, (size_t)al->gen_iframe + (size_t)al->frame_localsplus + 64,
                            FAKE_OBJ_OTHER);
    uint64_t f = c + (uint64_t)al->gen_iframe;
    fake_put_u64(&w->fp, c + (uint64_t)l->object_type, w->ctype);
    fake_put_u8(&w->fp, c + (uint64_t)al->gen_frame_state, (uint8_t)state);
    fake_put_u64(&w->fp, f + (uint64_t)l->frame_code, code);
    fake_put_u64(&w->fp, f + (uint64_t)l->frame_instr, code + (uint64_t)l->code_code_adaptive + 4);
    fake_put_u8(&w->fp, f + (uint64_t)l->frame_owner, FAKE_OWNED_BY_GENERATOR);
    uint64_t sp = f + (uint64_t)al->frame_localsplus + 8 * (uint64_t)al->frame_yf_depth;
    fake_put_u64(&w->fp, f + (uint64_t)al->frame_stackpointer, sp);
    fake_put_u64(&w->fp, sp - 8 * (uint64_t)al->frame_yf_depth, awaited);
    return c;
}

static uint64_t task(struct world *w, const char *name, uint64_t c)
{
    const struct py_aio_layout *al = &w->al;
    uint64_t t = fake_alloc(&w->fp, (size_t)al->task_size, FAKE_OBJ_OTHER);
    fake_put_u64(&w->fp, t + (uint64_t)w->fp.lay.object_type, w->ttype);
    fake_put_u64(&w->fp, t + (uint64_t)al->task_name, fake_str(&w->fp, name));
    fake_put_u64(&w->fp, t + (uint64_t)al->task_coro, c);
    return t;
}

/* head <-> nodes of tasks, circular. */
static void link(struct world *w, uint64_t head, const uint64_t *tasks, size_t n)
{
    uint64_t prev = head;
    for (size_t i = 0; i < n; i++) {
        uint64_t node = tasks[i] + (uint64_t)w->al.task_node;
        fake_put_u64(&w->fp, prev, node);
        fake_put_u64(&w->fp, node + 8, prev);
        prev = node;
    }
    fake_put_u64(&w->fp, prev, head);
    fake_put_u64(&w->fp, head + 8, prev);
}

static void run_version(int minor)
{
    char what[128];
    struct world *w = calloc(1, sizeof *w);
    const struct py_aio_layout *al = py_aio_layout_for(3, minor);
    CHECK(w && al && fake_py_init(&w->fp, py_layout_for(3, minor)) == 0, "fake interpreter");
    w->al = *al;
    w->al.ts_tasks_head = 64;      /* inside the small fake states below */
    w->al.is_tasks_head = 128;
    for (int i = 0; i < 3; i++)
        w->codes[i] = fake_code_lines(&w->fp, i == 0 ? "inner" : i == 1 ? "outer" : "spin",
                                      NULL, "/t.py", 10 * i + 1, 16, 2);
    w->ctype = type_named(w, "coroutine");
    w->ttype = type_named(w, "_asyncio.Task");
    uint64_t ftype = type_named(w, "_asyncio.Future");
    w->tstate = fake_alloc(&w->fp, 1024, FAKE_OBJ_TSTATE);
    w->interp = fake_alloc(&w->fp, 1024, FAKE_OBJ_INTERP);
    uint64_t fut = fake_alloc(&w->fp, 64, FAKE_OBJ_OTHER);
    fake_put_u64(&w->fp, fut + (uint64_t)w->fp.lay.object_type, ftype);

    int susp = al->state_suspended_max, exec = al->state_executing;
    uint64_t inner = coro(w, w->codes[0], fut, susp);
    uint64_t outer = coro(w, w->codes[1], inner, susp);
    uint64_t spin = coro(w, w->codes[2], 0, exec);
    uint64_t tasks[2] = { task(w, "runner", spin), task(w, "waiter", outer) };
    link(w, w->tstate + 64, tasks, 2);
    link(w, w->interp + 128, NULL, 0);
    CHECK(!w->fp.failed, "built");

    struct py_walker walker;
    struct py_aio_reader r;
    struct py_aio_tasks out;
    py_aio_tasks_init(&out);
    CHECK(fake_walker_init(&w->fp, &walker) == 0, "walker");
    CHECK_INT(py_aio_reader_init(&r, 3, minor, 0, 0, NULL), 0, "reader");
    r.l = w->al;
    struct py_thread th = { .tstate = w->tstate, .interp = w->interp, .tid = 7, .nframes = 3 };
    struct py_frame fr[3];
    memset(fr, 0, sizeof fr);
    fr[0].addr = 0x1234;        /* a frame the task called */
    fr[1].addr = spin + (uint64_t)al->gen_iframe;
    fr[2].addr = 0x5678;        /* the event loop's */
    struct py_sample s = { .threads = &th, .nthreads = 1, .frames = fr, .nframes = 3 };

    CHECK_INT(py_aio_read(&r, &walker, &s, &out), 0, "read");
    snprintf(what, sizeof what, "3.%d: two tasks", minor);
    CHECK_INT(out.ntasks, 2, what);
    if (out.ntasks == 2) {
        const struct py_aio_task *a = &out.tasks[0], *b = &out.tasks[1];
        CHECK_STR(a->name, "runner", "running task's name");
        CHECK(a->running && a->thread == 0 && a->depth == 2, "running task on the thread, 2 frames deep");
        CHECK_STR(b->name, "waiter", "waiting task's name");
        CHECK(!b->running && b->nframes == 2, "waiting task: a chain of two");
        if (b->nframes == 2) {
            const struct py_frame *f = &out.frames[b->first_frame];
            CHECK(f[0].code && strcmp(f[0].code->name, "inner") == 0, "innermost: the awaited coroutine");
            CHECK(f[1].code && strcmp(f[1].code->name, "outer") == 0, "then the task's own");
            CHECK(f[0].line > 0, "with a line");
        }
        CHECK_INT(out.rejected, 0, "nothing rejected");
    }

    /* A torn list: the second node points back at the first. */
    fake_put_u64(&w->fp, tasks[1] + (uint64_t)al->task_node, tasks[0] + (uint64_t)al->task_node);
    CHECK_INT(py_aio_read(&r, &walker, &s, &out), 0, "read a looping list");
    CHECK(out.cut && out.ntasks <= PY_AIO_MAX_TASKS, "a looping list ends at the bound");

    /* A chain that loops on itself ends at the chain bound. */
    link(w, w->tstate + 64, tasks + 1, 1);
    uint64_t f = outer + (uint64_t)al->gen_iframe;
    uint64_t sp = fake_get_u64(&w->fp, f + (uint64_t)al->frame_stackpointer);
    fake_put_u64(&w->fp, sp - 8 * (uint64_t)al->frame_yf_depth, outer);
    CHECK_INT(py_aio_read(&r, &walker, &s, &out), 0, "read a looping chain");
    CHECK(out.ntasks == 1 && out.tasks[0].nframes == PY_AIO_MAX_CHAIN &&
          out.tasks[0].error == -PT_ERR_TRUNCATED, "a looping chain is cut and says so");

    py_aio_tasks_release(&out);
    py_aio_reader_release(&r);
    py_walker_release(&walker);
    fake_py_release(&w->fp);
    free(w);
}

static void test_versions(void)
{
    run_version(14);
    run_version(15);
}

static void test_section(void)
{
    /* The section of Debian's 3.14.10 _asyncio module and 3.15.2 binary. */
    static const uint64_t s314[13] = { 168, 136, 96, 108, 109, 128, 152, 225864, 10880, 936, 864, 872, 880 };
    static const uint64_t s315[13] = { 168, 136, 96, 108, 109, 128, 152, 226240, 10856, 1104, 1024, 1032, 1048 };
    const uint64_t *secs[2] = { s314, s315 };
    for (int v = 0; v < 2; v++) {
        const struct py_aio_layout *t = py_aio_layout_for(3, 14 + v);
        struct py_aio_layout l = *t;
        memset(&l.task_size, 0xff, sizeof l.task_size);
        CHECK_INT(py_aio_layout_from_section(&l, (const uint8_t *)secs[v], 104), 0, "section decodes");
        CHECK(l.task_size == t->task_size && l.task_name == t->task_name && l.task_coro == t->task_coro &&
              l.task_node == t->task_node && l.ts_tasks_head == t->ts_tasks_head &&
              l.is_tasks_head == t->is_tasks_head, "the section agrees with the table");
    }
    uint64_t bad[13];
    memcpy(bad, s314, sizeof bad);
    bad[1] = 4000;              /* name past the task's size */
    struct py_aio_layout l = *py_aio_layout_for(3, 14);
    CHECK_INT(py_aio_layout_from_section(&l, (const uint8_t *)bad, 104), -PT_ERR_BAD_DATA,
              "an offset past the object is refused");
    CHECK_INT(py_aio_layout_from_section(&l, (const uint8_t *)s314, 96), -PT_ERR_BAD_DATA,
              "a short section is refused");
    /* Offsets that wrap round 2^64 when the field's width is added. */
    for (int w = 0; w < 5; w++) {
        static const int word[5] = { 1, 5, 6, 8, 12 };
        memcpy(bad, s314, sizeof bad);
        bad[word[w]] = UINT64_MAX - 7;
        CHECK_INT(py_aio_layout_from_section(&l, (const uint8_t *)bad, 104), -PT_ERR_BAD_DATA,
                  "an offset near 2^64 is refused");
    }
    struct py_aio_reader r;
    CHECK_INT(py_aio_reader_init(&r, 3, 10, 0, 0, NULL), -PT_ERR_UNSUPPORTED, "3.10 is not read");
    CHECK_INT(py_aio_reader_init(&r, 3, 13, 1, 0, NULL), -PT_ERR_UNSUPPORTED,
              "a free-threaded build is not read");
}

int main(void)
{
    UNIT_RUN(test_versions);
    UNIT_RUN(test_section);
    return unit_done();
}
