#include "config.h"

#include "record/varint.h"

#include "core/error.h"
#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t varint_encode(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* ---- vbuf --------------------------------------------------------------- */

void vbuf_init(struct vbuf *b)
{
    memset(b, 0, sizeof *b);
}

void vbuf_release(struct vbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int vbuf_reserve(struct vbuf *b, size_t extra)
{
    if (b->oom)
        return -ENOMEM;
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return -ENOMEM;
    }
    uint8_t *p = vec_grow(b->data, &b->cap, b->len + extra, 1, 256);
    if (!p) {
        b->oom = 1;
        return -ENOMEM;
    }
    b->data = p;
    return 0;
}

void vbuf_put_u8(struct vbuf *b, uint8_t v)
{
    if (vbuf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = v;
}

void vbuf_put_bytes(struct vbuf *b, const void *p, size_t n)
{
    if (n == 0 || vbuf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void vbuf_put_uvarint(struct vbuf *b, uint64_t v)
{
    if (vbuf_reserve(b, VARINT_MAX_LEN) != 0)
        return;
    b->len += varint_encode(b->data + b->len, v);
}

void vbuf_put_svarint(struct vbuf *b, int64_t v)
{
    vbuf_put_uvarint(b, zigzag_encode(v));
}

void vbuf_consume(struct vbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* ---- vcur --------------------------------------------------------------- */

void vcur_init(struct vcur *c, const void *data, size_t n)
{
    c->p = data;
    c->end = c->p ? c->p + n : c->p;
    c->err = 0;
}

size_t vcur_left(const struct vcur *c)
{
    return (size_t)(c->end - c->p);
}

static int vcur_fail(struct vcur *c, int err)
{
    if (!c->err)
        c->err = err;
    return c->err;
}

int vcur_u8(struct vcur *c, uint8_t *out)
{
    if (c->err)
        return c->err;
    if (c->p == c->end)
        return vcur_fail(c, -PT_ERR_TRUNCATED);
    *out = *c->p++;
    return 0;
}

int vcur_uvarint(struct vcur *c, uint64_t *out)
{
    if (c->err)
        return c->err;
    uint64_t v = 0;
    const uint8_t *p = c->p;
    for (unsigned i = 0; i < VARINT_MAX_LEN; i++) {
        if (p == c->end)
            return vcur_fail(c, -PT_ERR_TRUNCATED);
        uint8_t byte = *p++;
        /* The tenth byte holds only bit 63. */
        if (i == VARINT_MAX_LEN - 1 && byte > 1)
            return vcur_fail(c, -PT_ERR_FORMAT);
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            c->p = p;
            *out = v;
            return 0;
        }
    }
    return vcur_fail(c, -PT_ERR_FORMAT);
}

int vcur_svarint(struct vcur *c, int64_t *out)
{
    uint64_t u;
    int err = vcur_uvarint(c, &u);
    if (err)
        return err;
    *out = zigzag_decode(u);
    return 0;
}

int vcur_u32(struct vcur *c, uint32_t *out)
{
    uint64_t u;
    int err = vcur_uvarint(c, &u);
    if (err)
        return err;
    if (u > UINT32_MAX)
        return vcur_fail(c, -PT_ERR_FORMAT);
    *out = (uint32_t)u;
    return 0;
}

int vcur_s32(struct vcur *c, int32_t *out)
{
    int64_t v;
    int err = vcur_svarint(c, &v);
    if (err)
        return err;
    if (v < INT32_MIN || v > INT32_MAX)
        return vcur_fail(c, -PT_ERR_FORMAT);
    *out = (int32_t)v;
    return 0;
}

int vcur_bytes(struct vcur *c, size_t n, const uint8_t **out)
{
    if (c->err)
        return c->err;
    if (n > vcur_left(c))
        return vcur_fail(c, -PT_ERR_TRUNCATED);
    *out = c->p;
    c->p += n;
    return 0;
}

void vcur_rest(struct vcur *c, const uint8_t **out, size_t *n)
{
    *out = c->p;
    *n = vcur_left(c);
    c->p = c->end;
}
