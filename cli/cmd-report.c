/* yunbak report --month YYYY-MM | --quarter YYYY-Qn | --year YYYY: the period's report from
 * yunbakd (docs/reports.md), printed in short, as its JSON, or written as an HTML page. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "cli/report-period.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/evidence/report-html.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak report --month YYYY-MM | --quarter YYYY-Qn | --year YYYY\n"
              "                     [--department D] [--tz ZONE] [--html FILE] [--socket PATH]\n"
              "                     [--json]\n"
              "\n"
              "The period's record from yunbakd, per department and system: tier-1 jobs run\n"
              "and failed, the share of the period the RPO was met, tier 2's lag, the newest\n"
              "off-site copy's age, drills and whether one is overdue, storage used per tier\n"
              "and its growth (docs/reports.md says what each number is). A department sees\n"
              "its own systems; operators and auditors see all, or one with --department.\n"
              "\n"
              "Options:\n"
              "  --month YYYY-MM    a calendar month\n"
              "  --quarter YYYY-Qn  a quarter (Q1 January to March ... Q4 October to December)\n"
              "  --year YYYY        a calendar year\n"
              "  --department D     only this department (operators and auditors)\n"
              "  --tz ZONE          the period's time zone (default: the local one, "
              "$TZ)\n" CLI_CTL_OPTIONS_HELP,
              f);
}

static json_t *get(json_t *o, const char *a, const char *b) {
        return json_object_get(json_object_get(o, a), b);
}

/* "99.9 %" for a per mille, "-" for null. */
static const char *per_mille(json_t *v, char buf[32]) {
        if (!json_is_integer(v))
                return "-";
        snprintf(buf, 32, "%" JSON_INTEGER_FORMAT ".%" JSON_INTEGER_FORMAT " %%",
                 json_integer_value(v) / 10, json_integer_value(v) % 10);
        return buf;
}

/* The RPO met: "85.9 %", with "of 28 d" when yunbakd saw only part of the period (it loaded
 * the policy later, or the period is not over), and "*" when the policy changed in the period
 * (named under the tables). */
static const char *rpo_met(json_t *rpo, int64_t from, int64_t to, char buf[96]) {
        char v[32], w[32];
        int64_t a = 0, b = 0, seen = 0;
        bool part = cli_json_int(rpo, "seen_from_usec", &a) &&
                    cli_json_int(rpo, "seen_to_usec", &b) &&
                    cli_json_int(rpo, "seen_seconds", &seen) && (a > from || b < to);

        snprintf(buf, 96, "%s%s%s%s", per_mille(json_object_get(rpo, "met_per_mille"), v),
                 part ? " of " : "", part ? cli_format_duration(seen * 1000000, w) : "",
                 json_array_size(json_object_get(rpo, "policy_changes")) > 0 ? " *" : "");
        return buf;
}

static const char *seconds(json_t *v, char buf[32]) {
        if (!json_is_integer(v))
                return "-";
        return cli_format_duration(json_integer_value(v) * 1000000, buf);
}

/* "442 ms" under a second (a lag of 0.4 s is not 0 s), else as cli_format_duration(). */
static const char *ms(json_t *v, char buf[32]) {
        if (!json_is_integer(v))
                return "-";
        if (json_integer_value(v) < 1000) {
                snprintf(buf, 32, "%" JSON_INTEGER_FORMAT " ms", json_integer_value(v));
                return buf;
        }
        return cli_format_duration(json_integer_value(v) * 1000, buf);
}

static const char *count(json_t *v, char buf[32]) {
        if (!json_is_integer(v))
                return "-";
        snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
}

static const char *lag(json_t *l, char buf[128]) {
        char a[32], b[32], c[32];
        const char *state = cli_json_str(l, "state") ?: "?";

        if (!streq(state, "ok"))
                return state;
        snprintf(buf, 128, "%s / %s / %s", ms(json_object_get(l, "p50_ms"), a),
                 ms(json_object_get(l, "p99_ms"), b), ms(json_object_get(l, "max_ms"), c));
        return buf;
}

/* "15 d, 3 copied, 1 failed": the newest copy's age and the period's copy jobs. */
static const char *offsite(json_t *o, char buf[96]) {
        const char *state = cli_json_str(o, "state") ?: "?";
        char age[32];

        if (!streq(state, "ok"))
                return state;
        snprintf(buf, 96, "%s, %" JSON_INTEGER_FORMAT " copied, %" JSON_INTEGER_FORMAT " failed",
                 json_is_object(json_object_get(o, "newest"))
                         ? seconds(get(o, "newest", "age_seconds"), age)
                         : "none",
                 json_integer_value(json_object_get(o, "copies")),
                 json_integer_value(json_object_get(o, "copies_failed")));
        return buf;
}

/* "yes", "no", or the reason it is not known. */
static const char *overdue(json_t *d) {
        json_t *v = json_object_get(d, "overdue");

        if (json_is_boolean(v))
                return json_is_true(v) ? "OVERDUE" : "no";
        return cli_json_str(d, "overdue_reason") ?: "-";
}

/* A size, or the tier's reason (in st) for not knowing it. */
static const char *bytes(json_t *v, char buf[32], json_t *st) {
        if (!json_is_integer(v))
                return cli_json_str(st, "reason") ?: "no sample";
        if (json_integer_value(v) < 0) {
                char size[32];

                /* "-1.0 KiB": a shrinking store; the size is far shorter than the buffer. */
                if (snprintf(buf, 32, "-%s",
                             yb_format_bytes((uint64_t) -json_integer_value(v), size)) >= 32)
                        return "shrank";
                return buf;
        }
        return yb_format_bytes((uint64_t) json_integer_value(v), buf);
}

static int print_department(json_t *dep, int64_t from, int64_t to) {
        _cleanup_(cli_table_freep) CliTable *t = NULL, *s = NULL, *dr = NULL;
        json_t *sys, *st;
        size_t i, k;

        printf("\nDepartment %s\n", cli_json_str(dep, "name") ?: "?");
        t = cli_table_new(9, "SYSTEM", "NAME", "JOBS", "FAILED", "PARTIAL", "RPO MET",
                          "LONGEST BREACH", "LAG P50/P99/MAX", "OFF-SITE: NEWEST AGE, COPIES");
        s = cli_table_new(5, "SYSTEM", "TIER", "STORE", "USED AT END", "GROWTH");
        dr = cli_table_new(8, "SYSTEM", "DRILLS PASSED", "OF THEM RTO/RPO MISSED", "FAILED",
                           "RUNNING", "ABANDONED", "LAST PASSED (UTC)", "OVERDUE");
        if (!t || !s || !dr)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(json_object_get(dep, "systems"), i, sys) {
                char a[32], b[32], c[32], d[32], e[32], f[128], g[96], h[32], m[32], r[96];
                json_t *drills = json_object_get(sys, "drills");
                int64_t last = 0;

                if (cli_table_add(
                            t, cli_json_str(sys, "id"), cli_json_str(sys, "name"),
                            count(get(sys, "jobs", "run"), a), count(get(sys, "jobs", "failed"), b),
                            count(get(sys, "jobs", "partial"), c),
                            rpo_met(json_object_get(sys, "rpo"), from, to, r),
                            seconds(json_object_get(get(sys, "rpo", "longest_breach"), "seconds"),
                                    e),
                            lag(json_object_get(sys, "lag"), f),
                            offsite(json_object_get(sys, "offsite"), g)) < 0)
                        return log_oom(), YB_EXIT_FAILED;
                if (cli_table_add(dr, cli_json_str(sys, "id"),
                                  count(json_object_get(drills, "passed"), a),
                                  count(json_object_get(drills, "objectives_missed"), r),
                                  count(json_object_get(drills, "failed"), b),
                                  count(json_object_get(drills, "running"), c),
                                  count(json_object_get(drills, "abandoned"), d),
                                  cli_json_int(drills, "last_passed_usec", &last)
                                          ? cli_format_time(last, h)
                                          : "never",
                                  overdue(drills)) < 0)
                        return log_oom(), YB_EXIT_FAILED;
                json_array_foreach(json_object_get(sys, "storage"), k, st) {
                        char tier[8];

                        snprintf(tier, sizeof(tier), "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(json_object_get(st, "tier")));
                        if (cli_table_add(s, cli_json_str(sys, "id"), tier,
                                          cli_json_str(st, "store"),
                                          bytes(get(st, "end", "bytes"), m, st),
                                          bytes(json_object_get(st, "growth_bytes"), e, st)) < 0)
                                return log_oom(), YB_EXIT_FAILED;
                }
        }
        cli_table_print(t, stdout);
        json_array_foreach(json_object_get(dep, "systems"), i, sys) {
                json_t *changes = get(sys, "rpo", "policy_changes");
                int64_t a = 0, b = 0, seen = 0;
                char w[32], f[32], u[32];

                if (cli_json_int(json_object_get(sys, "rpo"), "seen_from_usec", &a) &&
                    cli_json_int(json_object_get(sys, "rpo"), "seen_to_usec", &b) &&
                    cli_json_int(json_object_get(sys, "rpo"), "seen_seconds", &seen) &&
                    (a > from || b < to))
                        printf("%s: the RPO met is of the %s yunbakd watched, from %s to %s UTC "
                               "(%s), not of the whole period.\n",
                               cli_json_str(sys, "id"), cli_format_duration(seen * 1000000, w),
                               cli_format_time(a, f), cli_format_time(b, u),
                               a > from && b < to ? "it first loaded the policy later, and the "
                                                    "period is not over"
                               : a > from         ? "it first loaded the policy later"
                                                  : "the period is not over");
                if (cli_json_int(get(sys, "lag", "running_hour"), "hour_usec", &a))
                        printf("%s: tier 2's lag includes the hour running, so far (from %s "
                               "UTC; yunbakd writes an hour's figures when it ends).\n",
                               cli_json_str(sys, "id"), cli_format_time(a, f));
                if (json_array_size(changes) > 0)
                        printf("* %s: the policy changed in the period (first at %s); the "
                               "whole period is judged against the rpo in force now.\n",
                               cli_json_str(sys, "id"),
                               cli_json_str(json_array_get(changes, 0), "loaded") ?: "?");
        }
        printf("\n");
        cli_table_print(s, stdout);
        printf("\n");
        cli_table_print(dr, stdout);
        return 0;
}

/* The local zone's name as glibc finds the zone (tz.h): TZ, else /etc/localtime's link into
 * the tz database; NULL when it has none (a copied file). */
static const char *local_zone_name(char *buf, size_t size) {
        const char *tz = getenv("TZ"), *p;
        ssize_t n;

        if (tz) {
                tz += *tz == ':';
                if (!*tz)
                        return "UTC";
                p = strstr(tz, "zoneinfo/");
                snprintf(buf, size, "%s", p ? p + strlen("zoneinfo/") : tz);
                return buf;
        }
        n = readlink("/etc/localtime", buf, size - 1);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        p = strstr(buf, "zoneinfo/");
        if (!p)
                return NULL;
        memmove(buf, p + strlen("zoneinfo/"), strlen(p + strlen("zoneinfo/")) + 1);
        return buf;
}

/* "Asia/Shanghai, UTC+08:00": the zone's name (or "the local time zone") and its offset at
 * the period's start, which says the zone even when the name is not known. */
static const char *zone_text(const char *zone, const YbTz *tz, int64_t from, char buf[160]) {
        char name[96];
        const char *n = zone ?: local_zone_name(name, sizeof(name));
        YbTzSpan span;
        int32_t off;

        yb_tz_span(tz, yb_floor_div(from, YB_USEC_PER_SEC), &span);
        off = span.gmtoff < 0 ? -span.gmtoff : span.gmtoff;
        snprintf(buf, 160, "%s%s, UTC%c%02d:%02d", n ?: "the local time zone",
                 zone || !n ? "" : " (local)", span.gmtoff < 0 ? '-' : '+', off / 3600,
                 off % 3600 / 60);
        return buf;
}

static void print_summary(json_t *report, const char *period, const char *zone) {
        json_t *dep;
        size_t i;
        char from[32], to[32], at[32];
        int64_t a = 0, b = 0, now = 0;

        (void) cli_json_int(json_object_get(report, "period"), "from_usec", &a);
        (void) cli_json_int(json_object_get(report, "period"), "to_usec", &b);
        printf("Report %s (%s): from %s UTC up to, not including, %s UTC.\n", period, zone,
               cli_format_time(a, from), cli_format_time(b, to));
        if (cli_json_int(json_object_get(report, "period"), "now_usec", &now) && now < a) {
                printf("The period has not begun: yunbakd's clock says %s UTC. There is "
                       "nothing to report yet.\n",
                       cli_format_time(now, at));
                return;
        }
        if (now < b)
                printf("The period is not over: yunbakd made this report at %s UTC, and its "
                       "figures go up to then.\n",
                       cli_format_time(now, at));
        printf("Lag p50 and p99 are approximate (docs/reports.md); \"-\" means unknown, never "
               "0.\n");
        if (json_array_size(json_object_get(report, "departments")) == 0)
                printf("No system is yours to see in this report.\n");
        json_array_foreach(json_object_get(report, "departments"), i, dep) {
                if (print_department(dep, a, b) != 0)
                        return;
        }
}

static int write_page(json_t *report, const char *period, const char *path) {
        _cleanup_free_ char *page = NULL;
        char why[256] = "";
        int r;

        r = yb_report_html(report, period, &page, why, sizeof(why));
        if (r < 0) {
                log_error_errno(r, "Cannot make the report's page: %s%s%m.", why,
                                why[0] ? "; " : "");
                return YB_EXIT_FAILED;
        }
        r = yb_write_file_atomic_at(AT_FDCWD, path, page, strlen(page), 0644);
        if (r < 0) {
                log_error_errno(r, "Cannot write the report's page to %s: %m.", path);
                return YB_EXIT_FAILED;
        }
        return 0;
}

int cli_report(int argc, char **argv) {
        static const struct option opts[] = {
                { "month", required_argument, NULL, 'm' },
                { "quarter", required_argument, NULL, 'q' },
                { "year", required_argument, NULL, 'y' },
                { "department", required_argument, NULL, 'D' },
                { "tz", required_argument, NULL, 'z' },
                { "html", required_argument, NULL, 'H' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *report = NULL;
        _cleanup_(yb_buf_done) YbBuf path = YB_BUF_INIT;
        _cleanup_(yb_tz_unrefp) YbTz *tz = NULL;
        _cleanup_free_ char *dep = NULL;
        const char *socket = NULL, *department = NULL, *zone = NULL, *value = NULL, *html = NULL;
        CliPeriodKind kind = _CLI_PERIOD_MAX;
        int64_t from, to;
        bool json = false;
        char why[256], zbuf[160];
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'm':
                case 'q':
                case 'y':
                        if (value) {
                                log_error("report takes one period: --month, --quarter or "
                                          "--year, once.");
                                return cli_usage_error("report");
                        }
                        value = optarg;
                        kind = c == 'm'   ? CLI_PERIOD_MONTH
                               : c == 'q' ? CLI_PERIOD_QUARTER
                                          : CLI_PERIOD_YEAR;
                        break;
                case 'D':
                        department = optarg;
                        break;
                case 'z':
                        zone = optarg;
                        break;
                case 'H':
                        html = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "report");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind != argc) {
                log_error("Unknown argument '%s'.", argv[optind]);
                return cli_usage_error("report");
        }
        if (!value) {
                log_error("report needs its period: --month YYYY-MM, --quarter YYYY-Qn or "
                          "--year YYYY.");
                return cli_usage_error("report");
        }
        r = zone ? yb_tz_get(zone, &tz) : yb_tz_get_local(&tz);
        if (r < 0) {
                if (zone && (r == -ENOENT || r == -EINVAL))
                        log_error("--tz: unknown time zone '%s' (not in the system's zoneinfo): "
                                  "name one such as Asia/Shanghai or UTC.",
                                  zone);
                else if (zone)
                        log_error("--tz: time zone '%s' cannot be used: %s.", zone,
                                  r == -EBADMSG ? "its zoneinfo file is damaged; reinstall tzdata"
                                  : r == -EPROTONOSUPPORT
                                          ? "it counts leap seconds, which the system clock does "
                                            "not; name the zone without right/"
                                          : strerror(-r));
                else
                        log_error("Cannot read the local time zone (TZ, /etc/localtime): %s. "
                                  "Name one with --tz.",
                                  strerror(-r));
                return YB_EXIT_USAGE;
        }
        r = cli_report_period(kind, value, tz, &from, &to, why, sizeof(why));
        if (r < 0) {
                log_error("%s.", why);
                return cli_usage_error("report");
        }
        if (yb_buf_printf(&path, "/v1/reports?from_usec=%" PRId64 "&to_usec=%" PRId64, from, to) <
            0)
                return log_oom(), YB_EXIT_FAILED;
        if (department) {
                dep = cli_url_escape(department);
                if (!dep || yb_buf_printf(&path, "&department=%s", dep) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        cli_ctl_init(&ctl, socket);
        r = cli_ctl_call(&ctl, "GET", (const char *) path.data, NULL, &report);
        if (r != 0)
                return r;
        if (html) {
                r = write_page(report, value, html);
                if (r != 0)
                        return r;
        }
        if (json)
                cli_json_print(report);
        else
                print_summary(report, value, zone_text(zone, tz, from, zbuf));
        if (html && !json)
                printf("\nWrote the report's page to %s.\n", html);
        return 0;
}
