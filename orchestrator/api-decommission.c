/* orchestrator/api-decommission.c: decommissions over the control API (api-decommission.h).
 * The rules (docs/decommission.md, "The flow"): requests, the export and its confirmation or
 * waiver are the system's department's; approval and refusal an operator's who is not the
 * requester; execution and verification an operator's; withdrawal the requester's, before
 * execution. One live decommission per system. Each answer that refuses names the
 * decommission, its state and what may happen next; each action is audited, refused ones too. */
#include "orchestrator/api-decommission.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/decommissions.h"
#include "core/base/ident.h"
#include "core/base/timeutil.h"
#include "core/crypto/keys.h"
#include "core/evidence/jsonwrite.h"
#include "orchestrator/decommission.h"
#include "orchestrator/export-job.h"
#include "orchestrator/jobs.h"

/* The longest reason or note taken, in bytes. */
#define TEXT_MAX 1000

/* "2026-12-06T15:04:05Z" for a time in usec (buf: 32 bytes). */
static const char *iso(int64_t usec, char buf[32]) {
        yb_time_format_iso(yb_usec_to_ns(usec), buf);
        if (strlen(buf) > 19) /* whole seconds */
                memcpy(buf + 19, "Z", 2);
        return buf;
}

static json_t *time_or_null(int64_t usec) {
        char buf[32];

        return usec > 0 && usec != INT64_MAX ? json_string(iso(usec, buf)) : json_null();
}

static int64_t lock_until(YbDaemon *d, const char *system) {
        return yb_decommission_lock_until(d, system);
}

/* What happens next to dc and who does it, as a sentence. */
static const char *next_step(YbDaemon *d, const YbDecommission *dc, char *buf, size_t size) {
        int64_t id = dc->id, until = MAX(dc->not_before_usec, lock_until(d, dc->system));
        const char *st = dc->state;
        char when[32];

        if (streq(st, YB_DECOM_REQUESTED))
                snprintf(buf, size,
                         "an operator other than %s must approve it first (yunbak decommission "
                         "approve %" PRId64 ") or refuse it",
                         dc->requested_by, id);
        else if (streq(st, YB_DECOM_APPROVED))
                snprintf(buf, size,
                         "the department (%s) names the final export (yunbak decommission export "
                         "%" PRId64 " --store NAME --public-key FILE) or waives it with a reason "
                         "(yunbak decommission waive-export %" PRId64 " --reason TEXT)",
                         dc->department, id, id);
        else if (streq(st, YB_DECOM_EXPORTING))
                snprintf(buf, size,
                         "yunbakd is making the final export (job %" PRId64 ") into store '%s'; "
                         "then the department restores and checks it",
                         dc->export_job, dc->export_store ? dc->export_store : "?");
        else if (streq(st, YB_DECOM_EXPORTED))
                snprintf(buf, size,
                         "the department (%s) restores snapshot %s from store '%s' with its new "
                         "key, checks it, and confirms it (yunbak decommission confirm-export "
                         "%" PRId64 ") or waives the export with a reason",
                         dc->department, dc->export_snapshot ? dc->export_snapshot : "?",
                         dc->export_store ? dc->export_store : "?", id);
        else if ((streq(st, YB_DECOM_EXPORT_CONFIRMED) || streq(st, YB_DECOM_EXPORT_WAIVED)) &&
                 until > yb_daemon_now(d))
                snprintf(buf, size,
                         "an operator executes it (yunbak decommission execute %" PRId64
                         "), not before %s (%s)",
                         id, iso(until, when),
                         until == dc->not_before_usec ? "the request's not-before date"
                                                      : "the policy's tier1.lock_until");
        else if (streq(st, YB_DECOM_EXPORT_CONFIRMED) || streq(st, YB_DECOM_EXPORT_WAIVED))
                snprintf(buf, size,
                         "an operator executes it (yunbak decommission execute %" PRId64 ")", id);
        else if (streq(st, YB_DECOM_EXECUTING))
                snprintf(buf, size,
                         "yunbakd is executing it (or was, if it stopped: an operator runs yunbak "
                         "decommission execute %" PRId64 " again to finish)",
                         id);
        else if (streq(st, YB_DECOM_EXECUTED))
                snprintf(buf, size,
                         "what is left must be dealt with (last_error says what), then an "
                         "operator executes it again (a step that failed: yunbak decommission "
                         "execute %" PRId64 ") or verifies it again (yunbak decommission verify "
                         "%" PRId64 ")",
                         id, id);
        else if (streq(st, YB_DECOM_CERTIFIED))
                snprintf(buf, size,
                         "nothing: certificate %" PRId64
                         " was issued (yunbak certificate show %" PRId64 ")",
                         dc->certificate, dc->certificate);
        else
                snprintf(buf, size,
                         "nothing: it has ended; the department may request a new one "
                         "(yunbak decommission request --system %s)",
                         dc->system);
        return buf;
}

/* Column 0 into a char[16] (a job's state). */
static int state_row(void *ud, struct sqlite3_stmt *row) {
        const char *t = (const char *) sqlite3_column_text(row, 0);

        snprintf(ud, 16, "%s", t ? t : "");
        return 0;
}

static json_t *decom_json(YbDaemon *d, const YbDecommission *dc) {
        char next[600], js[16] = "";
        json_t *o, *steps, *exp;

        if (dc->export_job > 0)
                (void) yb_catalog_query(d->catalog, "SELECT state FROM jobs WHERE id = ?1",
                                        state_row, js, "I", dc->export_job);
        exp = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "store",
                        orch_api_text_or_null(dc->export_store), "key_id",
                        orch_api_text_or_null(dc->export_key_id), "job",
                        dc->export_job > 0 ? json_integer(dc->export_job) : json_null(),
                        "job_state", orch_api_text_or_null(js), "snapshot",
                        orch_api_text_or_null(dc->export_snapshot), "by",
                        orch_api_text_or_null(dc->export_by), "at", time_or_null(dc->export_usec),
                        "note", orch_api_text_or_null(dc->export_note));
        steps = yb_decommission_steps_json(d, dc->id);
        if (exp)
                json_object_set_new(exp, "state",
                                    orch_api_text_or_null(orch_export_end_state(dc, steps)));
        o = json_pack(
                "{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "id",
                (json_int_t) dc->id, "system", dc->system, "department", dc->department, "state",
                dc->state, "reason", dc->reason, "not_before", time_or_null(dc->not_before_usec),
                "lock_until", time_or_null(lock_until(d, dc->system)), "requested_by",
                dc->requested_by, "requested", time_or_null(dc->requested_usec), "decided_by",
                orch_api_text_or_null(dc->decided_by), "decided", time_or_null(dc->decided_usec),
                "decision_note", orch_api_text_or_null(dc->decision_note));
        if (!o) {
                json_decref(exp);
                json_decref(steps);
                return NULL;
        }
        json_object_set_new(o, "export", exp ? exp : json_null());
        json_object_set_new(o, "executed_by", orch_api_text_or_null(dc->executed_by));
        json_object_set_new(o, "execute_started", time_or_null(dc->execute_started_usec));
        json_object_set_new(o, "execute_finished", time_or_null(dc->execute_finished_usec));
        json_object_set_new(o, "verified", time_or_null(dc->verified_usec));
        json_object_set_new(o, "certificate",
                            dc->certificate > 0 ? json_integer(dc->certificate) : json_null());
        json_object_set_new(o, "last_error", orch_api_text_or_null(dc->last_error));
        json_object_set_new(o, "running", json_boolean(yb_decommission_running(d, dc->id)));
        json_object_set_new(o, "steps", steps ? steps : json_array());
        json_object_set_new(o, "next", json_string(next_step(d, dc, next, sizeof(next))));
        json_object_set_new(o, "updated", time_or_null(dc->updated_usec));
        return o;
}

/* Answers with decommission id as the catalog now has it (extra: more fields, taken). */
static void reply_decom(Call *c, int status, int64_t id, json_t *extra) {
        YbDecommission dc = {};
        json_t *o;
        int r = yb_decommissions_get(c->d->catalog, id, &dc);

        if (r < 0) {
                json_decref(extra);
                yb_http_error(c->resp, 500,
                              "cannot read decommission %" PRId64 " from the catalog: %s", id,
                              strerror(-r));
                return;
        }
        o = decom_json(c->d, &dc);
        yb_decommission_done(&dc);
        if (o && extra)
                json_object_update(o, extra);
        json_decref(extra);
        orch_api_reply(c, status, o);
}

/* Text field name of body: absent or null is NULL (400 when required); otherwise 1 to TEXT_MAX
 * bytes. False when answered 400 (audited as action on system). */
static bool body_text(Call *c, const char *action, const char *system, json_t *body,
                      const char *name, bool required, const char *what, const char **ret) {
        json_t *v = json_object_get(body, name);
        char problem[96];

        if ((!v || json_is_null(v)) && !required) {
                *ret = NULL;
                return true;
        }
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > TEXT_MAX) {
                orch_api_refuse(c, action, system, 400, "%s must be a text of 1 to %d bytes%s%s",
                                name, TEXT_MAX, required ? ", and is required: " : "",
                                required ? what : "");
                return false;
        }
        /* The certificate takes texts without control characters (but new lines and tabs):
         * one taken here would leave a decommission executed that can never be certified. */
        if (yb_json_string_check(json_string_value(v), json_string_length(v), problem,
                                 sizeof(problem)) < 0) {
                orch_api_refuse(c, action, system, 400,
                                "%s has %s: write it as plain text (new lines and tabs are fine)",
                                name, problem);
                return false;
        }
        *ret = json_string_value(v);
        return true;
}

/* Decommission id_s, if the caller may read it (its department's people, operators,
 * auditors); otherwise answers 404 (as for none: ids are sequential), audited under action (NULL,
 * a read: as api.denied), and false. An export whose end yunbakd missed is brought up to date
 * first. */
static bool decom_for(Call *c, const char *id_s, const char *action, YbDecommission *ret) {
        YbDecommission dc = {};
        int64_t id;
        int r;

        /* An action on none is audited too (a read of none is not: it changed nothing). */
        if (!orch_api_parse_int(id_s, 1, INT64_MAX, &id)) {
                if (action)
                        orch_api_refuse(c, action, NULL, 404, "no decommission '%s'", id_s);
                else
                        yb_http_error(c->resp, 404, "no decommission '%s'", id_s);
                return false;
        }
        r = yb_decommissions_get(c->d->catalog, id, &dc);
        if (r == -ENOENT) {
                if (action)
                        orch_api_refuse(c, action, NULL, 404,
                                        "no decommission %" PRId64
                                        " (yunbak decommission list shows them)",
                                        id);
                else
                        yb_http_error(c->resp, 404, "no decommission %" PRId64, id);
                return false;
        }
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return false;
        }
        if (!yb_access_sees(c->who, dc.department)) {
                if (action)
                        orch_api_refuse(c, action, dc.system, 404, "no decommission %" PRId64, id);
                else
                        orch_api_deny(c, 404, "no decommission %" PRId64, id);
                yb_decommission_done(&dc);
                return false;
        }
        (void) orch_export_reconcile(c->d, &dc);
        *ret = dc;
        return true;
}

/* Whether dc's state is one of the n states; otherwise answers 409 (audited) naming it and what
 * may happen next. */
static bool state_is(Call *c, const char *action, const YbDecommission *dc,
                     const char *const *states, size_t n) {
        char next[600];

        for (size_t i = 0; i < n; i++)
                if (streq(dc->state, states[i]))
                        return true;
        orch_api_refuse(c, action, dc->system, 409, "decommission %" PRId64 " of %s is %s: %s",
                        dc->id, dc->system, dc->state, next_step(c->d, dc, next, sizeof(next)));
        return false;
}
#define STATE_IS(c, action, dc, ...)                                                               \
        state_is(c, action, dc, (const char *const[]){ __VA_ARGS__ },                              \
                 ELEMENTSOF(((const char *const[]){ __VA_ARGS__ })))

/* Whether dc's system still belongs to the department that requested it (a reload may have
 * given it to another: then the old one may no longer export it, nor anyone decide or execute on
 * its request); otherwise answers 409 (audited). */
static bool department_current(Call *c, const char *action, const YbDecommission *dc) {
        const YbSystem *s = yb_daemon_system(c->d, dc->system);

        if (!s || streq(s->policy->department, dc->department))
                return true;
        orch_api_refuse(
                c, action, dc->system, 409,
                "system '%s' now belongs to department %s (its policy changed since decommission "
                "%" PRId64 " was requested by %s of %s): nothing more is done on that request; "
                "the requester withdraws it (yunbak decommission withdraw %" PRId64
                ") and a person of %s requests it again",
                dc->system, s->policy->department, dc->id, dc->requested_by, dc->department, dc->id,
                s->policy->department);
        return false;
}

/* Whether the caller is a person of dc's department, which the system still belongs to;
 * otherwise answers 403 or 409 (audited). */
static bool department_acts(Call *c, const char *action, const YbDecommission *dc,
                            const char *what) {
        if (c->who->role == YB_ROLE_DEPARTMENT && streq(c->who->department, dc->department))
                return department_current(c, action, dc);
        orch_api_refuse(c, action, dc->system, 403,
                        "%s of decommission %" PRId64
                        " of %s is the department's (%s): %s %s may not do "
                        "it",
                        what, dc->id, dc->system, dc->department, yb_role_to_string(c->who->role),
                        c->who->name);
        return false;
}

/* Writes dc back with its time, and audits action: ok, or failed (answered 500). */
static bool record(Call *c, const char *action, YbDecommission *dc, const char *detail) {
        char line[2400];
        int r;

        dc->updated_usec = yb_daemon_now(c->d);
        r = yb_decommissions_update(c->d->catalog, dc);
        snprintf(line, sizeof(line), "decommission %" PRId64 " (%s): %s%s%s", dc->id, dc->state,
                 detail, r < 0 ? "; not recorded: " : "", r < 0 ? strerror(-r) : "");
        yb_daemon_audit(c->d, c->who, action, dc->system, r < 0 ? "failed" : "ok", line);
        (void) yb_daemon_load_decommissions(c->d); /* status names the live one */
        if (r < 0) {
                yb_http_error(c->resp, 500,
                              "the catalog did not record decommission %" PRId64 " of %s: %s",
                              dc->id, dc->system, strerror(-r));
                return false;
        }
        return true;
}

/* Replaces *field with a copy of s (NULL: none). */
static int set_text(char **field, const char *s) {
        char *t = s ? strdup(s) : NULL;

        if (s && !t)
                return -ENOMEM;
        free(*field);
        *field = t;
        return 0;
}

void orch_api_post_decommission(Call *c) {
        static const char *const action = "decommission.request";
        _cleanup_(json_decrefp) json_t *body = NULL;
        const char *system, *reason, *nb;
        YbDecommission dc = {}, other = {};
        int64_t id = 0, ns = 0;
        char detail[1400], when[32], next[600];
        YbSystem *s;
        int r;

        body = orch_api_body_object(c);
        if (!body)
                return;
        system = json_string_value(json_object_get(body, "system"));
        if (!system || !yb_system_id_valid(system)) {
                orch_api_refuse(c, action, NULL, 400, "system must be a system id");
                return;
        }
        if (!body_text(c, action, system, body, "reason", true,
                       "say why the system is decommissioned", &reason) ||
            !body_text(c, action, system, body, "not_before", false, NULL, &nb))
                return;
        if (nb && yb_time_parse(nb, &ns) < 0) {
                orch_api_refuse(
                        c, action, system, 400,
                        "not_before must be a date (YYYY-MM-DD, or with a time: "
                        "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]) of the years 1970 to 2261, not '%s'",
                        nb);
                return;
        }
        s = yb_daemon_system(c->d, system);
        if (!s || !yb_access_sees(c->who, s->policy->department)) {
                orch_api_refuse(c, action, system, 404, "no system '%s'", system);
                return;
        }
        if (c->who->role != YB_ROLE_DEPARTMENT ||
            !streq(c->who->department, s->policy->department)) {
                orch_api_refuse(
                        c, action, system, 403,
                        "a decommission of system '%s' is requested by a person of its department "
                        "(%s), not by %s %s: an operator then approves it",
                        system, s->policy->department, yb_role_to_string(c->who->role),
                        c->who->name);
                return;
        }
        dc = (YbDecommission){ .system = (char *) system,
                               .department = s->policy->department,
                               .reason = (char *) reason,
                               .not_before_usec = nb ? yb_ns_to_usec(ns) : 0,
                               .requested_by = (char *) c->who->name,
                               .requested_usec = yb_daemon_now(c->d) };
        r = yb_decommissions_add(c->d->catalog, &dc, &id);
        if (r == -EEXIST && yb_decommissions_get(c->d->catalog, id, &other) >= 0) {
                orch_api_refuse(
                        c, action, system, 409,
                        streq(other.state, YB_DECOM_CERTIFIED)
                                ? "system '%s' was decommissioned: decommission %" PRId64
                                  " (%s, requested by %s): %s; a decommissioned system is not "
                                  "decommissioned again (a new system needs a new id)"
                                : "system '%s' already has decommission %" PRId64
                                  " (%s, requested by %s): %s; only one may be under way",
                        system, id, other.state, other.requested_by,
                        next_step(c->d, &other, next, sizeof(next)));
                yb_decommission_done(&other);
                return;
        }
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, action, system, "failed", strerror(-r));
                yb_http_error(c->resp, 500, "cannot record the request in the catalog: %s",
                              strerror(-r));
                return;
        }
        snprintf(detail, sizeof(detail), "decommission %" PRId64 " requested; reason: %s%s%s", id,
                 reason, nb ? "; not before " : "", nb ? iso(dc.not_before_usec, when) : "");
        yb_daemon_audit(c->d, c->who, action, system, "ok", detail);
        (void) yb_daemon_load_decommissions(c->d);
        reply_decom(c, 201, id, NULL);
}

void orch_api_get_decommissions(Call *c) {
        const char *system = yb_http_query(c->req, "system");
        YbDecommission *v = NULL;
        size_t n = 0;
        json_t *list;
        int r;

        if (system && !yb_system_id_valid(system)) {
                yb_http_error(c->resp, 400, "system must be a system id, not '%s'", system);
                return;
        }
        r = yb_decommissions_list(c->d->catalog, system, &v, &n);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return;
        }
        list = json_array();
        for (size_t i = 0; i < n; i++) {
                if (!yb_access_sees(c->who, v[i].department))
                        continue;
                (void) orch_export_reconcile(c->d, &v[i]);
                json_array_append_new(list, decom_json(c->d, &v[i]));
        }
        yb_decommissions_free(v, n);
        orch_api_reply(c, 200, json_pack("{s:o}", "decommissions", list));
}

void orch_api_get_decommission(Call *c, const char *id_s) {
        YbDecommission dc = {};

        if (!decom_for(c, id_s, NULL, &dc))
                return;
        orch_api_reply(c, 200, decom_json(c->d, &dc));
        yb_decommission_done(&dc);
}

static void decide(Call *c, YbDecommission *dc, json_t *body, bool approve) {
        const char *action = approve ? "decommission.approve" : "decommission.refuse", *text;
        char detail[1200];

        /* The requester first: whatever their role, they never decide their own request. */
        if (streq(c->who->name, dc->requested_by)) {
                orch_api_refuse(
                        c, action, dc->system, 403,
                        "the requester may not %s their own request: decommission %" PRId64
                        " of %s was requested by %s; an operator other than them decides it",
                        approve ? "approve" : "refuse", dc->id, dc->system, dc->requested_by);
                return;
        }
        if (c->who->role != YB_ROLE_OPERATOR) {
                orch_api_refuse(c, action, dc->system, 403,
                                "only an operator may %s decommission %" PRId64 " of %s, not %s %s",
                                approve ? "approve" : "refuse", dc->id, dc->system,
                                yb_role_to_string(c->who->role), c->who->name);
                return;
        }
        if (!body_text(c, action, dc->system, body, approve ? "note" : "reason", !approve,
                       "say why the decommission is refused", &text) ||
            !STATE_IS(c, action, dc, YB_DECOM_REQUESTED) ||
            (approve && !department_current(c, action, dc)))
                return;
        if (set_text(&dc->state, approve ? YB_DECOM_APPROVED : YB_DECOM_REFUSED) < 0 ||
            set_text(&dc->decided_by, c->who->name) < 0 || set_text(&dc->decision_note, text) < 0) {
                yb_http_error(c->resp, 500, "out of memory");
                return;
        }
        dc->decided_usec = yb_daemon_now(c->d);
        snprintf(detail, sizeof(detail), "%s%s%s", approve ? "approved" : "refused",
                 text ? ": " : "", text ? text : "");
        if (record(c, action, dc, detail))
                reply_decom(c, 200, dc->id, NULL);
}

static void withdraw(Call *c, YbDecommission *dc, json_t *body) {
        static const char *const action = "decommission.withdraw";
        const char *reason;
        char detail[1200];

        if (!streq(c->who->name, dc->requested_by)) {
                orch_api_refuse(c, action, dc->system, 403,
                                "only the requester, %s, may withdraw decommission %" PRId64
                                " of %s",
                                dc->requested_by, dc->id, dc->system);
                return;
        }
        /* The requester whom a restart made an auditor: an auditor changes nothing. */
        if (c->who->role == YB_ROLE_AUDITOR) {
                orch_api_refuse(
                        c, action, dc->system, 403,
                        "%s requested decommission %" PRId64 " of %s but is an auditor now, and an "
                        "auditor changes nothing: an operator may still refuse it while it is "
                        "requested",
                        c->who->name, dc->id, dc->system);
                return;
        }
        if (!body_text(c, action, dc->system, body, "reason", false, NULL, &reason))
                return;
        if (streq(dc->state, YB_DECOM_EXPORTING)) {
                orch_api_refuse(
                        c, action, dc->system, 409,
                        "decommission %" PRId64 " of %s is exporting: wait for export job %" PRId64
                        " to end (or cancel it: yunbak jobs cancel %" PRId64 "), then withdraw it",
                        dc->id, dc->system, dc->export_job, dc->export_job);
                return;
        }
        if (!STATE_IS(c, action, dc, YB_DECOM_REQUESTED, YB_DECOM_APPROVED, YB_DECOM_EXPORTED))
                return;
        if (set_text(&dc->state, YB_DECOM_WITHDRAWN) < 0) {
                yb_http_error(c->resp, 500, "out of memory");
                return;
        }
        snprintf(detail, sizeof(detail), "withdrawn by the requester%s%s", reason ? ": " : "",
                 reason ? reason : "");
        if (record(c, action, dc, detail))
                reply_decom(c, 200, dc->id, NULL);
}

/* The public key of the body: the .pub file's JSON object (or its text). False when answered. */
static bool body_key(Call *c, const YbDecommission *dc, json_t *body, YbPublicKey *ret) {
        json_t *v = json_object_get(body, "public_key");
        _cleanup_free_ char *text = NULL;

        if (json_is_object(v))
                text = json_dumps(v, JSON_COMPACT);
        else if (json_is_string(v))
                text = strdup(json_string_value(v));
        if (!text || yb_public_key_parse(text, strlen(text), ret) < 0) {
                orch_api_refuse(
                        c, "decommission.export", dc->system, 400,
                        "public_key must be the JSON of a public key file (ID.pub as 'yunbak key "
                        "init --system %s --out DIR' writes it)",
                        dc->system);
                return false;
        }
        return true;
}

static void export(Call *c, YbDecommission *dc, json_t *body) {
        static const char *const action = "decommission.export";
        _cleanup_free_ char *key_json = NULL;
        const char *store = json_string_value(json_object_get(body, "store"));
        char why[1024], kid[2 * YB_KEY_ID_SIZE + 1], detail[1400];
        YbSystem *s = yb_daemon_system(c->d, dc->system);
        YbPublicKey key;
        int64_t job = 0;
        int r;

        if (!department_acts(c, action, dc, "the final export"))
                return;
        if (!store || !*store) {
                orch_api_refuse(c, action, dc->system, 400,
                                "store must name a store of yunbakd.yaml");
                return;
        }
        if (!body_key(c, dc, body, &key) ||
            !STATE_IS(c, action, dc, YB_DECOM_APPROVED, YB_DECOM_EXPORTED))
                return;
        if (!s) {
                orch_api_refuse(
                        c, action, dc->system, 409,
                        "system '%s' of decommission %" PRId64 " has no policy in force now: "
                        "yunbakd cannot back it up for the export; put its policy back, or waive "
                        "the export",
                        dc->system, dc->id);
                return;
        }
        r = orch_export_check(c->d, s, dc, store, &key, why, sizeof(why));
        if (r < 0) {
                orch_api_refuse(c, action, dc->system,
                                r == -ENOENT  ? 400
                                : r == -EPERM ? 409
                                              : 500,
                                "decommission %" PRId64 " of %s: %s", dc->id, dc->system, why);
                return;
        }
        yb_key_id_hex(key.id, kid);
        r = yb_public_key_format(&key, &key_json);
        if (r >= 0) {
                YbJobAdd a = { .system = dc->system,
                               .tier = 1,
                               .level = "full",
                               .trigger = ORCH_EXPORT_TRIGGER,
                               .scheduled_usec = yb_daemon_now(c->d),
                               .store = store,
                               .public_key_json = key_json };

                r = yb_jobs_add(c->d, &a, &job);
        }
        if (r == -EBUSY) {
                orch_api_refuse(
                        c, action, dc->system, 409,
                        "system '%s' has job %" PRId64 " queued or running: decommission %" PRId64
                        "'s export can be queued once it has ended (yunbak jobs --system %s)",
                        dc->system, job, dc->id, dc->system);
                return;
        }
        if (r < 0) {
                orch_api_refuse(c, action, dc->system, 500,
                                "cannot queue decommission %" PRId64 "'s export of %s: %s", dc->id,
                                dc->system, strerror(-r));
                return;
        }
        /* A new export replaces the record of an earlier one (not its snapshot). */
        if (set_text(&dc->state, YB_DECOM_EXPORTING) < 0 ||
            set_text(&dc->export_store, store) < 0 || set_text(&dc->export_key_id, kid) < 0 ||
            set_text(&dc->export_snapshot, NULL) < 0 || set_text(&dc->last_error, NULL) < 0) {
                (void) yb_jobs_cancel(c->d, job);
                yb_http_error(c->resp, 500, "out of memory");
                return;
        }
        dc->export_job = job;
        snprintf(detail, sizeof(detail),
                 "export job %" PRId64 ": a full of %s into store '%s' sealed to key %s", job,
                 dc->system, store, kid);
        if (!record(c, action, dc, detail)) {
                (void) yb_jobs_cancel(c->d, job);
                return;
        }
        reply_decom(c, 202, dc->id, json_pack("{s:I}", "job", (json_int_t) job));
}

/* Whether dc's export store still holds nothing else of the system; otherwise answers 409. */
static bool confirm_store_ok(Call *c, const char *action, const YbDecommission *dc) {
        YbSystem *s = yb_daemon_system(c->d, dc->system);
        char why[1024];
        int r;

        if (!s || !dc->export_store)
                return true; /* nothing to compare with: execution names no tier store */
        r = orch_export_check_store(c->d, s, dc, dc->export_store, why, sizeof(why));
        if (r == 0 || r == -ENOENT) /* a store yunbakd.yaml no longer names: none of the tiers */
                return true;
        orch_api_refuse(c, action, dc->system, r == -EPERM ? 409 : 500,
                        "decommission %" PRId64
                        " of %s cannot confirm its export: %s. Name a new export "
                        "into another store (yunbak decommission export %" PRId64
                        " --store NAME --public-key FILE), or waive it with a reason",
                        dc->id, dc->system, why, dc->id);
        return false;
}

static void export_end(Call *c, YbDecommission *dc, json_t *body, bool confirm) {
        const char *action = confirm ? "decommission.confirm-export" : "decommission.waive-export",
                   *text;
        char detail[1400];

        if (!department_acts(c, action, dc,
                             confirm ? "confirming the export" : "waiving the export"))
                return;
        if (!body_text(c, action, dc->system, body, confirm ? "note" : "reason", !confirm,
                       "say why the department needs no export", &text))
                return;
        if (confirm ? !STATE_IS(c, action, dc, YB_DECOM_EXPORTED)
                    : !STATE_IS(c, action, dc, YB_DECOM_APPROVED, YB_DECOM_EXPORTED))
                return;
        /* A reload since the export may have made its store one of the system's: execution
         * would then leave the system's backups there as the department's. */
        if (confirm && !confirm_store_ok(c, action, dc))
                return;
        if (set_text(&dc->state, confirm ? YB_DECOM_EXPORT_CONFIRMED : YB_DECOM_EXPORT_WAIVED) <
                    0 ||
            set_text(&dc->export_by, c->who->name) < 0 || set_text(&dc->export_note, text) < 0) {
                yb_http_error(c->resp, 500, "out of memory");
                return;
        }
        dc->export_usec = yb_daemon_now(c->d);
        if (confirm)
                snprintf(detail, sizeof(detail),
                         "export confirmed: snapshot %s in store '%s', key %s%s%s",
                         dc->export_snapshot, dc->export_store, dc->export_key_id,
                         text ? "; note: " : "", text ? text : "");
        else
                snprintf(detail, sizeof(detail), "export waived: %s", text);
        if (record(c, action, dc, detail))
                reply_decom(c, 200, dc->id, NULL);
}

/* execute and verify: part X's functions check the state and the dates. */
static void run(Call *c, YbDecommission *dc, bool verify) {
        const char *action = verify ? "decommission.verify" : "decommission.execute";
        char why[1024] = "", detail[1200];
        int r;

        if (c->who->role != YB_ROLE_OPERATOR) {
                orch_api_refuse(c, action, dc->system, 403,
                                "only an operator may %s decommission %" PRId64 " of %s, not %s %s",
                                verify ? "verify" : "execute", dc->id, dc->system,
                                yb_role_to_string(c->who->role), c->who->name);
                return;
        }
        /* An execution under way finishes; a new one needs the owner's request. */
        if (!verify &&
            (streq(dc->state, YB_DECOM_EXPORT_CONFIRMED) ||
             streq(dc->state, YB_DECOM_EXPORT_WAIVED)) &&
            !department_current(c, action, dc))
                return;
        r = verify ? yb_decommission_verify(c->d, c->who, dc->id, why, sizeof(why))
                   : yb_decommission_execute(c->d, c->who, dc->id, why, sizeof(why));
        /* Part X's reasons name the decommission, its state or its date. */
        if ((r == -EPERM || r == -EBUSY) && why[0]) {
                orch_api_refuse(c, action, dc->system, 409, "%s", why);
                return;
        }
        if (r == -EPERM || r == -EBUSY) {
                orch_api_refuse(
                        c, action, dc->system, 409,
                        "decommission %" PRId64 " of %s cannot be %s now (it is %s): follow it "
                        "with 'yunbak decommission show %" PRId64 "'",
                        dc->id, dc->system, verify ? "verified" : "executed", dc->state, dc->id);
                return;
        }
        if (r < 0) {
                snprintf(detail, sizeof(detail), "decommission %" PRId64 ": %s", dc->id,
                         r == -ENOSYS ? "this yunbakd cannot execute decommissions" : strerror(-r));
                yb_daemon_audit(c->d, c->who, action, dc->system, "failed", detail);
                yb_http_error(c->resp, r == -ENOSYS ? 501 : r == -ENOENT ? 404 : 500, "%s", detail);
                return;
        }
        snprintf(detail, sizeof(detail), "decommission %" PRId64 ": %s started", dc->id,
                 verify ? "verification" : "execution");
        yb_daemon_audit(c->d, c->who, action, dc->system, "ok", detail);
        reply_decom(c, 202, dc->id, NULL);
}

/* attest-host: an operator's word that the system's host was destroyed (decommission.h). */
static void attest_host(Call *c, YbDecommission *dc, json_t *body) {
        static const char *const action = "decommission.attest-host";
        const char *host, *statement, *reference;
        char why[1024] = "", detail[2400];
        int r;

        if (c->who->role != YB_ROLE_OPERATOR) {
                orch_api_refuse(c, action, dc->system, 403,
                                "only an operator may attest that the host of decommission %" PRId64
                                " of %s was destroyed, not %s %s",
                                dc->id, dc->system, yb_role_to_string(c->who->role), c->who->name);
                return;
        }
        if (!body_text(c, action, dc->system, body, "host", true, "the system's host", &host) ||
            !body_text(c, action, dc->system, body, "statement", true,
                       "what was destroyed, where and how (the VM deleted, its volumes destroyed)",
                       &statement) ||
            !body_text(c, action, dc->system, body, "reference", false, "", &reference))
                return;
        r = yb_decommission_attest_host(c->d, c->who, dc->id, host, statement, reference, why,
                                        sizeof(why));
        if (r < 0) {
                orch_api_refuse(c, action, dc->system,
                                r == -EINVAL                    ? 400
                                : r == -EPERM || r == -EALREADY ? 409
                                                                : 500,
                                "%s", why[0] ? why : strerror(-r));
                return;
        }
        snprintf(detail, sizeof(detail),
                 "decommission %" PRId64 ": host %s attested destroyed: %s%s%s%s", dc->id, host,
                 statement, reference ? " (reference: " : "", reference ? reference : "",
                 reference ? ")" : "");
        yb_daemon_audit(c->d, c->who, action, dc->system, "ok", detail);
        reply_decom(c, 200, dc->id, NULL);
}

void orch_api_post_decommission_action(Call *c, const char *id_s, const char *action) {
        static const char *const actions[] = { "approve", "refuse",         "withdraw",
                                               "export",  "confirm-export", "waive-export",
                                               "execute", "verify",         "attest-host" };
        _cleanup_(json_decrefp) json_t *body = NULL;
        char audit_action[64];
        YbDecommission dc = {};
        size_t i;

        for (i = 0; i < ELEMENTSOF(actions); i++)
                if (streq(action, actions[i]))
                        break;
        if (i == ELEMENTSOF(actions)) {
                yb_http_error(c->resp, 404, "no endpoint POST %s (docs/api.md lists them)",
                              c->req->path);
                return;
        }
        snprintf(audit_action, sizeof(audit_action), "decommission.%s", action);
        body = orch_api_body_object(c);
        if (!body || !decom_for(c, id_s, audit_action, &dc))
                return;
        switch (i) {
        case 0:
        case 1:
                decide(c, &dc, body, i == 0);
                break;
        case 2:
                withdraw(c, &dc, body);
                break;
        case 3:
                export(c, &dc, body);
                break;
        case 4:
        case 5:
                export_end(c, &dc, body, i == 4);
                break;
        case 8:
                attest_host(c, &dc, body);
                break;
        default:
                run(c, &dc, i == 7);
        }
        yb_decommission_done(&dc);
}
