/* core/evidence/report-html.c: the report's page (report-html.h). Per department: four charts
 * and one table of every system's numbers; texts come from the report only, escaped. */
#include "core/evidence/report-html.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/evidence/html.h"
#include "core/evidence/jsonwrite.h"
#include "core/evidence/svg.h"

/* Room for one figure's text, and for a line made of several. */
#define TEXT 96
#define LINE (4 * TEXT)

static json_t *get(json_t *o, const char *a) {
        return json_object_get(o, a);
}

static const char *str(json_t *o, const char *a) {
        return json_string_value(get(o, a)) ?: "";
}

/* The integer member a of o, or -1 when it is null or not an integer. */
static int64_t num(json_t *o, const char *a) {
        json_t *v = get(o, a);

        return json_is_integer(v) ? (int64_t) json_integer_value(v) : -1;
}

/* "99.9 %" for a per mille. */
static const char *per_mille_text(int64_t v, char buf[TEXT]) {
        if (v < 0)
                return "unknown";
        snprintf(buf, TEXT, "%" PRId64 ".%" PRId64 " %%", v / 10, v % 10);
        return buf;
}

/* "3 d 4 h", "12 min 5 s", "800 ms" for a length in ms. */
static const char *span_text(int64_t ms, char buf[TEXT]) {
        int64_t s = ms / 1000;

        if (ms < 0)
                return "unknown";
        if (ms < 1000)
                snprintf(buf, TEXT, "%" PRId64 " ms", ms);
        else if (s < 60)
                snprintf(buf, TEXT, "%" PRId64 ".%" PRId64 " s", s, ms % 1000 / 100);
        else if (s < 3600)
                snprintf(buf, TEXT, "%" PRId64 " min %" PRId64 " s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, TEXT, "%" PRId64 " h %" PRId64 " min", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, TEXT, "%" PRId64 " d %" PRId64 " h", s / 86400, s % 86400 / 3600);
        return buf;
}

/* "1.2 GiB", or with a sign for growth. */
static const char *bytes_text(int64_t v, bool sign, char buf[TEXT]) {
        char b[32];

        yb_format_bytes((uint64_t) (v < 0 ? -v : v), b);
        snprintf(buf, TEXT, "%s%s", v < 0 ? "−" : sign ? "+" : "", b);
        return buf;
}

/* The bars of one chart: at most one per system and tier of the department, texts kept. */
typedef struct Chart {
        YbSvgBar *bars;
        char (*text)[LINE];
        char (*label)[TEXT];
        size_t n, max;
} Chart;

static int chart_init(Chart *c, size_t max) {
        *c = (Chart){ .max = max };
        c->bars = calloc(max ? max : 1, sizeof(*c->bars));
        c->text = calloc(max ? max : 1, sizeof(*c->text));
        c->label = calloc(max ? max : 1, sizeof(*c->label));
        return c->bars && c->text && c->label ? 0 : -ENOMEM;
}

static void chart_done(Chart *c) {
        free(c->bars);
        free(c->text);
        free(c->label);
}

/* The next bar, its label from fmt; NULL when full. The chart cuts a long label at its end, so
 * what tells the bars apart (the system's id, the tier, the drill's number) comes first and the
 * name after. */
static YbSvgBar *chart_add(Chart *c, const char *fmt, ...) _printf_(2, 3);
static YbSvgBar *chart_add(Chart *c, const char *fmt, ...) {
        YbSvgBar *b;
        va_list ap;

        if (c->n >= c->max)
                return NULL;
        va_start(ap, fmt);
        vsnprintf(c->label[c->n], TEXT, fmt, ap);
        va_end(ap);
        b = &c->bars[c->n];
        *b = (YbSvgBar){ .label = c->label[c->n], .value = -1, .text = c->text[c->n] };
        c->n++;
        return b;
}

static char *chart_text(Chart *c) {
        return c->text[c->n - 1];
}

/* Bars a printed chart holds: 30 rows of svg.h's hbars fit an A4 page with the title and the
 * caption, and a chart is never split across pages (html.c: figure.chart avoids breaks). */
#define CHART_ROWS 30

/* yb_svg_hbars, in charts of at most CHART_ROWS bars: a department of many systems would
 * otherwise draw a chart taller than a page, which print cuts through its bars. Each part is
 * titled with the bars it holds (and drawn on its own scale: the values are written beside the
 * bars). */
static void hbars(YbHtml *h, const char *title, const YbSvgBar *bars, size_t n, int64_t target,
                  const char *target_label) {
        char t[LINE];

        if (n <= CHART_ROWS) {
                yb_svg_hbars(h, title, bars, n, target, target_label);
                return;
        }
        for (size_t i = 0; i < n; i += CHART_ROWS) {
                size_t k = MIN(n - i, (size_t) CHART_ROWS);

                snprintf(t, sizeof(t), "%s (bars %zu to %zu of %zu)", title, i + 1, i + k, n);
                yb_svg_hbars(h, t, bars + i, k, target, target_label);
        }
}

static int rpo_chart(YbHtml *h, json_t *systems) {
        Chart c;
        json_t *s;
        size_t i;

        if (chart_init(&c, json_array_size(systems)) < 0)
                return -ENOMEM;
        json_array_foreach(systems, i, s) {
                json_t *rpo = get(s, "rpo");
                YbSvgBar *b = chart_add(&c, "%s %s", str(s, "id"), str(s, "name"));
                int64_t v = num(rpo, "met_per_mille");

                b->value = v;
                b->tone = v < 0 ? YB_SVG_NEUTRAL : v >= 1000 ? YB_SVG_OK : YB_SVG_BAD;
                if (v < 0)
                        snprintf(chart_text(&c), LINE, "unknown: %s", str(rpo, "reason"));
                else
                        per_mille_text(v, chart_text(&c));
        }
        hbars(h, "RPO met: the share of the period the newest good snapshot was within the RPO",
              c.bars, c.n, 1000, "100 %");
        chart_done(&c);
        return 0;
}

static int lag_chart(YbHtml *h, json_t *systems) {
        int64_t target = -2;
        char label[TEXT], t[TEXT], u[TEXT];
        Chart c;
        json_t *s;
        size_t i;

        /* One target line when every system has the same max_lag; else each bar says its own. */
        json_array_foreach(systems, i, s) {
                json_t *lag = get(s, "lag");

                if (!streq(str(lag, "state"), "no tier 2"))
                        target = target == -2 || target == num(lag, "max_lag_ms")
                                         ? num(lag, "max_lag_ms")
                                         : -1;
        }
        if (chart_init(&c, json_array_size(systems)) < 0)
                return -ENOMEM;
        json_array_foreach(systems, i, s) {
                json_t *lag = get(s, "lag");
                int64_t p99 = num(lag, "p99_ms"), max_lag = num(lag, "max_lag_ms");
                YbSvgBar *b;

                if (streq(str(lag, "state"), "no tier 2"))
                        continue;
                b = chart_add(&c, "%s %s", str(s, "id"), str(s, "name"));
                b->value = p99;
                b->tone = p99 < 0 ? YB_SVG_NEUTRAL : p99 > max_lag ? YB_SVG_BAD : YB_SVG_OK;
                if (p99 < 0)
                        snprintf(chart_text(&c), LINE, "%s",
                                 streq(str(lag, "state"), "ok") ? "unknown" : str(lag, "state"));
                else if (target >= 0)
                        snprintf(chart_text(&c), LINE, "p99 %s", span_text(p99, t));
                else
                        snprintf(chart_text(&c), LINE, "p99 %s, max_lag %s", span_text(p99, t),
                                 span_text(max_lag, u));
        }
        snprintf(label, sizeof(label), "max_lag %s", span_text(target, t));
        hbars(h, "Tier 2: the lag's p99 (approximate) against max_lag", c.bars, c.n,
              target >= 0 ? target : -1, label);
        chart_done(&c);
        return 0;
}

static int storage_chart(YbHtml *h, json_t *systems) {
        size_t i, k, n = 0;
        json_t *s, *st;
        Chart c;

        json_array_foreach(systems, i, s) n += json_array_size(get(s, "storage"));
        if (chart_init(&c, n) < 0)
                return -ENOMEM;
        json_array_foreach(systems, i, s) {
                json_array_foreach(get(s, "storage"), k, st) {
                        int64_t end = num(get(st, "end"), "bytes"),
                                growth = num(st, "growth_bytes");
                        YbSvgBar *b = chart_add(&c, "%s tier %" PRId64 " %s", str(s, "id"),
                                                num(st, "tier"), str(s, "name"));
                        char t1[TEXT], t2[TEXT];

                        b->value = end;
                        b->tone = YB_SVG_NEUTRAL;
                        /* At most 22 characters: the longest bar leaves that much room
                         * to its right (the title says what "?" is). */
                        if (end < 0)
                                snprintf(chart_text(&c), LINE, "no sample");
                        else if (!json_is_integer(get(st, "growth_bytes")))
                                snprintf(chart_text(&c), LINE, "%s (?)",
                                         bytes_text(end, false, t1));
                        else
                                snprintf(chart_text(&c), LINE, "%s (%s)",
                                         bytes_text(end, false, t1), bytes_text(growth, true, t2));
                }
        }
        hbars(h,
              "Storage used per tier at the period's end (its growth over the period; ?: no "
              "sample at the period's start)",
              c.bars, c.n, -1, NULL);
        chart_done(&c);
        return 0;
}

static int drills_chart(YbHtml *h, json_t *systems) {
        size_t i, k, n = 0;
        json_t *s, *d;
        Chart c;

        json_array_foreach(systems, i, s) n += json_array_size(get(get(s, "drills"), "list"));
        if (chart_init(&c, n) < 0)
                return -ENOMEM;
        json_array_foreach(systems, i, s) {
                json_array_foreach(get(get(s, "drills"), "list"), k, d) {
                        YbSvgBar *b = chart_add(&c, "#%" PRId64 " %s %s", num(d, "id"),
                                                str(s, "id"), str(s, "name"));
                        const char *state = str(d, "state");
                        char t[TEXT];

                        b->value = num(d, "rto_ms");
                        /* Green only for a drill that passed within both objectives. */
                        bool missed = streq(state, "passed") && (json_is_false(get(d, "rto_met")) ||
                                                                 json_is_false(get(d, "rpo_met")));

                        b->tone = streq(state, "passed") && !missed ? YB_SVG_OK
                                  : streq(state, "running")         ? YB_SVG_NEUTRAL
                                                                    : YB_SVG_BAD;
                        if (missed)
                                snprintf(chart_text(&c), LINE, "passed, RTO %s; %s%s%s not met",
                                         span_text(b->value, t),
                                         json_is_false(get(d, "rto_met")) ? "RTO" : "",
                                         json_is_false(get(d, "rto_met")) &&
                                                         json_is_false(get(d, "rpo_met"))
                                                 ? " and "
                                                 : "",
                                         json_is_false(get(d, "rpo_met")) ? "RPO" : "");
                        else if (streq(state, "failed"))
                                snprintf(chart_text(&c), LINE, "failed at %s",
                                         str(d, "failed_phase"));
                        else if (b->value >= 0)
                                snprintf(chart_text(&c), LINE, "%s, RTO %s", state,
                                         span_text(b->value, t));
                        else
                                snprintf(chart_text(&c), LINE, "%s", state);
                }
        }
        hbars(h, "Drills in the period: the recovery time achieved (RTO)", c.bars, c.n, -1, NULL);
        chart_done(&c);
        return 0;
}

static void cell(YbHtml *h, const char *cls, const char *text) {
        yb_html_element(h, "td", cls, text);
}

static void system_row(YbHtml *h, json_t *s) {
        json_t *jobs = get(s, "jobs"), *rpo = get(s, "rpo"), *lag = get(s, "lag"),
               *off = get(s, "offsite"), *dr = get(s, "drills"), *lb = get(rpo, "longest_breach");
        char t[TEXT], u[LINE], v[TEXT];

        yb_html_raw(h, "<tr>");
        yb_html_raw(h, "<td>");
        yb_html_text(h, str(s, "name"));
        yb_html_raw(h, "<br><span class=\"mono\">");
        yb_html_text(h, str(s, "id"));
        yb_html_raw(h, "</span></td>");
        snprintf(t, sizeof(t),
                 "%" PRId64 " run, %" PRId64 " failed, %" PRId64 " partial, %" PRId64 " cancelled",
                 num(jobs, "run"), num(jobs, "failed"), num(jobs, "partial"),
                 num(jobs, "cancelled"));
        cell(h, num(jobs, "failed") > 0 ? "bad" : NULL, t);
        if (num(rpo, "met_per_mille") < 0)
                cell(h, "neutral", str(rpo, "reason"));
        else {
                snprintf(u, sizeof(u), "%s of the %s yunbakd watched (from %s to %s)",
                         per_mille_text(num(rpo, "met_per_mille"), t),
                         span_text(num(rpo, "seen_seconds") * 1000, v), str(rpo, "seen_from"),
                         str(rpo, "seen_to"));
                if (json_is_object(lb)) {
                        size_t len = strlen(u);

                        snprintf(u + len, sizeof(u) - len, "; longest breach %s from %s",
                                 span_text(num(lb, "seconds") * 1000, v), str(lb, "start"));
                }
                if (get(rpo, "note")) {
                        size_t len = strlen(u);

                        snprintf(u + len, sizeof(u) - len, "; %s", str(rpo, "note"));
                }
                cell(h, num(rpo, "met_per_mille") >= 1000 ? "ok" : "bad", u);
        }
        if (!streq(str(lag, "state"), "ok"))
                cell(h, "neutral", str(lag, "state"));
        else {
                char a[TEXT], b[TEXT], c[TEXT];

                snprintf(u, sizeof(u),
                         "p50 %s, p99 %s, max %s (approximate); unknown %" PRId64 " s",
                         span_text(num(lag, "p50_ms"), a), span_text(num(lag, "p99_ms"), b),
                         span_text(num(lag, "max_ms"), c), num(lag, "unknown_seconds"));
                if (json_is_object(get(lag, "running_hour"))) {
                        size_t len = strlen(u);

                        snprintf(u + len, sizeof(u) - len, "; with the hour from %s so far",
                                 str(get(lag, "running_hour"), "hour"));
                }
                cell(h, num(lag, "max_ms") > num(lag, "max_lag_ms") ? "bad" : NULL, u);
        }
        if (!streq(str(off, "state"), "ok"))
                cell(h, "neutral", str(off, "state"));
        else if (!json_is_object(get(off, "newest")))
                cell(h, "bad", str(off, "reason"));
        else {
                snprintf(u, sizeof(u), "%s old (%s); %" PRId64 " copies, %" PRId64 " failed",
                         span_text(num(get(off, "newest"), "age_seconds") * 1000, t),
                         str(get(off, "newest"), "id"), num(off, "copies"),
                         num(off, "copies_failed"));
                cell(h, NULL, u);
        }
        snprintf(u, sizeof(u),
                 "%" PRId64 " passed (%" PRId64 " of them missed the RTO or RPO), %" PRId64
                 " failed, %" PRId64 " running, %" PRId64 " abandoned%s",
                 num(dr, "passed"), num(dr, "objectives_missed"), num(dr, "failed"),
                 num(dr, "running"), num(dr, "abandoned"),
                 json_is_true(get(dr, "overdue"))    ? "; OVERDUE"
                 : json_is_false(get(dr, "overdue")) ? ""
                                                     : "; overdue: unknown");
        cell(h,
             json_is_true(get(dr, "overdue")) || num(dr, "objectives_missed") > 0 ||
                             num(dr, "failed") > 0 || num(dr, "abandoned") > 0
                     ? "bad"
                     : NULL,
             u);
        yb_html_raw(h, "</tr>\n");
}

static const char *or_unknown(json_t *o, const char *a, char buf[TEXT]) {
        if (!json_is_integer(get(o, a)))
                return json_is_boolean(get(o, a)) ? (json_is_true(get(o, a)) ? "yes" : "no") : "-";
        snprintf(buf, TEXT, "%" PRId64, num(o, a));
        return buf;
}

/* Per system and tier: the samples at both bounds and the growth; "no sample" when none. */
static void storage_table(YbHtml *h, json_t *systems) {
        json_t *s, *st;
        size_t i, k;

        yb_html_raw(h, "<table>\n<thead><tr><th>System</th><th>Tier</th><th>Store</th>"
                       "<th>At the start</th><th>At the end</th><th>Growth</th></tr></thead>\n"
                       "<tbody>\n");
        json_array_foreach(systems, i, s) {
                json_array_foreach(get(s, "storage"), k, st) {
                        json_t *a = get(st, "start"), *b = get(st, "end");
                        char t[TEXT], u[LINE], w[TEXT];

                        yb_html_raw(h, "<tr>");
                        cell(h, NULL, str(s, "name"));
                        cell(h, NULL, or_unknown(st, "tier", t));
                        cell(h, "mono", str(st, "store"));
                        snprintf(u, sizeof(u), "%s, %s snapshot%s (%.10s)",
                                 bytes_text(num(a, "bytes"), false, t),
                                 or_unknown(a, "snapshots", w), num(a, "snapshots") == 1 ? "" : "s",
                                 str(a, "day"));
                        cell(h, a ? NULL : "neutral", json_is_object(a) ? u : "no sample");
                        snprintf(u, sizeof(u), "%s, %s snapshot%s (%.10s)",
                                 bytes_text(num(b, "bytes"), false, t),
                                 or_unknown(b, "snapshots", w), num(b, "snapshots") == 1 ? "" : "s",
                                 str(b, "day"));
                        cell(h, b ? NULL : "neutral", json_is_object(b) ? u : "no sample");
                        if (json_is_integer(get(st, "growth_bytes")))
                                cell(h, NULL, bytes_text(num(st, "growth_bytes"), true, u));
                        else
                                cell(h, "neutral", "no sample");
                        yb_html_raw(h, "</tr>\n");
                }
        }
        yb_html_raw(h, "</tbody>\n</table>\n");
}

/* Every drill of the period with its figures. */
static void drills_table(YbHtml *h, json_t *systems) {
        json_t *s, *d;
        size_t i, k, n = 0;

        json_array_foreach(systems, i, s) n += json_array_size(get(get(s, "drills"), "list"));
        if (n == 0)
                return;
        yb_html_raw(h, "<table>\n<thead><tr><th>Drill</th><th>System</th><th>Started</th>"
                       "<th>Tier</th><th>Scenario</th><th>Result</th><th>RTO (ms)</th>"
                       "<th>RPO (s)</th><th>RTO met</th><th>RPO met</th></tr></thead>\n"
                       "<tbody>\n");
        json_array_foreach(systems, i, s) {
                json_array_foreach(get(get(s, "drills"), "list"), k, d) {
                        const char *state = str(d, "state");
                        char t[TEXT], u[TEXT];

                        yb_html_raw(h, "<tr>");
                        cell(h, NULL, or_unknown(d, "id", t));
                        cell(h, NULL, str(s, "name"));
                        cell(h, NULL, str(d, "started"));
                        cell(h, NULL, or_unknown(d, "tier", t));
                        cell(h, NULL, str(d, "scenario"));
                        snprintf(u, sizeof(u), "%s%s%s", state,
                                 json_is_string(get(d, "failed_phase")) ? " at " : "",
                                 str(d, "failed_phase"));
                        cell(h, streq(state, "passed") ? "ok" : "bad", u);
                        cell(h, NULL, or_unknown(d, "rto_ms", t));
                        cell(h, NULL, or_unknown(d, "rpo_seconds", t));
                        cell(h, NULL, or_unknown(d, "rto_met", t));
                        cell(h, NULL, or_unknown(d, "rpo_met", t));
                        yb_html_raw(h, "</tr>\n");
                }
        }
        yb_html_raw(h, "</tbody>\n</table>\n");
}

static int department(YbHtml *h, json_t *dep) {
        json_t *systems = get(dep, "systems"), *s;
        size_t i;
        int r;

        yb_html_element(h, "h2", NULL, str(dep, "name"));
        if ((r = rpo_chart(h, systems)) < 0 || (r = lag_chart(h, systems)) < 0 ||
            (r = storage_chart(h, systems)) < 0 || (r = drills_chart(h, systems)) < 0)
                return r;
        yb_html_raw(h, "<table>\n<thead><tr><th>System</th><th>Tier-1 jobs</th><th>RPO met</th>"
                       "<th>Tier-2 lag</th><th>Newest off-site copy</th><th>Drills</th></tr>"
                       "</thead>\n<tbody>\n");
        json_array_foreach(systems, i, s) system_row(h, s);
        yb_html_raw(h, "</tbody>\n</table>\n");
        storage_table(h, systems);
        drills_table(h, systems);
        return 0;
}

int yb_report_html(const json_t *report_const, const char *period, char **ret, char *why,
                   size_t why_size) {
        _cleanup_(yb_html_done) YbHtml h = YB_HTML_INIT;
        _cleanup_(yb_buf_done) YbBuf json = YB_BUF_INIT;
        json_t *report = (json_t *) report_const, *p = get(report, "period"), *dep;
        char title[256];
        size_t i;
        int r;

        r = yb_json_write(report, -1, NULL, &json, why, why_size);
        if (r < 0)
                return r;
        snprintf(title, sizeof(title), "Backup and recovery report %s", period ?: str(p, "from"));
        yb_html_begin(&h, "zh-CN", title, NULL);
        yb_html_element(&h, "h1", NULL, title);
        yb_html_raw(&h, "<table class=\"facts\">\n");
        yb_html_fact(&h, "Period", period ?: "");
        {
                char t[160];

                snprintf(t, sizeof(t), "from %s to %s (UTC; the end not included)", str(p, "from"),
                         str(p, "to"));
                yb_html_fact(&h, "Bounds", t);
        }
        yb_html_fact(&h, "Made by yunbakd at", str(p, "now"));
        yb_html_raw(&h, "</table>\n");
        yb_html_element(&h, "p", "note",
                        "Every number is defined in docs/reports.md. Tier 2's p50 and p99 are "
                        "approximate (the hours' figures, weighted by their samples); a figure "
                        "yunbakd could not know says why, never 0.");
        if (json_array_size(get(report, "departments")) == 0)
                yb_html_element(&h, "p", NULL, "No system is in this report.");
        json_array_foreach(get(report, "departments"), i, dep) {
                r = department(&h, dep);
                if (r < 0)
                        return r;
        }
        yb_html_json(&h, "yunbak-report", (const char *) json.data, json.size);
        yb_html_end(&h);
        return yb_html_finish(&h, ret);
}
