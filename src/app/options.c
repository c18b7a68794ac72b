#include "config.h"

#include "app/options.h"

#include "python/layout.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: pytop [options] -p PID\n"
        "       pytop [options] -- COMMAND [ARGS...]\n"
        "       pytop --replay RECORDING [--speed X]\n"
        "       pytop --dump [--json] -p PID\n"
        "       pytop --record FILE [options] (-p PID | -- COMMAND [ARGS...])\n"
        "       pytop --export RECORDING --format FORMAT [--mode cpu|wall|memory] [-o OUT]\n"
        "\n"
        "Show what a running Python program is doing, without changing or stopping it.\n"
        "With a target and no other mode, pytop opens a live, top-like view.\n"
        "\n"
        "Target:\n"
        "  -p, --pid PID            read the running process PID\n"
        "  -- COMMAND [ARGS...]     start COMMAND and profile it from its first moments;\n"
        "                           pytop exits with the program's exit status (in the\n"
        "                           live view its output goes to a log file, named at exit)\n"
        "\n"
        "Modes:\n"
        "  (none)                   the live view: Functions, Threads, Call tree, Source\n"
        "                           and Memory, refreshed every --refresh seconds while\n"
        "                           sampling goes on at --rate; press ? in it for the keys\n"
        "      --replay RECORDING   the same view over a recording made with --record\n"
        "  -d, --dump               print every thread's stack once and exit\n"
        "  -j, --json               with --dump: print one JSON document\n"
        "  -r, --record FILE        sample without a terminal into FILE until --duration\n"
        "                           ends, the target exits, or SIGINT/SIGTERM/SIGHUP\n"
        "  -e, --export RECORDING   convert a recording to --format, on stdout or -o OUT\n"
        "\n"
        "Sampling:\n"
        "      --rate HZ            samples per second (default 100)\n"
        "      --duration SECONDS   stop after this long (default: no limit)\n"
        "      --native             also unwind C stacks (libunwind) and show the C frames\n"
        "                           of extension modules between the Python frames; each\n"
        "                           thread is stopped for a moment while it is unwound\n"
        "      --native-all         with --native: keep the interpreter's own C frames too\n"
        "      --subprocesses       follow the target's child processes (multiprocessing\n"
        "                           workers, subprocess calls) and sample them as well\n"
        "\n"
        "Live view and replay:\n"
        "      --refresh SECONDS    redraw the view this often (default 1)\n"
        "      --speed X            replay speed, 1 = as recorded (default 1)\n"
        "  -m, --mode MODE          cpu or wall: the weight shown first ('c' switches)\n"
        "  keys: Tab or 1-5 views; c CPU/WALL; m rank by memory growth; P one\n"
        "        process (--subprocesses); s save a snapshot; p or Space pause\n"
        "        (replay: play/pause); r reset; / filter; < > sort; + - window;\n"
        "        Enter open source (Functions), show one thread (Threads), expand or\n"
        "        collapse (Call tree); Esc back; . , and ] [ step a replay 1 s, 10 s;\n"
        "        ? help; q quit\n"
        "\n"
        "Snapshots (the 's' key in the live view, or periodic while recording):\n"
        "      --snapshot-dir DIR        where (default: the current directory)\n"
        "      --snapshot-format FORMAT  any export format (default speedscope)\n"
        "      --snapshot-every SECONDS  with --record: write the last SECONDS as a\n"
        "                                profile, once per period\n"
        "\n"
        "Export:\n"
        "  -f, --format FORMAT      folded, speedscope, pstats, callgrind, pprof or svg\n"
        "  -m, --mode MODE          cpu (default: time on a CPU), wall (elapsed time) or\n"
        "                           memory (bytes of resident memory growth per stack)\n"
        "  -o, --output FILE        write there instead of stdout\n"
        "\n"
        "  -h, --help               show this help\n"
        "  -V, --version            show pytop's version and the Python versions it reads\n"
        "\n"
        "Environment:\n"
        "  NO_COLOR                 when set and not empty, the view uses no colors\n"
        "  PYTOP_LAYOUT_SOURCE=table|debug-offsets\n"
        "                           on Python 3.13+, where structure offsets come from\n"
        "                           (default: the target's own _Py_DebugOffsets)\n"
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

/* A positive finite number of at most max. */
static int parse_number(const char *s, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *opt, const char *s, uint64_t *out)
{
    double v;
    if (parse_number(s, 1e9, &v) != 0) {
        fprintf(stderr, "pytop: %s takes a number of seconds greater than 0, not '%s'\n", opt, s);
        return -1;
    }
    *out = (uint64_t)(v * 1e9);
    return 0;
}

static int parse_format(const char *opt, const char *s, enum export_format *out)
{
    if (export_format_parse(s, out) != 0) {
        fprintf(stderr, "pytop: %s must be one of folded, speedscope, pstats, callgrind, "
                        "pprof, svg (not '%s')\n", opt, s);
        return -1;
    }
    return 0;
}

static int set_mode(struct pytop_options *o, enum pytop_mode m)
{
    if (o->mode != MODE_NONE && o->mode != m) {
        fprintf(stderr, "pytop: choose one of --dump, --record, --export and --replay\n");
        return -1;
    }
    o->mode = m;
    return 0;
}

enum {
    OPT_RATE = 256, OPT_DURATION, OPT_SNAP_EVERY, OPT_SNAP_DIR, OPT_SNAP_FORMAT,
    OPT_REFRESH, OPT_REPLAY, OPT_SPEED, OPT_NATIVE, OPT_NATIVE_ALL, OPT_SUBPROCESSES,
};

/* Options given, for checking what goes with what. */
struct given {
    int format, rate, duration, snapshot_every, refresh, speed;
};

static int check_combination(struct pytop_options *o, const struct given *g)
{
    int has_target = o->pid != 0 || o->command != NULL;
    if (o->mode == MODE_NONE && has_target)
        o->mode = MODE_TOP;
    if (o->pid && o->command) {
        fprintf(stderr, "pytop: give either -p PID or a command after --, not both\n");
        return -1;
    }
    if (o->json && o->mode != MODE_DUMP) {
        fprintf(stderr, "pytop: --json goes with --dump\n");
        return -1;
    }
    switch (o->mode) {
    case MODE_NONE:
        fprintf(stderr, "pytop: which program? give -p PID, a command after --, or "
                        "--replay RECORDING (see 'pytop --help')\n");
        return -1;
    case MODE_TOP:
        break;
    case MODE_REPLAY:
        if (has_target) {
            fprintf(stderr, "pytop: --replay reads a recording, not a process: drop -p/--\n");
            return -1;
        }
        if (g->rate || g->duration) {
            fprintf(stderr, "pytop: --rate and --duration are for sampling; a replay shows the "
                            "recording as it was sampled (use --speed to play it faster)\n");
            return -1;
        }
        break;
    case MODE_DUMP:
        if (o->command) {
            fprintf(stderr, "pytop: --dump reads a running process: give it -p PID, not a command\n");
            return -1;
        }
        if (!o->pid) {
            fprintf(stderr, "pytop: which process? give -p PID\n");
            return -1;
        }
        break;
    case MODE_RECORD:
        if (!has_target) {
            fprintf(stderr, "pytop: --record needs a target: -p PID, or -- COMMAND [ARGS...]\n");
            return -1;
        }
        break;
    case MODE_EXPORT:
        if (has_target) {
            fprintf(stderr, "pytop: --export reads a recording, not a process: drop -p/--\n");
            return -1;
        }
        break;
    }
    if (o->mode != MODE_EXPORT && o->output) {
        fprintf(stderr, "pytop: -o goes with --export\n");
        return -1;
    }
    int view = o->mode == MODE_TOP || o->mode == MODE_REPLAY;
    if (g->refresh && !view) {
        fprintf(stderr, "pytop: --refresh goes with the live view or --replay\n");
        return -1;
    }
    if (view && o->weight == EXPORT_MEMORY) {
        fprintf(stderr, "pytop: the live view shows CPU or WALL time first (--mode cpu or wall); "
                        "press 'm' in it to rank functions by memory growth (--mode memory is "
                        "for --export and --record's snapshots)\n");
        return -1;
    }
    if (g->speed && o->mode != MODE_REPLAY) {
        fprintf(stderr, "pytop: --speed goes with --replay\n");
        return -1;
    }
    if ((o->native || o->subprocesses) && (o->mode == MODE_EXPORT || o->mode == MODE_REPLAY)) {
        fprintf(stderr, "pytop: %s is for sampling a process; a recording keeps what was "
                        "sampled\n", o->native ? (o->native_all ? "--native-all" : "--native")
                                                : "--subprocesses");
        return -1;
    }
    if (o->subprocesses && o->mode == MODE_DUMP) {
        fprintf(stderr, "pytop: --subprocesses goes with the live view or --record\n");
        return -1;
    }
    if (g->snapshot_every && o->mode != MODE_RECORD) {
        fprintf(stderr, "pytop: --snapshot-every goes with --record (in the live view, "
                        "press 's' to save a snapshot)\n");
        return -1;
    }
    return 0;
}

int options_parse(int argc, char **argv, struct pytop_options *o)
{
    static const struct option longopts[] = {
        { "pid", required_argument, NULL, 'p' },
        { "dump", no_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "record", required_argument, NULL, 'r' },
        { "export", required_argument, NULL, 'e' },
        { "format", required_argument, NULL, 'f' },
        { "mode", required_argument, NULL, 'm' },
        { "output", required_argument, NULL, 'o' },
        { "rate", required_argument, NULL, OPT_RATE },
        { "duration", required_argument, NULL, OPT_DURATION },
        { "snapshot-every", required_argument, NULL, OPT_SNAP_EVERY },
        { "snapshot-dir", required_argument, NULL, OPT_SNAP_DIR },
        { "snapshot-format", required_argument, NULL, OPT_SNAP_FORMAT },
        { "refresh", required_argument, NULL, OPT_REFRESH },
        { "replay", required_argument, NULL, OPT_REPLAY },
        { "speed", required_argument, NULL, OPT_SPEED },
        { "native", no_argument, NULL, OPT_NATIVE },
        { "native-all", no_argument, NULL, OPT_NATIVE_ALL },
        { "subprocesses", no_argument, NULL, OPT_SUBPROCESSES },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->rate_hz = 100;
    o->snapshot_dir = ".";
    o->snapshot_format = EXPORT_SPEEDSCOPE;
    o->format = EXPORT_FOLDED;
    o->weight = EXPORT_CPU;
    o->refresh_ns = 1000000000ULL;
    o->speed = 1.0;
    struct given g;
    memset(&g, 0, sizeof g);

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
    double v;
    /* '+' stops at the first non-option, so "-- python -c ..." is left alone. */
    while ((c = getopt_long(argc, argv, "+:p:djr:e:f:m:o:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_pid(optarg, &o->pid) != 0) {
                fprintf(stderr, "pytop: '%s' is not a process id: give -p a positive number\n", optarg);
                return -1;
            }
            break;
        case 'd':
            if (set_mode(o, MODE_DUMP))
                return -1;
            break;
        case 'j': o->json = 1; break;
        case 'r':
            if (set_mode(o, MODE_RECORD))
                return -1;
            o->record_path = optarg;
            break;
        case 'e':
            if (set_mode(o, MODE_EXPORT))
                return -1;
            o->export_path = optarg;
            break;
        case 'f':
            if (parse_format("--format", optarg, &o->format))
                return -1;
            g.format = 1;
            break;
        case 'm':
            if (strcmp(optarg, "cpu") == 0)
                o->weight = EXPORT_CPU;
            else if (strcmp(optarg, "wall") == 0)
                o->weight = EXPORT_WALL;
            else if (strcmp(optarg, "memory") == 0)
                o->weight = EXPORT_MEMORY;
            else {
                fprintf(stderr, "pytop: --mode must be 'cpu', 'wall' or 'memory', not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'o': o->output = optarg; break;
        case OPT_RATE:
            g.rate = 1;
            if (parse_number(optarg, 100000, &o->rate_hz) != 0) {
                fprintf(stderr, "pytop: --rate takes samples per second, from above 0 to 100000, not '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_DURATION:
            g.duration = 1;
            if (parse_seconds("--duration", optarg, &o->duration_ns))
                return -1;
            break;
        case OPT_SNAP_EVERY:
            g.snapshot_every = 1;
            if (parse_seconds("--snapshot-every", optarg, &o->snapshot_every_ns))
                return -1;
            break;
        case OPT_SNAP_DIR: o->snapshot_dir = optarg; break;
        case OPT_SNAP_FORMAT:
            if (parse_format("--snapshot-format", optarg, &o->snapshot_format))
                return -1;
            break;
        case OPT_REFRESH:
            g.refresh = 1;
            if (parse_number(optarg, 3600, &v) != 0 || v < 0.05) {
                fprintf(stderr, "pytop: --refresh takes seconds, from 0.05 to 3600, not '%s'\n",
                        optarg);
                return -1;
            }
            o->refresh_ns = (uint64_t)(v * 1e9);
            break;
        case OPT_REPLAY:
            if (set_mode(o, MODE_REPLAY))
                return -1;
            o->replay_path = optarg;
            break;
        case OPT_SPEED:
            g.speed = 1;
            if (parse_number(optarg, 1000, &o->speed) != 0) {
                fprintf(stderr, "pytop: --speed takes a factor above 0 and up to 1000 "
                                "(1 plays as recorded), not '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_NATIVE: o->native = 1; break;
        case OPT_NATIVE_ALL: o->native = o->native_all = 1; break;
        case OPT_SUBPROCESSES: o->subprocesses = 1; break;
        case 'h': usage(stdout); return 1;
        case 'V': version(); return 1;
        case ':':
            fprintf(stderr, "pytop: option '%s' needs a value (see 'pytop --help')\n", argv[optind - 1]);
            return -1;
        case '?':
        default:
            if (optopt && optopt < 256)
                fprintf(stderr, "pytop: unknown option '-%c' (see 'pytop --help')\n", optopt);
            else
                fprintf(stderr, "pytop: unknown option '%s' (see 'pytop --help')\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc)
        o->command = &argv[optind];
    if (o->mode != MODE_EXPORT && g.format) {
        fprintf(stderr, "pytop: --format goes with --export (snapshots take --snapshot-format)\n");
        return -1;
    }
    if (o->mode == MODE_EXPORT && !g.format) {
        fprintf(stderr, "pytop: --export needs --format: folded, speedscope, pstats, callgrind, pprof or svg\n");
        return -1;
    }
    return check_combination(o, &g);
}
