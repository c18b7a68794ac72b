/* libFuzzer target for the /proc memory parsers (src/proc/memstat.c): the
 * same input goes to the statm, status, smaps_rollup, stat and maps
 * parsers. Besides not crashing or reading past the input, each must keep
 * its contract: status sets only its four counters, in whole kB, and
 * counts them right; an error leaves outputs untouched; and the streamed
 * maps reader agrees with the pure parser. */
#include "config.h"

#include "proc/memstat.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int popcount64(uint64_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static void check_stream(const char *text, size_t size, uint64_t want)
{
    static int fd = -2;
    if (fd == -2)
        fd = memfd_create("fuzz_memstat", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, text, size, 0) != (ssize_t)size)
        return;
    uint64_t got = 7;
    if (proc_maps_heap_read(fd, &got) != 0 || got != want)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    uint64_t a = 7, b = 7;
    if (proc_statm_parse(text, size, &a, &b) != 0 && (a != 7 || b != 7))
        abort();

    struct counters c;
    memset(&c, 0, sizeof c);
    int n = proc_status_parse(text, size, &c);
    uint64_t allowed = 1ULL << CTR_RSS | 1ULL << CTR_PEAK_RSS | 1ULL << CTR_ANON | 1ULL << CTR_SWAP;
    if (n < 0 || n > 4 || (c.valid & ~allowed) || popcount64(c.valid) != n)
        abort();
    for (int id = 0; id < COUNTER_COUNT; id++)
        if (counters_has(&c, (enum counter_id)id) && c.value[id] % 1024)
            abort();

    uint64_t anon = 7;
    int rc = proc_rollup_anon_parse(text, size, &anon);
    if (rc != 0 ? anon != 7 : anon % 1024 != 0)
        abort();

    a = b = 7;
    if (proc_stat_faults_parse(text, size, &a, &b) != 0 && (a != 7 || b != 7))
        abort();

    uint64_t heap;
    if (proc_maps_heap_parse(text, size, &heap) != 0)
        abort();
    if (size < 16384)   /* longer lines are skipped by the streamed reader */
        check_stream(text, size, heap);
    return 0;
}
