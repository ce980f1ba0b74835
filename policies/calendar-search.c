/* policies/calendar-search.c: the next elapse of a calendar expression (yb_calendar_next() of
 * calendar.h), found as systemd 252.38's src/shared/calendarspec.c finds it: field by field from
 * the year down, with dates normalised the way its mktime()/timegm() calls normalise them. Those
 * calls decide what happens at DST changes, so rather than solving for times directly,
 * clock_mktime() repeats glibc's mktime() step by step over the zone's UTC offsets (policies/tz.h).
 * tests/integration/calendar-vs-systemd.sh checks the result against systemd-analyze. */
#include <time.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "policies/calendar-internal.h"
#include "policies/tz.h"

/* ---- Clocks: localtime() and mktime() over a zone's offsets ---- */

typedef struct Clock {
        const YbTz *zone; /* NULL: UTC */
        /* What glibc's mktime() keeps between calls: UTC minus local time of its last result,
         * its first guess for the next call. */
        int64_t offset;
} Clock;

/* Seconds since the epoch of a broken-down time read as UTC (fields normalised already). */
static int64_t tm_seconds(const struct tm *tm) {
        return (yb_days_from_civil((int64_t) tm->tm_year + 1900, 1, 1) + tm->tm_yday) * 86400 +
               tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
}

/* localtime_r() (gmtime_r() for UTC) of t. */
static void clock_convert(const Clock *k, int64_t t, struct tm *ret) {
        YbTzSpan span = { .gmtoff = 0, .isdst = false };
        int64_t local, days, secs, y;
        int m, d;

        if (k->zone)
                yb_tz_span(k->zone, t, &span);

        local = t + span.gmtoff;
        days = yb_floor_div(local, 86400);
        secs = local - days * 86400;
        yb_civil_from_days(days, &y, &m, &d);
        *ret = (struct tm){
                .tm_year = (int) (y - 1900),
                .tm_mon = m - 1,
                .tm_mday = d,
                .tm_hour = (int) (secs / 3600),
                .tm_min = (int) (secs / 60 % 60),
                .tm_sec = (int) (secs % 60),
                .tm_wday = (int) (days + 4 - yb_floor_div(days + 4, 7) * 7), /* 1970-01-01: Thu */
                .tm_yday = (int) (days - yb_days_from_civil(y, 1, 1)),
                .tm_isdst = span.isdst,
                .tm_gmtoff = span.gmtoff,
        };
}

/* mktime() (timegm() for UTC) of *tm, whose fields may be out of range; -1 on failure. This
 * mirrors glibc's __mktime_internal() rather than solving for the time directly, because
 * systemd's answers at DST changes follow from it: the search starts from the offset of the
 * previous result, so of the two readings of a repeated local time (DST ends) it takes the one
 * with the offset it has been using, and a skipped local time (DST starts) lands on the far side
 * of the gap, preferring the DST reading when tm_isdst is -1. */
static int64_t clock_mktime(Clock *k, struct tm *tm) {
        static const int days_before_month[2][12] = {
                { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 },
                { 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335 },
        };
        int isdst = k->zone ? tm->tm_isdst : 0 /* as timegm() */, sec = tm->tm_sec, probes = 6;
        int mon = tm->tm_mon % 12 + (tm->tm_mon % 12 < 0 ? 12 : 0);
        int64_t year = (int64_t) tm->tm_year + 1900 + yb_floor_div(tm->tm_mon, 12);
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0, dst2 = false;
        int64_t want, t, t1, t2, dt;
        struct tm r;

        /* The wanted local time as seconds, with the seconds clamped as glibc does (for leap
         * seconds) and added back at the end. */
        want = (yb_days_from_civil(year, 1, 1) + days_before_month[leap][mon] + tm->tm_mday - 1) *
                       86400 +
               (int64_t) tm->tm_hour * 3600 + (int64_t) tm->tm_min * 60 + MIN(MAX(sec, 0), 59);
        t = t1 = t2 = want + k->offset;
        for (;;) {
                clock_convert(k, t, &r);
                dt = want - tm_seconds(&r);
                if (dt == 0)
                        break;
                /* Going back and forth across a gap: take this side if it is the preferred one. */
                if (t == t1 && t != t2 &&
                    (isdst < 0 ? dst2 <= (r.tm_isdst != 0) : (isdst != 0) != (r.tm_isdst != 0)))
                        goto found;
                if (--probes == 0)
                        return -1;
                t1 = t2;
                t2 = t;
                t += dt;
                dst2 = r.tm_isdst != 0;
        }
        if (isdst >= 0 && (isdst != 0) != (r.tm_isdst != 0)) {
                /* The time exists only with the other tm_isdst: take the offset of a nearby time
                 * that has the asked one, as glibc does (weekly probes up to 8.5 years away). */
                for (int64_t delta = 601200; delta < 536454000 / 2 + 601200; delta += 601200)
                        for (int dir = -1; dir <= 1; dir += 2) {
                                struct tm o;

                                clock_convert(k, t + delta * dir, &o);
                                if ((o.tm_isdst != 0) == (isdst != 0)) {
                                        t = t + delta * dir + (want - tm_seconds(&o));
                                        clock_convert(k, t, &r);
                                        goto found;
                                }
                        }
                return -1;
        }
found:
        k->offset = t - want;
        if (sec != r.tm_sec) {
                t += sec - MIN(MAX(sec, 0), 59);
                clock_convert(k, t, &r);
        }
        *tm = r;
        return t;
}

/* ---- The next elapse ---- */

/* The earliest value >= *val that an item of c allows (the values of the seconds field are
 * microseconds: scale 1000000). Returns 1 if *val changed, 0 if it already matched, -ENOENT if
 * nothing in the chain is >= *val. A step without an end may give a value past the field's
 * range; normalising the date then carries it into the next minute, hour... */
static int chain_next(const Chain *c, int64_t scale, int64_t *val) {
        int64_t best = -1;

        if (c->n == 0)
                return 0;
        for (size_t i = 0; i < c->n; i++) {
                const Item *it = &c->items[i];
                int64_t start = it->start * scale, stop = it->stop < 0 ? -1 : it->stop * scale;
                int64_t repeat = it->repeat * scale, k;

                if (start >= *val) {
                        if (best < 0 || start < best)
                                best = start;
                } else if (repeat > 0) {
                        k = start + repeat * ((*val - start + repeat - 1) / repeat);
                        if ((best < 0 || k < best) && (stop < 0 || k <= stop))
                                best = k;
                }
        }
        if (best < 0)
                return -ENOENT;
        if (best == *val)
                return 0;
        *val = best;
        return 1;
}

/* Zeroes the fields below f (f itself stays). */
static void reset_below(struct tm *tm, int64_t *usec, Field f) {
        assert(f < FIELD_SECOND);
        if (f <= FIELD_YEAR)
                tm->tm_mon = 0;
        if (f <= FIELD_MONTH)
                tm->tm_mday = 1;
        if (f <= FIELD_DAY)
                tm->tm_hour = 0;
        if (f <= FIELD_HOUR)
                tm->tm_min = 0;
        tm->tm_sec = 0;
        *usec = 0;
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

/* Normalises *tm (a day 31 in a short month, an hour that a DST change skips): returns 1 if it
 * was already a real time, 0 if it moved forward to one (the fields below the first changed one
 * restart from their minimum, so nothing between is skipped), -EDEADLK if normalising went
 * backwards, -ERANGE past the last year. As systemd's tm_within_bounds(). */
static int settle(Clock *k, struct tm *tm) {
        struct tm t = *tm;
        int cmp;

        if (tm->tm_year + 1900 > CAL_MAX_YEAR)
                return -ERANGE;
        if (clock_mktime(k, &t) < 0)
                return -EOVERFLOW;

        if ((cmp = CMP(t.tm_year, tm->tm_year)) != 0)
                t.tm_mon = 0;
        else if ((cmp = CMP(t.tm_mon, tm->tm_mon)) != 0)
                t.tm_mday = 1;
        else if ((cmp = CMP(t.tm_mday, tm->tm_mday)) != 0)
                t.tm_hour = 0;
        else if ((cmp = CMP(t.tm_hour, tm->tm_hour)) != 0)
                t.tm_min = 0;
        else if ((cmp = CMP(t.tm_min, tm->tm_min)) != 0)
                t.tm_sec = 0;
        else
                cmp = CMP(t.tm_sec, tm->tm_sec);
        if (cmp < 0)
                return -EDEADLK;
        if (cmp > 0)
                *tm = t;
        return cmp == 0;
}

static bool weekday_matches(Clock *k, unsigned weekdays, const struct tm *tm) {
        struct tm t = *tm;

        if (weekdays == 0)
                return true;
        /* Through mktime() rather than arithmetic: it is what systemd does, and mktime() keeps
         * state (its last UTC offset) that decides between the two readings of an ambiguous
         * local time later in the search. */
        if (clock_mktime(k, &t) < 0)
                return false;
        return weekdays & (1U << (t.tm_wday == 0 ? 6 : t.tm_wday - 1));
}

static int tm_compare(const struct tm *a, const struct tm *b) {
        if (a->tm_year != b->tm_year)
                return CMP(a->tm_year, b->tm_year);
        if (a->tm_mon != b->tm_mon)
                return CMP(a->tm_mon, b->tm_mon);
        if (a->tm_mday != b->tm_mday)
                return CMP(a->tm_mday, b->tm_mday);
        if (a->tm_hour != b->tm_hour)
                return CMP(a->tm_hour, b->tm_hour);
        if (a->tm_min != b->tm_min)
                return CMP(a->tm_min, b->tm_min);
        return CMP(a->tm_sec, b->tm_sec);
}

/* Matches the fields from the largest down, moving *tm forward until all of them match. On a
 * mismatch the next larger field is advanced and the smaller ones restart, so a search takes a
 * few steps per month or year, never one per second. */
static int find_next(const YbCalendar *c, Clock *k, struct tm *tm, int64_t *usec) {
        const Chain *ch = c->chains;
        struct tm t = *tm;
        int64_t us = *usec, v;
        bool keep_isdst = false;
        int r;

        for (unsigned i = 0; i < CAL_MAX_ITERATIONS; i++) {
                (void) clock_mktime(k, &t);
                if (!keep_isdst)
                        t.tm_isdst = -1;

                v = t.tm_year + 1900;
                r = chain_next(&ch[FIELD_YEAR], 1, &v);
                if (r < 0)
                        return -ENOENT; /* past the last listed year */
                t.tm_year = (int) v - 1900;
                if (r > 0)
                        reset_below(&t, &us, FIELD_YEAR);
                if (settle(k, &t) <= 0)
                        return -ENOENT;

                v = t.tm_mon + 1;
                r = chain_next(&ch[FIELD_MONTH], 1, &v);
                if (r >= 0) {
                        t.tm_mon = (int) v - 1;
                        if (r > 0)
                                reset_below(&t, &us, FIELD_MONTH);
                        r = settle(k, &t);
                }
                if (r < 0) {
                        t.tm_year++;
                        reset_below(&t, &us, FIELD_YEAR);
                        continue;
                }
                if (r == 0)
                        continue;

                v = t.tm_mday;
                r = chain_next(&ch[FIELD_DAY], 1, &v);
                if (r >= 0) {
                        t.tm_mday = (int) v;
                        if (r > 0)
                                reset_below(&t, &us, FIELD_DAY);
                        r = settle(k, &t);
                }
                if (r < 0) {
                        t.tm_mon++;
                        reset_below(&t, &us, FIELD_MONTH);
                        continue;
                }
                if (r == 0)
                        continue;

                if (!weekday_matches(k, c->weekdays, &t)) {
                        t.tm_mday++;
                        reset_below(&t, &us, FIELD_DAY);
                        continue;
                }

                v = t.tm_hour;
                r = chain_next(&ch[FIELD_HOUR], 1, &v);
                if (r >= 0) {
                        t.tm_hour = (int) v;
                        if (r > 0)
                                reset_below(&t, &us, FIELD_HOUR);
                        r = settle(k, &t);
                }
                if (r < 0) {
                        t.tm_mday++;
                        reset_below(&t, &us, FIELD_DAY);
                        continue;
                }
                if (r == 0) /* the hour does not exist (DST): go on from where it moved to */
                        continue;

                v = t.tm_min;
                r = chain_next(&ch[FIELD_MINUTE], 1, &v);
                if (r >= 0) {
                        t.tm_min = (int) v;
                        if (r > 0)
                                reset_below(&t, &us, FIELD_MINUTE);
                        r = settle(k, &t);
                }
                if (r < 0) {
                        t.tm_hour++;
                        reset_below(&t, &us, FIELD_HOUR);
                        continue;
                }
                if (r == 0)
                        continue;

                v = t.tm_sec * USEC_PER_SEC + us;
                r = chain_next(&ch[FIELD_SECOND], USEC_PER_SEC, &v);
                if (r >= 0) {
                        t.tm_sec = (int) (v / USEC_PER_SEC);
                        us = v % USEC_PER_SEC;
                        r = settle(k, &t);
                }
                if (r < 0) {
                        t.tm_min++;
                        reset_below(&t, &us, FIELD_MINUTE);
                        continue;
                }
                if (r == 0)
                        continue;

                /* Not after the start on the wall clock: a skipped hour was read as the hour
                 * before it (zones whose winter time is the DST one, like Europe/Dublin). Go on an
                 * hour later, and from now on let mktime() keep the tm_isdst it found, so that it
                 * reads the skipped hour the other way. (systemd 252.38 does this.) */
                r = tm_compare(tm, &t);
                if (r == 0)
                        r = CMP(*usec, us + 1);
                if (r >= 0) {
                        keep_isdst = true;
                        t.tm_hour++;
                        continue;
                }

                *tm = t;
                *usec = us;
                return 0;
        }
        log_debug("Calendar search gave up after %d steps.", CAL_MAX_ITERATIONS);
        return -ENOENT;
}

int yb_calendar_next(const YbCalendar *c, int64_t after_usec, int64_t *ret_usec) {
        _cleanup_(yb_tz_unrefp) YbTz *zone = NULL;
        Clock k = { NULL, 0 };
        struct tm tm;
        int64_t usec, t;
        int r;

        assert(c);
        assert(ret_usec);

        if (c->never || after_usec >= CAL_END_USEC)
                return -ENOENT;
        after_usec = MAX(after_usec, (int64_t) -1);

        if (c->zone_kind != ZONE_UTC) {
                r = c->zone_kind == ZONE_NAMED ? yb_tz_get(c->zone, &zone) : yb_tz_get_local(&zone);
                if (r < 0)
                        return r;
                k.zone = zone;
        }

        usec = after_usec + 1; /* strictly after */
        clock_convert(&k, usec / USEC_PER_SEC, &tm);
        k.offset = -tm.tm_gmtoff;
        usec %= USEC_PER_SEC;

        r = find_next(c, &k, &tm, &usec);
        if (r < 0)
                return r;
        t = clock_mktime(&k, &tm);
        if (t < 0)
                return -ENOENT;
        /* The search only moves forward from the base: anything else is a bug here. */
        assert(t * USEC_PER_SEC + usec > after_usec);
        if (t * USEC_PER_SEC + usec <= after_usec)
                return -ENOENT;
        *ret_usec = t * USEC_PER_SEC + usec;
        return 0;
}
