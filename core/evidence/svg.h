/* core/evidence/svg.h: small charts drawn as inline SVG into a page (core/evidence/html.h): a
 * drill's phases against its RTO target, a system's drill history, a report's figures. Values
 * are integers in the chart's unit (ms, seconds, bytes, per mille), so that a chart is a pure
 * function of its input, as the page is: the same calls write the same bytes. Each chart is an
 * <svg> with role="img", a <title> and a viewBox (it scales to the page's width and prints),
 * every text escaped; colours come from the page's stylesheet classes "ok", "bad", "neutral",
 * which yb_html_begin's shared stylesheet defines. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/evidence/html.h"

typedef enum YbSvgTone {
        YB_SVG_NEUTRAL,
        YB_SVG_OK,
        YB_SVG_BAD,
} YbSvgTone;

/* One bar (or column). */
typedef struct YbSvgBar {
        const char *label; /* what it is (drawn beside or under it) */
        int64_t value; /* its length in the chart's unit; < 0: no value (no bar; its text, else "—")
                        */
        const char *text; /* the value as people read it ("4 min 12 s"), drawn with the bar */
        YbSvgTone tone;
} YbSvgBar;

/* Horizontal bars, one under the other, on one scale from 0 to the largest of the values and
 * target; target >= 0 draws a vertical line across them labelled target_label (say "RTO
 * target 2 h"); target < 0 draws none. title names the chart (its <title> and a caption). */
void yb_svg_hbars(YbHtml *h, const char *title, const YbSvgBar *bars, size_t n, int64_t target,
                  const char *target_label);
/* Columns side by side (a history: oldest left), with the same scale, target and labels rule;
 * a label is drawn under its column, its text over it (on two lines, split at the text's second
 * space, when one is too narrow for it: "11 min" over "41 s"). */
void yb_svg_columns(YbHtml *h, const char *title, const YbSvgBar *bars, size_t n, int64_t target,
                    const char *target_label);
