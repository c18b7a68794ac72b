/* A self-contained interactive flame graph: one SVG file, no external
 * resources, that any browser opens.
 *
 * Threads are merged into one call tree; each call path is a rectangle as
 * wide as its inclusive weight (CPU or wall time), the root ("all") at the
 * bottom, siblings sorted by name. Colours come from a hash of the source
 * file, so a module keeps its colour across graphs. Paths narrower than
 * 0.1 px are not drawn. The embedded script adds click-to-zoom, a details
 * line on hover, and a regular-expression search that highlights matches
 * and shows their share of the total (nested matches counted once). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "record/export_internal.h"
#include "record/export_writers.h"

#define IMAGE_WIDTH 1200
#define PAD_X 10
#define FRAME_H 16
#define FONT_SIZE 12
#define PAD_TOP 50      /* title, subtitle and buttons */
#define PAD_BOTTOM 30   /* the details line */
#define MIN_WIDTH_PX 0.1

struct tnode {
    uint32_t parent;
    uint32_t frame;         /* export frame; unused for the root */
    uint32_t depth;
    uint32_t first_child;   /* index into the children array */
    uint32_t nchildren;
    uint64_t ns;            /* inclusive */
    uint64_t samples;       /* inclusive */
    uint64_t x;             /* offset from the left, in ns */
    double base;            /* with a baseline: its weight per second here */
};

struct tree {
    struct tnode *v;
    uint32_t n, cap;
    struct export_map map;  /* (parent, frame) -> node */
    uint32_t *children;
};

static int tree_child(struct tree *t, uint32_t parent, uint32_t frame, uint32_t *out)
{
    uint32_t id;
    int added;
    if (export_map_get_or_add(&t->map, parent, frame, t->n, &id, &added) != 0)
        return -ENOMEM;
    if (added) {
        if (t->n == t->cap) {
            uint32_t cap = t->cap ? t->cap * 2 : 256;
            struct tnode *nv = realloc(t->v, (size_t)cap * sizeof *nv);
            if (!nv)
                return -ENOMEM;
            t->v = nv;
            t->cap = cap;
        }
        memset(&t->v[t->n], 0, sizeof t->v[t->n]);
        t->v[t->n].parent = parent;
        t->v[t->n].frame = frame;
        t->v[t->n].depth = t->v[parent].depth + 1;
        t->n++;
    }
    *out = id;
    return 0;
}

struct child_ref {
    const struct export_prep *p;
    uint32_t node;
    uint32_t frame;
};

static int child_cmp(const void *a, const void *b)
{
    const struct child_ref *x = a, *y = b;
    const struct export_frame *fx = &x->p->frames[x->frame], *fy = &y->p->frames[y->frame];
    const struct export_func *gx = &x->p->funcs[fx->func], *gy = &y->p->funcs[fy->func];
    int c = strcmp(gx->name, gy->name);
    if (c == 0)
        c = strcmp(gx->file, gy->file);
    if (c == 0 && fx->line != fy->line)
        c = fx->line < fy->line ? -1 : 1;
    if (c == 0)
        c = x->node < y->node ? -1 : x->node > y->node;
    return c;
}

/* Children lists, each sorted by label. */
static int tree_link(struct tree *t, const struct export_prep *p)
{
    t->children = malloc((size_t)(t->n ? t->n : 1) * sizeof *t->children);
    struct child_ref *refs = malloc((size_t)(t->n ? t->n : 1) * sizeof *refs);
    if (!t->children || !refs) {
        free(refs);
        return -ENOMEM;
    }
    for (uint32_t i = 1; i < t->n; i++)
        t->v[t->v[i].parent].nchildren++;
    uint32_t off = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        t->v[i].first_child = off;
        off += t->v[i].nchildren;
        t->v[i].nchildren = 0;
    }
    for (uint32_t i = 1; i < t->n; i++) {
        struct tnode *par = &t->v[t->v[i].parent];
        refs[par->first_child + par->nchildren].p = p;
        refs[par->first_child + par->nchildren].node = i;
        refs[par->first_child + par->nchildren].frame = t->v[i].frame;
        par->nchildren++;
    }
    for (uint32_t i = 0; i < t->n; i++)
        if (t->v[i].nchildren > 1)
            qsort(refs + t->v[i].first_child, t->v[i].nchildren, sizeof *refs, child_cmp);
    for (uint32_t i = 0; i + 1 < t->n; i++)
        t->children[i] = refs[i].node;
    free(refs);
    return 0;
}

/* Warm colours (reds, oranges, yellows) keyed by the file. */
static void put_colour(struct strbuf *sb, const struct export_prep *p, uint32_t frame)
{
    const struct export_func *f = &p->funcs[p->frames[frame].func];
    if (!f->file[0]) {
        strbuf_puts(sb, "rgb(190,190,190)");
        return;
    }
    uint64_t h = hash_fnv1a(f->file, strlen(f->file));
    unsigned v1 = (unsigned)(h & 0xff), v2 = (unsigned)((h >> 8) & 0xff), v3 = (unsigned)((h >> 16) & 0xff);
    unsigned r = 205 + v1 * 50 / 255;
    unsigned g = 60 + v2 * 160 / 255;
    unsigned b = 30 + v3 * 40 / 255;
    strbuf_printf(sb, "rgb(%u,%u,%u)", r, g, b);
}

/* The label cut to fit w pixels, as the script does after a zoom. */
static void put_fitted(struct strbuf *sb, const char *label, double w)
{
    double avail = w - 6;
    size_t fit = avail > 0 ? (size_t)(avail / (FONT_SIZE * 0.59)) : 0;
    if (fit < 3)
        return;
    /* Count characters, not bytes, so UTF-8 is never cut in the middle. */
    size_t chars = 0, i = 0, cut = 0;
    for (; label[i]; i++) {
        if (((unsigned char)label[i] & 0xc0) != 0x80) {
            if (chars == fit - 2)
                cut = i;
            chars++;
        }
    }
    struct strbuf t;
    strbuf_init(&t);
    if (chars <= fit) {
        strbuf_puts(&t, label);
    } else {
        strbuf_append(&t, label, cut);
        strbuf_puts(&t, "..");
    }
    export_put_xml(sb, strbuf_str(&t));
    if (t.oom)
        sb->oom = 1;
    strbuf_release(&t);
}

static const char svg_script[] =
"\"use strict\";\n"
"var frames = [], details, matchedEl, resetEl, searchEl, zoomed = null, searching = false;\n"
"function el(id) { return document.getElementById(id); }\n"
"function fit(f, x, w) {\n"
"  var n = Math.floor((w - 6) / (FONT * 0.59)), s = f.label;\n"
"  var chars = Array.from(s);\n"
"  if (n < 3) s = \"\";\n"
"  else if (chars.length > n) s = chars.slice(0, n - 2).join(\"\") + \"..\";\n"
"  f.t.textContent = s;\n"
"  f.t.setAttribute(\"x\", (x + 3).toFixed(2));\n"
"}\n"
"function place(f, x, w, show) {\n"
"  f.g.style.display = show ? \"\" : \"none\";\n"
"  if (!show) return;\n"
"  f.r.setAttribute(\"x\", x.toFixed(2));\n"
"  f.r.setAttribute(\"width\", w.toFixed(2));\n"
"  fit(f, x, w);\n"
"}\n"
"function unzoom() {\n"
"  zoomed = null;\n"
"  resetEl.style.display = \"none\";\n"
"  frames.forEach(function (f) { place(f, f.x, f.w, true); f.g.style.opacity = \"\"; });\n"
"}\n"
"function zoom(z) {\n"
"  if (z.y >= ROOT_Y) { unzoom(); return; }\n"
"  zoomed = z;\n"
"  resetEl.style.display = \"\";\n"
"  var eps = 0.02, scale = WIDTH / z.w;\n"
"  frames.forEach(function (f) {\n"
"    var inside = f.x >= z.x - eps && f.x + f.w <= z.x + z.w + eps;\n"
"    var covers = f.x <= z.x + eps && f.x + f.w >= z.x + z.w - eps;\n"
"    if (f.y > z.y && covers) {\n"
"      place(f, X0, WIDTH, true);\n"
"      f.g.style.opacity = \"0.6\";\n"
"    } else if (f.y <= z.y && inside) {\n"
"      place(f, X0 + (f.x - z.x) * scale, f.w * scale, true);\n"
"      f.g.style.opacity = \"\";\n"
"    } else {\n"
"      place(f, 0, 0, false);\n"
"    }\n"
"  });\n"
"}\n"
"function clearSearch() {\n"
"  searching = false;\n"
"  frames.forEach(function (f) { f.r.setAttribute(\"fill\", f.fill); });\n"
"  matchedEl.textContent = \"\";\n"
"  searchEl.textContent = \"Search\";\n"
"}\n"
"function search(term) {\n"
"  var re;\n"
"  try { re = new RegExp(term); } catch (e) { matchedEl.textContent = \"bad expression\"; return; }\n"
"  var hits = [];\n"
"  frames.forEach(function (f) {\n"
"    var on = f.y < ROOT_Y && re.test(f.label);\n"
"    f.r.setAttribute(\"fill\", on ? \"rgb(230,0,230)\" : f.fill);\n"
"    if (on) hits.push(f);\n"
"  });\n"
"  /* Matches nested in a match add nothing: sweep them in x order. */\n"
"  hits.sort(function (a, b) { return a.x - b.x || b.y - a.y; });\n"
"  var sum = 0, end = -1;\n"
"  hits.forEach(function (f) {\n"
"    if (f.x >= end - 0.02) { sum += f.w; end = f.x + f.w; }\n"
"  });\n"
"  searching = true;\n"
"  searchEl.textContent = \"Reset search\";\n"
"  matchedEl.textContent = \"Matched: \" + (100 * sum / WIDTH).toFixed(1) + \"%\";\n"
"}\n"
"function askSearch() {\n"
"  if (searching) { clearSearch(); return; }\n"
"  var term = window.prompt(\"Search for (regular expression):\", \"\");\n"
"  if (term) search(term);\n"
"}\n"
"function init() {\n"
"  details = el(\"details\"); matchedEl = el(\"matched\");\n"
"  resetEl = el(\"unzoom\"); searchEl = el(\"search\");\n"
"  var gs = document.querySelectorAll(\"g.f\");\n"
"  for (var i = 0; i < gs.length; i++) {\n"
"    var g = gs[i], r = g.querySelector(\"rect\"), info = g.querySelector(\"title\").textContent;\n"
"    var f = { g: g, r: r, t: g.querySelector(\"text\"), fill: r.getAttribute(\"fill\"),\n"
"              x: +r.getAttribute(\"x\"), w: +r.getAttribute(\"width\"), y: +r.getAttribute(\"y\"),\n"
"              label: info.split(\"\\n\")[0], info: info.replace(/\\n/g, \" \") };\n"
"    frames.push(f);\n"
"    (function (f) {\n"
"      g.addEventListener(\"click\", function () { zoom(f); });\n"
"      g.addEventListener(\"mouseover\", function () { details.textContent = f.info; });\n"
"      g.addEventListener(\"mouseout\", function () { details.textContent = \" \"; });\n"
"    })(f);\n"
"  }\n"
"  resetEl.addEventListener(\"click\", unzoom);\n"
"  searchEl.addEventListener(\"click\", askSearch);\n"
"  window.addEventListener(\"keydown\", function (e) {\n"
"    if ((e.ctrlKey || e.metaKey) && e.key === \"f\") { e.preventDefault(); askSearch(); }\n"
"    else if (e.key === \"Escape\") { unzoom(); clearSearch(); }\n"
"  });\n"
"}\n"
"init();\n";

static void put_tooltip(struct strbuf *sb, const struct export_prep *p, const char *label,
                        uint64_t samples, uint64_t ns, uint64_t total)
{
    export_put_xml(sb, label);
    strbuf_printf(sb, "\n%llu sample%s, ", (unsigned long long)samples, samples == 1 ? "" : "s");
    if (p->mode == EXPORT_MEMORY) {
        export_put_bytes_human(sb, ns);
    } else {
        export_put_value(sb, p, ns);
        strbuf_puts(sb, " s");
    }
    strbuf_printf(sb, ", %.2f%%", total ? 100.0 * (double)ns / (double)total : 0.0);
}

/* Per baseline frame, the frame of p with the same label, or UINT32_MAX. */
static uint32_t *match_frames(const struct export_prep *p, const struct export_prep *base)
{
    struct strbuf lp, lb;
    size_t *op = NULL, *ob = NULL;
    struct export_map by_label;
    uint32_t *out = malloc((base->nframes ? base->nframes : 1) * sizeof *out);
    export_map_init(&by_label);
    strbuf_init(&lp);
    strbuf_init(&lb);
    int ok = out && export_frame_labels(p, &lp, &op) == 0 && export_frame_labels(base, &lb, &ob) == 0;
    for (uint32_t i = 0; ok && i < p->nframes; i++) {
        struct strbuf one;
        strbuf_init(&one);
        strbuf_append(&one, lp.data + op[i], op[i + 1] - op[i]);
        uint32_t v;
        ok = export_map_get_or_add(&by_label, hash_fnv1a(strbuf_str(&one), one.len),
                                   op[i + 1] - op[i], i, &v, NULL) == 0;
        strbuf_release(&one);
    }
    for (uint32_t i = 0; ok && i < base->nframes; i++) {
        struct strbuf one;
        strbuf_init(&one);
        strbuf_append(&one, lb.data + ob[i], ob[i + 1] - ob[i]);
        uint32_t v;
        int added;
        ok = export_map_get_or_add(&by_label, hash_fnv1a(strbuf_str(&one), one.len),
                                   ob[i + 1] - ob[i], UINT32_MAX, &v, &added) == 0;
        /* Equal hashes of different labels: treat as no match. */
        if (ok && v != UINT32_MAX && (op[v + 1] - op[v] != ob[i + 1] - ob[i] ||
                                      memcmp(lp.data + op[v], lb.data + ob[i], ob[i + 1] - ob[i])))
            v = UINT32_MAX;
        out[i] = v;
        strbuf_release(&one);
    }
    free(op);
    free(ob);
    strbuf_release(&lp);
    strbuf_release(&lb);
    export_map_release(&by_label);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static double rate_of(uint64_t v, uint64_t duration_ns)
{
    return (double)v / (duration_ns ? (double)duration_ns : 1e9);
}

static int svg_write(struct export_out *o, struct export_prep *p, struct export_prep *base);

int export_write_svg(struct export_out *o, struct export_prep *p)
{
    return svg_write(o, p, NULL);
}

int export_write_svg_diff(struct export_out *o, struct export_prep *p, struct export_prep *base)
{
    return svg_write(o, p, base);
}

/* Growth red, shrink blue, as strong as the change is against the
 * largest change in the graph. */
static void put_diff_colour(struct strbuf *sb, double delta, double maxd)
{
    double r = maxd > 0 ? delta / maxd : 0;
    if (r > -1e-6 && r < 1e-6)
        r = 0;
    if (r > 1)
        r = 1;
    if (r < -1)
        r = -1;
    unsigned k = (unsigned)(200 * (r < 0 ? -r : r));
    if (r >= 0)
        strbuf_printf(sb, "rgb(255,%u,%u)", 240 - k, 240 - k);
    else
        strbuf_printf(sb, "rgb(%u,%u,255)", 240 - k, 240 - k);
}

static void put_diff_tooltip(struct strbuf *sb, const struct export_prep *p, const char *label,
                             double before, double now)
{
    const char *unit = p->mode == EXPORT_MEMORY ? "bytes/s" : "s/s";
    export_put_xml(sb, label);
    strbuf_printf(sb, "\nbaseline %.6f %s, now %.6f %s", before, unit, now, unit);
    if (before > 0)
        strbuf_printf(sb, " (%+.1f%%)", 100.0 * (now - before) / before);
    else
        strbuf_puts(sb, " (new)");
}

/* One flame graph being written: the tree of call paths and its layout. */
struct svg {
    struct export_out *o;
    struct export_prep *p, *base;
    struct tree t;
    struct strbuf label;
    uint32_t *stack;                /* room for every node */
    uint64_t total_samples_all;     /* with weight or not */
    uint64_t total;                 /* the root's weight */
    double scale, maxd;
    uint32_t max_depth;
    int height, root_y;
};

/* Add a row's path to the tree (rows without weight are only counted). */
static int add_row(void *ctx, const struct export_row_path *r)
{
    struct svg *s = ctx;
    struct tree *t = &s->t;
    s->total_samples_all += r->row->samples;
    if (r->weight == 0)
        return 0;
    uint32_t cur = 0;
    t->v[0].ns += r->weight;
    t->v[0].samples += r->row->samples;
    for (uint32_t i = 0; i < r->n; i++) {
        if (tree_child(t, cur, r->path[i], &cur) != 0)
            return -ENOMEM;
        t->v[cur].ns += r->weight;
        t->v[cur].samples += r->row->samples;
    }
    return 0;
}

struct base_walk {
    struct svg *s;
    const uint32_t *bmap;
};

/* A baseline row on the same tree, matched by label; a path the new
 * profile lacks adds a node of no width (not drawn), and its weight still
 * counts in its callers' baseline. */
static int add_base_row(void *ctx, const struct export_row_path *r)
{
    struct base_walk *bw = ctx;
    struct tree *t = &bw->s->t;
    const struct export_prep *base = bw->s->base;
    double w = rate_of(r->weight, base->in->duration_ns);
    if (w == 0)
        return 0;
    uint32_t cur = 0;
    t->v[0].base += w;
    for (uint32_t i = 0; i < r->n; i++) {
        uint32_t f = r->path[i] < base->nframes ? bw->bmap[r->path[i]] : UINT32_MAX;
        if (f == UINT32_MAX)
            break;
        if (tree_child(t, cur, f, &cur) != 0)
            return -ENOMEM;
        t->v[cur].base += w;
    }
    return 0;
}

static int add_baseline(struct svg *s)
{
    struct base_walk bw = { s, match_frames(s->p, s->base) };
    if (!bw.bmap)
        return -ENOMEM;
    int rc = export_walk_rows(s->base, add_base_row, &bw);
    free((void *)bw.bmap);
    if (rc != 0)
        return rc;
    /* Sums in another order differ in their last bits: a change below a
     * billionth of the larger whole is none. */
    uint64_t duration = s->p->in->duration_ns;
    double whole = rate_of(s->t.v[0].ns, duration);
    if (s->t.v[0].base > whole)
        whole = s->t.v[0].base;
    s->maxd = whole * 1e-9;
    for (uint32_t i = 1; i < s->t.n; i++) {
        double d = rate_of(s->t.v[i].ns, duration) - s->t.v[i].base;
        if (d < 0)
            d = -d;
        if (d > s->maxd)
            s->maxd = d;
    }
    return 0;
}

/* Lay out depth first; mark what is too narrow to draw. */
static int layout(struct svg *s)
{
    struct tree *t = &s->t;
    s->total = t->v[0].ns;
    s->scale = s->total ? (double)(IMAGE_WIDTH - 2 * PAD_X) / (double)s->total : 0;
    s->stack = malloc((size_t)t->n * sizeof *s->stack);
    if (!s->stack)
        return -ENOMEM;
    uint32_t sp = 0;
    s->stack[sp++] = 0;
    while (sp) {
        struct tnode *nd = &t->v[s->stack[--sp]];
        if ((double)nd->ns * s->scale < MIN_WIDTH_PX)
            continue;
        if (nd->depth > s->max_depth)
            s->max_depth = nd->depth;
        uint64_t x = nd->x;
        for (uint32_t c = 0; c < nd->nchildren; c++) {
            struct tnode *ch = &t->v[t->children[nd->first_child + c]];
            ch->x = x;
            x += ch->ns;
            s->stack[sp++] = t->children[nd->first_child + c];
        }
    }
    s->height = PAD_TOP + (int)(s->max_depth + 1) * FRAME_H + PAD_BOTTOM;
    s->root_y = s->height - PAD_BOTTOM - FRAME_H;
    return 0;
}

static void put_head(struct svg *s)
{
    struct strbuf *sb = &s->o->sb;
    strbuf_puts(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    strbuf_printf(sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                  "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
                  IMAGE_WIDTH, s->height, IMAGE_WIDTH, s->height);
    strbuf_puts(sb, "<!-- flame graph written by pytop " PACKAGE_VERSION " -->\n");
    strbuf_printf(sb, "<style>\n"
                  "text { font-family: Verdana, \"DejaVu Sans\", sans-serif; font-size: %dpx; fill: #000; }\n"
                  "g.f text { pointer-events: none; }\n"
                  "g.f:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }\n"
                  ".title { font-size: 17px; text-anchor: middle; }\n"
                  ".sub { fill: #555; text-anchor: middle; }\n"
                  ".button { cursor: pointer; fill: #1a4a8a; }\n"
                  "</style>\n", FONT_SIZE);
    strbuf_printf(sb, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f4ec\"/>\n",
                  IMAGE_WIDTH, s->height);
}

static void put_title(struct svg *s)
{
    const struct export_prep *p = s->p;
    const struct export_input *in = p->in;
    struct strbuf *sb = &s->o->sb, *label = &s->label;
    strbuf_printf(sb, "<text class=\"title\" x=\"%d\" y=\"22\">", IMAGE_WIDTH / 2);
    export_sb_reset(label);
    if (s->base)
        strbuf_printf(label, "Differential %s flame graph (red grew, blue shrank)",
                      p->mode == EXPORT_MEMORY ? "memory growth" : export_mode_title(p->mode));
    else if (p->mode == EXPORT_MEMORY)
        strbuf_puts(label, "Memory growth flame graph (resident memory, not allocations)");
    else
        strbuf_printf(label, "%s time flame graph", p->mode == EXPORT_WALL ? "Wall" : "CPU");
    if (in->command && in->command[0])
        strbuf_printf(label, ": %s", in->command);
    if (in->pid)
        strbuf_printf(label, " (pid %u)", (unsigned)in->pid);
    export_put_xml(sb, strbuf_str(label));
    strbuf_puts(sb, "</text>\n");
}

static void put_subtitle(struct svg *s)
{
    const struct export_prep *p = s->p;
    const struct export_input *in = p->in;
    struct strbuf *sb = &s->o->sb, *label = &s->label;
    strbuf_printf(sb, "<text class=\"sub\" x=\"%d\" y=\"40\">", IMAGE_WIDTH / 2);
    export_sb_reset(label);
    strbuf_puts(label, "total ");
    if (p->mode == EXPORT_MEMORY) {
        export_put_bytes_human(label, s->total);
        strbuf_puts(label, " of resident memory growth, credited to the stacks that ran "
                           "while it grew");
    } else {
        export_put_value(label, p, s->total);
        strbuf_printf(label, " s of %s time", export_mode_title(p->mode));
    }
    strbuf_printf(label, " in %llu samples (%llu sampled in all)",
                  (unsigned long long)s->t.v[0].samples, (unsigned long long)s->total_samples_all);
    if (p->multi_process)
        strbuf_printf(label, ", %u processes", (unsigned)p->nprocs);
    if (in->python && in->python[0])
        strbuf_printf(label, ", Python %s", in->python);
    if (s->base)
        strbuf_puts(label, "; widths: now; values per second of each recording");
    export_put_xml(sb, strbuf_str(label));
    strbuf_puts(sb, "</text>\n");
}

static void put_controls(struct svg *s)
{
    struct strbuf *sb = &s->o->sb;
    strbuf_printf(sb, "<text id=\"unzoom\" class=\"button\" x=\"%d\" y=\"22\" style=\"display:none\">"
                  "Reset zoom</text>\n", PAD_X);
    strbuf_printf(sb, "<text id=\"search\" class=\"button\" x=\"%d\" y=\"22\" "
                  "style=\"text-anchor:end\">Search</text>\n", IMAGE_WIDTH - PAD_X);
    strbuf_printf(sb, "<text id=\"matched\" x=\"%d\" y=\"%d\" style=\"text-anchor:end\"> </text>\n",
                  IMAGE_WIDTH - PAD_X, s->height - 10);
    strbuf_printf(sb, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", PAD_X, s->height - 10);
    if (s->total == 0) {
        strbuf_printf(sb, "<text class=\"sub\" x=\"%d\" y=\"%d\">no samples with %s</text>\n",
                      IMAGE_WIDTH / 2, s->root_y + 12,
                      s->p->mode == EXPORT_MEMORY ? "memory growth"
                      : s->p->mode == EXPORT_WALL ? "wall time" : "CPU time");
    }
}

/* Node id as a titled, coloured rectangle with its fitted label. */
static void put_node(struct svg *s, uint32_t id, double w)
{
    const struct export_prep *p = s->p;
    struct strbuf *sb = &s->o->sb, *label = &s->label;
    const struct tnode *nd = &s->t.v[id];
    double x = PAD_X + (double)nd->x * s->scale;
    int y = s->root_y - (int)nd->depth * FRAME_H;
    export_sb_reset(label);
    if (id == 0)
        strbuf_puts(label, "all");
    else
        export_put_frame_label(label, p, nd->frame);
    strbuf_puts(sb, "<g class=\"f\"><title>");
    if (s->base)
        put_diff_tooltip(sb, p, strbuf_str(label), nd->base, rate_of(nd->ns, p->in->duration_ns));
    else
        put_tooltip(sb, p, strbuf_str(label), nd->samples, nd->ns, s->total);
    strbuf_printf(sb, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" fill=\"",
                  x, y, w, FRAME_H - 1);
    if (s->base)
        put_diff_colour(sb, rate_of(nd->ns, p->in->duration_ns) - nd->base, s->maxd);
    else if (id == 0)
        strbuf_puts(sb, "rgb(210,200,190)");
    else
        put_colour(sb, p, nd->frame);
    strbuf_printf(sb, "\"/><text x=\"%.2f\" y=\"%d\">", x + 3, y + FRAME_H - 4);
    put_fitted(sb, strbuf_str(label), w);
    strbuf_puts(sb, "</text></g>\n");
}

/* The frames, depth first. */
static void put_frames(struct svg *s)
{
    uint32_t sp = 0;
    if (s->total)
        s->stack[sp++] = 0;
    while (sp) {
        uint32_t id = s->stack[--sp];
        const struct tnode *nd = &s->t.v[id];
        double w = (double)nd->ns * s->scale;
        if (w < MIN_WIDTH_PX)
            continue;
        put_node(s, id, w);
        export_out_maybe_flush(s->o);
        /* Push in reverse so children come out left to right. */
        for (uint32_t c = nd->nchildren; c-- > 0;)
            s->stack[sp++] = s->t.children[nd->first_child + c];
    }
}

static int svg_write(struct export_out *o, struct export_prep *p, struct export_prep *base)
{
    struct svg s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.p = p;
    s.base = base;
    export_map_init(&s.t.map);
    strbuf_init(&s.label);
    s.t.v = calloc(256, sizeof *s.t.v);
    s.t.cap = 256;
    s.t.n = 1;    /* the root, "all" */
    int rc = s.t.v ? export_walk_rows(p, add_row, &s) : -ENOMEM;
    if (rc == 0 && base)
        rc = add_baseline(&s);
    if (rc == 0)
        rc = tree_link(&s.t, p) != 0 ? -ENOMEM : layout(&s);
    if (rc == 0) {
        put_head(&s);
        put_title(&s);
        put_subtitle(&s);
        put_controls(&s);
        put_frames(&s);
        strbuf_printf(&o->sb, "<script type=\"text/ecmascript\"><![CDATA[\n"
                      "var X0 = %d, WIDTH = %d, FONT = %d, ROOT_Y = %d;\n",
                      PAD_X, IMAGE_WIDTH - 2 * PAD_X, FONT_SIZE, s.root_y);
        strbuf_puts(&o->sb, svg_script);
        strbuf_puts(&o->sb, "]]></script>\n</svg>\n");
        rc = s.label.oom ? -ENOMEM : 0;
    }
    free(s.stack);
    free(s.t.v);
    free(s.t.children);
    export_map_release(&s.t.map);
    strbuf_release(&s.label);
    return rc;
}
