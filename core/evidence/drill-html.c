/* The drill record as a page (drill.h: yb_drill_html): one A4-printable, self-contained HTML
 * file read only from the checked record (yb_drill_read), so the same record always gives the
 * same bytes; the record's JSON file is embedded, which is what `yunbak drill verify` reads back
 * and compares the page against. The result comes first, in large type; a failed drill names its
 * phase and error there. Figures nobody measured say "unknown" or "not achieved", never 0. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/evidence/drill.h"
#include "core/evidence/html.h"
#include "core/evidence/signed-file.h"
#include "core/evidence/signed.h"
#include "core/evidence/svg.h"

static const char CSS[] = ".verdict { font-size: 20pt; font-weight: 700; margin: .6rem 0 .2rem; }\n"
                          ".verdict.bad { border-color: #b00020; background: #fdecee; }\n"
                          ".verdict .why { display: block; font-size: 12pt; font-weight: 600; }\n"
                          "table.objectives td.judged { font-weight: 700; }\n"
                          "@media print { .verdict { font-size: 16pt; } }\n";

static void verdict(YbHtml *h, const YbDrill *d) {
        if (d->passed) {
                yb_html_raw(h, "<div class=\"result verdict ok\">Passed");
                yb_html_raw(h, "<span class=\"why\">");
                yb_html_textf(h, "Restored from tier %" PRId64 "; every phase passed:", d->tier);
                for (size_t i = 0; i < d->n_phases; i++)
                        yb_html_textf(h, "%s %s", i ? "," : "", d->phases[i].name);
                yb_html_text(h, ".");
                if (!d->has_check && d->n_pg == 0)
                        yb_html_text(h, " No check command or PostgreSQL query ran (the policy has "
                                        "none): the files were restored, the service itself "
                                        "was not tested.");
                yb_html_raw(h, "</span></div>\n");
                return;
        }
        yb_html_raw(h, "<div class=\"result verdict bad\">Failed");
        yb_html_raw(h, "<span class=\"why\">");
        yb_html_textf(h, "at phase %s: %s", d->failed_phase, d->error);
        yb_html_raw(h, "</span></div>\n");
}

static void about(YbHtml *h, const YbDrill *d) {
        char t[40];

        yb_html_raw(h, "<h2>The drill</h2>\n<table class=\"facts\">\n");
        yb_html_factf(h, "System", "%s (%s)", d->system_name, d->system_id);
        yb_html_fact(h, "Department", d->department ?: "(none named)");
        yb_html_fact(h, "Grade", d->grade ?: "(none named)");
        yb_html_fact(h, "Scenario", d->scenario);
        yb_html_factf(h, "Tier and store", "tier %" PRId64 ": %s%s%s%s", d->tier, d->store_name,
                      d->store_location ? " (" : "", d->store_location ?: "",
                      d->store_location ? ")" : "");
        yb_html_factf(h, "Run by", "%s on %s", d->run_by, d->host ?: "an unnamed host");
        yb_html_fact(h, "Started", yb_drill_format_time(d->started, t));
        yb_html_fact(h, "Reported", yb_drill_format_time(d->reported, t));
        if (d->observed_ms >= 0) {
                char ms[32];

                yb_html_factf(h, "Seen by yunbakd", "%s between the start and the report",
                              yb_drill_format_ms(d->observed_ms, ms));
        }
        yb_html_raw(h, "</table>\n");
        if (!d->has_point) {
                yb_html_raw(h, "<h2>The point restored</h2>\n");
                yb_html_element(h, "p", "bad", "No point was found to restore.");
                return;
        }
        if (yb_drill_phase_passed(d, "restore"))
                yb_html_raw(h, "<h2>The point restored</h2>\n");
        else
                yb_html_raw(h, "<h2>The point found (not restored: the drill failed first)</h2>\n");
        yb_html_raw(h, "<table class=\"facts\">\n");
        yb_html_fact(h, "Point", d->point_id);
        yb_html_factf(h, "Level", "%s%s", d->point_level ?: "unknown",
                      d->point_partial ? " (partial: its backup left out part of what it was "
                                         "to hold)"
                                       : "");
        yb_html_factf(h, "Time", "%s%s", yb_drill_format_time(d->point_time, t),
                      !d->point_time_from                    ? ""
                      : streq(d->point_time_from, "catalog") ? " (from yunbakd's catalog)"
                                                             : " (as the drill's run reported it)");
        if (d->point_requested_at)
                yb_html_factf(h, "Asked for", "at or before %s",
                              yb_drill_format_time(d->point_requested_at, t));
        if (d->rpo_seconds >= 0) {
                char s[32];

                yb_html_factf(h, "Age at the drill's start", "%s",
                              yb_drill_format_seconds(d->rpo_seconds, s));
        }
        yb_html_raw(h, "</table>\n");
}

/* One row of the objectives' table: the target, what was achieved, and yunbakd's judgement. */
static void objective(YbHtml *h, const char *name, const char *target, const char *achieved,
                      YbDrillTri met) {
        yb_html_raw(h, "<tr><th>");
        yb_html_text(h, name);
        yb_html_raw(h, "</th><td>");
        yb_html_text(h, target);
        yb_html_raw(h, "</td><td>");
        yb_html_text(h, achieved);
        yb_html_raw(h, met == YB_DRILL_YES  ? "</td><td class=\"judged ok\">met"
                       : met == YB_DRILL_NO ? "</td><td class=\"judged bad\">not met"
                                            : "</td><td class=\"judged neutral\">not judged");
        yb_html_raw(h, "</td></tr>\n");
}

static void objectives(YbHtml *h, const YbDrill *d) {
        char t[32], a[32];

        yb_html_raw(h, "<h2>Recovery time and point</h2>\n<table class=\"objectives\">\n"
                       "<thead><tr><th>Objective</th><th>Target</th><th>Achieved</th>"
                       "<th>Judged by yunbakd</th></tr></thead>\n<tbody>\n");
        objective(h, "RTO (time to recover)",
                  d->rto_target_seconds < 0 ? "none set"
                                            : yb_drill_format_seconds(d->rto_target_seconds, t),
                  yb_drill_achieved_rto(d, a), d->rto_met);
        objective(h, "RPO (data that could be lost)",
                  d->rpo_target_seconds < 0 ? "none set"
                                            : yb_drill_format_seconds(d->rpo_target_seconds, t),
                  yb_drill_achieved_rpo(d, a), d->rpo_met);
        yb_html_raw(h, "</tbody>\n</table>\n");
}

static void phases(YbHtml *h, const YbDrill *d) {
        YbSvgBar bars[YB_DRILL_PHASES_MAX];
        char texts[YB_DRILL_PHASES_MAX][32], target[64], t[32];

        yb_html_raw(h, "<h2>Phases</h2>\n");
        for (size_t i = 0; i < d->n_phases; i++)
                bars[i] = (YbSvgBar){ d->phases[i].name, d->phases[i].ms,
                                      yb_drill_format_ms(d->phases[i].ms, texts[i]),
                                      d->phases[i].ok ? YB_SVG_OK : YB_SVG_BAD };
        snprintf(target, sizeof(target), "RTO target %s",
                 yb_drill_format_seconds(d->rto_target_seconds, t));
        yb_svg_hbars(h, "Each phase's time against the RTO target", bars, d->n_phases,
                     d->rto_target_seconds < 0 ? -1 : d->rto_target_seconds * 1000, target);
        if (d->n_phases == 0)
                return;
        yb_html_raw(h, "<table>\n<thead><tr><th>Phase</th><th>Time</th><th>Result</th>"
                       "<th>Files</th><th>Bytes</th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < d->n_phases; i++) {
                const YbDrillPhase *p = &d->phases[i];
                char size[32];

                yb_html_raw(h, "<tr><td>");
                yb_html_text(h, p->name);
                yb_html_raw(h, "</td><td>");
                yb_html_text(h, texts[i]);
                yb_html_raw(h, p->ok ? "</td><td class=\"ok\">passed"
                                     : "</td><td class=\"bad\">failed");
                yb_html_raw(h, "</td><td>");
                if (p->files >= 0)
                        yb_html_textf(h, "%" PRId64, p->files);
                yb_html_raw(h, "</td><td>");
                if (p->bytes >= 0)
                        yb_html_text(h, yb_format_bytes((uint64_t) p->bytes, size));
                yb_html_raw(h, "</td></tr>\n");
        }
        yb_html_raw(h, "</tbody>\n</table>\n");
}

static void postgresql(YbHtml *h, const YbDrill *d) {
        if (d->n_pg == 0)
                return;
        yb_html_raw(h, "<h2>PostgreSQL checks</h2>\n<table>\n<thead><tr><th>Source</th>"
                       "<th>Database</th><th>Query</th><th>Minimum</th><th>Value</th>"
                       "<th>Result</th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < d->n_pg; i++) {
                const YbDrillPg *p = &d->pg[i];

                yb_html_raw(h, "<tr><td>");
                yb_html_textf(h, "%s (%s)", p->name, p->mode);
                yb_html_raw(h, "</td><td>");
                yb_html_text(h, p->database);
                yb_html_raw(h, "</td><td class=\"mono\">");
                yb_html_text(h, p->query ?: "(none)");
                yb_html_raw(h, "</td><td>");
                yb_html_textf(h, "%" PRId64, p->min);
                yb_html_raw(h, "</td><td>");
                if (p->has_value)
                        yb_html_textf(h, "%" PRId64, p->value);
                else
                        yb_html_text(h, "none");
                yb_html_raw(h, p->ok ? "</td><td class=\"ok\">passed"
                                     : "</td><td class=\"bad\">failed");
                if (p->error) {
                        yb_html_text(h, ": ");
                        yb_html_text(h, p->error);
                }
                yb_html_raw(h, "</td></tr>\n");
        }
        yb_html_raw(h, "</tbody>\n</table>\n");
}

static void check(YbHtml *h, const YbDrill *d) {
        yb_html_raw(h, "<h2>The check command</h2>\n");
        if (!d->has_check) {
                yb_html_raw(h, "<p class=\"note\">");
                if (yb_drill_reached(d, "check"))
                        yb_html_text(h, "No check command ran: the policy has none (drill.check).");
                else
                        yb_html_textf(h, "No check command ran: the drill stopped at phase %s.",
                                      d->failed_phase);
                yb_html_raw(h, "</p>\n");
                return;
        }
        yb_html_raw(h, "<table class=\"facts\">\n<tr><th>Command</th><td class=\"mono\">");
        yb_html_text(h, d->check_command ?: "(not given)");
        yb_html_raw(h, "</td></tr>\n");
        if (!d->check_exited)
                yb_html_fact(h, "Exit code",
                             "none: it did not exit by itself (killed, or never run)");
        else
                yb_html_factf(h, "Exit code", "%" PRId64 "%s", d->check_exit_code,
                              d->check_exit_code == 0 ? " (success)" : " (failure)");
        yb_html_raw(h, "</table>\n");
        if (!d->check_output || !d->check_output[0]) {
                yb_html_element(h, "p", "note", "It printed nothing.");
                return;
        }
        if (d->check_output_truncated)
                yb_html_element(h, "p", "note",
                                "Its output was longer than the record keeps: the last 4,096 "
                                "bytes follow.");
        yb_html_raw(h, "<pre class=\"mono\">");
        yb_html_text(h, d->check_output);
        yb_html_raw(h, "</pre>\n");
}

static void history(YbHtml *h, const YbDrill *d) {
        YbSvgBar bars[YB_DRILL_HISTORY_MAX];
        char labels[YB_DRILL_HISTORY_MAX][16], texts[YB_DRILL_HISTORY_MAX][32], target[64], t[32];

        yb_html_raw(h, "<h2>Earlier drills of this system</h2>\n");
        if (d->n_history == 0) {
                yb_html_element(h, "p", "note",
                                "No earlier drill: this is the system's first one on record.");
                return;
        }
        for (size_t i = 0; i < d->n_history; i++) {
                const YbDrillEarlier *e = &d->history[i];

                /* The day while it fits under its column (core/evidence/svg.c: nine columns
                 * or fewer), else the month; the table below has the times. */
                snprintf(labels[i], sizeof(labels[i]), d->n_history <= 9 ? "%.10s" : "%.7s",
                         e->started);
                bars[i] = (YbSvgBar){ labels[i], e->passed ? e->rto_ms : -1,
                                      e->passed && e->rto_ms >= 0
                                              ? yb_drill_format_ms(e->rto_ms, texts[i])
                                      : e->passed ? NULL
                                                  : "failed",
                                      e->passed ? YB_SVG_OK : YB_SVG_BAD };
        }
        snprintf(target, sizeof(target), "RTO target %s",
                 yb_drill_format_seconds(d->rto_target_seconds, t));
        yb_svg_columns(h, "The RTO each earlier drill achieved (oldest left)", bars, d->n_history,
                       d->rto_target_seconds < 0 ? -1 : d->rto_target_seconds * 1000, target);
        yb_html_raw(h, "<table>\n<thead><tr><th>Drill</th><th>Started</th><th>Result</th>"
                       "<th>RTO</th><th>RPO</th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i < d->n_history; i++) {
                const YbDrillEarlier *e = &d->history[i];
                char a[40];

                yb_html_raw(h, "<tr><td>");
                yb_html_textf(h, "%" PRId64, e->id);
                yb_html_raw(h, "</td><td>");
                yb_html_text(h, yb_drill_format_time(e->started, a));
                yb_html_raw(h, e->passed ? "</td><td class=\"ok\">passed"
                                         : "</td><td class=\"bad\">failed");
                yb_html_raw(h, "</td><td>");
                yb_html_text(h, e->rto_ms >= 0 ? yb_drill_format_ms(e->rto_ms, a)
                                : e->passed    ? "unknown"
                                               : "not achieved (failed)");
                yb_html_raw(h, "</td><td>");
                yb_html_text(h, e->rpo_seconds >= 0 ? yb_drill_format_seconds(e->rpo_seconds, a)
                                : e->passed         ? "unknown"
                                                    : "not achieved (failed)");
                yb_html_raw(h, "</td></tr>\n");
        }
        yb_html_raw(h, "</tbody>\n</table>\n");
}

int yb_drill_html(const json_t *record, char **ret) {
        _cleanup_(yb_html_done) YbHtml h = YB_HTML_INIT;
        _cleanup_free_ char *file = NULL, *title = NULL;
        YbDrill d;
        int r;

        r = yb_drill_read(record, &d, NULL, 0);
        if (r < 0)
                return r;
        r = yb_signed_dump(record, &file);
        if (r < 0)
                return r;
        if (asprintf(&title, "Restore drill %" PRId64 ": %s (%s)", d.id, d.system_name,
                     d.system_id) < 0)
                return -ENOMEM;
        yb_html_begin(&h, "en", title, CSS);
        yb_html_raw(&h, "<header>\n");
        yb_html_element(&h, "h1", NULL, title);
        yb_html_raw(&h, "<p class=\"sub\">");
        yb_html_textf(&h,
                      "%s%s%s, drill %" PRId64
                      ": a restore under a stopwatch, recorded and signed by yunbakd",
                      d.department ?: "", d.department ? " · " : "", d.scenario, d.id);
        yb_html_raw(&h, "</p>\n</header>\n");
        verdict(&h, &d);
        objectives(&h, &d);
        about(&h, &d);
        phases(&h, &d);
        postgresql(&h, &d);
        check(&h, &d);
        history(&h, &d);
        yb_signed_html_signature(&h, record, "drill record", "yunbak-drill", "drill", "drill");
        yb_html_json(&h, "yunbak-drill", file, strlen(file));
        yb_html_end(&h);
        return yb_html_finish(&h, ret);
}
