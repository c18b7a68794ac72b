/* Annotated source: every file the profile's Python frames run in, each
 * line with its hits (samples with that line running), own share (the
 * chosen weight with the line running, the leaf) and total share (with
 * the line anywhere on the stack, once per sample), like pprofile's
 * annotated listing. The source is read from the recorded paths when the
 * listing is written; a file that cannot be read is listed by its lines
 * with samples, without source, and says why.
 *
 * heatmap is the same as one self-contained HTML page: every file a
 * table, the total share as the line's background colour, a search box
 * that keeps the lines (and files) whose text matches. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "record/export_internal.h"
#include "record/export_writers.h"

#define MAX_SOURCE_LINES 2000000u
#define MAX_LINE_BYTES 4096u

struct ann_line {
    uint32_t file;
    int32_t line;
    uint64_t hits;
    uint64_t own;
    uint64_t total;
};

struct ann_file {
    const char *name;
    uint64_t total;         /* the weight of its heaviest line */
    uint64_t own;           /* sum of its lines' own weight */
};

struct ann {
    struct ann_line *lines;
    uint32_t nlines, lcap;
    struct ann_file *files;
    uint32_t nfiles, fcap;
    struct export_map line_map;     /* (file, line) -> line */
    struct export_map file_map;     /* hash of name -> file */
    uint32_t *stamp;                /* per line: the row it was last counted for */
};

static int ann_file_of(struct ann *a, const char *name, uint32_t *out)
{
    uint64_t h = hash_fnv1a(name, strlen(name));
    /* A hash shared by two names (b counts the probe) keeps them apart. */
    for (uint64_t probe = 0; probe < 64; probe++) {
        uint32_t id;
        int added;
        if (export_map_get_or_add(&a->file_map, h, probe, a->nfiles, &id, &added) != 0)
            return -ENOMEM;
        if (!added) {
            if (strcmp(a->files[id].name, name) == 0) {
                *out = id;
                return 0;
            }
            continue;
        }
        if (a->nfiles == a->fcap) {
            uint32_t cap = a->fcap ? a->fcap * 2 : 16;
            struct ann_file *nf = realloc(a->files, (size_t)cap * sizeof *nf);
            if (!nf)
                return -ENOMEM;
            a->files = nf;
            a->fcap = cap;
        }
        a->files[a->nfiles] = (struct ann_file){ .name = name };
        *out = a->nfiles++;
        return 0;
    }
    return -ENOMEM;
}

static int ann_line_of(struct ann *a, uint32_t file, int32_t line, uint32_t *out)
{
    uint32_t id;
    int added;
    if (export_map_get_or_add(&a->line_map, file, (uint32_t)line, a->nlines, &id, &added) != 0)
        return -ENOMEM;
    if (added) {
        if (a->nlines == a->lcap) {
            uint32_t cap = a->lcap ? a->lcap * 2 : 256;
            struct ann_line *nl = realloc(a->lines, (size_t)cap * sizeof *nl);
            uint32_t *ns = realloc(a->stamp, (size_t)cap * sizeof *ns);
            if (ns)
                a->stamp = ns;
            if (nl)
                a->lines = nl;
            if (!nl || !ns)
                return -ENOMEM;
            a->lcap = cap;
        }
        a->lines[a->nlines] = (struct ann_line){ .file = file, .line = line };
        a->stamp[a->nlines] = UINT32_MAX;
        a->nlines++;
    }
    *out = id;
    return 0;
}

static int line_cmp(const void *x, const void *y)
{
    const struct ann_line *a = x, *b = y;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);
}

static int build(struct export_prep *p, struct ann *a, uint64_t *grand)
{
    const struct export_input *in = p->in;
    uint32_t *path = malloc(p->max_depth * sizeof *path);
    if (!path)
        return -ENOMEM;
    *grand = 0;
    for (size_t r = 0; r < in->nrows; r++) {
        const struct stack_weight *row = &in->rows[r];
        uint64_t w = export_row_weight(p, row);
        *grand += w;
        if (!w && !row->samples)
            continue;
        uint32_t n = export_path(p, row, path);
        for (uint32_t d = 0; d < n; d++) {
            if (path[d] >= p->nframes)
                continue;
            const struct export_frame *fr = &p->frames[path[d]];
            const struct export_func *fn = &p->funcs[fr->func];
            /* Native and synthetic frames have no Python source line. */
            if (fr->line <= 0 || !fn->file[0] || fn->firstline == STACK_FRAME_NATIVE)
                continue;
            uint32_t f, l;
            if (ann_file_of(a, fn->file, &f) != 0 || ann_line_of(a, f, fr->line, &l) != 0) {
                free(path);
                return -ENOMEM;
            }
            if (a->stamp[l] != (uint32_t)r) {   /* recursion counts once */
                a->stamp[l] = (uint32_t)r;
                a->lines[l].total += w;
            }
            if (d == n - 1) {
                a->lines[l].own += w;
                a->lines[l].hits += row->samples;
            }
        }
    }
    free(path);
    qsort(a->lines, a->nlines, sizeof *a->lines, line_cmp);
    for (uint32_t i = 0; i < a->nlines; i++) {
        struct ann_file *f = &a->files[a->lines[i].file];
        if (a->lines[i].total > f->total)
            f->total = a->lines[i].total;
        f->own += a->lines[i].own;
    }
    return 0;
}

static double share(uint64_t v, uint64_t grand)
{
    return grand ? 100.0 * (double)v / (double)grand : 0.0;
}

static void put_html(struct strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '<')
            strbuf_puts(sb, "&lt;");
        else if (c == '>')
            strbuf_puts(sb, "&gt;");
        else if (c == '&')
            strbuf_puts(sb, "&amp;");
        else if (c == '"')
            strbuf_puts(sb, "&quot;");
        else if (c == '\t')
            strbuf_puts(sb, "    ");
        else if ((unsigned char)c < 0x20)
            strbuf_putc(sb, ' ');
        else
            strbuf_putc(sb, c);
    }
}

/* One line of source text, cleaned: control characters shown, invalid
 * UTF-8 replaced, at most MAX_LINE_BYTES. */
static void put_source(struct strbuf *sb, const char *text, size_t n, int html)
{
    if (n > MAX_LINE_BYTES)
        n = MAX_LINE_BYTES;
    struct strbuf raw, clean;
    strbuf_init(&raw);
    strbuf_init(&clean);
    strbuf_append(&raw, text, n);
    export_put_utf8(&clean, strbuf_str(&raw));
    if (html)
        put_html(sb, clean.data ? clean.data : "", clean.len);
    else
        for (size_t i = 0; i < clean.len; i++) {
            unsigned char c = (unsigned char)clean.data[i];
            if (c == '\t')
                strbuf_puts(sb, "    ");
            else if (c < 0x20 || c == 0x7f)
                strbuf_putc(sb, ' ');
            else
                strbuf_putc(sb, (char)c);
        }
    if (raw.oom || clean.oom)
        sb->oom = 1;
    strbuf_release(&raw);
    strbuf_release(&clean);
}

static void put_row(struct export_out *o, const struct export_prep *p, int html,
                    int32_t lineno, const struct ann_line *l, uint64_t grand, uint64_t peak,
                    const char *src, size_t srclen, int have_src)
{
    struct strbuf *sb = &o->sb;
    uint64_t hits = l ? l->hits : 0, own = l ? l->own : 0, total = l ? l->total : 0;
    if (html) {
        double alpha = peak ? 0.85 * (double)total / (double)peak : 0;
        strbuf_printf(sb, "<tr style=\"background:rgba(255,80,0,%.3f)\"><td>%d</td><td>",
                      alpha, (int)lineno);
        if (hits)
            export_put_u64(sb, hits);
        strbuf_puts(sb, "</td><td>");
        if (own)
            strbuf_printf(sb, "%.2f%%", share(own, grand));
        strbuf_puts(sb, "</td><td>");
        if (total)
            strbuf_printf(sb, "%.2f%%", share(total, grand));
        strbuf_puts(sb, "</td><td class=s>");
        if (have_src)
            put_source(sb, src, srclen, 1);
        strbuf_puts(sb, "</td></tr>\n");
    } else {
        strbuf_printf(sb, "%6d|%8llu|", (int)lineno, (unsigned long long)hits);
        if (p->mode == EXPORT_MEMORY)
            strbuf_printf(sb, "%12llu|", (unsigned long long)own);
        else
            strbuf_printf(sb, "%12.6f|", (double)own / 1e9);
        strbuf_printf(sb, "%7.2f%%|%7.2f%%| ", share(own, grand), share(total, grand));
        if (have_src)
            put_source(sb, src, srclen, 0);
        strbuf_putc(sb, '\n');
    }
    export_out_maybe_flush(o);
}

static const char heatmap_head[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
    "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;"
    "font-family:monospace;font-size:13px}td{padding:0 .6em;white-space:pre;"
    "text-align:right}td.s{text-align:left}th{text-align:right;padding:0 .6em}"
    "h2{font-size:15px;margin:1.2em 0 .3em}.note{color:#666}#q{width:30em}</style>\n"
    "<script>function search(){var q=document.getElementById('q').value.toLowerCase();"
    "var n=0;document.querySelectorAll('section').forEach(function(s){var any=false;"
    "s.querySelectorAll('tbody tr').forEach(function(r){var m=!q||r.textContent"
    ".toLowerCase().indexOf(q)>=0||s.dataset.file.toLowerCase().indexOf(q)>=0;"
    "r.style.display=m?'':'none';if(m){any=true;n++;}});s.style.display=any?'':'none';});"
    "document.getElementById('count').textContent=q?n+' lines match':'';}\n"
    /* page.html#text opens with text searched, for links and tests. */
    "window.addEventListener('load',function(){if(location.hash.length>1){"
    "document.getElementById('q').value=decodeURIComponent(location.hash.slice(1));"
    "search();}});</script>\n";

/* Files, heaviest first (*order), and where each one's lines start in
 * a->lines (*first, one past the last file too). */
static int file_order(const struct ann *a, uint32_t **order_out, uint32_t **first_out)
{
    uint32_t *order = malloc((a->nfiles ? a->nfiles : 1) * sizeof *order);
    uint32_t *first = malloc((a->nfiles + 1) * sizeof *first);
    if (!order || !first) {
        free(order);
        free(first);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < a->nfiles; i++)
        order[i] = i;
    for (uint32_t i = 1; i < a->nfiles; i++) {     /* insertion sort: few files */
        uint32_t v = order[i], j = i;
        while (j > 0 && a->files[order[j - 1]].total < a->files[v].total)
            order[j] = order[j - 1], j--;
        order[j] = v;
    }
    for (uint32_t f = 0, l = 0; f <= a->nfiles; f++) {
        while (l < a->nlines && a->lines[l].file < f)
            l++;
        first[f] = l;
    }
    *order_out = order;
    *first_out = first;
    return 0;
}

static void put_title(struct strbuf *sb, const struct export_prep *p, int html, uint64_t grand)
{
    const struct export_input *in = p->in;
    struct strbuf title;
    strbuf_init(&title);
    strbuf_printf(&title, "pytop: %s", p->mode == EXPORT_MEMORY ? "memory growth"
                                                                : export_mode_title(p->mode));
    if (p->mode != EXPORT_MEMORY)
        strbuf_puts(&title, " time");
    if (in->command && in->command[0])
        strbuf_printf(&title, " of %s", in->command);
    if (in->pid)
        strbuf_printf(&title, " (pid %u)", (unsigned)in->pid);
    if (html) {
        strbuf_puts(sb, heatmap_head);
        strbuf_puts(sb, "<title>");
        put_html(sb, strbuf_str(&title), title.len);
        strbuf_puts(sb, "</title></head><body>\n<h1 style=\"font-size:18px\">");
        put_html(sb, strbuf_str(&title), title.len);
        strbuf_puts(sb, "</h1>\n<p class=note>Own: the share of the profile with the line "
                        "running; total: with the line anywhere on the stack (once per "
                        "sample). Colour: total share.</p>\n<p><input id=q type=search "
                        "placeholder=\"search the sources\" oninput=\"search()\"> "
                        "<span id=count></span></p>\n");
    } else {
        strbuf_printf(sb, "# %s\n", strbuf_str(&title));
        strbuf_puts(sb, "# Hits: samples with the line running. Own: ");
        strbuf_puts(sb, p->mode == EXPORT_MEMORY ? "bytes" : "seconds");
        strbuf_puts(sb, " with the line running, and their share of the profile.\n"
                        "# Total: the share with the line anywhere on the stack (once per "
                        "sample).\n");
        strbuf_puts(sb, "# Profile total: ");
        export_put_value(sb, p, grand);
        strbuf_puts(sb, p->mode == EXPORT_MEMORY ? " bytes\n" : " s\n");
    }
    strbuf_release(&title);
}

/* A file's heading; err is why its source cannot be read, or 0. */
static void put_file_head(struct strbuf *sb, const struct export_prep *p, int html, const char *name,
                          double own, int err)
{
    if (html) {
        strbuf_puts(sb, "<section data-file=\"");
        put_html(sb, name, strlen(name));
        strbuf_puts(sb, "\"><h2>");
        put_html(sb, name, strlen(name));
        strbuf_printf(sb, " <span class=note>own %.2f%%", own);
        if (err)
            strbuf_printf(sb, "; source not readable (%s): lines with samples only", strerror(err));
        strbuf_puts(sb, "</span></h2>\n<table><thead><tr><th>Line</th><th>Hits</th>"
                        "<th>Own</th><th>Total</th><th style=\"text-align:left\">"
                        "Source</th></tr></thead><tbody>\n");
    } else {
        strbuf_printf(sb, "\nFile: %s\n", name);
        strbuf_printf(sb, "File own: %.2f%%", own);
        if (err)
            strbuf_printf(sb, "  (source not readable: %s; lines with samples only)", strerror(err));
        strbuf_printf(sb, "\n  Line|    Hits|%12s|   Own %%| Total %%| Source\n",
                      p->mode == EXPORT_MEMORY ? "Own bytes" : "Own s");
        strbuf_puts(sb, "------+--------+------------+--------+--------+-------\n");
    }
}

/* What the writer keeps across files. */
struct listing {
    struct export_out *o;
    const struct export_prep *p;
    int html;
    uint64_t grand, peak;
    char *buf;                  /* getline's */
    size_t cap;
};

/* A file's lines n lines (sorted): the source with its counts, or only
 * the lines with samples when src is NULL. */
static void put_file_lines(struct listing *ls, const struct ann_line *lines, uint32_t n, FILE *src)
{
    uint32_t li = 0;
    int32_t lineno = 0;
    ssize_t len;
    while (src && lineno < (int32_t)MAX_SOURCE_LINES && (len = getline(&ls->buf, &ls->cap, src)) >= 0) {
        lineno++;
        while (len > 0 && (ls->buf[len - 1] == '\n' || ls->buf[len - 1] == '\r'))
            len--;
        while (li < n && lines[li].line < lineno)   /* lines past the file's end */
            li++;
        const struct ann_line *l = li < n && lines[li].line == lineno ? &lines[li] : NULL;
        put_row(ls->o, ls->p, ls->html, lineno, l, ls->grand, ls->peak, ls->buf, (size_t)len, 1);
    }
    /* Without the source, every line with samples; with it, the lines the
     * file no longer has (it changed since). */
    for (; li < n; li++)
        if (!src || lines[li].line > lineno)
            put_row(ls->o, ls->p, ls->html, lines[li].line, &lines[li], ls->grand, ls->peak, NULL, 0, 0);
}

int export_write_annotate(struct export_out *o, struct export_prep *p, int html)
{
    struct strbuf *sb = &o->sb;
    struct ann a;
    memset(&a, 0, sizeof a);
    export_map_init(&a.line_map);
    export_map_init(&a.file_map);
    struct listing ls = { .o = o, .p = p, .html = html };
    uint32_t *order = NULL, *first = NULL;
    int rc = build(p, &a, &ls.grand);
    if (rc == 0)
        rc = file_order(&a, &order, &first);
    if (rc == 0) {
        for (uint32_t i = 0; i < a.nlines; i++)
            if (a.lines[i].total > ls.peak)
                ls.peak = a.lines[i].total;
        put_title(sb, p, html, ls.grand);
        for (uint32_t k = 0; k < a.nfiles; k++) {
            uint32_t f = order[k];
            FILE *src = fopen(a.files[f].name, "r");
            put_file_head(sb, p, html, a.files[f].name, share(a.files[f].own, ls.grand), src ? 0 : errno);
            put_file_lines(&ls, a.lines + first[f], first[f + 1] - first[f], src);
            if (src)
                fclose(src);
            if (html)
                strbuf_puts(sb, "</tbody></table></section>\n");
        }
        if (html && a.nfiles == 0)
            strbuf_puts(sb, "<p>No Python source line has samples.</p>\n");
        if (html)
            strbuf_puts(sb, "</body></html>\n");
    }
    free(order);
    free(first);
    free(ls.buf);
    free(a.lines);
    free(a.files);
    free(a.stamp);
    export_map_release(&a.line_map);
    export_map_release(&a.file_map);
    return rc;
}
