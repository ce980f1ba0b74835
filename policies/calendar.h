/* policies/calendar.h: calendar expressions, a subset of systemd's OnCalendar syntax
 * (systemd.time(7), "CALENDAR EVENTS"), with time zones. Used for every schedule in a policy.
 *
 * Accepted: [WEEKDAYS] [DATE] [TIME] [TIMEZONE], where
 *   WEEKDAYS  Mon..Sun names (three letters or full, any case), lists "Mon,Wed", ranges "Mon..Fri"
 *             (also systemd's older "Mon-Fri")
 *   DATE      [YEAR-]MONTH-DAY; each component "*", a number, a list "1,15", a range "1..7",
 *             a step "START/STEP" ("0/15": 0, 15, 30, 45) or "START..END/STEP"; "*" cannot take
 *             a step (write "0/15"); two-digit years are 2000..2069 and 1970..1999; "~" for days
 *             from the end of the month is NOT supported (refused with a clear error)
 *   TIME      HOUR:MINUTE[:SECOND], components as in DATE (seconds: no fractions)
 *   TIMEZONE  an IANA zone ("Asia/Shanghai", a file under /usr/share/zoneinfo or $TZDIR, but
 *             not the leap-second "right/" ones), or "UTC" (any case); default: the process's local
 * zone (TZ, else /etc/localtime), read at each yb_calendar_next() shorthands: minutely hourly daily
 * weekly monthly yearly (annually) quarterly semiannually (as systemd defines them: weekly = "Mon
 * *-*-* 00:00:00", ...) A missing DATE is "*-*-*"; a missing TIME is "00:00:00"; a missing SECOND
 * is 0. Years run from 1970 to 2199. Blanks around and between the parts are fine (systemd refuses
 * some).
 *
 * Semantics are systemd's (252), checked against systemd-analyze by
 * tests/integration/calendar-vs-systemd.sh: the next elapse is the earliest time strictly after
 * the base time at which every component matches, in the expression's zone, found field by field
 * from the year down. At DST changes: a local time that does not exist (clocks jump forward) is
 * skipped; one that exists twice (clocks go back) fires once, at the first, unless the base time
 * is already inside the second. systemd's quirks are kept too: a step without an end does not
 * carry over into the next hour, day or year ("*:0/25" is :00, :25, :50), and a few expressions
 * that make systemd's search loop (months "1/10,8" with day 31 in a DST zone) never elapse. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/macro.h"

typedef struct YbCalendar YbCalendar;

/* Parses an expression. On failure returns -EINVAL (or -ENOMEM) and, if err is non-NULL, a
 * message for people (without position: the caller knows where the expression came from) in err
 * (size err_size, always terminated), such as "unknown weekday 'Mnday'", "hour 25 is out of range
 * 0..23" or "unknown time zone 'Asia/Shangai'". *ret is written only on success; the caller owns
 * it. */
int yb_calendar_parse(const char *text, YbCalendar **ret, char *err, size_t err_size);
YbCalendar *yb_calendar_free(YbCalendar *c); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(YbCalendar, yb_calendar_free);

/* The first time strictly after after_usec (microseconds since the epoch, UTC) at which the
 * calendar elapses, always a whole second. Returns 0, -ENOENT if it never elapses again (a past
 * year, no such date, or nothing before 2200), -ENOMEM, or an error of reading the zone (as
 * yb_tz_get() and yb_tz_get_local() give: -EBADMSG for a damaged zone file, -ENOENT for one that
 * has gone). Takes a few microseconds: each zone is read once and kept for the process
 * (policies/tz.h); a changed zone file is read again. Thread-safe; never touches TZ. */
int yb_calendar_next(const YbCalendar *c, int64_t after_usec, int64_t *ret_usec);

/* The expression normalised as systemd-analyze prints it ("Mon..Fri *-*-* 01:00:00
 * Asia/Shanghai"); it parses back to the same calendar. The caller frees it; NULL if out of
 * memory. */
char *yb_calendar_to_string(const YbCalendar *c);
