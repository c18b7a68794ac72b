/* A growable NUL-terminated byte buffer. */
#ifndef PYTOP_CORE_STRBUF_H
#define PYTOP_CORE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *data;     /* owned, always NUL-terminated once anything is appended */
    size_t len;
    size_t cap;
    int oom;        /* set when an allocation failed; later appends are dropped */
};

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
void strbuf_append(struct strbuf *sb, const char *s, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The content; "" for an empty buffer. */
const char *strbuf_str(const struct strbuf *sb);

#endif
