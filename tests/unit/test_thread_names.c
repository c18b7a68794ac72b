/* py_thread_names against real interpreters: every installed CPython
 * starts named threads, prints their idents and names, and pytop has to
 * read the same names out of threading._active. */
#include "unit.h"

#include "core/error.h"
#include "python/discover.h"
#include "python/thread_names.h"

#include <errno.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGET_THREADS 8

/* Runs on 2.7 and 3.6+. Names travel as hex of their UTF-8 bytes so no
 * locale or stdout encoding can get in the way. The fourth thread keeps
 * its default name (Thread-N, with " (run)" added from 3.10). The second
 * thread's __dict__ is materialised (3.11+ keep attributes outside a dict
 * until then) and the third's gets an int key, which turns a shared-key
 * table into a combined general one: each way of storing attributes is
 * read at least once. On 2.7 the workers' idents become long keys (a
 * thread.get_ident() int is what threading itself stores). */
static const char target_script[] =
    "import sys, threading, time, binascii\n"
    "try:\n"
    "    from thread import get_ident\n"
    "except ImportError:\n"
    "    from threading import get_ident\n"
    "PY2 = sys.version_info[0] == 2\n"
    "if PY2:\n"
    "    odd = 'w\\xc3\\xb6rker-\\xc3\\xbc'\n"
    "else:\n"
    "    odd = 'w\\u00f6rker-\\u00fc'\n"
    "lock = threading.Lock()\n"
    "ready = []\n"
    "def run():\n"
    "    with lock:\n"
    "        ready.append((get_ident(), threading.current_thread().name))\n"
    "    while True:\n"
    "        time.sleep(1)\n"
    "ts = [threading.Thread(target=run, name=n) for n in ('worker-1', 'worker-2', odd)]\n"
    "ts.append(threading.Thread(target=run))\n"
    "for t in ts:\n"
    "    t.daemon = True\n"
    "    t.start()\n"
    "while True:\n"
    "    with lock:\n"
    "        if len(ready) == len(ts):\n"
    "            break\n"
    "    time.sleep(0.01)\n"
    "vars(ts[1])\n"
    "vars(ts[2])[1] = 1\n"
    "if PY2:\n"
    "    for k in list(threading._active):\n"
    "        if k != get_ident():\n"
    "            threading._active[long(k)] = threading._active.pop(k)\n"
    "def hx(s):\n"
    "    if not PY2:\n"
    "        s = s.encode('utf-8')\n"
    "    return binascii.hexlify(s).decode('ascii')\n"
    "lines = ['T %d %s' % (get_ident(), hx(threading.current_thread().name))]\n"
    "lines += ['T %d %s' % (i, hx(n)) for i, n in ready]\n"
    "sys.stdout.write('\\n'.join(lines) + '\\nREADY\\n')\n"
    "sys.stdout.flush()\n"
    "while True:\n"
    "    time.sleep(1)\n";

struct target {
    pid_t pid;
    size_t n;
    uint64_t idents[MAX_TARGET_THREADS];
    char names[MAX_TARGET_THREADS][PY_THREAD_NAME_MAX];
};

static void target_kill(struct target *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
        t->pid = 0;
    }
}

static int unhex(const char *hex, char *out, size_t cap)
{
    size_t len = strlen(hex);
    if (len % 2 || len / 2 >= cap)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (char)v;
    }
    out[len / 2] = '\0';
    return 0;
}

/* Parse the target's report; 1 once READY was seen, 0 for more, -1 on junk. */
static int parse_report(struct target *t, char *text)
{
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strcmp(line, "READY") == 0)
            return 1;
        unsigned long long id;
        char hex[2 * PY_THREAD_NAME_MAX + 1];
        if (sscanf(line, "T %llu %128s", &id, hex) != 2 || t->n == MAX_TARGET_THREADS ||
            unhex(hex, t->names[t->n], PY_THREAD_NAME_MAX) != 0)
            return -1;
        t->idents[t->n++] = id;
    }
    return 0;
}

/* Start python with the script and wait (20 s at most) for its report. */
static int target_start(const char *python, struct target *t)
{
    memset(t, 0, sizeof *t);
    int fd[2];
    if (pipe(fd) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(python, python, "-c", target_script, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    t->pid = pid;
    char buf[4096];
    size_t len = 0;
    int done = 0;
    time_t end = time(NULL) + 20;
    while (!done && time(NULL) < end) {
        struct pollfd p = { .fd = fd[0], .events = POLLIN };
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t r = read(fd[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "READY\n"))
            done = 1;
    }
    close(fd[0]);
    if (!done || parse_report(t, buf) != 1) {
        target_kill(t);
        return -1;
    }
    return 0;
}

static void skip(const char *what)
{
    unit_count++;
    printf("ok %d # SKIP %s\n", unit_count, what);
}

/* ---- fuzz seeds ---------------------------------------------------------------
 * With PYTOP_THREAD_NAMES_SEEDS=DIR, what py_thread_names reads from each
 * target is written to DIR as a seed of tests/fuzz/fuzz_thread_names (its
 * header comment has the format): the fuzzer starts from real registries. */
#define REC_MAX 1024

struct rec_mem {
    struct mem_source base;
    struct mem_source *inner;
    struct { uint64_t addr, end; } r[REC_MAX];
    size_t n;
};

static int rec_read(struct mem_source *s, uint64_t addr, void *buf, size_t len)
{
    struct rec_mem *m = (struct rec_mem *)s;
    int rc = mem_read(m->inner, addr, buf, len);
    if (rc == 0 && len && m->n < REC_MAX) {
        m->r[m->n].addr = addr;
        m->r[m->n].end = addr + len;
        m->n++;
    }
    return rc;
}

static int rec_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void write_seed(const char *dir, const char *label, struct py_walker *w, uint64_t interp,
                       const uint64_t *idents, size_t n)
{
    struct rec_mem *rec = calloc(1, sizeof *rec);
    char names[MAX_TARGET_THREADS + 2][PY_THREAD_NAME_MAX];
    if (!rec || n > MAX_TARGET_THREADS + 2) {
        free(rec);
        return;
    }
    rec->base.read = rec_read;
    rec->inner = w->mem;
    w->mem = &rec->base;
    py_thread_names(w, interp, idents, n, names);
    w->mem = rec->inner;

    /* Reads that overlap or touch become one region. */
    qsort(rec->r, rec->n, sizeof rec->r[0], rec_cmp);
    size_t k = 0;
    for (size_t i = 0; i < rec->n; i++) {
        if (k && rec->r[i].addr <= rec->r[k - 1].end) {
            if (rec->r[i].end > rec->r[k - 1].end)
                rec->r[k - 1].end = rec->r[i].end;
        } else {
            rec->r[k++] = rec->r[i];
        }
    }
    char path[4200], file[64];
    size_t j = 0;
    for (const char *s = label; *s && j < sizeof file - 1; s++)
        file[j++] = (char)(((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.') ? *s : '_');
    file[j] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(rec);
        return;
    }
    const struct py_layout *l = &w->layout;
    uint8_t hdr[4] = { (uint8_t)l->major, (uint8_t)l->minor, (uint8_t)l->micro, (uint8_t)l->free_threaded };
    uint8_t count = (uint8_t)n;
    fwrite(hdr, 1, 4, f);
    fwrite(&interp, 8, 1, f);
    fwrite(&count, 1, 1, f);
    fwrite(idents, 8, n, f);
    for (size_t i = 0; i < k; i++) {
        uint32_t len = (uint32_t)(rec->r[i].end - rec->r[i].addr);
        uint8_t *buf = malloc(len);
        if (buf && mem_read(rec->inner, rec->r[i].addr, buf, len) == 0) {
            fwrite(&rec->r[i].addr, 8, 1, f);
            fwrite(&len, 4, 1, f);
            fwrite(buf, 1, len, f);
        }
        free(buf);
    }
    fclose(f);
    printf("# seed %s: %zu regions\n", path, k);
    free(rec);
}

/* Every check for one interpreter, with the given layout source. */
static void check_python(const char *python, const char *label, enum py_layout_source src)
{
    char what[512];
    struct target tg;
    int rc = target_start(python, &tg);
    snprintf(what, sizeof what, "%s: target started and reported %d threads", label, 5);
    CHECK(rc == 0 && tg.n == 5, what);
    if (rc != 0)
        return;

    struct py_target *t = NULL;
    rc = py_target_open(tg.pid, src, &t);
    snprintf(what, sizeof what, "%s: py_target_open", label);
    CHECK_INT(rc, 0, what);
    if (rc != 0) {
        printf("#   %s\n", pt_strerror(rc));
        target_kill(&tg);
        return;
    }

    /* The reported threads, one ident twice, and one that does not exist. */
    uint64_t idents[MAX_TARGET_THREADS + 2];
    char names[MAX_TARGET_THREADS + 2][PY_THREAD_NAME_MAX];
    size_t n = tg.n;
    memcpy(idents, tg.idents, n * sizeof idents[0]);
    idents[n++] = 0x12345678;
    idents[n++] = tg.idents[1];
    memset(names, 'x', sizeof names);
    uint64_t interp = py_walker_first_interp(&t->walker);
    unsigned long reads = t->walker.mem->reads;
    rc = py_thread_names(&t->walker, interp, idents, n, names);
    printf("# %s: %lu remote reads\n", label, t->walker.mem->reads - reads);
    snprintf(what, sizeof what, "%s: py_thread_names found every thread", label);
    CHECK_INT(rc, tg.n + 1, what);
    if (getenv("PYTOP_THREAD_NAMES_SEEDS"))
        write_seed(getenv("PYTOP_THREAD_NAMES_SEEDS"), label, &t->walker, interp, idents, n);
    snprintf(what, sizeof what, "%s: main thread is MainThread", label);
    CHECK_STR(tg.names[0], "MainThread", what);
    for (size_t i = 0; i < tg.n; i++) {
        snprintf(what, sizeof what, "%s: name of thread %zu (%s)", label, i, tg.names[i]);
        CHECK_STR(names[i], tg.names[i], what);
    }
    snprintf(what, sizeof what, "%s: unknown ident gives \"\"", label);
    CHECK_STR(names[tg.n], "", what);
    snprintf(what, sizeof what, "%s: repeated ident gets the name again", label);
    CHECK_STR(names[tg.n + 1], tg.names[1], what);

    /* Garbage interpreter addresses: an error and every name empty. */
    int all_empty = 1;
    memset(names, 'x', sizeof names);
    int rc1 = py_thread_names(&t->walker, 0, idents, n, names);
    for (size_t i = 0; i < n; i++)
        all_empty &= names[i][0] == '\0';
    memset(names, 'x', sizeof names);
    int rc2 = py_thread_names(&t->walker, interp + 8, idents, n, names);
    for (size_t i = 0; i < n; i++)
        all_empty &= names[i][0] == '\0' || strcmp(names[i], tg.names[i < tg.n ? i : 1]) == 0;
    snprintf(what, sizeof what, "%s: bad interpreter address fails cleanly", label);
    CHECK(rc1 < 0 && rc2 <= (int)n && all_empty, what);

    /* Every word near the interpreter state taken for one: whatever dicts
     * and strings that leads to, the reader must stay bounded and only
     * ever report real names or "". */
    int sane = 1;
    for (uint64_t off = 8; off < 4096; off += 8) {
        memset(names, 'x', sizeof names);
        rc = py_thread_names(&t->walker, interp + off, idents, n, names);
        for (size_t i = 0; i < n; i++)
            sane &= names[i][0] == '\0' || strcmp(names[i], tg.names[i < tg.n ? i : 1]) == 0;
        sane &= rc <= (int)n;
    }
    snprintf(what, sizeof what, "%s: garbage interpreter addresses give only real names", label);
    CHECK(sane, what);

    py_target_free(t);
    target_kill(&tg);
}

static char pyenv_root[4096];

static void test_pyenv_versions(void)
{
    static const char *const versions[] = {
        "2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13",
    };
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        char pattern[4200], label[64];
        snprintf(pattern, sizeof pattern, "%s/versions/*/bin/python%s", pyenv_root, versions[v]);
        glob_t g;
        if (!pyenv_root[0] || glob(pattern, 0, NULL, &g) != 0) {
            snprintf(label, sizeof label, "python%s not installed", versions[v]);
            skip(label);
            continue;
        }
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *path = g.gl_pathv[i];
            printf("# %s\n", path);
            snprintf(label, sizeof label, "python%s", versions[v]);
            check_python(path, label, PY_LAYOUT_AUTO);
            /* 3.13+ default to the target's debug offsets; cover the
             * tables too. */
            if (strcmp(versions[v], "3.13") == 0) {
                snprintf(label, sizeof label, "python%s (tables)", versions[v]);
                check_python(path, label, PY_LAYOUT_TABLE);
            }
        }
        globfree(&g);
    }
}

static void test_system_python(void)
{
    const char *path = "/usr/bin/python3.11";
    if (access(path, X_OK) != 0) {
        skip("/usr/bin/python3.11 not installed");
        return;
    }
    check_python(path, "system python3.11", PY_LAYOUT_AUTO);
}

int main(void)
{
    unit_pyenv_root(pyenv_root, sizeof pyenv_root);
    UNIT_RUN(test_pyenv_versions);
    UNIT_RUN(test_system_python);
    return unit_done();
}
