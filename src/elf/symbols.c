#include "config.h"

#include "elf/symbols.h"

#include "core/error.h"
#include "core/vec.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything is copied out of libelf at open time and the Elf handle is
 * ended, so lookups are plain array reads, safe from any thread; only
 * section contents are read later, with pread on the kept descriptor. */

struct sym {
    size_t name;          /* offset into strings */
    uint64_t value, size;
    unsigned rank;        /* lower wins among equal names */
    size_t order;         /* position in the input, for a stable sort */
};

struct section {
    size_t name;          /* offset into strings */
    uint64_t addr, size, offset;
    uint32_t type;
    uint64_t flags;
};

struct elf_symbols {
    int fd;
    uint64_t file_size;
    char *strings;
    size_t strings_len, strings_cap;
    struct sym *syms;
    size_t nsyms, syms_cap;
    struct section *sections;
    size_t nsections;
    int has_symtab;
    int has_load;
    uint64_t load_vaddr, load_offset;
};

static pthread_once_t version_once = PTHREAD_ONCE_INIT;
static int version_ok;

static void init_libelf(void)
{
    version_ok = elf_version(EV_CURRENT) != EV_NONE;
}

static int add_string(struct elf_symbols *e, const char *s, size_t *off)
{
    size_t len = strlen(s) + 1;
    char *n = vec_grow(e->strings, &e->strings_cap, e->strings_len + len, 1, 4096);
    if (!n)
        return -ENOMEM;
    e->strings = n;
    memcpy(e->strings + e->strings_len, s, len);
    *off = e->strings_len;
    e->strings_len += len;
    return 0;
}

/* Does [offset, offset + size) lie inside the file? libelf checks this
 * too, but a truncated file must never reach a read past its end. */
static int in_file(const struct elf_symbols *e, uint64_t offset, uint64_t size)
{
    return offset <= e->file_size && size <= e->file_size - offset;
}

/* Preference among symbols of the same name: the default version of a
 * dynamic symbol, then global .symtab entries, then hidden (non-default)
 * versions, then locals, which can repeat across compilation units. */
enum { RANK_DYN = 0, RANK_GLOBAL = 1, RANK_HIDDEN_VERSION = 2, RANK_LOCAL = 3 };

static int keep_symbol(const GElf_Sym *s)
{
    unsigned type = GELF_ST_TYPE(s->st_info);
    if (s->st_shndx == SHN_UNDEF || s->st_value == 0)
        return 0;
    return type == STT_OBJECT || type == STT_FUNC || type == STT_GNU_IFUNC;
}

/* The .gnu.version data that goes with the symbol table at index symidx. */
static Elf_Data *find_versym(Elf *elf, size_t symidx)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym && sh.sh_link == symidx)
            return elf_getdata(scn, NULL);
    }
    return NULL;
}

static int load_symtab(struct elf_symbols *e, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
    size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
    if (entsize == 0 || sh->sh_entsize != entsize || !in_file(e, sh->sh_offset, sh->sh_size))
        return -PT_ERR_FORMAT;
    GElf_Shdr strsh;
    Elf_Scn *strscn = elf_getscn(elf, sh->sh_link);
    if (!strscn || !gelf_getshdr(strscn, &strsh) || strsh.sh_type != SHT_STRTAB ||
        !in_file(e, strsh.sh_offset, strsh.sh_size))
        return -PT_ERR_FORMAT;
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data)
        return -PT_ERR_FORMAT;
    size_t count = data->d_size / entsize;
    int dynamic = sh->sh_type == SHT_DYNSYM;
    Elf_Data *versym = dynamic ? find_versym(elf, elf_ndxscn(scn)) : NULL;
    size_t nversym = versym ? versym->d_size / sizeof(GElf_Versym) : 0;

    for (size_t i = 1; i < count; i++) {   /* entry 0 is the null symbol */
        GElf_Sym s;
        if (!gelf_getsym(data, (int)i, &s) || !keep_symbol(&s))
            continue;
        const char *name = elf_strptr(elf, sh->sh_link, s.st_name);
        if (!name || !name[0])
            continue;
        unsigned rank;
        if (GELF_ST_BIND(s.st_info) == STB_LOCAL) {
            rank = RANK_LOCAL;
        } else if (dynamic) {
            GElf_Versym vs;
            rank = RANK_DYN;
            if (i < nversym && gelf_getversym(versym, (int)i, &vs) && (vs & 0x8000))
                rank = RANK_HIDDEN_VERSION;
        } else {
            rank = RANK_GLOBAL;
        }
        struct sym *n = vec_grow(e->syms, &e->syms_cap, e->nsyms + 1, sizeof *n, 1024);
        if (!n)
            return -ENOMEM;
        e->syms = n;
        struct sym *out = &e->syms[e->nsyms];
        if (add_string(e, name, &out->name) < 0)
            return -ENOMEM;
        out->value = s.st_value;
        out->size = s.st_size;
        out->rank = rank;
        out->order = e->nsyms;
        e->nsyms++;
    }
    return 0;
}

/* qsort has no context argument, so the string table is passed this way;
 * thread-local so that opens on different threads don't collide. */
static _Thread_local const char *sort_strings;

static int cmp_sym(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    int c = strcmp(sort_strings + x->name, sort_strings + y->name);
    if (c)
        return c;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static int load(struct elf_symbols *e, Elf *elf)
{
    GElf_Ehdr eh;
    if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
        return -PT_ERR_FORMAT;

    size_t phnum, shnum, shstrndx = 0;
    if (elf_getphdrnum(elf, &phnum) != 0 || elf_getshdrnum(elf, &shnum) != 0)
        return -PT_ERR_FORMAT;
    /* The section table lives at the end of the file: a truncated copy
     * loses it. libelf then quietly reports no sections, so check the
     * header's own numbers (an extended count needs entry 0 at least). */
    if (eh.e_shoff != 0) {
        uint64_t n = shnum > eh.e_shnum ? shnum : eh.e_shnum;
        if (eh.e_shentsize != gelf_fsize(elf, ELF_T_SHDR, 1, EV_CURRENT) ||
            !in_file(e, eh.e_shoff, (n ? n : 1) * eh.e_shentsize))
            return -PT_ERR_FORMAT;
    }
    if (eh.e_phoff != 0) {
        uint64_t n = phnum > eh.e_phnum ? phnum : eh.e_phnum;
        if (eh.e_phentsize != gelf_fsize(elf, ELF_T_PHDR, 1, EV_CURRENT) ||
            !in_file(e, eh.e_phoff, n * eh.e_phentsize))
            return -PT_ERR_FORMAT;
    }
    if ((phnum && !eh.e_phoff) || (shnum && !eh.e_shoff))
        return -PT_ERR_FORMAT;
    if (shnum && elf_getshdrstrndx(elf, &shstrndx) != 0)
        return -PT_ERR_FORMAT;

    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph))
            return -PT_ERR_FORMAT;
        if (ph.p_type == PT_LOAD && (!e->has_load || ph.p_vaddr < e->load_vaddr)) {
            e->has_load = 1;
            e->load_vaddr = ph.p_vaddr;
            e->load_offset = ph.p_offset;
        }
    }

    if (shnum) {
        e->sections = calloc(shnum, sizeof *e->sections);
        if (!e->sections)
            return -ENOMEM;
    }
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            return -PT_ERR_FORMAT;
        if (e->nsections < shnum) {
            const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
            struct section *s = &e->sections[e->nsections];
            if (add_string(e, name ? name : "", &s->name) < 0)
                return -ENOMEM;
            s->addr = sh.sh_addr;
            s->size = sh.sh_size;
            s->offset = sh.sh_type == SHT_NOBITS ? 0 : sh.sh_offset;
            s->type = sh.sh_type;
            s->flags = sh.sh_flags;
            e->nsections++;
        }
        if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
            int rc = load_symtab(e, elf, scn, &sh);
            if (rc < 0)
                return rc;
            if (sh.sh_type == SHT_SYMTAB)
                e->has_symtab = 1;
        }
    }

    if (e->nsyms > 1) {
        sort_strings = e->strings;
        qsort(e->syms, e->nsyms, sizeof *e->syms, cmp_sym);
        sort_strings = NULL;
    }
    return 0;
}

int elf_symbols_open(const char *path, struct elf_symbols **out)
{
    *out = NULL;
    pthread_once(&version_once, init_libelf);
    if (!version_ok)
        return -PT_ERR_FORMAT;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -PT_ERR_FORMAT;
    }

    struct elf_symbols *e = calloc(1, sizeof *e);
    if (!e) {
        close(fd);
        return -ENOMEM;
    }
    e->fd = fd;
    e->file_size = (uint64_t)st.st_size;

    /* ELF_C_READ rather than _MMAP: a file truncated under us must give
     * errors, not SIGBUS. */
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    int rc = elf ? load(e, elf) : -PT_ERR_FORMAT;
    if (elf)
        elf_end(elf);
    if (rc < 0) {
        elf_symbols_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void elf_symbols_free(struct elf_symbols *e)
{
    if (!e)
        return;
    if (e->fd >= 0)
        close(e->fd);
    free(e->strings);
    free(e->syms);
    free(e->sections);
    free(e);
}

int elf_symbols_lookup(const struct elf_symbols *e, const char *name, uint64_t *addr,
                       uint64_t *size)
{
    /* First entry with this name; the sort put the preferred one there. */
    size_t lo = 0, hi = e->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(e->strings + e->syms[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == e->nsyms || strcmp(e->strings + e->syms[lo].name, name) != 0)
        return -PT_ERR_NO_SYMBOL;
    *addr = e->syms[lo].value;
    if (size)
        *size = e->syms[lo].size;
    return 0;
}

static const struct section *find_section(const struct elf_symbols *e, const char *name)
{
    for (size_t i = 0; i < e->nsections; i++) {
        if (strcmp(e->strings + e->sections[i].name, name) == 0)
            return &e->sections[i];
    }
    return NULL;
}

int elf_symbols_section(const struct elf_symbols *e, const char *name,
                        struct elf_section_info *out)
{
    const struct section *s = find_section(e, name);
    if (!s)
        return -PT_ERR_NO_SYMBOL;
    out->addr = s->addr;
    out->size = s->size;
    out->offset = s->offset;
    out->nobits = s->type == SHT_NOBITS;
    return 0;
}

int elf_symbols_section_data(const struct elf_symbols *e, const char *name, size_t cap,
                             uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    const struct section *s = find_section(e, name);
    if (!s)
        return -PT_ERR_NO_SYMBOL;
    /* NOBITS has no file contents, and compressed contents would need
     * inflating first; neither is what a caller asking for raw bytes means. */
    if (s->type == SHT_NOBITS || (s->flags & SHF_COMPRESSED))
        return -PT_ERR_FORMAT;
    if (!in_file(e, s->offset, s->size))
        return -PT_ERR_FORMAT;
    size_t n = s->size < cap ? (size_t)s->size : cap;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(e->fd, buf + got, n - got, (off_t)(s->offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int err = r < 0 ? -errno : -PT_ERR_FORMAT;   /* shrank under us */
            free(buf);
            return err;
        }
        got += (size_t)r;
    }
    *data = buf;
    *len = n;
    return 0;
}

int elf_symbols_first_load(const struct elf_symbols *e, uint64_t *vaddr, uint64_t *offset)
{
    if (!e->has_load)
        return -PT_ERR_FORMAT;
    *vaddr = e->load_vaddr;
    *offset = e->load_offset;
    return 0;
}

uint64_t elf_load_bias(uint64_t map_start, uint64_t map_offset, uint64_t load_vaddr,
                       uint64_t load_offset)
{
    /* Runtime address of file offset X is map_start + (X - map_offset);
     * its link-time address is load_vaddr + (X - load_offset). The bias is
     * the difference, the same for every X in the segment. Unsigned
     * wrap-around gives the right answer for every ordering. */
    return map_start - map_offset - (load_vaddr - load_offset);
}

int elf_symbols_has_symtab(const struct elf_symbols *e)
{
    return e->has_symtab;
}
