/* Unit tests for native frames (src/native): the merge of C and Python
 * frames on synthetic stacks of every shape (one frame per eval call up to
 * 3.10, entry frames from 3.11, folding, --native-all, torn stacks), C++
 * demangling, and a real unwind of a child process spinning in a known
 * function, which must be running again, untraced, afterwards. */
#include "unit.h"

#include "core/error.h"
#include "native/demangle.h"
#include "native/merge.h"
#include "native/native.h"
#include "native/symbolize.h"
#include "native/unwind.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAT(kind, fn) { NATIVE_FRAME_##kind, fn, "/lib/" fn ".so" }

/* The merged stack as one string: Python frames as "py<index>", native
 * ones by function, innermost first, joined by ' '. */
static const char *render(const struct merged_stack *m)
{
    static char buf[1024];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n && len < sizeof buf - 64; i++) {
        const struct merged_frame *f = &m->frames[i];
        if (f->py >= 0)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%spy%d", i ? " " : "", f->py);
        else
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "",
                                    f->function);
    }
    return buf;
}

static void py_entries(struct py_frame *py, size_t n, const int *entry)
{
    memset(py, 0, n * sizeof *py);
    for (size_t i = 0; i < n; i++)
        py[i].entry = entry[i];
}

/* Up to 3.10: one eval call per Python frame. */
static void test_merge_one_frame_per_eval(void)
{
    /* <module> calls main, which calls the C function ext_spin, which calls
     * back the Python function cb. */
    const struct native_frame nat[] = {
        NAT(EVAL, "PyEval_EvalFrameEx"),   /* cb */
        NAT(INTERP, "PyObject_Call"),
        NAT(OTHER, "ext_spin"),
        NAT(INTERP, "call_function"),
        NAT(EVAL, "PyEval_EvalFrameEx"),   /* main */
        NAT(INTERP, "fast_function"),
        NAT(EVAL, "PyEval_EvalFrameEx"),   /* <module> */
        NAT(INTERP, "PyRun_FileExFlags"),
        NAT(INTERP, "main"),
        NAT(RUNTIME, "__libc_start_main"),
    };
    struct py_frame py[3];
    py_entries(py, 3, (const int[]){ 1, 1, 1 });
    struct merged_stack m;
    merged_stack_init(&m);
    CHECK_INT(native_merge(nat, 10, py, 3, 0, &m), 0, "merge 2.7-style");
    CHECK_STR(render(&m), "py0 ext_spin py1 py2", "C frame between its caller and its callback");
    CHECK_INT(m.mismatch, 0, "no mismatch");
    CHECK(m.frames[1].file && strcmp(m.frames[1].file, "/lib/ext_spin.so") == 0,
          "native frame keeps its object");

    CHECK_INT(native_merge(nat, 10, py, 3, 1, &m), 0, "merge keeping everything");
    CHECK_STR(render(&m),
              "py0 PyEval_EvalFrameEx PyObject_Call ext_spin call_function py1 "
              "PyEval_EvalFrameEx fast_function py2 PyEval_EvalFrameEx PyRun_FileExFlags main "
              "__libc_start_main",
              "--native-all keeps the interpreter's frames, eval loops after their frames");
    merged_stack_release(&m);
}

/* 3.11+: one eval call runs frames up to an entry frame. */
static void test_merge_entry_frames(void)
{
    const struct native_frame nat[] = {
        NAT(EVAL, "_PyEval_EvalFrameDefault"),   /* cb (entry) */
        NAT(INTERP, "_PyFunction_Vectorcall"),
        NAT(OTHER, "ext_spin"),
        NAT(OTHER, "pyt::detail::spin_in_cxx<3>(double*)"),
        NAT(INTERP, "cfunction_call"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),   /* helper, main, <module> (entry) */
        NAT(INTERP, "PyEval_EvalCode"),
        NAT(RUNTIME, "__libc_start_call_main"),
        NAT(RUNTIME, "__libc_start_main"),
        NAT(INTERP, "_start"),
    };
    struct py_frame py[4];
    py_entries(py, 4, (const int[]){ 1, 0, 0, 1 });
    struct merged_stack m;
    merged_stack_init(&m);
    CHECK_INT(native_merge(nat, 10, py, 4, 0, &m), 0, "merge 3.11-style");
    CHECK_STR(render(&m), "py0 ext_spin pyt::detail::spin_in_cxx<3>(double*) py1 py2 py3",
              "one eval call runs every frame up to its entry frame; start-up folded");
    merged_stack_release(&m);
}

static void test_merge_runtime_inside_python(void)
{
    /* time.sleep: libc's sleep is what the thread waits in. */
    const struct native_frame nat[] = {
        NAT(RUNTIME, "clock_nanosleep"),
        NAT(INTERP, "time_sleep"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(INTERP, "thread_run"),
        NAT(RUNTIME, "start_thread"),
        NAT(RUNTIME, "clone3"),
    };
    struct py_frame py[2];
    py_entries(py, 2, (const int[]){ 0, 1 });
    struct merged_stack m;
    merged_stack_init(&m);
    CHECK_INT(native_merge(nat, 6, py, 2, 0, &m), 0, "merge with libc inside");
    CHECK_STR(render(&m), "clock_nanosleep py0 py1",
              "libc kept inside Python, thread start-up folded");

    /* A thread started by an extension's own C code keeps those roots. */
    const struct native_frame ext_thread[] = {
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(INTERP, "PyObject_Call"),
        NAT(OTHER, "worker_main"),
        NAT(RUNTIME, "start_thread"),
    };
    CHECK_INT(native_merge(ext_thread, 4, py, 2, 0, &m), 0, "merge C-started thread");
    CHECK_STR(render(&m), "py0 py1 worker_main", "extension roots kept");
    merged_stack_release(&m);
}

static void test_merge_torn(void)
{
    /* Three eval calls in C, two groups in Python: read at different
     * moments. Only what is outside every eval call is trusted. */
    const struct native_frame nat[] = {
        NAT(OTHER, "leaf_c"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(OTHER, "ext_spin"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(OTHER, "ext_other"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(OTHER, "embedder_main"),
        NAT(RUNTIME, "__libc_start_main"),
    };
    struct py_frame py[3];
    py_entries(py, 3, (const int[]){ 1, 0, 1 });
    struct merged_stack m;
    merged_stack_init(&m);
    CHECK_INT(native_merge(nat, 8, py, 3, 0, &m), 0, "merge torn");
    CHECK_INT(m.mismatch, 1, "mismatch flagged");
    CHECK_STR(render(&m), "py0 py1 py2 embedder_main",
              "torn stacks: Python frames, then only native frames outside the eval calls");

    /* No eval call found at all (an unwind that stopped early). */
    CHECK_INT(native_merge(nat, 1, py, 3, 0, &m), 0, "merge without eval");
    CHECK_STR(render(&m), "py0 py1 py2", "no eval call: Python frames only");

    /* A walk cut short: frames after the last entry form one more group. */
    py_entries(py, 3, (const int[]){ 1, 0, 0 });
    const struct native_frame two[] = {
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(OTHER, "ext_spin"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
    };
    CHECK_INT(native_merge(two, 3, py, 3, 0, &m), 0, "merge cut walk");
    CHECK_STR(render(&m), "py0 ext_spin py1 py2", "incomplete outer group still matched");
    merged_stack_release(&m);
}

static void test_merge_no_python(void)
{
    const struct native_frame nat[] = {
        NAT(OTHER, "poll_loop"),
        NAT(INTERP, "PyGILState_Ensure"),
        NAT(RUNTIME, "start_thread"),
    };
    struct merged_stack m;
    merged_stack_init(&m);
    CHECK_INT(native_merge(nat, 3, NULL, 0, 0, &m), 0, "merge without Python frames");
    CHECK_STR(render(&m), "poll_loop", "only the extension's frame");
    CHECK_INT(merged_stack_python_only(&m, 2), 0, "python only");
    CHECK_STR(render(&m), "py0 py1", "Python-only fallback");
    merged_stack_release(&m);
}

static void test_demangle(void)
{
    char *d = native_demangle("_ZN3foo3barEv");
    CHECK_STR(d, "foo::bar()", "plain namespaced name");
    free(d);
    d = native_demangle("_ZN5outer5innerIiE4spinERKSt6vectorIiSaIiEE");
    CHECK_STR(d, "outer::inner<int>::spin(std::vector<int, std::allocator<int> > const&)",
              "nested, templated name");
    free(d);
    d = native_demangle("_ZN3pyt6detail11spin_in_cxxILi3EEEvPd");
    CHECK_STR(d, "void pyt::detail::spin_in_cxx<3>(double*)", "function template");
    free(d);
    CHECK(native_demangle("spin_in_c") == NULL, "C names are left alone");
    CHECK(native_demangle("_Z") == NULL, "truncated mangling refused");
    CHECK(native_demangle(NULL) == NULL, "NULL refused");
}

/* ---- a real unwind ------------------------------------------------------ */

__attribute__((noinline)) static void unit_native_spin(volatile unsigned long *n)
{
    for (;;)
        (*n)++;
}

__attribute__((noinline)) static void unit_native_outer(void)
{
    volatile unsigned long n = 0;
    unit_native_spin(&n);
}

static int proc_field(pid_t pid, const char *file, const char *key, char *out, size_t cap)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            snprintf(out, cap, "%s", line + strlen(key));
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

static void test_unwind_child(void)
{
    pid_t child = fork();
    if (child == 0) {
        unit_native_outer();
        _exit(0);
    }
    struct timespec ts = { 0, 50000000 };
    nanosleep(&ts, NULL);
    struct native_stacks *ns = NULL;
    int rc = native_stacks_new(child, "/nonexistent/libpython", 3, 0, &ns);
    if (rc == -EOPNOTSUPP) {
        printf("ok %d - # SKIP built without libunwind\n", ++unit_count);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return;
    }
    CHECK_INT(rc, 0, "native_stacks_new on a child");
    int found_spin = 0, found_outer = 0, found_main = 0, ok = 0;
    struct merged_stack m;
    merged_stack_init(&m);
    for (int round = 0; ns && round < 20; round++) {
        native_stacks_begin_sample(ns);
        rc = native_stacks_thread(ns, child, NULL, 0, NULL, NULL, &m);
        if (rc != 0)
            continue;
        ok++;
        for (size_t i = 0; i < m.n; i++) {
            const char *fn = m.frames[i].function;
            found_spin |= i == 0 && strcmp(fn, "unit_native_spin") == 0;
            found_outer |= strcmp(fn, "unit_native_outer") == 0;
            found_main |= strcmp(fn, "main") == 0;
        }
    }
    CHECK_INT(ok, 20, "20 unwinds of a spinning child");
    CHECK(found_spin, "innermost frame is the spinning function");
    CHECK(found_outer, "its caller found by unwinding");
    CHECK(found_main, "unwound up to main");
    if (!found_spin || !found_main)
        printf("#   last stack: %s\n", render(&m));
    struct native_stats st;
    if (ns) {
        native_stacks_stats(ns, &st);
        printf("# held %.1f us per unwind, %lu reads\n",
               st.unwinds ? (double)st.held_ns / 1000.0 / (double)st.unwinds : 0.0,
               st.remote_reads);
    }
    merged_stack_release(&m);
    char state[64] = "", tracer[64] = "";
    proc_field(child, "stat", "", state, sizeof state);
    proc_field(child, "status", "TracerPid:", tracer, sizeof tracer);
    const char *paren = strrchr(state, ')');
    CHECK(paren && paren[1] == ' ' && paren[2] != 't' && paren[2] != 'T',
          "child not stopped after unwinding");
    CHECK(atoi(tracer) == 0, "child not traced after unwinding");

    /* A thread that does not exist. */
    if (ns)
        CHECK_INT(native_stacks_thread(ns, 0x3ffffff0, NULL, 0, NULL, NULL, &m), -ESRCH, "missing thread");
    /* A live process that is not one of the target's tasks (an id from
     * another PID namespace could name one): never held. */
    if (ns)
        CHECK_INT(native_stacks_thread(ns, getpid(), NULL, 0, NULL, NULL, &m), -ESRCH,
                  "a process that is not a task of the target: not held");
    /* A stop request: no thread is held any more. */
    atomic_int cancel = 1;
    if (ns) {
        native_stacks_set_cancel(ns, &cancel);
        CHECK_INT(native_stacks_thread(ns, child, NULL, 0, NULL, NULL, &m), -ECANCELED,
                  "asked to stop: the thread is not held");
        proc_field(child, "status", "TracerPid:", tracer, sizeof tracer);
        CHECK(atoi(tracer) == 0, "child not traced after a cancelled hold");
        native_stacks_set_cancel(ns, NULL);
    }
    merged_stack_release(&m);
    native_stacks_free(ns);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

int main(void)
{
    UNIT_RUN(test_merge_one_frame_per_eval);
    UNIT_RUN(test_merge_entry_frames);
    UNIT_RUN(test_merge_runtime_inside_python);
    UNIT_RUN(test_merge_torn);
    UNIT_RUN(test_merge_no_python);
    UNIT_RUN(test_demangle);
    UNIT_RUN(test_unwind_child);
    return unit_done();
}
