#include "config.h"

#include "app/options.h"

#include "python/layout.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: pytop [top] [options] -p PID          the live view of a running program\n"
        "       pytop [top] [options] -- COMMAND [ARGS...]\n"
        "       pytop record -o FILE [options] (-p PID | -- COMMAND [ARGS...])\n"
        "       pytop dump [--json] [--native] [--blocking] [--async] -p PID\n"
        "       pytop export RECORDING [-f FORMAT] [--mode MODE] [-o OUT]\n"
        "       pytop replay RECORDING [--speed X]\n"
        "       pytop SUBCOMMAND --help                 each subcommand's options\n"
        "\n"
        "Show what a running Python program is doing, without changing or stopping it\n"
        "(unless --native or --blocking asks to hold each thread for a moment).\n"
        "The subcommands are py-spy's; the long options --dump, --record FILE,\n"
        "--export RECORDING and --replay RECORDING do the same without one. As in\n"
        "py-spy, -r is the rate and -d the duration (not --record and --dump).\n"
        "\n"
        "Target:\n"
        "  -p, --pid PID            read the running process PID\n"
        "  -- COMMAND [ARGS...]     start COMMAND and profile it from its first moments;\n"
        "                           pytop exits with the program's exit status (in the\n"
        "                           live view its output goes to a log file, named at exit)\n"
        "\n"
        "Modes:\n"
        "  (none), top              the live view: Functions, Threads, Call tree, Source,\n"
        "                           Memory (and Tasks with --async), refreshed every\n"
        "                           --refresh seconds while\n"
        "                           sampling goes on at --rate; press ? in it for the keys\n"
        "      --replay RECORDING   the same view over a recording made with --record\n"
        "      --dump               print every thread's stack once and exit\n"
        "  -j, --json               with --dump: print one JSON document\n"
        "      --record FILE        sample without a terminal into FILE until --duration\n"
        "                           ends, the target exits, or SIGINT/SIGTERM/SIGHUP; the\n"
        "                           name picks the format (see 'pytop record --help')\n"
        "  -e, --export RECORDING   convert a recording to --format, on stdout or -o OUT\n"
        "\n"
        "Sampling:\n"
        "  -r, --rate, --sampling-rate RATE\n"
        "                           samples per second: 100, 250hz, 1khz, 10k (default 100)\n"
        "  -d, --duration TIME      stop after this long: 30 (seconds), 2s, 500ms, 1m, 1h\n"
        "                           (default: no limit)\n"
        "  -n, --native             also unwind C stacks (libunwind) and show the C frames\n"
        "                           of extension modules between the Python frames; each\n"
        "                           thread is stopped for a moment while it is unwound\n"
        "      --native-all         with --native: keep the interpreter's own C frames too\n"
        "      --blocking           stop each thread for the moment its stack is read, so\n"
        "                           each stack is an exact snapshot (default: read while\n"
        "                           it runs, never stopping it); the pause is measured\n"
        "                           and shown\n"
        "  -s, --subprocesses       follow the target's child processes (multiprocessing\n"
        "                           workers, subprocess calls) and sample them as well\n"
        "  -i, --idle               count threads that wait (sleep, I/O, locks) too: the\n"
        "                           time weighed is wall time (--mode wall)\n"
        "  -g, --gil                only samples of threads holding the GIL\n"
        "      --async              asyncio (3.11+): each stack running a task is rooted in\n"
        "                           \"<task NAME>\"; with --idle (wall time) waiting tasks\n"
        "                           are sampled too, each with its await chain\n"
        "      --nonblocking        read the target while it runs (the default)\n"
        "      --schedstat          each thread's CPU time from its schedstat file (a\n"
        "                           read per thread per sample), not from the kernel's\n"
        "                           context-switch records (perf events): no read\n"
        "\n"
        "Live view and replay:\n"
        "      --refresh TIME       redraw the view this often (default 1s)\n"
        "      --speed X            replay speed, 1 = as recorded (default 1)\n"
        "  -m, --mode MODE          cpu or wall: the weight shown first ('c' switches);\n"
        "                           gil: wall time of threads holding the GIL (--gil)\n"
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
        "      --snapshot-every TIME     while recording: write the last TIME as a\n"
        "                                profile, once per period\n"
        "\n"
        "Export:\n"
        "  -f, --format FORMAT      folded, speedscope, pstats, callgrind, pprof, svg,\n"
        "                           gecko, chrometrace, annotate or heatmap\n"
        "                           (default: from -o's name); folded weights are whole\n"
        "                           microseconds (bytes with --mode memory)\n"
        "  -m, --mode MODE          cpu (default: time on a CPU), wall (elapsed time),\n"
        "                           gil (wall time of threads holding the GIL) or\n"
        "                           memory (growth of resident memory while each stack\n"
        "                           ran, in bytes: not allocations)\n"
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
        "pytop reads CPython 2.7 and 3.6 to 3.15 (release or debug builds, any micro\n"
        "release; free-threaded 3.13t and later), in containers too: stacks, threads,\n"
        "the GIL holder (none on a free-threaded build), and the\n"
        "GC and pymalloc counters where a version keeps them ('pytop --version' lists\n"
        "the tables).\n"
        "\n"
        "Reading another process needs the same rights as a debugger: run pytop as\n"
        "root, give it CAP_SYS_PTRACE, or relax kernel.yama.ptrace_scope.\n");
}

static void usage_top(FILE *out)
{
    fprintf(out,
        "usage: pytop top [options] (-p PID | -- COMMAND [ARGS...])\n"
        "\n"
        "The live, top-like view of a running Python program (also 'pytop -p PID').\n"
        "\n"
        "  -p, --pid PID            the process to read\n"
        "  -- COMMAND [ARGS...]     start COMMAND (its output goes to a log file)\n"
        "  -r, --rate RATE          samples per second: 100, 1khz, 10k (default 100)\n"
        "  -d, --duration TIME      stop after this long: 30, 2s, 500ms, 1m\n"
        "  -n, --native             show C frames of extension modules too\n"
        "      --native-all         with --native: and the interpreter's own C frames\n"
        "  -s, --subprocesses       follow the target's child processes\n"
        "  -i, --idle               show waiting threads' time too (opens on WALL)\n"
        "  -g, --gil                only samples of threads holding the GIL\n"
        "  -m, --mode cpu|wall|gil  the weight shown first ('c' switches); gil: wall\n"
        "                           time of threads holding the GIL\n"
        "      --refresh TIME       redraw this often (default 1s)\n"
        "      --snapshot-dir DIR, --snapshot-format FORMAT   for the 's' key\n"
        "      --blocking           hold each thread while its stack is read (exact\n"
        "                           snapshots; the pause is measured and shown)\n"
        "      --nonblocking        read the target while it runs (the default)\n"
        "      --schedstat          CPU time from schedstat, not context-switch records\n");
}

static void usage_record(FILE *out)
{
    fprintf(out,
        "usage: pytop record -o FILE [options] (-p PID | -- COMMAND [ARGS...])\n"
        "\n"
        "Sample without a terminal until --duration ends, the target exits, or\n"
        "SIGINT, SIGTERM or SIGHUP, then write FILE in the format its name asks for:\n"
        "  *.svg                    an interactive flame graph\n"
        "  *.speedscope.json        speedscope (https://www.speedscope.app)\n"
        "  *.folded, *.txt, *.collapsed   collapsed stacks (flamegraph.pl, inferno)\n"
        "  *.pstats, *.prof         Python's pstats (python3 -m pstats, snakeviz)\n"
        "  callgrind.out.*, *.callgrind   kcachegrind, callgrind_annotate\n"
        "  *.pb.gz, *.pprof         pprof\n"
        "  *.gecko.json             a timeline for the Firefox Profiler\n"
        "  *.trace.json             a timeline for Perfetto, chrome://tracing\n"
        "  *.annotate.txt           the sources, each line with its shares\n"
        "  *.html                   the same as a heat map page\n"
        "  any other name (*.pytop) a pytop recording, for 'pytop replay' and\n"
        "                           'pytop export' (every thread, time and memory kept)\n"
        "\n"
        "  -o, --output FILE        where (same as --record FILE)\n"
        "  -f, --format FORMAT      the format, whatever the name: folded, speedscope,\n"
        "                           pstats, callgrind, pprof, svg, gecko, chrometrace,\n"
        "                           annotate, heatmap or pytop\n"
        "  -m, --mode MODE          what the profile weighs: cpu (default), wall, gil\n"
        "                           (wall time of GIL holders), or memory (resident\n"
        "                           growth while each stack ran)\n"
        "      --keep-recording     also keep the recording beside the profile\n"
        "                           (FILE's name with .pytop for its suffix)\n"
        "  -p, --pid PID            the process to read\n"
        "  -- COMMAND [ARGS...]     start COMMAND; when --duration ends it, pytop sends\n"
        "                           it SIGINT, then SIGTERM and SIGKILL 2 s apart\n"
        "  -r, --rate RATE          samples per second: 100, 1khz, 10k (default 100)\n"
        "  -d, --duration TIME      stop after this long: 30, 2s, 500ms, 1m\n"
        "  -n, --native             C frames of extension modules too\n"
        "      --native-all         with --native: and the interpreter's own C frames\n"
        "  -s, --subprocesses       follow the target's child processes\n"
        "  -i, --idle               count waiting threads too (weighs wall time)\n"
        "  -g, --gil                only samples of threads holding the GIL\n"
        "      --snapshot-every TIME, --snapshot-dir DIR, --snapshot-format FORMAT\n"
        "                           also write the last TIME as a profile, every TIME\n"
        "      --blocking           hold each thread while its stack is read (exact\n"
        "                           snapshots; the pause is measured and shown)\n"
        "      --nonblocking        read the target while it runs (the default)\n"
        "      --schedstat          CPU time from schedstat, not context-switch records\n");
}

static void usage_dump(FILE *out)
{
    fprintf(out,
        "usage: pytop dump [--json] [--native] [--blocking] [--async] -p PID\n"
        "\n"
        "Print every thread's stack once and exit (also 'pytop --dump -p PID').\n"
        "\n"
        "  -p, --pid PID            the process to read\n"
        "  -j, --json               one JSON document\n"
        "  -n, --native             C frames of extension modules too\n"
        "      --native-all         with --native: and the interpreter's own C frames\n"
        "      --blocking           hold each thread while its stack is read\n"
        "      --async              asyncio tasks (3.11+): a thread running one shows its\n"
        "                           frames under \"<task NAME>\", and every waiting task\n"
        "                           its await chain\n");
}

static void usage_export(FILE *out)
{
    fprintf(out,
        "usage: pytop export RECORDING [-f FORMAT] [-m MODE] [-o OUT] [--baseline OLD]\n"
        "\n"
        "Convert a recording (from 'pytop record') to a profile (also\n"
        "'pytop --export RECORDING').\n"
        "\n"
        "  -f, --format FORMAT      folded, speedscope, pstats, callgrind, pprof, svg,\n"
        "                           gecko, chrometrace, annotate or heatmap\n"
        "                           (default: from OUT's name, as 'pytop record' does);\n"
        "                           folded weights are whole microseconds (bytes with\n"
        "                           --mode memory), callgrind's first event the weight\n"
        "  -m, --mode MODE          cpu (default), wall, gil (wall time of GIL holders),\n"
        "                           or memory (resident growth while each stack ran,\n"
        "                           in bytes)\n"
        "  -i, --idle               count waiting threads too (weighs wall time)\n"
        "  -g, --gil                only samples of threads holding the GIL\n"
        "  -o, --output OUT         a regular file, written whole or not at all\n"
        "                           (default: stdout)\n"
        "      --baseline OLD       compare with the recording OLD: folded writes\n"
        "                           'stack old new' lines (difffolded.pl's format), svg\n"
        "                           a differential flame graph; both in seconds per\n"
        "                           second of their recording\n"
        "\n"
        "Exit status: 0 when the profile holds the whole recording, also one cut\n"
        "short (a recorder killed: a note says so on stderr); 3 when the recording\n"
        "is damaged and the profile holds what could be read before the damage\n"
        "(stderr says what was lost); 1 when nothing could be written.\n");
}

static void usage_replay(FILE *out)
{
    fprintf(out,
        "usage: pytop replay RECORDING [--speed X] [--mode cpu|wall]\n"
        "\n"
        "The live view over a recording (also 'pytop --replay RECORDING').\n"
        "\n"
        "      --speed X            1 plays as recorded (default 1)\n"
        "  -m, --mode cpu|wall|gil  the weight shown first; gil: wall time of threads\n"
        "                           holding the GIL\n"
        "  -g, --gil                only samples of threads holding the GIL\n"
        "      --refresh TIME       redraw this often (default 1s)\n");
}

static void version(void)
{
    printf("pytop %s\nreads CPython", PACKAGE_VERSION);
    for (size_t i = 0; i < py_layouts_count; i++) {
        const struct py_layout *l = py_layouts_all[i];
        const struct py_layout *prev = i ? py_layouts_all[i - 1] : NULL;
        if (!prev || prev->major != l->major || prev->minor != l->minor)
            printf(" %d.%d", l->major, l->minor);
    }
    printf(" (release and debug builds, any micro release; free-threaded 3.13t and later)\n");
    printf("tables made from CPython");
    for (size_t i = 0; i < py_layouts_count; i++)
        printf(" %d.%d.%d%s%s", py_layouts_all[i]->major, py_layouts_all[i]->minor,
               py_layouts_all[i]->micro, py_layouts_all[i]->debug_build ? "d" : "",
               py_layouts_all[i]->free_threaded ? "t" : "");
    printf("\n_Py_DebugOffsets read for CPython");
    for (size_t i = 0; i < py_debug_layouts_count; i++)
        printf(" %d.%d", py_debug_layouts_all[i]->major, py_debug_layouts_all[i]->minor);
    printf(", free-threaded builds (3.13t and later) included;\n"
           "a newer CPython is refused as newer than this pytop\n");
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

/* A positive number followed by one of units (case-insensitive; "" for a
 * bare number), scaled by that unit's factor. */
struct unit {
    const char *name;
    double factor;
};

static int parse_with_unit(const char *s, const struct unit *units, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v <= 0 || isspace((unsigned char)*end))
        return -1;
    for (const struct unit *u = units; u->name; u++) {
        if (strcasecmp(end, u->name) == 0) {
            v *= u->factor;
            if (!isfinite(v) || v > max)
                return -1;
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* 30 (seconds), 2s, 500ms, 1m, 1h, as CPython's sampler and py-spy write them. */
int options_parse_time(const char *s, double max_seconds, uint64_t *out_ns)
{
    static const struct unit units[] = {
        { "", 1 }, { "s", 1 }, { "sec", 1 }, { "ms", 1e-3 }, { "us", 1e-6 },
        { "m", 60 }, { "min", 60 }, { "h", 3600 }, { NULL, 0 },
    };
    double v;
    if (parse_with_unit(s, units, max_seconds, &v) != 0 || v * 1e9 < 1)
        return -1;
    *out_ns = (uint64_t)(v * 1e9);
    return 0;
}

/* 100, 100hz, 1khz, 10k: samples per second. */
int options_parse_rate(const char *s, double *out_hz)
{
    static const struct unit units[] = {
        { "", 1 }, { "hz", 1 }, { "k", 1e3 }, { "khz", 1e3 }, { NULL, 0 },
    };
    return parse_with_unit(s, units, 100000, out_hz);
}

static int parse_seconds(const char *opt, const char *s, uint64_t *out)
{
    if (options_parse_time(s, 1e9, out) != 0) {
        fprintf(stderr, "pytop: %s takes a time greater than 0, such as 30 (seconds), 2s, "
                        "500ms or 1m, not '%s'\n", opt, s);
        return -1;
    }
    return 0;
}

static int parse_format(const char *opt, const char *s, enum export_format *out)
{
    if (export_format_parse(s, out) != 0) {
        fprintf(stderr, "pytop: %s must be one of folded, speedscope, pstats, callgrind, "
                        "pprof, svg, gecko, chrometrace, annotate, heatmap (not '%s')\n", opt, s);
        return -1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

int options_format_of_name(const char *path, enum export_format *out)
{
    static const struct {
        const char *suffix;
        enum export_format fmt;
    } by_suffix[] = {
        { ".gecko.json", EXPORT_GECKO },
        { ".trace.json", EXPORT_CHROMETRACE },
        { ".annotate.txt", EXPORT_ANNOTATE },
        { ".html", EXPORT_HEATMAP },
        { ".svg", EXPORT_SVG },
        { ".speedscope.json", EXPORT_SPEEDSCOPE },
        { ".speedscope", EXPORT_SPEEDSCOPE },
        { ".folded", EXPORT_FOLDED },
        { ".collapsed", EXPORT_FOLDED },
        { ".txt", EXPORT_FOLDED },
        { ".pstats", EXPORT_PSTATS },
        { ".prof", EXPORT_PSTATS },
        { ".callgrind", EXPORT_CALLGRIND },
        { ".pb.gz", EXPORT_PPROF },
        { ".pprof", EXPORT_PPROF },
    };
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "callgrind.out", 13) == 0) {
        *out = EXPORT_CALLGRIND;
        return 0;
    }
    for (size_t i = 0; i < sizeof by_suffix / sizeof by_suffix[0]; i++) {
        if (ends_with(base, by_suffix[i].suffix)) {
            *out = by_suffix[i].fmt;
            return 0;
        }
    }
    /* Several formats are JSON: the name does not tell which. */
    if (ends_with(base, ".json"))
        return -1;
    return 1;
}

static const char *mode_word(enum pytop_mode m)
{
    switch (m) {
    case MODE_DUMP: return "dump";
    case MODE_RECORD: return "record";
    case MODE_EXPORT: return "export";
    case MODE_REPLAY: return "replay";
    case MODE_TOP: return "top";
    default: return "";
    }
}

static int set_mode(struct pytop_options *o, enum pytop_mode m)
{
    if (o->mode != MODE_NONE && o->mode != m) {
        fprintf(stderr, "pytop: choose one of %s: %s and %s do different things\n",
                "top, record, dump, export and replay (--dump, --record, --export, --replay)",
                mode_word(o->mode), mode_word(m));
        return -1;
    }
    o->mode = m;
    return 0;
}

enum {
    OPT_RATE = 256, OPT_DURATION, OPT_SNAP_EVERY, OPT_SNAP_DIR, OPT_SNAP_FORMAT,
    OPT_REFRESH, OPT_REPLAY, OPT_SPEED, OPT_NATIVE_ALL, OPT_BLOCKING,
    OPT_DUMP, OPT_RECORD, OPT_NONBLOCKING, OPT_KEEP_RECORDING, OPT_BASELINE, OPT_ASYNC,
    OPT_SCHEDSTAT,
};

/* Options given, for checking what goes with what. */
struct given {
    int format, rate, duration, snapshot_every, refresh, speed, native, native_all, pid;
    int blocking, nonblocking;
    int format_recording;            /* record's --format pytop */
    int subcommand;                  /* the first word was a subcommand */
    int rate_short, duration_short;  /* spelt -r, -d */
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
    if (g->blocking && g->nonblocking) {
        fprintf(stderr, "pytop: --blocking holds each thread while it is read and --nonblocking "
                        "never does: give one of them\n");
        return -1;
    }
    if (g->native_all && !g->native) {
        fprintf(stderr, "pytop: --native-all keeps the interpreter's own C frames among the "
                        "frames --native adds: give both, --native --native-all\n");
        return -1;
    }
    switch (o->mode) {
    case MODE_NONE:
        fprintf(stderr, "pytop: which program? give -p PID, a command after --, or "
                        "'pytop replay RECORDING' (see 'pytop --help')\n");
        return -1;
    case MODE_TOP:
        if (!has_target) {
            fprintf(stderr, "pytop: which program? give top -p PID or a command after --\n");
            return -1;
        }
        break;
    case MODE_REPLAY:
        if (!o->replay_path) {
            fprintf(stderr, "pytop: which recording? give 'pytop replay RECORDING'\n");
            return -1;
        }
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
        if (o->idle || o->gil || g->rate || g->duration) {
            fprintf(stderr, "pytop: %s is for sampling over time; dump reads each thread once "
                            "(its JSON says which thread holds the GIL and which run)\n",
                    o->idle ? "--idle" : o->gil ? "--gil" : g->rate ? "--rate" : "--duration");
            return -1;
        }
        break;
    case MODE_RECORD:
        if (!o->record_path) {
            fprintf(stderr, "pytop: where to? give 'pytop record -o FILE' (FILE.svg for a "
                            "flame graph, FILE.pytop for a recording)\n");
            return -1;
        }
        if (!has_target) {
            fprintf(stderr, "pytop: --record needs a target: -p PID, or -- COMMAND [ARGS...]\n");
            return -1;
        }
        break;
    case MODE_EXPORT:
        if (!o->export_path) {
            fprintf(stderr, "pytop: which recording? give 'pytop export RECORDING -o OUT'\n");
            return -1;
        }
        if (has_target) {
            fprintf(stderr, "pytop: --export reads a recording, not a process: drop -p/--\n");
            return -1;
        }
        if (!g->format) {
            fprintf(stderr, "pytop: --export needs --format (or -o with a name such as "
                            "out.svg): folded, speedscope, pstats, callgrind, pprof, svg, "
                            "gecko, chrometrace, annotate or heatmap\n");
            return -1;
        }
        break;
    }
    int view = o->mode == MODE_TOP || o->mode == MODE_REPLAY;
    if (g->refresh && !view) {
        fprintf(stderr, "pytop: --refresh goes with the live view or --replay\n");
        return -1;
    }
    if (o->idle) {
        if (o->weight_given && o->weight != EXPORT_WALL) {
            fprintf(stderr, "pytop: --idle counts the time threads spend waiting, which is wall "
                            "time; --mode %s counts %s: drop one of them\n",
                    o->weight == EXPORT_CPU ? "cpu" : "memory",
                    o->weight == EXPORT_CPU ? "time on a CPU only" : "memory growth");
            return -1;
        }
        o->weight = EXPORT_WALL;
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
    if ((o->native || o->subprocesses || o->blocking) &&
        (o->mode == MODE_EXPORT || o->mode == MODE_REPLAY)) {
        fprintf(stderr, "pytop: %s is for sampling a process; a recording keeps what was "
                        "sampled\n", o->native ? (o->native_all ? "--native-all" : "--native")
                                      : o->blocking ? "--blocking" : "--subprocesses");
        return -1;
    }
    if (o->async && (o->mode == MODE_EXPORT || o->mode == MODE_REPLAY)) {
        fprintf(stderr, "pytop: --async is for reading a process; a recording made with "
                        "--async keeps its tasks\n");
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
    if (o->output && o->mode != MODE_EXPORT && o->mode != MODE_RECORD) {
        fprintf(stderr, "pytop: -o goes with record and export\n");
        return -1;
    }
    int pstats_out = ((o->mode == MODE_EXPORT || (o->mode == MODE_RECORD && o->record_export)) &&
                      o->format == EXPORT_PSTATS) ||
                     (g->snapshot_every && o->snapshot_format == EXPORT_PSTATS);
    if (pstats_out && o->weight == EXPORT_MEMORY) {
        /* pstats would print the bytes as "seconds". */
        fprintf(stderr, "pytop: pstats holds times only (its tools print every value as "
                        "seconds): for --mode memory, use speedscope, svg, pprof, callgrind or "
                        "folded\n");
        return -1;
    }
    if (o->keep_recording && (o->mode != MODE_RECORD || !o->record_export)) {
        fprintf(stderr, "pytop: --keep-recording goes with 'pytop record -o FILE' writing a "
                        "profile (FILE.svg, ...): a recording is kept anyway\n");
        return -1;
    }
    return 0;
}

/* What record's FILE is: a profile in the format its name (or --format)
 * asks for, or a recording. */
static int record_format(struct pytop_options *o, const struct given *g)
{
    if (g->format_recording) {
        o->record_export = 0;
        return 0;
    }
    if (g->format) {
        o->record_export = 1;
        return 0;
    }
    int rc = options_format_of_name(o->record_path, &o->format);
    if (rc < 0) {
        fprintf(stderr, "pytop: %s: several formats are JSON; name it .speedscope.json, "
                        ".gecko.json or .trace.json, or give --format\n", o->record_path);
        return -1;
    }
    o->record_export = rc == 0;
    return 0;
}

/* Whether the option whose value getopt just gave was spelt -c (as
 * "-c VALUE" or "-cVALUE"), not as its long form. */
static int spelt_short(char **argv, int optind_now, char c)
{
    const char *opt = optarg == argv[optind_now - 1] ? argv[optind_now - 2] : argv[optind_now - 1];
    return opt[0] == '-' && opt[1] == c;
}

/* The first word, when it is a subcommand. */
static int subcommand(const char *word, enum pytop_mode *out)
{
    static const struct {
        const char *name;
        enum pytop_mode mode;
    } words[] = {
        { "top", MODE_TOP }, { "record", MODE_RECORD }, { "dump", MODE_DUMP },
        { "export", MODE_EXPORT }, { "replay", MODE_REPLAY },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(word, words[i].name) == 0) {
            *out = words[i].mode;
            return 1;
        }
    }
    return 0;
}

static void usage_of(enum pytop_mode m)
{
    switch (m) {
    case MODE_TOP: usage_top(stdout); break;
    case MODE_RECORD: usage_record(stdout); break;
    case MODE_DUMP: usage_dump(stdout); break;
    case MODE_EXPORT: usage_export(stdout); break;
    case MODE_REPLAY: usage_replay(stdout); break;
    default: usage(stdout); break;
    }
}

int options_parse(int argc, char **argv, struct pytop_options *o)
{
    static const struct option longopts[] = {
        { "pid", required_argument, NULL, 'p' },
        { "dump", no_argument, NULL, OPT_DUMP },
        { "json", no_argument, NULL, 'j' },
        { "record", required_argument, NULL, OPT_RECORD },
        { "export", required_argument, NULL, 'e' },
        { "format", required_argument, NULL, 'f' },
        { "mode", required_argument, NULL, 'm' },
        { "output", required_argument, NULL, 'o' },
        { "rate", required_argument, NULL, 'r' },
        { "sampling-rate", required_argument, NULL, 'r' },
        { "duration", required_argument, NULL, 'd' },
        { "snapshot-every", required_argument, NULL, OPT_SNAP_EVERY },
        { "snapshot-dir", required_argument, NULL, OPT_SNAP_DIR },
        { "snapshot-format", required_argument, NULL, OPT_SNAP_FORMAT },
        { "refresh", required_argument, NULL, OPT_REFRESH },
        { "replay", required_argument, NULL, OPT_REPLAY },
        { "speed", required_argument, NULL, OPT_SPEED },
        { "native", no_argument, NULL, 'n' },
        { "native-all", no_argument, NULL, OPT_NATIVE_ALL },
        { "subprocesses", no_argument, NULL, 's' },
        { "idle", no_argument, NULL, 'i' },
        { "gil", no_argument, NULL, 'g' },
        { "nonblocking", no_argument, NULL, OPT_NONBLOCKING },
        { "keep-recording", no_argument, NULL, OPT_KEEP_RECORDING },
        { "blocking", no_argument, NULL, OPT_BLOCKING },
        { "baseline", required_argument, NULL, OPT_BASELINE },
        { "async", no_argument, NULL, OPT_ASYNC },
        { "schedstat", no_argument, NULL, OPT_SCHEDSTAT },
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
    optind = 1;
    if (argc > 1 && subcommand(argv[1], &o->mode)) {
        g.subcommand = 1;
        optind = 2;
    }
    int c;
    uint64_t ns;
    /* '+' stops at the first non-option, so "-- python -c ..." is left alone. */
    for (;;) {
        c = getopt_long(argc, argv, "+:p:jr:d:e:f:m:o:nsighV", longopts, NULL);
        if (c == -1) {
            /* export and replay take their recording as a word, options
             * before or after it. */
            int positional = (o->mode == MODE_EXPORT && !o->export_path) ||
                             (o->mode == MODE_REPLAY && !o->replay_path);
            if (positional && g.subcommand && optind < argc &&
                strcmp(argv[optind - 1], "--") != 0) {
                if (o->mode == MODE_EXPORT)
                    o->export_path = argv[optind];
                else
                    o->replay_path = argv[optind];
                optind++;
                continue;
            }
            break;
        }
        switch (c) {
        case 'p':
            if (g.pid) {
                fprintf(stderr, "pytop: give -p once: pytop reads one process (and with "
                                "--subprocesses, its children too)\n");
                return -1;
            }
            g.pid = 1;
            if (parse_pid(optarg, &o->pid) != 0) {
                fprintf(stderr, "pytop: '%s' is not a process id: give -p a positive number\n", optarg);
                return -1;
            }
            break;
        case OPT_DUMP:
            if (set_mode(o, MODE_DUMP))
                return -1;
            break;
        case 'j': o->json = 1; break;
        case OPT_RECORD:
            if (set_mode(o, MODE_RECORD))
                return -1;
            if (o->record_path) {
                fprintf(stderr, "pytop: give the file to record into once (--record FILE or "
                                "-o FILE)\n");
                return -1;
            }
            o->record_path = optarg;
            break;
        case 'e':
            if (set_mode(o, MODE_EXPORT))
                return -1;
            o->export_path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "pytop") == 0 || strcmp(optarg, "recording") == 0) {
                g.format_recording = 1;
                break;
            }
            if (parse_format("--format", optarg, &o->format))
                return -1;
            g.format = 1;
            break;
        case 'm':
            o->weight_given = 1;
            if (strcmp(optarg, "cpu") == 0)
                o->weight = EXPORT_CPU;
            else if (strcmp(optarg, "wall") == 0)
                o->weight = EXPORT_WALL;
            else if (strcmp(optarg, "memory") == 0)
                o->weight = EXPORT_MEMORY;
            else if (strcmp(optarg, "gil") == 0) {
                /* As CPython's sampler: wall time, of GIL holders only. */
                o->weight = EXPORT_WALL;
                o->gil = 1;
            } else {
                /* CPython's sampler spells "run a module" -m. */
                fprintf(stderr, "pytop: -m/--mode must be 'cpu', 'wall', 'gil' or 'memory', not '%s' "
                                "(to run a module, give the interpreter: -- python3 -m %s)\n",
                        optarg, optarg);
                return -1;
            }
            break;
        case 'o':
            if (o->output) {
                fprintf(stderr, "pytop: give -o once\n");
                return -1;
            }
            o->output = optarg;
            break;
        case 'r':
            g.rate = 1;
            if (options_parse_rate(optarg, &o->rate_hz) != 0) {
                if (spelt_short(argv, optind, 'r'))
                    fprintf(stderr, "pytop: -r is the sampling rate (as in py-spy): samples per "
                                    "second such as 100, 250hz or 1khz, up to 100khz, not '%s' "
                                    "(to record into a file: pytop record -o FILE)\n", optarg);
                else
                    fprintf(stderr, "pytop: --rate takes samples per second, such as 100, 250hz "
                                    "or 1khz, from above 0 to 100khz, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'd':
            g.duration = 1;
            if (options_parse_time(optarg, 1e9, &o->duration_ns) != 0) {
                if (spelt_short(argv, optind, 'd'))
                    fprintf(stderr, "pytop: -d is the duration (as in py-spy): a time such as "
                                    "30 (seconds), 2s, 500ms or 1m, not '%s' (to print the "
                                    "stacks once: pytop dump -p PID)\n", optarg);
                else
                    fprintf(stderr, "pytop: --duration takes a time greater than 0, such as 30 "
                                    "(seconds), 2s, 500ms or 1m, not '%s'\n", optarg);
                return -1;
            }
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
            if (export_format_is_timeline(o->snapshot_format)) {
                fprintf(stderr, "pytop: --snapshot-format %s: a timeline needs the samples "
                                "of a recording; record (pytop record -o FILE%s) or pick "
                                "another format\n", optarg,
                        export_format_suffix(o->snapshot_format));
                return -1;
            }
            break;
        case OPT_BASELINE: o->baseline_path = optarg; break;
        case OPT_ASYNC: o->async = 1; break;
        case OPT_SCHEDSTAT: o->schedstat = 1; break;
        case OPT_REFRESH:
            g.refresh = 1;
            if (options_parse_time(optarg, 3600, &ns) != 0 || ns < 50000000ULL) {
                fprintf(stderr, "pytop: --refresh takes a time from 0.05 to 3600 seconds, such as "
                                "1, 0.5s or 250ms, not '%s'\n", optarg);
                return -1;
            }
            o->refresh_ns = ns;
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
        case 'n': g.native = 1; o->native = 1; break;
        case OPT_NATIVE_ALL: g.native_all = 1; o->native_all = 1; break;
        case 's': o->subprocesses = 1; break;
        case 'i': o->idle = 1; break;
        case 'g': o->gil = 1; break;
        case OPT_BLOCKING: g.blocking = 1; o->blocking = 1; break;
        case OPT_NONBLOCKING: g.nonblocking = 1; break;   /* the default */
        case OPT_KEEP_RECORDING: o->keep_recording = 1; break;
        case 'h':
            if (g.subcommand)
                usage_of(o->mode);
            else
                usage(stdout);
            return 1;
        case 'V': version(); return 1;
        case ':':
            fprintf(stderr, "pytop: option '%s' needs a value (see 'pytop %s%s--help')\n",
                    argv[optind - 1], g.subcommand ? mode_word(o->mode) : "",
                    g.subcommand ? " " : "");
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
    if (optind < argc) {
        o->command = &argv[optind];
        o->dashdash = strcmp(argv[optind - 1], "--") == 0;
    }
    if (o->mode == MODE_RECORD) {
        if (o->output && o->record_path) {
            fprintf(stderr, "pytop: give the file to record into once (--record FILE or "
                            "-o FILE)\n");
            return -1;
        }
        if (o->output) {
            o->record_path = o->output;
            o->output = NULL;
        }
        if (o->record_path && record_format(o, &g))
            return -1;
    } else if (g.format_recording) {
        fprintf(stderr, "pytop: --format pytop goes with record (export writes a profile)\n");
        return -1;
    }
    if (o->mode == MODE_EXPORT && !g.format && o->output && strcmp(o->output, "-") != 0) {
        int rc = options_format_of_name(o->output, &o->format);
        if (rc == 0)
            g.format = 1;
    }
    if (o->baseline_path && o->mode != MODE_EXPORT) {
        fprintf(stderr, "pytop: --baseline goes with export: pytop export NEW --baseline OLD "
                        "--format folded\n");
        return -1;
    }
    if (o->baseline_path && o->format != EXPORT_FOLDED && o->format != EXPORT_SVG) {
        fprintf(stderr, "pytop: --baseline compares in the folded format (stack old new lines, "
                        "for flamegraph.pl) or svg (a differential flame graph): give --format "
                        "folded or svg\n");
        return -1;
    }
    if (o->mode != MODE_EXPORT && o->mode != MODE_RECORD && g.format) {
        fprintf(stderr, "pytop: --format goes with record and export (snapshots take "
                        "--snapshot-format)\n");
        return -1;
    }
    return check_combination(o, &g);
}
