/* orchestrator/copies.h: tier 3, yunbakd's off-site copies (orchestrator/copies.c). A copy job
 * copies a system's committed snapshots from its tier-1 store to its tier-3 store with
 * yb_repo_copy (core/repo/copy.h): on the policy's tier3.schedule, and when a request is approved
 * (orchestrator/api-offsite.c). It keeps to the store's bandwidth and windows, resumes what an
 * earlier job left, records each copied snapshot in the catalog under the tier-3 store, and
 * prunes the off-site copies by tier3's retention. */
#pragma once

#include <stdint.h>

#include "orchestrator/daemon.h"

/* Queues a copy job of system's snapshot (NULL: the newest committed snapshot of its tier-1
 * store when the job runs) to its tier-3 store; trigger is "schedule" or "request", request the
 * id of the approved request it serves (0: none). Under lock. Returns 0 and the job in *ret_job;
 * -ENOENT for an unknown system, -ENOTSUP for a system without tier3, -EBUSY with *ret_job the
 * copy job of system already queued or running, or the catalog's -errno. */
int yb_copies_queue(YbDaemon *d, const char *system, const char *snapshot, const char *trigger,
                    int64_t request, int64_t *ret_job);
