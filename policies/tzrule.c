/* policies/tzrule.c: POSIX TZ strings, parsed and evaluated as glibc 2.36's time/tzset.c does
 * (tzrule.h). Where glibc is lenient (a string it cannot read becomes UTC, one it reads halfway is
 * used halfway) we refuse, and the caller decides. */
#include "policies/tzrule.h"

#include <errno.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"

#define SEC_PER_DAY INT64_C(86400)
/* Farther from 1970 than this (about 34,000 years) a time is treated as this far: year
 * arithmetic stays far from overflowing. */
#define TIME_LIMIT (INT64_C(1) << 40)

static bool is_letter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* "EST" (three or more letters) or "<+0530>" (three or more of letters, digits, '+', '-'). */
static bool parse_name(const char **s) {
        const char *p = *s;
        size_t n = 0;

        while (is_letter(p[n]))
                n++;
        if (n >= 3) {
                *s = p + n;
                return true;
        }
        if (*p != '<')
                return false;
        for (p++; is_letter(p[n]) || is_digit(p[n]) || p[n] == '+' || p[n] == '-';)
                n++;
        if (p[n] != '>' || n < 3)
                return false;
        *s = p + n + 1;
        return true;
}

/* "hh[:mm[:ss]]" into part[], each part read as glibc does, as an unsigned short. */
static bool parse_hms(const char **s, long part[3]) {
        const char *p = *s;

        part[0] = part[1] = part[2] = 0;
        for (int i = 0; i < 3; i++) {
                if (i > 0) {
                        if (*p != ':' || !is_digit(p[1]))
                                break;
                        p++;
                }
                if (!is_digit(*p))
                        return false;
                for (; is_digit(*p); p++) {
                        part[i] = part[i] * 10 + (*p - '0');
                        if (part[i] > 65535)
                                return false;
                }
        }
        *s = p;
        return true;
}

/* A UTC offset as POSIX writes it, hours west of UTC ("5", "-8", "+05:30"), as seconds east,
 * each part capped as glibc's compute_offset() does. */
static bool parse_offset(const char **s, int32_t *ret) {
        const char *p = *s;
        long part[3];
        int sign = -1;

        if (*p == '+' || *p == '-')
                sign = *p++ == '-' ? 1 : -1;
        if (!parse_hms(&p, part))
                return false;
        *ret = sign *
               (int32_t) (MIN(part[2], 59L) + MIN(part[1], 59L) * 60 + MIN(part[0], 24L) * 3600);
        *s = p;
        return true;
}

/* ",date[/time]"; the comma may be missing (as in early POSIX printings, which glibc follows). */
static bool parse_change(const char **s, YbTzChange *ret) {
        const char *p = *s;
        YbTzChange c = { .secs = 2 * 3600 };
        long v[3] = { 0, 0, 0 };

        p += *p == ',';
        if (*p == 'M') {
                c.kind = YB_TZ_CHANGE_MONTH;
                p++;
                for (int i = 0; i < 3; i++) {
                        if (i > 0 && *p++ != '.')
                                return false;
                        if (!is_digit(*p))
                                return false;
                        for (; is_digit(*p) && v[i] <= 65535; p++)
                                v[i] = v[i] * 10 + (*p - '0');
                }
                if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 5 || v[2] > 6)
                        return false;
                c.month = (int) v[0];
                c.week = (int) v[1];
                c.day = (int) v[2];
        } else if (*p == 'J' || is_digit(*p)) {
                c.kind = *p == 'J' ? YB_TZ_CHANGE_JULIAN1 : YB_TZ_CHANGE_JULIAN0;
                p += *p == 'J';
                if (!is_digit(*p))
                        return false;
                for (; is_digit(*p) && v[0] <= 365; p++)
                        v[0] = v[0] * 10 + (*p - '0');
                if (v[0] > 365 || (c.kind == YB_TZ_CHANGE_JULIAN1 && v[0] == 0))
                        return false;
                c.day = (int) v[0];
        } else
                return false;
        if (*p == '/') {
                int sign = 1;
                long part[3];

                p++;
                if (*p == '-' || *p == '+')
                        sign = *p++ == '-' ? -1 : 1;
                if (!parse_hms(&p, part))
                        return false;
                c.secs = sign * (int32_t) (part[0] * 3600 + part[1] * 60 + part[2]);
        }
        *ret = c;
        *s = p;
        return true;
}

int yb_tzrule_parse(const char *s, YbTzRule *ret) {
        YbTzRule r = { 0 };

        if (!parse_name(&s) || !parse_offset(&s, &r.std_off))
                return -EINVAL;
        r.dst_off = r.std_off;
        if (*s == 0) {
                *ret = r;
                return 0;
        }
        if (!parse_name(&s))
                return -EINVAL;
        r.has_dst = true;
        if (!parse_offset(&s, &r.dst_off))
                r.dst_off = r.std_off + 3600;
        if (*s == 0 || (s[0] == ',' && s[1] == 0)) {
                /* No rules: the US ones. */
                r.start = (YbTzChange){ YB_TZ_CHANGE_MONTH, 3, 2, 0, 2 * 3600 };
                r.end = (YbTzChange){ YB_TZ_CHANGE_MONTH, 11, 1, 0, 2 * 3600 };
                *ret = r;
                return 0;
        }
        if (!parse_change(&s, &r.start) || *s != ',' || !parse_change(&s, &r.end) || *s != 0)
                return -EINVAL;
        *ret = r;
        return 0;
}

/* When c happens in year, in UTC seconds, for the offset off in force before it: glibc's
 * compute_change(), down to its treating every year before 1971 as 1970. */
static int64_t change_time(const YbTzChange *c, int32_t off, int64_t year) {
        static const int mon_yday[2][13] = {
                { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365 },
                { 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366 },
        };
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        int64_t t = year > 1970 ? yb_days_from_civil(year, 1, 1) * SEC_PER_DAY : 0;

        switch (c->kind) {
        case YB_TZ_CHANGE_JULIAN1:
                t += (c->day - 1) * SEC_PER_DAY;
                if (c->day >= 60 && leap)
                        t += SEC_PER_DAY;
                break;
        case YB_TZ_CHANGE_JULIAN0:
                t += c->day * SEC_PER_DAY;
                break;
        case YB_TZ_CHANGE_MONTH: {
                const int *myday = &mon_yday[leap][c->month];
                /* Zeller's congruence: the weekday (0 Sunday) of the month's first day. */
                int64_t m1 = (c->month + 9) % 12 + 1, yy0 = c->month <= 2 ? year - 1 : year;
                int64_t yy1 = yy0 / 100, yy2 = yy0 % 100;
                int64_t dow = ((26 * m1 - 2) / 10 + 1 + yy2 + yy2 / 4 + yy1 / 4 - 2 * yy1) % 7, d;

                t += myday[-1] * SEC_PER_DAY;
                if (dow < 0)
                        dow += 7;
                d = c->day - dow;
                if (d < 0)
                        d += 7;
                for (int i = 1; i < c->week && d + 7 < myday[0] - myday[-1]; i++)
                        d += 7;
                t += d * SEC_PER_DAY;
                break;
        }
        }
        return t - off + c->secs;
}

void yb_tzrule_span(const YbTzRule *r, int64_t t, YbTzSpan *ret) {
        int64_t c = MIN(MAX(t, -TIME_LIMIT), TIME_LIMIT), y, lo, hi, change[2];
        bool isdst;
        int m, d;

        if (!r->has_dst) {
                *ret = (YbTzSpan){ INT64_MIN, INT64_MAX, r->std_off, false };
                return;
        }
        yb_civil_from_days(yb_floor_div(c, SEC_PER_DAY), &y, &m, &d);
        lo = yb_days_from_civil(y, 1, 1) * SEC_PER_DAY;
        hi = yb_days_from_civil(y + 1, 1, 1) * SEC_PER_DAY;
        change[0] = change_time(&r->start, r->std_off, y);
        change[1] = change_time(&r->end, r->dst_off, y);
        /* Daylight time ending before it starts: the southern hemisphere. */
        if (change[0] > change[1])
                isdst = c < change[1] || c >= change[0];
        else
                isdst = c >= change[0] && c < change[1];
        for (int i = 0; i < 2; i++) {
                if (change[i] <= c && change[i] > lo)
                        lo = change[i];
                if (change[i] > c && change[i] < hi)
                        hi = change[i];
        }
        *ret = (YbTzSpan){
                .start = t < -TIME_LIMIT ? INT64_MIN : lo,
                .end = t > TIME_LIMIT ? INT64_MAX : hi,
                .gmtoff = isdst ? r->dst_off : r->std_off,
                .isdst = isdst,
        };
}
