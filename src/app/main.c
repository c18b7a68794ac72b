#include "config.h"

#include "app/dump.h"
#include "app/export_cmd.h"
#include "app/launch.h"
#include "app/options.h"
#include "app/record_cmd.h"
#include "core/error.h"
#include "proc/tasks.h"
#include "python/discover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One line on stderr that says what went wrong and what to do about it. */
static void report_attach_error(pid_t pid, int err, enum py_layout_source layout_source)
{
    char cmd[256] = "";
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
                "(pytop reads CPython 2.7 and 3.6 to 3.13, and newer versions that carry "
                "_Py_DebugOffsets; see 'pytop --version')\n", (int)pid);
        break;
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
    rc = dump_run(target, opt->json, stdout);
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

static int run_record(const struct pytop_options *opt)
{
    struct launch child;
    struct launch *launched = NULL;
    struct py_target *target;
    int rc;
    pid_t pid = opt->pid;

    if (opt->command) {
        rc = launch_start(opt->command, &child);
        if (rc) {
            fprintf(stderr, "pytop: cannot start '%s': %s\n", opt->command[0], pt_strerror(rc));
            return 127;
        }
        launched = &child;
        pid = child.pid;
        rc = launch_attach(&child, opt->layout_source, &target);
        if (rc == -ESRCH) {
            fprintf(stderr, "pytop: '%s' exited before its Python interpreter could be read\n",
                    opt->command[0]);
            return launch_exit_code(&child);
        }
    } else {
        rc = py_target_open(pid, opt->layout_source, &target);
    }
    if (rc) {
        report_attach_error(pid, rc, opt->layout_source);
        if (launched)
            launch_finish(launched, 1);
        return 1;
    }

    struct record_options ro = {
        .path = opt->record_path,
        .rate_hz = opt->rate_hz,
        .duration_ns = opt->duration_ns,
        .snapshot_every_ns = opt->snapshot_every_ns,
        .snapshot_dir = opt->snapshot_dir,
        .snapshot_format = opt->snapshot_format,
        .snapshot_mode = opt->weight,
    };
    rc = record_run(target, launched, &ro, stderr);
    py_target_free(target);
    if (rc)
        fprintf(stderr, "pytop: recording into %s failed: %s\n", opt->record_path, pt_strerror(rc));
    if (launched)
        return rc ? 1 : launch_exit_code(launched);
    return rc ? 1 : 0;
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
    case MODE_NONE: break;
    }
    return 2;
}
