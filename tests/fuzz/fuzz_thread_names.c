/* libFuzzer target for the thread-name reader (src/python/thread_names.c):
 * sys.modules -> threading -> _active -> Thread -> _name, through dicts
 * of every layout (2.7's, 3.6+'s compact ones, split keys, 3.11+'s
 * managed dicts and inline values) whose bytes come from the input.
 *
 * Input (the seeds are real registries, written by tests/unit/
 * test_thread_names with PYTOP_THREAD_NAMES_SEEDS=DIR):
 *   u8 major, u8 minor, u8 micro, u8 free_threaded   the layout
 *   u64 interp                                       the interpreter state
 *   u8 n, n x u64                                    the idents asked for
 *   then records: u64 addr, u32 len, len bytes       the target's memory
 * (little-endian; at most 256 records, a short last one is cut).
 *
 * Besides not crashing, reading out of bounds or looping, the result must
 * keep the contract of thread_names.h: a count no larger than n, every
 * name NUL-terminated in its slot, no name at all after an error, never
 * more names than the count, and (3.x) valid UTF-8. */
#include "config.h"

#include "core/utf8.h"
#include "python/thread_names.h"
#include "python/walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IDENTS 16
#define MAX_RECORDS 256

/* The records as memory: a read is served when it lies inside one
 * (fake_mem holds too few for a real registry). */
struct records {
    struct mem_source base;
    size_t n;
    struct { uint64_t addr; const uint8_t *data; size_t len; } r[MAX_RECORDS];
};

static int records_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    const struct records *m = (const struct records *)src;
    for (size_t i = 0; i < m->n; i++) {
        if (addr >= m->r[i].addr && addr - m->r[i].addr <= m->r[i].len &&
            len <= m->r[i].len - (addr - m->r[i].addr)) {
            memcpy(buf, m->r[i].data + (addr - m->r[i].addr), len);
            return 0;
        }
    }
    return -EFAULT;
}

static const struct py_layout *pick_layout(const uint8_t *h)
{
    const struct py_layout *l = h[3] ? py_layout_for_build(h[0], h[1], 1)
                                     : py_layout_for_micro(h[0], h[1], h[2]);
    if (!l && py_layouts_count)
        l = py_layouts_all[(h[0] * 31u + h[1] * 7u + h[2]) % py_layouts_count];
    return l;
}

static int valid_utf8(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        size_t k = utf8_seq_len((const unsigned char *)s, n);
        if (!k)
            return 0;
        s += k, n -= k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 13)
        return 0;
    const struct py_layout *l = pick_layout(data);
    if (!l)
        return 0;
    uint64_t interp;
    memcpy(&interp, data + 4, 8);
    size_t n = data[12] % (MAX_IDENTS + 1), at = 13;
    uint64_t idents[MAX_IDENTS];
    for (size_t i = 0; i < n; i++) {
        idents[i] = 0;
        if (at + 8 <= size)
            memcpy(&idents[i], data + at, 8);
        at += 8;
    }
    static struct records m;
    memset(&m, 0, sizeof m);
    m.base.read = records_read;
    while (at + 12 <= size && m.n < MAX_RECORDS) {
        uint64_t addr;
        uint32_t len;
        memcpy(&addr, data + at, 8);
        memcpy(&len, data + at + 8, 4);
        at += 12;
        if (len > size - at)
            len = (uint32_t)(size - at);
        if (len) {
            m.r[m.n].addr = addr;
            m.r[m.n].data = data + at;
            m.r[m.n].len = len;
            m.n++;
        }
        at += len;
    }

    struct py_walker w;
    memset(&w, 0, sizeof w);
    w.mem = &m.base;
    w.layout = *l;
    char names[MAX_IDENTS][PY_THREAD_NAME_MAX];
    memset(names, 'x', sizeof names);
    int rc = py_thread_names(&w, interp, idents, n, names);
    if (rc > (int)n)
        abort();
    int named = 0;
    for (size_t i = 0; i < n; i++) {
        if (!memchr(names[i], '\0', PY_THREAD_NAME_MAX))
            abort();
        if (names[i][0]) {
            named++;
            if (l->major == 3 && !valid_utf8(names[i]))
                abort();
        }
    }
    if (named > (rc > 0 ? rc : 0))
        abort();
    return 0;
}
