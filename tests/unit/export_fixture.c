/* The export tests' profile, expected values and file helpers: see
 * export_fixture.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/json.h"
#include "export_fixture.h"

/* ---- the profile ------------------------------------------------------------- */

#define MAIN_PY "/app/main.py"
#define LIB_PY "/app/lib.py"
#define UNI_PY "/app/\xc3\xbcn\xc3\xaf.py"          /* ünï.py */
#define ODD_PY "/app/we\nird.py"
#define CALC "\xe8\xa8\x88\xe7\xae\x97"               /* 計算 */

#define F_MAIN(l) { "main", MAIN_PY, 5, l }
#define F_A { "a", MAIN_PY, 18, 20 }
#define F_B { "b", LIB_PY, 30, 31 }
#define F_C { "c", LIB_PY, 40, 41 }
#define F_R(l) { "r", LIB_PY, 50, l }
#define F_CALC { CALC, UNI_PY, 1, 3 }
#define F_WORKER(l) { "worker", MAIN_PY, 69, l }
#define F_ODD { "odd;name", ODD_PY, 80, 81 }
#define F_HELPER1 { "helper", LIB_PY, 60, 61 }
#define F_HELPER2 { "helper", LIB_PY, 65, 66 }

const struct trow prof[NPROF] = {
    /* MainThread */
    { 100, 3, { F_MAIN(10), F_A, F_B }, 300, 3 * SEC, 3500 * MS, 409600 },
    { 100, 2, { F_MAIN(11), F_C }, 100, 1 * SEC, 1200 * MS, 0 },
    { 100, 4, { F_MAIN(12), F_R(52), F_R(52), F_R(53) }, 100, 1 * SEC, 1 * SEC, 12345 },
    { 100, 2, { F_MAIN(13), F_CALC }, 50, 500 * MS, 500 * MS, 1 << 20 },
    { 100, 0, { { NULL, NULL, 0, 0 } }, 10, 0, 100 * MS, 0 },   /* no Python frame */
    /* worker-1 */
    { 200, 2, { F_WORKER(70), F_ODD }, 20, 200 * MS, 2 * SEC, 777 },
    { 200, 3, { F_MAIN(10), F_A, F_B }, 10, 100 * MS, 100 * MS, 4096 },
    /* a thread without a name */
    { 300, 1, { F_WORKER(70) }, 5, 50 * MS, 500 * MS, 0 },
    { 300, 2, { F_WORKER(71), F_HELPER1 }, 5, 50 * MS, 500 * MS, 65536 },
    { 300, 2, { F_WORKER(72), F_HELPER2 }, 5, 50 * MS, 50 * MS + 123, 1 },
};

static const struct { uint32_t tid; const char *name; } tnames[] = {
    { 100, "MainThread" }, { 200, "worker-1" },
};

static const struct tframe no_frame = { "[no Python frame]", "", 0, -1 };

const struct tframe *row_frame(const struct trow *r, int i)
{
    return r->n ? &r->f[i] : &no_frame;
}

int row_depth(const struct trow *r)
{
    return r->n ? r->n : 1;
}

uint64_t row_weight(const struct trow *r, enum export_mode m)
{
    return m == EXPORT_WALL ? r->wall_ns : m == EXPORT_MEMORY ? r->mem : r->cpu_ns;
}

struct stack_table *dict;
struct stack_weight rows[NPROF];
static struct thread_label labels[2];

static uint32_t str_id(const char *s)
{
    uint32_t id = 0;
    if (stack_table_string(dict, s, strlen(s), &id) != 0)
        abort();
    return id;
}

int build_profile(void)
{
    dict = stack_table_new();
    if (!dict)
        return -1;
    for (size_t i = 0; i < NPROF; i++) {
        uint32_t node = 0;
        for (int d = 0; d < prof[i].n; d++) {
            struct stack_frame f = {
                .function = str_id(prof[i].f[d].name),
                .file = str_id(prof[i].f[d].file),
                .line = prof[i].f[d].line,
                .firstline = prof[i].f[d].firstline,
            };
            uint32_t fid;
            if (stack_table_frame(dict, &f, &fid) != 0 || stack_table_node(dict, node, fid, &node) != 0)
                return -1;
        }
        rows[i].pid = 4242;
        rows[i].tid = prof[i].tid;
        rows[i].stack = node;
        rows[i].samples = prof[i].samples;
        rows[i].running = prof[i].samples;
        rows[i].cpu_ns = prof[i].cpu_ns;
        rows[i].wall_ns = prof[i].wall_ns;
        rows[i].mem_grow = prof[i].mem;
        rows[i].mem_release = prof[i].mem / 3;
    }
    for (size_t i = 0; i < 2; i++) {
        labels[i].tid = tnames[i].tid;
        labels[i].name = str_id(tnames[i].name);
    }
    return 0;
}

static const char *thread_name(uint32_t tid)
{
    for (size_t i = 0; i < 2; i++)
        if (tnames[i].tid == tid)
            return tnames[i].name;
    return NULL;
}

struct export_input make_input(void)
{
    struct export_input in = {
        .dict = dict, .rows = rows, .nrows = NPROF,
        .threads = labels, .nthreads = 2,
        .pid = 4242, .python = "3.12.1", .command = "python3 app.py --fast",
        .start_unix_ns = 1700000000ull * SEC, .duration_ns = 10 * SEC, .rate_hz = 100,
    };
    return in;
}

/* ---- expected values, computed the plain way ------------------------------------ */

int same_func(const struct tframe *a, const struct tframe *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->file, b->file) == 0 &&
           a->firstline == b->firstline;
}

static void put_func(struct strbuf *sb, const struct tframe *f)
{
    json_put_string(sb, f->file);
    strbuf_printf(sb, ",%d,", f->firstline);
    json_put_string(sb, f->name);
}

/* The functions of the profile, each once. */
static size_t unique_funcs(const struct tframe **out)
{
    size_t n = 0;
    for (size_t r = 0; r < NPROF; r++) {
        for (int i = 0; i < row_depth(&prof[r]); i++) {
            const struct tframe *f = row_frame(&prof[r], i);
            size_t k = 0;
            while (k < n && !same_func(out[k], f))
                k++;
            if (k == n)
                out[n++] = f;
        }
    }
    return n;
}

char *expected_json(enum export_mode m)
{
    struct strbuf sb;
    strbuf_init(&sb);
    uint64_t total_ns = 0, total_samples = 0;
    for (size_t r = 0; r < NPROF; r++) {
        total_ns += row_weight(&prof[r], m);
        total_samples += prof[r].samples;
    }
    /* div: the weight's unit in the file (seconds from ns; bytes as is). */
    strbuf_printf(&sb, "{\"mode\":\"%s\",\"unit\":\"%s\",\"div\":%s,"
                  "\"total_ns\":%llu,\"total_samples\":%llu,\n",
                  m == EXPORT_WALL ? "wall" : m == EXPORT_MEMORY ? "memory" : "cpu",
                  m == EXPORT_MEMORY ? "bytes" : "nanoseconds",
                  m == EXPORT_MEMORY ? "1" : "1e9", (unsigned long long)total_ns,
                  (unsigned long long)total_samples);

    /* pstats: per function (cc, nc, tt, ct) */
    const struct tframe *funcs[64];
    size_t nf = unique_funcs(funcs);
    strbuf_puts(&sb, "\"funcs\":[");
    for (size_t k = 0; k < nf; k++) {
        uint64_t cc = 0, nc = 0, tt = 0, ct = 0;
        for (size_t r = 0; r < NPROF; r++) {
            const struct trow *row = &prof[r];
            int occ = 0;
            for (int i = 0; i < row_depth(row); i++)
                occ += same_func(row_frame(row, i), funcs[k]);
            nc += occ * row->samples;
            if (occ) {
                cc += row->samples;
                ct += row_weight(row, m);
            }
            if (same_func(row_frame(row, row_depth(row) - 1), funcs[k]))
                tt += row_weight(row, m);
        }
        strbuf_puts(&sb, k ? ",\n[" : "\n[");
        put_func(&sb, funcs[k]);
        strbuf_printf(&sb, ",%llu,%llu,%llu,%llu]", (unsigned long long)cc, (unsigned long long)nc,
                      (unsigned long long)tt, (unsigned long long)ct);
    }

    /* pstats callers: per (callee, caller) (nc, cc, tt, ct) */
    strbuf_puts(&sb, "],\n\"callers\":[");
    int first = 1;
    for (size_t ce = 0; ce < nf; ce++) {
        for (size_t cr = 0; cr < nf; cr++) {
            uint64_t nc = 0, cc = 0, tt = 0, ct = 0;
            for (size_t r = 0; r < NPROF; r++) {
                const struct trow *row = &prof[r];
                int occ = 0;
                for (int i = 1; i < row_depth(row); i++)
                    occ += same_func(row_frame(row, i - 1), funcs[cr]) &&
                           same_func(row_frame(row, i), funcs[ce]);
                nc += occ * row->samples;
                if (occ) {
                    cc += row->samples;
                    ct += row_weight(row, m);
                }
                int d = row_depth(row);
                if (d >= 2 && same_func(row_frame(row, d - 2), funcs[cr]) &&
                    same_func(row_frame(row, d - 1), funcs[ce]))
                    tt += row_weight(row, m);
            }
            if (!nc)
                continue;
            strbuf_puts(&sb, first ? "\n[" : ",\n[");
            first = 0;
            put_func(&sb, funcs[ce]);
            strbuf_putc(&sb, ',');
            put_func(&sb, funcs[cr]);
            strbuf_printf(&sb, ",%llu,%llu,%llu,%llu]", (unsigned long long)nc, (unsigned long long)cc,
                          (unsigned long long)tt, (unsigned long long)ct);
        }
    }

    /* speedscope and pprof: per thread, stacks of (name, file, line) */
    strbuf_puts(&sb, "],\n\"stacks\":[");
    for (size_t r = 0; r < NPROF; r++) {
        const struct trow *row = &prof[r];
        const char *tn = thread_name(row->tid);
        strbuf_printf(&sb, "%s\n[%u,", r ? "," : "", (unsigned)row->tid);
        json_put_string(&sb, tn ? tn : "");
        strbuf_puts(&sb, ",[");
        for (int i = 0; i < row_depth(row); i++) {
            const struct tframe *f = row_frame(row, i);
            strbuf_puts(&sb, i ? ",[" : "[");
            json_put_string(&sb, f->name);
            strbuf_putc(&sb, ',');
            json_put_string(&sb, f->file);
            strbuf_printf(&sb, ",%d]", f->line);
        }
        strbuf_printf(&sb, "],%llu,%llu]", (unsigned long long)row->samples,
                      (unsigned long long)row_weight(row, m));
    }
    strbuf_puts(&sb, "]}\n");
    if (sb.oom)
        abort();
    return sb.data;
}

/* ---- helpers -------------------------------------------------------------------- */

char tmpdir[] = "/tmp/pytop-export-XXXXXX";
char srcdir[4096];

const char *path_of(const char *name)
{
    static char buf[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf sb;
    strbuf_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&sb, buf, n);
    fclose(f);
    if (len)
        *len = sb.len;
    if (!sb.data)
        return calloc(1, 1);
    return sb.data;
}

int run(const char *cmd, char **out)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "%s 2>&1", cmd);
    FILE *p = popen(strbuf_str(&sb), "r");
    strbuf_release(&sb);
    if (!p)
        return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        strbuf_append(&sb, buf, n);
    int st = pclose(p);
    *out = sb.data ? sb.data : calloc(1, 1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int have(const char *prog)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

void diag(const char *text)
{
    const char *s = text;
    int lines = 0;
    while (*s && lines < 60) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        printf("#   %.*s\n", (int)n, s);
        s += n + (e ? 1 : 0);
        lines++;
    }
}

const char *mode_name(enum export_mode m)
{
    return m == EXPORT_WALL ? "wall" : m == EXPORT_MEMORY ? "memory" : "cpu";
}

const char *export_file(enum export_format fmt, enum export_mode m)
{
    static char name[8][64];
    static int k;
    k = (k + 1) % 8;
    snprintf(name[k], sizeof name[k], "profile-%s%s", mode_name(m), export_format_suffix(fmt));
    return path_of(name[k]);
}

const char *expected_file(enum export_mode m)
{
    return m == EXPORT_WALL ? path_of("expected-wall.json")
         : m == EXPORT_MEMORY ? path_of("expected-memory.json") : path_of("expected-cpu.json");
}
int export_to(const char *path, enum export_format fmt, enum export_mode m, const struct export_input *in)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    int rc = export_write(f, fmt, m, in);
    fclose(f);
    return rc;
}

int hostile_input(struct stack_table **dp, struct stack_weight rw[3], struct thread_label *tl,
                  struct export_input *in)
{
    static const char *const names[] = {
        "bad\xff\xfeutf8", "xml <&>\"' ]]> end", "ctl\x01\x7f\ttab\rcr", "(12) paren", "",
    };
    struct stack_table *d = stack_table_new();
    uint32_t node = 0, fid, sid, fsid;
    *dp = d;
    int ok = d != NULL;
    ok = ok && stack_table_string(d, "/weird\xc0.py", 11, &fsid) == 0;
    for (size_t i = 0; ok && i < sizeof names / sizeof names[0]; i++) {
        struct stack_frame f = { 0, fsid, (int32_t)i + 1, 1 };
        ok = stack_table_string(d, names[i], strlen(names[i]), &sid) == 0;
        f.function = sid;
        ok = ok && stack_table_frame(d, &f, &fid) == 0 && stack_table_node(d, node, fid, &node) == 0;
    }
    uint32_t shallow = node;
    /* 3000 levels of recursion on top. */
    struct stack_frame rf = { 0, fsid, 7, 5 };
    ok = ok && stack_table_string(d, "deep", 4, &rf.function) == 0 && stack_table_frame(d, &rf, &fid) == 0;
    for (int i = 0; ok && i < 3000; i++)
        ok = stack_table_node(d, node, fid, &node) == 0;
    if (!ok)
        return -1;
    memset(rw, 0, 3 * sizeof *rw);
    rw[0] = (struct stack_weight){ .tid = 1, .stack = shallow, .samples = 3000000000ull,
                                   .cpu_ns = 20000000000000ull, .wall_ns = 20000000000000ull };
    rw[1] = (struct stack_weight){ .tid = 1, .stack = node, .samples = 7, .cpu_ns = 7000, .wall_ns = 7000 };
    rw[2] = (struct stack_weight){ .tid = 2, .stack = 12345678, .samples = 1, .cpu_ns = 1000, .wall_ns = 1000 };
    *tl = (struct thread_label){ .tid = 1 };
    if (stack_table_string(d, "thr\xff<&>", 7, &tl->name) != 0)
        return -1;
    *in = (struct export_input){ .dict = d, .rows = rw, .nrows = 3, .threads = tl, .nthreads = 1,
                                 .command = "cmd\nwith newline <&>" };
    return 0;
}

struct export_input processes_input(struct stack_weight both[NPROF + 2], struct process_info procs[2])
{
    memcpy(both, rows, sizeof rows);
    both[NPROF] = (struct stack_weight){ .pid = 5151, .tid = 900, .stack = rows[0].stack,
                                         .samples = 40, .cpu_ns = 400 * MS, .wall_ns = 500 * MS,
                                         .mem_grow = 8192 };
    both[NPROF + 1] = (struct stack_weight){ .pid = 5151, .tid = 901, .stack = rows[7].stack,
                                             .samples = 7, .cpu_ns = 70 * MS, .wall_ns = 70 * MS,
                                             .mem_grow = 3 };
    procs[0] = (struct process_info){ .pid = 4242, .ppid = 1, .python = "3.12.1",
                                      .command = "python3 app.py --fast" };
    procs[1] = (struct process_info){ .pid = 5151, .ppid = 4242, .python = "3.12.1",
                                      .command = "python3 worker.py" };
    struct export_input in = make_input();
    in.rows = both;
    in.nrows = NPROF + 2;
    in.processes = procs;
    in.nprocesses = 2;
    return in;
}

void find_srcdir(void)
{
    /* The build runs tests from the build directory; __FILE__ names the
     * source relative to it (or absolute). */
    const char *env = getenv("PYTOP_SRCDIR");
    if (env) {
        snprintf(srcdir, sizeof srcdir, "%s", env);
        return;
    }
    snprintf(srcdir, sizeof srcdir, "%s", __FILE__);
    char *p = strstr(srcdir, "tests/unit/export_fixture.c");
    if (p && p > srcdir)
        p[-1] = '\0';
    else if (p)
        strcpy(srcdir, ".");
    if (srcdir[0] != '/') {
        char cwd[2048], tmp[4096];
        if (getcwd(cwd, sizeof cwd)) {
            snprintf(tmp, sizeof tmp, "%s/%s", cwd, srcdir);
            snprintf(srcdir, sizeof srcdir, "%s", tmp);
        }
    }
}

void remove_tree(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
}

/* ---- writing every format ---------------------------------------------------- */

/* Each format of in (mode m) to path_of("<stem><suffix>"), or to
 * export_file() with stem NULL: a test point each, "<before><format><after>". */
static void write_formats(const char *stem, enum export_mode m, const struct export_input *in,
                          const char *before, const char *after)
{
    for (int fmt = EXPORT_FOLDED; fmt <= EXPORT_SVG; fmt++) {
        enum export_format f = (enum export_format)fmt;
        char name[64], what[160];
        snprintf(name, sizeof name, "%s%s", stem ? stem : "", export_format_suffix(f));
        int rc = export_to(stem ? path_of(name) : export_file(f, m), f, m, in);
        snprintf(what, sizeof what, "%s%s%s", before, export_format_name(f), after);
        fixture_check_int(rc, 0, what);
    }
}

void write_all(void)
{
    struct export_input in = make_input();
    for (int m = 0; m < NMODES; m++) {
        char after[64];
        snprintf(after, sizeof after, " in %s mode", mode_name((enum export_mode)m));
        write_formats(NULL, (enum export_mode)m, &in, "export ", after);
    }
}

void write_empty(void)
{
    struct export_input in = make_input();
    in.nrows = 0;
    write_formats("empty", EXPORT_CPU, &in, "empty profile: ", "");
}

int write_hostile(void)
{
    struct stack_table *d = NULL;
    struct stack_weight rw[3];
    struct thread_label tl;
    struct export_input in;
    int ok = hostile_input(&d, rw, &tl, &in) == 0;
    fixture_check_int(ok, 1, "hostile profile built");
    if (ok)
        write_formats("hostile", EXPORT_CPU, &in, "hostile names: ", " written");
    stack_table_free(d);
    if (!ok)
        return 0;

    size_t len;
    char *folded = read_file(path_of("hostile.folded"), &len);
    int lines = 0;
    for (size_t i = 0; folded && i < len; i++)
        lines += folded[i] == '\n';
    fixture_check_int(lines, 3, "hostile names: folded has one line per stack");
    free(folded);
    return 1;
}

const char *procs_file(enum export_format fmt, enum export_mode m)
{
    char name[64];
    snprintf(name, sizeof name, "procs-%s%s", mode_name(m), export_format_suffix(fmt));
    return path_of(name);
}

void write_processes(enum export_mode m, const struct export_input *in)
{
    char stem[32], after[64];
    snprintf(stem, sizeof stem, "procs-%s", mode_name(m));
    snprintf(after, sizeof after, " (%s): written", mode_name(m));
    write_formats(stem, m, in, "two processes, ", after);
}

void release_profile(void)
{
    stack_table_free(dict);
    if (getenv("PYTOP_KEEP_EXPORTS"))
        printf("# files kept in %s\n", tmpdir);
    else
        remove_tree();
}
