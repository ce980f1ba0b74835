/* policies/tz.h: time zones, read from the tz database's TZif files (tzfile(5), RFC 8536) by us
 * rather than through TZ and libc: setting TZ to read a zone is not thread-safe (setenv() races
 * with every getenv() and exec in the process). A zone gives the UTC offset at any instant and the
 * start of any local day, with glibc's answers: the same transitions, before the first one the
 * first standard-time type, after the last one the file's POSIX TZ footer as glibc evaluates it
 * (tzrule.h).
 *
 * Zones are read once and kept in a cache for the process, shared by all threads; a zone whose
 * file has changed since (a tzdata upgrade, a new /etc/localtime) is read again the next time it
 * is asked for. A YbTz never changes: holders keep using the version they got. Files with leap
 * seconds (the "right/" zones) are refused: their times count leap seconds, the system clock does
 * not. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/macro.h"

#define YB_TZ_ZONEINFO "/usr/share/zoneinfo" /* the tz database, unless $TZDIR says otherwise */

typedef struct YbTz YbTz;

/* A stretch of time with one UTC offset. Spans found one after another (from each one's end)
 * cover time without gaps; two in a row may have the same offset. */
typedef struct YbTzSpan {
        int64_t start, end; /* UTC seconds, [start, end); INT64_MIN and INT64_MAX at the ends */
        int32_t gmtoff;     /* seconds east of UTC, as struct tm's tm_gmtoff */
        bool isdst;         /* daylight saving time, as tm_isdst */
} YbTzSpan;

/* True if name is a zone of the tz database ($TZDIR, else YB_TZ_ZONEINFO) as systemd's
 * verify_timezone() sees one: a relative name of letters, digits and "-_+/" (no "." or "..",
 * no empty part) whose file is a regular file starting with "TZif". The file is not read beyond
 * that, so it may still turn out damaged. */
bool yb_tz_exists(const char *name);

/* The zone called name in the tz database (name as for yb_tz_exists()). Returns 0 and a new
 * reference in *ret (the caller drops it with yb_tz_unref()), or -EINVAL (not a zone name),
 * -ENOENT (no such zone), -EBADMSG (the file is damaged or truncated), -EPROTONOSUPPORT (it counts
 * leap seconds), -ENOMEM or another -errno from reading the file. */
int yb_tz_get(const char *name, YbTz **ret);
/* The zone in the TZif file at path (absolute, or relative to the working directory); errors as
 * yb_tz_get() but never -EINVAL. */
int yb_tz_get_file(const char *path, YbTz **ret);
/* The process's local zone, found as glibc finds it: TZ unset is /etc/localtime; TZ empty is
 * UTC; otherwise TZ (without a leading ':') names a file, absolute or in the tz database, and if
 * there is no such file it is a POSIX TZ string ("CST-8"). No /etc/localtime, or a TZ that is
 * neither, is UTC. Errors as yb_tz_get_file() for a file that exists, but never -ENOENT. */
int yb_tz_get_local(YbTz **ret);
YbTz *yb_tz_ref(YbTz *z);   /* Returns z, with one more reference. */
YbTz *yb_tz_unref(YbTz *z); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(YbTz, yb_tz_unref);

/* The span that t (UTC seconds) falls in. Times farther than about 34,000 years from 1970 get
 * the offset of that distance. */
void yb_tz_span(const YbTz *z, int64_t t, YbTzSpan *ret);
/* The UTC second at which local date day (days since 1970-01-01 on the zone's own calendar)
 * starts: its first second that exists, at midnight or, where a change skips midnight, at the end
 * of the gap ("first" in time: where the clock goes back across midnight, the first midnight).
 * Returns 0, or -ENOENT if the zone skips the whole date (Pacific/Apia, 2011-12-30). */
int yb_tz_day_start(const YbTz *z, int64_t day, int64_t *ret);
