/* The TUI's pure parts: number, duration, size, change and rate
 * formatting, fitting text to a width, column layout (with optional
 * columns) and sparkline scaling (with unavailable points). */
#include "config.h"

#include "ui/format.h"

#include "unit.h"

#include <locale.h>
#include <stdint.h>
#include <string.h>

#define S 1000000000ULL
#define MS 1000000ULL

static void test_durations(void)
{
    char b[32];
    fmt_duration(b, sizeof b, 0);
    CHECK_STR(b, "0.0s", "zero");
    fmt_duration(b, sizeof b, 12 * S + 345 * MS);
    CHECK_STR(b, "12.3s", "seconds keep a tenth, truncated");
    fmt_duration(b, sizeof b, 59 * S + 999 * MS);
    CHECK_STR(b, "59.9s", "never rounds up to a minute");
    fmt_duration(b, sizeof b, 245 * S);
    CHECK_STR(b, "4m05s", "minutes and seconds");
    fmt_duration(b, sizeof b, 2 * 3600 * S + 3 * 60 * S + 7 * S);
    CHECK_STR(b, "2h03m", "hours and minutes");
    fmt_duration(b, sizeof b, (3 * 86400 + 4 * 3600) * S);
    CHECK_STR(b, "3d04h", "days and hours");

    fmt_clock(b, sizeof b, 7 * S + 300 * MS);
    CHECK_STR(b, "0:07.3", "clock under a minute");
    fmt_clock(b, sizeof b, 724 * S);
    CHECK_STR(b, "12:04.0", "clock in minutes");
    fmt_clock(b, sizeof b, 3723 * S);
    CHECK_STR(b, "1:02:03", "clock in hours");

    fmt_seconds(b, sizeof b, 0);
    CHECK_STR(b, "0.00", "cell seconds: zero");
    fmt_seconds(b, sizeof b, 1234 * MS);
    CHECK_STR(b, "1.23", "cell seconds: hundredths");
    fmt_seconds(b, sizeof b, 12345 * MS);
    CHECK_STR(b, "12.3", "cell seconds: tenths over 10 s");
    fmt_seconds(b, sizeof b, 123456 * MS);
    CHECK_STR(b, "123", "cell seconds: whole over 100 s");
    fmt_seconds(b, sizeof b, 12345 * S);
    CHECK_STR(b, "12.3k", "cell seconds: thousands");
}

static void test_percent(void)
{
    char b[32];
    fmt_percent(b, sizeof b, 0, 100);
    CHECK_STR(b, "0.0", "nothing");
    fmt_percent(b, sizeof b, 5, 0);
    CHECK_STR(b, "0.0", "no whole: 0, not a division by zero");
    fmt_percent(b, sizeof b, 1, 1);
    CHECK_STR(b, "100.0", "all");
    fmt_percent(b, sizeof b, 1, 3);
    CHECK_STR(b, "33.3", "a third");
    fmt_percent(b, sizeof b, 2, 3);
    CHECK_STR(b, "66.7", "two thirds round half up");
    fmt_percent(b, sizeof b, 1, 100000);
    CHECK_STR(b, "<0.1", "a share that rounds to zero still shows");
    fmt_percent(b, sizeof b, UINT64_MAX / 2, UINT64_MAX);
    CHECK_STR(b, "50.0", "huge values do not overflow");
}

static void test_sizes_and_counts(void)
{
    char b[32];
    fmt_bytes(b, sizeof b, 512);
    CHECK_STR(b, "512 B", "bytes");
    fmt_bytes(b, sizeof b, 12 * 1024);
    CHECK_STR(b, "12.0 KiB", "KiB");
    fmt_bytes(b, sizeof b, 123456789);
    CHECK_STR(b, "118 MiB", "three digits drop the decimal");
    fmt_bytes(b, sizeof b, 3ULL << 30);
    CHECK_STR(b, "3.0 GiB", "GiB");
    fmt_count(b, sizeof b, 9999);
    CHECK_STR(b, "9999", "count as is");
    fmt_count(b, sizeof b, 12345);
    CHECK_STR(b, "12.3k", "thousands");
    fmt_count(b, sizeof b, 4567890);
    CHECK_STR(b, "4.5M", "millions, truncated");
    fmt_window(b, sizeof b, 0);
    CHECK_STR(b, "since start", "window 0");
    fmt_window(b, sizeof b, 10 * S);
    CHECK_STR(b, "last 10 s", "window in seconds");
    fmt_window(b, sizeof b, 300 * S);
    CHECK_STR(b, "last 5 min", "window in minutes");
    fmt_window(b, sizeof b, 1500 * MS);
    CHECK_STR(b, "last 1.5 s", "window with a fraction");
}

static void test_fit(void)
{
    char b[64];
    CHECK_INT(fmt_fit(b, sizeof b, "hello", 10, 0, 1), 5, "short text: its width");
    CHECK_STR(b, "hello", "short text unchanged");
    CHECK_INT(fmt_fit(b, sizeof b, "hello world", 8, 0, 1), 8, "cut text fills the width");
    CHECK_STR(b, "hello w\xe2\x80\xa6", "cut at the end with an ellipsis");
    fmt_fit(b, sizeof b, "/usr/lib/python3/x.py", 10, 1, 1);
    CHECK_STR(b, "\xe2\x80\xa6" "hon3/x.py", "paths keep their tail");
    fmt_fit(b, sizeof b, "hello world", 8, 0, 0);
    CHECK_STR(b, "hello w~", "without UTF-8 the ellipsis is ~");
    fmt_fit(b, sizeof b, "a\x1b[2Jb", 10, 0, 1);
    CHECK_STR(b, "a?[2Jb", "control characters from the target are not sent to the terminal");
    fmt_fit(b, sizeof b, "caf\xc3\xa9", 4, 0, 1);
    CHECK_STR(b, "caf\xc3\xa9", "a two-byte character takes one column");
    CHECK_INT(text_width("\xe4\xb8\xad\xe6\x96\x87"), 4, "wide characters take two columns");
    CHECK_INT(fmt_fit(b, sizeof b, "\xe4\xb8\xad\xe6\x96\x87x", 4, 0, 1), 3,
              "a wide character that does not fit is left out");
    CHECK_STR(b, "\xe4\xb8\xad\xe2\x80\xa6", "and the ellipsis follows the last whole one");
    fmt_fit(b, sizeof b, "ab\xff" "cd", 10, 0, 1);
    CHECK_STR(b, "ab?cd", "an invalid byte shows as ?");
    CHECK_INT(fmt_fit(b, sizeof b, "anything", 0, 0, 1), 0, "zero width: nothing");
    CHECK_STR(b, "", "zero width gives an empty string");
    CHECK_INT(fmt_fit(b, 4, "hello", 10, 0, 1), 3, "a small buffer cuts, still terminated");
    CHECK_STR(b, "hel", "what fits in the buffer");
}

static void test_layout(void)
{
    const struct col_spec cols[] = {
        { 6, 6, 0, 0 }, { 7, 7, 0, 0 }, { 10, 30, 2, 0 }, { 10, 40, 3, 0 },
    };
    int w[4];
    CHECK_INT(layout_columns(cols, 4, 200, 1, w), 4, "wide: every column");
    CHECK_INT(w[0] + w[1] + w[2] + w[3] + 3, 200, "wide: the flex columns take the rest");
    CHECK(w[2] >= 30 && w[3] >= 40, "wide: every column gets what it wants first");
    CHECK_INT(layout_columns(cols, 4, 80, 1, w), 4, "80 columns: every column");
    CHECK_INT(w[0] + w[1] + w[2] + w[3] + 3, 80, "80 columns: all used");
    CHECK_INT(w[2], 30, "80 columns: the first text column gets its want");
    CHECK_INT(w[3], 34, "80 columns: the last gets what is left");
    CHECK_INT(layout_columns(cols, 4, 30, 1, w), 3, "narrow: the last column is dropped");
    CHECK_INT(w[3], 0, "narrow: a dropped column has width 0");
    CHECK_INT(w[0] + w[1] + w[2] + 2, 30, "narrow: the shown columns use the width");
    CHECK_INT(layout_columns(cols, 4, 5, 1, w), 0, "too narrow for anything");
}

static void test_sparkline(void)
{
    uint64_t t[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    uint64_t v[] = { 10, 20, 30, 40, 50, 60, 70, 80 };
    int lv[16];
    uint64_t lo, hi;
    CHECK_INT(spark_levels(t, v, NULL, 8, 0, 7, 8, 8, lv, &lo, &hi), 8, "one point per cell");
    CHECK_INT(lo, 10, "low end");
    CHECK_INT(hi, 80, "high end");
    CHECK_INT(lv[0], 0, "the smallest is the lowest level");
    CHECK_INT(lv[7], 7, "the largest is the highest level");
    CHECK(lv[3] == 3 && lv[4] == 4, "levels rise evenly");

    CHECK_INT(spark_levels(t, v, NULL, 8, 0, 7, 4, 8, lv, &lo, &hi), 4, "two points per cell");
    CHECK_INT(lo, 20, "each cell keeps its larger value");
    CHECK(lv[0] == 0 && lv[3] == 7, "scaled between the cells' values");

    /* Points only in the second half: the first cells stay empty. */
    uint64_t t2[] = { 50, 100 };
    uint64_t v2[] = { 5, 5 };
    CHECK_INT(spark_levels(t2, v2, NULL, 2, 0, 100, 10, 8, lv, NULL, NULL), 5,
              "cells from the first point on");
    CHECK_INT(lv[0], -1, "before any point: empty");
    CHECK_INT(lv[5], 0, "equal values: the lowest level");
    CHECK_INT(lv[7], 0, "a gap repeats the previous cell");

    CHECK_INT(spark_levels(t, v, NULL, 8, 100, 200, 4, 8, lv, &lo, &hi), 0, "no point in range");
    CHECK_INT(lv[0], -1, "all empty");
    CHECK_INT(spark_levels(t, v, NULL, 0, 0, 7, 4, 8, lv, NULL, NULL), 0, "no points at all");
}

static void test_sparkline_unavailable(void)
{
    uint64_t t[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    uint64_t v[] = { 10, 0, 30, 40, 0, 0, 70, 80 };
    unsigned char ok[] = { 1, 0, 1, 1, 0, 0, 1, 1 };
    int lv[16];
    uint64_t lo, hi;
    CHECK_INT(spark_levels(t, v, ok, 8, 0, 7, 8, 8, lv, &lo, &hi), 5,
              "unavailable points leave their cells empty");
    CHECK_INT(lo, 10, "the scale ignores unavailable points (their 0 is not the low end)");
    CHECK_INT(hi, 80, "high end from the valid points");
    CHECK(lv[1] == -1 && lv[4] == -1 && lv[5] == -1, "cells of unavailable points: empty");
    CHECK(lv[0] == 0 && lv[7] == 7, "valid points scaled between 10 and 80");
    CHECK_INT(lv[3], 3, "40 sits at level 3 of 0..7");

    /* Two points per cell: a valid one wins over an unavailable one. */
    CHECK_INT(spark_levels(t, v, ok, 8, 0, 7, 4, 8, lv, &lo, &hi), 3,
              "a cell with one valid point has a value");
    CHECK_INT(lv[2], -1, "a cell of only unavailable points is empty");

    /* An unavailable point stops the gap filling until the next valid one. */
    uint64_t t3[] = { 0, 50, 100, 0 };
    uint64_t v3[] = { 5, 0, 9, 0 };
    unsigned char ok3[] = { 1, 0, 1, 0 };
    CHECK_INT(spark_levels(t3, v3, ok3, 3, 0, 100, 10, 8, lv, NULL, NULL), 6,
              "filled up to the unavailable point, then from the next valid one");
    CHECK(lv[4] == 0 && lv[5] == -1 && lv[8] == -1 && lv[9] == 7,
          "the gap after an unavailable point stays empty");

    unsigned char none[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    CHECK_INT(spark_levels(t, v, none, 8, 0, 7, 8, 8, lv, &lo, &hi), 0,
              "a counter never read: no cell");
    CHECK(lv[0] == -1 && lv[7] == -1 && lo == 0, "all empty, low end 0");
}

static void test_changes_and_rates(void)
{
    char b[32];
    fmt_bytes_delta(b, sizeof b, 0);
    CHECK_STR(b, "0 B", "no change has no sign");
    fmt_bytes_delta(b, sizeof b, 1258291);
    CHECK_STR(b, "+1.2 MiB", "growth is signed +");
    fmt_bytes_delta(b, sizeof b, -512);
    CHECK_STR(b, "-512 B", "release is signed -");
    fmt_bytes_delta(b, sizeof b, INT64_MIN);
    CHECK_STR(b, "-8192 PiB", "the most negative change does not overflow");

    fmt_rate(b, sizeof b, 0);
    CHECK_STR(b, "0.0/s", "no events");
    fmt_rate(b, sizeof b, 3.0);
    CHECK_STR(b, "3.0/s", "a few a second keep a tenth");
    fmt_rate(b, sizeof b, 0.25);
    CHECK_STR(b, "0.2/s", "fewer than one a second");
    fmt_rate(b, sizeof b, 42.4);
    CHECK_STR(b, "42/s", "tens: whole numbers");
    fmt_rate(b, sizeof b, 1234);
    CHECK_STR(b, "1.2k/s", "thousands");
    fmt_rate(b, sizeof b, 3.4e6);
    CHECK_STR(b, "3.4M/s", "millions");
    fmt_rate(b, sizeof b, -1);
    CHECK_STR(b, "0.0/s", "a negative rate shows as none");

    /* A running total read every 250 ms: 0, 100, 200, 300 -> 400/s. */
    uint64_t t[] = { 0, 250 * MS, 500 * MS, 750 * MS };
    uint64_t v[] = { 1000, 1100, 1200, 1300 };
    double r = -1;
    CHECK_INT(total_rate(t, v, NULL, 4, 0, S, &r), 1, "a rate from four points");
    CHECK(r > 399.9 && r < 400.1, "400 a second");
    CHECK_INT(total_rate(t, v, NULL, 4, 500 * MS, S, &r), 1, "over a shorter range");
    CHECK(r > 399.9 && r < 400.1, "the same rate from the points in the range");
    CHECK_INT(total_rate(t, v, NULL, 4, 700 * MS, S, &r), 0, "one point: no rate");
    CHECK_INT(total_rate(t, v, NULL, 0, 0, S, &r), 0, "no points: no rate");
    unsigned char ok[] = { 1, 0, 0, 1 };
    CHECK_INT(total_rate(t, v, ok, 4, 0, S, &r), 1, "unavailable points are skipped");
    CHECK(r > 399.9 && r < 400.1, "the rate between the valid points");
    unsigned char one[] = { 0, 0, 1, 0 };
    CHECK_INT(total_rate(t, v, one, 4, 0, S, &r), 0, "one valid point: no rate");
    /* A restart (the total drops) counts as nothing, not as a huge rate. */
    uint64_t v2[] = { 1000, 1100, 5, 105 };
    CHECK_INT(total_rate(t, v2, NULL, 4, 0, S, &r), 1, "a total that restarts");
    CHECK(r > 266.6 && r < 266.7, "only the increases count (200 in 750 ms)");
    uint64_t same_t[] = { 5, 5 };
    CHECK_INT(total_rate(same_t, v, NULL, 2, 0, S, &r), 0, "no time between the points: no rate");
}

static void test_optional_columns(void)
{
    /* The Functions view's columns: OWN% TOTAL% OWN(s) TOTAL(s) +MEM -MEM
     * FUNCTION FILE, the memory columns dropped first, then the seconds. */
    const struct col_spec cols[] = {
        { 6, 6, 0, 0 }, { 7, 7, 0, 0 }, { 7, 7, 0, 3 }, { 9, 9, 0, 4 },
        { 8, 9, 0, 2 }, { 8, 9, 0, 1 }, { 10, 28, 2, 0 }, { 10, 30, 3, 0 },
    };
    int shown[8], w[8];
    CHECK_INT(layout_optional(cols, 8, 120, 1, 24, 0, 0, shown, w), 8, "120 columns: all 8");
    CHECK_INT(layout_optional(cols, 8, 80, 1, 24, 0, 0, shown, w), 6,
              "80 columns: the memory columns go");
    CHECK(shown[3] == 3 && shown[4] == 6 && shown[5] == 7, "the rest keep their order");
    CHECK_INT(w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + 5, 80, "and use the width");
    CHECK_INT(layout_optional(cols, 8, 80, 1, 24, 0, 4, shown, w), 6,
              "80 columns sorted by +MEM: it stays");
    CHECK(shown[2] == 3 && shown[3] == 4, "OWN(s) and -MEM went instead");
    CHECK_INT(layout_optional(cols, 8, 90, 1, 24, 0, 0, shown, w), 7,
              "90 columns: only -MEM goes");
    CHECK_INT(layout_optional(cols, 8, 120, 1, 24, 1u << 1, 0, shown, w), 7,
              "a hidden column is never shown");
    CHECK(shown[1] == 2, "the next one takes its place");
    CHECK_INT(layout_optional(cols, 8, 30, 1, 24, 0, -1, shown, w), 3,
              "very narrow: optional ones go, then the last ones do not fit");
    CHECK(shown[0] == 0 && shown[1] == 1 && shown[2] == 6, "the required columns first");
}

int main(void)
{
    /* fmt_fit and text_width follow the locale, as the view does. */
    if (!setlocale(LC_ALL, "C.UTF-8"))
        setlocale(LC_ALL, "en_US.UTF-8");
    UNIT_RUN(test_durations);
    UNIT_RUN(test_percent);
    UNIT_RUN(test_sizes_and_counts);
    UNIT_RUN(test_fit);
    UNIT_RUN(test_layout);
    UNIT_RUN(test_sparkline);
    UNIT_RUN(test_sparkline_unavailable);
    UNIT_RUN(test_changes_and_rates);
    UNIT_RUN(test_optional_columns);
    return unit_done();
}
