#include "config.h"

#include "python/asyncio_tasks.h"

#include "core/bytes.h"
#include "core/error.h"
#include "elf/symbols.h"
#include "proc/maps.h"
#include "python/pystr.h"
#include "python/thread_names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tables. TaskObj and its FutureObj_HEAD are private to
 * Modules/_asynciomodule.c: the offsets follow from each version's struct
 * (a 16-byte object header, then pointers; 3.11-3.12 keep dict and weak
 * reference slots and int flags, 3.13 bit fields, 3.14 adds awaited_by and
 * the list node). The generator fields come from offsetof() on each
 * version's headers (PyGenObject in cpython/genobject.h, from 3.14
 * pycore_interpframe_structs.h), the frame states from pycore_frame.h;
 * where the awaited object sits on a suspended frame's stack was seen
 * live (3.15 keeps one more value above it). The
 * 3.14 and 3.15 list heads are the release builds' (a debug build's
 * section gives its own). tests/functional/test_async.py checks the task
 * fields against the running interpreter. */
static const struct py_aio_layout aio_layouts[] = {
    { .major = 3, .minor = 11, .task_size = 176, .task_name = 144, .task_coro = 136,
      .task_node = -1, .ts_tasks_head = -1, .is_tasks_head = -1,
      .gen_iframe = 80, .gen_frame_state = 75, .state_executing = 0,
      .state_suspended_min = -1, .state_suspended_max = -1,
      .frame_stacktop = 64, .frame_stackpointer = -1, .frame_localsplus = 72,
      .frame_yf_depth = 1 },
    { .major = 3, .minor = 12, .task_size = 176, .task_name = 144, .task_coro = 136,
      .task_node = -1, .ts_tasks_head = -1, .is_tasks_head = -1,
      .gen_iframe = 72, .gen_frame_state = 67, .state_executing = 0,
      .state_suspended_min = -1, .state_suspended_max = -1,
      .frame_stacktop = 64, .frame_stackpointer = -1, .frame_localsplus = 72,
      .frame_yf_depth = 1 },
    { .major = 3, .minor = 13, .task_size = 144, .task_name = 128, .task_coro = 120,
      .task_node = -1, .ts_tasks_head = -1, .is_tasks_head = -1,
      .gen_iframe = 72, .gen_frame_state = 67, .state_executing = 0,
      .state_suspended_min = -2, .state_suspended_max = -1,
      .frame_stacktop = 64, .frame_stackpointer = -1, .frame_localsplus = 72,
      .frame_yf_depth = 1 },
    { .major = 3, .minor = 14, .task_size = 168, .task_name = 136, .task_coro = 128,
      .task_node = 152, .ts_tasks_head = 880, .is_tasks_head = 10880,
      .gen_iframe = 72, .gen_frame_state = 67, .state_executing = 0,
      .state_suspended_min = -2, .state_suspended_max = -1,
      .frame_stacktop = -1, .frame_stackpointer = 64, .frame_localsplus = 80,
      .frame_yf_depth = 1 },
    { .major = 3, .minor = 15, .task_size = 168, .task_name = 136, .task_coro = 128,
      .task_node = 152, .ts_tasks_head = 1048, .is_tasks_head = 10856,
      .gen_iframe = 72, .gen_frame_state = 67, .state_executing = 4,
      .state_suspended_min = 1, .state_suspended_max = 3,
      .frame_stacktop = -1, .frame_stackpointer = 64, .frame_localsplus = 80,
      .frame_yf_depth = 2 },
};

/* _PyInterpreterFrame.owner of a generator's or coroutine's frame. */
#define FRAME_OWNED_BY_GENERATOR 1
/* PyTypeObject.tp_name and tp_base, at the same place in every 3.x
 * build with the GIL (after PyObject_VAR_HEAD, and 29 slots later). */
#define TYPE_NAME_OFF 24
#define TYPE_BASE_OFF 256
#define TYPE_BASES_MAX 8
/* PySetObject (3.11-3.13, GIL builds): fill, used, mask, table; entries
 * are {key, hash}, a hash of -1 marks a dummy (deleted) slot. */
#define SET_MASK_OFF 32   /* mask, then the table pointer */
#define SET_MAX_SLOTS (1u << 16)
/* PyWeakReference.wr_object, after the object header. */
#define WEAKREF_OBJECT_OFF 16
/* FutureIter (what Future.__await__ returns): its future after the header. */
#define FUTUREITER_FUTURE_OFF 16
/* Nodes of the 3.14+ task lists followed per list. */
#define LIST_MAX PY_AIO_MAX_TASKS
/* The .AsyncioDebug section: 13 uint64_t (task object 7, interpreter
 * state 2, thread state 4). */
#define SECTION_WORDS 13
#define SECTION_NAME ".AsyncioDebug"

const struct py_aio_layout *py_aio_layout_for(int major, int minor)
{
    for (size_t i = 0; i < sizeof aio_layouts / sizeof aio_layouts[0]; i++)
        if (aio_layouts[i].major == major && aio_layouts[i].minor == minor)
            return &aio_layouts[i];
    return NULL;
}

int py_aio_layout_from_section(struct py_aio_layout *l, const uint8_t *data, size_t len)
{
    if (!data || len < SECTION_WORDS * 8)
        return -PT_ERR_BAD_DATA;
    uint64_t v[SECTION_WORDS];
    for (int i = 0; i < SECTION_WORDS; i++)
        v[i] = bytes_u64(data + 8 * i);
    /* task: size, name, awaited_by, is_task, awaited_by_is_set, coro, node */
    uint64_t tsize = v[0], isize = v[7], thsize = v[9];
    if (tsize < 32 || tsize > 4096 || isize < 64 || isize > (1u << 24) || thsize < 64 ||
        thsize > (1u << 16))
        return -PT_ERR_BAD_DATA;
    /* Compared as "offset > size - width" (sizes checked above): garbage
     * offsets near 2^64 must not wrap round into range. */
    if (v[1] > tsize - 8 || v[5] > tsize - 8 || v[6] > tsize - 16 || (v[1] | v[5] | v[6]) & 7 ||
        v[1] < 16 || v[5] < 16 || v[6] < 16)
        return -PT_ERR_BAD_DATA;
    if (v[8] > isize - 16 || v[12] > thsize - 16 || (v[8] | v[12]) & 7)
        return -PT_ERR_BAD_DATA;
    l->task_size = (int)tsize;
    l->task_name = (int)v[1];
    l->task_coro = (int)v[5];
    l->task_node = (int)v[6];
    l->is_tasks_head = (int)v[8];
    l->ts_tasks_head = (int)v[12];
    return 0;
}

void py_aio_tasks_init(struct py_aio_tasks *t)
{
    memset(t, 0, sizeof *t);
}

void py_aio_tasks_release(struct py_aio_tasks *t)
{
    free(t->tasks);
    free(t->frames);
    memset(t, 0, sizeof *t);
}

/* The section from the file behind a mapping of pid whose name holds
 * "_asyncio." (3.14 builds it as an extension module), or from binary
 * (3.15 links it in). */
static int section_find(pid_t pid, const char *binary, uint8_t **data, size_t *len)
{
    struct elf_symbols *e;
    if (binary && elf_symbols_open(binary, &e) == 0) {
        int rc = elf_symbols_section_data(e, SECTION_NAME, 4096, data, len);
        elf_symbols_free(e);
        if (rc == 0)
            return 0;
    }
    if (pid <= 0)
        return -ENOENT;
    struct proc_maps maps;
    if (proc_maps_read(pid, &maps) != 0)
        return -ENOENT;
    int rc = -ENOENT;
    for (size_t i = 0; i < maps.count && rc; i++) {
        const struct proc_map *m = &maps.maps[i];
        const char *base = strrchr(m->path, '/');
        if (!base || strncmp(base + 1, "_asyncio.", 9) != 0 || m->offset != 0)
            continue;
        char path[4096];
        if (proc_map_open_path(pid, m, path, sizeof path) != 0 || elf_symbols_open(path, &e) != 0)
            continue;
        rc = elf_symbols_section_data(e, SECTION_NAME, 4096, data, len);
        elf_symbols_free(e);
    }
    proc_maps_release(&maps);
    return rc;
}

int py_aio_reader_init(struct py_aio_reader *r, int major, int minor, int free_threaded,
                       pid_t pid, const char *binary)
{
    memset(r, 0, sizeof *r);
    const struct py_aio_layout *l = py_aio_layout_for(major, minor);
    /* Free-threaded builds have larger object headers and per-thread task
     * lists kept otherwise: not read. */
    if (!l || free_threaded)
        return -PT_ERR_UNSUPPORTED;
    r->l = *l;
    if (l->task_node >= 0) {
        uint8_t *data;
        size_t len;
        if (section_find(pid, binary, &data, &len) == 0) {
            r->from_section = py_aio_layout_from_section(&r->l, data, len) == 0;
            free(data);
        }
    }
    return 0;
}

static struct py_aio_task *add_task(struct py_aio_tasks *out)
{
    if (out->ntasks >= PY_AIO_MAX_TASKS) {
        out->cut = 1;
        return NULL;
    }
    if (out->ntasks == out->cap_tasks) {
        size_t cap = out->cap_tasks ? out->cap_tasks * 2 : 32;
        struct py_aio_task *t = realloc(out->tasks, cap * sizeof *t);
        if (!t)
            return NULL;
        out->tasks = t;
        out->cap_tasks = cap;
    }
    struct py_aio_task *t = &out->tasks[out->ntasks++];
    memset(t, 0, sizeof *t);
    t->thread = -1;
    return t;
}

static struct py_frame *add_frame(struct py_aio_tasks *out)
{
    if (out->nframes == out->cap_frames) {
        size_t cap = out->cap_frames ? out->cap_frames * 2 : 64;
        struct py_frame *f = realloc(out->frames, cap * sizeof *f);
        if (!f)
            return NULL;
        out->frames = f;
        out->cap_frames = cap;
    }
    struct py_frame *f = &out->frames[out->nframes++];
    memset(f, 0, sizeof *f);
    f->line = -1;
    return f;
}

/* Whether type (or a base of it, a Python subclass) is _asyncio.Task. */
static int is_task_type(struct py_aio_reader *r, struct mem_source *mem, uint64_t type)
{
    for (size_t i = 0; i < r->ntask_types; i++)
        if (r->task_types[i] == type)
            return 1;
    for (size_t i = 0; i < PY_AIO_TYPES_MAX; i++)
        if (r->other_types[i] == type)
            return 0;
    uint64_t t = type;
    for (int depth = 0; depth < TYPE_BASES_MAX && mem_ptr_plausible(t); depth++) {
        uint64_t name;
        char buf[16];
        if (mem_read_u64(mem, t + TYPE_NAME_OFF, &name) != 0 || !name ||
            mem_read(mem, name, buf, sizeof buf) != 0)
            return 0;
        if (memcmp(buf, "_asyncio.Task", 14) == 0) {
            if (r->ntask_types < PY_AIO_TYPES_MAX)
                r->task_types[r->ntask_types++] = type;
            return 1;
        }
        if (mem_read_u64(mem, t + TYPE_BASE_OFF, &t) != 0)
            return 0;
    }
    /* Remembered: futures and other awaited objects are checked often. */
    r->other_types[r->next_other++ % PY_AIO_TYPES_MAX] = type;
    return 0;
}

static int object_type(struct mem_source *mem, const struct py_layout *pl, uint64_t obj,
                       uint64_t *type)
{
    if (!mem_ptr_plausible(obj) || pl->object_type < 0)
        return -PT_ERR_BAD_DATA;
    int rc = mem_read_u64(mem, obj + (uint64_t)pl->object_type, type);
    if (rc)
        return rc;
    return mem_ptr_plausible(*type) ? 0 : -PT_ERR_BAD_DATA;
}

/* A task's name: a str, or (3.12+, until asked for) the int n of "Task-n". */
static void read_name(struct mem_source *mem, const struct py_layout *pl, uint64_t obj,
                      char *out, size_t cap)
{
    size_t len;
    out[0] = '\0';
    if (!mem_ptr_plausible(obj))
        return;
    if (py_str_read(mem, pl, obj, out, cap, &len) == 0)
        return;
    out[0] = '\0';
    /* A small int: one 30-bit digit after the size (3.11) or tag (3.12+). */
    if (pl->long_digits <= 0)
        return;
    uint8_t buf[64];
    if ((size_t)pl->long_digits + 4 > sizeof buf || mem_read(mem, obj, buf, (size_t)pl->long_digits + 4))
        return;
    uint64_t ndigits;
    if (pl->major == 3 && pl->minor <= 11) {
        if (pl->varobject_size < 0)
            return;
        ndigits = bytes_u64(buf + pl->varobject_size);
    } else {
        uint64_t tag = bytes_u64(buf + pl->long_digits - 8);
        if ((tag & 3) != 0)
            return;
        ndigits = tag >> 3;
    }
    uint32_t d = bytes_u32(buf + pl->long_digits);
    if (ndigits != 1 || d >= (1u << 30))
        return;
    snprintf(out, cap, "Task-%u", d);
}

/* The coroutine object at coro: its frame bytes copied into fb (span
 * bytes) and its frame state. */
static int read_coro(struct py_aio_reader *r, struct py_walker *w, uint64_t coro, uint8_t *buf,
                     size_t span, int *state, uint64_t *type)
{
    const struct py_aio_layout *l = &r->l;
    const struct py_layout *pl = &w->layout;
    if (!mem_ptr_plausible(coro) || l->gen_iframe <= 0 || pl->frame_owner < 0 ||
        pl->object_type < 0 || l->gen_frame_state >= l->gen_iframe)
        return -PT_ERR_BAD_DATA;
    /* One read: the header, the state and the frame that follows them. */
    int rc = mem_read(w->mem, coro, buf, (size_t)l->gen_iframe + span);
    if (rc)
        return rc;
    if (buf[l->gen_iframe + pl->frame_owner] != FRAME_OWNED_BY_GENERATOR)
        return -PT_ERR_BAD_DATA;
    *state = (int8_t)buf[l->gen_frame_state];
    *type = bytes_u64(buf + pl->object_type);
    return mem_ptr_plausible(*type) ? 0 : -PT_ERR_BAD_DATA;
}

/* The name of a type, from a small per-reader cache: awaited objects are
 * of a few types (futures, their iterators). */
static int type_name_is(struct py_aio_reader *r, struct mem_source *mem, uint64_t type,
                        const char *want)
{
    for (size_t i = 0; i < PY_AIO_TYPES_MAX; i++)
        if (r->names[i].type == type)
            return strcmp(r->names[i].name, want) == 0;
    uint64_t name;
    char buf[sizeof r->names[0].name];
    if (mem_read_u64(mem, type + TYPE_NAME_OFF, &name) != 0 || !name ||
        mem_read(mem, name, buf, sizeof buf) != 0)
        return 0;
    buf[sizeof buf - 1] = '\0';
    size_t i = r->next_name++ % PY_AIO_TYPES_MAX;
    r->names[i].type = type;
    memcpy(r->names[i].name, buf, sizeof buf);
    return strcmp(buf, want) == 0;
}

/* The object on top of a suspended frame's value stack (fb, read from
 * frame): what it awaits. */
static int stack_top(struct py_aio_reader *r, struct py_walker *w, uint64_t frame,
                     const uint8_t *fb, uint64_t *obj)
{
    const struct py_aio_layout *l = &r->l;
    uint64_t slot, depth = l->frame_yf_depth > 0 ? (uint64_t)l->frame_yf_depth : 1;
    if (l->frame_stackpointer >= 0) {
        uint64_t sp = bytes_u64(fb + l->frame_stackpointer);
        uint64_t base = frame + (uint64_t)l->frame_localsplus;
        /* A frame's stack is a few hundred slots at most. */
        if (sp < base + 8 * depth || sp - base > (1u << 16) * 8 || (sp & 7))
            return -PT_ERR_BAD_DATA;
        slot = sp - 8 * depth;
    } else if (l->frame_stacktop >= 0) {
        int32_t top = bytes_i32(fb + l->frame_stacktop);
        if (top < (int32_t)depth || top > (1 << 16))
            return -PT_ERR_BAD_DATA;
        slot = frame + (uint64_t)l->frame_localsplus + 8 * ((uint64_t)top - depth);
    } else {
        return -PT_ERR_UNSUPPORTED;
    }
    int rc = mem_read_u64(w->mem, slot, obj);
    if (rc)
        return rc;
    /* 3.14+ stack references carry tag bits in the low ones. */
    *obj &= ~(uint64_t)7;
    return mem_ptr_plausible(*obj) ? 0 : -PT_ERR_BAD_DATA;
}

/* The await chain of a suspended task from its coroutine (whose frame
 * bytes are fb): each coroutine awaiting another, innermost last in
 * out->frames, then reversed. */
static void await_chain(struct py_aio_reader *r, struct py_walker *w, struct py_aio_tasks *out,
                        struct py_aio_task *t, uint64_t coro, uint8_t *buf, size_t span)
{
    const struct py_layout *pl = &w->layout;
    const uint8_t *fb = buf + r->l.gen_iframe;
    t->first_frame = out->nframes;
    uint64_t frame = coro + (uint64_t)r->l.gen_iframe;
    for (int n = 0;; n++) {
        if (n >= PY_AIO_MAX_CHAIN) {
            t->error = -PT_ERR_TRUNCATED;
            break;
        }
        struct py_frame *f = add_frame(out);
        if (!f) {
            t->error = -ENOMEM;
            break;
        }
        t->nframes++;
        f->addr = frame;
        if (py_walker_decode_iframe(w, fb, f) != 0) {
            t->error = f->error;
            break;
        }
        uint64_t obj, type;
        if (stack_top(r, w, frame, fb, &obj) != 0)
            break;
        /* Mostly another coroutine: read as much as one takes, which for
         * a smaller object (a future's iterator) holds its fields too; at
         * the end of a mapping that read fails, and the fields are read
         * one by one. */
        size_t len = (size_t)r->l.gen_iframe + span;
        int whole = mem_ptr_plausible(obj) && pl->object_type >= 0 &&
                    mem_read(w->mem, obj, buf, len) == 0;
        type = whole ? bytes_u64(buf + pl->object_type) : 0;
        if (whole && type == r->coro_type) {
            int state = (int8_t)buf[r->l.gen_frame_state];
            if (fb[pl->frame_owner] != FRAME_OWNED_BY_GENERATOR ||
                state < r->l.state_suspended_min || state > r->l.state_suspended_max)
                break;
            frame = obj + (uint64_t)r->l.gen_iframe;
            continue;
        }
        if (!whole && object_type(w->mem, pl, obj, &type) != 0)
            break;
        if (!mem_ptr_plausible(type))
            break;
        /* await on a future goes through its FutureIter. */
        uint64_t fut = obj, ftype = type;
        if (type_name_is(r, w->mem, type, "_asyncio.FutureIter")) {
            if (whole && FUTUREITER_FUTURE_OFF + 8 <= len)
                fut = bytes_u64(buf + FUTUREITER_FUTURE_OFF);
            else if (mem_read_u64(w->mem, obj + FUTUREITER_FUTURE_OFF, &fut) != 0)
                break;
            if (object_type(w->mem, pl, fut, &ftype) != 0)
                break;
        }
        uint64_t tname;
        if (is_task_type(r, w->mem, ftype) &&
            mem_read_u64(w->mem, fut + (uint64_t)r->l.task_name, &tname) == 0)
            read_name(w->mem, pl, tname, t->awaits_task, sizeof t->awaits_task);
        break;
    }
    struct py_frame *c = out->frames + t->first_frame;
    for (size_t i = 0; i < t->nframes / 2; i++) {
        struct py_frame x = c[i];
        c[i] = c[t->nframes - 1 - i];
        c[t->nframes - 1 - i] = x;
    }
}

static int seen_task(const struct py_aio_tasks *out, uint64_t addr)
{
    for (size_t i = 0; i < out->ntasks; i++)
        if (out->tasks[i].addr == addr)
            return 1;
    return 0;
}

/* One task at addr: checked, named, its coroutine's state and, when it
 * waits, its await chain. The task object is read whole, once; next (may
 * be NULL) gets its list node's next pointer (3.14+). Returns 0, or -1
 * when addr could not be read at all. */
static int read_task(struct py_aio_reader *r, struct py_walker *w, struct py_aio_tasks *out,
                     uint64_t addr, uint64_t *next)
{
    const struct py_layout *pl = &w->layout;
    const struct py_aio_layout *l = &r->l;
    uint8_t obj[4096];
    if (out->ntasks >= PY_AIO_MAX_TASKS) {
        out->cut = 1;
        return 0;
    }
    if (!mem_ptr_plausible(addr) || (size_t)l->task_size > sizeof obj || pl->object_type < 0 ||
        mem_read(w->mem, addr, obj, (size_t)l->task_size) != 0) {
        out->rejected++;
        return -1;
    }
    if (next && l->task_node >= 0)
        *next = bytes_u64(obj + l->task_node);
    uint64_t type = bytes_u64(obj + pl->object_type);
    if (!mem_ptr_plausible(type) || !is_task_type(r, w->mem, type)) {
        out->rejected++;
        return 0;
    }
    /* Sets of 3.12+ tasks may hold one task twice (scheduled and eager). */
    if (out->ntasks < 4096 && seen_task(out, addr))
        return 0;
    uint64_t coro = bytes_u64(obj + l->task_coro), ctype;
    if (!coro)
        return 0;                /* done: a finished task lets go of its coroutine */
    uint8_t buf[8192];
    size_t span = py_walker_frame_span(w);
    int state;
    if (span + (size_t)l->gen_iframe > sizeof buf ||
        read_coro(r, w, coro, buf, span, &state, &ctype) != 0) {
        /* A task done and cleared, or not a task after all. */
        out->rejected++;
        return 0;
    }
    if (!r->coro_type)
        r->coro_type = ctype;
    int running = state == l->state_executing;
    if (!running && (state < l->state_suspended_min || state > l->state_suspended_max))
        return 0;                /* not started yet, or finished: neither runs nor waits */
    struct py_aio_task *t = add_task(out);
    if (!t)
        return 0;
    t->addr = addr;
    t->coro_frame = coro + (uint64_t)l->gen_iframe;
    t->running = running;
    read_name(w->mem, pl, bytes_u64(obj + l->task_name), t->name, sizeof t->name);
    if (!t->name[0])
        snprintf(t->name, sizeof t->name, "<task 0x%llx>", (unsigned long long)addr);
    if (!running)
        await_chain(r, w, out, t, coro, buf, span);
    return 0;
}

/* 3.14+: the circular list whose head node is at head. */
static void read_list(struct py_aio_reader *r, struct py_walker *w, struct py_aio_tasks *out,
                      uint64_t head)
{
    uint64_t node;
    if (mem_read_u64(w->mem, head, &node) != 0)
        return;
    for (unsigned n = 0; node != head; n++) {
        if (n >= LIST_MAX || out->cut) {
            out->cut = 1;
            return;
        }
        if (!mem_ptr_plausible(node) || node < (uint64_t)r->l.task_node) {
            out->rejected++;
            return;              /* torn: keep what was read */
        }
        /* The task read whole gives the next node too. */
        uint64_t next = head;
        if (read_task(r, w, out, node - (uint64_t)r->l.task_node, &next) != 0)
            return;
        node = next;
    }
}

/* 3.11-3.13: the set at set (of weak references when weak). -1 when it
 * does not read as a set. */
static int read_set(struct py_aio_reader *r, struct py_walker *w, struct py_aio_tasks *out,
                    uint64_t set, int weak)
{
    uint64_t hdr[2];
    if (!mem_ptr_plausible(set) || mem_read(w->mem, set + SET_MASK_OFF, hdr, sizeof hdr) != 0)
        return -1;
    uint64_t mask = hdr[0], table = hdr[1];
    if (mask + 1 > SET_MAX_SLOTS || ((mask + 1) & mask) || !mem_ptr_plausible(table)) {
        out->rejected++;
        return -1;
    }
    size_t n = (size_t)mask + 1;
    uint64_t *slots = malloc(n * 16);
    if (!slots)
        return 0;
    if (mem_read(w->mem, table, slots, n * 16) == 0) {
        for (size_t i = 0; i < n && !out->cut; i++) {
            uint64_t key = slots[2 * i], hash = slots[2 * i + 1];
            if (!key || hash == UINT64_MAX)
                continue;
            if (weak && (mem_read_u64(w->mem, key + WEAKREF_OBJECT_OFF, &key) != 0 ||
                         !mem_ptr_plausible(key)))
                continue;
            read_task(r, w, out, key, NULL);
        }
    }
    free(slots);
    return 0;
}

/* 3.11-3.13: where the task sets are, through sys.modules. */
static int lookup_sets(struct py_aio_reader *r, struct py_walker *w)
{
    uint64_t interp = py_walker_first_interp(w);
    int v = w->layout.minor;
    uint64_t obj;
    r->weak_set = r->eager_set = 0;
    int rc = py_module_global(w, interp, "asyncio.tasks", v == 11 ? "_all_tasks" : "_scheduled_tasks",
                              &obj);
    if (rc < 0)
        return rc;
    rc = py_instance_attr(w, interp, obj, "data", &r->weak_set);
    if (rc < 0)
        return rc;
    if (v >= 12 && py_module_global(w, interp, "asyncio.tasks", "_eager_tasks", &obj) == 0)
        r->eager_set = obj;
    r->reads_left = PY_AIO_RELOOKUP;
    return 0;
}

static int by_addr(const void *a, const void *b)
{
    uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
    return (x > y) - (x < y);
}

/* Which thread's stack holds each running task's coroutine frame. */
static void place_running(struct py_aio_tasks *out, const struct py_sample *s)
{
    size_t n = 0;
    for (size_t i = 0; i < out->ntasks; i++)
        n += out->tasks[i].running;
    if (!n || !s->nframes)
        return;
    /* {frame address, thread, depth} of every frame, sorted. */
    uint64_t (*idx)[3] = malloc(s->nframes * sizeof *idx);
    if (!idx)
        return;
    size_t k = 0;
    for (size_t ti = 0; ti < s->nthreads; ti++) {
        const struct py_thread *th = &s->threads[ti];
        for (size_t j = 0; j < th->nframes && th->first_frame + j < s->nframes; j++) {
            uint64_t a = s->frames[th->first_frame + j].addr;
            if (a && k < s->nframes) {
                idx[k][0] = a;
                idx[k][1] = ti;
                idx[k][2] = j + 1;
                k++;
            }
        }
    }
    qsort(idx, k, sizeof *idx, by_addr);
    for (size_t i = 0; i < out->ntasks; i++) {
        struct py_aio_task *t = &out->tasks[i];
        if (!t->running)
            continue;
        uint64_t key[3] = { t->coro_frame, 0, 0 };
        uint64_t (*hit)[3] = bsearch(key, idx, k, sizeof *idx, by_addr);
        if (hit) {
            t->thread = (int)(*hit)[1];
            t->depth = (size_t)(*hit)[2];
        }
    }
    free(idx);
}

/* Remote pages read for one py_aio_read, as CPython's own remote reader
 * does: tasks, coroutines and futures of one size share pymalloc pools, so
 * one page read serves many objects (a read per object costs about a
 * microsecond). A read that crosses into a page that cannot be read whole
 * goes to the process as asked. Dropped at the start of every read, so
 * nothing is older than one sample. */
#define AIO_PAGE 4096u
#define AIO_PAGES 64u

struct py_aio_pages {
    struct mem_source base;
    struct mem_source *under;
    uint64_t page[AIO_PAGES];
    unsigned char valid[AIO_PAGES];
    uint8_t data[AIO_PAGES][AIO_PAGE];
};

static const uint8_t *page_get(struct py_aio_pages *pc, uint64_t page)
{
    size_t slot = (size_t)(page / AIO_PAGE) & (AIO_PAGES - 1);
    if (pc->valid[slot] && pc->page[slot] == page)
        return pc->data[slot];
    pc->valid[slot] = 0;
    if (mem_read(pc->under, page, pc->data[slot], AIO_PAGE) != 0)
        return NULL;
    pc->page[slot] = page;
    pc->valid[slot] = 1;
    return pc->data[slot];
}

static int pages_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    struct py_aio_pages *pc = (struct py_aio_pages *)src;
    if (len > 2 * AIO_PAGE || addr + len < addr)
        return mem_read(pc->under, addr, buf, len);
    uint8_t *out = buf;
    while (len) {
        uint64_t page = addr & ~(uint64_t)(AIO_PAGE - 1);
        size_t off = (size_t)(addr - page), n = AIO_PAGE - off < len ? AIO_PAGE - off : len;
        const uint8_t *p = page_get(pc, page);
        if (!p)
            return mem_read(pc->under, addr, out, len);
        memcpy(out, p + off, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

void py_aio_reader_release(struct py_aio_reader *r)
{
    free(r->pages);
    r->pages = NULL;
}

static int aio_read(struct py_aio_reader *r, struct py_walker *w, const struct py_sample *s,
                    struct py_aio_tasks *out)
{
    if (r->l.task_node >= 0) {
        /* Each thread's list, and each interpreter's once. */
        uint64_t interps[PY_MAX_INTERPRETERS];
        size_t ninterps = 0;
        for (size_t i = 0; i < s->nthreads; i++) {
            const struct py_thread *th = &s->threads[i];
            if (mem_ptr_plausible(th->tstate))
                read_list(r, w, out, th->tstate + (uint64_t)r->l.ts_tasks_head);
            size_t j = 0;
            while (j < ninterps && interps[j] != th->interp)
                j++;
            if (j == ninterps && ninterps < PY_MAX_INTERPRETERS && mem_ptr_plausible(th->interp)) {
                interps[ninterps++] = th->interp;
                read_list(r, w, out, th->interp + (uint64_t)r->l.is_tasks_head);
            }
        }
    } else {
        if (!r->weak_set || r->reads_left == 0) {
            int rc = lookup_sets(r, w);
            if (rc == -ENOENT)
                return 0;        /* asyncio not imported (yet) */
            if (rc < 0)
                return rc;
        }
        r->reads_left--;
        /* A set that no longer reads as one: look them up at the next read. */
        if (read_set(r, w, out, r->weak_set, 1) != 0 ||
            (r->eager_set && read_set(r, w, out, r->eager_set, 0) != 0))
            r->reads_left = 0;
    }
    place_running(out, s);
    return 0;
}

int py_aio_read(struct py_aio_reader *r, struct py_walker *w, const struct py_sample *s,
                struct py_aio_tasks *out)
{
    out->ntasks = 0;
    out->nframes = 0;
    out->rejected = 0;
    out->cut = 0;
    if (!r->l.major)
        return -PT_ERR_UNSUPPORTED;
    if (!r->pages)
        r->pages = malloc(sizeof *r->pages);
    if (!r->pages)
        return aio_read(r, w, s, out);
    /* Everything read meanwhile, the walker's code objects too, through
     * the pages. */
    struct py_aio_pages *pc = r->pages;
    memset(pc->valid, 0, sizeof pc->valid);
    memset(&pc->base, 0, sizeof pc->base);
    pc->base.read = pages_read;
    pc->under = w->mem;
    w->mem = &pc->base;
    int rc = aio_read(r, w, s, out);
    w->mem = pc->under;
    return rc;
}
