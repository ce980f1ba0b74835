#include "policies/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/base/timeutil.h"
#include "core/repo/graph.h"
#include "policies/tz.h"

#define TZ_MAX 64

/* ---- Local days ---- */

/* Which local calendar day a time falls on, in a zone (policies/tz.h), with DST treated as the
 * schedules treat it: a day starts at its first second that exists (some zones skip midnight:
 * America/Santiago on 2022-09-11 starts at 01:00), and a date a zone skips altogether
 * (Pacific/Apia, 2011-12-30) has no snapshot. */
typedef struct Days {
        const char *tz; /* NULL: local */
        bool utc;
        YbTz *zone; /* read when the first day needs it */
        bool have;  /* the last day found: times in [lo, hi) are on day */
        int64_t lo, hi, day;
} Days;

static void days_done(Days *d) {
        yb_tz_unref(d->zone);
}

/* Outside these days a date and the days around it are not all within the calendar's years
 * (1970 to 2199): there, days are UTC days. */
static int64_t day_min(void) {
        return 4; /* 1970-01-05 */
}

static int64_t day_max(void) {
        return yb_days_from_civil(2199, 12, 29);
}

/* The UTC second at which local date day starts: its first second that exists in the zone.
 * -ENOENT if the zone skips the whole date. */
static int day_start(Days *d, int64_t day, int64_t *ret) {
        if (!d->zone) {
                int r = d->tz ? yb_tz_get(d->tz, &d->zone) : yb_tz_get_local(&d->zone);

                if (r < 0)
                        return r == -ENOMEM ? r : -EINVAL;
        }
        return yb_tz_day_start(d->zone, day, ret);
}

/* The local day (days since 1970-01-01 in the zone's calendar) of t (UTC seconds). */
static int local_day(Days *d, int64_t t, int64_t *ret) {
        int64_t u = yb_floor_div(t, YB_SEC_PER_DAY), s[5];
        bool ok[5];
        int best = -1;

        if (d->utc || u < day_min() || u > day_max()) {
                *ret = u;
                return 0;
        }
        if (d->have && t >= d->lo && t < d->hi) {
                *ret = d->day;
                return 0;
        }
        /* The local date is within a day of the UTC date: the one among the five around it
         * that starts last at or before t. */
        for (int k = 0; k < 5; k++) {
                int r = day_start(d, u - 2 + k, &s[k]);

                if (r < 0 && r != -ENOENT)
                        return r;
                ok[k] = r >= 0;
                if (ok[k] && s[k] <= t)
                        best = k;
        }
        if (best < 0) { /* cannot happen with real zones; count it as a UTC day */
                *ret = u;
                return 0;
        }
        d->have = true;
        d->lo = s[best];
        d->hi = t + 1;
        for (int k = best + 1; k < 5; k++)
                if (ok[k]) {
                        d->hi = s[k];
                        break;
                }
        d->day = u - 2 + best;
        *ret = d->day;
        return 0;
}

/* Checks tz: NULL (local), "UTC" (any case), or a zone of the tz database that reads (the
 * calendar code takes the same names). */
static int zone_check(const char *tz, bool *ret_utc) {
        _cleanup_(yb_tz_unrefp) YbTz *z = NULL;
        int r;

        *ret_utc = false;
        if (!tz)
                return 0;
        if (strcasecmp(tz, "UTC") == 0) {
                *ret_utc = true;
                return 0;
        }
        if (strlen(tz) > TZ_MAX)
                return -EINVAL;
        r = yb_tz_get(tz, &z); /* refuses the leap-second "right/" zones, as the calendar does */
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        return 0;
}

/* ---- The snapshot graph ---- */

/* The graph of snaps (core/repo/graph.h): -EINVAL for what yb_retention_plan refuses in snaps,
 * or -ENOMEM. */
static int graph_of(const YbRetentionSnap *snaps, size_t n, YbGraph **ret) {
        _cleanup_free_ YbGraphPair *pairs = NULL;

        if (n > 0 && !snaps)
                return -EINVAL;
        pairs = new0(YbGraphPair, n + 1);
        if (!pairs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                pairs[i] = (YbGraphPair){ snaps[i].id, snaps[i].parent };
        return yb_graph_new(pairs, n, ret);
}

int yb_retention_check_chains(const YbRetentionSnap *snaps, size_t n, const char **ret_missing) {
        _cleanup_(yb_graph_freep) YbGraph *g = NULL;
        int r;

        r = graph_of(snaps, n, &g);
        if (r < 0)
                return r;
        return yb_graph_check_chains(g, ret_missing);
}

/* ---- The plan ---- */

bool yb_retention_is_set(const YbRetention *r) {
        return r->keep_last != -1 || r->keep_daily != -1 || r->keep_weekly != -1 ||
               r->keep_monthly != -1 || r->keep_yearly != -1 || r->keep_within_usec != 0;
}

static bool rules_valid(const YbRetention *r) {
        return r->keep_last >= -1 && r->keep_daily >= -1 && r->keep_weekly >= -1 &&
               r->keep_monthly >= -1 && r->keep_yearly >= -1 && r->keep_within_usec >= 0;
}

static int newest_first_cmp(const void *a, const void *b, void *ud) {
        const YbRetentionSnap *s = ud, *x = &s[*(const size_t *) a], *y = &s[*(const size_t *) b];

        if (x->time_usec != y->time_usec)
                return x->time_usec > y->time_usec ? -1 : 1;
        return -strcmp(x->id, y->id);
}

static void keep(YbKeepReason *reasons, size_t i, YbKeepReason why) {
        if (reasons[i] == YB_KEEP_NOT)
                reasons[i] = why;
}

/* Keeps one snapshot of each of the count newest periods (key[i]: the period of snapshot i;
 * NULL: each snapshot is a period of its own), the newest complete one if the period has one.
 * order is newest first, so a period's snapshots are next to each other. If count is more than
 * the periods there are, the oldest snapshot is kept too (as restic's forget does). */
static void keep_periods(const YbRetentionSnap *s, const size_t *order, size_t n,
                         const int64_t *key, int count, YbKeepReason why, YbKeepReason *reasons) {
        for (size_t a = 0; a < n && count > 0; count--) {
                size_t b = a + 1, rep = order[a];

                if (key)
                        while (b < n && key[order[b]] == key[order[a]])
                                b++;
                for (size_t j = a; j < b; j++)
                        if (!s[order[j]].partial) {
                                rep = order[j];
                                break;
                        }
                keep(reasons, rep, why);
                a = b;
        }
        if (count > 0)
                keep(reasons, order[n - 1], why);
}

/* Fills the period keys of every snapshot: day, week (its Monday), month, year. */
static int period_keys(const YbRetentionSnap *s, const size_t *order, size_t n, const char *tz,
                       bool utc, int64_t *day, int64_t *week, int64_t *month, int64_t *year) {
        _cleanup_(days_done) Days d = { .tz = tz, .utc = utc };

        /* Newest first: neighbours share days, so most lookups hit the last day found. */
        for (size_t k = 0; k < n; k++) {
                size_t i = order[k];
                int64_t y;
                int m, dd, r;

                r = local_day(&d, yb_floor_div(s[i].time_usec, YB_USEC_PER_SEC), &day[i]);
                if (r < 0)
                        return r;
                /* Day 0 was a Thursday: (day + 3) mod 7 counts from Monday (ISO 8601 weeks). */
                week[i] = day[i] - (day[i] + 3 - yb_floor_div(day[i] + 3, 7) * 7);
                yb_civil_from_days(day[i], &y, &m, &dd);
                month[i] = y * 12 + (m - 1);
                year[i] = y;
        }
        return 0;
}

int yb_retention_plan(const YbRetentionSnap *snaps, size_t n, const YbRetention *rules,
                      int64_t lock_until_usec, int64_t now_usec, const char *tz,
                      YbKeepReason *ret_reasons) {
        _cleanup_(yb_graph_freep) YbGraph *g = NULL;
        _cleanup_free_ YbKeepReason *reasons = NULL;
        _cleanup_free_ const char **missing = NULL;
        _cleanup_free_ size_t *order = NULL;
        _cleanup_free_ int64_t *keys = NULL;
        _cleanup_free_ bool *closed = NULL;
        size_t pruned = 0;
        bool utc;
        int r;

        if (!rules || !ret_reasons || !rules_valid(rules))
                return -EINVAL;
        r = zone_check(tz, &utc);
        if (r < 0)
                return r;
        r = graph_of(snaps, n, &g);
        if (r < 0)
                return r;
        if (n == 0)
                return 0;
        reasons = new0(YbKeepReason, n);
        missing = new0(const char *, n);
        order = new0(size_t, n);
        closed = new0(bool, n);
        if (!reasons || !missing || !order || !closed)
                return -ENOMEM;

        if (lock_until_usec > 0 && now_usec < lock_until_usec) {
                for (size_t i = 0; i < n; i++)
                        reasons[i] = YB_KEEP_LOCKED;
                goto done;
        }
        if (!yb_retention_is_set(rules)) {
                for (size_t i = 0; i < n; i++)
                        reasons[i] = YB_KEEP_ALL;
                goto done;
        }

        r = yb_graph_check_chains(g, missing);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        qsort_r(order, n, sizeof(size_t), newest_first_cmp, (void *) snaps);

        /* The rules, in the order of their reasons' precedence. */
        keep_periods(snaps, order, n, NULL, rules->keep_last, YB_KEEP_LAST, reasons);
        if (rules->keep_daily > 0 || rules->keep_weekly > 0 || rules->keep_monthly > 0 ||
            rules->keep_yearly > 0) {
                const struct {
                        int count;
                        YbKeepReason why;
                } period[] = {
                        { rules->keep_daily, YB_KEEP_DAILY },
                        { rules->keep_weekly, YB_KEEP_WEEKLY },
                        { rules->keep_monthly, YB_KEEP_MONTHLY },
                        { rules->keep_yearly, YB_KEEP_YEARLY },
                };

                keys = new0(int64_t, 4 * n);
                if (!keys)
                        return -ENOMEM;
                r = period_keys(snaps, order, n, tz, utc, keys, keys + n, keys + 2 * n,
                                keys + 3 * n);
                if (r < 0)
                        return r;
                for (size_t p = 0; p < ELEMENTSOF(period); p++)
                        keep_periods(snaps, order, n, keys + p * n, period[p].count, period[p].why,
                                     reasons);
        }
        if (rules->keep_within_usec > 0)
                for (size_t i = 0; i < n; i++)
                        if (snaps[i].time_usec > now_usec - rules->keep_within_usec)
                                keep(reasons, i, YB_KEEP_WITHIN);

        /* The newest complete snapshot, and the newest complete one that can be restored. */
        {
                size_t newest = SIZE_MAX, whole = SIZE_MAX;

                for (size_t k = 0; k < n; k++) {
                        size_t i = order[k];

                        if (snaps[i].partial)
                                continue;
                        if (newest == SIZE_MAX)
                                newest = i;
                        if (!missing[i]) {
                                whole = i;
                                break;
                        }
                }
                keep(reasons, newest != SIZE_MAX ? newest : order[0], YB_KEEP_NEWEST);
                if (whole != SIZE_MAX)
                        keep(reasons, whole, YB_KEEP_NEWEST);
        }

        /* Chains: every ancestor of a kept snapshot is kept. Each snapshot is walked at most once
         * (closed), which also ends a loop of parents. */
        for (size_t i = 0; i < n; i++)
                if (reasons[i] != YB_KEEP_NOT)
                        (void) yb_graph_mark_chain(g, i, closed);
        for (size_t i = 0; i < n; i++)
                if (closed[i])
                        keep(reasons, i, YB_KEEP_CHAIN);

done:
        for (size_t i = 0; i < n; i++)
                pruned += reasons[i] == YB_KEEP_NOT;
        memcpy(ret_reasons, reasons, n * sizeof(YbKeepReason));
        return (int) MIN(pruned, (size_t) INT32_MAX);
}

const char *yb_keep_reason_to_string(YbKeepReason r) {
        static const char *const names[_YB_KEEP_MAX] = {
                [YB_KEEP_NOT] = "prune",       [YB_KEEP_LAST] = "last",
                [YB_KEEP_DAILY] = "daily",     [YB_KEEP_WEEKLY] = "weekly",
                [YB_KEEP_MONTHLY] = "monthly", [YB_KEEP_YEARLY] = "yearly",
                [YB_KEEP_WITHIN] = "within",   [YB_KEEP_CHAIN] = "chain",
                [YB_KEEP_LOCKED] = "locked",   [YB_KEEP_ALL] = "all",
                [YB_KEEP_NEWEST] = "newest",
        };

        if ((unsigned) r >= _YB_KEEP_MAX)
                return NULL;
        return names[r];
}
