/* One thread's Python frames: the PyFrameObject chain up to 3.10, the
 * 3.11+ interpreter frames in data-stack chunks, and each frame's code and
 * line. Threads, interpreters and the whole-stack proof are in walk.c. */
#include "config.h"

#include "python/walk_internal.h"

#include "core/bytes.h"
#include "core/error.h"
#include "python/linetable.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The line for a frame at byte offset `offset` into code's bytecode. */
static int frame_line_uncached(const struct py_layout *l, const struct py_code_info *ci,
                               int64_t offset)
{
    /* A frame that has not started yet reports its first line, as
     * CPython's own f_lineno does. */
    if (offset < 0)
        return ci->firstlineno;
    if (ci->code_len && (uint64_t)offset >= ci->code_len)
        return -1;
    /* An empty bytecode range bounds nothing: past int the line table
     * cannot be asked, and a cut-down offset would give a wrong line. */
    if (offset > INT_MAX)
        return -1;
    return py_linetable_line(py_linetable_kind_for(l->major, l->minor), ci->linetable,
                             ci->linetable_len, ci->firstlineno, (int)offset);
}

/* frame_line_uncached, remembering the last answer per code object. */
static int frame_line(const struct py_layout *l, struct py_code_info *ci, int64_t offset)
{
    if (offset == ci->memo_offset)
        return ci->memo_line;
    int line = frame_line_uncached(l, ci, offset);
    ci->memo_offset = offset;
    ci->memo_line = line;
    return line;
}

/* Look up code_addr and compute the line. With use_instr, instr is the
 * frame's instruction address (3.11+); otherwise lasti_bytes is the offset
 * (up to 3.10). A position outside the cached bytecode means the cache entry belongs to
 * an older object at the same address: read it again once. */
int walk_decode_frame(struct py_walker *w, struct py_frame *f, uint64_t code_addr,
                        int use_instr, uint64_t instr, int64_t lasti_bytes)
{
    const struct py_layout *l = &w->layout;
    f->code_addr = code_addr;
    f->use_instr = use_instr;
    f->pos = use_instr ? (int64_t)instr : lasti_bytes;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct py_code_info *ci;
        int rc = py_code_cache_get(&w->codes, w->mem, l, w->code_type, code_addr, &ci);
        if (rc) {
            f->error = rc;
            return rc;
        }
        int64_t offset = use_instr ? (int64_t)(instr - ci->code_start) : lasti_bytes;
        int in_range = offset >= -2 && (!ci->code_len || offset < (int64_t)ci->code_len);
        if (!in_range && attempt == 0) {
            py_code_cache_forget(&w->codes, code_addr);
            continue;
        }
        f->code = ci;
        f->line = in_range ? frame_line(l, ci, offset) : -1;
        return 0;
    }
    return 0;
}

/* Frames up to 3.10: a chain of heap PyFrameObjects, one read each.
 * max_depth is the thread's recursion depth (0: unknown): a live chain is
 * never longer, a chain that ran into freed frames can be. */
static int walk_frame_objects(struct py_walker *w, struct py_sample *s, struct py_thread *t,
                              uint64_t frame, unsigned long max_depth)
{
    const struct py_layout *l = &w->layout;
    uint8_t buf[STRUCT_READ_MAX];
    size_t span = (size_t)walk_frame_span(l);
    struct cycle_guard guard;
    cycle_guard_init(&guard);
    /* 3.10 counts f_lasti in 2-byte code units, earlier versions in bytes. */
    int unit = (l->major == 3 && l->minor >= 10) ? 2 : 1;
    uint64_t type = 0;
    unsigned long depth = 0;
    int rc = 0;
    const struct py_frame *last = NULL;

    for (; frame; depth++) {
        if (depth >= PY_MAX_WALK) {
            rc = -PT_ERR_TRUNCATED;
            break;
        }
        /* More frames than the thread's recursion: a stale chain. */
        if (max_depth && depth >= max_depth) {
            rc = -PT_ERR_TORN;
            break;
        }
        if (!mem_ptr_plausible(frame) || cycle_seen(&guard, frame)) {
            rc = -PT_ERR_BAD_DATA;
            break;
        }
        rc = mem_read(w->mem, frame, buf, span);
        if (rc)
            break;
        /* Every frame of a chain is a live PyFrameObject: one with no
         * reference was freed (CPython keeps freed frames for reuse, their
         * f_back pointing into the free list), and one of another type
         * had its memory reused. ob_refcnt sits just before ob_type. */
        if (l->object_type >= 8) {
            if (bytes_u64(buf + l->object_type - 8) == 0) {
                rc = -PT_ERR_TORN;
                break;
            }
            uint64_t ty = bytes_u64(buf + l->object_type);
            if (depth == 0)
                type = ty;
            else if (ty != type) {
                rc = -PT_ERR_TORN;
                break;
            }
        }
        /* Every caller on a thread's chain is running (it waits in a
         * call): one that is not was freed, finished or suspended since
         * the link to it was read. The innermost frame is exempt: it is
         * the thread's current frame a moment before it starts running
         * and after it stops. */
        if (depth > 0 && ((l->frame_executing > 0 && buf[l->frame_executing] == 0) ||
                          (l->frame_state > 0 && buf[l->frame_state] != 0 &&
                           buf[l->frame_state] != 2))) {
            rc = -PT_ERR_TORN;
            break;
        }
        struct py_frame *f = walk_walked_frame(s, t, depth);
        if (!f) {
            rc = -PT_ERR_TRUNCATED;
            break;
        }
        int32_t lasti = bytes_i32(buf + l->frame_lasti);
        f->entry = 1;   /* one eval-loop call per frame object */
        rc = walk_decode_frame(w, f, bytes_u64(buf + l->frame_code), 0, 0,
                          lasti < 0 ? -1 : (int64_t)lasti * unit);
        if (rc)
            break;
        last = f;
        frame = bytes_u64(buf + l->frame_back);
    }
    /* A generator's frame has no f_back while it is suspended: a chain
     * ending at one was read after the generator left the thread. (Asked
     * before the elision moves frames.) */
    if (rc == 0 && last && last->code && last->code->generator)
        rc = -PT_ERR_TORN;
    walk_finish_elision(s, t, depth);
    return rc;
}

/* Data-stack chunks met during one walk: the headers read so far (newest
 * first, so at most one header read per chunk per walk) and a local copy
 * of the part of one chunk that holds the frames being decoded. */
#define CHUNK_HEADERS_MAX 256   /* a recursion 10,000 deep spans about 70 chunks on 3.12 */
struct chunk_window {
    uint64_t base;
    size_t len;
    uint8_t *buf;                  /* the walker's CHUNK_COPY_MAX buffer */
    struct { uint64_t start, end; } hdrs[CHUNK_HEADERS_MAX];
    unsigned nhdrs;
    uint64_t next_chunk;           /* oldest-so-far chunk's previous, not yet read */
};

/* Read the next chunk header down the chain; 0 when there is none. */
static int chunk_read_next(struct py_walker *w, struct chunk_window *cw)
{
    const struct py_layout *l = &w->layout;
    uint8_t hdr[64];
    int hdr_len = max_off(max_off(max_off(0, l->chunk_previous, 8), l->chunk_size, 8),
                          l->chunk_top, 8);
    if (cw->nhdrs >= CHUNK_HEADERS_MAX || !mem_ptr_plausible(cw->next_chunk) || hdr_len <= 0 ||
        hdr_len > (int)sizeof hdr || mem_read(w->mem, cw->next_chunk, hdr, (size_t)hdr_len) != 0)
        return 0;
    uint64_t start = cw->next_chunk + (uint64_t)l->chunk_data;
    uint64_t end = cw->next_chunk + bytes_u64(hdr + l->chunk_size);
    if (end < start || end - start > (1ULL << 30))
        return 0;
    cw->hdrs[cw->nhdrs].start = start;
    cw->hdrs[cw->nhdrs].end = end;
    cw->nhdrs++;
    cw->next_chunk = bytes_u64(hdr + l->chunk_previous);
    return 1;
}

/* Make the span bytes at addr available locally. A frame inside a chunk
 * brings in, with one read, everything below it in that chunk: its
 * callers. Frames outside every chunk (generators, coroutines) are read
 * on their own. Returns a pointer to the bytes, or NULL with *err set. */
static const uint8_t *frame_bytes(struct py_walker *w, struct chunk_window *cw, uint64_t addr,
                                  size_t span, uint8_t *single, int *err)
{
    /* Read with the thread state, a moment before the frames that lead to it. */
    if (w->hint_len && addr == w->hint_addr && span <= w->hint_len)
        return w->hint_buf;
    if (addr >= cw->base && addr - cw->base + span <= cw->len)
        return cw->buf + (addr - cw->base);
    if (cw->buf) {
        unsigned i = 0;
        for (;; i++) {
            if (i == cw->nhdrs && !chunk_read_next(w, cw))
                break;
            if (addr >= cw->hdrs[i].start && addr + span <= cw->hdrs[i].end)
                break;
        }
        if (i < cw->nhdrs) {
            /* The chunk (or the CHUNK_COPY_MAX ending at the frame) up to
             * this frame: what lies above it was not reached through a
             * link read before it, and may be stale. The snapshot
             * (memsrc.h) remembers the whole chunk, the same range at
             * every sample while the thread stays in it, so that it
             * serves the next sample's read even when the stack grew by a
             * few frames; only the part used is copied. */
            uint64_t from = cw->hdrs[i].start, to = cw->hdrs[i].end;
            if (addr + span - from > CHUNK_COPY_MAX) {
                from = addr + span - CHUNK_COPY_MAX;
                to = addr + span;
            } else if (to - from > CHUNK_COPY_MAX) {
                to = from + CHUNK_COPY_MAX;
            }
            size_t need = (size_t)(addr + span - from);
            if (mem_read_part(w->mem, from, cw->buf, need, (size_t)(to - from)) == 0) {
                cw->base = from;
                cw->len = (size_t)(addr + span - from);
                return cw->buf + (addr - from);
            }
        }
    }
    *err = mem_read(w->mem, addr, single, span);
    return *err ? NULL : single;
}

/* Copies of one code object's bytecode a free-threaded 3.14+ keeps; far
 * more than threads anyone runs. */
#define TLBC_MAX 65536

/* Free-threaded 3.14+: a frame with a non-zero tlbc_index runs that
 * thread's own copy of the bytecode, code->co_tlbc->entries[index], not
 * co_code_adaptive (entry 0). Its instruction address is carried over to
 * the same offset in co_code_adaptive, where the code cache measures
 * positions, so lines come out right. Unchanged when the frame runs entry
 * 0 or the layout has no copies; a copy that cannot be read gives an
 * address no code object holds, and so an unknown line, never a wrong one. */
static uint64_t tlbc_instr(struct py_walker *w, const uint8_t *fb, uint64_t code, uint64_t instr)
{
    const struct py_layout *l = &w->layout;
    /* None of these is at offset 0 where it exists. */
    if (l->frame_tlbc_index <= 0 || l->code_tlbc <= 0 || l->codearray_size < 0 ||
        l->codearray_entries <= 0 || l->code_code_adaptive <= 0)
        return instr;
    int32_t index = bytes_i32(fb + l->frame_tlbc_index);
    if (index == 0)
        return instr;
    uint64_t array, base;
    int64_t size;
    if (index < 0 || index >= TLBC_MAX || !mem_ptr_plausible(code) ||
        mem_read_u64(w->mem, code + (uint64_t)l->code_tlbc, &array) != 0 ||
        !mem_ptr_plausible(array) ||
        mem_read(w->mem, array + (uint64_t)l->codearray_size, &size, sizeof size) != 0 ||
        size <= index || size > TLBC_MAX ||
        mem_read_u64(w->mem, array + (uint64_t)l->codearray_entries + 8 * (uint64_t)index,
                     &base) != 0 ||
        !mem_ptr_plausible(base) || instr < base || instr - base > (PY_LINETABLE_MAX * 32ULL))
        return 0;
    return code + (uint64_t)l->code_code_adaptive + (instr - base);
}

/* Frames from 3.11: _PyInterpreterFrame structs, most of them contiguous
 * in the thread's data-stack chunks. */
static int walk_interpreter_frames(struct py_walker *w, struct py_sample *s,
                                   struct py_thread *t, uint64_t frame, uint64_t chunk,
                                   uint64_t base)
{
    const struct py_layout *l = &w->layout;
    uint8_t single[STRUCT_READ_MAX];
    size_t span = (size_t)walk_frame_span(l);
    struct cycle_guard guard;
    cycle_guard_init(&guard);
    struct chunk_window cw = { .next_chunk = chunk };
    /* One buffer for the walker's life: allocating a megabyte per thread
     * per sample would cost more than the walk. */
    if (!w->chunk_buf)
        w->chunk_buf = malloc(CHUNK_COPY_MAX);
    cw.buf = w->chunk_buf;
    int rc = 0;
    unsigned long walked = 0;
    int last_owner = -1;
    uint64_t last_addr = 0;
    int at_base = 0;

    for (unsigned long depth = 0; frame; depth++) {
        if (base && frame == base) {
            at_base = 1;
            break;
        }
        if (depth >= PY_MAX_WALK * 2UL) {
            rc = -PT_ERR_TRUNCATED;
            break;
        }
        if (!mem_ptr_plausible(frame) || cycle_seen(&guard, frame)) {
            rc = -PT_ERR_BAD_DATA;
            break;
        }
        const uint8_t *fb = frame_bytes(w, &cw, frame, span, single, &rc);
        if (!fb)
            break;
        uint64_t back = bytes_u64(fb + l->frame_back);
        int owner = l->frame_owner >= 0 ? (signed char)fb[l->frame_owner] : -1;
        if (l->frame_owner >= 0 && l->frame_owned_by_cstack >= 0 &&
            owner >= l->frame_owned_by_cstack) {
            /* A shim frame pushed by C code to start the interpreter (from
             * 3.14 also interpreter-owned ones: owners past the C-stack value
             * are never Python calls). The frame just inside it is where
             * that call of the eval loop began. */
            if (walked > 0) {
                struct py_frame *in = &s->frames[t->first_frame + walk_last_slot(walked - 1)];
                in->entry = 1;
                /* The first shim outside it; from 3.14 the thread's base
                 * frame (in its thread state) may follow. */
                if (!in->shim)
                    in->shim = frame;
            }
            frame = back;
            continue;
        }
        if (walked >= PY_MAX_WALK) {
            rc = -PT_ERR_TRUNCATED;
            break;
        }
        struct py_frame *f = walk_walked_frame(s, t, walked);
        if (!f) {
            rc = -PT_ERR_TRUNCATED;
            break;
        }
        walked++;
        last_owner = owner;
        last_addr = frame;
        f->addr = frame;
        if (l->frame_is_entry >= 0)
            f->entry = fb[l->frame_is_entry] != 0;
        uint64_t code = bytes_u64(fb + l->frame_code);
        /* From 3.14 f_executable is a tagged stack reference. */
        if (l->major > 3 || (l->major == 3 && l->minor >= 14))
            code &= ~(uint64_t)7;
        rc = walk_decode_frame(w, f, code, 1, tlbc_instr(w, fb, code, bytes_u64(fb + l->frame_instr)), 0);
        if (rc)
            break;
        frame = back;
    }
    walk_finish_elision(s, t, walked);
    /* A generator's or coroutine's frame loses its link back when it
     * suspends: a walk ending at one was read after it left the thread. */
    if (rc == 0 && last_owner == FRAME_OWNED_BY_GENERATOR) {
        rc = -PT_ERR_TORN;
        w->hint_addr = last_addr;   /* for the next attempt (walk_thread) */
    }
    /* From 3.15 every thread's chain ends at the sentinel frame in its
     * thread state: a chain that ends anywhere else (a link read before it
     * was written, or after its frame was reused) is not the whole stack. */
    if (rc == 0 && base && !at_base)
        rc = -PT_ERR_TORN;
    return rc;
}

size_t py_walker_frame_span(const struct py_walker *w)
{
    return (size_t)walk_frame_span(&w->layout);
}

int py_walker_decode_iframe(struct py_walker *w, const uint8_t *fb, struct py_frame *f)
{
    const struct py_layout *l = &w->layout;
    if (l->frame_owner < 0 || l->frame_instr < 0) {
        f->error = -PT_ERR_UNSUPPORTED;
        return f->error;
    }
    uint64_t code = bytes_u64(fb + l->frame_code);
    if (l->major > 3 || (l->major == 3 && l->minor >= 14))
        code &= ~(uint64_t)7;
    return walk_decode_frame(w, f, code, 1, tlbc_instr(w, fb, code, bytes_u64(fb + l->frame_instr)), 0);
}

/* The innermost frame of a thread state (read into ts). */
static int first_frame(struct py_walker *w, const uint8_t *ts, uint64_t *frame)
{
    const struct py_layout *l = &w->layout;
    if (l->tstate_frame >= 0) {
        *frame = bytes_u64(ts + l->tstate_frame);
        return 0;
    }
    if (l->tstate_current_frame >= 0) {
        *frame = bytes_u64(ts + l->tstate_current_frame);
        return 0;
    }
    if (l->tstate_cframe >= 0 && l->cframe_current_frame >= 0) {
        uint64_t cframe = bytes_u64(ts + l->tstate_cframe);
        if (cframe == 0) {
            *frame = 0;
            return 0;
        }
        if (!mem_ptr_plausible(cframe))
            return -PT_ERR_BAD_DATA;
        return mem_read_u64(w->mem, cframe + (uint64_t)l->cframe_current_frame, frame);
    }
    return -PT_ERR_UNSUPPORTED;
}

/* One walk of a thread's frames from its state ts. */
int walk_frames(struct py_walker *w, struct py_sample *s, struct py_thread *t,
                       const uint8_t *ts)
{
    const struct py_layout *l = &w->layout;
    uint64_t frame;
    int rc = first_frame(w, ts, &frame);
    if (rc || !frame)
        return rc;
    if (l->tstate_frame >= 0) {
        int32_t depth = l->tstate_recursion_depth > 0 ? bytes_i32(ts + l->tstate_recursion_depth) : 0;
        /* +1: the frame and the depth are read a moment apart. */
        return walk_frame_objects(w, s, t, frame, depth > 0 ? (unsigned long)depth + 1 : 0);
    }
    return walk_interpreter_frames(w, s, t, frame,
                                   l->tstate_datastack_chunk >= 0
                                       ? bytes_u64(ts + l->tstate_datastack_chunk) : 0,
                                   l->tstate_base_frame >= 0
                                       ? bytes_u64(ts + l->tstate_base_frame) : 0);
}
