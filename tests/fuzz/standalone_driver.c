/* main() for the fuzz targets when the compiler has no libFuzzer (gcc).
 *
 * usage: fuzz_x [-seconds N] [-runs N] [seed files or dirs...]
 *
 * Runs every seed file once, then random inputs (0-4096 bytes, half of
 * them mutated seeds) until N seconds or N runs are used up; with neither
 * given it does 10000 runs. libFuzzer's -max_total_time=N and -runs=N are
 * accepted too, so one command line serves both builds. Each input sits in
 * its own exact-size heap block, so a sanitizer build catches overreads.
 * A crash leaves the input in ./crash-standalone-<pid> for replay. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define MAX_LEN 4096
#define MAX_SEEDS 4096

struct seed {
    uint8_t *data;
    size_t len;
};

static struct seed seeds[MAX_SEEDS];
static size_t nseeds;

/* The input being run, for the crash handler. */
static const uint8_t *volatile cur_data;
static volatile size_t cur_len;
static char crash_path[64];

static void on_crash(int sig)
{
    /* Only async-signal-safe calls here. */
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (cur_data && cur_len)
            (void)!write(fd, (const void *)cur_data, cur_len);
        close(fd);
    }
    static const char msg[] = "standalone driver: crash; input saved to ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, crash_path, strlen(crash_path));
    (void)!write(2, "\n", 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    /* xorshift64* */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static void run_one(const uint8_t *src, size_t len)
{
    /* malloc(0) still gives a block ASan knows to be empty. */
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    if (len)
        memcpy(buf, src, len);
    cur_data = buf;
    cur_len = len;
    LLVMFuzzerTestOneInput(buf, len);
    cur_data = NULL;
    free(buf);
}

static void add_seed_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    uint8_t *buf = malloc(MAX_LEN);
    size_t len = buf ? fread(buf, 1, MAX_LEN, f) : 0;
    fclose(f);
    if (!buf)
        return;
    if (nseeds < MAX_SEEDS) {
        seeds[nseeds].data = buf;
        seeds[nseeds].len = len;
        nseeds++;
    } else {
        free(buf);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_seed_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        add_seed_file(path);
        return;
    }
    DIR *dir = opendir(path);
    if (!dir)
        return;
    /* Sorted, so runs are reproducible. */
    char **names = NULL;
    size_t count = 0, alloc = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            char **grown = realloc(names, alloc * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        names[count] = strdup(e->d_name);
        if (names[count])
            count++;
    }
    closedir(dir);
    if (names)
        qsort(names, count, sizeof *names, cmp_str);
    for (size_t i = 0; i < count; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            add_seed_file(full);
        free(names[i]);
    }
    free(names);
}

/* A random input: plain random bytes, or a seed with a few mutations. */
static size_t make_input(uint8_t *buf)
{
    size_t len;
    if (nseeds == 0 || below(2) == 0) {
        /* Mostly short inputs: they reach the interesting edges. */
        len = below(4) == 0 ? below(MAX_LEN + 1) : below(65);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd();
        return len;
    }
    const struct seed *s = &seeds[below(nseeds)];
    len = s->len;
    memcpy(buf, s->data, len);
    int rounds = 1 + (int)below(8);
    for (int r = 0; r < rounds; r++) {
        switch (below(7)) {
        case 0: /* flip a bit */
            if (len)
                buf[below(len)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* random byte */
            if (len)
                buf[below(len)] = (uint8_t)rnd();
            break;
        case 2: /* interesting byte */
            if (len) {
                static const uint8_t v[] = { 0, 1, 0x7f, 0x80, 0xff, 0x40, 0x3f, 0xf8 };
                buf[below(len)] = v[below(sizeof v)];
            }
            break;
        case 3: /* insert a byte */
            if (len < MAX_LEN) {
                size_t at = below(len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)rnd();
                len++;
            }
            break;
        case 4: /* delete a range */
            if (len) {
                size_t at = below(len), k = 1 + below(len - at < 16 ? len - at : 16);
                memmove(buf + at, buf + at + k, len - at - k);
                len -= k;
            }
            break;
        case 5: /* truncate */
            len = below(len + 1);
            break;
        default: { /* splice in part of another seed */
            const struct seed *o = &seeds[below(nseeds)];
            if (o->len) {
                size_t from = below(o->len), k = 1 + below(o->len - from);
                size_t at = below(len + 1);
                if (at + k > MAX_LEN)
                    k = MAX_LEN - at;
                memcpy(buf + at, o->data + from, k);
                if (at + k > len)
                    len = at + k;
            }
            break;
        }
        }
    }
    return len;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    double seconds = -1;
    long long runs = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-seconds") || !strcmp(a, "-runs")) && i + 1 < argc) {
            if (!strcmp(a, "-seconds"))
                seconds = atof(argv[++i]);
            else
                runs = atoll(argv[++i]);
        } else if (!strncmp(a, "-max_total_time=", 16)) {
            seconds = atof(a + 16);
        } else if (!strncmp(a, "-runs=", 6)) {
            runs = atoll(a + 6);
        } else if (!strncmp(a, "-seed=", 6)) {
            rng_state = strtoull(a + 6, NULL, 0) | 1;
        } else if (a[0] == '-') {
            /* Other libFuzzer flags mean nothing here. */
        } else {
            add_seed_path(a);
        }
    }
    if (seconds < 0 && runs < 0)
        runs = 10000;

    snprintf(crash_path, sizeof crash_path, "crash-standalone-%ld", (long)getpid());
    signal(SIGSEGV, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);

    long long done = 0;
    for (size_t i = 0; i < nseeds; i++, done++)
        run_one(seeds[i].data, seeds[i].len);

    static uint8_t buf[MAX_LEN];
    double start = now(), deadline = seconds >= 0 ? start + seconds : 0;
    for (long long r = 0; runs < 0 || r < runs; r++) {
        /* Checking the clock every 64 runs keeps it out of the profile. */
        if (seconds >= 0 && (r & 63) == 0 && now() >= deadline)
            break;
        size_t len = make_input(buf);
        run_one(buf, len);
        done++;
    }
    fprintf(stderr, "%s: %zu seeds, %.1f s of random inputs\n", name, nseeds, now() - start);
    printf("%s: %lld runs, 0 crashes\n", name, done);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i].data);
    return 0;
}
