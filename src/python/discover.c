#include "config.h"

#include "python/discover.h"

#include "core/error.h"
#include "elf/symbols.h"
#include "proc/info.h"
#include "proc/maps.h"
#include "proc/tasks.h"
#include "python/debug_offsets.h"
#include "python/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest data section copied for a version or interpreter scan. */
#define SCAN_MAX (64u << 20)
#define MAX_CANDIDATES 8

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* A file and where it is mapped. */
struct candidate {
    const char *path;               /* borrowed from the maps */
    const struct proc_map *first;   /* lowest mapping of the file */
};

struct found {
    struct elf_symbols *elf;
    uint64_t bias;
    uint64_t sym_runtime, sym_version, sym_interp_head, sym_tstate_current, sym_code_type;
    int free_threaded;              /* a Py_GIL_DISABLED build (3.13t+) */
};

static uint64_t sym(const struct found *f, const char *name)
{
    uint64_t addr;
    if (elf_symbols_lookup(f->elf, name, &addr, NULL) == 0 && addr)
        return addr + f->bias;
    return 0;
}

/* Load bias of the file: where its first loadable segment really is. */
static int compute_bias(const struct proc_maps *maps, const char *path,
                        const struct elf_symbols *elf, uint64_t *bias)
{
    uint64_t vaddr, off;
    int rc = elf_symbols_first_load(elf, &vaddr, &off);
    if (rc)
        return rc;
    for (size_t i = 0; i < maps->count; i++) {
        const struct proc_map *m = &maps->maps[i];
        if (strcmp(m->path, path) != 0)
            continue;
        uint64_t page_off = off & ~0xfffULL;
        if (m->offset <= page_off && page_off < m->offset + (m->end - m->start)) {
            *bias = elf_load_bias(m->start, m->offset, vaddr, off);
            return 0;
        }
    }
    return -PT_ERR_NOT_PYTHON;
}

/* Copy a section of the file as mapped in the target (with .bss contents
 * as the process has them now). */
static int read_section(struct py_target *t, const struct found *f, const char *name,
                        uint8_t **data, size_t *len, uint64_t *addr)
{
    struct elf_section_info si;
    if (elf_symbols_section(f->elf, name, &si) != 0 || si.size == 0)
        return -PT_ERR_NO_SYMBOL;
    size_t n = si.size > SCAN_MAX ? SCAN_MAX : (size_t)si.size;
    uint8_t *buf = malloc(n);
    if (!buf)
        return -ENOMEM;
    int rc = mem_read(&t->live.base, si.addr + f->bias, buf, n);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    *addr = si.addr + f->bias;
    return 0;
}

static int find_version(struct py_target *t, const struct candidate *c, const struct found *f)
{
    struct py_version hint;
    int have_hint;

    /* 3.11+ export the exact version as a number. */
    if (f->sym_version) {
        uint64_t hex;
        if (mem_read_u64(&t->live.base, f->sym_version, &hex) == 0 &&
            py_version_from_hex(hex & 0xffffffffULL, &t->version) == 0)
            return 0;
    }
    have_hint = py_version_from_filename(c->path, &hint) == 0;
    /* Py_GetVersion()'s buffer gives the micro version too. */
    static const char *const sections[] = { ".bss", ".data" };
    for (size_t i = 0; i < 2; i++) {
        uint8_t *data;
        size_t len;
        uint64_t addr;
        if (read_section(t, f, sections[i], &data, &len, &addr) != 0)
            continue;
        int rc = py_version_from_memory(data, len, have_hint ? hint.major : 0,
                                        have_hint ? hint.minor : 0, &t->version);
        free(data);
        if (rc == 0)
            return 0;
    }
    if (have_hint) {
        t->version = hint;
        return 0;
    }
    return -PT_ERR_UNSUPPORTED;
}

/* A free-threaded build names itself libpython3.13t.so or python3.13t. */
static int free_threaded_name(const char *path)
{
    const char *b = base_name(path);
    if (starts_with(b, "lib"))
        b += 3;
    if (!starts_with(b, "python3."))
        return 0;
    b += 8;
    while (*b >= '0' && *b <= '9')
        b++;
    return *b == 't';
}

/* Free-threaded or not: the debug offsets say so from 3.13 on; without
 * them (no _PyRuntime symbol) the file name does. */
static int find_free_threaded(struct py_target *t, const struct candidate *c, const struct found *f)
{
    if (t->version.major != 3 || t->version.minor < 13)
        return 0;
    if (f->sym_runtime) {
        int rc = py_debug_offsets_free_threaded(&t->live.base, f->sym_runtime);
        if (rc >= 0)
            return rc;
    }
    return free_threaded_name(c->path);
}

/* The newest X.Y pytop has a table for. */
static int newer_than_tables(const struct py_version *v)
{
    if (py_layouts_count == 0)
        return 0;
    const struct py_layout *last = py_layouts_all[py_layouts_count - 1];
    return v->major > last->major || (v->major == last->major && v->minor > last->minor);
}

static int choose_layout(struct py_target *t, const struct found *f, enum py_layout_source pref,
                         struct py_layout *lay)
{
    if (newer_than_tables(&t->version))
        return -PT_ERR_TOO_NEW;
    /* A free-threaded build takes free-threaded tables only. */
    const struct py_layout *table = py_layout_select(t->version.major, t->version.minor,
                                                     t->version.micro, -1, f->free_threaded);
    int has_debug = t->version.major == 3 && t->version.minor >= 13 && f->sym_runtime;
    if (has_debug && pref != PY_LAYOUT_TABLE) {
        uint64_t hex;
        int rc = py_debug_offsets_read(&t->live.base, f->sym_runtime, t->version.micro, lay, &hex);
        /* The table must describe the version found by other means. */
        if (rc == 0 && ((int)((hex >> 24) & 0xff) != t->version.major ||
                        (int)((hex >> 16) & 0xff) != t->version.minor ||
                        !lay->free_threaded != !f->free_threaded))
            rc = -PT_ERR_BAD_DATA;
        if (rc == 0) {
            t->layout_source = PY_LAYOUT_DEBUG_OFFSETS;
            return 0;
        }
        if (pref == PY_LAYOUT_DEBUG_OFFSETS || !table || rc == -PT_ERR_TOO_NEW)
            return rc;
    }
    if (pref == PY_LAYOUT_DEBUG_OFFSETS && !has_debug)
        return -PT_ERR_UNSUPPORTED;
    if (!table)
        return -PT_ERR_UNSUPPORTED;
    /* A debug build (3.14d) or a micro release with its own table: the
     * build's own interpreter size picks it. */
    int size;
    if (has_debug && py_debug_offsets_interp_size(&t->live.base, f->sym_runtime, &size) == 0) {
        const struct py_layout *exact = py_layout_select(t->version.major, t->version.minor,
                                                         t->version.micro, size, f->free_threaded);
        if (exact)
            table = exact;
    }
    *lay = *table;
    t->layout_source = PY_LAYOUT_TABLE;
    return 0;
}

/* Accept the walker's current interpreter pointer only if a whole walk
 * works: threads with real ids, no broken stack, and at least one Python
 * frame (whose code object passed the type check). On 2.7 a pointer to the
 * first thread state also passes the back-pointer test, since tstate->interp
 * and interp->tstate_head sit at the same offset; this rejects it. */
static int walk_validates(struct py_walker *w)
{
    struct py_sample s;
    py_sample_init(&s);
    int ok = py_walk(w, &s) == 0 && s.nthreads > 0 && s.nframes > 0;
    for (size_t i = 0; ok && i < s.nthreads; i++)
        if (s.threads[i].error || s.threads[i].thread_id == 0)
            ok = 0;
    py_sample_release(&s);
    return ok;
}

/* For binaries without interp_head (2.7, 3.6) or _PyRuntime and its section
 * (3.7+): find a word in the file's data that points at an interpreter
 * state whose first thread points back at it. */
static int scan_for_interp(struct py_target *t, const struct found *f,
                           const struct proc_maps *maps)
{
    struct py_walker *w = &t->walker;
    const struct py_layout *l = &w->layout;
    static const char *const sections[] = { ".bss", ".data" };
    for (size_t s = 0; s < 2; s++) {
        uint8_t *data;
        size_t len;
        uint64_t base;
        if (read_section(t, f, sections[s], &data, &len, &base) != 0)
            continue;
        for (size_t off = (8 - (base & 7)) & 7; off + 8 <= len; off += 8) {
            uint64_t p;
            memcpy(&p, data + off, 8);
            if (!mem_ptr_plausible(p))
                continue;
            const struct proc_map *m = proc_maps_find(maps, p);
            if (!m || !(m->perms & PROC_MAP_W))
                continue;
            uint64_t tstate, back;
            if (mem_read_u64(&t->live.base, p + (uint64_t)l->interp_tstate_head, &tstate) ||
                tstate < 4096 || (tstate & 7) ||
                mem_read_u64(&t->live.base, tstate + (uint64_t)l->tstate_interp, &back) ||
                back != p)
                continue;
            w->interp_head_ptr = base + off;
            if (walk_validates(w)) {
                free(data);
                t->found_by_scan = 1;
                return 0;
            }
            w->interp_head_ptr = 0;
        }
        free(data);
    }
    return -PT_ERR_NO_INTERP;
}

static int try_candidate(struct py_target *t, const struct proc_maps *maps,
                         const struct candidate *c, enum py_layout_source pref)
{
    char open_path[PATH_MAX];
    struct found f;
    memset(&f, 0, sizeof f);
    int rc = proc_map_open_path(t->pid, c->first, open_path, sizeof open_path);
    if (rc == 0)
        rc = elf_symbols_open(open_path, &f.elf);
    if (rc && !c->first->deleted)
        rc = elf_symbols_open(c->path, &f.elf);
    if (rc)
        return rc == -PT_ERR_FORMAT ? -PT_ERR_NOT_PYTHON : rc;
    rc = compute_bias(maps, c->path, f.elf, &f.bias);
    if (rc)
        goto out;

    f.sym_runtime = sym(&f, "_PyRuntime");
    if (!f.sym_runtime) {
        struct elf_section_info si;
        if (elf_symbols_section(f.elf, ".PyRuntime", &si) == 0)
            f.sym_runtime = si.addr + f.bias;
    }
    f.sym_version = sym(&f, "Py_Version");
    f.sym_interp_head = sym(&f, "interp_head");
    f.sym_tstate_current = sym(&f, "_PyThreadState_Current");
    f.sym_code_type = sym(&f, "PyCode_Type");
    if (!f.sym_runtime && !f.sym_interp_head && !f.sym_tstate_current && !f.sym_code_type &&
        !sym(&f, "Py_Initialize")) {
        rc = -PT_ERR_NOT_PYTHON;
        goto out;
    }

    rc = find_version(t, c, &f);
    if (rc)
        goto out;
    f.free_threaded = find_free_threaded(t, c, &f);
    struct py_layout lay;
    rc = choose_layout(t, &f, pref, &lay);
    if (rc)
        goto out;
    rc = py_walker_init(&t->walker, &t->live.base, &lay);
    if (rc)
        goto out;
    struct py_walker *w = &t->walker;
    w->pid = t->pid;
    w->code_type = f.sym_code_type;
    if (lay.runtime_interpreters_head >= 0 && f.sym_runtime) {
        w->interp_head_ptr = f.sym_runtime + (uint64_t)lay.runtime_interpreters_head;
        if (lay.runtime_gilstate_tstate_current >= 0)
            w->tstate_current_ptr = f.sym_runtime + (uint64_t)lay.runtime_gilstate_tstate_current;
    } else if (lay.runtime_interpreters_head < 0) {
        w->interp_head_ptr = f.sym_interp_head;
        w->tstate_current_ptr = f.sym_tstate_current;
    }
    /* The collector's flag, where it is one for the process (3.9+ keep
     * one per interpreter, read by the walk). 2.7 and 3.6 keep it in a
     * static variable, which only a .symtab names. */
    if (lay.runtime_gc >= 0 && lay.gc_collecting >= 0 && f.sym_runtime)
        w->gc_collecting_ptr = f.sym_runtime + (uint64_t)lay.runtime_gc +
                               (uint64_t)lay.gc_collecting;
    else if (lay.runtime_interpreters_head < 0)
        w->gc_collecting_ptr = sym(&f, "collecting");

    if (w->interp_head_ptr) {
        uint64_t head = py_walker_first_interp(w);
        rc = head ? 0 : -PT_ERR_NO_INTERP;
    } else {
        rc = scan_for_interp(t, &f, maps);
    }
    if (rc) {
        py_walker_release(w);
    } else {
        snprintf(t->binary, sizeof t->binary, "%s", c->path);
        /* "3.13.5t", as CPython names such builds (python3.13t): every
         * view and recording learns from the version that there is no GIL. */
        if (lay.free_threaded) {
            size_t n = strlen(t->version.text);
            if (n + 1 < sizeof t->version.text) {
                t->version.text[n] = 't';
                t->version.text[n + 1] = '\0';
            }
        }
        t->load_bias = f.bias;
        t->runtime_addr = f.sym_runtime;
    }
out:
    elf_symbols_free(f.elf);
    return rc;
}

static size_t collect_candidates(pid_t pid, const struct proc_maps *maps, struct candidate *out)
{
    size_t n = 0;
    char exe[PATH_MAX] = "";
    if (proc_exe_path(pid, exe, sizeof exe) != 0)
        exe[0] = '\0';    /* then only a libpython is a candidate */
    /* libpython first: when present it holds the interpreter. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < maps->count && n < MAX_CANDIDATES; i++) {
            const struct proc_map *m = &maps->maps[i];
            if (m->path[0] != '/')
                continue;
            int want = pass == 0 ? starts_with(base_name(m->path), "libpython")
                                 : strcmp(m->path, exe) == 0;
            if (!want)
                continue;
            int dup = 0;
            for (size_t j = 0; j < n; j++)
                if (strcmp(out[j].path, m->path) == 0)
                    dup = 1;
            if (!dup) {
                out[n].path = m->path;
                out[n].first = m;
                n++;
            }
        }
    }
    return n;
}

int py_target_open(pid_t pid, enum py_layout_source pref, struct py_target **out)
{
    int rc = proc_check_access(pid);
    if (rc)
        return rc;
    struct proc_maps maps;
    rc = proc_maps_read(pid, &maps);
    if (rc)
        return rc;
    struct py_target *t = calloc(1, sizeof *t);
    if (!t) {
        proc_maps_release(&maps);
        return -ENOMEM;
    }
    t->pid = pid;
    live_mem_init(&t->live, pid);
    /* Each py_walk fetches what the last one read in one system call. */
    mem_snap_attach(&t->live.base, &t->snap);

    struct candidate cands[MAX_CANDIDATES];
    size_t n = collect_candidates(pid, &maps, cands);
    rc = -PT_ERR_NOT_PYTHON;
    for (size_t i = 0; i < n; i++) {
        int r = try_candidate(t, &maps, &cands[i], pref);
        if (r == 0) {
            rc = 0;
            break;
        }
        /* Keep the most telling reason: anything beats "not Python". */
        if (rc == -PT_ERR_NOT_PYTHON)
            rc = r;
    }
    proc_maps_release(&maps);
    if (rc) {
        mem_snap_release(&t->snap);
        free(t);
        /* A process that vanished mid-way is gone, whatever failed. */
        return proc_is_dead(pid) == 1 ? -ESRCH : rc;
    }
    *out = t;
    return 0;
}

int py_target_find_version(pid_t pid, struct py_version *out)
{
    struct proc_maps maps;
    int rc = proc_maps_read(pid, &maps);
    if (rc)
        return rc;
    struct py_target *t = calloc(1, sizeof *t);
    if (!t) {
        proc_maps_release(&maps);
        return -ENOMEM;
    }
    t->pid = pid;
    live_mem_init(&t->live, pid);
    struct candidate cands[MAX_CANDIDATES];
    size_t n = collect_candidates(pid, &maps, cands);
    rc = -PT_ERR_NOT_PYTHON;
    for (size_t i = 0; i < n && rc; i++) {
        char open_path[PATH_MAX];
        struct found f;
        memset(&f, 0, sizeof f);
        if (proc_map_open_path(pid, cands[i].first, open_path, sizeof open_path) != 0 ||
            elf_symbols_open(open_path, &f.elf) != 0)
            continue;
        if (compute_bias(&maps, cands[i].path, f.elf, &f.bias) == 0) {
            f.sym_version = sym(&f, "Py_Version");
            rc = find_version(t, &cands[i], &f);
        }
        elf_symbols_free(f.elf);
    }
    if (rc == 0)
        *out = t->version;
    proc_maps_release(&maps);
    free(t);
    return rc;
}

void py_target_free(struct py_target *t)
{
    if (!t)
        return;
    py_walker_release(&t->walker);
    mem_snap_release(&t->snap);
    free(t);
}
