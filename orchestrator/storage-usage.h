/* orchestrator/storage-usage.h: yunbakd's daily samples of the storage each system uses per
 * store (the catalog's storage_usage table; docs/reports.md, "storage"), which the reports'
 * growth figures read. A sample is taken at start, whenever the policies loaded change, after
 * each job's end and each catalog rebuild (what the stores hold changed), and once a day just
 * after midnight UTC; it counts what the catalog lists (catalog/report-queries.h,
 * yb_report_storage_measure): tier 1 and tier 3 always, tier 2 only when the catalog lists
 * snapshots of its store. */
#pragma once

#include <stdint.h>

#include "orchestrator/daemon.h"

/* Takes the samples when due (now: daemon time) and returns when they are next due (the next
 * UTC midnight). Failures are logged and tried again within the hour. Under lock; the main loop
 * calls it (one daemon per process: the schedule is kept here). */
int64_t yb_storage_usage_tick(YbDaemon *d, int64_t now);
/* What the catalog lists of the stores changed (a job ended, the catalog was rebuilt): the next
 * tick samples again, replacing the day's sample, so that the day's figure is the newest. Under
 * lock; the caller wakes the main loop (a job's end and the API's calls do). */
void yb_storage_usage_stale(void);
