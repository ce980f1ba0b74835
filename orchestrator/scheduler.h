/* orchestrator/scheduler.h: when each system's scheduled jobs are due. Pure logic over
 * calendars and a clock given by the caller (so tests run a simulated month in milliseconds).
 *
 * Rules:
 * - Each entry (a system and a kind: "full", "differential", "incremental", "tier3", ...) is due
 *   at the next elapse of its calendar after its last due time.
 * - Runs missed while the daemon was down are caught up ONCE: at start, an entry whose next
 *   elapse after its last due time is in the past is due now (flagged catch_up), and its next
 *   due time is the first elapse after now, whatever was missed in between.
 * - Within one system and tier 1, only the strongest level due at the same moment runs: a full
 *   covers a differential and an incremental, a differential covers an incremental. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/macro.h"
#include "policies/calendar.h"

typedef struct YbScheduler YbScheduler;

typedef struct YbDue {
        const char *system;
        const char *kind;
        int64_t due_usec; /* the calendar time the run is for */
        bool catch_up;    /* it was missed while the daemon was down */
} YbDue;

int yb_scheduler_new(YbScheduler **ret);
YbScheduler *yb_scheduler_free(YbScheduler *s);
DEFINE_FREEP(YbScheduler, yb_scheduler_free);

/* Adds an entry. The calendar is borrowed and must outlive the scheduler (or until
 * yb_scheduler_clear). last_due_usec: when it last ran on schedule (from the catalog), or 0 if
 * never: then its first run is the first elapse after now_usec, with no catch-up. */
int yb_scheduler_add(YbScheduler *s, const char *system, const char *kind, const YbCalendar *cal,
                     int64_t last_due_usec, int64_t now_usec);
/* Removes every entry (before reloading policies). */
void yb_scheduler_clear(YbScheduler *s);

/* Calls fn for every entry due at or before now_usec (after the tier-1 precedence rule), and
 * advances those entries (and the ones their run covers) past now_usec. fn's non-negative
 * return goes on; a negative one stops and is returned. The YbDue strings live until the next
 * scheduler call. */
int yb_scheduler_run_due(YbScheduler *s, int64_t now_usec, int (*fn)(void *ud, const YbDue *due),
                         void *ud);

/* The entries in the order they were added: count, and the i-th one's system, kind and next
 * due time (INT64_MAX: never). */
size_t yb_scheduler_count(const YbScheduler *s);
void yb_scheduler_entry(const YbScheduler *s, size_t i, const char **ret_system,
                        const char **ret_kind, int64_t *ret_next_usec);

/* The earliest next due time of all entries, or INT64_MAX if none. */
int64_t yb_scheduler_next_wakeup(const YbScheduler *s);
