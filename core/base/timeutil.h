/* core/base/timeutil.h: wall and monotonic time, ISO 8601 formatting and parsing, and the one
 * place where time changes unit.
 *
 * One unit per layer: core/ counts nanoseconds (what stat() and the repository format record);
 * policies/, catalog/ and the programs count microseconds (what the policies, the catalog, the API
 * and the scheduler hold: `_usec` names). A value crosses from one to the other only through
 * yb_ns_to_usec() and yb_usec_to_ns(); poll() and friends get milliseconds from
 * yb_usec_to_ms_ceil(). No bare 1000 anywhere else. */
#pragma once

#include <stdint.h>

#define YB_NSEC_PER_USEC 1000LL
#define YB_NSEC_PER_MSEC 1000000LL
#define YB_NSEC_PER_SEC 1000000000LL
#define YB_USEC_PER_MSEC 1000LL
#define YB_USEC_PER_SEC 1000000LL
#define YB_USEC_PER_MINUTE (60 * YB_USEC_PER_SEC)
#define YB_USEC_PER_HOUR (60 * YB_USEC_PER_MINUTE)
#define YB_USEC_PER_DAY (24 * YB_USEC_PER_HOUR)
#define YB_MSEC_PER_SEC 1000LL
#define YB_SEC_PER_DAY 86400LL

/* Nanoseconds to microseconds, truncated towards zero (as C's division). */
static inline int64_t yb_ns_to_usec(int64_t ns) {
        return ns / YB_NSEC_PER_USEC;
}
/* Microseconds to nanoseconds, saturating at INT64_MIN and INT64_MAX. */
static inline int64_t yb_usec_to_ns(int64_t usec) {
        if (usec > INT64_MAX / YB_NSEC_PER_USEC)
                return INT64_MAX;
        if (usec < INT64_MIN / YB_NSEC_PER_USEC)
                return INT64_MIN;
        return usec * YB_NSEC_PER_USEC;
}
/* Microseconds to whole milliseconds, rounded up (a wait never ends early); 0 for usec <= 0,
 * at most INT32_MAX. */
static inline int yb_usec_to_ms_ceil(int64_t usec) {
        if (usec <= 0)
                return 0;
        if (usec / YB_USEC_PER_MSEC >= INT32_MAX)
                return INT32_MAX;
        return (int) ((usec + YB_USEC_PER_MSEC - 1) / YB_USEC_PER_MSEC);
}

/* Nanoseconds since the epoch (CLOCK_REALTIME) and since boot (CLOCK_MONOTONIC). */
int64_t yb_now_ns(void);
int64_t yb_monotonic_ns(void);
/* The same in microseconds, for the layers above core/. */
int64_t yb_now_usec(void);
int64_t yb_monotonic_usec(void);
/* "2026-11-21T18:22:12.123456789Z" (ret needs 32 bytes). */
void yb_time_format_iso(int64_t ns, char ret[32]);
/* "20261121T182212Z" (ret needs 17 bytes). */
void yb_time_format_compact(int64_t ns, char ret[17]);
/* Parses "YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH:MM]" (no zone: local time) or
 * "YYYYMMDDTHHMMSSZ". Returns 0 and nanoseconds since the epoch, or -EINVAL. */
int yb_time_parse(const char *s, int64_t *ret);

/* a / b rounded towards minus infinity (b != 0). */
int64_t yb_floor_div(int64_t a, int64_t b);
/* Days since 1970-01-01 of a date of the proleptic Gregorian calendar, and back (Howard Hinnant's
 * days_from_civil and civil_from_days): any year, no time zone. */
int64_t yb_days_from_civil(int64_t y, int m, int d);
void yb_civil_from_days(int64_t days, int64_t *ret_y, int *ret_m, int *ret_d);
