/* orchestrator/api-offsite.c: requests for off-site copies over the control API
 * (api-offsite.h; docs/api.md, "Off-site requests"). The rules: a request names a system the
 * caller may act on (its own department's, or any for an operator) whose policy has a tier3 with
 * on_request: true; with approval: required an operator decides, and never the requester, whatever
 * their role; with approval: automatic yunbakd approves at once. An approval queues the copy job
 * (yb_copies_queue): when that cannot be done the request stays pending and the caller is told
 * why, so that no request reads approved without a copy behind it. */
#include "orchestrator/api-offsite.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/requests.h"
#include "core/base/ident.h"
#include "core/base/timeutil.h"
#include "core/repo/repo.h"
#include "orchestrator/copies.h"

/* The longest reason taken, in bytes. */
#define REASON_MAX 1000

/* A request's state as people read it: pending, refused or approved, and for an approved one the
 * state of its copy job ("done" for one that succeeded). */
static const char *copy_state(const YbRequest *r) {
        if (!r->job_state)
                return NULL;
        return streq(r->job_state, "succeeded") ? "done" : r->job_state;
}

static json_t *request_json(const YbRequest *r) {
        return json_pack("{s:I, s:s, s:o, s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "id",
                         (json_int_t) r->id, "system", r->system, "snapshot",
                         orch_api_text_or_null(r->snapshot), "reason", r->reason ? r->reason : "",
                         "requested_by", r->requested_by, "requested_usec",
                         (json_int_t) r->requested_usec, "state",
                         r->decision ? r->decision : "pending", "decided_by",
                         orch_api_text_or_null(r->decided_by), "decided_usec",
                         orch_api_usec_or_null(r->decided_usec), "decision_reason",
                         orch_api_text_or_null(r->decision_reason), "job",
                         r->job > 0 ? json_integer(r->job) : json_null(), "copy_state",
                         orch_api_text_or_null(copy_state(r)));
}

/* Answers with the request id as the catalog now has it. */
static void reply_request(Call *c, int status, int64_t id, const char *note) {
        YbRequest r = {};
        json_t *o;
        int k = yb_requests_get(c->d->catalog, id, &r);

        if (k < 0) {
                yb_http_error(c->resp, 500, "cannot read request %" PRId64 " from the catalog: %s",
                              id, strerror(-k));
                return;
        }
        o = request_json(&r);
        if (o && note)
                json_object_set_new(o, "note", json_string(note));
        yb_request_done(&r);
        orch_api_reply(c, status, o);
}

/* A reason from the body: absent or null is NULL; otherwise a non-empty string of at most
 * REASON_MAX bytes. False (answered 400) when it is anything else. */
static bool body_reason(Call *c, json_t *body, bool required, const char **ret) {
        json_t *v = json_object_get(body, "reason");

        if ((!v || json_is_null(v)) && !required) {
                *ret = NULL;
                return true;
        }
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > REASON_MAX) {
                yb_http_error(c->resp, 400, "reason must be a text of 1 to %d bytes%s", REASON_MAX,
                              required ? ", and is required: say why the copy is needed" : "");
                return false;
        }
        *ret = json_string_value(v);
        return true;
}

/* Why the system's policy takes no request for an off-site copy, or NULL when it takes them. */
static const char *policy_refuses(const YbSystem *s, char *buf, size_t size) {
        const YbPolicy *p = s->policy;

        if (!p->tier3_store)
                snprintf(buf, size,
                         "system '%s' has no off-site copies: its policy %s has no tier3 (add "
                         "tier3 with store and on_request: true; docs/policy.md)",
                         p->id, p->file);
        else if (!p->tier3_on_request)
                snprintf(buf, size,
                         "system '%s' takes no requests for off-site copies: its policy %s does "
                         "not say tier3.on_request: true (ask the operations unit, or add it)",
                         p->id, p->file);
        else
                return NULL;
        return buf;
}

static int found_row(void *ud, struct sqlite3_stmt *row) {
        *(bool *) ud = true;
        return 0;
}

/* Whether snap is a snapshot of s in its tier-1 store that may be copied; answers if not. */
static bool snapshot_known(Call *c, const YbSystem *s, const char *snap) {
        bool found = false;
        int r;

        if (!yb_snapshot_id_valid(snap)) {
                yb_http_error(c->resp, 400,
                              "snapshot '%s' is not a snapshot id (as 'yunbak snapshots --system "
                              "%s' lists them)",
                              snap, s->policy->id);
                return false;
        }
        r = yb_catalog_query(c->d->catalog,
                             "SELECT 1 FROM snapshots WHERE system = ?1 AND store = ?2 AND id = ?3"
                             " AND quarantine IS NULL",
                             found_row, &found, "ttt", s->policy->id, s->policy->tier1_store, snap);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return false;
        }
        if (!found) {
                yb_http_error(c->resp, 404,
                              "system '%s' has no snapshot %s in its tier-1 store '%s' that may "
                              "be copied (not there, or quarantined; 'yunbak snapshots --system "
                              "%s' lists them)",
                              s->policy->id, snap, s->policy->tier1_store, s->policy->id);
                return false;
        }
        return true;
}

/* The audit detail of a request's step: id, snapshot and reasons. */
static void detail_of(char *buf, size_t size, int64_t id, const char *snap, int64_t job,
                      const char *reason, const char *decision_reason) {
        int n = snprintf(buf, size, "request %" PRId64 ", snapshot %s", id, snap ? snap : "newest");

        if (n >= 0 && (size_t) n < size && job > 0)
                n += snprintf(buf + n, size - (size_t) n, ", copy job %" PRId64, job);
        if (n >= 0 && (size_t) n < size && reason)
                n += snprintf(buf + n, size - (size_t) n, "; reason: %s", reason);
        if (n >= 0 && (size_t) n < size && decision_reason)
                snprintf(buf + n, size - (size_t) n, "; decision: %s", decision_reason);
}

/* Queues the copy of an approved request. 0 and *ret_job, or -errno with why in msg. */
static int queue_copy(Call *c, const YbRequest *r, int64_t *ret_job, char *msg, size_t size) {
        int64_t job = 0;
        int k = yb_copies_queue(c->d, r->system, r->snapshot, "request", r->id, &job);

        if (k >= 0) {
                *ret_job = job;
                return 0;
        }
        if (k == -ESHUTDOWN) {
                char why[256];

                yb_system_stopped_why(yb_daemon_system(c->d, r->system), why, sizeof(why));
                snprintf(msg, size,
                         "%s: no off-site copy is made for it; request %" PRId64 " stays pending",
                         why, r->id);
        } else if (k == -EBUSY)
                snprintf(msg, size,
                         "system '%s' already has copy job %" PRId64 " queued or running; "
                         "request %" PRId64 " stays pending: approve it again once that job "
                         "has ended ('yunbak jobs --system %s')",
                         r->system, job, r->id, r->system);
        else
                snprintf(msg, size,
                         "cannot queue the copy of system '%s' for request %" PRId64
                         ", which stays pending: %s",
                         r->system, r->id,
                         k == -ENOTSUP ? "yunbakd cannot run off-site copies for this system"
                                         " (no tier-3 store, or copies are not built into it)"
                                       : strerror(-k));
        return k;
}

void orch_api_post_offsite_request(Call *c) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        const char *system, *snap = NULL, *reason;
        char why[512], detail[1400];
        YbRequest req = {};
        int64_t id = 0, other = 0;
        YbSystem *s;
        json_t *v;
        int r;

        body = orch_api_body_object(c);
        if (!body)
                return;
        system = json_string_value(json_object_get(body, "system"));
        v = json_object_get(body, "snapshot");
        if (!system || !yb_system_id_valid(system) ||
            (v && !json_is_null(v) && !json_is_string(v))) {
                yb_http_error(c->resp, 400,
                              "system must be a system id, and snapshot a snapshot id or null");
                return;
        }
        if (!body_reason(c, body, true, &reason))
                return;
        s = orch_api_system_for(c, system, YB_ACCESS_ACT_SYSTEM);
        if (!s)
                return;
        snap = json_string_value(v);
        if (policy_refuses(s, why, sizeof(why))) {
                yb_daemon_audit(c->d, c->who, "offsite.request", system, "refused", why);
                yb_http_error(c->resp, 409, "%s", why);
                return;
        }
        if (snap && !snapshot_known(c, s, snap))
                return;
        r = yb_requests_find_pending(c->d->catalog, system, snap, &other);
        if (r >= 0 && other > 0) {
                snprintf(why, sizeof(why),
                         "request %" PRId64 " for the same copy of system '%s' is pending "
                         "already ('yunbak offsite list --system %s')",
                         other, system, system);
                orch_api_reply(
                        c, 409,
                        json_pack("{s:s, s:I}", "error", why, "request", (json_int_t) other));
                return;
        }
        if (r >= 0)
                r = yb_requests_add(c->d->catalog, system, snap, reason, c->who->name,
                                    yb_daemon_now(c->d), &id);
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "offsite.request", system, "failed", strerror(-r));
                yb_http_error(c->resp, 500, "cannot record the request in the catalog: %s",
                              strerror(-r));
                return;
        }
        detail_of(detail, sizeof(detail), id, snap, 0, reason, NULL);
        yb_daemon_audit(c->d, c->who, "offsite.request", system, "ok", detail);
        if (s->policy->tier3_approval_required) {
                (void) yb_daemon_load_requests(c->d);
                reply_request(c, 201, id, NULL);
                return;
        }

        /* approval: automatic: yunbakd approves at once, as itself. */
        r = yb_requests_get(c->d->catalog, id, &req);
        if (r >= 0) {
                int64_t job = 0;

                r = queue_copy(c, &req, &job, why, sizeof(why));
                if (r >= 0) {
                        r = yb_requests_decide(c->d->catalog, id, "approved", "yunbakd",
                                               yb_daemon_now(c->d), "tier3.approval: automatic",
                                               job);
                        if (r < 0)
                                snprintf(why, sizeof(why),
                                         "copy job %" PRId64 " was queued, but the catalog did "
                                         "not record request %" PRId64 "'s approval: %s",
                                         job, id, strerror(-r));
                }
                detail_of(detail, sizeof(detail), id, snap, job, reason,
                          "tier3.approval: automatic");
        } else
                snprintf(why, sizeof(why), "cannot read request %" PRId64 ": %s", id, strerror(-r));
        yb_daemon_audit(c->d, NULL, "offsite.approve", system, r < 0 ? "failed" : "ok",
                        r < 0 ? why : detail);
        yb_request_done(&req);
        (void) yb_daemon_load_requests(c->d);
        reply_request(c, 201, id, r < 0 ? why : NULL);
}

typedef struct ListRows {
        Call *c;
        json_t *list;
} ListRows;

static int list_row(void *ud, const YbRequest *r) {
        ListRows *lr = ud;
        YbSystem *s = yb_daemon_system(lr->c->d, r->system);

        /* A system without a policy now: operators and auditors only. */
        if (s ? yb_access_sees(lr->c->who, s->policy->department)
              : yb_access_allowed(lr->c->who, YB_ACCESS_READ_AUDIT, NULL))
                json_array_append_new(lr->list, request_json(r));
        return 0;
}

void orch_api_get_offsite_requests(Call *c) {
        const char *system = yb_http_query(c->req, "system"),
                   *state = yb_http_query(c->req, "state"),
                   *limit_s = yb_http_query(c->req, "limit");
        ListRows lr = { c, NULL };
        int64_t limit = 100;
        int r;

        if ((limit_s && !orch_api_parse_int(limit_s, 1, 1000, &limit)) ||
            (state && !streq(state, "pending"))) {
                yb_http_error(c->resp, 400, "limit must be 1 to 1000, and state 'pending'");
                return;
        }
        lr.list = json_array();
        /* A department person filters in SQL, so that the limit counts what they may see. */
        r = yb_requests_list(c->d->catalog, system,
                             c->who->role == YB_ROLE_DEPARTMENT ? c->who->department : NULL,
                             state != NULL, limit, list_row, &lr);
        if (r < 0) {
                json_decref(lr.list);
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return;
        }
        orch_api_reply(c, 200, json_pack("{s:o}", "requests", lr.list));
}

/* The request, if the caller may see it; otherwise answers (404 as for no request, when it is
 * of a system the caller may not see: ids are sequential) and false. */
static bool request_for(Call *c, const char *id_s, YbRequest *ret) {
        YbRequest r = {};
        int64_t id;
        YbSystem *s;
        int k;

        if (!orch_api_parse_int(id_s, 1, INT64_MAX, &id)) {
                yb_http_error(c->resp, 404, "no off-site request '%s'", id_s);
                return false;
        }
        k = yb_requests_get(c->d->catalog, id, &r);
        if (k == -ENOENT) {
                yb_http_error(c->resp, 404, "no off-site request %" PRId64, id);
                return false;
        }
        if (k < 0) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-k));
                return false;
        }
        s = yb_daemon_system(c->d, r.system);
        if (s ? !yb_access_sees(c->who, s->policy->department)
              : !yb_access_allowed(c->who, YB_ACCESS_READ_AUDIT, NULL)) {
                yb_request_done(&r);
                orch_api_deny(c, 404, "no off-site request %" PRId64, id);
                return false;
        }
        *ret = r;
        return true;
}

void orch_api_get_offsite_request(Call *c, const char *id_s) {
        YbRequest r = {};

        if (!request_for(c, id_s, &r))
                return;
        orch_api_reply(c, 200, request_json(&r));
        yb_request_done(&r);
}

/* Why request r may not be decided by the caller now, or NULL; *ret_status the answer's. */
static const char *undecidable(Call *c, const YbRequest *r, bool approve, char *buf, size_t size,
                               int *ret_status) {
        const YbSystem *s = yb_daemon_system(c->d, r->system);
        char when[32];

        *ret_status = 409;
        if (streq(r->requested_by, c->who->name)) {
                *ret_status = 403;
                snprintf(buf, size,
                         "you asked for request %" PRId64 " yourself: another operator must "
                         "approve or refuse it",
                         r->id);
                return buf;
        }
        if (r->decision) {
                yb_time_format_iso(yb_usec_to_ns(r->decided_usec), when);
                snprintf(buf, size, "request %" PRId64 " was %s already, by %s at %s", r->id,
                         r->decision, r->decided_by ? r->decided_by : "?", when);
                return buf;
        }
        if (approve && !s) {
                snprintf(buf, size,
                         "system '%s' of request %" PRId64 " has no policy in force now: refuse "
                         "the request",
                         r->system, r->id);
                return buf;
        }
        if (approve)
                return policy_refuses(s, buf, size);
        return NULL;
}

void orch_api_post_offsite_decide(Call *c, const char *id_s, bool approve) {
        const char *action = approve ? "offsite.approve" : "offsite.refuse", *reason = NULL;
        _cleanup_(json_decrefp) json_t *body = NULL;
        char why[512], detail[2600];
        YbRequest r = {};
        int64_t job = 0;
        int k, status;

        if (!yb_access_allowed(c->who, YB_ACCESS_ADMIN, NULL)) {
                orch_api_deny(c, 403, "only operators may approve or refuse off-site requests");
                return;
        }
        body = orch_api_body_object(c);
        if (!body || !body_reason(c, body, false, &reason))
                return;
        if (!request_for(c, id_s, &r))
                return;
        if (undecidable(c, &r, approve, why, sizeof(why), &status)) {
                detail_of(detail, sizeof(detail), r.id, r.snapshot, 0, r.reason, reason);
                snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail), "; refused: %s",
                         why);
                yb_daemon_audit(c->d, c->who, action, r.system, "refused", detail);
                yb_http_error(c->resp, status, "%s", why);
                yb_request_done(&r);
                return;
        }
        k = approve ? queue_copy(c, &r, &job, why, sizeof(why)) : 0;
        if (k >= 0) {
                k = yb_requests_decide(c->d->catalog, r.id, approve ? "approved" : "refused",
                                       c->who->name, yb_daemon_now(c->d), reason, job);
                if (k < 0)
                        snprintf(why, sizeof(why),
                                 "the catalog did not record the decision on request %" PRId64
                                 "%s: %s",
                                 r.id, job > 0 ? " (its copy job was queued)" : "", strerror(-k));
        }
        detail_of(detail, sizeof(detail), r.id, r.snapshot, job, r.reason, reason);
        if (k < 0)
                snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail), "; failed: %s",
                         why);
        yb_daemon_audit(c->d, c->who, action, r.system, k < 0 ? "failed" : "ok", detail);
        (void) yb_daemon_load_requests(c->d);
        if (k < 0)
                orch_api_reply(c, k == -EBUSY || k == -ESHUTDOWN ? 409 : 500,
                               json_pack("{s:s, s:I, s:o}", "error", why, "request",
                                         (json_int_t) r.id, "job",
                                         job > 0 ? json_integer(job) : json_null()));
        else
                reply_request(c, 200, r.id, NULL);
        yb_request_done(&r);
}
