/* --gil: only the samples of threads that held the GIL, as py-spy's
 * --gil. A sample is copied without the other threads (and without the
 * CPU time carried for a thread, which follows the thread's own entry,
 * goes with it) before it reaches a model or a recording. */
#ifndef PYTOP_SESSION_GIL_FILTER_H
#define PYTOP_SESSION_GIL_FILTER_H

#include <errno.h>
#include <stdlib.h>

#include "core/sample.h"

struct gil_filter {
    int on;                       /* --gil given; else samples pass as they are */
    struct sample_thread *buf;
    uint32_t cap;
};

/* *out is s, or s with only its GIL holders (borrowing f's buffer until
 * the next call). Returns 0 or -ENOMEM. */
static inline int gil_filter_apply(struct gil_filter *f, const struct sample *s,
                                   struct sample *out)
{
    *out = *s;
    if (!f->on)
        return 0;
    if (s->nthreads > f->cap) {
        struct sample_thread *b = realloc(f->buf, (size_t)s->nthreads * sizeof *b);
        if (!b)
            return -ENOMEM;
        f->buf = b;
        f->cap = s->nthreads;
    }
    uint32_t n = 0;
    int kept = 0;
    for (uint32_t i = 0; i < s->nthreads; i++) {
        const struct sample_thread *t = &s->threads[i];
        if (!(t->flags & SAMPLE_CARRY))
            kept = (t->flags & SAMPLE_GIL) != 0;
        if (kept)
            f->buf[n++] = *t;
    }
    out->nthreads = n;
    out->threads = n ? f->buf : NULL;
    return 0;
}

static inline void gil_filter_free(struct gil_filter *f)
{
    free(f->buf);
    f->buf = NULL;
    f->cap = 0;
}

#endif
