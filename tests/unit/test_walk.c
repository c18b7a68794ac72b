/* The stack walker against fake interpreters built for every generated
 * layout: names, files and lines of each frame, threads, interpreters and
 * the GIL holder, and what happens when the structures are broken. */
#include "config.h"

#include "unit.h"

#include "fake_python.h"
#include "linetable_fixtures.h"

#include "core/error.h"
#include "python/walk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

static const struct py_layout *L;    /* layout under test */
static char what_buf[512];

/* A test point's description, prefixed with the version under test. */
static const char *W(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *W(const char *fmt, ...)
{
    int n = snprintf(what_buf, sizeof what_buf, "%d.%d%s: ", L->major, L->minor,
                     L->free_threaded ? "t" : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what_buf + n, sizeof what_buf - (size_t)n, fmt, ap);
    va_end(ap);
    return what_buf;
}

static int has_qualname(void)
{
    return L->code_qualname >= 0;
}

/* A function to put on a fake stack. */
struct fn {
    const char *name, *qual, *file;
    int first;
    size_t units;
    unsigned upl;      /* code units per line */
    uint64_t code;
};

static uint64_t make_fn(struct fake_py *fp, struct fn *f)
{
    f->code = fake_code_lines(fp, f->name, f->qual, f->file, f->first, f->units, f->upl);
    return f->code;
}

static int expect_line(const struct fn *f, int offset)
{
    return fake_line_at(L, f->first, f->upl, offset);
}

/* One test point: frame i of thread t runs f at offset, without error. */
static void check_frame(const struct py_sample *s, size_t t, size_t i, const struct fn *f,
                        int offset, const char *label)
{
    const char *want = has_qualname() && f->qual ? f->qual : f->name;
    int want_line = expect_line(f, offset);
    const struct py_frame *fr = NULL;
    if (t < s->nthreads && i < s->threads[t].nframes)
        fr = &s->frames[s->threads[t].first_frame + i];
    int ok = fr && fr->code && fr->error == 0 && strcmp(fr->code->name, want) == 0 &&
             strcmp(fr->code->filename, f->file) == 0 && fr->line == want_line &&
             fr->code_addr == f->code;
    CHECK(ok, W("%s: thread %zu frame %zu is %s at %s:%d", label, t, i, want, f->file,
                want_line));
    if (!ok && fr)
        printf("#   got code=%p name=%s file=%s line=%d error=%d\n", (void *)fr->code,
               fr->code ? fr->code->name : "-", fr->code ? fr->code->filename : "-", fr->line,
               fr->error);
    else if (!ok)
        printf("#   no such frame\n");
}

static const struct py_frame *frame_at(const struct py_sample *s, size_t t, size_t i)
{
    return &s->frames[s->threads[t].first_frame + i];
}

static const struct py_frame *last_frame(const struct py_sample *s, size_t t)
{
    return frame_at(s, t, s->threads[t].nframes - 1);
}

/* A fake with one interpreter; returns it, or 0. */
static uint64_t setup(struct fake_py *fp)
{
    if (fake_py_init(fp, L) != 0)
        return 0;
    return fake_interp(fp);
}

static struct fn fn_module(void)
{
    return (struct fn){ "<module>", "<module>", "/app/main.py", 1, 40, 2, 0 };
}

static struct fn fn_run(void)
{
    return (struct fn){ "run", "Server.run", "/app/server.py", 10, 30, 3, 0 };
}

/* s initialised, a target with <module> and run made in it, and one
 * thread (its state returned) with no frames yet. */
static uint64_t setup_one_thread(struct fake_py *fp, struct py_sample *s, struct fn *mod, struct fn *run)
{
    py_sample_init(s);
    uint64_t interp = setup(fp);
    *mod = fn_module();
    *run = fn_run();
    make_fn(fp, mod);
    make_fn(fp, run);
    return fake_thread(fp, interp, 1, 1);
}

static struct fn fn_handle(void)
{
    return (struct fn){ "handle", "Server.run.<locals>.handle", "/app/handler.py", 300, 64, 1, 0 };
}

/* ---- the plain case ------------------------------------------------------ */

static void test_single_thread(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn mod = fn_module(), run = fn_run(), handle = fn_handle();
    make_fn(&fp, &mod);
    make_fn(&fp, &run);
    make_fn(&fp, &handle);
    uint64_t ts = fake_thread(&fp, interp, 0x7f00aabb1000ULL, 4242);
    fake_frame(&fp, ts, mod.code, 20, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, run.code, 34, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, handle.code, 126, FAKE_FRAME_STACK);
    CHECK(interp && ts && !fp.failed, W("single: fake built"));
    CHECK_INT(fake_walker_init(&fp, &w), 0, W("single: walker init"));

    for (int pass = 0; pass < 2; pass++) {
        const char *label = pass ? "single (cached)" : "single";
        CHECK_INT(py_walk(&w, &s), 0, W("%s: walk", label));
        CHECK_INT(s.nthreads, 1, W("%s: one thread", label));
        if (s.nthreads != 1)
            break;
        const struct py_thread *t = &s.threads[0];
        CHECK(t->tstate == ts, W("%s: thread state address", label));
        CHECK(t->thread_id == 0x7f00aabb1000ULL, W("%s: pthread id", label));
        CHECK_INT(t->tid, L->tstate_native_thread_id >= 0 ? 4242 : 0, W("%s: native tid", label));
        CHECK_INT(t->gil, 0, W("%s: nobody holds the GIL", label));
        CHECK_INT(t->error, 0, W("%s: no thread error", label));
        CHECK_INT(t->nframes, 3, W("%s: three frames", label));
        CHECK_INT(s.nframes, 3, W("%s: three frames in the sample", label));
        check_frame(&s, 0, 0, &handle, 126, label);
        check_frame(&s, 0, 1, &run, 34, label);
        check_frame(&s, 0, 2, &mod, 20, label);
    }
    CHECK(w.codes.hits >= 3 && w.codes.misses == 3, W("single: second walk served from cache"));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* Names beyond ASCII in every string kind, and a frame that has not run. */
static void test_names_and_unstarted(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn a = { "h\xc3\xa9llo", "C.h\xc3\xa9llo", "/tmp/\xc3\xbcn\xc3\xaf.py", 5, 10, 1, 0 };
    struct fn b = { "\xe5\x87\xbd\xe6\x95\xb0", NULL, "/tmp/\xe6\x96\x87.py", 7, 10, 2, 0 };
    struct fn c = { "f\xf0\x9f\x98\x80", "g.<locals>.f\xf0\x9f\x98\x80", "/x.py", 1, 4, 1, 0 };
    make_fn(&fp, &a);
    make_fn(&fp, &b);
    make_fn(&fp, &c);
    uint64_t ts = fake_thread(&fp, interp, 1, 7);
    fake_frame(&fp, ts, a.code, 0, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, b.code, 18, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, c.code, -1, FAKE_FRAME_STACK);
    CHECK(!fp.failed, W("names: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("names: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 3, W("names: three frames"));
    check_frame(&s, 0, 0, &c, -1, "names: UCS4 name, frame not started");
    check_frame(&s, 0, 1, &b, 18, "names: UCS2 name");
    check_frame(&s, 0, 2, &a, 0, "names: Latin-1 name, offset 0");
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* ---- threads, interpreters, GIL ------------------------------------------ */

static void test_threads_and_interpreters(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t i1 = setup(&fp);
    uint64_t i2 = fake_interp(&fp);
    struct fn mod = fn_module(), run = fn_run(), handle = fn_handle();
    make_fn(&fp, &mod);
    make_fn(&fp, &run);
    make_fn(&fp, &handle);
    uint64_t a1 = fake_thread(&fp, i1, 101, 11);
    uint64_t a2 = fake_thread(&fp, i1, 102, 12);
    uint64_t a3 = fake_thread(&fp, i1, 103, 13);   /* idle: no frames */
    uint64_t b1 = fake_thread(&fp, i2, 201, 21);
    uint64_t b2 = fake_thread(&fp, i2, 202, 22);
    fake_frame(&fp, a1, mod.code, 2, FAKE_FRAME_STACK);
    fake_frame(&fp, a2, mod.code, 4, FAKE_FRAME_STACK);
    fake_frame(&fp, a2, run.code, 8, FAKE_FRAME_STACK);
    fake_frame(&fp, b1, handle.code, 10, FAKE_FRAME_STACK);
    fake_frame(&fp, b2, run.code, 12, FAKE_FRAME_STACK);
    fake_frame(&fp, b2, handle.code, 14, FAKE_FRAME_STACK);
    fake_set_gil(&fp, i1, a2);
    if (L->interp_ceval_gil >= 0) {
        /* 3.12+: each interpreter has its own GIL; i2's was last held by
         * b1 but is free now, so b1 must not be flagged. */
        fake_set_gil(&fp, i2, b1);
        fake_set_gil(&fp, i2, 0);
    }
    CHECK(i1 && i2 && !fp.failed, W("threads: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("threads: walk"));
    CHECK_INT(s.nthreads, 5, W("threads: all five threads of both interpreters"));
    if (s.nthreads == 5) {
        uint64_t want_ts[5] = { a1, a2, a3, b1, b2 };
        size_t want_n[5] = { 1, 2, 0, 1, 2 };
        /* A free-threaded build has no GIL holder at all. */
        int want_gil[5] = { 0, !L->free_threaded, 0, 0, 0 };
        for (int i = 0; i < 5; i++) {
            const struct py_thread *t = &s.threads[i];
            CHECK(t->tstate == want_ts[i] && t->thread_id == (uint64_t)(i < 3 ? 101 + i : 198 + i),
                  W("threads: thread %d in list order", i));
            CHECK_INT(t->nframes, want_n[i], W("threads: thread %d frame count", i));
            CHECK_INT(t->gil, want_gil[i], W("threads: thread %d GIL flag", i));
            CHECK_INT(t->error, 0, W("threads: thread %d no error", i));
        }
        check_frame(&s, 0, 0, &mod, 2, "threads");
        check_frame(&s, 1, 0, &run, 8, "threads");
        check_frame(&s, 1, 1, &mod, 4, "threads");
        check_frame(&s, 3, 0, &handle, 10, "threads");
        check_frame(&s, 4, 0, &handle, 14, "threads");
        check_frame(&s, 4, 1, &run, 12, "threads");
    }

    /* The GIL moves to the other interpreter (3.12+) or thread. */
    fake_set_gil(&fp, i1, 0);
    fake_set_gil(&fp, i2, b2);
    CHECK_INT(py_walk(&w, &s), 0, W("threads: walk after GIL moved"));
    int flagged = 0;
    for (size_t i = 0; i < s.nthreads; i++)
        flagged += s.threads[i].gil;
    if (L->free_threaded)
        CHECK(s.nthreads == 5 && flagged == 0, W("threads: no GIL holder, free-threaded"));
    else
        CHECK(s.nthreads == 5 && s.threads[4].gil && flagged == 1, W("threads: new GIL holder only"));

    /* The collector runs on the holder; a thread asking for the GIL
     * waits for it (3.15 says so; earlier versions do not tell). */
    fake_set_collecting(&fp, i2, 1);
    fake_set_gil_requested(&fp, b1, 1);
    fake_set_gil_requested(&fp, b2, 1);   /* asked, then got it: holding wins */
    CHECK_INT(py_walk(&w, &s), 0, W("threads: walk with the collector running"));
    if (s.nthreads == 5) {
        int ft_off = L->free_threaded;
        int tells = L->tstate_gil_requested >= 0 && !ft_off;
        CHECK(s.threads[4].gc == !ft_off && s.threads[3].gc == 0 && s.threads[0].gc == 0,
              W("threads: the GIL holder runs the collector"));
        CHECK(w.gc_collecting == 1, W("threads: the walk saw the collector run"));
        CHECK_INT(s.threads[3].gil_wait, tells ? 1 : -1, W("threads: waiting for the GIL"));
        CHECK_INT(s.threads[4].gil_wait, tells ? 0 : -1, W("threads: the holder does not wait"));
        CHECK_INT(s.threads[1].gil_wait, tells ? 0 : -1, W("threads: nor one that did not ask"));
    }
    /* Attached (3.13+): running, or free to; detached or suspended: not;
     * a value no interpreter writes: not known. */
    fake_set_thread_state(&fp, b1, 1);
    fake_set_thread_state(&fp, b2, 2);
    fake_set_thread_state(&fp, a2, 7);
    CHECK_INT(py_walk(&w, &s), 0, W("threads: walk with thread states set"));
    if (s.nthreads == 5) {
        int tells = L->tstate_state >= 0;
        CHECK_INT(s.threads[3].attached, tells ? 1 : -1, W("threads: an attached thread"));
        CHECK_INT(s.threads[4].attached, tells ? 0 : -1, W("threads: a suspended thread"));
        CHECK_INT(s.threads[0].attached, tells ? 0 : -1, W("threads: a detached thread"));
        CHECK_INT(s.threads[1].attached, -1, W("threads: a state no interpreter writes"));
    }
    fake_set_thread_state(&fp, b1, 0);
    fake_set_thread_state(&fp, b2, 0);
    fake_set_thread_state(&fp, a2, 0);
    fake_set_collecting(&fp, i2, 0);
    fake_set_gil_requested(&fp, b1, 0);
    fake_set_gil_requested(&fp, b2, 0);
    CHECK_INT(py_walk(&w, &s), 0, W("threads: walk with the collector done"));
    flagged = 0;
    for (size_t i = 0; i < s.nthreads; i++)
        flagged += s.threads[i].gc + (s.threads[i].gil_wait == 1);
    CHECK(flagged == 0 && w.gc_collecting == 0, W("threads: no collector, nobody waiting"));

    fake_set_gil(&fp, i2, 0);
    CHECK_INT(py_walk(&w, &s), 0, W("threads: walk with the GIL free"));
    flagged = 0;
    for (size_t i = 0; i < s.nthreads; i++)
        flagged += s.threads[i].gil;
    CHECK_INT(flagged, 0, W("threads: nobody flagged when the GIL is free"));
    if (L->free_threaded) {
        /* PYTHON_GIL=1, or an extension that needs it, turns the GIL back
         * on: then its holder is one, as in a build with a GIL. */
        fake_set_gil(&fp, i2, b2);
        uint64_t gil = fake_get_u64(&fp, i2 + (uint64_t)L->interp_ceval_gil);
        fake_put_i32(&fp, gil + (uint64_t)L->gil_enabled, 1);
        CHECK_INT(py_walk(&w, &s), 0, W("threads: walk with the GIL turned back on"));
        flagged = 0;
        for (size_t i = 0; i < s.nthreads; i++)
            flagged += s.threads[i].gil;
        CHECK(s.nthreads == 5 && s.threads[4].gil && flagged == 1 && w.gil_enabled,
              W("threads: the GIL turned back on has its holder"));
        fake_put_i32(&fp, gil + (uint64_t)L->gil_enabled, 0);
        CHECK_INT(py_walk(&w, &s), 0, W("threads: walk with the GIL off again"));
        flagged = 0;
        for (size_t i = 0; i < s.nthreads; i++)
            flagged += s.threads[i].gil;
        CHECK(flagged == 0 && !w.gil_enabled, W("threads: off again, no holder"));
    }
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

static void test_no_interpreter(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    fake_py_init(&fp, L);
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), -PT_ERR_NO_INTERP, W("no interpreter yet"));
    CHECK_INT(py_walker_first_interp(&w), 0, W("no first interpreter"));

    uint64_t interp = fake_interp(&fp);
    CHECK_INT(py_walk(&w, &s), 0, W("interpreter without threads"));
    CHECK_INT(s.nthreads, 0, W("no threads"));
    CHECK(py_walker_first_interp(&w) == interp, W("first interpreter read"));

    fake_put_u64(&fp, fp.interp_head_ptr, FAKE_UNMAPPED);
    CHECK_INT(py_walk(&w, &s), -EFAULT, W("unmapped interpreter"));
    fake_put_u64(&fp, fp.interp_head_ptr, interp + 4);
    CHECK_INT(py_walk(&w, &s), -PT_ERR_BAD_DATA, W("misaligned interpreter"));

    /* The interpreter found by a scan rather than through a symbol. */
    fake_put_u64(&fp, fp.interp_head_ptr, 0);
    struct fn mod = fn_module();
    make_fn(&fp, &mod);
    uint64_t ts = fake_thread(&fp, interp, 5, 6);
    fake_frame(&fp, ts, mod.code, 6, FAKE_FRAME_STACK);
    w.interp_head_ptr = 0;
    w.interp_addr = interp;
    CHECK_INT(py_walk(&w, &s), 0, W("walk from interp_addr"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 1, W("interp_addr: one thread, one frame"));
    check_frame(&s, 0, 0, &mod, 6, "interp_addr");

    w.interp_head_ptr = FAKE_UNMAPPED;
    CHECK(py_walk(&w, &s) == -EFAULT, W("unmapped interpreter head pointer"));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* ---- broken structures --------------------------------------------------- */

static void test_frame_cycle(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn run = fn_run();
    make_fn(&fp, &run);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    uint64_t fr[5];
    for (int i = 0; i < 5; i++)
        fr[i] = fake_frame(&fp, ts, run.code, 2 * i, FAKE_FRAME_STACK);
    /* The outermost frame's caller is the second innermost. */
    fake_put_u64(&fp, fr[0] + (uint64_t)L->frame_back, fr[3]);
    CHECK(!fp.failed, W("frame cycle: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("frame cycle: walk returns"));
    CHECK_INT(s.nthreads, 1, W("frame cycle: one thread"));
    if (s.nthreads == 1) {
        const struct py_thread *t = &s.threads[0];
        CHECK_INT(t->error, -PT_ERR_BAD_DATA, W("frame cycle: thread error"));
        CHECK(t->nframes >= 6 && t->nframes <= 20, W("frame cycle: bounded frames (%zu)", t->nframes));
        const struct py_frame *f = last_frame(&s, 0);
        CHECK(f->code == NULL && f->error == -PT_ERR_BAD_DATA, W("frame cycle: ends with an error frame"));
        check_frame(&s, 0, 0, &run, 8, "frame cycle");
        check_frame(&s, 0, 4, &run, 0, "frame cycle");
        check_frame(&s, 0, 5, &run, 6, "frame cycle, looping");
    }
    /* A frame that is its own caller. */
    fake_put_u64(&fp, fr[4] + (uint64_t)L->frame_back, fr[4]);
    CHECK_INT(py_walk(&w, &s), 0, W("self loop: walk returns"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes <= 3 && s.threads[0].error == -PT_ERR_BAD_DATA,
          W("self loop: cut with an error"));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

static void test_list_cycles(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t i1 = setup(&fp);
    struct fn mod = fn_module();
    make_fn(&fp, &mod);
    uint64_t t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = fake_thread(&fp, i1, (uint64_t)i + 1, i + 1);
        fake_frame(&fp, t[i], mod.code, 2, FAKE_FRAME_STACK);
    }
    fake_put_u64(&fp, t[2] + (uint64_t)L->tstate_next, t[0]);
    CHECK(!fp.failed, W("thread cycle: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("thread cycle: walk returns"));
    CHECK(s.nthreads >= 3 && s.nthreads <= 8, W("thread cycle: bounded threads (%zu)", s.nthreads));
    CHECK(s.nthreads >= 3 && s.threads[0].tstate == t[0] && s.threads[2].tstate == t[2],
          W("thread cycle: every thread seen"));

    /* Two interpreters pointing at each other. */
    uint64_t i2 = fake_interp(&fp);
    fake_thread(&fp, i2, 9, 9);
    fake_put_u64(&fp, i2 + (uint64_t)L->interp_next, i1);
    CHECK_INT(py_walk(&w, &s), 0, W("interpreter cycle: walk returns"));
    CHECK(s.nthreads >= 4 && s.nthreads <= 4 * 8, W("interpreter cycle: bounded (%zu)", s.nthreads));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* A stack deeper than PY_MAX_DEPTH keeps its innermost PY_KEEP_INNER
 * frames, a marker of the frames left out and its outermost frames, in
 * order, with no error; depth picks how often the ring of outer frames
 * wrapped. */
static void check_deep(int depth)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    struct fn mod, run;
    uint64_t ts = setup_one_thread(&fp, &s, &mod, &run);
    /* Pushed outermost first: frame i (from the outside) is at 2 * (i % 30). */
    fake_frame(&fp, ts, mod.code, 0, FAKE_FRAME_STACK);
    for (int i = 1; i < depth; i++)
        fake_frame(&fp, ts, run.code, 2 * (i % 30), FAKE_FRAME_STACK);
    CHECK(!fp.failed, W("deep stack %d: fake built", depth));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("deep stack %d: walk", depth));
    if (s.nthreads == 1) {
        const struct py_thread *t = &s.threads[0];
        size_t outer = PY_MAX_DEPTH - PY_KEEP_INNER - 1;
        CHECK_INT(t->error, 0, W("deep stack %d: not an error", depth));
        CHECK_INT((int)t->nframes, PY_MAX_DEPTH, W("deep stack %d: PY_MAX_DEPTH frames kept", depth));
        const struct py_frame *m = &s.frames[t->first_frame + PY_KEEP_INNER];
        CHECK(m->code == NULL && m->error == 0 && m->elided == (uint32_t)(depth - PY_MAX_DEPTH + 1),
              W("deep stack %d: marker of %d frames elided (%u)", depth, depth - PY_MAX_DEPTH + 1,
                m->elided));
        check_frame(&s, 0, 0, &run, 2 * ((depth - 1) % 30), "deep stack, innermost");
        check_frame(&s, 0, PY_KEEP_INNER - 1, &run, 2 * ((depth - PY_KEEP_INNER) % 30),
                    "deep stack, last inner");
        for (size_t j = 0; j + 1 < outer; j += 97) {
            int i = (int)(outer - 1 - j);   /* from the outside */
            check_frame(&s, 0, PY_KEEP_INNER + 1 + j, &run, 2 * (i % 30), "deep stack, outer");
        }
        check_frame(&s, 0, PY_MAX_DEPTH - 2, &run, 2, "deep stack, second outermost");
        check_frame(&s, 0, PY_MAX_DEPTH - 1, &mod, 0, "deep stack, outermost <module>");
        CHECK(w.elided == 1, W("deep stack %d: counted as elided", depth));
    } else {
        CHECK(0, W("deep stack %d: one thread", depth));
    }
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

static void test_deep(void)
{
    check_deep(PY_MAX_DEPTH + 10);
    check_deep(3 * PY_MAX_DEPTH + 17);   /* the ring of outer frames wraps */
    check_deep(10000);
}

static void test_unmapped_back(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn mod = fn_module(), run = fn_run(), handle = fn_handle();
    make_fn(&fp, &mod);
    make_fn(&fp, &run);
    make_fn(&fp, &handle);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    uint64_t f0 = fake_frame(&fp, ts, mod.code, 2, FAKE_FRAME_STACK);
    uint64_t f1 = fake_frame(&fp, ts, run.code, 4, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, handle.code, 6, FAKE_FRAME_STACK);
    fake_put_u64(&fp, f0 + (uint64_t)L->frame_back, FAKE_UNMAPPED);
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("unmapped f_back: walk"));
    if (s.nthreads == 1 && s.threads[0].nframes == 4) {
        check_frame(&s, 0, 0, &handle, 6, "unmapped f_back");
        check_frame(&s, 0, 1, &run, 4, "unmapped f_back");
        check_frame(&s, 0, 2, &mod, 2, "unmapped f_back");
        const struct py_frame *f = frame_at(&s, 0, 3);
        CHECK(f->code == NULL && f->error == -EFAULT, W("unmapped f_back: error frame"));
        CHECK_INT(s.threads[0].error, -EFAULT, W("unmapped f_back: thread error"));
    } else {
        CHECK(0, W("unmapped f_back: three frames and an error (%zu)",
                   s.nthreads ? s.threads[0].nframes : 0));
    }
    /* Cut higher up: the frames before the break survive. */
    fake_put_u64(&fp, f1 + (uint64_t)L->frame_back, FAKE_UNMAPPED + 0x1000);
    CHECK_INT(py_walk(&w, &s), 0, W("unmapped f_back (middle): walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 3 && last_frame(&s, 0)->error == -EFAULT,
          W("unmapped f_back (middle): two frames and an error"));
    /* A pointer that is not even plausible. */
    fake_put_u64(&fp, f1 + (uint64_t)L->frame_back, 0x8000000000000000ULL);
    CHECK_INT(py_walk(&w, &s), 0, W("wild f_back: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 3 &&
          last_frame(&s, 0)->error == -PT_ERR_BAD_DATA, W("wild f_back: two frames and an error"));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

static void test_bad_code(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn mod = fn_module(), run = fn_run(), handle = fn_handle();
    make_fn(&fp, &mod);
    make_fn(&fp, &run);
    make_fn(&fp, &handle);
    /* run's code object claims to be of another type. */
    fake_put_u64(&fp, run.code + (uint64_t)L->object_type, fp.other_type);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    fake_frame(&fp, ts, mod.code, 2, FAKE_FRAME_STACK);
    uint64_t f1 = fake_frame(&fp, ts, run.code, 4, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, handle.code, 6, FAKE_FRAME_STACK);
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("wrong code type: walk"));
    if (s.nthreads == 1 && s.threads[0].nframes == 2) {
        check_frame(&s, 0, 0, &handle, 6, "wrong code type");
        const struct py_frame *f = frame_at(&s, 0, 1);
        CHECK(f->code == NULL && f->error == -PT_ERR_BAD_DATA && f->code_addr == run.code,
              W("wrong code type: error frame, stack cut there"));
        CHECK_INT(s.threads[0].error, -PT_ERR_BAD_DATA, W("wrong code type: thread error"));
    } else {
        CHECK(0, W("wrong code type: one frame and an error"));
    }

    /* Without a known PyCode_Type the check is skipped. */
    w.code_type = 0;
    CHECK_INT(py_walk(&w, &s), 0, W("no code type: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 3 && s.threads[0].error == 0,
          W("no code type: whole stack"));
    check_frame(&s, 0, 1, &run, 4, "no code type");
    w.code_type = fp.code_type;

    /* Code pointers that lead nowhere. */
    fake_put_u64(&fp, f1 + (uint64_t)L->frame_code, FAKE_UNMAPPED);
    CHECK_INT(py_walk(&w, &s), 0, W("unmapped code: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 2 && last_frame(&s, 0)->code == NULL &&
          last_frame(&s, 0)->error != 0, W("unmapped code: error frame"));
    fake_put_u64(&fp, f1 + (uint64_t)L->frame_code, 0);
    CHECK_INT(py_walk(&w, &s), 0, W("null code: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 2 && last_frame(&s, 0)->code == NULL &&
          last_frame(&s, 0)->error == -PT_ERR_BAD_DATA, W("null code: error frame"));

    /* A code object whose name is not a string. */
    struct fn bad = { "bad", "bad", "/bad.py", 1, 8, 1, 0 };
    make_fn(&fp, &bad);
    int name_off = L->code_qualname >= 0 ? L->code_qualname : L->code_name;
    fake_put_u64(&fp, bad.code + (uint64_t)name_off, FAKE_UNMAPPED);
    fake_put_u64(&fp, f1 + (uint64_t)L->frame_code, bad.code);
    if (L->frame_instr >= 0)
        fake_put_u64(&fp, f1 + (uint64_t)L->frame_instr,
                     bad.code + (uint64_t)L->code_code_adaptive + 2);
    CHECK_INT(py_walk(&w, &s), 0, W("unreadable name: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 2 && last_frame(&s, 0)->code == NULL &&
          last_frame(&s, 0)->error == -PT_ERR_BAD_DATA, W("unreadable name: error frame"));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* A code object freed and a new one allocated at the same address. */
static void test_stale_code(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn mod = fn_module();
    make_fn(&fp, &mod);
    uint64_t addr = fake_alloc(&fp, fake_code_size(L, 64), FAKE_OBJ_CODE);
    struct fn old = { "old", "Old.old", "/old.py", 10, 10, 1, addr };
    struct fn new = { "new", "New.new", "/new.py", 50, 64, 2, addr };
    fake_code_lines_at(&fp, addr, old.name, old.qual, old.file, old.first, old.units, old.upl);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    fake_frame(&fp, ts, mod.code, 2, FAKE_FRAME_STACK);
    uint64_t fr = fake_frame(&fp, ts, addr, 6, FAKE_FRAME_STACK);
    CHECK(!fp.failed, W("stale code: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("stale code: first walk"));
    check_frame(&s, 0, 0, &old, 6, "stale code, before");

    /* The new object's bytecode is longer, and the frame runs past the
     * end of the old one. */
    fake_code_lines_at(&fp, addr, new.name, new.qual, new.file, new.first, new.units, new.upl);
    if (L->frame_lasti >= 0)
        fake_put_i32(&fp, fr + (uint64_t)L->frame_lasti,
                     L->minor >= 10 && L->major == 3 ? 60 / 2 : 60);
    else
        fake_put_u64(&fp, fr + (uint64_t)L->frame_instr,
                     addr + (uint64_t)L->code_code_adaptive + 60);
    unsigned long misses = w.codes.misses;
    CHECK_INT(py_walk(&w, &s), 0, W("stale code: second walk"));
    check_frame(&s, 0, 0, &new, 60, "stale code, re-read");
    check_frame(&s, 0, 1, &mod, 2, "stale code, caller");
    CHECK_INT(w.codes.misses - misses, 1, W("stale code: read once more"));
    CHECK_INT(py_walk(&w, &s), 0, W("stale code: third walk"));
    check_frame(&s, 0, 0, &new, 60, "stale code, cached again");
    CHECK_INT(w.codes.misses - misses, 1, W("stale code: new entry cached"));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* A frame whose position is outside its code object's bytecode makes the
 * walker re-read that object; frames already decoded in the same walk
 * must keep a valid code pointer. */
static void test_stale_same_walk(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn run = fn_run();
    make_fn(&fp, &run);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    uint64_t outer = fake_frame(&fp, ts, run.code, 4, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, run.code, 8, FAKE_FRAME_STACK);
    int past = (int)run.units * 2 + 100;
    if (L->frame_lasti >= 0)
        fake_put_i32(&fp, outer + (uint64_t)L->frame_lasti,
                     L->minor >= 10 && L->major == 3 ? past / 2 : past);
    else
        fake_put_u64(&fp, outer + (uint64_t)L->frame_instr,
                     run.code + (uint64_t)L->code_code_adaptive + (uint64_t)past);
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("position past the code: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 2, W("position past the code: two frames"));
    if (s.nthreads == 1 && s.threads[0].nframes == 2) {
        check_frame(&s, 0, 0, &run, 8, "position past the code, other frame intact");
        const struct py_frame *f = frame_at(&s, 0, 1);
        CHECK(f->code && strcmp(f->code->name, has_qualname() ? run.qual : run.name) == 0 &&
              f->line == -1, W("position past the code: code kept, line unknown"));
    }
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* A code object with no bytecode bounds no position: one beyond int must
 * not be cut down into a line that looks right. */
static void test_empty_code_range(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn run = fn_run();
    make_fn(&fp, &run);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    uint64_t fr = fake_frame(&fp, ts, run.code, 4, FAKE_FRAME_STACK);
    if (L->code_code_adaptive >= 0) {
        fake_put_u64(&fp, run.code + (uint64_t)L->varobject_size, 0);
        fake_put_u64(&fp, fr + (uint64_t)L->frame_instr,
                     run.code + (uint64_t)L->code_code_adaptive + 0x100000004ULL);
    } else {
        uint64_t co_code = fake_get_u64(&fp, run.code + (uint64_t)L->code_code);
        fake_put_u64(&fp, co_code + (uint64_t)L->varobject_size, 0);
        /* 3.10 counts code units: twice this is past INT_MAX. */
        fake_put_i32(&fp, fr + (uint64_t)L->frame_lasti, 0x7fff0002);
    }
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("empty bytecode: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 1 && frame_at(&s, 0, 0)->code &&
          frame_at(&s, 0, 0)->line == -1, W("empty bytecode: far position has no line (%d)",
                                            s.nthreads && s.threads[0].nframes ? frame_at(&s, 0, 0)->line : -99));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* Line tables of real code objects (tests/unit/linetable_fixtures.h):
 * a frame inside each run of equal lines reports the line CPython's
 * PyCode_Addr2Line gave there. */
static void test_real_linetables(void)
{
    for (size_t i = 0; i < LT_FIXTURE_COUNT; i++) {
        const struct lt_fixture *fx = &lt_fixtures[i];
        if (fx->major != L->major || fx->minor != L->minor)
            continue;
        struct fake_py fp;
        struct py_walker w;
        struct py_sample s;
        py_sample_init(&s);
        uint64_t interp = setup(&fp);
        uint64_t code = fake_code(&fp, "fx", "fx", "/fx.py", fx->firstlineno, fx->table,
                                  fx->table_len, ((size_t)fx->code_len + 1) / 2);
        uint64_t ts = fake_thread(&fp, interp, 1, 1);
        /* Wordcode (3.6+) positions are even. */
        int even = L->major == 3;
        int want[64];
        size_t n = 0;
        for (size_t r = 0; r < fx->nruns && n < 64; r++) {
            int off = fx->runs[r].start < 0 ? 0 : fx->runs[r].start;
            if (even && (off & 1))
                off++;
            if (off >= fx->runs[r].end || off >= fx->code_len)
                continue;
            fake_frame(&fp, ts, code, off, FAKE_FRAME_STACK);
            want[n++] = fx->runs[r].line;
        }
        fake_walker_init(&fp, &w);
        int ok = !fp.failed && py_walk(&w, &s) == 0 && s.nthreads == 1 &&
                 s.threads[0].nframes == n;
        for (size_t k = 0; ok && k < n; k++) {
            const struct py_frame *f = frame_at(&s, 0, n - 1 - k);
            ok = f->code && f->line == want[k];
            if (!ok)
                printf("#   position %zu: got line %d, want %d\n", k, f->line, want[k]);
        }
        CHECK(ok, W("real line table %s %s: %zu positions", fx->python, fx->name, n));
        py_sample_release(&s);
        py_walker_release(&w);
        fake_py_release(&fp);
    }
}

/* ---- 3.11+ data stacks ----------------------------------------------------- */

static void test_chunks(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    enum { NFN = 10, DEPTH = 200 };
    struct fn fns[NFN];
    static char names[NFN][16];
    for (int i = 0; i < NFN; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        fns[i] = (struct fn){ names[i], names[i], "/deep.py", 100 * i + 1, 50, 1, 0 };
        make_fn(&fp, &fns[i]);
    }
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    for (int d = 0; d < DEPTH; d++)
        fake_frame(&fp, ts, fns[d % NFN].code, 2 * (d % 50), FAKE_FRAME_STACK);
    uint64_t chunk = fake_get_u64(&fp, ts + (uint64_t)L->tstate_datastack_chunk);
    uint64_t older = chunk ? fake_get_u64(&fp, chunk + (uint64_t)L->chunk_previous) : 0;
    CHECK(!fp.failed && chunk && older &&
          fake_get_u64(&fp, older + (uint64_t)L->chunk_previous) == 0,
          W("chunks: stack spread over two chunks"));
    fake_walker_init(&fp, &w);

    for (int pass = 0; pass < 2; pass++) {
        fp.mem.base.reads = 0;
        CHECK_INT(py_walk(&w, &s), 0, W("chunks: walk %d", pass + 1));
        unsigned long reads = fp.mem.base.reads;
        printf("# %d.%d: walk %d of %d frames took %lu reads\n", L->major, L->minor, pass + 1,
               DEPTH, reads);
        int ok = s.nthreads == 1 && s.threads[0].nframes == DEPTH && s.threads[0].error == 0;
        for (int i = 0; ok && i < DEPTH; i++) {
            int d = DEPTH - 1 - i;
            const struct py_frame *f = frame_at(&s, 0, (size_t)i);
            const struct fn *fn = &fns[d % NFN];
            ok = f->code && f->code_addr == fn->code && strcmp(f->code->name, fn->name) == 0 &&
                 f->line == expect_line(fn, 2 * (d % 50));
        }
        CHECK(ok, W("chunks: walk %d: all %d frames in order", pass + 1, DEPTH));
        if (pass == 0)
            CHECK(reads < DEPTH, W("chunks: first walk reads fewer times than frames (%lu)", reads));
        else
            CHECK(reads <= 20, W("chunks: cached walk in at most 20 reads (%lu)", reads));
    }
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* Generator and coroutine frames live in their objects, not on the data
 * stack (3.11+); before that every frame is a heap object anyway. */
static void test_generators(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn mod = fn_module(), run = fn_run(), handle = fn_handle();
    struct fn gen = { "gen", "Server.gen", "/app/gen.py", 40, 20, 2, 0 };
    make_fn(&fp, &mod);
    make_fn(&fp, &run);
    make_fn(&fp, &handle);
    make_fn(&fp, &gen);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    fake_frame(&fp, ts, mod.code, 2, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, gen.code, 4, FAKE_FRAME_GENERATOR);
    fake_frame(&fp, ts, run.code, 6, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, gen.code, 8, FAKE_FRAME_GENERATOR);
    fake_frame(&fp, ts, handle.code, 10, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, gen.code, 12, FAKE_FRAME_GENERATOR);
    CHECK(!fp.failed, W("generators: fake built"));
    fake_walker_init(&fp, &w);
    for (int pass = 0; pass < 2; pass++) {
        const char *label = pass ? "generators (cached)" : "generators";
        CHECK_INT(py_walk(&w, &s), 0, W("%s: walk", label));
        CHECK(s.nthreads == 1 && s.threads[0].nframes == 6 && s.threads[0].error == 0,
              W("%s: six frames", label));
        check_frame(&s, 0, 0, &gen, 12, label);
        check_frame(&s, 0, 1, &handle, 10, label);
        check_frame(&s, 0, 2, &gen, 8, label);
        check_frame(&s, 0, 3, &run, 6, label);
        check_frame(&s, 0, 4, &gen, 4, label);
        check_frame(&s, 0, 5, &mod, 2, label);
    }
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* A walk that cannot be proven whole is read again, then kept under
 * -PT_ERR_TORN: a chain ending at a generator's frame (its link back is
 * cleared when it suspends), and up to 3.10 a chain longer than the
 * thread's recursion depth or with a frame of another type. */
static void test_torn(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn mod = fn_module(), run = fn_run();
    struct fn gen = { "gen", "Server.gen", "/app/gen.py", 40, 20, 2, 0 };
    make_fn(&fp, &mod);
    make_fn(&fp, &run);
    make_fn(&fp, &gen);
    if (L->code_flags > 0)
        fake_put_i32(&fp, gen.code + (uint64_t)L->code_flags, 0x20);   /* CO_GENERATOR */
    /* Thread 1: a generator's frame read after it suspended. */
    uint64_t t1 = fake_thread(&fp, interp, 1, 1);
    fake_frame(&fp, t1, gen.code, 4, FAKE_FRAME_GENERATOR);
    fake_frame(&fp, t1, run.code, 6, FAKE_FRAME_STACK);
    /* Thread 2: whole, with a generator in the middle. */
    uint64_t t2 = fake_thread(&fp, interp, 2, 2);
    fake_frame(&fp, t2, mod.code, 2, FAKE_FRAME_STACK);
    fake_frame(&fp, t2, gen.code, 8, FAKE_FRAME_GENERATOR);
    fake_frame(&fp, t2, run.code, 10, FAKE_FRAME_STACK);
    /* Thread 3: five frames. */
    uint64_t t3 = fake_thread(&fp, interp, 3, 3);
    uint64_t f3[5];
    f3[0] = fake_frame(&fp, t3, mod.code, 2, FAKE_FRAME_STACK);
    for (int i = 1; i < 5; i++)
        f3[i] = fake_frame(&fp, t3, run.code, 2 * i, FAKE_FRAME_STACK);
    CHECK(!fp.failed, W("torn: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("torn: walk"));
    if (s.nthreads == 3) {
        const struct py_thread *t = &s.threads[0];
        CHECK_INT(t->error, -PT_ERR_TORN, W("torn: ends at a generator"));
        check_frame(&s, 0, 0, &run, 6, "torn: what was read is kept");
        check_frame(&s, 0, 1, &gen, 4, "torn: what was read is kept");
        CHECK_INT(s.threads[1].error, 0, W("torn: a generator inside is whole"));
        CHECK_INT(s.threads[2].error, 0, W("torn: five frames are whole"));
        CHECK(w.retries == PY_WALK_RETRIES && w.torn == 1,
              W("torn: read again %d times (%lu), counted (%lu)", PY_WALK_RETRIES, w.retries, w.torn));
        /* A held thread (--blocking, --native) cannot move: one walk,
         * still proven, and no re-read of the walker's own. */
        unsigned long retries = w.retries;
        w.held = 1;
        CHECK_INT(py_walk_thread_again(&w, &s, 0), 0, W("torn, held: read again"));
        w.held = 0;
        CHECK(s.threads[0].error == -PT_ERR_TORN && w.retries == retries && w.torn == 2,
              W("torn, held: torn (%d) after one walk (%lu re-reads), counted (%lu)",
                s.threads[0].error, w.retries - retries, w.torn));
    } else {
        CHECK(0, W("torn: three threads (%zu)", s.nthreads));
    }
    if (L->tstate_recursion_depth > 0) {
        /* Up to 3.10: at most as many frames as the recursion depth. */
        fake_put_i32(&fp, t3 + (uint64_t)L->tstate_recursion_depth, 5);
        CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
        CHECK(s.nthreads == 3 && s.threads[2].error == 0, W("stale chain: depth 5, five frames"));
        fake_put_i32(&fp, t3 + (uint64_t)L->tstate_recursion_depth, 3);
        CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
        CHECK(s.nthreads == 3 && s.threads[2].error == -PT_ERR_TORN &&
              s.threads[2].nframes <= 5 + 1,
              W("stale chain: depth 3, five frames: torn"));
        fake_put_i32(&fp, t3 + (uint64_t)L->tstate_recursion_depth, 0);
        /* A frame of another type: a freed frame's memory reused. */
        uint64_t ty = fake_get_u64(&fp, f3[1] + (uint64_t)L->object_type);
        fake_put_u64(&fp, f3[1] + (uint64_t)L->object_type, ty + 64);
        CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
        CHECK(s.nthreads == 3 && s.threads[2].error == -PT_ERR_TORN,
              W("stale chain: a frame of another type: torn"));
        fake_put_u64(&fp, f3[1] + (uint64_t)L->object_type, ty);
        CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
        CHECK(s.nthreads == 3 && s.threads[2].error == 0, W("stale chain: restored: whole"));
        /* A freed frame: no reference left. */
        fake_put_u64(&fp, f3[1], 0);
        CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
        CHECK(s.nthreads == 3 && s.threads[2].error == -PT_ERR_TORN,
              W("stale chain: a frame with no reference: torn"));
        fake_put_u64(&fp, f3[1], 1);
        /* A frame no longer running: freed, returned or suspended. */
        int state_off = L->frame_executing > 0 ? L->frame_executing : L->frame_state;
        if (state_off > 0) {
            uint8_t live = L->frame_executing > 0 ? 1 : 0, dead = L->frame_executing > 0 ? 0 : 1;
            fake_put_u8(&fp, f3[2] + (uint64_t)state_off, dead);
            CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
            CHECK(s.nthreads == 3 && s.threads[2].error == -PT_ERR_TORN,
                  W("stale chain: a frame not running: torn"));
            fake_put_u8(&fp, f3[2] + (uint64_t)state_off, live);
            CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
            CHECK(s.nthreads == 3 && s.threads[2].error == 0, W("stale chain: running again: whole"));
            /* The innermost frame, about to start or just done: whole. */
            fake_put_u8(&fp, f3[4] + (uint64_t)state_off, dead);
            CHECK_INT(py_walk(&w, &s), 0, W("stale chain: walk"));
            CHECK(s.nthreads == 3 && s.threads[2].error == 0 && s.threads[2].nframes == 5,
                  W("stale chain: innermost frame not running yet: whole"));
            fake_put_u8(&fp, f3[4] + (uint64_t)state_off, live);
        }
    }
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* 3.12+: the C stack's entry frames are not Python frames. */
static void test_shims(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    uint64_t interp = setup(&fp);
    struct fn mod = fn_module(), run = fn_run(), handle = fn_handle();
    make_fn(&fp, &mod);
    make_fn(&fp, &run);
    make_fn(&fp, &handle);
    uint64_t ts = fake_thread(&fp, interp, 1, 1);
    uint64_t shim1 = fake_frame(&fp, ts, 0, 0, FAKE_FRAME_SHIM);
    fake_frame(&fp, ts, mod.code, 2, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, run.code, 4, FAKE_FRAME_STACK);
    uint64_t shim2 = fake_frame(&fp, ts, 0, 0, FAKE_FRAME_SHIM);
    fake_frame(&fp, ts, handle.code, 6, FAKE_FRAME_STACK);
    CHECK(shim1 && shim2 && !fp.failed, W("shims: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("shims: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 3 && s.threads[0].error == 0,
          W("shims: three Python frames, no error (%zu)", s.nthreads ? s.threads[0].nframes : 0));
    check_frame(&s, 0, 0, &handle, 6, "shims");
    check_frame(&s, 0, 1, &run, 4, "shims");
    check_frame(&s, 0, 2, &mod, 2, "shims");
    /* --native: the frame just inside each shim is where an eval-loop call began. */
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 3 && s.frames[0].entry &&
              !s.frames[1].entry && s.frames[2].entry,
          W("shims: the frames inside shims are entry frames"));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* 3.15+: a chain is whole only when it ends at the thread state's base
 * frame; one ending anywhere else was read while it changed. */
static void test_base_frame(void)
{
    struct fake_py fp;
    struct py_walker w;
    struct py_sample s;
    struct fn mod, run;
    uint64_t ts = setup_one_thread(&fp, &s, &mod, &run);
    uint64_t base = fake_frame(&fp, ts, 0, 0, FAKE_FRAME_SHIM);
    fake_frame(&fp, ts, mod.code, 2, FAKE_FRAME_STACK);
    fake_frame(&fp, ts, run.code, 4, FAKE_FRAME_STACK);
    fake_put_u64(&fp, ts + (uint64_t)L->tstate_base_frame, base);
    CHECK(base && !fp.failed, W("base frame: fake built"));
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("base frame: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].nframes == 2 && s.threads[0].error == 0,
          W("base frame: a chain ending at the base frame is whole (%zu frames, error %d)",
            s.nthreads ? s.threads[0].nframes : 0, s.nthreads ? s.threads[0].error : 0));
    /* The base frame is elsewhere: this chain ends short of it. */
    fake_put_u64(&fp, ts + (uint64_t)L->tstate_base_frame, base + 4096);
    py_sample_release(&s);
    py_sample_init(&s);
    CHECK_INT(py_walk(&w, &s), 0, W("base frame moved: walk"));
    CHECK(s.nthreads == 1 && s.threads[0].error == -PT_ERR_TORN,
          W("base frame moved: the chain is torn (error %d)", s.nthreads ? s.threads[0].error : 0));
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* ---- layouts -------------------------------------------------------------- */

static void test_layout_bounds(void)
{
    struct py_walker w;
    struct fake_mem m;
    fake_mem_init(&m);
    CHECK_INT(py_walker_init(&w, &m.base, L), 0, W("generated layout accepted"));
    py_walker_release(&w);

    struct py_layout big = *L;
    big.frame_size = 8192;
    CHECK_INT(py_walker_init(&w, &m.base, &big), -PT_ERR_UNSUPPORTED, W("huge frame refused"));
    py_walker_release(&w);

    big = *L;
    big.frame_back = 4093;
    CHECK_INT(py_walker_init(&w, &m.base, &big), -PT_ERR_UNSUPPORTED,
              W("frame field past the read bound refused"));
    py_walker_release(&w);

    big = *L;
    big.tstate_thread_id = 4090;
    CHECK_INT(py_walker_init(&w, &m.base, &big), -PT_ERR_UNSUPPORTED,
              W("thread state field past the read bound refused"));
    py_walker_release(&w);
}

static void run_layout(const struct py_layout *lay)
{
    L = lay;
    printf("# layout %d.%d%s\n", L->major, L->minor, L->free_threaded ? "t" : "");
    test_layout_bounds();
    test_single_thread();
    test_names_and_unstarted();
    test_threads_and_interpreters();
    test_no_interpreter();
    test_frame_cycle();
    test_list_cycles();
    test_deep();
    test_unmapped_back();
    test_bad_code();
    test_stale_code();
    test_stale_same_walk();
    test_generators();
    test_torn();
    test_real_linetables();
    if (L->major == 3 && L->minor >= 10)
        test_empty_code_range();
    if (L->tstate_datastack_chunk >= 0)
        test_chunks();
    if (L->frame_owned_by_cstack >= 0)
        test_shims();
    if (L->tstate_base_frame >= 0)
        test_base_frame();
}

/* The builder's line tables, decoded by pytop's own decoder through a walk
 * of a code object with big line jumps in both directions. */
static void test_linetable_builder(void)
{
    for (size_t i = 0; i < py_layouts_count; i++) {
        L = py_layouts_all[i];
        struct fake_py fp;
        struct py_walker w;
        struct py_sample s;
        py_sample_init(&s);
        uint64_t interp = setup(&fp);
        int up = L->major == 2;   /* 2.7's lnotab only goes forward */
        int lines[6] = { 3, 400, up ? 401 : 2, up ? 1000 : 130, 1000, up ? 1001 : 999 };
        uint8_t table[2048];
        size_t len = fake_linetable(L, 1, lines, 6, 200, table, sizeof table);
        uint64_t code = fake_code(&fp, "jumpy", NULL, "/j.py", 1, table, len, 1200);
        uint64_t ts = fake_thread(&fp, interp, 1, 1);
        int offs[6] = { 0, 400, 1398, 1200, 2000, 2398 };
        for (int k = 0; k < 6; k++)
            fake_frame(&fp, ts, code, offs[k], FAKE_FRAME_STACK);
        fake_walker_init(&fp, &w);
        int ok = len > 0 && py_walk(&w, &s) == 0 && s.nthreads == 1 && s.threads[0].nframes == 6;
        for (int k = 0; ok && k < 6; k++)
            ok = frame_at(&s, 0, (size_t)(5 - k))->line == lines[offs[k] / 400];
        CHECK(ok, W("line table builder: long ranges and big jumps"));
        py_sample_release(&s);
        py_walker_release(&w);
        fake_py_release(&fp);
    }
}

int main(void)
{
    CHECK(py_layouts_count >= 9, "a generated layout for 2.7 and 3.6-3.13");
    for (size_t i = 0; i < py_layouts_count; i++)
        run_layout(py_layouts_all[i]);
    test_linetable_builder();
    return unit_done();
}
