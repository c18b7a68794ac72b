/* A thread's walked stack into the dictionary: (code serial, line) ->
 * frame id per process, markers for stacks cut short or elided. */
#include "config.h"

#include "sampler/sampler_internal.h"

#include "core/error.h"
#include "core/hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stacks --------------------------------------------------------------------------------- */

static size_t frame_slot_of(uint64_t serial, int32_t line, size_t cap)
{
    return (size_t)hash_mix64(serial * 0x9e3779b97f4a7c15ULL + (uint32_t)line) & (cap - 1);
}

/* The (code serial, line) map grows with the distinct code objects seen,
 * which a target that makes functions without end never stops making: at
 * this many slots (32 MiB) it is emptied instead, and fills again from the
 * dictionary (whose ids do not change). */
#define FRAME_MAP_MAX_SLOTS (1u << 21)

static int frame_map_grow(struct proc_track *p)
{
    if (p->cap_frames >= FRAME_MAP_MAX_SLOTS) {
        memset(p->frames, 0, p->cap_frames * sizeof *p->frames);
        p->nframes = 0;
        return 0;
    }
    size_t cap = p->cap_frames * 2;
    struct frame_slot *n = calloc(cap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i < p->cap_frames; i++) {
        struct frame_slot *o = &p->frames[i];
        if (!o->serial)
            continue;
        size_t j = frame_slot_of(o->serial, o->line, cap);
        while (n[j].serial)
            j = (j + 1) & (cap - 1);
        n[j] = *o;
    }
    free(p->frames);
    p->frames = n;
    p->cap_frames = cap;
    return 0;
}

static int intern_named_frame(struct sampler *s, const char *function, const char *file,
                              int line, int firstline, uint32_t *id)
{
    struct stack_frame f;
    int rc = stack_table_string(s->dict, function, strlen(function), &f.function);
    if (rc == 0)
        rc = stack_table_string(s->dict, file, strlen(file), &f.file);
    if (rc)
        return rc;
    f.line = line;
    f.firstline = firstline;
    return stack_table_frame(s->dict, &f, id);
}

static int frame_id(struct sampler *s, struct proc_track *p, const struct py_frame *pf, uint32_t *id)
{
    const struct py_code_info *ci = pf->code;
    size_t i = frame_slot_of(ci->serial, pf->line, p->cap_frames);
    for (;;) {
        struct frame_slot *slot = &p->frames[i];
        if (!slot->serial)
            break;
        if (slot->serial == ci->serial && slot->line == pf->line) {
            *id = slot->frame;
            return 0;
        }
        i = (i + 1) & (p->cap_frames - 1);
    }
    int rc = intern_named_frame(s, ci->name, ci->filename, pf->line, ci->firstlineno, id);
    if (rc)
        return rc;
    if ((p->nframes + 1) * 2 > p->cap_frames) {
        if (frame_map_grow(p) != 0)
            return 0;   /* still correct, just not remembered */
        i = frame_slot_of(ci->serial, pf->line, p->cap_frames);
        while (p->frames[i].serial)
            i = (i + 1) & (p->cap_frames - 1);
    }
    p->frames[i].serial = ci->serial;
    p->frames[i].line = pf->line;
    p->frames[i].frame = *id;
    p->nframes++;
    return 0;
}

/* The frame id of a marker named `name`, made once and kept in *id. */
static int marker_frame(struct sampler *s, const char *name, uint32_t *id, int *have)
{
    if (!*have && intern_named_frame(s, name, "", -1, 0, id) == 0)
        *have = 1;
    return *have ? 0 : -ENOMEM;
}

/* A Python frame of a walk, or the marker of frames left out of a deep
 * stack; -ENOENT for a frame with nothing to show. */
static int walked_frame_id(struct sampler *s, struct proc_track *p, const struct py_frame *pf,
                           uint32_t *id)
{
    if (pf->elided) {
        char name[48];
        snprintf(name, sizeof name, "<%u frames elided>", pf->elided);
        return intern_named_frame(s, name, "", -1, 0, id);
    }
    if (!pf->code)
        return -ENOENT;
    return frame_id(s, p, pf, id);
}

/* The dictionary reached a bound (or memory ran out) while a stack was
 * interned: the stack keeps the path so far and ends in a "[dictionary
 * full]" frame when there is room for that node, and is counted. */
static uint32_t cut_at_full(struct sampler *s, uint32_t node)
{
    uint32_t child;
    s->dict_full++;
    if (s->have_full_frame && stack_table_node(s->dict, node, s->full_frame, &child) == 0)
        return child;
    /* No room for that node either: the marker alone, made at start, so a
     * cut stack never passes for a shorter complete one. */
    return s->have_full_frame ? s->full_node : node;
}

/* --native: the merged stack's frames, root first; native frames are
 * (symbol, object) with STACK_FRAME_NATIVE. */
static uint32_t intern_merged(struct sampler *s, struct proc_track *p, uint32_t node,
                              const struct py_frame *frames, const struct merged_stack *m)
{
    for (size_t k = m->n; k-- > 0;) {
        const struct merged_frame *mf = &m->frames[k];
        uint32_t fid, child;
        int rc;
        if (mf->py >= 0) {
            rc = walked_frame_id(s, p, &frames[mf->py], &fid);
            if (rc == -ENOENT)
                continue;
        } else {
            rc = intern_named_frame(s, mf->function, mf->file, -1, STACK_FRAME_NATIVE, &fid);
        }
        if (rc != 0 || stack_table_node(s->dict, node, fid, &child) != 0)
            return cut_at_full(s, node);
        node = child;
    }
    /* A stack left without its C frames says so at its leaf, rather than
     * passing for a complete one. */
    uint32_t fid, child;
    if (m->error && intern_named_frame(s, "[no C frames]", "", -1, 0, &fid) == 0 &&
        stack_table_node(s->dict, node, fid, &child) == 0)
        node = child;
    return node;
}

/* The thread runs the cyclic collector: a "<GC>" frame on top of its
 * stack, and SAMPLE_GC (not when the dictionary is full: then the stack
 * stays as it was, without the flag). */
void intern_gc(struct sampler *s, struct sample_thread *o)
{
    uint32_t node;
    if (marker_frame(s, "<GC>", &s->gc_frame, &s->have_gc_frame) == 0 &&
        stack_table_node(s->dict, o->stack, s->gc_frame, &node) == 0) {
        o->stack = node;
        o->flags |= SAMPLE_GC;
    }
}

/* frames[0..n) (innermost first) under node. */
static uint32_t intern_frames(struct sampler *s, struct proc_track *p, uint32_t node,
                              const struct py_frame *frames, size_t n)
{
    for (size_t k = n; k-- > 0;) {
        uint32_t fid, child;
        int rc = walked_frame_id(s, p, &frames[k], &fid);
        if (rc == -ENOENT)
            continue;
        if (rc != 0 || stack_table_node(s->dict, node, fid, &child) != 0)
            return cut_at_full(s, node);
        node = child;
    }
    return node;
}

/* The leaf node of a thread's stack, root first. A stack that could not
 * be read whole gets a root marker so its frames are not mistaken for
 * top-level calls: "<torn>" when it changed under every read, else
 * "[truncated]". merged: the thread's native merge, or NULL. */
uint32_t intern_stack(struct sampler *s, struct proc_track *p, const struct py_thread *t,
                      const struct merged_stack *merged)
{
    /* No frames anywhere in this sample (an interpreter still starting)
     * means no frame array at all: do not index it. */
    const struct py_frame *frames = t->nframes ? &s->ps.frames[t->first_frame] : NULL;
    uint32_t node = 0;
    if (t->error) {
        uint32_t root;
        int rc = t->error == -PT_ERR_TORN
                     ? marker_frame(s, "<torn>", &s->torn_frame, &s->have_torn_frame)
                     : marker_frame(s, "[truncated]", &s->truncated_frame,
                                    &s->have_truncated_frame);
        root = t->error == -PT_ERR_TORN ? s->torn_frame : s->truncated_frame;
        /* Without its root marker a cut stack would pass for a whole one. */
        if (rc != 0 || stack_table_node(s->dict, 0, root, &node) != 0)
            return cut_at_full(s, 0);
    }
    if (merged)
        return intern_merged(s, p, node, frames, merged);
    return intern_frames(s, p, node, frames, t->nframes);
}

/* The root "<task NAME>" of a task's stacks. */
static int task_root(struct sampler *s, const char *name, uint32_t *node)
{
    char root[PY_AIO_NAME_MAX + 8];
    uint32_t fid;
    snprintf(root, sizeof root, "<task %s>", name);
    int rc = intern_named_frame(s, root, "", -1, 0, &fid);
    return rc ? rc : stack_table_node(s->dict, 0, fid, node);
}

uint32_t intern_task_stack(struct sampler *s, struct proc_track *p, const struct py_thread *t,
                           const struct py_aio_task *task)
{
    uint32_t node;
    if (task->depth > t->nframes || task_root(s, task->name, &node) != 0)
        return intern_stack(s, p, t, NULL);
    return intern_frames(s, p, node, &s->ps.frames[t->first_frame], task->depth);
}

uint32_t intern_chain(struct sampler *s, struct proc_track *p, const struct py_aio_tasks *tasks,
                      const struct py_aio_task *task)
{
    uint32_t node, fid, child;
    if (task_root(s, task->name, &node) != 0)
        return cut_at_full(s, 0);
    node = intern_frames(s, p, node, &tasks->frames[task->first_frame], task->nframes);
    if (!task->awaits_task[0])
        return node;
    char leaf[PY_AIO_NAME_MAX + 16];
    snprintf(leaf, sizeof leaf, "<awaits task %s>", task->awaits_task);
    if (intern_named_frame(s, leaf, "", -1, 0, &fid) != 0 ||
        stack_table_node(s->dict, node, fid, &child) != 0)
        return cut_at_full(s, node);
    return child;
}
