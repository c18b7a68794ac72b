#include "config.h"

#include "core/json.h"

#include "core/utf8.h"

#include <stdint.h>
#include <string.h>


void json_put_string(struct strbuf *sb, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    strbuf_putc(sb, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            strbuf_putc(sb, '\\');
            strbuf_putc(sb, (char)c);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': strbuf_puts(sb, "\\n"); break;
            case '\t': strbuf_puts(sb, "\\t"); break;
            case '\r': strbuf_puts(sb, "\\r"); break;
            default: strbuf_printf(sb, "\\u%04x", c); break;
            }
            i++;
        } else {
            size_t len = utf8_seq_len(s + i, n - i);
            if (len == 0) {
                strbuf_puts(sb, UTF8_REPLACEMENT);
                i++;
            } else {
                strbuf_append(sb, (const char *)s + i, len);
                i += len;
            }
        }
    }
    strbuf_putc(sb, '"');
}
