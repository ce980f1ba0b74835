/* orchestrator/store-limits.h: what yunbakd.yaml says about when and how fast copies may write to
 * a store (orchestrator/store-limits.c, docs/operations.md "Stores"): `bandwidth: 20MiB/s` and
 * `windows: ["22:00-06:00 Asia/Shanghai"]`. Pure functions over a clock given by the caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One window: from start to end minute of the local day in zone (tz database name); end at or
 * before start crosses midnight. */
typedef struct YbStoreWindow {
        int start_min, end_min; /* 0..1439 */
        char *zone;             /* owned */
} YbStoreWindow;

/* Reads a bandwidth: a number (decimals allowed) followed by B/s, KiB/s, MiB/s, GiB/s, kbit/s,
 * Mbit/s or Gbit/s ("/s" may be left out); "0" is no limit. Returns 0 and bytes per second in
 * *ret, or -EINVAL with why in err (err_size bytes). */
int yb_bandwidth_parse(const char *text, uint64_t *ret, char *err, size_t err_size);
/* Formats bytes per second as the most readable of the units above ("20MiB/s"); "unlimited" for
 * 0. Returns buf. */
const char *yb_bandwidth_format(uint64_t bps, char *buf, size_t size);

/* Reads a window, "HH:MM-HH:MM ZONE" (ZONE a zone of the tz database that exists, "UTC"
 * included). Returns 0 and the window in *ret (free its zone), or -EINVAL with why in err;
 * -ENOMEM. */
int yb_store_window_parse(const char *text, YbStoreWindow *ret, char *err, size_t err_size);

/* Whether any of the n windows is open at now_usec (n == 0: always open). When none is, the
 * next time one opens goes to *ret_next_open_usec (INT64_MAX if none can be worked out); when
 * one is, the time it closes goes to *ret_close_usec (INT64_MAX: n == 0). Either may be NULL.
 * A zone that cannot be read counts as a window that never opens (logged). */
bool yb_store_windows_open(const YbStoreWindow *w, size_t n, int64_t now_usec,
                           int64_t *ret_next_open_usec, int64_t *ret_close_usec);
