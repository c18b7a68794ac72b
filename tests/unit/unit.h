/* A tiny TAP producer for pytop's C unit tests.
 *
 * Each CHECK is one test point ("ok N - what" / "not ok N - what"); the
 * runner (tests/run_tests.py) counts them. A test file defines main() as a
 * list of UNIT_RUN(fn) calls and returns unit_done(). */
#ifndef PYTOP_TESTS_UNIT_H
#define PYTOP_TESTS_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_count, unit_failed;

static inline void unit_report(int ok, const char *file, int line, const char *what)
{
    unit_count++;
    if (!ok)
        unit_failed++;
    printf("%sok %d - %s\n", ok ? "" : "not ", unit_count, what);
    if (!ok)
        printf("# failed at %s:%d\n", file, line);
    fflush(stdout);
}

#define CHECK(cond, what) unit_report(!!(cond), __FILE__, __LINE__, (what))

#define CHECK_INT(got, want, what) do { \
        long long g_ = (long long)(got), w_ = (long long)(want); \
        unit_report(g_ == w_, __FILE__, __LINE__, (what)); \
        if (g_ != w_) printf("#   got %lld, want %lld\n", g_, w_); \
    } while (0)

#define CHECK_STR(got, want, what) do { \
        const char *g_ = (got), *w_ = (want); \
        int ok_ = g_ && w_ && strcmp(g_, w_) == 0; \
        unit_report(ok_, __FILE__, __LINE__, (what)); \
        if (!ok_) printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

#define UNIT_RUN(fn) do { printf("# %s\n", #fn); fn(); } while (0)

/* pyenv's root into root: `pyenv root`, else $PYENV_ROOT, else ~/.pyenv;
 * "" when none is known. */
static inline void unit_pyenv_root(char *root, size_t size)
{
    root[0] = '\0';
    FILE *p = popen("pyenv root 2>/dev/null", "r");
    if (p) {
        if (fgets(root, (int)size, p))
            root[strcspn(root, "\n")] = '\0';
        pclose(p);
    }
    if (!root[0] && getenv("PYENV_ROOT"))
        snprintf(root, size, "%s", getenv("PYENV_ROOT"));
    if (!root[0] && getenv("HOME"))
        snprintf(root, size, "%s/.pyenv", getenv("HOME"));
}

static inline int unit_done(void)
{
    printf("1..%d\n", unit_count);
    return unit_failed ? 1 : 0;
}

#endif
