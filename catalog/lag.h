/* catalog/lag.h: tier 2's replication lag per system and hour in the catalog (table
 * replication_lag): how many once-a-second samples yunbakd took, how many seconds the lag was
 * unknown, and the p50, p99 and max of the known lag. yunbakd writes an hour's row when the hour
 * ends and at its stop (orchestrator/replicators.c); the API and `yunbak status --lag-history`
 * read them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"

/* One hour of one system. */
typedef struct YbLagHour {
        int64_t hour_usec; /* the hour's start (UTC, usec since the epoch) */
        int64_t samples;   /* samples taken in the hour (about one a second while yunbakd ran) */
        int64_t unknown_seconds; /* of those, the ones where the lag was unknown */
        /* Of the known samples, in ms; -1 when none was known. max_ms also counts the lower
         * bounds of the unknown samples (the lag was at least that). */
        int64_t p50_ms, p99_ms, max_ms;
} YbLagHour;

/* Records h for system. When the catalog already has that hour (yunbakd stopped and started
 * within it) the two are merged: samples and unknown seconds added, the larger max kept, and
 * p50 and p99 taken from the part with more known samples (an approximation, said in
 * docs/api.md). Returns 0 or the catalog's -errno. */
int yb_lag_hour_put(YbCatalog *c, const char *system, const YbLagHour *h);

/* The system's hours from since_usec on, oldest first, at most max_rows of the newest. *ret is
 * the caller's to free(). Returns the number of rows or -errno. */
int yb_lag_hours_get(YbCatalog *c, const char *system, int64_t since_usec, int max_rows,
                     YbLagHour **ret);
/* The system's hours whose hour starts in [from_usec, to_usec), oldest first (the reports'
 * period). *ret (the caller frees it; NULL when none) and *ret_n. 0 or -errno. */
int yb_lag_hours_between(YbCatalog *c, const char *system, int64_t from_usec, int64_t to_usec,
                         YbLagHour **ret, size_t *ret_n);
