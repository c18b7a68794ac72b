/* Variable-length integers and the byte buffers recordings are built from.
 *
 * Unsigned values are LEB128: 7 bits a byte, least significant first, the
 * high bit set on every byte but the last; a uint64_t takes 1-10 bytes.
 * Signed values are zigzag-mapped first (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...)
 * so small magnitudes of either sign stay short.
 *
 * struct vbuf appends to a growable buffer; after a failed allocation it
 * drops further appends and remembers the failure (vbuf.oom), so an
 * encoder checks once at the end. struct vcur reads a bounded range and
 * never reads past its end: the first failure sticks, and every later read
 * returns it. */
#ifndef PYTOP_RECORD_VARINT_H
#define PYTOP_RECORD_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX_LEN 10

static inline uint64_t zigzag_encode(int64_t v)
{
    return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static inline int64_t zigzag_decode(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Encode v into out (room for VARINT_MAX_LEN bytes); returns bytes used. */
size_t varint_encode(uint8_t *out, uint64_t v);
/* Bytes varint_encode would use for v. */
size_t varint_size(uint64_t v);

struct vbuf {
    uint8_t *data;      /* owned */
    size_t len;
    size_t cap;
    int oom;            /* an allocation failed; appends since were dropped */
};

void vbuf_init(struct vbuf *b);
void vbuf_release(struct vbuf *b);
/* Room for extra more bytes: 0 or -ENOMEM (and oom set). */
int vbuf_reserve(struct vbuf *b, size_t extra);
void vbuf_put_u8(struct vbuf *b, uint8_t v);
void vbuf_put_bytes(struct vbuf *b, const void *p, size_t n);
void vbuf_put_uvarint(struct vbuf *b, uint64_t v);
void vbuf_put_svarint(struct vbuf *b, int64_t v);
/* Forget the first n bytes (they were written out). */
void vbuf_consume(struct vbuf *b, size_t n);

struct vcur {
    const uint8_t *p;   /* next byte */
    const uint8_t *end;
    int err;            /* 0, or the first failure */
};

/* Read the n bytes at data (borrowed; may be NULL when n is 0). */
void vcur_init(struct vcur *c, const void *data, size_t n);
size_t vcur_left(const struct vcur *c);

/* Each returns 0, -PT_ERR_TRUNCATED when the range ends inside the value,
 * or -PT_ERR_FORMAT for a varint longer than 10 bytes or too big for the
 * type. Outputs are written only on success. */
int vcur_u8(struct vcur *c, uint8_t *out);
int vcur_uvarint(struct vcur *c, uint64_t *out);
int vcur_svarint(struct vcur *c, int64_t *out);
int vcur_u32(struct vcur *c, uint32_t *out);        /* an uvarint <= UINT32_MAX */
int vcur_s32(struct vcur *c, int32_t *out);         /* an svarint in int32_t */
/* n bytes, borrowed from the range. */
int vcur_bytes(struct vcur *c, size_t n, const uint8_t **out);
/* The rest of the range; never fails. */
void vcur_rest(struct vcur *c, const uint8_t **out, size_t *n);

#endif
