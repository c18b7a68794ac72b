/* Writing untrusted text (names and paths read from the target) into
 * output formats: one pass that repairs UTF-8 (each invalid byte becomes
 * U+FFFD) and escapes what the format cannot hold as is. */
#ifndef PYTOP_CORE_ESCAPE_H
#define PYTOP_CORE_ESCAPE_H

#include "core/strbuf.h"

enum escape_style {
    ESCAPE_UTF8,    /* only the UTF-8 repair */
    ESCAPE_JSON,    /* inside a JSON string: \" \\ \n \t \r, other controls \u00XX */
    ESCAPE_LABEL,   /* a folded-stack frame: ';' becomes ':', controls \n \r \t \xXX */
    ESCAPE_XML,     /* XML text or attribute: entities; controls become ' ' (tab,
                     * newline, return) or '?'; U+FFFE and U+FFFF become U+FFFD */
};

/* Append s (NUL-terminated) to sb, written for style. */
void escape_put(struct strbuf *sb, const char *s, enum escape_style style);

#endif
