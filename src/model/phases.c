#include "config.h"

#include "model/phases.h"

#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const label_names[2] = { "<start-up>", "<shutdown>" };

void phase_labels_init(struct phase_labels *pl, uint32_t pid, const char *cmdline, size_t len)
{
    memset(pl, 0, sizeof *pl);
    pl->pid = pid;
    pl->phase = PHASE_STARTUP;
    for (size_t at = 0; at < len && pl->nnames < PHASES_NAMES_MAX;) {
        const char *arg = cmdline + at;
        size_t n = strnlen(arg, len - at);
        const char *slash = memrchr(arg, '/', n);
        const char *base = slash ? slash + 1 : arg;
        size_t bn = n - (size_t)(base - arg);
        if (bn > 0 && bn < sizeof pl->names[0]) {
            memcpy(pl->names[pl->nnames], base, bn);
            pl->names[pl->nnames++][bn] = '\0';
        }
        at += n + 1;
    }
}

void phase_labels_release(struct phase_labels *pl)
{
    free(pl->threads);
    free(pl->path);
    pl->threads = NULL;
    pl->path = NULL;
    pl->cap_threads = pl->cap_path = 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The root frame id of a stack: 1 and *frame, or 0 for an empty one.
 * Parents have lower ids, so the walk ends. */
static int root_frame_id(const struct stack_table *dict, uint32_t node, uint32_t *frame)
{
    int found = 0;
    while (node != 0) {
        const struct stack_node *n = stack_table_get_node(dict, node);
        if (!n || n->parent >= node)
            return 0;
        *frame = n->frame;
        found = 1;
        node = n->parent;
    }
    return found;
}

static const struct stack_frame *root_frame(const struct stack_table *dict, uint32_t node)
{
    uint32_t frame;
    return root_frame_id(dict, node, &frame) ? stack_table_get_frame(dict, frame) : NULL;
}

/* A root the interpreter runs while starting: importlib's frames (3.x),
 * or the <module> of a standard library file it imports from C (2.7),
 * unless the command named that file. */
static int startup_root(const struct phase_labels *pl, const char *function, const char *file)
{
    /* python -m: the main module runs under runpy (frozen from 3.11). */
    if (strcmp(function, "_run_module_as_main") == 0)
        return 0;
    if (strncmp(file, "<frozen", 7) == 0 || strstr(file, "importlib"))
        return 1;
    if (strcmp(function, "<module>") != 0 || !strstr(file, "/lib/python"))
        return 0;
    for (size_t i = 0; i < pl->nnames; i++)
        if (strcmp(base_name(file), pl->names[i]) == 0)
            return 0;
    return 1;
}

/* A root only shutdown runs: threading._shutdown, the atexit runners. */
static int shutdown_root(const char *function, const char *file)
{
    const char *dot = strrchr(function, '.');
    const char *name = dot ? dot + 1 : function;
    const char *base = base_name(file);
    return (strcmp(name, "_shutdown") == 0 && strcmp(base, "threading.py") == 0) ||
           (strcmp(name, "_exitfunc") == 0 && strcmp(base, "threading.py") == 0) ||
           (strcmp(name, "_run_exitfuncs") == 0 && strcmp(base, "atexit.py") == 0);
}

/* Move the phase on from the main thread's sample. */
static void advance(struct phase_labels *pl, const struct stack_table *dict,
                    const struct sample_thread *t)
{
    /* A busy main thread mostly repeats its stack: one walk to the root
     * per new stack. */
    if (t->stack != pl->last_leaf) {
        pl->last_leaf = t->stack;
        pl->have_root = root_frame_id(dict, t->stack, &pl->last_root);
    }
    const struct stack_frame *f = pl->have_root ? stack_table_get_frame(dict, pl->last_root) : NULL;
    const char *function = f ? stack_table_str(dict, f->function) : "";
    const char *file = f ? stack_table_str(dict, f->file) : "";
    if (t->flags & SAMPLE_PARTIAL)
        return;   /* a stack not read to its root says nothing of it */
    if (pl->phase == PHASE_STARTUP) {
        if (f && !startup_root(pl, function, file))
            pl->phase = PHASE_MAIN;
        return;
    }
    if (pl->phase != PHASE_MAIN)
        return;
    if (t->stack == 0) {
        /* One empty read may be a read that failed early: two in a row
         * once the main module ran are the interpreter finalizing. */
        if (++pl->empty_run >= 2)
            pl->phase = PHASE_SHUTDOWN;
        return;
    }
    pl->empty_run = 0;
    if (f && shutdown_root(function, file))
        pl->phase = PHASE_SHUTDOWN;
}

/* leaf with a root frame label above it: 0 and *out, or an error. */
static int relabel(struct phase_labels *pl, struct stack_table *dict, int label, uint32_t leaf,
                   uint32_t *out)
{
    size_t slot = (size_t)(leaf * 2654435761u) % PHASES_CACHE;
    if (pl->cache[label][slot].in == leaf && pl->cache[label][slot].out) {
        *out = pl->cache[label][slot].out;
        return 0;
    }
    int rc;
    if (!pl->have_frame[label]) {
        struct stack_frame f = { 0, 0, -1, 0 };
        const char *name = label_names[label];
        rc = stack_table_string(dict, name, strlen(name), &f.function);
        if (rc == 0)
            rc = stack_table_frame(dict, &f, &pl->frame[label]);
        if (rc)
            return rc;
        pl->have_frame[label] = 1;
    }
    size_t n = 0;
    for (uint32_t node = leaf; node != 0;) {
        const struct stack_node *sn = stack_table_get_node(dict, node);
        if (!sn || sn->parent >= node)
            return -EINVAL;
        uint32_t *p = vec_grow(pl->path, &pl->cap_path, n + 1, sizeof *p, 64);
        if (!p)
            return -ENOMEM;
        pl->path = p;
        pl->path[n++] = sn->frame;
        node = sn->parent;
    }
    uint32_t node;
    rc = stack_table_node(dict, 0, pl->frame[label], &node);
    while (rc == 0 && n > 0)
        rc = stack_table_node(dict, node, pl->path[--n], &node);
    if (rc)
        return rc;
    pl->cache[label][slot].in = leaf;
    pl->cache[label][slot].out = node;
    *out = node;
    return 0;
}

void phase_labels_apply(struct phase_labels *pl, struct stack_table *dict, const struct sample *s,
                        struct sample *out)
{
    *out = *s;
    if (s->pid != pl->pid)
        return;
    size_t main = s->nthreads;
    for (size_t i = 0; i < s->nthreads; i++) {
        if (s->threads[i].tid == pl->pid && !(s->threads[i].flags & SAMPLE_CARRY)) {
            main = i;
            break;
        }
    }
    if (main == s->nthreads)
        return;
    advance(pl, dict, &s->threads[main]);
    if (pl->phase == PHASE_MAIN)
        return;
    int label = pl->phase == PHASE_STARTUP ? 0 : 1;
    if (s->nthreads > pl->cap_threads) {
        struct sample_thread *t = realloc(pl->threads, s->nthreads * sizeof *t);
        if (!t)
            return;
        pl->threads = t;
        pl->cap_threads = s->nthreads;
    }
    memcpy(pl->threads, s->threads, s->nthreads * sizeof *s->threads);
    /* The main thread's entries: its sample, and CPU carried to the stack
     * it last ran in, which in shutdown may be one of the main module's
     * (left as it is). */
    for (size_t i = 0; i < s->nthreads; i++) {
        struct sample_thread *t = &pl->threads[i];
        if (t->tid != pl->pid)
            continue;
        if ((t->flags & SAMPLE_CARRY) && label == 1 && t->stack != 0) {
            const struct stack_frame *f = root_frame(dict, t->stack);
            if (!f || !shutdown_root(stack_table_str(dict, f->function),
                                     stack_table_str(dict, f->file)))
                continue;
        }
        uint32_t stack;
        if (relabel(pl, dict, label, t->stack, &stack) == 0)
            t->stack = stack;
    }
    out->threads = pl->threads;
}
