#include "config.h"

#include "ui/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define NS_PER_SEC 1000000000ULL

void fmt_duration(char *buf, size_t cap, uint64_t ns)
{
    uint64_t s = ns / NS_PER_SEC;
    if (s < 60)
        snprintf(buf, cap, "%.1fs", (double)(ns / 100000000ULL) / 10.0);
    else if (s < 3600)
        snprintf(buf, cap, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
    else if (s < 86400)
        snprintf(buf, cap, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s % 3600 / 60));
    else
        snprintf(buf, cap, "%llud%02uh", (unsigned long long)(s / 86400),
                 (unsigned)(s % 86400 / 3600));
}

void fmt_clock(char *buf, size_t cap, uint64_t ns)
{
    uint64_t tenths = ns / 100000000ULL;
    uint64_t s = tenths / 10;
    if (s < 3600)
        snprintf(buf, cap, "%u:%02u.%u", (unsigned)(s / 60), (unsigned)(s % 60),
                 (unsigned)(tenths % 10));
    else
        snprintf(buf, cap, "%llu:%02u:%02u", (unsigned long long)(s / 3600),
                 (unsigned)(s % 3600 / 60), (unsigned)(s % 60));
}

void fmt_pause(char *buf, size_t cap, uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, cap, "%uns", (unsigned)ns);
    else if (ns < 1000000)
        snprintf(buf, cap, "%.1fus", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, cap, "%.2fms", (double)ns / 1e6);
    else
        snprintf(buf, cap, "%.1fs", (double)ns / 1e9);
}

void fmt_seconds(char *buf, size_t cap, uint64_t ns)
{
    /* Truncate rather than round, so a cell never shows more time than
     * there was, and keep at most 4 characters of digits. */
    uint64_t cs = ns / 10000000ULL;     /* hundredths */
    if (cs < 1000)
        snprintf(buf, cap, "%u.%02u", (unsigned)(cs / 100), (unsigned)(cs % 100));
    else if (cs < 10000)
        snprintf(buf, cap, "%u.%u", (unsigned)(cs / 100), (unsigned)(cs / 10 % 10));
    else if (cs < 100000)
        snprintf(buf, cap, "%u", (unsigned)(cs / 100));
    else if (cs < 10000000)
        snprintf(buf, cap, "%.1fk", (double)(cs / 10000) / 10.0);
    else
        snprintf(buf, cap, "%lluk", (unsigned long long)(cs / 100000));
}

void fmt_percent(char *buf, size_t cap, uint64_t part, uint64_t whole)
{
    if (whole == 0 || part == 0) {
        snprintf(buf, cap, "0.0");
        return;
    }
    /* Tenths of a percent, rounded half up, in integers. */
    uint64_t tenths;
    if (part <= UINT64_MAX / 2000)
        tenths = (part * 2000 / whole + 1) / 2;
    else
        tenths = (uint64_t)((double)part * 1000.0 / (double)whole + 0.5);
    if (tenths == 0)
        snprintf(buf, cap, "<0.1");
    else
        snprintf(buf, cap, "%llu.%u", (unsigned long long)(tenths / 10), (unsigned)(tenths % 10));
}

void fmt_bytes(char *buf, size_t cap, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (bytes < 1024) {
        snprintf(buf, cap, "%u B", (unsigned)bytes);
        return;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void fmt_count(char *buf, size_t cap, uint64_t n)
{
    if (n < 10000)
        snprintf(buf, cap, "%u", (unsigned)n);
    else if (n < 1000000)
        snprintf(buf, cap, "%.1fk", (double)(n / 100) / 10.0);
    else if (n < 1000000000)
        snprintf(buf, cap, "%.1fM", (double)(n / 100000) / 10.0);
    else
        snprintf(buf, cap, "%.1fG", (double)(n / 100000000) / 10.0);
}

void fmt_window(char *buf, size_t cap, uint64_t window_ns)
{
    uint64_t s = window_ns / NS_PER_SEC;
    if (window_ns == 0)
        snprintf(buf, cap, "since start");
    else if (s >= 60 && s % 60 == 0)
        snprintf(buf, cap, "last %u min", (unsigned)(s / 60));
    else if (s > 0 && window_ns % NS_PER_SEC == 0)
        snprintf(buf, cap, "last %u s", (unsigned)s);
    else
        snprintf(buf, cap, "last %.1f s", (double)window_ns / 1e9);
}

/* The next character of s: its bytes, its columns (1 for an invalid or
 * unprintable one, shown as '?'), and whether it is shown as itself. */
static size_t next_char(const char *s, mbstate_t *st, int *cols, int *ok)
{
    wchar_t wc;
    size_t n = mbrtowc(&wc, s, strlen(s), st);
    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
        memset(st, 0, sizeof *st);
        *cols = 1;
        *ok = 0;
        return 1;
    }
    int w = wcwidth(wc);
    if (w < 0) {
        *cols = 1;
        *ok = 0;
        return n;
    }
    *cols = w;
    *ok = 1;
    return n;
}

int text_width(const char *s)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    int width = 0;
    while (*s) {
        int cols, ok;
        s += next_char(s, &st, &cols, &ok);
        width += cols;
    }
    return width;
}

/* Append the characters of s[0..len) that fit in width columns; returns
 * the columns used. */
static int append_fitting(char *out, size_t cap, size_t *used, const char *s, size_t len,
                          int width)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    int cols_used = 0;
    size_t i = 0;
    while (i < len && s[i]) {
        int cols, ok;
        size_t n = next_char(s + i, &st, &cols, &ok);
        if (cols_used + cols > width)
            break;
        size_t bytes = ok ? n : 1;
        if (*used + bytes + 1 > cap)
            break;
        if (ok)
            memcpy(out + *used, s + i, n);
        else
            out[*used] = '?';
        *used += bytes;
        cols_used += cols;
        i += n;
    }
    out[*used] = '\0';
    return cols_used;
}

int fmt_fit(char *out, size_t cap, const char *s, int width, int keep_tail, int utf8)
{
    if (cap == 0)
        return 0;
    out[0] = '\0';
    if (width <= 0)
        return 0;
    size_t used = 0;
    int total = text_width(s);
    if (total <= width)
        return append_fitting(out, cap, &used, s, strlen(s), width);
    const char *ell = utf8 ? "\xe2\x80\xa6" : "~";
    size_t ell_len = strlen(ell);
    if (width == 1 || cap <= ell_len + 1) {
        snprintf(out, cap, "%s", ell);
        return 1;
    }
    if (!keep_tail) {
        int c = append_fitting(out, cap, &used, s, strlen(s), width - 1);
        if (used + ell_len + 1 <= cap) {
            memcpy(out + used, ell, ell_len + 1);
            c++;
        }
        return c;
    }
    /* Keep the tail: skip characters from the start until the rest fits. */
    mbstate_t st;
    memset(&st, 0, sizeof st);
    const char *p = s;
    int rest = total;
    while (*p && rest > width - 1) {
        int cols, ok;
        p += next_char(p, &st, &cols, &ok);
        rest -= cols;
    }
    memcpy(out, ell, ell_len + 1);
    used = ell_len;
    return 1 + append_fitting(out, cap, &used, p, strlen(p), width - 1);
}

int layout_columns(const struct col_spec *cols, int n, int total, int gap, int *widths)
{
    /* How many columns fit at their minimum, in order. */
    int shown = 0, room = total;
    for (int i = 0; i < n; i++) {
        int need = cols[i].min + (shown ? gap : 0);
        if (need > room)
            break;
        room -= need;
        shown++;
    }
    for (int i = 0; i < n; i++)
        widths[i] = i < shown ? cols[i].min : 0;
    for (int i = 0; i < shown && room > 0; i++) {
        int more = cols[i].want - widths[i];
        if (more > room)
            more = room;
        if (more > 0) {
            widths[i] += more;
            room -= more;
        }
    }
    int flex_sum = 0;
    for (int i = 0; i < shown; i++)
        flex_sum += cols[i].flex;
    if (flex_sum > 0 && room > 0) {
        int spare = room, last = -1;
        for (int i = 0; i < shown; i++) {
            if (!cols[i].flex)
                continue;
            int add = spare * cols[i].flex / flex_sum;
            widths[i] += add;
            room -= add;
            last = i;
        }
        widths[last] += room;   /* rounding leftovers */
    }
    return shown;
}

int layout_optional(const struct col_spec *cols, int n, int total, int gap, int slack,
                    unsigned hidden, int keep, int *shown, int *widths)
{
    int vis[32], nvis = 0;
    for (int i = 0; i < n && nvis < 32; i++)
        if (!(hidden & (1u << i)))
            vis[nvis++] = i;
    for (;;) {
        int need = slack;
        for (int j = 0; j < nvis; j++)
            need += cols[vis[j]].min + (j ? gap : 0);
        if (need <= total)
            break;
        int victim = -1;
        for (int j = 0; j < nvis; j++) {
            const struct col_spec *c = &cols[vis[j]];
            if (c->drop > 0 && vis[j] != keep &&
                (victim < 0 || c->drop < cols[vis[victim]].drop))
                victim = j;
        }
        if (victim < 0)
            break;
        memmove(vis + victim, vis + victim + 1, (size_t)(nvis - victim - 1) * sizeof *vis);
        nvis--;
    }
    struct col_spec specs[32];
    for (int j = 0; j < nvis; j++)
        specs[j] = cols[vis[j]];
    int k = layout_columns(specs, nvis, total, gap, widths);
    for (int j = 0; j < k; j++)
        shown[j] = vis[j];
    return k;
}

void fmt_bytes_delta(char *buf, size_t cap, int64_t delta)
{
    if (delta == 0) {
        snprintf(buf, cap, "0 B");
        return;
    }
    char b[32];
    uint64_t mag = delta < 0 ? (uint64_t)0 - (uint64_t)delta : (uint64_t)delta;
    fmt_bytes(b, sizeof b, mag);
    snprintf(buf, cap, "%c%s", delta < 0 ? '-' : '+', b);
}

void fmt_rate(char *buf, size_t cap, double per_sec)
{
    if (!(per_sec > 0))     /* also NaN */
        snprintf(buf, cap, "0.0/s");
    else if (per_sec < 9.95)
        snprintf(buf, cap, "%.1f/s", per_sec);
    else if (per_sec < 999.5)
        snprintf(buf, cap, "%.0f/s", per_sec);
    else if (per_sec < 999.5e3)
        snprintf(buf, cap, "%.1fk/s", per_sec / 1e3);
    else if (per_sec < 999.5e6)
        snprintf(buf, cap, "%.1fM/s", per_sec / 1e6);
    else
        snprintf(buf, cap, "%.1fG/s", per_sec / 1e9);
}

int total_rate(const uint64_t *times, const uint64_t *values, const unsigned char *valid,
               size_t n, uint64_t t0, uint64_t t1, double *per_sec)
{
    int have = 0;
    uint64_t first_t = 0, last_t = 0, prev = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        if ((valid && !valid[i]) || times[i] < t0 || times[i] > t1)
            continue;
        if (!have) {
            have = 1;
            first_t = times[i];
        } else if (values[i] > prev) {
            sum += values[i] - prev;
        }
        prev = values[i];
        last_t = times[i];
    }
    if (!have || last_t <= first_t)
        return 0;
    *per_sec = (double)sum * 1e9 / (double)(last_t - first_t);
    return 1;
}

int spark_levels(const uint64_t *times, const uint64_t *values, const unsigned char *valid,
                 size_t n, uint64_t t0, uint64_t t1, int width, int levels, int *out,
                 uint64_t *lo, uint64_t *hi)
{
    if (width <= 0)
        return 0;
    for (int i = 0; i < width; i++)
        out[i] = -1;
    uint64_t *cell = calloc((size_t)width, sizeof *cell);
    /* Per cell: 0 no point, 1 a value, 2 only unavailable points. */
    unsigned char *have = calloc((size_t)width, 1);
    if (!cell || !have) {
        free(cell);
        free(have);
        return 0;
    }
    uint64_t span = t1 > t0 ? t1 - t0 : 1;
    for (size_t k = 0; k < n; k++) {
        if (times[k] < t0 || times[k] > t1)
            continue;
        /* Cell i covers [t0 + i*span/width, t0 + (i+1)*span/width). */
        uint64_t off = times[k] - t0;
        int i = (int)((double)off / (double)span * width);
        if (i >= width)
            i = width - 1;
        if (valid && !valid[k]) {
            if (!have[i])
                have[i] = 2;
            continue;
        }
        if (have[i] != 1 || values[k] > cell[i])
            cell[i] = values[k];
        have[i] = 1;
    }
    int filled = 0, carry = 0;
    uint64_t prev = 0, mn = UINT64_MAX, mx = 0;
    for (int i = 0; i < width; i++) {
        if (have[i] == 1) {
            carry = 1;
            prev = cell[i];
        } else if (have[i] == 2) {
            carry = 0;
            have[i] = 0;
        } else if (carry) {
            cell[i] = prev;
            have[i] = 1;
        }
        if (have[i] == 1) {
            filled++;
            mn = cell[i] < mn ? cell[i] : mn;
            mx = cell[i] > mx ? cell[i] : mx;
        }
    }
    for (int i = 0; i < width; i++) {
        if (have[i] != 1)
            continue;
        if (mx == mn || levels <= 1)
            out[i] = 0;
        else
            out[i] = (int)((double)(cell[i] - mn) * (levels - 1) / (double)(mx - mn) + 0.5);
    }
    if (lo)
        *lo = filled ? mn : 0;
    if (hi)
        *hi = mx;
    free(cell);
    free(have);
    return filled;
}
