/* Free-threaded 3.14t and 3.15t on fake interpreter memory.
 *
 * No 3.14t or 3.15t binary exists here (unstable's source packages are not
 * served, so none can be built), so their layouts are made from the 3.13t
 * table the generator checked in a live 3.13t, changed where 3.14's headers
 * differ: _PyInterpreterFrame (pycore_interpframe_structs.h) gains
 * stackpointer and, in free-threaded builds, int32_t tlbc_index at 72, with
 * owner at 78; PyCodeObject gains _co_unique_id and co_tlbc (a _PyCodeArray
 * of per-thread bytecode copies, entry 0 being co_code_adaptive) just before
 * co_code_adaptive; PyASCIIObject's interned becomes a whole byte, so kind
 * starts at bit 8. 3.15's debug offsets carry the same two tlbc fields
 * (pycore_debug_offsets.h), so 3.15t takes the same paths. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fake_python.h"
#include "python/layout.h"
#include "python/walk.h"
#include "unit.h"

static struct py_layout L;
static char what_buf[256];

static const char *W(const char *what)
{
    snprintf(what_buf, sizeof what_buf, "%d.%d%s: %s", L.major, L.minor,
             L.free_threaded ? "t" : "", what);
    return what_buf;
}

/* A 3.14+ free-threaded layout from the generated 3.13t table. */
static int make_layout(int minor)
{
    const struct py_layout *t = py_layout_for_build(3, 13, 1);
    if (!t)
        return -1;
    L = *t;
    L.minor = minor;
    L.frame_instr = 56;
    L.frame_tlbc_index = 72;
    L.frame_owner = 78;
    L.frame_size = 88;
    L.frame_owned_by_cstack = 3;
    L.code_tlbc = t->code_code_adaptive + 8;
    L.code_code_adaptive = t->code_code_adaptive + 16;
    L.code_size = t->code_size + 16;
    L.codearray_size = 0;
    L.codearray_entries = 8;
    L.unicode_kind_bit = 8;
    return 0;
}

#define UNITS 200
#define UPL 4   /* code units per line */

/* Give code a _PyCodeArray of n copies (entry 0: co_code_adaptive);
 * returns the remote address of copy k's bytecode in *copies. */
static uint64_t code_array(struct fake_py *fp, uint64_t code, int n, uint64_t *copies)
{
    uint64_t arr = fake_alloc(fp, (size_t)L.codearray_entries + 8 * (size_t)n, FAKE_OBJ_OTHER);
    fake_put_u64(fp, arr + (uint64_t)L.codearray_size, (uint64_t)n);
    for (int k = 0; k < n; k++) {
        copies[k] = k == 0 ? code + (uint64_t)L.code_code_adaptive
                           : fake_alloc(fp, UNITS * 2, FAKE_OBJ_OTHER);
        fake_put_u64(fp, arr + (uint64_t)L.codearray_entries + 8 * (uint64_t)k, copies[k]);
    }
    fake_put_u64(fp, code + (uint64_t)L.code_tlbc, arr);
    return arr;
}

/* Make frame run copy `index` at byte offset off (the array may not hold it). */
static void run_copy(struct fake_py *fp, uint64_t frame, int32_t index, uint64_t base, int off)
{
    fake_put_i32(fp, frame + (uint64_t)L.frame_tlbc_index, index);
    fake_put_u64(fp, frame + (uint64_t)L.frame_instr, base + (uint64_t)off);
}

static const struct py_frame *frame_of(const struct py_sample *s, size_t t, size_t k)
{
    if (t >= s->nthreads || k >= s->threads[t].nframes)
        return NULL;
    return &s->frames[s->threads[t].first_frame + k];
}

static void check(const struct py_sample *s, size_t t, size_t k, const char *name, int line,
                  const char *what)
{
    const struct py_frame *f = frame_of(s, t, k);
    int ok = f && f->code && strcmp(f->code->name, name) == 0 && f->line == line;
    if (!ok)
        printf("#   thread %zu frame %zu: %s line %d, want %s line %d\n", t, k,
               f && f->code ? f->code->name : "?", f ? f->line : -2, name, line);
    CHECK(ok, W(what));
}

static void test_copies(int minor)
{
    if (make_layout(minor) != 0) {
        CHECK(0, "a generated 3.13t table to start from");
        return;
    }
    printf("# layout %d.%dt (from the 3.13t table and 3.14's headers)\n", L.major, L.minor);
    struct fake_py fp;
    if (fake_py_init(&fp, &L) != 0) {
        CHECK(0, W("fake interpreter"));
        return;
    }
    uint64_t interp = fake_interp(&fp);
    /* Names of each string kind: the state's kind bits start at bit 8. */
    uint64_t work = fake_code_lines(&fp, "work", "Pool.wörk", "/app/pool.py", 10, UNITS, UPL);
    uint64_t run = fake_code_lines(&fp, "run", "Thread.run", "/app/线程.py", 100, UNITS, UPL);
    uint64_t copies_w[3], copies_r[2];
    code_array(&fp, work, 3, copies_w);
    code_array(&fp, run, 2, copies_r);

    /* Thread 1 runs the shared bytecode (entry 0); threads 2-5 their own
     * copies, one of them with an index the array does not hold, one with
     * an instruction outside its copy, one whose code has a broken array. */
    uint64_t ts[5];
    uint64_t top[5];
    for (int i = 0; i < 5; i++) {
        ts[i] = fake_thread(&fp, interp, 0x7f0000001000ULL + (uint64_t)i, 100 + i);
        uint64_t outer = fake_frame(&fp, ts[i], run, 8, FAKE_FRAME_STACK);
        top[i] = fake_frame(&fp, ts[i], work, 40, FAKE_FRAME_STACK);
        if (i > 0)
            run_copy(&fp, outer, 1, copies_r[1], 8);
    }
    run_copy(&fp, top[1], 1, copies_w[1], 40);
    run_copy(&fp, top[2], 2, copies_w[2], 120);
    run_copy(&fp, top[3], 7, copies_w[2], 40);          /* index past the array */
    run_copy(&fp, top[4], 2, copies_w[1], 40);          /* another copy's address */
    CHECK(interp && !fp.failed, W("fake built"));

    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    CHECK_INT(fake_walker_init(&fp, &w), 0, W("walker init"));
    CHECK_INT(py_walk(&w, &s), 0, W("walk"));
    CHECK_INT(s.nthreads, 5, W("five threads"));
    int l40 = fake_line_at(&L, 10, UPL, 40), l120 = fake_line_at(&L, 10, UPL, 120);
    int l8 = fake_line_at(&L, 100, UPL, 8);
    check(&s, 0, 0, "Pool.wörk", l40, "entry 0: co_code_adaptive itself");
    check(&s, 0, 1, "Thread.run", l8, "entry 0: caller");
    check(&s, 1, 0, "Pool.wörk", l40, "copy 1: the line of the same offset");
    check(&s, 1, 1, "Thread.run", l8, "copy 1 of the caller's code");
    check(&s, 2, 0, "Pool.wörk", l120, "copy 2: another offset, its own line");
    check(&s, 3, 0, "Pool.wörk", -1, "index past the array: line unknown, never wrong");
    check(&s, 4, 0, "Pool.wörk", -1, "instruction outside its copy: line unknown");
    check(&s, 3, 1, "Thread.run", l8, "a bad copy leaves the caller alone");
    int holders = 0;
    for (size_t i = 0; i < s.nthreads; i++) {
        holders += s.threads[i].gil;
        CHECK_INT(s.threads[i].error, 0, W("no thread error"));
    }
    CHECK_INT(holders, 0, W("no GIL holder on a free-threaded build"));
    const struct py_frame *f = frame_of(&s, 1, 0);
    CHECK(f && f->code && strcmp(f->code->filename, "/app/pool.py") == 0, W("file name read"));
    f = frame_of(&s, 1, 1);
    CHECK(f && f->code && strcmp(f->code->filename, "/app/线程.py") == 0, W("UCS2 file name read"));

    /* The array pointer turns to garbage: unknown lines, no crash, and the
     * shared bytecode still reads. */
    fake_put_u64(&fp, work + (uint64_t)L.code_tlbc, FAKE_UNMAPPED);
    CHECK_INT(py_walk(&w, &s), 0, W("walk with a broken co_tlbc"));
    check(&s, 0, 0, "Pool.wörk", l40, "broken co_tlbc: entry 0 still exact");
    check(&s, 1, 0, "Pool.wörk", -1, "broken co_tlbc: copy 1 line unknown");
    /* An absurd array size. */
    uint64_t arr = fake_alloc(&fp, 64, FAKE_OBJ_OTHER);
    fake_put_u64(&fp, arr + (uint64_t)L.codearray_size, UINT64_MAX);
    fake_put_u64(&fp, work + (uint64_t)L.code_tlbc, arr);
    CHECK_INT(py_walk(&w, &s), 0, W("walk with an absurd copy count"));
    check(&s, 2, 0, "Pool.wörk", -1, "absurd copy count: line unknown");

    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

/* The same memory read with a build-with-GIL layout of 3.14 ignores
 * tlbc_index: there is none. */
static void test_gil_build_ignores_index(void)
{
    if (make_layout(14) != 0)
        return;
    L.free_threaded = 0;
    L.unicode_kind_bit = 2;
    L.frame_tlbc_index = L.code_tlbc = L.codearray_entries = -1;
    struct fake_py fp;
    if (fake_py_init(&fp, &L) != 0)
        return;
    uint64_t interp = fake_interp(&fp);
    uint64_t work = fake_code_lines(&fp, "work", NULL, "/app/pool.py", 10, UNITS, UPL);
    uint64_t ts = fake_thread(&fp, interp, 0x7f0000009000ULL, 7);
    uint64_t fr = fake_frame(&fp, ts, work, 40, FAKE_FRAME_STACK);
    fake_put_i32(&fp, fr + 72, 2);
    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    fake_walker_init(&fp, &w);
    CHECK_INT(py_walk(&w, &s), 0, W("walk"));
    check(&s, 0, 0, "work", fake_line_at(&L, 10, UPL, 40),
          "a stray word where 3.14t keeps tlbc_index changes nothing");
    py_sample_release(&s);
    py_walker_release(&w);
    fake_py_release(&fp);
}

int main(void)
{
    printf("# test_copies (3.14t)\n");
    test_copies(14);
    printf("# test_copies (3.15t)\n");
    test_copies(15);
    UNIT_RUN(test_gil_build_ignores_index);
    printf("ok %d # SKIP live 3.14t and 3.15t: no 3.14t or 3.15t binary exists here (Debian "
           "unstable's source packages are not served, so none can be built); their paths are "
           "tested above on fake memory only\n", ++unit_count);
    return unit_done();
}
