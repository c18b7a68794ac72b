#include "config.h"

#include "app/dump.h"

#include "core/error.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "proc/tasks.h"
#include "python/thread_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct thread_view {
    const struct py_thread *thread;
    const char *state;              /* "running" or "idle" */
    char name[PY_THREAD_NAME_MAX];
};

static const char *thread_state(pid_t pid, const struct py_thread *t)
{
    char st;
    if (t->tid > 0 && proc_task_state(pid, t->tid, &st) == 0)
        return st == 'R' ? "running" : "idle";
    /* Without a tid, holding the GIL is the best sign of running. */
    return t->gil ? "running" : "idle";
}

static int by_tid(const void *a, const void *b)
{
    const struct thread_view *x = a, *y = b;
    /* Unknown tids (0) last, then ascending: the main thread comes first. */
    pid_t tx = x->thread->tid ? x->thread->tid : 0x7fffffff;
    pid_t ty = y->thread->tid ? y->thread->tid : 0x7fffffff;
    return (tx > ty) - (tx < ty);
}

static void put_frame_json(struct strbuf *sb, const struct py_frame *f)
{
    strbuf_puts(sb, "{\"function\": ");
    json_put_string(sb, f->code ? f->code->name : "<unknown>");
    strbuf_puts(sb, ", \"file\": ");
    json_put_string(sb, f->code ? f->code->filename : "<unknown>");
    /* -1 is CPython's "no line" (f_lineno None): say so rather than guess. */
    if (f->line >= 0)
        strbuf_printf(sb, ", \"line\": %d", f->line);
    else
        strbuf_puts(sb, ", \"line\": null");
    if (f->error) {
        strbuf_puts(sb, ", \"error\": ");
        json_put_string(sb, pt_strerror(f->error));
    }
    strbuf_putc(sb, '}');
}

static void put_json(struct strbuf *sb, const struct py_target *t, const struct py_sample *s,
                     const struct thread_view *views)
{
    strbuf_printf(sb, "{\"pid\": %d, \"python\": ", (int)t->pid);
    json_put_string(sb, t->version.text);
    strbuf_puts(sb, ", \"threads\": [");
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct thread_view *v = &views[i];
        const struct py_thread *th = v->thread;
        strbuf_printf(sb, "%s\n  {\"tid\": %d, \"name\": ", i ? "," : "", (int)th->tid);
        if (v->name[0])
            json_put_string(sb, v->name);
        else
            strbuf_puts(sb, "null");
        strbuf_printf(sb, ", \"state\": \"%s\", \"gil\": %s, \"frames\": [", v->state,
                      th->gil ? "true" : "false");
        for (size_t k = 0; k < th->nframes; k++) {
            strbuf_puts(sb, k ? ",\n    " : "\n    ");
            put_frame_json(sb, &s->frames[th->first_frame + k]);
        }
        strbuf_puts(sb, "]}");
    }
    strbuf_puts(sb, "]}\n");
}

static void put_text(struct strbuf *sb, const struct py_target *t, const struct py_sample *s,
                     const struct thread_view *views)
{
    char cmd[512];
    if (proc_cmdline(t->pid, cmd, sizeof cmd) != 0)
        cmd[0] = '\0';
    strbuf_printf(sb, "Process %d: %s\nPython %s (%s)\n", (int)t->pid, cmd, t->version.text,
                  t->binary);
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct thread_view *v = &views[i];
        const struct py_thread *th = v->thread;
        strbuf_printf(sb, "\nThread %d", (int)th->tid);
        if (v->name[0])
            strbuf_printf(sb, " \"%s\"", v->name);
        strbuf_printf(sb, " (%s%s)\n", v->state, th->gil ? ", holds GIL" : "");
        for (size_t k = 0; k < th->nframes; k++) {
            const struct py_frame *f = &s->frames[th->first_frame + k];
            if (f->code && f->line >= 0)
                strbuf_printf(sb, "    %s (%s:%d)\n", f->code->name, f->code->filename, f->line);
            else if (f->code)   /* an instruction CPython gives no line number */
                strbuf_printf(sb, "    %s (%s:?)\n", f->code->name, f->code->filename);
            if (f->error)
                strbuf_printf(sb, "    <stack cut short: %s>\n", pt_strerror(f->error));
        }
    }
}

int dump_run(struct py_target *t, int json, FILE *out)
{
    struct py_sample s;
    py_sample_init(&s);
    int rc = py_walk(&t->walker, &s);
    if (rc) {
        py_sample_release(&s);
        return rc;
    }
    struct thread_view *views = calloc(s.nthreads ? s.nthreads : 1, sizeof *views);
    uint64_t *idents = calloc(s.nthreads ? s.nthreads : 1, sizeof *idents);
    char (*names)[PY_THREAD_NAME_MAX] = calloc(s.nthreads ? s.nthreads : 1, sizeof *names);
    if (!views || !idents || !names) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s.nthreads; i++)
        idents[i] = s.threads[i].thread_id;
    py_thread_names(&t->walker, py_walker_first_interp(&t->walker), idents, s.nthreads, names);
    for (size_t i = 0; i < s.nthreads; i++) {
        views[i].thread = &s.threads[i];
        views[i].state = thread_state(t->pid, &s.threads[i]);
        memcpy(views[i].name, names[i], PY_THREAD_NAME_MAX);
        if (!views[i].name[0] && s.threads[i].tid == t->pid)
            strcpy(views[i].name, "MainThread");
    }
    qsort(views, s.nthreads, sizeof *views, by_tid);

    struct strbuf sb;
    strbuf_init(&sb);
    if (json)
        put_json(&sb, t, &s, views);
    else
        put_text(&sb, t, &s, views);
    if (sb.oom)
        rc = -ENOMEM;
    else if (fwrite(sb.data, 1, sb.len, out) != sb.len || fflush(out) != 0)
        rc = -errno;
    strbuf_release(&sb);
out:
    free(views);
    free(idents);
    free(names);
    py_sample_release(&s);
    return rc;
}
