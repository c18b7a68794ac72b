/* core/ containers (hash, u64map, vec, ring), the one escaper, and the
 * /proc text helpers. */
#include "config.h"

#include "core/escape.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/ring.h"
#include "core/u64map.h"
#include "core/vec.h"
#include "proc/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

/* ---- hash --------------------------------------------------------------- */

static void test_hash(void)
{
    CHECK_INT(hash_cap(0), 16, "hash_cap: at least 16");
    CHECK_INT(hash_cap(12), 16, "hash_cap: 12 keys fit 16 slots at 3/4");
    CHECK_INT(hash_cap(13), 32, "hash_cap: 13 keys need 32");
    CHECK_INT(hash_cap(SIZE_MAX), 0, "hash_cap: no capacity for SIZE_MAX keys");
    int distinct = 1;
    for (uint64_t i = 1; i < 4096 && distinct; i++)
        distinct = hash_mix64(i) != hash_mix64(i + 1) && hash_mix64(i) != i;
    CHECK(distinct, "hash_mix64 moves small keys apart");
    /* The low bits (what a table uses) of consecutive keys spread evenly:
     * 1024 keys in 16 slots, 64 expected in each. */
    unsigned per[16] = { 0 };
    for (uint64_t i = 0; i < 1024; i++)
        per[hash_mix64(i) & 15]++;
    int even = 1;
    for (int i = 0; i < 16; i++)
        even &= per[i] >= 32 && per[i] <= 96;
    CHECK(even, "hash_mix64: 1024 consecutive keys spread over 16 slots");
    CHECK(hash_fnv1a("", 0) == 0xcbf29ce484222325ull, "fnv1a: the offset basis for nothing");
    CHECK(hash_fnv1a("a", 1) == 0xaf63dc4c8601ec8cull, "fnv1a: the published value for \"a\"");
    CHECK(hash_bytes("ab\0c", 4) != hash_bytes("ab\0d", 4), "hash_bytes reads past a NUL");
    CHECK(hash_bytes("abcdefgh", 8) != hash_bytes("abcdefgh\0", 9), "hash_bytes: length counts");
    CHECK(hash_pair(1, 2) != hash_pair(2, 1), "hash_pair: order counts");
}

/* ---- u64map ------------------------------------------------------------- */

/* Keys whose home slot in a map of cap slots is home. */
static size_t keys_at(uint64_t *out, size_t n, size_t cap, size_t home)
{
    size_t k = 0;
    for (uint64_t key = 1; k < n && key < 1000000; key++)
        if ((hash_mix64(key) & (cap - 1)) == home)
            out[k++] = key;
    return k;
}

static void test_u64map_basics(void)
{
    struct u64map m;
    u64map_init(&m);
    CHECK_INT(u64map_get(&m, 7), U64MAP_NONE, "empty map: nothing there");
    CHECK_INT(u64map_del(&m, 7), 0, "empty map: nothing to delete");
    CHECK_INT(u64map_memory(&m), 0, "empty map holds no memory");
    CHECK_INT(u64map_reserve(&m, 3), 0, "reserve");
    u64map_put(&m, 7, 70);
    u64map_put(&m, UINT64_MAX, 1);
    u64map_put(&m, 0, 0);
    CHECK_INT(m.count, 3, "three keys");
    CHECK_INT(u64map_get(&m, 7), 70, "get 7");
    CHECK_INT(u64map_get(&m, UINT64_MAX), 1, "the largest key is a key");
    CHECK_INT(u64map_get(&m, 0), 0, "key 0 with value 0 is there");
    u64map_put(&m, 7, 71);
    CHECK_INT(m.count, 3, "put on a key there replaces its value");
    CHECK_INT(u64map_get(&m, 7), 71, "the new value");
    uint32_t v;
    int added = -1;
    CHECK_INT(u64map_get_or_add(&m, 7, 99, &v, &added), 0, "get_or_add an old key");
    CHECK(v == 71 && added == 0, "get_or_add: the old value, nothing added");
    CHECK_INT(u64map_get_or_add(&m, 8, 99, &v, &added), 0, "get_or_add a new key");
    CHECK(v == 99 && added == 1 && u64map_get(&m, 8) == 99, "get_or_add: added with its value");
    CHECK_INT(u64map_del(&m, 7), 1, "delete 7");
    CHECK_INT(u64map_get(&m, 7), U64MAP_NONE, "7 gone");
    CHECK_INT(m.count, 3, "count after delete");
    CHECK_INT(u64map_memory(&m), m.cap * sizeof(struct u64map_slot), "memory is the slots");
    CHECK_INT(u64map_reserve(&m, SIZE_MAX), -ENOMEM, "reserve past size_t: -ENOMEM");
    CHECK_INT(u64map_get(&m, 8), 99, "a refused reserve leaves the map as it was");
    u64map_release(&m);
    CHECK(m.slots == NULL && m.cap == 0 && m.count == 0, "release empties the map");
}

/* Deleting from a cluster that wraps past the table's end: what follows
 * the hole must stay reachable, and nothing may be left behind. */
static void test_u64map_wrap(void)
{
    struct u64map m;
    u64map_init(&m);
    u64map_reserve(&m, 1);
    CHECK_INT(m.cap, 16, "a 16-slot map");
    uint64_t last[4], first[2];
    size_t nl = keys_at(last, 4, 16, 15), nf = keys_at(first, 2, 16, 0);
    CHECK(nl == 4 && nf == 2, "keys found for the last and first slots");
    for (size_t i = 0; i < 4; i++)
        u64map_put(&m, last[i], (uint32_t)i);
    for (size_t i = 0; i < 2; i++)
        u64map_put(&m, first[i], (uint32_t)(10 + i));
    /* Slots 15, 0, 1, 2 hold last[]; first[] are pushed to 3 and 4. */
    int ok = 1;
    for (size_t d = 0; d < 4; d++) {
        ok &= u64map_del(&m, last[d]) == 1;
        for (size_t i = d + 1; i < 4; i++)
            ok &= u64map_get(&m, last[i]) == i;
        for (size_t i = 0; i < 2; i++)
            ok &= u64map_get(&m, first[i]) == 10 + i;
        ok &= u64map_get(&m, last[d]) == U64MAP_NONE;
    }
    CHECK(ok, "deletes across the wrap keep every other key reachable");
    CHECK_INT(m.count, 2, "two keys left");
    /* first[] moved back home: slot 0 and the one after it. */
    CHECK(m.slots[0].used && m.slots[0].key == first[0] && m.slots[1].key == first[1],
          "backward shift moved the survivors home");
    size_t used = 0;
    for (size_t i = 0; i < m.cap; i++)
        used += m.slots[i].used;
    CHECK_INT(used, 2, "no tombstones: only live slots are used");
    u64map_release(&m);
}

/* Random operations against a plain array. */
static void test_u64map_random(void)
{
    enum { KEYS = 3000, OPS = 200000 };
    static uint32_t ref[KEYS];      /* value + 1; 0 absent */
    struct u64map m;
    u64map_init(&m);
    uint64_t x = 88172645463325252ull;
    size_t count = 0;
    int ok = 1;
    size_t peak = 0;
    for (int op = 0; op < OPS && ok; op++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t k = (uint32_t)(x % KEYS);
        uint64_t key = (uint64_t)k * 0x100000001ull;     /* both halves used */
        int what = (int)((x >> 32) % 3);
        if (op > OPS / 2)
            what = what ? what : 2;     /* second half: only gets and deletes */
        if (what == 0) {
            if (u64map_reserve(&m, 1) != 0) {
                ok = 0;
                break;
            }
            if (!ref[k])
                count++;
            u64map_put(&m, key, (uint32_t)op);
            ref[k] = (uint32_t)op + 1;
        } else if (what == 1) {
            ok &= u64map_get(&m, key) == (ref[k] ? ref[k] - 1 : U64MAP_NONE);
        } else {
            ok &= u64map_del(&m, key) == (ref[k] != 0);
            if (ref[k])
                count--;
            ref[k] = 0;
            u64map_shrink(&m);
        }
        ok &= m.count == count;
        ok &= m.count <= m.cap - m.cap / 4 || m.cap == 0;
        if (m.cap > peak)
            peak = m.cap;
    }
    CHECK(ok, "200k random puts, gets and deletes agree with an array");
    for (uint32_t k = 0; k < KEYS; k++)
        ok &= u64map_get(&m, (uint64_t)k * 0x100000001ull) == (ref[k] ? ref[k] - 1 : U64MAP_NONE);
    CHECK(ok, "every key agrees at the end");
    CHECK(m.count == 0 && m.cap < peak, "all deleted: shrink gave memory back");
    u64map_release(&m);
}

/* ---- vec ---------------------------------------------------------------- */

static void test_vec(void)
{
    static const uint32_t sorted[] = { 3, 5, 5, 9 };
    CHECK(vec_u32_lower_bound(sorted, 4, 5) == 1 && vec_u32_lower_bound(sorted, 4, 9) == 3 &&
              vec_u32_lower_bound(sorted, 4, 1) == 0 && vec_u32_lower_bound(sorted, 4, 10) == 4 &&
              vec_u32_lower_bound(sorted, 4, 6) == 3 && vec_u32_lower_bound(sorted, 0, 6) == 0,
          "lower bound: the first not below the key, or where it would go");

    uint32_t *v = NULL;
    size_t cap = 0;
    uint32_t *g = vec_grow(v, &cap, 0, sizeof *v, 16);
    CHECK(g != NULL && cap == 16, "from nothing: min_cap items, even for 0");
    v = g;
    CHECK(vec_grow(v, &cap, 16, sizeof *v, 16) == v && cap == 16, "room already: the same array");
    for (uint32_t i = 0; i < 16; i++)
        v[i] = i * 3;
    g = vec_grow(v, &cap, 17, sizeof *v, 16);
    CHECK(g != NULL && cap == 32, "one past: doubled");
    v = g;
    g = vec_grow(v, &cap, 1000, sizeof *v, 16);
    CHECK(g != NULL && cap == 1024, "far past: doubled until it fits");
    v = g;
    int same = 1;
    for (uint32_t i = 0; i < 16; i++)
        same &= v[i] == i * 3;
    CHECK(same, "items kept through growth");
    size_t before = cap;
    CHECK(vec_grow(v, &cap, SIZE_MAX / 2 + 2, sizeof *v, 16) == NULL, "a size past size_t: refused");
    CHECK(cap == before && v[15] == 45, "a refusal leaves the array and its capacity");
    CHECK(vec_grow(v, &cap, SIZE_MAX / sizeof *v + 1, sizeof *v, 16) == NULL,
          "a byte count past size_t: refused");
    free(v);
    size_t c2 = 0;
    char *s = vec_grow(NULL, &c2, 5, 1, 0);
    CHECK(s != NULL && c2 == 8, "min_cap 0 starts at 1 and doubles");
    free(s);
}

/* ---- ring --------------------------------------------------------------- */

static void test_ring(void)
{
    struct ring r;
    ring_init(&r, 3);                       /* 8-byte items: 4096 a block */
    const size_t per = RING_BLOCK >> 3;
    CHECK_INT(ring_memory(&r), 0, "empty ring: no memory");
    uint64_t next = 0, oldest = 0;
    int ok = 1;
    /* Push 3.5 blocks, drop 2.25, push 2 more, drop everything. */
    size_t pushes[] = { per * 7 / 2, per * 2 };
    size_t drops[] = { per * 9 / 4, 0 };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < pushes[round]; i++) {
            if (ring_reserve(&r, 1) != 0) {
                ok = 0;
                break;
            }
            *(uint64_t *)ring_at(&r, r.count) = next++;
            r.count++;
        }
        for (size_t i = 0; i < r.count; i++)
            ok &= *(uint64_t *)ring_at(&r, i) == oldest + i;
        ring_drop(&r, drops[round]);
        oldest += drops[round];
        ok &= r.count == next - oldest;
        ok &= r.count == 0 || *(uint64_t *)ring_at(&r, 0) == oldest;
    }
    CHECK(ok, "items come back in order across blocks, after drops");
    CHECK(r.nblocks <= (r.head + r.count + per - 1) / per, "blocks used up went");
    ring_reserve(&r, 5 * per);
    CHECK(r.nblocks * per >= r.head + r.count + 5 * per, "reserve: room for n more");
    ring_drop(&r, r.count);
    CHECK(r.count == 0 && r.nblocks == 0 && r.head == 0, "an emptied ring holds no blocks");
    CHECK(r.spare != NULL, "but keeps one as the spare");
    CHECK_INT(ring_memory(&r), r.blocks_cap * sizeof *r.blocks + RING_BLOCK,
              "memory: the block array and the spare");
    ring_release(&r);
    CHECK(r.blocks == NULL && r.spare == NULL && r.shift == 3, "release: empty, same item size");
    /* 16-byte items fill blocks of 2048. */
    ring_init(&r, 4);
    for (size_t i = 0; i < 2049; i++) {
        ring_reserve(&r, 1);
        r.count++;
    }
    CHECK_INT(r.nblocks, 2, "16-byte items: 2048 a block");
    ring_release(&r);
}

/* ---- escaping ------------------------------------------------------------ */

static const char *esc(struct strbuf *sb, const char *s, enum escape_style st)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
    escape_put(sb, s, st);
    return strbuf_str(sb);
}

static void test_escape(void)
{
    struct strbuf sb;
    strbuf_init(&sb);
    /* "é" valid, then a stray continuation byte, a truncated sequence. */
    const char *mixed = "a\xc3\xa9\x80z\xe2\x82";
    CHECK_STR(esc(&sb, mixed, ESCAPE_UTF8), "a\xc3\xa9\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd",
              "utf8: valid kept, each invalid byte is U+FFFD");
    CHECK_STR(esc(&sb, "", ESCAPE_UTF8), "", "utf8: empty");
    CHECK_STR(esc(&sb, "q\"b\\\n\t\r\x01\x7f;", ESCAPE_JSON), "q\\\"b\\\\\\n\\t\\r\\u0001\x7f;",
              "json: quotes, backslash, controls");
    CHECK_STR(esc(&sb, "f;g\n\x02\x7f\"", ESCAPE_LABEL), "f:g\\n\\x02\\x7f\"",
              "label: ';' is ':', controls escaped");
    CHECK_STR(esc(&sb, "<a&'b'>\"\t\x01\xef\xbf\xbe\xef\xbf\xbd", ESCAPE_XML),
              "&lt;a&amp;&apos;b&apos;&gt;&quot; ?\xef\xbf\xbd\xef\xbf\xbd",
              "xml: entities, controls, U+FFFE replaced, U+FFFD kept");
    CHECK_STR(esc(&sb, "\xff;", ESCAPE_LABEL), "\xef\xbf\xbd:", "label: invalid byte then ';'");
    sb.len = 0;
    json_put_string(&sb, "x\xc0\"");
    CHECK_STR(strbuf_str(&sb), "\"x\xef\xbf\xbd\\\"\"", "json_put_string quotes the escaped text");
    CHECK(!sb.oom, "no allocation failed");
    strbuf_release(&sb);
}

/* ---- /proc text helpers -------------------------------------------------- */

static void test_procfs(void)
{
    CHECK_INT(proc_gone_errno(ENOENT), -ESRCH, "ENOENT means gone");
    CHECK_INT(proc_gone_errno(EACCES), -EACCES, "other errors kept");
    const char *num = "18446744073709551615 x";
    const char *p = num;
    uint64_t v = 1;
    CHECK(proc_parse_u64(&p, num + strlen(num), &v) == 0 && v == UINT64_MAX && *p == ' ',
          "u64: the largest value");
    const char *big = "18446744073709551616";
    p = big;
    v = 1;
    CHECK(proc_parse_u64(&p, big + strlen(big), &v) == -1 && p == big && v == 1,
          "u64: one past refused, nothing moved");
    p = num;
    CHECK(proc_parse_u64(&p, num, &v) == -1 && p == num, "u64: no room, no digits");
    const char *hex = "7fA0-";
    p = hex;
    CHECK(proc_parse_hex(&p, hex + 5, &v) == 0 && v == 0x7fa0 && *p == '-', "hex: either case");
    const char *hbig = "10000000000000000";
    p = hbig;
    CHECK(proc_parse_hex(&p, hbig + strlen(hbig), &v) == -1 && p == hbig, "hex: 17 digits refused");
    const char *bl = " \t x";
    CHECK(proc_skip_blanks(bl, bl + 4) == bl + 3, "skip spaces and tabs");
    CHECK(proc_skip_blanks(bl, bl + 1) == bl + 1, "skip stops at end");

    char path[] = "/tmp/pytop-procfs-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "a temporary file");
    if (fd < 0)
        return;
    unlink(path);
    CHECK_INT(write(fd, "hello world", 11), 11, "written");
    char buf[16];
    size_t got = 99;
    CHECK(proc_pread(fd, buf, sizeof buf, 6, &got) == 0 && got == 5 && memcmp(buf, "world", 5) == 0,
          "pread at an offset");
    CHECK(proc_pread(fd, buf, sizeof buf, 11, &got) == 0 && got == 0, "pread at the end: 0 bytes");
    close(fd);
    CHECK_INT(proc_pread(fd, buf, sizeof buf, 0, &got), -EBADF, "pread on a closed fd: -EBADF");
}

int main(void)
{
    UNIT_RUN(test_hash);
    UNIT_RUN(test_u64map_basics);
    UNIT_RUN(test_u64map_wrap);
    UNIT_RUN(test_u64map_random);
    UNIT_RUN(test_vec);
    UNIT_RUN(test_ring);
    UNIT_RUN(test_escape);
    UNIT_RUN(test_procfs);
    return unit_done();
}
