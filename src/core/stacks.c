#include "config.h"

#include "core/stacks.h"

#include "core/error.h"
#include "core/hash.h"
#include "core/vec.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Entries live in fixed-size chunks that never move once allocated, so a
 * pointer from a lookup stays valid for the table's life, and growing a
 * big table never copies it. The chunk directory is sized for the bound at
 * creation and never moves either: a thread reading entries by ids handed
 * to it in a synchronised way never meets memory being reallocated. */
#define CHUNK_SHIFT 10
#define CHUNK_LEN (1u << CHUNK_SHIFT)
#define CHUNK_MASK (CHUNK_LEN - 1)

/* String bytes go into blocks of this size; a string bigger than a quarter
 * block gets a block of its own so blocks waste little at their ends. */
#define BLOCK_SIZE (64u << 10)
#define BIG_STRING (BLOCK_SIZE / 4)

#define INDEX_MIN 1024u

struct str_entry {
    const char *s;          /* NUL-terminated copy, in a block */
    uint32_t len;
    uint32_t hash;
};

/* Open-addressing slots, linear probing. id 0 means empty: string 0 ("")
 * and node 0 (the root) are never indexed, frames store id + 1. */
struct id_slot {
    uint32_t hash;
    uint32_t id;
};

/* Node slots hold their whole key, so a lookup touches one cache line. */
struct node_slot {
    uint32_t parent;
    uint32_t frame;
    uint32_t id;
};

/* A list of fixed chunks. */
struct chunks {
    void **dir;             /* room for every chunk up to the bound */
    uint32_t ndir;          /* chunks allocated */
    uint32_t dir_cap;
    size_t elem;            /* bytes per entry */
};

struct stack_table {
    uint32_t max_strings, max_frames, max_nodes;
    size_t max_string_bytes;

    /* The counts other threads see: stored (release) after an entry is
     * complete, so an id below a count read (acquire) is safe to look up
     * while the adding thread goes on. The adding thread uses the plain
     * counts below. */
    _Atomic uint32_t shown_strings, shown_frames, shown_nodes;

    struct chunks strings;
    uint32_t nstrings;
    size_t string_bytes;    /* sum of lengths, for the byte bound */
    char **blocks;          /* every block, for freeing */
    size_t nblocks, blocks_cap;
    size_t block_mem;       /* bytes allocated in blocks */
    char *block;            /* current block for small strings */
    size_t block_used;
    struct id_slot *str_index;
    uint32_t str_mask, str_used;

    struct chunks frames;
    uint32_t nframes;
    struct id_slot *frame_index;
    uint32_t frame_mask, frame_used;

    struct chunks nodes;
    uint32_t nnodes;
    struct node_slot *node_index;
    uint32_t node_mask, node_used;
};

/* ---- hashing ----------------------------------------------------------- */

static inline uint32_t hash_string(const char *s, size_t len)
{
    return (uint32_t)hash_bytes(s, len);
}

/* Field by field, not as two 64-bit words: callers usually fill a frame
 * just before interning it, and a 64-bit load over two fresh 32-bit
 * stores stalls store forwarding (it tripled the cost per call). */
static inline uint32_t hash_frame(const struct stack_frame *f)
{
    uint64_t h = f->function;
    h = h * 0x9E3779B97F4A7C15ull + f->file;
    h = h * 0x9E3779B97F4A7C15ull + (uint32_t)f->line;
    h = h * 0x9E3779B97F4A7C15ull + (uint32_t)f->firstline;
    return (uint32_t)hash_mix64(h);
}

static inline uint32_t hash_node(uint32_t parent, uint32_t frame)
{
    return (uint32_t)hash_mix64((uint64_t)parent << 32 | frame);
}

/* ---- chunked storage ---------------------------------------------------- */

static inline void *chunk_at(const struct chunks *c, uint32_t i)
{
    return (char *)c->dir[i >> CHUNK_SHIFT] + (size_t)(i & CHUNK_MASK) * c->elem;
}

static int chunks_init(struct chunks *c, size_t elem, uint32_t max_entries)
{
    c->elem = elem;
    c->ndir = 0;
    c->dir_cap = (max_entries + CHUNK_LEN - 1) / CHUNK_LEN;
    c->dir = calloc(c->dir_cap ? c->dir_cap : 1, sizeof *c->dir);
    return c->dir ? 0 : -ENOMEM;
}

/* Make room for entry i (the next one, below the bound). */
static int chunks_reserve(struct chunks *c, uint32_t i)
{
    uint32_t need = (i >> CHUNK_SHIFT) + 1;
    if (need <= c->ndir)
        return 0;
    if (c->ndir == c->dir_cap)
        return -ENOSPC;   /* callers check the bound first; never reached */
    void *chunk = malloc(CHUNK_LEN * c->elem);
    if (!chunk)
        return -ENOMEM;
    c->dir[c->ndir++] = chunk;
    return 0;
}

static void chunks_release(struct chunks *c)
{
    for (uint32_t i = 0; i < c->ndir; i++)
        free(c->dir[i]);
    free(c->dir);
}

static size_t chunks_memory(const struct chunks *c)
{
    return (size_t)c->ndir * CHUNK_LEN * c->elem + (size_t)c->dir_cap * sizeof(void *);
}

static inline struct str_entry *str_at(const struct stack_table *t, uint32_t id)
{
    return chunk_at(&t->strings, id);
}

static inline struct stack_frame *frame_at(const struct stack_table *t, uint32_t id)
{
    return chunk_at(&t->frames, id);
}

static inline struct stack_node *node_at(const struct stack_table *t, uint32_t id)
{
    return chunk_at(&t->nodes, id);
}

/* ---- indexes ------------------------------------------------------------ */

/* Whether one more entry would push the index past 3/4 full. */
static inline int index_full(uint32_t used, uint32_t mask)
{
    return (uint64_t)(used + 1) * 4 > (uint64_t)(mask + 1) * 3;
}

/* The slot holding string s, or the empty slot where it would go. */
static struct id_slot *str_find(const struct stack_table *t, const char *s, uint32_t len,
                                uint32_t h)
{
    uint32_t i = h & t->str_mask;
    for (;;) {
        struct id_slot *slot = &t->str_index[i];
        if (slot->id == 0)
            return slot;
        if (slot->hash == h) {
            const struct str_entry *e = str_at(t, slot->id);
            if (e->len == len && memcmp(e->s, s, len) == 0)
                return slot;
        }
        i = (i + 1) & t->str_mask;
    }
}

static struct id_slot *frame_find(const struct stack_table *t, const struct stack_frame *f,
                                  uint32_t h)
{
    uint32_t i = h & t->frame_mask;
    for (;;) {
        struct id_slot *slot = &t->frame_index[i];
        if (slot->id == 0)
            return slot;
        if (slot->hash == h) {
            const struct stack_frame *g = frame_at(t, slot->id - 1);
            if (g->function == f->function && g->file == f->file && g->line == f->line &&
                g->firstline == f->firstline)
                return slot;
        }
        i = (i + 1) & t->frame_mask;
    }
}

static struct node_slot *node_find(const struct stack_table *t, uint32_t parent, uint32_t frame)
{
    uint32_t i = hash_node(parent, frame) & t->node_mask;
    for (;;) {
        struct node_slot *slot = &t->node_index[i];
        if (slot->id == 0 || (slot->parent == parent && slot->frame == frame))
            return slot;
        i = (i + 1) & t->node_mask;
    }
}

/* Growing rebuilds each index from the entries in id order, so with
 * duplicate entries (a reader's add_*) the lowest id is always found. */
static int str_index_grow(struct stack_table *t)
{
    uint32_t cap = t->str_index ? (t->str_mask + 1) * 2 : INDEX_MIN;
    struct id_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    free(t->str_index);
    t->str_index = slots;
    t->str_mask = cap - 1;
    t->str_used = 0;
    for (uint32_t id = 1; id < t->nstrings; id++) {
        const struct str_entry *e = str_at(t, id);
        struct id_slot *slot = str_find(t, e->s, e->len, e->hash);
        if (slot->id == 0) {
            slot->hash = e->hash;
            slot->id = id;
            t->str_used++;
        }
    }
    return 0;
}

static int frame_index_grow(struct stack_table *t)
{
    uint32_t cap = t->frame_index ? (t->frame_mask + 1) * 2 : INDEX_MIN;
    struct id_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    free(t->frame_index);
    t->frame_index = slots;
    t->frame_mask = cap - 1;
    t->frame_used = 0;
    for (uint32_t id = 0; id < t->nframes; id++) {
        const struct stack_frame *f = frame_at(t, id);
        uint32_t h = hash_frame(f);
        struct id_slot *slot = frame_find(t, f, h);
        if (slot->id == 0) {
            slot->hash = h;
            slot->id = id + 1;
            t->frame_used++;
        }
    }
    return 0;
}

static int node_index_grow(struct stack_table *t)
{
    uint32_t cap = t->node_index ? (t->node_mask + 1) * 2 : INDEX_MIN;
    struct node_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    free(t->node_index);
    t->node_index = slots;
    t->node_mask = cap - 1;
    t->node_used = 0;
    for (uint32_t id = 1; id < t->nnodes; id++) {
        const struct stack_node *n = node_at(t, id);
        struct node_slot *slot = node_find(t, n->parent, n->frame);
        if (slot->id == 0) {
            slot->parent = n->parent;
            slot->frame = n->frame;
            slot->id = id;
            t->node_used++;
        }
    }
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

struct stack_table *stack_table_new_limited(uint32_t max_strings, size_t max_string_bytes,
                                            uint32_t max_frames, uint32_t max_nodes)
{
    /* Never above the global bounds: a reader built with the defaults must
     * hold whatever any writer's table held. */
    if (max_strings > STACKS_MAX_STRINGS)
        max_strings = STACKS_MAX_STRINGS;
    if (max_string_bytes > STACKS_MAX_STRING_BYTES)
        max_string_bytes = STACKS_MAX_STRING_BYTES;
    if (max_frames > STACKS_MAX_FRAMES)
        max_frames = STACKS_MAX_FRAMES;
    if (max_nodes > STACKS_MAX_NODES)
        max_nodes = STACKS_MAX_NODES;
    if (max_strings < 1 || max_nodes < 1)
        return NULL;   /* "" and the root always exist */

    struct stack_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    atomic_init(&t->shown_strings, 0);
    atomic_init(&t->shown_frames, 0);
    atomic_init(&t->shown_nodes, 0);
    t->max_strings = max_strings;
    t->max_string_bytes = max_string_bytes;
    t->max_frames = max_frames;
    t->max_nodes = max_nodes;
    if (chunks_init(&t->strings, sizeof(struct str_entry), max_strings) != 0 ||
        chunks_init(&t->frames, sizeof(struct stack_frame), max_frames) != 0 ||
        chunks_init(&t->nodes, sizeof(struct stack_node), max_nodes) != 0 ||
        chunks_reserve(&t->strings, 0) != 0 || chunks_reserve(&t->nodes, 0) != 0 ||
        str_index_grow(t) != 0 || frame_index_grow(t) != 0 || node_index_grow(t) != 0) {
        stack_table_free(t);
        return NULL;
    }
    struct str_entry *empty = str_at(t, 0);
    empty->s = "";
    empty->len = 0;
    empty->hash = hash_string("", 0);
    t->nstrings = 1;
    atomic_store_explicit(&t->shown_strings, 1, memory_order_release);
    struct stack_node *root = node_at(t, 0);
    root->parent = 0;
    root->frame = 0;
    root->depth = 0;
    t->nnodes = 1;
    atomic_store_explicit(&t->shown_nodes, 1, memory_order_release);
    return t;
}

struct stack_table *stack_table_new(void)
{
    return stack_table_new_limited(STACKS_MAX_STRINGS, STACKS_MAX_STRING_BYTES,
                                   STACKS_MAX_FRAMES, STACKS_MAX_NODES);
}

void stack_table_free(struct stack_table *t)
{
    if (!t)
        return;
    chunks_release(&t->strings);
    chunks_release(&t->frames);
    chunks_release(&t->nodes);
    for (size_t i = 0; i < t->nblocks; i++)
        free(t->blocks[i]);
    free(t->blocks);
    free(t->str_index);
    free(t->frame_index);
    free(t->node_index);
    free(t);
}

/* ---- strings ------------------------------------------------------------ */

/* Room for len bytes and a NUL that will not move. Nothing is reserved:
 * a failure later leaves at most an unused block. */
static char *string_space(struct stack_table *t, size_t len)
{
    char **blocks = vec_grow(t->blocks, &t->blocks_cap, t->nblocks + 1, sizeof *blocks, 16);
    if (!blocks)
        return NULL;
    t->blocks = blocks;
    if (len + 1 > BIG_STRING) {
        char *own = malloc(len + 1);
        if (!own)
            return NULL;
        t->blocks[t->nblocks++] = own;
        t->block_mem += len + 1;
        return own;
    }
    if (!t->block || t->block_used + len + 1 > BLOCK_SIZE) {
        char *block = malloc(BLOCK_SIZE);
        if (!block)
            return NULL;
        t->blocks[t->nblocks++] = block;
        t->block_mem += BLOCK_SIZE;
        t->block = block;
        t->block_used = 0;
    }
    return t->block + t->block_used;
}

/* Append string s as the next id; slot is where the index wants it, NULL
 * when it must not be indexed (a duplicate). */
static int string_append(struct stack_table *t, const char *s, size_t len, uint32_t h,
                         struct id_slot *slot)
{
    if (t->nstrings >= t->max_strings || len > t->max_string_bytes - t->string_bytes)
        return -ENOSPC;
    uint32_t id = t->nstrings;
    int err = chunks_reserve(&t->strings, id);
    if (err)
        return err;
    if (slot && index_full(t->str_used, t->str_mask)) {
        if (str_index_grow(t) != 0)
            return -ENOMEM;
        slot = str_find(t, s, (uint32_t)len, h);
    }
    char *copy = string_space(t, len);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    if (len + 1 <= BIG_STRING)
        t->block_used += len + 1;
    struct str_entry *e = str_at(t, id);
    e->s = copy;
    e->len = (uint32_t)len;
    e->hash = h;
    if (slot) {
        slot->hash = h;
        slot->id = id;
        t->str_used++;
    }
    t->nstrings++;
    atomic_store_explicit(&t->shown_strings, t->nstrings, memory_order_release);
    t->string_bytes += len;
    return 0;
}

int stack_table_string(struct stack_table *t, const char *s, size_t len, uint32_t *id)
{
    if (!t || !id || (!s && len))
        return -EINVAL;
    if (len == 0) {
        *id = 0;
        return 0;
    }
    if (len > t->max_string_bytes)
        return -ENOSPC;
    uint32_t h = hash_string(s, len);
    struct id_slot *slot = str_find(t, s, (uint32_t)len, h);
    if (slot->id != 0) {
        *id = slot->id;
        return 0;
    }
    uint32_t next = t->nstrings;
    int err = string_append(t, s, len, h, slot);
    if (err)
        return err;
    *id = next;
    return 0;
}

int stack_table_add_string(struct stack_table *t, uint32_t id, const char *s, size_t len)
{
    if (!t || (!s && len))
        return -EINVAL;
    if (id != t->nstrings)
        return -PT_ERR_FORMAT;
    if (len > t->max_string_bytes)
        return -ENOSPC;
    uint32_t h = hash_string(s, len);
    struct id_slot *slot = NULL;
    /* "" is id 0 and never indexed; another copy just takes its id. */
    if (len) {
        slot = str_find(t, s, (uint32_t)len, h);
        if (slot->id != 0)
            slot = NULL;
    }
    return string_append(t, s, len, h, slot);
}

/* ---- frames ------------------------------------------------------------- */

static int frame_append(struct stack_table *t, const struct stack_frame *f, uint32_t h,
                        struct id_slot *slot)
{
    if (t->nframes >= t->max_frames)
        return -ENOSPC;
    uint32_t id = t->nframes;
    int err = chunks_reserve(&t->frames, id);
    if (err)
        return err;
    if (slot && index_full(t->frame_used, t->frame_mask)) {
        if (frame_index_grow(t) != 0)
            return -ENOMEM;
        slot = frame_find(t, f, h);
    }
    *frame_at(t, id) = *f;
    if (slot) {
        slot->hash = h;
        slot->id = id + 1;
        t->frame_used++;
    }
    t->nframes++;
    atomic_store_explicit(&t->shown_frames, t->nframes, memory_order_release);
    return 0;
}

int stack_table_frame(struct stack_table *t, const struct stack_frame *f, uint32_t *id)
{
    if (!t || !f || !id || f->function >= t->nstrings || f->file >= t->nstrings)
        return -EINVAL;
    uint32_t h = hash_frame(f);
    struct id_slot *slot = frame_find(t, f, h);
    if (slot->id != 0) {
        *id = slot->id - 1;
        return 0;
    }
    uint32_t next = t->nframes;
    int err = frame_append(t, f, h, slot);
    if (err)
        return err;
    *id = next;
    return 0;
}

int stack_table_add_frame(struct stack_table *t, uint32_t id, const struct stack_frame *f)
{
    if (!t || !f)
        return -EINVAL;
    if (id != t->nframes || f->function >= t->nstrings || f->file >= t->nstrings)
        return -PT_ERR_FORMAT;
    uint32_t h = hash_frame(f);
    struct id_slot *slot = frame_find(t, f, h);
    return frame_append(t, f, h, slot->id == 0 ? slot : NULL);
}

/* ---- nodes -------------------------------------------------------------- */

static int node_append(struct stack_table *t, uint32_t parent, uint32_t frame,
                       struct node_slot *slot)
{
    if (t->nnodes >= t->max_nodes)
        return -ENOSPC;
    uint32_t id = t->nnodes;
    int err = chunks_reserve(&t->nodes, id);
    if (err)
        return err;
    if (slot && index_full(t->node_used, t->node_mask)) {
        if (node_index_grow(t) != 0)
            return -ENOMEM;
        slot = node_find(t, parent, frame);
    }
    struct stack_node *n = node_at(t, id);
    n->parent = parent;
    n->frame = frame;
    n->depth = node_at(t, parent)->depth + 1;
    if (slot) {
        slot->parent = parent;
        slot->frame = frame;
        slot->id = id;
        t->node_used++;
    }
    t->nnodes++;
    atomic_store_explicit(&t->shown_nodes, t->nnodes, memory_order_release);
    return 0;
}

int stack_table_node(struct stack_table *t, uint32_t parent, uint32_t frame, uint32_t *id)
{
    if (!t || !id || parent >= t->nnodes || frame >= t->nframes)
        return -EINVAL;
    struct node_slot *slot = node_find(t, parent, frame);
    if (slot->id != 0) {
        *id = slot->id;
        return 0;
    }
    uint32_t next = t->nnodes;
    int err = node_append(t, parent, frame, slot);
    if (err)
        return err;
    *id = next;
    return 0;
}

int stack_table_add_node(struct stack_table *t, uint32_t id, uint32_t parent, uint32_t frame)
{
    if (!t)
        return -EINVAL;
    if (id != t->nnodes || parent >= t->nnodes || frame >= t->nframes)
        return -PT_ERR_FORMAT;
    struct node_slot *slot = node_find(t, parent, frame);
    return node_append(t, parent, frame, slot->id == 0 ? slot : NULL);
}

/* ---- queries ------------------------------------------------------------ */

static inline uint32_t shown(const _Atomic uint32_t *count)
{
    return atomic_load_explicit(count, memory_order_acquire);
}

uint32_t stack_table_string_count(const struct stack_table *t)
{
    return t ? shown(&t->shown_strings) : 0;
}

uint32_t stack_table_frame_count(const struct stack_table *t)
{
    return t ? shown(&t->shown_frames) : 0;
}

uint32_t stack_table_node_count(const struct stack_table *t)
{
    return t ? shown(&t->shown_nodes) : 0;
}

const char *stack_table_str(const struct stack_table *t, uint32_t id)
{
    if (!t || id >= shown(&t->shown_strings))
        return "";
    return str_at(t, id)->s;
}

size_t stack_table_str_len(const struct stack_table *t, uint32_t id)
{
    if (!t || id >= shown(&t->shown_strings))
        return 0;
    return str_at(t, id)->len;
}

const struct stack_frame *stack_table_get_frame(const struct stack_table *t, uint32_t id)
{
    if (!t || id >= shown(&t->shown_frames))
        return NULL;
    return frame_at(t, id);
}

const struct stack_node *stack_table_get_node(const struct stack_table *t, uint32_t id)
{
    if (!t || id >= shown(&t->shown_nodes))
        return NULL;
    return node_at(t, id);
}

size_t stack_table_memory(const struct stack_table *t)
{
    if (!t)
        return 0;
    return sizeof *t + chunks_memory(&t->strings) + chunks_memory(&t->frames) +
           chunks_memory(&t->nodes) + t->block_mem + t->blocks_cap * sizeof(char *) +
           (size_t)(t->str_mask + 1) * sizeof(struct id_slot) +
           (size_t)(t->frame_mask + 1) * sizeof(struct id_slot) +
           (size_t)(t->node_mask + 1) * sizeof(struct node_slot);
}
