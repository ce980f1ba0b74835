/* Retention (policies/retention.h): which snapshots rules keep, against hand-worked cases
 * and, over thousands of random histories, against a brute-force reading of docs/policy.md.
 * Pruning (core/repo/prune.c): what may be removed, in which order, that a base's WAL archive
 * chain goes with it while a replicator's chain keeps its root, and that a crash at any step
 * leaves each snapshot whole in snapshots/ or gone. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/timeutil.h"
#include "core/repo/repo.h"
#include "core/repo/segment.h"
#include "core/repo/verify.h"
#include "core/repo/walarchive.h"
#include "core/repo/writer.h"
#include "policies/retention.h"
#include "tests/unit/test.h"

#define SEC INT64_C(1000000)
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

static YbRetention unset(void) {
        return (YbRetention){ .keep_last = -1,
                              .keep_daily = -1,
                              .keep_weekly = -1,
                              .keep_monthly = -1,
                              .keep_yearly = -1,
                              .keep_within_usec = 0 };
}

/* Microseconds of an ISO 8601 time ("2026-01-05T10:00:00Z"). */
static int64_t T(const char *iso) {
        int64_t ns;

        ASSERT_OK(yb_time_parse(iso, &ns));
        return ns / 1000;
}

static YbRetentionSnap full(const char *id, const char *iso) {
        return (YbRetentionSnap){ .id = id, .parent = "", .level = 0, .time_usec = T(iso) };
}

static YbRetentionSnap incr(const char *id, const char *parent, const char *iso) {
        return (YbRetentionSnap){ .id = id, .parent = parent, .level = 2, .time_usec = T(iso) };
}

static YbRetentionSnap diff(const char *id, const char *parent, const char *iso) {
        return (YbRetentionSnap){ .id = id, .parent = parent, .level = 1, .time_usec = T(iso) };
}

static YbRetentionSnap partial(YbRetentionSnap s) {
        s.partial = true;
        return s;
}

#define N_OF(a) ELEMENTSOF(a)

/* Plans with no lock, now a day after the newest, in UTC unless tz. */
static int plan_tz(const YbRetentionSnap *s, size_t n, const YbRetention *rules, const char *tz,
                   YbKeepReason *reasons) {
        int64_t newest = 0;

        for (size_t i = 0; i < n; i++)
                newest = MAX(newest, s[i].time_usec);
        return yb_retention_plan(s, n, rules, 0, newest + DAY, tz, reasons);
}

static int plan(const YbRetentionSnap *s, size_t n, const YbRetention *rules,
                YbKeepReason *reasons) {
        return plan_tz(s, n, rules, "UTC", reasons);
}

/* Compares the reasons with the expected words ("daily", "prune", ...), one per snapshot. */
static void expect(const YbRetentionSnap *s, const YbKeepReason *reasons, size_t n,
                   const char *const *want) {
        for (size_t i = 0; i < n; i++)
                if (!streq(yb_keep_reason_to_string(reasons[i]), want[i]))
                        fail_msg("snapshot %s: %s, expected %s", s[i].id,
                                 yb_keep_reason_to_string(reasons[i]), want[i]);
}

#define EXPECT(s, reasons, ...)                                                                    \
        do {                                                                                       \
                static const char *const _want[] = { __VA_ARGS__ };                                \
                ASSERT_EQ(N_OF(_want), N_OF(s));                                                   \
                expect((s), (reasons), N_OF(s), _want);                                            \
        } while (0)

TEST(empty_list_plans_nothing) {
        YbRetention r = unset();
        YbKeepReason reasons[1] = { 77 };

        r.keep_last = 1;
        ASSERT_EQ(yb_retention_plan(NULL, 0, &r, 0, T("2026-01-01T00:00:00Z"), "UTC", reasons), 0);
        ASSERT_EQ(reasons[0], 77);
        ASSERT_EQ(yb_retention_check_chains(NULL, 0, NULL), 0);
}

TEST(no_rule_keeps_everything) {
        YbRetentionSnap s[] = { full("a", "2020-01-01T00:00:00Z"),
                                incr("b", "a", "2020-01-02T00:00:00Z") };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        ASSERT_FALSE(yb_retention_is_set(&r));
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 0);
        EXPECT(s, reasons, "all", "all");
}

TEST(lock_until_keeps_everything_until_then) {
        YbRetentionSnap s[] = { full("a", "2020-01-01T00:00:00Z"),
                                full("b", "2020-01-02T00:00:00Z"),
                                full("c", "2020-01-03T00:00:00Z") };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];
        int64_t lock = T("2027-03-31T00:00:00Z");

        r.keep_last = 1;
        ASSERT_EQ(yb_retention_plan(s, N_OF(s), &r, lock, lock - 1, "UTC", reasons), 0);
        EXPECT(s, reasons, "locked", "locked", "locked");
        /* Locked without rules, too. */
        r = unset();
        ASSERT_EQ(yb_retention_plan(s, N_OF(s), &r, lock, lock - DAY, "UTC", reasons), 0);
        EXPECT(s, reasons, "locked", "locked", "locked");
        /* From lock_until on, the rules apply. */
        r.keep_last = 1;
        ASSERT_EQ(yb_retention_plan(s, N_OF(s), &r, lock, lock, "UTC", reasons), 2);
        EXPECT(s, reasons, "prune", "prune", "last");
        ASSERT_EQ(yb_retention_plan(s, N_OF(s), &r, 0, lock - DAY, "UTC", reasons), 2);
}

TEST(keep_last_keeps_the_chains_of_the_newest) {
        YbRetentionSnap s[] = {
                full("f1", "2026-01-01T01:00:00Z"),       incr("i1", "f1", "2026-01-02T01:00:00Z"),
                incr("i2", "i1", "2026-01-03T01:00:00Z"), full("f2", "2026-01-04T01:00:00Z"),
                incr("i3", "f2", "2026-01-05T01:00:00Z"), incr("i4", "i3", "2026-01-06T01:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_last = 2;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "prune", "prune", "prune", "chain", "last", "last");
        /* The newest alone needs its whole chain back to the full. */
        r.keep_last = 1;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "prune", "prune", "prune", "chain", "chain", "last");
        /* Four reach into the first chain, which is kept down to its full. */
        r.keep_last = 4;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 0);
        EXPECT(s, reasons, "chain", "chain", "last", "last", "last", "last");
}

TEST(differential_needs_only_the_full) {
        YbRetentionSnap s[] = {
                full("f", "2026-01-01T01:00:00Z"),
                incr("i1", "f", "2026-01-02T01:00:00Z"),
                diff("d", "f", "2026-01-03T01:00:00Z"),
                incr("i2", "d", "2026-01-04T01:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_last = 2;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 1);
        EXPECT(s, reasons, "chain", "prune", "last", "last");
}

TEST(input_order_does_not_matter) {
        YbRetentionSnap s[] = {
                incr("i2", "d", "2026-01-04T01:00:00Z"),
                full("f", "2026-01-01T01:00:00Z"),
                diff("d", "f", "2026-01-03T01:00:00Z"),
                incr("i1", "f", "2026-01-02T01:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_last = 2;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 1);
        EXPECT(s, reasons, "last", "chain", "last", "prune");
}

/* Of a day, the newest complete snapshot; the newest partial one only if the day has no complete
 * one. Fulls only, so that no chain keeps anything. */
TEST(keep_daily_prefers_complete_snapshots) {
        YbRetentionSnap s[] = {
                full("a", "2026-03-01T08:00:00Z"),
                full("b", "2026-03-01T20:00:00Z"),
                full("c", "2026-03-02T09:00:00Z"),
                partial(full("d", "2026-03-02T10:00:00Z")),
                partial(full("e", "2026-03-03T10:00:00Z")),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        s[1].partial = true;
        r.keep_daily = 2;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "prune", "prune", "daily", "prune", "daily");
        r.keep_daily = 3;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 2);
        EXPECT(s, reasons, "daily", "prune", "daily", "prune", "daily");
}

/* As restic does: a rule whose count is more than the periods there are also keeps the oldest
 * snapshot, so that the history kept is as long as it can be. */
TEST(unused_count_keeps_the_oldest) {
        YbRetentionSnap s[] = {
                full("a", "2026-03-01T08:00:00Z"),
                full("b", "2026-03-01T20:00:00Z"),
                full("c", "2026-03-02T08:00:00Z"),
                full("d", "2026-03-02T20:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_daily = 3; /* more than the two days there are: the oldest too */
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 1);
        EXPECT(s, reasons, "daily", "daily", "prune", "daily");
        r.keep_daily = 2; /* exactly the two days: one each */
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 2);
        EXPECT(s, reasons, "prune", "daily", "prune", "daily");
        r.keep_daily = 1;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "prune", "prune", "prune", "daily");
        r.keep_daily = 0; /* set, but keeps nothing: only the newest is kept */
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "prune", "prune", "prune", "newest");
}

/* ISO weeks run Monday to Sunday and do not restart with the year: 2025-12-29 (a Monday) is in
 * the week of 2026-01-04 (a Sunday). */
TEST(keep_weekly_counts_iso_weeks) {
        YbRetentionSnap s[] = {
                full("sun-dec-28", "2025-12-28T10:00:00Z"),
                full("mon-dec-29", "2025-12-29T10:00:00Z"),
                full("sun-jan-04", "2026-01-04T10:00:00Z"),
                full("mon-jan-05", "2026-01-05T10:00:00Z"),
                full("sun-jan-11", "2026-01-11T23:59:59Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_weekly = 3;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 2);
        EXPECT(s, reasons, "weekly", "prune", "weekly", "prune", "weekly");
}

TEST(keep_monthly_and_yearly) {
        YbRetentionSnap s[] = {
                full("dec31", "2024-12-31T23:00:00Z"), full("jan01", "2025-01-01T01:00:00Z"),
                full("jan31", "2025-01-31T12:00:00Z"), full("feb01", "2025-02-01T00:00:00Z"),
                full("feb15", "2025-02-15T12:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_monthly = 2;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "prune", "prune", "monthly", "prune", "monthly");
        r = unset();
        r.keep_yearly = 1;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 4);
        EXPECT(s, reasons, "prune", "prune", "prune", "prune", "yearly");
        r.keep_yearly = 2;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "yearly", "prune", "prune", "prune", "yearly");
        /* Every rule at once: each snapshot gets the first reason that keeps it. */
        r.keep_last = 1;
        r.keep_monthly = 3;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 2);
        EXPECT(s, reasons, "monthly", "prune", "monthly", "prune", "last");
}

/* keep_within keeps what is strictly younger than the duration at now (not at the newest
 * snapshot, as restic counts it), including snapshots from the future. */
TEST(keep_within_is_relative_to_now) {
        int64_t now = T("2026-06-01T12:00:00Z");
        YbRetentionSnap s[] = {
                { .id = "old", .parent = "", .time_usec = now - 7 * DAY - SEC },
                { .id = "edge", .parent = "", .time_usec = now - 7 * DAY },
                { .id = "in", .parent = "", .time_usec = now - 7 * DAY + 1 },
                { .id = "future", .parent = "", .time_usec = now + HOUR },
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_within_usec = 7 * DAY;
        ASSERT_EQ(yb_retention_plan(s, N_OF(s), &r, 0, now, "UTC", reasons), 2);
        EXPECT(s, reasons, "prune", "prune", "within", "within");
        /* A month later nothing is within: the newest complete snapshot alone stays. */
        ASSERT_EQ(yb_retention_plan(s, N_OF(s), &r, 0, now + 30 * DAY, "UTC", reasons), 3);
        EXPECT(s, reasons, "prune", "prune", "prune", "newest");
}

TEST(newest_complete_snapshot_is_never_pruned) {
        YbRetentionSnap s[] = {
                full("f", "2026-01-01T01:00:00Z"),
                incr("i1", "f", "2026-01-02T01:00:00Z"),
                partial(incr("p1", "i1", "2026-01-03T01:00:00Z")),
                partial(incr("p2", "p1", "2026-01-04T01:00:00Z")),
                full("g", "2025-12-01T01:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];

        r.keep_last = 0;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 3);
        EXPECT(s, reasons, "chain", "newest", "prune", "prune", "prune");
        /* keep_last counts partial snapshots; their chain keeps the complete ones below. */
        r.keep_last = 1;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 1);
        EXPECT(s, reasons, "chain", "newest", "chain", "last", "prune");
        /* All partial: the newest is kept. */
        for (size_t i = 0; i < N_OF(s); i++)
                s[i].partial = true;
        r.keep_last = 0;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 1);
        EXPECT(s, reasons, "chain", "chain", "chain", "newest", "prune");
}

/* A snapshot whose parent is gone is planned like the others and reported; the newest complete
 * snapshot that can still be restored is kept as well. */
TEST(missing_parent_is_reported_and_planned) {
        YbRetentionSnap s[] = {
                full("f", "2026-01-01T01:00:00Z"),
                incr("i", "f", "2026-01-02T01:00:00Z"),
                incr("orphan", "gone", "2026-01-03T01:00:00Z"),
                incr("orphan2", "orphan", "2026-01-04T01:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];
        const char *missing[N_OF(s)];

        ASSERT_EQ(yb_retention_check_chains(s, N_OF(s), missing), 2);
        ASSERT_TRUE(missing[0] == NULL);
        ASSERT_TRUE(missing[1] == NULL);
        ASSERT_STREQ(missing[2], "gone");
        ASSERT_STREQ(missing[3], "gone");
        r.keep_last = 1;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 0);
        EXPECT(s, reasons, "chain", "newest", "chain", "last");
        r.keep_last = 0;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 0);
        EXPECT(s, reasons, "chain", "newest", "chain", "newest");
}

TEST(parents_that_loop_end) {
        YbRetentionSnap s[] = {
                incr("a", "b", "2026-01-01T01:00:00Z"),
                incr("b", "a", "2026-01-02T01:00:00Z"),
                incr("c", "c", "2026-01-03T01:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];
        const char *missing[N_OF(s)];

        ASSERT_EQ(yb_retention_check_chains(s, N_OF(s), missing), 3);
        ASSERT_TRUE(missing[0] && missing[1]);
        ASSERT_STREQ(missing[2], "c");
        r.keep_last = 2;
        ASSERT_EQ(plan(s, N_OF(s), &r, reasons), 0);
        EXPECT(s, reasons, "chain", "last", "last");
}

TEST(bad_input_is_refused) {
        YbRetentionSnap s[] = { full("a", "2026-01-01T01:00:00Z"),
                                full("a", "2026-01-02T01:00:00Z") };
        YbRetention r = unset();
        YbKeepReason reasons[2] = { 77, 77 };
        static const char *const zones[] = { "Asia/Nowhere", "UTC Mon", "Asia/Shanghai *",
                                             "../../etc/passwd", "" };

        r.keep_last = 1;
        ASSERT_ERR(plan(s, 2, &r, reasons), EINVAL); /* the same id twice */
        s[1].id = "";
        ASSERT_ERR(plan(s, 2, &r, reasons), EINVAL);
        s[1].id = NULL;
        ASSERT_ERR(plan(s, 2, &r, reasons), EINVAL);
        ASSERT_ERR(yb_retention_check_chains(s, 2, (const char *[2]){}), EINVAL);
        s[1].id = "b";
        ASSERT_ERR(yb_retention_plan(NULL, 2, &r, 0, 0, "UTC", reasons), EINVAL);
        ASSERT_ERR(yb_retention_plan(s, 2, &r, 0, 0, "UTC", NULL), EINVAL);
        ASSERT_ERR(yb_retention_plan(s, 2, NULL, 0, 0, "UTC", reasons), EINVAL);
        r.keep_daily = -2;
        ASSERT_ERR(plan(s, 2, &r, reasons), EINVAL);
        r = unset();
        r.keep_within_usec = -1;
        ASSERT_ERR(plan(s, 2, &r, reasons), EINVAL);
        r = unset();
        r.keep_daily = 1;
        for (size_t i = 0; i < N_OF(zones); i++)
                ASSERT_ERR(plan_tz(s, 2, &r, zones[i], reasons), EINVAL);
        ASSERT_EQ(reasons[0], 77); /* untouched on error */
        ASSERT_EQ(reasons[1], 77);
        ASSERT_OK(plan_tz(s, 2, &r, "Asia/Shanghai", reasons));
        ASSERT_OK(plan_tz(s, 2, &r, "utc", reasons));
}

TEST(reason_names) {
        for (int i = 0; i < _YB_KEEP_MAX; i++)
                ASSERT_TRUE(yb_keep_reason_to_string((YbKeepReason) i) != NULL);
        ASSERT_STREQ(yb_keep_reason_to_string(YB_KEEP_NOT), "prune");
        ASSERT_STREQ(yb_keep_reason_to_string(YB_KEEP_CHAIN), "chain");
        ASSERT_TRUE(yb_keep_reason_to_string(_YB_KEEP_MAX) == NULL);
}

/* ---- Time zones ---- */

static bool have_zone(const char *name) {
        char path[256];

        snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
        return access(path, R_OK) == 0;
}

/* 23:00 and 01:00 Beijing time are two days there, one day in UTC. */
TEST(days_are_counted_in_the_zone_given) {
        YbRetentionSnap s[] = {
                full("a", "2026-11-21T10:00:00Z"), /* 18:00 +08 on the 21st */
                full("b", "2026-11-21T15:00:00Z"), /* 23:00 +08 on the 21st */
                full("c", "2026-11-21T17:00:00Z"), /* 01:00 +08 on the 22nd */
        };
        YbRetention r = unset();
        YbKeepReason reasons[N_OF(s)];
        const char *tz = getenv("TZ");
        _cleanup_free_ char *saved = tz ? strdup(tz) : NULL;

        if (!have_zone("Asia/Shanghai"))
                skip();
        /* Two days: the newest of each. One day: its newest, and the oldest (the count is more
         * than the days there are). */
        r.keep_daily = 2;
        ASSERT_EQ(plan_tz(s, N_OF(s), &r, "UTC", reasons), 1);
        EXPECT(s, reasons, "daily", "prune", "daily");
        ASSERT_EQ(plan_tz(s, N_OF(s), &r, "Asia/Shanghai", reasons), 1);
        EXPECT(s, reasons, "prune", "daily", "daily");
        /* NULL is the local zone: TZ. */
        ASSERT_OK(setenv("TZ", "Asia/Shanghai", 1));
        tzset();
        ASSERT_EQ(plan_tz(s, N_OF(s), &r, NULL, reasons), 1);
        EXPECT(s, reasons, "prune", "daily", "daily");
        ASSERT_OK(setenv("TZ", "UTC", 1));
        tzset();
        ASSERT_EQ(plan_tz(s, N_OF(s), &r, NULL, reasons), 1);
        EXPECT(s, reasons, "daily", "prune", "daily");
        if (saved)
                setenv("TZ", saved, 1);
        else
                unsetenv("TZ");
        tzset();
}

/* The day clocks go back has 25 hours: 00:30 CEST and 23:30 CET are the same day. */
TEST(days_follow_dst_changes) {
        YbRetentionSnap s[] = {
                full("w", "2026-10-23T12:00:00Z"), /* the 23rd */
                full("x", "2026-10-24T22:30:00Z"), /* 00:30 +02 on the 25th */
                full("y", "2026-10-25T22:30:00Z"), /* 23:30 +01 on the 25th */
                full("z", "2026-10-25T23:30:00Z"), /* 00:30 +01 on the 26th */
        };
        YbRetentionSnap skip_midnight[] = {
                full("before", "2022-09-11T03:30:00Z"), /* 23:30 -04 on the 10th */
                full("after", "2022-09-11T04:30:00Z"), /* 01:30 -03 on the 11th: 00:00 is skipped */
                full("later", "2022-09-11T13:00:00Z"), /* 10:00 -03 on the 11th */
                full("oldest", "2022-09-09T12:00:00Z"),
        };
        YbRetentionSnap skip_date[] = {
                full("29th", "2011-12-30T09:30:00Z"), /* 23:30 -10 on the 29th */
                full("31st",
                     "2011-12-30T10:30:00Z"), /* 00:30 +14 on the 31st: the 30th never was */
                full("31st-later", "2011-12-30T11:00:00Z"),
                full("oldest", "2011-12-20T11:00:00Z"),
        };
        YbRetention r = unset();
        YbKeepReason reasons[4];

        if (!have_zone("Europe/Berlin") || !have_zone("America/Santiago") ||
            !have_zone("Pacific/Apia"))
                skip();
        r.keep_daily = 2;
        ASSERT_EQ(plan_tz(s, N_OF(s), &r, "Europe/Berlin", reasons), 2);
        EXPECT(s, reasons, "prune", "prune", "daily", "daily");
        ASSERT_EQ(plan_tz(skip_midnight, N_OF(skip_midnight), &r, "America/Santiago", reasons), 2);
        EXPECT(skip_midnight, reasons, "daily", "prune", "daily", "prune");
        ASSERT_EQ(plan_tz(skip_date, N_OF(skip_date), &r, "Pacific/Apia", reasons), 2);
        EXPECT(skip_date, reasons, "daily", "prune", "daily", "prune");
}

/* ---- Random histories against a brute-force reading of the rules ---- */

static uint64_t rng_state;

static uint64_t rnd(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static uint64_t below(uint64_t n) {
        return n ? rnd() % n : 0;
}

#define MAX_SNAPS 64

typedef struct History {
        YbRetentionSnap s[MAX_SNAPS];
        char ids[MAX_SNAPS][16], parents[MAX_SNAPS][16];
        size_t n;
        YbRetention rules;
        int64_t lock_until, now;
} History;

static void make_history(History *h) {
        size_t n = 1 + below(MAX_SNAPS), last_full = SIZE_MAX;
        int64_t t = T("2000-01-01T00:00:00Z") + (int64_t) below(25ULL * 365 * 86400) * SEC;

        h->n = 0;
        for (size_t k = 0; k < n; k++) {
                YbRetentionSnap *s = &h->s[h->n];
                uint64_t step = below(20);

                t += step == 0   ? 0 /* the same time: ids decide */
                     : step < 8  ? (int64_t) below(6 * 3600) * SEC
                     : step < 16 ? (int64_t) below(3 * 86400) * SEC
                                 : (int64_t) below(60 * 86400) * SEC;
                snprintf(h->ids[h->n], sizeof(h->ids[0]), "s%03zu-%04x", k,
                         (unsigned) below(0x10000));
                *s = (YbRetentionSnap){ .id = h->ids[h->n], .time_usec = t };
                if (h->n == 0 || below(10) == 0) {
                        s->level = 0;
                        h->parents[h->n][0] = 0;
                        last_full = h->n;
                } else if (below(6) == 0 && last_full != SIZE_MAX) {
                        s->level = 1;
                        memmove(h->parents[h->n], h->ids[last_full], sizeof(h->parents[0]));
                } else {
                        s->level = 2;
                        memmove(h->parents[h->n], h->ids[h->n - 1], sizeof(h->parents[0]));
                }
                s->parent = below(2) ? h->parents[h->n]
                                     : (h->parents[h->n][0] ? h->parents[h->n] : NULL);
                s->partial = below(6) == 0;
                h->n++;
        }
        /* Now and then a snapshot went missing: its children's chains are broken. */
        for (uint64_t drop = below(5) == 0 ? 1 + below(2) : 0; drop > 0 && h->n > 1; drop--) {
                size_t x = below(h->n);

                h->s[x] = h->s[h->n - 1];
                h->n--;
        }
        /* Any order. */
        for (size_t i = h->n; i > 1; i--) {
                size_t j = below(i);
                YbRetentionSnap tmp = h->s[i - 1];

                h->s[i - 1] = h->s[j];
                h->s[j] = tmp;
        }
        h->rules = unset();
        if (below(20) != 0) {
                int *counts[] = { &h->rules.keep_last, &h->rules.keep_daily, &h->rules.keep_weekly,
                                  &h->rules.keep_monthly, &h->rules.keep_yearly };

                for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                        if (below(2))
                                *counts[i] = (int) below(7);
                if (below(3) == 0)
                        h->rules.keep_within_usec = 1 + (int64_t) below(40 * 86400) * SEC;
        }
        h->now = t + (int64_t) below(90 * 86400) * SEC - 86400 * SEC;
        switch (below(10)) {
        case 0:
                h->lock_until = h->now + 1 + (int64_t) below(86400 * 100) * SEC;
                break;
        case 1:
                h->lock_until = h->now - (int64_t) below(86400 * 100) * SEC;
                break;
        default:
                h->lock_until = 0;
        }
}

static size_t find(const History *h, const char *id) {
        for (size_t i = 0; i < h->n; i++)
                if (streq(h->s[i].id, id))
                        return i;
        return SIZE_MAX;
}

static size_t parent_of(const History *h, size_t i) {
        const char *p = h->s[i].parent;

        return p && *p ? find(h, p) : SIZE_MAX;
}

static bool chain_whole(const History *h, size_t i) {
        for (size_t steps = 0; steps <= h->n; steps++) {
                const char *p = h->s[i].parent;

                if (!p || !*p)
                        return true;
                i = find(h, p);
                if (i == SIZE_MAX)
                        return false;
        }
        return false; /* a loop */
}

static bool newer(const YbRetentionSnap *a, const YbRetentionSnap *b) {
        return a->time_usec != b->time_usec ? a->time_usec > b->time_usec
                                            : strcmp(a->id, b->id) > 0;
}

/* The period of a time for kind 0 (each snapshot alone), 1 day, 2 week, 3 month, 4 year, with
 * gmtime() at a fixed UTC offset (UTC, or Asia/Shanghai, which has kept +08 since 1992). */
static int64_t period(const History *h, size_t i, int kind, int64_t offset) {
        time_t t = (time_t) (h->s[i].time_usec / SEC + (h->s[i].time_usec % SEC < 0 ? -1 : 0)) +
                   (time_t) offset;
        int64_t day = (int64_t) t / 86400 - ((int64_t) t % 86400 < 0);
        struct tm tm;

        ASSERT_TRUE(gmtime_r(&t, &tm));
        switch (kind) {
        case 0: { /* its own period: the newer, the greater */
                int64_t newer_ones = 0;

                for (size_t j = 0; j < h->n; j++)
                        newer_ones += newer(&h->s[j], &h->s[i]);
                return -newer_ones;
        }
        case 1:
                return day;
        case 2:
                return day - (tm.tm_wday + 6) % 7;
        case 3:
                return (int64_t) tm.tm_year * 12 + tm.tm_mon;
        default:
                return tm.tm_year;
        }
}

/* docs/policy.md, "How retention is applied", read literally and slowly. */
static void oracle(const History *h, int64_t offset, YbKeepReason *want) {
        const int counts[] = { h->rules.keep_last, h->rules.keep_daily, h->rules.keep_weekly,
                               h->rules.keep_monthly, h->rules.keep_yearly };
        const YbKeepReason whys[] = { YB_KEEP_LAST, YB_KEEP_DAILY, YB_KEEP_WEEKLY, YB_KEEP_MONTHLY,
                                      YB_KEEP_YEARLY };
        size_t oldest = 0, newest = 0, newest_complete = SIZE_MAX, newest_whole = SIZE_MAX;

        for (size_t i = 0; i < h->n; i++)
                want[i] = YB_KEEP_NOT;
        if (h->lock_until > 0 && h->now < h->lock_until) {
                for (size_t i = 0; i < h->n; i++)
                        want[i] = YB_KEEP_LOCKED;
                return;
        }
        if (!yb_retention_is_set(&h->rules)) {
                for (size_t i = 0; i < h->n; i++)
                        want[i] = YB_KEEP_ALL;
                return;
        }
        for (size_t i = 0; i < h->n; i++) {
                if (newer(&h->s[oldest], &h->s[i]))
                        oldest = i;
                if (newer(&h->s[i], &h->s[newest]))
                        newest = i;
                if (!h->s[i].partial) {
                        if (newest_complete == SIZE_MAX || newer(&h->s[i], &h->s[newest_complete]))
                                newest_complete = i;
                        if (chain_whole(h, i) &&
                            (newest_whole == SIZE_MAX || newer(&h->s[i], &h->s[newest_whole])))
                                newest_whole = i;
                }
        }
        for (int kind = 0; kind < 5; kind++) {
                int64_t key[MAX_SNAPS];
                bool first_of_period[MAX_SNAPS];
                size_t periods = 0;

                if (counts[kind] <= 0)
                        continue;
                for (size_t j = 0; j < h->n; j++) {
                        key[j] = period(h, j, kind, offset);
                        first_of_period[j] = true;
                        for (size_t m = 0; m < j; m++)
                                if (key[m] == key[j])
                                        first_of_period[j] = false;
                        periods += first_of_period[j];
                }
                for (size_t i = 0; i < h->n; i++) {
                        size_t newer_periods = 0;
                        bool rep = true;

                        /* How many periods are newer than i's; whether i represents its own. */
                        for (size_t j = 0; j < h->n; j++) {
                                newer_periods += first_of_period[j] && key[j] > key[i];
                                if (j == i || key[j] != key[i])
                                        continue;
                                if (!h->s[j].partial &&
                                    (h->s[i].partial || newer(&h->s[j], &h->s[i])))
                                        rep = false; /* a newer complete one, or a complete one */
                                if (h->s[j].partial && h->s[i].partial && newer(&h->s[j], &h->s[i]))
                                        rep = false;
                        }
                        if ((newer_periods < (size_t) counts[kind] && rep) ||
                            (i == oldest && periods < (size_t) counts[kind]))
                                if (want[i] == YB_KEEP_NOT)
                                        want[i] = whys[kind];
                }
        }
        if (h->rules.keep_within_usec > 0)
                for (size_t i = 0; i < h->n; i++)
                        if (h->s[i].time_usec > h->now - h->rules.keep_within_usec &&
                            want[i] == YB_KEEP_NOT)
                                want[i] = YB_KEEP_WITHIN;
        if (newest_complete == SIZE_MAX)
                newest_complete = newest;
        if (want[newest_complete] == YB_KEEP_NOT)
                want[newest_complete] = YB_KEEP_NEWEST;
        if (newest_whole != SIZE_MAX && want[newest_whole] == YB_KEEP_NOT)
                want[newest_whole] = YB_KEEP_NEWEST;
        /* Every ancestor of what the rules keep. */
        for (size_t i = 0; i < h->n; i++) {
                if (want[i] == YB_KEEP_NOT || want[i] == YB_KEEP_CHAIN)
                        continue;
                for (size_t cur = parent_of(h, i), steps = 0; cur != SIZE_MAX && steps < h->n;
                     cur = parent_of(h, cur), steps++)
                        if (want[cur] == YB_KEEP_NOT)
                                want[cur] = YB_KEEP_CHAIN;
        }
}

static void check_history(const History *h, const char *tz, int64_t offset, unsigned iteration) {
        YbKeepReason got[MAX_SNAPS], want[MAX_SNAPS];
        size_t pruned = 0, newest_complete = SIZE_MAX;
        int r;

        r = yb_retention_plan(h->s, h->n, &h->rules, h->lock_until, h->now, tz, got);
        ASSERT_OK(r);
        oracle(h, offset, want);
        for (size_t i = 0; i < h->n; i++)
                if (got[i] != want[i])
                        fail_msg("iteration %u (%s), snapshot %s: %s, expected %s", iteration, tz,
                                 h->s[i].id, yb_keep_reason_to_string(got[i]),
                                 yb_keep_reason_to_string(want[i]));
        /* The promises, checked directly as well. */
        for (size_t i = 0; i < h->n; i++) {
                pruned += got[i] == YB_KEEP_NOT;
                if (!h->s[i].partial &&
                    (newest_complete == SIZE_MAX || newer(&h->s[i], &h->s[newest_complete])))
                        newest_complete = i;
                if (got[i] == YB_KEEP_NOT)
                        continue;
                for (size_t cur = parent_of(h, i), steps = 0; cur != SIZE_MAX && steps < h->n;
                     cur = parent_of(h, cur), steps++)
                        if (got[cur] == YB_KEEP_NOT)
                                fail_msg("iteration %u: kept %s needs pruned %s", iteration,
                                         h->s[i].id, h->s[cur].id);
                if (h->lock_until > h->now)
                        ASSERT_EQ(got[i], YB_KEEP_LOCKED);
        }
        ASSERT_EQ((size_t) r, pruned);
        if (newest_complete != SIZE_MAX)
                ASSERT_NE(got[newest_complete], YB_KEEP_NOT);
        if (h->lock_until > h->now)
                ASSERT_EQ(pruned, 0);
}

TEST(random_histories_never_break_a_chain) {
        static History h;
        size_t total = 0, total_pruned = 0, locked = 0;

        rng_state = 0x9e3779b97f4a7c15ULL;
        for (unsigned it = 0; it < 5000; it++) {
                YbKeepReason got[MAX_SNAPS];

                make_history(&h);
                check_history(&h, "UTC", 0, it);
                ASSERT_OK(yb_retention_plan(h.s, h.n, &h.rules, h.lock_until, h.now, "UTC", got));
                for (size_t i = 0; i < h.n; i++)
                        total_pruned += got[i] == YB_KEEP_NOT;
                total += h.n;
                locked += h.lock_until > h.now;
        }
        /* The histories exercised both sides. */
        ASSERT_GT(total_pruned, total / 10);
        ASSERT_LT(total_pruned, total - total / 10);
        ASSERT_GT(locked, 100);
}

TEST(random_histories_in_a_zone) {
        static History h;

        if (!have_zone("Asia/Shanghai"))
                skip();
        rng_state = 0x2545f4914f6cdd1dULL;
        for (unsigned it = 0; it < 300; it++) {
                make_history(&h);
                check_history(&h, "Asia/Shanghai", 8 * 3600, it);
        }
}

/* ---- Pruning a repository ---- */

#define SYSTEM "hr"

typedef struct Fixture {
        TestTmpdir *d;
        YbStore *store;
        YbSecretKey *key;
        YbAgentIdentity *agent;
        YbRepo *repo;
} Fixture;

static void fixture_free(Fixture *f) {
        yb_repo_free(f->repo);
        yb_agent_identity_free(f->agent);
        yb_secret_key_free(f->key);
        yb_store_close(f->store);
        test_tmpdir_free(f->d);
        free(f);
}
DEFINE_FREEP(Fixture, fixture_free);

static Fixture *fixture_new(void) {
        Fixture *f = new0(Fixture, 1);
        _cleanup_free_ char *root = NULL, *agent = NULL;

        ASSERT_TRUE(f);
        f->d = test_tmpdir_new();
        root = test_tmpdir_path(f->d, "store");
        agent = test_tmpdir_path(f->d, "agent");
        ASSERT_OK(mkdirat(f->d->fd, "store", 0700));
        ASSERT_OK(yb_store_open(root, &f->store));
        ASSERT_OK(yb_key_generate(SYSTEM, &f->key));
        ASSERT_OK(yb_agent_identity_load(agent, &f->agent));
        ASSERT_OK(yb_repo_open_or_create(f->store, &f->key->pub, &f->repo));
        ASSERT_OK(yb_repo_lock(f->repo));
        return f;
}

/* Commits a snapshot holding one small file (its content depends on seed). */
static YbSnapshotHeader *commit(Fixture *f, YbLevel level, const YbSnapshotHeader *parent,
                                const YbSnapshotHeader *base, uint64_t seed) {
        _cleanup_(yb_snapshot_writer_freep) YbSnapshotWriter *w = NULL;
        static char *srcs[] = { (char *) "/srv/src" };
        YbSnapshotHeader h = { .counts = { .files = 1, .dirs = 1, .whole = 1 },
                               .sources = srcs,
                               .n_sources = 1 };
        YbEntry dir = { .type = YB_ENTRY_DIR, .path = (char *) "src", .mode = 0755 };
        YbEntry file = { .type = YB_ENTRY_FILE,
                         .path = (char *) "src/a.txt",
                         .mode = 0644,
                         .content = YB_CONTENT_WHOLE,
                         .size = 3000,
                         .stored = 3000 };
        YbPaxEntry pe = { .name = "tree/src/a.txt", .mode = 0644, .size = 3000 };
        YbWriterOptions opts = { .host = "app01" };
        YbSnapshotHeader *ret = NULL;
        uint8_t data[3000];

        test_fill_random(data, sizeof(data), seed);
        yb_hash_buf(data, sizeof(data), file.hash);
        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, level, parent, base, &opts, &w));
        ASSERT_OK(yb_snapshot_writer_add(w, &dir));
        ASSERT_OK(yb_snapshot_writer_begin_entry(w, &pe, &file.volume, &file.entry));
        ASSERT_OK(yb_snapshot_writer_data(w, data, sizeof(data)));
        ASSERT_OK(yb_snapshot_writer_end_entry(w));
        ASSERT_OK(yb_snapshot_writer_add(w, &file));
        ASSERT_OK(yb_snapshot_writer_commit(w, &h, &ret));
        return ret;
}

/* A full, an incremental on it, and one more on that. */
typedef struct Chain {
        YbSnapshotHeader *f, *i1, *i2;
} Chain;

static void chain_make(Fixture *f, Chain *c) {
        c->f = commit(f, YB_LEVEL_FULL, NULL, NULL, 1);
        c->i1 = commit(f, YB_LEVEL_INCREMENTAL, c->f, c->f, 2);
        c->i2 = commit(f, YB_LEVEL_INCREMENTAL, c->i1, c->f, 3);
}

static void chain_done(Chain *c) {
        yb_header_free(c->f);
        yb_header_free(c->i1);
        yb_header_free(c->i2);
}

static void no_report(void *userdata, const char *snapshot, const char *file, const char *problem) {
        fprintf(stderr, "verify: %s/%s: %s\n", snapshot, file ? file : "", problem);
        (*(int *) userdata)++;
}

/* The ids of the snapshots in the repository, all of which verify, oldest first, joined by
 * spaces; damaged ones fail the case. */
static char *snapshots_verified(Fixture *f) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        YbBuf b = YB_BUF_INIT;

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n_broken, 0);
        for (size_t i = 0; i < l.n; i++) {
                int problems = 0;

                ASSERT_EQ(yb_verify_snapshot(f->repo, l.items[i], &l, f->key, no_report, &problems),
                          0);
                ASSERT_EQ(problems, 0);
                if (i > 0)
                        ASSERT_OK(yb_buf_append(&b, " ", 1));
                ASSERT_OK(yb_buf_append(&b, l.items[i]->id, strlen(l.items[i]->id)));
        }
        ASSERT_OK(yb_buf_append(&b, "", 1));
        return (char *) b.data;
}

static char *join(const YbSnapshotHeader *a, const YbSnapshotHeader *b, const YbSnapshotHeader *c) {
        char *s;

        ASSERT_TRUE(asprintf(&s, "%s%s%s%s%s", a ? a->id : "", b ? " " : "", b ? b->id : "",
                             c ? " " : "", c ? c->id : "") > 0);
        return s;
}

TEST(prune_refuses_a_snapshot_another_needs) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(chain_done) Chain c = { 0 };
        _cleanup_free_ char *all = NULL, *after = NULL, *two = NULL, *left = NULL;

        chain_make(f, &c);
        all = join(c.f, c.i1, c.i2);
        ASSERT_ERR(yb_repo_prune(f->repo, c.i1->id), ENOTEMPTY);
        ASSERT_ERR(yb_repo_prune(f->repo, c.f->id), ENOTEMPTY);
        after = snapshots_verified(f);
        ASSERT_STREQ(after, all);

        ASSERT_OK(yb_repo_prune(f->repo, c.i2->id));
        two = join(c.f, c.i1, NULL);
        left = snapshots_verified(f);
        ASSERT_STREQ(left, two);
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/tmp"), 0);
        ASSERT_ERR(yb_repo_prune(f->repo, c.i2->id), ENOENT);
        ASSERT_ERR(yb_repo_prune(f->repo, "../config"), EINVAL);
        ASSERT_ERR(yb_repo_prune(f->repo, c.f->id), ENOTEMPTY);
}

typedef struct Calls {
        char log[512];
} Calls;

static void record(void *userdata, const char *id, int error, const char *child) {
        Calls *c = userdata;
        size_t n = strlen(c->log);

        snprintf(c->log + n, sizeof(c->log) - n, "%s%s:%d:%s", n ? " " : "", id, error,
                 child ? child : "-");
}

TEST(prune_many_removes_children_first) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(chain_done) Chain c = { 0 };
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *want = NULL;
        Calls calls = { "" };

        chain_make(f, &c);
        /* Given parents first: removed children first all the same. */
        const char *ids[] = { c.f->id, c.i1->id, c.i2->id };
        ASSERT_OK(yb_repo_prune_many(f->repo, ids, 3, record, &calls));
        ASSERT_TRUE(asprintf(&want, "%s:0:- %s:0:- %s:0:-", c.i2->id, c.i1->id, c.f->id) > 0);
        ASSERT_STREQ(calls.log, want);
        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n + l.n_broken, 0);
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/tmp"), 0);
}

TEST(prune_many_skips_what_a_remaining_snapshot_needs) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(chain_done) Chain c = { 0 };
        _cleanup_free_ char *want = NULL, *all = NULL, *left = NULL;
        YbSnapshotHeader *d, *i3;
        Calls calls = { "" };

        chain_make(f, &c);
        d = commit(f, YB_LEVEL_DIFFERENTIAL, c.f, c.f, 4);
        i3 = commit(f, YB_LEVEL_INCREMENTAL, d, c.f, 5);
        /* i2 stays: i1 and f are refused, naming what needs them; unknown ids are reported. */
        const char *ids[] = { c.f->id, "20200101T000000Z-000000", c.i1->id };
        ASSERT_ERR(yb_repo_prune_many(f->repo, ids, 3, record, &calls), ENOENT);
        ASSERT_TRUE(asprintf(&want, "20200101T000000Z-000000:%d:- %s:%d:%s %s:%d:%s", -ENOENT,
                             c.f->id, -ENOTEMPTY, c.i1->id, c.i1->id, -ENOTEMPTY, c.i2->id) > 0);
        ASSERT_STREQ(calls.log, want);
        /* The first chain goes; the full stays for the differential's. */
        const char *first_chain[] = { c.f->id, c.i1->id, c.i2->id };
        calls.log[0] = 0;
        ASSERT_ERR(yb_repo_prune_many(f->repo, first_chain, 3, record, &calls), ENOTEMPTY);
        free(want);
        ASSERT_TRUE(asprintf(&want, "%s:0:- %s:0:- %s:%d:%s", c.i2->id, c.i1->id, c.f->id,
                             -ENOTEMPTY, d->id) > 0);
        ASSERT_STREQ(calls.log, want);
        all = join(c.f, d, i3);
        left = snapshots_verified(f);
        ASSERT_STREQ(left, all);
        yb_header_free(d);
        yb_header_free(i3);
}

/* A damaged header may yet be repaired: what it names is not pruned while it can be read. */
TEST(prune_keeps_what_a_damaged_snapshot_names) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(chain_done) Chain c = { 0 };
        _cleanup_(yb_buf_done) YbBuf hdr = YB_BUF_INIT;
        _cleanup_free_ char *path = NULL;
        Calls calls = { "" };
        char *sig;

        chain_make(f, &c);
        ASSERT_TRUE(asprintf(&path, "store/" SYSTEM "/snapshots/%s/header", c.i2->id) > 0);
        test_read_file(f->d->fd, path, &hdr);
        sig = memmem(hdr.data, hdr.size, "\ned25519 ", 9);
        ASSERT_TRUE(sig);
        test_flip_byte(f->d->fd, path, (uint64_t) (sig - (char *) hdr.data) + 10, 0x01);
        const char *ids[] = { c.i1->id };
        ASSERT_ERR(yb_repo_prune_many(f->repo, ids, 1, record, &calls), ENOTEMPTY);
        ASSERT_TRUE(strstr(calls.log, c.i2->id));
        /* A header that is not even JSON names nothing. */
        test_write_file(f->d->fd, path, "garbage", 7);
        ASSERT_OK(yb_repo_prune(f->repo, c.i1->id));
}

TEST(prune_replaces_a_leftover_of_an_earlier_prune) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(chain_done) Chain c = { 0 };
        _cleanup_free_ char *aside = NULL, *junk = NULL;

        chain_make(f, &c);
        ASSERT_TRUE(asprintf(&aside, "store/" SYSTEM "/tmp/prune-%s", c.i2->id) > 0);
        ASSERT_TRUE(asprintf(&junk, "%s/vol-000001", aside) > 0);
        ASSERT_TRUE(mkdirat(f->d->fd, "store/" SYSTEM "/tmp", 0700) == 0 || errno == EEXIST);
        ASSERT_OK(mkdirat(f->d->fd, aside, 0700));
        test_write_file(f->d->fd, junk, "half", 4);
        ASSERT_OK(yb_repo_prune(f->repo, c.i2->id));
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/tmp"), 0);
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/snapshots"), 2);
}

/* A segment of root's chain after parent, holding nothing but its header's one source: the WAL
 * directory of a hook (as wal-archive writes them) or a host path (as a replicator does). */
static YbSnapshotHeader *commit_segment(Fixture *f, const YbSnapshotHeader *root,
                                        const YbSnapshotHeader *parent, uint64_t seq,
                                        const char *source) {
        _cleanup_(yb_snapshot_writer_freep) YbSnapshotWriter *w = NULL;
        char *srcs[] = { (char *) source };
        YbSnapshotHeader h = { .sources = srcs, .n_sources = 1 };
        YbWriterOptions opts = { .host = "db01", .seq = seq };
        YbSnapshotHeader *ret = NULL;

        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_SEGMENT, parent, root, &opts,
                                         &w));
        ASSERT_OK(yb_snapshot_writer_commit(w, &h, &ret));
        return ret;
}

static bool store_has(Fixture *f, const char *dir, const char *id) {
        _cleanup_free_ char *p = NULL;

        ASSERT_TRUE(asprintf(&p, "store/" SYSTEM "/%s/%s", dir, id) > 0);
        return faccessat(f->d->fd, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

TEST(prune_takes_a_bases_wal_archive_chain_with_it) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_free_ char *want = NULL;
        YbSnapshotHeader *base = commit(f, YB_LEVEL_FULL, NULL, NULL, 1);
        YbSnapshotHeader *repl = commit(f, YB_LEVEL_FULL, NULL, NULL, 2);
        YbSnapshotHeader *mixed = commit(f, YB_LEVEL_FULL, NULL, NULL, 3);
        YbSnapshotHeader *newest = commit(f, YB_LEVEL_FULL, NULL, NULL, 4);
        YbSnapshotHeader *segs[5], *last = NULL;
        Calls calls = { "" };

        segs[0] = commit_segment(f, base, base, 1, "_pg/hr-db/wal");
        segs[1] = commit_segment(f, base, segs[0], 2, "_pg/hr-db/wal");
        segs[2] = commit_segment(f, repl, repl, 1, "/srv/src");
        segs[3] = commit_segment(f, mixed, mixed, 1, "_pg/hr-db/wal");
        segs[4] = commit_segment(f, mixed, segs[3], 2, "/srv/src");
        /* Told apart by the headers alone, without the key. */
        ASSERT_EQ(yb_walarchive_chain_is_archive(f->repo, base->id), 1);
        ASSERT_EQ(yb_walarchive_chain_is_archive(f->repo, repl->id), 0);
        ASSERT_EQ(yb_walarchive_chain_is_archive(f->repo, mixed->id), 0);
        ASSERT_ERR(yb_walarchive_chain_is_archive(f->repo, newest->id), ENOENT);
        ASSERT_OK(yb_walarchive_last_segment(f->repo, base->id, &last, NULL));
        ASSERT_TRUE(last);
        ASSERT_STREQ(last->id, segs[1]->id);
        ASSERT_EQ(last->seq, 2);
        yb_header_free(last);
        ASSERT_OK(yb_walarchive_last_segment(f->repo, newest->id, &last, NULL));
        ASSERT_FALSE(last);

        /* The base goes with its chain; the other two roots stay for their chains. */
        const char *ids[] = { base->id, repl->id, mixed->id };
        ASSERT_ERR(yb_repo_prune_many(f->repo, ids, 3, record, &calls), ENOTEMPTY);
        /* (The two refusals come in listing order, which within a second is random.) */
        ASSERT_TRUE(asprintf(&want, "%s:0:- ", base->id) > 0);
        ASSERT_EQ(strncmp(calls.log, want, strlen(want)), 0);
        free(want);
        ASSERT_TRUE(asprintf(&want, "%s:%d:%s", repl->id, -ENOTEMPTY, YB_PRUNE_NEEDED_BY_SEGMENTS) >
                    0);
        ASSERT_TRUE(strstr(calls.log, want));
        free(want);
        ASSERT_TRUE(asprintf(&want, "%s:%d:%s", mixed->id, -ENOTEMPTY,
                             YB_PRUNE_NEEDED_BY_SEGMENTS) > 0);
        ASSERT_TRUE(strstr(calls.log, want));
        ASSERT_FALSE(store_has(f, "snapshots", base->id));
        ASSERT_FALSE(store_has(f, "segments", base->id));
        ASSERT_TRUE(store_has(f, "snapshots", repl->id) && store_has(f, "segments", repl->id));
        ASSERT_TRUE(store_has(f, "snapshots", mixed->id) && store_has(f, "segments", mixed->id));
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/tmp"), 0);
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/snapshots"), 3);
        for (size_t i = 0; i < ELEMENTSOF(segs); i++)
                yb_header_free(segs[i]);
        yb_header_free(base);
        yb_header_free(repl);
        yb_header_free(mixed);
        yb_header_free(newest);
}

/* Crashes: the process is killed at each fsync of a prune in turn (YB_FAULT="kill:N", in a fresh
 * child each time), or that fsync fails. Whatever happened, the snapshot is whole in snapshots/
 * or not there at all, the others all verify, and yb_repo_cleanup_tmp leaves tmp/ empty. */

typedef struct PruneRun {
        Fixture *f;
        const char *id;
        char spec[32];
} PruneRun;

static int child_prune(void *userdata) {
        PruneRun *run = userdata;
        int r;

        CHILD_CHECK(setenv("YB_FAULT", run->spec, 1) == 0);
        r = yb_repo_prune(run->f->repo, run->id);
        if (r >= 0)
                return 0;
        CHILD_CHECK(r == -EIO);
        return 2;
}

static void prune_with_faults(const char *op, int fault_status) {
        bool succeeded = false, saw_aside = false;
        int n;

        /* Each round starts afresh: the first fault already comes after the rename. */
        for (n = 1; n < 100 && !succeeded; n++) {
                _cleanup_(fixture_freep) Fixture *f = fixture_new();
                _cleanup_(chain_done) Chain c = { 0 };
                _cleanup_free_ char *aside = NULL, *dir = NULL, *want = NULL, *now = NULL;
                PruneRun run = { .f = f };
                bool there;
                int status;

                chain_make(f, &c);
                run.id = c.i2->id;
                ASSERT_TRUE(asprintf(&aside, "store/" SYSTEM "/tmp/prune-%s", c.i2->id) > 0);
                ASSERT_TRUE(asprintf(&dir, "store/" SYSTEM "/snapshots/%s", c.i2->id) > 0);
                snprintf(run.spec, sizeof(run.spec), "%s:%d", op, n);
                status = test_run_forked(child_prune, &run);
                if (status != 0 && status != fault_status)
                        fail_msg("%s: the child ended with status %d", run.spec, status);
                succeeded = status == 0;
                saw_aside |= faccessat(f->d->fd, aside, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
                ASSERT_OK(yb_repo_cleanup_tmp(f->repo));
                ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/tmp"), 0);
                there = faccessat(f->d->fd, dir, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
                want = there ? join(c.f, c.i1, c.i2) : join(c.f, c.i1, NULL);
                now = snapshots_verified(f); /* all whole: i2 too, if it is there */
                ASSERT_STREQ(now, want);
                if (succeeded)
                        ASSERT_FALSE(there);
        }
        ASSERT_TRUE(succeeded);
        ASSERT_GT(n, 3);        /* the faults did fire, at more than one step */
        ASSERT_TRUE(saw_aside); /* one came between the rename and the removal */
}

TEST(kill_during_prune_leaves_whole_or_nothing) {
#ifndef YB_FAULT_INJECTION
        skip();
#endif
        prune_with_faults("kill", 128 + SIGKILL);
}

TEST(failed_fsync_during_prune_leaves_whole_or_nothing) {
#ifndef YB_FAULT_INJECTION
        skip();
#endif
        prune_with_faults("fsync", 2);
}
