/* Interned strings, frames and call paths: the dictionary every sample,
 * recording, model and export refers to by number.
 *
 * Ids are dense and only ever appended, so a recording can stream the
 * entries added since its last flush, and a reader rebuilds the same ids.
 *  - strings: id 0 is the empty string.
 *  - frames: (function, file, line, firstline); function and file are
 *    string ids. firstline identifies the function (its code object's
 *    co_firstlineno); line is the line executing. A native (C/C++)
 *    frame, from --native, has firstline STACK_FRAME_NATIVE (line is
 *    -1): function is its symbol (demangled), file the object file's
 *    path.
 *  - nodes: a trie of call paths, root first. Node 0 is the empty stack;
 *    node n has a parent node and a frame. A stack is its leaf node id, so
 *    the call tree is the node table itself. */
#ifndef PYTOP_CORE_STACKS_H
#define PYTOP_CORE_STACKS_H

#include <stddef.h>
#include <stdint.h>

#define STACK_FRAME_NATIVE (-1)

struct stack_frame {
    uint32_t function;      /* string id */
    uint32_t file;          /* string id */
    int32_t line;           /* -1 when unknown */
    int32_t firstline;
};

struct stack_node {
    uint32_t parent;        /* node id; the root (0) is its own parent */
    uint32_t frame;         /* frame id; meaningless for the root */
    uint32_t depth;         /* 0 for the root */
};

static inline int stack_frame_is_native(const struct stack_frame *f)
{
    return f->firstline == STACK_FRAME_NATIVE;
}

/* Bounds that keep a long run's dictionary from growing without limit. A
 * stack_table that reaches one refuses new entries with -ENOSPC; callers
 * map such stacks to a "[dictionary full]" frame. See docs/performance.md. */
#define STACKS_MAX_STRINGS (1u << 20)
#define STACKS_MAX_STRING_BYTES (64u << 20)
#define STACKS_MAX_FRAMES (1u << 21)
#define STACKS_MAX_NODES (1u << 22)

struct stack_table;   /* opaque */

struct stack_table *stack_table_new(void);
/* A table with lower bounds (clamped to the STACKS_MAX_* ones), so tests
 * can reach them; max_strings and max_nodes count "" and the root. NULL
 * when out of memory or a bound is 0. */
struct stack_table *stack_table_new_limited(uint32_t max_strings, size_t max_string_bytes,
                                            uint32_t max_frames, uint32_t max_nodes);
void stack_table_free(struct stack_table *t);   /* NULL is fine */

/* Interning returns the existing id for an equal entry, else appends one:
 * 0, -ENOSPC at a bound, -ENOMEM, or -EINVAL for ids out of range (a
 * frame's strings, a node's parent and frame must already exist).
 *
 * Threads: one thread adds (interns). Entries never move once added, and
 * the counts are published after the entries they cover, so other threads
 * may call the count and lookup functions below while it adds: an id
 * below a count they read, or in a sample handed over by the adding
 * thread, is complete. stack_table_memory is for the adding thread.
 *
 * Intern a string of len bytes (need not be NUL-terminated). */
int stack_table_string(struct stack_table *t, const char *s, size_t len, uint32_t *id);
int stack_table_frame(struct stack_table *t, const struct stack_frame *f, uint32_t *id);
/* The child of parent with this frame. */
int stack_table_node(struct stack_table *t, uint32_t parent, uint32_t frame, uint32_t *id);

/* Adding an entry with a given id, for readers rebuilding a table: the id
 * must be the next one (count), else -PT_ERR_FORMAT (as for references to
 * entries that do not exist); -ENOSPC at a bound. An entry equal to an
 * earlier one still takes the new id; interning then finds the earlier. */
int stack_table_add_string(struct stack_table *t, uint32_t id, const char *s, size_t len);
int stack_table_add_frame(struct stack_table *t, uint32_t id, const struct stack_frame *f);
int stack_table_add_node(struct stack_table *t, uint32_t id, uint32_t parent, uint32_t frame);

uint32_t stack_table_string_count(const struct stack_table *t);
uint32_t stack_table_frame_count(const struct stack_table *t);
uint32_t stack_table_node_count(const struct stack_table *t);

/* Lookups by id; NULL/"" for an id out of range. Entries never move: the
 * pointers stay valid until the table is freed. Strings are NUL-terminated
 * (and may hold NULs: use the length). */
const char *stack_table_str(const struct stack_table *t, uint32_t id);
size_t stack_table_str_len(const struct stack_table *t, uint32_t id);
const struct stack_frame *stack_table_get_frame(const struct stack_table *t, uint32_t id);
const struct stack_node *stack_table_get_node(const struct stack_table *t, uint32_t id);

/* Bytes the table holds, for the memory budget. */
size_t stack_table_memory(const struct stack_table *t);

#endif
