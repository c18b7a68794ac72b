#include "config.h"

#include "app/dump.h"
#include "app/options.h"
#include "core/error.h"
#include "proc/tasks.h"
#include "python/discover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One line on stderr that says what went wrong and what to do about it. */
static void report_attach_error(pid_t pid, int err)
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

int main(int argc, char **argv)
{
    struct pytop_options opt;
    int rc = options_parse(argc, argv, &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    struct py_target *target;
    rc = py_target_open(opt.pid, opt.layout_source, &target);
    if (rc) {
        report_attach_error(opt.pid, rc);
        return 1;
    }
    rc = dump_run(target, opt.json, stdout);
    if (rc == -ESRCH || (rc && proc_is_dead(opt.pid) == 1)) {
        fprintf(stderr, "pytop: process %d exited while being read\n", (int)opt.pid);
    } else if (rc) {
        fprintf(stderr, "pytop: reading process %d failed: %s\n", (int)opt.pid, pt_strerror(rc));
    }
    py_target_free(target);
    return rc ? 1 : 0;
}
