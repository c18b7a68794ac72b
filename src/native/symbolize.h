/* Native addresses to names: which mapped object an address falls in, and
 * which function symbol of that object covers it.
 *
 * The objects come from /proc/PID/maps; each one's ELF file is opened once
 * (through /proc/PID/map_files or /proc/PID/root), its function symbols
 * from .symtab and .dynsym are copied, sorted by address and searched by
 * bisection, and its load bias is taken from the lowest PT_LOAD. The same
 * object table tells the unwinder where each object's .eh_frame_hdr is.
 * Objects are re-listed when an address falls outside every known one
 * (a library loaded since), at most once per sample. */
#ifndef PYTOP_NATIVE_SYMBOLIZE_H
#define PYTOP_NATIVE_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What an object is to the merge: the interpreter's own code (folded away
 * by default), the C runtime (libc, libpthread, the dynamic loader: its
 * process and thread start-up frames are folded), or anything else
 * (extension modules, C++ libraries: always kept). */
enum native_object_kind {
    NATIVE_OBJ_OTHER,
    NATIVE_OBJ_INTERP,
    NATIVE_OBJ_RUNTIME,
};

struct native_sym {
    uint64_t addr;          /* link-time address */
    uint64_t size;          /* 0 when the symbol table gives none */
    uint32_t name;          /* offset into the object's name arena */
};

/* A part of a function that the compiler placed away from its symbol
 * (GCC's "fn.cold" in .text.unlikely), found when the file has no .symtab
 * to name it. Link-time addresses. */
struct native_part {
    uint64_t start, end;
    size_t sym;             /* index in syms of the function it belongs to */
};

struct native_object {
    char *path;             /* as the target maps it; owned */
    uint64_t inode;
    uint64_t start, end;    /* lowest and highest address of its mappings */
    uint64_t bias;          /* runtime address = link-time address + bias */
    enum native_object_kind kind;
    int loaded;             /* program headers read (or tried) */
    int syms_loaded;        /* symbol tables read (or tried: nsyms 0) */
    struct native_sym *syms;    /* sorted by addr; owned */
    size_t nsyms;
    char *names;            /* NUL-terminated names; owned */
    const char **display;   /* per symbol, demangled or raw, filled lazily; owned */
    struct native_part *parts;  /* owned */
    size_t nparts;
    /* Unwinding: the runtime address of .eh_frame_hdr (0: none), and what
     * the unwinder decoded from it (fde_count < 0: not decoded yet). */
    uint64_t eh_frame_hdr;
    uint64_t eh_table;
    int64_t fde_count;
};

struct native_symbols;   /* opaque */

/* interp_path is the file holding the interpreter (libpython or the
 * executable); it and libpython*, python* files are NATIVE_OBJ_INTERP.
 * split_fn (may be NULL) names a function of the interpreter whose parts
 * placed apart must be recognised even in a stripped file: addresses in
 * them are named as the function itself. Returns 0, -ENOMEM, or the error
 * reading the maps (-ESRCH, -EACCES). */
int native_symbols_new(pid_t pid, const char *interp_path, const char *split_fn,
                       struct native_symbols **out);
void native_symbols_free(struct native_symbols *s);   /* NULL is fine */

/* A new sample: allows one re-listing of the objects, and releases
 * objects dropped by an earlier re-listing. Names handed out before this
 * call may then be freed. */
void native_symbols_begin_sample(struct native_symbols *s);

/* The object mapped at addr, its file read on first use; NULL when addr
 * is in no file mapping. Owned by s, valid until the next
 * native_symbols_begin_sample. */
struct native_object *native_symbols_object(struct native_symbols *s, uint64_t addr);

/* The function covering addr in obj (an object of s), demangled; NULL
 * when no symbol covers it. The symbol tables are read on first use.
 * Owned by obj. */
const char *native_symbols_function(struct native_symbols *s, struct native_object *obj,
                                    uint64_t addr);

/* Whether addr lies in a mapping the target cannot write (code and
 * unwind tables), whose contents can be cached across samples. */
int native_symbols_readonly(struct native_symbols *s, uint64_t addr);

/* Times the objects were listed, and files read. */
void native_symbols_counts(const struct native_symbols *s, unsigned long *listings,
                           unsigned long *files);

#endif
