#include "config.h"

#include "ui/ui.h"

#include "core/error.h"
#include "ui/footer.h"
#include "ui/format.h"
#include "ui/header.h"
#include "ui/keys.h"
#include "ui/screen.h"
#include "ui/view.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#define NS_PER_SEC 1000000000ULL
#define NS_PER_MS 1000000ULL
/* Status messages stay this long, or until the next one. */
#define STATUS_NS (6 * NS_PER_SEC)
/* Below this, one line says the terminal is too small. */
#define MIN_COLS 30
#define MIN_ROWS (HEADER_ROWS + FOOTER_ROWS + 2)

/* The + and - steps; 0 stands for "since start". */
static const uint64_t window_steps[] = {
    1 * NS_PER_SEC, 5 * NS_PER_SEC, 10 * NS_PER_SEC, 30 * NS_PER_SEC, 60 * NS_PER_SEC,
    300 * NS_PER_SEC, 0,
};
#define NSTEPS (sizeof window_steps / sizeof *window_steps)

struct ui {
    struct session *session;
    struct screen scr;
    struct ui_ctx ctx;
    struct view *views[VIEW_COUNT];
    int active;
    int paused;                     /* live: the display is frozen */
    int help, help_top;
    int input;                      /* the filter's input line is open */
    char input_buf[UI_FILTER_MAX];
    size_t window_step;
    uint64_t refresh_ns;
    int cursor;                     /* the cursor is shown */
    struct session_info info;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- drawing -------------------------------------------------------------- */

/* What size the view needs, most important words first and wrapped at
 * word boundaries, so even a 10x3 terminal shows the size it needs. */
static void draw_too_small(const struct screen *scr)
{
    char msg[160];
    snprintf(msg, sizeof msg, "need %dx%d (columns x rows), this is %dx%d: enlarge the "
             "terminal, or press q to quit", MIN_COLS, MIN_ROWS, scr->cols, scr->rows);
    const char *p = msg;
    for (int y = 0; y < scr->rows && *p; y++) {
        char line[160];
        size_t n = 0;
        while (*p) {
            size_t w = strcspn(p, " ");
            size_t add = w + (n ? 1 : 0);
            if (n && n + add > (size_t)scr->cols)
                break;
            if (n)
                line[n++] = ' ';
            memcpy(line + n, p, w);    /* a lone word too wide is cut by screen_put */
            n += w;
            p += w;
            while (*p == ' ')
                p++;
        }
        line[n] = '\0';
        screen_put(scr, y, 0, scr->cols, line, y == 0 ? ROLE_ALERT : ROLE_NORMAL, 0);
    }
}

static void draw(struct ui *u)
{
    const struct screen *scr = &u->scr;
    /* erase, not clear: curses then sends only the cells that changed. */
    erase();
    session_info(u->session, &u->info);
    int want_cursor = 0;
    if (scr->rows < MIN_ROWS || scr->cols < MIN_COLS) {
        draw_too_small(scr);
    } else {
        ui_summary_read(&u->ctx);
        header_draw(scr, &u->info, &u->ctx.q, &u->ctx.sum, u->paused, u->views, VIEW_COUNT,
                    u->active);
        int body = scr->rows - HEADER_ROWS - FOOTER_ROWS;
        struct view *v = u->views[u->active];
        v->ops->draw(v, &u->ctx, HEADER_ROWS, body);
        footer_keys(scr, scr->rows - 1, u->info.replay, v->scope, u->ctx.sum.nprocs);
        if (u->help)
            help_draw(scr, &u->help_top);
        /* Last, so the input line leaves the cursor at its end. */
        footer_status(scr, scr->rows - 2, u->ctx.status, u->ctx.status_role,
                      u->input ? u->input_buf : NULL);
        want_cursor = u->input;
    }
    if (want_cursor != u->cursor) {
        curs_set(want_cursor);
        u->cursor = want_cursor;
    }
    wnoutrefresh(stdscr);
    doupdate();
}

/* ---- actions -------------------------------------------------------------- */

static void set_window(struct ui *u, size_t step)
{
    u->window_step = step;
    uint64_t w = window_steps[step];
    if (w) {
        u->ctx.q.range = MODEL_WINDOW;
        u->ctx.q.window_ns = w;
        session_set_window(u->session, w);
    } else {
        u->ctx.q.range = MODEL_TOTAL;
    }
}

static void show_view(struct ui *u, int id)
{
    if (id == VIEW_SOURCE && u->active != VIEW_SOURCE) {
        /* Without a file yet, open the Functions view's selected one. */
        if (!view_source_has_file(u->views[VIEW_SOURCE])) {
            struct source_request req;
            memset(&req, 0, sizeof req);
            if (view_functions_selected(u->views[VIEW_FUNCTIONS], &req))
                view_source_open(u->views[VIEW_SOURCE], &u->ctx, &req);
        }
        u->ctx.back_to = (enum view_id)u->active;
    }
    u->active = id;
}

static int save_snapshot(struct ui *u)
{
    struct model_filter f;
    ui_filter(&u->ctx.q, &f);
    char path[4096];
    int rc = session_snapshot(u->session, u->ctx.q.range, u->ctx.q.weight, &f, path, sizeof path);
    if (rc == 0)
        ui_status(&u->ctx, ROLE_STATUS, "saved %s", path);
    else
        ui_status(&u->ctx, ROLE_ALERT, "save failed: %s (into %s; see --snapshot-dir)",
                  pt_strerror(rc), session_snapshot_dir(u->session));
    return UI_DRAW;
}

/* P: all processes, then each in turn. A thread filter of another
 * process is dropped. */
static int next_process(struct ui *u)
{
    struct ui_ctx *c = &u->ctx;
    if (c->sum.nprocs <= 1 && c->q.pid == 0) {
        ui_status(c, ROLE_STATUS, "one process sampled (pytop --subprocesses follows its children)");
        return UI_DRAW;
    }
    char cmd[256];
    uint32_t pid = ui_next_process(c, cmd, sizeof cmd);
    c->q.pid = pid;
    int dropped = 0;
    if (pid && c->q.tid && c->q.tid_pid != pid) {
        c->q.tid = 0;
        c->q.tid_name[0] = '\0';
        dropped = 1;
    }
    if (pid)
        ui_status(c, ROLE_STATUS, "process %u only (P: next)%s%s%s", pid,
                  dropped ? ", thread filter cleared" : "", cmd[0] ? ": " : "", cmd);
    else
        ui_status(c, ROLE_STATUS, "all processes");
    return UI_QUERY;
}

static int seek(struct ui *u, int64_t delta_ns)
{
    int rc = session_seek(u->session, delta_ns);
    if (rc)
        ui_status(&u->ctx, ROLE_ALERT, "cannot move in the recording: %s", pt_strerror(rc));
    return UI_QUERY;
}

static int global_action(struct ui *u, enum ui_action a)
{
    struct ui_ctx *c = &u->ctx;
    char buf[64];
    switch (a) {
    case ACT_QUIT:
        return UI_QUIT;
    case ACT_HELP:
        u->help = 1;
        u->help_top = 0;
        return UI_DRAW;
    case ACT_REDRAW:
        clearok(curscr, TRUE);
        return UI_DRAW;
    case ACT_NEXT_VIEW:
        show_view(u, (u->active + 1) % VIEW_COUNT);
        return UI_QUERY;
    case ACT_PREV_VIEW:
        show_view(u, (u->active + VIEW_COUNT - 1) % VIEW_COUNT);
        return UI_QUERY;
    case ACT_VIEW_FUNCTIONS: show_view(u, VIEW_FUNCTIONS); return UI_QUERY;
    case ACT_VIEW_THREADS: show_view(u, VIEW_THREADS); return UI_QUERY;
    case ACT_VIEW_TREE: show_view(u, VIEW_TREE); return UI_QUERY;
    case ACT_VIEW_SOURCE: show_view(u, VIEW_SOURCE); return UI_QUERY;
    case ACT_VIEW_MEMORY: show_view(u, VIEW_MEMORY); return UI_QUERY;
    case ACT_VIEW_TASKS: show_view(u, VIEW_TASKS); return UI_QUERY;
    case ACT_WEIGHT:
        c->q.weight = c->q.weight == MODEL_CPU ? MODEL_WALL : MODEL_CPU;
        ui_status(c, ROLE_STATUS, c->q.weight == MODEL_CPU
                                      ? "CPU time: time spent running on a CPU"
                                      : "WALL time: elapsed time, waiting included");
        return UI_QUERY;
    case ACT_SAVE:
        return save_snapshot(u);
    case ACT_PROCESS:
        return next_process(u);
    case ACT_PAUSE:
        if (u->info.replay) {
            session_set_playing(u->session, !u->info.playing);
            ui_status(c, ROLE_STATUS, u->info.playing ? "replay paused" : "replay playing");
        } else {
            u->paused = !u->paused;
            ui_status(c, ROLE_STATUS, u->paused ? "display paused, sampling goes on (p resumes)"
                                                : "display resumed");
        }
        return UI_QUERY;
    case ACT_RESET:
        session_reset(u->session);
        ui_status(c, ROLE_STATUS, "reset: counting from now on");
        return UI_QUERY;
    case ACT_FILTER:
        u->input = 1;
        snprintf(u->input_buf, sizeof u->input_buf, "%s", c->q.text);
        return UI_DRAW;
    case ACT_WINDOW_LONGER:
    case ACT_WINDOW_SHORTER:
        if (a == ACT_WINDOW_LONGER && u->window_step + 1 < NSTEPS)
            set_window(u, u->window_step + 1);
        else if (a == ACT_WINDOW_SHORTER && u->window_step > 0)
            set_window(u, u->window_step - 1);
        fmt_window(buf, sizeof buf, window_steps[u->window_step]);
        ui_status(c, ROLE_STATUS, "window: %s", buf);
        return UI_QUERY;
    case ACT_STEP_FORWARD: return seek(u, (int64_t)NS_PER_SEC);
    case ACT_STEP_BACK: return seek(u, -(int64_t)NS_PER_SEC);
    case ACT_JUMP_FORWARD: return seek(u, 10 * (int64_t)NS_PER_SEC);
    case ACT_JUMP_BACK: return seek(u, -10 * (int64_t)NS_PER_SEC);
    default:
        return 0;
    }
}

/* What a view asked for while handling an action. */
static int view_requests(struct ui *u)
{
    int r = 0;
    if (u->ctx.open_source.pending) {
        u->ctx.open_source.pending = 0;
        view_source_open(u->views[VIEW_SOURCE], &u->ctx, &u->ctx.open_source);
        u->ctx.back_to = (enum view_id)u->active;
        u->active = VIEW_SOURCE;
        r = UI_QUERY;
    }
    if (u->ctx.switch_to >= 0) {
        u->active = u->ctx.switch_to;
        u->ctx.switch_to = -1;
        r = UI_QUERY;
    }
    return r;
}

/* The filter's input line: Enter applies, Esc cancels, empty clears. */
static int input_key(struct ui *u, int key)
{
    struct ui_ctx *c = &u->ctx;
    size_t len = strlen(u->input_buf);
    if (key == '\r' || key == '\n' || key == UI_FN(KEY_ENTER)) {
        u->input = 0;
        snprintf(c->q.text, sizeof c->q.text, "%s", u->input_buf);
        if (c->q.text[0])
            ui_status(c, ROLE_STATUS, "filter: '%s'", c->q.text);
        else
            ui_status(c, ROLE_STATUS, "filter cleared");
        return UI_QUERY;
    }
    if (key == 27) {
        u->input = 0;
        return UI_DRAW;
    }
    if (key == UI_FN(KEY_BACKSPACE) || key == 127 || key == 8) {
        /* Drop a whole UTF-8 character. */
        while (len > 0 && ((unsigned char)u->input_buf[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0)
            len--;
        u->input_buf[len] = '\0';
        return UI_DRAW;
    }
    if (key == ('u' & 0x1f)) {
        u->input_buf[0] = '\0';
        return UI_DRAW;
    }
    if (key >= 32 && key < 0x110000 && key != 127) {
        char mb[MB_LEN_MAX];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t n = wcrtomb(mb, (wchar_t)key, &st);
        if (n != (size_t)-1 && len + n < sizeof u->input_buf) {
            memcpy(u->input_buf + len, mb, n);
            u->input_buf[len + n] = '\0';
        }
        return UI_DRAW;
    }
    return 0;
}

static int handle_key(struct ui *u, int key)
{
    if (u->input)
        return input_key(u, key);
    int closed_help = 0;
    if (u->help) {
        enum ui_action a = keys_lookup(key, SCOPE_GLOBAL);
        switch (a) {
        case ACT_UP: u->help_top--; return UI_DRAW;
        case ACT_DOWN: u->help_top++; return UI_DRAW;
        case ACT_PAGE_UP: u->help_top -= u->scr.rows / 2; return UI_DRAW;
        case ACT_PAGE_DOWN: u->help_top += u->scr.rows / 2; return UI_DRAW;
        case ACT_HELP:
        case ACT_BACK:
            u->help = 0;
            return UI_DRAW;
        default:
            /* Any other key closes the help and does what it does. */
            u->help = 0;
            closed_help = 1;
            break;
        }
    }
    struct view *v = u->views[u->active];
    unsigned scopes = SCOPE_GLOBAL | v->scope | (u->info.replay ? SCOPE_REPLAY : 0);
    enum ui_action a = keys_lookup(key, scopes);
    if (a == ACT_NONE)
        return closed_help ? UI_DRAW : 0;
    int r = v->ops->action(v, &u->ctx, a);
    if (!r)
        r = global_action(u, a);
    r |= view_requests(u);
    return r | UI_DRAW;
}

/* ---- the loop --------------------------------------------------------------- */

static void free_views(struct ui *u)
{
    for (int i = 0; i < VIEW_COUNT; i++)
        if (u->views[i])
            u->views[i]->ops->free(u->views[i]);
}

void ui_catch_quit_signals(void)
{
    screen_catch_quit_early();
}

int ui_run(struct session *s, const struct ui_options *o)
{
    struct ui *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    u->session = s;
    u->refresh_ns = o->refresh_ns ? o->refresh_ns : NS_PER_SEC;
    u->views[VIEW_FUNCTIONS] = view_functions_new();
    u->views[VIEW_THREADS] = view_threads_new();
    u->views[VIEW_TREE] = view_tree_new();
    u->views[VIEW_SOURCE] = view_source_new();
    u->views[VIEW_MEMORY] = view_memory_new();
    u->views[VIEW_TASKS] = view_tasks_new();
    for (int i = 0; i < VIEW_COUNT; i++) {
        if (!u->views[i]) {
            free_views(u);
            free(u);
            return -ENOMEM;
        }
    }
    struct ui_ctx *c = &u->ctx;
    c->session = s;
    c->scr = &u->scr;
    c->switch_to = -1;
    c->back_to = VIEW_FUNCTIONS;
    c->q.weight = o->weight;
    /* Start at the step nearest the asked window. */
    size_t step = 2;
    for (size_t i = 0; i < NSTEPS; i++)
        if (window_steps[i] == o->window_ns)
            step = i;
    set_window(u, step);

    int rc = screen_open(&u->scr);
    if (rc) {
        free_views(u);
        free(u);
        return rc;
    }
    session_info(s, &u->info);

    int flags = UI_QUERY, result = 0;
    uint64_t next_refresh = 0;
    for (;;) {
        int sig = screen_quit_requested();
        if (sig) {
            result = sig;
            break;
        }
        uint64_t now = mono_ns();
        session_tick(s, now);
        if (now >= next_refresh) {
            /* Paused, the views keep their rows; the header goes on. */
            flags |= u->paused ? UI_DRAW : UI_QUERY;
            next_refresh = now + u->refresh_ns;
        }
        if (c->status[0]) {
            if (!c->status_until_ns)
                c->status_until_ns = now + STATUS_NS;
            else if (now >= c->status_until_ns) {
                c->status[0] = '\0';
                flags |= UI_DRAW;
            }
        }
        if (flags & UI_QUIT)
            break;
        if (flags & UI_QUERY) {
            struct view *v = u->views[u->active];
            v->ops->query(v, c);
        }
        if (flags & (UI_QUERY | UI_DRAW))
            draw(u);
        flags = 0;

        /* Wake for the next refresh, or sooner so a replay's clock and
         * the status line move smoothly. */
        uint64_t wait = next_refresh > now ? (next_refresh - now) / NS_PER_MS : 0;
        timeout(wait > 200 ? 200 : (int)wait + 1);
        wint_t ch;
        int got = get_wch(&ch);
        if (got == ERR)
            continue;
        int key = got == KEY_CODE_YES ? UI_FN((int)ch) : (int)ch;
        if (key == UI_FN(KEY_RESIZE)) {
            screen_update_size(&u->scr);
            flags |= UI_DRAW;
            continue;
        }
        flags |= handle_key(u, key);
    }
    screen_close(&u->scr);
    free_views(u);
    free(u);
    return result;
}
