#include "config.h"

#include "app/dump.h"
#include "app/export_cmd.h"
#include "app/launch.h"
#include "app/options.h"
#include "app/record_cmd.h"
#include "core/error.h"
#include "proc/info.h"
#include "proc/tasks.h"
#include "python/asyncio_tasks.h"
#include "python/discover.h"
#include "record/recording.h"
#include "session/dict_budget.h"
#include "session/session_live.h"
#include "session/session_replay.h"
#include "ui/ui.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ULL
/* The window the live view opens with. */
#define FIRST_WINDOW_NS (10 * NS_PER_SEC)

/* A process that is there but has no program to read: 'Z' for a zombie,
 * 'K' for a kernel thread, else 0. */
static char unreadable_kind(pid_t pid)
{
    char buf[1024];
    const char *f;
    if (proc_read_stat(pid, buf, sizeof buf, &f) != 0)
        return 0;
    char state = 0;
    unsigned long flags = 0;
    /* " S ppid pgrp session tty_nr tpgid flags ..." */
    if (sscanf(f, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
        return 0;
    if (state == 'Z' || state == 'X')
        return 'Z';
    if (flags & 0x00200000UL)   /* PF_KTHREAD */
        return 'K';
    return 0;
}

#define CAP_SYS_PTRACE_BIT 19

static void report_permission(pid_t pid)
{
    int scope = proc_ptrace_scope();
    if (geteuid() == 0) {
        if (!proc_self_has_cap(CAP_SYS_PTRACE_BIT))
            fprintf(stderr, "pytop: permission denied reading process %d: pytop runs as root "
                            "but without CAP_SYS_PTRACE (containers drop it): give it to the "
                            "container (docker run --cap-add SYS_PTRACE, or the pod's "
                            "securityContext capabilities)\n", (int)pid);
        else if (scope == 3)
            fprintf(stderr, "pytop: permission denied reading process %d: "
                            "kernel.yama.ptrace_scope is 3, which forbids reading any process, "
                            "even as root, until the next boot\n", (int)pid);
        else
            fprintf(stderr, "pytop: permission denied reading process %d although pytop runs "
                            "as root with CAP_SYS_PTRACE: a security module (AppArmor, SELinux, "
                            "seccomp) or another user namespace forbids it; run pytop beside "
                            "the process (in its container or namespace)\n", (int)pid);
        return;
    }
    if (scope < 0)   /* no Yama: its sysctl would be no advice */
        fprintf(stderr, "pytop: permission denied reading process %d: run pytop as root, or "
                        "as the process's owner with CAP_SYS_PTRACE (sudo setcap "
                        "cap_sys_ptrace+ep pytop)\n", (int)pid);
    else if (scope == 0)
        fprintf(stderr, "pytop: permission denied reading process %d: it belongs to another "
                        "user; run pytop as root, or with CAP_SYS_PTRACE (sudo setcap "
                        "cap_sys_ptrace+ep pytop) (kernel.yama.ptrace_scope is already 0)\n",
                (int)pid);
    else
        fprintf(stderr, "pytop: permission denied reading process %d: run pytop as root, or "
                        "with CAP_SYS_PTRACE (sudo setcap cap_sys_ptrace+ep pytop); to read "
                        "your own processes without it, lower kernel.yama.ptrace_scope from "
                        "%d to 0 (sudo sysctl kernel.yama.ptrace_scope=0)\n", (int)pid, scope);
}

/* One line on stderr that says what went wrong and what to do about it. */
static void report_attach_error(pid_t pid, int err, enum py_layout_source layout_source)
{
    char cmd[256] = "";
    char kind = unreadable_kind(pid);
    if (kind == 'Z') {
        fprintf(stderr, "pytop: process %d is a zombie: it has exited and only waits for its "
                        "parent to collect its status, so it runs no code to read\n", (int)pid);
        return;
    }
    if (kind == 'K') {
        fprintf(stderr, "pytop: process %d is a kernel thread, not a program: it runs no "
                        "Python (give the PID of a Python process; 'ps -ef' lists them)\n",
                (int)pid);
        return;
    }
    char newest[16] = "?";
    if (py_layouts_count)
        snprintf(newest, sizeof newest, "%d.%d", py_layouts_all[py_layouts_count - 1]->major,
                 py_layouts_all[py_layouts_count - 1]->minor);
    switch (-err) {
    case ESRCH:
        fprintf(stderr, "pytop: no process with PID %d (did it exit?)\n", (int)pid);
        break;
    case EPERM:
    case EACCES:
        report_permission(pid);
        break;
    case PT_ERR_NOT_PYTHON:
        proc_cmdline(pid, cmd, sizeof cmd);
        fprintf(stderr,
                "pytop: process %d (%s) is not a Python process: no CPython interpreter "
                "(libpython or a python executable) found in its memory maps\n",
                (int)pid, cmd[0] ? cmd : "?");
        break;
    case PT_ERR_UNSUPPORTED:
        if (layout_source == PY_LAYOUT_DEBUG_OFFSETS) {
            fprintf(stderr,
                    "pytop: process %d cannot be read with PYTOP_LAYOUT_SOURCE=debug-offsets: "
                    "only Python 3.13 and later carry _Py_DebugOffsets (unset it to use "
                    "pytop's own tables)\n", (int)pid);
            break;
        }
        fprintf(stderr,
                "pytop: process %d runs a Python version pytop cannot read "
                "(pytop reads CPython 2.7 and 3.6 to %s; see 'pytop --version')\n",
                (int)pid, newest);
        break;
    case PT_ERR_TOO_NEW: {
        struct py_version v;
        if (py_target_find_version(pid, &v) != 0)
            snprintf(v.text, sizeof v.text, "?");
        fprintf(stderr,
                "pytop: process %d runs CPython %s, which this pytop predates (it reads "
                "CPython 2.7 and 3.6 to %s): update pytop, or generate that version's tables "
                "(docs/internals.md, \"Adding a CPython version\")\n", (int)pid, v.text, newest);
        break;
    }
    case PT_ERR_NO_INTERP:
        fprintf(stderr,
                "pytop: process %d has a Python interpreter that is not running Python code "
                "yet (or pytop could not find its state); try again in a moment\n", (int)pid);
        break;
    default:
        fprintf(stderr, "pytop: cannot read process %d: %s\n", (int)pid, pt_strerror(err));
        break;
    }
}

/* --async on a target whose tasks pytop does not read: one line. */
static void report_async_unsupported(const struct py_target *t)
{
    if (t->walker.layout.free_threaded)
        fprintf(stderr, "pytop: --async does not read the tasks of a free-threaded build "
                        "(process %d runs CPython %s); drop --async: its threads' stacks "
                        "still show the running coroutines\n", (int)t->pid, t->version.text);
    else
        fprintf(stderr, "pytop: --async reads asyncio tasks of CPython 3.11 and later; process "
                        "%d runs %s: drop --async (its threads' stacks still show the running "
                        "coroutines)\n", (int)t->pid, t->version.text);
}

static int run_dump(const struct pytop_options *opt)
{
    struct py_target *target;
    int rc = py_target_open(opt->pid, opt->layout_source, &target);
    if (rc) {
        report_attach_error(opt->pid, rc, opt->layout_source);
        return 1;
    }
    rc = dump_run_async(target, opt->json, opt->native, opt->native_all, opt->blocking,
                        opt->async, stdout);
    if (rc == -PT_ERR_UNSUPPORTED && opt->async) {
        report_async_unsupported(target);
        py_target_free(target);
        return 1;
    }
    if (rc == -ESRCH || (rc && proc_is_dead(opt->pid) == 1))
        fprintf(stderr, "pytop: process %d exited while being read\n", (int)opt->pid);
    else if (rc)
        fprintf(stderr, "pytop: reading process %d failed: %s\n", (int)opt->pid, pt_strerror(rc));
    py_target_free(target);
    return rc ? 1 : 0;
}

static int run_export(const struct pytop_options *opt)
{
    struct export_request rq = {
        .recording = opt->export_path,
        .fmt = opt->format,
        .mode = opt->weight,
        .out_path = opt->output,
        .gil = opt->gil,
        .baseline = opt->baseline_path,
    };
    return export_cmd_run(&rq);
}

static int open_target(const struct pytop_options *opt, int out_fd, const char *log_path,
                       struct launch *child, struct launch **launched,
                       struct py_target **target, int *exit_code);

/* FILE's name with .pytop in place of the suffix that named its format. */
static int recording_beside(const char *out, char *buf, size_t cap)
{
    static const char *const suffixes[] = {
        ".speedscope.json", ".speedscope", ".pb.gz", ".svg", ".folded", ".collapsed", ".txt",
        ".pstats", ".prof", ".callgrind", ".pprof",
    };
    size_t n = strlen(out);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcasecmp(out + n - k, suffixes[i]) == 0) {
            n -= k;
            break;
        }
    }
    return snprintf(buf, cap, "%.*s.pytop", (int)n, out) < (int)cap ? 0 : -ENAMETOOLONG;
}

/* A recording file for --record: a regular file only (never through a
 * link, never a device or FIFO). Returns the fd or -1 after saying why. */
static int create_recording(const char *path)
{
    if (export_check_output(path, NULL) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EEXIST;
    }
    if (fd < 0) {
        fprintf(stderr, "pytop: cannot create %s: %s\n", path,
                errno == EEXIST || errno == ELOOP ? "it is not a regular file" : strerror(errno));
        return -1;
    }
    fcntl(fd, F_SETFL, 0);
    return fd;
}

/* An unnamed file in out's directory for the recording a profile is made
 * from: nothing is left behind, whatever ends pytop. */
static int create_scratch(const char *out)
{
    char dir[4096];
    const char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == out)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - out), out);
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s/.pytop-recording-XXXXXX", dir) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd >= 0)
        unlink(tmp);
    return fd;
}

/* What to run to look at a profile or a recording. */
static void print_next_step(const char *path, int is_export, enum export_format fmt)
{
    if (!is_export) {
        size_t n = strlen(path);
        if (n > 6 && strcmp(path + n - 6, ".pytop") == 0)
            n -= 6;
        fprintf(stderr, "pytop: look at it with 'pytop replay %s', or make a flame graph with "
                        "'pytop export %s -o %.*s.svg'\n", path, path, (int)n, path);
        return;
    }
    switch (fmt) {
    case EXPORT_SVG:
        fprintf(stderr, "pytop: open %s in a web browser (xdg-open %s)\n", path, path);
        break;
    case EXPORT_SPEEDSCOPE:
        fprintf(stderr, "pytop: open %s at https://www.speedscope.app, or run 'speedscope %s'\n",
                path, path);
        break;
    case EXPORT_PSTATS:
        fprintf(stderr, "pytop: read %s with 'python3 -m pstats %s' or 'snakeviz %s'\n", path,
                path, path);
        break;
    case EXPORT_CALLGRIND:
        fprintf(stderr, "pytop: open %s with 'kcachegrind %s' or 'callgrind_annotate %s'\n",
                path, path, path);
        break;
    case EXPORT_PPROF:
        fprintf(stderr, "pytop: open %s with 'go tool pprof -http=:8080 %s'\n", path, path);
        break;
    case EXPORT_FOLDED:
        fprintf(stderr, "pytop: draw %s with 'flamegraph.pl %s > flame.svg' (or inferno)\n",
                path, path);
        break;
    case EXPORT_GECKO:
        fprintf(stderr, "pytop: load %s at https://profiler.firefox.com\n", path);
        break;
    case EXPORT_CHROMETRACE:
        fprintf(stderr, "pytop: open %s at https://ui.perfetto.dev or chrome://tracing\n",
                path);
        break;
    case EXPORT_ANNOTATE:
        fprintf(stderr, "pytop: read %s with 'less %s'\n", path, path);
        break;
    case EXPORT_HEATMAP:
        fprintf(stderr, "pytop: open %s in a web browser (xdg-open %s)\n", path, path);
        break;
    }
}

static int run_record(const struct pytop_options *opt)
{
    struct launch child;
    struct launch *launched = NULL;
    struct py_target *target;
    int rc, exit_code;
    const char *out = opt->record_path;
    char kept[4096] = "";

    /* Everything that can be refused is refused before sampling starts. */
    int fd, scratch = -1;
    if (opt->record_export) {
        if (export_check_output(out, NULL) != 0)
            return 1;
        if (opt->keep_recording) {
            if (recording_beside(out, kept, sizeof kept) != 0) {
                fprintf(stderr, "pytop: cannot name a recording beside %s: the name is too "
                                "long\n", out);
                return 1;
            }
            fd = create_recording(kept);
        } else {
            fd = create_scratch(out);
            if (fd < 0)
                fprintf(stderr, "pytop: cannot create a scratch recording beside %s: %s\n",
                        out, strerror(errno));
        }
        if (fd < 0)
            return 1;
        scratch = fcntl(fd, F_DUPFD_CLOEXEC, 3);   /* to read it back */
        if (scratch < 0) {
            fprintf(stderr, "pytop: cannot record: %s\n", strerror(errno));
            close(fd);
            return 1;
        }
    } else {
        fd = create_recording(out);
        if (fd < 0)
            return 1;
    }
    if (open_target(opt, -1, "", &child, &launched, &target, &exit_code) != 0) {
        close(fd);
        if (scratch >= 0)
            close(scratch);
        if (kept[0])
            unlink(kept);
        else if (!opt->record_export)
            unlink(out);
        return exit_code;
    }

    struct record_options ro = {
        .path = out,
        .fd = fd,
        .rate_hz = opt->rate_hz,
        .duration_ns = opt->duration_ns,
        .snapshot_every_ns = opt->snapshot_every_ns,
        .snapshot_dir = opt->snapshot_dir,
        .snapshot_format = opt->snapshot_format,
        .snapshot_mode = opt->weight,
        .native = opt->native,
        .native_all = opt->native_all,
        .blocking = opt->blocking,
        .subprocesses = opt->subprocesses,
        .layout_source = opt->layout_source,
        .gil = opt->gil,
        .async = opt->async,
        .schedstat = opt->schedstat,
    };
    int ended_launched = 0;
    rc = record_run(target, launched, &ro, stderr, &ended_launched);
    py_target_free(target);
    if (rc)
        fprintf(stderr, "pytop: recording %s failed: %s\n", kept[0] ? kept : out,
                pt_strerror(rc));
    int status = rc ? 1 : 0;
    if (opt->record_export) {
        if (rc == 0) {
            char from[64];
            (void)proc_fd_path(scratch, from, sizeof from);   /* 64 bytes always do */
            struct export_request rq = {
                .recording = from,
                .fmt = opt->format,
                .mode = opt->weight,
                .out_path = out,
            };
            status = export_cmd_run(&rq);
            if (status == 0)
                fprintf(stderr, "pytop: wrote %s (%s, %s)%s%s\n", out,
                        export_format_name(opt->format),
                        opt->weight == EXPORT_WALL ? "wall time"
                            : opt->weight == EXPORT_MEMORY ? "resident memory growth"
                                                           : "CPU time",
                        kept[0] ? "; the recording is in " : "", kept);
        }
        close(scratch);
    }
    if (status == 0)
        print_next_step(out, opt->record_export, opt->format);
    /* The program's own status, unless pytop ended it (--duration). */
    if (launched && status == 0 && !ended_launched)
        return launch_exit_code(launched);
    return status;
}

/* ---- the live view and replay -------------------------------------------- */

static int need_terminal(void)
{
    if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        return 0;
    fprintf(stderr, "pytop: the live view needs a terminal on stdin and stdout; without one, "
                    "use --dump -p PID, or --record FILE now and --replay FILE later\n");
    return -1;
}

/* A launched program must not write over the view: its output goes to a
 * file, named at exit when it is not empty. */
static int open_output_log(char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    if (snprintf(path, cap, "%s/pytop-output-XXXXXX", dir) >= (int)cap)
        return -ENAMETOOLONG;
    int fd = mkostemp(path, O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void report_output_log(const char *path)
{
    struct stat st;
    if (!path[0])
        return;
    if (stat(path, &st) == 0 && st.st_size == 0) {
        unlink(path);
        return;
    }
    fprintf(stderr, "pytop: the program's output is in %s\n", path);
}

/* launch_start with the child's stdin on /dev/null and its stdout and
 * stderr on out_fd; pytop's own are put back before returning. */
static int launch_with_output(char *const argv[], struct launch *l, int out_fd)
{
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0)
        return -errno;
    int saved[3];
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 3; i++)
        saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    int rc = launch_start(argv, l);
    for (int i = 0; i < 3; i++) {
        if (saved[i] >= 0) {
            dup2(saved[i], i);
            close(saved[i]);
        }
    }
    close(null_fd);
    return rc;
}

static int ends_with_py(const char *s)
{
    size_t n = strlen(s);
    return n > 3 && (strcmp(s + n - 3, ".py") == 0 || strcmp(s + n - 4, ".pyw") == 0);
}

/* Whether execvp would find prog (no '/') in PATH. */
static int in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        if (snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? path : ".", prog) < (int)sizeof buf &&
            access(buf, X_OK) == 0)
            return 1;
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* Why a command could not start, and what to write instead. */
static void report_start_error(const struct pytop_options *opt, int rc)
{
    const char *prog = opt->command[0];
    if (ends_with_py(prog) && (rc == -EACCES || rc == -ENOEXEC || rc == -ENOENT)) {
        fprintf(stderr, "pytop: cannot start '%s' (%s): a Python script is run by an "
                        "interpreter: pytop %s-- python3 %s\n", prog, pt_strerror(rc),
                opt->mode == MODE_RECORD ? "record -o profile.svg " : "", prog);
        return;
    }
    if (rc == -ENOENT && !opt->dashdash && !strchr(prog, '/'))
        fprintf(stderr, "pytop: cannot start '%s': no such program (pytop's subcommands are "
                        "top, record, dump, export and replay; a program goes after --)\n", prog);
    else
        fprintf(stderr, "pytop: cannot start '%s': %s\n", prog, pt_strerror(rc));
}

/* The target of --record and the live view: attach to -p PID, or start the
 * command (its output into out_fd when >= 0) and attach as soon as it runs
 * Python. Returns 0 with *target (and *launched when pytop started it), or
 * -1 after reporting why, with pytop's exit code in *exit_code. */
static int open_target(const struct pytop_options *opt, int out_fd, const char *log_path,
                       struct launch *child, struct launch **launched,
                       struct py_target **target, int *exit_code)
{
    pid_t pid = opt->pid;
    int rc;
    *launched = NULL;
    if (opt->command) {
        rc = out_fd >= 0 ? launch_with_output(opt->command, child, out_fd)
                         : launch_start(opt->command, child);
        if (rc) {
            report_start_error(opt, rc);
            report_output_log(log_path);
            *exit_code = 127;
            return -1;
        }
        *launched = child;
        pid = child->pid;
        child->attach_limit_ns = opt->duration_ns;
        rc = launch_attach(child, opt->layout_source, target);
        if (rc == -ETIMEDOUT) {
            fprintf(stderr, "pytop: the --duration ended before '%s' ran Python code: nothing "
                            "was sampled; ending it (SIGINT, then SIGTERM and SIGKILL 2 s "
                            "apart)\n", opt->command[0]);
            launch_finish(child, 1);
            report_output_log(log_path);
            *exit_code = 1;
            return -1;
        }
        if (rc == -ESRCH) {
            fprintf(stderr, "pytop: '%s' exited before its Python interpreter could be read\n",
                    opt->command[0]);
            report_output_log(log_path);
            *exit_code = launch_exit_code(child);
            return -1;
        }
    } else {
        rc = py_target_open(pid, opt->layout_source, target);
    }
    if (rc) {
        report_attach_error(pid, rc, opt->layout_source);
        if (*launched)
            launch_finish(*launched, 1);
        report_output_log(log_path);
        *exit_code = 1;
        return -1;
    }
    struct py_aio_reader aio;
    if (opt->async && py_aio_reader_init(&aio, (*target)->version.major, (*target)->version.minor,
                                         (*target)->walker.layout.free_threaded, 0, NULL) != 0) {
        report_async_unsupported(*target);
        py_target_free(*target);
        *target = NULL;
        if (*launched)
            launch_finish(*launched, 1);
        report_output_log(log_path);
        *exit_code = 1;
        return -1;
    }
    return 0;
}

static void session_options_from(const struct pytop_options *opt, struct session_options *so)
{
    memset(so, 0, sizeof *so);
    so->rate_hz = opt->rate_hz;
    so->duration_ns = opt->duration_ns;
    so->window_ns = FIRST_WINDOW_NS;
    so->speed = opt->speed;
    so->snapshot_dir = opt->snapshot_dir;
    so->snapshot_format = opt->snapshot_format;
    so->native = opt->native;
    so->native_all = opt->native_all;
    so->blocking = opt->blocking;
    so->subprocesses = opt->subprocesses;
    so->gil = opt->gil;
    so->async = opt->async;
    so->schedstat = opt->schedstat;
    so->layout_source = opt->layout_source;
}

/* Run the view; returns ui_run's result, having said why it could not. */
static int run_view(struct session *s, const struct pytop_options *opt)
{
    struct ui_options uo = {
        .refresh_ns = opt->refresh_ns,
        .weight = opt->weight == EXPORT_WALL ? MODEL_WALL : MODEL_CPU,
        .window_ns = FIRST_WINDOW_NS,
    };
    int rc = ui_run(s, &uo);
    if (rc == -ENOTTY) {
        const char *term = getenv("TERM");
        fprintf(stderr, "pytop: cannot draw a full-screen view on this terminal (TERM=%s): "
                        "set TERM to a terminal that can (such as xterm-256color), or use "
                        "--dump or --record\n", term ? term : "");
    } else if (rc < 0) {
        fprintf(stderr, "pytop: the live view failed: %s\n", pt_strerror(rc));
    }
    return rc;
}

/* session_child.reap over a launched child: it is a zombie or gone
 * already, so this does not wait. */
static int reap_launched(void *ctx)
{
    struct launch *l = ctx;
    launch_finish(l, 0);
    return launch_exit_code(l);
}

static int run_top(const struct pytop_options *opt)
{
    if (need_terminal())
        return 1;
    ui_catch_quit_signals();
    struct launch child;
    struct launch *launched = NULL;
    struct py_target *target;
    char log_path[4096] = "";
    int rc, exit_code;

    int log_fd = -1;
    if (opt->command) {
        log_fd = open_output_log(log_path, sizeof log_path);
        if (log_fd < 0) {
            fprintf(stderr, "pytop: cannot create a file for the program's output (%s): %s; "
                            "set TMPDIR to a writable directory\n", log_path,
                    pt_strerror(log_fd));
            return 1;
        }
    }
    rc = open_target(opt, log_fd, log_path, &child, &launched, &target, &exit_code);
    if (log_fd >= 0)
        close(log_fd);
    if (rc != 0)
        return exit_code;
    pid_t pid = target->pid;

    struct session_options so;
    session_options_from(opt, &so);
    struct session *s;
    struct session_child reaper = { reap_launched, launched };
    rc = session_live_new(target, launched ? &reaper : NULL, &so, &s);
    if (rc) {
        fprintf(stderr, "pytop: cannot start sampling process %d: %s\n", (int)pid,
                pt_strerror(rc));
        py_target_free(target);
        if (launched)
            launch_finish(launched, 1);
        report_output_log(log_path);
        return 1;
    }
    int ui_rc = run_view(s, opt);
    struct session_info info;
    session_info(s, &info);
    session_free(s);            /* stops the sampler before the target goes */
    py_target_free(target);
    if (launched)
        launch_finish(launched, 1);
    if (ui_rc >= 0)
        fprintf(stderr, "pytop: %llu samples of process %d in %.1f s%s\n",
                (unsigned long long)info.samples, (int)pid, (double)info.elapsed_ns / 1e9,
                info.ended ? "; the target exited"
                : info.execd ? "; the target exec'd a program that is not Python" : "");
    if (ui_rc >= 0 && info.dict_full)
        fprintf(stderr, "pytop: %llu thread stacks were cut short: the stack dictionary "
                        "reached its bound (docs/performance.md, Memory budget)\n",
                (unsigned long long)info.dict_full);
    report_output_log(log_path);
    if (ui_rc < 0)
        return 1;
    if (ui_rc > 0)
        return 128 + ui_rc;     /* ended by a signal, as a shell reports it */
    /* A program that ended by itself gives its status; quitting is not a failure. */
    if (launched && info.ended)
        return launch_exit_code(launched);
    return 0;
}

static int run_replay(const struct pytop_options *opt)
{
    struct session_options so;
    session_options_from(opt, &so);
    struct session *s;
    int rc = session_replay_open(opt->replay_path, &so, &s);
    if (rc == -PT_ERR_FORMAT) {
        /* A good header with damage before the first sample is a recording still. */
        struct rec_reader *rd;
        if (rec_reader_open(opt->replay_path, &rd) == 0) {
            rec_reader_close(rd);
            fprintf(stderr, "pytop: %s is a pytop recording damaged before its first sample: "
                            "nothing to replay\n", opt->replay_path);
        } else {
            fprintf(stderr, "pytop: %s is not a pytop recording (or was written by a newer "
                            "pytop)\n", opt->replay_path);
        }
        return 1;
    }
    if (rc) {
        fprintf(stderr, "pytop: cannot replay %s: %s\n", opt->replay_path, pt_strerror(rc));
        return 1;
    }
    if (need_terminal()) {
        session_free(s);
        return 1;
    }
    int ui_rc = run_view(s, opt);
    session_free(s);
    if (ui_rc < 0)
        return 1;
    return ui_rc > 0 ? 128 + ui_rc : 0;
}

int main(int argc, char **argv)
{
    struct pytop_options opt;
    int rc = options_parse(argc, argv, &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    /* Before anything else (the live view would first ask for a terminal):
     * a script without its interpreter, a mistyped subcommand. */
    if (opt.command) {
        const char *prog = opt.command[0];
        int slash = strchr(prog, '/') != NULL;
        int missing = slash ? access(prog, X_OK) != 0 : !in_path(prog);
        if (missing && (ends_with_py(prog) || !slash)) {
            report_start_error(&opt, access(prog, F_OK) == 0 ? -EACCES : -ENOENT);
            return 127;
        }
    }
    if ((opt.mode == MODE_TOP || opt.mode == MODE_RECORD) && dict_budget_env() == -EINVAL)
        fprintf(stderr, "pytop: PYTOP_DICT_MAX must be a number of entries, 16 or more, not "
                        "'%s'; using the default bounds\n", getenv("PYTOP_DICT_MAX"));
    switch (opt.mode) {
    case MODE_DUMP: return run_dump(&opt);
    case MODE_RECORD: return run_record(&opt);
    case MODE_EXPORT: return run_export(&opt);
    case MODE_TOP: return run_top(&opt);
    case MODE_REPLAY: return run_replay(&opt);
    case MODE_NONE: break;
    }
    return 2;
}
