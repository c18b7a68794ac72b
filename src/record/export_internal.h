/* What the format writers share (export_walk.c): a compact view of the
 * profile (functions, frames and call paths restricted to what the rows
 * use), the walk of its rows, a small hash map, name cleaning and buffered
 * output. The writers themselves are declared in export_writers.h, for
 * export_write.c alone: this layer never calls a writer. Not for use
 * outside src/record/export*. */
#ifndef PYTOP_RECORD_EXPORT_INTERNAL_H
#define PYTOP_RECORD_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/strbuf.h"
#include "record/export.h"

/* ---- a small hash map: two 64-bit keys to a 32-bit value ---------------- */

struct export_map_slot {
    uint64_t a, b;
    uint32_t val;
    uint32_t used;
};

struct export_map {
    struct export_map_slot *slots;
    size_t cap;     /* a power of two, or 0 */
    size_t len;
};

void export_map_init(struct export_map *m);
void export_map_release(struct export_map *m);
/* Find (a, b); if absent, insert it with value new_val. *val gets the
 * stored value, *added whether it was inserted. Returns 0 or -ENOMEM. */
int export_map_get_or_add(struct export_map *m, uint64_t a, uint64_t b,
                          uint32_t new_val, uint32_t *val, int *added);

/* ---- the profile, as the writers see it ---------------------------------- */

/* A function: (name, file, firstline). Names point into the dictionary or
 * at static text for the synthetic functions. */
struct export_func {
    const char *name;
    const char *file;
    int32_t firstline;
};

/* A frame: a function and the line executing in it (-1 when unknown). */
struct export_frame {
    uint32_t func;
    int32_t line;
};

struct export_prep {
    const struct export_input *in;
    enum export_mode mode;

    struct export_func *funcs;
    uint32_t nfuncs;
    struct export_frame *frames;
    uint32_t nframes;

    /* Dictionary frame id -> export frame id + 1 (0: not mapped yet). */
    uint32_t *dict_frame_map;
    uint32_t dict_nframes;
    struct export_map func_map;     /* text of (name, file), firstline -> func */
    struct export_map frame_map;    /* (func, line) -> frame */

    uint32_t max_depth;     /* longest path of any row, at least 1 */
    uint32_t empty_frame;   /* "[no Python frame]", UINT32_MAX until needed */
    uint32_t unknown_frame; /* a frame id the dictionary lacks, likewise */

    /* Per function, scratch for counting a function once per stack. */
    uint32_t *func_stamp;
    uint32_t stamp;

    /* The distinct pids of the rows, ascending. With more than one
     * (multi_process), writers keep processes apart: with process_roots
     * every path starts with its process's "process PID: command" frame
     * (proc_frame), else the writer does it its own way. */
    uint32_t nprocs;
    uint32_t *proc_pid;
    uint32_t *proc_frame;
    char **proc_label;          /* owned: the root frames' names */
    int multi_process;
    int process_roots;
};

/* Build the view of in's rows; process_roots: give each process a root
 * frame when the rows hold more than one. Returns 0 or -ENOMEM. */
int export_prep_init(struct export_prep *p, const struct export_input *in,
                     enum export_mode mode, int process_roots);
void export_prep_release(struct export_prep *p);

/* The chosen weight of a row: nanoseconds, or bytes in memory mode. */
uint64_t export_row_weight(const struct export_prep *p, const struct stack_weight *row);

/* The frames of row's call path, root first, into out (room for
 * p->max_depth entries). Returns how many. A row with an empty stack
 * (node 0) gets one synthetic "[no Python frame]" frame, so every path has
 * at least one frame; with process roots, the process's frame comes
 * first. */
uint32_t export_path(const struct export_prep *p, const struct stack_weight *row,
                     uint32_t *out);

/* One row as the walk gives it: its call path (as export_path makes it,
 * root first), its weight in the mode's unit and its index in in->rows. */
struct export_row_path {
    const struct stack_weight *row;
    size_t index;
    const uint32_t *path;
    uint32_t n;
    uint64_t weight;
};
typedef int (*export_row_visit)(void *ctx, const struct export_row_path *r);

/* Call visit for every row, in order; stops at the first non-zero return
 * and returns it. -ENOMEM when the path buffer cannot be had. */
int export_walk_rows(struct export_prep *p, export_row_visit visit, void *ctx);

/* What in says about pid (processes, else the target's pid, command
 * and python), or NULL. */
const struct process_info *export_process(const struct export_input *in, uint32_t pid,
                                          struct process_info *scratch);
/* "process PID: command", or "process PID" when the command is unknown. */
void export_put_process_label(struct strbuf *sb, const struct export_input *in, uint32_t pid);

/* A weight as the mode's unit: exact decimal seconds ("1.5") for time,
 * whole bytes for memory. */
void export_put_value(struct strbuf *sb, const struct export_prep *p, uint64_t v);

/* Mark func as seen in the current stack; returns 1 the first time since
 * the last export_stamp_next, 0 after. Counts recursion once per stack. */
int export_stamp_first(struct export_prep *p, uint32_t func);
void export_stamp_next(struct export_prep *p);

/* The Python name of thread tid, or NULL when it has none. */
const char *export_thread_name(const struct export_input *in, uint32_t tid);

/* Per-function totals, recursion counted once per stack. */
struct export_func_totals {
    uint64_t self_samples;      /* samples whose leaf is the function */
    uint64_t total_samples;     /* samples with it anywhere on the stack */
    uint64_t frames;            /* frames of it, over every sample */
    uint64_t self_ns;           /* chosen weight, leaf */
    uint64_t total_ns;          /* chosen weight, anywhere on the stack */
};

/* An array of p->nfuncs totals (caller frees), or NULL when out of memory. */
struct export_func_totals *export_func_totals(struct export_prep *p);

/* ---- text ----------------------------------------------------------------- */

/* Empty sb, keeping its memory. */
void export_sb_reset(struct strbuf *sb);

/* Append s with invalid UTF-8 bytes replaced by U+FFFD. */
void export_put_utf8(struct strbuf *sb, const char *s);

/* Append s for a one-line, ';'-separated frame list: ';' becomes ':',
 * control characters become \n, \r, \t or \xHH, invalid UTF-8 becomes
 * U+FFFD. Used by the folded and SVG writers. */
void export_put_label(struct strbuf *sb, const char *s);

/* "function (file:line)", the frame label of the folded and SVG writers. */
void export_put_frame_label(struct strbuf *sb, const struct export_prep *p, uint32_t frame);

/* Every frame's label, built once: frame i is the off[i + 1] - off[i]
 * bytes at text->data + off[i]. *off is the caller's to free. Returns 0
 * or -ENOMEM. */
int export_frame_labels(const struct export_prep *p, struct strbuf *text, size_t **off);

/* Decimal integers, without printf's cost in the writers' inner loops. */
void export_put_u64(struct strbuf *sb, uint64_t v);
void export_put_i64(struct strbuf *sb, int64_t v);

/* Nanoseconds as exact decimal seconds ("1.5", "0.000001", "3"). */
void export_put_seconds(struct strbuf *sb, uint64_t ns);
/* bytes for a reader: "512 bytes", "81.9 MiB = 85839872 bytes". */
void export_put_bytes_human(struct strbuf *sb, uint64_t bytes);

/* Append s escaped for XML text and attribute values. */
void export_put_xml(struct strbuf *sb, const char *s);

/* ---- output ----------------------------------------------------------------- */

/* Text is gathered in sb and written to f in large pieces. */
struct export_out {
    FILE *f;
    struct strbuf sb;
    int err;        /* first error: -errno or -ENOMEM */
};

void export_out_init(struct export_out *o, FILE *f);
/* Write sb out when it holds more than a few hundred kilobytes. */
void export_out_maybe_flush(struct export_out *o);
/* Write everything, fflush, release; returns o->err or the write error. */
int export_out_finish(struct export_out *o);
/* Write n bytes straight to the file (after what sb holds). */
void export_out_bytes(struct export_out *o, const void *data, size_t n);

/* "CPU", "wall" or "memory", for titles. */
const char *export_mode_title(enum export_mode mode);

#endif
