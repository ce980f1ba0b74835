/* orchestrator/api.c: the control API (docs/api.md). Each request is answered under the daemon
 * lock: the caller's uid becomes a person, the access rules decide, and every change and every
 * refusal is written to the audit log. */
#include "orchestrator/api.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "catalog/audit.h"
#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/daemon.h"
#include "orchestrator/jobs.h"
#include "orchestrator/rebuild.h"
#include "policies/yamltree.h"

typedef struct Call {
        YbDaemon *d;
        const YbHttpRequest *req;
        YbHttpResponse *resp;
        YbPerson person; /* valid when known */
        const YbPerson *who;
        char what[160]; /* "POST /v1/systems/x/backup", for the audit log */
} Call;

static json_t *usec_or_null(int64_t v) {
        return v > 0 && v != INT64_MAX ? json_integer(v) : json_null();
}

static json_t *text_or_null(const char *s) {
        return s && *s ? json_string(s) : json_null();
}

static void reply(Call *c, int status, json_t *body) {
        c->resp->status = status;
        c->resp->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (body && !c->resp->body)
                yb_http_error(c->resp, 500, "out of memory");
        json_decref(body);
}

/* Refusals are audited: who tried what. */
static void deny(Call *c, int status, const char *fmt, ...) _printf_(3, 4);
static void deny(Call *c, int status, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (c->who)
                yb_daemon_audit(c->d, c->who, "api.denied", c->what, "denied", msg);
        else {
                YbPerson unknown = { .role = YB_ROLE_NONE };
                char name[32];

                snprintf(name, sizeof(name), "uid:%u", (unsigned) c->req->uid);
                unknown.name = name;
                yb_daemon_audit(c->d, &unknown, "api.denied", c->what, "denied", msg);
        }
        yb_http_error(c->resp, status, "%s", msg);
}

/* The system, if the caller may do access on it; otherwise answers (404 for a department
 * person who may not see it, so that other departments' systems stay unknown) and NULL. */
static YbSystem *system_for(Call *c, const char *id, YbAccess access) {
        YbSystem *s = yb_daemon_system(c->d, id);

        if (!s || !yb_access_sees(c->who, s->policy->department)) {
                if (s)
                        deny(c, 404, "no system '%s'", id);
                else
                        yb_http_error(c->resp, 404, "no system '%s'", id);
                return NULL;
        }
        if (!yb_access_allowed(c->who, access, s->policy->department)) {
                deny(c, 403, "%s '%s' may not %s system '%s'", yb_role_to_string(c->who->role),
                     c->who->name, access == YB_ACCESS_ACT_SYSTEM ? "act on" : "read", id);
                return NULL;
        }
        return s;
}

static json_t *system_json(YbDaemon *d, const YbSystem *s) {
        const YbPolicy *p = s->policy;
        const YbSystemStatus *st = &s->status;
        json_t *next = json_object(), *o;

        json_object_set_new(next, "full", usec_or_null(st->next_full));
        if (p->differential)
                json_object_set_new(next, "differential", usec_or_null(st->next_differential));
        json_object_set_new(next, "incremental", usec_or_null(st->next_incremental));
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", p->id, "name", p->name,
                      "department", p->department, "classification", yb_grade_to_string(p->grade),
                      "host", p->host, "rpo_usec", (json_int_t) p->rpo_usec, "rto_usec",
                      (json_int_t) p->rto_usec);
        if (!o)
                return NULL;
        json_object_set_new(
                o, "tier1",
                json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "store", p->tier1_store,
                          "last_success_usec", usec_or_null(st->last_success_usec), "last_status",
                          st->last_state >= 0 ? json_string(yb_job_state_to_string(st->last_state))
                                              : json_null(),
                          "last_snapshot", text_or_null(st->last_snapshot), "last_job",
                          st->last_job > 0 ? json_integer(st->last_job) : json_null(),
                          "running_job",
                          st->running_job > 0 ? json_integer(st->running_job) : json_null(), "next",
                          next, "snapshots", (json_int_t) st->snapshots));
        return o;
}

static void get_whoami(Call *c) {
        reply(c, 200,
              json_pack("{s:s, s:I, s:s, s:o}", "user", c->who->name, "uid",
                        (json_int_t) c->who->uid, "role", yb_role_to_string(c->who->role),
                        "department", text_or_null(c->who->department)));
}

/* The system's entry of /v1/status as compact JSON, remade only when its status changed. */
static const char *system_fragment(YbDaemon *d, YbSystem *s) {
        json_t *o;

        if (s->json_cache && memcmp(&s->json_status, &s->status, sizeof(s->status)) == 0)
                return s->json_cache;
        free(s->json_cache);
        o = system_json(d, s);
        s->json_cache = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        s->json_status = s->status;
        return s->json_cache;
}

static void ignore_yaml_error(void *userdata, unsigned line, unsigned column, const char *msg) {
}

/* The department a policy file names now (system.department), or NULL; the caller frees it. */
static char *file_department(const char *file) {
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        _cleanup_(yb_buf_done) YbBuf text = YB_BUF_INIT;
        const YbYamlNode *sys, *dept;

        if (yb_read_file_at(AT_FDCWD, file, 1024 * 1024, &text) < 0 ||
            yb_yaml_parse((const char *) text.data, text.size, ignore_yaml_error, NULL, &root) <
                    0 ||
            !root || root->kind != YB_YAML_MAPPING)
                return NULL;
        sys = yb_yaml_mapping_get(root, "system");
        dept = sys && sys->kind == YB_YAML_MAPPING ? yb_yaml_mapping_get(sys, "department") : NULL;
        return dept && dept->kind == YB_YAML_SCALAR ? strdup(dept->value) : NULL;
}

/* Whether the caller may see a policy error: operators and auditors see all; a department
 * person those of its own department's files. An error starts with its file ("FILE:LINE:COL:
 * ..."); the file's department is that of the system in force from it, or else the one the file
 * names now. An error of no known department (the policy directory itself) is not theirs. */
static bool policy_error_visible(Call *c, const char *error) {
        _cleanup_free_ char *file = NULL, *dept = NULL;
        const char *colon = strchr(error, ':');

        if (c->who->role == YB_ROLE_OPERATOR || c->who->role == YB_ROLE_AUDITOR)
                return true;
        if (c->who->role != YB_ROLE_DEPARTMENT || !colon)
                return false;
        file = strndup(error, (size_t) (colon - error));
        if (!file)
                return false;
        for (size_t i = 0; i < c->d->n_systems; i++)
                if (streq(c->d->systems[i].policy->file, file))
                        return yb_access_sees(c->who, c->d->systems[i].policy->department);
        dept = file_department(file);
        return dept && yb_access_sees(c->who, dept);
}

/* The catalog's part of status: "ok", or "degraded" with the error of the last write that
 * failed and how many job ends wait in memory to be written. */
static json_t *catalog_health(YbDaemon *d) {
        return json_pack("{s:s, s:s?, s:i}", "state",
                         d->catalog_error < 0 || d->n_pending_ends > 0 ? "degraded" : "ok", "error",
                         d->catalog_error < 0 ? strerror(-d->catalog_error) : NULL,
                         "unrecorded_job_ends", d->n_pending_ends);
}

static void get_status(Call *c) {
        YbDaemon *d = c->d;
        json_t *errors = json_array(), *o;
        _cleanup_free_ char *daemon = NULL;
        YbBuf b = YB_BUF_INIT;
        bool first = true;
        int r;

        for (char **e = d->policy_errors; e && *e; e++)
                if (policy_error_visible(c, *e))
                        json_array_append_new(errors, json_string(*e));
        o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:i, s:i, s:i}", "version", YB_VERSION, "pid",
                      (json_int_t) getpid(), "started_usec", (json_int_t) d->started_usec,
                      "now_usec", (json_int_t) yb_daemon_now(d), "policies",
                      (json_int_t) d->n_systems, "policy_errors", errors, "jobs_running",
                      d->n_running, "jobs_queued", d->n_queued, "max_jobs", d->config->max_jobs);
        if (o)
                json_object_set_new(o, "catalog", catalog_health(d));
        daemon = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        r = daemon ? yb_buf_printf(&b, "{\"daemon\":%s,\"systems\":[", daemon) : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < d->n_systems; i++) {
                const char *f;

                if (!yb_access_sees(c->who, d->systems[i].policy->department))
                        continue;
                f = system_fragment(d, &d->systems[i]);
                if (!f) {
                        r = -ENOMEM;
                        break;
                }
                if (!first)
                        r = yb_buf_append(&b, ",", 1);
                if (r >= 0)
                        r = yb_buf_append(&b, f, strlen(f));
                first = false;
        }
        if (r >= 0)
                r = yb_buf_append(&b, "]}", 3); /* with the NUL */
        if (r < 0) {
                yb_buf_done(&b);
                yb_http_error(c->resp, 500, "out of memory");
                return;
        }
        c->resp->status = 200;
        c->resp->body = (char *) b.data;
}

static int agent_row(void *ud, struct sqlite3_stmt *row) {
        json_array_append_new(ud, json_string((const char *) sqlite3_column_text(row, 0)));
        return 0;
}

static void get_system(Call *c, const char *id) {
        YbSystem *s = system_for(c, id, YB_ACCESS_READ_SYSTEM);
        json_t *o, *agents;

        if (!s)
                return;
        o = system_json(c->d, s);
        agents = json_array();
        (void) yb_catalog_query(c->d->catalog,
                                "SELECT DISTINCT agent FROM snapshots WHERE system = ?1 AND"
                                " agent IS NOT NULL ORDER BY agent",
                                agent_row, agents, "t", id);
        json_object_set_new(o, "policy",
                            json_pack("{s:s, s:s}", "file", s->policy->file, "hash", s->hash));
        json_object_set_new(o, "agents", agents);
        reply(c, 200, o);
}

static json_t *col_text(struct sqlite3_stmt *row, int i) {
        const char *t = (const char *) sqlite3_column_text(row, i);

        return t ? json_string(t) : json_null();
}

static json_t *col_int(struct sqlite3_stmt *row, int i) {
        return sqlite3_column_type(row, i) == SQLITE_NULL
                       ? json_null()
                       : json_integer(sqlite3_column_int64(row, i));
}

static int snapshot_row(void *ud, struct sqlite3_stmt *row) {
        json_array_append_new(
                ud, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
                              "store", col_text(row, 0), "id", col_text(row, 1), "level",
                              col_text(row, 2), "parent", col_text(row, 3), "agent",
                              col_text(row, 4), "started_usec", col_int(row, 5), "finished_usec",
                              col_int(row, 6), "files", col_int(row, 7), "bytes_source",
                              col_int(row, 8), "bytes_stored", col_int(row, 9), "partial",
                              sqlite3_column_int(row, 10) != 0, "quarantine", col_text(row, 11)));
        return 0;
}

static void get_snapshots(Call *c, const char *id) {
        json_t *list;
        int r;

        if (!system_for(c, id, YB_ACCESS_READ_SYSTEM))
                return;
        list = json_array();
        r = yb_catalog_query(
                c->d->catalog,
                "SELECT store, id, level, parent, agent, started_usec, finished_usec,"
                " files, bytes_source, bytes_stored, partial, quarantine FROM snapshots"
                " WHERE system = ?1 ORDER BY started_usec, id",
                snapshot_row, list, "t", id);
        if (r < 0) {
                json_decref(list);
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return;
        }
        reply(c, 200, json_pack("{s:s, s:o}", "system", id, "snapshots", list));
}

#define JOB_COLUMNS                                                                                \
        "j.id, j.system, j.tier, j.level, j.trigger, j.state, j.attempt, j.scheduled_usec,"        \
        " j.started_usec, j.finished_usec, j.bytes_read, j.bytes_stored, j.snapshot, j.error,"     \
        " s.department, coalesce(j.requested_level, j.level), j.level_note"

typedef struct JobRows {
        Call *c;
        json_t *list;
} JobRows;

/* level is the one made once the job has made a snapshot (from its signed header), the one
 * asked until then; requested_level the one asked; level_note why they differ. */
static json_t *job_json(struct sqlite3_stmt *row) {
        return json_pack(
                "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                "id", col_int(row, 0), "system", col_text(row, 1), "tier", col_int(row, 2), "level",
                col_text(row, 3), "requested_level", col_text(row, 15), "level_note",
                col_text(row, 16), "trigger", col_text(row, 4), "state", col_text(row, 5),
                "attempt", col_int(row, 6), "scheduled_usec", col_int(row, 7), "started_usec",
                col_int(row, 8), "finished_usec", col_int(row, 9), "bytes_read", col_int(row, 10),
                "bytes_stored", col_int(row, 11), "snapshot", col_text(row, 12), "error",
                col_text(row, 13));
}

static int job_row(void *ud, struct sqlite3_stmt *row) {
        JobRows *jr = ud;
        const char *dept = (const char *) sqlite3_column_text(row, 14);

        if (yb_access_sees(jr->c->who, dept ? dept : ""))
                json_array_append_new(jr->list, job_json(row));
        return 0;
}

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *ret) {
        char *end;
        long long v;

        if (!s || !*s)
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return false;
        *ret = v;
        return true;
}

static void get_jobs(Call *c) {
        const char *system = yb_http_query(c->req, "system"),
                   *state = yb_http_query(c->req, "state"),
                   *limit_s = yb_http_query(c->req, "limit");
        JobRows jr = { c, json_array() };
        int64_t limit = 50;
        int r;

        if (limit_s && !parse_int(limit_s, 1, 1000, &limit)) {
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
        reply(c, 200, json_pack("{s:o}", "jobs", jr.list));
}

typedef struct OneJob {
        json_t *job;
        char system[64];
} OneJob;

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

        if (!parse_int(id_s, 1, INT64_MAX, &id)) {
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
                        deny(c, 404, "no job %" PRId64, id);
                        return NULL;
                }
        } else if (!yb_access_sees(c->who, yb_daemon_system(c->d, oj.system)->policy->department)) {
                /* Answered as for no job at all: job ids are sequential, and naming the system
                 * would tell every department the others' systems. */
                json_decref(oj.job);
                deny(c, 404, "no job %" PRId64, id);
                return NULL;
        } else if (!system_for(c, oj.system, access)) {
                json_decref(oj.job);
                return NULL;
        }
        *ret_id = id;
        return oj.job;
}

static void get_job(Call *c, const char *id_s) {
        int64_t id;
        json_t *j = job_for(c, id_s, YB_ACCESS_READ_SYSTEM, &id);

        if (j)
                yb_jobs_overlay_pending(c->d, id, j); /* ended, not yet written */
        if (j)
                reply(c, 200, j);
}

static void post_cancel(Call *c, const char *id_s) {
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
        reply(c, 200, j);
}

static void post_backup(Call *c, const char *id) {
        YbSystem *s = system_for(c, id, YB_ACCESS_ACT_SYSTEM);
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
                reply(c, 409,
                      json_pack("{s:s, s:I}", "error",
                                "the system already has a job queued or running", "job",
                                (json_int_t) job));
        } else if (r < 0) {
                yb_daemon_audit(c->d, c->who, "api.backup-now", id, "failed", strerror(-r));
                yb_http_error(c->resp, 500, "cannot queue the job: %s", strerror(-r));
        } else {
                yb_daemon_audit(c->d, c->who, "api.backup-now", id, "ok", detail);
                reply(c, 202,
                      json_pack("{s:I, s:s, s:s, s:s}", "job", (json_int_t) job, "system", id,
                                "level", level, "state", "queued"));
        }
        json_decref(body);
}

static int audit_row(void *ud, struct sqlite3_stmt *row) {
        char hex[2 * 32 + 1] = "";
        int n = sqlite3_column_bytes(row, 7);

        if (n == 32)
                yb_hex_encode(sqlite3_column_blob(row, 7), 32, hex);
        json_array_append_new(ud,
                              json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "seq",
                                        col_int(row, 0), "time_usec", col_int(row, 1), "actor",
                                        col_text(row, 2), "role", col_text(row, 3), "action",
                                        col_text(row, 4), "object", col_text(row, 5), "result",
                                        col_text(row, 6), "detail", col_text(row, 8), "hash", hex));
        return 0;
}

static int head_row(void *ud, struct sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

static void get_audit(Call *c) {
        const char *after_s = yb_http_query(c->req, "after"),
                   *limit_s = yb_http_query(c->req, "limit");
        int64_t after = 0, limit = 100, head = 0;
        json_t *list, *last;
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_READ_AUDIT, NULL)) {
                deny(c, 403, "only operators and auditors may read the audit log");
                return;
        }
        if ((after_s && !parse_int(after_s, 0, INT64_MAX, &after)) ||
            (limit_s && !parse_int(limit_s, 1, 1000, &limit))) {
                yb_http_error(c->resp, 400, "after must be a sequence number and limit 1 to 1000");
                return;
        }
        r = yb_catalog_query(c->d->catalog, "SELECT coalesce(max(seq), 0) FROM audit", head_row,
                             &head, "");
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the audit log: %s", strerror(-r));
                return;
        }
        list = json_array();
        r = yb_catalog_query(c->d->catalog,
                             "SELECT seq, time_usec, actor, role, action, object, result, hash,"
                             " detail FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                             audit_row, list, "II", after, limit);
        if (r < 0) {
                json_decref(list);
                yb_http_error(c->resp, 500, "cannot read the audit log: %s", strerror(-r));
                return;
        }
        last = json_array_size(list) > 0
                       ? json_incref(json_object_get(
                                 json_array_get(list, json_array_size(list) - 1), "seq"))
                       : json_integer(after);
        reply(c, 200,
              json_pack("{s:o, s:o, s:I, s:b}", "records", list, "last_seq", last, "head_seq",
                        (json_int_t) head, "more", json_integer_value(last) < head));
}

static void add_problem(void *ud, int64_t seq, const char *problem) {
        json_array_append_new(ud,
                              json_pack("{s:I, s:s}", "seq", (json_int_t) seq, "problem", problem));
}

static void get_audit_verify(Call *c) {
        YbAuditSummary sum = {};
        json_t *problems;
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_READ_AUDIT, NULL)) {
                deny(c, 403, "only operators and auditors may verify the audit log");
                return;
        }
        problems = json_array();
        r = yb_audit_verify(c->d->catalog, c->d->key->sign_pk, add_problem, problems, &sum);
        if (r < 0) {
                json_decref(problems);
                yb_http_error(c->resp, 500, "cannot check the audit log: %s", strerror(-r));
                return;
        }
        reply(c, 200,
              json_pack("{s:b, s:I, s:I, s:I, s:o}", "ok", r == 0, "records",
                        (json_int_t) sum.records, "seals", (json_int_t) sum.seals,
                        "last_sealed_seq", (json_int_t) sum.last_sealed_seq, "problems", problems));
}

/* Lifts a snapshot's quarantine, once an operator has found its agent legitimate: from then on it
 * is built on, counted and pruned like any other. */
static void post_release(Call *c, const char *id, const char *snap) {
        YbSystem *s = system_for(c, id, YB_ACCESS_READ_SYSTEM);
        char detail[200];
        int r;

        if (!s)
                return;
        if (!yb_access_allowed(c->who, YB_ACCESS_ADMIN, NULL)) {
                deny(c, 403, "only operators may release a quarantined snapshot");
                return;
        }
        r = yb_catalog_set_quarantine(c->d->catalog, id, s->policy->tier1_store, snap, NULL);
        snprintf(detail, sizeof(detail), "snapshot %s", snap);
        yb_daemon_audit(c->d, c->who, "snapshot.release", id,
                        r == -ENOENT ? "refused"
                        : r < 0      ? "failed"
                                     : "ok",
                        detail);
        if (r == -ENOENT) {
                yb_http_error(c->resp, 404, "system '%s' has no snapshot %s in store '%s'", id,
                              snap, s->policy->tier1_store);
                return;
        }
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot update the catalog: %s", strerror(-r));
                return;
        }
        reply(c, 200,
              json_pack("{s:s, s:s, s:s}", "system", id, "snapshot", snap, "quarantine",
                        "released"));
}

static void post_rebuild(Call *c) {
        _cleanup_(yb_rebuild_summary_done) YbRebuildSummary sum = {};
        bool forget = false;
        json_t *missing;
        char detail[200];
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_ADMIN, NULL)) {
                deny(c, 403, "only operators may rebuild the catalog");
                return;
        }
        if (c->req->body_size > 0) {
                _cleanup_(json_decrefp) json_t *body = NULL;
                json_t *f;
                json_error_t e;

                body = json_loadb(c->req->body, c->req->body_size, 0, &e);
                f = json_object_get(body, "forget_missing");
                if (!json_is_object(body) || (f && !json_is_boolean(f))) {
                        yb_http_error(c->resp, 400,
                                      "the body must be a JSON object, with forget_missing true "
                                      "or false if given");
                        return;
                }
                forget = json_is_true(f);
        }
        r = yb_catalog_rebuild(c->d, forget, &sum);
        snprintf(
                detail, sizeof(detail),
                "%d systems, %d snapshots, %d added, %d removed, %zu missing kept, %d unreadable%s",
                sum.systems, sum.snapshots, sum.added, sum.removed, sum.missing.n, sum.errors,
                forget ? " (--forget-missing)" : "");
        yb_daemon_audit(c->d, c->who, "api.catalog-rebuild", "catalog", r < 0 ? "failed" : "ok",
                        detail);
        if (r < 0) {
                yb_http_error(c->resp, 500, "the rebuild failed: %s", strerror(-r));
                return;
        }
        (void) yb_daemon_load_status(c->d);
        missing = json_array();
        for (size_t i = 0; i < sum.missing.n; i++) {
                char *system = sum.missing.v[i], *store = strchr(system, '\t'), *snap;

                snap = store ? strchr(store + 1, '\t') : NULL;
                if (!snap)
                        continue;
                *store++ = 0;
                *snap++ = 0;
                json_array_append_new(missing, json_pack("{s:s, s:s, s:s}", "system", system,
                                                         "store", store, "snapshot", snap));
        }
        reply(c, 200,
              json_pack("{s:i, s:i, s:i, s:i, s:i, s:o}", "systems", sum.systems, "snapshots",
                        sum.snapshots, "added", sum.added, "removed", sum.removed, "unreadable",
                        sum.errors, "missing", missing));
}

/* Splits "/v1/a/b/c" into at most 5 segments after "v1". */
static int split_path(const char *path, char seg[5][128]) {
        int n = 0;

        if (strncmp(path, "/v1/", 4) != 0)
                return -1;
        path += 4;
        while (*path) {
                size_t len = strcspn(path, "/");

                if (n == 5 || len == 0 || len >= 128)
                        return -1;
                memcpy(seg[n], path, len);
                seg[n][len] = 0;
                n++;
                path += len;
                if (*path == '/')
                        path++;
        }
        return n;
}

static bool route(Call *c, int n, char seg[5][128], bool *wrong_method) {
        bool get = streq(c->req->method, "GET"), post = streq(c->req->method, "POST");

#define ON(m, cond, call)                                                                          \
        if (cond) {                                                                                \
                if (!(m)) {                                                                        \
                        *wrong_method = true;                                                      \
                        return false;                                                              \
                }                                                                                  \
                call;                                                                              \
                return true;                                                                       \
        }
        ON(get, n == 1 && streq(seg[0], "whoami"), get_whoami(c));
        ON(get, n == 1 && streq(seg[0], "status"), get_status(c));
        ON(get, n == 2 && streq(seg[0], "systems"), get_system(c, seg[1]));
        ON(get, n == 3 && streq(seg[0], "systems") && streq(seg[2], "snapshots"),
           get_snapshots(c, seg[1]));
        ON(post,
           n == 5 && streq(seg[0], "systems") && streq(seg[2], "snapshots") &&
                   streq(seg[4], "release"),
           post_release(c, seg[1], seg[3]));
        ON(post, n == 3 && streq(seg[0], "systems") && streq(seg[2], "backup"),
           post_backup(c, seg[1]));
        ON(get, n == 1 && streq(seg[0], "jobs"), get_jobs(c));
        ON(get, n == 2 && streq(seg[0], "jobs"), get_job(c, seg[1]));
        ON(post, n == 3 && streq(seg[0], "jobs") && streq(seg[2], "cancel"),
           post_cancel(c, seg[1]));
        ON(get, n == 1 && streq(seg[0], "audit"), get_audit(c));
        ON(get, n == 2 && streq(seg[0], "audit") && streq(seg[1], "verify"), get_audit_verify(c));
        ON(post, n == 2 && streq(seg[0], "catalog") && streq(seg[1], "rebuild"), post_rebuild(c));
#undef ON
        return false;
}

static void post_reload(Call *c) {
        YbDaemon *d = c->d;
        json_t *errors;
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_ADMIN, NULL)) {
                deny(c, 403, "only operators may reload the policies");
                pthread_mutex_unlock(&d->lock);
                return;
        }
        pthread_mutex_unlock(&d->lock); /* the load takes the lock itself */
        r = yb_daemon_load_policies(d, c->who);
        pthread_mutex_lock(&d->lock);
        if (r >= 0) {
                reply(c, 200,
                      json_pack("{s:b, s:I}", "ok", 1, "policies", (json_int_t) d->n_systems));
                pthread_mutex_unlock(&d->lock);
                return;
        }
        errors = json_array();
        for (char **e = d->policy_errors; e && *e; e++)
                json_array_append_new(errors, json_string(*e));
        reply(c, 200,
              json_pack("{s:b, s:I, s:o}", "ok", 0, "policies", (json_int_t) d->n_systems, "errors",
                        errors));
        pthread_mutex_unlock(&d->lock);
}

bool yb_api_admit(void *userdata, uid_t uid) {
        const YbDaemon *d = userdata;

        for (size_t i = 0; i < d->config->n_people; i++)
                if (d->config->people[i].uid == uid)
                        return true;
        return false;
}

void yb_api_refused(void *userdata, uid_t uid, unsigned count, int64_t minute_usec) {
        YbDaemon *d = userdata;
        YbPerson unknown = { .role = YB_ROLE_NONE, .uid = uid };
        char name[32], when[32], detail[256];

        snprintf(name, sizeof(name), "uid:%u", (unsigned) uid);
        unknown.name = name;
        yb_time_format_iso(yb_usec_to_ns(minute_usec), when);
        snprintf(detail, sizeof(detail),
                 "%u connection%s refused in the minute from %s: uid %u is not one of the people "
                 "in yunbakd's configuration",
                 count, count == 1 ? "" : "s", when, (unsigned) uid);
        pthread_mutex_lock(&d->lock);
        yb_daemon_audit(d, &unknown, "api.denied", d->config->socket, "denied", detail);
        pthread_mutex_unlock(&d->lock);
}

void yb_api_handle(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp) {
        Call c = { .d = userdata, .req = req, .resp = resp };
        const YbConfigPerson *p = NULL;
        char seg[5][128];
        bool wrong_method = false;
        int n;

        snprintf(c.what, sizeof(c.what), "%s %s", req->method, req->path);
        pthread_mutex_lock(&c.d->lock);
        for (size_t i = 0; req->has_peer && i < c.d->config->n_people; i++)
                if (c.d->config->people[i].uid == req->uid)
                        p = &c.d->config->people[i];
        if (p) {
                c.person = (YbPerson){ p->user, p->uid, p->role, p->department };
                c.who = &c.person;
        }
        n = split_path(req->path, seg);
        if (!c.who) {
                deny(&c, 403,
                     "uid %u is not one of the people in yunbakd's configuration; ask the "
                     "operations unit to add you",
                     (unsigned) req->uid);
                goto out;
        }
        if (n == 1 && streq(seg[0], "reload")) {
                if (!streq(req->method, "POST")) {
                        yb_http_error(resp, 405, "use POST for %s", req->path);
                        goto out;
                }
                post_reload(&c); /* unlocks */
                return;
        }
        if (n < 0 || !route(&c, n, seg, &wrong_method)) {
                if (wrong_method)
                        yb_http_error(resp, 405, "%s is not allowed on %s (docs/api.md)",
                                      req->method, req->path);
                else
                        yb_http_error(resp, 404, "no endpoint %s %s (docs/api.md lists them)",
                                      req->method, req->path);
        }
out:
        pthread_mutex_unlock(&c.d->lock);
}
