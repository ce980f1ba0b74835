/* policies/tzrule.h: POSIX TZ strings ("CET-1CEST,M3.5.0,M10.5.0/3", "<+08>-8"), the rule that a
 * TZif file's footer gives for the times after its last transition, and what TZ may hold instead
 * of a zone name. Parsed and evaluated as glibc 2.36 does (time/tzset.c), which is what systemd and
 * every other program here see: a change is found in the UTC year of the time asked about, and a
 * rule whose daylight time ends before it starts (southern hemisphere) is daylight time at both
 * ends of the year. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policies/tz.h"

/* When a change happens: the date, in one of POSIX's three forms, and the local time of day. */
typedef struct YbTzChange {
        enum {
                YB_TZ_CHANGE_JULIAN0, /* "n": day of the year 0..365, counting February 29 */
                YB_TZ_CHANGE_JULIAN1, /* "Jn": day 1..365, never February 29 */
                YB_TZ_CHANGE_MONTH,   /* "Mm.w.d": weekday d (0 Sunday) of week w (5: last) of m */
        } kind;
        int month, week, day;
        int32_t secs; /* local time of day in seconds (may be negative or past 24 h) */
} YbTzChange;

typedef struct YbTzRule {
        int32_t std_off, dst_off; /* seconds east of UTC */
        bool has_dst;             /* false: std_off all year */
        YbTzChange start, end;    /* daylight time starts (in std time) and ends (in dst time) */
} YbTzRule;

/* Parses a POSIX TZ string, all of it. A daylight name without rules gets the US rules
 * (M3.2.0,M11.1.0), as glibc does when there is no "posixrules" file. Returns 0 and fills *ret,
 * or -EINVAL if s is not such a string (*ret untouched). */
int yb_tzrule_parse(const char *s, YbTzRule *ret);

/* The span of t under rule r: its offset and the stretch of time around t that has it, which
 * ends at a change or at the turn of a UTC year. */
void yb_tzrule_span(const YbTzRule *r, int64_t t, YbTzSpan *ret);
