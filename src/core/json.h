/* Writing JSON values into a strbuf. */
#ifndef PYTOP_CORE_JSON_H
#define PYTOP_CORE_JSON_H

#include "core/strbuf.h"

/* Append s as a quoted JSON string; invalid UTF-8 bytes become U+FFFD. */
void json_put_string(struct strbuf *sb, const char *s);

#endif
