/* UTF-8 validation shared by everything that writes text out. */
#ifndef PYTOP_CORE_UTF8_H
#define PYTOP_CORE_UTF8_H

#include <stddef.h>

#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), or 0
 * for an invalid one: a stray byte, a truncated sequence, an overlong form,
 * a surrogate or a code point past U+10FFFF. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

#endif
