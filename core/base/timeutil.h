/* core/base/timeutil.h: wall and monotonic time, ISO 8601 formatting and parsing. */
#pragma once

#include <stdint.h>

#define YB_NSEC_PER_SEC 1000000000LL

/* Nanoseconds since the epoch (CLOCK_REALTIME) and since boot (CLOCK_MONOTONIC). */
int64_t yb_now_ns(void);
int64_t yb_monotonic_ns(void);
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
