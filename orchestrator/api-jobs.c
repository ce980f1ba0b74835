/* orchestrator/api-jobs.c: the control API's jobs: the list, one job (with what the catalog
 * has not recorded yet), cancelling, and a backup now. */
#include "orchestrator/api-jobs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/jobs.h"

#define JOB_COLUMNS                                                                                \
        "j.id, j.system, j.tier, j.level, j.trigger, j.state, j.attempt, j.scheduled_usec,"        \
        " j.started_usec, j.finished_usec, j.bytes_read, j.bytes_stored, j.snapshot, j.error,"     \
        " s.department, coalesce(j.requested_level, j.level), j.level_note, j.retry_usec"

typedef struct JobRows {
        Call *c;
        json_t *list;
} JobRows;

typedef struct OneJob {
        json_t *job;
        char system[64];
} OneJob;

/* level is the one made once the job has made a snapshot (from its signed header), the one
 * asked until then; requested_level the one asked; level_note why they differ. */
static json_t *job_json(struct sqlite3_stmt *row) {
        return json_pack(
                "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
                " s:o}",
                "id", orch_api_col_int(row, 0), "system", orch_api_col_text(row, 1), "tier",
                orch_api_col_int(row, 2), "level", orch_api_col_text(row, 3), "requested_level",
                orch_api_col_text(row, 15), "level_note", orch_api_col_text(row, 16), "trigger",
                orch_api_col_text(row, 4), "state", orch_api_col_text(row, 5), "attempt",
                orch_api_col_int(row, 6), "scheduled_usec", orch_api_col_int(row, 7),
                "started_usec", orch_api_col_int(row, 8), "finished_usec", orch_api_col_int(row, 9),
                "bytes_read", orch_api_col_int(row, 10), "bytes_stored", orch_api_col_int(row, 11),
                "snapshot", orch_api_col_text(row, 12), "error", orch_api_col_text(row, 13),
                "next_retry_usec", orch_api_col_int(row, 17));
}

static int job_row(void *ud, struct sqlite3_stmt *row) {
        JobRows *jr = ud;
        const char *dept = (const char *) sqlite3_column_text(row, 14);

        if (yb_access_sees(jr->c->who, dept ? dept : ""))
                json_array_append_new(jr->list, job_json(row));
        return 0;
}

void orch_api_get_jobs(Call *c) {
        const char *system = yb_http_query(c->req, "system"),
                   *state = yb_http_query(c->req, "state"),
                   *limit_s = yb_http_query(c->req, "limit");
        JobRows jr = { c, json_array() };
        int64_t limit = 50;
        int r;

        if (limit_s && !orch_api_parse_int(limit_s, 1, 1000, &limit)) {
                json_decref(jr.list);
                yb_http_error(c->resp, 400, "limit must be 1 to 1000, not '%s'", limit_s);
                return;
        }
        /* A department person filters by department in SQL, so that the limit counts what they
         * may see. */
        r = yb_catalog_query(c->d->catalog,
                             "SELECT " JOB_COLUMNS " FROM jobs j LEFT JOIN systems s ON"
                             " s.id = j.system WHERE (?1 IS NULL OR j.system = ?1) AND"
                             " (?2 IS NULL OR j.state = ?2) AND (?3 IS NULL OR s.department = ?3)"
                             " ORDER BY j.id DESC LIMIT ?4",
                             job_row, &jr, "tttI", system, state,
                             c->who->role == YB_ROLE_DEPARTMENT ? c->who->department : NULL, limit);
        if (r < 0) {
                json_decref(jr.list);
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return;
        }
        orch_api_reply(c, 200, json_pack("{s:o}", "jobs", jr.list));
}

static int one_job_row(void *ud, struct sqlite3_stmt *row) {
        OneJob *oj = ud;

        oj->job = job_json(row);
        snprintf(oj->system, sizeof(oj->system), "%s",
                 (const char *) sqlite3_column_text(row, 1) ?: "");
        return 0;
}

/* The job, if the caller may do access on its system; otherwise answers and NULL. */
static json_t *job_for(Call *c, const char *id_s, YbAccess access, int64_t *ret_id) {
        OneJob oj = {};
        int64_t id;
        int r;

        if (!orch_api_parse_int(id_s, 1, INT64_MAX, &id)) {
                yb_http_error(c->resp, 404, "no job '%s'", id_s);
                return NULL;
        }
        r = yb_catalog_query(c->d->catalog,
                             "SELECT " JOB_COLUMNS " FROM jobs j LEFT JOIN systems s ON"
                             " s.id = j.system WHERE j.id = ?1",
                             one_job_row, &oj, "I", id);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return NULL;
        }
        if (!oj.job) {
                yb_http_error(c->resp, 404, "no job %" PRId64, id);
                return NULL;
        }
        if (!yb_daemon_system(c->d, oj.system)) {
                /* A system without a policy now: operators and auditors only. */
                if (!yb_access_allowed(c->who,
                                       access == YB_ACCESS_ACT_SYSTEM ? YB_ACCESS_ADMIN
                                                                      : YB_ACCESS_READ_AUDIT,
                                       NULL)) {
                        json_decref(oj.job);
                        orch_api_deny(c, 404, "no job %" PRId64, id);
                        return NULL;
                }
        } else if (!yb_access_sees(c->who, yb_daemon_system(c->d, oj.system)->policy->department)) {
                /* Answered as for no job at all: job ids are sequential, and naming the system
                 * would tell every department the others' systems. */
                json_decref(oj.job);
                orch_api_deny(c, 404, "no job %" PRId64, id);
                return NULL;
        } else if (!orch_api_system_for(c, oj.system, access)) {
                json_decref(oj.job);
                return NULL;
        }
        *ret_id = id;
        return oj.job;
}

void orch_api_get_job(Call *c, const char *id_s) {
        int64_t id;
        json_t *j = job_for(c, id_s, YB_ACCESS_READ_SYSTEM, &id);

        if (j) {
                const char *system = json_string_value(json_object_get(j, "system"));
                YbSystem *s = system ? yb_daemon_system(c->d, system) : NULL;

                yb_jobs_overlay_pending(c->d, id, j); /* ended, not yet written */
                /* A copy running now: how far it has come. */
                if (s && s->status.tier3.job == id && s->status.tier3.running)
                        json_object_set_new(j, "progress",
                                            json_pack("{s:I, s:I, s:I}", "bytes_sent",
                                                      (json_int_t) s->status.tier3.progress_sent,
                                                      "bytes_reused",
                                                      (json_int_t) s->status.tier3.progress_reused,
                                                      "bytes_total",
                                                      (json_int_t) s->status.tier3.progress_total));
                orch_api_reply(c, 200, j);
        }
}

void orch_api_post_cancel(Call *c, const char *id_s) {
        int64_t id;
        json_t *j = job_for(c, id_s, YB_ACCESS_ACT_SYSTEM, &id);
        const char *system;
        char detail[64];
        int r;

        if (!j)
                return;
        system = json_string_value(json_object_get(j, "system"));
        snprintf(detail, sizeof(detail), "job %" PRId64, id);
        r = yb_jobs_cancel(c->d, id);
        if (r == -ENOENT) {
                yb_daemon_audit(c->d, c->who, "api.cancel", system, "failed: already ended",
                                detail);
                json_decref(j);
                yb_http_error(c->resp, 409, "job %" PRId64 " has already ended", id);
                return;
        }
        yb_daemon_audit(c->d, c->who, "api.cancel", system, "ok", detail);
        json_object_set_new(j, "cancel", json_string("requested"));
        orch_api_reply(c, 200, j);
}

void orch_api_post_backup(Call *c, const char *id) {
        YbSystem *s = orch_api_system_for(c, id, YB_ACCESS_ACT_SYSTEM);
        const char *level = "incremental";
        json_t *body = NULL;
        char trigger[128], detail[64];
        int64_t job = 0;
        int r;

        if (!s)
                return;
        if (c->req->body_size > 0) {
                json_error_t e;
                json_t *l;

                body = json_loadb(c->req->body, c->req->body_size, 0, &e);
                if (!json_is_object(body)) {
                        json_decref(body);
                        yb_http_error(c->resp, 400, "the body must be a JSON object (%s)",
                                      body ? "not an object" : e.text);
                        return;
                }
                l = json_object_get(body, "level");
                if (l && (!json_is_string(l) || (!streq(json_string_value(l), "full") &&
                                                 !streq(json_string_value(l), "differential") &&
                                                 !streq(json_string_value(l), "incremental")))) {
                        json_decref(body);
                        yb_http_error(c->resp, 400,
                                      "level must be \"full\", \"differential\" or "
                                      "\"incremental\"");
                        return;
                }
                if (l)
                        level = json_string_value(l);
        }
        snprintf(trigger, sizeof(trigger), "api:%s", c->who->name);
        r = yb_jobs_queue(c->d, id, level, trigger, yb_daemon_now(c->d), &job);
        snprintf(detail, sizeof(detail), "%s job %" PRId64, level, job);
        if (r == -EBUSY) {
                yb_daemon_audit(c->d, c->who, "api.backup-now", id, "failed: busy", detail);
                orch_api_reply(c, 409,
                               json_pack("{s:s, s:I}", "error",
                                         "the system already has a job queued or running", "job",
                                         (json_int_t) job));
        } else if (r == -ESHUTDOWN) {
                char why[256];

                yb_system_stopped_why(yb_daemon_system(c->d, id), why, sizeof(why));
                yb_daemon_audit(c->d, c->who, "api.backup-now", id, "denied", why);
                yb_http_error(c->resp, 409, "%s: no backup runs for it any more", why);
        } else if (r < 0) {
                yb_daemon_audit(c->d, c->who, "api.backup-now", id, "failed", strerror(-r));
                yb_http_error(c->resp, 500, "cannot queue the job: %s", strerror(-r));
        } else {
                yb_daemon_audit(c->d, c->who, "api.backup-now", id, "ok", detail);
                orch_api_reply(c, 202,
                               json_pack("{s:I, s:s, s:s, s:s}", "job", (json_int_t) job, "system",
                                         id, "level", level, "state", "queued"));
        }
        json_decref(body);
}
