/* Exports checked in-process: a hand-built profile (export_fixture.c) is
 * written in every format, in CPU, wall and memory mode, and the folded
 * lines are compared exactly with the ones computed here the plain way;
 * every writer reports a failed write, and writes an empty profile, hostile
 * names and two processes without error. Loading each file in its real
 * reader (pstats, protoc, go tool pprof, callgrind_annotate, chromium) is
 * tests/functional/export_consumers.c, in the functional phase. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export_fixture.h"
#include "unit.h"

static void skip(const char *why)
{
    unit_count++;
    printf("ok %d # SKIP %s\n", unit_count, why);
    fflush(stdout);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_names(void)
{
    static const char *const names[] = { "folded", "speedscope", "pstats", "callgrind", "pprof", "svg" };
    static const char *const suffixes[] = { ".folded", ".speedscope.json", ".pstats", ".callgrind",
                                            ".pb.gz", ".svg" };
    for (size_t i = 0; i < 6; i++) {
        enum export_format f;
        CHECK(export_format_parse(names[i], &f) == 0 && (size_t)f == i, names[i]);
        CHECK_STR(export_format_name(f), names[i], "format name round trip");
        CHECK_STR(export_format_suffix(f), suffixes[i], "format suffix");
    }
    enum export_format f = EXPORT_PPROF;
    CHECK(export_format_parse("flame", &f) != 0 && f == EXPORT_PPROF, "unknown format refused, out untouched");
    CHECK(export_format_parse("collapsed", &f) == 0 && f == EXPORT_FOLDED, "collapsed is folded");
}

void fixture_check_int(long long got, long long want, const char *what)
{
    CHECK_INT(got, want, what);
}

/* The folded label of a frame, built the way docs/exports.md describes. */
static void folded_label(struct strbuf *sb, const struct tframe *f)
{
    for (const char *s = f->name; *s; s++)
        strbuf_putc(sb, *s == ';' ? ':' : *s);
    if (!f->file[0])
        return;
    strbuf_puts(sb, " (");
    for (const char *s = f->file; *s; s++) {
        if (*s == '\n')
            strbuf_puts(sb, "\\n");
        else
            strbuf_putc(sb, *s == ';' ? ':' : *s);
    }
    if (f->line >= 0)
        strbuf_printf(sb, ":%d", f->line);
    strbuf_putc(sb, ')');
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_folded(enum export_mode m)
{
    /* Expected: one line per distinct stack (threads merged), in us. */
    char *want[NPROF];
    size_t nwant = 0;
    for (size_t r = 0; r < NPROF; r++) {
        struct strbuf sb;
        strbuf_init(&sb);
        for (int i = 0; i < row_depth(&prof[r]); i++) {
            if (i)
                strbuf_putc(&sb, ';');
            folded_label(&sb, row_frame(&prof[r], i));
        }
        uint64_t ns = 0;
        int dup = 0;
        for (size_t q = 0; q < NPROF; q++) {
            if (prof[q].n != prof[r].n)
                continue;
            int same = 1;
            for (int i = 0; i < prof[r].n; i++)
                same &= same_func(&prof[q].f[i], &prof[r].f[i]) && prof[q].f[i].line == prof[r].f[i].line;
            if (same) {
                ns += row_weight(&prof[q], m);
                dup |= q < r;
            }
        }
        uint64_t v = m == EXPORT_MEMORY ? ns : (ns + 500) / 1000;
        if (dup || v == 0) {
            strbuf_release(&sb);
            continue;
        }
        strbuf_printf(&sb, " %llu", (unsigned long long)v);
        want[nwant++] = sb.data;
    }
    qsort(want, nwant, sizeof *want, str_cmp);

    size_t len;
    char *text = read_file(export_file(EXPORT_FOLDED, m), &len);
    CHECK(text != NULL, "folded file readable");
    if (!text)
        return;
    char *got[64];
    size_t ngot = 0;
    int bad_line = 0;
    for (char *s = text, *e; *s && ngot < 64; s = e + 1) {
        e = strchr(s, '\n');
        if (!e) {
            bad_line = 1;   /* the last line must end too */
            break;
        }
        *e = '\0';
        got[ngot++] = s;
    }
    CHECK(!bad_line, "folded: every line ends with a newline");
    CHECK_INT(ngot, nwant, "folded: one line per distinct stack with weight");
    int same = ngot == nwant;
    for (size_t i = 0; same && i < ngot; i++) {
        if (strcmp(got[i], want[i]) != 0) {
            same = 0;
            printf("#   got  %s\n#   want %s\n", got[i], want[i]);
        }
    }
    CHECK(same, m == EXPORT_MEMORY ? "folded: exact lines, sorted, weights in bytes"
                                   : "folded: exact lines, sorted, weights in microseconds");
    /* flamegraph.pl's reading: the count after the last space, integers. */
    int parse_ok = 1;
    uint64_t sum = 0, want_sum = 0;
    for (size_t i = 0; i < ngot; i++) {
        const char *sp = strrchr(got[i], ' ');
        char *end;
        unsigned long long v = sp ? strtoull(sp + 1, &end, 10) : 0;
        parse_ok &= sp && *end == '\0' && v > 0;
        sum += v;
    }
    for (size_t r = 0; r < NPROF; r++)
        want_sum += row_weight(&prof[r], m);
    CHECK(parse_ok, "folded: integer counts after the last space");
    if (m == EXPORT_MEMORY)
        CHECK(sum == want_sum, "folded: bytes add up to the growth exactly");
    else
        CHECK(sum >= want_sum / 1000 - ngot && sum <= want_sum / 1000 + ngot,
              "folded: counts add up to the total");
    for (size_t i = 0; i < nwant; i++)
        free(want[i]);
    free(text);
}

/* A writer must report a failed write, not lose it. */
static void test_write_error(void)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        skip("/dev/full not available");
        return;
    }
    struct export_input in = make_input();
    int rc = export_write(f, EXPORT_FOLDED, EXPORT_CPU, &in);
    fclose(f);
    CHECK(rc == -ENOSPC, "a full disk is reported as -ENOSPC");
    CHECK(export_write(NULL, EXPORT_FOLDED, EXPORT_CPU, &in) == -EINVAL, "no file: -EINVAL");
}

/* Two processes: the profile's rows (process 4242) and a child's, which
 * shares one call path with it; every format writes them. */
static void test_processes(void)
{
    struct stack_weight both[NPROF + 2];
    struct process_info procs[2];
    struct export_input in = processes_input(both, procs);
    for (int m = 0; m < NMODES; m++)
        write_processes((enum export_mode)m, &in);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "temporary directory");
        return unit_done();
    }
    CHECK(build_profile() == 0, "build the test profile");
    UNIT_RUN(test_names);
    UNIT_RUN(write_all);
    for (int m = 0; m < NMODES; m++) {
        printf("# %s mode\n", mode_name((enum export_mode)m));
        test_folded((enum export_mode)m);
    }
    UNIT_RUN(test_write_error);
    /* No rows at all, and names no Python would give, counts past 2**31
     * and a very deep stack: every writer takes them (their readers load
     * them in export_consumers). */
    UNIT_RUN(write_empty);
    UNIT_RUN(write_hostile);
    UNIT_RUN(test_processes);

    release_profile();
    return unit_done();
}
