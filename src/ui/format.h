/* Text the views show: numbers, durations, sizes, fitted strings, column
 * widths and sparkline levels. No curses here, so it is unit-tested on its
 * own (tests/unit/test_ui_format.c). */
#ifndef PYTOP_UI_FORMAT_H
#define PYTOP_UI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* "0.0s", "12.3s", "4m05s", "2h03m", "3d04h". */
void fmt_duration(char *buf, size_t cap, uint64_t ns);
/* A clock for positions: "0:07.3", "12:04.0", "1:02:03". */
void fmt_clock(char *buf, size_t cap, uint64_t ns);
/* A short pause: "850ns", "41.3us", "1.20ms", "1.5s". */
void fmt_pause(char *buf, size_t cap, uint64_t ns);
/* Seconds for table cells: "0.00", "1.23", "12.3", "123", "1.2k". */
void fmt_seconds(char *buf, size_t cap, uint64_t ns);
/* A share in percent: "100.0", "12.3", "0.0", "<0.1" for a share above 0
 * that rounds to 0. */
void fmt_percent(char *buf, size_t cap, uint64_t part, uint64_t whole);
/* "512 B", "12.0 KiB", "1.2 MiB", "3.4 GiB". */
void fmt_bytes(char *buf, size_t cap, uint64_t bytes);
/* "999", "12.3k", "4.5M". */
void fmt_count(char *buf, size_t cap, uint64_t n);
/* A window: "last 10 s", "last 5 min", "since start" (0). */
void fmt_window(char *buf, size_t cap, uint64_t window_ns);

/* Display columns of a UTF-8 string in the current locale (invalid or
 * unprintable bytes count one column each: fmt_fit shows them as '?'). */
int text_width(const char *s);

/* Copy s into out so that it takes at most width columns, replacing
 * unprintable characters with '?'. A longer string is cut and marked with
 * an ellipsis ("…" when utf8, else "~"): at its end, or at its start when
 * keep_tail (for paths, whose end says most). Returns the columns used. */
int fmt_fit(char *out, size_t cap, const char *s, int width, int keep_tail, int utf8);

/* Column widths for a table: each column gets min; then each gets up to
 * want, in order, as room allows; then what is left goes to the flex
 * columns, by their flex weights. Columns that do not fit get 0 (the last
 * ones first). One gap column separates shown columns. Returns the number
 * of columns shown. */
struct col_spec {
    int min, want, flex;
    /* For layout_optional: 0 always shown while it fits; n > 0 optional,
     * left out first (lowest n first) when the columns do not fit. */
    int drop;
};
int layout_columns(const struct col_spec *cols, int n, int total, int gap, int *widths);
/* The same over the columns not in hidden (bit 1 << i), after leaving out
 * optional columns, lowest drop first and never column keep (-1: none),
 * until the rest fit at their minimums with slack columns to spare (so
 * the flex columns keep some room). Writes the indexes of the columns
 * shown into shown[] and their widths into widths[]; returns how many. */
int layout_optional(const struct col_spec *cols, int n, int total, int gap, int slack,
                    unsigned hidden, int keep, int *shown, int *widths);

/* A signed change in bytes: "+1.2 MiB", "-512 B", "0 B". */
void fmt_bytes_delta(char *buf, size_t cap, int64_t delta);
/* Events per second: "0.0/s", "3.0/s", "42/s", "1.2k/s", "3.4M/s". */
void fmt_rate(char *buf, size_t cap, double per_sec);

/* The rate of a running total (page faults, collections) over the points
 * of [t0, t1] whose valid[i] is set (valid NULL: all): the sum of its
 * increases between consecutive valid points (a decrease, from a restart,
 * counts as nothing) over the time from the first to the last of them.
 * Returns 1 and *per_sec, or 0 with fewer than two such points or no time
 * between them. */
int total_rate(const uint64_t *times, const uint64_t *values, const unsigned char *valid,
               size_t n, uint64_t t0, uint64_t t1, double *per_sec);

/* Sparkline: the values at times[i] whose valid[i] is set (valid NULL:
 * all), over the time range [t0, t1], in width cells, each the largest
 * value whose time falls in it. A cell with no point repeats the previous
 * cell; cells before the first point, and cells with only unavailable
 * points (and the gap after them up to the next valid point), are empty:
 * level -1. Levels run 0..levels-1 between the smallest and the largest
 * cell shown (all at 0 when they are equal); unavailable points take no
 * part in that scale. lo and hi, if not NULL, receive that range. Returns
 * the number of cells with a value. */
int spark_levels(const uint64_t *times, const uint64_t *values, const unsigned char *valid,
                 size_t n, uint64_t t0, uint64_t t1, int width, int levels, int *out,
                 uint64_t *lo, uint64_t *hi);

#endif
