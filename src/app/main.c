#include "config.h"

#include "app/dump.h"
#include "app/export_cmd.h"
#include "app/launch.h"
#include "app/options.h"
#include "app/record_cmd.h"
#include "app/session_live.h"
#include "app/session_replay.h"
#include "core/error.h"
#include "proc/tasks.h"
#include "python/discover.h"
#include "ui/ui.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ULL
/* The window the live view opens with. */
#define FIRST_WINDOW_NS (10 * NS_PER_SEC)

/* One line on stderr that says what went wrong and what to do about it. */
static void report_attach_error(pid_t pid, int err, enum py_layout_source layout_source)
{
    char cmd[256] = "";
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
        fprintf(stderr,
                "pytop: permission denied reading process %d: run pytop as root or as the "
                "process's owner with CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep pytop), and "
                "check kernel.yama.ptrace_scope (sysctl kernel.yama.ptrace_scope=0 allows "
                "attaching to your own processes)\n", (int)pid);
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

static int run_dump(const struct pytop_options *opt)
{
    struct py_target *target;
    int rc = py_target_open(opt->pid, opt->layout_source, &target);
    if (rc) {
        report_attach_error(opt->pid, rc, opt->layout_source);
        return 1;
    }
    rc = opt->native ? dump_run_native(target, opt->json, opt->native_all, stdout)
                     : dump_run(target, opt->json, stdout);
    if (rc == -ESRCH || (rc && proc_is_dead(opt->pid) == 1))
        fprintf(stderr, "pytop: process %d exited while being read\n", (int)opt->pid);
    else if (rc)
        fprintf(stderr, "pytop: reading process %d failed: %s\n", (int)opt->pid, pt_strerror(rc));
    py_target_free(target);
    return rc ? 1 : 0;
}

static int run_export(const struct pytop_options *opt)
{
    int rc = export_cmd_run(opt->export_path, opt->format, opt->weight, opt->output);
    if (rc == -PT_ERR_FORMAT)
        fprintf(stderr, "pytop: %s is not a pytop recording (or was written by a newer pytop)\n",
                opt->export_path);
    else if (rc)
        fprintf(stderr, "pytop: exporting %s failed: %s\n", opt->export_path, pt_strerror(rc));
    return rc ? 1 : 0;
}

static int open_target(const struct pytop_options *opt, int out_fd, const char *log_path,
                       struct launch *child, struct launch **launched,
                       struct py_target **target, int *exit_code);

static int run_record(const struct pytop_options *opt)
{
    struct launch child;
    struct launch *launched = NULL;
    struct py_target *target;
    int rc, exit_code;
    if (open_target(opt, -1, "", &child, &launched, &target, &exit_code) != 0)
        return exit_code;

    struct record_options ro = {
        .path = opt->record_path,
        .rate_hz = opt->rate_hz,
        .duration_ns = opt->duration_ns,
        .snapshot_every_ns = opt->snapshot_every_ns,
        .snapshot_dir = opt->snapshot_dir,
        .snapshot_format = opt->snapshot_format,
        .snapshot_mode = opt->weight,
        .native = opt->native,
        .native_all = opt->native_all,
        .subprocesses = opt->subprocesses,
        .layout_source = opt->layout_source,
    };
    rc = record_run(target, launched, &ro, stderr);
    py_target_free(target);
    if (rc)
        fprintf(stderr, "pytop: recording into %s failed: %s\n", opt->record_path, pt_strerror(rc));
    if (launched)
        return rc ? 1 : launch_exit_code(launched);
    return rc ? 1 : 0;
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
            fprintf(stderr, "pytop: cannot start '%s': %s\n", opt->command[0], pt_strerror(rc));
            report_output_log(log_path);
            *exit_code = 127;
            return -1;
        }
        *launched = child;
        pid = child->pid;
        rc = launch_attach(child, opt->layout_source, target);
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
    so->subprocesses = opt->subprocesses;
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

static int run_top(const struct pytop_options *opt)
{
    if (need_terminal())
        return 1;
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
    rc = session_live_new(target, launched, &so, &s);
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
                info.ended ? "; the target exited" : "");
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
        fprintf(stderr, "pytop: %s is not a pytop recording (or was written by a newer pytop)\n",
                opt->replay_path);
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
