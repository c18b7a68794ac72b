/* Fuzz string decoding.
 *
 * Input: byte 0 holds switches (bits 0-1: point ob_type at nothing in
 * particular / a str type / a unicode type / leave it; bit 2: point the data
 * pointer of a legacy 3.x or 2.7 unicode object at byte 2 of the image's
 * second mapping; bits 3-5: the output cap), byte 1 is where the object
 * starts in the image, and the rest is a memory image mapped at IMAGE_ADDR
 * and again at DATA_ADDR.
 * The image is decoded with every version's layout; a success must yield
 * NUL-terminated, well-formed UTF-8 within cap, and a failure must leave
 * the output alone. py_str_encode_utf8 is run on the raw image too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/memsrc.h"
#include "python/layout.h"
#include "python/pystr.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define IMAGE_ADDR 0x10000000u
#define DATA_ADDR 0x20000000u
#define STR_TYPE_ADDR 0x30000000u
#define UNI_TYPE_ADDR 0x30001000u

static uint8_t str_type[176], uni_type[176];

/* Strict UTF-8 check (RFC 3629), written apart from pystr.c's. */
static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t k;
        uint32_t min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (s[i + j] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

static void check_output(const char *out, size_t len, size_t cap)
{
    if (len >= cap || out[len] != '\0' || !utf8_ok((const uint8_t *)out, len)) {
        fprintf(stderr, "bad output: len %zu cap %zu\n", len, cap);
        abort();
    }
}

static void put64(uint8_t *img, size_t img_len, size_t at, uint64_t v)
{
    if (at <= img_len && img_len - at >= 8)
        memcpy(img + at, &v, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static const size_t caps[8] = { 1, 2, 3, 4, 5, 16, 256, PY_STR_MAX_CHARS * 4 + 1 };
    if (n < 3)
        return 0;
    uint8_t ctl = d[0];
    size_t obj_off = d[1], data_off = d[2];
    size_t img_len = n - 3;
    size_t cap = caps[(ctl >> 3) & 7];

    memset(str_type, 0, sizeof str_type);
    memset(uni_type, 0, sizeof uni_type);
    uint64_t fl = 1ul << 27;
    memcpy(str_type + 168, &fl, 8);
    fl = 1ul << 28;
    memcpy(uni_type + 168, &fl, 8);

    /* Exact-size heap blocks, so ASan sees any overrun. */
    uint8_t *img = malloc(img_len ? img_len : 1);
    char *out = malloc(cap);
    if (!img || !out) {
        free(img);
        free(out);
        return 0;
    }

    for (size_t i = 0; i < py_layouts_count; i++) {
        const struct py_layout *lay = py_layouts_all[i];
        if (img_len)
            memcpy(img, d + 3, img_len);
        if (obj_off <= img_len) {
            size_t obj_room = img_len - obj_off;
            uint8_t *o = img + obj_off;
            if ((ctl & 3) == 1 && lay->object_type >= 0)
                put64(o, obj_room, (size_t)lay->object_type, STR_TYPE_ADDR);
            else if ((ctl & 3) == 2 && lay->object_type >= 0)
                put64(o, obj_room, (size_t)lay->object_type, UNI_TYPE_ADDR);
            if (ctl & 4) {
                int at = lay->major == 2 ? lay->unicode2_str : lay->unicode_compact_size;
                if (at >= 0)
                    put64(o, obj_room, (size_t)at, DATA_ADDR + data_off);
            }
        }
        struct fake_mem m;
        fake_mem_init(&m);
        fake_mem_add(&m, IMAGE_ADDR, img, img_len);
        fake_mem_add(&m, DATA_ADDR, img, img_len);
        fake_mem_add(&m, STR_TYPE_ADDR, str_type, sizeof str_type);
        fake_mem_add(&m, UNI_TYPE_ADDR, uni_type, sizeof uni_type);

        memset(out, 0x5a, cap);
        size_t len = (size_t)-1;
        int rc = py_str_read(&m.base, lay, IMAGE_ADDR + obj_off, out, cap, &len);
        if (rc == 0) {
            check_output(out, len, cap);
        } else {
            if (rc > 0 || len != (size_t)-1)
                abort();
            /* Anything written would start at out[0]; checking every
             * byte of the largest cap would dominate the run time. */
            size_t k, lim = cap < 64 ? cap : 64;
            for (k = 0; k < lim && (uint8_t)out[k] == 0x5a; k++)
                ;
            if (k < lim || (uint8_t)out[cap - 1] != 0x5a)
                abort();
        }
        /* Header, then a data pointer or type flags, then the data. */
        if (m.base.reads > 3)
            abort();
    }

    static const int widths[] = { 1, 2, 4 };
    for (size_t w = 0; w < 3; w++) {
        size_t count = img_len / (size_t)widths[w];
        size_t len = py_str_encode_utf8(count ? img : NULL, count, widths[w], out, cap);
        check_output(out, len, cap);
    }

    free(img);
    free(out);
    return 0;
}
