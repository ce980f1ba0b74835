/* orchestrator/copy-job.h: one tier-3 copy job run (orchestrator/copy-job.c), in a job worker
 * of yunbakd (no child process: the copy moves ciphertext and yunbakd never decrypts). The queue,
 * retries and the job's end are jobs.c's; what the copy does, records and audits is here. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/repo/copy.h"
#include "orchestrator/daemon.h"

/* The job as the worker hands it over; borrowed. */
typedef struct YbCopyJob {
        int64_t id;
        const char *system;
        const char *snapshot; /* NULL: the newest committed tier-1 snapshot */
        const char *trigger;
        int64_t request;
        int attempt;
        int cancel_fd; /* readable once the job is cancelled (or yunbakd stops) */
} YbCopyJob;

/* How a copy went. */
typedef struct YbCopyOutcome {
        YbJobState state; /* succeeded, failed, cancelled or paused */
        bool retry;       /* failed in a way that may pass (the store unreachable, its lock held) */
        char error[2048]; /* why, for people: names the store and the snapshot */
        char snapshot[64];     /* the snapshot copied (with its chain) */
        YbCopyStats stats;     /* the engine's counts */
        int64_t resume_usec;   /* paused: when the store's next window opens */
        unsigned n_recorded;   /* snapshots recorded in the catalog under the tier-3 store */
        unsigned n_pruned;     /* snapshots pruned off-site by tier3's retention */
        char prune_error[512]; /* the first problem of that prune */
} YbCopyOutcome;

/* Runs copy job j: takes the lock to read the system's policy and stores and to record the start
 * (catalog and audit "copy.start"), then without it opens the tier-1 and tier-3 stores, copies
 * the snapshot with its chain (yb_repo_copy), keeping to the tier-3 store's bandwidth and windows
 * (a window that closes ends it as paused; j->cancel_fd as cancelled), prunes the off-site copies
 * by tier3's retention, and records each snapshot the tier-3 store holds and each one pruned in
 * the catalog. Fills *o (zeroed by the caller, state YB_JOB_FAILED). Without the lock. */
void yb_copy_job_run(YbDaemon *d, const YbCopyJob *j, YbCopyOutcome *o);

/* After the job's end is recorded (jobs.c), under lock: the system's tier-3 status, the log and
 * the audit record ("copy.done", "copy.paused" or "copy.failed"). */
void yb_copy_job_ended(YbDaemon *d, const YbCopyJob *j, const YbCopyOutcome *o, int64_t now);
