/* orchestrator/jobs.h: yunbakd's job queue and workers (orchestrator/jobs.c). A tier-3 job copies
 * a system's snapshots off-site (orchestrator/copy-job.c). A tier-1 job runs a
 * system's hooks and `yunbak-agent backup`, records the snapshot, prunes by the policy's retention
 * and is retried with a doubling backoff. The queue lives in YbDaemon (queue, running, delayed,
 * n_queued, n_running, workers), guarded by its lock. */
#pragma once

#include <stdint.h>

#include "orchestrator/daemon.h"
#include "orchestrator/job-end.h"

/* Starts config->max_jobs worker threads. -errno (logged) if one cannot start; those started are
 * stopped again. Without the lock. */
int yb_jobs_start(YbDaemon *d);
/* Stops the workers: cancels the running jobs and waits for them; the queued and delayed ones are
 * recorded as cancelled and freed. Takes the lock. */
void yb_jobs_stop(YbDaemon *d);
/* A job to queue. Strings are borrowed. */
typedef struct YbJobAdd {
        const char *system;
        int tier;             /* 1: a backup (level full, differential, incremental); 3: a copy */
        const char *level;    /* tier 3: "copy" */
        const char *snapshot; /* tier 3: the snapshot to copy; NULL: the newest when it runs */
        int64_t request;      /* tier 3: the approved request it serves; 0: none */
        const char *trigger;  /* "schedule", "catch-up", "request", "resume", "api:<user>" */
        int64_t scheduled_usec;
        int64_t not_before_usec; /* later than now: it waits until then (not started) */
        /* tier 1: a decommission's final export (orchestrator/export-job.h): into this store of
         * yunbakd.yaml instead of the policy's, sealed to this public key (the .pub file's
         * JSON) instead of the system's, never pruned; NULL: a backup of the tier */
        const char *store, *public_key_json;
} YbJobAdd;

/* Queues a job of a->tier; under lock. One job per system and tier is queued, running or waiting
 * at a time: -EBUSY with *ret_job that one. -ENOENT for an unknown system, -ESHUTDOWN for a
 * system being decommissioned (yb_system_stopped: yb_system_stopped_why says so), or the
 * catalog's -errno. Tier-3 jobs run yb_copy_job_run (orchestrator/copy-job.h). */
int yb_jobs_add(YbDaemon *d, const YbJobAdd *a, int64_t *ret_job);
/* Queues a tier-1 job; under lock. -ENOENT for an unknown system, -EBUSY with *ret_job the job
 * already queued, running or waiting to retry for the system, or the catalog's -errno. */
int yb_jobs_queue(YbDaemon *d, const char *system, const char *level, const char *trigger,
                  int64_t scheduled_usec, int64_t *ret_job);
/* Cancels a queued or running job; under lock. -ENOENT if it is neither. */
int yb_jobs_cancel(YbDaemon *d, int64_t job);
/* Cancels every queued, waiting and running job of system (a decommission stops its tiers);
 * under lock. Returns how many are still running (told to stop, not ended yet), the first of
 * them in *ret_job. */
int yb_jobs_cancel_system(YbDaemon *d, const char *system, int64_t *ret_job);
/* Moves delayed retries that are due into the queue; the earliest one still waiting, or
 * INT64_MAX. Under lock. */
int64_t yb_jobs_promote_delayed(YbDaemon *d, int64_t now_usec);
