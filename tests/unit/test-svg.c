/* core/evidence/svg.h: charts as inline SVG: the same calls write the same bytes, every text is
 * escaped, a chart with no values says so, long labels are shortened but kept whole in the
 * bar's title, and bars and the target line sit where the scale puts them. */
#include <stdlib.h>
#include <string.h>

#include "core/evidence/html.h"
#include "core/evidence/svg.h"
#include "test.h"

static const YbSvgBar PHASES[] = {
        { "point", 1000, "1 s", YB_SVG_OK },
        { "restore", 33000, "33 s", YB_SVG_OK },
        { "verify <&\"'>", 16500, "16.5 s <b>", YB_SVG_BAD },
        { "check", -1, NULL, YB_SVG_NEUTRAL },
};

typedef void (*Chart)(YbHtml *, const char *, const YbSvgBar *, size_t, int64_t, const char *);

/* Not inlined: gcc 12 then takes the returned page for a pointer to draw's local. */
__attribute__((noinline)) static char *draw(Chart chart, const char *title, const YbSvgBar *bars,
                                            size_t n, int64_t target, const char *target_label) {
        YbHtml h = YB_HTML_INIT;
        char *out = NULL;

        chart(&h, title, bars, n, target, target_label);
        ASSERT_OK(yb_html_finish(&h, &out));
        return out;
}

/* The integer value of attribute `name` in the first element after `after` in s. */
static long attr_after(const char *s, const char *after, const char *name) {
        char key[64];
        const char *p = strstr(s, after);

        if (!p)
                fail_msg("'%s' is not in the chart", after);
        snprintf(key, sizeof(key), " %s=\"", name);
        p = strstr(p, key);
        if (!p)
                fail_msg("no %s after '%s'", name, after);
        return strtol(p + strlen(key), NULL, 10);
}

static size_t count(const char *s, const char *what) {
        size_t n = 0;

        for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

TEST(svg_is_deterministic) {
        _cleanup_free_ char *a = draw(yb_svg_hbars, "Phases", PHASES, 4, 60000, "RTO target 1 min");
        _cleanup_free_ char *b = draw(yb_svg_hbars, "Phases", PHASES, 4, 60000, "RTO target 1 min");
        _cleanup_free_ char *c = draw(yb_svg_columns, "History", PHASES, 4, 60000, "RTO target");
        _cleanup_free_ char *d = draw(yb_svg_columns, "History", PHASES, 4, 60000, "RTO target");

        ASSERT_STREQ(a, b);
        ASSERT_STREQ(c, d);
        ASSERT_TRUE(strstr(a, "<svg role=\"img\" viewBox=\"0 0 "));
        ASSERT_TRUE(strstr(a, "<title>Phases</title>"));
        ASSERT_TRUE(strstr(a, "<figcaption>Phases</figcaption>"));
        ASSERT_TRUE(strstr(c, "<svg role=\"img\" viewBox=\"0 0 "));
        /* Three bars drawn, the one without a value as a dash and no rectangle. */
        ASSERT_EQ(count(a, "<rect "), 3);
        ASSERT_EQ(count(c, "<rect "), 3);
        ASSERT_TRUE(strstr(a, "<title>check (no value)</title>"));
        ASSERT_TRUE(strstr(a, ">—</text>"));
        ASSERT_TRUE(strstr(a, "<rect class=\"bad\""));
        ASSERT_TRUE(strstr(a, "<rect class=\"ok\""));
        /* Nothing names anything outside the page (an xmlns URL included). */
        ASSERT_FALSE(strstr(a, "http"));
        ASSERT_FALSE(strstr(c, "http"));
}

TEST(svg_escapes_every_text) {
        YbSvgBar evil = { "<script>alert(1)</script>", 5, "a&b", YB_SVG_NEUTRAL };
        _cleanup_free_ char *a = draw(yb_svg_hbars, "T <i>", PHASES, 4, 10, "x</text><y>");
        _cleanup_free_ char *c = draw(yb_svg_columns, "&", &evil, 1, -1, NULL);

        ASSERT_TRUE(strstr(a, "verify &lt;&amp;&quot;&#39;&gt;"));
        ASSERT_TRUE(strstr(a, "16.5 s &lt;b&gt;"));
        ASSERT_TRUE(strstr(a, "<title>T &lt;i&gt;</title>"));
        ASSERT_TRUE(strstr(a, "x&lt;/text&gt;&lt;y&gt;"));
        ASSERT_FALSE(strstr(a, "<b>"));
        ASSERT_FALSE(strstr(c, "<script"));
        ASSERT_TRUE(strstr(c, "<title>&lt;script&gt;alert(1)&lt;/script&gt;: a&amp;b</title>"));
        ASSERT_TRUE(strstr(c, "<title>&amp;</title>"));
}

TEST(svg_empty_chart_says_so) {
        _cleanup_free_ char *a = draw(yb_svg_hbars, "Phases", NULL, 0, 100, "target");
        _cleanup_free_ char *c = draw(yb_svg_columns, "History <x>", NULL, 0, -1, NULL);

        ASSERT_FALSE(strstr(a, "<svg"));
        ASSERT_FALSE(strstr(c, "<svg"));
        ASSERT_TRUE(strstr(a, "Phases: nothing to chart (no values)."));
        ASSERT_TRUE(strstr(c, "History &lt;x&gt;: nothing to chart"));
}

TEST(svg_target_line_and_bars_on_one_scale) {
        /* hbars: label column 170, longest bar 330 units; the scale's top is the largest of the
         * values and the target. */
        _cleanup_free_ char *a = draw(yb_svg_hbars, "P", PHASES, 4, 66000, "RTO");
        _cleanup_free_ char *b = draw(yb_svg_hbars, "P", PHASES, 4, 11000, "RTO");
        _cleanup_free_ char *n = draw(yb_svg_hbars, "P", PHASES, 4, -1, NULL);
        _cleanup_free_ char *c = draw(yb_svg_columns, "H", PHASES, 4, 66000, "RTO");

        ASSERT_EQ(attr_after(a, "<line class=\"target\"", "x1"), 170 + 330);
        ASSERT_EQ(attr_after(a, "<line class=\"target\"", "x2"), 170 + 330);
        ASSERT_EQ(attr_after(a, "<title>restore: 33 s</title><text", "x"), 164);
        ASSERT_EQ(attr_after(a, "<title>restore: 33 s</title>", "width"), 165);
        ASSERT_EQ(attr_after(a, "<title>point: 1 s</title>", "width"), 5);
        /* The target below the longest bar: the bar takes the whole width. */
        ASSERT_EQ(attr_after(b, "<title>restore: 33 s</title>", "width"), 330);
        ASSERT_EQ(attr_after(b, "<line class=\"target\"", "x1"), 170 + 110);
        ASSERT_FALSE(strstr(n, "class=\"target\""));
        /* columns: baseline at 34 + 120; the target, the largest, at the top. */
        ASSERT_EQ(attr_after(c, "<line class=\"target\"", "y1"), 154 - 120);
        ASSERT_EQ(attr_after(c, "<title>restore: 33 s</title>", "height"), 60);
        ASSERT_EQ(attr_after(c, "<title>restore: 33 s</title>", "y"), 154 - 60);
        /* Oldest left: the columns' x grow. */
        ASSERT_LT(attr_after(c, "<title>point", "x"), attr_after(c, "<title>restore", "x"));
}

TEST(svg_long_labels_shortened_and_kept_in_title) {
        static const char LONG[] = "市人力资源和社会保障局人事门户网站的数据库服务器";
        YbSvgBar bar = { LONG, 10, "10 s", YB_SVG_OK };
        _cleanup_free_ char *a = draw(yb_svg_hbars, "P", &bar, 1, -1, NULL);
        const char *label;

        ASSERT_TRUE(
                strstr(a, "<title>市人力资源和社会保障局人事门户网站的数据库服务器: 10 s</title>"));
        label = strstr(a, "class=\"label\"");
        ASSERT_TRUE(label);
        /* 26 half-width units: twelve CJK characters and the ellipsis. */
        ASSERT_TRUE(strstr(label, ">市人力资源和社会保障局人…</text>"));
        /* A target's label too, kept whole in its group's title. */
        {
                _cleanup_free_ char *c = draw(yb_svg_columns, "H", &bar, 1, 5,
                                              "RTO target 2 h 30 min, the policy of 2026");

                ASSERT_TRUE(strstr(c, "<g class=\"target\"><title>RTO target 2 h 30 min, the "
                                      "policy of 2026</title>"));
                ASSERT_TRUE(strstr(c, ">RTO target 2 h 30 min…</text>"));
        }
        /* Short labels are left alone. */
        bar.label = "restore";
        {
                _cleanup_free_ char *s = draw(yb_svg_hbars, "P", &bar, 1, -1, NULL);

                ASSERT_TRUE(strstr(s, ">restore</text>"));
                ASSERT_FALSE(strstr(s, "…"));
        }
}

/* Twelve columns leave seven half-width characters over each: a duration too long for one line
 * goes on two, its words whole ("11 min" over "41 s"); one that fits stays on one. */
TEST(svg_column_text_on_two_lines_when_crowded) {
        YbSvgBar bars[12];
        _cleanup_free_ char *c = NULL;
        const char *t;

        for (size_t i = 0; i < 12; i++)
                bars[i] = (YbSvgBar){ "2026-01", 1000, "18 ms", YB_SVG_OK };
        bars[3].text = "11 min 41 s";
        bars[4].text = "1 h 30 min";
        c = draw(yb_svg_columns, "H", bars, 12, -1, NULL);
        t = strstr(c, "<title>2026-01: 11 min 41 s</title>");
        ASSERT_TRUE(t);
        t = strstr(t, "<text class=\"value ok\"");
        ASSERT_TRUE(t);
        /* The first line 11 units above where one line would stand. */
        ASSERT_EQ(attr_after(t, "", "y"), 154 - 120 - 3 - 11);
        ASSERT_TRUE(strstr(t, ">11 min</tspan><tspan x=\"") &&
                    strstr(t, "\" dy=\"11\">41 s</tspan>"));
        ASSERT_TRUE(strstr(c, ">1 h</tspan>"));
        ASSERT_TRUE(strstr(c, "\" dy=\"11\">30 min</tspan></text>"));
        ASSERT_TRUE(strstr(c, ">18 ms</text>"));
        ASSERT_FALSE(strstr(c, "…"));
}
