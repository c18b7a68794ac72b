#include "config.h"

#include "python/version.h"

#include "core/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void version_set(struct py_version *out, int major, int minor, int micro)
{
    out->major = major;
    out->minor = minor;
    out->micro = micro;
    if (micro >= 0)
        snprintf(out->text, sizeof out->text, "%d.%d.%d", major, minor, micro);
    else
        snprintf(out->text, sizeof out->text, "%d.%d", major, minor);
}

static int plausible(int major, int minor)
{
    return (major == 2 && minor == 7) || (major == 3 && minor >= 0 && minor < 100);
}

int py_version_from_hex(uint64_t hex, struct py_version *out)
{
    int major = (int)((hex >> 24) & 0xff);
    int minor = (int)((hex >> 16) & 0xff);
    int micro = (int)((hex >> 8) & 0xff);
    if (!plausible(major, minor) || (hex >> 32) != 0)
        return -PT_ERR_NOT_PYTHON;
    version_set(out, major, minor, micro);
    return 0;
}

/* Parse "X.Y" at s; returns the number of characters used, or 0. */
static size_t parse_xy(const char *s, size_t n, int *major, int *minor)
{
    size_t i = 0;
    if (i >= n || (s[i] != '2' && s[i] != '3'))
        return 0;
    *major = s[i++] - '0';
    if (i >= n || s[i++] != '.')
        return 0;
    int m = 0, digits = 0;
    while (i < n && isdigit((unsigned char)s[i]) && digits < 3) {
        m = m * 10 + (s[i++] - '0');
        digits++;
    }
    if (digits == 0 || !plausible(*major, m))
        return 0;
    *minor = m;
    return i;
}

int py_version_from_filename(const char *path, struct py_version *out)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    static const char *const prefixes[] = { "libpython", "python" };
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        size_t plen = strlen(prefixes[p]);
        if (strncmp(base, prefixes[p], plen) != 0)
            continue;
        const char *rest = base + plen;
        int major, minor;
        size_t used = parse_xy(rest, strlen(rest), &major, &minor);
        /* "python3" alone says nothing about the minor version. */
        if (used == 0)
            continue;
        char next = rest[used];
        if (next != '\0' && next != '.' && next != 'm' && next != 'd' && next != 'u' && next != 't')
            continue;
        version_set(out, major, minor, -1);
        return 0;
    }
    return -PT_ERR_NOT_PYTHON;
}

int py_version_from_memory(const uint8_t *data, size_t len, int want_major, int want_minor,
                           struct py_version *out)
{
    const char *s = (const char *)data;
    /* The buffer is a static array, so it starts after a NUL or at an
     * aligned address; requiring a preceding NUL avoids matching paths. */
    for (size_t i = 1; i + 8 < len; i++) {
        if ((s[i] != '2' && s[i] != '3') || s[i - 1] != '\0')
            continue;
        int major, minor;
        size_t used = parse_xy(s + i, len - i, &major, &minor);
        if (used == 0 || i + used >= len || s[i + used] != '.')
            continue;
        size_t j = i + used + 1;
        int micro = 0, digits = 0;
        while (j < len && isdigit((unsigned char)s[j]) && digits < 3) {
            micro = micro * 10 + (s[j++] - '0');
            digits++;
        }
        if (digits == 0)
            continue;
        /* Optional release level: a1, b2, rc1, +. */
        while (j < len && j - i < 24 && (isalnum((unsigned char)s[j]) || s[j] == '+'))
            j++;
        if (j + 1 >= len || s[j] != ' ' || s[j + 1] != '(')
            continue;
        if (want_major && (major != want_major || minor != want_minor))
            continue;
        version_set(out, major, minor, micro);
        return 0;
    }
    return -PT_ERR_NOT_PYTHON;
}
