/* Unit tests for the stack dictionary (src/core/stacks.c): interning
 * identity, dense ids, the call-path trie, the bounds, the add_* path a
 * reader uses, memory accounting, and a million-lookup sanity run that
 * also prints the cost per call. */
#include "unit.h"

#include "core/error.h"
#include "core/stacks.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint32_t str_id(struct stack_table *t, const char *s)
{
    uint32_t id = UINT32_MAX;
    if (stack_table_string(t, s, strlen(s), &id) != 0)
        return UINT32_MAX;
    return id;
}

static struct stack_frame frame(uint32_t fn, uint32_t file, int32_t line, int32_t first)
{
    struct stack_frame f = { fn, file, line, first };
    return f;
}

/* CPU time, not wall time: on a busy machine the test may get a fraction
 * of a core, and the cost per call is what we want to see. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- strings ------------------------------------------------------------ */

static void test_new_table(void)
{
    struct stack_table *t = stack_table_new();
    CHECK(t != NULL, "new table");
    CHECK_INT(stack_table_string_count(t), 1, "one string: the empty one");
    CHECK_STR(stack_table_str(t, 0), "", "string 0 is empty");
    CHECK_INT(stack_table_str_len(t, 0), 0, "string 0 has length 0");
    CHECK_INT(stack_table_frame_count(t), 0, "no frames");
    CHECK_INT(stack_table_node_count(t), 1, "one node: the root");
    const struct stack_node *root = stack_table_get_node(t, 0);
    CHECK(root && root->parent == 0 && root->depth == 0, "root is its own parent, depth 0");
    CHECK(stack_table_get_frame(t, 0) == NULL, "no frame 0 yet");
    CHECK(stack_table_get_node(t, 1) == NULL, "no node 1");
    CHECK_STR(stack_table_str(t, 1), "", "string out of range reads as empty");
    CHECK_INT(stack_table_str_len(t, 99), 0, "its length is 0");
    stack_table_free(t);
    /* In a child, so that a crash is a failed check, not a lost test run. */
    pid_t child = fork();
    if (child == 0) {
        stack_table_free(NULL);
        _exit(0);
    }
    int st = 0;
    CHECK(child > 0 && waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "free(NULL) returns");
    CHECK_INT(stack_table_string_count(NULL), 0, "counts of NULL are 0");
}

static void test_strings(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t a = str_id(t, "main"), b = str_id(t, "run"), c = str_id(t, "main");
    CHECK_INT(a, 1, "first string is id 1");
    CHECK_INT(b, 2, "second string is id 2");
    CHECK_INT(c, a, "an equal string gets the same id");
    CHECK_INT(str_id(t, ""), 0, "the empty string is id 0");
    uint32_t id = 77;
    CHECK_INT(stack_table_string(t, NULL, 0, &id), 0, "NULL with length 0 is the empty string");
    CHECK_INT(id, 0, "... id 0");
    CHECK_INT(stack_table_string(t, NULL, 3, &id), -EINVAL, "NULL with a length is refused");
    CHECK_STR(stack_table_str(t, a), "main", "lookup by id");
    CHECK_INT(stack_table_string_count(t), 3, "three strings");

    /* Length, not NUL, delimits: prefixes and embedded NULs are distinct. */
    uint32_t p1, p2, p3;
    stack_table_string(t, "mainloop", 4, &p1);
    stack_table_string(t, "a\0b", 3, &p2);
    stack_table_string(t, "a\0c", 3, &p3);
    CHECK_INT(p1, a, "a prefix given by length interns as that prefix");
    CHECK(p2 != p3, "strings differing after a NUL are distinct");
    CHECK_INT(stack_table_str_len(t, p2), 3, "embedded NUL kept in the length");
    CHECK(memcmp(stack_table_str(t, p3), "a\0c", 4) == 0, "stored NUL-terminated");

    const char *u = "f\xc3\xbcr_\xe6\x97\xa5\xe6\x9c\xac_\xf0\x9f\x90\x8d";
    uint32_t uid = str_id(t, u);
    CHECK_STR(stack_table_str(t, uid), u, "UTF-8 string round trip");
    CHECK_INT(str_id(t, u), uid, "UTF-8 string interned once");

    /* Pointers stay valid while the table grows. */
    const char *kept = stack_table_str(t, a);
    char name[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(name, sizeof name, "fn_%d", i);
        str_id(t, name);
    }
    CHECK(kept == stack_table_str(t, a), "string pointers do not move as the table grows");
    CHECK_INT(str_id(t, "fn_12345"), str_id(t, "fn_12345"), "lookup after growth");
    int dense = 1;
    for (int i = 0; i < 50000; i++) {
        snprintf(name, sizeof name, "fn_%d", i);
        if (strcmp(stack_table_str(t, str_id(t, name)), name) != 0)
            dense = 0;
    }
    CHECK(dense, "all 50000 strings found again with their text");
    CHECK_INT(stack_table_string_count(t), 3 + 2 + 1 + 50000, "ids are dense");

    /* A long string gets a block of its own. */
    size_t big = 200000;
    char *s = malloc(big);
    memset(s, 'x', big);
    uint32_t bid;
    CHECK_INT(stack_table_string(t, s, big, &bid), 0, "a 200 kB string");
    CHECK_INT(stack_table_str_len(t, bid), big, "its length");
    uint32_t bid2;
    stack_table_string(t, s, big, &bid2);
    CHECK_INT(bid2, bid, "interned once");
    free(s);
    stack_table_free(t);
}

/* ---- frames and nodes ---------------------------------------------------- */

static void test_frames(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fn = str_id(t, "handle"), file = str_id(t, "app.py");
    struct stack_frame f = frame(fn, file, 10, 5);
    uint32_t id0, id1, id2, id3;
    CHECK_INT(stack_table_frame(t, &f, &id0), 0, "intern a frame");
    CHECK_INT(id0, 0, "frame ids start at 0");
    f.line = 11;
    stack_table_frame(t, &f, &id1);
    CHECK_INT(id1, 1, "another line is another frame");
    f.line = 10;
    stack_table_frame(t, &f, &id2);
    CHECK_INT(id2, 0, "the same frame again");
    f.line = -1;
    f.firstline = -1;
    stack_table_frame(t, &f, &id3);
    CHECK_INT(id3, 2, "unknown line (-1) is a frame too");
    const struct stack_frame *g = stack_table_get_frame(t, 1);
    CHECK(g && g->function == fn && g->file == file && g->line == 11 && g->firstline == 5,
          "frame fields kept");
    struct stack_frame bad = frame(99, file, 1, 1);
    CHECK_INT(stack_table_frame(t, &bad, &id0), -EINVAL, "a frame with an unknown string");
    bad = frame(fn, 99, 1, 1);
    CHECK_INT(stack_table_frame(t, &bad, &id0), -EINVAL, "a frame with an unknown file");
    CHECK_INT(stack_table_frame_count(t), 3, "three frames");
    stack_table_free(t);
}

static void test_nodes(void)
{
    struct stack_table *t = stack_table_new();
    uint32_t fn = str_id(t, "f"), file = str_id(t, "m.py");
    uint32_t fr[4];
    for (int i = 0; i < 4; i++) {
        struct stack_frame f = frame(fn, file, i + 1, 1);
        stack_table_frame(t, &f, &fr[i]);
    }
    /* root -> 0 -> 1 -> 2, and root -> 0 -> 3 */
    uint32_t a, b, c, d, again;
    CHECK_INT(stack_table_node(t, 0, fr[0], &a), 0, "child of the root");
    CHECK_INT(a, 1, "first node is id 1");
    stack_table_node(t, a, fr[1], &b);
    stack_table_node(t, b, fr[2], &c);
    stack_table_node(t, a, fr[3], &d);
    CHECK_INT(b, 2, "dense node ids");
    CHECK_INT(c, 3, "dense node ids");
    CHECK_INT(d, 4, "dense node ids");
    stack_table_node(t, b, fr[2], &again);
    CHECK_INT(again, c, "the same path is the same node");
    stack_table_node(t, 0, fr[1], &again);
    CHECK(again != b, "the same frame under another parent is another node");
    const struct stack_node *n = stack_table_get_node(t, c);
    CHECK(n && n->parent == b && n->frame == fr[2] && n->depth == 3, "node parent, frame, depth");
    n = stack_table_get_node(t, d);
    CHECK(n && n->parent == a && n->depth == 2, "sibling branch");
    /* Frame 0 is a real frame: a node for it under the root is not the root. */
    uint32_t z;
    stack_table_node(t, 0, 0, &z);
    CHECK_INT(z, a, "frame 0 under the root is node 1, not the root");
    CHECK_INT(stack_table_node(t, 999, fr[0], &z), -EINVAL, "unknown parent refused");
    CHECK_INT(stack_table_node(t, 0, 999, &z), -EINVAL, "unknown frame refused");

    /* A deep recursive path: depth follows, every node distinct. */
    uint32_t leaf = 0;
    for (int i = 0; i < 3000; i++)
        stack_table_node(t, leaf, fr[i & 3], &leaf);
    CHECK_INT(stack_table_get_node(t, leaf)->depth, 3000, "depth of a 3000-frame path");
    uint32_t walk = leaf, steps = 0;
    while (walk != 0 && steps < 5000) {
        walk = stack_table_get_node(t, walk)->parent;
        steps++;
    }
    CHECK_INT(steps, 3000, "parents lead back to the root");
    stack_table_free(t);
}

/* ---- bounds ----------------------------------------------------------- */

static void test_limits(void)
{
    /* 4 strings ("" + 3), 20 bytes, 3 frames, 4 nodes (root + 3). */
    struct stack_table *t = stack_table_new_limited(4, 20, 3, 4);
    CHECK(t != NULL, "limited table");
    uint32_t id;
    CHECK_INT(stack_table_string(t, "aaaa", 4, &id), 0, "string 1");
    CHECK_INT(stack_table_string(t, "bbbb", 4, &id), 0, "string 2");
    CHECK_INT(stack_table_string(t, "aaaa", 4, &id), 0, "an existing string at the bound");
    CHECK_INT(stack_table_string(t, "cccccccccccccc", 14, &id), -ENOSPC,
              "past the byte bound: -ENOSPC");
    CHECK_INT(stack_table_string_count(t), 3, "a refused string adds nothing");
    CHECK_INT(stack_table_string(t, "cc", 2, &id), 0, "string 3 fits");
    CHECK_INT(stack_table_string(t, "d", 1, &id), -ENOSPC, "past the count bound: -ENOSPC");
    CHECK_INT(stack_table_string(t, "", 0, &id), 0, "the empty string still works");
    CHECK_INT(stack_table_string(t, "bbbb", 4, &id), 0, "existing strings still intern");
    CHECK_INT(id, 2, "... with their ids");

    uint32_t fr[3];
    for (int i = 0; i < 3; i++) {
        struct stack_frame f = frame(1, 2, i, 0);
        CHECK_INT(stack_table_frame(t, &f, &fr[i]), 0, "frame within the bound");
    }
    struct stack_frame extra = frame(1, 2, 99, 0);
    CHECK_INT(stack_table_frame(t, &extra, &id), -ENOSPC, "frame past the bound: -ENOSPC");
    struct stack_frame old = frame(1, 2, 1, 0);
    CHECK_INT(stack_table_frame(t, &old, &id), 0, "existing frame at the bound");
    CHECK_INT(id, fr[1], "... keeps its id");

    uint32_t n1, n2, n3;
    CHECK_INT(stack_table_node(t, 0, fr[0], &n1), 0, "node 1");
    CHECK_INT(stack_table_node(t, n1, fr[1], &n2), 0, "node 2");
    CHECK_INT(stack_table_node(t, n2, fr[2], &n3), 0, "node 3");
    CHECK_INT(stack_table_node(t, n3, fr[0], &id), -ENOSPC, "node past the bound: -ENOSPC");
    CHECK_INT(stack_table_node(t, n1, fr[1], &id), 0, "existing node at the bound");
    CHECK_INT(id, n2, "... keeps its id");
    CHECK_INT(stack_table_node_count(t), 4, "node count at the bound");
    stack_table_free(t);

    CHECK(stack_table_new_limited(0, 10, 10, 10) == NULL, "no room for \"\": refused");
    CHECK(stack_table_new_limited(10, 10, 10, 0) == NULL, "no room for the root: refused");

    /* The real bounds, through the reader path: filling a full table one
     * entry at a time would take long, so check the node bound with a
     * limited table of the real kind and the string byte bound directly. */
    t = stack_table_new();
    size_t big = STACKS_MAX_STRING_BYTES + 1;
    char *s = calloc(1, big);
    CHECK_INT(stack_table_string(t, s, big, &id), -ENOSPC, "a string over the byte bound");
    CHECK_INT(stack_table_add_string(t, 1, s, big), -ENOSPC, "the same through add_string");
    free(s);
    stack_table_free(t);

    /* Bounds above the global ones are clamped to them. */
    t = stack_table_new_limited(UINT32_MAX, SIZE_MAX, UINT32_MAX, UINT32_MAX);
    CHECK(t != NULL, "a table asking for more than the bounds is clamped");
    stack_table_free(t);
}

static void test_node_bound_many(void)
{
    /* A bound met by filling: one long path over 100 frames. */
    struct stack_table *t = stack_table_new_limited(16, 1024, 100, 20000);
    uint32_t fn, file, fr[100];
    stack_table_string(t, "f", 1, &fn);
    stack_table_string(t, "g.py", 4, &file);
    for (int i = 0; i < 100; i++) {
        struct stack_frame f = frame(fn, file, i, 0);
        stack_table_frame(t, &f, &fr[i]);
    }
    int err = 0;
    uint32_t made = 0, parent = 0, id;
    for (int i = 0; i < 30000 && !err; i++) {
        err = stack_table_node(t, parent, fr[i % 100], &id);
        if (!err) {
            made++;
            parent = id;
        }
    }
    CHECK_INT(err, -ENOSPC, "filling nodes ends in -ENOSPC");
    CHECK_INT(stack_table_node_count(t), 20000, "exactly at the bound");
    CHECK_INT(made, 19999, "every node below the bound was made");
    stack_table_free(t);
}

/* ---- the reader path ---------------------------------------------------- */

static void test_add(void)
{
    struct stack_table *t = stack_table_new();
    CHECK_INT(stack_table_add_string(t, 0, "x", 1), -PT_ERR_FORMAT, "string id 0 is taken");
    CHECK_INT(stack_table_add_string(t, 2, "x", 1), -PT_ERR_FORMAT, "string id must be next");
    CHECK_INT(stack_table_add_string(t, 1, "main", 4), 0, "add string 1");
    CHECK_INT(stack_table_add_string(t, 2, "app.py", 6), 0, "add string 2");
    CHECK_INT(stack_table_add_string(t, 3, "main", 4), 0, "a duplicate string takes its id");
    CHECK_INT(stack_table_string_count(t), 4, "four strings");
    CHECK_INT(str_id(t, "main"), 1, "interning finds the earlier copy");
    CHECK_STR(stack_table_str(t, 3), "main", "the duplicate reads back");

    struct stack_frame f = frame(1, 2, 7, 3);
    CHECK_INT(stack_table_add_frame(t, 1, &f), -PT_ERR_FORMAT, "frame id must be next");
    struct stack_frame bad = frame(9, 2, 7, 3);
    CHECK_INT(stack_table_add_frame(t, 0, &bad), -PT_ERR_FORMAT, "frame with an unknown string");
    CHECK_INT(stack_table_add_frame(t, 0, &f), 0, "add frame 0");
    uint32_t id;
    stack_table_frame(t, &f, &id);
    CHECK_INT(id, 0, "an added frame is found by interning");

    CHECK_INT(stack_table_add_node(t, 0, 0, 0), -PT_ERR_FORMAT, "node id 0 is the root");
    CHECK_INT(stack_table_add_node(t, 1, 5, 0), -PT_ERR_FORMAT, "node with an unknown parent");
    CHECK_INT(stack_table_add_node(t, 1, 0, 5), -PT_ERR_FORMAT, "node with an unknown frame");
    CHECK_INT(stack_table_add_node(t, 1, 1, 0), -PT_ERR_FORMAT, "node as its own parent");
    CHECK_INT(stack_table_add_node(t, 1, 0, 0), 0, "add node 1");
    CHECK_INT(stack_table_add_node(t, 2, 1, 0), 0, "add node 2");
    CHECK_INT(stack_table_get_node(t, 2)->depth, 2, "added nodes get their depth");
    stack_table_node(t, 1, 0, &id);
    CHECK_INT(id, 2, "an added node is found by interning");
    stack_table_node(t, 2, 0, &id);
    CHECK_INT(id, 3, "interning continues after added ids");

    struct stack_table *small = stack_table_new_limited(2, 100, 1, 2);
    CHECK_INT(stack_table_add_string(small, 1, "a", 1), 0, "add within the bound");
    CHECK_INT(stack_table_add_string(small, 2, "b", 1), -ENOSPC, "add past the bound: -ENOSPC");
    struct stack_frame f2 = frame(1, 1, 1, 1);
    CHECK_INT(stack_table_add_frame(small, 0, &f2), 0, "frame within the bound");
    CHECK_INT(stack_table_add_frame(small, 1, &f2), -ENOSPC, "frame past the bound");
    CHECK_INT(stack_table_add_node(small, 1, 0, 0), 0, "node within the bound");
    CHECK_INT(stack_table_add_node(small, 2, 1, 0), -ENOSPC, "node past the bound");
    stack_table_free(small);
    stack_table_free(t);
}

/* ---- memory and speed --------------------------------------------------- */

static void test_memory(void)
{
    struct stack_table *t = stack_table_new();
    size_t m0 = stack_table_memory(t);
    CHECK(m0 > sizeof(void *) * 8, "an empty table reports its memory");
    char name[32];
    uint32_t file = str_id(t, "mod.py"), parent = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "function_%d", i);
        struct stack_frame f = frame(str_id(t, name), file, i, i);
        uint32_t fid;
        stack_table_frame(t, &f, &fid);
        stack_table_node(t, parent, fid, &parent);
        if (i % 50 == 49)
            parent = 0;
    }
    size_t m1 = stack_table_memory(t);
    CHECK(m1 > m0, "memory grows with entries");
    /* At least the entries themselves, at most a generous multiple. */
    size_t payload = 100000 * (sizeof(struct stack_frame) + sizeof(struct stack_node) + 14);
    CHECK(m1 >= payload, "memory covers the entries");
    CHECK(m1 < payload * 8, "memory is not wildly over the entries");
    printf("# memory: empty %zu B, 100k strings/frames/nodes %zu B\n", m0, m1);
    stack_table_free(t);
}

static void test_speed(void)
{
    /* A sampler's pattern: the same few thousand stacks, over and over. */
    struct stack_table *t = stack_table_new();
    enum { NFUNC = 2000, DEPTH = 10, ROUNDS = 100000 };
    uint32_t file = str_id(t, "work.py"), fn[NFUNC];
    char name[32];
    for (int i = 0; i < NFUNC; i++) {
        snprintf(name, sizeof name, "fn_%d", i);
        fn[i] = str_id(t, name);
    }
    uint64_t x = 12345;
    uint64_t sum = 0;
    int errors = 0;
    double start = now_s();
    for (int r = 0; r < ROUNDS; r++) {
        uint32_t node = 0;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t branch = (uint32_t)(x >> 40) % 500;
        for (int d = 0; d < DEPTH; d++) {
            uint32_t k = (branch * 7 + (uint32_t)d * 13) % NFUNC;
            struct stack_frame f = frame(fn[k], file, 10 + d, 1);
            uint32_t fid;
            if (stack_table_frame(t, &f, &fid) != 0 || stack_table_node(t, node, fid, &node) != 0)
                errors++;
        }
        sum += node;
    }
    double secs = now_s() - start;
    CHECK_INT(errors, 0, "1e6 frame + node lookups");
    CHECK(sum > 0, "lookups give nodes");
    CHECK(stack_table_node_count(t) <= 1 + 500 * DEPTH, "repeated stacks add no nodes");
    printf("# speed: %.1f ns per frame+node pair (%d pairs in %.3f s)\n",
           secs * 1e9 / (ROUNDS * DEPTH), ROUNDS * DEPTH, secs);

    /* The same for each call on its own. */
    struct stack_frame f = frame(fn[1], file, 10, 1);
    uint32_t fid = 0, nid = 0;
    stack_table_frame(t, &f, &fid);
    start = now_s();
    for (int i = 0; i < 1000000; i++) {
        f.line = 10 + (i & 7);
        stack_table_frame(t, &f, &fid);
        sum += fid;
    }
    double fsecs = now_s() - start;
    start = now_s();
    for (int i = 0; i < 1000000; i++) {
        stack_table_node(t, (uint32_t)(i & 1023) % stack_table_node_count(t), fid, &nid);
        sum += nid;
    }
    double nsecs = now_s() - start;
    printf("# speed: stack_table_frame %.1f ns, stack_table_node %.1f ns per call (hits)\n",
           fsecs * 1e3, nsecs * 1e3);
    CHECK(sum > 0, "1e6 more of each finished");
    stack_table_free(t);
}

/* ---- one thread adding, another reading -------------------------------- */

static atomic_int adder_done;

static void *adder(void *arg)
{
    struct stack_table *t = arg;
    char name[32];
    uint32_t file = str_id(t, "threads.py"), node = 0;
    for (int i = 0; i < 200000; i++) {
        snprintf(name, sizeof name, "f%d", i % 5000);
        struct stack_frame f = frame(str_id(t, name), file, i % 97, 1);
        uint32_t fid;
        stack_table_frame(t, &f, &fid);
        stack_table_node(t, node, fid, &node);
        if (i % 13 == 12)
            node = 0;
    }
    atomic_store(&adder_done, 1);
    return NULL;
}

static void test_concurrent_reads(void)
{
    struct stack_table *t = stack_table_new();
    pthread_t th;
    atomic_store(&adder_done, 0);
    if (pthread_create(&th, NULL, adder, t) != 0) {
        CHECK(0, "start an adding thread");
        return;
    }
    /* Whatever count this thread sees, the entries below it are whole. */
    uint64_t reads = 0, bad = 0, x = 99;
    while (!atomic_load(&adder_done) || reads < 1000) {
        uint32_t nn = stack_table_node_count(t), nf = stack_table_frame_count(t);
        uint32_t ns = stack_table_string_count(t);
        x = x * 6364136223846793005ull + 1;
        uint32_t id = (uint32_t)(x >> 33) % nn;
        const struct stack_node *n = stack_table_get_node(t, id);
        if (!n || (id && (n->parent >= id || n->depth != stack_table_get_node(t, n->parent)->depth + 1)))
            bad++;
        if (nf) {
            const struct stack_frame *f = stack_table_get_frame(t, (uint32_t)(x >> 20) % nf);
            if (!f || f->function >= stack_table_string_count(t) ||
                stack_table_str(t, f->function)[0] != 'f')
                bad++;
        }
        if (stack_table_str_len(t, ns - 1) == 0 && ns > 1)
            bad++;
        reads++;
    }
    pthread_join(th, NULL);
    CHECK_INT(bad, 0, "reads while another thread adds see whole entries");
    printf("# %llu reads while adding\n", (unsigned long long)reads);
    stack_table_free(t);
}

int main(void)
{
    UNIT_RUN(test_new_table);
    UNIT_RUN(test_strings);
    UNIT_RUN(test_frames);
    UNIT_RUN(test_nodes);
    UNIT_RUN(test_limits);
    UNIT_RUN(test_node_bound_many);
    UNIT_RUN(test_add);
    UNIT_RUN(test_memory);
    UNIT_RUN(test_speed);
    UNIT_RUN(test_concurrent_reads);
    return unit_done();
}
