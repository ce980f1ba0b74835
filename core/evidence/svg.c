/* Small charts as inline SVG (svg.h). Every coordinate is an integer computed from the values
 * by integer arithmetic, so a chart is the same bytes wherever it is drawn. The geometry:
 * - hbars: a label column on the left, the bars on one scale to its right, each bar's text just
 *   after its end; the target a dashed vertical line over all rows, its label above it;
 * - columns: the columns side by side on one scale over a baseline, each one's text above it
 *   and its label under the baseline; the target a dashed horizontal line with its label.
 * A column's text longer than its room goes on two lines (split at its second space: "11 min"
 * over "41 s"); a label or line longer than its room is shortened with an ellipsis; the full
 * label and text stay in the bar's <title> (the tooltip, and what a screen reader says). */
#include "core/evidence/svg.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/macro.h"

/* Horizontal bars. */
#define HB_WIDTH 640
#define HB_LABEL_W 170 /* the label column */
#define HB_PLOT_W 330  /* the longest bar; room after it for its text */
#define HB_TOP 22      /* room for the target's label */
#define HB_ROW 26
#define HB_BAR 16
#define HB_LABEL_UNITS 26 /* half-width characters that fit the label column */

/* Columns. */
#define COL_WIDTH 640
#define COL_LEFT 10
#define COL_PLOT_W 500 /* the target's label to its right */
#define COL_TOP 34     /* room for the tallest column's text and the target's label */
#define COL_PLOT_H 120
#define COL_BOTTOM 24       /* room for the labels */
#define COL_MAX_W 48        /* a column is at most this wide, however few there are */
#define COL_TARGET_UNITS 22 /* half-width characters of the target's label */
#define COL_LINE 11         /* a line of a column's text on two lines */

static const char *tone_class(YbSvgTone t) {
        return t == YB_SVG_OK ? "ok" : t == YB_SVG_BAD ? "bad" : "neutral";
}

/* v on a scale where max is `room` units, rounded down: integer only, without overflow. */
static int64_t scale(int64_t v, int64_t max, int64_t room) {
        if (v <= 0 || max <= 0)
                return 0;
        if (v >= max)
                return room;
        if (max <= INT64_MAX / room)
                return v * room / max;
        return v / (max / room);
}

static int64_t largest(const YbSvgBar *bars, size_t n, int64_t target) {
        int64_t m = target > 0 ? target : 0;

        for (size_t i = 0; i < n; i++)
                m = MAX(m, bars[i].value);
        return m;
}

/* The display width of one UTF-8 character starting with byte c: 2 for the wide scripts (CJK,
 * from U+1100 on, three- and four-byte sequences but the general punctuation and symbols below
 * U+3000), else 1. Good enough to budget a label; never used to measure anything exactly. */
static size_t char_units(const unsigned char *s, size_t *ret_len) {
        size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;

        for (size_t i = 1; i < len; i++)
                if ((s[i] & 0xc0) != 0x80) {
                        len = i; /* not UTF-8: take what is there, byte by byte */
                        break;
                }
        *ret_len = len;
        if (len == 3 && (s[0] > 0xe3 || (s[0] == 0xe3 && s[1] >= 0x80)))
                return 2;
        return len == 4 ? 2 : 1;
}

/* Writes s escaped, cut to at most `units` half-width characters: when it is longer, as many
 * whole characters as fit in units - 1 and an ellipsis. */
static void text_fitted(YbHtml *h, const char *s, size_t units) {
        const unsigned char *u = (const unsigned char *) s;
        _cleanup_free_ char *part = NULL;
        size_t total = 0, cut = 0, len;

        assert(units >= 2);
        for (size_t i = 0; u[i]; i += len) {
                total += char_units(u + i, &len);
                if (total > units) {
                        part = strndup(s, cut);
                        if (!part) {
                                h->error = h->error ?: -ENOMEM;
                                return;
                        }
                        yb_html_text(h, part);
                        yb_html_raw(h, "…");
                        return;
                }
                if (total <= units - 1)
                        cut = i + len;
        }
        yb_html_text(h, s);
}

static void printf_raw(YbHtml *h, const char *fmt, ...) _printf_(2, 3);
static void printf_raw(YbHtml *h, const char *fmt, ...) {
        char s[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(s, sizeof(s), fmt, ap);
        va_end(ap);
        yb_html_raw(h, s);
}

static void bar_title(YbHtml *h, const YbSvgBar *b) {
        yb_html_raw(h, "<title>");
        yb_html_text(h, b->label);
        if (b->text && b->text[0]) {
                yb_html_raw(h, ": ");
                yb_html_text(h, b->text);
        }
        if (b->value < 0)
                yb_html_raw(h, " (no value)");
        yb_html_raw(h, "</title>");
}

/* The target's group, its full label in its <title>. */
static void target_begin(YbHtml *h, const char *label) {
        yb_html_raw(h, "\n<g class=\"target\"><title>");
        yb_html_text(h, label);
        yb_html_raw(h, "</title>");
}

/* A chart with nothing to draw says so in words instead of drawing an empty frame. */
static bool empty(YbHtml *h, const char *title, size_t n) {
        if (n > 0)
                return false;
        yb_html_raw(h, "<p class=\"chart-empty note\">");
        yb_html_text(h, title);
        yb_html_raw(h, ": nothing to chart (no values).</p>\n");
        return true;
}

static void begin(YbHtml *h, const char *kind, const char *title, int w, int64_t height) {
        printf_raw(h,
                   "<figure class=\"chart %s\">\n<svg role=\"img\" viewBox=\"0 0 %d %" PRId64
                   "\" width=\"100%%\" preserveAspectRatio=\"xMinYMin meet\">",
                   kind, w, height);
        yb_html_element(h, "title", NULL, title);
}

static void end(YbHtml *h, const char *title) {
        yb_html_raw(h, "</svg>\n");
        yb_html_element(h, "figcaption", NULL, title);
        yb_html_raw(h, "</figure>\n");
}

/* The text drawn with a bar: its text; "—" when it has neither value nor text. */
static const char *bar_text(const YbSvgBar *b) {
        if (b->value < 0 && !b->text)
                return "—";
        return b->text ? b->text : "";
}

void yb_svg_hbars(YbHtml *h, const char *title, const YbSvgBar *bars, size_t n, int64_t target,
                  const char *target_label) {
        int64_t max = largest(bars, n, target), height;

        if (empty(h, title, n))
                return;
        height = HB_TOP + (int64_t) n * HB_ROW + 4;
        begin(h, "hbars", title, HB_WIDTH, height);
        for (size_t i = 0; i < n; i++) {
                const YbSvgBar *b = &bars[i];
                int64_t y = HB_TOP + (int64_t) i * HB_ROW, w = scale(b->value, max, HB_PLOT_W);

                yb_html_raw(h, "\n<g>");
                bar_title(h, b);
                printf_raw(h,
                           "<text class=\"label\" x=\"%d\" y=\"%" PRId64
                           "\" text-anchor=\"end\" font-size=\"12\">",
                           HB_LABEL_W - 6, y + HB_BAR - 3);
                text_fitted(h, b->label ? b->label : "", HB_LABEL_UNITS);
                yb_html_raw(h, "</text>");
                if (b->value >= 0)
                        printf_raw(h,
                                   "<rect class=\"%s\" x=\"%d\" y=\"%" PRId64 "\" width=\"%" PRId64
                                   "\" height=\"%d\"/>",
                                   tone_class(b->tone), HB_LABEL_W, y, w, HB_BAR);
                printf_raw(h,
                           "<text class=\"value %s\" x=\"%" PRId64 "\" y=\"%" PRId64
                           "\" font-size=\"11\">",
                           tone_class(b->tone), HB_LABEL_W + w + 4, y + HB_BAR - 3);
                yb_html_text(h, bar_text(b));
                yb_html_raw(h, "</text></g>");
        }
        if (target >= 0) {
                int64_t x = HB_LABEL_W + scale(target, max, HB_PLOT_W);

                target_begin(h, target_label);
                printf_raw(h,
                           "<line class=\"target\" x1=\"%" PRId64 "\" y1=\"%d\" x2=\"%" PRId64
                           "\" y2=\"%" PRId64 "\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
                           "<text x=\"%" PRId64 "\" y=\"12\" text-anchor=\"middle\" "
                           "font-size=\"11\">",
                           x, HB_TOP - 6, x, height - 2, x);
                yb_html_text(h, target_label);
                yb_html_raw(h, "</text></g>");
        }
        end(h, title);
}

static size_t units_of(const char *s) {
        size_t total = 0, len;

        for (const unsigned char *u = (const unsigned char *) s; *u; u += len)
                total += char_units(u, &len);
        return total;
}

/* A column's text, its last line's baseline at y: on one line when it fits its room, else on
 * two, split at its second space ("11 min" over "41 s", "1 h" over "30 min"), so that a duration
 * keeps its words in a crowded chart; a line still too long is shortened. */
static void column_text(YbHtml *h, const YbSvgBar *b, int64_t mid, int64_t y, size_t units) {
        const char *text = bar_text(b), *split = strchr(text, ' ');
        _cleanup_free_ char *first = NULL;

        split = split ? strchr(split + 1, ' ') : NULL;
        printf_raw(h,
                   "<text class=\"value %s\" x=\"%" PRId64 "\" y=\"%" PRId64
                   "\" text-anchor=\"middle\" font-size=\"10\">",
                   tone_class(b->tone), mid, split && units_of(text) > units ? y - COL_LINE : y);
        if (!split || units_of(text) <= units) {
                text_fitted(h, text, units);
                yb_html_raw(h, "</text>");
                return;
        }
        first = strndup(text, (size_t) (split - text));
        if (!first) {
                h->error = h->error ?: -ENOMEM;
                return;
        }
        printf_raw(h, "<tspan x=\"%" PRId64 "\">", mid);
        text_fitted(h, first, units);
        printf_raw(h, "</tspan><tspan x=\"%" PRId64 "\" dy=\"%d\">", mid, COL_LINE);
        text_fitted(h, split + 1, units);
        yb_html_raw(h, "</tspan></text>");
}

void yb_svg_columns(YbHtml *h, const char *title, const YbSvgBar *bars, size_t n, int64_t target,
                    const char *target_label) {
        int64_t max = largest(bars, n, target), slot, cw, base = COL_TOP + COL_PLOT_H;
        size_t label_units;

        if (empty(h, title, n))
                return;
        slot = MIN((int64_t) (COL_PLOT_W / n), (int64_t) COL_MAX_W * 3 / 2);
        cw = MIN(slot * 2 / 3, (int64_t) COL_MAX_W);
        /* A half-width character of 10 units' type is about 5.5 units wide. */
        label_units = (size_t) MAX(slot * 2 / 11, (int64_t) 2);
        begin(h, "columns", title, COL_WIDTH, base + COL_BOTTOM);
        printf_raw(h,
                   "\n<line class=\"axis\" x1=\"%d\" y1=\"%" PRId64 "\" x2=\"%d\" y2=\"%" PRId64
                   "\" stroke-width=\"1\"/>",
                   COL_LEFT, base, COL_LEFT + COL_PLOT_W, base);
        for (size_t i = 0; i < n; i++) {
                const YbSvgBar *b = &bars[i];
                int64_t x = COL_LEFT + (int64_t) i * slot + (slot - cw) / 2,
                        ht = scale(b->value, max, COL_PLOT_H), mid = x + cw / 2;

                yb_html_raw(h, "\n<g>");
                bar_title(h, b);
                if (b->value >= 0)
                        printf_raw(h,
                                   "<rect class=\"%s\" x=\"%" PRId64 "\" y=\"%" PRId64
                                   "\" width=\"%" PRId64 "\" height=\"%" PRId64 "\"/>",
                                   tone_class(b->tone), x, base - ht, cw, ht);
                column_text(h, b, mid, base - ht - 3, label_units);
                printf_raw(h,
                           "<text class=\"label\" x=\"%" PRId64 "\" y=\"%" PRId64
                           "\" text-anchor=\"middle\" font-size=\"10\">",
                           mid, base + 14);
                text_fitted(h, b->label ? b->label : "", label_units);
                yb_html_raw(h, "</text></g>");
        }
        if (target >= 0) {
                int64_t y = base - scale(target, max, COL_PLOT_H);

                target_begin(h, target_label);
                printf_raw(h,
                           "<line class=\"target\" x1=\"%d\" y1=\"%" PRId64
                           "\" x2=\"%d\" y2=\"%" PRId64
                           "\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
                           "<text x=\"%d\" y=\"%" PRId64 "\" font-size=\"10\">",
                           COL_LEFT, y, COL_LEFT + COL_PLOT_W, y, COL_LEFT + COL_PLOT_W + 4, y + 4);
                text_fitted(h, target_label ? target_label : "", COL_TARGET_UNITS);
                yb_html_raw(h, "</text></g>");
        }
        end(h, title);
}
