/* Unit tests for native frames (src/native): the merge of C and Python
 * frames on synthetic stacks of every shape (one frame per eval call up to
 * 3.10, entry frames from 3.11, folding, --native-all, torn stacks), C++
 * demangling, a real unwind of a child process spinning in a known
 * function, which must be running again, untraced, afterwards, the
 * parts of a function placed apart in a stripped file, the --blocking hold
 * (the child is stopped while the function runs, and running, untraced,
 * after) and the pause histogram. */
#include "unit.h"

#include "core/error.h"
#include "core/hist.h"
#include "native/hold.h"
#include "native/demangle.h"
#include "native/native.h"
#include "native/symbolize.h"
#include "native/unwind.h"
#include "proc/tasks.h"
#include "sampler/merge.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
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

/* A C stack in take_gil inside the innermost eval loop: waiting for the
 * GIL; outside it (in an outer call), or a name that only starts alike,
 * not. */
static void test_merge_take_gil(void)
{
    const struct native_frame waiting[] = {
        NAT(RUNTIME, "pthread_cond_timedwait"),
        NAT(INTERP, "take_gil.lto_priv.0"),
        NAT(INTERP, "_Py_HandlePending"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(RUNTIME, "start_thread"),
    };
    struct py_frame py[2];
    py_entries(py, 2, (const int[]){ 0, 1 });
    struct merged_stack m;
    merged_stack_init(&m);
    CHECK_INT(native_merge(waiting, 5, py, 2, 0, &m), 0, "merge a thread taking the GIL");
    CHECK_INT(m.in_take_gil, 1, "take_gil inside the innermost eval loop: waiting for the GIL");
    const struct native_frame outer[] = {
        NAT(RUNTIME, "clock_nanosleep"),
        NAT(INTERP, "take_gilded"),
        NAT(EVAL, "_PyEval_EvalFrameDefault"),
        NAT(INTERP, "take_gil"),
        NAT(RUNTIME, "start_thread"),
    };
    CHECK_INT(native_merge(outer, 5, py, 2, 0, &m), 0, "merge with take_gil outside");
    CHECK_INT(m.in_take_gil, 0, "take_gil outside the innermost eval loop, or a longer name: not");
    CHECK_INT(merged_stack_python_only(&m, 2), 0, "Python frames only");
    CHECK_INT(m.in_take_gil, 0, "no C stack: not seen");
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
    CHECK_INT(m.error, 0, "an unwound stack has no error");

    /* Python frames of two eval calls, and a C stack without any: the
     * stack says so instead of passing for a complete one. */
    struct py_frame py[2];
    py_entries(py, 2, (const int[]){ 1, 1 });
    if (ns) {
        native_stacks_begin_sample(ns);
        CHECK_INT(native_stacks_thread(ns, child, py, 2, NULL, NULL, &m), -PT_ERR_NATIVE_MISMATCH,
                  "no eval loop in the C stack: an error");
        CHECK_INT(m.error, -PT_ERR_NATIVE_MISMATCH, "the stack carries it");
        CHECK(m.n >= 2 && m.frames[0].py == 0 && m.frames[1].py == 1, "the Python frames kept");
    }
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
    if (ns) {
        CHECK_INT(native_stacks_thread(ns, 0x3ffffff0, NULL, 0, NULL, NULL, &m), -ESRCH, "missing thread");
        CHECK_INT(m.error, -ESRCH, "a missing thread's stack says why it has no C frames");
    }
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
        CHECK_INT(m.error, -ECANCELED, "a stack not unwound for a stop request says so");
        proc_field(child, "status", "TracerPid:", tracer, sizeof tracer);
        CHECK(atoi(tracer) == 0, "child not traced after a cancelled hold");
        native_stacks_set_cancel(ns, NULL);
    }
    merged_stack_release(&m);
    native_stacks_free(ns);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

/* ---- parts of a function placed apart ------------------------------------------------------- */

/* A stripped x86-64 ELF file (.dynsym only) laid out at vaddr == offset:
 * fn at 0x100 (named, 0x40 bytes) jumps to a part at 0x200 that jumps
 * back into fn's middle; to a helper at 0x180 that does not jump back; to
 * one at 0x280 that jumps to fn's start only (a tail call). Each has an
 * .eh_frame_hdr table entry, as each FDE does. */
enum { SPLIT_FN = 0x100, SPLIT_HELPER = 0x180, SPLIT_PART = 0x200, SPLIT_TAIL = 0x280,
       SPLIT_END = 0x300, SPLIT_HDR = 0x400, SPLIT_SYMS = 0x480, SPLIT_STR = 0x4b0,
       SPLIT_SHDRS = 0x500, SPLIT_SIZE = 0x600 };

static void put_jump(uint8_t *f, uint32_t at, int jcc, uint32_t to)
{
    uint32_t len = jcc ? 6 : 5;
    if (jcc) {
        f[at] = 0x0f;
        f[at + 1] = 0x84;
    } else {
        f[at] = 0xe9;
    }
    int32_t rel = (int32_t)to - (int32_t)(at + len);
    memcpy(f + at + len - 4, &rel, 4);
}

static int write_split_elf(const char *path)
{
    static uint8_t f[SPLIT_SIZE];
    memset(f, 0, sizeof f);
    memset(f + SPLIT_FN, 0x90, SPLIT_END - SPLIT_FN);
    put_jump(f, SPLIT_FN, 0, SPLIT_PART);
    put_jump(f, SPLIT_FN + 5, 1, SPLIT_HELPER);
    put_jump(f, SPLIT_FN + 11, 0, SPLIT_TAIL);
    f[SPLIT_FN + 0x3f] = 0xc3;
    f[SPLIT_HELPER] = 0xc3;
    put_jump(f, SPLIT_PART, 0, SPLIT_FN + 0x10);
    put_jump(f, SPLIT_TAIL, 0, SPLIT_FN);

    Elf64_Ehdr eh = { 0 };
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_DYN;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof eh;
    eh.e_shoff = SPLIT_SHDRS;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 2;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = 4;
    memcpy(f, &eh, sizeof eh);
    Elf64_Phdr ph[2] = {
        { .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_filesz = SPLIT_SIZE,
          .p_memsz = SPLIT_SIZE, .p_align = 4096 },
        { .p_type = PT_GNU_EH_FRAME, .p_flags = PF_R, .p_offset = SPLIT_HDR,
          .p_vaddr = SPLIT_HDR, .p_paddr = SPLIT_HDR, .p_filesz = 12 + 5 * 8,
          .p_memsz = 12 + 5 * 8, .p_align = 4 },
    };
    memcpy(f + sizeof eh, ph, sizeof ph);

    /* Version 1, pcrel|sdata4 .eh_frame pointer, udata4 count, datarel|sdata4 table. */
    uint8_t *h = f + SPLIT_HDR;
    h[0] = 1, h[1] = 0x1b, h[2] = 0x03, h[3] = 0x3b;
    uint32_t count = 5;
    memcpy(h + 8, &count, 4);
    const uint32_t starts[5] = { SPLIT_FN, SPLIT_HELPER, SPLIT_PART, SPLIT_TAIL, SPLIT_END };
    for (int i = 0; i < 5; i++) {
        int32_t rel[2] = { (int32_t)starts[i] - SPLIT_HDR, 0 };
        memcpy(h + 12 + 8 * i, rel, 8);
    }

    Elf64_Sym sym[2] = { { 0 }, { .st_name = 1, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
                                  .st_shndx = 1, .st_value = SPLIT_FN, .st_size = 0x40 } };
    memcpy(f + SPLIT_SYMS, sym, sizeof sym);
    memcpy(f + SPLIT_STR, "\0fn", 4);
    Elf64_Shdr sh[4] = {
        { 0 },
        { .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_addr = SPLIT_FN,
          .sh_offset = SPLIT_FN, .sh_size = SPLIT_END - SPLIT_FN, .sh_addralign = 16 },
        { .sh_type = SHT_DYNSYM, .sh_flags = SHF_ALLOC, .sh_addr = SPLIT_SYMS,
          .sh_offset = SPLIT_SYMS, .sh_size = sizeof sym, .sh_link = 3, .sh_info = 1,
          .sh_addralign = 8, .sh_entsize = sizeof(Elf64_Sym) },
        { .sh_type = SHT_STRTAB, .sh_flags = SHF_ALLOC, .sh_addr = SPLIT_STR,
          .sh_offset = SPLIT_STR, .sh_size = 4, .sh_addralign = 1 },
    };
    memcpy(f + SPLIT_SHDRS, sh, sizeof sh);
    FILE *out = fopen(path, "wb");
    if (!out)
        return -1;
    int ok = fwrite(f, 1, sizeof f, out) == sizeof f;
    return fclose(out) == 0 && ok ? 0 : -1;
}

static void test_split_parts(void)
{
    char path[] = "/tmp/pytop-split-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    if (fd < 0)
        return;
    close(fd);
    CHECK_INT(write_split_elf(path), 0, "stripped ELF file written");
    int pipefd[2];
    CHECK_INT(pipe(pipefd), 0, "pipe");
    pid_t child = fork();
    if (child == 0) {
        /* Maps the file as a loader would, says where, and waits. */
        int cfd = open(path, O_RDONLY);
        void *at = cfd >= 0 ? mmap(NULL, SPLIT_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE, cfd, 0)
                            : MAP_FAILED;
        uint64_t base = at == MAP_FAILED ? 0 : (uint64_t)(uintptr_t)at;
        if (write(pipefd[1], &base, sizeof base) != sizeof base)
            _exit(1);
        pause();
        _exit(0);
    }
    uint64_t base = 0;
    CHECK(read(pipefd[0], &base, sizeof base) == sizeof base && base, "child mapped the file");
    close(pipefd[0]);
    close(pipefd[1]);
    struct native_symbols *s = NULL, *plain = NULL;
    CHECK_INT(native_symbols_new(child, path, "fn", &s), 0, "symbols of the child");
    CHECK_INT(native_symbols_new(child, path, NULL, &plain), 0, "symbols without a split function");
    if (s && plain && base) {
        struct native_object *o = native_symbols_object(s, base + SPLIT_PART + 2);
        const char *name = o ? native_symbols_function(s, o, base + SPLIT_PART + 2) : NULL;
        CHECK_STR(name ? name : "(none)", "fn", "the part that jumps back is named as fn");
        name = o ? native_symbols_function(s, o, base + SPLIT_FN + 8) : NULL;
        CHECK_STR(name ? name : "(none)", "fn", "fn itself");
        name = o ? native_symbols_function(s, o, base + SPLIT_HELPER) : NULL;
        CHECK(name == NULL, "a helper fn jumps to is not part of it");
        name = o ? native_symbols_function(s, o, base + SPLIT_TAIL + 1) : NULL;
        CHECK(name == NULL, "code that only tail-calls fn is not part of it");
        struct native_object *po = native_symbols_object(plain, base + SPLIT_PART + 2);
        name = po ? native_symbols_function(plain, po, base + SPLIT_PART + 2) : NULL;
        CHECK(name == NULL, "without a split function, the part has no name");
    }
    native_symbols_free(s);
    native_symbols_free(plain);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    unlink(path);
}

/* ---- the hold (--blocking) ---------------------------------------------- */

static char child_state(pid_t pid)
{
    char state[256] = "";
    proc_field(pid, "stat", "", state, sizeof state);
    const char *paren = strrchr(state, ')');
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

struct seen_state {
    pid_t pid;
    char state;
};

static int see_state(void *arg)
{
    struct seen_state *s = arg;
    s->state = child_state(s->pid);
    return 7;   /* handed back by thread_hold_run */
}

static void test_hold_child(void)
{
    pid_t child = fork();
    if (child == 0) {
        unit_native_outer();
        _exit(0);
    }
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, NULL);
    struct thread_hold *h = NULL;
    CHECK_INT(thread_hold_new(child, &h), 0, "thread_hold_new");
    int stopped = 0, returned = 0;
    uint64_t pause = 0, max_pause = 0;
    for (int round = 0; h && round < 20; round++) {
        struct seen_state st = { child, '?' };
        int rc = thread_hold_run(h, child, see_state, &st, &pause);
        returned += rc == 7;
        stopped += st.state == 't';
        if (pause > max_pause)
            max_pause = pause;
    }
    CHECK_INT(returned, 20, "the held function's result is returned");
    CHECK_INT(stopped, 20, "the child is in a tracing stop while held");
    CHECK(max_pause > 0 && max_pause < 1000000000ull, "the pause is measured");
    char tracer[64] = "";
    proc_field(child, "status", "TracerPid:", tracer, sizeof tracer);
    char state = child_state(child);
    CHECK(state != 't' && state != 'T', "child not stopped after the holds");
    CHECK(atoi(tracer) == 0, "child not traced after the holds");
    struct thread_hold_stats hs;
    thread_hold_stats(h, &hs);
    CHECK_INT(hs.holds, 20, "20 holds counted");
    CHECK_INT(thread_hold_run(h, 0x3ffffff0, see_state, NULL, &pause), -ESRCH, "missing thread");
    CHECK_INT(pause, 0, "no pause for a thread not held");

    /* A live process that is not a task of the target (in a container,
     * tid 1 of the target's namespace is the host's init): never held. */
    pid_t other = fork();
    if (other == 0) {
        unit_native_outer();
        _exit(0);
    }
    struct seen_state ost = { other, '?' };
    CHECK_INT(thread_hold_run(h, other, see_state, &ost, &pause), -ESRCH,
              "a process that is not a task of the target: not held");
    CHECK(ost.state == '?' && pause == 0, "its function is not called");
    proc_field(other, "status", "TracerPid:", tracer, sizeof tracer);
    CHECK(atoi(tracer) == 0, "the other process is not traced");
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);

    /* A stop request: no thread is held while it is set. */
    atomic_int cancel = 1;
    thread_hold_set_cancel(h, &cancel);
    struct seen_state cst = { child, '?' };
    CHECK_INT(thread_hold_run(h, child, see_state, &cst, &pause), -ECANCELED,
              "asked to stop: the thread is not held");
    CHECK(cst.state == '?' && pause == 0, "its function is not called");
    proc_field(child, "status", "TracerPid:", tracer, sizeof tracer);
    CHECK(atoi(tracer) == 0, "child not traced after a cancelled hold");
    atomic_store(&cancel, 0);
    CHECK_INT(thread_hold_run(h, child, see_state, &cst, &pause), 7, "held again once cleared");
    thread_hold_set_cancel(h, NULL);
    thread_hold_free(h);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

static int see_state_each(void *arg, size_t i)
{
    struct seen_state *s = arg;
    s[i].state = child_state(s[i].pid);
    return (int)i + 10;
}

static void *spin_thread(void *arg)
{
    (void)arg;
    unit_native_outer();
    return NULL;
}

/* Several threads of one process held together: each stopped while its
 * call runs; a process that is not the target's, never. */
static void test_hold_all(void)
{
    pid_t child = fork();
    if (child == 0) {
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            if (pthread_create(&th[i], NULL, spin_thread, NULL) != 0)
                _exit(1);
        unit_native_outer();
        _exit(0);
    }
    pid_t other = fork();
    if (other == 0) {
        unit_native_outer();
        _exit(0);
    }
    /* The child's three threads, once they are all there. */
    pid_t *tasks = NULL;
    size_t ntasks = 0;
    for (int tries = 0; tries < 200 && ntasks < 3; tries++) {
        free(tasks);
        tasks = NULL;
        ntasks = 0;
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
        if (proc_tasks_list(child, &tasks, &ntasks) != 0)
            ntasks = 0;
    }
    CHECK_INT(ntasks, 3, "the child runs three threads");
    struct thread_hold *h = NULL;
    CHECK_INT(thread_hold_new(child, &h), 0, "thread_hold_new");
    pid_t tids[5] = { ntasks == 3 ? tasks[0] : 0x3ffffff0, 0x3ffffff0,
                      ntasks == 3 ? tasks[1] : 0x3ffffff0, ntasks == 3 ? tasks[2] : 0x3ffffff0,
                      other };
    free(tasks);
    struct seen_state seen[5];
    int results[5];
    uint64_t pauses[5], span = 0;
    int stopped = 0, ok = 0;
    for (int round = 0; h && round < 10; round++) {
        for (int i = 0; i < 5; i++)
            seen[i] = (struct seen_state){ tids[i], '?' };
        CHECK_INT(thread_hold_all(h, tids, 5, see_state_each, seen, results, pauses, &span), 0,
                  "thread_hold_all");
        ok += results[0] == 10 && results[2] == 12 && results[3] == 13 && results[1] == -ESRCH &&
              results[4] == -ESRCH;
        stopped += seen[0].state == 't' && seen[2].state == 't' && seen[3].state == 't' &&
                   seen[4].state == '?';
    }
    CHECK_INT(ok, 10, "each held thread's result; -ESRCH for a missing one and another process's");
    CHECK_INT(stopped, 10, "each thread is in a tracing stop while its call runs");
    CHECK(pauses[1] == 0 && pauses[4] == 0 && pauses[0] > 0 && span >= pauses[3] &&
          span < 1000000000ull, "pauses and the span are measured");

    /* A stop request: none is held. */
    atomic_int cancel = 1;
    if (h) {
        thread_hold_set_cancel(h, &cancel);
        for (int i = 0; i < 5; i++)
            seen[i] = (struct seen_state){ tids[i], '?' };
        CHECK_INT(thread_hold_all(h, tids, 5, see_state_each, seen, results, pauses, &span), 0,
                  "thread_hold_all, asked to stop");
        int none = span == 0;
        for (int i = 0; i < 5; i++)
            none &= results[i] == -ECANCELED && pauses[i] == 0 && seen[i].state == '?';
        CHECK(none, "asked to stop: no thread held, each says why");
        thread_hold_set_cancel(h, NULL);
    }
    pid_t procs[2] = { child, other };
    for (int i = 0; i < 5; i++) {
        if (i == 1)
            continue;
        char tracer[64] = "";
        proc_field(tids[i], "status", "TracerPid:", tracer, sizeof tracer);
        char state = child_state(tids[i]);
        CHECK(state != 't' && state != 'T' && atoi(tracer) == 0,
              "thread neither stopped nor traced after the holds");
    }
    for (int i = 0; i < 2; i++) {
        kill(procs[i], SIGKILL);
        waitpid(procs[i], NULL, 0);
    }
    thread_hold_free(h);
}

static void test_hist(void)
{
    struct hist h;
    memset(&h, 0, sizeof h);
    CHECK_INT(hist_quantile(&h, 0.5), 0, "an empty histogram reads 0");
    for (uint64_t v = 1; v <= 1000; v++)
        hist_add(&h, v * 1000);   /* 1 us .. 1 ms */
    uint64_t med = hist_quantile(&h, 0.5), p90 = hist_quantile(&h, 0.9);
    CHECK(med > 500000 * 0.96 && med < 500000 * 1.04, "median within 4 %");
    CHECK(p90 > 900000 * 0.96 && p90 < 900000 * 1.04, "p90 within 4 %");
    CHECK_INT(hist_quantile(&h, 1.0), 1000000, "the top quantile is the max");
    CHECK_INT(h.count, 1000, "count");
    hist_add(&h, UINT64_MAX);
    CHECK(hist_quantile(&h, 1.0) == UINT64_MAX, "a huge value is kept as the max");
    memset(&h, 0, sizeof h);
    for (uint64_t v = 0; v < 16; v++)
        hist_add(&h, v);
    CHECK_INT(hist_quantile(&h, 0.5), 7, "small values are exact");
}

int main(void)
{
    UNIT_RUN(test_merge_one_frame_per_eval);
    UNIT_RUN(test_merge_entry_frames);
    UNIT_RUN(test_merge_runtime_inside_python);
    UNIT_RUN(test_merge_take_gil);
    UNIT_RUN(test_merge_torn);
    UNIT_RUN(test_merge_no_python);
    UNIT_RUN(test_demangle);
    UNIT_RUN(test_unwind_child);
    UNIT_RUN(test_split_parts);
    UNIT_RUN(test_hold_child);
    UNIT_RUN(test_hold_all);
    UNIT_RUN(test_hist);
    return unit_done();
}
