#include "config.h"

#include "app/dump.h"

#include "core/error.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "native/hold.h"
#include "native/native.h"
#include "proc/memstat.h"
#include "proc/tasks.h"
#include "python/asyncio_tasks.h"
#include "python/heap.h"
#include "python/thread_names.h"
#include "sampler/held_read.h"
#include "sampler/merge.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct thread_view {
    const struct py_thread *thread;
    const char *state;              /* "running" or "idle" */
    char name[PY_THREAD_NAME_MAX];
    /* --native: the merged stack, or why the C frames are missing. */
    struct merged_stack merged;
    int native, native_error;
    /* --blocking: whether the thread was held while read, for how long,
     * or why not. */
    int held, hold_error;
    uint64_t pause_ns;
    /* --async: the task running on it, whose frames are its innermost
     * task->depth ones, or NULL. */
    const struct py_aio_task *task;
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
    if (f->elided) {
        /* The middle of a deeper stack, left out: both ends are kept. */
        strbuf_printf(sb, "{\"function\": \"<%u frames elided>\", \"file\": \"\", \"line\": null, "
                      "\"elided\": %u}", f->elided, f->elided);
        return;
    }
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

/* --native: Python frames and native ones ("native": true, no line). */
static void put_merged_json(struct strbuf *sb, const struct py_sample *s,
                            const struct thread_view *v)
{
    const struct py_thread *th = v->thread;
    for (size_t k = 0; k < v->merged.n; k++) {
        const struct merged_frame *m = &v->merged.frames[k];
        strbuf_puts(sb, k ? ",\n    " : "\n    ");
        if (m->py >= 0) {
            put_frame_json(sb, &s->frames[th->first_frame + (size_t)m->py]);
            continue;
        }
        strbuf_puts(sb, "{\"function\": ");
        json_put_string(sb, m->function);
        strbuf_puts(sb, ", \"file\": ");
        json_put_string(sb, m->file);
        strbuf_puts(sb, ", \"line\": null, \"native\": true}");
    }
}

/* The process and Python memory counters, once. A counter that cannot be
 * read stays invalid: the dump still shows the stacks. *rejected counts the
 * values that failed heap.c's checks (left out). */
static void read_counters(struct py_target *t, struct counters *c, uint64_t *rejected)
{
    *rejected = 0;
    memset(c, 0, sizeof *c);
    struct proc_memstat m;
    if (proc_memstat_open(t->pid, &m) == 0)
        proc_memstat_read(&m, c);
    proc_memstat_close(&m);
    struct py_heap h;
    if (py_heap_locate(t, &h) == 0) {
        py_heap_read(&h, &t->live.base, c);
        *rejected = h.rejected;
        py_heap_release(&h);
    }
}

/* "counters": {name: value or null} for every counter. */
static void put_counters_json(struct strbuf *sb, const struct counters *c)
{
    strbuf_puts(sb, ", \"counters\": {");
    for (int id = 0; id < COUNTER_COUNT; id++) {
        strbuf_printf(sb, "%s\"%s\": ", id ? ", " : "", counter_name((enum counter_id)id));
        if (counters_has(c, (enum counter_id)id))
            strbuf_printf(sb, "%llu", (unsigned long long)c->value[id]);
        else
            strbuf_puts(sb, "null");
    }
    strbuf_puts(sb, "}");
}

static void put_bytes(struct strbuf *sb, const struct counters *c, enum counter_id id)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    if (!counters_has(c, id)) {
        strbuf_puts(sb, "n/a");
        return;
    }
    double v = (double)c->value[id];
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        strbuf_printf(sb, "%llu B", (unsigned long long)c->value[id]);
    else
        strbuf_printf(sb, "%.1f %s", v, units[u]);
}

static void put_count(struct strbuf *sb, const struct counters *c, enum counter_id id)
{
    if (counters_has(c, id))
        strbuf_printf(sb, "%llu", (unsigned long long)c->value[id]);
    else
        strbuf_puts(sb, "n/a");
}

/* "a/b/c" for the three generations' counters from first. */
static void put_generations(struct strbuf *sb, const struct counters *c, enum counter_id first)
{
    for (int g = 0; g < 3; g++) {
        if (g)
            strbuf_putc(sb, '/');
        put_count(sb, c, (enum counter_id)(first + g));
    }
}

/* One line; "n/a" for what this kernel or Python version does not give. */
static void put_counters_text(struct strbuf *sb, const struct counters *c)
{
    strbuf_puts(sb, "memory: rss ");
    put_bytes(sb, c, CTR_RSS);
    strbuf_puts(sb, ", peak ");
    put_bytes(sb, c, CTR_PEAK_RSS);
    strbuf_puts(sb, ", anon ");
    put_bytes(sb, c, CTR_ANON);
    strbuf_puts(sb, ", swap ");
    put_bytes(sb, c, CTR_SWAP);
    strbuf_puts(sb, ", heap ");
    put_bytes(sb, c, CTR_HEAP);
    strbuf_puts(sb, ", faults ");
    put_count(sb, c, CTR_MINFLT_TOTAL);
    strbuf_puts(sb, " minor ");
    put_count(sb, c, CTR_MAJFLT_TOTAL);
    strbuf_puts(sb, " major; gc counts ");
    put_generations(sb, c, CTR_GC_COUNT0);
    strbuf_puts(sb, ", collections ");
    put_generations(sb, c, CTR_GC_COLLECTIONS0_TOTAL);
    strbuf_puts(sb, ", collected ");
    put_count(sb, c, CTR_GC_COLLECTED_TOTAL);
    strbuf_puts(sb, ", uncollectable ");
    put_count(sb, c, CTR_GC_UNCOLLECTABLE_TOTAL);
    strbuf_puts(sb, "; pymalloc arenas ");
    put_count(sb, c, CTR_PYMALLOC_ARENAS);
    if (counters_has(c, CTR_PYMALLOC_ARENA_BYTES)) {
        strbuf_puts(sb, " (");
        put_bytes(sb, c, CTR_PYMALLOC_ARENA_BYTES);
        strbuf_putc(sb, ')');
    }
    strbuf_puts(sb, ", peak ");
    put_count(sb, c, CTR_PYMALLOC_ARENAS_PEAK);
    strbuf_puts(sb, ", blocks ");
    put_count(sb, c, CTR_PYMALLOC_BLOCKS);
    strbuf_putc(sb, '\n');
}

/* Waiting for the GIL: 1, 0, or -1 when not told. 3.15 says so; before,
 * a C stack (--native) in take_gil says the thread waits, and nothing
 * says it does not. */
static int gil_wait_of(const struct thread_view *v)
{
    const struct py_thread *th = v->thread;
    if (th->gil_wait >= 0)
        return th->gil_wait;
    return v->native && v->merged.in_take_gil && !th->gil ? 1 : -1;
}

/* The time threads were held one after the other (--native). */
static uint64_t total_pause(const struct thread_view *views, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += views[i].held ? views[i].pause_ns : 0;
    return total;
}

/* The root of a task's stack: "<task NAME>". */
static void put_task_root_json(struct strbuf *sb, const struct py_aio_task *task, size_t before)
{
    char root[PY_AIO_NAME_MAX + 8];
    snprintf(root, sizeof root, "<task %s>", task->name);
    strbuf_puts(sb, before ? ",\n    {\"function\": " : "\n    {\"function\": ");
    json_put_string(sb, root);
    strbuf_puts(sb, ", \"file\": \"\", \"line\": null, \"task\": ");
    json_put_string(sb, task->name);
    strbuf_putc(sb, '}');
}

/* The OS thread id of thread index i of s, 0 when unknown. */
static int task_tid(const struct py_sample *s, const struct py_aio_task *task)
{
    return task->thread >= 0 && (size_t)task->thread < s->nthreads
               ? (int)s->threads[task->thread].tid : 0;
}

/* The innermost frame's function: what a waiting task awaits now. */
static const char *task_awaits(const struct py_aio_tasks *tasks, const struct py_aio_task *task)
{
    if (task->running || !task->nframes)
        return NULL;
    const struct py_frame *f = &tasks->frames[task->first_frame];
    return f->code ? f->code->name : NULL;
}

/* "tasks": running ones with their thread, waiting ones with their await
 * chain (innermost first) under "<task NAME>". */
static void put_tasks_json(struct strbuf *sb, const struct py_sample *s,
                           const struct py_aio_tasks *tasks, const struct py_aio_reader *aio)
{
    /* Where the task object's fields were taken from, for the tests'
     * check against the running interpreter. */
    strbuf_printf(sb, ", \"task_layout\": {\"source\": \"%s\", \"name\": %d, \"coro\": %d}",
                  aio->from_section ? "section" : "table", aio->l.task_name, aio->l.task_coro);
    strbuf_puts(sb, ", \"tasks\": [");
    for (size_t i = 0; i < tasks->ntasks; i++) {
        const struct py_aio_task *task = &tasks->tasks[i];
        strbuf_puts(sb, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
        json_put_string(sb, task->name);
        strbuf_printf(sb, ", \"state\": \"%s\", \"thread\": ", task->running ? "running" : "waiting");
        if (task_tid(s, task))
            strbuf_printf(sb, "%d", task_tid(s, task));
        else
            strbuf_puts(sb, "null");
        const char *aw = task_awaits(tasks, task);
        strbuf_puts(sb, ", \"awaits\": ");
        if (aw)
            json_put_string(sb, aw);
        else
            strbuf_puts(sb, "null");
        strbuf_puts(sb, ", \"awaits_task\": ");
        if (task->awaits_task[0])
            json_put_string(sb, task->awaits_task);
        else
            strbuf_puts(sb, "null");
        if (task->error) {
            strbuf_puts(sb, ", \"error\": ");
            json_put_string(sb, pt_strerror(task->error));
        }
        strbuf_puts(sb, ", \"frames\": [");
        if (task->running && task->thread >= 0) {
            const struct py_thread *th = &s->threads[task->thread];
            for (size_t k = 0; k < task->depth; k++) {
                strbuf_puts(sb, k ? ",\n    " : "\n    ");
                put_frame_json(sb, &s->frames[th->first_frame + k]);
            }
            put_task_root_json(sb, task, task->depth);
        } else if (!task->running) {
            for (size_t k = 0; k < task->nframes; k++) {
                strbuf_puts(sb, k ? ",\n    " : "\n    ");
                put_frame_json(sb, &tasks->frames[task->first_frame + k]);
            }
            put_task_root_json(sb, task, task->nframes);
        }
        strbuf_puts(sb, "]}");
    }
    strbuf_printf(sb, "], \"tasks_rejected\": %lu, \"tasks_cut\": %s", tasks->rejected,
                  tasks->cut ? "true" : "false");
}

static void put_json(struct strbuf *sb, const struct py_target *t, const struct py_sample *s,
                     const struct thread_view *views, const struct counters *ctr, int blocking,
                     uint64_t pause, uint64_t rejected, const struct py_aio_tasks *tasks,
                     const struct py_aio_reader *aio)
{
    /* A free-threaded build has no GIL, unless it was turned back on:
     * "gil" is null then, not false. */
    int ft = t->walker.layout.free_threaded;
    int no_gil = ft && !t->walker.gil_enabled;
    strbuf_printf(sb, "{\"pid\": %d, \"python\": ", (int)t->pid);
    json_put_string(sb, t->version.text);
    if (blocking)
        strbuf_printf(sb, ", \"pause_ns\": %llu", (unsigned long long)pause);
    strbuf_printf(sb, ", \"free_threaded\": %s", ft ? "true" : "false");
    if (ft)
        strbuf_printf(sb, ", \"gil_enabled\": %s", no_gil ? "false" : "true");
    strbuf_puts(sb, ", \"threads\": [");
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct thread_view *v = &views[i];
        const struct py_thread *th = v->thread;
        strbuf_printf(sb, "%s\n  {\"tid\": %d, \"name\": ", i ? "," : "", (int)th->tid);
        if (v->name[0])
            json_put_string(sb, v->name);
        else
            strbuf_puts(sb, "null");
        /* gil_wait: null where the interpreter does not tell (before 3.15). */
        strbuf_printf(sb, ", \"state\": \"%s\", \"gil\": %s, \"gil_wait\": %s, \"gc\": %s, "
                      "\"frames\": [", v->state, no_gil ? "null" : th->gil ? "true" : "false",
                      no_gil || gil_wait_of(v) < 0 ? "null" : gil_wait_of(v) ? "true" : "false",
                      th->gc ? "true" : "false");
        if (v->native) {
            put_merged_json(sb, s, v);
        } else {
            size_t n = v->task ? v->task->depth : th->nframes;
            for (size_t k = 0; k < n; k++) {
                strbuf_puts(sb, k ? ",\n    " : "\n    ");
                put_frame_json(sb, &s->frames[th->first_frame + k]);
            }
            if (v->task)
                put_task_root_json(sb, v->task, n);
        }
        strbuf_puts(sb, "]");
        if (blocking) {
            strbuf_printf(sb, ", \"held\": %s", v->held ? "true" : "false");
            if (v->held)
                strbuf_printf(sb, ", \"pause_ns\": %llu", (unsigned long long)v->pause_ns);
            else if (v->hold_error) {
                strbuf_puts(sb, ", \"hold_error\": ");
                json_put_string(sb, pt_strerror(v->hold_error));
            }
        }
        if (v->native_error) {
            strbuf_puts(sb, ", \"native_error\": ");
            json_put_string(sb, pt_strerror(v->native_error));
        }
        strbuf_puts(sb, "}");
    }
    strbuf_puts(sb, "]");
    if (tasks)
        put_tasks_json(sb, s, tasks, aio);
    put_counters_json(sb, ctr);
    strbuf_printf(sb, ", \"counters_rejected\": %llu", (unsigned long long)rejected);
    strbuf_puts(sb, "}\n");
}

static void put_frame_text(struct strbuf *sb, const struct py_frame *f)
{
    if (f->elided)
        strbuf_printf(sb, "    <%u frames elided>\n", f->elided);
    if (f->code && f->line >= 0)
        strbuf_printf(sb, "    %s (%s:%d)\n", f->code->name, f->code->filename, f->line);
    else if (f->code)   /* an instruction CPython gives no line number */
        strbuf_printf(sb, "    %s (%s:?)\n", f->code->name, f->code->filename);
    if (f->error)
        strbuf_printf(sb, "    <stack cut short: %s>\n", pt_strerror(f->error));
}

/* Waiting tasks, each with its await chain under "<task NAME>" (running
 * ones show in their thread's stack). */
static void put_tasks_text(struct strbuf *sb, const struct py_sample *s,
                           const struct py_aio_tasks *tasks)
{
    size_t waiting = 0;
    for (size_t i = 0; i < tasks->ntasks; i++)
        waiting += !tasks->tasks[i].running;
    strbuf_printf(sb, "\nasyncio tasks: %zu, %zu waiting", tasks->ntasks, waiting);
    if (tasks->rejected)
        strbuf_printf(sb, ", %lu unreadable", tasks->rejected);
    strbuf_puts(sb, tasks->cut ? " (more not read: too many)\n" : "\n");
    for (size_t i = 0; i < tasks->ntasks; i++) {
        const struct py_aio_task *task = &tasks->tasks[i];
        if (task->running) {
            if (task_tid(s, task))
                strbuf_printf(sb, "\nTask \"%s\" (running on thread %d)\n", task->name,
                              task_tid(s, task));
            else
                strbuf_printf(sb, "\nTask \"%s\" (running)\n", task->name);
            continue;
        }
        strbuf_printf(sb, "\nTask \"%s\" (waiting", task->name);
        if (task->awaits_task[0])
            strbuf_printf(sb, " for task \"%s\"", task->awaits_task);
        strbuf_puts(sb, ")\n");
        for (size_t k = 0; k < task->nframes; k++)
            put_frame_text(sb, &tasks->frames[task->first_frame + k]);
        if (task->error)
            strbuf_printf(sb, "    <await chain cut short: %s>\n", pt_strerror(task->error));
        strbuf_printf(sb, "    <task %s>\n", task->name);
    }
}

static void put_text(struct strbuf *sb, const struct py_target *t, const struct py_sample *s,
                     const struct thread_view *views, const struct counters *ctr, int blocking,
                     uint64_t pause, const struct py_aio_tasks *tasks)
{
    char cmd[512];
    if (proc_cmdline(t->pid, cmd, sizeof cmd) != 0)
        cmd[0] = '\0';
    strbuf_printf(sb, "Process %d: %s\nPython %s (%s)\n", (int)t->pid, cmd, t->version.text,
                  t->binary);
    if (t->walker.layout.free_threaded)
        strbuf_puts(sb, t->walker.gil_enabled ? "free-threaded, but the GIL was turned back on\n"
                                               : "free-threaded: no GIL\n");
    put_counters_text(sb, ctr);
    if (blocking) {
        size_t held = 0;
        for (size_t i = 0; i < s->nthreads; i++)
            held += views[i].held != 0;
        strbuf_printf(sb, "Paused %.1f us: %zu of %zu threads held while read (--blocking)\n",
                      (double)pause / 1e3, held, s->nthreads);
    }
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct thread_view *v = &views[i];
        const struct py_thread *th = v->thread;
        strbuf_printf(sb, "\nThread %d", (int)th->tid);
        if (v->name[0])
            strbuf_printf(sb, " \"%s\"", v->name);
        strbuf_printf(sb, " (%s%s%s%s", v->state, th->gil ? ", holds GIL" : "",
                      gil_wait_of(v) > 0 ? ", waits for the GIL" : "",
                      th->gc ? ", collecting garbage" : "");
        if (blocking && v->held)
            strbuf_printf(sb, ", held %.1f us", (double)v->pause_ns / 1e3);
        strbuf_puts(sb, ")\n");
        if (blocking && !v->held)
            strbuf_printf(sb, "    <not held while read: %s>\n",
                          pt_strerror(v->hold_error ? v->hold_error : -EINVAL));
        if (v->native_error)
            strbuf_printf(sb, "    <no native frames: %s>\n", pt_strerror(v->native_error));
        size_t count = v->native ? v->merged.n : v->task ? v->task->depth : th->nframes;
        for (size_t j = 0; j < count; j++) {
            size_t k = j;
            if (v->native) {
                const struct merged_frame *m = &v->merged.frames[j];
                if (m->py < 0) {
                    strbuf_printf(sb, "    [native] %s (%s)\n", m->function, m->file);
                    continue;
                }
                k = (size_t)m->py;
            }
            put_frame_text(sb, &s->frames[th->first_frame + k]);
        }
        if (v->task && !v->native)
            strbuf_printf(sb, "    <task %s>\n", v->task->name);
    }
    if (tasks)
        put_tasks_text(sb, s, tasks);
}

/* Unwind every thread's C stack and merge it with its Python frames,
 * read again while it is held. A thread that cannot be unwound keeps its
 * Python frames and says why. SIGINT, SIGTERM and SIGHUP keep their
 * default action (end pytop) but wait while a thread is held, so it is
 * let go first. */
static void merge_native(struct native_stacks *ns, struct py_walker *walker, struct py_sample *s,
                         struct thread_view *views)
{
    sigset_t quit, old;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    sigaddset(&quit, SIGHUP);
    native_stacks_begin_sample(ns);
    for (size_t i = 0; i < s->nthreads; i++) {
        struct thread_view *v = &views[i];
        uint64_t before = native_stacks_paused_ns(ns);
        sigprocmask(SIG_BLOCK, &quit, &old);
        int rc = native_stacks_thread_of(ns, walker, s, i, &v->merged);
        sigprocmask(SIG_SETMASK, &old, NULL);
        /* C frames that do not match the Python ones were still read while
         * the thread was held: the hold worked, the merge did not. */
        v->held = rc == 0 || rc == -PT_ERR_NATIVE_MISMATCH;
        v->hold_error = v->held ? 0 : rc;
        v->pause_ns = native_stacks_paused_ns(ns) - before;
        if (rc == -ENOMEM)
            continue;
        v->native = 1;
        v->native_error = rc;
    }
}

/* --blocking without --native: each thread's frames read while it is
 * held; one that cannot be held is read as it runs and says why. As in
 * merge_native, SIGINT, SIGTERM and SIGHUP wait while threads are held. */
static int hold_threads(pid_t pid, struct py_walker *walker, struct py_sample *s,
                        struct thread_view *views, uint64_t *span_ns)
{
    struct thread_hold *h;
    int rc = thread_hold_new(pid, &h);
    if (rc)
        return rc;
    size_t n = s->nthreads ? s->nthreads : 1;
    int *results = malloc(n * sizeof *results);
    uint64_t *pauses = malloc(n * sizeof *pauses);
    sigset_t quit, old;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    sigaddset(&quit, SIGHUP);
    sigprocmask(SIG_BLOCK, &quit, &old);
    rc = results && pauses ? native_hold_read_all(h, walker, s, results, pauses, span_ns) : -ENOMEM;
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (size_t i = 0; rc == 0 && i < s->nthreads; i++) {
        struct thread_view *v = &views[i];
        v->held = results[i] == 0;
        v->hold_error = results[i];
        v->pause_ns = v->held ? pauses[i] : 0;
    }
    free(results);
    free(pauses);
    thread_hold_free(h);
    return rc;
}

static int dump(struct py_target *t, int json, int native, int native_all, int blocking,
                int async, FILE *out)
{
    struct py_aio_reader aio;
    memset(&aio, 0, sizeof aio);
    struct py_aio_tasks tasks;
    py_aio_tasks_init(&tasks);
    if (async) {
        int arc = py_aio_reader_init(&aio, t->version.major, t->version.minor,
                                     t->walker.layout.free_threaded, t->pid, t->binary);
        if (arc)
            return arc;
    }
    /* The unwinder first: it reads the maps and symbols once, so the
     * Python stacks and C stacks are read as close together as can be. */
    struct native_stacks *ns = NULL;
    if (native) {
        int nrc = native_stacks_new(t->pid, t->binary, t->version.major, native_all, &ns);
        if (nrc)
            return nrc;
    }
    struct py_sample s;
    uint64_t pause = 0;   /* --blocking: how long the threads were kept from running */
    py_sample_init(&s);
    /* Holding threads, each one's frames are read while it is held. */
    t->walker.threads_only = native || blocking;
    int rc = py_walk(&t->walker, &s);
    t->walker.threads_only = 0;
    if (rc) {
        py_sample_release(&s);
        native_stacks_free(ns);
        return rc;
    }
    /* Tasks right after the stacks, before any thread is held: a running
     * task is found by its coroutine's frame on a thread's stack. */
    if (async && (rc = py_aio_read(&aio, &t->walker, &s, &tasks)) != 0) {
        py_sample_release(&s);
        native_stacks_free(ns);
        py_aio_tasks_release(&tasks);
        py_aio_reader_release(&aio);
        return rc;
    }
    struct thread_view *views = calloc(s.nthreads ? s.nthreads : 1, sizeof *views);
    uint64_t *idents = calloc(s.nthreads ? s.nthreads : 1, sizeof *idents);
    char (*names)[PY_THREAD_NAME_MAX] = calloc(s.nthreads ? s.nthreads : 1, sizeof *names);
    if (!views || !idents || !names) {
        rc = -ENOMEM;
        goto out;
    }
    /* States before unwinding: holding a sleeping thread wakes it. */
    for (size_t i = 0; i < s.nthreads; i++) {
        views[i].thread = &s.threads[i];
        views[i].state = thread_state(t->pid, &s.threads[i]);
    }
    for (size_t i = 0; i < tasks.ntasks; i++) {
        const struct py_aio_task *task = &tasks.tasks[i];
        if (task->running && task->thread >= 0 && (size_t)task->thread < s.nthreads &&
            (!views[task->thread].task || task->depth < views[task->thread].task->depth))
            views[task->thread].task = task;   /* the innermost one (nested loops) */
    }
    if (ns)
        merge_native(ns, &t->walker, &s, views);
    else if (blocking && (rc = hold_threads(t->pid, &t->walker, &s, views, &pause)) != 0)
        goto out;
    if (ns)
        pause = total_pause(views, s.nthreads);
    for (size_t i = 0; i < s.nthreads; i++)
        idents[i] = s.threads[i].thread_id;
    py_thread_names(&t->walker, py_walker_first_interp(&t->walker), idents, s.nthreads, names);
    for (size_t i = 0; i < s.nthreads; i++) {
        memcpy(views[i].name, names[i], PY_THREAD_NAME_MAX);
        if (!views[i].name[0] && s.threads[i].tid == t->pid)
            strcpy(views[i].name, "MainThread");
    }
    qsort(views, s.nthreads, sizeof *views, by_tid);

    struct counters ctr;
    uint64_t rejected;
    read_counters(t, &ctr, &rejected);
    struct strbuf sb;
    strbuf_init(&sb);
    if (json)
        put_json(&sb, t, &s, views, &ctr, blocking, pause, rejected, async ? &tasks : NULL, &aio);
    else
        put_text(&sb, t, &s, views, &ctr, blocking, pause, async ? &tasks : NULL);
    if (sb.oom)
        rc = -ENOMEM;
    else if (fwrite(sb.data, 1, sb.len, out) != sb.len || fflush(out) != 0)
        rc = -errno;
    strbuf_release(&sb);
out:
    for (size_t i = 0; views && i < s.nthreads; i++)
        merged_stack_release(&views[i].merged);
    native_stacks_free(ns);
    free(views);
    free(idents);
    free(names);
    py_sample_release(&s);
    py_aio_tasks_release(&tasks);
    py_aio_reader_release(&aio);
    return rc;
}

int dump_run_with(struct py_target *t, int json, int native, int native_all, int blocking,
                  FILE *out)
{
    return dump(t, json, native, native_all, blocking, 0, out);
}

int dump_run_async(struct py_target *t, int json, int native, int native_all, int blocking,
                   int async, FILE *out)
{
    return dump(t, json, native, native_all, blocking, async, out);
}
