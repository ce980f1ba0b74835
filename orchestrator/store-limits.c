/* orchestrator/store-limits.c: a store's bandwidth and windows (orchestrator/store-limits.h).
 * A window is found on the local calendar of its zone (policies/tz.h): it opens at start on
 * each local day and stays open for (end - start) minutes, modulo a day, so one that crosses
 * midnight is the opening of the day before still running. On a day a zone's offset changes, an
 * opening keeps its length in elapsed time. */
#include "orchestrator/store-limits.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/log.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "policies/tz.h"

static const struct {
        const char *unit;
        double bytes;
} units[] = {
        { "B", 1 },
        { "KiB", 1024.0 },
        { "MiB", 1024.0 * 1024 },
        { "GiB", 1024.0 * 1024 * 1024 },
        { "kbit", 1000.0 / 8 },
        { "Mbit", 1000.0 * 1000 / 8 },
        { "Gbit", 1000.0 * 1000 * 1000 / 8 },
};

int yb_bandwidth_parse(const char *text, uint64_t *ret, char *err, size_t err_size) {
        char *end = NULL, unit[16];
        double v;
        size_t n;

        errno = 0;
        v = strtod(text, &end);
        if (end == text || errno != 0 || !isfinite(v) || v < 0) {
                snprintf(err, err_size,
                         "'%s' is not a bandwidth: write a number and a unit, like 20MiB/s or "
                         "100Mbit/s (0: no limit)",
                         text);
                return -EINVAL;
        }
        while (*end == ' ')
                end++;
        if (*end == 0 && v == 0) {
                *ret = 0;
                return 0;
        }
        n = strcspn(end, "/");
        if (n == 0 || n >= sizeof(unit) || (end[n] && strcmp(end + n, "/s") != 0)) {
                snprintf(err, err_size,
                         "bandwidth '%s' needs a unit per second: B/s, KiB/s, MiB/s, GiB/s, "
                         "kbit/s, Mbit/s or Gbit/s",
                         text);
                return -EINVAL;
        }
        memcpy(unit, end, n);
        unit[n] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(unit, units[i].unit)) {
                        double bps = v * units[i].bytes;

                        if (bps >= 1.8e19 || (bps < 1 && v > 0)) {
                                snprintf(err, err_size,
                                         "bandwidth '%s' is out of range (at least 1 B/s, or 0: "
                                         "no limit)",
                                         text);
                                return -EINVAL;
                        }
                        *ret = (uint64_t) bps;
                        return 0;
                }
        snprintf(err, err_size,
                 "unknown unit '%s' in bandwidth '%s': use B/s, KiB/s, MiB/s, GiB/s, kbit/s, "
                 "Mbit/s or Gbit/s",
                 unit, text);
        return -EINVAL;
}

const char *yb_bandwidth_format(uint64_t bps, char *buf, size_t size) {
        if (bps == 0) {
                snprintf(buf, size, "unlimited");
                return buf;
        }
        for (size_t i = 4; i > 0; i--) {
                double u = units[i - 1].bytes;

                if ((double) bps >= u || i == 1) {
                        double v = (double) bps / u;

                        if (v == floor(v))
                                snprintf(buf, size, "%.0f%s/s", v, units[i - 1].unit);
                        else
                                snprintf(buf, size, "%.2f%s/s", v, units[i - 1].unit);
                        return buf;
                }
        }
        return buf;
}

static int hhmm(const char *p, int *ret) {
        if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] == ':' &&
              p[3] >= '0' && p[3] <= '9' && p[4] >= '0' && p[4] <= '9'))
                return -EINVAL;
        int h = (p[0] - '0') * 10 + (p[1] - '0'), m = (p[3] - '0') * 10 + (p[4] - '0');

        if (h > 23 || m > 59)
                return -EINVAL;
        *ret = h * 60 + m;
        return 0;
}

int yb_store_window_parse(const char *text, YbStoreWindow *ret, char *err, size_t err_size) {
        YbStoreWindow w = {};
        const char *zone;

        if (strlen(text) < 13 || hhmm(text, &w.start_min) < 0 || text[5] != '-' ||
            hhmm(text + 6, &w.end_min) < 0 || text[11] != ' ') {
                snprintf(err, err_size,
                         "'%s' is not a window: write \"HH:MM-HH:MM ZONE\", like \"22:00-06:00 "
                         "Asia/Shanghai\" (24-hour times; the end may be past midnight)",
                         text);
                return -EINVAL;
        }
        zone = text + 12;
        while (*zone == ' ')
                zone++;
        if (w.start_min == w.end_min) {
                snprintf(err, err_size,
                         "window '%s' opens and closes at the same minute: leave `windows` out "
                         "for a store that is always open",
                         text);
                return -EINVAL;
        }
        if (!yb_tz_exists(zone)) {
                snprintf(err, err_size,
                         "unknown time zone '%s' in window '%s': use a name of the tz database "
                         "(%s), like Asia/Shanghai or UTC",
                         zone, text, YB_TZ_ZONEINFO);
                return -EINVAL;
        }
        w.zone = strdup(zone);
        if (!w.zone)
                return -ENOMEM;
        *ret = w;
        return 0;
}

/* The openings of w that start on the local days around t, in UTC seconds: a day before (one
 * crossing midnight may still run), that day, and the two after. */
static int openings(const YbStoreWindow *w, const YbTz *z, int64_t t, int64_t ret_start[4]) {
        YbTzSpan span;
        int64_t day;

        yb_tz_span(z, t, &span);
        day = yb_floor_div(t + span.gmtoff, 24 * 60 * 60);
        for (int i = 0; i < 4; i++) {
                int64_t start;

                if (yb_tz_day_start(z, day - 1 + i, &start) < 0)
                        ret_start[i] = INT64_MIN; /* a day the zone skips */
                else
                        ret_start[i] = start + (int64_t) w->start_min * 60;
        }
        return 0;
}

bool yb_store_windows_open(const YbStoreWindow *w, size_t n, int64_t now_usec,
                           int64_t *ret_next_open_usec, int64_t *ret_close_usec) {
        int64_t t = yb_floor_div(now_usec, YB_USEC_PER_SEC), next = INT64_MAX, close = INT64_MIN;

        if (n == 0) {
                if (ret_close_usec)
                        *ret_close_usec = INT64_MAX;
                return true;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_(yb_tz_unrefp) YbTz *z = NULL;
                int64_t len = (int64_t) ((w[i].end_min - w[i].start_min + 24 * 60) % (24 * 60)) *
                              60,
                        start[4];
                int r = yb_tz_get(w[i].zone, &z);

                if (r < 0) {
                        log_error_errno(r,
                                        "Cannot read time zone '%s' of a store's window: %m. "
                                        "That window stays closed until it can be read.",
                                        w[i].zone);
                        continue;
                }
                openings(&w[i], z, t, start);
                for (int k = 0; k < 4; k++) {
                        if (start[k] == INT64_MIN)
                                continue;
                        if (start[k] <= t && t < start[k] + len)
                                close = MAX(close, start[k] + len);
                        else if (start[k] > t)
                                next = MIN(next, start[k]);
                }
        }
        if (close != INT64_MIN) {
                if (ret_close_usec)
                        *ret_close_usec = close * YB_USEC_PER_SEC;
                return true;
        }
        if (ret_next_open_usec)
                *ret_next_open_usec = next == INT64_MAX ? INT64_MAX : next * YB_USEC_PER_SEC;
        return false;
}
