/* orchestrator/api.c: the control API (docs/api.md): routing, and the handlers of status, systems,
 * snapshots, the audit log, the catalog and reloads (the jobs are in api-jobs.c). Each request is
 * answered under the daemon lock: the caller's uid becomes a person, the access rules decide, and
 * every change and every refusal is written to the audit log (api-call.c). */
#include "orchestrator/api.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "catalog/audit.h"
#include "catalog/decommissions.h"
#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/api-call.h"
#include "orchestrator/api-certificates.h"
#include "orchestrator/api-decommission.h"
#include "orchestrator/api-drills.h"
#include "orchestrator/api-jobs.h"
#include "orchestrator/api-keycopies.h"
#include "orchestrator/api-offsite.h"
#include "orchestrator/api-repair.h"
#include "orchestrator/api-reports.h"
#include "orchestrator/copies.h"
#include "orchestrator/daemon.h"
#include "orchestrator/drill-due.h"
#include "orchestrator/jobs.h"
#include "orchestrator/rebuild.h"
#include "orchestrator/replicators.h"
#include "orchestrator/wal-archive-watch.h"
#include "policies/yamltree.h"

/* A system whose decommission stopped its tiers: "stopped" says so, and each tier's "state"
 * with it, so that nothing reads as ok, late or lagging. */
static void stopped_json(const YbSystem *s, json_t *o) {
        char why[256];
        const char *tiers[] = { "tier1", "tier2", "tier3" };

        if (!yb_system_stopped(s)) {
                json_object_set_new(o, "stopped", json_null());
                return;
        }
        if (streq(s->status.decommission_state, YB_DECOM_CERTIFIED))
                snprintf(why, sizeof(why),
                         "decommissioned (certificate %" PRId64 "): remove its policy file",
                         s->status.decommission_certificate);
        else
                snprintf(why, sizeof(why), "stopped: decommission %" PRId64 " (%s)",
                         s->status.decommission, s->status.decommission_state);
        json_object_set_new(o, "stopped", json_string(why));
        for (size_t i = 0; i < 3; i++) {
                json_t *t = json_object_get(o, tiers[i]);

                if (json_is_object(t))
                        json_object_set_new(t, "state", json_string(why));
                if (json_is_object(t) && json_object_get(t, "behind"))
                        json_object_set_new(t, "behind", json_false());
        }
}

static json_t *system_json(YbDaemon *d, const YbSystem *s) {
        const YbPolicy *p = s->policy;
        const YbSystemStatus *st = &s->status;
        json_t *next = json_object(), *o;

        json_object_set_new(next, "full", orch_api_usec_or_null(st->next_full));
        if (p->differential)
                json_object_set_new(next, "differential",
                                    orch_api_usec_or_null(st->next_differential));
        json_object_set_new(next, "incremental", orch_api_usec_or_null(st->next_incremental));
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", p->id, "name", p->name,
                      "department", p->department, "classification", yb_grade_to_string(p->grade),
                      "host", p->host, "rpo_usec", (json_int_t) p->rpo_usec, "rto_usec",
                      (json_int_t) p->rto_usec);
        if (!o)
                return NULL;
        json_object_set_new(
                o, "tier1",
                json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "store", p->tier1_store,
                          "last_success_usec", orch_api_usec_or_null(st->last_success_usec),
                          "last_status",
                          st->last_state >= 0 ? json_string(yb_job_state_to_string(st->last_state))
                                              : json_null(),
                          "last_snapshot", orch_api_text_or_null(st->last_snapshot), "last_job",
                          st->last_job > 0 ? json_integer(st->last_job) : json_null(),
                          "running_job",
                          st->running_job > 0 ? json_integer(st->running_job) : json_null(), "next",
                          next, "snapshots", (json_int_t) st->snapshots));
        if (st->prune_locked > 0)
                json_object_set_new(json_object_get(o, "tier1"), "kept_by_object_lock",
                                    json_pack("{s:I, s:s}", "snapshots",
                                              (json_int_t) st->prune_locked, "until",
                                              st->prune_locked_until));
        json_object_set_new(o, "offsite_requests_pending",
                            json_integer(st->offsite_requests_pending));
        if (st->decommission > 0)
                json_object_set_new(o, "decommission",
                                    json_pack("{s:I, s:s}", "id", (json_int_t) st->decommission,
                                              "state", st->decommission_state));
        yb_replicators_status_json(d, s, o);
        yb_walwatch_status_json(d, s, o);
        yb_copies_status_json(d, s, yb_daemon_now(d), o);
        json_object_set_new(o, "drill", orch_drill_due_json(s, yb_daemon_now(d)));
        stopped_json(s, o);
        return o;
}

static void get_whoami(Call *c) {
        orch_api_reply(c, 200,
                       json_pack("{s:s, s:I, s:s, s:o}", "user", c->who->name, "uid",
                                 (json_int_t) c->who->uid, "role", yb_role_to_string(c->who->role),
                                 "department", orch_api_text_or_null(c->who->department)));
}

/* The system's entry of /v1/status as compact JSON, remade only when its status changed. */
static const char *system_fragment(YbDaemon *d, YbSystem *s) {
        json_t *o;

        /* Tier 3 says ages: remade at most once a second for them. Tier 2's replicator changes
         * state at any moment (and its lag with every sample): remade every time. */
        int64_t sec = s->policy->tier3_store ? yb_daemon_now(d) / YB_USEC_PER_SEC : 0;

        /* A drill falls due (or is abandoned) as time passes: judged now, the status differs
         * from the cached one when that changed. */
        orch_drill_due_refresh(s, yb_daemon_now(d));

        if (s->policy->tier2_store || yb_replicators_known(d, s->policy->id)) {
                free(s->json_cache);
                o = system_json(d, s);
                s->json_cache = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                json_decref(o);
                return s->json_cache;
        }

        if (s->json_cache && memcmp(&s->json_status, &s->status, sizeof(s->status)) == 0 &&
            s->json_sec == sec)
                return s->json_cache;
        s->json_sec = sec;
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
        YbSystem *s = orch_api_system_for(c, id, YB_ACCESS_READ_SYSTEM);
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
        orch_api_reply(c, 200, o);
}

/* GET /v1/systems/ID/lag[?hours=N]: tier 2's lag per hour (default the last 24, at most 8784). */
static void get_lag(Call *c, const char *id) {
        YbSystem *s = orch_api_system_for(c, id, YB_ACCESS_READ_SYSTEM);
        const char *q = yb_http_query(c->req, "hours");
        int64_t hours = 24;
        json_t *o;
        int r;

        if (!s)
                return;
        if (q && !orch_api_parse_int(q, 1, 8784, &hours)) {
                yb_http_error(c->resp, 400, "hours must be a number from 1 to 8784, not '%s'", q);
                return;
        }
        r = yb_replicators_lag_history_json(c->d, id, (int) hours, &o);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the lag history from the catalog: %s",
                              strerror(-r));
                return;
        }
        orch_api_reply(c, 200, o);
}

static int snapshot_row(void *ud, struct sqlite3_stmt *row) {
        json_array_append_new(
                ud, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
                              "store", orch_api_col_text(row, 0), "id", orch_api_col_text(row, 1),
                              "level", orch_api_col_text(row, 2), "parent",
                              orch_api_col_text(row, 3), "agent", orch_api_col_text(row, 4),
                              "started_usec", orch_api_col_int(row, 5), "finished_usec",
                              orch_api_col_int(row, 6), "files", orch_api_col_int(row, 7),
                              "bytes_source", orch_api_col_int(row, 8), "bytes_stored",
                              orch_api_col_int(row, 9), "partial", sqlite3_column_int(row, 10) != 0,
                              "quarantine", orch_api_col_text(row, 11)));
        return 0;
}

static void get_snapshots(Call *c, const char *id) {
        json_t *list;
        int r;

        if (!orch_api_system_for(c, id, YB_ACCESS_READ_SYSTEM))
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
        orch_api_reply(c, 200, json_pack("{s:s, s:o}", "system", id, "snapshots", list));
}

static int audit_row(void *ud, struct sqlite3_stmt *row) {
        char hex[2 * 32 + 1] = "";
        int n = sqlite3_column_bytes(row, 7);

        if (n == 32)
                yb_hex_encode(sqlite3_column_blob(row, 7), 32, hex);
        json_array_append_new(
                ud, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "seq",
                              orch_api_col_int(row, 0), "time_usec", orch_api_col_int(row, 1),
                              "actor", orch_api_col_text(row, 2), "role", orch_api_col_text(row, 3),
                              "action", orch_api_col_text(row, 4), "object",
                              orch_api_col_text(row, 5), "result", orch_api_col_text(row, 6),
                              "detail", orch_api_col_text(row, 8), "hash", hex));
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
                orch_api_deny(c, 403, "only operators and auditors may read the audit log");
                return;
        }
        if ((after_s && !orch_api_parse_int(after_s, 0, INT64_MAX, &after)) ||
            (limit_s && !orch_api_parse_int(limit_s, 1, 1000, &limit))) {
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
        orch_api_reply(c, 200,
                       json_pack("{s:o, s:o, s:I, s:b}", "records", list, "last_seq", last,
                                 "head_seq", (json_int_t) head, "more",
                                 json_integer_value(last) < head));
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
                orch_api_deny(c, 403, "only operators and auditors may verify the audit log");
                return;
        }
        problems = json_array();
        r = yb_audit_verify(c->d->catalog, c->d->key->sign_pk, add_problem, problems, &sum);
        if (r < 0) {
                json_decref(problems);
                yb_http_error(c->resp, 500, "cannot check the audit log: %s", strerror(-r));
                return;
        }
        orch_api_reply(c, 200,
                       json_pack("{s:b, s:I, s:I, s:I, s:o}", "ok", r == 0, "records",
                                 (json_int_t) sum.records, "seals", (json_int_t) sum.seals,
                                 "last_sealed_seq", (json_int_t) sum.last_sealed_seq, "problems",
                                 problems));
}

/* Lifts a snapshot's quarantine, once an operator has found its agent legitimate: from then on it
 * is built on, counted and pruned like any other. */
static void post_release(Call *c, const char *id, const char *snap) {
        YbSystem *s = orch_api_system_for(c, id, YB_ACCESS_READ_SYSTEM);
        char detail[200];
        int r;

        if (!s)
                return;
        if (!yb_access_allowed(c->who, YB_ACCESS_ADMIN, NULL)) {
                orch_api_deny(c, 403, "only operators may release a quarantined snapshot");
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
        orch_api_reply(c, 200,
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
                orch_api_deny(c, 403, "only operators may rebuild the catalog");
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
        orch_api_reply(c, 200,
                       json_pack("{s:i, s:i, s:i, s:i, s:i, s:o}", "systems", sum.systems,
                                 "snapshots", sum.snapshots, "added", sum.added, "removed",
                                 sum.removed, "unreadable", sum.errors, "missing", missing));
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
        ON(get, n == 3 && streq(seg[0], "systems") && streq(seg[2], "lag"), get_lag(c, seg[1]));
        ON(post,
           n == 5 && streq(seg[0], "systems") && streq(seg[2], "snapshots") &&
                   streq(seg[4], "release"),
           post_release(c, seg[1], seg[3]));
        ON(post, n == 3 && streq(seg[0], "systems") && streq(seg[2], "backup"),
           orch_api_post_backup(c, seg[1]));
        ON(get, n == 1 && streq(seg[0], "jobs"), orch_api_get_jobs(c));
        ON(get, n == 2 && streq(seg[0], "jobs"), orch_api_get_job(c, seg[1]));
        ON(post, n == 3 && streq(seg[0], "jobs") && streq(seg[2], "cancel"),
           orch_api_post_cancel(c, seg[1]));
        ON(get, n == 1 && streq(seg[0], "audit"), get_audit(c));
        ON(get, n == 2 && streq(seg[0], "audit") && streq(seg[1], "verify"), get_audit_verify(c));
        ON(post, n == 2 && streq(seg[0], "catalog") && streq(seg[1], "rebuild"), post_rebuild(c));
        ON(get || post, n == 2 && streq(seg[0], "offsite") && streq(seg[1], "requests"),
           get ? orch_api_get_offsite_requests(c) : orch_api_post_offsite_request(c));
        ON(get, n == 3 && streq(seg[0], "offsite") && streq(seg[1], "requests"),
           orch_api_get_offsite_request(c, seg[2]));
        ON(post,
           n == 4 && streq(seg[0], "offsite") && streq(seg[1], "requests") &&
                   (streq(seg[3], "approve") || streq(seg[3], "refuse")),
           orch_api_post_offsite_decide(c, seg[2], streq(seg[3], "approve")));
        /* Key copies (api-keycopies.c). */
        ON(get || post, n == 3 && streq(seg[0], "systems") && streq(seg[2], "key-copies"),
           get ? orch_api_get_key_copies(c, seg[1]) : orch_api_post_key_copy(c, seg[1]));
        ON(post,
           n == 4 && streq(seg[0], "systems") && streq(seg[2], "key-copies") &&
                   streq(seg[3], "seen"),
           orch_api_post_key_copy_seen(c, seg[1]));
        ON(post, n == 3 && streq(seg[0], "key-copies") && streq(seg[2], "destroyed"),
           orch_api_post_key_copy_destroyed(c, seg[1]));
        ON(post, n == 3 && streq(seg[0], "key-copies") && streq(seg[2], "attest"),
           orch_api_post_key_copy_attest(c, seg[1]));
        ON(post, n == 3 && streq(seg[0], "key-copies") && streq(seg[2], "withdraw"),
           orch_api_post_key_copy_withdraw(c, seg[1]));
        /* Certificates (api-certificates.c). */
        ON(get, n == 1 && streq(seg[0], "certificates"), orch_api_get_certificates(c));
        ON(get, n == 2 && streq(seg[0], "certificates"), orch_api_get_certificate(c, seg[1]));
        ON(post, n == 1 && streq(seg[0], "repairs"), orch_api_post_repair(c));
        ON(get || post, n == 1 && streq(seg[0], "decommissions"),
           get ? orch_api_get_decommissions(c) : orch_api_post_decommission(c));
        ON(get, n == 2 && streq(seg[0], "decommissions"), orch_api_get_decommission(c, seg[1]));
        ON(post, n == 3 && streq(seg[0], "decommissions"),
           orch_api_post_decommission_action(c, seg[1], seg[2]));
        ON(get, n == 2 && streq(seg[0], "repairs"), orch_api_get_repair(c, seg[1]));
        /* Drills (api-drills.c). */
        ON(get || post, n == 1 && streq(seg[0], "drills"),
           get ? orch_api_get_drills(c) : orch_api_post_drill(c));
        ON(get, n == 2 && streq(seg[0], "drills"), orch_api_get_drill(c, seg[1]));
        ON(post, n == 3 && streq(seg[0], "drills") && streq(seg[2], "result"),
           orch_api_post_drill_result(c, seg[1]));
        /* The monthly, quarterly and annual report (api-reports.c). */
        ON(get, n == 1 && streq(seg[0], "reports"), orch_api_get_reports(c));
#undef ON
        return false;
}

static void post_reload(Call *c) {
        YbDaemon *d = c->d;
        json_t *errors;
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_ADMIN, NULL)) {
                orch_api_deny(c, 403, "only operators may reload the policies");
                pthread_mutex_unlock(&d->lock);
                return;
        }
        pthread_mutex_unlock(&d->lock); /* the load takes the lock itself */
        r = yb_daemon_load_policies(d, c->who);
        pthread_mutex_lock(&d->lock);
        if (r >= 0) {
                orch_api_reply(
                        c, 200,
                        json_pack("{s:b, s:I}", "ok", 1, "policies", (json_int_t) d->n_systems));
                pthread_mutex_unlock(&d->lock);
                return;
        }
        errors = json_array();
        for (char **e = d->policy_errors; e && *e; e++)
                json_array_append_new(errors, json_string(*e));
        orch_api_reply(c, 200,
                       json_pack("{s:b, s:I, s:o}", "ok", 0, "policies", (json_int_t) d->n_systems,
                                 "errors", errors));
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
                orch_api_deny(&c, 403,
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
