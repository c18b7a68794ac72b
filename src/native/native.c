#include "config.h"

#include "native/native.h"

#include "native/symbolize.h"
#include "native/unwind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct native_stacks {
    struct native_symbols *syms;
    struct native_unwinder *unwinder;
    const char *eval_name;          /* the eval loop's symbol */
    int keep_all;
    uint64_t ips[NATIVE_MAX_FRAMES];
    uint64_t sps[NATIVE_MAX_FRAMES];
    struct native_frame frames[NATIVE_MAX_FRAMES];
    struct native_stats stats;
};

int native_stacks_new(pid_t pid, const char *interp_path, int py_major, int keep_all,
                      struct native_stacks **out)
{
    struct native_stacks *ns = calloc(1, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    /* 2.7 runs each frame in PyEval_EvalFrameEx; 3.x calls
     * _PyEval_EvalFrameDefault (PyEval_EvalFrameEx, where it still exists,
     * only forwards to it). */
    ns->eval_name = py_major == 2 ? "PyEval_EvalFrameEx" : "_PyEval_EvalFrameDefault";
    ns->keep_all = keep_all;
    int rc = native_symbols_new(pid, interp_path, ns->eval_name, &ns->syms);
    if (rc == 0)
        rc = native_unwinder_new(pid, ns->syms, &ns->unwinder);
    if (rc) {
        native_stacks_free(ns);
        return rc;
    }
    *out = ns;
    return 0;
}

void native_stacks_set_cancel(struct native_stacks *ns, const atomic_int *cancel)
{
    native_unwinder_set_cancel(ns->unwinder, cancel);
}

void native_stacks_free(struct native_stacks *ns)
{
    if (!ns)
        return;
    native_unwinder_free(ns->unwinder);
    native_symbols_free(ns->syms);
    free(ns);
}

void native_stacks_begin_sample(struct native_stacks *ns)
{
    native_symbols_begin_sample(ns->syms);
}

/* The eval loop's symbol, or a part the compiler split off it
 * ("_PyEval_EvalFrameDefault.cold"). */
static int is_eval(const char *function, const char *eval)
{
    size_t n = strlen(eval);
    return strncmp(function, eval, n) == 0 && (function[n] == '\0' || function[n] == '.');
}

static void symbolize(struct native_stacks *ns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct native_frame *f = &ns->frames[i];
        /* A return address may be the first byte after a call that never
         * returns, so look up the call itself. */
        uint64_t ip = i ? ns->ips[i] - 1 : ns->ips[i];
        struct native_object *o = native_symbols_object(ns->syms, ip);
        const char *name = o ? native_symbols_function(ns->syms, o, ip) : NULL;
        f->function = name ? name : "[unknown]";
        f->file = o ? o->path : "";
        f->kind = NATIVE_FRAME_OTHER;
        if (!o)
            continue;
        if (o->kind == NATIVE_OBJ_INTERP)
            f->kind = name && is_eval(name, ns->eval_name) ? NATIVE_FRAME_EVAL
                                                           : NATIVE_FRAME_INTERP;
        else if (o->kind == NATIVE_OBJ_RUNTIME)
            f->kind = NATIVE_FRAME_RUNTIME;
    }
}

int native_stacks_unwind(struct native_stacks *ns, pid_t tid, void (*held)(void *ctx), void *ctx,
                         struct native_frame **frames, const uint64_t **sps, size_t *n)
{
    ns->stats.threads++;
    size_t got = 0;
    int rc = tid > 0 ? native_unwind_thread(ns->unwinder, tid, ns->ips, ns->sps,
                                            NATIVE_MAX_FRAMES, &got, held, ctx)
                     : -ESRCH;
    if (rc) {
        ns->stats.failures++;
        if (rc == -EPERM)
            ns->stats.denied++;
        return rc;
    }
    ns->stats.unwinds++;
    symbolize(ns, got);
    *frames = ns->frames;
    *sps = ns->sps;
    *n = got;
    return 0;
}

int native_stacks_keep_all(const struct native_stacks *ns)
{
    return ns->keep_all;
}

void native_stacks_count_mismatch(struct native_stacks *ns)
{
    ns->stats.mismatches++;
}

void native_stacks_stats(const struct native_stacks *ns, struct native_stats *out)
{
    struct native_unwind_stats u;
    native_unwinder_stats(ns->unwinder, &u);
    unsigned long listings;
    *out = ns->stats;
    out->truncated = u.truncated;
    out->remote_reads = u.page_reads;
    out->held_ns = u.held_ns;
    out->stop_wait_ns = u.stop_wait_ns;
    native_symbols_counts(ns->syms, &listings, &out->files);
}

uint64_t native_stacks_paused_ns(const struct native_stacks *ns)
{
    struct native_unwind_stats u;
    native_unwinder_stats(ns->unwinder, &u);
    return u.stop_wait_ns + u.held_ns;
}
