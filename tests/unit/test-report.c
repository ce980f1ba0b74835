/* tests/unit/test-report.c: the report's period from --month, --quarter and --year in a time
 * zone (cli/report-period.h), and its computations over known rows (catalog/report-queries.h): the
 * RPO met over a list of snapshot times, the lag's weighted quantiles; and the report's page
 * (core/evidence/report-html.h): pure, escaped, unknown figures said in words. */
#include <string.h>

#include "catalog/report-queries.h"
#include "cli/report-period.h"
#include "core/base/timeutil.h"
#include "core/evidence/report-html.h"
#include "test.h"

#define S YB_USEC_PER_SEC

static YbTz *zone(const char *name) {
        YbTz *z = NULL;
        int r = yb_tz_get(name, &z);

        if (r < 0)
                fail_msg("yb_tz_get(\"%s\"): %s", name, strerror(-r));
        return z;
}

/* usec of a UTC time "YYYY-MM-DDTHH:MM:SSZ". */
static int64_t at(const char *iso) {
        int64_t ns;

        ASSERT_OK(yb_time_parse(iso, &ns));
        return yb_ns_to_usec(ns);
}

static void period(const char *tz, CliPeriodKind kind, const char *value, const char *from,
                   const char *to) {
        _cleanup_(yb_tz_unrefp) YbTz *z = zone(tz);
        int64_t a, b;
        char why[256] = "";

        if (cli_report_period(kind, value, z, &a, &b, why, sizeof(why)) < 0)
                fail_msg("%s %s: %s", tz, value, why);
        ASSERT_EQ(a, at(from));
        ASSERT_EQ(b, at(to));
}

TEST(month_quarter_year_in_a_zone) {
        period("Asia/Shanghai", CLI_PERIOD_MONTH, "2026-11", "2026-10-31T16:00:00Z",
               "2026-11-30T16:00:00Z");
        period("Asia/Shanghai", CLI_PERIOD_MONTH, "2026-12", "2026-11-30T16:00:00Z",
               "2026-12-31T16:00:00Z");
        period("Asia/Shanghai", CLI_PERIOD_QUARTER, "2026-Q4", "2026-09-30T16:00:00Z",
               "2026-12-31T16:00:00Z");
        period("Asia/Shanghai", CLI_PERIOD_QUARTER, "2027-Q1", "2026-12-31T16:00:00Z",
               "2027-03-31T16:00:00Z");
        period("Asia/Shanghai", CLI_PERIOD_YEAR, "2026", "2025-12-31T16:00:00Z",
               "2026-12-31T16:00:00Z");
        period("UTC", CLI_PERIOD_QUARTER, "2026-q2", "2026-04-01T00:00:00Z",
               "2026-07-01T00:00:00Z");
        /* A month with a clock change is an hour short (New York, March 2026: 8 March). */
        period("America/New_York", CLI_PERIOD_MONTH, "2026-03", "2026-03-01T05:00:00Z",
               "2026-04-01T04:00:00Z");
        /* A month whose first midnight the clock skipped (Asunción, 1 October 2017: 00:00 became
         * 01:00) starts at the first second that exists, 01:00 local; the month before ends
         * there too, so no instant falls between them. */
        period("America/Asuncion", CLI_PERIOD_MONTH, "2017-10", "2017-10-01T04:00:00Z",
               "2017-11-01T03:00:00Z");
        period("America/Asuncion", CLI_PERIOD_MONTH, "2017-09", "2017-09-01T04:00:00Z",
               "2017-10-01T04:00:00Z");
}

TEST(leap_years) {
        period("UTC", CLI_PERIOD_MONTH, "2024-02", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z");
        period("UTC", CLI_PERIOD_MONTH, "2026-02", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
        period("UTC", CLI_PERIOD_MONTH, "2000-02", "2000-02-01T00:00:00Z", "2000-03-01T00:00:00Z");
        period("UTC", CLI_PERIOD_MONTH, "2100-02", "2100-02-01T00:00:00Z", "2100-03-01T00:00:00Z");
        period("UTC", CLI_PERIOD_YEAR, "2024", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z");
        {
                _cleanup_(yb_tz_unrefp) YbTz *z = zone("UTC");
                int64_t a, b;
                char why[256];

                ASSERT_OK(cli_report_period(CLI_PERIOD_MONTH, "2024-02", z, &a, &b, why,
                                            sizeof(why)));
                ASSERT_EQ(b - a, 29 * YB_USEC_PER_DAY);
                ASSERT_OK(cli_report_period(CLI_PERIOD_MONTH, "2100-02", z, &a, &b, why,
                                            sizeof(why)));
                ASSERT_EQ(b - a, 28 * YB_USEC_PER_DAY);
                ASSERT_OK(cli_report_period(CLI_PERIOD_YEAR, "2024", z, &a, &b, why, sizeof(why)));
                ASSERT_EQ(b - a, 366 * YB_USEC_PER_DAY);
        }
}

static void bad(CliPeriodKind kind, const char *value, const char *option) {
        _cleanup_(yb_tz_unrefp) YbTz *z = zone("UTC");
        int64_t a = 7, b = 7;
        char why[256] = "";

        ASSERT_ERR(cli_report_period(kind, value, z, &a, &b, why, sizeof(why)), EINVAL);
        /* The message names the option and the value, and the form wanted. */
        if (!strstr(why, option) || !strstr(why, value) || !strstr(why, "e.g."))
                fail_msg("message for %s '%s': %s", option, value, why);
        ASSERT_EQ(a, 7);
        ASSERT_EQ(b, 7);
}

TEST(bad_input_is_named) {
        bad(CLI_PERIOD_MONTH, "2026-13", "--month");
        bad(CLI_PERIOD_MONTH, "2026-00", "--month");
        bad(CLI_PERIOD_MONTH, "2026-1", "--month");
        bad(CLI_PERIOD_MONTH, "26-11", "--month");
        bad(CLI_PERIOD_MONTH, "2026-11x", "--month");
        bad(CLI_PERIOD_MONTH, "2026/11", "--month");
        bad(CLI_PERIOD_MONTH, "", "--month");
        bad(CLI_PERIOD_QUARTER, "2026-Q5", "--quarter");
        bad(CLI_PERIOD_QUARTER, "2026-Q0", "--quarter");
        bad(CLI_PERIOD_QUARTER, "2026-11", "--quarter");
        bad(CLI_PERIOD_YEAR, "1969", "--year");
        bad(CLI_PERIOD_YEAR, "2026-01", "--year");
        bad(CLI_PERIOD_YEAR, "20x6", "--year");
}

TEST(rpo_met_over_known_times) {
        /* rpo 1 h over seen [0, 10000 s): snapshots at -100 s (before seen), 3000 s and
         * 9000 s cover [-100, 3500], [3000, 6600] and [9000, 12600]: the breach is
         * [6600, 9000). */
        const int64_t times[] = { -100 * S, 3000 * S, 9000 * S, 10000 * S, 11000 * S };
        YbRpoMet m;

        yb_report_rpo_met(times, 5, INT64_MIN, 3600 * S, 0, 10000 * S, &m);
        ASSERT_EQ(m.seen_usec, 10000 * S);
        ASSERT_EQ(m.met_usec, 7600 * S);
        ASSERT_EQ(m.longest_start_usec, 6600 * S);
        ASSERT_EQ(m.longest_usec, 2400 * S);
        ASSERT_EQ(m.snapshots, 2); /* -100 s is before seen; 10000 s and 11000 s after it */

        /* No snapshot at all: the whole of seen is one breach. */
        yb_report_rpo_met(NULL, 0, INT64_MIN, 3600 * S, 5 * S, 65 * S, &m);
        ASSERT_EQ(m.met_usec, 0);
        ASSERT_EQ(m.longest_start_usec, 5 * S);
        ASSERT_EQ(m.longest_usec, 60 * S);

        /* A snapshot exactly rpo after the last leaves no breach ("no older than"); after the
         * last one's rpo it is a breach to the end; the longer of two breaches is kept. */
        {
                const int64_t t2[] = { 0, 3600 * S, 8000 * S };

                yb_report_rpo_met(t2, 3, INT64_MIN, 3600 * S, 0, 12000 * S, &m);
                /* covered [0, 7200] and [8000, 11600]: breaches [7200, 8000) and
                 * [11600, 12000) */
                ASSERT_EQ(m.met_usec, (12000 - 800 - 400) * S);
                ASSERT_EQ(m.longest_start_usec, 7200 * S);
                ASSERT_EQ(m.longest_usec, 800 * S);
                ASSERT_EQ(m.snapshots, 3);
        }

        /* Fully met: no breach at all. */
        {
                const int64_t t3[] = { -10 * S, 30 * S };

                yb_report_rpo_met(t3, 2, INT64_MIN, 60 * S, 0, 80 * S, &m);
                ASSERT_EQ(m.met_usec, 80 * S);
                ASSERT_EQ(m.longest_usec, 0);
        }

        /* An empty seen. */
        yb_report_rpo_met(times, 5, INT64_MIN, 3600 * S, 10 * S, 10 * S, &m);
        ASSERT_EQ(m.seen_usec, 0);
        ASSERT_EQ(m.met_usec, 0);
}

/* yunbakd has one rpo from taking charge of a system to make its first backup: the second
 * before the first backup of a system with a 24 h RPO is no breach; a first backup later than
 * one rpo is, from the rpo's end; a charge after the period's end changes nothing. */
TEST(rpo_met_gives_one_rpo_for_the_first_backup) {
        const int64_t first[] = { 101 * S }, late[] = { 100 * S };
        YbRpoMet m;

        yb_report_rpo_met(first, 1, 100 * S, 86400 * S, 100 * S, 102 * S, &m);
        ASSERT_EQ(m.met_usec, 2 * S);
        ASSERT_EQ(m.longest_usec, 0);
        ASSERT_EQ(m.snapshots, 1); /* the charge is not a snapshot */

        yb_report_rpo_met(late, 1, 0, 60 * S, 0, 200 * S, &m);
        /* covered [0, 60] and [100, 160]: breaches [60, 100) and [160, 200) */
        ASSERT_EQ(m.met_usec, 120 * S);
        ASSERT_EQ(m.longest_start_usec, 60 * S);
        ASSERT_EQ(m.longest_usec, 40 * S);
        ASSERT_EQ(m.snapshots, 1);

        /* No backup at all yet: met for one rpo, then a breach to the end of seen. */
        yb_report_rpo_met(NULL, 0, 10 * S, 60 * S, 10 * S, 100 * S, &m);
        ASSERT_EQ(m.met_usec, 60 * S);
        ASSERT_EQ(m.longest_start_usec, 70 * S);
        ASSERT_EQ(m.longest_usec, 30 * S);
        ASSERT_EQ(m.snapshots, 0);

        yb_report_rpo_met(late, 1, 500 * S, 60 * S, 0, 200 * S, &m);
        ASSERT_EQ(m.met_usec, 60 * S);
        ASSERT_EQ(m.longest_start_usec, 0);
        ASSERT_EQ(m.longest_usec, 100 * S);
}

TEST(lag_quantiles_are_weighted_by_known_samples) {
        const YbLagHour h[] = {
                { .hour_usec = 0,
                  .samples = 3600,
                  .unknown_seconds = 0,
                  .p50_ms = 100,
                  .p99_ms = 500,
                  .max_ms = 900 },
                /* all unknown: no percentiles, but its max (a lower bound) counts */
                { .hour_usec = 3600 * S,
                  .samples = 3600,
                  .unknown_seconds = 3600,
                  .p50_ms = -1,
                  .p99_ms = -1,
                  .max_ms = 2000 },
                { .hour_usec = 7200 * S,
                  .samples = 1200,
                  .unknown_seconds = 0,
                  .p50_ms = 300,
                  .p99_ms = 800,
                  .max_ms = 1000 },
        };
        YbReportLag l;

        yb_report_lag_summary(h, 3, &l);
        ASSERT_EQ(l.hours, 3);
        ASSERT_EQ(l.samples, 8400);
        ASSERT_EQ(l.unknown_seconds, 3600);
        ASSERT_EQ(l.known, 4800);
        ASSERT_EQ(l.max_ms, 2000);
        ASSERT_EQ(l.p50_ms, 100); /* 3600 of 4800 known samples had a p50 of 100 ms */
        ASSERT_EQ(l.p99_ms, 800); /* 99 % of 4800 is 4752: only the 800 ms hour reaches it */

        yb_report_lag_summary(h + 1, 1, &l);
        ASSERT_EQ(l.p50_ms, -1);
        ASSERT_EQ(l.p99_ms, -1);
        ASSERT_EQ(l.max_ms, 2000);

        yb_report_lag_summary(NULL, 0, &l);
        ASSERT_EQ(l.hours, 0);
        ASSERT_EQ(l.max_ms, -1);
}

static void put_snapshot(YbCatalog *c, const char *store, const char *id, int64_t fin, int partial,
                         const char *quarantine) {
        ASSERT_OK(yb_catalog_query(c,
                                   "INSERT INTO snapshots (system, store, id, level, started_usec,"
                                   " finished_usec, files, bytes_source, bytes_stored, partial,"
                                   " quarantine) VALUES ('s', ?1, ?2, 'full', ?3, ?3, 1, 1, 1, ?4,"
                                   " ?5)",
                                   NULL, NULL, "ttIIt", store, id, fin, (int64_t) partial,
                                   quarantine));
}

static void put_job(YbCatalog *c, int tier, const char *state, int64_t fin, const char *snapshot) {
        ASSERT_OK(yb_catalog_query(c,
                                   "INSERT INTO jobs (system, tier, level, trigger, state,"
                                   " scheduled_usec, started_usec, finished_usec, snapshot) VALUES"
                                   " ('s', ?1, 'full', 'schedule', ?2, ?3, ?3, ?3, ?4)",
                                   NULL, NULL, "ItIt", (int64_t) tier, state, fin, snapshot));
}

TEST(catalog_reads_count_only_what_recovers) {
        _cleanup_(yb_catalog_closep) YbCatalog *c = NULL;
        _cleanup_free_ int64_t *times = NULL;
        size_t n = 0;
        char id[64];
        int64_t t;

        ASSERT_OK(yb_catalog_open(":memory:", &c));
        /* a: in tier 1; b: pruned from tier 1, its off-site copy kept (it was good when made);
         * c: quarantined in tier 1; d: partial; e: pruned everywhere. */
        put_snapshot(c, "local", "a", 100 * S, 0, NULL);
        put_job(c, 1, "succeeded", 100 * S, "a");
        put_snapshot(c, "offsite", "b", 200 * S, 0, NULL);
        put_job(c, 1, "succeeded", 200 * S, "b");
        put_job(c, 3, "succeeded", 250 * S, "b");
        put_snapshot(c, "local", "c", 300 * S, 0, "signed by another agent");
        put_job(c, 1, "succeeded", 300 * S, "c");
        put_snapshot(c, "local", "d", 400 * S, 1, NULL);
        put_snapshot(c, "offsite", "d", 400 * S, 1, NULL);
        put_job(c, 1, "partial", 400 * S, "d");
        put_job(c, 3, "succeeded", 450 * S, "d");
        put_job(c, 1, "succeeded", 500 * S, "e");

        ASSERT_OK(yb_report_good_times(c, "s", "local", INT64_MIN, 1000 * S, &times, &n));
        ASSERT_EQ(n, 3u);
        ASSERT_EQ(times[0], 100 * S);
        ASSERT_EQ(times[1], 200 * S);
        ASSERT_EQ(times[2], 500 * S);
        free(times);
        times = NULL;
        /* Only those of [since, until): 100 s is before, 500 s at until. */
        ASSERT_OK(yb_report_good_times(c, "s", "local", 101 * S, 500 * S, &times, &n));
        ASSERT_EQ(n, 1u);
        ASSERT_EQ(times[0], 200 * S);

        /* The partial copy d is not the newest off-site copy; b is, from its copy's end. */
        ASSERT_OK(yb_report_newest_copy(c, "s", "offsite", 1000 * S, id, &t));
        ASSERT_STREQ(id, "b");
        ASSERT_EQ(t, 200 * S);
        ASSERT_ERR(yb_report_newest_copy(c, "s", "offsite", 249 * S, id, &t), ENOENT);
}

/* A report of one system whose figures are partly unknown. */
static json_t *small_report(const char *name) {
        json_error_t e;
        json_t *r = json_loads(
                "{\"type\": \"yunbak-report\", \"version\": 1, \"period\": {\"from_usec\": 0,"
                " \"from\": \"1970-01-01T00:00:00Z\", \"to_usec\": 86400000000, \"to\":"
                " \"1970-01-02T00:00:00Z\", \"now_usec\": 86400000000, \"now\":"
                " \"1970-01-02T00:00:00Z\"}, \"departments\": [{\"name\": \"市财政局\","
                " \"systems\": [{\"id\": \"finance\", \"name\": \"NAME\", \"jobs\": {\"run\": 2,"
                " \"succeeded\": 1, \"partial\": 0, \"failed\": 1, \"cancelled\": 0}, \"rpo\":"
                " {\"met_per_mille\": null, \"met_seconds\": null, \"reason\": \"the period has"
                " not begun\"}, \"lag\": {\"state\": \"no tier 2\"}, \"offsite\": {\"state\":"
                " \"no tier 3\"}, \"drills\": {\"list\": [], \"passed\": 0, \"failed\": 0,"
                " \"running\": 0, \"abandoned\": 0, \"overdue\": true}, \"storage\": [{\"tier\":"
                " 1, \"store\": \"local\", \"start\": null, \"end\": {\"day_usec\": 0, \"day\":"
                " \"1970-01-01T00:00:00Z\", \"bytes\": 2048, \"snapshots\": 3}, \"growth_bytes\":"
                " null, \"growth_snapshots\": null, \"reason\": \"no sample\"}]}]}]}",
                0, &e);

        if (!r)
                fail_msg("the test's report: %s", e.text);
        json_object_set_new(
                json_array_get(json_object_get(json_array_get(json_object_get(r, "departments"), 0),
                                               "systems"),
                               0),
                "name", json_string(name));
        return r;
}

static json_t *first_system(json_t *r) {
        return json_array_get(
                json_object_get(json_array_get(json_object_get(r, "departments"), 0), "systems"),
                0);
}

TEST(page_is_pure_escaped_and_says_what_is_unknown) {
        json_t *r = small_report("财政<script>预算"), *end;
        _cleanup_free_ char *a = NULL, *b = NULL;
        char why[128];

        ASSERT_OK(yb_report_html(r, "1970-01", &a, why, sizeof(why)));
        ASSERT_OK(yb_report_html(r, "1970-01", &b, why, sizeof(why)));
        ASSERT_STREQ(a, b); /* the same report, the same bytes */
        ASSERT_TRUE(strstr(a, "财政&lt;script&gt;预算"));
        /* Only the embedded JSON holds the name as it is (a script element's data). */
        ASSERT_TRUE(strstr(a, "财政<script>") > strstr(a, "id=\"yunbak-report\""));
        /* Unknown figures are said, never drawn as 0. */
        ASSERT_TRUE(strstr(a, "the period has not begun"));
        /* The chart's text fits beside the longest bar (22 characters), its "?" explained. */
        ASSERT_TRUE(strstr(a, ">2.0 KiB (?)</text>"));
        ASSERT_TRUE(strstr(a, "?: no sample at the period"));
        ASSERT_TRUE(strstr(a, "2.0 KiB, 3 snapshots ("));
        ASSERT_TRUE(strstr(a, "OVERDUE"));
        ASSERT_FALSE(strstr(a, ">0.0 %<"));
        ASSERT_TRUE(strstr(a, "id=\"yunbak-report\""));
        json_decref(r);

        /* A value JSON text cannot carry alike is refused, naming it. */
        r = small_report("x");
        json_object_set_new(r, "bad", json_real(0.5));
        ASSERT_ERR(yb_report_html(r, NULL, &a, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "bad"));
        json_decref(r);

        /* One snapshot is one snapshot. */
        r = small_report("x");
        end = json_object_get(json_array_get(json_object_get(first_system(r), "storage"), 0),
                              "end");
        json_object_set_new(end, "snapshots", json_integer(1));
        free(a);
        ASSERT_OK(yb_report_html(r, "1970-01", &a, why, sizeof(why)));
        ASSERT_TRUE(strstr(a, "2.0 KiB, 1 snapshot ("));
        ASSERT_FALSE(strstr(a, "1 snapshots"));
        json_decref(r);
}

/* A department of many systems with long names of the same beginning: each chart holds at most
 * 30 bars (a taller one would be cut by print), and each bar's label starts with the system's
 * id, which the chart's cut of a long label keeps. */
TEST(page_of_many_systems_prints_in_parts_and_tells_bars_apart) {
        json_t *r =
                small_report("市人力资源和社会保障局人事门户网站统一身份认证与电子档案管理系统");
        json_t *systems =
                json_object_get(json_array_get(json_object_get(r, "departments"), 0), "systems");
        json_t *one = json_array_get(systems, 0);
        _cleanup_free_ char *page = NULL;
        char why[256] = "", id[32];

        for (int i = 1; i < 31; i++) {
                json_t *s = json_deep_copy(one);

                snprintf(id, sizeof(id), "sys%02d", i);
                json_object_set_new(s, "id", json_string(id));
                json_array_append_new(systems, s);
        }
        json_object_set_new(one, "id", json_string("sys00"));
        ASSERT_OK(yb_report_html(r, "2026-11", &page, why, sizeof(why)));
        ASSERT_TRUE(strstr(page, "(bars 1 to 30 of 31)"));
        ASSERT_TRUE(strstr(page, "(bars 31 to 31 of 31)"));
        ASSERT_TRUE(strstr(page, ">sys30 市人力资源"));
        json_decref(r);
}

/* A drill that passed (restored and checked) but took longer than the RTO is not drawn green. */
TEST(page_does_not_draw_a_missed_objective_green) {
        json_t *r = small_report("人事门户网站");
        json_t *s = json_array_get(
                json_object_get(json_array_get(json_object_get(r, "departments"), 0), "systems"),
                0);
        json_t *dr = json_object_get(s, "drills");
        _cleanup_free_ char *page = NULL;
        char why[256] = "";

        json_array_append_new(
                json_object_get(dr, "list"),
                json_pack("{s:i, s:I, s:s, s:i, s:s, s:s, s:n, s:I, s:i, s:b, s:b}", "id", 7,
                          "started_usec", (json_int_t) 0, "started", "1970-01-01T00:00:00Z", "tier",
                          1, "scenario", "季度演练", "state", "passed", "failed_phase", "rto_ms",
                          (json_int_t) 32400000, "rpo_seconds", 600, "rto_met", 0, "rpo_met", 1));
        json_object_set_new(dr, "passed", json_integer(1));
        json_object_set_new(dr, "objectives_missed", json_integer(1));
        ASSERT_OK(yb_report_html(r, "2026-11", &page, why, sizeof(why)));
        ASSERT_TRUE(strstr(page, "RTO not met"));
        ASSERT_FALSE(strstr(page, "<rect class=\"ok\""));
        ASSERT_TRUE(strstr(page, "1 passed (1 of them missed the RTO or RPO)"));
        json_decref(r);
}

/* The RPO met says what it is of (the stretch yunbakd watched, with its bounds), and the lag
 * says when it includes the hour running. */
TEST(page_says_what_the_rpo_met_and_the_lag_are_of) {
        json_t *r = small_report("人事门户网站"), *s;
        _cleanup_free_ char *page = NULL;
        char why[256] = "";

        s = first_system(r);
        json_object_set_new(s, "rpo",
                            json_pack("{s:i, s:i, s:s, s:s, s:i, s:[]}", "met_per_mille", 1000,
                                      "seen_seconds", 2, "seen_from", "1970-01-01T00:00:00Z",
                                      "seen_to", "1970-01-01T00:00:02Z", "met_seconds", 2,
                                      "policy_changes"));
        json_object_set_new(s, "lag",
                            json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:{s:i, s:s, s:i}}", "state",
                                      "ok", "p50_ms", 442, "p99_ms", 2500, "max_ms", 2500,
                                      "max_lag_ms", 60000, "unknown_seconds", 0, "running_hour",
                                      "hour_usec", 0, "hour", "1970-01-01T00:00:00Z", "samples",
                                      2));
        ASSERT_OK(yb_report_html(r, "1970-01", &page, why, sizeof(why)));
        ASSERT_TRUE(strstr(page, "100.0 % of the 2.0 s yunbakd watched (from "
                                 "1970-01-01T00:00:00Z to 1970-01-01T00:00:02Z)"));
        ASSERT_TRUE(strstr(page, "p50 442 ms"));
        ASSERT_TRUE(strstr(page, "with the hour from 1970-01-01T00:00:00Z so far"));
        json_decref(r);
}
