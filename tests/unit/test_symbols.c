/* Unit tests for src/elf/symbols.c on real files of this machine: the
 * libpython of every pyenv version, Debian's non-PIE /usr/bin/python3.11,
 * stripped, truncated and corrupted copies, and this process's own libc
 * and executable, whose load bias is checked against the dynamic linker.
 * The bias arithmetic is also checked live on each interpreter by reading
 * its .rodata through process_vm_readv and comparing with the file. */
#include "unit.h"

#include "core/error.h"
#include "elf/symbols.h"
#include "proc/maps.h"
#include "proc/memsrc.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Referenced from the test through the symbol table of our own binary. */
int pytop_test_symbols_marker = 42;

static char tmpdir[] = "/tmp/pytop-symbols-XXXXXX";
static int have_tmpdir;

static void skip(const char *why)
{
    unit_count++;
    printf("ok %d # SKIP %s\n", unit_count, why);
    fflush(stdout);
}

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    static char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- files --------------------------------------------------------------- */

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    *data = buf;
    *len = n;
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* ---- interpreters ---------------------------------------------------------- */

static char pyenv_root[4096];

static void find_pyenv_root(void)
{
    const char *env = getenv("PYENV_ROOT");
    struct stat st;
    if (env && *env && stat(env, &st) == 0) {
        snprintf(pyenv_root, sizeof pyenv_root, "%s", env);
        return;
    }
    const char *home = getenv("HOME");
    if (home) {
        snprintf(pyenv_root, sizeof pyenv_root, "%s/.pyenv", home);
        if (stat(pyenv_root, &st) == 0)
            return;
    }
    pyenv_root[0] = '\0';
    FILE *p = popen("pyenv root 2>/dev/null", "r");
    if (p) {
        if (fgets(pyenv_root, sizeof pyenv_root, p))
            pyenv_root[strcspn(pyenv_root, "\n")] = '\0';
        else
            pyenv_root[0] = '\0';
        pclose(p);
    }
}

/* "…/libpython3.6m.so.1.0" -> 3, 6. */
static int lib_version(const char *path, int *major, int *minor)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return sscanf(base, "libpython%d.%d", major, minor) == 2 ? 0 : -1;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The value of an 8-byte constant (Py_Version) read from the file via the
 * section that contains it. */
static int file_u64_at(const struct elf_symbols *e, const char *section, uint64_t addr,
                       uint64_t *out)
{
    struct elf_section_info si;
    uint8_t *data;
    size_t len;
    if (elf_symbols_section(e, section, &si) != 0 || addr < si.addr || addr + 8 > si.addr + si.size)
        return -1;
    size_t need = (size_t)(addr - si.addr) + 8;
    if (elf_symbols_section_data(e, section, need, &data, &len) != 0)
        return -1;
    int rc = len == need ? 0 : -1;
    if (rc == 0)
        *out = rd64(data + need - 8);
    free(data);
    return rc;
}

/* Load bias of the mapping of path that covers the first PT_LOAD. */
static int bias_of(const struct proc_maps *m, const char *path, const struct elf_symbols *e,
                   uint64_t *bias)
{
    uint64_t vaddr, off;
    if (elf_symbols_first_load(e, &vaddr, &off) != 0)
        return -1;
    for (size_t i = 0; i < m->count; i++) {
        const struct proc_map *p = &m->maps[i];
        if (strcmp(p->path, path) == 0 && p->offset <= off &&
            off - p->offset < p->end - p->start) {
            *bias = elf_load_bias(p->start, p->offset, vaddr, off);
            return 0;
        }
    }
    return -1;
}

static int maps_have(pid_t pid, const char *path)
{
    struct proc_maps m;
    int found = 0;
    if (proc_maps_read(pid, &m) == 0) {
        for (size_t i = 0; i < m.count && !found; i++)
            found = strcmp(m.maps[i].path, path) == 0;
        proc_maps_release(&m);
    }
    return found;
}

/* Run exe, wait until file (its own path or its libpython) is mapped, and
 * compare .rodata and, if present, Py_Version in its memory against what
 * the file says. name is for the messages. */
static void live_check(const char *name, const char *exe, const char *file,
                       const struct elf_symbols *e)
{
    char real[4096];
    if (!realpath(file, real)) {
        CHECK(0, fmt("%s: realpath of %s", name, file));
        return;
    }
    int in[2];
    if (pipe(in) != 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        dup2(in[0], 0);
        close(in[0]);
        close(in[1]);
        execl(exe, exe, "-c", "import sys; sys.stdin.read()", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    int mapped = 0;
    for (int i = 0; child > 0 && i < 5000 && !(mapped = maps_have(child, real)); i++)
        sleep_ms(1);
    CHECK(mapped, fmt("%s: running interpreter maps %s", name, real));

    struct proc_maps m;
    uint64_t bias = 0;
    if (mapped && proc_maps_read(child, &m) == 0) {
        int brc = bias_of(&m, real, e, &bias);
        CHECK_INT(brc, 0, fmt("%s: mapping of the first PT_LOAD found", name));
        proc_maps_release(&m);
        printf("# %s: load bias 0x%" PRIx64 "\n", name, bias);

        struct live_mem lm;
        live_mem_init(&lm, child);
        struct elf_section_info ro;
        uint8_t *want, got[64];
        size_t wlen;
        if (brc == 0 && elf_symbols_section(e, ".rodata", &ro) == 0 &&
            elf_symbols_section_data(e, ".rodata", sizeof got, &want, &wlen) == 0) {
            int rc = mem_read(&lm.base, bias + ro.addr, got, wlen);
            CHECK(rc == 0 && memcmp(got, want, wlen) == 0,
                  fmt("%s: live .rodata at bias+addr equals the file's", name));
            free(want);
        } else {
            CHECK(0, fmt("%s: .rodata of the file", name));
        }
        uint64_t addr, fv, lv;
        if (brc == 0 && elf_symbols_lookup(e, "Py_Version", &addr, NULL) == 0 &&
            file_u64_at(e, ".rodata", addr, &fv) == 0) {
            int rc = mem_read_u64(&lm.base, bias + addr, &lv);
            CHECK(rc == 0 && lv == fv, fmt("%s: live Py_Version 0x%" PRIx64 " equals the file's",
                                           name, lv));
        }
    }
    close(in[1]);
    if (child > 0)
        waitpid(child, NULL, 0);
}

static void check_libpython(const char *path, int major, int minor)
{
    char name[32];
    snprintf(name, sizeof name, "%d.%d", major, minor);
    struct elf_symbols *e = NULL;
    int rc = elf_symbols_open(path, &e);
    CHECK_INT(rc, 0, fmt("%s: open %s", name, path));
    if (rc != 0)
        return;
    int ver = major * 100 + minor;
    uint64_t addr, size, vaddr, off;

    CHECK_INT(elf_symbols_has_symtab(e), 1, fmt("%s: libpython has .symtab", name));
    CHECK_INT(elf_symbols_first_load(e, &vaddr, &off), 0, fmt("%s: first PT_LOAD", name));
    CHECK(vaddr == 0 && off == 0, fmt("%s: shared object loads from 0", name));
    CHECK_INT(elf_symbols_lookup(e, "PyDict_New", &addr, NULL), 0, fmt("%s: PyDict_New", name));
    CHECK_INT(elf_symbols_lookup(e, "dict_dealloc", &addr, NULL), 0,
              fmt("%s: static dict_dealloc from .symtab", name));

    if (ver >= 307) {
        rc = elf_symbols_lookup(e, "_PyRuntime", &addr, &size);
        CHECK_INT(rc, 0, fmt("%s: _PyRuntime found", name));
        CHECK(rc == 0 && addr != 0 && size > 100, fmt("%s: _PyRuntime has an address and a size", name));
        struct elf_section_info si;
        if (elf_symbols_section(e, ".PyRuntime", &si) == 0) {
            CHECK(si.addr == addr && !si.nobits, fmt("%s: .PyRuntime section starts at _PyRuntime", name));
        } else {
            struct elf_section_info d, b;
            int in_data = elf_symbols_section(e, ".data", &d) == 0 && addr >= d.addr &&
                          addr < d.addr + d.size;
            int in_bss = elf_symbols_section(e, ".bss", &b) == 0 && addr >= b.addr &&
                         addr < b.addr + b.size;
            CHECK(in_data || in_bss, fmt("%s: _PyRuntime lies in .data or .bss", name));
        }
    } else {
        CHECK_INT(elf_symbols_lookup(e, "_PyRuntime", &addr, NULL), -PT_ERR_NO_SYMBOL,
                  fmt("%s: no _PyRuntime before 3.7", name));
        rc = elf_symbols_lookup(e, "interp_head", &addr, &size);
        CHECK_INT(rc, 0, fmt("%s: LOCAL interp_head found in .symtab", name));
        CHECK(rc == 0 && size == 8, fmt("%s: interp_head is one pointer", name));
    }

    if (ver >= 311) {
        uint64_t v = 0;
        rc = elf_symbols_lookup(e, "Py_Version", &addr, &size);
        CHECK_INT(rc, 0, fmt("%s: Py_Version found", name));
        CHECK(rc == 0 && file_u64_at(e, ".rodata", addr, &v) == 0 &&
                  (int)(v >> 24) == major && (int)((v >> 16) & 0xff) == minor,
              fmt("%s: Py_Version value 0x%" PRIx64 " from .rodata matches", name, v));
    } else {
        CHECK_INT(elf_symbols_lookup(e, "Py_Version", &addr, NULL), -PT_ERR_NO_SYMBOL,
                  fmt("%s: no Py_Version before 3.11", name));
    }
    if (ver >= 313) {
        uint8_t *d;
        size_t len;
        rc = elf_symbols_section_data(e, ".PyRuntime", 8, &d, &len);
        CHECK(rc == 0 && len == 8 && memcmp(d, "xdebugpy", 8) == 0,
              fmt("%s: .PyRuntime starts with the debug-offsets cookie", name));
        if (rc == 0)
            free(d);
    }

    /* The interpreter next to the library, to check the bias live. */
    char exe[4096];
    const char *lib = strstr(path, "/lib/libpython");
    snprintf(exe, sizeof exe, "%.*s/bin/python%d.%d", lib ? (int)(lib - path) : 0, path, major, minor);
    if (lib && access(exe, X_OK) == 0)
        live_check(name, exe, path, e);
    else
        skip(fmt("%s: no interpreter at %s for the live check", name, exe));
    elf_symbols_free(e);
}

static const char *expected[] = { "2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12",
                                  "3.13", "3.14" };
#define NEXPECTED (sizeof expected / sizeof expected[0])

static glob_t libs;
static int have_libs;

static void test_pyenv_libpythons(void)
{
    find_pyenv_root();
    if (!pyenv_root[0]) {
        for (size_t i = 0; i < NEXPECTED; i++)
            skip(fmt("%s not installed (no pyenv root)", expected[i]));
        return;
    }
    printf("# pyenv root %s\n", pyenv_root);
    char pattern[4200];
    snprintf(pattern, sizeof pattern, "%s/versions/*/lib/libpython*.so.1.0", pyenv_root);
    have_libs = glob(pattern, 0, NULL, &libs) == 0;
    int seen[NEXPECTED] = { 0 };
    for (size_t i = 0; have_libs && i < libs.gl_pathc; i++) {
        int major, minor;
        if (lib_version(libs.gl_pathv[i], &major, &minor) != 0)
            continue;
        for (size_t j = 0; j < NEXPECTED; j++) {
            char v[16];
            snprintf(v, sizeof v, "%d.%d", major, minor);
            if (strcmp(v, expected[j]) == 0)
                seen[j] = 1;
        }
        check_libpython(libs.gl_pathv[i], major, minor);
    }
    for (size_t j = 0; j < NEXPECTED; j++) {
        if (!seen[j])
            skip(fmt("%s not installed (no libpython%s under %s/versions)", expected[j],
                     expected[j], pyenv_root));
    }
}

static void test_system_python(void)
{
    const char *path = "/usr/bin/python3.11";
    if (access(path, R_OK) != 0) {
        skip("system python3.11 not installed (/usr/bin/python3.11)");
        return;
    }
    struct elf_symbols *e;
    int rc = elf_symbols_open(path, &e);
    CHECK_INT(rc, 0, "open /usr/bin/python3.11");
    if (rc != 0)
        return;
    uint64_t addr, size, vaddr, off, v = 0;
    struct elf_section_info si;
    CHECK_INT(elf_symbols_has_symtab(e), 0, "Debian's python3.11 is stripped of .symtab");
    rc = elf_symbols_lookup(e, "_PyRuntime", &addr, &size);
    CHECK_INT(rc, 0, "_PyRuntime from .dynsym");
    CHECK_INT(elf_symbols_section(e, ".PyRuntime", &si), 0, ".PyRuntime section");
    CHECK(rc == 0 && si.addr == addr && si.size == size, ".PyRuntime section == _PyRuntime symbol");
    CHECK_INT(elf_symbols_lookup(e, "Py_Version", &addr, NULL), 0, "Py_Version from .dynsym");
    CHECK(file_u64_at(e, ".rodata", addr, &v) == 0 && (v >> 16) == 0x030b,
          fmt("Py_Version value 0x%" PRIx64 " says 3.11", v));
    CHECK_INT(elf_symbols_lookup(e, "dict_dealloc", &addr, NULL), -PT_ERR_NO_SYMBOL,
              "static symbols are gone from a stripped file");
    CHECK_INT(elf_symbols_first_load(e, &vaddr, &off), 0, "first PT_LOAD");
    CHECK(vaddr != 0 && vaddr - off == 0x400000, "non-PIE executable linked at 0x400000");
    CHECK_INT(elf_symbols_section(e, ".bss", &si), 0, ".bss section");
    CHECK(si.nobits && si.offset == 0, ".bss is NOBITS with offset 0");
    uint8_t *d = NULL;
    size_t len;
    CHECK_INT(elf_symbols_section_data(e, ".bss", 16, &d, &len), -PT_ERR_FORMAT,
              "no file data for NOBITS");
    CHECK_INT(elf_symbols_section_data(e, ".nonexistent", 16, &d, &len), -PT_ERR_NO_SYMBOL,
              "no such section");
    CHECK_INT(elf_symbols_lookup(e, "no_such_symbol_anywhere", &addr, NULL), -PT_ERR_NO_SYMBOL,
              "missing symbol");
    CHECK_INT(elf_symbols_lookup(e, "", &addr, NULL), -PT_ERR_NO_SYMBOL, "empty name");
    live_check("system 3.11", path, path, e);
    elf_symbols_free(e);
}

static void strip_and_compare(const char *src)
{
    if (!have_tmpdir) {
        skip("stripped copy: no temp dir");
        return;
    }
    uint8_t *data;
    size_t len;
    const char *copy = tmp_path("libpython-stripped.so");
    if (read_file(src, &data, &len) != 0) {
        CHECK(0, "read libpython");
        return;
    }
    int wrc = write_file(copy, data, len);
    free(data);
    if (wrc != 0) {
        CHECK(0, "copy libpython");
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "strip --strip-all '%s' 2>/dev/null", copy);
    int st = system(cmd);
    if (st != 0) {
        skip("stripped copy: strip(1) not available");
        unlink(copy);
        return;
    }
    printf("# stripped a copy of %s\n", src);
    struct elf_symbols *orig, *e;
    int rc1 = elf_symbols_open(src, &orig), rc2 = elf_symbols_open(copy, &e);
    CHECK(rc1 == 0 && rc2 == 0, "open original and stripped copy");
    if (rc1 == 0 && rc2 == 0) {
        uint64_t a1, a2;
        CHECK_INT(elf_symbols_has_symtab(e), 0, "stripped copy has no .symtab");
        CHECK_INT(elf_symbols_lookup(e, "dict_dealloc", &a2, NULL), -PT_ERR_NO_SYMBOL,
                  ".symtab-only symbol gone");
        CHECK(elf_symbols_lookup(orig, "PyDict_New", &a1, NULL) == 0 &&
                  elf_symbols_lookup(e, "PyDict_New", &a2, NULL) == 0 && a1 == a2,
              ".dynsym symbol remains at the same address");
        int major, minor;
        if (lib_version(src, &major, &minor) == 0 && major * 100 + minor >= 307)
            CHECK(elf_symbols_lookup(orig, "_PyRuntime", &a1, NULL) == 0 &&
                      elf_symbols_lookup(e, "_PyRuntime", &a2, NULL) == 0 && a1 == a2,
                  "_PyRuntime survives strip");
        else
            CHECK_INT(elf_symbols_lookup(e, "interp_head", &a2, NULL), -PT_ERR_NO_SYMBOL,
                      "LOCAL interp_head gone with .symtab");
    }
    if (rc1 == 0)
        elf_symbols_free(orig);
    if (rc2 == 0)
        elf_symbols_free(e);
    unlink(copy);
}

/* Strip one library with .symtab-only interp_head (before 3.7) and one with
 * _PyRuntime, so both kinds of lookup are seen to survive or vanish. */
static void test_stripped_copy(void)
{
    const char *old = NULL, *recent = NULL;
    for (size_t i = 0; have_libs && i < libs.gl_pathc; i++) {
        int major, minor;
        if (lib_version(libs.gl_pathv[i], &major, &minor) != 0)
            continue;
        if (major * 100 + minor < 307) {
            if (!old)
                old = libs.gl_pathv[i];
        } else if (!recent) {
            recent = libs.gl_pathv[i];
        }
    }
    if (old)
        strip_and_compare(old);
    else
        skip("stripped copy: no libpython before 3.7 installed (2.7 or 3.6)");
    if (recent)
        strip_and_compare(recent);
    else
        skip("stripped copy: no libpython 3.7+ installed");
}

static void test_not_elf(void)
{
    struct elf_symbols *e = (struct elf_symbols *)1;
    CHECK_INT(elf_symbols_open("/nonexistent/pytop/file", &e), -ENOENT, "missing file: -ENOENT");
    CHECK(e == NULL, "*out NULL on failure");
    CHECK_INT(elf_symbols_open("/dev/null", &e), -PT_ERR_FORMAT, "device: not ELF");
    CHECK_INT(elf_symbols_open("/", &e), -PT_ERR_FORMAT, "directory: not ELF");
    if (!have_tmpdir) {
        skip("non-ELF file: no temp dir");
        return;
    }
    const char *txt = tmp_path("text.so");
    const char *body = "#!/bin/sh\necho this is not an ELF file\n";
    write_file(txt, body, strlen(body));
    CHECK_INT(elf_symbols_open(txt, &e), -PT_ERR_FORMAT, "text file: -PT_ERR_FORMAT");
    write_file(txt, "", 0);
    CHECK_INT(elf_symbols_open(txt, &e), -PT_ERR_FORMAT, "empty file: -PT_ERR_FORMAT");
    write_file(txt, "!<arch>\n", 8);
    CHECK_INT(elf_symbols_open(txt, &e), -PT_ERR_FORMAT, "ar archive: -PT_ERR_FORMAT");
    unlink(txt);
    elf_symbols_free(NULL);
}

/* ---- an independent reading of a (damaged) ELF file ---------------------
 * Just enough to say whether an answer elf_symbols gave is in the bytes:
 * ELF32 and ELF64, either byte order, extended section numbering, every
 * read bounded by the file. Written from the ELF specification, not from
 * src/elf/symbols.c. */
struct raw_elf {
    const uint8_t *b;
    size_t len;
    int is64, be;
    uint64_t shoff, phoff, shnum, phnum, shstrndx;
};

static int raw_get(const struct raw_elf *r, uint64_t off, int n, uint64_t *v)
{
    if (off > r->len || (uint64_t)n > r->len - off)
        return 0;
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x |= (uint64_t)r->b[off + (r->be ? n - 1 - i : i)] << (8 * i);
    *v = x;
    return 1;
}

struct raw_shdr {
    uint64_t name, type, addr, offset, size, link;
};

static int raw_shdr(const struct raw_elf *r, uint64_t i, struct raw_shdr *s)
{
    uint64_t at = r->shoff + i * (r->is64 ? 64 : 40);
    if (i >= r->shnum)
        return 0;
    if (r->is64)
        return raw_get(r, at, 4, &s->name) && raw_get(r, at + 4, 4, &s->type) &&
               raw_get(r, at + 16, 8, &s->addr) && raw_get(r, at + 24, 8, &s->offset) &&
               raw_get(r, at + 32, 8, &s->size) && raw_get(r, at + 40, 4, &s->link);
    return raw_get(r, at, 4, &s->name) && raw_get(r, at + 4, 4, &s->type) &&
           raw_get(r, at + 12, 4, &s->addr) && raw_get(r, at + 16, 4, &s->offset) &&
           raw_get(r, at + 20, 4, &s->size) && raw_get(r, at + 24, 4, &s->link);
}

static int raw_open(struct raw_elf *r, const uint8_t *b, size_t len)
{
    *r = (struct raw_elf){ .b = b, .len = len };
    if (len < 52 || memcmp(b, "\x7f" "ELF", 4) != 0 || (b[4] != 1 && b[4] != 2) || (b[5] != 1 && b[5] != 2))
        return 0;
    r->is64 = b[4] == 2;
    r->be = b[5] == 2;
    int ok = r->is64 ? raw_get(r, 0x20, 8, &r->phoff) && raw_get(r, 0x28, 8, &r->shoff) &&
                       raw_get(r, 0x38, 2, &r->phnum) && raw_get(r, 0x3c, 2, &r->shnum) &&
                       raw_get(r, 0x3e, 2, &r->shstrndx)
                     : raw_get(r, 0x1c, 4, &r->phoff) && raw_get(r, 0x20, 4, &r->shoff) &&
                       raw_get(r, 0x2c, 2, &r->phnum) && raw_get(r, 0x30, 2, &r->shnum) &&
                       raw_get(r, 0x32, 2, &r->shstrndx);
    if (!ok)
        return 0;
    /* Extended numbering: the real counts live in section 0. */
    uint64_t n = r->shnum;
    struct raw_shdr s0;
    r->shnum = 1;
    int have0 = r->shoff && raw_shdr(r, 0, &s0);
    r->shnum = n;
    uint64_t info = 0;
    if (have0)
        raw_get(r, r->shoff + (r->is64 ? 44 : 28), 4, &info);
    if (n == 0 && have0)
        r->shnum = s0.size;
    if (r->shstrndx == 0xffff && have0)
        r->shstrndx = s0.link;
    if (r->phnum == 0xffff && have0)
        r->phnum = info;
    return 1;
}

/* Whether the string at strtab section sec + off is exactly want. */
static int raw_name_is(const struct raw_elf *r, uint64_t sec, uint64_t off, const char *want)
{
    struct raw_shdr s;
    size_t n = strlen(want) + 1;
    if (!raw_shdr(r, sec, &s) || off > s.size || n > s.size - off)
        return 0;
    uint64_t at = s.offset + off;
    return at <= r->len && n <= r->len - at && memcmp(r->b + at, want, n) == 0;
}

/* A symbol named name, with this value and size, in some symbol table. */
static int raw_has_symbol(const struct raw_elf *r, const char *name, uint64_t value, uint64_t size)
{
    uint64_t esz = r->is64 ? 24 : 16;
    for (uint64_t i = 0; i < r->shnum && i < 65536; i++) {
        struct raw_shdr s;
        if (!raw_shdr(r, i, &s) || (s.type != 2 && s.type != 11))   /* SHT_SYMTAB, SHT_DYNSYM */
            continue;
        for (uint64_t k = 1; k < s.size / esz; k++) {
            uint64_t at = s.offset + k * esz, nm, v, sz;
            int ok = r->is64 ? raw_get(r, at, 4, &nm) && raw_get(r, at + 8, 8, &v) && raw_get(r, at + 16, 8, &sz)
                             : raw_get(r, at, 4, &nm) && raw_get(r, at + 4, 4, &v) && raw_get(r, at + 8, 4, &sz);
            if (!ok)
                break;
            if (v == value && sz == size && raw_name_is(r, s.link, nm, name))
                return 1;
        }
    }
    return 0;
}

/* A section named name with these bounds. */
static int raw_has_section(const struct raw_elf *r, const char *name, const struct elf_section_info *si)
{
    for (uint64_t i = 0; i < r->shnum && i < 65536; i++) {
        struct raw_shdr s;
        if (raw_shdr(r, i, &s) && raw_name_is(r, r->shstrndx, s.name, name) && s.addr == si->addr &&
            s.size == si->size && (s.type == 8 ? si->nobits && si->offset == 0 : s.offset == si->offset))
            return 1;
    }
    return 0;
}

/* A PT_LOAD program header with this address and file offset. */
static int raw_has_load(const struct raw_elf *r, uint64_t vaddr, uint64_t offset)
{
    for (uint64_t i = 0; i < r->phnum; i++) {
        uint64_t at = r->phoff + i * (r->is64 ? 56 : 32), type, off, va;
        int ok = r->is64 ? raw_get(r, at, 4, &type) && raw_get(r, at + 8, 8, &off) && raw_get(r, at + 16, 8, &va)
                         : raw_get(r, at, 4, &type) && raw_get(r, at + 4, 4, &off) && raw_get(r, at + 8, 4, &va);
        if (ok && type == 1 && va == vaddr && off == offset)
            return 1;
    }
    return 0;
}

/* Every answer of an opened (damaged) copy is one its bytes give, or a
 * clean "not there"; the reasons it is not are printed. */
static int answers_from_bytes(const struct elf_symbols *e, const uint8_t *b, size_t len, int iter)
{
    struct raw_elf r;
    if (!raw_open(&r, b, len)) {
        printf("# copy %d opened but is not an ELF file at all\n", iter);
        return 0;
    }
    int good = 1;
    uint64_t a, s, va, of;
    int rc = elf_symbols_lookup(e, "main", &a, &s);
    if (rc == 0 ? !raw_has_symbol(&r, "main", a, s) : rc != -PT_ERR_NO_SYMBOL) {
        printf("# copy %d: main: rc %d, 0x%" PRIx64 " size %" PRIu64 " is no symbol of the file\n", iter, rc,
               rc ? 0 : a, rc ? 0 : s);
        good = 0;
    }
    struct elf_section_info si;
    rc = elf_symbols_section(e, ".text", &si);
    if (rc == 0 ? !raw_has_section(&r, ".text", &si) : rc != -PT_ERR_NO_SYMBOL) {
        printf("# copy %d: .text: rc %d, not a section of the file\n", iter, rc);
        good = 0;
    }
    uint8_t *d;
    size_t dl;
    rc = elf_symbols_section_data(e, ".rodata", 256, &d, &dl);
    if (rc == 0) {
        int same = elf_symbols_section(e, ".rodata", &si) == 0 && raw_has_section(&r, ".rodata", &si) &&
                   dl == (si.size < 256 ? si.size : 256) && si.offset <= len && dl <= len - si.offset &&
                   memcmp(d, b + si.offset, dl) == 0;
        if (!same) {
            printf("# copy %d: .rodata bytes are not the file's\n", iter);
            good = 0;
        }
        free(d);
    } else if (rc != -PT_ERR_NO_SYMBOL && rc != -PT_ERR_FORMAT) {
        printf("# copy %d: .rodata: rc %d\n", iter, rc);
        good = 0;
    }
    rc = elf_symbols_first_load(e, &va, &of);
    if (rc == 0 ? !raw_has_load(&r, va, of) : rc != -PT_ERR_FORMAT) {
        printf("# copy %d: first load: rc %d, not a PT_LOAD of the file\n", iter, rc);
        good = 0;
    }
    return good;
}

/* Cut and corrupted copies of a real ELF file must fail cleanly. */
static void test_damaged(void)
{
    if (!have_tmpdir) {
        skip("damaged copies: no temp dir");
        return;
    }
    /* Our own executable: small, always there, with both tables. */
    uint8_t *data;
    size_t len;
    if (read_file("/proc/self/exe", &data, &len) != 0 || len < 4096) {
        CHECK(0, "read own executable");
        return;
    }
    const char *copy = tmp_path("damaged");
    struct elf_symbols *e;
    size_t cuts[] = { 1, 4, 16, 52, 64, 100, 1000, len / 2, len - 100, len - 1 };
    int all = 1;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(copy, data, cuts[i]);
        int rc = elf_symbols_open(copy, &e);
        if (rc != -PT_ERR_FORMAT) {
            printf("# cut at %zu: %d\n", cuts[i], rc);
            all = 0;
        }
        if (rc == 0)
            elf_symbols_free(e);
    }
    CHECK(all, "every truncated copy: -PT_ERR_FORMAT");

    write_file(copy, data, len);
    CHECK_INT(elf_symbols_open(copy, &e), 0, "the intact copy opens");
    if (e)
        elf_symbols_free(e);

    /* Section header table pointing past the end (64-bit little-endian
     * header: e_shoff at 0x28, e_phoff at 0x20). */
    if (data[4] == 2 && data[5] == 1) {
        uint8_t *bad = malloc(len);
        uint64_t v = len - 10;
        memcpy(bad, data, len);
        memcpy(bad + 0x28, &v, 8);
        write_file(copy, bad, len);
        CHECK_INT(elf_symbols_open(copy, &e), -PT_ERR_FORMAT, "e_shoff past the end");
        memcpy(bad, data, len);
        v = UINT64_MAX - 8;
        memcpy(bad + 0x20, &v, 8);
        write_file(copy, bad, len);
        CHECK_INT(elf_symbols_open(copy, &e), -PT_ERR_FORMAT, "e_phoff wrapping around");

        /* Random corruption of the headers and section table: each copy
         * is refused with -PT_ERR_FORMAT, or opens and every answer is one
         * the damaged bytes give (checked by the reader above). */
        uint64_t shoff;
        memcpy(&shoff, data + 0x28, 8);
        uint32_t seed = 12345;
        int opened = 0, clean = 1, valid = 1;
        for (int iter = 0; iter < 300; iter++) {
            memcpy(bad, data, len);
            int flips = 1 + iter % 8;
            for (int k = 0; k < flips; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t pos;
                switch ((seed >> 16) % 3) {
                case 0: pos = (seed >> 8) % 64; break;
                case 1: pos = shoff < len ? shoff + (seed >> 4) % (len - shoff) : 0; break;
                default: pos = (seed >> 4) % len; break;
                }
                seed = seed * 1103515245u + 12345u;
                bad[pos] = (uint8_t)(seed >> 16);
            }
            write_file(copy, bad, len);
            int rc = elf_symbols_open(copy, &e);
            if (rc == 0) {
                opened++;
                valid &= answers_from_bytes(e, bad, len, iter);
                elf_symbols_free(e);
            } else if (rc != -PT_ERR_FORMAT) {
                printf("# copy %d: open gave %d, not -PT_ERR_FORMAT\n", iter, rc);
                clean = 0;
            }
        }
        printf("# %d of 300 corrupted copies still opened\n", opened);
        CHECK(clean, "300 corrupted copies: each refused with -PT_ERR_FORMAT or opened");
        CHECK(valid, "corrupted copies that open: main, .text, .rodata and the first PT_LOAD as the bytes say");
        CHECK(opened > 0 && opened < 300, "some corrupted copies open, some are refused (both paths ran)");
        free(bad);
    } else {
        skip("header corruption: not a 64-bit little-endian build");
    }
    unlink(copy);
    free(data);
}

static void static_function_in_symtab(void)
{
}

/* The bias of this very process's libc and executable, checked against
 * what the dynamic linker resolved. */
static void test_self_bias(void)
{
    struct proc_maps m;
    if (proc_maps_read(getpid(), &m) != 0) {
        CHECK(0, "read own maps");
        return;
    }
    const struct proc_map *libc = proc_maps_find(&m, (uint64_t)(uintptr_t)getpid);
    CHECK(libc != NULL, "libc mapping found");
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    CHECK(h != NULL, "libc.so.6 handle");
    if (libc && h) {
        char open_path[4096];
        struct elf_symbols *e;
        CHECK_INT(proc_map_open_path(getpid(), libc, open_path, sizeof open_path), 0,
                  "libc open path");
        int rc = elf_symbols_open(open_path, &e);
        CHECK_INT(rc, 0, fmt("open libc via %s", open_path));
        uint64_t bias;
        if (rc == 0 && bias_of(&m, libc->path, e, &bias) == 0) {
            printf("# libc %s bias 0x%" PRIx64 "\n", libc->path, bias);
            /* sched_getaffinity and timer_create have several versions: the
             * default one must win, as it does for dlsym. */
            const char *names[] = { "getpid", "sched_getaffinity", "timer_create", "environ" };
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                uint64_t a;
                void *want = dlsym(h, names[i]);
                int lrc = elf_symbols_lookup(e, names[i], &a, NULL);
                CHECK(want && lrc == 0 && bias + a == (uint64_t)(uintptr_t)want,
                      fmt("libc %s: bias + st_value == dlsym", names[i]));
            }
        } else {
            CHECK(0, "libc bias");
        }
        if (rc == 0)
            elf_symbols_free(e);
    }
    if (h)
        dlclose(h);

    const struct proc_map *self = proc_maps_find(&m, (uint64_t)(uintptr_t)test_self_bias);
    struct elf_symbols *e;
    if (self && elf_symbols_open(self->path, &e) == 0) {
        uint64_t bias, a;
        CHECK_INT(elf_symbols_has_symtab(e), 1, "test binary has .symtab");
        CHECK_INT(bias_of(&m, self->path, e, &bias), 0, "own executable bias");
        CHECK(elf_symbols_lookup(e, "static_function_in_symtab", &a, NULL) == 0 &&
                  bias + a == (uint64_t)(uintptr_t)static_function_in_symtab,
              "own static function: bias + st_value == its address");
        CHECK(elf_symbols_lookup(e, "pytop_test_symbols_marker", &a, NULL) == 0 &&
                  bias + a == (uint64_t)(uintptr_t)&pytop_test_symbols_marker,
              "own global data: bias + st_value == its address");
        elf_symbols_free(e);
    } else {
        CHECK(0, "open own executable");
    }
    proc_maps_release(&m);
}

static void test_bias_arithmetic(void)
{
    CHECK(elf_load_bias(0x400000, 0, 0x400000, 0) == 0, "non-PIE at its link address: 0");
    CHECK(elf_load_bias(0x7f0000000000, 0, 0, 0) == 0x7f0000000000, "PIE from 0");
    CHECK(elf_load_bias(0x7f0000001000, 0x1000, 0, 0) == 0x7f0000000000,
          "mapping at file offset 0x1000");
    CHECK(elf_load_bias(0x555555555000, 0x1000, 0x1000, 0x1000) == 0x555555554000,
          "first segment at a nonzero offset, vaddr == offset");
    CHECK(elf_load_bias(0x401000, 0x1000, 0x400000, 0) == 0, "non-PIE, second page of the file");
    /* A prelinked library moved below its link address: bias "negative". */
    CHECK(elf_load_bias(0x10000, 0, 0x20000, 0) == (uint64_t)-0x10000, "negative bias wraps");
}

int main(void)
{
    have_tmpdir = mkdtemp(tmpdir) != NULL;
    UNIT_RUN(test_bias_arithmetic);
    UNIT_RUN(test_pyenv_libpythons);
    UNIT_RUN(test_system_python);
    UNIT_RUN(test_stripped_copy);
    UNIT_RUN(test_not_elf);
    UNIT_RUN(test_damaged);
    UNIT_RUN(test_self_bias);
    if (have_libs)
        globfree(&libs);
    if (have_tmpdir)
        rmdir(tmpdir);
    return unit_done();
}
