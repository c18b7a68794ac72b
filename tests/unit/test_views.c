/* The views against a fake session: the port the UI reads
 * (session/session_impl.h) filled by the test with a model it feeds by
 * hand, no target and no recording. The Functions view's query and
 * selection, the header's summary, and what the Functions and Threads
 * views and the header draw on a curses screen the test reads back (a
 * terminal of fixed size whose output goes to /dev/null). */
#include "unit.h"

#include "core/stacks.h"
#include "model/model.h"
#include "session/session.h"
#include "session/session_impl.h"
#include "ui/header.h"
#include "ui/screen.h"
#include "ui/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000ull
#define MS 1000000ull

/* ---- the fake session ----------------------------------------------------- */

struct fake_session {
    struct session base;
    struct stack_table *dict;
    uint64_t samples;
};

static void fake_info(struct session *s, struct session_info *out)
{
    struct fake_session *fs = (struct fake_session *)s;
    out->samples = fs->samples;
    out->elapsed_ns = 10 * SEC;
    out->achieved_hz = 10.0;
    out->have_stacks = 1;
    out->stacks[0] = fs->samples;
    out->have_cpu = 1;
    out->cpu_percent = 80.0;
    out->have_memory = 1;
    out->rss_bytes = 64ull << 20;
    out->threads = 1;
}

static void fake_release(struct session *s)
{
    struct fake_session *fs = (struct fake_session *)s;
    model_free(s->model);
    stack_table_free(fs->dict);
}

static const struct session_ops fake_ops = {
    .info = fake_info,
    .release = fake_release,
};

static uint32_t frame_of(struct stack_table *t, const char *fn, const char *file, int line)
{
    uint32_t f = 0, file_id = 0;
    struct stack_frame fr = { 0 };
    if (stack_table_string(t, fn, strlen(fn), &fr.function) != 0 ||
        stack_table_string(t, file, strlen(file), &file_id) != 0)
        abort();
    fr.file = file_id;
    fr.line = line;
    fr.firstline = line - 1;
    if (stack_table_frame(t, &fr, &f) != 0)
        abort();
    return f;
}

static uint32_t stack2(struct stack_table *t, uint32_t outer, uint32_t inner)
{
    uint32_t node = 0;
    if (stack_table_node(t, 0, outer, &node) != 0 || stack_table_node(t, node, inner, &node) != 0)
        abort();
    return node;
}

/* 100 samples 100 ms apart of one thread in main(): 80 in hot(), 20 in
 * cold(), each 100 ms of CPU. */
static struct session *fake_session_new(void)
{
    struct fake_session *fs = calloc(1, sizeof *fs);
    if (!fs)
        abort();
    struct session_options o = { .window_ns = 30 * SEC };
    session_base_init(&fs->base, &fake_ops, &o);
    fs->dict = stack_table_new();
    if (!fs->dict)
        abort();
    fs->base.dict = fs->dict;
    fs->base.model = session_new_model(&fs->base, fs->dict);
    if (!fs->base.model)
        abort();
    fs->base.pid = 4242;
    snprintf(fs->base.python, sizeof fs->base.python, "3.12.1");
    snprintf(fs->base.command, sizeof fs->base.command, "python3 fake_target.py");
    fs->base.rate_hz = 10;
    uint32_t main_f = frame_of(fs->dict, "main", "/srv/fake_target.py", 30);
    uint32_t hot = stack2(fs->dict, main_f, frame_of(fs->dict, "hot", "/srv/fake_target.py", 12));
    uint32_t cold = stack2(fs->dict, main_f, frame_of(fs->dict, "cold", "/srv/fake_target.py", 21));
    for (uint64_t i = 0; i < 100; i++) {
        struct sample_thread th = { .tid = 4242, .stack = i % 5 == 4 ? cold : hot,
                                    .flags = SAMPLE_RUNNING | SAMPLE_GIL,
                                    .cpu_ns = 100 * MS, .wall_ns = 100 * MS };
        struct sample s = { .time_ns = (i + 1) * 100 * MS, .pid = 4242, .nthreads = 1,
                            .threads = &th };
        if (session_model_add(&fs->base, fs->base.model, &s) != 0)
            abort();
        fs->samples++;
    }
    return &fs->base;
}

/* ---- a screen to draw on -------------------------------------------------- */

#define ROWS 30
#define COLS 120

static SCREEN *term;
static FILE *term_out, *term_in;

/* A curses screen of ROWS x COLS writing to /dev/null; 0 when there is
 * no terminal description to start one with. */
static int screen_start(struct screen *scr)
{
    setenv("LINES", "30", 1);
    setenv("COLUMNS", "120", 1);
    term_out = fopen("/dev/null", "w");
    term_in = fopen("/dev/null", "r");
    if (!term_out || !term_in)
        return 0;
    term = newterm("xterm", term_out, term_in);
    if (!term)
        term = newterm("vt100", term_out, term_in);
    if (!term)
        return 0;
    set_term(term);
    memset(scr, 0, sizeof *scr);
    scr->rows = LINES;
    scr->cols = COLS;
    for (int i = 0; i < ROLE_COUNT; i++)
        scr->attr[i] = A_NORMAL;
    return 1;
}

static void screen_stop(void)
{
    if (term) {
        endwin();
        delscreen(term);
    }
    if (term_out)
        fclose(term_out);
    if (term_in)
        fclose(term_in);
}

/* Row y of the screen as text, trailing blanks cut. */
static const char *row_text(int y)
{
    static char buf[COLS + 1];
    int n = mvinnstr(y, 0, buf, COLS);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    return buf;
}

/* The first row from y0 that holds text, or -1. */
static int find_row(int y0, int y1, const char *text)
{
    for (int y = y0; y < y1; y++)
        if (strstr(row_text(y), text))
            return y;
    return -1;
}

static void skip(const char *why)
{
    unit_count++;
    printf("ok %d # SKIP %s\n", unit_count, why);
}

/* ---- the tests ------------------------------------------------------------ */

static void ctx_init(struct ui_ctx *u, struct session *s, const struct screen *scr)
{
    memset(u, 0, sizeof *u);
    u->session = s;
    u->scr = scr;
    u->switch_to = -1;
    u->q.range = MODEL_WINDOW;
    u->q.window_ns = 30 * SEC;
    u->q.weight = MODEL_CPU;
}

static void test_functions_query(void)
{
    struct session *s = fake_session_new();
    struct screen scr = { .rows = ROWS, .cols = COLS };
    struct ui_ctx u;
    ctx_init(&u, s, &scr);
    struct view *v = view_functions_new();
    CHECK(v != NULL, "view_functions_new");
    struct source_request req = { 0 };
    CHECK_INT(view_functions_selected(v, &req), 0, "nothing selected before a query");
    v->ops->query(v, &u);
    CHECK_INT(view_functions_selected(v, &req), 1, "a row is selected after the query");
    CHECK_STR(req.function, "hot", "the hottest function (80 of 100 samples) is on top");
    CHECK_STR(req.file, "/srv/fake_target.py", "its file");
    CHECK_INT(req.line, 11, "its first line (by function, not by line)");
    CHECK_INT(req.native, 0, "a Python function");

    /* A text filter the view's query passes to the model. */
    snprintf(u.q.text, sizeof u.q.text, "cold");
    v->ops->query(v, &u);
    CHECK_INT(view_functions_selected(v, &req), 1, "a row matches 'cold'");
    CHECK_STR(req.function, "cold", "the filter leaves the cold() path: cold on top");

    ui_summary_read(&u);
    CHECK_INT((long long)u.sum.nprocs, 1, "the summary sees one process");
    v->ops->free(v);
    session_free(s);
}

static void test_functions_draw(void)
{
    struct screen scr;
    if (!screen_start(&scr)) {
        screen_stop();
        skip("the Functions view drawn: no xterm or vt100 terminal description");
        return;
    }
    struct session *s = fake_session_new();
    struct ui_ctx u;
    ctx_init(&u, s, &scr);
    struct view *v = view_functions_new();
    struct view *views[1] = { v };
    v->ops->query(v, &u);
    ui_summary_read(&u);
    struct session_info info;
    session_info(s, &info);
    erase();
    header_draw(&scr, &info, &u.q, &u.sum, 0, views, 1, 0);
    v->ops->draw(v, &u, HEADER_ROWS, ROWS - HEADER_ROWS - 2);

    CHECK(strstr(row_text(0), "4242") != NULL, "the header names the PID");
    CHECK(strstr(row_text(0), "python3 fake_target.py") != NULL, "the header shows the command");
    CHECK(strstr(row_text(0), "Python 3.12.1") != NULL, "the header shows the version");
    CHECK(find_row(0, HEADER_ROWS, "CPU") >= 0, "the header says CPU mode");
    int title = find_row(HEADER_ROWS, ROWS, "FUNCTION");
    CHECK(title >= 0, "the Functions view draws its column titles");
    if (title >= 0) {
        CHECK(strstr(row_text(title), "OWN%") != NULL, "an OWN% column");
        const char *first = row_text(title + 1);
        CHECK(strstr(first, "hot") != NULL, "hot() is the first row");
        CHECK(strstr(first, "80.0") != NULL, "hot() has 80.0 % of the CPU time");
        CHECK(strstr(first, "fake_target.py:11") != NULL, "hot()'s file and first line");
        int main_row = find_row(title + 1, ROWS, "main");
        int cold_row = find_row(title + 1, ROWS, "cold");
        CHECK(main_row > title && cold_row > title, "main() and cold() have rows");
        if (cold_row > 0)
            CHECK(strstr(row_text(cold_row), "20.0") != NULL, "cold() has 20.0 %");
        if (main_row > 0)
            CHECK(strstr(row_text(main_row), "100.0") != NULL, "main()'s total is 100.0 %");
    }
    v->ops->free(v);
    session_free(s);
    screen_stop();
}

static void test_threads_draw(void)
{
    struct screen scr;
    if (!screen_start(&scr)) {
        screen_stop();
        skip("the Threads view drawn: no xterm or vt100 terminal description");
        return;
    }
    struct session *s = fake_session_new();
    struct ui_ctx u;
    ctx_init(&u, s, &scr);
    struct view *v = view_threads_new();
    CHECK(v != NULL, "view_threads_new");
    v->ops->query(v, &u);
    erase();
    v->ops->draw(v, &u, 0, ROWS - 2);
    int title = find_row(0, ROWS, "TID");
    CHECK(title >= 0, "the Threads view draws its column titles");
    if (title >= 0) {
        const char *r = row_text(title + 1);
        CHECK(strstr(r, "4242") != NULL, "the one thread's row, by its tid");
        CHECK(strstr(r, "running") != NULL, "running in its latest sample");
        CHECK(strstr(r, "100.0") != NULL, "100.0 % of the CPU time");
        CHECK(strstr(r, " 100 ") != NULL, "100 samples");
        CHECK(strstr(r, "cold (/srv/fake_target.py:21)") != NULL,
              "NOW: the latest sample's leaf, cold() at its line");
        CHECK(row_text(title + 2)[0] == '\0', "and no other row");
    }
    v->ops->free(v);
    session_free(s);
    screen_stop();
}

int main(void)
{
    UNIT_RUN(test_functions_query);
    UNIT_RUN(test_functions_draw);
    UNIT_RUN(test_threads_draw);
    return unit_done();
}
