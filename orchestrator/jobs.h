/* orchestrator/jobs.h: yunbakd's job queue and workers (orchestrator/jobs.c). A tier-1 job runs a
 * system's hooks and `yunbak-agent backup`, records the snapshot, prunes by the policy's retention
 * and is retried with a doubling backoff. The queue lives in YbDaemon (queue, running, delayed,
 * n_queued, n_running, workers), guarded by its lock. */
#pragma once

#include <stdint.h>

#include "orchestrator/daemon.h"

/* Starts config->max_jobs worker threads. -errno (logged) if one cannot start; those started are
 * stopped again. Without the lock. */
int yb_jobs_start(YbDaemon *d);
/* Stops the workers: cancels the running jobs and waits for them; the queued and delayed ones are
 * recorded as cancelled and freed. Takes the lock. */
void yb_jobs_stop(YbDaemon *d);
/* Queues a tier-1 job; under lock. -ENOENT for an unknown system, -EBUSY with *ret_job the job
 * already queued, running or waiting to retry for the system, or the catalog's -errno. */
int yb_jobs_queue(YbDaemon *d, const char *system, const char *level, const char *trigger,
                  int64_t scheduled_usec, int64_t *ret_job);
/* Cancels a queued or running job; under lock. -ENOENT if it is neither. */
int yb_jobs_cancel(YbDaemon *d, int64_t job);
/* Moves delayed retries that are due into the queue; the earliest one still waiting, or
 * INT64_MAX. Under lock. */
int64_t yb_jobs_promote_delayed(YbDaemon *d, int64_t now_usec);
/* Writes the ends of jobs that the catalog could not take when they ended (a full disk); under
 * lock. Returns how many are still waiting (the main loop tries again a second later). */
int yb_jobs_flush_pending(YbDaemon *d);
/* When job id ended but its end is not written yet, puts what happened (state, finished_usec,
 * snapshot, error, bytes) into the job's JSON o; under lock. */
struct json_t;
void yb_jobs_overlay_pending(YbDaemon *d, int64_t id, struct json_t *o);
