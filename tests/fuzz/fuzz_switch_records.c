/* libFuzzer target for the context-switch record reader
 * (src/proc/switch_clock.c): any bytes as a ring of any power-of-two size,
 * read from any position in one go or in pieces. Besides not crashing or
 * reading past the ring, it must keep its contract: the position returned
 * is between where it started and what was written (modulo 2^64), a lost
 * state stays lost and cannot be read, and a readable one's time does not
 * go back as now moves on. */
#include "config.h"

#include "proc/switch_clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 11)
        return 0;
    size_t ring = (size_t)1 << (3 + data[0] % 10);   /* 8 B to 4 KiB */
    int off_known = data[1] & 1, pieces = 1 + (data[1] >> 1) % 4;
    uint64_t tail;
    memcpy(&tail, data + 2, sizeof tail);
    uint8_t step = data[10];
    data += 11;
    size -= 11;
    uint8_t *buf = calloc(ring, 1);
    if (!buf)
        return 0;
    size_t written = size < ring ? size : ring;
    for (size_t k = 0; k < written; k++)
        buf[(tail + k) & (ring - 1)] = data[k];
    /* Sometimes claim more than the ring holds: an overrun. */
    uint64_t head = tail + written + (step == 0xff ? ring : 0);

    struct switch_state st;
    switch_state_init(&st, 1000, off_known);
    uint64_t at = tail;
    for (int p = 1; p <= pieces; p++) {
        uint64_t upto = p == pieces ? head : at + (head - at) / 2;
        int was_lost = st.lost;
        uint64_t got = switch_records_apply(&st, buf, ring, at, upto);
        if (got - at > upto - at)   /* positions wrap at 2^64, as the kernel's do */
            abort();
        if (was_lost && !st.lost)
            abort();
        at = got;
    }
    uint64_t run1, run2, ins;
    int on, queued;
    int rc = switch_state_read(&st, 1000 + (uint64_t)step * 1000, &run1, &on, &queued, &ins);
    if ((st.lost || st.on < 0) != (rc == -EAGAIN))
        abort();
    if (rc == 0) {
        if (switch_state_read(&st, UINT64_MAX / 2, &run2, &on, &queued, &ins) != 0 || run2 < run1)
            abort();
        if (on != 0 && on != 1)
            abort();
    }
    free(buf);
    return 0;
}
