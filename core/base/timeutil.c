#include "core/base/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t yb_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * YB_NSEC_PER_SEC + ts.tv_nsec;
}

int64_t yb_monotonic_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * YB_NSEC_PER_SEC + ts.tv_nsec;
}

int64_t yb_now_usec(void) {
        return yb_ns_to_usec(yb_now_ns());
}

int64_t yb_monotonic_usec(void) {
        return yb_ns_to_usec(yb_monotonic_ns());
}

static void split(int64_t ns, time_t *sec, long *frac) {
        *sec = (time_t) (ns / YB_NSEC_PER_SEC);
        *frac = (long) (ns % YB_NSEC_PER_SEC);
        if (*frac < 0) {
                *frac += YB_NSEC_PER_SEC;
                (*sec)--;
        }
}

void yb_time_format_iso(int64_t ns, char ret[32]) {
        struct tm tm;
        time_t sec;
        long frac;

        split(ns, &sec, &frac);
        gmtime_r(&sec, &tm);
        char date[24];

        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ret, 32, "%.19s.%09ldZ", date, frac);
}

void yb_time_format_compact(int64_t ns, char ret[17]) {
        struct tm tm;
        time_t sec;
        long frac;

        split(ns, &sec, &frac);
        gmtime_r(&sec, &tm);
        strftime(ret, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static bool fields_valid(int y, int mo, int d, int h, int mi, int sec) {
        static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        /* Nanoseconds since 1970 in an int64 reach 2262-04-11: stay below that year. */
        if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > days[mo - 1] || h < 0 ||
            h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
                return false;
        /* 29 February only in leap years */
        return !(mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

int yb_time_parse(const char *s, int64_t *ret) {
        struct tm tm = { 0 };
        int y, mo, d, h = 0, mi = 0, sec = 0, n = 0, zh, zm;
        long frac = 0;
        const char *p;
        time_t t;

        if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && s[n] == 0 &&
            n == 16) {
                if (!fields_valid(y, mo, d, h, mi, sec))
                        return -EINVAL;
                goto utc;
        }
        if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
                return -EINVAL;
        p = s + n;
        if (*p == 'T' || *p == ' ') {
                if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2)
                        return -EINVAL;
                p += 1 + n;
                if (*p == ':') {
                        if (sscanf(p + 1, "%2d%n", &sec, &n) != 1)
                                return -EINVAL;
                        p += 1 + n;
                        if (*p == '.') {
                                long scale = 100000000;

                                for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                                        frac += (*p - '0') * scale;
                        }
                }
        }
        if (!fields_valid(y, mo, d, h, mi, sec))
                return -EINVAL;
        if (*p == 0) {
                tm = (struct tm){ .tm_year = y - 1900,
                                  .tm_mon = mo - 1,
                                  .tm_mday = d,
                                  .tm_hour = h,
                                  .tm_min = mi,
                                  .tm_sec = sec,
                                  .tm_isdst = -1 };
                t = mktime(&tm);
                if (t == (time_t) -1)
                        return -EINVAL;
                *ret = (int64_t) t * YB_NSEC_PER_SEC + frac;
                return 0;
        }
        if (p[0] == 'Z' && p[1] == 0)
                goto utc;
        if ((p[0] == '+' || p[0] == '-') && sscanf(p + 1, "%2d:%2d%n", &zh, &zm, &n) == 2 &&
            p[1 + n] == 0) {
                int64_t off = ((int64_t) zh * 3600 + zm * 60) * (p[0] == '+' ? 1 : -1);

                tm = (struct tm){ .tm_year = y - 1900,
                                  .tm_mon = mo - 1,
                                  .tm_mday = d,
                                  .tm_hour = h,
                                  .tm_min = mi,
                                  .tm_sec = sec };
                *ret = ((int64_t) timegm(&tm) - off) * YB_NSEC_PER_SEC + frac;
                return 0;
        }
        return -EINVAL;
utc:
        tm = (struct tm){ .tm_year = y - 1900,
                          .tm_mon = mo - 1,
                          .tm_mday = d,
                          .tm_hour = h,
                          .tm_min = mi,
                          .tm_sec = sec };
        *ret = (int64_t) timegm(&tm) * YB_NSEC_PER_SEC + frac;
        return 0;
}

int64_t yb_floor_div(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t yb_days_from_civil(int64_t y, int m, int d) {
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = yb_floor_div(y, 400);
        yoe = y - era * 400;
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

void yb_civil_from_days(int64_t days, int64_t *ret_y, int *ret_m, int *ret_d) {
        int64_t z = days + 719468, era = yb_floor_div(z, 146097), doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;

        *ret_d = (int) (doy - (153 * mp + 2) / 5 + 1);
        *ret_m = (int) (mp < 10 ? mp + 3 : mp - 9);
        *ret_y = yoe + era * 400 + (*ret_m <= 2);
}
