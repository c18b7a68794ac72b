#include "config.h"

#include "native/symbolize.h"

#include "core/error.h"
#include "core/vec.h"
#include "elf/symbols.h"
#include "native/demangle.h"
#include "proc/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bounds against absurd files: symbols and name bytes per object. */
#define SYMS_MAX (4u << 20)
#define NAMES_MAX ((size_t)256 << 20)

/* One file mapping, sorted by start, pointing at its object. */
struct segment {
    uint64_t start, end, offset;
    unsigned perms;
    struct native_object *obj;
};

struct native_symbols {
    pid_t pid;
    char *interp_path;
    char *split_fn;
    struct segment *segs;
    size_t nsegs;
    struct native_object **objs;     /* the current listing */
    size_t nobjs;
    struct native_object **retired;  /* dropped by the last listing, freed next sample */
    size_t nretired;
    int may_relist;                  /* one re-listing per sample... */
    uint64_t listed_ns;              /* ...and at most one a second */
    unsigned long listings, files;
};

static void object_free(struct native_object *o)
{
    if (!o)
        return;
    if (o->display) {
        for (size_t i = 0; i < o->nsyms; i++)
            if (o->display[i] && o->display[i] != o->names + o->syms[i].name)
                free((char *)o->display[i]);
        free(o->display);
    }
    free(o->parts);
    free(o->syms);
    free(o->names);
    free(o->path);
    free(o);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static enum native_object_kind classify(const char *path, const char *interp)
{
    const char *b = base_name(path);
    if ((interp && strcmp(path, interp) == 0) || strncmp(b, "libpython", 9) == 0 ||
        strncmp(b, "python", 6) == 0)
        return NATIVE_OBJ_INTERP;
    if (strncmp(b, "libc.so", 7) == 0 || strncmp(b, "libc-", 5) == 0 ||
        strncmp(b, "libpthread", 10) == 0 || strncmp(b, "ld-linux", 8) == 0)
        return NATIVE_OBJ_RUNTIME;
    return NATIVE_OBJ_OTHER;
}

static void release_listing(struct native_symbols *s)
{
    for (size_t i = 0; i < s->nretired; i++)
        object_free(s->retired[i]);
    free(s->retired);
    s->retired = NULL;
    s->nretired = 0;
}

/* Re-read the maps. Objects whose (path, inode, start) did not change are
 * kept with their symbols; the others are retired until the next sample,
 * because names from them may still be in use. */
static int relist(struct native_symbols *s)
{
    struct proc_maps maps;
    int rc = proc_maps_read(s->pid, &maps);
    if (rc)
        return rc;
    s->listings++;
    struct segment *segs = calloc(maps.count ? maps.count : 1, sizeof *segs);
    struct native_object **objs = calloc(maps.count ? maps.count : 1, sizeof *objs);
    struct native_object **retired =
        realloc(s->retired, (s->nretired + s->nobjs + 1) * sizeof *retired);
    if (retired)
        s->retired = retired;
    if (!segs || !objs || !retired) {
        free(segs);
        free(objs);
        proc_maps_release(&maps);
        return -ENOMEM;
    }
    size_t nsegs = 0, nobjs = 0;
    struct native_object *cur = NULL;
    for (size_t i = 0; i < maps.count; i++) {
        const struct proc_map *m = &maps.maps[i];
        if (!m->path || m->path[0] != '/')
            continue;
        if (!cur || cur->inode != m->inode || strcmp(cur->path, m->path) != 0) {
            cur = NULL;
            /* The same file at the same place as before: keep what we read. */
            for (size_t k = 0; k < s->nobjs; k++) {
                struct native_object *o = s->objs[k];
                if (o && o->start == m->start && o->inode == m->inode &&
                    strcmp(o->path, m->path) == 0) {
                    cur = o;
                    s->objs[k] = NULL;
                    break;
                }
            }
            if (!cur) {
                cur = calloc(1, sizeof *cur);
                if (cur)
                    cur->path = strdup(m->path);
                if (!cur || !cur->path) {
                    object_free(cur);
                    rc = -ENOMEM;
                    break;
                }
                cur->inode = m->inode;
                cur->start = m->start;
                cur->fde_count = -1;
                cur->kind = classify(m->path, s->interp_path);
            }
            objs[nobjs++] = cur;
        }
        if (m->end > cur->end)
            cur->end = m->end;
        segs[nsegs++] = (struct segment){ m->start, m->end, m->offset, m->perms, cur };
    }
    proc_maps_release(&maps);
    for (size_t k = 0; k < s->nobjs; k++)
        if (s->objs[k])
            s->retired[s->nretired++] = s->objs[k];
    free(s->objs);
    free(s->segs);
    s->objs = objs;
    s->nobjs = nobjs;
    s->segs = segs;
    s->nsegs = nsegs;
    return rc;
}

int native_symbols_new(pid_t pid, const char *interp_path, const char *split_fn,
                       struct native_symbols **out)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return -PT_ERR_FORMAT;
    struct native_symbols *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->pid = pid;
    if ((interp_path && !(s->interp_path = strdup(interp_path))) ||
        (split_fn && !(s->split_fn = strdup(split_fn)))) {
        free(s->interp_path);
        free(s);
        return -ENOMEM;
    }
    int rc = relist(s);
    if (rc) {
        native_symbols_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void native_symbols_free(struct native_symbols *s)
{
    if (!s)
        return;
    release_listing(s);
    for (size_t i = 0; i < s->nobjs; i++)
        object_free(s->objs[i]);
    free(s->objs);
    free(s->segs);
    free(s->interp_path);
    free(s->split_fn);
    free(s);
}

void native_symbols_begin_sample(struct native_symbols *s)
{
    release_listing(s);
    s->may_relist = 1;
}

static const struct segment *segment_at(const struct native_symbols *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->nsegs && s->segs[lo].start <= addr && addr < s->segs[lo].end)
        return &s->segs[lo];
    return NULL;
}

static int by_addr(const void *a, const void *b)
{
    const struct native_sym *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    /* At one address, a sized symbol before an unsized alias. */
    return (x->size == 0) - (y->size == 0);
}

/* Append the function symbols of one symbol table section. */
static int read_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct native_object *o,
                       size_t *cap, size_t *names_len)
{
    Elf_Scn *strscn = elf_getscn(elf, sh->sh_link);
    Elf_Data *strd = strscn ? elf_getdata(strscn, NULL) : NULL;
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!strd || !d || !strd->d_buf || strd->d_size == 0 || sh->sh_entsize == 0)
        return 0;
    if (*names_len + strd->d_size + 1 > NAMES_MAX)
        return 0;
    char *names = realloc(o->names, *names_len + strd->d_size + 1);
    if (!names)
        return -ENOMEM;
    o->names = names;
    size_t base = *names_len;
    memcpy(names + base, strd->d_buf, strd->d_size);
    names[base + strd->d_size] = '\0';   /* a table without a final NUL stays bounded */
    *names_len += strd->d_size + 1;

    size_t count = d->d_size / sh->sh_entsize;
    for (size_t i = 0; i < count && o->nsyms < SYMS_MAX; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(d, (int)i, &sym))
            break;
        int type = GELF_ST_TYPE(sym.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
            sym.st_value == 0 || sym.st_name >= strd->d_size)
            continue;
        struct native_sym *n = vec_grow(o->syms, cap, o->nsyms + 1, sizeof *n, 1024);
        if (!n)
            return -ENOMEM;
        o->syms = n;
        o->syms[o->nsyms++] = (struct native_sym){ sym.st_value, sym.st_size,
                                                   (uint32_t)(base + sym.st_name) };
    }
    return 0;
}

/* The load bias and .eh_frame_hdr from the program headers. */
static void read_phdrs(Elf *elf, const struct native_symbols *s, struct native_object *o)
{
    size_t n;
    if (elf_getphdrnum(elf, &n) != 0)
        return;
    uint64_t load_vaddr = UINT64_MAX, load_offset = 0, eh_vaddr = 0;
    int have_eh = 0;
    for (size_t i = 0; i < n && i < 4096; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph))
            continue;
        if (ph.p_type == PT_LOAD && ph.p_vaddr < load_vaddr) {
            load_vaddr = ph.p_vaddr;
            load_offset = ph.p_offset;
        } else if (ph.p_type == PT_GNU_EH_FRAME) {
            eh_vaddr = ph.p_vaddr;
            have_eh = 1;
        }
    }
    if (load_vaddr == UINT64_MAX)
        return;
    uint64_t page = load_offset & ~(uint64_t)4095;
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct segment *g = &s->segs[i];
        if (g->obj != o || g->offset > page || page - g->offset >= g->end - g->start)
            continue;
        o->bias = elf_load_bias(g->start, g->offset, load_vaddr, load_offset);
        if (have_eh)
            o->eh_frame_hdr = eh_vaddr + o->bias;
        return;
    }
}

/* Open the object's file for libelf; -1 when it cannot be reached. */
static int object_open(const struct native_symbols *s, const struct native_object *o,
                       const struct segment *seg, Elf **elf)
{
    struct proc_map m = { .start = seg->start, .end = seg->end, .path = o->path };
    char path[PATH_MAX];
    if (proc_map_open_path(s->pid, &m, path, sizeof path) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && strcmp(path, o->path) != 0)
        fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* ELF_C_READ: a file truncated under us gives errors, not SIGBUS. */
    *elf = elf_begin(fd, ELF_C_READ, NULL);
    if (!*elf || elf_kind(*elf) != ELF_K_ELF) {
        if (*elf)
            elf_end(*elf);
        close(fd);
        return -1;
    }
    return fd;
}

/* The program headers: cheap, needed while a thread is held. */
static void object_load(struct native_symbols *s, struct native_object *o,
                        const struct segment *seg)
{
    o->loaded = 1;
    s->files++;
    Elf *elf;
    int fd = object_open(s, o, seg, &elf);
    if (fd < 0)
        return;
    read_phdrs(elf, s, o);
    elf_end(elf);
    close(fd);
}

/* ---- parts of a function placed apart ------------------------------------------------------ */

#define PARTS_MAX 8
#define PART_BYTES_MAX ((uint64_t)16 << 20)
#define PART_SCAN_MAX ((uint64_t)16 << 20)

/* len bytes of the file at link-time address vaddr, from the PT_LOAD that
 * holds them; NULL when no segment holds them all. Owned by elf. */
static const uint8_t *file_bytes(Elf *elf, uint64_t vaddr, uint64_t len)
{
    size_t n;
    if (len == 0 || len > PART_BYTES_MAX || elf_getphdrnum(elf, &n) != 0)
        return NULL;
    for (size_t i = 0; i < n && i < 4096; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || vaddr < ph.p_vaddr ||
            vaddr - ph.p_vaddr > ph.p_filesz || ph.p_filesz - (vaddr - ph.p_vaddr) < len)
            continue;
        Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)(ph.p_offset + (vaddr - ph.p_vaddr)),
                                           (size_t)len, ELF_T_BYTE);
        return d && d->d_buf && d->d_size == len ? d->d_buf : NULL;
    }
    return NULL;
}

/* The .eh_frame_hdr search table: count (initial location, FDE) pairs,
 * each relative to the header at hdr_vaddr. */
struct fde_table {
    const uint8_t *entries;
    uint64_t count, hdr_vaddr;
};

static int fde_table_read(Elf *elf, struct fde_table *t)
{
    size_t n;
    if (elf_getphdrnum(elf, &n) != 0)
        return -1;
    for (size_t i = 0; i < n && i < 4096; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
            continue;
        const uint8_t *h = file_bytes(elf, ph.p_vaddr, ph.p_filesz);
        /* Version 1, .eh_frame pointer and count as 4-byte data, the
         * table as pairs of 4-byte offsets from the header (what GNU ld
         * and lld write). */
        if (!h || ph.p_filesz < 12 || h[0] != 1 ||
            ((h[1] & 0x0f) != 0x03 && (h[1] & 0x0f) != 0x0b) || (h[2] & 0x0f) != 0x03 ||
            h[3] != 0x3b)
            return -1;
        uint32_t count;
        memcpy(&count, h + 8, 4);
        if ((uint64_t)count * 8 > ph.p_filesz - 12)
            return -1;
        t->entries = h + 12;
        t->count = count;
        t->hdr_vaddr = ph.p_vaddr;
        return 0;
    }
    return -1;
}

static uint64_t fde_table_loc(const struct fde_table *t, uint64_t i)
{
    int32_t rel;
    memcpy(&rel, t->entries + i * 8, 4);
    return t->hdr_vaddr + (uint64_t)(int64_t)rel;
}

/* The code range of the FDE holding addr: from its start to the next
 * one's (padding between functions included). */
static int fde_range(const struct fde_table *t, uint64_t addr, uint64_t *start, uint64_t *end)
{
    uint64_t lo = 0, hi = t->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (fde_table_loc(t, mid) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || lo == t->count)
        return -1;
    *start = fde_table_loc(t, lo - 1);
    *end = fde_table_loc(t, lo);
    return *end > *start && *end - *start <= PART_BYTES_MAX ? 0 : -1;
}

/* Whether code (at link address at) holds a direct jump (jmp rel32, jcc
 * rel32) to an address in [lo, hi). Byte patterns, not decoded
 * instructions: callers ask for jumps both ways, which stray bytes do
 * not make. */
static int jumps_into(const uint8_t *code, uint64_t len, uint64_t at, uint64_t lo, uint64_t hi)
{
    for (uint64_t k = 0; k + 5 <= len; k++) {
        uint64_t insn;
        int32_t rel;
        if (code[k] == 0xe9) {
            insn = 5;
            memcpy(&rel, code + k + 1, 4);
        } else if (code[k] == 0x0f && (code[k + 1] & 0xf0) == 0x80 && k + 6 <= len) {
            insn = 6;
            memcpy(&rel, code + k + 2, 4);
        } else {
            continue;
        }
        uint64_t to = at + k + insn + (uint64_t)(int64_t)rel;
        if (to >= lo && to < hi)
            return 1;
    }
    return 0;
}

static int has_symbol_at(const struct native_object *o, uint64_t addr)
{
    size_t lo = 0, hi = o->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->syms[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < o->nsyms && o->syms[lo].addr == addr;
}

/* In a file without .symtab, the parts of function fn that the compiler
 * moved away from it (GCC with profile feedback puts most of CPython's
 * eval loop in "_PyEval_EvalFrameDefault.cold", named only in .symtab):
 * unnamed code ranges (FDEs) that fn jumps into and that jump back into
 * fn's middle, as only a part of fn does. x86-64 code only. */
static void find_parts(Elf *elf, struct native_object *o, const char *fn)
{
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64)
        return;
    size_t f = o->nsyms;
    for (size_t i = 0; i < o->nsyms; i++)
        if (o->syms[i].size && strcmp(o->names + o->syms[i].name, fn) == 0) {
            f = i;
            break;
        }
    struct fde_table t;
    if (f == o->nsyms || fde_table_read(elf, &t) != 0)
        return;
    uint64_t fs = o->syms[f].addr, fe = fs + o->syms[f].size;
    const uint8_t *code = file_bytes(elf, fs, fe - fs);
    if (!code)
        return;
    struct native_part parts[PARTS_MAX];
    size_t n = 0;
    /* Bytes of candidate code scanned, in all: many jumps out of fn may
     * lead to large unrelated code. */
    uint64_t budget = PART_SCAN_MAX;
    /* Each jump out of fn, in turn. */
    for (uint64_t k = 0; k + 5 <= fe - fs && n < PARTS_MAX; k++) {
        uint64_t insn = code[k] == 0xe9 ? 5 : code[k] == 0x0f && (code[k + 1] & 0xf0) == 0x80 ? 6 : 0;
        if (!insn || k + insn > fe - fs)
            continue;
        int32_t rel;
        memcpy(&rel, code + k + insn - 4, 4);
        uint64_t to = fs + k + insn + (uint64_t)(int64_t)rel, ps, pe;
        if (to >= fs && to < fe)
            continue;
        int known = 0;
        for (size_t j = 0; j < n; j++)
            known |= to >= parts[j].start && to < parts[j].end;
        if (known || fde_range(&t, to, &ps, &pe) != 0 || has_symbol_at(o, ps) ||
            (ps < fe && pe > fs))
            continue;
        if (pe - ps > budget)
            break;
        budget -= pe - ps;
        const uint8_t *pcode = file_bytes(elf, ps, pe - ps);
        /* Back into fn, but not to its start (a tail call does that). */
        if (pcode && jumps_into(pcode, pe - ps, ps, fs + 1, fe))
            parts[n++] = (struct native_part){ ps, pe, f };
    }
    if (n == 0)
        return;
    o->parts = malloc(n * sizeof *o->parts);
    if (!o->parts)
        return;
    memcpy(o->parts, parts, n * sizeof *parts);
    o->nparts = n;
}

/* The symbol tables: read on the first name lookup, after the thread
 * has been let go. */
static void object_load_symbols(struct native_symbols *s, struct native_object *o)
{
    o->syms_loaded = 1;
    const struct segment *seg = segment_at(s, o->start);
    if (!seg || seg->obj != o)
        return;
    Elf *elf;
    int fd = object_open(s, o, seg, &elf);
    if (fd < 0)
        return;
    size_t cap = 0, names_len = 0;
    int have_symtab = 0;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        have_symtab |= sh.sh_type == SHT_SYMTAB;
        if ((sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) &&
            read_symtab(elf, scn, &sh, o, &cap, &names_len) != 0)
            break;
    }
    qsort(o->syms, o->nsyms, sizeof *o->syms, by_addr);
    /* One symbol per address: the first after sorting. */
    size_t w = 0;
    for (size_t i = 0; i < o->nsyms; i++)
        if (w == 0 || o->syms[w - 1].addr != o->syms[i].addr)
            o->syms[w++] = o->syms[i];
    o->nsyms = w;
    o->display = calloc(w ? w : 1, sizeof *o->display);
    if (!o->display)
        o->nsyms = 0;
    if (!have_symtab && s->split_fn && o->kind == NATIVE_OBJ_INTERP)
        find_parts(elf, o, s->split_fn);
    elf_end(elf);
    close(fd);
}

struct native_object *native_symbols_object(struct native_symbols *s, uint64_t addr)
{
    const struct segment *seg = segment_at(s, addr);
    /* An address in no file mapping (a library loaded since, or code in
     * anonymous memory, which re-listing will not explain): look again,
     * but not at every sample. */
    if (!seg && s->may_relist) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        s->may_relist = 0;
        if (now - s->listed_ns >= 1000000000ull) {
            s->listed_ns = now;
            if (relist(s) == 0)
                seg = segment_at(s, addr);
        }
    }
    if (!seg)
        return NULL;
    if (!seg->obj->loaded)
        object_load(s, seg->obj, seg);
    return seg->obj;
}

int native_symbols_readonly(struct native_symbols *s, uint64_t addr)
{
    const struct segment *seg = segment_at(s, addr);
    return seg && !(seg->perms & PROC_MAP_W);
}

const char *native_symbols_function(struct native_symbols *s, struct native_object *o,
                                    uint64_t addr)
{
    if (!o->syms_loaded)
        object_load_symbols(s, o);
    if (o->nsyms == 0)
        return NULL;
    uint64_t link = addr - o->bias;
    size_t i = o->nsyms;
    /* A part of a function placed apart: no symbol of its own names it,
     * and the one before it may be unsized. */
    for (size_t k = 0; k < o->nparts; k++)
        if (link >= o->parts[k].start && link < o->parts[k].end)
            i = o->parts[k].sym;
    if (i == o->nsyms) {
        size_t lo = 0, hi = o->nsyms;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (o->syms[mid].addr <= link)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            return NULL;
        i = lo - 1;
        const struct native_sym *sym = &o->syms[i];
        if (sym->size && link - sym->addr >= sym->size)
            return NULL;
    }
    if (!o->display[i]) {
        const char *raw = o->names + o->syms[i].name;
        char *d = native_demangle(raw);
        o->display[i] = d ? d : raw;
    }
    return o->display[i];
}

void native_symbols_counts(const struct native_symbols *s, unsigned long *listings,
                           unsigned long *files)
{
    *listings = s->listings;
    *files = s->files;
}
