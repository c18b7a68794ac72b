/* The hand-built profile the export tests write in every format, the
 * values its readers must find (computed the plain way, independently of
 * the writers) and the file helpers they share: tests/unit/test_export.c
 * checks the files in-process, tests/functional/export_consumers.c has
 * them loaded by their real readers. Each program keeps its own TAP count
 * (unit.h): the fixture's test points go through fixture_check_int, which
 * each program defines. */
#ifndef PYTOP_TESTS_EXPORT_FIXTURE_H
#define PYTOP_TESTS_EXPORT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "core/stacks.h"
#include "core/strbuf.h"
#include "record/export.h"

struct tframe {
    const char *name, *file;
    int firstline, line;
};

struct trow {
    uint32_t tid;
    int n;
    struct tframe f[4];
    uint64_t samples, cpu_ns, wall_ns;
    uint64_t mem;               /* bytes of memory growth */
};

#define MS 1000000ull
#define SEC 1000000000ull
#define NPROF 10
#define NMODES 3    /* cpu, wall, memory */

extern const struct trow prof[NPROF];
extern struct stack_table *dict;
extern struct stack_weight rows[NPROF];
extern char tmpdir[];
extern char srcdir[4096];

const struct tframe *row_frame(const struct trow *r, int i);
int row_depth(const struct trow *r);
uint64_t row_weight(const struct trow *r, enum export_mode m);
int same_func(const struct tframe *a, const struct tframe *b);

/* Fills dict, rows and the thread labels from prof[]. */
int build_profile(void);
struct export_input make_input(void);
/* The values the checkers compare with, as JSON (malloc'd). */
char *expected_json(enum export_mode m);

/* A profile no Python would give: odd bytes in names, counts past 2**31,
 * 3000 levels of recursion and a row whose stack is not in the table.
 * *d is the table to free; 0 or -1. */
int hostile_input(struct stack_table **d, struct stack_weight rw[3], struct thread_label *tl,
                  struct export_input *in);
/* The profile plus a child process (5151) sharing one call path with it. */
struct export_input processes_input(struct stack_weight both[NPROF + 2], struct process_info procs[2]);

/* Write one export to path: 0 or -errno. */
int export_to(const char *path, enum export_format fmt, enum export_mode m, const struct export_input *in);

const char *path_of(const char *name);
int write_file(const char *path, const char *text);
char *read_file(const char *path, size_t *len);
/* Run cmd through the shell; its output (stdout and stderr) in *out. */
int run(const char *cmd, char **out);
int have(const char *prog);
/* Print each line of text as a TAP comment. */
void diag(const char *text);
const char *mode_name(enum export_mode m);
const char *export_file(enum export_format fmt, enum export_mode m);
const char *expected_file(enum export_mode m);
void find_srcdir(void);
void remove_tree(void);
/* Frees dict and removes tmpdir, unless PYTOP_KEEP_EXPORTS is set (then
 * says where the files are). */
void release_profile(void);

/* The program's own test point: got == want, what it checks. */
void fixture_check_int(long long got, long long want, const char *what);

/* Every format of the profile in every mode, to export_file(): a test
 * point each. */
void write_all(void);
/* No rows at all, every format (CPU) to tmpdir/empty<suffix>: a test point each. */
void write_empty(void);
/* hostile_input() in every format (CPU) to tmpdir/hostile<suffix>, and the
 * folded file's line count: test points. 1 when the profile could be
 * built (its files are there to read), else 0. */
int write_hostile(void);
/* processes_input()'s profile in every format (mode m) to procs_file(): a test
 * point each. */
void write_processes(enum export_mode m, const struct export_input *in);
const char *procs_file(enum export_format fmt, enum export_mode m);

#endif
