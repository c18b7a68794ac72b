/* What walk.c (threads, interpreters, the whole-stack proof) and
 * walk_frames.c (one thread's frames, both frame layouts) share. */
#ifndef PYTOP_PYTHON_WALK_INTERNAL_H
#define PYTOP_PYTHON_WALK_INTERNAL_H

#include "python/walk.h"

#include <stddef.h>
#include <stdint.h>

/* Largest stretch of a 3.11+ data-stack chunk copied in one read. */
#define CHUNK_COPY_MAX (1u << 20)
/* Largest prefix of a thread state or frame struct we read. */
#define STRUCT_READ_MAX 4096
/* _PyInterpreterFrame.owner of a generator's or coroutine's frame (3.11+). */
#define FRAME_OWNED_BY_GENERATOR 1

/* Brent's cycle detection: O(1) memory, finds a loop within twice its length. */
struct cycle_guard {
    uint64_t saved;
    unsigned long power, steps;
};

static inline void cycle_guard_init(struct cycle_guard *g)
{
    g->saved = 0;
    g->power = 1;
    g->steps = 0;
}

static inline int cycle_seen(struct cycle_guard *g, uint64_t addr)
{
    if (addr == g->saved)
        return 1;
    if (++g->steps == g->power) {
        g->saved = addr;
        g->power *= 2;
        g->steps = 0;
    }
    return 0;
}

static inline int max_off(int acc, int off, int width)
{
    return off >= 0 && off + width > acc ? off + width : acc;
}

/* Bytes of a frame struct that cover every field we read. */
int walk_frame_span(const struct py_layout *l);
/* Where walk_walked_frame put Python frame number `walked`. */
size_t walk_last_slot(unsigned long walked);
struct py_frame *walk_walked_frame(struct py_sample *s, struct py_thread *t,
                                   unsigned long walked);
void walk_finish_elision(struct py_sample *s, struct py_thread *t, unsigned long walked);

/* walk_frames.c */
int walk_decode_frame(struct py_walker *w, struct py_frame *f, uint64_t code_addr,
                      int use_instr, uint64_t instr, int64_t lasti_bytes);
int walk_frames(struct py_walker *w, struct py_sample *s, struct py_thread *t,
                const uint8_t *ts);

#endif
