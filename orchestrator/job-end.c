/* orchestrator/job-end.c: the ends of jobs, written to the catalog or, while it cannot take them
 * (a full disk), kept in memory in YbDaemon's pending_ends and written in order once it can. A
 * job's recorded state never contradicts what happened. */
#include "orchestrator/job-end.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "orchestrator/export-job.h"
#include "orchestrator/storage-usage.h"

/* The end of a job, kept in memory until the catalog takes it. */
struct YbPendingEnd {
        int64_t id, finished_usec;
        YbJobState state;
        uint64_t bytes_read, bytes_stored;
        char snapshot[64];
        char level[16]; /* made; empty: the one asked stands */
        char *error, *level_note;
        struct YbPendingEnd *next;
};

static int write_end(YbDaemon *d, const struct YbPendingEnd *e) {
        int r = yb_catalog_job_finish(d->catalog, e->id, e->state, e->finished_usec, e->bytes_read,
                                      e->bytes_stored, e->snapshot[0] ? e->snapshot : NULL,
                                      e->error, e->level[0] ? e->level : NULL, e->level_note);

        d->catalog_error = r < 0 ? r : 0;
        return r;
}

static void pending_end_free(struct YbPendingEnd *e) {
        free(e->error);
        free(e->level_note);
        free(e);
}

int yb_jobs_flush_pending(YbDaemon *d) {
        int n = 0;

        for (struct YbPendingEnd **p = &d->pending_ends; *p;) {
                struct YbPendingEnd *e = *p;

                if (write_end(d, e) < 0) {
                        n++;
                        p = &e->next;
                        continue;
                }
                log_info("Job %" PRId64 ": its end (%s) is now written to the catalog.", e->id,
                         yb_job_state_to_string(e->state));
                *p = e->next;
                pending_end_free(e);
                d->n_pending_ends--;
        }
        return n;
}

void yb_jobs_overlay_pending(YbDaemon *d, int64_t id, json_t *o) {
        for (struct YbPendingEnd *e = d->pending_ends; e; e = e->next)
                if (e->id == id) {
                        json_object_set_new(o, "state",
                                            json_string(yb_job_state_to_string(e->state)));
                        json_object_set_new(o, "finished_usec", json_integer(e->finished_usec));
                        json_object_set_new(o, "bytes_read",
                                            json_integer((json_int_t) e->bytes_read));
                        json_object_set_new(o, "bytes_stored",
                                            json_integer((json_int_t) e->bytes_stored));
                        json_object_set_new(o, "snapshot",
                                            e->snapshot[0] ? json_string(e->snapshot)
                                                           : json_null());
                        json_object_set_new(o, "error",
                                            e->error ? json_string(e->error) : json_null());
                        if (e->level[0])
                                json_object_set_new(o, "level", json_string(e->level));
                        json_object_set_new(o, "level_note",
                                            e->level_note ? json_string(e->level_note)
                                                          : json_null());
                        json_object_set_new(o, "recorded", json_false());
                }
}

/* Records a job's end, or keeps it until the catalog takes it: a job's recorded state must
 * never contradict what happened (a success read back later as "cancelled" or "queued"). */
void yb_jobs_record_end(YbDaemon *d, int64_t id, YbJobState state, int64_t now, uint64_t read,
                        uint64_t stored, const char *snapshot, const char *error, const char *level,
                        const char *level_note) {
        struct YbPendingEnd *e = new0(struct YbPendingEnd, 1), **p;
        int r;

        orch_export_job_ended(d, id, state, snapshot, error); /* a decommission's export */
        yb_storage_usage_stale(); /* its snapshot, copy or prune changed what a store holds */
        if (!e) {
                log_oom();
                return;
        }
        *e = (struct YbPendingEnd){ .id = id,
                                    .finished_usec = now,
                                    .state = state,
                                    .bytes_read = read,
                                    .bytes_stored = stored };
        snprintf(e->snapshot, sizeof(e->snapshot), "%s", snapshot ? snapshot : "");
        snprintf(e->level, sizeof(e->level), "%s", level ? level : "");
        e->error = error ? strdup(error) : NULL;
        e->level_note = level_note ? strdup(level_note) : NULL;
        /* Behind the ones still waiting, so that the catalog takes them in order. */
        r = d->pending_ends ? -EAGAIN : write_end(d, e);
        if (r >= 0) {
                pending_end_free(e);
                return;
        }
        if (r != -EAGAIN)
                log_error_errno(r,
                                "Job %" PRId64 " ended %s%s%s, but the catalog %s cannot record "
                                "it: %m. yunbakd keeps it in memory and tries again every "
                                "second; status shows the catalog as degraded until then.",
                                id, yb_job_state_to_string(state), snapshot ? ", snapshot " : "",
                                snapshot ? snapshot : "", d->config->catalog);
        for (p = &d->pending_ends; *p; p = &(*p)->next)
                ;
        *p = e;
        d->n_pending_ends++;
}

void yb_jobs_drop_pending(YbDaemon *d) {
        if (yb_jobs_flush_pending(d) > 0)
                for (struct YbPendingEnd *e = d->pending_ends; e; e = e->next)
                        log_error("Job %" PRId64 " ended %s%s%s%s%s, but the catalog %s could not "
                                  "record it before yunbakd stopped: this line is its record.",
                                  e->id, yb_job_state_to_string(e->state),
                                  e->snapshot[0] ? ", snapshot " : "", e->snapshot,
                                  e->error ? ": " : "", e->error ? e->error : "",
                                  d->config->catalog);
        while (d->pending_ends) {
                struct YbPendingEnd *e = d->pending_ends;

                d->pending_ends = e->next;
                pending_end_free(e);
        }
        d->n_pending_ends = 0;
}
