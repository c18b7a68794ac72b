#include "config.h"

#include "core/json.h"

#include "core/escape.h"

void json_put_string(struct strbuf *sb, const char *str)
{
    strbuf_putc(sb, '"');
    escape_put(sb, str, ESCAPE_JSON);
    strbuf_putc(sb, '"');
}
