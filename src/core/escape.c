#include "config.h"

#include "core/escape.h"

#include "core/utf8.h"

#include <stdio.h>
#include <string.h>

/* What ASCII byte c becomes in style, in out; its length, or 0 when it is
 * written as is. */
static size_t ascii_escape(enum escape_style style, unsigned c, char out[16])
{
    switch (style) {
    case ESCAPE_JSON:
        if (c == '"' || c == '\\') {
            out[0] = '\\';
            out[1] = (char)c;
            return 2;
        }
        if (c >= 0x20)
            return 0;
        switch (c) {
        case '\n': memcpy(out, "\\n", 2); return 2;
        case '\t': memcpy(out, "\\t", 2); return 2;
        case '\r': memcpy(out, "\\r", 2); return 2;
        default: return (size_t)snprintf(out, 16, "\\u%04x", c);
        }
    case ESCAPE_LABEL:
        if (c == ';') {
            out[0] = ':';
            return 1;
        }
        if (c >= 0x20 && c != 0x7f)
            return 0;
        switch (c) {
        case '\n': memcpy(out, "\\n", 2); return 2;
        case '\r': memcpy(out, "\\r", 2); return 2;
        case '\t': memcpy(out, "\\t", 2); return 2;
        default: return (size_t)snprintf(out, 16, "\\x%02x", c);
        }
    case ESCAPE_XML: {
        const char *e = NULL;
        switch (c) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&apos;"; break;
        default: break;
        }
        if (e) {
            size_t n = strlen(e);
            memcpy(out, e, n);
            return n;
        }
        /* XML 1.0 has no way to write most control characters at all. */
        if (c >= 0x20 && c != 0x7f)
            return 0;
        out[0] = c == '\t' || c == '\n' || c == '\r' ? ' ' : '?';
        return 1;
    }
    default:
        return 0;
    }
}

static void put_run(struct strbuf *sb, const char *s, size_t n)
{
    if (n)
        strbuf_append(sb, s, n);
}

void escape_put(struct strbuf *sb, const char *str, enum escape_style style)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    size_t run = 0;             /* start of the bytes not yet appended, all as is */
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            char out[16];
            size_t k = ascii_escape(style, c, out);
            if (k) {
                put_run(sb, str + run, i - run);
                strbuf_append(sb, out, k);
                run = i + 1;
            }
            i++;
            continue;
        }
        size_t len = utf8_seq_len(s + i, n - i);
        int bad = len == 0 || (style == ESCAPE_XML && len == 3 && c == 0xef &&
                               s[i + 1] == 0xbf && s[i + 2] >= 0xbe);
        if (!bad) {
            i += len;
            continue;
        }
        put_run(sb, str + run, i - run);
        strbuf_puts(sb, UTF8_REPLACEMENT);
        i += len ? len : 1;
        run = i;
    }
    put_run(sb, str + run, n - run);
}
