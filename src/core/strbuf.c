#include "config.h"

#include "core/strbuf.h"

#include "core/vec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb)
{
    memset(sb, 0, sizeof *sb);
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->data);
    memset(sb, 0, sizeof *sb);
}

static int strbuf_reserve(struct strbuf *sb, size_t extra)
{
    if (sb->oom)
        return -1;
    if (extra >= SIZE_MAX - sb->len) {
        sb->oom = 1;
        return -1;
    }
    char *p = vec_grow(sb->data, &sb->cap, sb->len + extra + 1, 1, 64);
    if (!p) {
        sb->oom = 1;
        return -1;
    }
    sb->data = p;
    return 0;
}

void strbuf_append(struct strbuf *sb, const char *s, size_t n)
{
    if (strbuf_reserve(sb, n) != 0)
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

void strbuf_putc(struct strbuf *sb, char c)
{
    strbuf_append(sb, &c, 1);
}

void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || strbuf_reserve(sb, (size_t)n) != 0)
        return;
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

const char *strbuf_str(const struct strbuf *sb)
{
    return sb->data ? sb->data : "";
}
