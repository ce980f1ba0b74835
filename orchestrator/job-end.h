/* orchestrator/job-end.h: how a job's end is recorded (orchestrator/job-end.c): in the catalog,
 * or kept in memory (YbDaemon's pending_ends) while the catalog cannot take it, and written in
 * order once it can. Everything here is called under the daemon's lock. */
#pragma once

#include <stdint.h>

#include "orchestrator/daemon.h"

/* Records a job's end, or keeps it until the catalog takes it (logged once). snapshot, error,
 * level and level_note may be NULL (as yb_catalog_job_finish). */
void yb_jobs_record_end(YbDaemon *d, int64_t id, YbJobState state, int64_t now, uint64_t read,
                        uint64_t stored, const char *snapshot, const char *error, const char *level,
                        const char *level_note);
/* Writes the ends of jobs that the catalog could not take when they ended (a full disk). Returns
 * how many are still waiting (the main loop tries again a second later). */
int yb_jobs_flush_pending(YbDaemon *d);
/* When job id ended but its end is not written yet, puts what happened (state, finished_usec,
 * snapshot, error, bytes) into the job's JSON o. */
struct json_t;
void yb_jobs_overlay_pending(YbDaemon *d, int64_t id, struct json_t *o);
/* At stop: writes what it can, logs each end that is still not written (that line is its
 * record), and frees them all. */
void yb_jobs_drop_pending(YbDaemon *d);
