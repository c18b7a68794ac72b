#include "config.h"

#include "app/options.h"

#include "python/layout.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: pytop --dump [--json] -p PID\n"
        "\n"
        "Show what a running Python program is doing, without changing or stopping it.\n"
        "\n"
        "  -p, --pid PID      the Python process to read\n"
        "  -d, --dump         print every thread's stack once and exit\n"
        "  -j, --json         with --dump: print one JSON document\n"
        "  -h, --help         show this help\n"
        "  -V, --version      show pytop's version and the Python versions it reads\n"
        "\n"
        "Environment:\n"
        "  PYTOP_LAYOUT_SOURCE=table|debug-offsets\n"
        "                     on Python 3.13+, where structure offsets come from\n"
        "                     (default: the target's own _Py_DebugOffsets)\n"
        "\n"
        "Reading another process needs the same rights as a debugger: run pytop as\n"
        "root, give it CAP_SYS_PTRACE, or relax kernel.yama.ptrace_scope.\n");
}

static void version(void)
{
    printf("pytop %s\nreads CPython", PACKAGE_VERSION);
    for (size_t i = 0; i < py_layouts_count; i++)
        printf(" %d.%d", py_layouts_all[i]->major, py_layouts_all[i]->minor);
    printf(" and later versions that carry _Py_DebugOffsets\n");
}

static int parse_pid(const char *s, pid_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v <= 0 || v > 0x3fffffff)
        return -1;
    *out = (pid_t)v;
    return 0;
}

int options_parse(int argc, char **argv, struct pytop_options *o)
{
    static const struct option longopts[] = {
        { "pid", required_argument, NULL, 'p' },
        { "dump", no_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    const char *env = getenv("PYTOP_LAYOUT_SOURCE");
    if (env && strcmp(env, "table") == 0)
        o->layout_source = PY_LAYOUT_TABLE;
    else if (env && strcmp(env, "debug-offsets") == 0)
        o->layout_source = PY_LAYOUT_DEBUG_OFFSETS;
    else if (env && *env) {
        fprintf(stderr, "pytop: PYTOP_LAYOUT_SOURCE must be 'table' or 'debug-offsets', not '%s'\n", env);
        return -1;
    }

    opterr = 0;
    int c;
    /* '+' stops at the first non-option, so "-- python -c ..." is left alone. */
    while ((c = getopt_long(argc, argv, "+:p:djhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_pid(optarg, &o->pid) != 0) {
                fprintf(stderr, "pytop: '%s' is not a process id: give -p a positive number\n", optarg);
                return -1;
            }
            break;
        case 'd': o->mode = MODE_DUMP; break;
        case 'j': o->json = 1; break;
        case 'h': usage(stdout); return 1;
        case 'V': version(); return 1;
        case '?':
            if (optopt)
                fprintf(stderr, "pytop: unknown option '-%c' (see 'pytop --help')\n", optopt);
            else
                fprintf(stderr, "pytop: unknown option '%s' (see 'pytop --help')\n", argv[optind - 1]);
            return -1;
        case ':':
            fprintf(stderr, "pytop: option '%s' needs a value (see 'pytop --help')\n", argv[optind - 1]);
            return -1;
        default:
            return -1;
        }
    }
    if (optind < argc)
        o->command = &argv[optind];
    if (o->json && o->mode != MODE_DUMP) {
        fprintf(stderr, "pytop: --json goes with --dump\n");
        return -1;
    }
    if (o->mode == MODE_NONE) {
        fprintf(stderr, "pytop: say what to do: 'pytop --dump -p PID' (the live view is not available in this build)\n");
        return -1;
    }
    if (o->command) {
        fprintf(stderr, "pytop: --dump reads a running process: give it -p PID, not a command\n");
        return -1;
    }
    if (o->pid == 0) {
        fprintf(stderr, "pytop: which process? give -p PID\n");
        return -1;
    }
    return 0;
}
