/* orchestrator/copies.h: tier 3, yunbakd's off-site copies (orchestrator/copies.c). A copy job
 * copies a system's committed snapshots from its tier-1 store to its tier-3 store with
 * yb_repo_copy (core/repo/copy.h): on the policy's tier3.schedule, and when a request is approved
 * (orchestrator/api-offsite.c). It keeps to the store's bandwidth and windows, resumes what an
 * earlier job left, records each copied snapshot in the catalog under the tier-3 store, and
 * prunes the off-site copies by tier3's retention. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "orchestrator/daemon.h"
#include "orchestrator/scheduler.h"

/* Queues a copy job of system's snapshot (NULL: the newest committed snapshot of its tier-1
 * store when the job runs) to its tier-3 store; trigger is "schedule" or "request", request the
 * id of the approved request it serves (0: none). Under lock. Returns 0 and the job in *ret_job;
 * -ENOENT for an unknown system, -ENOTSUP for a system without tier3, -EBUSY with *ret_job the
 * copy job of system already queued or running, or the catalog's -errno. */
int yb_copies_queue(YbDaemon *d, const char *system, const char *snapshot, const char *trigger,
                    int64_t request, int64_t *ret_job);

/* The scheduler's "tier3" entry of a system came due (yunbakd's main loop): queues its copy of
 * the newest snapshot (trigger "schedule" or "catch-up"), remembers the due time in the catalog,
 * and notes it until a copy succeeds (for "behind"). A copy still queued or running means this
 * one is skipped (logged). Under lock; returns 0. */
int yb_copies_on_due(YbDaemon *d, const YbDue *due);
/* At start, after the policies and status are loaded: queues a copy (trigger "resume") for each
 * system whose last copy job did not end (interrupted by a dead yunbakd, or queued or running
 * when yunbakd stopped); it goes on where that one stopped. Under lock; problems are logged. */
void yb_copies_resume(YbDaemon *d);
/* Reads each system's newest off-site snapshot and last copy job from the catalog into its
 * tier-3 status. Under lock; -errno (logged). */
int yb_copies_load_status(YbDaemon *d);

/* Whether a scheduled copy of s is more than one schedule period late at now. Under lock. */
bool yb_copies_behind(const YbSystem *s, int64_t now);
/* Sets "tier3" of a system's /v1/status entry o (docs/api.md): null when the policy has none.
 * Under lock. */
void yb_copies_status_json(YbDaemon *d, const YbSystem *s, int64_t now, json_t *o);
/* Appends the tier-3 metrics (yunbak_tier_running, yunbak_offsite_*) to b. Under lock. */
void yb_copies_metrics(YbDaemon *d, YbBuf *b, int64_t now);
