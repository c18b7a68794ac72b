#include "config.h"

#include "ui/screen.h"

#include "ui/format.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>

/* The one piece of state a signal handler or atexit must reach: whether
 * the terminal is ours and must be given back. */
static volatile sig_atomic_t terminal_taken;
static volatile sig_atomic_t quit_signal;
static SCREEN *terminal;
static int atexit_done;

static const int quit_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
#define NQUIT (sizeof quit_signals / sizeof *quit_signals)
#define NFATAL (sizeof fatal_signals / sizeof *fatal_signals)
static struct sigaction old_quit[NQUIT], old_fatal[NFATAL];

static void restore_terminal(void)
{
    if (terminal_taken) {
        terminal_taken = 0;
        endwin();
    }
}

static void on_quit_signal(int sig)
{
    quit_signal = sig;
}

/* A crash: give the terminal back first (endwin is not async-signal-safe,
 * but the alternative is a terminal left in raw mode with no echo), then
 * let the previous handler (the default, or a sanitizer's) run. */
static void on_fatal_signal(int sig)
{
    restore_terminal();
    for (size_t i = 0; i < NFATAL; i++)
        if (fatal_signals[i] == sig)
            sigaction(sig, &old_fatal[i], NULL);
    raise(sig);
}

/* Our quit handler on the quit signals; their handlers before it saved
 * once. restart: system calls a signal interrupts go on (while the view
 * starts); without, the loop's wait ends at once. */
static int quit_caught;

static void catch_quit(int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit_signal;
    sa.sa_flags = restart ? SA_RESTART : 0;
    for (size_t i = 0; i < NQUIT; i++)
        sigaction(quit_signals[i], &sa, quit_caught ? NULL : &old_quit[i]);
    quit_caught = 1;
}

static void release_quit(void)
{
    if (!quit_caught)
        return;
    for (size_t i = 0; i < NQUIT; i++)
        sigaction(quit_signals[i], &old_quit[i], NULL);
    quit_caught = 0;
}

void screen_catch_quit_early(void)
{
    catch_quit(1);
}

static void at_exit(void)
{
    restore_terminal();
}

/* Each role's look, in color and in monochrome. */
struct role_look {
    short fg, bg;       /* -1: the terminal's default */
    attr_t color_attr;
    attr_t mono_attr;
};

static const struct role_look looks[ROLE_COUNT] = {
    [ROLE_NORMAL] = { -1, -1, A_NORMAL, A_NORMAL },
    [ROLE_HEADER] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
    [ROLE_VALUE] = { -1, -1, A_BOLD, A_BOLD },
    [ROLE_TAB] = { -1, -1, A_NORMAL, A_NORMAL },
    [ROLE_TAB_ACTIVE] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
    [ROLE_TITLE] = { COLOR_BLACK, COLOR_GREEN, A_NORMAL, A_BOLD | A_UNDERLINE },
    [ROLE_TITLE_SORTED] = { COLOR_BLACK, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD },
    [ROLE_SELECTED] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
    [ROLE_HOT] = { COLOR_RED, -1, A_BOLD, A_BOLD },
    [ROLE_WARM] = { COLOR_YELLOW, -1, A_NORMAL, A_NORMAL },
    [ROLE_DIM] = { COLOR_BLUE, -1, A_BOLD, A_DIM },
    [ROLE_STATUS] = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
    [ROLE_ALERT] = { COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD | A_REVERSE },
    [ROLE_KEY] = { -1, -1, A_BOLD, A_BOLD },
    [ROLE_KEY_LABEL] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
    [ROLE_GRAPH] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
};

static void choose_scheme(struct screen *scr)
{
    const char *no_color = getenv("NO_COLOR");
    scr->color = has_colors() && !(no_color && *no_color) && start_color() == OK;
    int defaults = scr->color && use_default_colors() == OK;
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (!scr->color) {
            scr->attr[r] = looks[r].mono_attr;
            continue;
        }
        short fg = looks[r].fg, bg = looks[r].bg;
        if (!defaults) {
            fg = fg < 0 ? COLOR_WHITE : fg;
            bg = bg < 0 ? COLOR_BLACK : bg;
        }
        short pair = (short)(r + 1);
        if (pair < COLOR_PAIRS && init_pair(pair, fg, bg) == OK)
            scr->attr[r] = COLOR_PAIR(pair) | looks[r].color_attr;
        else
            scr->attr[r] = looks[r].mono_attr;
    }
}

int screen_open(struct screen *scr)
{
    memset(scr, 0, sizeof *scr);
    /* The user's character set, but '.' in numbers whatever the locale. */
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");
    const char *cs = nl_langinfo(CODESET);
    scr->utf8 = cs && strcmp(cs, "UTF-8") == 0;

    /* Our handlers first: curses installs its own (which exit) only where
     * it finds the default. */
    catch_quit(0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_fatal_signal;
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal_signals[i], &sa, &old_fatal[i]);
    if (!atexit_done && atexit(at_exit) == 0)
        atexit_done = 1;

    terminal = newterm(NULL, stdout, stdin);
    if (!terminal) {
        release_quit();
        for (size_t i = 0; i < NFATAL; i++)
            sigaction(fatal_signals[i], &old_fatal[i], NULL);
        return -ENOTTY;
    }
    set_term(terminal);
    terminal_taken = 1;
    /* A terminal that cannot move the cursor (TERM=dumb) cannot show a
     * full-screen view: say so rather than scroll garbage. */
    const char *cup = tigetstr((char *)"cup");
    if (!cup || cup == (const char *)-1) {
        screen_close(scr);
        return -ENOTTY;
    }
    cbreak();           /* Ctrl-C stays a signal, so it always restores */
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    set_escdelay(25);   /* Esc alone must feel immediate */
    curs_set(0);
    choose_scheme(scr);
    screen_update_size(scr);
    return 0;
}

void screen_close(struct screen *scr)
{
    (void)scr;
    if (!terminal)
        return;
    restore_terminal();
    delscreen(terminal);
    terminal = NULL;
    release_quit();
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal_signals[i], &old_fatal[i], NULL);
}

int screen_quit_requested(void)
{
    return quit_signal;
}

void screen_update_size(struct screen *scr)
{
    getmaxyx(stdscr, scr->rows, scr->cols);
}

int screen_put(const struct screen *scr, int y, int x, int w, const char *s, enum ui_role role,
               int keep_tail)
{
    if (y < 0 || y >= scr->rows || x < 0 || x >= scr->cols || w <= 0)
        return 0;
    if (w > scr->cols - x)
        w = scr->cols - x;
    char buf[4096];
    if ((size_t)w * 4 + 8 > sizeof buf)
        w = (int)((sizeof buf - 8) / 4);
    int used = fmt_fit(buf, sizeof buf, s, w, keep_tail, scr->utf8);
    attrset(scr->attr[role]);
    mvaddstr(y, x, buf);
    attrset(A_NORMAL);
    return used;
}

void screen_fill(const struct screen *scr, int y, int x, int w, enum ui_role role)
{
    if (y < 0 || y >= scr->rows || x < 0 || x >= scr->cols || w <= 0)
        return;
    if (w > scr->cols - x)
        w = scr->cols - x;
    /* hline does not take the window's attributes: they go in the char. */
    mvhline(y, x, ' ' | scr->attr[role], w);
}

void screen_cell(const struct screen *scr, int y, int x, int w, const char *s, enum ui_role role,
                 int right, int keep_tail)
{
    if (w <= 0)
        return;
    int tw = text_width(s);
    if (right && tw < w) {
        screen_fill(scr, y, x, w - tw, role);
        screen_put(scr, y, x + w - tw, tw, s, role, keep_tail);
        return;
    }
    int used = screen_put(scr, y, x, w, s, role, keep_tail);
    if (used < w)
        screen_fill(scr, y, x + used, w - used, role);
}
