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
